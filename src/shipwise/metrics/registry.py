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

REGISTRY: dict[str, Metric] = {m.id: m for m in DORA}


def get(metric_id: str) -> Metric:
    try:
        return REGISTRY[metric_id]
    except KeyError:
        raise NotFoundError(
            f"unknown metric '{metric_id}'", hint="`shipwise metrics list` shows every metric id"
        ) from None


def family(name: str) -> list[Metric]:
    return [m for m in REGISTRY.values() if m.family == name]
