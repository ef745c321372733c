"""Post-validation that validates (issue 16 item 6): ``shipwise verify INV`` re-reads from a real
Prometheus the series investigation INV found anomalous and says, per series, whether it is back
to the pre-incident baseline, with the PromQL to watch; nothing is stored unless asked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from shipwise.app import incidents
from shipwise.app.results import dump
from shipwise.config import Settings
from shipwise.errors import ConfigError, NotFoundError
from shipwise.investigate.settings import InvestigateSettings
from shipwise.store import investigations as table
from shipwise.store.duckdb_store import Store
from tests.app.conftest import caller_of
from tests.conftest import cli_env
from tests.investigate.promworld import (
    PromWorld,
    iso,
    prometheus_config,
    store_world,
)


@pytest.fixture
def investigated(settings: Settings, tmp_path: Path, prom: PromWorld) -> tuple[Settings, dict]:
    """checkout's alarm investigated against Prometheus, its record stored."""
    store_world(settings, tmp_path, prom)
    s = settings.model_copy(update={"investigate": InvestigateSettings.model_validate(
        {"sources": {"prometheus": prometheus_config(prom.url)}})})
    with caller_of(s) as c:
        rec = dump(incidents.investigate(c, service="checkout", at=iso(prom.alarm)))
    return s, rec


def _verify(settings: Settings, inv_id: str, at: float, **kw: object) -> dict:
    with caller_of(settings) as c:
        return dump(incidents.verify_investigation(c, inv_id, at=iso(at), **kw))  # type: ignore[arg-type]


def _stored(settings: Settings, inv_id: str) -> tuple[int, dict]:
    with Store.open(settings.db) as store:
        rec = table.record(store, inv_id)
        assert rec is not None
        return table.count(store), rec


def test_the_record_keeps_the_anomalous_series_with_their_baseline(investigated) -> None:
    _, rec = investigated
    series = {(s["entity"], s["metric"]): s for s in rec["anomalous_series"]}
    lat = series[("checkout", "latency_p95_ms")]
    assert 90 < lat["baseline"]["median"] < 110 and lat["direction"] == 1
    assert lat["baseline"]["end"] < rec["window"]["onset"] and lat["baseline"]["n"] > 100
    assert ("checkout", "requests_per_s") not in series  # it never deviated
    steps = rec["mitigation"]["post_validate"]
    assert {"text": steps[-1]["text"], "command": f"shipwise verify {rec['id']}"} == steps[-1]
    assert not any("investigate --service" in s.get("command", "") for s in steps)


def test_recovered_and_still_anomalous_series(investigated, prom: PromWorld) -> None:
    """Latency came back 40 minutes after the incident began; the error rate never did."""
    settings, rec = investigated
    res = _verify(settings, rec["id"], prom.end, minutes=10)
    by = {(s["entity"], s["metric"]): s for s in res["series"]}
    lat, err = by[("checkout", "latency_p95_ms")], by[("checkout", "error_rate")]
    assert lat["status"] == "recovered" and abs(lat["deviation"]) < 3, lat
    assert err["status"] == "still_anomalous" and err["deviation"] > 100, err
    assert err["promql"] == 'shop_error_rate{service="checkout"}'
    assert res["status"] == "still_anomalous" and err["promql"] in res["watch"]
    assert lat["promql"] not in res["watch"] and "median" in res["test"]
    during = _verify(settings, rec["id"], prom.incident + 20 * 60, minutes=10)
    assert {s["metric"]: s["status"] for s in during["series"]
            if s["entity"] == "checkout"} == {"latency_p95_ms": "still_anomalous",
                                              "error_rate": "still_anomalous"}
    before = _verify(settings, rec["id"], prom.incident - 30 * 60, minutes=10)
    assert {s["status"] for s in before["series"]} == {"recovered"}  # the baseline itself


def test_nothing_is_stored_unless_asked(investigated, prom: PromWorld) -> None:
    settings, rec = investigated
    count, before = _stored(settings, rec["id"])
    _verify(settings, rec["id"], prom.end)
    assert _stored(settings, rec["id"]) == (count, before)
    res = _verify(settings, rec["id"], prom.end, record=True)
    count_after, after = _stored(settings, rec["id"])
    assert count_after == count and res["recorded"]
    assert [v["status"] for v in after["verifications"]] == ["still_anomalous"]
    assert {k: v for k, v in after.items() if k != "verifications"} == before


def test_refusals_and_missing_pieces(investigated, prom: PromWorld) -> None:
    settings, rec = investigated
    with pytest.raises(NotFoundError):
        _verify(settings, "inv-nope", prom.end)
    bare = settings.model_copy(update={"investigate": InvestigateSettings()})
    with pytest.raises(ConfigError, match="no Prometheus configured"):
        _verify(bare, rec["id"], prom.end)


def test_cli_verify(investigated, prom: PromWorld, tmp_path: Path) -> None:
    settings, rec = investigated
    (tmp_path / "shipwise.yaml").write_text(yaml.safe_dump({
        "db": str(settings.db), "investigate": {"sources": {"prometheus": prometheus_config(prom.url)}}}))
    env = cli_env(SHIPWISE_CONFIG=str(tmp_path / "shipwise.yaml"))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "shipwise", *args], capture_output=True,
                              text=True, env=env, cwd=tmp_path)

    count, before = _stored(settings, rec["id"])
    res = run("verify", rec["id"], "--at", iso(prom.end), "--format", "json")
    assert res.returncode == 3, res.stderr  # still anomalous: a script can wait on it
    out = json.loads(res.stdout)
    assert out["status"] == "still_anomalous" and not out["recorded"]
    text = run("verify", rec["id"], "--at", iso(prom.incident - 1800), "--minutes", "5")
    assert text.returncode == 0, text.stderr
    assert "✓ recovered" in text.stdout and 'shop_latency_p95_ms{service="checkout"}' in text.stdout
    assert "Nothing stored" in text.stdout
    assert _stored(settings, rec["id"]) == (count, before)


def test_api_and_mcp_verify(investigated, prom: PromWorld) -> None:
    from shipwise.app.tokens import create_token
    from tests.mcp.conftest import call, error_text
    from tests.server.conftest import serve

    settings, rec = investigated
    with Store.open(settings.db) as store:
        admin = create_token(store, "admin", "admin")["token"]
        other = create_token(store, "payouts-bot", "member", "payouts")["token"]
    count, before = _stored(settings, rec["id"])
    body = {"at": iso(prom.end), "minutes": 10}
    with serve(settings) as live:
        def post(token: str, path: str, payload: dict) -> httpx.Response:
            return httpx.post(live.url + path, json=payload, timeout=60,
                              headers={"Authorization": f"Bearer {token}"})

        res = post(admin, f"/api/v1/investigations/{rec['id']}/verify", body)
        assert res.status_code == 200, res.text
        by = {s["metric"]: s["status"] for s in res.json()["series"] if s["entity"] == "checkout"}
        assert by == {"latency_p95_ms": "recovered", "error_rate": "still_anomalous"}
        assert post(other, f"/api/v1/investigations/{rec['id']}/verify", body).status_code == 403
        assert post(admin, "/api/v1/investigations/inv-nope/verify", body).status_code == 404
    assert _stored(settings, rec["id"]) == (count, before)
    got = call(settings, None, "verify_investigation", {"id": rec["id"], "at": iso(prom.end)})
    assert not got.is_error, got.content
    assert got.structured_content["status"] == "still_anomalous"
    assert "no investigation 'inv-nope'" in error_text(
        call(settings, None, "verify_investigation", {"id": "inv-nope"}))
    assert _stored(settings, rec["id"]) == (count, before)
