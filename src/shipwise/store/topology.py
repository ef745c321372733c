"""The kept topology: ``topology_edge``, ``topology_observation`` and ``topology_node``
(migration 0019, docs/topology.md).

Edges are recorded as *observations*: (source, target, relation, origin, observation id, instant).
An observation is one investigation (its id), one day of store refresh (``refresh:YYYY-MM-DD``)
or one deployment (``deployment:ID``); ``topology_edge.seen`` is the number of distinct
observations of the edge, so recording the same observation twice never counts twice.
Everything is set-based: the rows are loaded as one relation and upserted with
``INSERT … SELECT … ON CONFLICT``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypedDict, cast

import duckdb

from shipwise.store.duckdb_store import Store

#: (source, target, relation, origin, observation, seen_at)
Observation = tuple[str, str, str, str, str, datetime]
#: (entity, kind, team, seen_at)
NodeSeen = tuple[str, str | None, str | None, datetime]

_KEY = "source, target, relation, origin"


class EdgeRow(TypedDict):
    source: str
    target: str
    relation: str
    origin: str
    first_seen_at: datetime
    last_seen_at: datetime
    seen: int
    #: distinct observations of (source, target, relation) whatever the origin: an
    #: investigation that read the edge in a topology file and in traces counts once
    seen_any: int


class NodeRow(TypedDict):
    entity: str
    kind: str | None
    team: str | None
    first_seen_at: datetime
    last_seen_at: datetime


def record(store: Store, observations: Sequence[Observation],
           nodes: Sequence[NodeSeen] = ()) -> int:
    """Record edges and nodes seen; returns how many observations were new."""
    with _staged(store) as con:
        if observations:  # one statement: each column a list parameter, unnested
            con.execute("INSERT INTO _topo_obs SELECT unnest(?), unnest(?), unnest(?), "
                        "unnest(?), unnest(?), unnest(?::TIMESTAMP[])",
                        [list(c) for c in zip(*observations, strict=True)])
        if nodes:
            con.execute("INSERT INTO _topo_node SELECT unnest(?), unnest(?::VARCHAR[]), "
                        "unnest(?::VARCHAR[]), unnest(?::TIMESTAMP[])",
                        [list(c) for c in zip(*nodes, strict=True)])
        return _apply(store)


@contextmanager
def _staged(store: Store) -> Iterator[duckdb.DuckDBPyConnection]:
    """A transaction holding the staging tables ``_topo_obs`` and ``_topo_node``, dropped after."""
    with store.transaction() as con:
        con.execute("CREATE OR REPLACE TEMP TABLE _topo_obs (source VARCHAR, target VARCHAR, "
                    "relation VARCHAR, origin VARCHAR, observation VARCHAR, seen_at TIMESTAMP)")
        con.execute("CREATE OR REPLACE TEMP TABLE _topo_node (entity VARCHAR, kind VARCHAR, "
                    "team VARCHAR, seen_at TIMESTAMP)")
        try:
            yield con
        finally:
            con.execute("DROP TABLE IF EXISTS _topo_obs")
            con.execute("DROP TABLE IF EXISTS _topo_node")


def _apply(store: Store) -> int:
    """Upsert what ``_topo_obs`` and ``_topo_node`` hold (inside the caller's transaction)."""
    con = store.con
    horizon = store.get_meta(TRIMMED_BEFORE)
    if horizon:  # what retention already folded away is not recorded again
        con.execute("DELETE FROM _topo_obs WHERE seen_at < ?", [datetime.fromisoformat(horizon)])
    before = _count(store, "topology_observation")
    con.execute(f"""
        INSERT INTO topology_observation
        SELECT {_KEY}, observation, max(seen_at) FROM _topo_obs
        WHERE source IS NOT NULL AND target IS NOT NULL AND source <> target
        GROUP BY ALL
        ON CONFLICT DO NOTHING""")
    new = _count(store, "topology_observation") - before
    con.execute(f"""
        INSERT INTO topology_edge (source, target, relation, origin, first_seen_at, last_seen_at,
                                   seen, seen_trimmed)
        SELECT {_KEY}, min(seen_at), max(seen_at), 0, 0 FROM _topo_obs
        WHERE source IS NOT NULL AND target IS NOT NULL AND source <> target
        GROUP BY ALL
        ON CONFLICT DO UPDATE SET
          first_seen_at = least(topology_edge.first_seen_at, excluded.first_seen_at),
          last_seen_at = greatest(topology_edge.last_seen_at, excluded.last_seen_at)""")
    con.execute(f"""
        UPDATE topology_edge e SET seen = c.n + coalesce(e.seen_trimmed, 0)
        FROM (SELECT {_KEY}, count(*) AS n FROM topology_observation
              WHERE ({_KEY}) IN (SELECT ({_KEY}) FROM _topo_obs)
              GROUP BY ALL) c
        WHERE e.source = c.source AND e.target = c.target AND e.relation = c.relation
          AND e.origin = c.origin""")
    con.execute("""
        INSERT INTO _topo_node
        SELECT source, NULL, NULL, max(seen_at) FROM _topo_obs GROUP BY ALL
        UNION ALL SELECT target, NULL, NULL, max(seen_at) FROM _topo_obs GROUP BY ALL""")
    con.execute("""
        INSERT INTO topology_node
        SELECT entity, max(kind), max(team), min(seen_at), max(seen_at) FROM _topo_node
        WHERE entity IS NOT NULL GROUP BY entity
        ON CONFLICT DO UPDATE SET
          kind = coalesce(excluded.kind, topology_node.kind),
          team = coalesce(excluded.team, topology_node.team),
          first_seen_at = least(topology_node.first_seen_at, excluded.first_seen_at),
          last_seen_at = greatest(topology_node.last_seen_at, excluded.last_seen_at)""")
    return new


#: meta key: observations before this instant were folded into their edges' counts
TRIMMED_BEFORE = "topology_trimmed_before"


def trim(store: Store, before: datetime) -> dict[str, int]:
    """Retention: fold the observations seen before ``before`` (naive UTC) into their edge's
    ``seen_trimmed`` count and delete them; delete the edges last seen before it (and nodes no
    edge names any more that were last seen before it). ``seen`` is unchanged for edges kept;
    the horizon only moves forward."""
    with store.transaction() as con:
        old = store.get_meta(TRIMMED_BEFORE)
        if old and datetime.fromisoformat(old) >= before:
            return {"observations": 0, "edges": 0, "nodes": 0}
        con.execute(f"""
            UPDATE topology_edge e SET seen_trimmed = coalesce(e.seen_trimmed, 0) + c.n
            FROM (SELECT {_KEY}, count(*) AS n FROM topology_observation WHERE seen_at < ?
                  GROUP BY ALL) c
            WHERE e.source = c.source AND e.target = c.target AND e.relation = c.relation
              AND e.origin = c.origin""", [before])
        obs = con.execute("DELETE FROM topology_observation WHERE seen_at < ? RETURNING 1",
                          [before]).fetchall()
        gone = con.execute("DELETE FROM topology_edge WHERE last_seen_at < ? RETURNING 1",
                           [before]).fetchall()
        con.execute(f"DELETE FROM topology_observation WHERE ({_KEY}) NOT IN "
                    f"(SELECT ({_KEY}) FROM topology_edge)")
        nodes_gone = con.execute(
            "DELETE FROM topology_node WHERE last_seen_at < ? AND entity NOT IN "
            "(SELECT source FROM topology_edge UNION SELECT target FROM topology_edge) "
            "RETURNING 1", [before]).fetchall()
        store.set_meta(TRIMMED_BEFORE, before.isoformat())
    return {"observations": len(obs), "edges": len(gone), "nodes": len(nodes_gone)}


def _count(store: Store, table: str) -> int:
    row = store.con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def learn_from_store(store: Store, at: datetime) -> dict[str, int]:
    """Record what the store knows as of ``at``: each service's owning team (``owned_by``),
    each team's org unit (``part_of``), each service's repositories (``built_from``), all seen
    by the refresh of ``at``'s day; and every deployment's target (``deploys_to``
    ``env:ENVIRONMENT[/REGION]``, origin ``deployments``), seen by that deployment. One
    ``INSERT … SELECT`` per kind: no row passes through Python."""
    day = f"refresh:{at.date().isoformat()}"
    with _staged(store) as con:
        params = [day, at]
        con.execute("""
            INSERT INTO _topo_obs
            SELECT id, 'team:' || team, 'owned_by', 'store', ?, ? FROM service
            WHERE team IS NOT NULL""", params)
        con.execute("""
            INSERT INTO _topo_obs
            SELECT 'team:' || id, 'org_unit:' || org_unit, 'part_of', 'store', ?, ? FROM team
            WHERE org_unit IS NOT NULL""", params)
        con.execute("""
            INSERT INTO _topo_obs
            SELECT DISTINCT service, 'repo:' || repo, 'built_from', 'store', ?, ? FROM (
              SELECT service, repo FROM service_target
              UNION SELECT id, repo FROM service WHERE repo IS NOT NULL)""", params)
        con.execute("""
            INSERT INTO _topo_obs
            SELECT service, 'env:' || environment || coalesce('/' || region, ''),
                   'deploys_to', 'deployments', 'deployment:' || id, finished_at
            FROM deployment""")
        con.execute("""
            INSERT INTO _topo_node
            SELECT id, 'service', team, ? FROM service
            UNION ALL SELECT 'team:' || id, 'team', id, ? FROM team
            UNION ALL SELECT 'org_unit:' || id, 'org_unit', NULL, ? FROM org_unit""",
                    [at, at, at])
        con.execute("""
            INSERT INTO _topo_node
            SELECT DISTINCT target, split_part(target, ':', 1), NULL, ? FROM _topo_obs
            WHERE target LIKE 'repo:%' OR target LIKE 'env:%'""", [at])
        seen = {str(r): int(n) for r, n in con.execute(
            "SELECT relation, count(DISTINCT (source, target)) FROM _topo_obs GROUP BY ALL"
        ).fetchall()}
        new = _apply(store)
    return {**dict(sorted(seen.items())), "new_observations": new}


def edges(store: Store, since: datetime | None = None,
          relations: Sequence[str] | None = None) -> list[EdgeRow]:
    """Kept edges last seen at or after ``since`` (all when None), of ``relations`` (all when
    None), ordered."""
    where: list[str] = ["TRUE"]
    params: list[Any] = []
    if since is not None:
        where.append("last_seen_at >= ?")
        params.append(since)
    if relations is not None:
        where.append("relation IN (SELECT unnest(?))")
        params.append(list(relations))
    return cast(list[EdgeRow], store.query(
        "SELECT source, target, relation, origin, first_seen_at, last_seen_at, seen, "
        "coalesce(o.n + coalesce(seen_trimmed, 0), seen) AS seen_any FROM topology_edge "
        "LEFT JOIN (SELECT source, target, relation, count(DISTINCT observation) AS n "
        "           FROM topology_observation GROUP BY ALL) o USING (source, target, relation) "
        f"WHERE {' AND '.join(where)} ORDER BY source, target, relation, origin",
        params))


def nodes(store: Store, entities: Sequence[str]) -> dict[str, NodeRow]:
    """The kept nodes among ``entities``."""
    rows = store.query("SELECT entity, kind, team, first_seen_at, last_seen_at FROM topology_node "
                       "WHERE entity IN (SELECT unnest(?))", [list(entities)])
    return {str(r["entity"]): cast(NodeRow, r) for r in rows}
