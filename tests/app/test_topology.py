"""The kept topology's doors on the sample organisation: learning it from the store (once a day,
once per deployment), an entity's blast radius through the CLI, and who may read it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from shipwise.app import topology
from shipwise.cli.main import cli
from shipwise.config import Settings
from shipwise.errors import ForbiddenError, NotFoundError
from shipwise.governance.access import Principal
from shipwise.store import topology as table
from shipwise.store.duckdb_store import Store
from tests.conftest import SampleOrg

from .conftest import caller_of

EXEC = Principal("exec", None, "tok-e", "cfo")


def member_of(team: str) -> Principal:
    return Principal("member", team, "tok-m", f"{team} bot")


def test_refresh_learns_the_store_and_counts_each_observation_once(
        sample_settings: Settings) -> None:
    with caller_of(sample_settings) as c:
        first = topology.refresh(c)
        again = topology.refresh(c)  # the same day: nothing new
        store = c.store
        services = store.query("SELECT id, team FROM service")
        deploys = {(r["service"], r["target"]): r["n"] for r in store.query(
            "SELECT service, 'env:' || environment || coalesce('/' || region, '') AS target, "
            "count(*) AS n FROM deployment GROUP BY ALL")}
        edges = table.edges(store)
    assert first.new_observations > 0 and again.new_observations == 0
    assert first.edges == again.edges
    assert first.edges["owned_by"] == len(services) == 45
    owned = {(e["source"], e["target"]) for e in edges if e["relation"] == "owned_by"}
    assert owned == {(s["id"], f"team:{s['team']}") for s in services}
    deployed = {(e["source"], e["target"]): e["seen"] for e in edges
                if e["relation"] == "deploys_to"}
    assert deployed == deploys  # seen: one observation per deployment
    assert all(e["seen"] == 1 for e in edges if e["origin"] == "store")
    assert {e["origin"] for e in edges if e["relation"] == "deploys_to"} == {"deployments"}


def test_show_prints_the_blast_radius(sample_settings: Settings, sample_org: SampleOrg) -> None:
    """The sample organisation stored one investigation of a demo-world case: its topology file
    and traces were kept, so catalog's blast radius is known."""
    db = str(sample_settings.db)
    runner = CliRunner()
    # a terminal wide enough for each table whole (a narrower one splits it: test_cli_output)
    res = runner.invoke(cli, ["--db", db, "topology", "show", "catalog", "--all"],
                        catch_exceptions=False, env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    up, down = res.output.split("Upstream")[1].split("Downstream")
    assert "gateway" in up and "search" in up and "inventory" not in up
    assert "inventory" in down and "catalog-asg" in down and "runs_on" in down
    assert "file, traces" in up
    res = runner.invoke(cli, ["--db", db, "topology", "show", "catalog", "--all", "--depth", "1",
                              "--format", "json"], catch_exceptions=False)
    data = json.loads(res.output)
    assert data["entity"] == "catalog" and data["depth"] == 1
    assert {x["depth"] for x in data["upstream"] + data["downstream"]} == {1}
    up_json = {x["entity"]: x for x in data["upstream"]}
    assert up_json["gateway"]["relation"] == "calls"
    assert up_json["gateway"]["origins"] == ["file", "traces"]
    # a window that excludes every sighting refuses, and says how to widen it
    res = runner.invoke(cli, ["--db", db, "topology", "show", "catalog", "--days", "0.0001"])
    assert isinstance(res.exception, NotFoundError) and "--days" in str(res.exception.hint)

    res = runner.invoke(cli, ["--db", db, "topology", "refresh"], catch_exceptions=False)
    assert res.exit_code == 0 and "owned_by" in res.output
    service = sample_org.alarm_entity
    res = runner.invoke(cli, ["--db", db, "topology", "show", service, "--format", "json"],
                        catch_exceptions=False)
    facts = json.loads(res.output)["facts"]
    assert {"relation": "owned_by", "target": f"team:{sample_org.teams[0]}"}.items() <= \
        next(f for f in facts if f["relation"] == "owned_by").items()


def test_recency_hides_old_edges(sample_settings: Settings) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    with Store.open(sample_settings.db) as store:
        table.record(store, [("edge-lb", "web-x", "calls", "traces", "investigation:a",
                              now - timedelta(days=45)),
                             ("web-x", "api-x", "calls", "prometheus", "investigation:b",
                              now - timedelta(days=1))])
    with caller_of(sample_settings) as c:
        recent = topology.show(c, "web-x")
        every = topology.show(c, "web-x", days=None)
        with pytest.raises(NotFoundError):
            topology.show(c, "edge-lb", days=30)
    assert [x.entity for x in recent.upstream] == [] and recent.days == 30
    assert [x.entity for x in every.upstream] == ["edge-lb"]
    assert [(x.entity, x.origins) for x in recent.downstream] == [("api-x", ["prometheus"])]


def test_who_may_read_and_refresh(sample_settings: Settings, sample_org: SampleOrg) -> None:
    service = sample_org.alarm_entity
    own, other = sample_org.teams[0], sample_org.teams[1]
    with caller_of(sample_settings) as c:
        topology.refresh(c)
    with caller_of(sample_settings, member_of(own)) as c:
        assert topology.show(c, service).entity == service
        with pytest.raises(ForbiddenError):
            topology.refresh(c)
    with caller_of(sample_settings, member_of(other)) as c, pytest.raises(ForbiddenError):
        topology.show(c, service)
    with caller_of(sample_settings, EXEC) as c, pytest.raises(ForbiddenError):
        topology.show(c, service)
