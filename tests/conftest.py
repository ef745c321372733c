"""Shared fixtures: a fresh store on disk with its own key, and canonical record writers."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from shipwise.app.context import init_store
from shipwise.config import Settings, load_settings

SRC = str(Path(__file__).resolve().parents[1] / "src")


def cli_env(**extra: str) -> dict[str, str]:
    """Environment for running `python -m shipwise` from this checkout (not an installed copy)."""
    import os

    env = {**os.environ, **extra}
    env.pop("SHIPWISE_PSEUDONYM_KEY", None)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv("SHIPWISE_PSEUDONYM_KEY", raising=False)
    monkeypatch.delenv("SHIPWISE_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    s = load_settings(db=tmp_path / "shipwise.duckdb")
    init_store(s)
    return s


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
