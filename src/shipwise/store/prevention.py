"""The prevention tables: recurring patterns found over stored investigations and imported
incidents (one set-based query), the recommendations kept under a stable key, and the scans.

Every pattern comes from one query over three kinds of occurrence:

- **investigations** (``investigation``): the root cause's fault kind, on the service it names
  (else the alarm's), weighted by the responders' verdict (``investigation_verdict``: right 1,
  unmarked 0.75, partly 0.5, wrong 0 — a root cause marked wrong backs no cause pattern);
- **imported incidents** (``incident``) that no investigation covers (same service, the
  investigation's alarm between an hour before the incident opened and its resolution): a
  deployment-caused one (``caused_by`` or ``incident_link``) counts as ``bad_deploy``;
- **alarms** (``alarm_intake``) for flapping alarms, and their absence for incidents no alarm
  announced.

Cost of one occurrence: weight × customer impact × hours. Impact is the customers affected an
investigation saw in spans, else the peak failing share of requests in percent, else the
incident's severity (sev1 100, sev2 30, sev3 10, other 3); never below 1.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TypedDict, cast

from shipwise.store.duckdb_store import Store

#: weight of an investigation's root cause by its verdict (NULL: not marked yet)
VERDICT_WEIGHT = {"right": 1.0, "partly": 0.5, "wrong": 0.0, None: 0.75}
#: impact of an imported incident by severity (customers-equivalent)
SEVERITY_IMPACT = {"sev1": 100.0, "sev2": 30.0, "sev3": 10.0}
#: record gap sources that say a kind of evidence was missing
GAP_SOURCES = ("metrics", "logs", "topology", "changes")
#: faults each cause rule collects
CAUSE_RULES: dict[str, tuple[str, ...]] = {
    "permission": ("permission_revoked",),
    "config": ("config_change",),
    "manual": ("manual_host_session",),
    "churn": ("instance_churn",),
    "capacity": ("traffic_surge", "queue_backlog", "cpu_hog", "memory_hog"),
    "network": ("network_delay",),
    "memory": ("memory_leak",),
    "dependency": ("slow_dependency", "dependency_errors"),
    "deploy": ("bad_deploy",),
}

_GAPS_TYPE = '[{"source":"VARCHAR","what":"VARCHAR","how":"VARCHAR"}]'


class Pattern(TypedDict):
    rule: str
    subject: str
    service: str | None
    team: str | None
    detail: str | None
    occurrences: int
    cost: float
    first_at: datetime | None
    last_at: datetime | None
    incidents: list[dict[str, Any]]
    extra: str | None


def _cause_values() -> str:
    return ", ".join(f"('{rule}', '{fault}')" for rule, faults in CAUSE_RULES.items()
                     for fault in faults)


def _verdict_case() -> str:
    return ("CASE v.verdict WHEN 'right' THEN 1.0 WHEN 'partly' THEN 0.5 WHEN 'wrong' THEN 0.0 "
            f"ELSE {VERDICT_WEIGHT[None]} END")


def _severity_case() -> str:
    whens = " ".join(f"WHEN '{s}' THEN {w}" for s, w in SEVERITY_IMPACT.items())
    return f"CASE lower(n.severity) {whens} ELSE 3.0 END"


_PATTERNS = f"""
WITH
cause_rule(rule, fault) AS (VALUES {_cause_values()}),
inv AS (
  SELECT i.id, i.entity AS alarm_entity,
         CASE WHEN rs.id IS NOT NULL THEN rs.id ELSE i.entity END AS service,
         i.root_cause_kind AS fault, i.status, i.alarm_at::TIMESTAMP AS occurred_at, v.verdict,
         {_verdict_case()} AS weight,
         greatest(coalesce(
           TRY_CAST(i.record->>'$.impact.traces.customers_affected' AS DOUBLE),
           100 * list_max(TRY_CAST(json_extract(i.record, '$.impact.services[*].error_rate_during')
                                   AS DOUBLE[])),
           1.0), 1.0) AS impact,
         greatest(coalesce(TRY_CAST(i.record->>'$.impact.window.minutes' AS DOUBLE), 30.0), 1.0)
           AS minutes,
         i.record->>'$.root_cause.event.details.permission' AS permission,
         i.record
  FROM investigation i
  LEFT JOIN investigation_verdict v ON v.investigation_id = i.id
  LEFT JOIN service rs ON rs.id = i.root_cause_entity
  WHERE (?::TIMESTAMP IS NULL OR i.alarm_at::TIMESTAMP >= ?::TIMESTAMP)),
