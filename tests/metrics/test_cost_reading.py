"""What a cost figure means and what a CFO must read beside it (issue 18 §2): every saving split
into the unit cost change and volume growth, what the volume would have cost at the baseline's
unit cost, flags on figures larger than the team's own spend or headcount, quarters with months
that delivered nothing, why a figure is empty, and initiatives that every team received at once.

First on a small history worked out by hand (tests/metrics/test_cost.py's), then on the sample
organisation (the demo at a tenth of its volume), where the demo's impossible-looking figures
appear: savings above spend and capacity above headcount in 2026-Q2, quarters with empty months,
and a platform migration every team received in the same quarter.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shipwise.app import admin
from shipwise.app.cost import CostRequest
from shipwise.app.owner import cost, import_paths, initiatives
from shipwise.config import Settings
from shipwise.server import create_app
from tests.app.conftest import caller_of
from tests.conftest import SampleOrg, cli_env, write_jsonl
from tests.metrics.test_cost import HISTORY
from tests.reports.test_cost_report import visible_text


@pytest.fixture
def history(settings: Settings, tmp_path: Path) -> Settings:
    rep = import_paths(settings, [write_jsonl(tmp_path / "h.jsonl", HISTORY)])
    assert rep.quarantined == 0, rep.reasons
    return settings


def by_key(res: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["team"], r["period"]): r for r in res["rows"]}


def kinds(row: dict[str, Any]) -> set[str]:
    return {f["kind"] for f in row["flags"]}


def test_a_saving_is_the_unit_cost_change_plus_volume_growth(history: Settings) -> None:
    res = cost(history, CostRequest(since=date(2025, 7, 1), until=date(2026, 9, 30)))
    now = by_key(res)[("payments", "2026-Q3")]
    m = now["metrics"]
    # 2025-Q3: 3 deployments for 66,000 (22,000 each); 2026-Q3: 6 for 66,000 (11,000 each)
    assert (now["baseline_period"], now["baseline_units"], now["baseline_cost_amount"]) == (
        "2025-Q3", 3, 66_000)
    assert now["same_volume_at_baseline_cost"] == pytest.approx(6 * 22_000)
    assert m["cost.savings"] == pytest.approx(6 * 22_000 - 66_000)
    assert m["cost.savings_unit_cost"] == pytest.approx(3 * 11_000)  # last year's 3, 11,000 less
    assert m["cost.savings_volume"] == pytest.approx(3 * 11_000)  # 3 more, each 11,000 less
    assert now["average_fte"] == 4
    assert now["explanation"].startswith(
        "The same 6 deployments at 2025-Q3's cost per deployment (22,000 EUR) would have cost "
        "132,000 EUR; they cost 66,000 EUR, so 66,000 EUR saved. Of that, 33,000 EUR is the unit "
        "cost change on 2025-Q3's 3 deployments and 33,000 EUR comes from volume (+3 deployments")
    assert now["explanation"].endswith("The team's spend was the same as in 2025-Q3.")
    # savings equal to the spend are not above it; 4.4 FTE given back is above the team's 4
    assert "exceeds_spend" not in kinds(now)
    fte = next(f for f in now["flags"] if f["kind"] == "exceeds_headcount")
    assert fte["metric"] == "cost.effective_headcount"
    assert fte["message"].startswith("capacity larger than headcount: 4.4 FTE given back against "
                                     "the team's 4.0 FTE; 2.2 FTE of it is volume growth")
    org = next(o for o in res["organisation"] if o["period"] == "2026-Q3")
    assert org["average_fte"] == 4 and org["same_volume_at_baseline_cost"] == pytest.approx(132_000)
    assert org["metrics"]["cost.savings_volume"] == pytest.approx(33_000)
    assert [f["kind"] for f in org["flags"]] == ["exceeds_headcount"]


def test_a_quarter_with_months_that_delivered_nothing_says_so(history: Settings) -> None:
    res = cost(history, CostRequest(since=date(2025, 7, 1), until=date(2026, 9, 30)))
    rows = by_key(res)
    now = rows[("payments", "2026-Q3")]  # six deployments in July, none in August or September
    assert (now["months_without_units"], now["first_month_without_units"],
            now["last_month_without_units"]) == (2, "2026-08", "2026-09")
    assert now["metrics"]["cost.cost_to_serve"] == pytest.approx(11_000)
    assert now["cost_to_serve_delivering_months"] == pytest.approx(22_000 / 6)
    gap = next(f for f in now["flags"] if f["kind"] == "months_without_units")
    assert gap["metric"] == "cost.cost_to_serve"
    assert "(2026-08 and 2026-09)" in gap["message"]
    assert "11,000 EUR against 3,667 EUR over the months that delivered" in gap["message"]
    before = rows[("payments", "2025-Q3")]  # one deployment each month
    assert before["months_without_units"] == 0 and "months_without_units" not in kinds(before)
    # the month itself is undefined, not folded in
    month = by_key(cost(history, CostRequest(grain="month", since=date(2026, 8, 1),
                                             until=date(2026, 8, 31))))[("payments", "2026-08")]
    assert month["metrics"]["cost.cost_to_serve"] is None
    assert month["missing"]["cost.cost_to_serve"] == "no units delivered in the period"


def test_an_empty_improvement_says_why(history: Settings) -> None:
    rows = by_key(cost(history, CostRequest(since=date(2025, 7, 1), until=date(2026, 9, 30))))
    first = rows[("payments", "2025-Q3")]
    assert first["metrics"]["cost.improvement_yoy"] is None
    why = ("needs a year of history: first cost to serve 2025-Q3, so it is compared from "
           "2026-Q3")
    assert first["missing"]["cost.improvement_yoy"] == why
    assert first["missing"]["cost.savings"] == why
    assert first["explanation"] is None and first["same_volume_at_baseline_cost"] is None
    web = rows[("web", "2026-Q3")]  # its first quarter with cost
    assert web["missing"]["cost.savings"].startswith("needs a year of history: first cost to "
                                                     "serve 2026-Q3")
    assert rows[("payments", "2026-Q3")]["missing"] == {}
    qoq = by_key(cost(history, CostRequest(baseline="qoq", since=date(2026, 7, 1),
                                           until=date(2026, 9, 30))))[("payments", "2026-Q3")]
    assert qoq["missing"]["cost.improvement_qoq"] == (
        "no units delivered in the baseline period 2026-Q2: nothing to compare with")


# -- the sample organisation ------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample(sample_org: SampleOrg, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A private copy of the sample organisation for this module (reads write the access log)."""
    return sample_org.copy_to(tmp_path_factory.mktemp("cost-reading"))


