"""After an import killed half-way, reads say the import did not finish and what to run, instead
of quietly answering from part of it; running the same import again clears that."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from shipwise.app.owner import import_paths
from shipwise.app.tokens import create_token
from shipwise.config import Settings
from shipwise.store.duckdb_store import Store
from shipwise.store.import_state import ImportUnfinishedError, check_finished
from tests.conftest import cli_env, org, write_jsonl
from tests.server.conftest import serve


def history(n: int = 30) -> list[dict[str, object]]:
    recs: list[dict[str, object]] = list(org())
    for i in range(n):
        recs.append({"type": "deployment", "id": f"d{i}", "service": "pay-api",
                     "environment": "production", "started_at": f"2025-07-{i % 28 + 1:02d}T10:00:00Z",
                     "finished_at": f"2025-07-{i % 28 + 1:02d}T10:20:00Z", "status": "success"})
    return recs


def kill_import_at(settings: Settings, files: Path, step: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "shipwise", "--db", str(settings.db), "import", str(files)],
        env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:  # the CLI logs each step when not on a terminal
        if line.strip() == step:
            proc.send_signal(signal.SIGSTOP)
            break
    else:
        pytest.fail(f"the import never reported {step!r}")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shipwise", "--db", str(settings.db), *args],
                          env=cli_env(), capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_reads_after_a_killed_import_say_it_did_not_finish(settings: Settings,
                                                           tmp_path: Path) -> None:
    files = write_jsonl(tmp_path / "history.jsonl", history())
    kill_import_at(settings, files, "loading deployment")
    with Store.open(settings.db) as store:  # teams are in, deployments are not
        assert store.count("team") == 1 and store.count("deployment") == 0
        with pytest.raises(ImportUnfinishedError) as err:
            check_finished(store)
        assert f"shipwise import {files}" in (err.value.hint or "")
        token = create_token(store, "ops", "admin")["token"]

    for args in (["metrics", "dora", "--team", "payments"], ["cost"], ["flow", "--team", "payments"]):
        res = cli(settings, *args)
        assert res.returncode != 0, (args, res.stdout)
        assert "did not finish" in res.stderr and f"shipwise import {files}" in res.stderr, res.stderr
        assert "Traceback" not in res.stderr

    with serve(settings) as live:
        api = httpx.get(live.url + "/api/v1/teams/payments/dora", timeout=30,
                        headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 503, api.text
    assert "did not finish" in api.json()["error"] and "shipwise import" in api.json()["hint"]

    import_paths(settings, [files])  # the same import again finishes the job
    res = cli(settings, "metrics", "dora", "--team", "payments", "--format", "json")
    assert res.returncode == 0, res.stderr
    with Store.open(settings.db, read_only=True) as store:
        assert store.count("deployment") == 30
        check_finished(store)


def test_a_failed_usage_leaves_no_marker(settings: Settings, tmp_path: Path) -> None:
    from shipwise.errors import InputError

    with pytest.raises(InputError):
        import_paths(settings, [tmp_path / "notes.txt"])
    with Store.open(settings.db, read_only=True) as store:
        check_finished(store)


@pytest.mark.slow
def test_an_unfinished_import_is_reported_even_when_nothing_changed_yet(
        settings: Settings, tmp_path: Path) -> None:
    files = write_jsonl(tmp_path / "history.jsonl", history())
    import_paths(settings, [files])
    # a process that marked its import started, then died before any data changed
    subprocess.run([sys.executable, "-c", (
        "import sys; from shipwise.store.duckdb_store import Store; "
        "from shipwise.store import import_state; "
        "s = Store.open(sys.argv[1]); import_state.begin(s, 'import', [sys.argv[2]]); "
        "import os; os._exit(9)"), str(settings.db), str(files)], env=cli_env(), check=False,
        timeout=60)
    for args in (["metrics", "dora", "--team", "payments"], ["cost"]):
        res = cli(settings, *args)
        assert res.returncode != 0 and "did not finish" in res.stderr, (args, res.stderr)
    import_paths(settings, [files])
    assert cli(settings, "metrics", "dora", "--team", "payments").returncode == 0
