"""Benchmark: reading a git repository with the git connector versus ``git log --numstat``.

Usage::

    PYTHONPATH=src python bench/bench_git_ingest.py                 # build a synthetic repository
    PYTHONPATH=src python bench/bench_git_ingest.py --commits 8000  # a bigger one
    PYTHONPATH=src python bench/bench_git_ingest.py /path/to/repo   # measure a real repository

The synthetic repository is generated with ``git fast-import`` (seconds, not minutes): a few
hundred source files edited a few hunks at a time by authors in several time zones, feature
branches merged back with merge commits, file additions, deletions and moves, binary assets,
annotated and lightweight tags; it is then packed with ``git gc`` like a real clone.

Three things are timed, each the best of ``--repeat`` runs:

* ``git log --all --numstat --no-renames`` (what the connector computes; the spec's yardstick),
  and ``git log --all --numstat`` with git's default rename detection, for reference;
* ``read_repository`` reading everything (full);
* ``read_repository`` again with the previous tips as ``known`` (incremental with nothing new).

Results are printed as a small table and written to ``bench/results/git_ingest.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from shipwise.connectors.git import read_repository  # noqa: E402

RESULTS = HERE / "results" / "git_ingest.json"

# fmt: off
_WORDS = (
    "self", "value", "result", "items", "count", "index", "name", "config", "error", "return",
    "data", "node", "request", "response", "client", "server", "cache", "record", "batch",
    "store", "query", "table", "row", "column", "commit", "team", "service", "deploy",
    "incident", "metric", "window", "total", "ratio",
)
# fmt: on
_OFFSETS = ("+0000", "+0100", "+0200", "+0530", "-0500", "-0800", "+0900", "-0330")


def _line(rng: random.Random) -> str:
    indent = "    " * rng.randint(0, 3)
    n = rng.randint(1, 8)
    return indent + " ".join(rng.choice(_WORDS) for _ in range(n))


def _edit(rng: random.Random, lines: list[str]) -> list[str]:
    """A realistic edit: one to four hunks, each inserting, deleting or rewriting a few lines."""
    out = list(lines)
    for _ in range(rng.randint(1, 4)):
        at = rng.randint(0, len(out))
        kind = rng.random()
        if kind < 0.4 or not out:
            out[at:at] = [_line(rng) for _ in range(rng.randint(1, 12))]
        elif kind < 0.7:
            del out[at : at + rng.randint(1, 6)]
        else:
            n = rng.randint(1, 5)
            out[at : at + n] = [_line(rng) for _ in range(rng.randint(1, 6))]
    return out


class _Emitter:
    """Writes a ``git fast-import`` stream."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.parts: list[bytes] = []
        self.mark = 0
        self.clock = 1_640_995_200  # 2022-01-01T00:00:00Z
        self.people = [(f"Dev {i}", f"dev{i}@example.com", rng.choice(_OFFSETS)) for i in range(40)]

    def data(self, payload: bytes) -> None:
        self.parts.append(b"data %d\n" % len(payload) + payload + b"\n")

    def commit(
        self,
        ref: str,
        changes: dict[str, bytes | None],
        parents: list[int],
        message: str,
    ) -> int:
        rng = self.rng
        self.mark += 1
        self.clock += rng.randint(300, 6 * 3600)
        name, email, tz = rng.choice(self.people)
        cname, cemail, ctz = (name, email, tz) if rng.random() < 0.8 else rng.choice(self.people)
        committed = self.clock + rng.randint(0, 3 * 86400) * (rng.random() < 0.2)
        head = (
            f"commit {ref}\nmark :{self.mark}\n"
            f"author {name} <{email}> {self.clock} {tz}\n"
            f"committer {cname} <{cemail}> {committed} {ctz}\n"
        )
        self.parts.append(head.encode())
        self.data(message.encode())
        if parents:
            self.parts.append(b"from :%d\n" % parents[0])
            for p in parents[1:]:
                self.parts.append(b"merge :%d\n" % p)
        for path, content in changes.items():
            if content is None:
                self.parts.append(f"D {path}\n".encode())
            else:
                self.parts.append(f"M 100644 inline {path}\n".encode())
                self.data(content)
        self.parts.append(b"\n")
        return self.mark

    def tag(self, name: str, mark: int, annotated: bool) -> None:
        if annotated:
            pname, email, tz = self.rng.choice(self.people)
            self.parts.append(
                f"tag {name}\nfrom :{mark}\ntagger {pname} <{email}> {self.clock} {tz}\n".encode()
            )
            self.data(f"Release {name}\n".encode())
        else:
            self.parts.append(f"reset refs/tags/{name}\nfrom :{mark}\n\n".encode())

    def stream(self) -> bytes:
        return b"".join(self.parts) + b"done\n"