@pytest.fixture(scope="module")
def quarters(sample: Settings) -> dict[str, Any]:
    return cost(sample, CostRequest())


def test_every_saving_adds_up_and_every_oversized_figure_is_flagged(quarters: dict[str, Any]
                                                                    ) -> None:
    checked = flagged = 0
    for r in quarters["rows"]:
        m = r["metrics"]
        if m["cost.savings"] is None:
            assert m["cost.savings_unit_cost"] is None and m["cost.savings_volume"] is None
            continue
        checked += 1
        assert m["cost.savings_unit_cost"] + m["cost.savings_volume"] == pytest.approx(
            m["cost.savings"])
        assert r["same_volume_at_baseline_cost"] - r["cost_amount"] == pytest.approx(
            m["cost.savings"])
        over_spend = m["cost.savings"] > r["cost_amount"]
        assert ("exceeds_spend" in kinds(r)) == over_spend, (r["team"], r["period"])
        over_fte = (m["cost.effective_headcount"] or 0) > (r["average_fte"] or float("inf"))
        assert ("exceeds_headcount" in kinds(r)) == over_fte, (r["team"], r["period"])
        flagged += over_spend
    assert checked >= 40 and flagged >= 5  # the demo's 2026-Q2 has several


def test_the_organisations_impossible_quarter_is_flagged_and_decomposed(
        quarters: dict[str, Any]) -> None:
    org = {o["period"]: o for o in quarters["organisation"]}
    q2 = org["2026-Q2"]
    m = q2["metrics"]
    assert m["cost.savings"] > q2["cost_amount"]  # the "$1.98 M saved on $862 k"
    assert m["cost.effective_headcount"] > q2["average_fte"]  # and "296 FTE of ~227"
    assert m["cost.savings_volume"] > 0
    assert m["cost.savings_unit_cost"] + m["cost.savings_volume"] == pytest.approx(m["cost.savings"])
    flags = {f["kind"]: f for f in q2["flags"]}
    assert set(flags) == {"exceeds_spend", "exceeds_headcount"}
    assert flags["exceeds_spend"]["message"].startswith("savings larger than spend: ")
    assert "not money returned" in flags["exceeds_spend"]["message"]
    assert "of it is volume growth" in flags["exceeds_spend"]["message"]
    assert f"{q2['average_fte']:,.1f} FTE of the {q2['cohort_teams']} teams measured" in \
        flags["exceeds_headcount"]["message"]
    assert q2["explanation"].startswith(f"The {q2['cohort_teams']} teams’ delivery in 2026-Q2, at "
                                        "each team’s own baseline unit cost, would have cost ")
    # a quarter within its means carries no flag
    assert all(not o["flags"] for o in quarters["organisation"]
               if o["metrics"]["cost.savings"] <= o["cost_amount"]
               and o["metrics"]["cost.effective_headcount"] <= o["average_fte"])


