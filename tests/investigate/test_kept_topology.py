"""The kept topology in investigations: what an investigation's evidence teaches it (once per
investigation), and an alarm with no topology of its own answered through the kept edges."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shipwise.app.context import open_store
from shipwise.app.investigate import (
    investigate_alarm,
    investigate_case,
    investigate_slice,
    save_investigation,
    store_slice,
)
from shipwise.config import Settings
from shipwise.demo.world.scenarios import write_world_case
from shipwise.investigate.case import Alarm, load_alarm
from shipwise.investigate.evidence import Scope
from shipwise.investigate.kept_topology import Link, blast_radius, links
from shipwise.investigate.settings import (
    InvestigateSettings,
    PathsSettings,
    SourcesSettings,
    StoreSourceSettings,
)
from shipwise.investigate.sources import StoreSlice
from shipwise.investigate.sources.kept import KeptTopology
from shipwise.store import topology as table
from shipwise.store.duckdb_store import Store, lend


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A demo-world case (a bad deploy of catalog, seen from gateway's alarm) and a copy of it
    without its topology file and traces: its metrics, logs and events only."""
    root = tmp_path_factory.mktemp("kept")
    case = write_world_case(root / "case", "bad_deploy", seed=7, history_seconds=1800.0)
    bare = root / "bare"
    shutil.copytree(case, bare)
    (bare / "topology.json").unlink()
    shutil.rmtree(bare / "traces")
    return case, bare


def _bare_settings(settings: Settings, bare: Path, **store: Any) -> Settings:
    opts = InvestigateSettings(sources=SourcesSettings(
        metrics=PathsSettings(paths=[str(bare / "metrics.parquet")]),
        logs=PathsSettings(paths=[str(bare / "logs.jsonl")]),
        events=PathsSettings(paths=[str(bare / "events.jsonl")]),
        store=StoreSourceSettings(**store)))
    return settings.model_copy(update={"investigate": opts})


def _edges(store: Store) -> dict[tuple[str, str, str, str], int]:
    return {(e["source"], e["target"], e["relation"], e["origin"]): e["seen"]
            for e in table.edges(store)}


def test_an_investigation_teaches_its_topology_once(settings: Settings,
                                                   world: tuple[Path, Path]) -> None:
    case, _ = world
    record = investigate_case(case)
    learnt = record["topology_learnt"]
    assert {e[3] for e in learnt["edges"]} == {"file", "traces"}
    assert ["gateway", "catalog", "calls", "traces"] in learnt["edges"]
    with open_store(settings) as store:
        save_investigation(store, record)
        first = _edges(store)
        observations = store.count("topology_observation")
        save_investigation(store, record)  # the same investigation stored again
        assert _edges(store) == first
        assert store.count("topology_observation") == observations
        assert set(first.values()) == {1}
        assert first[("catalog", "catalog-asg", "runs_on", "file")] == 1
        # read in its topology file and in its traces: one investigation, seen once
        once = {(ln.source, ln.target): ln for ln in links(table.edges(store))}
        assert once[("gateway", "catalog")].origins == ("file", "traces")
        assert once[("gateway", "catalog")].seen == 1
        # another investigation seeing the same system counts once more, and moves last seen
        later = {**record, "id": record["id"] + "-b",
                 "alarm": {**record["alarm"], "time": record["alarm"]["time"] + 3600}}
        save_investigation(store, later)
        again = {(e["source"], e["target"], e["relation"], e["origin"]): e
                 for e in table.edges(store)}
        edge = again[("gateway", "catalog", "calls", "traces")]
        assert edge["seen"] == 2
        assert edge["last_seen_at"] - edge["first_seen_at"] == timedelta(hours=1)
        merged = {(ln.source, ln.target): ln for ln in links(table.edges(store))}
        assert merged[("gateway", "catalog")].seen == 2
        node = table.nodes(store, ["catalog-asg"])["catalog-asg"]
        assert node["kind"] == "instance_group"


def test_kept_edges_answer_an_alarm_with_no_topology(settings: Settings,
                                                     world: tuple[Path, Path]) -> None:
    """Without a topology the investigation cannot tie catalog's bad deploy to gateway's alarm;
    once an earlier investigation of the system has been stored, the kept edges connect them."""
    case, bare = world
    s = _bare_settings(settings, bare)
    alarm = load_alarm(bare)
    with open_store(s) as store:
        before = investigate_alarm(s, alarm, session=lend(store))
        assert before["status"] == "inconclusive"
        assert any(g["source"] == "topology" for g in before["gaps"])
        save_investigation(store, investigate_case(case))
        after = investigate_alarm(s, alarm, session=lend(store))
        # what the bare investigation saw is no topology: it teaches nothing
        assert after["topology_learnt"] == {"edges": [], "nodes": []}
    assert after["status"] == "root_cause_found"
    assert after["root_cause"]["entity"] == "catalog"
    assert not any(g["source"] == "topology" for g in after["gaps"])
    kept = next(x for x in after["sources"] if x["name"] == "kept_topology")
    assert kept["ok"]
    assert {"gateway", "catalog"} <= {n["id"] for n in after["topology"]["nodes"]}

    # switched off in the settings, the investigation is as before
    off = _bare_settings(settings, bare, topology=False)
    with open_store(off) as store:
        again = investigate_alarm(off, alarm, session=lend(store))
    assert again["status"] == "inconclusive"
    assert "kept_topology" not in {x["name"] for x in again["sources"]}