inc AS (
  SELECT n.id, n.service, n.opened_at AS occurred_at,
         CASE WHEN n.caused_by IS NOT NULL OR EXISTS (
           SELECT 1 FROM incident_link l WHERE l.incident_id = n.id) THEN 'bad_deploy' END AS fault,
         {_severity_case()} AS impact,
         greatest(coalesce(date_diff('second', n.opened_at, n.resolved_at) / 60.0, 60.0), 1.0)
           AS minutes
  FROM incident n
  WHERE (?::TIMESTAMP IS NULL OR n.opened_at >= ?::TIMESTAMP)
    AND NOT EXISTS (
      SELECT 1 FROM investigation i WHERE i.entity = n.service
        AND i.alarm_at::TIMESTAMP BETWEEN n.opened_at - INTERVAL 1 HOUR
                                      AND coalesce(n.resolved_at, n.opened_at + INTERVAL 6 HOUR))),
occ AS (  -- one row per (rule, subject, occurrence)
  SELECT r.rule,
         inv.service || CASE WHEN r.rule = 'permission' AND inv.permission IS NOT NULL
                             THEN ':' || inv.permission ELSE '' END AS subject,
         inv.service, CASE WHEN r.rule = 'permission' THEN inv.permission END AS detail,
         inv.id, 'investigation' AS source, inv.occurred_at, inv.impact, inv.minutes, inv.weight,
         inv.verdict
  FROM inv JOIN cause_rule r ON r.fault = inv.fault
  WHERE inv.status = 'root_cause_found' AND inv.weight > 0
  UNION ALL
  SELECT 'deploy', inc.service, inc.service, NULL, inc.id, 'incident', inc.occurred_at, inc.impact,
         inc.minutes, 1.0, NULL
  FROM inc WHERE inc.fault = 'bad_deploy'
  UNION ALL  -- evidence an investigation could not see, by the kind missing
  SELECT 'gap', inv.alarm_entity || ':' || g.source, inv.alarm_entity, g.source, inv.id,
         'investigation', inv.occurred_at, inv.impact, inv.minutes, 1.0, inv.verdict
  FROM inv, unnest(from_json(inv.record->'$.gaps', '{_GAPS_TYPE}')) u(g)
  WHERE g.source IN ({", ".join(f"'{s}'" for s in GAP_SOURCES)})
  UNION ALL  -- incidents of services with no SLO
  SELECT 'no_slo', x.service, x.service, NULL, x.id, x.source, x.occurred_at, x.impact, x.minutes, 1.0,
         x.verdict
  FROM (SELECT alarm_entity AS service, id, 'investigation' AS source, occurred_at, impact, minutes, verdict
        FROM inv
        UNION ALL
        SELECT service, id, 'incident', occurred_at, impact, minutes, NULL FROM inc) x
  WHERE x.service IN (SELECT id FROM service)
    AND x.service NOT IN (SELECT service FROM slo)
  UNION ALL  -- imported incidents no alarm announced (only once alarms reach shipwise at all)
  SELECT 'silent', inc.service, inc.service, NULL, inc.id, 'incident', inc.occurred_at, inc.impact,
         inc.minutes, 1.0, NULL
  FROM inc
  WHERE EXISTS (SELECT 1 FROM alarm_intake)
    AND NOT EXISTS (
      SELECT 1 FROM alarm_intake a
      WHERE a.alarm->>'entity' = inc.service AND a.status NOT IN ('rejected', 'subscription')
        AND a.received_at::TIMESTAMP BETWEEN inc.occurred_at - INTERVAL 1 HOUR
                                        AND inc.occurred_at + INTERVAL 30 MINUTE)),
grouped AS (
  SELECT rule, subject, any_value(service) AS service, any_value(detail) AS detail,
         count(DISTINCT id)::INTEGER AS occurrences,
         sum(weight * impact * minutes / 60.0) AS cost,
         min(occurred_at) AS first_at, max(occurred_at) AS last_at,
         list(struct_pack(id := id, source := source, at := strftime(occurred_at, '%Y-%m-%dT%H:%M:%SZ'),
                          impact := round(impact, 2), minutes := round(minutes, 1),
                          weight := weight, verdict := verdict) ORDER BY occurred_at, id) AS incidents,
         NULL::VARCHAR AS extra
  FROM occ GROUP BY rule, subject
  HAVING count(DISTINCT id) >= ?),
fires AS (  -- alarm firings per (entity, metric); flapping: many within a day
  SELECT a.alarm->>'entity' AS entity, coalesce(a.alarm->>'metric', '') AS metric, a.id,
         a.received_at::TIMESTAMP AS occurred_at,
         count(*) OVER (PARTITION BY a.alarm->>'entity', coalesce(a.alarm->>'metric', '')
                        ORDER BY a.received_at::TIMESTAMP
                        RANGE BETWEEN INTERVAL 1 DAY PRECEDING AND CURRENT ROW) AS in_day
  FROM alarm_intake a
  WHERE a.status NOT IN ('rejected', 'subscription', 'resolved') AND a.alarm->>'entity' IS NOT NULL
    AND (?::TIMESTAMP IS NULL OR a.received_at::TIMESTAMP >= ?::TIMESTAMP)),
