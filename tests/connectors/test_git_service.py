"""`shipwise ingest git` through the application layer: store cursor, pseudonyms, tags."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import duckdb

from shipwise.app.owner import ingest_git
from shipwise.config import Settings


def git(repo: Path, *args: str, when: str = "2025-03-01T10:00:00+02:00") -> None:
    env = {**os.environ, "GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when,
           "GIT_AUTHOR_NAME": "Ana", "GIT_AUTHOR_EMAIL": "ana@example.com",
           "GIT_COMMITTER_NAME": "Ana", "GIT_COMMITTER_EMAIL": "ana@example.com"}
    subprocess.run(["git", "-C", str(repo), *args], check=True, env=env, capture_output=True)


def commit(repo: Path, name: str, text: str, when: str = "2025-03-01T10:00:00+02:00") -> None:
    (repo / name).write_text(text)
    git(repo, "add", name)
    git(repo, "commit", "-qm", f"edit {name}", when=when)


def test_git_ingest_is_incremental_through_the_store(settings: Settings, tmp_path: Path) -> None:
    repo = tmp_path / "payments"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "a.txt", "1\n2\n3\n")
    commit(repo, "a.txt", "1\n2\n", when="2025-03-02T10:00:00+02:00")
    git(repo, "tag", "-a", "v1.0", "-m", "release")

    first = ingest_git(settings, repo)
    assert (first.repo, first.commits_read, first.tags_read, first.incremental) == ("payments", 2, 1, False)
    assert first.report.counts["commit"].inserted == 2

    again = ingest_git(settings, repo)
    assert again.commits_read == 0 and again.incremental  # nothing new: almost no work
    assert "commit" not in again.report.counts or again.report.counts["commit"].inserted == 0

    commit(repo, "b.txt", "x\n", when="2025-03-03T10:00:00Z")
    third = ingest_git(settings, repo)
    assert third.commits_read == 1 and third.report.counts["commit"].inserted == 1

    con = duckdb.connect(str(settings.db), read_only=True)
    rows = con.execute('SELECT author, additions, deletions, committed_at FROM "commit" ORDER BY committed_at').fetchall()
    assert [(a, d) for _, a, d, _ in rows] == [(3, 0), (0, 1), (1, 0)]
    assert {r[0] for r in rows} == {rows[0][0]} and rows[0][0].startswith("p_")  # pseudonymised
    assert str(rows[0][3]) == "2025-03-01 08:00:00"  # UTC
    assert con.execute("SELECT repo, name FROM tag").fetchall() == [("payments", "v1.0")]
    con.close()
    assert b"ana@example.com" not in settings.db.read_bytes()
