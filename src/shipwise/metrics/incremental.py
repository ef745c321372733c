"""Incremental refresh of the derived facts: only the rows an ingest's changes reach.

The importer records, set-based and in the transaction that writes the data, which keys it
changed (:func:`record`, into ``facts_touch``): the normalised deployments (``nkey``) a changed
deployment had before and has now, changed incidents (``incident``), the commits a changed commit or
deployment names (``sha``, before and now), changed pull requests (``pr``), people (``person``),
pages (``page``) and teams (``team``). :func:`refresh` then re-derives each fact table for the
keys those reach, with the very SELECTs of :data:`~shipwise.metrics.facts.FACTS` — their inputs
are shadowed, for the duration of the step, by temporary views holding only the rows that matter
(a fact row is a function of those rows alone):

* incident links: all re-derived (one row per linked incident) when a deployment, incident or
  team changed; the ``nkey`` of every link that changed, and of a changed incident's links, is
  touched;
* deploy and attempt facts: the touched ``nkey`` (a normalised deployment is one service's);
* recovery facts: the failures whose next success may have moved — of a service whose deploy
  facts changed at or after instant *t*, every failure reached at or after *t*, unrestored, or
  restored at or after *t* (earlier ones are restored before anything changed);
* change facts: the touched ``sha`` (their first successful production deployment), by the
  SHA's integer key (``sha_key``);
* delivery facts: pull requests touched or holding a touched ``sha``;
* flow facts: those pull requests and the ones of a touched person;
* strain facts: touched pages and the pages of a touched team.

Changes that reach everything — a service's owner or repository (``service``), the organisation
file, a retention purge — record ``all``, and the refresh is the full rebuild. A refresh also
notes which teams' fact rows actually changed (``facts_team_version``), so cached views keyed by
:func:`team_stamp` survive an import that did not change what they read.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import duckdb

from shipwise.store.duckdb_store import Store

TOUCH = "facts_touch"
GENERATION_KEY = "facts_generation"
SEQ_KEY = "facts_seq"
#: touched keys beyond this share of a fact table's rows: the full rebuild is cheaper
FULL_SHARE = 0.25

_NKEY = ("CASE WHEN {d}.version IS NOT NULL THEN {d}.service || '@' || {d}.version "
         "ELSE '#' || {d}.id END")


def nkey(alias: str) -> str:
    """The normalised deployment key of ``_PROD`` (service@version, else #id)."""
    return _NKEY.format(d=alias)


#: record type -> INSERTs into facts_touch from ``{c}`` (its changed rows, new values) and the
#: stored rows they replace (old values), run before those are replaced
_RECORD: dict[str, tuple[str, ...]] = {
    "deployment": (
        f"""SELECT 'nkey', {nkey('c')} FROM {{c}} c
        UNION SELECT 'nkey', {nkey('d')} FROM deployment d WHERE d.id IN (SELECT id FROM {{c}})""",
        """SELECT DISTINCT 'sha', sha FROM (SELECT unnest(commits) AS sha FROM {c}
        UNION ALL SELECT sha FROM deployment_commit
        WHERE deployment_id IN (SELECT id FROM {c})) WHERE sha IS NOT NULL""",
    ),
    # the deployments its old and new links name are found when the links are re-derived
    "incident": ("SELECT 'incident', id FROM {c}",),
    "commit": ("SELECT 'sha', sha FROM {c}",),
    "pull_request": ("SELECT 'pr', id FROM {c}",),
    "person": ("SELECT DISTINCT 'person', id FROM {c}",),
    "page": ("SELECT 'page', id FROM {c}",),
    "team": ("SELECT 'team', id FROM {c}", "SELECT 'org', id FROM {c}"),
    "org_unit": ("SELECT 'org', id FROM {c}",),
    # a service's owner or repository reaches all its deployments, commits and pull requests
    "service": ("SELECT 'all', id FROM {c}",),
}


def record(con: duckdb.DuckDBPyConnection, record_type: str, changed: str) -> None:
    """Inside the importer's transaction, before the stored rows of ``changed`` are replaced."""
    # 'raw': the record type changed (a view may read it; and a refresh knows what changed even
    # when no fact key was reached, e.g. an incident caused by no deployment)
    for select in (*_RECORD.get(record_type, ()), f"SELECT 'raw', '{record_type}'"):
        con.execute(f'INSERT INTO {TOUCH} (kind, "key") ' + select.format(c=changed))


def touch_all(store: Store, why: str) -> None:
    """Everything may have changed (organisation file, retention purge): a full rebuild next."""
    store.con.execute(f'INSERT INTO {TOUCH} (kind, "key") VALUES (\'all\', ?)', [why])


def clear(store: Store, *, full: bool) -> None:
    """After a refresh, in its transaction: nothing is pending; a full rebuild starts a new
    generation of team versions."""
    store.con.execute(f"DELETE FROM {TOUCH}")
    if full:
        store.con.execute("DELETE FROM facts_team_version")
        store.con.execute("DELETE FROM facts_change")
        store.set_meta(GENERATION_KEY, uuid.uuid4().hex)


def pending(store: Store) -> dict[str, int]:
    """kind -> distinct keys touched since the last refresh."""
    rows = store.con.execute(
        f'SELECT kind, count(DISTINCT "key") FROM {TOUCH} GROUP BY kind').fetchall()
    return {str(k): int(n) for k, n in rows}


def team_stamp(store: Store, tables: Iterable[str], teams: Iterable[str] | None = None) -> str:
    """Changes whenever a refresh changed a row of ``tables`` (of ``teams``; all if None), the
    organisation's hierarchy changed, or the facts were rebuilt in full."""
    wanted = list(tables)
    row = store.con.execute(
        """SELECT count(*), coalesce(md5(string_agg(tbl || '/' || team || '/' || version, ','
                                                  ORDER BY tbl, team)), '')
        FROM facts_team_version WHERE tbl = 'org' OR (tbl IN (SELECT unnest(?))
          AND (? OR team = '*' OR team IN (SELECT unnest(?))))""",
        [wanted, teams is None, list(teams or ())]).fetchone()
    gen = store.get_meta(GENERATION_KEY) or "initial"
    return f"{gen}:{row[1] if row else ''}"


def changes_since(store: Store, tables: Iterable[str], seq: int
                  ) -> tuple[str, int, bool, datetime | None]:
    """(generation, last refresh's number, whether the hierarchy changed, the earliest instant
    of a row of ``tables`` changed) for the incremental refreshes after number ``seq``."""
    gen = store.get_meta(GENERATION_KEY) or "initial"
    now = int(store.get_meta(SEQ_KEY) or 0)
    row = store.con.execute(
        "SELECT count(*) FILTER (WHERE tbl = 'org'), min(since) FILTER (WHERE tbl IN "
        "(SELECT unnest(?))) FROM facts_change WHERE seq > ?", [list(tables), seq]).fetchone()
    return gen, now, bool(row and row[0]), (row[1] if row else None)


# -- the refresh --------------------------------------------------------------------------------


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@contextmanager
def _shadow(con: duckdb.DuckDBPyConnection, views: dict[str, str]) -> Iterator[None]:
    """Unqualified ``table`` reads only the rows ``WHERE`` says (or a whole ``SELECT`` of the
    same columns), for the SELECTs run inside."""
    db = _q(str(_one(con, "SELECT current_database()")))
    try:
        for table, where in views.items():
            body = (where if where.startswith("SELECT ")
                    else f"SELECT * FROM {db}.main.{_q(table)} t WHERE {where}")
            con.execute(f"CREATE OR REPLACE TEMP VIEW {_q(table)} AS {body}")
        yield
    finally:
        for table in views:
            con.execute(f"DROP VIEW IF EXISTS temp.main.{_q(table)}")


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | None = None) -> Any:
    row = con.execute(sql, params or []).fetchone()
    return row[0] if row else None


