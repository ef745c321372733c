"""The GitHub connector against the fake GitHub: first and second sync (request counts), a change,
a sync killed mid-way, unmapped deployments, faults during a sync, pending deployments, check()."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from tests.conftest import copy_store
from tests.fakes.github import Deployment, FakeGitHub, World, org_file, sync_into

from shipwise.app.owner import import_paths
from shipwise.config import GitHubSource, Settings, WorkflowRule, load_settings
from shipwise.connectors.base import Cursor, ServiceMap, ServiceTarget
from shipwise.connectors.github import GitHubConnector
from shipwise.errors import NotFoundError
from shipwise.store import sync_state
from shipwise.store.duckdb_store import Store

TOKEN = "ghp_fake_token"
ENV = "SHIPWISE_TEST_GH"


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, TOKEN)


@pytest.fixture
def world() -> World:
    return World.generate(repos=3, prs=25, seed=11)


@pytest.fixture
def gh(world: World) -> Iterator[FakeGitHub]:
    with FakeGitHub(world, token=TOKEN) as fake:
        yield fake


@pytest.fixture
def org(settings: Settings, world: World, tmp_path: Path) -> Settings:
    import_paths(settings, [org_file(world, tmp_path / "org")])
    return settings


def source(gh: FakeGitHub, world: World, **kw: Any) -> GitHubSource:
    kw.setdefault("workflows", [WorkflowRule(workflow="deploy", job="ship-*")])
    return GitHubSource(base_url=gh.base_url, repos=kw.pop("repos", world.names), token_env=ENV,
                        **kw)


def rows(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(settings.db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def truth(world: World, kind: str) -> list[dict[str, Any]]:
    return [r for r in world.canonical_records() if r["type"] == kind]


def store_state(settings: Settings) -> dict[str, Any]:
    """What the sync put in the store, to compare two runs."""
    return {
        "commits": rows(settings, 'SELECT count(*), sum(additions) FROM "commit"'),
        "prs": rows(settings, "SELECT id, created_at, first_review_at, merged_at, author IS NULL "
                              "FROM pull_request ORDER BY id"),
        "deployments": rows(settings, "SELECT id, service, status, started_at, finished_at "
                                      "FROM deployment ORDER BY id"),
        "shipped": rows(settings, "SELECT deployment_id, count(*) FROM deployment_commit "
                                  "GROUP BY 1 ORDER BY 1"),
    }


def test_first_sync_reads_everything_and_second_costs_one_request(
        org: Settings, gh: FakeGitHub, world: World) -> None:
    connector, _ = sync_into(org, source(gh, world))
    prs = truth(world, "pull_request")
    assert rows(org, "SELECT count(*) FROM pull_request") == [(sum(1 for p in prs if p.get("author")),)]
    assert rows(org, 'SELECT count(*) FROM "commit"') == [(len(truth(world, "commit")),)]
    deployments = truth(world, "deployment")
    assert rows(org, "SELECT count(*) FROM deployment") == [(len(deployments),)]
    # every repository deploys its own way: deployments, workflow runs, releases
    per_service = dict(rows(org, "SELECT service, count(*) FROM deployment GROUP BY 1"))
    assert set(per_service) == {"svc0", "svc1", "svc2"}
    assert rows(org, "SELECT count(*) FROM deployment_commit") == [
        (sum(len(d["commits"]) for d in deployments),)]
    assert connector.stats.requests == gh.count() and connector.stats.requests < 120
    # every commit with its parents, also those only a pull request carries (asked apart)
    parents = {sha: p or [] for sha, p in rows(org, 'SELECT sha, parents FROM "commit"')}
    assert parents == {c.sha: c.parents for r in world.repos for c in r.commits.values()
                       if c.email or c.login}
    # pull request 7 has 120 commits: the second hundred came from a nested page
    assert rows(org, "SELECT count(*) FROM pull_request_commit c JOIN pull_request p "
                     "ON p.id = c.pull_request_id WHERE p.id = 'acme/svc0#7'") == [(120,)]
    rules = {r[0].split(" ")[0] for r in rows(org, "SELECT rule FROM deployment")}
    assert rules == {"environment", "workflow", "releases_as_deployments"}

    # nothing new: one GraphQL probe for all three repositories, plus one conditional
    # request per repository for its workflow runs (answered 304, which costs no rate limit)
    gh.reset_counts()
    again, reports = sync_into(org, source(gh, world))
    assert reports == []
    assert gh.count("POST") == 1 and gh.count("GET") == 3
    assert all(r.status == 304 for r in gh.requests if r.method == "GET")
    assert again.stats.not_modified == 3

    # without workflow rules: exactly one request for the three repositories
    gh.reset_counts()
    sync_into(org, source(gh, world, workflows=[]))
    assert gh.count() == 1


@pytest.mark.slow
def test_a_change_is_read_alone(org: Settings, gh: FakeGitHub, world: World) -> None:
    sync_into(org, source(gh, world, workflows=[]))
    first = rows(org, "SELECT first_review_at FROM pull_request WHERE id = 'acme/svc0#1'")
    assert first == [(None,)]  # never reviewed, until now:
    when = max(p.updated for p in world.repos[0].prs) + timedelta(hours=1)
    world.add_review("acme/svc0", 1, "dev99", when)
    gh.reset_counts()
    sync_into(org, source(gh, world, workflows=[]))
    assert rows(org, "SELECT first_review_at FROM pull_request WHERE id = 'acme/svc0#1'") == [
        (when.replace(tzinfo=None),)] != first
    # the probe, one page of svc0's pull requests and the parents of its commits (asked apart:
    # see queries.PULL_REQUESTS); nothing else moved
    assert gh.count() == 3, [r.path for r in gh.requests]


class Killed(Exception):
    pass


@pytest.mark.slow
def test_a_killed_sync_resumes_and_counts_nothing_twice(
        org: Settings, gh: FakeGitHub, world: World, settings: Settings, tmp_path: Path,
        _empty_store: Path) -> None:
    def kill_after(n: int) -> Any:
        def hook(done: int) -> None:
            if done == n:
                raise Killed
        return hook

    for n in (2, 5, 9):  # mid pull requests, mid history, in deployments
        with pytest.raises(Killed):
            sync_into(org, source(gh, world), after_commit=kill_after(n))
    sync_into(org, source(gh, world))

    clean = load_settings(db=copy_store(_empty_store, tmp_path / "clean"))
    import_paths(clean, [org_file(world, tmp_path / "org2")])
    sync_into(clean, source(gh, world))
    assert store_state(org) == store_state(clean)
    assert store_state(org)["deployments"]
    assert rows(org, "SELECT count(*), count(DISTINCT sha) FROM \"commit\"")[0][0] == len(
        truth(world, "commit"))


def test_unmapped_deployments_are_quarantined_with_a_reason(
        org: Settings, gh: FakeGitHub, world: World) -> None:
    services = ServiceMap((ServiceTarget("svc0", "acme/svc0", environment="prod-eu*"),),
                          frozenset({"svc0", "svc1", "svc2"}))
    sync_into(org, source(gh, world, repos=["acme/svc0"]), services=services)
    assert rows(org, "SELECT count(*) FROM deployment") == [(0,)]
    quarantined = rows(org, "SELECT reason, count(*) FROM quarantine "
                            "WHERE type = 'deployment' GROUP BY 1")
    expected = sum(1 for d in truth(world, "deployment") if d["service"] == "svc0")
    assert quarantined == [("unknown service (service)", expected)] or (
        len(quarantined) == 1 and "unknown service" in quarantined[0][0]
        and quarantined[0][1] == expected), quarantined


def test_faults_during_a_sync_are_retried(org: Settings, gh: FakeGitHub, world: World) -> None:
    gh.secondary_limit(r"/graphql", retry_after=11)
    gh.fail(r"/jobs", 502)
    gh.fail(r"/actions/runs", 429, headers={"Retry-After": "2"})
    gh.truncated(r"/graphql")
    slept: list[float] = []
    connector, _ = sync_into(org, source(gh, world), sleep=slept.append)
    assert connector.stats.retries == 4 and 11.0 in [round(s) for s in slept]
    assert rows(org, "SELECT count(*) FROM deployment") == [(len(truth(world, "deployment")),)]


def test_a_missing_repository_fails_its_scope_terminally(org: Settings, gh: FakeGitHub,
                                                         world: World) -> None:
    with pytest.raises(NotFoundError, match="acme/gone"):
        sync_into(org, source(gh, world, repos=["acme/gone"]))
    store = Store.open(org.db)
    try:
        state = sync_state.get(store, "github", "acme/gone")
    finally:
        store.close()
    assert state is not None and state.last_status == "terminal"


def test_a_deployment_in_progress_is_read_again_until_it_ends(
        org: Settings, gh: FakeGitHub, world: World) -> None:
    repo = world.repos[0]
    sha = repo.main[-1]
    last = max(d.created for d in repo.deployments)
    created = last + timedelta(hours=1)
    pending = Deployment(999_999, "production", sha, created,
                         [("IN_PROGRESS", created + timedelta(seconds=20))])
    repo.deployments.append(pending)
    repo.version += 1
    now = created + timedelta(hours=2)
    src = source(gh, world, repos=["acme/svc0"])
    connector = GitHubConnector(src, ServiceMap((), frozenset({"svc0"})), clock=lambda: now)
    cursor = Cursor()
    for batch in connector.sync(connector.scopes()[0], cursor):
        cursor = batch.cursor
        ids = batch.records.get("deployment")
        assert ids is None or "acme/svc0 deployment 999999" not in ids.column("id").to_pylist()
    deployments = cursor.state["deployments"]
    assert isinstance(deployments, dict) and deployments["pending"] == 1
    assert str(deployments["since"]) < created.strftime("%Y-%m-%dT%H:%M:%SZ")

    pending.statuses.append(("SUCCESS", created + timedelta(minutes=9)))
    repo.version += 1
    found = []
    for batch in connector.sync(connector.scopes()[0], cursor):
        table = batch.records.get("deployment")
        if table is not None:
            found += table.to_pylist()
    assert [(d["id"], d["status"]) for d in found] == [("acme/svc0 deployment 999999", "success")]
    assert found[0]["finished_at"] == (created + timedelta(minutes=9)).astimezone(UTC)


def test_check_says_what_to_do(gh: FakeGitHub, world: World,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    mapped = ServiceMap((), frozenset({"svc0", "svc1", "svc2"}))
    assert GitHubConnector(source(gh, world), mapped).check() == []

    problems = GitHubConnector(source(gh, world, repos=["acme/svc0", "acme/gone"]),
                               ServiceMap((), frozenset({"svc0"}))).check()
    assert len(problems) == 2
    assert "acme/gone" in problems[0] and "not found" in problems[0]
    assert "acme/gone belongs to no service" in problems[1]

    gh.scopes = "read:user"
    (scope_problem,) = GitHubConnector(source(gh, world), mapped).check()
    assert "'read:user'" in scope_problem and "'repo'" in scope_problem
    gh.scopes = None  # a fine-grained token: no header at all
    (fine,) = GitHubConnector(source(gh, world), mapped).check()
    assert "fine-grained" in fine

    monkeypatch.delenv(ENV)
    (no_token,) = GitHubConnector(source(gh, world), mapped).check()
    assert ENV in no_token and TOKEN not in no_token

    monkeypatch.setenv(ENV, "ghp_wrong")
    (refused,) = GitHubConnector(source(gh, world), mapped).check()
    assert "401" in refused and "ghp_wrong" not in refused


def test_unreachable_host_is_a_sentence(world: World) -> None:
    src = GitHubSource(base_url="http://127.0.0.1:9", repos=world.names, token_env=ENV,
                       max_attempts=1)
    (problem,) = GitHubConnector(src, ServiceMap(), sleep=lambda s: None).check()
    assert "could not reach GitHub" in problem


def test_scopes_name_repositories(world: World) -> None:
    src = GitHubSource(base_url="https://ghe.acme.io/api/v3", repos=["acme/pay"], token_env=ENV)
    assert [(s.key, s.label) for s in GitHubConnector(src, ServiceMap()).scopes()] == [
        ("acme/pay", "https://ghe.acme.io/acme/pay")]
    assert GitHubConnector(GitHubSource(repos=["acme/pay"]), ServiceMap()).scopes()[0].label == \
        "https://github.com/acme/pay"


def test_since_bounds_the_first_sync(gh: FakeGitHub, world: World) -> None:
    since = date(2026, 7, 4)
    src = source(gh, world, since=since)
    connector = GitHubConnector(src, ServiceMap((), frozenset({"svc0", "svc1", "svc2"})))
    floor = datetime(2026, 7, 4, tzinfo=UTC)
    read = 0
    for scope in connector.scopes():
        for batch in connector.sync(scope, Cursor()):
            for kind, column in (("pull_request", "created_at"), ("commit", "committed_at"),
                                 ("deployment", "started_at")):
                table = batch.records.get(kind)
                if table is None or not table.num_rows:
                    continue
                if kind == "pull_request":  # read when updated since; may be older
                    repo = world.repo(scope.key)
                    assert repo is not None
                    updated = {p.number: p.updated for p in repo.prs}
                    assert all(updated[n] >= floor for n in table.column("number").to_pylist())
                    read += table.num_rows
                elif kind == "deployment":
                    assert min(table.column(column).to_pylist()) >= floor
    assert 0 < read < sum(len(r.prs) for r in world.repos)


def deployments_of(connector: GitHubConnector, repo: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor = Cursor()
    for batch in connector.sync(next(s for s in connector.scopes() if s.key == repo), cursor):
        table = batch.records.get("deployment")
        if table is not None:
            found += table.to_pylist()
    return found


def test_tags_as_deployments(gh: FakeGitHub, world: World) -> None:
    src = source(gh, world, repos=["acme/svc2"], releases_as_deployments="never",
                 deployments_from_tags="v1.*")
    found = deployments_of(GitHubConnector(src, ServiceMap((), frozenset({"svc2"}))),
                           "acme/svc2")
    repo = world.repos[2]
    assert sorted(d["id"] for d in found) == sorted(f"acme/svc2 tag {t}" for t in repo.tags)
    assert {d["rule"] for d in found} == {"tag matches deployments_from_tags 'v1.*'"}
    assert all(d["version"] == repo.tags[d["id"].rsplit(" ", 1)[1]] for d in found)
    # releases 'never' and no tag pattern: this repository has no deployments at all
    none = source(gh, world, repos=["acme/svc2"], releases_as_deployments="never")
    assert deployments_of(GitHubConnector(none, ServiceMap()), "acme/svc2") == []


def test_a_compare_base_gone_ships_the_head_alone(gh: FakeGitHub, world: World,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(GitHubConnector, "local_compare", False)
    gh.fail(r"/compare/", 404, times=1)
    src = source(gh, world, repos=["acme/svc0"])
    found = deployments_of(GitHubConnector(src, ServiceMap((), frozenset({"svc0"}))),
                           "acme/svc0")
    expected = {d["id"]: d["commits"] for d in truth(world, "deployment")
                if d["service"] == "svc0"}
    assert len(found) == len(expected)
    differ = [d for d in found if sorted(d["commits"]) != sorted(expected[d["id"]])]
    assert len(differ) == 1 and differ[0]["commits"] == [differ[0]["version"]]


def test_a_workflow_rule_without_a_job_takes_the_run(gh: FakeGitHub, world: World) -> None:
    src = source(gh, world, repos=["acme/svc1"], workflows=[WorkflowRule(workflow="dep*")])
    found = deployments_of(GitHubConnector(src, ServiceMap((), frozenset({"svc1"}))),
                           "acme/svc1")
    runs = [r for r in world.repos[1].runs
            if r.name == "deploy" and r.conclusion in ("success", "failure")]
    assert sorted(d["id"] for d in found) == sorted(f"acme/svc1 run {r.id} job all" for r in runs)
    assert {d["status"] for d in found} == {"success", "failure"}


def test_the_local_walk_equals_the_compare_api(gh: FakeGitHub, world: World,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    services = ServiceMap((), frozenset({"svc0", "svc1", "svc2"}))
    local: dict[str, list[str]] = {}
    for repo in world.names:
        local |= {d["id"]: d["commits"] for d in deployments_of(
            GitHubConnector(source(gh, world), services), repo)}
    assert gh.count("GET", "/compare/") == 0  # a first sync walks the graph it read
    monkeypatch.setattr(GitHubConnector, "local_compare", False)
    api: dict[str, list[str]] = {}
    for repo in world.names:
        api |= {d["id"]: d["commits"] for d in deployments_of(
            GitHubConnector(source(gh, world), services), repo)}
    assert gh.count("GET", "/compare/") > 20
    assert local == api and sum(len(c) for c in api.values()) > 100
    assert local == {d["id"]: sorted(d["commits"], key=local[d["id"]].index)
                     for d in truth(world, "deployment")}


def test_releases_already_committed_are_not_emitted_again(gh: FakeGitHub, world: World) -> None:
    src = source(gh, world, repos=["acme/svc2"])
    connector = GitHubConnector(src, ServiceMap((), frozenset({"svc2"})))
    cursor = Cursor()
    first: list[str] = []
    for batch in connector.sync(connector.scopes()[0], cursor):
        cursor = batch.cursor
        table = batch.records.get("deployment")
        first += table.column("id").to_pylist() if table is not None else []
    assert len(first) == len([d for d in truth(world, "deployment") if d["service"] == "svc2"])
    world.repos[2].pushed += timedelta(minutes=1)  # a push: the releases stage runs again
    gh.reset_counts()
    again: list[str] = []
    for batch in connector.sync(connector.scopes()[0], cursor):
        table = batch.records.get("deployment")
        again += table.column("id").to_pylist() if table is not None else []
    assert again == [] and gh.count("GET", "/compare/") == 0
    assert gh.count("GET", "/releases") == 1
