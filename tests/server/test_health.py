"""Liveness, readiness, and the life of the server: resume on start, drain on stop."""

from __future__ import annotations

import logging
import time

import httpx

from shipwise import __version__
from shipwise.app.alarms import list_alarms, receive_alarm
from shipwise.config import Settings
from shipwise.http.security import RedactToken
from shipwise.store.duckdb_store import migrations
from tests.server.conftest import FakeEngine, Live, fixture_bytes, serve


def test_healthz_and_readyz(live: Live) -> None:
    res = httpx.get(live.url + "/healthz")
    assert res.status_code == 200 and res.json() == {"status": "ok", "version": __version__}
    res = httpx.get(live.url + "/readyz")
    assert res.status_code == 200
    body = res.json()
    assert body["status"] == "ready" and body["schema_version"] == migrations()[-1][0]
    assert body["webhooks"] == "secret"


def test_readyz_says_what_to_do_without_a_store(secured: Settings, fake_engine: FakeEngine) -> None:
    missing = secured.model_copy(update={"db": secured.db.with_name("missing.duckdb")})
    with serve(missing) as server:
        assert httpx.get(server.url + "/healthz").status_code == 200
        res = httpx.get(server.url + "/readyz")
        assert res.status_code == 503
        assert "no shipwise store" in res.json()["error"] and "shipwise init" in res.json()["hint"]
        res = server.post("/webhooks/generic", fixture_bytes("generic_alarm.json"))
        assert res.status_code == 503  # a sender retries 5xx
    assert not missing.db.exists()


def test_alarms_left_uninvestigated_resume_on_start(secured: Settings,
                                                    fake_engine: FakeEngine) -> None:
    # received while no server ran (or the server stopped before investigating)
    res = receive_alarm(secured, fixture_bytes("generic_alarm.json"), "generic")
    assert list_alarms(secured)[0]["status"] == "accepted"
    with serve(secured) as server:
        (row,) = server.settled()
    assert row["id"] == res["accepted"][0] and row["status"] == "investigated"


def test_shutdown_drains_queued_investigations(secured: Settings, fake_engine: FakeEngine) -> None:
    fake_engine.delay = 0.2
    with serve(secured) as server:
        for name in ("generic_alarm.json", "dynatrace_open.json", "cloudwatch_sns_alarm.json"):
            assert server.post("/webhooks/alarm", fixture_bytes(name)).status_code == 202
        t0 = time.monotonic()
    assert time.monotonic() - t0 >= 0.2  # the stop waited for the worker
    rows = list_alarms(secured)
    assert len(rows) == 3 and {r["status"] for r in rows} == {"investigated"}
    assert len(fake_engine.calls) == 3


def test_the_token_never_reaches_the_access_log() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "POST", "/webhooks/cloudwatch?a=1&token=s3cret",
                                "1.1", 202), None)
    assert RedactToken().filter(record)
    assert record.getMessage() == \
        '127.0.0.1:5000 - "POST /webhooks/cloudwatch?a=1&token=*** HTTP/1.1" 202'
