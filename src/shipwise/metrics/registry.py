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


def _flow(mid: str, title: str, unit: str, sql: str, people: bool = True) -> Metric:
    return Metric(f"flow.{mid}", "flow", title, unit, "lower", sql, people_derived=people)


#: Flow (metrics/flow.py): pull requests of the team's repositories, tickets of the team.
FLOW: tuple[Metric, ...] = (
    _flow("cycle_time", "Cycle time (median)", "seconds", "cycle_median_seconds"),
    _flow("cycle_time_p90", "Cycle time (p90)", "seconds", "cycle_p90_seconds"),
    _flow("coding_time", "Coding time (median)", "seconds", "coding_median_seconds"),
    _flow("coding_time_p90", "Coding time (p90)", "seconds", "coding_p90_seconds"),
    _flow("pickup_time", "Pickup time (median)", "seconds", "pickup_median_seconds"),
    _flow("pickup_time_p90", "Pickup time (p90)", "seconds", "pickup_p90_seconds"),
    _flow("review_time", "Review time (median)", "seconds", "review_median_seconds"),
    _flow("review_time_p90", "Review time (p90)", "seconds", "review_p90_seconds"),
    _flow("deploy_time", "Deploy time (median)", "seconds", "deploy_median_seconds"),
    _flow("deploy_time_p90", "Deploy time (p90)", "seconds", "deploy_p90_seconds"),
    _flow("review_latency", "Review latency (median)", "seconds", "review_latency_median_seconds"),
    _flow("review_latency_p90", "Review latency (p90)", "seconds", "review_latency_p90_seconds"),
    _flow("open_pr_age", "Open pull request age (median)", "seconds", "open_age_median_seconds"),
    _flow("open_pr_age_p90", "Open pull request age (p90)", "seconds", "open_age_p90_seconds"),
    _flow("work_in_progress", "Work in progress", "open pull requests", "wip_mean"),
    _flow("blocked_time", "Blocked time per ticket (median)", "seconds",
          "blocked_median_seconds", people=False),
    _flow("blocked_ratio", "Share of ticket time blocked", "ratio",
          _ratio("blocked_seconds", "active_seconds"), people=False),
)

#: SLOs and error budgets (metrics/slo.py): per SLO, rolled up to its service's team.
SLO: tuple[Metric, ...] = (
    Metric("slo.attainment", "slo", "SLO attainment", "ratio", "higher", _ratio("good", "total")),
    Metric("slo.error_budget_remaining", "slo", "Error budget remaining", "ratio", "higher",
           _when("total > 0 AND objective < 1",
                 "1 - (total - good) / ((1 - objective) * total)")),
    Metric("slo.burn_rate", "slo", "Error budget burn rate", "× budget rate", "lower",
           _when("total > 0 AND objective < 1", "((total - good) / total) / (1 - objective)")),
    Metric("slo.release_appetite", "slo", "Release appetite", "state", None, "appetite"),
)


def _strain(mid: str, title: str, unit: str, sql: str) -> Metric:
    return Metric(f"strain.{mid}", "strain", title, unit, "lower", sql, people_derived=True)


#: Strain (metrics/strain.py): team level only, never per person.
STRAIN: tuple[Metric, ...] = (
    _strain("after_hours_pages", "After-hours pages", "pages", "CAST(after_hours_pages AS DOUBLE)"),
    _strain("weekend_pages", "Weekend pages", "pages", "CAST(weekend_pages AS DOUBLE)"),
    _strain("sleep_hour_pages", "Sleep-hour pages", "pages", "CAST(sleep_hour_pages AS DOUBLE)"),
    _strain("out_of_hours_share", "Share of pages out of hours", "ratio",
            _ratio("after_hours_pages + weekend_pages", "pages")),
    _strain("incident_burden", "Incident hours per on-call person-week", "hours/person-week",
            _ratio("incident_hours", "oncall_person_weeks")),
    _strain("oncall_concentration", "Pages carried by the busiest fifth of responders", "ratio",
            "busiest_fifth_share"),
    _strain("stalled_prs", "Pull requests stalled on other teams", "pull requests",
            "CAST(stalled_prs AS DOUBLE)"),
)

REGISTRY: dict[str, Metric] = {m.id: m for m in (*DORA, *COST, *FLOW, *SLO, *STRAIN)}


def get(metric_id: str) -> Metric:
    try:
        return REGISTRY[metric_id]
    except KeyError:
        raise NotFoundError(
            f"unknown metric '{metric_id}'", hint="`shipwise metrics list` shows every metric id"
        ) from None


def family(name: str) -> list[Metric]:
    return [m for m in REGISTRY.values() if m.family == name]
