"""Derived facts: per-event derivations materialised once per ingest, aggregated by metrics.

Normalising deployments, finding each commit's first successful production deployment and each
failure's recovery are the expensive, event-level steps of DORA. They are rebuilt here — set-based,
in one transaction — whenever an ingest changed their inputs (the store's ``derived_stale`` flag),
so metric queries only aggregate small fact tables. Portable SQL, like the metric queries.
"""

from __future__ import annotations

import time
import uuid

from shipwise.metrics import incremental as incr
from shipwise.metrics import links
from shipwise.store.duckdb_store import REFRESH_LOCK, Store
from shipwise.store.import_state import check_finished, unfinished

STALE_KEY = "derived_stale"
VERSION_KEY = "facts_version"

_SVC = """
-- (service, team, first day, last day), covering all time: the owners over time of the
-- organisation file and, around and between them, service.team (a tiny table: the production
-- deployments below range-join it on the day they finished)
svc AS (
  SELECT service, team, coalesce(since, DATE '0001-01-01') AS since,
         coalesce("until", DATE '9999-12-31') AS "until" FROM service_owner
  UNION ALL  -- before each period, after the one before it
  SELECT o.service, s.team, coalesce(o.prev_until + 1, DATE '0001-01-01'), o.since - 1
  FROM (SELECT service, since, lag("until") OVER (PARTITION BY service ORDER BY since NULLS FIRST)
               AS prev_until FROM service_owner) o
  JOIN service s ON s.id = o.service
  WHERE o.since IS NOT NULL AND (o.prev_until IS NULL OR o.prev_until + 1 < o.since)
  UNION ALL  -- after the last period
  SELECT o.service, s.team, o."until" + 1, DATE '9999-12-31'
  FROM (SELECT service, max_by("until", coalesce(since, DATE '0001-01-01')) AS "until"
        FROM service_owner GROUP BY service) o
  JOIN service s ON s.id = o.service WHERE o."until" IS NOT NULL AND o."until" < DATE '9999-12-31'
  UNION ALL  -- one owner throughout
  SELECT id, team, DATE '0001-01-01', DATE '9999-12-31' FROM service
  WHERE id NOT IN (SELECT service FROM service_owner)
)"""

_PROD = _SVC + """,
prod AS (
  SELECT d.id, d.service, s.team, d.status, d.finished_at, d.kind, d.remediates,
         CASE WHEN d.version IS NOT NULL THEN d.service || '@' || d.version
              ELSE '#' || d.id END AS nkey
  FROM deployment d JOIN svc s ON s.service = d.service
   AND CAST(d.finished_at AS DATE) BETWEEN s.since AND s."until"
  WHERE lower(d.environment) = 'production'
)"""

#: CTEs ending in ``next_success``: for every normalised deployment of a service, the next
#: successful one (used to restore failures that caused no incident).
RECOVERY_CTES = f"""{_PROD},
failed AS (
  SELECT nkey, service, team, reached_at FROM dora_deploy_fact
  WHERE failed = 1 AND reached_at IS NOT NULL
),
incident_restore AS (
  SELECT l.nkey,
         sum(CASE WHEN i.resolved_at IS NULL THEN 1 ELSE 0 END) AS still_open,
         max(i.resolved_at) AS resolved_at
  FROM incident i JOIN incident_link l ON l.incident_id = i.id
  GROUP BY l.nkey
),
success_events AS (
  SELECT service, first_success_at AS t, 1 AS is_success, nkey
  FROM dora_deploy_fact WHERE first_success_at IS NOT NULL
  UNION ALL
  SELECT service, reached_at AS t, 0 AS is_success, nkey FROM failed
),
following AS (
  SELECT nkey, is_success,
         first_value(CASE WHEN is_success = 1 THEN t END IGNORE NULLS) OVER w AS first_t,
         first_value(CASE WHEN is_success = 1 THEN nkey END IGNORE NULLS) OVER w AS first_key,
         nth_value(CASE WHEN is_success = 1 THEN t END, 2 IGNORE NULLS) OVER w AS second_t
  FROM success_events
  WINDOW w AS (PARTITION BY service ORDER BY t, is_success
               ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)
),
-- A failed version never restores itself (e.g. it succeeded in one region, was rolled back in
-- another): its own success event is skipped, so the next one of another version is taken.
next_success AS (
  SELECT nkey, is_success,
         CASE WHEN first_key = nkey THEN second_t ELSE first_t END AS next_t
  FROM following
)"""

