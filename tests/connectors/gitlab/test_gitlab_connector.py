"""The GitLab connector against the fake GitLab: what a first sync reads equals the world's truth,
a second sync with nothing new costs one request per project, new work is found (and, for
deployments, when the probe cannot see it, within ``full_every``), a sync killed mid-way resumes
without counting anything twice, an unmapped project's deployments are quarantined with a
reason, and ``check()``'s sentences."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from tests.fakes.gitlab import (
    FakeGitLab,
    World,
    add_merge_request,
    add_production_deploy,
    generate_world,
    make_source,
    service_map,
)

from shipwise.app.context import pseudonymiser_for
from shipwise.app.ingest import import_paths_into, import_tables_into
from shipwise.config import Settings, WorkflowRule
from shipwise.connectors.base import Batch, Cursor, Scope
from shipwise.connectors.gitlab import GitLabConnector, webhook
from shipwise.connectors.gitlab import connector as gitlab_connector
from shipwise.connectors.sync import sync_scope
from shipwise.errors import NotFoundError, TerminalError
from shipwise.ingest.loader import ImportReport
from shipwise.store import sync_state
from shipwise.store.duckdb_store import Store
from shipwise.store.org import service_map as org_service_map

JOBS = [WorkflowRule(job="deploy-prod")]
NOW = datetime(2026, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self, at: datetime = NOW) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def connector(gl: FakeGitLab, world: World, tmp_path: Path, clock: Clock | None = None,
              **kw: Any) -> GitLabConnector:
    source = make_source(gl.url, world.paths(), tmp_path / "token", jobs=JOBS, **kw)
    sleeps: list[float] = []
    return GitLabConnector(source, service_map(world), sleep=sleeps.append,
                           clock=clock or Clock())


def read_all(c: GitLabConnector, cursors: dict[str, Cursor] | None = None
             ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Cursor]]:
    """Every record of every scope (and the last cursors), as plain dicts."""
    out: dict[str, list[dict[str, Any]]] = {}
    cursors = dict(cursors or {})
    for scope in c.scopes():
        for batch in c.sync(scope, cursors.get(scope.key, Cursor())):
            for kind, table in batch.records.items():
                out.setdefault(kind, []).extend(table.to_pylist())
            cursors[scope.key] = batch.cursor
    return out, cursors


def norm(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return value


def as_truth(kind: str, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    key = "sha" if kind == "commit" else "id"
    drop = {"source", "rule", "type"}
    return {r[key]: {k: norm(v) for k, v in r.items() if v is not None and k not in drop}
            for r in rows}


@pytest.fixture
def world() -> World:
    return generate_world(seed=5, projects=3, mrs=30)


@pytest.fixture
def gl(world: World) -> Iterator[FakeGitLab]:
    with FakeGitLab(world) as fake:
        yield fake


def test_first_sync_reads_exactly_the_worlds_truth(world: World, gl: FakeGitLab,
                                                   tmp_path: Path) -> None:
    records, _ = read_all(connector(gl, world, tmp_path))
    truth = world.canonical()["delivery"]
    for kind in ("commit", "pull_request", "deployment"):
        expected = as_truth(kind, [r for r in truth if r["type"] == kind])
        assert as_truth(kind, records.get(kind, [])) == expected, kind
    deps = records["deployment"]
    assert {d["rule"].split(";")[0] for d in deps} >= {"GitLab deployment", "releases_as_deployments: auto"}
    assert any(d["rule"].startswith("jobs rule") for d in deps)
    assert all(d["source"].startswith("gitlab:acme/") for d in deps)
    # the canceled, staging and still running deployments are not deployments
    ids = {d["id"] for d in deps}
    skipped = [f"{p.path}/deployment/{x.id}" for p in world.projects for x in p.deployments
               if x.status in ("canceled", "running") or not x.environment.production]
    assert len(skipped) >= 3 and not ids & set(skipped)


def test_second_sync_with_nothing_new_costs_one_request_per_project(tmp_path: Path) -> None:
    world = generate_world(seed=6, projects=3, mrs=20, pending=False)
    with FakeGitLab(world) as gl:
        c = connector(gl, world, tmp_path)
        _, cursors = read_all(c)
        first_cost = gl.count()
        gl.reset_counts()
        again, _ = read_all(c, cursors)
        assert again == {}
        assert gl.count() == 3, gl.requests  # the probe of each project
        assert first_cost > 100
        print(f"first sync {first_cost} requests, second {gl.count()}")


def test_running_deployment_is_polled_and_read_when_it_ends(world: World, gl: FakeGitLab,
                                                            tmp_path: Path) -> None:
    clock = Clock()
    c = connector(gl, world, tmp_path, clock)
    _, cursors = read_all(c)
    p = world.projects[0]
    running = [d for d in p.deployments if d.status == "running"]
    assert len(running) == 1
    gl.reset_counts()
    records, cursors = read_all(c, cursors)
    assert records == {}
    # the probe, then the deployments (and pipelines) of the projects with something running
    assert gl.count(r"/deployments$") >= 1 and gl.count(r"/merge_requests") == 0
    d = running[0]
    d.status, d.updated_at = "success", d.created_at + timedelta(minutes=9)
    d.finished_at = d.updated_at
    gl.reset_counts()
    records, _ = read_all(c, cursors)
    assert [r["id"] for r in records["deployment"]] == [f"{p.path}/deployment/{d.id}"]
    truth = [r for r in world.canonical()["delivery"] if r.get("id") == f"{p.path}/deployment/{d.id}"]
    assert records["deployment"][0]["commits"] == truth[0]["commits"]
    assert truth[0]["commits"] == [d.sha]  # the hotfix, found by compare with the previous one
    assert gl.count(r"/repository/compare$") == 1


def test_new_merge_request_is_read_with_only_its_own_sub_requests(world: World, gl: FakeGitLab,
                                                                  tmp_path: Path) -> None:
    c = connector(gl, world, tmp_path)
    _, cursors = read_all(c)
    p = world.projects[1]
    last = max(p.last_activity_at, max(x.updated_at for x in p.mrs))
    mr = add_merge_request(world, p, random.Random(9), 99, last + timedelta(hours=2))
    gl.reset_counts()
    records, _ = read_all(c, cursors)
    assert [r["id"] for r in records["pull_request"]] == [f"{p.path}!99"]
    new = set(mr.commits) | ({mr.merge_commit_sha} if mr.merge_commit_sha else set())
    if mr.state == "merged":
        assert {r["sha"] for r in records["commit"]} == new
    assert gl.count(r"/merge_requests/99/") == 2  # commits and notes of that one only
    assert gl.count(r"/merge_requests/\d+/") == 2


def test_deployment_the_probe_cannot_see_is_read_within_full_every(world: World, gl: FakeGitLab,
                                                                   tmp_path: Path) -> None:
    clock = Clock()
    c = connector(gl, world, tmp_path, clock)
    _, cursors = read_all(c)
    p = world.projects[2]  # releases: a release does not move last_activity_at
    t = max(r.released_at for r in p.releases) + timedelta(hours=5)
    add_production_deploy(world, p, random.Random(2), t)
    records, cursors = read_all(c, cursors)
    assert "deployment" not in records  # the probe says nothing moved: honest limitation
    clock.at += timedelta(hours=1)
    records, _ = read_all(c, cursors)
    assert [r["id"] for r in records["deployment"]] == [f"{p.path}/release/{p.releases[-1].tag_name}"]


def test_a_webhook_about_a_deployment_makes_the_next_sync_read_it(
        world: World, gl: FakeGitLab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(webhook, "_announced", {})
    monkeypatch.setattr(webhook, "_now", clock)  # the hook arrives on the connector's clock
    c = connector(gl, world, tmp_path, clock)
    _, cursors = read_all(c)
    p = world.projects[2]
    add_production_deploy(world, p, random.Random(2),
                          max(r.released_at for r in p.releases) + timedelta(hours=5))
    clock.at += timedelta(minutes=5)
    hook = {"object_kind": "release", "tag": p.releases[-1].tag_name, "action": "create",
            "project": {"id": p.id, "path_with_namespace": p.path}}
    assert webhook.scope_of("Release Hook", hook) == p.path
    records, cursors = read_all(c, cursors)
    assert [r["id"] for r in records["deployment"]] == [f"{p.path}/release/{p.releases[-1].tag_name}"]
    gl.reset_counts()
    clock.at += timedelta(minutes=5)
    records, _ = read_all(c, cursors)  # read since: one probe per project again (and pendings)
    assert records == {} and gl.count(rf"/projects/{p.id}/releases") == 0


def test_activity_hidden_by_gitlabs_hourly_throttle_is_still_read(world: World, gl: FakeGitLab,
                                                                    tmp_path: Path) -> None:
    p = world.projects[1]
    latest = p.last_activity_at
    p.throttle = timedelta(hours=1)
    shown = p.last_activity_at
    assert shown == latest  # nothing hidden yet: the first sync below comes after all activity
    clock = Clock(shown + timedelta(minutes=10))  # a sync 10 minutes after the shown activity
    c = connector(gl, world, tmp_path, clock)
    _, cursors = read_all(c)
    # a merge request 30 minutes later: last_activity_at does not move (throttled) ...
    mr = add_merge_request(world, p, random.Random(4), 77, shown + timedelta(minutes=30),
                           final=True)  # still open: no merge commit
    for n in mr.notes:
        n.created_at = shown + timedelta(minutes=35)
    mr.updated_at = shown + timedelta(minutes=40)
    assert p.last_activity_at == shown
    clock.at = shown + timedelta(minutes=45)
    records, cursors = read_all(c, cursors)
    # ... but the last read began less than an hour after it, so the merge requests were read
    assert f"{p.path}!77" in {r["id"] for r in records["pull_request"]}
    # once a read began an hour after the shown activity, an unmoved probe is trusted
    clock.at = shown + timedelta(hours=2)
    _, cursors = read_all(c, cursors)
    gl.reset_counts()
    clock.at += timedelta(minutes=5)
    _, cursors = read_all(c, cursors)
    assert gl.count(rf"/projects/{p.id}/merge_requests") == 0


def test_commits_come_in_bounded_batches_and_the_head_is_kept_last(
        world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gitlab_connector, "COMMIT_BATCH", 40)
    p = world.projects[0]
    with FakeGitLab(world, per_page_max=20) as gl:
        c = connector(gl, world, tmp_path)
        batches = list(c.sync(c.scopes()[0], Cursor()))
    sizes = [b.records["commit"].num_rows for b in batches if "commit" in b.records]
    assert len(sizes) >= 2 and max(sizes) < 40 + 20
    assert sum(sizes) == len(p.main_shas())
    tips = [dict(b.cursor.state.get("commits") or {}).get("tip") for b in batches]
    last_commits = max(i for i, b in enumerate(batches) if "commit" in b.records)
    first_tip = min(i for i, t in enumerate(tips) if t)
    assert first_tip >= last_commits and tips[first_tip] == p.main_tip


def test_killed_between_commit_batches_reads_the_rest_next_time(
        world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gitlab_connector, "COMMIT_BATCH", 3)
    p = world.projects[0]
    with FakeGitLab(world, per_page_max=3) as gl:
        c = connector(gl, world, tmp_path)
        _, cursors = read_all(c)
        before = set(p.main_shas())
        t = p.last_activity_at
        rng = random.Random(3)
        for iid in (90, 91, 92):
            t += timedelta(hours=8)
            add_merge_request(world, p, rng, iid, t)
        new = set(p.main_shas()) - before
        assert len(new) > 3
        got: set[str] = set()
        cursor = cursors[p.path]
        for batch in c.sync(c.scopes()[0], cursor):
            cursor = batch.cursor  # committed
            if "commit" in batch.records:
                got |= {r["sha"] for r in batch.records["commit"].to_pylist()}
                break  # killed after the first batch of commits
        assert got and got < new
        for batch in c.sync(c.scopes()[0], cursor):
            if "commit" in batch.records:
                got |= {r["sha"] for r in batch.records["commit"].to_pylist()}
    assert got == new


# -- through the store -------------------------------------------------------------------------

def store_sync(settings: Settings, c: GitLabConnector, fail_after: int | None = None,
               after_import: bool = False) -> list[ImportReport]:
    """Sync every scope through ``sync_scope``; with ``fail_after``, the commit callback raises
    after that many batches (a kill) — before importing the next one, or with ``after_import``
    once it is imported but before its cursor is stored."""
    store = Store.open(settings.db)
    reports: list[ImportReport] = []
    try:
        pseudo = pseudonymiser_for(store, settings)

        def commit(batch: Batch) -> ImportReport:
            if fail_after is not None and len(reports) >= fail_after and not after_import:
                raise KeyboardInterrupt("killed")
            reports.append(import_tables_into(store, pseudo, batch.records, "gitlab", kind="sync"))
            if fail_after is not None and len(reports) > fail_after:
                raise KeyboardInterrupt("killed between the import and the cursor")
            return reports[-1]

        for scope in c.scopes():
            sync_scope(store, c, scope, commit)
    finally:
        store.close()
    return reports


def import_org(settings: Settings, world: World, folder: Path) -> None:
    files = world.write_canonical(folder)
    store = Store.open(settings.db)
    try:
        import_paths_into(store, pseudonymiser_for(store, settings), [files["org"]])
    finally:
        store.close()


def counts(settings: Settings) -> dict[str, int]:
    con = duckdb.connect(str(settings.db), read_only=True)
    try:
        return {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]  # type: ignore[index]
                for t in ("commit", "pull_request", "deployment", "deployment_commit",
                          "pull_request_commit", "quarantine")}
    finally:
        con.close()


def inserted(reports: list[ImportReport], kind: str) -> int:
    return sum(r.counts[kind].inserted for r in reports if kind in r.counts)


@pytest.mark.parametrize("after_import", [False, True])
def test_killed_mid_way_resumes_and_never_double_counts(settings: Settings, tmp_path: Path,
                                                        after_import: bool) -> None:
    world = generate_world(seed=5, projects=2, mrs=12)
    with FakeGitLab(world) as gl:
        killed_and_resumed(world, gl, settings, tmp_path, after_import)


def killed_and_resumed(world: World, gl: FakeGitLab, settings: Settings, tmp_path: Path,
                       after_import: bool) -> None:
    import_org(settings, world, tmp_path / "canon")
    c = connector(gl, world, tmp_path)
    with pytest.raises(KeyboardInterrupt):
        store_sync(settings, c, fail_after=4, after_import=after_import)
    partial = counts(settings)
    truth = world.canonical()["delivery"]
    want = {k: sum(1 for r in truth if r["type"] == k) for k in ("commit", "pull_request", "deployment")}
    assert 0 < partial["pull_request"] < want["pull_request"]
    resumed = store_sync(settings, connector(gl, world, tmp_path))
    final = counts(settings)
    assert {k: final[k] for k in want} == want
    assert final["quarantine"] == 0
    # the resumed run inserted only what the killed one had not
    for kind in want:
        assert partial[kind] + inserted(resumed, kind) == want[kind], kind
    again = store_sync(settings, connector(gl, world, tmp_path))
    assert counts(settings) == final and all(inserted(again, k) == 0 for k in want)


def test_unmapped_project_deployments_are_quarantined_then_emitted_once_mapped(
        settings: Settings, tmp_path: Path) -> None:
    world = generate_world(seed=7, projects=2, mrs=9, modes=("deployments",), unmapped=True,
                           pending=False)
    unmapped = world.projects[-1]
    expected = world.production_deployments(unmapped)
    with FakeGitLab(world) as gl:
        import_org(settings, world, tmp_path / "canon")
        store_sync(settings, connector(gl, world, tmp_path))
        con = duckdb.connect(str(settings.db), read_only=True)
        try:
            rows = con.execute("SELECT reason, raw FROM quarantine WHERE type = 'deployment'"
                               ).fetchall()
            kept = con.execute("SELECT count(*) FROM deployment WHERE service = ?",
                               [unmapped.path]).fetchone()
        finally:
            con.close()
        assert len(rows) == len(expected) > 0 and kept == (0,)
        assert all("unknown service" in str(r[0]) and unmapped.path in str(r[1]) for r in rows)

        # the organisation file now names the project's service: the next sync emits them
        org = tmp_path / "org2.jsonl"
        org.write_text(json.dumps({"type": "service", "id": "late", "name": "late",
                                   "team": "team0", "repo": unmapped.path}) + "\n")
        store = Store.open(settings.db)
        try:
            import_paths_into(store, pseudonymiser_for(store, settings), [org])
            services = org_service_map(store)
        finally:
            store.close()
        gl.reset_counts()
        source = make_source(gl.url, world.paths(), tmp_path / "token", jobs=JOBS)
        store_sync(settings, GitLabConnector(source, services, clock=Clock()))
        assert gl.count() == 2  # the probes: re-emitting reads nothing from GitLab
    con = duckdb.connect(str(settings.db), read_only=True)
    try:
        got = con.execute("SELECT id, status FROM deployment WHERE service = 'late' ORDER BY id"
                          ).fetchall()
    finally:
        con.close()
    assert got == sorted((d["id"], d["status"]) for d in expected)


def test_missing_project_is_a_terminal_failure_recorded(world: World, gl: FakeGitLab,
                                                        settings: Settings, tmp_path: Path) -> None:
    gl.hidden.add(world.projects[0].path)
    c = connector(gl, world, tmp_path)
    store = Store.open(settings.db)
    try:
        with pytest.raises(NotFoundError):
            sync_scope(store, c, c.scopes()[0], lambda b: None)
        state = sync_state.get(store, c.name, world.projects[0].path)
        assert state is not None and state.last_status == "terminal"
    finally:
        store.close()


def test_sync_goes_through_rate_limits_and_5xx(world: World, gl: FakeGitLab, tmp_path: Path) -> None:
    gl.fail(r"/merge_requests$", 429, headers={"Retry-After": "3"})
    gl.fail(r"/notes$", 502, times=2)
    gl.fail(r"/repository/commits$", truncate=50)
    sleeps: list[float] = []
    source = make_source(gl.url, world.paths(), tmp_path / "token", jobs=JOBS)
    c = GitLabConnector(source, service_map(world), sleep=sleeps.append, clock=Clock())
    records, _ = read_all(c)
    assert len(records["pull_request"]) == 90 and len(sleeps) == 4 and min(sleeps) >= 0
    assert 3 in [round(s) for s in sleeps] or max(sleeps) >= 3
    assert c.stats.retries == 4


def test_unknown_scope_is_refused(world: World, gl: FakeGitLab, tmp_path: Path) -> None:
    c = connector(gl, world, tmp_path)
    with pytest.raises(TerminalError, match="does not list"):
        list(c.sync(Scope("other/proj"), Cursor()))


# -- check() -----------------------------------------------------------------------------------

def test_check_all_well(world: World, gl: FakeGitLab, tmp_path: Path) -> None:
    assert connector(gl, world, tmp_path).check() == []


def test_check_sentences(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world = generate_world(seed=8, projects=2, mrs=3, unmapped=True)
    with FakeGitLab(world, scopes=("read_user",)) as gl:
        bad_scope = connector(gl, world, tmp_path).check()
        assert len(bad_scope) == 1 and "read_api" in bad_scope[0]
    with FakeGitLab(world) as gl:
        gl.hidden.add(world.projects[0].path)
        problems = connector(gl, world, tmp_path).check()
        assert any(world.projects[0].path in p and "not found" in p for p in problems)
        assert any(world.projects[1].path in p and "not mapped to a service" in p
                   and "unknown service" in p for p in problems)
        monkeypatch.delenv("GITLAB_TOKEN", raising=False)
        source = make_source(gl.url, world.paths(), tmp_path / "token")
        no_token = GitLabConnector(source.model_copy(update={"token_file": tmp_path / "absent",
                                                             "token_env": "GITLAB_TOKEN"}),
                                   service_map(world)).check()
        assert len(no_token) == 1 and "GITLAB_TOKEN" in no_token[0] and "read_api" in no_token[0]
        wrong = tmp_path / "wrong"
        wrong.write_text("glpat-wrong")
        refused = GitLabConnector(source.model_copy(update={"token_file": wrong}),
                                  service_map(world)).check()
        assert len(refused) == 1 and "401" in refused[0] and "glpat-wrong" not in refused[0]
    unreachable = GitLabConnector(source, service_map(world), sleep=lambda s: None).check()
    assert len(unreachable) == 1 and "could not reach" in unreachable[0]


# -- settings that change what counts ------------------------------------------------------------

def deployments_of(records: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    return {d["id"]: d for d in records.get("deployment", [])}


def test_a_non_production_job_rule_neither_counts_nor_moves_the_commit_base(tmp_path: Path) -> None:
    world = generate_world(seed=12, projects=1, mrs=15, modes=("jobs",), pending=False)
    with FakeGitLab(world) as gl:
        source = make_source(gl.url, world.paths(), tmp_path / "token", jobs=[
            WorkflowRule(job="deploy-staging", environment="staging"),
            WorkflowRule(job="deploy-prod")])
        records, _ = read_all(GitLabConnector(source, service_map(world), clock=Clock()))
    deps = deployments_of(records)
    prod = {k: v for k, v in deps.items() if v["environment"] == "production"}
    staging = [v for v in deps.values() if v["environment"] == "staging"]
    assert staging and all("deploy-staging" in v["rule"] for v in staging)
    truth = {r["id"]: r["commits"] for r in world.canonical()["delivery"]
             if r["type"] == "deployment"}
    assert {k: v["commits"] for k, v in prod.items()} == truth


@pytest.mark.parametrize(("mode", "tags", "kinds"), [
    ("auto", None, {"release"}),
    ("never", "v1.*", set()),
    ("auto", "v1.1*", {"release", "tag"}),
])
def test_releases_and_tags(tmp_path: Path, mode: str, tags: str | None, kinds: set[str]) -> None:
    world = generate_world(seed=13, projects=1, mrs=40, modes=("releases",))
    with FakeGitLab(world) as gl:
        source = make_source(gl.url, world.paths(), tmp_path / "token",
                             releases_as_deployments=mode, deployments_from_tags=tags)
        records, _ = read_all(GitLabConnector(source, service_map(world), clock=Clock()))
    deps = list(deployments_of(records).values())
    assert {d["id"].split("/")[-2] for d in deps} == kinds
    tagged = [d for d in deps if "/tag/" in d["id"]]
    assert all(d["version"].startswith("v1.1") and "deployments_from_tags" in d["rule"]
               for d in tagged)
    if "tag" in kinds:  # read after the releases: v1.10.0 is the same commit as the last
        # release (nothing new); v1.1.0 ended before it (out of order: its head only)
        sha = {r.tag_name: r.sha for r in world.projects[0].releases}
        assert {d["version"]: d["commits"] for d in tagged} == {"v1.1.0": [sha["v1.1.0"]],
                                                               "v1.10.0": []}


def test_check_says_when_the_rate_limit_is_nearly_used_up(world: World, tmp_path: Path) -> None:
    with FakeGitLab(world, rate_limit=40) as gl:
        problems = connector(gl, world, tmp_path).check()
    assert len(problems) == 1 and "requests left" in problems[0] and "of 40" in problems[0]
