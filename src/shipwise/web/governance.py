"""The governance pages: the charter (every role), the audit log (admin) and the fairness audit
(exec, admin) — built from the doors of :mod:`shipwise.app` only, like every page."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from shipwise.app import admin, catalog, oversight, people
from shipwise.app.caller import Caller
from shipwise.app.results import dump
from shipwise.errors import InputError

SEVERITIES = (("concern", "Concerns"), ("watch", "To watch"), ("ok", "Checked and fine"))


def charter(c: Caller) -> dict[str, Any]:
    rep = dump(catalog.charter(c))
    return {**rep, "valid": not rep["problems"]}


def audit(c: Caller, *, people_derived: str = "", since: str = "",
          limit: int = 200) -> dict[str, Any]:
    """The access log with the page's filters: ``people_derived`` '' (all), 'yes' or 'no';
    ``since`` a day (YYYY-MM-DD)."""
    if people_derived not in ("", "yes", "no"):
        raise InputError(f"people_derived must be yes, no or empty, not {people_derived!r}")
    start = None
    if since:
        try:
            day = date.fromisoformat(since)
        except ValueError:
            raise InputError(f"cannot read the day {since!r}", hint="use YYYY-MM-DD") from None
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    if not 1 <= limit <= 10_000:
        raise InputError("limit must be between 1 and 10000")
    pd = {"": None, "yes": True, "no": False}[people_derived]
    rows = dump(admin.access_log(c, limit=limit, people_derived=pd, since=start))
    return {"filters": {"people_derived": people_derived, "since": since, "limit": limit},
            "rows": rows, "refused": sum(1 for r in rows if not r["allowed"]),
            "lookups": dump(people.actor_lookups(c, limit=50))}


def _grouped(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Findings that call for the same action, together: the action is said once, under the
    plain findings it answers (in the order they came, the strongest first)."""
    groups: dict[str, dict[str, Any]] = {}
    for f in findings:
        todo = f.get("what_to_do") or ""
        groups.setdefault(todo, {"what_to_do": todo, "findings": []})["findings"].append(f)
    return list(groups.values())


def fairness(c: Caller) -> dict[str, Any]:
    res = dump(oversight.fairness(c))  # with its charter map
    found = res["findings"]
    res["by_severity"] = [{"severity": sev, "heading": heading,
                           "findings": [f for f in found if f["severity"] == sev],
                           "groups": _grouped([f for f in found if f["severity"] == sev])}
                          for sev, heading in SEVERITIES]
    res["counts"] = {sev: sum(1 for f in found if f["severity"] == sev) for sev, _ in SEVERITIES}
    return dict(res)
