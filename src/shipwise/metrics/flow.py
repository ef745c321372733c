"""Flow metrics v1: where a team's delivery system is stuck, as set-based SQL over the flow facts.

Definitions (the contract; docs/metrics/flow.*.md explain each):

- A pull request belongs to the team that owns its repository (``service.repo``, defaulting to
  the service id) — the delivery system it flows through. Bot-authored pull requests are left out.
- Cycle time is split into phases, each a median and p90 over the pull requests of a cohort:
  coding = opened − first commit (0 when the first commit came after opening);
  pickup = first review − opened; review = merged − first review (pickup, review and coding
  over pull requests *merged* in the period; merged without a review are counted apart);
  deploy = delivered − merged, and cycle = delivered − first commit (or opened), over pull
  requests *delivered* in the period (delivered = the last of its commits reached production).
- Review latency: first review − opened, over pull requests *first reviewed* in the period,
  merged or not (the reviewer's side of pickup, including work that never merged).
- Work in progress: open pull requests at each week end (Sunday 24:00 UTC) of the period,
  averaged; open pull-request age: the ages of those open at the period's last week end, as a
  median, p90 and a distribution (< 1 d, 1–3 d, 3–7 d, 7–14 d, ≥ 14 d).
- Blocked time, from ``ticket_status``: a ticket is in a status until its next event; over the
  tickets done (first ``done`` event) in the period, blocked seconds before done; the median over
  tickets that were ever blocked, and blocked ÷ active time (first in_progress or blocked → done).

Every period value is people-derived (from pull requests people opened and reviewed) except the
ticket figures; the service layer suppresses figures of groups smaller than the minimum.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from shipwise.metrics import registry
from shipwise.metrics.hierarchy import calendar_cte, entity_map_cte, with_clause
from shipwise.metrics.portable import percentile, seconds_between

#: Output columns of :func:`flow_sql`, after ``entity``, ``period`` and ``period_start``.
COLUMNS = (
    "merged_prs", "merged_without_review", "coding_median_seconds", "coding_p90_seconds",
    "pickup_median_seconds", "pickup_p90_seconds", "review_median_seconds", "review_p90_seconds",
    "delivered_prs", "deploy_median_seconds", "deploy_p90_seconds", "cycle_median_seconds",
    "cycle_p90_seconds", "reviewed_prs", "review_latency_median_seconds",
    "review_latency_p90_seconds", "week_ends", "wip_mean", "open_prs", "open_age_median_seconds",
    "open_age_p90_seconds", "open_lt_1d", "open_1d_3d", "open_3d_7d", "open_7d_14d",
    "open_ge_14d", "tickets_done", "tickets_blocked", "blocked_seconds", "active_seconds",
    "blocked_median_seconds",
)
#: Count columns whose sum over a group's parts is the group's (complementary suppression).
ADDITIVE = ("merged_prs", "merged_without_review", "delivered_prs", "reviewed_prs", "open_prs",
            "open_lt_1d", "open_1d_3d", "open_3d_7d", "open_7d_14d", "open_ge_14d")
#: Columns derived from tickets, not from people's pull requests.
TICKET_COLUMNS = ("tickets_done", "tickets_blocked", "blocked_seconds", "active_seconds",
                  "blocked_median_seconds")


@dataclass(frozen=True)
class FlowQuery:
    grain: str
    level: str  # team | org_unit
    since: date
    until: date
    #: only these teams (or org units); all when empty
    entities: tuple[str, ...] = ()


def _q(name: str) -> str:
    return '"' + name + '"'


def _pct(expr: str, name: str) -> str:
    return (f"{percentile(0.5, expr)} AS {name}_median_seconds, "
            f"{percentile(0.9, expr)} AS {name}_p90_seconds")


def _secs(start: str, end: str) -> str:
    return seconds_between(start, end)


def _nonneg(start: str, end: str) -> str:
    d = _secs(start, end)
    return f"CASE WHEN {start} IS NOT NULL AND {end} IS NOT NULL AND {d} >= 0 THEN {d} END"


def flow_sql(q: FlowQuery) -> tuple[str, list[object]]:
    """The flow query for one grain and level; returns (sql, parameters)."""
    coding = (f"CASE WHEN f.first_commit_at IS NOT NULL THEN "
              f"greatest(0, {_secs('f.first_commit_at', 'f.created_at')}) END")
    pickup = _nonneg("f.created_at", "f.first_review_at")
    review = _nonneg("f.first_review_at", "f.merged_at")
    deploy = _nonneg("f.merged_at", "f.delivered_at")
    cycle = _nonneg("coalesce(f.first_commit_at, f.created_at)", "f.delivered_at")
    metrics = registry.family("flow")
    metric_cols = ", ".join(f"{m.sql} AS {_q(m.id)}" for m in metrics)
    age = _secs("o.created_at", "o.snap_at")
    sql = f"""
{with_clause(q.level)}
{entity_map_cte(q.level, q.entities)},
{calendar_cte(q.grain)},
periods AS (SELECT period, min(period_start) AS period_start FROM cal GROUP BY period),
entities AS (SELECT DISTINCT entity FROM emap),
f AS (
  SELECT m.entity, x.*,
         CASE WHEN x.merged_at IS NULL THEN x.closed_at WHEN x.closed_at IS NULL THEN x.merged_at
              ELSE least(x.merged_at, x.closed_at) END AS ended_at
  FROM flow_pr_fact x JOIN emap m ON m.team = x.team
),
data_end AS (
  SELECT max(greatest(created_at, coalesce(first_review_at, created_at),
                      coalesce(merged_at, created_at), coalesce(closed_at, created_at),
                      coalesce(delivered_at, created_at))) AS t
  FROM flow_pr_fact
),
merged AS (
  SELECT f.entity, cal.period, count(*) AS merged_prs,
         sum(CASE WHEN f.first_review_at IS NULL THEN 1 ELSE 0 END) AS merged_without_review,
         {_pct(coding, "coding")}, {_pct(pickup, "pickup")}, {_pct(review, "review")}
  FROM f JOIN cal ON cal.day = CAST(f.merged_at AS DATE)
  GROUP BY f.entity, cal.period
),
delivered AS (
  SELECT f.entity, cal.period, count(*) AS delivered_prs,
         {_pct(deploy, "deploy")}, {_pct(cycle, "cycle")}
  FROM f JOIN cal ON cal.day = CAST(f.delivered_at AS DATE)
  GROUP BY f.entity, cal.period
),
reviewed AS (
  SELECT f.entity, cal.period, count(*) AS reviewed_prs, {_pct(pickup, "review_latency")}
  FROM f JOIN cal ON cal.day = CAST(f.first_review_at AS DATE)
  GROUP BY f.entity, cal.period
),
snaps AS (
  SELECT cal.period, cal.day, CAST(cal.day + INTERVAL 1 DAY AS TIMESTAMP) AS snap_at
  FROM cal, data_end WHERE cal.weekday = 7 AND CAST(cal.day + INTERVAL 1 DAY AS TIMESTAMP) <= data_end.t
),
snap_count AS (SELECT period, count(*) AS week_ends, max(snap_at) AS last_snap FROM snaps GROUP BY period),
o AS (
  SELECT f.entity, s.period, s.snap_at, f.created_at
  FROM f JOIN snaps s ON f.created_at < s.snap_at AND (f.ended_at IS NULL OR f.ended_at >= s.snap_at)
),
wip AS (
  SELECT o.entity, o.period, CAST(count(*) AS DOUBLE) / max(sc.week_ends) AS wip_mean
  FROM o JOIN snap_count sc ON sc.period = o.period GROUP BY o.entity, o.period
),
open_age AS (
  SELECT o.entity, o.period, count(*) AS open_prs,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY {age}) AS open_age_median_seconds,
         percentile_cont(0.9) WITHIN GROUP (ORDER BY {age}) AS open_age_p90_seconds,
         sum(CASE WHEN {age} < 86400 THEN 1 ELSE 0 END) AS open_lt_1d,
         sum(CASE WHEN {age} >= 86400 AND {age} < 3 * 86400 THEN 1 ELSE 0 END) AS open_1d_3d,
         sum(CASE WHEN {age} >= 3 * 86400 AND {age} < 7 * 86400 THEN 1 ELSE 0 END) AS open_3d_7d,
         sum(CASE WHEN {age} >= 7 * 86400 AND {age} < 14 * 86400 THEN 1 ELSE 0 END) AS open_7d_14d,
         sum(CASE WHEN {age} >= 14 * 86400 THEN 1 ELSE 0 END) AS open_ge_14d
  FROM o JOIN snap_count sc ON sc.period = o.period AND sc.last_snap = o.snap_at
  GROUP BY o.entity, o.period
),
spell AS (
  SELECT t.ticket, t.team, t."at", t.category,
         lead(t."at") OVER (PARTITION BY t.ticket ORDER BY t."at") AS next_at
  FROM ticket_status t
),
ticket AS (
  SELECT ticket, min(team) AS team,
         min(CASE WHEN category = 'done' THEN "at" END) AS done_at,
         min(CASE WHEN category IN ('in_progress', 'blocked') THEN "at" END) AS started_at
  FROM spell GROUP BY ticket
),
ticket_time AS (
  SELECT k.ticket, k.team, k.done_at, k.started_at,
         sum(CASE WHEN s.category = 'blocked' AND s."at" < k.done_at
                  THEN {_secs('s."at"', 'least(coalesce(s.next_at, k.done_at), k.done_at)')}
                  ELSE 0 END) AS blocked_s
  FROM ticket k JOIN spell s ON s.ticket = k.ticket
  WHERE k.done_at IS NOT NULL
  GROUP BY k.ticket, k.team, k.done_at, k.started_at
),
tickets AS (
  SELECT m.entity, cal.period, count(*) AS tickets_done,
         sum(CASE WHEN t.blocked_s > 0 THEN 1 ELSE 0 END) AS tickets_blocked,
         sum(t.blocked_s) AS blocked_seconds,
         sum(CASE WHEN t.started_at IS NOT NULL AND t.started_at <= t.done_at
                  THEN {_secs('t.started_at', 't.done_at')} ELSE 0 END) AS active_seconds,
         percentile_cont(0.5) WITHIN GROUP (
           ORDER BY CASE WHEN t.blocked_s > 0 THEN t.blocked_s END) AS blocked_median_seconds
  FROM ticket_time t JOIN emap m ON m.team = t.team JOIN cal ON cal.day = CAST(t.done_at AS DATE)
  GROUP BY m.entity, cal.period
),
agg AS (
  SELECT e.entity, p.period, p.period_start,
    coalesce(merged.merged_prs, 0) AS merged_prs,
    coalesce(merged.merged_without_review, 0) AS merged_without_review,
    merged.coding_median_seconds, merged.coding_p90_seconds,
    merged.pickup_median_seconds, merged.pickup_p90_seconds,
    merged.review_median_seconds, merged.review_p90_seconds,
    coalesce(delivered.delivered_prs, 0) AS delivered_prs,
    delivered.deploy_median_seconds, delivered.deploy_p90_seconds,
    delivered.cycle_median_seconds, delivered.cycle_p90_seconds,
    coalesce(reviewed.reviewed_prs, 0) AS reviewed_prs,
    reviewed.review_latency_median_seconds, reviewed.review_latency_p90_seconds,
    coalesce(sc.week_ends, 0) AS week_ends,
    CASE WHEN sc.week_ends > 0 THEN coalesce(wip.wip_mean, 0) END AS wip_mean,
    coalesce(open_age.open_prs, 0) AS open_prs,
    open_age.open_age_median_seconds, open_age.open_age_p90_seconds,
    coalesce(open_age.open_lt_1d, 0) AS open_lt_1d, coalesce(open_age.open_1d_3d, 0) AS open_1d_3d,
    coalesce(open_age.open_3d_7d, 0) AS open_3d_7d, coalesce(open_age.open_7d_14d, 0) AS open_7d_14d,
    coalesce(open_age.open_ge_14d, 0) AS open_ge_14d,
    coalesce(tickets.tickets_done, 0) AS tickets_done,
    coalesce(tickets.tickets_blocked, 0) AS tickets_blocked,
    coalesce(tickets.blocked_seconds, 0) AS blocked_seconds,
    coalesce(tickets.active_seconds, 0) AS active_seconds,
    tickets.blocked_median_seconds
  FROM entities e CROSS JOIN periods p
  LEFT JOIN merged ON merged.entity = e.entity AND merged.period = p.period
  LEFT JOIN delivered ON delivered.entity = e.entity AND delivered.period = p.period
  LEFT JOIN reviewed ON reviewed.entity = e.entity AND reviewed.period = p.period
  LEFT JOIN snap_count sc ON sc.period = p.period
  LEFT JOIN wip ON wip.entity = e.entity AND wip.period = p.period
  LEFT JOIN open_age ON open_age.entity = e.entity AND open_age.period = p.period
  LEFT JOIN tickets ON tickets.entity = e.entity AND tickets.period = p.period
)
SELECT entity, period, period_start, {", ".join(COLUMNS)}, {metric_cols}
FROM agg ORDER BY entity, period_start
"""
    return sql, [q.since, q.until]
