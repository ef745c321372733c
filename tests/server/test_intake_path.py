"""The alarm webhooks' short way through the app (``AlarmIntake``) and the group commit's delay,
over real HTTP on 127.0.0.1.

The FastAPI routes of ``api/webhooks.py`` are the reference: an app built without the
middleware answers through them, as every request did before. Both servers get the same requests
in the same order, on stores that start identical, and must answer and store the same."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from shipwise.api.webhooks import AlarmIntake
from shipwise.config import Settings, WebhookSettings
from shipwise.server import create_app
from shipwise.store import Store
from tests.conftest import copy_store, serve_app
from tests.server.conftest import SECRET, fixture_bytes

GOOD = fixture_bytes("generic_alarm.json")


@contextmanager
def _serve(settings: Settings, *, short_way: bool, insecure: bool = False) -> Iterator[str]:
    app = create_app(settings, insecure_webhooks=insecure)
    if not short_way:  # the routes alone: how every webhook was answered before
        app.user_middleware = [m for m in app.user_middleware if m.cls is not AlarmIntake]
    assert any(m.cls is AlarmIntake for m in app.user_middleware) == short_way
    with serve_app(app, timeout=20) as url:
        yield url


def _basic(password: str, user: str = "sns") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


#: (method, path, body, headers, query): good and bad input of every kind the webhooks see
CASES: list[tuple[str, str, bytes, dict[str, str], dict[str, str]]] = [
    ("POST", "/webhooks/generic", GOOD, {"Authorization": f"Bearer {SECRET}"}, {}),
    ("POST", "/webhooks/generic", GOOD, {"Authorization": f"Bearer {SECRET}"}, {}),  # replay
    ("POST", "/webhooks/alertmanager", fixture_bytes("alertmanager_firing.json"),
     {"Authorization": f"bearer  {SECRET}"}, {}),
    ("POST", "/webhooks/alertmanager", fixture_bytes("alertmanager_resolved.json"),
     {"Authorization": _basic(SECRET)}, {}),
    ("POST", "/webhooks/cloudwatch", fixture_bytes("cloudwatch_sns_subscription.json"),
     {}, {"token": SECRET}),
    ("POST", "/webhooks/cloudwatch", fixture_bytes("cloudwatch_sns_alarm.json"),
     {"Authorization": f"Bearer {SECRET}"}, {}),
    ("POST", "/webhooks/dynatrace", fixture_bytes("dynatrace_open.json"),
     {"Authorization": f"Bearer {SECRET}"}, {}),
    ("POST", "/webhooks/alarm", fixture_bytes("generic_list.json"),
     {"Authorization": f"Bearer {SECRET}"}, {}),
    ("POST", "/webhooks/generic", b"{not json", {"Authorization": f"Bearer {SECRET}"}, {}),
    ("POST", "/webhooks/generic", b"", {"Authorization": f"Bearer {SECRET}"}, {}),
    ("POST", "/webhooks/generic", b"[1, 2]", {"Authorization": f"Bearer {SECRET}"}, {}),
    ("POST", "/webhooks/generic", b'{"metric": "x"}', {"Authorization": f"Bearer {SECRET}"}, {}),
    ("POST", "/webhooks/generic", b"\xff\xfe{", {"Authorization": f"Bearer {SECRET}"}, {}),
    ("POST", "/webhooks/alertmanager", GOOD, {"Authorization": f"Bearer {SECRET}"}, {}),
    ("POST", "/webhooks/generic", GOOD, {}, {}),
    ("POST", "/webhooks/generic", GOOD, {"Authorization": "Bearer wrong-secret-0123456789"}, {}),
    ("POST", "/webhooks/generic", GOOD, {"Authorization": "Bearer"}, {}),
    ("POST", "/webhooks/generic", GOOD, {"Authorization": f"Token {SECRET}"}, {}),
    ("POST", "/webhooks/generic", GOOD, {"Authorization": "Basic !!not-base64"}, {}),
    ("POST", "/webhooks/generic", GOOD, {"Authorization": _basic("wrong")}, {}),
    ("POST", "/webhooks/generic", GOOD, {}, {"token": "wrong"}),
    ("POST", "/webhooks/generic", b"x" * 5000, {"Authorization": f"Bearer {SECRET}"}, {}),
    ("POST", "/webhooks/generic", b"x" * 5000, {}, {}),  # refused before the size is looked at
    ("GET", "/webhooks/generic", b"", {"Authorization": f"Bearer {SECRET}"}, {}),
    ("POST", "/webhooks/generic/", GOOD, {"Authorization": f"Bearer {SECRET}"}, {}),
    ("POST", "/webhooks/github", b"{}", {"X-GitHub-Event": "ping"}, {}),
    ("POST", "/webhooks/nothing", GOOD, {"Authorization": f"Bearer {SECRET}"}, {}),
]


def _answers(url: str) -> list[dict[str, Any]]:
    out = []
    with httpx.Client(base_url=url, timeout=10, follow_redirects=False) as client:
        for method, path, body, headers, query in CASES:
            res = client.request(method, path, content=body, params=query,
                                 headers={"Content-Type": "application/json", **headers})
            try:
                content: Any = res.json()
            except ValueError:
                content = res.text
            out.append({"request": f"{method} {path} {headers} {query} {body[:40]!r}",
                        "status": res.status_code, "body": content,
                        "headers": {k: (res.headers.get(k) or "").replace(url, "") for k in (
                            "content-type", "content-length", "www-authenticate", "location",
                            "allow")}})
    return out


def _rows(db: Path) -> list[tuple[Any, ...]]:
    with Store.open(db) as store:
        return store.con.execute(
            "SELECT id, source_kind, status, error, payload, payload_sha256, alarm_key, "
            "deliveries, CAST(alarm AS VARCHAR) FROM alarm_intake ORDER BY id").fetchall()


def _pair(settings: Settings, tmp_path: Path, **update: Any) -> tuple[Settings, Settings]:
    """Two settings on two identical stores (the workers off: outcomes are not compared)."""
    settings.server.investigation_workers = 0
    ref_db = copy_store(settings.db, tmp_path / "reference")
    fast = settings.model_copy(update=update)
    return fast, fast.model_copy(update={"db": ref_db})


@pytest.mark.parametrize("auth", ["secret", "disabled", "insecure"])
def test_the_short_way_answers_and_stores_exactly_as_the_routes(settings: Settings,
                                                                tmp_path: Path,
                                                                auth: str) -> None:
    webhooks = WebhookSettings(secret=SecretStr(SECRET) if auth == "secret" else None,
                               max_body_bytes=4096)
    fast, ref = _pair(settings, tmp_path, webhooks=webhooks)
    insecure = auth == "insecure"
    with _serve(fast, short_way=True, insecure=insecure) as url:
        got = _answers(url)
    with _serve(ref, short_way=False, insecure=insecure) as url:
        expected = _answers(url)
    for g, e in zip(got, expected, strict=True):
        assert g == e, g["request"]
    statuses = [a["status"] for a in got]
    if auth == "secret":  # the cases cover what they mean to
        assert statuses[:8] == [202, 202, 202, 202, 200, 202, 202, 202]
        assert got[1]["body"]["duplicate"] is True
        assert statuses[8:13] == [400] * 5 and got[8]["body"]["stored"] is True
        assert statuses[14:21] == [401, 403, 403, 401, 401, 403, 403]
        assert got[14]["headers"]["www-authenticate"] == got[17]["headers"]["www-authenticate"]
        assert statuses[21:23] == [413, 401] and statuses[23] == 405
    elif auth == "disabled":
        assert statuses[0] == 503 and set(statuses[8:23]) == {503}
    else:
        assert statuses[0] == 202 and statuses[14] == 202  # no credentials needed
    assert _rows(fast.db) == _rows(ref.db)
    assert (len(_rows(fast.db)) > 10) == (auth != "disabled")


def test_a_202_is_stored_before_it_is_sent(settings: Settings) -> None:
    """Each answer's rows are readable the moment it arrives (read through the server's own
    store connection, which sees only what is committed)."""
    settings.server.investigation_workers = 0
    settings = settings.model_copy(update={"webhooks": WebhookSettings(secret=SecretStr(SECRET))})
    app = create_app(settings)
    state = app.state.shipwise
    with serve_app(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        for i in range(20):
            body = json.dumps({"id": f"d-{i}", "entity": "checkout", "metric": "error_rate",
                               "time": 1788000000 + i}).encode()
            res = client.post("/webhooks/generic", content=body,
                              headers={"Authorization": f"Bearer {SECRET}"})
            assert res.status_code == 202, res.text
            (alarm_id,) = res.json()["ids"]
            with state.store.reader() as store:
                assert store.con.execute("SELECT count(*) FROM alarm_intake WHERE id = ?",
                                         [alarm_id]).fetchone() == (1,)


def _alarm(i: int, tag: str) -> bytes:
    return json.dumps({"id": f"{tag}-{i}", "entity": f"svc-{i % 7}", "metric": "error_rate",
                       "time": 1788000000 + i}).encode()


def test_a_lone_sender_never_waits_for_the_commit_delay(settings: Settings) -> None:
    settings.server.investigation_workers = 0
    settings.server.intake_commit_delay_ms = 2000
    settings = settings.model_copy(update={"webhooks": WebhookSettings(secret=SecretStr(SECRET))})
    app = create_app(settings)
    with serve_app(app) as url, httpx.Client(base_url=url, timeout=10, headers={
            "Authorization": f"Bearer {SECRET}"}) as client:
        client.post("/webhooks/generic", content=_alarm(-1, "warm"))
        took = []
        for i in range(10):
            t0 = time.perf_counter()
            assert client.post("/webhooks/generic", content=_alarm(i, "lone")).status_code == 202
            took.append(time.perf_counter() - t0)
    assert sorted(took)[5] < 0.1, took  # the median, far below the 2 s it could have waited
    assert max(took) < 1.0, took
    intake = app.state.shipwise.intake
    assert (intake.bodies, intake.batches) == (11, 11)  # one commit each: nothing to wait for


@pytest.mark.parametrize("delay_ms", [0, 300])
def test_many_concurrent_senders_are_all_answered_and_stored(settings: Settings,
                                                             delay_ms: int) -> None:
    settings.server.investigation_workers = 0
    settings.server.intake_commit_delay_ms = delay_ms
    settings = settings.model_copy(update={"webhooks": WebhookSettings(secret=SecretStr(SECRET))})
    app = create_app(settings)
    senders, each = 8, 6
    statuses: list[int] = []
    with serve_app(app) as url:
        start = threading.Barrier(senders)

        def send(n: int) -> None:
            with httpx.Client(base_url=url, timeout=10, headers={
                    "Authorization": f"Bearer {SECRET}"}) as client:
                client.get("/healthz")  # connected before the barrier
                start.wait()
                for i in range(each):
                    res = client.post("/webhooks/generic", content=_alarm(n * each + i, "c"))
                    statuses.append(res.status_code)

        threads = [threading.Thread(target=send, args=(n,)) for n in range(senders)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    intake = app.state.shipwise.intake
    assert statuses == [202] * senders * each
    assert intake.bodies == senders * each and intake.batches <= intake.bodies
    with Store.open(settings.db) as store:
        assert store.count("alarm_intake") == senders * each


@pytest.mark.parametrize(("delay_ms", "pause"), [(0, 0.5), (2000, 0.3)])
def test_the_commit_delay_waits_for_a_request_in_flight_and_no_longer(
        settings: Settings, delay_ms: int, pause: float) -> None:
    """A sends its headers, then holds its body back for ``pause``; meanwhile B sends a whole
    request. With a delay the writer, holding B's body while A is in flight, waits for A — until
    A's body is in, not for the whole delay — and one commit stores both; without one, B is
    committed and answered at once, and A later on its own."""
    settings.server.investigation_workers = 0
    settings.server.intake_commit_delay_ms = delay_ms
    settings = settings.model_copy(update={"webhooks": WebhookSettings(secret=SecretStr(SECRET))})
    app = create_app(settings)
    intake = app.state.shipwise.intake
    body_a, body_b = _alarm(1, "held"), _alarm(2, "whole")
    with serve_app(app) as url:
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as a:
            a.sendall(f"POST /webhooks/generic HTTP/1.1\r\nHost: {host}\r\nAuthorization: "
                      f"Bearer {SECRET}\r\nContent-Type: application/json\r\nContent-Length: "
                      f"{len(body_a)}\r\n\r\n".encode())
            deadline = time.monotonic() + 5
            while intake.in_flight < 1:  # A is being read
                assert time.monotonic() < deadline
                time.sleep(0.002)
            b: dict[str, Any] = {}

            def send_b() -> None:
                t0 = time.perf_counter()
                b["status"] = httpx.post(url + "/webhooks/generic", content=body_b, timeout=10,
                                         headers={"Authorization": f"Bearer {SECRET}"}).status_code
                b["took"] = time.perf_counter() - t0

            sender = threading.Thread(target=send_b)
            sender.start()
            time.sleep(pause)
            a.sendall(body_a)
            answer_a = a.recv(65536)
            sender.join(10)
    assert answer_a.startswith(b"HTTP/1.1 202"), answer_a
    assert b["status"] == 202
    assert intake.bodies == 2
    if delay_ms:
        assert intake.batches == 1  # one commit for both
        assert pause <= b["took"] < delay_ms / 1000 * 0.75, b  # waited for A, not the delay
    else:
        assert intake.batches == 2
        assert b["took"] < pause, b  # answered while A was still holding its body


def test_in_flight_counts_a_request_until_it_is_answered(settings: Settings) -> None:
    """Refused and failed requests leave no count behind (else the writer would wait for
    nobody, every commit, for the whole delay)."""
    settings.server.investigation_workers = 0
    settings = settings.model_copy(update={"webhooks": WebhookSettings(
        secret=SecretStr(SECRET), max_body_bytes=2048)})
    app = create_app(settings)
    intake = app.state.shipwise.intake
    with serve_app(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        auth = {"Authorization": f"Bearer {SECRET}"}
        for body, headers, status in (
                (GOOD, auth, 202), (b"{bad", auth, 400), (b"x" * 4096, auth, 413),
                (GOOD, {}, 401), (GOOD, {"Authorization": "Bearer nope-nope-nope-nope"}, 403)):
            assert client.post("/webhooks/generic", content=body,
                               headers=headers).status_code == status
            deadline = time.monotonic() + 2  # the count drops just after the answer is sent
            while intake.in_flight and time.monotonic() < deadline:
                time.sleep(0.005)
            assert intake.in_flight == 0, status
