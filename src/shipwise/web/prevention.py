"""The prevention page (``/prevention``) and the verdict control of the investigation page —
built from the doors of :mod:`shipwise.app` only, like every page; the forms post to
:mod:`shipwise.web.routes`, which calls the same doors."""

from __future__ import annotations

from typing import Any

from shipwise.app import prevention, verdicts
from shipwise.app.caller import Caller
from shipwise.app.results import dump

CATEGORY_TITLES = (("pipeline", "Pipeline and code"), ("governance", "Governance"),
                   ("infrastructure", "Infrastructure"), ("observability", "Observability"))


def page(c: Caller, *, status: str = "", category: str = "", show_all: bool = False
         ) -> dict[str, Any]:
    """The recommendations (filtered), grouped by category, with the root-cause accuracy the
    verdicts measure."""
    res = dump(prevention.recommendations(c, status=status or None, category=category or None,
                                          include_inactive=show_all))
    recs = res["recommendations"]
    return {"filters": {"status": status, "category": category, "all": show_all},
            "statuses": list(prevention.STATUSES), "categories": list(prevention.CATEGORIES),
            "last_scan": res.get("last_scan"), "count": len(recs),
            "by_category": [{"category": key, "title": title,
                             "recommendations": [r for r in recs if r["category"] == key]}
                            for key, title in CATEGORY_TITLES],
            "accuracy": dump(verdicts.accuracy(c))}


def decide(c: Caller, key: str, form: dict[str, str]) -> None:
    prevention.decide(c, key, form.get("status", ""), reason=form.get("reason") or None)


def mark(c: Caller, inv_id: str, form: dict[str, str]) -> None:
    verdicts.mark_verdict(c, inv_id, form.get("verdict", ""), comment=form.get("comment") or None)


def verdict_of(c: Caller, inv_id: str) -> dict[str, Any] | None:
    v = verdicts.verdict_of(c, inv_id)
    return None if v is None else dict(dump(v))
