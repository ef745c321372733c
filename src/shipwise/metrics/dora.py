"""DORA metrics v1, written once as set-based SQL over the canonical tables.

Definitions (the contract; docs/metrics/dora.*.md explain each):

- A team's deployments are the ``production`` deployments of the services it owns; a deployment
  belongs to the period of its ``finished_at`` (UTC).
- Normalised deployment: deployments grouped by (service, version) when a version is given
  (regional fan-out is one deployment), else by deployment id.
- deployment_frequency: normalised successful deployments per 7-day week of the period; its
  instant is the first successful finish of the group.
- change_lead_time: per commit, first successful production deployment listing it minus the
  commit's committed_at; median and p90 (linear interpolation) over commits whose first
  deployment falls in the period; negative spans excluded and counted.
- change_fail_rate: over normalised deployments that reached production (success or
  rolled_back; instant = first such finish), the share rolled back or named in an incident's
  caused_by. ``failure`` never reached production: counted as failed deployment attempts only.
- failed_deployment_recovery_time: per failed deployment, restored = latest resolved_at of the
  incidents it caused (unresolved if any is open), else the next successful production
  deployment of the same service; median of restored − failed finish; unresolved counted.
- rework_rate: share of the change-fail denominator with kind hotfix/rollback or a remediates.

The per-event derivations (normalising deployments, each commit's first production deployment,
recovery of each failure) are materialised once per ingest by :mod:`shipwise.metrics.facts`; the
queries here aggregate those facts per entity and period.

Only the portable subset of :mod:`shipwise.metrics.portable` is used (CTEs, window frames, exact
``percentile_cont ... WITHIN GROUP``, whole seconds between instants), so the same text runs on
DuckDB and, rendered by that module, on Spark (docs/spark.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from shipwise.metrics import registry
from shipwise.metrics.clusters import cluster_layers
from shipwise.metrics.portable import seconds_between

GRAINS = {"week": "week", "month": "month", "quarter": "quarter"}
ENTITIES = {"team": "team", "service": "service"}

#: Output columns of :func:`dora_sql`, after ``entity`` and ``period``.
COLUMNS = (
    "period_start",
    "weeks",
    "deployments",
    "deployment_days",
    "reached_production",
    "failed_deployments",
    "rework_deployments",
    "failed_attempts",
    "lead_time_commits",
    "lead_time_median_seconds",
    "lead_time_p90_seconds",
    "negative_lead_time_spans",
    "recovered_failures",
    "unresolved_failures",
    "negative_recovery_spans",
    "recovery_median_seconds",
)


@dataclass(frozen=True)
class DoraQuery:
    grain: str
    entity: str
    since: date
    until: date
    teams: tuple[str, ...] = ()
    services: tuple[str, ...] = ()


def _q(name: str) -> str:
    return '"' + name + '"'


def _diff_seconds(start: str, end: str) -> str:
    return seconds_between(start, end)


def dora_sql(q: DoraQuery) -> tuple[str, list[object]]:
    """The DORA query for one grain and entity kind; returns (sql, parameters)."""
    grain = GRAINS[q.grain]
    ent = ENTITIES[q.entity]
    entity_table = "team" if ent == "team" else "service"
    filters: list[str] = []
    params: list[object] = []
    if q.teams:
        col = "id" if ent == "team" else "team"
        filters.append(f"e.{col} IN ({', '.join('?' for _ in q.teams)})")
        params.extend(q.teams)
    if q.services:
        if ent == "team":
            filters.append(
                f"e.id IN (SELECT team FROM service WHERE id IN ({', '.join('?' for _ in q.services)}))"
            )
        else:
            filters.append(f"e.id IN ({', '.join('?' for _ in q.services)})")
        params.extend(q.services)
    where = ("WHERE " + " AND ".join(filters)) if filters else ""
    rec = _diff_seconds("reached_at", "restored_at")
    metrics = registry.family("dora")
    metric_cols = ", ".join(f"{m.sql} AS {_q(m.id)}" for m in metrics)
    change_cols = ", ".join(
        f"{_q(m.id)} - lag({_q(m.id)}) OVER (PARTITION BY entity ORDER BY period_start) "
        f"AS {_q('change:' + m.id)}"
        for m in metrics
    )
    metric_names = ", ".join(_q(m.id) for m in metrics)
    xs, ds, pick = cluster_layers({m.id: _q(m.id) for m in metrics})
    sql = f"""
