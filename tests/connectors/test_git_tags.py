"""Deployments from git tags (`shipwise ingest git --deployments-from-tags`), on real repositories
built with `git`: lightweight and annotated tags, a tag that does not match, a re-run after a new
tag, a run killed between the import and the cursor, and DORA computed by hand."""

from __future__ import annotations

import os
import subprocess
from datetime import date
from pathlib import Path

import duckdb
import pytest
from tests.conftest import org, write_jsonl

from shipwise.app.caller import local_caller
from shipwise.app.git import GitIngestResult, ingest_git
from shipwise.app.metrics import DoraRequest
from shipwise.app.owner import dora, import_paths
from shipwise.config import GitSource, Settings
from shipwise.connectors.base import Cursor, ServiceMap, ServiceTarget
from shipwise.connectors.git import GitConnector, deployment_id
from shipwise.connectors.git.tags import matches, tag_state
from shipwise.store import sync_state

HOUR = 3600


def git(repo: Path, *args: str, when: str = "2025-03-01T10:00:00Z") -> str:
    env = {**os.environ, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when,
           "GIT_AUTHOR_NAME": "Ana", "GIT_AUTHOR_EMAIL": "ana@example.com",
           "GIT_COMMITTER_NAME": "Ana", "GIT_COMMITTER_EMAIL": "ana@example.com"}
    out = subprocess.run(["git", "-C", str(repo), *args], check=True, env=env,
                         capture_output=True, text=True)
    return out.stdout.strip()


def commit(repo: Path, text: str, when: str) -> str:
    (repo / "a.txt").write_text(text)
    git(repo, "add", "a.txt")
    git(repo, "commit", "-qm", text, when=when)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """c1..c4 a day apart from 3 March 2025 10:00 UTC; v1.0 a lightweight tag on c2, nightly-5 (no
    match) on c3, v1.1 an annotated tag on c4 made a day after c4 (7 March 10:00)."""
    path = tmp_path / "payments"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    shas = {f"c{i}": commit(path, f"{i}\n", f"2025-03-0{i + 2}T10:00:00Z") for i in range(1, 5)}
    git(path, "tag", "v1.0", shas["c2"])
    git(path, "tag", "nightly-5", shas["c3"])
    git(path, "tag", "-a", "v1.1", "-m", "release 1.1", shas["c4"], when="2025-03-07T10:00:00Z")
    return path, shas


def sync(connector: GitConnector, cursor: Cursor | None = None
         ) -> tuple[list[dict[str, object]], Cursor]:
    (scope,) = connector.scopes()
    (batch,) = list(connector.sync(scope, cursor or Cursor()))
    rows = batch.records["deployment"].to_pylist() if "deployment" in batch.records else []
    return rows, batch.cursor


def test_matching_tags_become_deployments_with_the_commits_since_the_previous_tag(
        repo: tuple[Path, dict[str, str]]) -> None:
    path, c = repo
    rows, cursor = sync(GitConnector(path, deployments_from_tags="v*", service="pay-api"))
    assert [r["id"] for r in rows] == ["git:payments@v1.0", "git:payments@v1.1"]
    first, second = rows
    assert set(first["commits"]) == {c["c1"], c["c2"]}  # the first tag: all its history
    assert set(second["commits"]) == {c["c3"], c["c4"]}  # since v1.0 (nightly-5 does not count)
    assert str(first["finished_at"]) == "2025-03-04 10:00:00+00:00"  # lightweight: commit time
    assert str(second["finished_at"]) == "2025-03-07 10:00:00+00:00"  # annotated: tagger time
    assert first["started_at"] == first["finished_at"]
    assert {(r["service"], r["environment"], r["status"], r["kind"]) for r in rows} == {
        ("pay-api", "production", "success", "normal")}
    assert second["version"] == "v1.1"
    assert second["source"] == "git:payments tag v1.1"
    assert second["rule"] == "tag 'v1.1' matches deployments_from_tags 'v*'"
    emitted, target = tag_state(cursor.state)
    assert emitted == {"v1.0": c["c2"], "v1.1": c["c4"]} and target == "pay-api|production"
    assert cursor.state["tips"]  # the commits' cursor is still there

    again, _ = sync(GitConnector(path, deployments_from_tags="v*", service="pay-api"), cursor)
    assert again == []  # nothing new


