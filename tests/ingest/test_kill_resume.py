"""Reliability: a real process killed mid-import, then re-run, ends in the uninterrupted state."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from shipwise.app.context import init_store
from shipwise.app.owner import import_paths, run_demo
from shipwise.config import Settings
from tests.conftest import cli_env
from tests.ingest.test_import import dump


@pytest.mark.slow
@pytest.mark.parametrize("kill_when", ["loading commit", "loading deployment"])
def test_sigkill_mid_import_then_rerun_equals_uninterrupted(tmp_path: Path, kill_when: str) -> None:
    key = tmp_path / "k.key"
    files = tmp_path / "files"
    run_demo(Settings(db=tmp_path / "unused.duckdb", key_file=key), scale=0.3, out=files,
             fmt="jsonl", load=False)

    clean = Settings(db=tmp_path / "clean.duckdb", key_file=key)
    init_store(clean)
    import_paths(clean, [files])

    env = cli_env(SHIPWISE_KEY_FILE=str(key))

    killed = Settings(db=tmp_path / "killed.duckdb", key_file=key)
    init_store(killed)
    proc = subprocess.Popen(
        [sys.executable, "-m", "shipwise", "--db", str(killed.db), "import", str(files)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:  # the CLI logs each step when not on a terminal
        if line.strip() == kill_when:
            proc.send_signal(signal.SIGSTOP)  # freeze it mid-way through loading that type …
            break
    else:
        pytest.fail(f"the import never reported {kill_when!r}")
    proc.send_signal(signal.SIGKILL)  # … then kill it
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL  # killed, not finished

    import_paths(killed, [files])  # the next run finishes the job
    assert dump(killed) == dump(clean)
