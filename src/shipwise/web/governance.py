"""The governance pages: the charter (every role), the audit log (admin) and the fairness audit
(exec, admin) — built from the authorised views only, like every page."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from shipwise.app import views
from shipwise.errors import InputError
from shipwise.governance.access import Principal
from shipwise.store.duckdb_store import Store

WEB = "web"
SEVERITIES = (("concern", "Concerns"), ("watch", "To watch"), ("ok", "Checked and fine"))


def charter(store: Store, p: Principal) -> dict[str, Any]:
    from shipwise.app.views import charter_view

    rep = charter_view(store, p, interface=WEB)
    return {**rep, "valid": not rep["problems"]}


def audit(store: Store, p: Principal, *, people_derived: str = "", since: str = "",
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
    rows = views.access_log(store, p, limit=limit, people_derived=pd, since=start,
                            interface=WEB)
    return {"filters": {"people_derived": people_derived, "since": since, "limit": limit},
            "rows": rows, "refused": sum(1 for r in rows if not r["allowed"])}


def fairness(store: Store, p: Principal, settings: Any) -> dict[str, Any]:
    from shipwise.app.fairness import fairness_view
    from shipwise.app.views import charter_map

    res = fairness_view(store, p, settings, interface=WEB)
    found = res["findings"]
    res["by_severity"] = [{"severity": sev, "heading": heading,
                           "findings": [f for f in found if f["severity"] == sev]}
                          for sev, heading in SEVERITIES]
    res["charter"] = charter_map(res)
    return res
