"""Cost to Serve Software v1 on a small history worked out by hand, and the demo's story."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from shipwise.app.cost import CostRequest
from shipwise.app.owner import cost, import_paths
from shipwise.config import Settings
from shipwise.errors import InputError
from tests.conftest import org, write_jsonl


def dep(id: str, day: str, version: str, status: str = "success", commits: list[str] | None = None,
        service: str = "pay-api", **kw: Any) -> dict[str, Any]:
    return {"type": "deployment", "id": id, "service": service, "environment": "production",
            "started_at": f"{day}T10:00:00Z", "finished_at": f"{day}T10:10:00Z", "status": status,
            "version": version, "commits": commits or [], **kw}


def costs(team: str, months: list[str], people: float, infra: float = 0.0) -> list[dict[str, Any]]:
    out = []
    for m in months:
        out.append({"type": "cost", "team": team, "month": m, "category": "people", "amount": people,
                    "currency": "EUR"})
        if infra:
            out.append({"type": "cost", "team": team, "month": m, "category": "infrastructure",
                        "amount": infra, "currency": "EUR"})
        out.append({"type": "headcount", "team": team, "month": m, "fte": 4})
    return out


Q3_2025 = ["2025-07", "2025-08", "2025-09"]
Q3_2026 = ["2026-07", "2026-08", "2026-09"]
HISTORY = [
    *org([("payments", "pay-api"), ("web", "web-app")]),
    {"type": "team", "id": "web", "name": "Web", "org_unit": "eng", "delivery_unit": "pull_requests"},
    *costs("payments", Q3_2025 + Q3_2026, people=20_000, infra=2_000),  # 66,000 a quarter
    *costs("web", Q3_2026, people=10_000 / 3),
    # 2025-Q3: three normalised deployments (v1 went to two regions)
    dep("a1", "2025-07-10", "v1", region="eu", manual_interventions=1),
    dep("a1b", "2025-07-10", "v1", region="us", manual_interventions=1),
    dep("a2", "2025-08-10", "v2", manual_interventions=1),
    dep("a3", "2025-09-10", "v3", manual_interventions=1),
    # 2026-Q3: six normalised deployments, one more rolled back, one sev1 incident
    *[dep(f"b{i}", f"2026-07-{10 + i}", f"w{i}") for i in range(6)],
    dep("b9", "2026-08-20", "w9", status="rolled_back"),
    {"type": "incident", "id": "i1", "service": "pay-api", "severity": "sev1",
     "opened_at": "2026-08-21T10:00:00Z", "resolved_at": "2026-08-21T12:00:00Z"},
    {"type": "incident", "id": "i2", "service": "pay-api", "severity": "sev1", "human_actioned": False,
     "opened_at": "2026-08-22T10:00:00Z", "resolved_at": "2026-08-22T12:00:00Z"},
    # web delivers pull requests: pr1's commits both reached production; pr2's c3 never did
    *[{"type": "commit", "sha": s, "repo": "web", "author": "dev@example.com",
       "authored_at": "2026-07-01T09:00:00Z", "committed_at": "2026-07-01T09:00:00Z",
       "additions": 1, "deletions": 0} for s in ("c1", "c2", "c3")],
    {"type": "pull_request", "id": "pr1", "repo": "web", "number": 1, "author": "dev@example.com",
     "created_at": "2026-07-01T10:00:00Z", "merged_at": "2026-07-02T10:00:00Z", "commits": ["c1", "c2"]},
    {"type": "pull_request", "id": "pr2", "repo": "web", "number": 2, "author": "dev@example.com",
     "created_at": "2026-07-01T10:00:00Z", "merged_at": "2026-07-02T10:00:00Z", "commits": ["c3"]},
    dep("w1", "2026-07-03", "x1", commits=["c1"], service="web-app"),
    dep("w2", "2026-08-03", "x2", commits=["c2"], service="web-app"),
]


@pytest.fixture
def history(settings: Settings, tmp_path: Path) -> Settings:
    rep = import_paths(settings, [write_jsonl(tmp_path / "h.jsonl", HISTORY)])
    assert rep.quarantined == 0, rep.reasons
    return settings


def rows(settings: Settings, **kw: Any) -> dict[str, Any]:
    return cost(settings, CostRequest(since=date(2025, 7, 1), until=date(2026, 9, 30), **kw))


def test_cost_to_serve_and_what_it_gave_back(history: Settings) -> None:
    res = rows(history)
    assert res["currency"] == "EUR"
    by = {(r["team"], r["period"]): r for r in res["rows"]}
    before, now = by[("payments", "2025-Q3")], by[("payments", "2026-Q3")]
    assert (before["units"], before["cost_amount"]) == (3, 66_000)
    assert before["metrics"]["cost.cost_to_serve"] == 22_000
    assert (now["units"], now["cost_amount"]) == (6, 66_000)
    m = now["metrics"]
    assert m["cost.cost_to_serve"] == 11_000
    assert m["cost.improvement_yoy"] == pytest.approx(0.5)
    assert m["cost.savings"] == pytest.approx(6 * (22_000 - 11_000))
    assert m["cost.effective_headcount"] == pytest.approx(66_000 / (60_000 / 4))
    assert m["cost.deployments_per_builder_week"] == pytest.approx(6 / (92 / 7 * 4))
    assert before["metrics"]["cost.human_interventions_per_deployment"] == pytest.approx(4 / 3)
    # tension: one human-actioned sev1 per six deployments (the bot-actioned one does not count)
    assert m["cost.high_severity_tickets_per_deployment"] == pytest.approx(1 / 6)
    assert m["cost.incident_tickets_per_deployment"] == pytest.approx(1 / 6)
    assert m["dora.change_fail_rate"] == pytest.approx(1 / 7)


def test_the_goodhart_guard_flags_speed_bought_with_quality(history: Settings) -> None:
    now = next(r for r in rows(history)["rows"] if (r["team"], r["period"]) == ("payments", "2026-Q3"))
    tension = [f for f in now["flags"] if f["kind"] == "tension"]
    assert {f["metric"] for f in tension} == {"dora.change_fail_rate",
                                              "cost.high_severity_tickets_per_deployment"}
    assert "improved 50%" in tension[0]["message"]


def test_pull_requests_count_when_their_last_commit_reaches_production(history: Settings) -> None:
    web = next(r for r in rows(history)["rows"] if (r["team"], r["period"]) == ("web", "2026-Q3"))
    assert web["unit"] == "pull_requests" and web["units"] == 1  # pr2's commit never shipped
    assert web["metrics"]["cost.cost_to_serve"] == pytest.approx(10_000)
    quiet = next(r for r in rows(history)["rows"] if (r["team"], r["period"]) == ("web", "2025-Q3"))
    assert quiet["metrics"]["cost.cost_to_serve"] is None
    assert quiet["flags"][0]["kind"] == "undefined"


def test_organisation_rolls_up_over_the_cohort_without_summing_units(history: Settings) -> None:
    org_rows = {o["period"]: o for o in rows(history)["organisation"]}
    q = org_rows["2026-Q3"]
    assert q["cohort_teams"] == 1  # web has no baseline a year earlier: not in the cohort
    assert q["metrics"]["cost.improvement_yoy"] == pytest.approx(0.5)
    assert q["metrics"]["cost.savings"] == pytest.approx(66_000)


def test_qoq_baseline_month_grain_and_categories(history: Settings) -> None:
    res = rows(history, grain="month", baseline="qoq", team=("payments",), categories=("people",))
    by = {r["period"]: r for r in res["rows"]}
    assert set(by) >= {"2025-07", "2026-09"}
    assert by["2025-07"]["cost_amount"] == 20_000  # people only
    assert by["2025-08"]["metrics"]["cost.improvement_qoq"] == pytest.approx(0.0)


def test_mixed_currencies_already_stored_are_an_error(history: Settings) -> None:
    import duckdb

    con = duckdb.connect(str(history.db))
    con.execute("UPDATE cost SET currency = 'USD' WHERE month = '2025-07'")
    con.close()
    with pytest.raises(InputError, match=r"several currencies .* no reporting currency"):
        rows(history)


@pytest.mark.slow
def test_the_demo_tells_the_cost_story(tmp_path: Path) -> None:
    from shipwise.app.context import init_store
    from shipwise.app.owner import run_demo

    s = Settings(db=tmp_path / "demo.duckdb", key_file=tmp_path / "k")
    init_store(s)
    demo = run_demo(s, scale=1.0)
    res = cost(s, CostRequest())
    last = res["organisation"][-1]
    assert last["period"] == "2026-Q3"
    assert 0.10 <= last["metrics"]["cost.improvement_yoy"] <= 0.22  # the talk: 15.9 %
    latest = {r["team"]: r for r in res["rows"] if r["period"] == "2026-Q3"}
    adopters = set(demo.story["adopters"])  # type: ignore[arg-type]
    adopting = [latest[t]["metrics"]["cost.improvement_yoy"] for t in adopters]
    others = [r["metrics"]["cost.improvement_yoy"] for t, r in latest.items() if t not in adopters]
    assert min(adopting) > max(others) - 0.2 and sum(adopting) / len(adopting) > 0.2
    assert sorted(others)[len(others) // 2] < 0.1  # the median non-adopter is roughly flat
    speed_team = demo.story["speed_for_quality_team"]
    assert any(f["kind"] == "tension" for f in latest[speed_team]["flags"])  # type: ignore[index]


@pytest.mark.slow
def test_attribution_finds_the_automation_programme_and_doubts_the_rest(tmp_path: Path) -> None:
    from shipwise.app.context import init_store
    from shipwise.app.owner import initiatives, run_demo

    s = Settings(db=tmp_path / "demo.duckdb", key_file=tmp_path / "k")
    init_store(s)
    demo = run_demo(s, scale=1.0)
    res = {i["kind"]: i for i in initiatives(s)["initiatives"]}
    cicd = res["ci-cd"]
    assert set(cicd["teams"]) == set(demo.story["adopters"])  # type: ignore[arg-type]
    assert cicd["high"] < 0 and cicd["low"] < cicd["effect"] < cicd["high"]  # excludes zero
    assert cicd["attributed_savings"] > cicd["amount"] and cicd["roi_low"] > 0
    assert not cicd["warnings"]
    ai = res["ai-tools"]
    assert ai["low"] < 0 < ai["high"] and any("spans zero" in w for w in ai["warnings"])
    # everyone moved at once: nothing to compare with, and it says so instead of guessing
    assert res["managed-services"]["effect"] is None and res["managed-services"]["warnings"]