def test_a_worker_is_handed_the_kept_topology_in_its_slice(settings: Settings,
                                                          world: tuple[Path, Path]) -> None:
    case, bare = world
    s = _bare_settings(settings, bare)
    alarm = load_alarm(bare)
    with open_store(s) as store:
        save_investigation(store, investigate_case(case))
        data = store_slice(s, alarm, lend(store))
    assert data is not None and data.topology is not None
    assert ["gateway", "catalog", "calls", "file,traces"] in data.topology["edges"]
    handed = StoreSlice.from_json(data.to_json())  # what crosses to the worker process
    record = investigate_slice(s.investigate, alarm, None, handed)
    assert record["status"] == "root_cause_found"
    assert record["root_cause"]["entity"] == "catalog"


def test_only_recent_edges_are_used(settings: Settings) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    with open_store(settings) as store:
        table.record(store, [
            ("web", "api", "calls", "traces", "investigation:a", now - timedelta(days=40)),
            ("api", "db", "calls", "traces", "investigation:b", now - timedelta(days=2)),
        ])
        scope = Scope(load_alarm_like("api", now), now.timestamp() - 3600, now.timestamp())

        def seen(days: float) -> set[tuple[str, str]]:
            src = KeptTopology(lend(store), StoreSourceSettings(topology_days=days))
            return set(src.fetch(scope).topology.edges)

        assert seen(30) == {("api", "db")}
        assert seen(60) == {("api", "db"), ("web", "api")}
        # an edge of another part of the system is not the alarm's
        table.record(store, [("x", "y", "calls", "file", "investigation:c", now)])
        assert ("x", "y") not in seen(60)


def load_alarm_like(entity: str, at: datetime) -> Alarm:
    return Alarm(entity, "latency", at.replace(tzinfo=UTC).timestamp(), {})


def test_blast_radius_walks_dependencies_not_facts() -> None:
    at = datetime(2026, 11, 1)

    def ln(a: str, b: str, rel: str) -> Link:
        return Link(a, b, rel, ("file",), at, 1)

    links = [ln("web", "api", "calls"), ln("api", "db", "reads"), ln("api", "api-asg", "runs_on"),
             ln("i-1", "api-asg", "member_of"), ln("api", "team:core", "owned_by"),
             ln("web", "team:core", "owned_by"), ln("edge", "web", "calls")]
    r = blast_radius(links, "api", depth=2)
    assert [(x.entity, x.depth, x.via) for x in r.upstream] == [("web", 1, "api"),
                                                                 ("edge", 2, "web")]
    assert [(x.entity, x.depth) for x in r.downstream] == [("api-asg", 1), ("db", 1), ("i-1", 2)]
    assert [(f.relation, f.target) for f in r.facts] == [("owned_by", "team:core")]
    # an instance failing hurts its group, the service on it and that service's callers
    up = blast_radius(links, "i-1", depth=5).upstream
    assert [x.entity for x in up] == ["api-asg", "api", "web", "edge"]
    assert blast_radius(links, "api", depth=1).upstream[0].entity == "web"
    assert len(blast_radius(links, "api", depth=1).upstream) == 1


def test_retention_folds_old_observations_and_forgets_edges_not_seen_since(
        settings: Settings) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    old, recent = now - timedelta(days=500), now - timedelta(days=3)
    with open_store(settings) as store:
        table.record(store, [
            ("web", "api", "calls", "traces", "investigation:a", old),
            ("web", "api", "calls", "traces", "investigation:b", old + timedelta(days=1)),
            ("web", "api", "calls", "traces", "investigation:c", recent),
            ("gone", "api", "calls", "traces", "investigation:a", old),
        ])
        got = table.trim(store, now - timedelta(days=400))
        assert got == {"observations": 3, "edges": 1, "nodes": 1}
        (web_api,) = table.edges(store)
        assert (web_api["source"], web_api["seen"]) == ("web", 3)  # the count survives
        assert store.count("topology_observation") == 1
        # re-recording an observation from before the horizon counts nothing twice
        assert table.record(store, [("web", "api", "calls", "traces", "investigation:a", old)]) == 0
        table.record(store, [("web", "api", "calls", "traces", "investigation:d", now)])
        assert table.edges(store)[0]["seen"] == 4
        # the horizon only moves forward
        assert table.trim(store, now - timedelta(days=450))["observations"] == 0
