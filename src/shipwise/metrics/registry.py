"""The metric registry: every metric shipwise shows has a stable id here.

Each entry is a SQL expression over its family's set-based aggregate columns, so the value is
computed where the data is — on DuckDB or on a distributed engine — never row by row in Python. The charter
(``governance/charter.yaml``) and a docs page (``docs/metrics/<id>.md``) must exist for every id;
a test fails otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from shipwise.errors import NotFoundError
from shipwise.metrics import ids
from shipwise.metrics.portable import DUCKDB, SPARK


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
    #: Short column/heading label, as the CLI tables show it ("deploys/wk", "lead time").
    label: str = ""
    #: How a value renders (metrics/formatting.py): duration, percent, number, count, money,
    #: rate, multiple or state.
    format: str = "number"
    #: Decimals on the web pages and in reports (percent: of the percentage).
    digits: int = 2
    #: Decimals in the CLI's terse tables (percent: of the percentage).
    cli_digits: int = 2
    #: For a people-derived metric: the people source (metrics/people.py, or the strain
    #: concentration decision) whose group size suppression judges its figures by. None otherwise.
    people_source: str | None = None
    #: Display order within its family (ascending), as every interface lists it.
    order: int = 0
    #: Where the interfaces list it (metrics/ids.py SHOWN_*): the family's table in every
    #: interface, the web tiles, the cycle-time phases, the org-unit table, the CLI's table only.
    shown: frozenset[str] = field(default_factory=frozenset)
    #: The engines this metric's definition is proven on: the same SQL text (the portable subset
    #: of metrics/portable.py, rendered per engine), equal on the demo organisation row for row
    #: (tests/metrics/test_spark.py). Set per family below.
    engines: frozenset[str] = frozenset({DUCKDB})


def _shown(*tags: str) -> frozenset[str]:
    return frozenset(tags)


_T, _TILE, _PHASE, _ORG, _CLI, _TREND = (ids.SHOWN_TABLE, ids.SHOWN_TILE, ids.SHOWN_PHASE,
                                         ids.SHOWN_ORG, ids.SHOWN_CLI, ids.SHOWN_TREND)


DORA: tuple[Metric, ...] = (
    Metric("dora.deployment_frequency", "dora", "Deployment frequency", "deployments/week", "higher",
           _ratio("deployments", "weeks"), label="deploys/wk", format="rate", order=10,
           shown=_shown(_T, _TILE, _TREND)),
    Metric("dora.deployment_days_per_week", "dora", "Deployment days per week", "days/week", "higher",
           _ratio("deployment_days", "weeks"), label="deploy days/wk", format="rate", order=20),
    Metric("dora.change_lead_time", "dora", "Change lead time (median)", "seconds", "lower",
           "lead_time_median_seconds", label="lead time", format="duration", order=30,
           shown=_shown(_T, _TILE, _TREND)),
    Metric("dora.change_lead_time_p90", "dora", "Change lead time (p90)", "seconds", "lower",
           "lead_time_p90_seconds", label="lead p90", format="duration", order=40,
           shown=_shown(_T)),
    Metric("dora.change_fail_rate", "dora", "Change fail rate", "ratio", "lower",
           _ratio("failed_deployments", "reached_production"), label="change fail",
           format="percent", digits=1, cli_digits=1, order=50, shown=_shown(_T, _TILE, _TREND)),
    Metric("dora.failed_deployment_recovery_time", "dora", "Failed deployment recovery time (median)",
           "seconds", "lower", "recovery_median_seconds", label="recovery", format="duration", order=60,
           shown=_shown(_T, _TILE)),
    Metric("dora.rework_rate", "dora", "Rework rate", "ratio", "lower",
           _ratio("rework_deployments", "reached_production"), label="rework", format="percent",
           digits=1, cli_digits=1, order=70, shown=_shown(_T, _TILE)),
    Metric("dora.failed_deployment_attempts", "dora", "Failed deployment attempts", "count", None,
           "CAST(failed_attempts AS DOUBLE)", label="failed attempts", format="count", digits=0,
           order=80),
)

def _when(cond: str, value: str) -> str:
    return f"CASE WHEN {cond} THEN {value} END"


_SAVED = "units * (baseline_cost_to_serve - cts)"
COST: tuple[Metric, ...] = (
    Metric("cost.cost_to_serve", "cost", "Cost to serve", "currency per unit", "lower", "cts",
           label="cost/unit", format="money", cli_digits=0, order=10, shown=_shown(_T, _TILE)),
    Metric("cost.improvement_qoq", "cost", "Improvement vs previous period", "ratio", "higher",
           _when("cts IS NOT NULL AND previous_cost_to_serve > 0", "1 - cts / previous_cost_to_serve"),
           label="improvement", format="percent", digits=1, cli_digits=1, order=20,
           shown=_shown(_T, _TILE)),
    Metric("cost.improvement_yoy", "cost", "Improvement vs a year earlier", "ratio", "higher",
           _when("cts IS NOT NULL AND year_ago_cost_to_serve > 0", "1 - cts / year_ago_cost_to_serve"),
           label="improvement", format="percent", digits=1, cli_digits=1, order=30,
           shown=_shown(_T, _TILE)),
    Metric("cost.savings", "cost", "Savings", "currency", "higher",
           _when("cts IS NOT NULL AND baseline_cost_to_serve IS NOT NULL", _SAVED),
           label="savings", format="money", cli_digits=0, order=40, shown=_shown(_T, _TILE)),
    Metric("cost.savings_unit_cost", "cost", "Savings from the lower unit cost", "currency",
           "higher", _when("cts IS NOT NULL AND baseline_cost_to_serve IS NOT NULL",
                           "baseline_units * (baseline_cost_to_serve - cts)"),
           label="of which unit cost", format="money", cli_digits=0, order=42),
    Metric("cost.savings_volume", "cost", "Savings from volume growth", "currency", "higher",
           _when("cts IS NOT NULL AND baseline_cost_to_serve IS NOT NULL",
                 "(units - baseline_units) * (baseline_cost_to_serve - cts)"),
           label="of which volume", format="money", cli_digits=0, order=44),
    Metric("cost.effective_headcount", "cost", "Effective headcount given back", "FTE", "higher",
           _when("cts IS NOT NULL AND baseline_cost_to_serve IS NOT NULL AND people_amount > 0 "
                 "AND average_fte > 0", f"{_SAVED} / (people_amount / average_fte)"),
           label="eff. FTE", cli_digits=1, order=50, shown=_shown(_T, _TILE)),
    Metric("cost.high_severity_tickets_per_deployment", "cost",
           "Human-actioned high-severity tickets per deployment", "tickets/deployment", "lower", "hst",
           label="sev1-2/deploy", format="rate", cli_digits=3, order=60, shown=_shown(_T)),
    Metric("cost.deployments_per_builder_week", "cost", "Deployments per builder-week",
           "deployments/FTE-week", "higher",
           _when("average_fte > 0", "CAST(deployments AS DOUBLE) / (weeks * average_fte)"),
           label="deploys/builder-wk", format="rate", order=70, shown=_shown(_T)),
    Metric("cost.human_interventions_per_deployment", "cost", "Human interventions per deployment",
           "interventions/deployment", "lower",
           _when("deployments > 0", "CAST(manual_interventions AS DOUBLE) / deployments"),
           label="interventions/deploy", format="rate", order=80, shown=_shown(_T)),
    Metric("cost.incident_tickets_per_deployment", "cost", "Incident tickets per deployment",
           "tickets/deployment", "lower",
           _when("deployments > 0", "CAST(incident_tickets AS DOUBLE) / deployments"),
           label="incident tickets/deploy", format="rate", order=90, shown=_shown(_T)),
    Metric("cost.improvement_median_team", "cost", "Median team's improvement", "ratio", "higher",
           "NULL", rollup=True, label="median team", format="percent", digits=1, cli_digits=1,
           order=100),
)


def _flow(mid: str, title: str, unit: str, sql: str, label: str, order: int,
          people: str | None, shown: frozenset[str] = frozenset()) -> Metric:
    fmt = {"seconds": "duration", "ratio": "percent"}.get(unit, "number")
    pct = 1 if fmt == "percent" else 2
    return Metric(f"flow.{mid}", "flow", title, unit, "lower", sql, people_derived=people is not None,
                  label=label, format=fmt, digits=1 if unit == "open pull requests" else pct,
                  cli_digits=pct, people_source=people, order=order, shown=shown)


_MERGED, _DELIVERED, _REVIEWED = ids.PEOPLE_MERGED, ids.PEOPLE_DELIVERED, ids.PEOPLE_REVIEWED
_OPEN, _OPEN_END = ids.PEOPLE_OPEN, ids.PEOPLE_OPEN_END
_PHASE_ROW = _shown(_T, _PHASE, _ORG)
_HEADLINE = _shown(_T, _TILE, _ORG)

#: Flow (metrics/flow.py): pull requests of the team's repositories, tickets of the team. The
#: people source of a pull-request figure: who merged (coding, pickup, review), who delivered
#: (deploy, cycle), who was reviewed, whose pull requests were open (work in progress: every week
#: end of the period; open age: the period's last week end); ticket figures have none.
FLOW: tuple[Metric, ...] = (
    _flow("cycle_time", "Cycle time (median)", "seconds", "cycle_median_seconds", "cycle", 10,
          _DELIVERED, _HEADLINE),
    _flow("cycle_time_p90", "Cycle time (p90)", "seconds", "cycle_p90_seconds", "cycle p90", 60,
          _DELIVERED, _shown(_CLI)),
    _flow("coding_time", "Coding time (median)", "seconds", "coding_median_seconds", "coding", 20,
          _MERGED, _PHASE_ROW),
    _flow("coding_time_p90", "Coding time (p90)", "seconds", "coding_p90_seconds", "coding p90",
          110, _MERGED),
    _flow("pickup_time", "Pickup time (median)", "seconds", "pickup_median_seconds", "pickup", 30,
          _MERGED, _PHASE_ROW),
    _flow("pickup_time_p90", "Pickup time (p90)", "seconds", "pickup_p90_seconds", "pickup p90",
          120, _MERGED),
    _flow("review_time", "Review time (median)", "seconds", "review_median_seconds", "review", 40,
          _MERGED, _PHASE_ROW),
    _flow("review_time_p90", "Review time (p90)", "seconds", "review_p90_seconds", "review p90",
          130, _MERGED),
    _flow("deploy_time", "Deploy time (median)", "seconds", "deploy_median_seconds", "deploy", 50,
          _DELIVERED, _PHASE_ROW),
    _flow("deploy_time_p90", "Deploy time (p90)", "seconds", "deploy_p90_seconds", "deploy p90",
          140, _DELIVERED),
    _flow("review_latency", "Review latency (median)", "seconds", "review_latency_median_seconds",
          "review latency", 70, _REVIEWED, _HEADLINE),
    _flow("review_latency_p90", "Review latency (p90)", "seconds", "review_latency_p90_seconds",
          "review latency p90", 150, _REVIEWED),
    _flow("open_pr_age", "Open pull request age (median)", "seconds", "open_age_median_seconds",
          "open PR age", 80, _OPEN_END, _shown(_T, _TILE)),
    _flow("open_pr_age_p90", "Open pull request age (p90)", "seconds", "open_age_p90_seconds",
          "open PR age p90", 160, _OPEN_END),
    _flow("work_in_progress", "Work in progress", "open pull requests", "wip_mean", "WIP", 90,
          _OPEN, _HEADLINE),
    _flow("blocked_time", "Blocked time per ticket (median)", "seconds",
          "blocked_median_seconds", "blocked time", 170, None),
    _flow("blocked_ratio", "Share of ticket time blocked", "ratio",
          _ratio("blocked_seconds", "active_seconds"), "blocked", 100, None, _HEADLINE),
)

#: SLOs and error budgets (metrics/slo.py): per SLO, rolled up to its service's team.
SLO: tuple[Metric, ...] = (
    Metric("slo.attainment", "slo", "SLO attainment", "ratio", "higher", _ratio("good", "total"),
           label="attainment", format="percent", digits=2, cli_digits=3, order=10,
           shown=_shown(_T)),
    Metric("slo.error_budget_remaining", "slo", "Error budget remaining", "ratio", "higher",
           _when("total > 0 AND objective < 1",
                 "1 - (total - good) / ((1 - objective) * total)"),
           label="budget left", format="percent", digits=1, cli_digits=1, order=20,
           shown=_shown(_T)),
    Metric("slo.burn_rate", "slo", "Error budget burn rate", "× budget rate", "lower",
           _when("total > 0 AND objective < 1", "((total - good) / total) / (1 - objective)"),
           label="burn", format="multiple", digits=1, cli_digits=1, order=30, shown=_shown(_T)),
    Metric("slo.release_appetite", "slo", "Release appetite", "state", None, "appetite",
           label="appetite", format="state", order=40, shown=_shown(_T)),
)


def _strain(mid: str, title: str, unit: str, sql: str, label: str, order: int,
            people: str = ids.PEOPLE_RESPONDERS) -> Metric:
    fmt = {"pages": "count", "pull requests": "count", "ratio": "percent"}.get(unit, "rate")
    return Metric(f"strain.{mid}", "strain", title, unit, "lower", sql, people_derived=True,
                  label=label, format=fmt, digits={"count": 0, "percent": 1}.get(fmt, 2),
                  cli_digits=1 if fmt == "percent" else 2, people_source=people, order=order,
                  shown=_shown(_T, _TILE, _ORG))


#: Strain (metrics/strain.py): team level only, never per person. People source: the responders
#: paged; the busiest-fifth share needs the busiest fifth and the rest each large enough; stalled
#: pull requests are their authors'.
STRAIN: tuple[Metric, ...] = (
    _strain("after_hours_pages", "After-hours pages", "pages", "CAST(after_hours_pages AS DOUBLE)",
            "after hours", 10),
    _strain("weekend_pages", "Weekend pages", "pages", "CAST(weekend_pages AS DOUBLE)", "weekend",
            20),
    _strain("sleep_hour_pages", "Sleep-hour pages", "pages", "CAST(sleep_hour_pages AS DOUBLE)",
            "sleep hours", 30),
    _strain("out_of_hours_share", "Share of pages out of hours", "ratio",
            _ratio("after_hours_pages + weekend_pages", "pages"), "out of hours", 40),
    _strain("incident_burden", "Incident hours per on-call person-week", "hours/person-week",
            _ratio("incident_hours", "oncall_person_weeks"), "incident h/person-wk", 50),
    _strain("oncall_concentration", "Pages carried by the busiest fifth of responders", "ratio",
            "busiest_fifth_share", "busiest fifth carries", 60, ids.PEOPLE_CONCENTRATION),
    _strain("stalled_prs", "Pull requests stalled on other teams", "pull requests",
            "CAST(stalled_prs AS DOUBLE)", "stalled PRs", 70, ids.PEOPLE_STALLED_AUTHORS),
    # on-call hours from the rota (else approximated from pages: oncall_basis says which)
    _strain("out_of_hours_oncall_hours", "On-call hours out of hours", "hours",
            "CASE WHEN oncall_basis IS NULL THEN NULL "
            "ELSE CAST(after_hours_oncall_hours + weekend_oncall_hours AS DOUBLE) END",
            "on call out of hours", 80, ids.PEOPLE_ONCALL),
    _strain("sleep_hour_oncall_hours", "On-call hours in sleep hours", "hours",
            "CASE WHEN oncall_basis IS NULL THEN NULL ELSE CAST(sleep_oncall_hours AS DOUBLE) END",
            "on call in sleep hours", 90, ids.PEOPLE_ONCALL),
)

def _ai(mid: str, title: str, unit: str, better: str | None, sql: str, label: str, fmt: str,
        order: int, people: str | None = None, rollup: bool = False) -> Metric:
    digits = 1 if fmt == "percent" else 2
    return Metric(f"ai.{mid}", "ai", title, unit, better, sql, people_derived=people is not None,
                  rollup=rollup, label=label, format=fmt, digits=digits, cli_digits=digits,
                  people_source=people, order=order, shown=_shown(_T))


#: AI-assisted development (metrics/ai.py). Adoption, per team and month, from ``ai_usage``
#: (people-derived: hidden for a team smaller than the minimum group); agent-authored changes,
#: per team, month and author kind (agent, human, bot), beside each other; and the estimated
#: effect of reaching an adoption level (organisation roll-ups, app/ai.py), DuckDB only.
AI: tuple[Metric, ...] = (
    _ai("engaged_share", "Engaged share of the team", "ratio", None,
        "engaged_share", "engaged", "percent", 10, ids.PEOPLE_AI_TEAM),
    _ai("adoption_level", "Adoption level", "state", None, "level", "adoption", "state", 20,
        ids.PEOPLE_AI_TEAM),
    _ai("acceptance_rate", "Suggestion acceptance rate", "ratio", None,
        _ratio("suggestions_accepted", "suggestions_shown"), "accepted", "percent", 30,
        ids.PEOPLE_AI_TEAM),
    _ai("unit_share", "Share of delivery units", "ratio", None, _ratio("units", "team_units"),
        "share of units", "percent", 40),
    _ai("change_lead_time", "Change lead time by author kind (median)", "seconds", "lower",
        "lead_time_median_seconds", "lead time", "duration", 50),
    _ai("review_time", "Time to first review by author kind (median)", "seconds", "lower",
        "review_median_seconds", "review", "duration", 60, ids.PEOPLE_MERGED),
    _ai("change_fail_rate", "Change fail rate by author kind", "ratio", "lower",
        _ratio("failed", "reached"), "change fail", "percent", 70),
    _ai("rework_rate", "Rework rate by author kind", "ratio", "lower",
        _ratio("rework", "reached"), "rework", "percent", 80),
    _ai("interventions_per_deployment", "Manual interventions per deployment by author kind",
        "interventions/deployment", "lower", _ratio("interventions", "reached"),
        "interventions/deploy", "rate", 90),
    _ai("effect_cost_to_serve", "Effect of adoption on cost to serve", "log ratio", "lower",
        "NULL", "cost/unit effect", "number", 100, rollup=True),
    _ai("effect_lead_time", "Effect of adoption on change lead time", "log ratio", "lower",
        "NULL", "lead time effect", "number", 110, rollup=True),
    _ai("effect_change_fail_rate", "Effect of adoption on change fail rate", "ratio points",
        "lower", "NULL", "change fail effect", "number", 120, rollup=True),
    _ai("return_on_spend", "Return on AI spend", "ratio", "higher", "NULL", "return",
        "multiple", 130, rollup=True),
)


#: Families whose definitions (facts and queries) are in the portable subset and proven on Spark;
#: SLO and strain use DuckDB-only SQL (time zones, JSON, list functions) and stay on the store.
PORTABLE_FAMILIES = ("dora", "cost", "flow")


def _on_engines(metrics: tuple[Metric, ...]) -> tuple[Metric, ...]:
    return tuple(replace(m, engines=frozenset({DUCKDB, SPARK}))
                 if m.family in PORTABLE_FAMILIES else m for m in metrics)


REGISTRY: dict[str, Metric] = {m.id: m for m in _on_engines((*DORA, *COST, *FLOW, *SLO, *STRAIN,
                                                             *AI))}


def get(metric_id: str) -> Metric:
    try:
        return REGISTRY[metric_id]
    except KeyError:
        raise NotFoundError(
            f"unknown metric '{metric_id}'", hint="`shipwise metrics list` shows every metric id"
        ) from None


def family(name: str) -> list[Metric]:
    return [m for m in REGISTRY.values() if m.family == name]


def metrics_of(family_name: str, *shown: str) -> list[Metric]:
    """The family's metrics in display order; with ``shown`` tags, only those listed on any of
    those surfaces (ids.SHOWN_*)."""
    ms = [m for m in REGISTRY.values()
          if m.family == family_name and (not shown or m.shown & set(shown))]
    return sorted(ms, key=lambda m: m.order)


def ids_of(family_name: str, *shown: str) -> tuple[str, ...]:
    """The ids of :func:`metrics_of`."""
    return tuple(m.id for m in metrics_of(family_name, *shown))
