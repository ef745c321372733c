"""A real shipwise server on 127.0.0.1 over a temp store with the demo organisation and one stored
investigation, plus a headless Debian Chromium driven by Playwright (never `playwright install`)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shipwise.app.context import open_store
from shipwise.config import Settings
from shipwise.server import create_app
from tests.conftest import serve_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MEMBER_TEAM = "catalog"


@dataclass
class Site:
    url: str
    tokens: dict[str, str]
    investigation_id: str
    root_cause: str
    settings: Settings


def build_store(root: Path) -> tuple[Settings, dict[str, str], dict[str, Any]]:
    """The demo organisation, one investigated bad deploy, and a token per role."""
    from shipwise.app.owner import investigate_case as store_case
    from shipwise.app.owner import run_demo
    from shipwise.app.tokens import create_token
    from shipwise.demo.world.scenarios import write_world_case

    settings = Settings(db=root / "shipwise.duckdb")
    run_demo(settings, seed=7, scale=1.0)
    case = write_world_case(root / "case", "bad_deploy", seed=7)
    record = store_case(settings, case)
    tokens = {}
    with open_store(settings) as store:
        for role, team in (("member", MEMBER_TEAM), ("lead", MEMBER_TEAM), ("exec", None),
                           ("admin", None)):
            tokens[role] = create_token(store, f"web-test-{role}", role, team)["token"]
    return settings, tokens, record


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with pytest.MonkeyPatch.context() as mp:
        for var in ("SHIPWISE_PSEUDONYM_KEY", "SHIPWISE_DB", "SHIPWISE_TOKEN"):
            mp.delenv(var, raising=False)
        settings, tokens, record = build_store(tmp_path_factory.mktemp("web"))
        # started after the store is built: the server holds the file
        with serve_app(create_app(settings)) as url:
            yield Site(url, tokens, record["id"], record["root_cause"]["statement"], settings)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        if os.environ.get("CI"):  # scripts/test.sh installs it: missing in CI is a failure
            pytest.fail("Debian chromium is not installed (scripts/test.sh installs it)")
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    from playwright import sync_api
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A laptop-sized page of the session's browser."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    p = context.new_page()
    p.set_default_timeout(15000)
    yield p
    context.close()


def _serve(settings: Settings) -> tuple[Any, Any, Any, int]:
    """A server for ``scripts/screenshots.py``: (uvicorn server, its thread, socket, port); the
    caller stops it (``server.should_exit = True``, join the thread, close the socket)."""
    import socket
    import threading
    import time

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    return server, thread, sock, int(sock.getsockname()[1])


def sign_in(page: Any, url: str, token: str) -> None:
    page.goto(url + "/signin")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")
