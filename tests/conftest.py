"""Shared fixtures: a fresh store on disk with its own key, the sample organisation (a small
demo organisation built once per test session), and canonical record writers.

Usable from every test directory (this is the root ``conftest.py``):

* ``settings``: an empty initialised store in the test's ``tmp_path`` (also the working directory).
* ``sample_org`` (session): :class:`SampleOrg`, the sample organisation built once per session
  (per xdist worker); ``sample_org.copy_to(folder)`` gives a private copy for a module fixture.
* ``sample_settings``: a private copy of the sample organisation's store in the test's
  ``tmp_path`` (also the working directory), free to write to.

Tests whose assertions depend on the full demo's scale or story build the demo themselves
(``shipwise.app.demo.run_demo``) and are marked ``slow``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shipwise.app.context import init_store
from shipwise.config import Settings, load_settings

SRC = str(Path(__file__).resolve().parents[1] / "src")
#: Environment variables that would point a test's store or key somewhere else.
STORE_ENV = ("SHIPWISE_PSEUDONYM_KEY", "SHIPWISE_DB", "SHIPWISE_KEY_FILE", "SHIPWISE_CONFIG",
             "SHIPWISE_TOKEN")


def cli_env(**extra: str) -> dict[str, str]:
    """Environment for running `python -m shipwise` from this checkout (not an installed copy)."""
    import os

    env = {**os.environ, **extra}
    env.pop("SHIPWISE_PSEUDONYM_KEY", None)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return env


def copy_store(db: Path, folder: Path, name: str = "shipwise.duckdb") -> Path:
    """Copy the store ``db`` and the files beside it that belong to it (``<db>.key``, the
    pseudonymisation key ``load_settings`` finds by default; ``<db>.session-secret``) into
    ``folder`` as ``name``; returns the new store's path. The source must be closed."""
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / name
    shutil.copy(db, copy)  # with its permission bits (0600)
    for extra in db.parent.glob(db.name + ".*"):
        shutil.copy(extra, folder / (name + extra.name[len(db.name):]))
    return copy


