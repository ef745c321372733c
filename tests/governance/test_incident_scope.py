"""Investigations and alarms belong to the team whose service they are about: a member or lead
reads and starts them on their own team's services only, an exec not at all, an admin every one
(docs/api.md, roles) — the same on every interface: the application layer, the REST API, the web
pages' JSON twins, MCP and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from shipwise.app import incidents as doors
from shipwise.app import org as org_doors
from shipwise.app.alarms import receive_alarm
from shipwise.app.caller import Caller
from shipwise.app.context import open_store
from shipwise.app.investigate import save_investigation
from shipwise.app.owner import import_paths
from shipwise.app.results import dump
from shipwise.app.tokens import create_token
from shipwise.config import Settings
from shipwise.errors import ForbiddenError
from shipwise.governance.access import LOCAL_ADMIN, Principal
from tests.conftest import cli_env, org, write_jsonl
from tests.mcp.conftest import call, error_text
from tests.server.conftest import serve

SEARCH = Principal("member", "search", "t-search", "searcher")
PAYMENTS_LEAD = Principal("lead", "payments", "t-lead", "payments lead")
EXEC = Principal("exec", None, "t-exec", "cfo")


def record(inv_id: str, entity: str) -> dict[str, object]:
    return {"id": inv_id, "alarm": {"entity": entity, "metric": "errors", "time": 1.76e9},
            "status": "done", "root_cause": None, "seconds": {"total": 0.1}}


@dataclass
class Org:
    settings: Settings
    tokens: dict[str, str]


@pytest.fixture
def incidents(settings: Settings, tmp_path: Path) -> Org:
    """Two teams, an investigation and an alarm on each team's service and one on a host."""
    import_paths(settings, [write_jsonl(tmp_path / "org.jsonl", [
        *org((("payments", "payments-api"), ("search", "search-api")))])])
    with open_store(settings) as store:
        for inv_id, entity in (("inv-pay", "payments-api"), ("inv-search", "search-api"),
                               ("inv-host", "db-host-3")):
            save_investigation(store, record(inv_id, entity))
    for entity in ("payments-api", "search-api", "db-host-3"):
        receive_alarm(settings, json.dumps({"entity": entity, "metric": "errors",
                                            "time": "2026-01-05T10:00:00Z"}).encode(), "generic")
    with open_store(settings) as store:
        tokens = {"search": create_token(store, "searcher", "member", "search")["token"],
                  "exec": create_token(store, "cfo", "exec")["token"],
                  "admin": create_token(store, "ops", "admin")["token"]}
    return Org(settings, tokens)


def entities(rows: list[dict[str, object]]) -> set[object]:
    return {r["entity"] for r in rows}


def alarm_entities(rows: list[dict[str, object]]) -> set[object]:
    return {json.loads(str(r["alarm"]))["entity"] if isinstance(r["alarm"], str)
            else r["alarm"]["entity"] for r in rows}  # type: ignore[index]


