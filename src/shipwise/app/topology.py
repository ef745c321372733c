"""The kept topology (docs/topology.md): an entity's blast radius, and learning from the store.

Topology holds no people (services, instances, teams, repositories, deploy targets), so reading
it is as reading the investigations of the entity's team: a member or lead for their own team's
services, an admin for every entity; refreshing it from the store writes into the store (admin).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from shipwise.app.caller import Caller
from shipwise.app.guard import Access, guard
from shipwise.app.results import BlastRadius, TopologyEdge, TopologyFact, TopologyRefresh
from shipwise.errors import InputError, NotFoundError
from shipwise.investigate.kept_topology import Reached, blast_radius, links
from shipwise.store import org
from shipwise.store import topology as table

#: ``topology show`` reads edges last seen within this many days unless told otherwise
DEFAULT_DAYS = 30.0
MAX_DEPTH = 10
#: the widest look back (a century: anything wider reaches before the calendar)
MAX_DAYS = 36_500.0


def _team_of(caller: Caller, entity: str) -> str | None:
    team = org.service_team(caller.store, entity)
    if team is None:
        node = table.nodes(caller.store, [entity]).get(entity)
        team = node["team"] if node else None
    return team


def _show_access(caller: Caller, arguments: Mapping[str, Any]) -> Iterable[Access]:
    entity = str(arguments["entity"])
    return [Access("investigations.read", f"topology:{entity}", _team_of(caller, entity))]


def _edge(x: Reached) -> TopologyEdge:
    return TopologyEdge(entity=x.entity, depth=x.depth, via=x.via, relation=x.relation,
                        origins=list(x.origins), last_seen_at=x.last_seen_at, seen=x.seen)


@guard("investigations.read", accesses=_show_access)
def show(caller: Caller, entity: str, *, depth: int = 2,
         days: float | None = DEFAULT_DAYS) -> BlastRadius:
    """``entity``'s blast radius: its upstream dependents (who is hurt if it fails) and its
    downstream dependencies, up to ``depth`` steps, over edges last seen within ``days`` (None:
    all), with each edge's relation, origins and last sighting; and its owner, repositories and
    deploy targets."""
    if not 1 <= depth <= MAX_DEPTH:
        raise InputError(f"depth {depth} is out of range", hint=f"1 to {MAX_DEPTH}")
    if days is not None and not 0 < days <= MAX_DAYS:
        raise InputError(f"days {days:g} is out of range",
                         hint=f"more than 0 and at most {MAX_DAYS:g}; leave it out for every edge")
    since = (datetime.now(UTC) - timedelta(days=days)).replace(tzinfo=None) if days else None
    found = links(table.edges(caller.store, since))
    if not any(entity in (ln.source, ln.target) for ln in found):
        raise NotFoundError(f"{entity!r} is in no kept edge"
                            + (f" seen within {days:g} days" if days else ""),
                            hint="run `shipwise topology refresh`, investigate an alarm on it, "
                                 "or widen --days")
    radius = blast_radius(found, entity, depth)
    node = table.nodes(caller.store, [entity]).get(entity)
    return BlastRadius(
        entity=entity, kind=node["kind"] if node else None,
        team=_team_of(caller, entity), depth=depth, days=days,
        upstream=[_edge(x) for x in radius.upstream],
        downstream=[_edge(x) for x in radius.downstream],
        facts=[TopologyFact(source=ln.source, target=ln.target, relation=ln.relation,
                            origins=list(ln.origins), last_seen_at=ln.last_seen_at, seen=ln.seen)
               for ln in radius.facts])


@guard("admin.ingest", "topology:refresh")
def refresh(caller: Caller) -> TopologyRefresh:
    """Learn the topology the store holds now: owners, org units, repositories (one
    observation per day) and every deployment's target (one per deployment); then retention
    (``topology.retention_days``): older observations folded into their edges' counts, edges not
    seen since forgotten."""
    at = datetime.now(UTC).replace(tzinfo=None)
    got = table.learn_from_store(caller.store, at)
    new = got.pop("new_observations")
    trimmed = table.trim(caller.store, at - timedelta(days=caller.settings.topology.retention_days))
    return TopologyRefresh(at=at, edges=got, new_observations=new,
                           trimmed_observations=trimmed["observations"],
                           forgotten_edges=trimmed["edges"])