def test_empty_months_are_counted_as_the_months_show_them(sample: Settings,
                                                          quarters: dict[str, Any]) -> None:
    months = cost(sample, CostRequest(grain="month"))["rows"]
    empty: dict[tuple[str, str], list[str]] = {}
    for r in months:
        if r["units"] == 0 and r["cost_amount"]:
            y, mo = r["period"].split("-")
            empty.setdefault((r["team"], f"{y}-Q{(int(mo) - 1) // 3 + 1}"), []).append(r["period"])
    seen = 0
    for r in quarters["rows"]:
        gaps = empty.get((r["team"], r["period"]), [])
        assert r["months_without_units"] == len(gaps), (r["team"], r["period"])
        if gaps and r["units"]:
            seen += 1
            assert (r["first_month_without_units"], r["last_month_without_units"]) == (
                gaps[0], gaps[-1])
            assert "months_without_units" in kinds(r)
            assert r["cost_to_serve_delivering_months"] < r["metrics"]["cost.cost_to_serve"]
    assert seen >= 5
    # every empty improvement says why
    for r in quarters["rows"]:
        if r["metrics"]["cost.improvement_yoy"] is None:
            assert r["missing"]["cost.improvement_yoy"], (r["team"], r["period"])


def test_an_initiative_every_team_received_at_once_has_no_comparison(sample: Settings) -> None:
    res = {i["kind"]: i for i in initiatives(sample)["initiatives"]}
    k8s = res["managed-services"]
    teams = len(k8s["teams"])
    assert teams == k8s["adopting_teams"] == 15 and k8s["never_adopting_teams"] == 0
    assert (k8s["treated_teams"], k8s["control_teams"], k8s["effect"]) == (0, 0, None)
    assert k8s["warnings"] == ["every team received it at once, so there is no comparison group: "
                               "its effect cannot be told apart from everything else that "
                               "changed then"]
    cicd = res["ci-cd"]
    assert cicd["adopting_teams"] == len(cicd["teams"]) == 4 and cicd["control_teams"] > 0


