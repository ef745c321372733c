"""The metric registry: every metric shipwise shows has a stable id here.

Each entry says how to read its value from its family's set-based result row. The charter
(``governance/charter.yaml``) and a docs page (``docs/metrics/<id>.md``) must exist for every id;
a test fails otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shipwise.errors import NotFoundError

Row = Mapping[str, Any]


def _ratio(num: str, den: str) -> Callable[[Row], float | None]:
    def f(r: Row) -> float | None:
        d = r.get(den) or 0
        return None if not d else float(r[num]) / float(d)

    return f


def _col(name: str) -> Callable[[Row], float | None]:
    def f(r: Row) -> float | None:
        v = r.get(name)
        return None if v is None else float(v)

    return f


@dataclass(frozen=True)
class Metric:
    id: str
    family: str
    title: str
    unit: str
    #: "higher" or "lower" is better; None when neither (counts of data-quality events)
    better: str | None
    value: Callable[[Row], float | None]
    #: Derived from people's activity (commits, reviews, pages) → group-size suppression applies.
    people_derived: bool = False


DORA: tuple[Metric, ...] = (
    Metric("dora.deployment_frequency", "dora", "Deployment frequency", "deployments/week", "higher",
           _ratio("deployments", "weeks")),
    Metric("dora.deployment_days_per_week", "dora", "Deployment days per week", "days/week", "higher",
           _ratio("deployment_days", "weeks")),
    Metric("dora.change_lead_time", "dora", "Change lead time (median)", "seconds", "lower",
           _col("lead_time_median_seconds")),
    Metric("dora.change_lead_time_p90", "dora", "Change lead time (p90)", "seconds", "lower",
           _col("lead_time_p90_seconds")),
    Metric("dora.change_fail_rate", "dora", "Change fail rate", "ratio", "lower",
           _ratio("failed_deployments", "reached_production")),
    Metric("dora.failed_deployment_recovery_time", "dora", "Failed deployment recovery time (median)",
           "seconds", "lower", _col("recovery_median_seconds")),
    Metric("dora.rework_rate", "dora", "Rework rate", "ratio", "lower",
           _ratio("rework_deployments", "reached_production")),
    Metric("dora.failed_deployment_attempts", "dora", "Failed deployment attempts", "count", None,
           _col("failed_attempts")),
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
