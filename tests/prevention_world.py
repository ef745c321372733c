"""A small organisation with a known incident history, for the prevention and verdict tests.

- team ``payments``: ``pay-api`` (deployed to production only, no SLO) and ``pay-db``;
- team ``search``: ``search-api`` (an SLO, deployed to staging and production).

Stored investigations (each a record shaped like the engine's):

- ``inv-perm-1``/``-2``: ``pay-api`` lost the ``s3:GetObject`` permission (governance);
- ``inv-churn-1``/``-2``: instances of ``search-api`` churned (infrastructure);
- ``inv-deploy-1``/``-2``: bad deployments of ``pay-api`` (pipeline), both with a ``logs`` gap
  (observability);
- ``inv-wrong-1``/``-2``: ``search-api`` memory leaks — ``build`` marks one wrong when asked.

Imported incidents: ``inc-1``/``inc-2`` on ``pay-api`` caused by deployments (pipeline, no
investigation covers them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shipwise.app.incidents import store_investigation
from shipwise.app.owner import import_paths
from shipwise.config import Settings
from tests.app.conftest import caller_of
from tests.conftest import org, write_jsonl

DAY = 86400.0
T0 = 1_790_000_000.0  # 2026-09-21


def record(inv_id: str, entity: str, fault: str, at: float, *, root: str | None = None,
           customers: int | None = 40, minutes: float = 30.0, gaps: tuple[str, ...] = (),
           permission: str | None = None, status: str = "root_cause_found") -> dict[str, Any]:
    event = {"kind": "permission_change", "details": {"permission": permission}} if permission \
        else None
    impact: dict[str, Any] = {"window": {"minutes": minutes}, "services": [],
                              "summary": f"{customers} customers"}
    if customers is not None:
        impact["traces"] = {"customers_affected": customers}
    return {"id": inv_id, "alarm": {"entity": entity, "metric": "error_rate", "time": at},
            "status": status,
            "root_cause": {"entity": root or entity, "kind": fault, "fault": fault,
                           "statement": f"{fault} on {root or entity}", "confidence": 0.8,
                           "event": event},
            "impact": impact,
            "gaps": [{"source": g, "what": f"no {g}", "how": f"connect {g}"} for g in gaps],
            "seconds": {"total": 0.5}}


RECORDS = [
    record("inv-perm-1", "pay-api", "permission_revoked", T0, permission="s3:GetObject"),
    record("inv-perm-2", "pay-api", "permission_revoked", T0 + DAY, permission="s3:GetObject"),
    record("inv-churn-1", "search-api", "instance_churn", T0 + 2 * DAY, customers=5),
    record("inv-churn-2", "search-api", "instance_churn", T0 + 3 * DAY, customers=5),
    record("inv-deploy-1", "pay-api", "bad_deploy", T0 + 4 * DAY, gaps=("logs",)),
    record("inv-deploy-2", "pay-api", "bad_deploy", T0 + 5 * DAY, gaps=("logs",)),
    record("inv-wrong-1", "search-api", "memory_leak", T0 + 6 * DAY),
    record("inv-wrong-2", "search-api", "memory_leak", T0 + 7 * DAY),
]


def history() -> list[dict[str, Any]]:
    return [
        *org((("payments", "pay-api"), ("payments", "pay-db"), ("search", "search-api"))),
        {"type": "deployment", "id": "d1", "service": "pay-api", "environment": "production",
         "started_at": "2026-09-10T10:00:00Z", "finished_at": "2026-09-10T10:05:00Z",
         "status": "success"},
        {"type": "deployment", "id": "d2", "service": "pay-api", "environment": "production",
         "started_at": "2026-09-12T10:00:00Z", "finished_at": "2026-09-12T10:05:00Z",
         "status": "success"},
        {"type": "deployment", "id": "s1", "service": "search-api", "environment": "staging",
         "started_at": "2026-09-10T10:00:00Z", "finished_at": "2026-09-10T10:05:00Z",
         "status": "success"},
        {"type": "incident", "id": "inc-1", "service": "pay-api", "severity": "sev1",
         "opened_at": "2026-09-10T11:00:00Z", "resolved_at": "2026-09-10T13:00:00Z",
         "caused_by": "d1"},
        {"type": "incident", "id": "inc-2", "service": "pay-api", "severity": "sev2",
         "opened_at": "2026-09-12T11:00:00Z", "resolved_at": "2026-09-12T12:00:00Z",
         "caused_by": "d2"},
        {"type": "slo", "id": "search-avail", "service": "search-api", "objective": 0.999,
         "window_days": 28},
    ]


def build(settings: Settings, folder: Path) -> Settings:
    """Import the history and store the investigations into ``settings``' store."""
    rep = import_paths(settings, [write_jsonl(folder / "history.jsonl", history())])
    assert rep.quarantined == 0, rep
    with caller_of(settings) as c:
        for rec in RECORDS:
            store_investigation(c, rec)
    return settings
