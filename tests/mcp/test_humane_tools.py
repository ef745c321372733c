"""The flow, strain, SLO, charter and fairness tools through the SDK's in-memory client: the
services' figures with the charter beside them, hidden figures null with their reason, and the
same roles and access log as every other interface."""

from __future__ import annotations

import json
from typing import Any

from mcp import Client

from shipwise.app import humane
from shipwise.app.caller import local_caller
from shipwise.app.context import open_store
from shipwise.app.results import dump
from shipwise.app.slo import slo_rows
from shipwise.config import Settings
from shipwise.governance.charter import load_charter
from shipwise.mcp.stdio import stdio_server
from tests.mcp.conftest import call, error_text, with_client


def plain(x: Any) -> Any:
    return json.loads(json.dumps(x, default=str))


def test_new_tools_publish_schemas(demo: Settings) -> None:
    async def go(client: Client) -> Any:
        return await client.list_tools()

    tools = {t.name: t for t in with_client(stdio_server(demo, None), go).tools}
    for name in ("get_flow", "get_strain", "get_slo", "get_charter", "fairness_audit"):
        assert tools[name].output_schema and tools[name].description, name
        assert tools[name].annotations.read_only_hint is True
    assert {"team", "grain"} <= set(tools["get_flow"].input_schema["properties"])
    assert "metric_id" in tools["get_charter"].input_schema["properties"]


def test_flow_and_strain_are_the_views_with_the_charter(demo: Settings,
                                                        tokens: dict[str, Any]) -> None:
    team = tokens["team"]
    for family, tool in (("flow", "get_flow"), ("strain", "get_strain")):
        res = call(demo, tokens["member"], tool, {"team": team, "grain": "month"})
        assert not res.is_error, res.content
        out = res.structured_content
        with local_caller(demo) as caller:  # the same door, as the store's owner
            expected = dump(humane.team_diagnostics(caller, family, (team,), grain="month"))
        charter = out.pop("charter")
        assert charter == expected.pop("charter")
        assert out == plain(expected)
        ids = {m for r in out["rows"] for m in r["metrics"]}
        assert ids and ids <= set(charter)
        assert all("individual ranking" in charter[m]["may_not_inform"] for m in ids)
        assert json.loads(res.content[0].text)["family"] == family


def test_hidden_figures_are_null_with_their_reason(demo: Settings, tokens: dict[str, Any]) -> None:
    out = call(demo, tokens["member"], "get_strain",
               {"team": tokens["team"], "grain": "week"}).structured_content
    hidden = [r for r in out["rows"] if r["suppressed"]]
    assert hidden
    for r in hidden:
        for col, why in r["suppressed"].items():
            assert isinstance(why, str) and why
            if col in r["metrics"]:
                assert r["metrics"][col] is None


def test_roles_for_flow_strain_and_org_units(demo: Settings, tokens: dict[str, Any]) -> None:
    other = error_text(call(demo, tokens["member"], "get_flow", {"team": tokens["other"]}))
    assert f"cannot open team {tokens['other']}" in other
    assert "may not team diagnostic" in error_text(
        call(demo, tokens["exec"], "get_strain", {"team": tokens["team"]}))
    org = call(demo, tokens["exec"], "get_strain", {})
    assert not org.is_error and org.structured_content["level"] == "org_unit"
    assert all("org_unit" in r for r in org.structured_content["rows"])
    assert "may not org diagnostic" in error_text(call(demo, tokens["member"], "get_flow", {}))
    assert "unknown grain" in error_text(
        call(demo, tokens["admin"], "get_flow", {"team": tokens["team"], "grain": "day"}))
    with open_store(demo) as store:
        log = store.query("SELECT role, action, subject, allowed, people_derived FROM access_log "
                          "WHERE interface = 'mcp' AND action IN ('team.diagnostic', "
                          "'org.diagnostic')")
    assert {"role": "member", "action": "team.diagnostic",
            "subject": f"team:{tokens['other']}:flow", "allowed": False,
            "people_derived": True} in log
    assert any(r["role"] == "exec" and r["subject"] == "org:strain" and r["allowed"] for r in log)


def test_slo_status_history_and_appetite(demo: Settings, tokens: dict[str, Any]) -> None:
    team = tokens["team"]
    res = call(demo, tokens["member"], "get_slo", {"team": team})
    assert not res.is_error, res.content
    out = res.structured_content
    with open_store(demo) as store:
        expected = slo_rows(store, demo.slo, team=team)
    charter = out.pop("charter")
    assert out == plain(expected)
    assert out["status"] and out["appetite"][team]["sentence"]
    assert {"slo.attainment", "slo.error_budget_remaining"} <= set(charter)
    assert "may not" in error_text(call(demo, tokens["exec"], "get_slo", {"team": team}))
    bad = error_text(call(demo, tokens["admin"], "get_slo", {"team": team, "at": "soon"}))
    assert "cannot read the instant" in bad


def test_get_charter_whole_and_one_entry(demo: Settings, tokens: dict[str, Any]) -> None:
    charter = load_charter()
    whole = call(demo, tokens["member"], "get_charter").structured_content
    assert whole["version"] == charter.version and whole["problems"] == []
    assert set(whole["metrics"]) == set(charter.entries) and whole["retention"]["page"]["days"]
    assert "individual ranking" in whole["forbidden_uses"] and whole["entry"] is None
    one = call(demo, tokens["exec"], "get_charter", {"metric_id": "strain.sleep_hour_pages"})
    assert not one.is_error
    entry = one.structured_content["entry"]
    assert entry["id"] == "strain.sleep_hour_pages" and entry["may_not_inform"]
    assert "no charter entry" in error_text(
        call(demo, tokens["exec"], "get_charter", {"metric_id": "nope"}))


def test_fairness_audit_for_exec_not_member(demo: Settings, tokens: dict[str, Any]) -> None:
    res = call(demo, tokens["exec"], "fairness_audit")
    assert not res.is_error, res.content
    out = res.structured_content
    assert out["findings"] and all(f["text"] and f["severity"] for f in out["findings"])
    assert out["flags"] and out["org_unit_variance"] and out["charter"]
    assert "may not fairness audit" in error_text(call(demo, tokens["member"], "fairness_audit"))
