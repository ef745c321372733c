"""The kept topology (docs/topology.md): the dependencies earlier investigations, the store and
deployments taught shipwise, merged into an investigation beside whatever its other sources
found (what they found wins: the evidence merge keeps what is known first)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import networkx as nx

from shipwise.investigate.evidence import Evidence, Scope
from shipwise.investigate.kept_topology import component, links
from shipwise.investigate.sources.base import FromSlice, StoreReader
from shipwise.store import topology as table
from shipwise.store.duckdb_store import Store

#: the name of the source in a record (its edges are never learnt again from a record)
NAME = "kept_topology"


def read_kept(store: Store, entity: str, since: float) -> dict[str, Any]:
    """The kept dependency edges connected to ``entity`` and last seen at or after ``since``
    (epoch seconds), with their nodes' kinds, as plain JSON (what a worker process is handed):
    ``{"edges": [[source, target, relation, origin]], "nodes": [[entity, kind]]}``."""
    since_at = datetime.fromtimestamp(since, tz=UTC).replace(tzinfo=None)
    found = component(links(table.edges(store, since_at)), entity)
    names = sorted({n for ln in found for n in (ln.source, ln.target)})
    kinds = {e: r["kind"] for e, r in table.nodes(store, names).items() if r["kind"]}
    return {"edges": [[ln.source, ln.target, ln.relation, ",".join(ln.origins)] for ln in found],
            "nodes": [[n, kinds[n]] for n in names if n in kinds]}


def kept_evidence(data: dict[str, Any]) -> Evidence:
    g = nx.DiGraph()
    for n, kind in data.get("nodes", []):
        g.add_node(str(n), kind=str(kind))
    for a, b, rel, origin in data.get("edges", []):
        for n in (a, b):
            if n not in g:
                g.add_node(str(n), kind="service")
        g.add_edge(str(a), str(b), relation=str(rel), seen_in=f"kept:{origin}")
    return Evidence(topology=g)


class KeptTopology(StoreReader):
    """Reads the kept topology from the store the process holds (lent for one query)."""

    name = NAME

    def describe(self) -> str:
        return f"store: kept topology (edges seen within {self.settings.topology_days:g} days)"

    def check(self) -> list[str]:
        if not self.settings.enabled or not self.settings.topology:
            return ["disabled in settings"]
        return []

    def read(self, scope: Scope) -> dict[str, Any]:
        since = scope.alarm.time - self.settings.topology_days * 86400
        with self.store() as store:
            return read_kept(store, scope.alarm.entity, since)

    def fetch(self, scope: Scope) -> Evidence:
        return kept_evidence(self.read(scope))


class SlicedKeptTopology(FromSlice, KeptTopology):
    """:class:`KeptTopology` over what the process holding the store read for a worker
    (:attr:`shipwise.investigate.sources.store.StoreSlice.topology`)."""

