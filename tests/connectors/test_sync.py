"""The sync loop against a fake API router (pagination, 5xx, rate limits, bad credentials), and
the git connector through the protocol: resumable, idempotent, failures recorded and typed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from tests.conftest import cli_env

from shipwise.app.owner import ingest_git
from shipwise.config import Settings
from shipwise.connectors.base import Batch, Connector, Cursor, Scope
from shipwise.connectors.git import GitConnector
from shipwise.connectors.retry import retry
from shipwise.connectors.sync import coalesce, sync_scope
from shipwise.errors import (
    InputError,
    NotFoundError,
    RetriesExhaustedError,
    TerminalError,
    TransientError,
    UnauthorizedError,
)
from shipwise.store import Store, sync_state

# -- a fake ticket API, its client and its connector: the shape of the HTTP connectors to come --


@dataclass
class Response:
    status: int
    body: list[dict[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


class FakeRouter:
    """``GET /projects/{project}/tickets?page=N``: pages of ``per_page`` tickets, then ``[]``.

    ``script[(project, page)]`` lists responses served (in order, the last one repeated) instead
    of the page; ``seen`` records every request.
    """

    def __init__(self, tickets: int, per_page: int = 2) -> None:
        self.tickets = [{"id": f"T-{i}", "title": f"ticket {i}"} for i in range(1, tickets + 1)]
        self.per_page = per_page
        self.script: dict[tuple[str, int], list[Response]] = {}
        self.seen: list[tuple[str, int]] = []

    def get(self, project: str, page: int) -> Response:
        self.seen.append((project, page))
        if project != "payments":
            return Response(404)
        queued = self.script.get((project, page))
        if queued:
            return queued.pop(0) if len(queued) > 1 else queued[0]
        start = (page - 1) * self.per_page
        return Response(200, self.tickets[start:start + self.per_page])


class TicketClient:
    """HTTP only: turns statuses into the two kinds of failure."""

    def __init__(self, router: FakeRouter) -> None:
        self.router = router

    def page(self, project: str, page: int) -> list[dict[str, str]]:
        r = self.router.get(project, page)
        if r.status == 200:
            return r.body
        if r.status == 429 or r.status >= 500:
            after = r.headers.get("Retry-After")
            raise TransientError(f"tickets answered {r.status} for page {page}",
                                 retry_after=float(after) if after else None)
        if r.status == 401:
            raise UnauthorizedError("the ticket token was refused", hint="set a valid token")
        if r.status == 404:
            raise NotFoundError(f"no ticket project {project!r}")
        raise TerminalError(f"tickets answered {r.status}")


class TicketConnector:
    kind = "tickets"
    name = "tickets"

    def __init__(self, router: FakeRouter, projects: list[str], waits: list[float]) -> None:
        self.client = TicketClient(router)
        self.projects = projects
        self.waits = waits

    def scopes(self) -> list[Scope]:
        return [Scope(p, f"https://tickets.example/projects/{p}") for p in self.projects]

    def check(self) -> list[str]:
        return [] if self.projects else ["No project is configured: list some under tickets.projects."]

    def sync(self, scope: Scope, cursor: Cursor) -> Iterator[Batch]:
        page = cursor.state.get("next_page", 1)
        assert isinstance(page, int)
        while True:

            def fetch(n: int = page) -> list[dict[str, str]]:
                return self.client.page(scope.key, n)

            rows = retry(fetch, attempts=3, base_delay=1.0, sleep=self.waits.append,
                         clock=lambda: 0.0, what=f"GET /projects/{scope.key}/tickets?page={page}")
            if not rows:
                return
            page += 1
            yield Batch({"ticket": pa.Table.from_pylist(rows)}, Cursor({"next_page": page}))


@dataclass
class Sink:
    """Where committed tickets go: upserts by id, like the importer."""

    tickets: dict[str, str] = field(default_factory=dict)
    batches: int = 0

    def commit(self, batch: Batch) -> int:
        for row in batch.records["ticket"].to_pylist():
            self.tickets[row["id"]] = row["title"]
        self.batches += 1
        return batch.rows


def state(store: Store, scope: str = "payments") -> sync_state.SyncState:
    s = sync_state.get(store, "tickets", scope)
    assert s is not None
    return s


def test_connectors_satisfy_the_protocol(tmp_path: Path) -> None:
    assert isinstance(TicketConnector(FakeRouter(0), [], []), Connector)
    assert isinstance(GitConnector(tmp_path), Connector)
    assert TicketConnector(FakeRouter(0), [], []).check() == [
        "No project is configured: list some under tickets.projects."]


def test_pages_are_committed_one_by_one_through_5xx_and_rate_limits() -> None:
    router, sink, store = FakeRouter(5), Sink(), Store.memory()
    waits: list[float] = []
    router.script[("payments", 2)] = [Response(503), Response(200, router.tickets[2:4])]
    router.script[("payments", 3)] = [Response(429, headers={"Retry-After": "7"}),
                                      Response(200, router.tickets[4:])]
    connector = TicketConnector(router, ["payments"], waits)
    run = sync_scope(store, connector, connector.scopes()[0], sink.commit,
                     clock=lambda: datetime(2025, 3, 1, 10))
    assert run.committed == [2, 2, 1] and not run.incremental
    assert run.cursor == Cursor({"next_page": 4}) and len(sink.tickets) == 5
    assert len(waits) == 2 and 0.5 <= waits[0] < 1.0 and waits[1] == 7.0  # Retry-After honoured
    s = state(store)
    assert (json.loads(s.cursor), s.last_status, s.last_error) == ({"next_page": 4}, "ok", None)

    router.seen.clear()
    again = sync_scope(store, connector, connector.scopes()[0], sink.commit)
    assert router.seen == [("payments", 4)]  # incremental: only what may have changed
    assert again.incremental and again.committed == [] and again.cursor == run.cursor
    assert state(store).last_status == "ok"


def test_a_terminal_failure_stops_at_once_and_the_next_run_resumes_after_the_last_commit() -> None:
    router, sink, store = FakeRouter(6), Sink(), Store.memory()
    waits: list[float] = []
    router.script[("payments", 3)] = [Response(401)]
    connector = TicketConnector(router, ["payments"], waits)
    scope = connector.scopes()[0]
    with pytest.raises(UnauthorizedError):
        sync_scope(store, connector, scope, sink.commit)
    assert waits == [] and router.seen.count(("payments", 3)) == 1  # not retried
    s = state(store)
    assert json.loads(s.cursor) == {"next_page": 3} and s.last_status == "terminal"
    assert s.last_error == "the ticket token was refused (set a valid token)"
    assert sorted(sink.tickets) == ["T-1", "T-2", "T-3", "T-4"]

    del router.script[("payments", 3)]  # the token is fixed
    router.seen.clear()
    run = sync_scope(store, connector, scope, sink.commit)
    assert router.seen == [("payments", 3), ("payments", 4)] and run.incremental
    assert len(sink.tickets) == 6 and state(store).last_status == "ok"


def test_transient_failures_that_persist_are_recorded_as_transient() -> None:
    router, sink, store = FakeRouter(4), Sink(), Store.memory()
    waits: list[float] = []
    router.script[("payments", 2)] = [Response(502)]
    connector = TicketConnector(router, ["payments"], waits)
    with pytest.raises(RetriesExhaustedError, match=r"page=2 still failing after 3 attempts"):
        sync_scope(store, connector, connector.scopes()[0], sink.commit)
    assert len(waits) == 2
    s = state(store)
    assert (json.loads(s.cursor), s.last_status) == ({"next_page": 2}, "transient")


def test_a_crash_between_commit_and_cursor_reads_the_batch_again_without_double_counting() -> None:
    router, sink, store = FakeRouter(4), Sink(), Store.memory()
    connector = TicketConnector(router, ["payments"], [])
    scope = connector.scopes()[0]

    def commit_then_crash(batch: Batch) -> int:
        n = sink.commit(batch)
        if sink.batches == 2:
            raise RuntimeError("killed")  # the records of page 2 are in, its cursor is not
        return n

    with pytest.raises(RuntimeError):
        sync_scope(store, connector, scope, commit_then_crash)
    assert json.loads(state(store).cursor) == {"next_page": 2} and state(store).last_status == "failed"
    run = sync_scope(store, connector, scope, sink.commit)
    assert run.committed == [2]  # page 2 again: the upsert leaves it as it was
    assert sorted(sink.tickets) == ["T-1", "T-2", "T-3", "T-4"]


def test_scopes_have_cursors_of_their_own() -> None:
    router, sink, store = FakeRouter(2), Sink(), Store.memory()
    connector = TicketConnector(router, ["payments", "ledger"], [])
    payments, ledger = connector.scopes()
    sync_scope(store, connector, payments, sink.commit)
    with pytest.raises(NotFoundError):
        sync_scope(store, connector, ledger, sink.commit)
    assert [(s.scope, s.last_status) for s in sync_state.list_states(store, "tickets")] == [
        ("ledger", "terminal"), ("payments", "ok")]


# -- the git connector through the protocol: real repositories --


def git(repo: Path, *args: str, when: str = "2025-03-01T10:00:00+02:00") -> None:
    env = {**os.environ, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when,
           "GIT_AUTHOR_NAME": "Ana", "GIT_AUTHOR_EMAIL": "ana@example.com",
           "GIT_COMMITTER_NAME": "Ana", "GIT_COMMITTER_EMAIL": "ana@example.com",
           "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "-C", str(repo), *args], check=True, env=env, capture_output=True)


def commit(repo: Path, name: str, text: str, when: str = "2025-03-01T10:00:00+02:00") -> None:
    (repo / name).write_text(text)
    git(repo, "add", name)
    git(repo, "commit", "-qm", f"edit {name}", when=when)


@pytest.fixture
def payments(tmp_path: Path) -> Path:
    repo = tmp_path / "payments"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "a.txt", "1\n2\n3\n")
    commit(repo, "a.txt", "1\n2\n", when="2025-03-02T10:00:00+02:00")
    return repo


def git_state(settings: Settings, scope: str) -> sync_state.SyncState | None:
    with Store.open(settings.db, read_only=True) as store:
        return sync_state.get(store, "git", scope)


def head(repo: Path) -> str:
    return subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()


def test_git_connector_check_and_scopes(payments: Path, tmp_path: Path) -> None:
    connector = GitConnector(payments)
    assert connector.check() == [] and connector.scopes() == [Scope("payments", str(payments))]
    assert GitConnector(payments, "pay").scopes()[0].key == "pay"
    (tmp_path / "plain").mkdir()
    problems = GitConnector(tmp_path / "plain").check()
    assert len(problems) == 1 and "is not a git repository" in problems[0]
    assert "does not exist" in GitConnector(tmp_path / "nope").check()[0]


def test_git_connector_yields_one_batch_and_its_cursor(payments: Path) -> None:
    connector = GitConnector(payments)
    (scope,) = connector.scopes()
    (batch,) = list(connector.sync(scope, Cursor()))
    assert batch.records["commit"].num_rows == 2 and batch.records["tag"].num_rows == 0
    assert batch.cursor.state == {"tips": {"refs/heads/main": head(payments)},
                                  "path": str(payments.resolve())}
    (again,) = list(connector.sync(scope, batch.cursor))
    assert again.rows == 0 and again.cursor == batch.cursor
    with pytest.raises(TerminalError):
        list(connector.sync(Scope("other"), Cursor()))


def test_git_ingest_keeps_its_cursor_in_sync_state(settings: Settings, payments: Path) -> None:
    first = ingest_git(settings, payments)
    assert (first.commits_read, first.incremental) == (2, False)
    s = git_state(settings, "payments")
    assert s is not None and s.last_status == "ok" and s.last_error is None
    assert json.loads(s.cursor)["tips"] == {"refs/heads/main": head(payments)}
    commit(payments, "b.txt", "x\n", when="2025-03-03T10:00:00Z")
    third = ingest_git(settings, payments)
    assert (third.commits_read, third.incremental) == (1, True)
    assert json.loads(git_state(settings, "payments").cursor)["tips"]["refs/heads/main"] == head(payments)  # type: ignore[union-attr]


def test_git_ingest_after_a_crash_before_the_cursor_never_double_counts(
    settings: Settings, payments: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_put = sync_state.put

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("killed before the cursor was written")

    monkeypatch.setattr(sync_state, "put", crash)
    with pytest.raises(RuntimeError):
        ingest_git(settings, payments)
    s = git_state(settings, "payments")
    assert s is not None and (s.cursor, s.last_status) == ("{}", "failed")
    monkeypatch.setattr(sync_state, "put", real_put)

    again = ingest_git(settings, payments)
    assert again.commits_read == 2 and not again.incremental  # read again from the start …
    assert again.report.counts["commit"].inserted == 0  # … and nothing counted twice
    con = duckdb.connect(str(settings.db), read_only=True)
    assert con.execute('SELECT count(*) FROM "commit"').fetchone() == (2,)
    con.close()


def test_a_missing_repository_is_a_terminal_error_recorded_for_doctor(
    settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "ledger").mkdir()
    with pytest.raises(InputError, match="is not a git repository") as info:
        ingest_git(settings, tmp_path / "ledger")
    assert isinstance(info.value, TerminalError)
    s = git_state(settings, "ledger")
    assert s is not None and s.last_status == "terminal" and s.updated_at is None
    assert s.last_error is not None and "is not a git repository" in s.last_error


def test_the_cli_renders_it_as_one_line(tmp_path: Path) -> None:
    (tmp_path / "ledger").mkdir()
    run = [sys.executable, "-m", "shipwise"]
    subprocess.run([*run, "init"], cwd=tmp_path, env=cli_env(), check=True, capture_output=True)
    res = subprocess.run([*run, "ingest", "git", "ledger"], cwd=tmp_path, env=cli_env(),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ledger is not a git repository")
    assert "rev-parse --git-dir" in lines[0]  # the hint says what to do


# -- coalescing pages into fewer commits ------------------------------------------------------


def _page(n: int, start: int) -> Batch:
    ids = [f"C-{i}" for i in range(start, start + n)]
    return Batch({"ticket": pa.table({"id": ids}),
                  "note": pa.table({"id": pa.array([None] * 0, pa.string())})},
                 Cursor({"page": start}))


def test_pages_are_committed_together_with_the_last_pages_cursor() -> None:
    pages = [_page(3, i * 3) for i in range(7)]  # 21 records in pages of 3
    merged = list(coalesce(iter(pages), max_rows=10))
    assert [b.rows for b in merged] == [12, 9]  # flushed once past 10, the rest at the end
    assert [b.cursor.state["page"] for b in merged] == [9, 18]  # the cursor of each group's last
    assert merged[0].records["ticket"].column("id").to_pylist() == [f"C-{i}" for i in range(12)]
    assert "note" not in merged[0].records  # empty tables are not carried


def test_a_slow_source_still_commits_its_progress() -> None:
    now = [0.0]

    def pages() -> Iterator[Batch]:
        for i in range(4):
            now[0] += 20.0  # each page takes 20 s to read
            yield _page(1, i)

    merged = list(coalesce(pages(), max_rows=1000, max_seconds=30, monotonic=lambda: now[0]))
    assert [b.rows for b in merged] == [2, 2]