def _keys(con: duckdb.DuckDBPyConnection, name: str, select: str) -> int:
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT DISTINCT k FROM ({select}) s(k) "
                "WHERE k IS NOT NULL")
    return int(_one(con, f"SELECT count(*) FROM {name}") or 0)


class _Replace:
    """Delete and re-insert one fact table's rows for some keys, noting the teams changed."""

    def __init__(self, con: duckdb.DuckDBPyConnection, version: str, seq: int) -> None:
        self.con = con
        self.version = version
        self.seq = seq

    def __call__(self, table: str, key: str, keys: str, select: str, team_cols: tuple[str, ...],
                 since: tuple[str, str] | None = None, instants: tuple[str, ...] = ()) -> None:
        con = self.con
        where = f"{key} IN (SELECT k FROM {keys})"
        params: list[object] = []
        if since is not None:
            where += f' AND "{since[0]}" >= CAST(? AS TIMESTAMP)'
            params = [since[1]]
        con.execute(f"CREATE OR REPLACE TEMP TABLE _old_fact AS SELECT * FROM {table} WHERE {where}",
                    params)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _new_fact AS SELECT * FROM ({select}) x "
                    f"WHERE x.{where}", params)
        con.execute(f"DELETE FROM {table} WHERE {where}", params)
        con.execute(f"INSERT INTO {table} SELECT * FROM _new_fact")
        con.execute("""CREATE OR REPLACE TEMP TABLE _diff_fact AS
            (SELECT * FROM _old_fact EXCEPT ALL SELECT * FROM _new_fact)
            UNION ALL (SELECT * FROM _new_fact EXCEPT ALL SELECT * FROM _old_fact)""")
        teams = " UNION ".join(f"SELECT {c} FROM _diff_fact" for c in team_cols)
        con.execute(f"""INSERT OR REPLACE INTO facts_team_version
            SELECT ?, t, ? FROM ({teams}) s(t) WHERE t IS NOT NULL""", [table, self.version])
        if instants:  # the earliest instant of a changed row (old or new)
            first = ", ".join(f'"{c}"' for c in instants)
            con.execute(f"""INSERT INTO facts_change SELECT ?, ?, min(least({first}))
                FROM _diff_fact HAVING min(least({first})) IS NOT NULL""", [self.seq, table])
        for name in ("_old_fact", "_new_fact", "_diff_fact"):
            con.execute(f"DROP TABLE {name}")


