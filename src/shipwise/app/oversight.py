"""The fairness audit of shipwise's own flags (exec, admin)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from shipwise.app.caller import Caller
from shipwise.app.fairness import fairness_audit
from shipwise.app.guard import guard
from shipwise.app.memo import memo
from shipwise.app.results import FairnessResult


@guard("fairness.audit", "org:fairness")
def fairness(caller: Caller, *, flags: Sequence[str] | None = None,
             attributes: Sequence[str] | None = None,
             context: Mapping[str, Any] | None = None) -> FairnessResult:
    """Who each flag falls on by team attribute, how its metrics move with context, how much they
    vary between org units — findings first. Computed once per version of the facts (the audit's
    ``generated_at`` is that first run's)."""
    s = caller.settings
    key = (tuple(flags or ()), tuple(attributes or ()),
           json.dumps(context, sort_keys=True, default=str) if context else "",
           s.fairness.model_dump_json(), s.slo.model_dump_json(), s.cost.model_dump_json())
    return FairnessResult.model_validate(memo(caller.store, "fairness", key, lambda: fairness_audit(
        caller.store, s, flags=flags, attributes=attributes, context=context)))
