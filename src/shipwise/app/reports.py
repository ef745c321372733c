"""Reports: the CFO's cost-to-serve report, from the same services the CLI and API use."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from shipwise.app.context import open_store
from shipwise.app.cost import CostRequest, cost_rows, initiatives_rows
from shipwise.config import Settings
from shipwise.governance.charter import load_charter
from shipwise.metrics import facts, registry

#: Definitions printed at the end of the report, in this order.
DEFINED = (
    "cost.cost_to_serve", "cost.improvement_yoy", "cost.improvement_qoq", "cost.savings",
    "cost.effective_headcount", "cost.improvement_median_team",
    "cost.high_severity_tickets_per_deployment", "dora.change_fail_rate",
    "cost.deployments_per_builder_week", "cost.human_interventions_per_deployment",
    "cost.incident_tickets_per_deployment",
)


def cost_report(settings: Settings, out: str | Path, *, since: date | None = None,
                until: date | None = None, baseline: str = "yoy") -> Path:
    """Write the cost report to ``out`` (.html or .pdf) and return its path."""
    from shipwise.reports import write_report

    with open_store(settings) as store:
        facts.ensure_fresh(store)
        data = cost_rows(store, CostRequest(grain="quarter", baseline=baseline, since=since,
                                            until=until), settings.cost)
        inits = initiatives_rows(store)
    charter = load_charter()
    definitions = [
        {"id": mid, "title": registry.get(mid).title, "definition": charter.get(mid).definition,
         "unit": charter.get(mid).unit}
        for mid in DEFINED
    ]
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return write_report(Path(out), data, inits, definitions, generated_at=generated)