def refresh(store: Store, facts: tuple[tuple[str, str], ...],
            retained: tuple[tuple[str, str, str], ...], horizon: dict[str, str]
            ) -> dict[str, float] | None:
    """Re-derive the fact rows the pending touches reach; None when a full rebuild is due (a
    change that reaches everything, no record of what changed, or a large share touched).
    Runs inside the caller's transaction."""
    con = store.con
    kinds = pending(store)
    if not kinds or "all" in kinds:
        return None
    n_deploy = int(_one(con, "SELECT count(*) FROM dora_deploy_fact") or 0)
    n_change = int(_one(con, "SELECT count(*) FROM dora_change_fact") or 0)
    if (kinds.get("nkey", 0) > FULL_SHARE * max(n_deploy, 1000)
            or kinds.get("sha", 0) > FULL_SHARE * max(n_change, 1000)):
        return None
    version = uuid.uuid4().hex
    seq = int(store.get_meta(SEQ_KEY) or 0) + 1
    store.set_meta(SEQ_KEY, str(seq))
    replace = _Replace(con, version, seq)
    sql = dict(facts)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    def touched(kind: str) -> str:
        return f'SELECT "key" FROM {TOUCH} WHERE kind = \'{kind}\''

    # links first: a changed incident, deployment or team rule may move an incident's link; the
    # deployments its old and new links name are re-derived below
    if kinds.keys() & {"nkey", "incident", "team", "org"}:
        t = time.perf_counter()
        _relink(con, sql["incident_link"], touched("incident"))
        timings["incident_link"] = time.perf_counter() - t

    # deploy and attempt facts: per normalised deployment
    if _keys(con, "_k_nkey", touched("nkey")):
        con.execute("CREATE OR REPLACE TEMP TABLE _old_deploy AS SELECT * FROM dora_deploy_fact "
                    "WHERE nkey IN (SELECT k FROM _k_nkey)")
        with _shadow(con, {"deployment": f"{nkey('t')} IN (SELECT k FROM _k_nkey)"}):
            for table in ("dora_deploy_fact", "dora_attempt_fact"):
                t = time.perf_counter()
                replace(table, "nkey", "_k_nkey", sql[table], ("team",))
                timings[table] = time.perf_counter() - t
        t = time.perf_counter()
        _recovery(con, replace, sql["dora_recovery_fact"])
        timings["dora_recovery_fact"] = time.perf_counter() - t
    # change facts: per commit
    t = time.perf_counter()
    # (touches name commits by SHA; the facts by the SHA's key)
    if _keys(con, "_k_sha", f'''SELECT "key" FROM sha_key
             WHERE sha IN ({touched("sha")})'''):
        # the deployments of those commits, from one pass over deployment_commit
        con.execute("CREATE OR REPLACE TEMP TABLE _k_dc AS SELECT deployment_id, sha, sha_key "
                    "FROM deployment_commit WHERE sha_key IN (SELECT k FROM _k_sha)")
        with _shadow(con, {
            "deployment_commit": "SELECT deployment_id, sha, sha_key FROM _k_dc",
            "commit": "sha_key IN (SELECT k FROM _k_sha)",
            "deployment": "id IN (SELECT deployment_id FROM _k_dc)",
        }):
            replace("dora_change_fact", "sha_key", "_k_sha", sql["dora_change_fact"], ("team",))
        con.execute("DROP TABLE _k_dc")
    timings["dora_change_fact"] = time.perf_counter() - t
    # delivery facts: per pull request
    t = time.perf_counter()
    if _keys(con, "_k_pr", f"""{touched('pr')} UNION SELECT pull_request_id
             FROM pull_request_commit WHERE sha_key IN (SELECT k FROM _k_sha)"""):
        con.execute("CREATE OR REPLACE TEMP TABLE _k_prc AS SELECT pull_request_id, sha, sha_key "
                    "FROM pull_request_commit WHERE pull_request_id IN (SELECT k FROM _k_pr)")
        with _shadow(con, {"pull_request": "id IN (SELECT k FROM _k_pr)",
                           "pull_request_commit":
                               "SELECT pull_request_id, sha, sha_key FROM _k_prc",
                           "dora_change_fact": "sha_key IN (SELECT sha_key FROM _k_prc)"}):
            replace("pr_delivery_fact", "pull_request_id", "_k_pr", sql["pr_delivery_fact"],
                    ("team",))
        con.execute("DROP TABLE _k_prc")
    timings["pr_delivery_fact"] = time.perf_counter() - t
    # retained facts: flow per pull request (and its author), strain per page (and its team)
    ret = {table: (column, select) for table, column, select in retained}
    t = time.perf_counter()
    if _keys(con, "_k_flow", f"""SELECT k FROM _k_pr UNION SELECT id FROM pull_request
             WHERE author IN ({touched('person')})"""):
        column, select = ret["flow_pr_fact"]
        with _shadow(con, {"pull_request": "id IN (SELECT k FROM _k_flow)",
                           "pr_delivery_fact": "pull_request_id IN (SELECT k FROM _k_flow)"}):
            replace("flow_pr_fact", "pull_request_id", "_k_flow", select, ("team", "author_team"),
                    since=(column, horizon["flow_pr_fact"]),
                    instants=("created_at", "first_review_at", "merged_at", "closed_at",
                              "delivered_at"))
    timings["flow_pr_fact"] = time.perf_counter() - t
    t = time.perf_counter()
    if _keys(con, "_k_page", f"""{touched('page')} UNION SELECT id FROM page
             WHERE team IN ({touched('team')})"""):
        column, select = ret["strain_page_fact"]
        with _shadow(con, {"page": "id IN (SELECT k FROM _k_page)"}):
            replace("strain_page_fact", "page_id", "_k_page", select, ("team",),
                    since=(column, horizon["strain_page_fact"]), instants=("at",))
    timings["strain_page_fact"] = time.perf_counter() - t
    # what views read besides the facts: the hierarchy, and raw record types (e.g. tickets)
    con.execute(f"""INSERT OR REPLACE INTO facts_team_version
        SELECT DISTINCT CASE WHEN kind = 'org' THEN 'org' ELSE "key" END, '*', ?
        FROM {TOUCH} WHERE kind IN ('org', 'raw')""", [version])
    con.execute(f"""INSERT INTO facts_change
        SELECT DISTINCT ?, CASE WHEN kind = 'org' THEN 'org' ELSE "key" END, NULL
        FROM {TOUCH} WHERE kind IN ('org', 'raw')""", [seq])
    for name in ("_k_nkey", "_k_sha", "_k_pr", "_k_flow", "_k_page", "_old_deploy"):
        con.execute(f"DROP TABLE IF EXISTS {name}")
    timings["total"] = time.perf_counter() - t0
    return timings