def build_repository(path: Path, commits: int, seed: int = 7) -> None:
    """Generate a repository of about ``commits`` commits at ``path`` with ``git fast-import``."""
    rng = random.Random(seed)
    em = _Emitter(rng)
    files: dict[str, list[str]] = {}
    binaries: dict[str, bytes] = {}

    def text(lines: list[str]) -> bytes:
        return ("\n".join(lines) + "\n").encode()

    # Initial import: 300 source files of 30-400 lines, a few binary assets.
    initial: dict[str, bytes | None] = {}
    for i in range(300):
        p = f"src/mod{i % 12}/file{i}.py"
        files[p] = [_line(rng) for _ in range(rng.randint(30, 400))]
        initial[p] = text(files[p])
    for i in range(10):
        p = f"assets/img{i}.bin"
        binaries[p] = rng.randbytes(rng.randint(2_000, 20_000))
        initial[p] = binaries[p]
    main_tip = em.commit("refs/heads/main", initial, [], "Initial import\n")

    def change(state: dict[str, list[str]], bins: dict[str, bytes]) -> dict[str, bytes | None]:
        out: dict[str, bytes | None] = {}
        r = rng.random()
        if r < 0.04 and len(state) > 50:  # delete a file
            p = rng.choice(sorted(state))
            del state[p]
            out[p] = None
        elif r < 0.07:  # add a file
            p = f"src/mod{rng.randint(0, 15)}/new{em.mark}.py"
            state[p] = [_line(rng) for _ in range(rng.randint(5, 120))]
            out[p] = text(state[p])
        elif r < 0.09 and len(state) > 50:  # move a file (and touch it a little)
            old = rng.choice(sorted(state))
            new = old.replace(".py", f"_m{em.mark}.py")
            state[new] = _edit(rng, state.pop(old)) if rng.random() < 0.5 else state.pop(old)
            out[old] = None
            out[new] = text(state[new])
        elif r < 0.11 and bins:  # replace a binary asset
            p = rng.choice(sorted(bins))
            bins[p] = rng.randbytes(rng.randint(2_000, 20_000))
            out[p] = bins[p]
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4, 6))):
            p = rng.choice(sorted(state))
            state[p] = _edit(rng, state[p])
            out[p] = text(state[p])
        return out

    made = 1
    feature_no = 0
    deleted: list[str] = []
    next_tag = 100
    while made < commits:
        if rng.random() < 0.15 and commits - made > 20:
            # A feature branch of 2-12 commits, interleaved with main, merged back --no-ff.
            feature_no += 1
            ref = f"refs/heads/feature/f{feature_no}"
            f_state = dict(files)
            f_bins = dict(binaries)
            f_tip = main_tip
            touched: dict[str, bytes | None] = {}
            for _ in range(rng.randint(2, 12)):
                ch = change(f_state, f_bins)
                touched.update(ch)
                f_tip = em.commit(ref, ch, [f_tip], f"Feature {feature_no}: step\n")
                made += 1
                if rng.random() < 0.5:
                    # main moves on, away from the feature's files
                    ch = change(files, binaries)
                    for p in list(ch):
                        if p in touched:
                            del ch[p]
                    if ch:
                        main_tip = em.commit("refs/heads/main", ch, [main_tip], "Main work\n")
                        made += 1
            # merge: the feature's versions of the files it touched
            for p, content in touched.items():
                if content is None:
                    files.pop(p, None)
                    binaries.pop(p, None)
                elif p in f_bins:
                    binaries[p] = f_bins[p]
                else:
                    files[p] = f_state[p]
            main_tip = em.commit(
                "refs/heads/main", touched, [main_tip, f_tip], f"Merge feature {feature_no}\n"
            )
            made += 1
            if rng.random() < 0.7:  # most merged branches get deleted
                deleted.append(ref)
        else:
            main_tip = em.commit("refs/heads/main", change(files, binaries), [main_tip], "Work\n")
            made += 1
        if made >= next_tag:
            em.tag(f"v{next_tag // 100}.0", main_tip, annotated=rng.random() < 0.7)
            next_tag += 100

    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True)
    subprocess.run(
        ["git", "-C", str(path), "fast-import", "--quiet"], input=em.stream(), check=True
    )
    subprocess.run(["git", "-C", str(path), "symbolic-ref", "HEAD", "refs/heads/main"], check=True)
    deletions = "".join(f"delete {ref}\n" for ref in deleted).encode()
    subprocess.run(["git", "-C", str(path), "update-ref", "--stdin"], input=deletions, check=True)
    subprocess.run(["git", "-C", str(path), "gc", "-q"], check=True)


def _best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best = float("inf")
    result: Any = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def _git_log(path: Path, *extra: str) -> bytes:
    fmt = "--format=@%H%x09%ae%x09%at%x09%ct%x09%P"
    cmd = ["git", "-C", str(path), "log", "--all", "--numstat", fmt, *extra]
    return subprocess.run(cmd, check=True, capture_output=True).stdout


def _numstat_totals(out: bytes) -> tuple[int, int, int, int]:
    commits = additions = deletions = files = 0
    for line in out.splitlines():
        if line.startswith(b"@"):
            commits += 1
        elif line:
            a, d, _ = line.split(b"\t", 2)
            additions += 0 if a == b"-" else int(a)
            deletions += 0 if d == b"-" else int(d)
            files += 1
    return commits, additions, deletions, files


