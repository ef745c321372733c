"""The metric registry: every metric shipwise shows has a stable id here.

Each entry is a SQL expression over its family's set-based aggregate columns, so the value is
computed where the data is — on DuckDB or on a distributed engine — never row by row in Python. The charter
(``governance/charter.yaml``) and a docs page (``docs/metrics/<id>.md``) must exist for every id;
a test fails otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from shipwise.errors import NotFoundError


def _ratio(num: str, den: str) -> str:
    return f"CASE WHEN {den} > 0 THEN CAST({num} AS DOUBLE) / {den} END"


@dataclass(frozen=True)
class Metric:
    id: str
    family: str
    title: str
    unit: str
    #: "higher" or "lower" is better; None when neither (counts of data-quality events)
    better: str | None
    #: Portable SQL over its family's aggregate columns (see e.g. metrics/dora.py COLUMNS).
    sql: str
    #: Derived from people's activity (commits, reviews, pages) → group-size suppression applies.
    people_derived: bool = False
    #: Only exists for the organisation roll-up (computed by the family's roll-up query).
    rollup: bool = False


DORA: tuple[Metric, ...] = (
    Metric("dora.deployment_frequency", "dora", "Deployment frequency", "deployments/week", "higher",
           _ratio("deployments", "weeks")),
    Metric("dora.deployment_days_per_week", "dora", "Deployment days per week", "days/week", "higher",
           _ratio("deployment_days", "weeks")),
    Metric("dora.change_lead_time", "dora", "Change lead time (median)", "seconds", "lower",
           "lead_time_median_seconds"),
    Metric("dora.change_lead_time_p90", "dora", "Change lead time (p90)", "seconds", "lower",
           "lead_time_p90_seconds"),
    Metric("dora.change_fail_rate", "dora", "Change fail rate", "ratio", "lower",
           _ratio("failed_deployments", "reached_production")),
    Metric("dora.failed_deployment_recovery_time", "dora", "Failed deployment recovery time (median)",
           "seconds", "lower", "recovery_median_seconds"),
    Metric("dora.rework_rate", "dora", "Rework rate", "ratio", "lower",
           _ratio("rework_deployments", "reached_production")),
    Metric("dora.failed_deployment_attempts", "dora", "Failed deployment attempts", "count", None,
           "CAST(failed_attempts AS DOUBLE)"),
)

def _when(cond: str, value: str) -> str:
    return f"CASE WHEN {cond} THEN {value} END"


_SAVED = "units * (baseline_cost_to_serve - cts)"
COST: tuple[Metric, ...] = (
    Metric("cost.cost_to_serve", "cost", "Cost to serve", "currency per unit", "lower", "cts"),
    Metric("cost.improvement_qoq", "cost", "Improvement vs previous period", "ratio", "higher",
           _when("cts IS NOT NULL AND previous_cost_to_serve > 0", "1 - cts / previous_cost_to_serve")),
    Metric("cost.improvement_yoy", "cost", "Improvement vs a year earlier", "ratio", "higher",
           _when("cts IS NOT NULL AND year_ago_cost_to_serve > 0", "1 - cts / year_ago_cost_to_serve")),
    Metric("cost.savings", "cost", "Savings", "currency", "higher",
           _when("cts IS NOT NULL AND baseline_cost_to_serve IS NOT NULL", _SAVED)),
    Metric("cost.effective_headcount", "cost", "Effective headcount given back", "FTE", "higher",
           _when("cts IS NOT NULL AND baseline_cost_to_serve IS NOT NULL AND people_amount > 0 "
                 "AND average_fte > 0", f"{_SAVED} / (people_amount / average_fte)")),
    Metric("cost.high_severity_tickets_per_deployment", "cost",
           "Human-actioned high-severity tickets per deployment", "tickets/deployment", "lower", "hst"),
    Metric("cost.deployments_per_builder_week", "cost", "Deployments per builder-week",
           "deployments/FTE-week", "higher",
           _when("average_fte > 0", "CAST(deployments AS DOUBLE) / (weeks * average_fte)")),
    Metric("cost.human_interventions_per_deployment", "cost", "Human interventions per deployment",
           "interventions/deployment", "lower",
           _when("deployments > 0", "CAST(manual_interventions AS DOUBLE) / deployments")),
    Metric("cost.incident_tickets_per_deployment", "cost", "Incident tickets per deployment",
           "tickets/deployment", "lower",
           _when("deployments > 0", "CAST(incident_tickets AS DOUBLE) / deployments")),
    Metric("cost.improvement_median_team", "cost", "Median team's improvement", "ratio", "higher",
           "NULL", rollup=True),
)

REGISTRY: dict[str, Metric] = {m.id: m for m in (*DORA, *COST)}


def get(metric_id: str) -> Metric:
    try:
        return REGISTRY[metric_id]
    except KeyError:
        raise NotFoundError(
            f"unknown metric '{metric_id}'", hint="`shipwise metrics list` shows every metric id"
        ) from None


def family(name: str) -> list[Metric]:
    return [m for m in REGISTRY.values() if m.family == name]