flapping AS (
  SELECT 'flapping' AS rule, entity || ':' || metric AS subject, any_value(entity) AS service,
         any_value(metric) AS detail, count(*)::INTEGER AS occurrences,
         count(*) * 1.0 AS cost, min(occurred_at) AS first_at, max(occurred_at) AS last_at,
         list(struct_pack(id := id, source := 'alarm', at := strftime(occurred_at, '%Y-%m-%dT%H:%M:%SZ'),
                          impact := 1.0, minutes := 0.0, weight := 1.0,
                          verdict := NULL::VARCHAR) ORDER BY occurred_at, id) AS incidents,
         max(in_day)::VARCHAR AS extra
  FROM fires GROUP BY entity, metric HAVING max(in_day) >= ?),
preprod AS (  -- deploy patterns on services never deployed anywhere but production
  SELECT 'preprod' AS rule, g.subject, g.service, g.detail, g.occurrences, g.cost, g.first_at,
         g.last_at, g.incidents, NULL::VARCHAR AS extra
  FROM grouped g
  WHERE g.rule = 'deploy' AND g.service IN (SELECT id FROM service)
    AND EXISTS (SELECT 1 FROM deployment d WHERE d.service = g.service)
    AND NOT EXISTS (SELECT 1 FROM deployment d WHERE d.service = g.service
                      AND NOT regexp_matches(lower(d.environment), ?))),
found AS (SELECT * FROM grouped UNION ALL SELECT * FROM flapping UNION ALL SELECT * FROM preprod)
SELECT f.rule, f.subject, f.service, s.team, f.detail, f.occurrences, f.cost, f.first_at,
       f.last_at, to_json(f.incidents) AS incidents, f.extra
