"""`shipwise sync` killed with SIGKILL half-way resumes where it stopped and counts nothing twice:
the store afterwards equals the store of a sync that was never interrupted."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
import yaml

from shipwise.app.context import init_store
from shipwise.app.owner import import_paths
from shipwise.config import load_settings
from tests.conftest import cli_env
from tests.fakes.github import FakeGitHub, World, org_file

pytestmark = pytest.mark.slow

TABLES = ("commit", "pull_request", "pull_request_commit", "deployment", "deployment_commit")


def _setup(root: Path, gh: FakeGitHub, world: World, key: Path | None = None) -> Path:
    root.mkdir(parents=True)
    if key is not None:  # the same pseudonymisation key: the same people, comparable stores
        shutil.copy(key, root / "shipwise.duckdb.key")
    settings = load_settings(db=root / "shipwise.duckdb")
    init_store(settings)
    import_paths(settings, [org_file(world, root / "org")])
    config = root / "shipwise.yaml"
    config.write_text(yaml.safe_dump({"sources": [{
        "kind": "github", "base_url": gh.base_url, "repos": world.names, "token_env": "KILL_GH",
        "workflows": [{"workflow": "deploy", "job": "ship-*"}]}]}))
    return config


def _sync(root: Path, config: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "shipwise", "--db", str(root / "shipwise.duckdb"),
                             "--config", str(config), "sync", "--format", "json"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)


def _contents(db: Path) -> dict[str, list[tuple[object, ...]]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for table in TABLES:
            cols = [c[0] for c in con.execute(f'DESCRIBE "{table}"').fetchall()
                    if c[0] not in ("ingested_at", "row_hash")]
            out[table] = con.execute(f'SELECT {", ".join(cols)} FROM "{table}" ORDER BY ALL').fetchall()
        return out
    finally:
        con.close()


def _committed_batches(db: Path) -> int:
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error:  # the sync holds the file: not yet
        return -1
    try:
        row = con.execute("SELECT count(*) FROM ingest_run WHERE kind = 'github'").fetchone()
        return int(row[0]) if row else 0
    finally:
        con.close()


def test_a_killed_sync_resumes_and_counts_nothing_twice(tmp_path: Path) -> None:
    world = World.generate(repos=4, prs=250, seed=11)
    with FakeGitHub(world) as gh:
        env = cli_env(KILL_GH=gh.token or "", SHIPWISE_TOKEN="")
        clean = _setup(tmp_path / "clean", gh, world)
        done = _sync(tmp_path / "clean", clean, env)
        assert done.wait(timeout=600) == 0, done.stderr.read() if done.stderr else ""

        killed_cfg = _setup(tmp_path / "killed", gh, world,
                            key=tmp_path / "clean" / "shipwise.duckdb.key")
        db = tmp_path / "killed" / "shipwise.duckdb"
        proc = _sync(tmp_path / "killed", killed_cfg, env)
        # DuckDB holds the file while the sync runs: watch the fake's requests instead, and kill
        # once a good part of the first sync's requests were made (some batches committed)
        target = len(gh.requests) + 60
        deadline = time.monotonic() + 300
        while len(gh.requests) < target and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the sync finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        partial = _committed_batches(db)
        again = _sync(tmp_path / "killed", killed_cfg, env)
        assert again.wait(timeout=600) == 0, again.stderr.read() if again.stderr else ""
    assert partial > 0, "killed before any batch was committed: nothing resumed"
    assert _contents(db) == _contents(tmp_path / "clean" / "shipwise.duckdb")
