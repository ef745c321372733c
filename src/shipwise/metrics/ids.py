"""Metric ids that code must name for what they mean (a cost flag about the change fail rate, the
SLO status columns), the people sources suppression counts, and the tags of where the interfaces list
a metric. Everything else — labels, formats, order — is iterated from :mod:`shipwise.metrics.registry`;
a test fails on a metric-id string literal outside ``metrics/`` and the charter."""

from __future__ import annotations

# -- metric ids (each is a key of registry.REGISTRY; a test checks) ------------------------------
DEPLOYMENT_FREQUENCY = "dora.deployment_frequency"
DEPLOYMENT_DAYS_PER_WEEK = "dora.deployment_days_per_week"
CHANGE_LEAD_TIME = "dora.change_lead_time"
CHANGE_LEAD_TIME_P90 = "dora.change_lead_time_p90"
CHANGE_FAIL_RATE = "dora.change_fail_rate"
FAILED_DEPLOYMENT_RECOVERY_TIME = "dora.failed_deployment_recovery_time"
REWORK_RATE = "dora.rework_rate"
FAILED_DEPLOYMENT_ATTEMPTS = "dora.failed_deployment_attempts"
COST_TO_SERVE = "cost.cost_to_serve"
IMPROVEMENT_QOQ = "cost.improvement_qoq"
IMPROVEMENT_YOY = "cost.improvement_yoy"
SAVINGS = "cost.savings"
SAVINGS_UNIT_COST = "cost.savings_unit_cost"
SAVINGS_VOLUME = "cost.savings_volume"
EFFECTIVE_HEADCOUNT = "cost.effective_headcount"
HIGH_SEVERITY_TICKETS_PER_DEPLOYMENT = "cost.high_severity_tickets_per_deployment"
DEPLOYMENTS_PER_BUILDER_WEEK = "cost.deployments_per_builder_week"
HUMAN_INTERVENTIONS_PER_DEPLOYMENT = "cost.human_interventions_per_deployment"
INCIDENT_TICKETS_PER_DEPLOYMENT = "cost.incident_tickets_per_deployment"
IMPROVEMENT_MEDIAN_TEAM = "cost.improvement_median_team"
CYCLE_TIME = "flow.cycle_time"
CYCLE_TIME_P90 = "flow.cycle_time_p90"
CODING_TIME = "flow.coding_time"
CODING_TIME_P90 = "flow.coding_time_p90"
PICKUP_TIME = "flow.pickup_time"
PICKUP_TIME_P90 = "flow.pickup_time_p90"
REVIEW_TIME = "flow.review_time"
REVIEW_TIME_P90 = "flow.review_time_p90"
DEPLOY_TIME = "flow.deploy_time"
DEPLOY_TIME_P90 = "flow.deploy_time_p90"
REVIEW_LATENCY = "flow.review_latency"
REVIEW_LATENCY_P90 = "flow.review_latency_p90"
OPEN_PR_AGE = "flow.open_pr_age"
OPEN_PR_AGE_P90 = "flow.open_pr_age_p90"
WORK_IN_PROGRESS = "flow.work_in_progress"
BLOCKED_TIME = "flow.blocked_time"
BLOCKED_RATIO = "flow.blocked_ratio"
ATTAINMENT = "slo.attainment"
ERROR_BUDGET_REMAINING = "slo.error_budget_remaining"
BURN_RATE = "slo.burn_rate"
RELEASE_APPETITE = "slo.release_appetite"
AFTER_HOURS_PAGES = "strain.after_hours_pages"
WEEKEND_PAGES = "strain.weekend_pages"
SLEEP_HOUR_PAGES = "strain.sleep_hour_pages"
OUT_OF_HOURS_SHARE = "strain.out_of_hours_share"
INCIDENT_BURDEN = "strain.incident_burden"
ONCALL_CONCENTRATION = "strain.oncall_concentration"
STALLED_PRS = "strain.stalled_prs"
OUT_OF_HOURS_ONCALL_HOURS = "strain.out_of_hours_oncall_hours"
SLEEP_HOUR_ONCALL_HOURS = "strain.sleep_hour_oncall_hours"
AI_ENGAGED_SHARE = "ai.engaged_share"
AI_ADOPTION_LEVEL = "ai.adoption_level"
AI_ACCEPTANCE_RATE = "ai.acceptance_rate"
AI_UNIT_SHARE = "ai.unit_share"
AI_CHANGE_LEAD_TIME = "ai.change_lead_time"
AI_REVIEW_TIME = "ai.review_time"
AI_CHANGE_FAIL_RATE = "ai.change_fail_rate"
AI_REWORK_RATE = "ai.rework_rate"
AI_INTERVENTIONS_PER_DEPLOYMENT = "ai.interventions_per_deployment"
AI_EFFECT_COST_TO_SERVE = "ai.effect_cost_to_serve"
AI_EFFECT_LEAD_TIME = "ai.effect_lead_time"
AI_EFFECT_CHANGE_FAIL_RATE = "ai.effect_change_fail_rate"
AI_RETURN_ON_SPEND = "ai.return_on_spend"

