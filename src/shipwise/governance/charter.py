"""The metric charter: what each metric means, what it may and may not be used for, who sees it,
and how long its inputs are kept — machine-readable, versioned, validated, and enforced.

``charter.yaml`` has a ``version`` (raised on every change, with a line in ``changes``), the
uses no metric may ever inform (``forbidden_uses``), the retention period of every person-level
input (``retention``, applied by ``shipwise retention apply``), and one entry per metric id.
:func:`validate` checks a charter against the metric registry and the rules below;
``shipwise charter validate`` runs it, and so does a test, so a charter that breaks a rule
cannot ship.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shipwise.domain.schema import BY_NAME, Kind
from shipwise.errors import InputError, NotFoundError
from shipwise.metrics.registry import REGISTRY

VIEWS = ("diagnostic", "performance")
ROLES = ("member", "lead", "exec", "admin")
ACTIONS = ("delete", "remove_person", "delete_ended")


class RetentionRule(BaseModel):
    """How long a person-level input is kept, and what happens to it afterwards."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    days: int = Field(ge=1)
    #: delete the record; remove the person from it (``fields``); delete memberships that ended
    action: str = Field(pattern="^(delete|remove_person|delete_ended)$")
    fields: list[str] = Field(default_factory=list)
    why: str = ""


class CharterEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    definition: str
    unit: str
    frequency: str
    normalisation: str
    exclusions: str
    may_inform: list[str]
    may_not_inform: list[str]
    audience: list[str]
    view: str = Field(pattern="^(diagnostic|performance)$")
    #: the canonical record types the metric is computed from
    inputs: list[str] = Field(default_factory=list)
    retention: str = ""


class Charter(BaseModel):
    model_config = ConfigDict(frozen=True)
    version: int
    changes: dict[int, str] = Field(default_factory=dict)
    forbidden_uses: list[str]
    retention: dict[str, RetentionRule]
    entries: dict[str, CharterEntry]

    def get(self, metric_id: str) -> CharterEntry:
        try:
            return self.entries[metric_id]
        except KeyError:
            raise NotFoundError(f"no charter entry for '{metric_id}'") from None

    def summary(self, metric_id: str) -> dict[str, Any]:
        """What the interfaces show beside a number: its meaning and its allowed uses."""
        e = self.get(metric_id)
        return {"id": e.id, "charter_version": self.version, "definition": e.definition,
                "unit": e.unit, "view": e.view, "may_inform": e.may_inform,
                "may_not_inform": e.may_not_inform, "audience": e.audience,
                "docs": f"docs/metrics/{e.id}.md"}


def _retention_text(inputs: list[str], rules: dict[str, RetentionRule]) -> str:
    kept = []
    for name in inputs:
        rule = rules.get(name)
        if rule is None:
            continue
        what = {"delete": "then deleted", "remove_person": "then the person is removed",
                "delete_ended": "after they ended, then deleted"}[rule.action]
        kept.append(f"{name}: {rule.days} days ({what})")
    if not kept:
        return "no person-level inputs; inputs and aggregates kept"
    return "person-level inputs: " + "; ".join(kept) + "; other inputs and aggregates: kept"


def parse(raw: dict[str, Any]) -> Charter:
    """A charter from its YAML mapping; raises InputError naming the first bad field."""
    try:
        defaults = raw.get("defaults", {}) or {}
        rules = {k: RetentionRule.model_validate(v) for k, v in (raw.get("retention") or {}).items()}
        entries = {}
        for mid, body in (raw.get("metrics") or {}).items():
            merged = {**defaults, **(body or {}), "id": mid}
            entry = CharterEntry.model_validate(merged)
            if not entry.retention:
                entry = entry.model_copy(update={"retention": _retention_text(entry.inputs, rules)})
            entries[mid] = entry
        return Charter(version=int(raw["version"]), changes=raw.get("changes") or {},
                       forbidden_uses=list(raw.get("forbidden_uses") or []),
                       retention=rules, entries=entries)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"charter: {where}: {first['msg']}") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"charter: malformed ({exc})") from exc


def load_file(path: str | Path) -> Charter:
    p = Path(path)
    if not p.exists():
        raise InputError(f"no charter file {p}")
    try:
        raw = yaml.safe_load(p.read_text())
    except yaml.YAMLError as exc:
        raise InputError(f"{p}: not valid YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise InputError(f"{p}: expected a mapping at the top level")
    return parse(raw)


@lru_cache(maxsize=1)
def load_charter() -> Charter:
    raw: dict[str, Any] = yaml.safe_load(
        resources.files("shipwise.governance").joinpath("charter.yaml").read_text()
    )
    return parse(raw)


def validate(charter: Charter) -> list[str]:
    """Every rule the charter breaks, in plain words (empty when it is sound)."""

    problems: list[str] = []
    if charter.version not in charter.changes:
        problems.append(f"version {charter.version} has no line in `changes` saying what changed")
    for must in ("individual ranking", "compensation", "promotion"):
        if must not in charter.forbidden_uses:
            problems.append(f"forbidden_uses must include '{must}'")
    for mid in REGISTRY:
        if mid not in charter.entries:
            problems.append(f"{mid}: metric has no charter entry")
    for mid, e in charter.entries.items():
        if mid not in REGISTRY:
            problems.append(f"{mid}: entry for a metric that does not exist")
            continue
        missing = [u for u in charter.forbidden_uses if u not in e.may_not_inform]
        if missing:
            problems.append(f"{mid}: may_not_inform lacks {', '.join(missing)}")
        both = set(e.may_inform) & set(e.may_not_inform)
        if both:
            problems.append(f"{mid}: both may and may not inform {', '.join(sorted(both))}")
        bad_roles = [r for r in e.audience if r not in ROLES]
        if bad_roles:
            problems.append(f"{mid}: unknown audience {', '.join(bad_roles)} (roles: {', '.join(ROLES)})")
        if "admin" not in e.audience:
            problems.append(f"{mid}: audience must include admin")
        if REGISTRY[mid].people_derived and e.view != "diagnostic":
            problems.append(f"{mid}: people-derived metrics may only be diagnostic, not {e.view}")
        if not e.inputs:
            problems.append(f"{mid}: inputs (the record types it is computed from) are missing")
        for name in e.inputs:
            if name not in BY_NAME:
                problems.append(f"{mid}: input '{name}' is not a canonical record type")
    for name, rule in charter.retention.items():
        rt = BY_NAME.get(name)
        if rt is None:
            problems.append(f"retention: '{name}' is not a canonical record type")
            continue
        people = [f.name for f in rt.fields if f.kind is Kind.PERSON]
        if not people:
            problems.append(f"retention: '{name}' holds no person; nothing to purge")
        if rule.action == "remove_person":
            for f in rule.fields or ["?"]:
                if f not in people:
                    problems.append(f"retention: {name}.{f} is not a person field")
        if rule.action == "delete_ended" and name != "person":
            problems.append("retention: delete_ended applies to person memberships only")
    for rt in BY_NAME.values():
        # a type with no table of its own whose records are rolled up to teams keeps no person
        stored = bool(rt.table) or bool(rt.splits)
        if (stored and any(f.kind is Kind.PERSON for f in rt.fields)
                and rt.name not in charter.retention):
            problems.append(f"retention: person-level input '{rt.name}' has no retention period")
    return problems