#: The one production deployment each incident is linked to, and on what basis (see
#: :mod:`shipwise.metrics.links`): explicit ``caused_by`` > a deployment label > a version label >
#: the latest deployment of its service within the team's window. Per basis, a deployment that
#: finished before the incident opened is preferred (the latest), else the first after.
INCIDENT_LINK = f"""WITH {_SVC},
inc AS (
  SELECT i.id, i.service, i.opened_at, i.caused_by, o.team
  FROM incident i LEFT JOIN svc o ON o.service = i.service
   AND CAST(i.opened_at AS DATE) BETWEEN o.since AND o."until"
),
-- production deployments of known services (the rows of _PROD, without their owner: the link
-- is the incident's team's, and the DORA facts take the deployment's owner themselves)
dep AS (
  SELECT id, service, version, status, finished_at,
         CASE WHEN version IS NOT NULL THEN service || '@' || version ELSE '#' || id END AS nkey
  FROM deployment
  WHERE lower(environment) = 'production' AND service IN (SELECT id FROM service)
),
reached AS (SELECT * FROM dep WHERE status IN ('success', 'rolled_back')),
lab AS (
  SELECT c.id, c.service, c.opened_at, l.label,
         CASE WHEN length(l.label) > length(p.deploy_prefix)
               AND substr(l.label, 1, length(p.deploy_prefix)) = p.deploy_prefix
              THEN substr(l.label, length(p.deploy_prefix) + 1) END AS deployment_id,
         CASE WHEN length(l.label) > length(p.version_prefix)
               AND substr(l.label, 1, length(p.version_prefix)) = p.version_prefix
              THEN substr(l.label, length(p.version_prefix) + 1) END AS version
  FROM inc c JOIN incident_label l ON l.incident_id = c.id
  JOIN incident_link_policy p ON p.team = c.team
),
candidate AS (
  SELECT c.id AS incident_id, d.id AS deployment_id, d.nkey, d.service, c.team, d.finished_at,
         c.opened_at, 1 AS prio, 'explicit' AS basis, CAST(NULL AS STRING) AS label,
         CAST(NULL AS DOUBLE) AS window_hours
  FROM inc c JOIN dep d ON d.id = c.caused_by
  UNION ALL
  SELECT l.id, d.id, d.nkey, d.service, NULL, d.finished_at, l.opened_at, 2, 'label', l.label,
         NULL
  FROM lab l JOIN reached d ON d.id = l.deployment_id
  UNION ALL
  SELECT l.id, d.id, d.nkey, d.service, NULL, d.finished_at, l.opened_at, 3, 'label', l.label,
         NULL
  FROM lab l JOIN reached d ON d.service = l.service AND d.version = l.version
  UNION ALL
  SELECT c.id, d.id, d.nkey, d.service, NULL, d.finished_at, c.opened_at, 4, 'window', NULL,
         p.window_hours
  FROM inc c JOIN incident_link_policy p ON p.team = c.team
  JOIN reached d ON d.service = c.service AND d.finished_at <= c.opened_at
  WHERE p.window_hours IS NOT NULL
    AND date_diff('second', d.finished_at, c.opened_at) <= p.window_hours * 3600
),
ranked AS (
  SELECT x.*, row_number() OVER (
    PARTITION BY incident_id
    ORDER BY prio, CASE WHEN finished_at <= opened_at THEN 0 ELSE 1 END,
             CASE WHEN finished_at <= opened_at THEN finished_at END DESC, finished_at,
             deployment_id) AS rn
  FROM candidate x
)
SELECT r.incident_id, r.deployment_id, r.nkey, r.service, c.team, r.basis, r.label,
       r.window_hours, date_diff('second', r.finished_at, r.opened_at) AS seconds_before
FROM ranked r JOIN inc c ON c.id = r.incident_id WHERE r.rn = 1"""

