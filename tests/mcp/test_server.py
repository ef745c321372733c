"""The MCP tools through the SDK's in-memory client, as ``shipwise mcp`` composes them (the store
opened per call, the caller being the principal of a token): same data as the services, the same
refusals, structured outputs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import Client

from shipwise.app.context import open_store
from shipwise.app.metrics import DoraRequest, dora_rows
from shipwise.app.tokens import authenticate
from shipwise.config import Settings
from shipwise.governance.access import LOCAL_ADMIN
from shipwise.governance.charter import load_charter
from shipwise.mcp.stdio import stdio_server
from tests.mcp.conftest import call, error_text, with_client

TOOLS = {"list_teams", "get_dora", "get_cost", "explain_metric", "list_investigations",
         "get_investigation", "ask_investigation", "start_investigation", "get_flow", "get_strain", "get_slo",
         "get_charter", "fairness_audit", "explain_deployment", "explain_pull_request", "explain_incident",
         "verify_investigation", "blast_radius", "mark_verdict", "investigation_accuracy",
         "list_prevention", "decide_prevention", "team_digest", "list_incidents",
         "ai_adoption", "ai_agents", "ai_effect"}


def test_tools_are_listed_with_input_and_output_schemas(demo: Settings) -> None:
    async def go(client: Client) -> Any:
        return await client.list_tools()

    tools = {t.name: t for t in with_client(stdio_server(demo, None), go).tools}
    assert set(tools) == TOOLS
    assert all(t.output_schema and t.description for t in tools.values())
    assert "team" in tools["get_dora"].input_schema["properties"]
    assert tools["list_teams"].annotations.read_only_hint is True


def test_list_teams_gives_structured_content(demo: Settings, tokens: dict[str, Any]) -> None:
    res = call(demo, tokens["member"], "list_teams")
    assert not res.is_error
    teams = res.structured_content["teams"]
    assert {tokens["team"], tokens["other"]} <= {t["team"] for t in teams}
    assert all(t["services"] >= 1 for t in teams)
    assert json.loads(res.content[0].text) == res.structured_content  # text twin for old clients


def test_get_dora_returns_the_services_rows(demo: Settings, tokens: dict[str, Any]) -> None:
    team = tokens["team"]
    res = call(demo, tokens["member"], "get_dora", {"team": team, "grain": "month"})
    assert not res.is_error, res.content
    with open_store(demo) as store:
        expected = dora_rows(store, DoraRequest(grain="month", team=(team,)))
    out = res.structured_content
    assert {k: out[k] for k in expected} == json.loads(json.dumps(expected, default=str))
    assert set(out["release_appetite"]) == {team}  # beside deployment frequency, as the API
    assert set(out["charter"]) >= set(out["rows"][0]["metrics"])
    assert res.structured_content["rows"] and {r["team"] for r in res.structured_content["rows"]} == {team}
    since = call(demo, tokens["admin"], "get_dora", {"team": team, "since": "2025-04-01"})
    assert since.structured_content["since"] == "2025-04-01"


def test_a_member_is_refused_another_team_and_the_org_cost_with_the_reason(
        demo: Settings, tokens: dict[str, Any]) -> None:
    other = error_text(call(demo, tokens["member"], "get_dora", {"team": tokens["other"]}))
    assert f"cannot open team {tokens['other']}" in other
    assert "ask an admin for a token of that team" in other
    cost = error_text(call(demo, tokens["member"], "get_cost", {}))
    assert "role member may not org cost" in cost and "roles allowed: exec, admin" in cost
    assert "may not" in error_text(call(demo, tokens["exec"], "get_dora", {"team": tokens["team"]}))
    with open_store(demo) as store:  # refusals are in the access log, marked as MCP
        refused = store.query("SELECT role, action, subject FROM access_log WHERE interface = "
                              "'mcp' AND NOT allowed")
    assert {"role": "member", "action": "org.cost", "subject": "org:cost"} in refused


def test_cost_of_a_team_and_of_the_organisation(demo: Settings, tokens: dict[str, Any]) -> None:
    own = call(demo, tokens["member"], "get_cost", {"team": tokens["team"], "baseline": "qoq"})
    assert not own.is_error and own.structured_content["baseline"] == "qoq"
    assert {r["team"] for r in own.structured_content["rows"]} == {tokens["team"]}
    org = call(demo, tokens["exec"], "get_cost", {})
    assert not org.is_error and org.structured_content["organisation"]
    assert "unknown grain" in error_text(call(demo, tokens["exec"], "get_cost", {"grain": "day"}))


def test_explain_metric_returns_the_charter_entry(demo: Settings, tokens: dict[str, Any]) -> None:
    res = call(demo, tokens["exec"], "explain_metric", {"metric_id": "dora.change_lead_time"})
    assert not res.is_error
    entry = res.structured_content
    assert entry["id"] == "dora.change_lead_time" and entry["family"] == "dora"
    assert entry["charter"] == json.loads(json.dumps(
        load_charter().get("dora.change_lead_time").model_dump(), default=str))
    assert "individual performance rating" in entry["charter"]["may_not_inform"]
    unknown = error_text(call(demo, tokens["exec"], "explain_metric", {"metric_id": "nope"}))
    assert "unknown metric 'nope'" in unknown and "cost.cost_to_serve" in unknown


def test_investigations_are_read_by_team_roles_and_refused_to_exec(
        demo: Settings, tokens: dict[str, Any]) -> None:
    listed = call(demo, tokens["member"], "list_investigations", {"limit": 5})
    assert not listed.is_error and isinstance(listed.structured_content["investigations"], list)
    assert "may not investigations read" in error_text(
        call(demo, tokens["exec"], "list_investigations"))
    assert "no investigation 'x'" in error_text(call(demo, tokens["admin"], "get_investigation",
                                                    {"id": "x"}))


def test_start_investigation_is_authorised_then_runs_here(demo: Settings,
                                                          tokens: dict[str, Any]) -> None:
    assert "may not investigations start" in error_text(
        call(demo, tokens["exec"], "start_investigation", {"service": "anything"}))
    # a member: their own team's services only (an entity of no team: admins)
    assert "no team's service" in error_text(call(
        demo, tokens["member"], "start_investigation", {"service": "anything"}))
    with open_store(demo) as store:
        mine = store.query("SELECT min(id) AS s FROM service WHERE team = ?",
                           [tokens["team"]])[0]["s"]
        theirs = store.query("SELECT min(id) AS s FROM service WHERE team = ?",
                             [tokens["other"]])[0]["s"]
    assert f"service of team {tokens['other']}" in error_text(call(
        demo, tokens["member"], "start_investigation", {"service": theirs}))
    started = call(demo, tokens["member"], "start_investigation",
                   {"service": mine, "at": "2026-01-05T10:00:00+00:00", "metric": "errors"})
    assert not started.is_error, started.content
    out = started.structured_content
    assert out["outcome"] == "completed" and out["service"] == mine and out["message"]
    # only the store as evidence: inconclusive, with what it could not see and how to connect it
    assert out["status"] == "inconclusive" and "inconclusive" in out["message"]
    assert any("investigate.sources.prometheus.url" in g["how"] for g in out["gaps"])
    got = call(demo, tokens["member"], "get_investigation", {"id": out["investigation_id"]})
    assert not got.is_error and got.structured_content["id"] == out["investigation_id"]
    assert got.structured_content["alarm"]["entity"] == mine
    asked = call(demo, tokens["member"], "ask_investigation",
                 {"id": out["investigation_id"], "question": "what could you not see?"})
    assert not asked.is_error, asked.content
    assert asked.structured_content["intent"] == "gaps" and asked.structured_content["answered"]
    assert any("investigate.sources.prometheus.url" in f["text"]
               for f in asked.structured_content["facts"])
    anything = call(demo, tokens["admin"], "start_investigation",
                    {"service": "anything", "at": "2026-01-05T10:00:00+00:00"})
    assert not anything.is_error, anything.content
    listed = call(demo, tokens["admin"], "list_investigations").structured_content
    ids = {i["id"] for i in listed["investigations"]}
    assert {out["investigation_id"], anything.structured_content["investigation_id"]} <= ids
    own = call(demo, tokens["member"], "list_investigations").structured_content
    assert {i["entity"] for i in own["investigations"]} == {mine}
    assert "no team's service" in error_text(call(
        demo, tokens["member"], "get_investigation",
        {"id": anything.structured_content["investigation_id"]}))
    bad = error_text(call(demo, None, "start_investigation", {"service": "x", "at": "soon"}))
    assert "not a time: 'soon'" in bad and "ISO-8601" in bad


def test_stdio_acts_as_the_token_and_refuses_a_bad_one(demo: Settings,
                                                       tokens: dict[str, Any]) -> None:
    from shipwise.errors import UnauthorizedError

    with pytest.raises(UnauthorizedError):
        stdio_server(demo, "sw_000000000000_" + "x" * 30)
    with open_store(demo) as store:
        assert authenticate(store, tokens["member"]).role == "member"
        refused = store.con.execute(  # the refusal is audited, without the secret
            "SELECT token_id, subject FROM access_log WHERE interface = 'mcp' "
            "AND action = 'auth.refused' ORDER BY read_at DESC LIMIT 1").fetchone()
    assert refused and refused[0] == "000000000000" and "x" * 30 not in refused[1]
    assert LOCAL_ADMIN.role == "admin"
    # without a token: the local administrator, who may see every team
    res = call(demo, None, "get_dora", {"team": tokens["other"]})
    assert not res.is_error


def test_a_team_reads_its_own_digest_and_not_another_teams(demo: Settings,
                                                           tokens: dict[str, Any]) -> None:
    own = call(demo, tokens["member"], "team_digest", {"team": tokens["team"]})
    assert not own.is_error, own.content
    d = own.structured_content
    assert d["team"] == tokens["team"] and [s["family"] for s in d["sections"]] == [
        "dora", "flow", "strain"]
    assert not d.get("queued") and not d.get("row_id")  # reading sends nothing
    refused = error_text(call(demo, tokens["member"], "team_digest", {"team": tokens["other"]}))
    assert tokens["other"] in refused