def _relink(con: duckdb.DuckDBPyConnection, select: str, incidents: str) -> None:
    """Re-derive every incident's link (a small table: one row per linked incident) and touch
    the normalised deployments of the links that changed and of the changed incidents' links
    (their resolution moves the linked deployment's recovery)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE _new_link AS {select}")
    con.execute(f"""INSERT INTO {TOUCH} (kind, "key")
        SELECT DISTINCT 'nkey', nkey FROM (
          (SELECT * FROM incident_link EXCEPT SELECT * FROM _new_link)
          UNION ALL (SELECT * FROM _new_link EXCEPT SELECT * FROM incident_link)
          UNION ALL (SELECT * FROM incident_link WHERE incident_id IN ({incidents}))
          UNION ALL (SELECT * FROM _new_link WHERE incident_id IN ({incidents}))) d""")
    con.execute("DELETE FROM incident_link")
    con.execute("INSERT INTO incident_link SELECT * FROM _new_link")
    con.execute("DROP TABLE _new_link")


def _recovery(con: duckdb.DuckDBPyConnection, replace: _Replace, select: str) -> None:
    """Recovery facts of the failures whose restoration the changed deploy facts may move."""
    # per service whose deploy facts changed: the earliest instant of a changed row, old or new
    con.execute("""CREATE OR REPLACE TEMP TABLE _moved AS
        SELECT service, min(least(coalesce(first_success_at, reached_at),
                                  coalesce(reached_at, first_success_at))) AS t
        FROM ((SELECT * FROM _old_deploy EXCEPT ALL SELECT * FROM dora_deploy_fact
               WHERE nkey IN (SELECT k FROM _k_nkey))
              UNION ALL (SELECT * FROM dora_deploy_fact WHERE nkey IN (SELECT k FROM _k_nkey)
                         EXCEPT ALL SELECT * FROM _old_deploy)) d
        GROUP BY service""")
    n = _keys(con, "_k_fail", """
        SELECT nkey FROM dora_deploy_fact WHERE nkey IN (SELECT k FROM _k_nkey) AND failed = 1
        UNION SELECT nkey FROM dora_recovery_fact WHERE nkey IN (SELECT k FROM _k_nkey)
        UNION SELECT r.nkey FROM dora_recovery_fact r JOIN _moved m ON m.service = r.service
        WHERE m.t IS NULL OR r.reached_at >= m.t OR r.restored_at IS NULL OR r.restored_at >= m.t""")
    if n:
        # events before the earliest affected failure of a service never follow one of them
        con.execute("""CREATE OR REPLACE TEMP TABLE _from AS
            SELECT service, min(reached_at) AS lo FROM (
              SELECT service, reached_at FROM dora_deploy_fact WHERE nkey IN (SELECT k FROM _k_fail)
              UNION ALL SELECT service, reached_at FROM dora_recovery_fact
              WHERE nkey IN (SELECT k FROM _k_fail)) GROUP BY service""")
        with _shadow(con, {
            "dora_deploy_fact": "EXISTS (SELECT 1 FROM _from f WHERE f.service = t.service AND "
                                "(f.lo IS NULL OR t.first_success_at >= f.lo OR t.reached_at >= f.lo))",
            "deployment": f"{nkey('t')} IN (SELECT k FROM _k_fail)",
        }):
            replace("dora_recovery_fact", "nkey", "_k_fail", select, ("team",))
        con.execute("DROP TABLE _from")
    con.execute("DROP TABLE _moved")
    con.execute("DROP TABLE _k_fail")
