"""A real shipwise server on 127.0.0.1 (uvicorn in a thread, a free port, a temp store)."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

import shipwise.app.investigate as engine
from shipwise.app.alarms import PENDING, list_alarms
from shipwise.config import Settings, WebhookSettings
from shipwise.http.state import ServerState
from shipwise.investigate.case import Alarm
from shipwise.server import create_app
from tests.conftest import serve_app

SECRET = "s3cret-for-tests-0123456789"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alarms"


@dataclass
class Live:
    url: str
    state: ServerState
    settings: Settings

    def post(self, path: str, body: bytes | str, *, secret: str | None = SECRET,
             params: dict[str, str] | None = None,
             headers: dict[str, str] | None = None) -> httpx.Response:
        h = {"Content-Type": "application/json", **(headers or {})}
        if secret is not None:
            h["Authorization"] = f"Bearer {secret}"
        content = body.encode() if isinstance(body, str) else body
        return httpx.post(self.url + path, content=content, headers=h, params=params, timeout=10)

    def rows(self) -> list[dict[str, Any]]:
        return list_alarms(self.settings, limit=1000, session=self.state.store.session)

    def row(self, alarm_id: str) -> dict[str, Any]:
        return next(r for r in self.rows() if r["id"] == alarm_id)

    def settled(self, timeout: float = 10) -> list[dict[str, Any]]:
        """The rows once the worker has nothing left to do."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.rows()
            if not self.state.worker.pending and not any(r["status"] in PENDING for r in rows):
                return rows
            time.sleep(0.02)
        raise AssertionError(f"investigations did not settle: {self.rows()}")


@contextmanager
def serve(settings: Settings, *, insecure: bool = False) -> Iterator[Live]:
    app = create_app(settings, insecure_webhooks=insecure)
    with serve_app(app, timeout=10) as url:
        yield Live(url, app.state.shipwise, settings)


@dataclass
class FakeEngine:
    """Stands in for shipwise.app.investigate.investigate_alarm (our own seam)."""

    calls: list[tuple[Alarm, str]] = field(default_factory=list)
    fail: Exception | None = None
    delay: float = 0.0

    def __call__(self, settings: Settings, alarm: Alarm, alarm_id: str, *,
                 session: Any = None) -> dict[str, Any]:
        time.sleep(self.delay)
        self.calls.append((alarm, alarm_id))
        if self.fail is not None:
            raise self.fail
        return {"id": f"inv-{len(self.calls)}"}


def in_process(settings: Settings) -> Settings:
    """Investigations in a thread of the server (``server.investigation_workers: 0``): where the
    fake engine, which lives in this process, stands in for the real one."""
    settings.server.investigation_workers = 0
    return settings


@pytest.fixture
def fake_engine(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> FakeEngine:
    fake = FakeEngine()
    monkeypatch.setattr(engine, "investigate_alarm", fake, raising=False)
    in_process(settings)
    return fake


@pytest.fixture
def secured(settings: Settings) -> Settings:
    return settings.model_copy(update={"webhooks": WebhookSettings(secret=SecretStr(SECRET))})


@pytest.fixture
def live(secured: Settings, fake_engine: FakeEngine) -> Iterator[Live]:
    with serve(secured) as server:
        yield server


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


Poster = Callable[..., httpx.Response]


@dataclass
class Served:
    """A real ``shipwise serve`` process; ``out`` and ``err`` once it has stopped."""

    url: str
    port: int
    proc: subprocess.Popen[str]
    out: str = ""
    err: str = ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_process(*args: str, cwd: Path, env: dict[str, str]) -> Iterator[Served]:
    """``shipwise [args] serve --port P`` in its own process, until /readyz answers; stopped
    with Ctrl-C (SIGINT) on leaving, its output kept."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "shipwise", *args, "serve", "--port", str(port)],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    served = Served(f"http://127.0.0.1:{port}", port, proc)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.communicate()
            try:
                if httpx.get(served.url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not become ready"
            time.sleep(0.1)
        yield served
    finally:
        proc.send_signal(signal.SIGINT)
        served.out, served.err = proc.communicate(timeout=60)


def demo_store(root: Path) -> Path:
    """The demo organisation in a store under ``root`` (built once per test session)."""
    from shipwise.app.owner import run_demo
    from shipwise.config import load_settings

    db = root / "demo.duckdb"
    if not db.exists():
        run_demo(load_settings(db=db))
    return db


def demo_copy(factory: pytest.TempPathFactory, mp: pytest.MonkeyPatch, name: str) -> Settings:
    """A private copy of the shared demo store (built once per session) in a new folder, made the
    working directory, with the investigation engine faked and the webhook secret set."""
    from shipwise.config import load_settings

    mp.delenv("SHIPWISE_PSEUDONYM_KEY", raising=False)
    mp.delenv("SHIPWISE_DB", raising=False)
    mp.setattr(engine, "investigate_alarm", FakeEngine(), raising=False)
    db = demo_store(factory.getbasetemp())
    work = factory.mktemp(name)
    mp.chdir(work)
    copy = work / "shipwise.duckdb"
    shutil.copy(db, copy)
    for extra in db.parent.glob(db.name + ".*"):  # the pseudonym key beside the store
        shutil.copy(extra, work / extra.name.replace(db.name, copy.name))
    return in_process(load_settings(db=copy).model_copy(
        update={"webhooks": WebhookSettings(secret=SecretStr(SECRET))}))
