"""Every date parameter gets a clear answer (a 400 naming the day, never a 500 or a traceback), a
team id with a ``/`` can be opened, and an empty cost window says what range exists."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from shipwise.app.context import open_store
from shipwise.app.owner import import_paths
from shipwise.app.tokens import create_token
from shipwise.config import Settings
from tests.conftest import cli_env, write_jsonl
from tests.metrics.test_cost import HISTORY
from tests.server.conftest import serve

SLASHED = "platform/infra"

#: every API endpoint with a date parameter (team ones on payments)
DATED = ["/api/v1/teams/payments/dora", "/api/v1/teams/payments/cost", "/api/v1/org/cost",
         "/api/v1/teams/payments/flow", "/api/v1/teams/payments/strain", "/api/v1/org/flow",
         "/api/v1/org/strain", "/api/v1/teams/payments/slo"]


@pytest.fixture
def store(settings: Settings, tmp_path: Path) -> Settings:
    import_paths(settings, [write_jsonl(tmp_path / "h.jsonl", [
        *HISTORY,
        {"type": "team", "id": SLASHED, "name": "Platform infra", "org_unit": "eng",
         "delivery_unit": "deployments"},
        {"type": "service", "id": "infra-api", "name": "infra-api", "team": SLASHED}])])
    return settings


@pytest.fixture
def live(store: Settings) -> Iterator[tuple[str, dict[str, str]]]:
    with open_store(store) as s:
        token = create_token(s, "ops", "admin")["token"]
    with serve(store) as server:
        yield server.url, {"Authorization": f"Bearer {token}"}


@pytest.mark.slow
def test_extreme_dates_are_a_400_on_every_date_parameter(live: tuple[str, dict[str, str]]) -> None:
    url, auth = live
    for path in DATED:
        for name, day in (("since", "0001-01-01"), ("until", "9999-12-31"),
                          ("since", "1999-12-31"), ("until", "2041-01-01")):
            res = httpx.get(url + path, params={name: day}, headers=auth, timeout=30)
            assert res.status_code == 400, (path, name, day, res.status_code, res.text)
            body = res.json()
            assert body["error"] == f"{name} {day} is outside shipwise's calendar", body
            assert body["hint"] == "use days from 2000-01-01 to 2040-12-31"
        both = httpx.get(url + path, params={"since": "0001-01-01", "until": "9999-12-31"},
                         headers=auth, timeout=30)
        assert both.status_code == 400, (path, both.text)
        ok = httpx.get(url + path, params={"since": "2030-01-01"}, headers=auth, timeout=30)
        assert ok.status_code == 200, (path, ok.text)
    for at in ("0001-01-01T00:00:00Z", "9999-12-31T00:00:00", "9999-12-31T23:59:59-14:00"):
        res = httpx.get(url + "/api/v1/teams/payments/slo", params={"at": at}, headers=auth,
                        timeout=30)
        assert res.status_code == 400, (at, res.text)
    for day in ("0001-01-01", "9999-12-31"):  # the access log is not cut into periods
        assert httpx.get(url + "/api/v1/audit", params={"since": day}, headers=auth,
                         timeout=30).status_code == 200


def test_a_team_id_with_a_slash_can_be_opened(live: tuple[str, dict[str, str]]) -> None:
    url, auth = live
    for team in (quote(SLASHED, safe=""), SLASHED):  # encoded, or as it is
        for view in ("dora", "cost", "flow", "strain", "slo"):
            res = httpx.get(f"{url}/api/v1/teams/{team}/{view}", headers=auth, timeout=30)
            assert res.status_code == 200, (team, view, res.text)
        page = httpx.get(f"{url}/teams/{team}.json", headers=auth, timeout=30)
        assert page.status_code == 200, page.text
        html = httpx.get(f"{url}/teams/{team}", headers=auth, timeout=30)
        assert html.status_code == 200 and "Platform infra" in html.text
    overview = httpx.get(url + "/", headers=auth, timeout=30).text
    assert f'href="/teams/{quote(SLASHED)}"' in overview
    assert httpx.get(url + "/api/v1/teams/nope%2Fx/dora", headers=auth,
                     timeout=30).status_code == 404


def run(store: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shipwise", "--db", str(store.db), *args],
                          capture_output=True, text=True, timeout=120, cwd=store.db.parent,
                          env=cli_env(SHIPWISE_TOKEN=""))


@pytest.mark.slow
def test_the_cli_says_what_range_exists(store: Settings) -> None:
    res = run(store, "cost", "--since", "0001-01-01")
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert res.stderr.strip() == ("Error: since 0001-01-01 is outside shipwise's calendar (use "
                                  "days from 2000-01-01 to 2040-12-31)")
    res = run(store, "cost", "--since", "2030-01-01")
    assert res.returncode == 0, res.stderr
    assert "No cost records in the store yet" not in res.stdout
    assert "No cost records in the requested window: the store has cost records from " \
           "2025-07-01 to 2026-09-30" in res.stdout
    res = run(store, "cost", "--until", "2024-12-31")
    assert "the store has cost records from 2025-07-01 to 2026-09-30" in res.stdout
    res = run(store, "metrics", "dora", "--until", "9999-12-31")
    assert res.returncode == 1 and res.stderr.startswith("Error: until 9999-12-31 is outside")
    for args in (["flow", "--since", "0001-01-01"], ["slo", "--at", "0001-01-01T00:00:00Z"],
                 ["slo", "history", "--team", "payments", "--until", "9999-12-31"],
                 ["report", "cost", "--out", "r.html", "--since", "0001-01-01"],
                 ["retention", "apply", "--dry-run", "--as-of", "0001-01-01"]):
        res = run(store, *args)
        assert res.returncode == 1 and len(res.stderr.strip().splitlines()) == 1, (args, res)
        assert res.stderr.startswith("Error: ") and "Traceback" not in res.stderr
