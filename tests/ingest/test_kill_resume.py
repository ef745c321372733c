"""Reliability: a real process killed mid-import, then re-run, ends in the uninterrupted state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shipwise.config import Settings
from shipwise.services.context import init_store
from shipwise.services.demo import run_demo
from shipwise.services.ingest import import_paths
from tests.ingest.test_import import dump


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", [0.4, 0.65])
def test_sigkill_mid_import_then_rerun_equals_uninterrupted(tmp_path: Path, kill_at: float) -> None:
    key = tmp_path / "k.key"
    files = tmp_path / "files"
    run_demo(Settings(db=tmp_path / "unused.duckdb", key_file=key), scale=0.3, out=files,
             fmt="jsonl", load=False)

    clean = Settings(db=tmp_path / "clean.duckdb", key_file=key)
    init_store(clean)
    import_paths(clean, [files])

    env = {**os.environ, "SHIPWISE_KEY_FILE": str(key)}
    env.pop("SHIPWISE_PSEUDONYM_KEY", None)

    def start(db: Path) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "shipwise", "--db", str(db), "import", str(files)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    # How long a whole run takes on this machine, to kill the next one part-way through.
    init_store(Settings(db=tmp_path / "timing.duckdb", key_file=key))
    t0 = time.monotonic()
    assert start(tmp_path / "timing.duckdb").wait(timeout=300) == 0
    whole = time.monotonic() - t0

    killed = Settings(db=tmp_path / "killed.duckdb", key_file=key)
    init_store(killed)
    proc = start(killed.db)
    time.sleep(kill_at * whole)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL  # killed, not finished

    import_paths(killed, [files])  # the next run finishes the job
    assert dump(killed) == dump(clean)
