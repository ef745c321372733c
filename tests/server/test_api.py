"""The REST API over real HTTP (uvicorn on loopback) on the demo organisation, one token per role."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.core.result import Ok

from shipwise.app.tokens import create_token
from shipwise.store.duckdb_store import Store
from tests.conftest import cli_env
from tests.server.conftest import SECRET, Live, demo_copy, demo_store, serve

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


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with pytest.MonkeyPatch.context() as mp:
        settings = demo_copy(tmp_path_factory, mp, "api")
        db, copy = demo_store(tmp_path_factory.getbasetemp()), settings.db
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
    # every read here came through the API; the demo was imported by the store's owner (CLI)
    assert {r["interface"] for r in log if r["action"] != "admin.ingest"} == {"api"}
    assert {r["interface"] for r in log if r["action"] == "admin.ingest"} <= {"cli"}


# -- content -------------------------------------------------------------------------------------

def test_catalog_has_charter_entries(api: Api) -> None:
    catalog = api.get("/api/v1/metrics", who="exec").json()
    assert catalog and all(m["charter"] for m in catalog)
    one = api.get(f"/api/v1/metrics/{catalog[0]['id']}", who="exec")
    assert one.status_code == 200 and one.json() == catalog[0]
    missing = api.get("/api/v1/metrics/no.such_metric")
    assert missing.status_code == 404 and missing.json()["hint"]


def test_dora_groups_metrics_as_2025_and_scores_the_quick_check(api: Api) -> None:
    body = api.get(f"/api/v1/teams/{api.team}/dora", who="member").json()
    groups = body["groups"]
    assert {m for m, g in groups.items() if g == "instability"} == {
        "dora.change_fail_rate", "dora.rework_rate"}
    assert {"dora.deployment_frequency", "dora.change_lead_time",
            "dora.failed_deployment_recovery_time"} <= {
        m for m, g in groups.items() if g == "throughput"}
    assert body["levels"] == "DORA 2024 levels"
    row = body["rows"][-1]
    qc = row["quick_check"]
    scores = [s for s in qc["metrics"].values() if s is not None]
    assert scores and all(0 <= s <= 10 for s in scores)
    assert qc["overall"] == pytest.approx(sum(scores) / len(scores))
    # a rate's score is (100 - percentage) / 10 of the row's own measured rate
    rate = row["metrics"]["dora.change_fail_rate"]
    assert qc["metrics"]["dora.change_fail_rate"] == pytest.approx((100 - 100 * rate) / 10)
    (allind, *_) = body["quick_check"]["benchmarks"][api.team]
    assert allind["name"] == "All industries"
    assert allind["metrics"]["dora.change_lead_time"] == {"mean": 5.5, "sd": 2.4}
    assert "dora-team/dora.dev" in body["quick_check"]["source"]["repository"]


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
    for answer in (dora, cost, org):  # the doors attach the charter entries of the ids in it
        figures = {k: v for k, v in answer.items() if k != "charter"}
        assert set(answer["charter"]) >= metric_ids(figures) != set()
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
                 "/api/v1/investigations", "/api/v1/tokens/{token_id}", "/api/v1/audit",
                 "/api/v1/teams/{team}/flow", "/api/v1/teams/{team}/strain",
                 "/api/v1/teams/{team}/slo", "/api/v1/org/flow", "/api/v1/org/strain",
                 "/api/v1/charter", "/api/v1/charter/{metric_id}", "/api/v1/fairness",
                 "/api/v1/admin/retention"):
        assert path in paths
    dora = paths["/api/v1/teams/{team}/dora"]["get"]
    assert dora["summary"] and {"401", "403", "422"} <= set(dora["responses"])


# -- flow, strain, SLOs, governance ---------------------------------------------------------------

def metric_ids(answer: Any) -> set[str]:
    """Every metric id an answer carries a value for (the keys of its ``metrics`` maps)."""
    ids: set[str] = set()

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            for k, v in x.items():
                if k == "metrics" and isinstance(v, dict):
                    ids.update(v)
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(answer)
    return ids


def assert_charter_beside_numbers(answer: dict[str, Any]) -> None:
    ids = metric_ids(answer)
    assert ids, "no metric values in the answer"
    missing = ids - set(answer["charter"])
    assert not missing, f"no charter entry beside {sorted(missing)}"
    for mid in ids:
        entry = answer["charter"][mid]
        assert entry["id"] == mid and entry["definition"] and entry["charter_version"] >= 1
        assert "individual ranking" in entry["may_not_inform"] and entry["may_inform"]


def refusals(api: Api, who: str, subject: str) -> list[dict[str, Any]]:
    token_id = api.tokens[who].split("_")[1]
    log = api.get("/api/v1/audit", limit=10_000).json()
    return [r for r in log if r["token_id"] == token_id and r["subject"] == subject
            and not r["allowed"]]


def test_member_reads_its_flow_and_strain_and_is_refused_another_team(api: Api) -> None:
    for family in ("flow", "strain"):
        res = api.get(f"/api/v1/teams/{api.team}/{family}", who="member")
        assert res.status_code == 200, res.text
        body = res.json()
        assert body["family"] == family and body["level"] == "team" and body["rows"]
        assert {r["team"] for r in body["rows"]} == {api.team}
        assert_charter_beside_numbers(body)
        other = api.get(f"/api/v1/teams/{api.other_team}/{family}", who="member")
        assert other.status_code == 403 and other.json()["hint"]
        assert refusals(api, "member", f"team:{api.other_team}:{family}"), "refusal not logged"
    log = api.get("/api/v1/audit", people_derived="true", limit=10_000).json()
    assert log and all(r["people_derived"] for r in log)
    assert any(r["subject"] == f"team:{api.team}:flow" and r["allowed"] for r in log)


def test_exec_gets_org_units_but_not_team_strain(api: Api) -> None:
    for family in ("flow", "strain"):
        res = api.get(f"/api/v1/org/{family}", who="exec", grain="month")
        assert res.status_code == 200, res.text
        body = res.json()
        assert body["level"] == "org_unit" and body["grain"] == "month" and body["rows"]
        assert all("org_unit" in r and "team" not in r for r in body["rows"])
        assert_charter_beside_numbers(body)
        assert api.get(f"/api/v1/teams/{api.team}/{family}", who="exec").status_code == 403
        assert api.get(f"/api/v1/org/{family}", who="member").status_code == 403
    assert refusals(api, "exec", f"team:{api.team}:strain")


def test_suppressed_figures_are_null_with_a_reason_and_no_people_counts(api: Api) -> None:
    body = api.get(f"/api/v1/teams/{api.team}/strain", grain="week").json()
    hidden = [r for r in body["rows"] if r["suppressed"]]
    assert hidden, "the demo has weeks with too few responders"
    for r in hidden:
        for col, why in r["suppressed"].items():
            assert why and isinstance(why, str)
            value = r["metrics"][col] if col in r["metrics"] else r["counts"][col]
            assert value is None, (r["period"], col, value)
    for r in body["rows"]:
        assert not {"people", "responders", "authors"} & set(r["counts"])
    text = json.dumps(body)
    assert "author" not in text and "email" not in text


def test_team_slo_has_status_history_and_the_release_appetite(api: Api) -> None:
    res = api.get(f"/api/v1/teams/{api.team}/slo", who="member")
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["team"] == api.team and body["status"] and body["history"]["rows"]
    for s in body["status"]:
        assert s["team"] == api.team
        assert {"slo.attainment", "slo.error_budget_remaining", "slo.burn_rate",
                "slo.release_appetite"} <= set(s["metrics"])
        assert s["alert_state"] in ("ok", "ticket", "page", "unknown")
    appetite = body["appetite"][api.team]
    assert appetite["appetite"] in ("full", "reduced", "fixes only") and appetite["sentence"]
    assert_charter_beside_numbers(body)
    at = api.get(f"/api/v1/teams/{api.team}/slo", at="2026-01-15T12:00:00+01:00",
                 grain="quarter").json()
    assert at["at"] == "2026-01-15T11:00:00Z" and at["history"]["grain"] == "quarter"
    assert api.get(f"/api/v1/teams/{api.other_team}/slo", who="member").status_code == 403
    assert api.get(f"/api/v1/teams/{api.team}/slo", who="exec").status_code == 403
    assert api.get("/api/v1/teams/no-such-team/slo").status_code == 404


def test_charter_with_its_validation_and_one_entry(api: Api) -> None:
    res = api.get("/api/v1/charter", who="member")
    assert res.status_code == 200
    charter = res.json()
    assert charter["version"] >= 2 and charter["problems"] == []
    assert "individual ranking" in charter["forbidden_uses"] and charter["retention"]["page"]
    one = api.get("/api/v1/charter/flow.cycle_time", who="exec").json()
    assert one["id"] == "flow.cycle_time" and one["charter_version"] == charter["version"]
    assert one["may_not_inform"] == charter["metrics"]["flow.cycle_time"]["may_not_inform"]
    missing = api.get("/api/v1/charter/no.such_metric")
    assert missing.status_code == 404 and missing.json()["hint"]


def test_fairness_audit_for_exec_and_admin_only(api: Api) -> None:
    res = api.get("/api/v1/fairness", who="exec")
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["findings"] and all(f["text"] and f["severity"] for f in body["findings"])
    assert body["flags"] and body["observations"]["teams"] >= 2
    assert set(body["charter"]) >= {r["metric"] for r in body["org_unit_variance"]
                                   if r["kind"] == "metric"}
    assert api.get("/api/v1/fairness", who="member").status_code == 403
    bad = api.get("/api/v1/fairness", flag="no.such_flag")
    assert bad.status_code == 400 and "dora.low_cluster" in bad.json()["hint"]
    assert api.get("/api/v1/fairness", migration_quarter="spring").status_code == 400


def test_audit_filters(api: Api) -> None:
    api.get(f"/api/v1/teams/{api.team}/dora", who="member")
    assert api.get(f"/api/v1/teams/{api.team}/strain", who="member").status_code == 200
    everything = api.get("/api/v1/audit", limit=10_000).json()
    people = api.get("/api/v1/audit", people_derived="true", limit=10_000).json()
    others = api.get("/api/v1/audit", people_derived="false", limit=10_000).json()
    assert people and others and all(not r["people_derived"] for r in others)
    assert all(r["people_derived"] for r in people)
    assert any(r["subject"] == f"team:{api.team}:strain" for r in people)
    seen = {(r["read_at"], r["subject"]) for r in everything}
    assert {(r["read_at"], r["subject"]) for r in people if r["read_at"] <= everything[0]["read_at"]
            } <= seen
    assert api.get("/api/v1/audit", since="2999-01-01").json() == []
    assert len(api.get("/api/v1/audit", since="2000-01-01", limit=3).json()) == 3
    assert api.get("/api/v1/audit", who="exec").status_code == 403


def test_retention_is_admin_only_and_dry_runs_by_default(api: Api) -> None:
    assert api.send("POST", "/api/v1/admin/retention", who="member", body={}).status_code == 403
    assert refusals(api, "member", "retention:dry-run")
    dry = api.send("POST", "/api/v1/admin/retention", body={"as_of": "2027-01-01"})
    assert dry.status_code == 200, dry.text
    report = dry.json()
    assert report["dry_run"] is True and report["as_of"].startswith("2027-01-01")
    assert {r["record_type"] for r in report["records"]} >= {"page", "pull_request"}
    assert any(r["rows"] > 0 for r in report["records"])
    before = api.get(f"/api/v1/teams/{api.team}/strain").json()
    # a real run whose cut-offs precede every record removes nothing, and is recorded
    run = api.send("POST", "/api/v1/admin/retention",
                   body={"as_of": "2000-01-01", "dry_run": False}).json()
    assert run["dry_run"] is False and all(r["rows"] == 0 for r in run["records"])
    assert api.get(f"/api/v1/teams/{api.team}/strain").json() == before
    runs = api.get("/api/v1/admin/retention")
    assert runs.status_code == 200 and runs.json()
    assert api.get("/api/v1/admin/retention", who="exec").status_code == 403
    bad = api.send("POST", "/api/v1/admin/retention", body={"as_of": "0001-01-01"})
    assert bad.status_code == 422


# -- the OpenAPI, fuzzed ---------------------------------------------------------------------------

def test_no_server_errors(api: Api) -> None:
    """Schemathesis over /openapi.json with an admin token (the webhook secret for webhooks),
    valid and invalid requests, 10 of each per operation: nothing answers 5xx.

    One plain test that walks the operations itself: ``schemathesis.pytest.from_fixture`` (4.32.5)
    reads ``Node._nodeid``, which pytest 9.2 no longer has, so that form errors there."""
    schema = schemathesis.openapi.from_url(api.live.url + "/openapi.json")
    failures: list[str] = []
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            failures.append(f"not testable: {result.err()}")
            continue
        operation = result.ok()
        secret = SECRET if operation.path.startswith("/webhooks/") else api.tokens["admin"]
        headers = {"Authorization": f"Bearer {secret}"}
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            try:
                no_5xx(api.live.url, headers, operation.as_strategy(generation_mode=mode))
            except Exception as exc:  # the shrunk failing request; the other operations go on
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert not failures, "\n\n".join(failures)


def no_5xx(url: str, headers: dict[str, str], cases: Any) -> None:
    """Send 10 of ``cases`` to ``url``: none may answer 5xx."""

    @given(case=cases)
    @settings(max_examples=10, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    def run(case: Any) -> None:
        response = case.call(base_url=url, headers=headers, timeout=30)
        assert response.status_code < 500, (case.as_curl_command(), response.text)

    with suppress(Unsatisfiable):  # an operation without parameters or body: nothing invalid
        run()


def test_the_server_decides_suppression_before_the_first_team_page(api: Api) -> None:
    """On start the server prepares flow and strain suppression in the background (prewarm)."""
    import time

    deadline = time.time() + 180  # the demo organisation, on a loaded CI machine
    while time.time() < deadline and set(api.live.state.prewarmed) != {"flow", "strain"}:
        time.sleep(0.2)
    assert set(api.live.state.prewarmed) == {"flow", "strain"}