#: The organisation roll-up's count of teams in the cohort (a column of the roll-up, not a metric).
COHORT_TEAMS = "cost.cohort_teams"

#: Metrics a cheaper cost to serve must not be bought with, as the team page overlays them.
TENSION = (CHANGE_FAIL_RATE, INCIDENT_TICKETS_PER_DEPLOYMENT, HIGH_SEVERITY_TICKETS_PER_DEPLOYMENT)
#: The Goodhart guard's defaults (settings ``cost.tension`` replaces them): metric id ->
#: (absolute, relative) rise that, while cost to serve improved, raises a tension flag.
TENSION_THRESHOLDS: dict[str, tuple[float, float]] = {
    CHANGE_FAIL_RATE: (0.05, 0.5),
    HIGH_SEVERITY_TICKETS_PER_DEPLOYMENT: (0.02, 0.5),
}
#: The cost table's columns beside cost to serve (CLI CSV): the cost family with the change fail
#: rate after the high-severity tickets.
COST_COLUMNS = (COST_TO_SERVE, IMPROVEMENT_QOQ, IMPROVEMENT_YOY, SAVINGS, SAVINGS_UNIT_COST,
                SAVINGS_VOLUME, EFFECTIVE_HEADCOUNT,
                HIGH_SEVERITY_TICKETS_PER_DEPLOYMENT, CHANGE_FAIL_RATE, DEPLOYMENTS_PER_BUILDER_WEEK,
                HUMAN_INTERVENTIONS_PER_DEPLOYMENT, INCIDENT_TICKETS_PER_DEPLOYMENT)
#: What a team's delivery inputs are read from, beside cost (the team page's inputs table).
COST_INPUTS = (DEPLOYMENT_DAYS_PER_WEEK, DEPLOYMENTS_PER_BUILDER_WEEK,
               HUMAN_INTERVENTIONS_PER_DEPLOYMENT, REWORK_RATE)


def improvement(baseline: str) -> str:
    """The cost-to-serve improvement against a baseline: ``yoy`` -> IMPROVEMENT_YOY, ``qoq`` ->
    IMPROVEMENT_QOQ (another baseline names no registered metric)."""
    return f"cost.improvement_{baseline}"


# -- people sources (metrics/people.py SOURCES, plus the strain concentration decision) ----------
PEOPLE_MERGED = "flow.merged"
PEOPLE_DELIVERED = "flow.delivered"
PEOPLE_REVIEWED = "flow.reviewed"
PEOPLE_OPEN = "flow.open"
#: the open pull requests of a period's last week end (decided as that week's PEOPLE_OPEN)
PEOPLE_OPEN_END = "flow.open_end"
PEOPLE_RESPONDERS = "strain.responders"
PEOPLE_STALLED_AUTHORS = "strain.stalled_authors"
#: the people on call by the rota (oncall_shift) and the responders paged
PEOPLE_ONCALL = "strain.oncall"
#: the busiest fifth of responders and the rest, each at least the minimum group size
PEOPLE_CONCENTRATION = "strain.concentration"
#: the team's members in the month (person records, else headcount): AI usage figures of a team
#: smaller than the minimum group are hidden (a team of three would show what one person uses)
PEOPLE_AI_TEAM = "ai.team_size"

# -- where the interfaces list a metric (registry.Metric.shown) ------------------------------------
#: the family's table, in every interface
SHOWN_TABLE = "table"
#: the headline figures of the latest period (web tiles)
SHOWN_TILE = "tile"
#: a phase of cycle time (stacked in the order a change goes through them)
SHOWN_PHASE = "phase"
#: the organisation page's per-org-unit table
SHOWN_ORG = "org"
#: the CLI's table only (a detail the web table leaves to the JSON twin)
SHOWN_CLI = "cli"
#: the CLI's DORA table marks its change vs the previous period
SHOWN_TREND = "trend"
