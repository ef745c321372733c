"""The REST API over real HTTP (uvicorn on loopback) on the demo organisation, one token per role."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from pydantic import SecretStr

import shipwise.services.investigate as engine
from shipwise.config import WebhookSettings, load_settings
from shipwise.services.demo import run_demo
from shipwise.services.tokens import create_token
from shipwise.store.duckdb_store import Store
from tests.conftest import cli_env
from tests.server.conftest import SECRET, FakeEngine, Live, serve

pytestmark = pytest.mark.slow


@dataclass
class Api:
    live: Live
    tokens: dict[str, str]  # role (member, other, exec, admin, revoked) -> token value
    team: str
    other_team: str
    service: str
    db: Path  # the demo store the server's copy came from (the CLI reads it)

    def get(self, path: str, who: str | None = "admin", **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return httpx.get(self.live.url + path, headers=headers, params=params, timeout=30)

    def send(self, method: str, path: str, who: str = "admin",
             body: dict[str, Any] | None = None) -> httpx.Response:
        return httpx.request(method, self.live.url + path, json=body, timeout=30,
                             headers={"Authorization": f"Bearer {self.tokens[who]}"})


def demo_store(root: Path) -> Path:
    """The demo organisation in a store under ``root`` (built once per test session)."""
    db = root / "demo.duckdb"
    if not db.exists():
        run_demo(load_settings(db=db))
    return db


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("SHIPWISE_PSEUDONYM_KEY", raising=False)
        mp.delenv("SHIPWISE_DB", raising=False)
        mp.setattr(engine, "investigate_alarm", FakeEngine(), raising=False)
        db = demo_store(tmp_path_factory.getbasetemp())
        work = tmp_path_factory.mktemp("api")
        mp.chdir(work)
        copy = work / "shipwise.duckdb"
        shutil.copy(db, copy)
        for extra in db.parent.glob(db.name + ".*"):  # the pseudonym key beside the store
            shutil.copy(extra, work / extra.name.replace(db.name, copy.name))
        settings = load_settings(db=copy).model_copy(
            update={"webhooks": WebhookSettings(secret=SecretStr(SECRET))})
        with Store.open(copy) as store:
            teams = [r["id"] for r in store.query("SELECT id FROM team ORDER BY id")]
            team, other = teams[0], teams[1]
            (service,) = store.query("SELECT min(id) AS s FROM service WHERE team = ?", [team])
            toks = {
                "member": create_token(store, "member", "member", team)["token"],
                "lead": create_token(store, "lead", "lead", other)["token"],
                "exec": create_token(store, "cfo", "exec")["token"],
                "admin": create_token(store, "admin", "admin")["token"],
                "revoked": create_token(store, "old", "admin")["token"],
            }
        with serve(settings) as live:
            yield Api(live, toks, team, other, str(service["s"]), db)  # db: for the CLI


# -- authentication ------------------------------------------------------------------------------

def test_no_token_is_401_with_a_hint(api: Api) -> None:
    res = api.get("/api/v1/me", who=None)
    assert res.status_code == 401
    body = res.json()
    assert body["error"] and "shipwise token create" in body["hint"]
    assert res.headers["cache-control"] == "no-store"


def test_a_malformed_or_revoked_token_is_401(api: Api) -> None:
    token_id = api.tokens["revoked"].split("_")[1]
    res = api.send("DELETE", f"/api/v1/tokens/{token_id}")
    assert res.status_code == 200 and res.json() == {"id": token_id, "revoked": True}
    res = api.get("/api/v1/me", who="revoked")
    assert res.status_code == 401 and "revoked" in res.json()["error"]
    res = httpx.get(api.live.url + "/api/v1/me", headers={"Authorization": "Bearer nope"})
    assert res.status_code == 401 and "hint" in res.json()


def test_me_says_who_and_what(api: Api) -> None:
    res = api.get("/api/v1/me", who="member")
    assert res.status_code == 200 and res.headers["cache-control"] == "no-store"
    body = res.json()
    assert body["role"] == "member" and body["team"] == api.team
    assert "team.diagnostic" in body["may"] and "org.cost" not in body["may"]


# -- roles ---------------------------------------------------------------------------------------

def test_member_sees_its_team_only(api: Api) -> None:
    dora = api.get(f"/api/v1/teams/{api.team}/dora", who="member")
    assert dora.status_code == 200, dora.text
    assert dora.json()["rows"] and {r["team"] for r in dora.json()["rows"]} == {api.team}
    cost = api.get(f"/api/v1/teams/{api.team}/cost", who="member")
    assert cost.status_code == 200 and cost.json()["rows"]
    for path in (f"/api/v1/teams/{api.other_team}/dora", f"/api/v1/teams/{api.other_team}/cost",
                 "/api/v1/org/cost", "/api/v1/audit", "/api/v1/tokens"):
        res = api.get(path, who="member")
        assert res.status_code == 403, (path, res.text)
        assert res.json()["hint"] and res.headers["cache-control"] == "no-store"


def test_lead_is_scoped_like_a_member(api: Api) -> None:
    assert api.get(f"/api/v1/teams/{api.other_team}/dora", who="lead").status_code == 200
    assert api.get(f"/api/v1/teams/{api.team}/dora", who="lead").status_code == 403


def test_exec_sees_org_cost_not_team_diagnostics(api: Api) -> None:
    res = api.get("/api/v1/org/cost", who="exec")
    assert res.status_code == 200 and res.json()["organisation"]
    assert api.get(f"/api/v1/teams/{api.team}/dora", who="exec").status_code == 403
    assert api.get("/api/v1/investigations", who="exec").status_code == 403
    assert api.get("/api/v1/teams", who="exec").status_code == 200


def test_admin_sees_all_and_the_audit_lists_refusals(api: Api) -> None:
    for path in ("/api/v1/teams", "/api/v1/services", "/api/v1/metrics", "/api/v1/org/cost",
                 f"/api/v1/teams/{api.team}/dora", f"/api/v1/teams/{api.other_team}/cost",
                 "/api/v1/investigations", "/api/v1/alarms", "/api/v1/tokens"):
        res = api.get(path)
        assert res.status_code == 200, (path, res.text)
    api.get("/api/v1/org/cost", who="member")  # refused, and logged
    api.get(f"/api/v1/teams/{api.team}/dora", who="member")  # allowed, and logged
    log = api.get("/api/v1/audit", limit=1000).json()
    member_id = api.tokens["member"].split("_")[1]
    refused = [r for r in log if r["token_id"] == member_id and not r["allowed"]]
    assert any(r["action"] == "org.cost" for r in refused)
    assert any(r["action"] == "team.diagnostic" and r["allowed"] and r["token_id"] == member_id
               for r in log)
    assert all(r["interface"] == "api" for r in log)


# -- content -------------------------------------------------------------------------------------

def test_catalog_has_charter_entries(api: Api) -> None:
    catalog = api.get("/api/v1/metrics", who="exec").json()
    assert catalog and all(m["charter"] for m in catalog)
    one = api.get(f"/api/v1/metrics/{catalog[0]['id']}", who="exec")
    assert one.status_code == 200 and one.json() == catalog[0]
    missing = api.get("/api/v1/metrics/no.such_metric")
    assert missing.status_code == 404 and missing.json()["hint"]


def test_dora_and_cost_are_the_cli_json(api: Api) -> None:
    params = {"grain": "month", "since": "2026-01-01", "until": "2026-06-30"}
    dora = api.get(f"/api/v1/teams/{api.team}/dora", **params).json()
    cost = api.get(f"/api/v1/teams/{api.team}/cost", baseline="qoq", **params).json()
    org = api.get("/api/v1/org/cost", who="exec").json()
    env = cli_env(SHIPWISE_DB=str(api.db))
    env.pop("SHIPWISE_TOKEN", None)

    def cli(*args: str) -> Any:
        out = subprocess.run([sys.executable, "-m", "shipwise", *args, "--format", "json"],
                             env=env, capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    span = ["--grain", "month", "--since", "2026-01-01", "--until", "2026-06-30"]
    assert same(dora, cli("metrics", "dora", "--team", api.team, *span))
    assert same(cost, cli("cost", "--team", api.team, "--baseline", "qoq", *span))
    assert same(org, cli("cost"))


def same(a: Any, b: Any) -> bool:
    """Equal JSON, floats to 1e-9 (DuckDB's parallel sums may differ in the last bit)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-9)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def test_bad_parameters_are_422_or_400_saying_what_to_do(api: Api) -> None:
    res = api.get(f"/api/v1/teams/{api.team}/dora", grain="fortnight")
    assert res.status_code == 422 and "grain" in res.json()["error"]
    res = api.get(f"/api/v1/teams/{api.team}/cost", since="yesterday")
    assert res.status_code == 422 and "since" in res.json()["error"]
    res = api.get(f"/api/v1/teams/{api.team}/dora", since="2026-06-01", until="2026-01-01")
    assert res.status_code == 400 and "since" in res.json()["error"]
    res = api.get("/api/v1/teams/no-such-team/dora")
    assert res.status_code == 404 and res.json()["hint"]


def test_start_an_investigation_queues_an_alarm(api: Api) -> None:
    body = {"entity": api.service, "at": "2026-09-01T10:00:00Z", "metric": "error_rate"}
    res = api.send("POST", "/api/v1/investigations", who="member", body=body)
    assert res.status_code == 202, res.text
    queued = res.json()
    assert queued["id"].startswith("alm-") and queued["queued"] is True
    rows = {r["id"]: r for r in api.live.settled()}
    assert rows[queued["id"]]["alarm"]["entity"] == api.service
    listed = api.get("/api/v1/alarms", who="member").json()
    assert queued["id"] in {r["id"] for r in listed}
    again = api.send("POST", "/api/v1/investigations", who="member", body=body).json()
    assert again["id"] == queued["id"] and again["duplicate"] is True
    naive = api.send("POST", "/api/v1/investigations", body={**body, "at": "2026-09-01T10:00"})
    assert naive.status_code == 422
    unknown = api.send("POST", "/api/v1/investigations", body={**body, "entity": "nope"})
    assert unknown.status_code == 404
    assert api.send("POST", "/api/v1/investigations", who="exec", body=body).status_code == 403


def test_investigation_records(api: Api) -> None:
    listed = api.get("/api/v1/investigations")
    assert listed.status_code == 200 and isinstance(listed.json(), list)
    for inv in listed.json()[:1]:
        one = api.get(f"/api/v1/investigations/{inv['id']}")
        assert one.status_code == 200 and one.json()["id"] == inv["id"]
    res = api.get("/api/v1/investigations/inv-none")
    assert res.status_code == 404


def test_token_admin(api: Api) -> None:
    res = api.send("POST", "/api/v1/tokens", body={"name": "bot", "role": "member",
                                                   "team": api.team})
    assert res.status_code == 201, res.text
    new = res.json()
    me = httpx.get(api.live.url + "/api/v1/me",
                   headers={"Authorization": f"Bearer {new['token']}"}).json()
    assert me["team"] == api.team
    listed = api.get("/api/v1/tokens").json()
    assert new["id"] in {t["id"] for t in listed} and all("token" not in t for t in listed)
    assert all("secret" not in json.dumps(t) for t in listed)
    bad = api.send("POST", "/api/v1/tokens", body={"name": "x", "role": "member"})
    assert bad.status_code == 400 and "team" in bad.json()["error"]
    assert api.send("DELETE", "/api/v1/tokens/000000000000").status_code == 404
    assert api.send("POST", "/api/v1/tokens", who="exec",
                    body={"name": "x", "role": "admin"}).status_code == 403


def test_openapi_describes_the_api(api: Api) -> None:
    spec = httpx.get(api.live.url + "/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/v1/me", "/api/v1/teams/{team}/dora", "/api/v1/org/cost",
                 "/api/v1/investigations", "/api/v1/tokens/{token_id}", "/api/v1/audit"):
        assert path in paths
    dora = paths["/api/v1/teams/{team}/dora"]["get"]
    assert dora["summary"] and {"401", "403", "422"} <= set(dora["responses"])


# -- the OpenAPI, fuzzed ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def api_schema(api: Api) -> Any:
    return schemathesis.openapi.from_url(api.live.url + "/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_no_server_errors(case: Any, api: Api) -> None:
    """Schemathesis over /openapi.json with an admin token: nothing answers 5xx."""
    response = case.call(base_url=api.live.url,
                         headers={"Authorization": f"Bearer {api.tokens['admin']}"}, timeout=30)
    assert response.status_code < 500, (case.method, case.path, response.text)