@pytest.fixture(scope="session")
def _empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised empty store and its key, made once per session: ``settings`` copies it
    (copying is about six times faster than creating the schema for every test)."""
    with pytest.MonkeyPatch.context() as mp:
        for var in STORE_ENV:
            mp.delenv(var, raising=False)
        db = tmp_path_factory.mktemp("empty-store") / "shipwise.duckdb"
        init_store(Settings(db=db))
    return db


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _empty_store: Path) -> Settings:
    """An empty initialised store (``shipwise.duckdb`` and its key) in ``tmp_path``, which is
    also the working directory."""
    monkeypatch.delenv("SHIPWISE_PSEUDONYM_KEY", raising=False)
    monkeypatch.delenv("SHIPWISE_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    copy_store(_empty_store, tmp_path)
    s = load_settings(db=tmp_path / "shipwise.duckdb")
    init_store(s)
    return s


#: The sample organisation: the demo generator's organisation (15 teams in 5 org units, 45
#: services, 261 people, 8 quarters to 2026-09-30) at a tenth of the demo's volume.
SAMPLE_SEED = 7
SAMPLE_SCALE = 0.1


@dataclass(frozen=True)
class SampleOrg:
    """The sample organisation, built once per test session (per xdist worker) in a
    ``tmp_path_factory`` folder, in a few seconds.

    It is the demo organisation (``shipwise.app.demo.run_demo``, seed 7) at scale 0.1: the same 15
    teams, 45 services, people, costs, SLOs and SLIs as the demo, a tenth of its commits, pull
    requests, deployments, incidents and pages (about 100 000 events). DORA, cost, flow, strain
    (some figures shown, some hidden as small groups) and SLO status all have rows. It also holds
    one stored investigation (a ``bad_deploy`` case of the demo world, ``investigation_id``) and
    one accepted, not yet investigated alarm on ``alarm_entity`` (a service of ``teams[0]``,
    ``alarm_id``).

    ``settings`` is the session's master store: never write to it (reads write to the access log
    too). Use the ``sample_settings`` fixture for a private copy per test, or
    ``copy_to(folder)`` in a module- or class-scoped fixture. Tests that check figures of the
    demo's story or need its full volume use the demo itself and are marked ``slow``.
    """

    settings: Settings
    story: dict[str, Any]
    teams: tuple[str, ...]
    investigation_id: str
    alarm_id: str
    alarm_entity: str

    def copy_to(self, folder: Path) -> Settings:
        """Settings of a private copy of the store and its key in ``folder`` (created)."""
        db = copy_store(self.settings.db, folder)
        return Settings(db=db)


def build_sample(root: Path) -> SampleOrg:
    """Build the sample organisation's store under ``root`` (see :class:`SampleOrg`)."""
    from shipwise.app.alarms import receive_alarm
    from shipwise.app.context import open_store
    from shipwise.app.owner import investigate_case as store_case
    from shipwise.app.owner import run_demo
    from shipwise.demo.world.scenarios import write_world_case
    from shipwise.store import org as org_table

    settings = Settings(db=root / "sample.duckdb")
    demo = run_demo(settings, seed=SAMPLE_SEED, scale=SAMPLE_SCALE)
    # a short history keeps the case quick to write and investigate; the cause is still found
    case = write_world_case(root / "case", "bad_deploy", seed=SAMPLE_SEED, history_seconds=1800.0)
    record = store_case(settings, case)
    with open_store(settings) as store:
        teams = tuple(r["team"] for r in org_table.teams(store))
        entity = str(store.query("SELECT min(id) AS id FROM service WHERE team = ?",
                                 [teams[0]])[0]["id"])
    alarm = {"entity": entity, "metric": "error_rate", "time": "2026-09-29T10:15:00Z",
             "source": {"kind": "generic", "alertname": "ErrorRate", "threshold": 0.05}}
    intake = receive_alarm(settings, json.dumps(alarm).encode(), "generic")
    assert intake["accepted"], intake
    return SampleOrg(settings, demo.story, teams, str(record["id"]), str(intake["accepted"][0]),
                     entity)


@pytest.fixture(scope="session")
def sample_org(tmp_path_factory: pytest.TempPathFactory) -> SampleOrg:
    """The sample organisation (see :class:`SampleOrg`), built once per session: read only."""
    with pytest.MonkeyPatch.context() as mp:
        for var in STORE_ENV:
            mp.delenv(var, raising=False)
        root = tmp_path_factory.mktemp("sample-org")
        mp.chdir(root)
        return build_sample(root)


@pytest.fixture
def sample_settings(sample_org: SampleOrg, tmp_path: Path,
                    monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A private copy of the sample organisation's store (``shipwise.duckdb`` and its key) in
    ``tmp_path``, which is also the working directory; write to it freely."""
    for var in STORE_ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    copy_store(sample_org.settings.db, tmp_path)
    return load_settings(db=tmp_path / "shipwise.duckdb")


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def org(teams: Iterable[tuple[str, str]] = (("payments", "pay-api"),)) -> list[dict[str, Any]]:
    """An org unit, and one team owning one service per (team, service) pair."""
    recs: list[dict[str, Any]] = [{"type": "org_unit", "id": "eng", "name": "Engineering"}]
    seen = set()
    for team, service in teams:
        if team not in seen:
            recs.append({"type": "team", "id": team, "name": team.title(), "org_unit": "eng",
                         "delivery_unit": "deployments"})
            seen.add(team)
        recs.append({"type": "service", "id": service, "name": service, "team": team})
    return recs


@contextmanager
def serve_app(app: Any, *, timeout: float = 20.0) -> Iterator[str]:
    """Run an ASGI app with uvicorn on a free 127.0.0.1 port (lifespan on); yields its base URL."""
    import socket
    import threading
    import time

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
