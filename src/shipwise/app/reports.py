"""Reports: the CFO's cost-to-serve report, from the same services the CLI and API use."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from shipwise.app.ai_rows import agent_rows, effect_rows
from shipwise.app.caller import Caller
from shipwise.app.cost import CostRequest, cost_rows, initiatives_rows
from shipwise.app.guard import guard
from shipwise.governance.charter import load_charter
from shipwise.metrics import facts, ids, registry
from shipwise.reports import write_report

#: Definitions printed at the end of the report, in this order: the figures the report leads with
#: (the default baseline's improvement first), then the tension metrics and delivery inputs.
DEFINED = (
    ids.COST_TO_SERVE, ids.IMPROVEMENT_YOY, ids.IMPROVEMENT_QOQ, ids.SAVINGS,
    ids.SAVINGS_UNIT_COST, ids.SAVINGS_VOLUME, ids.EFFECTIVE_HEADCOUNT, ids.IMPROVEMENT_MEDIAN_TEAM,
    ids.HIGH_SEVERITY_TICKETS_PER_DEPLOYMENT, ids.CHANGE_FAIL_RATE,
    ids.DEPLOYMENTS_PER_BUILDER_WEEK, ids.HUMAN_INTERVENTIONS_PER_DEPLOYMENT,
    ids.INCIDENT_TICKETS_PER_DEPLOYMENT,
)


@guard("org.cost", "report:cost")
def cost_report(caller: Caller, out: str | Path, *, since: date | None = None,
                until: date | None = None, baseline: str = "yoy") -> Path:
    """Write the cost report to ``out`` (.html or .pdf) and return its path."""
    store = caller.store
    facts.ensure_fresh(store)
    data = cost_rows(store, CostRequest(grain="quarter", baseline=baseline, since=since,
                                        until=until), caller.settings.cost)
    inits = initiatives_rows(store, settings=caller.settings.cost)
    ai = {"effect": effect_rows(store, caller.settings.ai, cost=caller.settings.cost,
                                min_group_size=caller.settings.privacy.min_group_size),
          "agents": agent_rows(store, grain="all", organisation=True)["rows"]}
    charter = load_charter()
    definitions = [
        {"id": mid, "title": registry.get(mid).title, "definition": charter.get(mid).definition,
         "unit": charter.get(mid).unit}
        for mid in DEFINED
    ]
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return write_report(Path(out), data, inits, definitions, generated_at=generated, ai=ai)
