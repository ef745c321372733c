"""Prevention (SPEC C6): scan stored investigations and imported incidents for recurring
patterns, recommend changes, and keep people's decisions on them.

- ``scan`` (admins: it reads every investigation and incident): finds the patterns
  (:mod:`shipwise.store.prevention`, one set-based query), words them
  (:mod:`shipwise.investigate.prevention`) and writes them under their stable keys — a re-scan
  updates, never duplicates, and keeps each recommendation's status.
- ``recommendations`` / ``recommendation``: a member or lead reads those about their team's
  services, an admin all (including entities that are no team's service).
- ``decide``: accept, dismiss (with a reason), mark done, or open again — whoever may read it,
  except an exec.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from shipwise.app.caller import Caller, Principal
from shipwise.app.guard import Access, guard
from shipwise.app.prevention_results import (
    PreventionList,
    Recommendation,
    ScanInfo,
    ScanResult,
)
from shipwise.errors import InputError, NotFoundError
from shipwise.investigate import prevention as rules
from shipwise.store import prevention as table

#: who the server's periodic scan runs as (logged in the access log like any other reader)
SCHEDULED_SCAN = Principal("admin", None, None, "prevention-scan")
STATUSES = rules.STATUSES
CATEGORIES = rules.CATEGORIES
MAX_REASON = 2000


@guard("prevention.scan", "prevention:scan")
def scan(caller: Caller, *, trigger: str | None = None) -> ScanResult:
    """Scan every stored investigation and imported incident for recurring patterns and keep
    the recommendations they make (``trigger``: what started it, default the interface)."""
    cfg = caller.settings.prevention
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    since = started - timedelta(days=cfg.lookback_days) if cfg.lookback_days else None
    patterns = table.find_patterns(caller.store, min_occurrences=cfg.min_occurrences,
                                   flap_per_day=cfg.flap_per_day, since=since)
    found = [rules.recommend(dict(p), high=cfg.high_cost, medium=cfg.medium_cost)
             for p in patterns]
    scan_id = f"scan-{started.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    new, reopened = table.upsert(caller.store, found, scan_id=scan_id, now=started)
    investigations, incidents = table.counts(caller.store)
    info = {"id": scan_id, "started_at": started, "finished_at": datetime.now(UTC),
            "trigger": trigger or caller.interface, "investigations": investigations,
            "incidents": incidents, "found": len(found), "new": new, "reopened": reopened,
            "seconds": round(time.perf_counter() - t0, 3)}
    table.record_scan(caller.store, info)
    keys = {r["key"] for r in found}
    current = [r for r in table.listing(caller.store) if r["key"] in keys]
    return ScanResult(scan=ScanInfo.model_validate(info),
                      recommendations=[Recommendation.model_validate(r) for r in current])


def _check(value: str | None, allowed: tuple[str, ...], what: str) -> None:
    if value is not None and value not in allowed:
        raise InputError(f"{what} must be one of {', '.join(allowed)}, not {value!r}")


@guard("prevention.read", accesses=lambda c, a: [
    Access("prevention.read", "prevention", c.own_team)])
def recommendations(caller: Caller, *, status: str | None = None, category: str | None = None,
                    include_inactive: bool = False) -> PreventionList:
    """The recommendations (a member or lead: about their team's services), highest priority
    and cost first; those the latest scan no longer saw only with ``include_inactive``."""
    _check(status, STATUSES, "status")
    _check(category, CATEGORIES, "category")
    rows = table.listing(caller.store, team=caller.own_team, status=status, category=category,
                         active_only=not include_inactive)
    last = table.last_scan(caller.store)
    return PreventionList(recommendations=[Recommendation.model_validate(r) for r in rows],
                          last_scan=ScanInfo.model_validate(last) if last else None)


def _key_access(action: str) -> Any:
    def accesses(caller: Caller, arguments: Mapping[str, Any]) -> Iterable[Access]:
        key = arguments["key"]
        exists, team = table.team_of(caller.store, key)
        return [Access(action, f"prevention:{key}", team if exists else caller.own_team)]
    return accesses


def _one(caller: Caller, key: str) -> Recommendation:
    row = table.get(caller.store, key)
    if row is None:
        raise NotFoundError(f"no recommendation {key!r}",
                            hint="`shipwise prevention list` or GET /api/v1/prevention")
    return Recommendation.model_validate(row)


@guard("prevention.read", accesses=_key_access("prevention.read"))
def recommendation(caller: Caller, key: str) -> Recommendation:
    """One recommendation, with the incidents behind it."""
    return _one(caller, key)


@guard("prevention.decide", accesses=_key_access("prevention.decide"))
def decide(caller: Caller, key: str, status: str, *, reason: str | None = None) -> Recommendation:
    """Set a recommendation's status: ``accepted``, ``dismissed`` (a reason is required),
    ``done``, or ``open`` again. A done one whose pattern comes back after it was done is opened
    again by the next scan."""
    _check(status, STATUSES, "status")
    text = (reason or "").strip() or None
    if status == "dismissed" and text is None:
        raise InputError("dismissing a recommendation needs a reason",
                         hint="say why, e.g. --reason 'covered by the Q3 platform migration'")
    if text is not None and len(text) > MAX_REASON:
        raise InputError(f"the reason is {len(text)} characters long (at most {MAX_REASON})")
    _one(caller, key)
    table.set_status(caller.store, key, status, text, datetime.now(UTC))
    return _one(caller, key)