def _time_ingest(path: Path, repeat: int) -> tuple[float, float]:
    """The whole ingest (read, pseudonymise, upsert into DuckDB, cursor): new store, then again."""
    from shipwise.app.context import init_store
    from shipwise.app.owner import ingest_git
    from shipwise.config import Settings

    full, again = [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="shipwise-bench-ingest-") as tmp:
            settings = Settings(db=Path(tmp) / "s.duckdb", key_file=Path(tmp) / "k")
            init_store(settings)
            t0 = time.perf_counter()
            first = ingest_git(settings, path, "bench")
            full.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            second = ingest_git(settings, path, "bench")
            again.append(time.perf_counter() - t0)
            if first.report.counts["commit"].inserted != first.commits_read or second.commits_read:
                raise SystemExit("ingest did not store every commit, or re-read old ones")
    return min(full), min(again)


def run(path: Path, repeat: int) -> dict[str, Any]:
    import pyarrow.compute as pc
    import pygit2

    t_git, out = _best(lambda: _git_log(path, "--no-renames"), repeat)
    t_git_renames, _ = _best(lambda: _git_log(path), repeat)
    t_full, batch = _best(lambda: read_repository(path, "bench"), repeat)
    tips = list(batch.tips.values())
    t_noop, noop = _best(lambda: read_repository(path, "bench", known=tips), repeat)
    t_ingest, t_reingest = _time_ingest(path, repeat)

    git_commits, git_add, git_del, git_files = _numstat_totals(out)
    ours = (
        batch.commits.num_rows,
        pc.sum(batch.commits["additions"]).as_py() or 0,
        pc.sum(batch.commits["deletions"]).as_py() or 0,
        pc.sum(batch.commits["files_changed"]).as_py() or 0,
    )
    if ours != (git_commits, git_add, git_del, git_files) or noop.commits.num_rows:
        raise SystemExit(
            f"mismatch with git log --numstat: {ours} != {(git_commits, git_add, git_del, git_files)}"
        )

    merges = sum(1 for p in batch.commits["parents"].to_pylist() if len(p) > 1)
    return {
        "repository": str(path),
        "commits": batch.commits.num_rows,
        "merges": merges,
        "tags": batch.tags.num_rows,
        "refs": len(batch.tips),
        "additions": ours[1],
        "deletions": ours[2],
        "files_changed": ours[3],
        "repeat": repeat,
        "seconds": {
            "git_log_numstat_no_renames": round(t_git, 4),
            "git_log_numstat_default": round(t_git_renames, 4),
            "read_repository_full": round(t_full, 4),
            "read_repository_noop": round(t_noop, 4),
            "ingest_git_full": round(t_ingest, 4),
            "ingest_git_nothing_new": round(t_reingest, 4),
        },
        "ratio_ingest_to_git_log": round(t_ingest / t_git, 2),
        "ratio_full_to_git_log": round(t_full / t_git, 2),
        "ratio_full_to_git_log_default": round(t_full / t_git_renames, 2),
        "commits_per_second": round(batch.commits.num_rows / t_full),
        "environment": {
            "python": platform.python_version(),
            "pygit2": pygit2.__version__,
            "libgit2": pygit2.LIBGIT2_VERSION,
            "git": subprocess.run(
                ["git", "--version"], capture_output=True, text=True
            ).stdout.strip(),
            "cpus": os.cpu_count(),
            "machine": platform.machine(),
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _print(result: dict[str, Any]) -> None:
    s = result["seconds"]
    n = result["commits"]
    print(f"{result['repository']}: {n} commits ({result['merges']} merges), {result['refs']} refs")
    print(f"{'what':<44}{'seconds':>10}{'vs git log':>12}")
    base = s["git_log_numstat_no_renames"]
    for label, key in (
        ("git log --all --numstat --no-renames", "git_log_numstat_no_renames"),
        ("git log --all --numstat (rename detection)", "git_log_numstat_default"),
        ("read_repository, full", "read_repository_full"),
        ("read_repository, nothing new (known tips)", "read_repository_noop"),
        ("shipwise ingest git into a new store", "ingest_git_full"),
        ("shipwise ingest git again, nothing new", "ingest_git_nothing_new"),
    ):
        print(f"{label:<44}{s[key]:>10.3f}{s[key] / base:>11.2f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repository", nargs="?", type=Path, help="measure this repository")
    parser.add_argument(
        "--commits", type=int, default=5000, help="size of the synthetic repository"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best kept)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="shipwise-bench-git-") as tmp:
        if args.repository is None:
            path = Path(tmp) / "synthetic.git"
            start = time.perf_counter()
            build_repository(path, args.commits, args.seed)
            print(
                f"built {args.commits} commits with git fast-import in {time.perf_counter() - start:.1f}s"
            )
        else:
            path = args.repository
        result = run(path, args.repeat)
        if args.repository is None:
            result["repository"] = f"synthetic ({args.commits} commits, seed {args.seed})"
    _print(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"results written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