WITH
cal AS (
  SELECT day, {grain} AS period FROM calendar WHERE day BETWEEN ? AND ?
),
periods AS (
  SELECT period, min(day) AS period_start, CAST(count(*) AS DOUBLE) / 7 AS weeks FROM cal GROUP BY period
),
entities AS (SELECT e.id AS entity FROM {entity_table} e {where}),
df AS (
  SELECT n.{ent} AS entity, cal.period, count(*) AS deployments,
         count(DISTINCT CAST(n.first_success_at AS DATE)) AS deployment_days
  FROM dora_deploy_fact n JOIN cal ON cal.day = CAST(n.first_success_at AS DATE)
  GROUP BY n.{ent}, cal.period
),
cfr AS (
  SELECT n.{ent} AS entity, cal.period, count(*) AS reached_production,
         sum(n.failed) AS failed_deployments, sum(n.rework) AS rework_deployments
  FROM dora_deploy_fact n JOIN cal ON cal.day = CAST(n.reached_at AS DATE)
  GROUP BY n.{ent}, cal.period
),
att AS (
  SELECT a.{ent} AS entity, cal.period, count(*) AS failed_attempts
  FROM dora_attempt_fact a JOIN cal ON cal.day = CAST(a.at AS DATE)
  GROUP BY a.{ent}, cal.period
),
lt AS (
  SELECT l.{ent} AS entity, cal.period,
         sum(CASE WHEN l.lead_seconds >= 0 THEN 1 ELSE 0 END) AS lead_time_commits,
         percentile_cont(0.5) WITHIN GROUP (
           ORDER BY CASE WHEN l.lead_seconds >= 0 THEN l.lead_seconds END) AS lead_time_median_seconds,
         percentile_cont(0.9) WITHIN GROUP (
           ORDER BY CASE WHEN l.lead_seconds >= 0 THEN l.lead_seconds END) AS lead_time_p90_seconds,
         sum(CASE WHEN l.lead_seconds < 0 THEN 1 ELSE 0 END) AS negative_lead_time_spans
  FROM dora_change_fact l JOIN cal ON cal.day = CAST(l.deployed_at AS DATE)
  GROUP BY l.{ent}, cal.period
),
rt AS (
  SELECT r.{ent} AS entity, cal.period,
         sum(CASE WHEN r.restored_at IS NOT NULL AND {rec} >= 0 THEN 1 ELSE 0 END) AS recovered_failures,
         sum(CASE WHEN r.restored_at IS NULL THEN 1 ELSE 0 END) AS unresolved_failures,
         sum(CASE WHEN {rec} < 0 THEN 1 ELSE 0 END) AS negative_recovery_spans,
         percentile_cont(0.5) WITHIN GROUP (
           ORDER BY CASE WHEN {rec} >= 0 THEN {rec} END) AS recovery_median_seconds
  FROM dora_recovery_fact r JOIN cal ON cal.day = CAST(r.reached_at AS DATE)
  GROUP BY r.{ent}, cal.period
),
agg AS (
SELECT e.entity, p.period, p.period_start, p.weeks,
         coalesce(df.deployments, 0) AS deployments,
         coalesce(df.deployment_days, 0) AS deployment_days,
         coalesce(cfr.reached_production, 0) AS reached_production,
         CAST(coalesce(cfr.failed_deployments, 0) AS BIGINT) AS failed_deployments,
         CAST(coalesce(cfr.rework_deployments, 0) AS BIGINT) AS rework_deployments,
         coalesce(att.failed_attempts, 0) AS failed_attempts,
         CAST(coalesce(lt.lead_time_commits, 0) AS BIGINT) AS lead_time_commits,
         lt.lead_time_median_seconds, lt.lead_time_p90_seconds,
         CAST(coalesce(lt.negative_lead_time_spans, 0) AS BIGINT) AS negative_lead_time_spans,
         CAST(coalesce(rt.recovered_failures, 0) AS BIGINT) AS recovered_failures,
         CAST(coalesce(rt.unresolved_failures, 0) AS BIGINT) AS unresolved_failures,
         CAST(coalesce(rt.negative_recovery_spans, 0) AS BIGINT) AS negative_recovery_spans,
         rt.recovery_median_seconds
  FROM entities e CROSS JOIN periods p
  LEFT JOIN df ON df.entity = e.entity AND df.period = p.period
  LEFT JOIN cfr ON cfr.entity = e.entity AND cfr.period = p.period
  LEFT JOIN att ON att.entity = e.entity AND att.period = p.period
  LEFT JOIN lt ON lt.entity = e.entity AND lt.period = p.period
  LEFT JOIN rt ON rt.entity = e.entity AND rt.period = p.period
),
measured AS (SELECT agg.*, {metric_cols} FROM agg),
logs AS (SELECT measured.*, {", ".join(xs)} FROM measured),
distances AS (SELECT logs.*, {", ".join(ds)} FROM logs)
SELECT entity, period, period_start, {", ".join(COLUMNS[1:])}, {metric_names},
       {change_cols}, {pick} AS cluster
FROM distances ORDER BY entity, period_start
"""
    return sql, [q.since, q.until, *params]


def data_span_sql() -> str:
    """First and last UTC day with a production deployment (default --since/--until)."""
    return (
        "SELECT CAST(min(finished_at) AS DATE), CAST(max(finished_at) AS DATE) "
        "FROM deployment WHERE lower(environment) = 'production'"
    )