def test_report_cli_web_and_api_say_the_same(sample: Settings, quarters: dict[str, Any],
                                             tmp_path: Path) -> None:
    env = {"SHIPWISE_DB": str(sample.db), "COLUMNS": "200"}
    out = tmp_path / "r.html"
    run = subprocess.run([sys.executable, "-m", "shipwise", "report", "cost", "--out", str(out)],
                         capture_output=True, text=True, env=cli_env(**env), cwd=tmp_path,
                         check=False)
    assert run.returncode == 0, run.stderr
    text = visible_text(out.read_text())
    card = text[text.index("Platform migration to managed Kubernetes: no estimate yet"):]
    card = card[:card.index("Delivery automation")]
    assert "Teams that received it: 15 (catalog, checkout," in card
    assert "comparison teams: 0" in card
    assert "every team received it at once, so there is no comparison group" in card
    assert "Only one team received" not in card and "Teams that received it: 0" not in card
    assert "Figures larger than the teams’ own spend or headcount" in text
    assert "2026-Q2: Savings larger than spend:" in text
    early = tmp_path / "early.html"  # a window with no baseline yet says why
    run = subprocess.run([sys.executable, "-m", "shipwise", "report", "cost", "--out", str(early),
                          "--until", "2025-09-30"], capture_output=True, text=True,
                         env=cli_env(**env), cwd=tmp_path, check=False)
    assert run.returncode == 0, run.stderr
    text = visible_text(early.read_text())
    assert ("only once there is a full baseline of data (needs a year of history: first cost to "
            "serve 2024-Q4, so it is compared from 2025-Q4)") in text
    assert "— needs a year of history: first cost to serve 2024-Q4" in text  # each team's card

    cli = subprocess.run([sys.executable, "-m", "shipwise", "cost"], capture_output=True,
                         text=True, env=cli_env(**env), cwd=tmp_path, check=False)
    assert cli.returncode == 0, cli.stderr
    assert "⚠ organisation 2026-Q2: savings larger than spend:" in cli.stdout
    assert "⚠ organisation 2026-Q2: capacity larger than headcount:" in cli.stdout
    assert "– improvement and savings: needs a year of history: first cost to serve" in cli.stdout
    inits = subprocess.run([sys.executable, "-m", "shipwise", "cost", "initiatives"],
                           capture_output=True, text=True, env=cli_env(**env), cwd=tmp_path,
                           check=False)
    line = next(x for x in inits.stdout.splitlines() if "Platform migration" in x)
    assert [c.strip() for c in line.split("│")][1:3] == ["15", "0"]  # adopters, comparison

    with caller_of(sample, interface="cli") as c:
        cfo = admin.create_token(c, "cfo", "exec").token
        lead = admin.create_token(c, "payments lead", "lead", "payments").token
    auth = {"Authorization": f"Bearer {cfo}"}
    with TestClient(create_app(sample)) as client:
        api = client.get("/api/v1/org/cost", headers=auth)
        assert api.status_code == 200, api.text
        q2 = next(o for o in api.json()["organisation"] if o["period"] == "2026-Q2")
        assert {f["kind"] for f in q2["flags"]} == {"exceeds_spend", "exceeds_headcount"}
        assert q2["metrics"]["cost.savings_volume"] == pytest.approx(
            next(o for o in quarters["organisation"] if o["period"] == "2026-Q2")
            ["metrics"]["cost.savings_volume"])
        page = client.get("/org/cost", headers=auth)
        assert page.status_code == 200, page.text
        html = visible_text(page.text)
        assert "Figures larger than the teams’ own spend or headcount" in html
        assert "2026-Q2: savings larger than spend:" in html
        assert "What the savings are made of" in html
        team = client.get("/teams/payments", headers={"Authorization": f"Bearer {lead}"})
        assert team.status_code == 200, team.text
        html = visible_text(team.text)
        assert "What the savings are made of" in html
        assert "– needs a year of history: first cost to serve" in html
        payments_q2 = by_key(quarters)[("payments", "2026-Q2")]
        if "exceeds_spend" in kinds(payments_q2):
            assert "savings larger than spend:" in html
