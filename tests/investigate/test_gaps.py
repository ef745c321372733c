"""Honest when unsure (issue 16 item 5): a cause is named only when it is connected to the
alarm's service and shows an effect of its own; otherwise the investigation ends inconclusive
with its gaps — what it could not see and how to connect it. Against a real Prometheus."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from shipwise.app import incidents
from shipwise.app.results import dump
from shipwise.config import Settings
from shipwise.investigate.settings import InvestigateSettings
from tests.app.conftest import caller_of
from tests.conftest import cli_env
from tests.investigate.promworld import (
    PromWorld,
    iso,
    prometheus_config,
    store_world,
    world_times,
)


def _with(settings: Settings, sources: dict) -> Settings:
    return settings.model_copy(update={"investigate": InvestigateSettings.model_validate(
        {"lookback_minutes": 120, "after_minutes": 2, "sources": sources})})


def _investigate(settings: Settings, service: str, at: float) -> dict:
    with caller_of(settings) as c:
        return dump(incidents.investigate(c, service=service, at=iso(at)))


def _gap(rec: dict, source: str) -> dict:
    found = [g for g in rec["gaps"] if g["source"] == source]
    assert found, rec["gaps"]
    return found[0]


def test_with_only_the_store_another_teams_deploy_is_not_blamed(settings: Settings,
                                                                tmp_path: Path) -> None:
    """The case seen in the field: an alarm on checkout, only the store as evidence, and a
    payouts-worker deploy in the window — blamed at confidence 0.25 before."""
    w = world_times()
    store_world(settings, tmp_path, w)
    rec = _investigate(_with(settings, {}), "checkout", w.alarm)
    assert rec["status"] == "inconclusive" and rec["root_cause"] is None
    assert "investigate.sources.prometheus.url" in _gap(rec, "metrics")["how"]
    assert "topology" in _gap(rec, "topology")["how"]
    deploy = next(r for r in rec["ruled_out"] if r["entity"] == "payouts-worker")
    assert "not connected to checkout" in deploy["reason"]
    assert "payouts-worker" in _gap(rec, "candidate")["what"]


def test_an_unrelated_deploy_with_an_effect_of_its_own_is_not_blamed(
        settings: Settings, tmp_path: Path, prom: PromWorld) -> None:
    """payouts-worker's CPU jumped right after its deploy (an effect of its own), checkout went
    wrong two minutes later — but nothing connects the two: not named."""
    store_world(settings, tmp_path, prom)
    rec = _investigate(_with(settings, {"prometheus": prometheus_config(prom.url)}), "checkout",
                       prom.alarm)
    assert rec["status"] == "inconclusive"
    assert (rec["root_cause"] or {}).get("entity") in (None, "checkout")
    deploy = next(h for h in rec["hypotheses"] if h["kind"] == "code_change")
    assert deploy["entity"] == "payouts-worker" and deploy["score"] >= 4  # it looked strong
    ruled = next(r for r in rec["ruled_out"] if r["entity"] == "payouts-worker")
    assert "not connected to checkout" in ruled["reason"]
    assert {"topology", "logs", "candidate"} <= {g["source"] for g in rec["gaps"]}
    assert "metrics" not in {g["source"] for g in rec["gaps"]}  # Prometheus answered


def test_the_same_deploy_is_named_once_the_topology_connects_it(
        settings: Settings, tmp_path: Path, prom: PromWorld) -> None:
    """The rule is about evidence, not teams: with checkout calling payouts-worker, its deploy
    (connected, with an effect of its own) is the root cause."""
    store_world(settings, tmp_path, prom)
    topo = tmp_path / "topology.json"
    topo.write_text(json.dumps({"nodes": [{"id": "checkout"}, {"id": "payouts-worker"}],
                                "edges": [{"source": "checkout", "target": "payouts-worker"}]}))
    rec = _investigate(_with(settings, {"prometheus": prometheus_config(prom.url),
                                        "topology": {"path": str(topo)}}), "checkout", prom.alarm)
    assert rec["status"] == "root_cause_found"
    assert (rec["root_cause"]["entity"], rec["root_cause"]["kind"]) == ("payouts-worker", "code_change")
    assert not [g for g in rec["gaps"] if g["source"] in ("topology", "candidate", "entity")]


def test_an_unknown_service_ends_inconclusive_with_gaps(settings: Settings, tmp_path: Path,
                                                        prom: PromWorld) -> None:
    store_world(settings, tmp_path, prom)
    rec = _investigate(_with(settings, {"prometheus": prometheus_config(prom.url)}), "ghost",
                       prom.alarm)
    assert rec["status"] == "inconclusive" and rec["root_cause"] is None
    gap = _gap(rec, "entity")
    assert "unknown entity ghost" in gap["what"] and "shipwise services" in gap["how"]
    assert "no series for ghost" in _gap(rec, "metrics")["what"]


def test_the_cli_shows_the_gaps(settings: Settings, tmp_path: Path, prom: PromWorld) -> None:
    store_world(settings, tmp_path, prom)
    (tmp_path / "shipwise.yaml").write_text(yaml.safe_dump({
        "db": str(settings.db), "investigate": {"sources": {"prometheus": prometheus_config(prom.url)}}}))
    res = subprocess.run([sys.executable, "-m", "shipwise", "investigate", "--service", "ghost",
                          "--at", iso(prom.alarm)], capture_output=True, text=True,
                         env=cli_env(SHIPWISE_CONFIG=str(tmp_path / "shipwise.yaml")), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    out = " ".join(res.stdout.split())
    assert "Inconclusive" in out and "Gaps" in out and "unknown entity ghost" in out


def test_the_api_and_the_web_page_show_the_gaps(settings: Settings, tmp_path: Path,
                                               prom: PromWorld) -> None:
    import httpx

    from shipwise.app.tokens import create_token
    from shipwise.store.duckdb_store import Store
    from tests.server.conftest import serve

    store_world(settings, tmp_path, prom)
    rec = _investigate(_with(settings, {"prometheus": prometheus_config(prom.url)}), "ghost",
                       prom.alarm)
    with Store.open(settings.db) as store:
        token = create_token(store, "admin", "admin")["token"]
    with serve(settings) as live:
        def get(path: str) -> httpx.Response:
            return httpx.get(live.url + path, timeout=30, headers={"Authorization": f"Bearer {token}"})

        api = get(f"/api/v1/investigations/{rec['id']}")
        assert api.status_code == 200, api.text
        assert api.json()["gaps"] == rec["gaps"] and api.json()["status"] == "inconclusive"
        page = get(f"/investigations/{rec['id']}")
        assert page.status_code == 200, page.text[:300]
        assert 'data-testid="gaps"' in page.text and "unknown entity ghost" in page.text
        assert "How to connect it" in page.text