def test_a_new_tag_ships_only_what_the_previous_tag_did_not(repo: tuple[Path, dict[str, str]]) -> None:
    path, _ = repo
    _, cursor = sync(GitConnector(path, deployments_from_tags="v*", service="pay-api"))
    c5 = commit(path, "5\n", "2025-03-10T10:00:00Z")
    git(path, "tag", "-a", "v1.2", "-m", "1.2", when="2025-03-10T22:00:00Z")
    rows, _ = sync(GitConnector(path, deployments_from_tags="v*", service="pay-api"), cursor)
    assert [(r["id"], r["commits"]) for r in rows] == [("git:payments@v1.2", [c5])]


def test_the_pattern_is_shell_style_and_case_sensitive() -> None:
    assert matches("v1.2.0", "v*") and matches("release-7", "release-*")
    assert not matches("V1.2.0", "v*") and not matches("nightly-5", "v*")


def test_the_service_comes_from_the_option_the_map_or_the_repository(tmp_path: Path) -> None:
    targets = ServiceMap((ServiceTarget("pay-api", "payments"),), frozenset({"pay-api"}))
    assert GitConnector(tmp_path / "payments", services=targets).deployment_service == "pay-api"
    assert GitConnector(tmp_path / "payments", service="x", services=targets).deployment_service == "x"
    assert GitConnector(tmp_path / "search", services=targets).deployment_service == "search"
    source = GitSource(path=tmp_path / "payments", deployments_from_tags="v*")
    built = GitConnector.from_source(source, targets)
    assert (built.deployments_from_tags, built.deployment_service) == ("v*", "pay-api")


def test_a_cursor_of_the_previous_version_emits_every_tag_and_reads_no_commit_again(
        repo: tuple[Path, dict[str, str]]) -> None:
    path, _ = repo
    _, old = sync(GitConnector(path))  # no deployments_from_tags: the cursor as before
    assert set(old.state) == {"tips", "path"}
    connector = GitConnector(path, deployments_from_tags="v*", service="pay-api")
    (scope,) = connector.scopes()
    (batch,) = list(connector.sync(scope, old))
    assert batch.records["commit"].num_rows == 0
    assert batch.records["deployment"].num_rows == 2
    # a later run without the option keeps what was emitted
    _, kept = sync(GitConnector(path), batch.cursor)
    assert tag_state(kept.state) == tag_state(batch.cursor.state)


# -- through the store: DORA, re-runs, kills ----------------------------------------------------

def with_org(settings: Settings, tmp_path: Path) -> None:
    records = org((("payments", "pay-api"),))
    records[-1]["repo"] = "payments"
    import_paths(settings, [write_jsonl(tmp_path / "org.jsonl", records)])


def ingest(settings: Settings, path: Path, **kw: object) -> GitIngestResult:
    with local_caller(settings) as c:
        return ingest_git(c, path, deployments_from_tags="v*", **kw)  # type: ignore[arg-type]


def march(settings: Settings) -> dict[str, object]:
    result = dora(settings, DoraRequest(grain="month", team=("payments",),
                                        since=date(2025, 3, 1), until=date(2025, 3, 31)))
    (row,) = result["rows"]
    return dict(row["metrics"]) | {"deployments": row["counts"]["deployments"]}


def deployments(settings: Settings) -> list[tuple[str, int]]:
    con = duckdb.connect(str(settings.db), read_only=True)
    try:
        return [(str(i), int(n)) for i, n in con.execute(
            "SELECT d.id, count(dc.sha) FROM deployment d LEFT JOIN deployment_commit dc "
            "ON dc.deployment_id = d.id GROUP BY d.id ORDER BY d.id").fetchall()]
    finally:
        con.close()


