"""The git connector against real repositories made with the git CLI."""

from __future__ import annotations

import importlib.util
import os
import subprocess
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pytest

from shipwise.connectors.git import COMMIT_SCHEMA, TAG_SCHEMA, GitBatch, read_repository
from shipwise.connectors.git import connector as connector_module
from shipwise.connectors.git.mapping import (
    epoch_micros,
    git_local_time,
    git_time_to_utc,
    person_id,
)
from shipwise.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATE = "2025-03-01T10:00:00+02:00"


# --------------------------------------------------------------------------- helpers


def _env(tmp_home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") and k not in {"HOME"}}
    env.update(
        HOME=str(tmp_home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_AUTHOR_NAME="Ada",
        GIT_AUTHOR_EMAIL="ada@example.com",
        GIT_COMMITTER_NAME="Ada",
        GIT_COMMITTER_EMAIL="ada@example.com",
        GIT_AUTHOR_DATE=DEFAULT_DATE,
        GIT_COMMITTER_DATE=DEFAULT_DATE,
    )
    env.update(extra)
    return env


class Repo:
    """A scratch repository driven through the git CLI."""

    def __init__(self, path: Path, *, bare: bool = False) -> None:
        self.path = path
        self.home = path.parent / (path.name + "-home")
        self.home.mkdir(parents=True, exist_ok=True)
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main", *(["--bare"] if bare else []))

    def git(self, *args: str, input: bytes | None = None, **env: str) -> str:
        out = subprocess.run(
            ["git", "-C", str(self.path), *args],
            input=input,
            env=_env(self.home, **env),
            check=True,
            capture_output=True,
        )
        return out.stdout.decode().strip()

    def commit(
        self,
        files: Mapping[str, str | bytes | None] | None = None,
        message: str = "change",
        *,
        date: str = DEFAULT_DATE,
        committer_date: str | None = None,
        email: str = "ada@example.com",
        name: str = "Ada",
    ) -> str:
        for rel, content in (files or {}).items():
            target = self.path / rel
            if content is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
        self.git("add", "-A")
        self.git(
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            message,
            GIT_AUTHOR_DATE=date,
            GIT_COMMITTER_DATE=committer_date or date,
            GIT_AUTHOR_EMAIL=email,
            GIT_AUTHOR_NAME=name,
        )
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def numstat(self) -> dict[str, tuple[int, int, int]]:
        """sha -> (additions, deletions, files) as ``git log --all --numstat --no-renames`` says."""
        out = self.git("log", "--all", "--numstat", "--no-renames", "--format=@%H")
        stats: dict[str, tuple[int, int, int]] = {}
        sha = ""
        for line in out.splitlines():
            if line.startswith("@"):
                sha = line[1:]
                stats[sha] = (0, 0, 0)
            elif line.strip():
                added, deleted, _path = line.split("\t", 2)
                a, d, f = stats[sha]
                stats[sha] = (
                    a + (0 if added == "-" else int(added)),
                    d + (0 if deleted == "-" else int(deleted)),
                    f + 1,
                )
        return stats


def lines(n: int, word: str = "line") -> str:
    return "".join(f"{word} {i}\n" for i in range(n))


def rows(batch: GitBatch) -> dict[str, dict[str, object]]:
    return {r["sha"]: r for r in batch.commits.to_pylist()}


def counts(batch: GitBatch) -> dict[str, tuple[int, int, int]]:
    return {
        r["sha"]: (r["additions"], r["deletions"], r["files_changed"])
        for r in batch.commits.to_pylist()
    }


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo")


# --------------------------------------------------------------------------- mapping


def _epoch(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp())


@pytest.mark.parametrize(
    ("time", "offset", "expected"),
    [
        (0, 0, datetime(1970, 1, 1, tzinfo=UTC)),
        (_epoch("2025-03-01T10:00:00+02:00"), 120, datetime(2025, 3, 1, 8, 0, tzinfo=UTC)),
        (_epoch("2025-03-01T10:00:00-05:00"), -300, datetime(2025, 3, 1, 15, 0, tzinfo=UTC)),
        (_epoch("2025-03-01T00:15:00+05:30"), 330, datetime(2025, 2, 28, 18, 45, tzinfo=UTC)),
        (_epoch("2025-03-01T23:30:00-03:30"), -210, datetime(2025, 3, 2, 3, 0, tzinfo=UTC)),
        (_epoch("2025-01-01T12:00:00+14:00"), 840, datetime(2024, 12, 31, 22, 0, tzinfo=UTC)),
        (-86_400, 60, datetime(1969, 12, 31, tzinfo=UTC)),
        # the offset never moves the instant, even a bogus one git would accept
        (1_740_816_000, 99 * 60 + 99, datetime(2025, 3, 1, 8, 0, tzinfo=UTC)),
        (253_402_300_799, 0, datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        (253_402_300_800, 0, None),
        (-62_135_596_801, 0, None),
        (2**62, 0, None),
    ],
)
def test_git_time_to_utc(time: int, offset: int, expected: datetime | None) -> None:
    got = git_time_to_utc(time, offset)
    assert got == expected
    if got is not None:
        assert got.utcoffset() == timedelta(0)
        assert epoch_micros(time) == time * 1_000_000
    else:
        assert epoch_micros(time) is None


@pytest.mark.parametrize(
    ("time", "offset", "expected"),
    [
        (1_740_816_000, 120, "2025-03-01T10:00:00+02:00"),
        (1_740_816_000, -330, "2025-03-01T02:30:00-05:30"),
        (1_740_816_000, 0, "2025-03-01T08:00:00+00:00"),
        (1_740_816_000, 24 * 60, "2025-03-01T08:00:00+00:00"),  # bogus offset: shown in UTC
    ],
)
def test_git_local_time(time: int, offset: int, expected: str) -> None:
    local = git_local_time(time, offset)
    assert local is not None
    assert local.isoformat() == expected
    assert local == git_time_to_utc(time, offset)


@pytest.mark.parametrize(
    ("name", "email", "expected"),
    [
        ("Ada", "ada@example.com", "ada@example.com"),
        ("Ada", "Ada@Example.COM", "Ada@Example.COM"),  # raw: the importer normalises
        ("Ada", "", "Ada"),
        ("Ada", "  ", "Ada"),
        ("", "", None),
        (None, None, None),
    ],
)
def test_person_id(name: str | None, email: str | None, expected: str | None) -> None:
    assert person_id(name, email) == expected


# --------------------------------------------------------------------------- commits


def test_schemas_are_the_canonical_commit_columns(repo: Repo) -> None:
    repo.commit({"a.txt": "a\n"})
    batch = read_repository(repo.path, "acme/api")
    assert batch.commits.column_names == [
        "sha",
        "repo",
        "author",
        "authored_at",
        "committed_at",
        "additions",
        "deletions",
        "files_changed",
        "parents",
        "author_kind",
        "agent",
    ]
    assert batch.commits.schema == COMMIT_SCHEMA
    assert batch.commits.schema.field("authored_at").type == pa.timestamp("us", tz="UTC")
    assert batch.commits.schema.field("parents").type == pa.list_(pa.string())
    assert batch.tags.schema == TAG_SCHEMA
    assert batch.tags.column_names == ["repo", "name", "sha", "tagged_at", "tagger"]


def test_known_line_counts_are_read_exactly(repo: Repo) -> None:
    root = repo.commit({"a.txt": lines(10), "b.txt": lines(3)}, "root")
    edit = repo.commit({"a.txt": lines(10).replace("line 4\n", "changed 4\nnew\n")}, "edit")
    delete = repo.commit({"b.txt": None}, "delete")
    binary = repo.commit({"logo.png": bytes(range(256)) * 4}, "binary")
    binary_edit = repo.commit({"logo.png": bytes(range(255, -1, -1)) * 4}, "binary edit")
    move = repo.commit({"a.txt": None, "docs/a.txt": lines(10)}, "move")
    (repo.path / "docs" / "a.txt").chmod(0o755)
    mode = repo.commit(message="mode only")
    no_newline = repo.commit({"c.txt": "x\ny"}, "no final newline")
    empty = repo.commit(message="empty")

    got = counts(read_repository(repo.path, "r"))
    assert got == {
        root: (13, 0, 2),
        edit: (2, 1, 1),
        delete: (0, 3, 1),
        binary: (0, 0, 1),
        binary_edit: (0, 0, 1),
        move: (10, 11, 2),  # no rename detection: 11 lines deleted, 10 added
        mode: (0, 0, 1),
        no_newline: (2, 0, 1),
        empty: (0, 0, 0),
    }
    assert got == repo.numstat()


def test_root_commit_is_diffed_against_the_empty_tree(repo: Repo) -> None:
    root = repo.commit({"a.txt": lines(7), "dir/b.txt": lines(2), "bin": b"\x00\x01"})
    batch = read_repository(repo.path, "r")
    (row,) = batch.commits.to_pylist()
    assert row["sha"] == root
    assert row["parents"] == []
    assert (row["additions"], row["deletions"], row["files_changed"]) == (9, 0, 3)


def test_merges_count_nothing_and_keep_parents_in_order(repo: Repo) -> None:
    base = repo.commit({"a.txt": lines(5), "b.txt": lines(5)}, "base")
    repo.git("checkout", "-q", "-b", "feature")
    f1 = repo.commit({"b.txt": lines(5) + "feature 1\n"}, "f1")
    f2 = repo.commit({"c.txt": lines(4)}, "f2")
    repo.git("checkout", "-q", "main")
    m1 = repo.commit({"a.txt": "top\n" + lines(5)}, "m1")
    repo.git("merge", "-q", "--no-ff", "-m", "merge feature", "feature")
    merge = repo.head()

    batch = read_repository(repo.path, "r")
    by_sha = rows(batch)
    assert set(by_sha) == {base, f1, f2, m1, merge}
    assert by_sha[merge]["parents"] == [m1, f2]
    assert (by_sha[merge]["additions"], by_sha[merge]["deletions"]) == (0, 0)
    assert by_sha[merge]["files_changed"] == 0
    assert by_sha[f2]["parents"] == [f1]
    # merged work is counted once, on the branch commits, exactly as git log --numstat does
    assert counts(batch) == repo.numstat()
    assert sum(c[0] for c in counts(batch).values()) == 10 + 1 + 4 + 1


def test_octopus_merge_and_second_root(repo: Repo) -> None:
    base = repo.commit({"a.txt": "a\n"})
    for name in ("x", "y"):
        repo.git("checkout", "-q", "-b", name, base)
        repo.commit({f"{name}.txt": f"{name}\n"}, name)
    repo.git("checkout", "-q", "--orphan", "pages")
    repo.git("rm", "-rq", "--cached", ".")
    for p in ("a.txt", "y.txt"):
        (repo.path / p).unlink()
    pages = repo.commit({"index.html": lines(3)}, "pages root")
    repo.git("checkout", "-q", "-f", "main")
    repo.git("merge", "-q", "--no-ff", "-m", "octopus", "x", "y")
    octopus = repo.head()

    by_sha = rows(read_repository(repo.path, "r"))
    assert len(by_sha) == 5
    assert len(by_sha[octopus]["parents"]) == 3  # type: ignore[arg-type]
    assert (by_sha[octopus]["additions"], by_sha[octopus]["files_changed"]) == (0, 0)
    assert (by_sha[pages]["additions"], by_sha[pages]["parents"]) == (3, [])
    assert counts(read_repository(repo.path, "r")) == repo.numstat()


def test_instants_are_converted_to_utc_and_author_is_the_email(repo: Repo) -> None:
    sha = repo.commit(
        {"a.txt": "a\n"},
        date="2025-03-01T10:00:00+02:00",
        committer_date="2025-03-01T12:30:00-05:30",
        email="grace@example.org",
        name="Grace",
    )
    row = rows(read_repository(repo.path, "acme/api"))[sha]
    assert row["repo"] == "acme/api"
    assert row["author"] == "grace@example.org"
    assert row["authored_at"] == datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
    assert row["committed_at"] == datetime(2025, 3, 1, 18, 0, tzinfo=UTC)
    assert row["authored_at"] == datetime(2025, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))


def test_author_without_email_falls_back_to_name(repo: Repo) -> None:
    tree = repo.git("mktree", input=b"")
    raw = (
        f"tree {tree}\n"
        "author Nobody <> 1740816000 +0200\n"
        "committer Nobody <> 1740816000 +0200\n\nno email\n"
    )
    sha = repo.git("hash-object", "-t", "commit", "-w", "--stdin", input=raw.encode())
    repo.git("update-ref", "refs/heads/main", sha)
    (row,) = read_repository(repo.path, "r").commits.to_pylist()
    assert row["author"] == "Nobody"
    assert row["authored_at"] == datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def test_corrupt_dates_become_null_and_tags_may_lack_a_tagger(repo: Repo) -> None:
    tree = repo.git("mktree", input=b"")
    raw = (
        f"tree {tree}\n"
        "author Far Future <ff@example.com> 99999999999999 +0200\n"
        "committer Ada <ada@example.com> 1740816000 -0000\n\nforged date\n"
    )
    sha = repo.git(
        "hash-object", "-t", "commit", "-w", "--stdin", "--literally", input=raw.encode()
    )
    repo.git("update-ref", "refs/heads/main", sha)
    old_style = f"object {sha}\ntype commit\ntag ancient\n\nno tagger line\n"
    tag = repo.git(
        "hash-object", "-t", "tag", "-w", "--stdin", "--literally", input=old_style.encode()
    )
    repo.git("update-ref", "refs/tags/ancient", tag)

    batch = read_repository(repo.path, "r")
    (row,) = batch.commits.to_pylist()
    assert row["authored_at"] is None  # the importer quarantines it
    assert row["committed_at"] == datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
    (tag_row,) = batch.tags.to_pylist()
    assert (tag_row["name"], tag_row["sha"], tag_row["tagger"]) == ("ancient", sha, None)


def test_progress_is_reported(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(5):
        repo.commit({"a.txt": lines(i + 1)}, f"c{i}")
    monkeypatch.setattr(connector_module, "PROGRESS_EVERY", 2)
    seen: list[int] = []
    read_repository(repo.path, "r", progress=seen.append)
    assert seen == [2, 4, 5]


# --------------------------------------------------------------------------- tags


def test_annotated_and_lightweight_tags(repo: Repo) -> None:
    first = repo.commit({"a.txt": "a\n"}, "first")
    second = repo.commit({"a.txt": "b\n"}, "second")
    repo.git(
        "tag",
        "-a",
        "v1.0",
        first,
        "-m",
        "release",
        GIT_COMMITTER_DATE="2025-04-01T09:00:00-07:00",
        GIT_COMMITTER_EMAIL="rm@example.com",
    )
    repo.git("tag", "light", second)
    repo.git("tag", "-a", "nested", "v1.0", "-m", "tag of a tag")  # peels to `first`
    repo.git("tag", "tree-tag", "HEAD^{tree}")  # names no commit: not a tag of the history

    batch = read_repository(repo.path, "acme/api")
    tags = {t["name"]: t for t in batch.tags.to_pylist()}
    assert set(tags) == {"v1.0", "light", "nested"}
    assert tags["v1.0"] == {
        "repo": "acme/api",
        "name": "v1.0",
        "sha": first,
        "tagged_at": datetime(2025, 4, 1, 16, 0, tzinfo=UTC),
        "tagger": "rm@example.com",
    }
    assert tags["light"]["sha"] == second
    assert tags["light"]["tagged_at"] is None and tags["light"]["tagger"] is None
    assert tags["nested"]["sha"] == first
    assert batch.tips["refs/tags/v1.0"] == first
    assert batch.tips["refs/tags/light"] == second
    assert "refs/tags/tree-tag" not in batch.tips


def test_commits_reachable_only_from_a_tag_are_read(repo: Repo) -> None:
    repo.commit({"a.txt": "a\n"})
    repo.git("checkout", "-q", "-b", "release")
    only_tagged = repo.commit({"a.txt": "hotfix\n"}, "hotfix")
    repo.git("tag", "-a", "v0.1.1", "-m", "hotfix release")
    repo.git("checkout", "-q", "main")
    repo.git("branch", "-D", "release")
    assert only_tagged in rows(read_repository(repo.path, "r"))


# --------------------------------------------------------------------------- incremental


def test_rerun_with_known_tips_reads_nothing_then_only_what_is_new(repo: Repo) -> None:
    repo.commit({"a.txt": lines(3)})
    repo.commit({"a.txt": lines(4)})
    first = read_repository(repo.path, "r")
    assert first.commits.num_rows == 2

    again = read_repository(repo.path, "r", known=first.tips.values())
    assert again.commits.num_rows == 0
    assert again.commits.schema == COMMIT_SCHEMA
    assert again.tips == first.tips

    new = repo.commit({"a.txt": lines(6)}, date="2025-03-02T10:00:00+02:00")
    third = read_repository(repo.path, "r", known=again.tips.values())
    assert third.commits.column("sha").to_pylist() == [new]
    assert counts(third)[new] == (2, 0, 1)
    assert third.tips == {"refs/heads/main": new}


def test_new_branch_and_merge_after_a_previous_run(repo: Repo) -> None:
    repo.commit({"a.txt": "a\n"})
    before = read_repository(repo.path, "r")
    repo.git("checkout", "-q", "-b", "feature")
    f = repo.commit({"b.txt": "b\n"})
    repo.git("checkout", "-q", "main")
    m = repo.commit({"c.txt": "c\n"})
    mid = read_repository(repo.path, "r", known=before.tips.values())
    assert set(mid.commits.column("sha").to_pylist()) == {f, m}
    repo.git("merge", "-q", "--no-ff", "-m", "merge", "feature")
    merge = repo.head()
    after = read_repository(repo.path, "r", known=mid.tips.values())
    assert after.commits.column("sha").to_pylist() == [merge]


def test_branch_created_then_deleted(repo: Repo) -> None:
    base = repo.commit({"a.txt": "a\n"})
    repo.git("checkout", "-q", "-b", "spike")
    spike = repo.commit({"spike.txt": "s\n"}, "spike")
    repo.git("checkout", "-q", "main")
    first = read_repository(repo.path, "r")
    assert set(rows(first)) == {base, spike}
    assert first.tips["refs/heads/spike"] == spike

    repo.git("branch", "-D", "spike")
    new = repo.commit({"a.txt": "b\n"})
    second = read_repository(repo.path, "r", known=first.tips.values())
    assert second.commits.column("sha").to_pylist() == [new]
    assert second.tips == {"refs/heads/main": new}

    # a branch deleted before any run was never reachable: a fresh read does not see it
    repo.git("checkout", "-q", "-b", "gone")
    gone = repo.commit({"gone.txt": "g\n"})
    repo.git("checkout", "-q", "main")
    repo.git("branch", "-D", "gone")
    assert gone not in rows(read_repository(repo.path, "r"))


def test_rewritten_history_and_unknown_known_shas(repo: Repo) -> None:
    repo.commit({"a.txt": "a\n"})
    old = repo.commit({"a.txt": "b\n"}, "to be amended")
    first = read_repository(repo.path, "r")
    repo.git("commit", "-q", "--amend", "-m", "amended", GIT_COMMITTER_DATE="2025-03-05T10:00:00Z")
    amended = repo.head()
    assert amended != old
    known = [*first.tips.values(), "0" * 40, "not-a-sha", old[:7], ""]
    second = read_repository(repo.path, "r", known=known)
    assert second.commits.column("sha").to_pylist() == [amended]


def test_detached_head_is_walked(repo: Repo) -> None:
    repo.commit({"a.txt": "a\n"})
    repo.git("checkout", "-q", "--detach")
    detached = repo.commit({"a.txt": "detached\n"})
    batch = read_repository(repo.path, "r")
    assert detached in rows(batch)
    assert batch.tips["HEAD"] == detached


def test_remote_tracking_branches_and_bare_clones(repo: Repo, tmp_path: Path) -> None:
    repo.commit({"a.txt": "a\n"})
    repo.git("checkout", "-q", "-b", "topic")
    topic = repo.commit({"t.txt": "t\n"})
    repo.git("checkout", "-q", "main")

    clone = Repo(tmp_path / "clone")
    clone.git("remote", "add", "origin", str(repo.path))
    clone.git("fetch", "-q", "origin")
    clone.git("remote", "set-head", "origin", "main")  # a symbolic ref: followed, not listed
    batch = read_repository(clone.path, "r")
    assert topic in rows(batch)
    assert set(batch.tips) == {"refs/remotes/origin/main", "refs/remotes/origin/topic"}

    bare = tmp_path / "bare.git"
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(repo.path), str(bare)],
        check=True,
        env=_env(repo.home),
    )
    assert set(rows(read_repository(bare, "r"))) == set(rows(read_repository(repo.path, "r")))


def test_empty_repository(repo: Repo) -> None:
    batch = read_repository(repo.path, "r")
    assert batch.commits.num_rows == 0 and batch.tags.num_rows == 0
    assert batch.commits.schema == COMMIT_SCHEMA
    assert batch.tips == {}


# --------------------------------------------------------------------------- errors


def test_not_a_repository(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(InputError, match="not a git repository") as info:
        read_repository(plain, "r")
    assert info.value.hint

    with pytest.raises(InputError, match="does not exist"):
        read_repository(tmp_path / "missing", "r")

    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(InputError):
        read_repository(tmp_path / "file.txt", "r")


def test_a_directory_inside_a_repository_is_not_that_repository(repo: Repo) -> None:
    repo.commit({"sub/a.txt": "a\n"})
    with pytest.raises(InputError, match="not a git repository"):
        read_repository(repo.path / "sub", "r")
    assert read_repository(repo.path / ".git", "r").commits.num_rows == 1


# --------------------------------------------------------------------------- at scale


def _load_bench() -> object:
    spec = importlib.util.spec_from_file_location(
        "bench_git_ingest", ROOT / "bench" / "bench_git_ingest.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_synthetic_history_matches_git_numstat(tmp_path: Path) -> None:
    """Hundreds of commits with moves, deletions, binaries, merges and deleted branches."""
    bench = _load_bench()
    path = tmp_path / "synthetic.git"
    bench.build_repository(path, 300, seed=3)  # type: ignore[attr-defined]
    batch = read_repository(path, "r")
    expected = Repo.__new__(Repo)
    expected.path, expected.home = path, tmp_path
    assert counts(batch) == expected.numstat()
    assert batch.commits.num_rows == 300
    merges = [r for r in batch.commits.to_pylist() if len(r["parents"]) > 1]
    assert merges and all(r["additions"] == r["deletions"] == 0 for r in merges)
    tag_refs = expected.git("for-each-ref", "--format=%(refname:short)", "refs/tags").split()
    assert sorted(batch.tags.column("name").to_pylist()) == sorted(tag_refs)