#: (table, SELECT producing its rows), built in this order.
FACTS: tuple[tuple[str, str], ...] = (
    ("incident_link", INCIDENT_LINK),
    (
        "dora_deploy_fact",
        f"""WITH {_PROD},
caused AS (SELECT DISTINCT deployment_id AS id FROM incident_link)
SELECT p.nkey, min(p.service) AS service, min(p.team) AS team,
  min(CASE WHEN p.status = 'success' THEN p.finished_at END) AS first_success_at,
  min(CASE WHEN p.status IN ('success', 'rolled_back') THEN p.finished_at END) AS reached_at,
  max(CASE WHEN p.status IN ('success', 'rolled_back')
            AND (p.status = 'rolled_back' OR c.id IS NOT NULL) THEN 1 ELSE 0 END) AS failed,
  max(CASE WHEN p.status IN ('success', 'rolled_back')
            AND (p.kind IN ('hotfix', 'rollback') OR p.remediates IS NOT NULL)
           THEN 1 ELSE 0 END) AS rework
FROM prod p LEFT JOIN caused c ON c.id = p.id
GROUP BY p.nkey""",
    ),
    (
        "dora_attempt_fact",
        f"""WITH {_PROD}
SELECT nkey, min(service) AS service, min(team) AS team, min(finished_at) AS "at"
FROM prod WHERE status = 'failure' GROUP BY nkey""",
    ),
    ("dora_recovery_fact", f"WITH {RECOVERY_CTES}\n" + """SELECT f.nkey, f.service, f.team, f.reached_at,
       CASE WHEN r.nkey IS NOT NULL
            THEN CASE WHEN r.still_open > 0 THEN NULL ELSE r.resolved_at END
            ELSE ns.next_t END AS restored_at
FROM failed f
LEFT JOIN incident_restore r ON r.nkey = f.nkey
LEFT JOIN next_success ns ON ns.nkey = f.nkey AND ns.is_success = 0"""),
    (
        "dora_change_fact",
        f"""WITH {_PROD},
-- (service, team) pairs numbered, so the per-commit aggregate carries one integer, not two
-- strings (a quarter of the refresh at 10 M events), and takes both from the same deployment
owner AS (
  SELECT service, team, row_number() OVER (ORDER BY service, team) AS k
  FROM (SELECT DISTINCT service, team FROM prod WHERE status = 'success') x
),
first_deploy AS (
  SELECT dc.sha_key, min(p.finished_at) AS deployed_at, min_by(o.k, p.finished_at) AS k
  FROM deployment_commit dc JOIN prod p ON p.id = dc.deployment_id
  JOIN owner o ON o.service = p.service AND o.team = p.team
  WHERE p.status = 'success'
  GROUP BY dc.sha_key
)
SELECT f.sha_key, o.service, o.team, f.deployed_at,
       date_diff('second', c.committed_at, f.deployed_at) AS lead_seconds
FROM first_deploy f JOIN "commit" c ON c.sha_key = f.sha_key JOIN owner o ON o.k = f.k""",
    ),
    (
        "pr_delivery_fact",
        """SELECT prc.pull_request_id, max_by(cf.team, cf.deployed_at) AS team,
       max(cf.deployed_at) AS delivered_at
FROM pull_request pr
JOIN pull_request_commit prc ON prc.pull_request_id = pr.id
LEFT JOIN dora_change_fact cf ON cf.sha_key = prc.sha_key
WHERE pr.merged_at IS NOT NULL
GROUP BY prc.pull_request_id
HAVING count(*) = count(cf.sha_key)""",
    ),
)


#: Facts kept past the retention horizon (``shipwise retention apply``): rows whose instant lies
#: before the horizon are frozen as they were when retention ran (their person removed), so the
#: aggregates survive the purge of their person-level inputs. (table, instant column, SELECT)
RETAINED_FACTS: tuple[tuple[str, str, str], ...] = (
    (
        "flow_pr_fact",
        "created_at",
        """WITH repo_team AS (
  -- a service's repository defaults to its id
  SELECT coalesce(repo, id) AS repo, mode(team) AS team FROM service GROUP BY coalesce(repo, id)
),
member AS (
  SELECT pr.id, max_by(p.team, p.since) AS author_team
  FROM pull_request pr JOIN person p
    ON p.id = pr.author AND NOT p.bot AND CAST(pr.created_at AS DATE) >= p.since
   AND (p."until" IS NULL OR CAST(pr.created_at AS DATE) <= p."until")
  GROUP BY pr.id
)
SELECT pr.id AS pull_request_id, rt.team, m.author_team, pr.author, pr.created_at,
       pr.first_commit_at, pr.first_review_at, pr.merged_at, pr.closed_at, d.delivered_at
FROM pull_request pr
LEFT JOIN repo_team rt ON rt.repo = pr.repo
LEFT JOIN member m ON m.id = pr.id
LEFT JOIN pr_delivery_fact d ON d.pull_request_id = pr.id
WHERE NOT pr.author_is_bot""",
    ),
    (
        "strain_page_fact",
        "at",
        """SELECT pg.id AS page_id, pg.team, pg.person, pg."at", pg.urgency,
       CASE WHEN tz.name IS NOT NULL THEN tz.name END AS timezone
FROM page pg JOIN team t ON t.id = pg.team
LEFT JOIN (SELECT DISTINCT name FROM pg_timezone_names()) tz
  ON tz.name = json_extract_string(t.attributes, '$.timezone')
WHERE NOT pg.person_is_bot""",
    ),
    (
        "strain_oncall_fact",
        "starts_at",
        """SELECT sh.id AS shift_id, sh.team, sh.person, sh.starts_at, sh.ends_at,
       CASE WHEN tz.name IS NOT NULL THEN tz.name END AS timezone
FROM oncall_shift sh JOIN team t ON t.id = sh.team
LEFT JOIN (SELECT DISTINCT name FROM pg_timezone_names()) tz
  ON tz.name = json_extract_string(t.attributes, '$.timezone')
WHERE NOT sh.person_is_bot AND sh.ends_at > sh.starts_at""",
    ),
)