def test_dora_from_tags_by_hand(settings: Settings, tmp_path: Path,
                                repo: tuple[Path, dict[str, str]]) -> None:
    path, _ = repo
    with_org(settings, tmp_path)
    res = ingest(settings, path)  # the organisation maps repository payments to pay-api
    assert (res.deployments_read, res.deployment_service, res.unknown_service) == (2, "pay-api", False)
    m = march(settings)
    # v1.0 ships c1 (24 h before) and c2 (0 h); v1.1 ships c3 (48 h) and c4 (24 h)
    assert m["deployments"] == 2
    assert m["dora.deployment_frequency"] == pytest.approx(2 / (31 / 7))
    assert m["dora.change_lead_time"] == pytest.approx(24 * HOUR)  # median of 0, 24, 24, 48 h

    c5 = commit(path, "5\n", "2025-03-10T10:00:00Z")
    git(path, "tag", "-a", "v1.2", "-m", "1.2", when="2025-03-10T22:00:00Z")  # c5: 12 h
    c6 = commit(path, "6\n", "2025-03-11T10:00:00Z")
    git(path, "tag", "v1.3", c6)  # lightweight: at c6's time, 0 h
    again = ingest(settings, path)
    assert (again.commits_read, again.deployments_read, again.incremental) == (2, 2, True)
    assert deployments(settings) == [("git:payments@v1.0", 2), ("git:payments@v1.1", 2),
                                     ("git:payments@v1.2", 1), ("git:payments@v1.3", 1)]
    m = march(settings)
    assert m["deployments"] == 4
    assert m["dora.deployment_frequency"] == pytest.approx(4 / (31 / 7))
    assert m["dora.change_lead_time"] == pytest.approx(18 * HOUR)  # 0, 0, 12, 24, 24, 48 h
    assert c5 != c6


def test_killed_between_import_and_cursor_counts_nothing_twice(
        settings: Settings, tmp_path: Path, repo: tuple[Path, dict[str, str]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = repo
    with_org(settings, tmp_path)
    ingest(settings, path)
    before = march(settings)
    commit(path, "5\n", "2025-03-10T10:00:00Z")
    git(path, "tag", "v1.2")

    def killed(*args: object, **kw: object) -> None:
        raise KeyboardInterrupt  # the process dies after the import, before the cursor

    monkeypatch.setattr(sync_state, "put", killed)
    with pytest.raises(KeyboardInterrupt):
        ingest(settings, path)
    monkeypatch.undo()
    resumed = ingest(settings, path)
    assert resumed.deployments_read == 1  # read again (the cursor did not move) ...
    assert resumed.report.counts["deployment"].inserted == 0  # ... and already in
    assert deployments(settings) == [("git:payments@v1.0", 2), ("git:payments@v1.1", 2),
                                     ("git:payments@v1.2", 1)]
    assert march(settings)["deployments"] == before["deployments"] + 1  # type: ignore[operator]
    assert ingest(settings, path).deployments_read == 0


def test_an_unknown_service_is_quarantined_and_emitted_again_once_named(
        settings: Settings, tmp_path: Path, repo: tuple[Path, dict[str, str]]) -> None:
    path, _ = repo
    import_paths(settings, [write_jsonl(tmp_path / "org.jsonl", org((("payments", "pay-api"),)))])
    res = ingest(settings, path)  # no service is named for repository payments
    assert (res.deployment_service, res.unknown_service) == ("payments", True)
    assert res.report.counts["deployment"].quarantined == 2
    assert any("unknown service" in r for r in res.report.reasons)
    assert deployments(settings) == []

    with_org(settings, tmp_path)  # now pay-api names repository payments
    fixed = ingest(settings, path)
    assert (fixed.deployment_service, fixed.unknown_service, fixed.deployments_read) == (
        "pay-api", False, 2)
    assert [i for i, _ in deployments(settings)] == [deployment_id("payments", "v1.0"),
                                                     deployment_id("payments", "v1.1")]


def test_the_cli_says_how_to_fix_an_unknown_service(settings: Settings, tmp_path: Path,
                                                    repo: tuple[Path, dict[str, str]]) -> None:
    from click.testing import CliRunner

    from shipwise.cli.main import cli

    path, _ = repo
    out = CliRunner().invoke(cli, ["--db", str(settings.db), "ingest", "git", str(path),
                                   "--deployments-from-tags", "v*"])
    assert out.exit_code == 0, out.output
    assert "2 new deployments from tags of payments" in out.output
    assert "--service" in out.output and "organisation file" in out.output