FROM found f LEFT JOIN service s ON s.id = f.service
ORDER BY f.cost DESC, f.rule, f.subject
"""


def find_patterns(store: Store, *, min_occurrences: int = 2, flap_per_day: int = 4,
                  since: datetime | None = None,
                  production: str = r"^(prod|production)([-_ /.].*)?$") -> list[Pattern]:
    """Every recurring pattern: one row per (rule, subject) seen at least ``min_occurrences``
    times (an alarm firing ``flap_per_day`` times within a day for ``flapping``), costliest
    first."""
    s = since.replace(tzinfo=None) if since is not None else None
    rows = store.con.execute(_PATTERNS, [s, s, s, s, min_occurrences, s, s, flap_per_day,
                                         production]).fetchall()
    out: list[Pattern] = []
    for (rule, subject, service, team, detail, occurrences, cost, first_at, last_at, incidents,
         extra) in rows:
        out.append(Pattern(rule=rule, subject=subject, service=service, team=team, detail=detail,
                           occurrences=int(occurrences), cost=float(cost or 0.0),
                           first_at=first_at, last_at=last_at,
                           incidents=json.loads(incidents) if isinstance(incidents, str)
                           else list(incidents), extra=extra))
    return out


def counts(store: Store) -> tuple[int, int]:
    """(stored investigations, imported incidents)."""
    row = store.con.execute("SELECT (SELECT count(*) FROM investigation), "
                            "(SELECT count(*) FROM incident)").fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


# -- recommendations -----------------------------------------------------------------------------

class Recommendation(TypedDict):
    key: str
    category: str
    rule: str
    subject: str
    service: str | None
    team: str | None
    title: str
    rationale: str
    change: str
    incidents: list[dict[str, Any]]
    occurrences: int
    cost: float
    priority: str
    first_at: datetime | None
    last_at: datetime | None
    status: str
    reason: str | None
    status_at: datetime | None
    active: bool
    first_seen_at: datetime
    last_seen_at: datetime
    last_scan_id: str | None


_COLUMNS = tuple(Recommendation.__annotations__)
#: the SQL type of a written column, when not VARCHAR
_TYPES = {"incidents": "JSON", "occurrences": "INTEGER", "cost": "DOUBLE",
          "first_at": "TIMESTAMPTZ", "last_at": "TIMESTAMPTZ"}
_WRITTEN = ("key", "category", "rule", "subject", "service", "team", "title", "rationale",
            "change", "incidents", "occurrences", "cost", "priority", "first_at", "last_at")


def upsert(store: Store, rows: list[dict[str, Any]], *, scan_id: str,
           now: datetime) -> tuple[int, int]:
    """Write what a scan found: a new key is a new open recommendation; a known one gets the
    scan's evidence and keeps its status — except one marked done whose pattern came back after
    it was done, which opens again. Keys this scan did not find stay, inactive. Returns (new,
    reopened)."""
    with store.transaction() as con:
        before = {k: (s, at) for k, s, at in con.execute(
            "SELECT key, status, status_at FROM prevention_recommendation").fetchall()}
        if rows:  # one statement: every row staged as column lists, inserted or updated
            cols = (*_WRITTEN, "status", "active", "first_seen_at", "last_seen_at",
                    "last_scan_id")
            updated = [c for c in _WRITTEN if c != "key"]
            sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in updated)
            staged = ", ".join(f"unnest(?::{_TYPES.get(c, 'VARCHAR')}[]) AS {c}" for c in _WRITTEN)
            con.execute(
                f"INSERT INTO prevention_recommendation ({', '.join(cols)}) "
                f"SELECT {', '.join(_WRITTEN)}, 'open', TRUE, ?::TIMESTAMPTZ, ?::TIMESTAMPTZ, ? "
                f"FROM (SELECT {staged}) ON CONFLICT (key) DO UPDATE SET {sets}, "
                "active = TRUE, last_seen_at = EXCLUDED.last_seen_at, "
                "last_scan_id = EXCLUDED.last_scan_id, "
                "status = CASE WHEN status = 'done' AND EXCLUDED.last_at > status_at "
                "THEN 'open' ELSE status END, "
                "reason = CASE WHEN status = 'done' AND EXCLUDED.last_at > status_at "
                "THEN 'recurred after it was marked done' ELSE reason END, "
                "status_at = CASE WHEN status = 'done' AND EXCLUDED.last_at > status_at "
                "THEN EXCLUDED.last_seen_at ELSE status_at END",
                [now, now, scan_id,  # the SELECT's own parameters come first, then the lists
                 *([json.dumps(r[c], default=str) if c == "incidents" else r[c] for r in rows]
                   for c in _WRITTEN)])
        con.execute("UPDATE prevention_recommendation SET active = FALSE "
                    "WHERE last_scan_id IS DISTINCT FROM ? AND active", [scan_id])
    new = sum(1 for r in rows if r["key"] not in before)
    reopened = sum(1 for r in rows if r["key"] in before and before[r["key"]][0] == "done"
                   and r["last_at"] is not None and before[r["key"]][1] is not None
                   and r["last_at"].replace(tzinfo=None)
                   > before[r["key"]][1].replace(tzinfo=None))
    return new, reopened


def _row(values: tuple[Any, ...]) -> Recommendation:
    rec = dict(zip(_COLUMNS, values, strict=True))
    inc = rec["incidents"]
    rec["incidents"] = json.loads(inc) if isinstance(inc, str) else list(inc or [])
    return cast(Recommendation, rec)


def listing(store: Store, *, team: str | None = None, status: str | None = None,
            category: str | None = None, active_only: bool = True) -> list[Recommendation]:
    """Recommendations, costliest first; ``team`` narrows to that team's services."""
    where, params = ["TRUE"], []
    if team is not None:
        where.append("team = ?")
        params.append(team)
    if status is not None:
        where.append("status = ?")
        params.append(status)
    if category is not None:
        where.append("category = ?")
        params.append(category)
    if active_only:
        where.append("active")
    rows = store.con.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM prevention_recommendation WHERE {' AND '.join(where)} "
        "ORDER BY CASE priority WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END, cost DESC, key",
        params).fetchall()
    return [_row(r) for r in rows]


def get(store: Store, key: str) -> Recommendation | None:
    row = store.con.execute(f"SELECT {', '.join(_COLUMNS)} FROM prevention_recommendation "
                            "WHERE key = ?", [key]).fetchone()
    return None if row is None else _row(row)


def team_of(store: Store, key: str) -> tuple[bool, str | None]:
    """(whether recommendation ``key`` exists, its team)."""
    row = store.con.execute("SELECT team FROM prevention_recommendation WHERE key = ?",
                            [key]).fetchone()
    return (False, None) if row is None else (True, row[0])


def set_status(store: Store, key: str, status: str, reason: str | None, at: datetime) -> None:
    with store.transaction() as con:
        con.execute("UPDATE prevention_recommendation SET status = ?, reason = ?, status_at = ? "
                    "WHERE key = ?", [status, reason, at, key])


# -- scans ---------------------------------------------------------------------------------------

def record_scan(store: Store, row: dict[str, Any]) -> None:
    cols = ("id", "started_at", "finished_at", "trigger", "investigations", "incidents", "found",
            "new", "reopened", "seconds")
    with store.transaction() as con:
        con.execute(f"INSERT INTO prevention_scan ({', '.join(cols)}) "
                    f"VALUES ({', '.join('?' * len(cols))})", [row[c] for c in cols])


def last_scan(store: Store) -> dict[str, Any] | None:
    rows = store.query("SELECT id, started_at, finished_at, trigger, investigations, incidents, "
                       "found, new, reopened, seconds FROM prevention_scan "
                       "ORDER BY started_at DESC, id DESC LIMIT 1")
    return rows[0] if rows else None
