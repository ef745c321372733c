"""Prevention and verdicts through a real server (uvicorn on 127.0.0.1, the real FastAPI app, a
store file): the REST API, the web page and its forms (a browser session with its CSRF token),
and the scan the server runs on its own every ``prevention.interval_hours``."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipwise.app.tokens import create_token
from shipwise.config import Settings
from shipwise.http.auth import SESSION_COOKIE
from shipwise.store import prevention as prevention_table
from shipwise.store.duckdb_store import Store
from tests.prevention_world import build
from tests.server.conftest import Live, serve


@pytest.fixture
def world(settings: Settings, tmp_path: Path) -> Settings:
    return build(settings, tmp_path)


def tokens_of(settings: Settings) -> dict[str, str]:
    with Store.open(settings.db) as store:
        return {"admin": create_token(store, "t-admin", "admin")["token"],
                "member": create_token(store, "t-pay", "member", "payments")["token"],
                "other": create_token(store, "t-search", "member", "search")["token"],
                "exec": create_token(store, "t-exec", "exec")["token"]}


@pytest.fixture
def live(world: Settings) -> Iterator[tuple[Live, dict[str, str]]]:
    tokens = tokens_of(world)
    quiet = Settings.model_validate({"db": world.db, "prevention": {"interval_hours": 0}})
    with serve(quiet) as server:
        yield server, tokens


def api(live: Live, token: str, method: str, path: str, body: Any = None,
        **params: Any) -> httpx.Response:
    return httpx.request(method, live.url + path, json=body, params=params or None, timeout=30,
                         headers={"Authorization": f"Bearer {token}"})


def test_the_api_scans_lists_and_keeps_decisions(live: tuple[Live, dict[str, str]]) -> None:
    server, tok = live
    assert api(server, tok["member"], "POST", "/api/v1/prevention/scans").status_code == 403
    res = api(server, tok["admin"], "POST", "/api/v1/prevention/scans")
    assert res.status_code == 200, res.text
    found = {r["key"] for r in res.json()["recommendations"]}
    assert "pipeline:deploy:pay-api" in found and res.json()["scan"]["trigger"] == "api"

    mine = api(server, tok["member"], "GET", "/api/v1/prevention").json()
    assert {r["team"] for r in mine["recommendations"]} == {"payments"}
    assert mine["last_scan"]["found"] == len(found)
    assert api(server, tok["exec"], "GET", "/api/v1/prevention").status_code == 403

    key = "pipeline:deploy:pay-api"
    one = api(server, tok["member"], "GET", f"/api/v1/prevention/{key}").json()
    assert {i["id"] for i in one["incidents"]} >= {"inc-1", "inc-2", "inv-deploy-1"}
    bad = api(server, tok["member"], "POST", f"/api/v1/prevention/{key}/status",
              {"status": "dismissed"})
    assert bad.status_code == 400 and "reason" in bad.json()["error"]
    ok = api(server, tok["member"], "POST", f"/api/v1/prevention/{key}/status",
             {"status": "dismissed", "reason": "canary rollout lands next sprint"})
    assert ok.status_code == 200 and ok.json()["status"] == "dismissed"
    other = api(server, tok["other"], "POST", f"/api/v1/prevention/{key}/status",
                {"status": "accepted"})
    assert other.status_code == 403
    assert api(server, tok["admin"], "GET", "/api/v1/prevention/nope:x:y").status_code == 404

    again = api(server, tok["admin"], "POST", "/api/v1/prevention/scans").json()
    assert {r["key"] for r in again["recommendations"]} == found and again["scan"]["new"] == 0
    dismissed = api(server, tok["admin"], "GET", "/api/v1/prevention",
                    status="dismissed").json()["recommendations"]
    assert [(r["key"], r["reason"]) for r in dismissed] == [
        (key, "canary rollout lands next sprint")]


def test_the_api_marks_verdicts_and_reports_accuracy(live: tuple[Live, dict[str, str]]) -> None:
    server, tok = live
    path = "/api/v1/investigations/inv-perm-1/verdict"
    assert api(server, tok["member"], "GET", path).json() is None
    res = api(server, tok["member"], "PUT", path, {"verdict": "right", "comment": "yes"})
    assert res.status_code == 200 and res.json()["marked_by"] == "member/api"
    assert api(server, tok["member"], "GET", path).json()["verdict"] == "right"
    assert api(server, tok["member"], "PUT", path, {"verdict": "maybe"}).status_code == 422
    assert api(server, tok["other"], "PUT", path, {"verdict": "wrong"}).status_code == 403
    assert api(server, tok["admin"], "PUT", "/api/v1/investigations/inv-churn-1/verdict",
               {"verdict": "wrong"}).status_code == 200
    # not read as an investigation id: the accuracy, scoped to the caller's team
    mine = api(server, tok["member"], "GET", "/api/v1/investigations/accuracy").json()
    assert mine["overall"]["marked"] == 1 and mine["overall"]["accuracy"] == 1.0
    everyone = api(server, tok["admin"], "GET", "/api/v1/investigations/accuracy").json()
    assert everyone["overall"]["marked"] == 2 and everyone["overall"]["accuracy"] == 0.5
    assert api(server, tok["exec"], "GET", "/api/v1/investigations/accuracy").status_code == 403
    spec = httpx.get(server.url + "/openapi.json").json()["paths"]
    assert {"/api/v1/prevention", "/api/v1/prevention/{key}/status",
            "/api/v1/investigations/{inv_id}/verdict", "/api/v1/investigations/accuracy"
            } <= set(spec)


# -- the web page and its forms -----------------------------------------------------------------

@contextmanager
def sign_in(url: str, token: str) -> Iterator[httpx.Client]:
    """A browser-like client signed in through the form (its session cookie set)."""
    with httpx.Client(base_url=url, follow_redirects=False, timeout=30) as client:
        csrf = client.get("/signin").cookies["shipwise_csrf"]
        res = client.post("/signin", data={"token": token, "csrf": csrf, "next": "/"})
        assert res.status_code == 303, res.text
        client.cookies.set(SESSION_COOKIE, res.cookies[SESSION_COOKIE])
        yield client


def form_csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found, "no CSRF field on the page"
    return found.group(1)


def test_the_prevention_page_shows_and_decides(live: tuple[Live, dict[str, str]]) -> None:
    server, tok = live
    api(server, tok["admin"], "POST", "/api/v1/prevention/scans")
    with sign_in(server.url, tok["member"]) as browser:
        page = browser.get("/prevention")
        assert page.status_code == 200
        text = html.unescape(page.text)
        assert 'href="/prevention"' in text  # in the navigation
        assert "Stop bad deployments of pay-api reaching customers" in text
        assert "Keep search-api's instances" not in text  # another team's
        key = "pipeline:deploy:pay-api"
        assert f'id="rec-{key}"' in text
        # a form without the session's CSRF token is refused, nothing changes
        forged = browser.post(f"/prevention/{key}/status", data={"status": "accepted"})
        assert forged.status_code == 403
        res = browser.post(f"/prevention/{key}/status",
                           data={"csrf": form_csrf(page.text), "status": "accepted",
                                 "reason": "JIRA-7"})
        assert res.status_code == 303 and res.headers["location"].startswith("/prevention")
        twin = browser.get("/prevention.json", params={"status": "accepted"}).json()
        accepted = [r for g in twin["by_category"] for r in g["recommendations"]]
        assert [(r["key"], r["reason"]) for r in accepted] == [(key, "JIRA-7")]
        # bad input renders the error page with its status
        bad = browser.post(f"/prevention/{key}/status",
                           data={"csrf": form_csrf(page.text), "status": "dismissed"})
        assert bad.status_code == 400 and "reason" in bad.text
    with sign_in(server.url, tok["exec"]) as browser:
        assert browser.get("/prevention").status_code == 403


def test_the_investigation_page_takes_a_verdict(live: tuple[Live, dict[str, str]]) -> None:
    server, tok = live
    with sign_in(server.url, tok["member"]) as browser:
        page = browser.get("/investigations/inv-deploy-1")
        assert page.status_code == 200 and "Was this the root cause?" in page.text
        assert "Not marked yet" in page.text
        res = browser.post("/investigations/inv-deploy-1/verdict",
                           data={"csrf": form_csrf(page.text), "verdict": "partly",
                                 "comment": "the deploy, but the flag flip too"})
        assert res.status_code == 303
        after = html.unescape(browser.get("/investigations/inv-deploy-1").text)
        assert "Marked" in after and "partly" in after and "the flag flip too" in after
        assert "member/web" in after
        refused = browser.post("/investigations/inv-churn-1/verdict",
                               data={"csrf": form_csrf(page.text), "verdict": "right"})
        assert refused.status_code == 403
    with sign_in(server.url, tok["admin"]) as browser:
        acc = browser.get("/prevention.json").json()["accuracy"]
    assert acc["overall"]["marked"] == 1 and acc["overall"]["partly"] == 1


# -- the server's own scan ----------------------------------------------------------------------

def scans(live: Live) -> list[dict[str, Any]]:
    with live.state.store.session() as store:
        return store.query("SELECT trigger, found FROM prevention_scan ORDER BY started_at")


def test_the_server_scans_on_its_own_every_interval(world: Settings) -> None:
    often = Settings.model_validate({"db": world.db,
                                     "prevention": {"interval_hours": 1 / 3600,  # 1 s
                                                    "start_delay_minutes": 0}})
    with serve(often) as server:
        assert server.state.prevention is not None
        deadline = time.monotonic() + 30
        while server.state.prevention.runs < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.state.prevention.failures == 0
        done = scans(server)
        with server.state.store.session() as store:
            recs = prevention_table.listing(store)
            rows = store.query("SELECT role, action, reader FROM access_log "
                               "WHERE action = 'prevention.scan'")
    assert len(done) >= 2 and {s["trigger"] for s in done} == {"server"}
    assert done[0]["found"] == len(recs) > 0  # the first one at once: never scanned before
    assert {(r["role"], r["reader"]) for r in rows} == {("admin", "prevention-scan")}


def test_a_restart_waits_for_an_interval_after_the_last_scan(world: Settings) -> None:
    daily = Settings.model_validate({"db": world.db, "prevention": {
        "interval_hours": 24, "start_delay_minutes": 0}})
    with serve(daily) as server:  # never scanned: the first scan runs at start
        deadline = time.monotonic() + 30
        while server.state.prevention and server.state.prevention.runs < 1 \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [s["trigger"] for s in scans(server)] == ["server"]
    with serve(daily) as server:  # restarted: the next one is due a day after that one
        assert 24 * 3600 - 120 < server.state._prevention_due() <= 24 * 3600
        assert server.state.prevention is not None and server.state.prevention.runs == 0
        assert len(scans(server)) == 1
    settling = Settings.model_validate({"db": world.db, "prevention": {
        "interval_hours": 1 / 3600, "start_delay_minutes": 10}})
    with serve(settling) as server:  # due long ago, but the server has only just started
        assert 590 < server.state._prevention_due() <= 600
    off = Settings.model_validate({"db": world.db, "prevention": {"interval_hours": 0}})
    with serve(off) as server:
        assert server.state.prevention is None