def test_the_application_layer_scopes_them_to_the_team(incidents: Org) -> None:
    s = incidents.settings
    with open_store(s) as store:
        def as_(p: Principal) -> Caller:
            return Caller(store, p, s, "api")

        def investigations(p: Principal) -> list[dict[str, object]]:
            return list(dump(doors.investigations(as_(p))))

        def alarms(p: Principal) -> list[dict[str, object]]:
            return list(dump(doors.alarms(as_(p))))

        assert entities(investigations(SEARCH)) == {"search-api"}
        assert entities(investigations(PAYMENTS_LEAD)) == {"payments-api"}
        assert entities(investigations(LOCAL_ADMIN)) == {
            "payments-api", "search-api", "db-host-3"}
        assert doors.investigation(as_(SEARCH), "inv-search").id == "inv-search"
        with pytest.raises(ForbiddenError, match="investigations of team payments"):
            doors.investigation(as_(SEARCH), "inv-pay")
        with pytest.raises(ForbiddenError, match="no team's service"):
            doors.investigation(as_(SEARCH), "inv-host")
        with pytest.raises(ForbiddenError, match="start an investigation on a service of team "
                                                 "payments"):
            doors.may_investigate(as_(SEARCH), "payments-api")
        doors.may_investigate(as_(SEARCH), "search-api")
        with pytest.raises(ForbiddenError):
            investigations(EXEC)
        assert alarm_entities(alarms(SEARCH)) == {"search-api"}
        assert alarm_entities(alarms(LOCAL_ADMIN)) == {
            "payments-api", "search-api", "db-host-3"}
        with pytest.raises(ForbiddenError):
            alarms(EXEC)
        assert org_doors.overview(as_(SEARCH)).investigations == 1
        refused = store.query("SELECT subject FROM access_log WHERE NOT allowed AND "
                              "token_id = 't-search' ORDER BY read_at")
    assert [r["subject"] for r in refused] == ["investigation:inv-pay", "investigation:inv-host",
                                               "service:payments-api"]


@pytest.fixture
def live(incidents: Org) -> Iterator[str]:
    with serve(incidents.settings) as server:
        yield server.url


def test_the_api_and_the_web_pages_scope_them(incidents: Org, live: str) -> None:
    def get(path: str, who: str) -> httpx.Response:
        return httpx.get(live + path, timeout=30,
                         headers={"Authorization": f"Bearer {incidents.tokens[who]}"})

    assert entities(get("/api/v1/investigations", "search").json()) == {"search-api"}
    assert entities(get("/api/v1/investigations", "admin").json()) == {  # (and what the
        "payments-api", "search-api", "db-host-3"}                       # worker adds)
    other = get("/api/v1/investigations/inv-pay", "search")
    assert other.status_code == 403 and "team payments" in other.json()["error"]
    assert get("/api/v1/investigations/inv-search", "search").status_code == 200
    assert alarm_entities(get("/api/v1/alarms", "search").json()) == {"search-api"}
    assert get("/api/v1/alarms", "exec").status_code == 403

    def start(service: str) -> httpx.Response:
        return httpx.post(live + "/api/v1/investigations", timeout=30,
                          headers={"Authorization": f"Bearer {incidents.tokens['search']}"},
                          json={"entity": service, "at": "2026-01-06T10:00:00Z"})

    assert start("payments-api").status_code == 403
    assert start("search-api").status_code == 202
    assert start("nope").status_code == 404

    page = get("/investigations.json", "search")
    assert entities(page.json()["investigations"]) == {"search-api"}
    assert get("/investigations/inv-pay.json", "search").status_code == 403
    html = get("/investigations/inv-pay", "search")
    assert html.status_code == 403 and "team payments" in html.text


@pytest.mark.slow
def test_mcp_and_the_cli_scope_them(incidents: Org) -> None:
    s, tok = incidents.settings, incidents.tokens
    listed = call(s, tok["search"], "list_investigations").structured_content
    assert entities(listed["investigations"]) == {"search-api"}
    assert "team payments" in error_text(call(s, tok["search"], "get_investigation",
                                              {"id": "inv-pay"}))
    assert "team payments" in error_text(call(s, tok["search"], "start_investigation",
                                              {"service": "payments-api"}))

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "shipwise", "--db", str(s.db), *args],
                              capture_output=True, text=True, timeout=120, cwd=s.db.parent,
                              env=cli_env(SHIPWISE_TOKEN=tok["search"]))

    res = cli("investigations", "list", "--format", "json")
    assert res.returncode == 0 and entities(json.loads(res.stdout)) == {"search-api"}
    res = cli("investigations", "show", "inv-pay")
    assert res.returncode == 1 and len(res.stderr.strip().splitlines()) == 1
    assert "team payments" in res.stderr
    res = cli("investigate", "--service", "payments-api", "--at", "now")
    assert res.returncode == 1 and "start an investigation on a service of team payments" in \
        res.stderr