_EPOCH = "0001-01-01 00:00:00"


def horizon_key(table: str) -> str:
    return f"retention_horizon:{table}"


def retention_horizon(store: Store, table: str) -> str:
    """Rows of a retained fact before this instant are frozen (ISO text; the epoch if never)."""
    return store.get_meta(horizon_key(table)) or _EPOCH


def mark_stale(store: Store, *, everything: str | None = None) -> None:
    """Called inside an ingest's transaction when its data changed. The importer records what it
    changed (:func:`shipwise.metrics.incremental.record`); any other writer says why
    ``everything`` may have changed, and the next refresh is a full one."""
    if everything is not None:
        incr.touch_all(store, everything)
    store.set_meta(STALE_KEY, "1")


def is_stale(store: Store) -> bool:
    """True when an ingest changed data since the facts were built, or an import did not finish
    (then :func:`ensure_fresh` says so rather than build facts from part of it)."""

    return store.get_meta(STALE_KEY) == "1" or unfinished(store) is not None


def refresh(store: Store, *, incremental: bool = False, new_generation: bool = False
            ) -> dict[str, float]:
    """Rebuild the derived fact tables in one transaction; returns seconds per table.

    ``incremental``: re-derive only the rows the changes an ingest recorded reach
    (:mod:`shipwise.metrics.incremental`), falling back to the full rebuild when a change reaches
    everything (``timings["incremental"]`` says which ran). ``new_generation``: afterwards, no
    cached view survives, as after a full rebuild (a retention run changes fact rows before the
    horizon, which no refresh re-derives)."""
    with REFRESH_LOCK, store.transaction():
        links.write_policy(store.con)  # the teams' incident link rules, read by the link fact
        timings = None
        if incremental:
            horizon = {table: retention_horizon(store, table) for table, _, _ in RETAINED_FACTS}
            timings = incr.refresh(store, FACTS, RETAINED_FACTS, horizon)
        if timings is None:
            timings = _rebuild(store)
            incr.clear(store, full=True)
            timings["incremental"] = 0.0
        else:
            incr.clear(store, full=new_generation)
            timings["incremental"] = 1.0
        store.set_meta(STALE_KEY, "0")
        # results computed from the facts (e.g. cached team views) are keyed by this
        store.set_meta(VERSION_KEY, uuid.uuid4().hex)
    return timings


def _rebuild(store: Store) -> dict[str, float]:
    timings: dict[str, float] = {}
    for table, select in FACTS:
        t0 = time.perf_counter()
        store.con.execute(f"DELETE FROM {table}")
        store.con.execute(f"INSERT INTO {table} {select}")
        timings[table] = time.perf_counter() - t0
    for table, column, select in RETAINED_FACTS:
        t0 = time.perf_counter()
        since = retention_horizon(store, table)
        store.con.execute(f'DELETE FROM {table} WHERE "{column}" >= CAST(? AS TIMESTAMP)', [since])
        store.con.execute(f'INSERT INTO {table} SELECT * FROM ({select}) x '
                          f'WHERE x."{column}" >= CAST(? AS TIMESTAMP)', [since])
        timings[table] = time.perf_counter() - t0
    return timings


def bump_version(store: Store) -> None:
    """Data that cached results read changed, but no fact is derived from it (e.g. cloud cost):
    a new version, so no cached result survives, without a rebuild."""
    store.set_meta(VERSION_KEY, uuid.uuid4().hex)


def facts_version(store: Store) -> str:
    """Changes whenever the facts are rebuilt (after any ingest that changed data)."""
    return store.get_meta(VERSION_KEY) or "initial"


def ensure_fresh(store: Store) -> bool:
    """Refresh if an ingest left the facts stale; True if it did. Refuses (saying what to run)
    when the last import did not finish, rather than answer from part of it."""

    check_finished(store)
    if not is_stale(store):
        return False
    with REFRESH_LOCK:  # another connection of this process may be refreshing: wait, then look
        if is_stale(store):
            refresh(store, incremental=True)
            return True
    return False
