"""The fairness audit: known answers on synthetic tables, then a small store end to end through
the authorised view and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from scipy.stats import fisher_exact, kruskal, spearmanr

from shipwise.app.caller import Caller
from shipwise.app.context import open_store
from shipwise.app.fairness import FLAG_PROVIDERS, audit_markdown
from shipwise.app.oversight import fairness
from shipwise.app.owner import import_paths
from shipwise.app.results import dump
from shipwise.config import Settings
from shipwise.errors import ForbiddenError, InputError
from shipwise.governance import fairness as fx
from shipwise.governance.access import Principal
from shipwise.governance.fairness import FlagRow
from tests.conftest import cli_env, write_jsonl

QUARTERS = ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4", "2026-Q1"]


def panel(flagged: dict[str, tuple[int, int]], teams_per_group: int = 2) -> tuple[
        list[FlagRow], dict[str, str]]:
    """``{group: (flagged, observations)}`` spread over ``teams_per_group`` teams per group."""
    rows, groups = [], {}
    for value, (k, n) in flagged.items():
        for i in range(n):
            team = f"{value}-{i % teams_per_group}"
            groups[team] = value
            rows.append(FlagRow(team, f"q{i // teams_per_group}", i < k))
    return rows, groups


# --------------------------------------------------------------------------------------------
# known answers


def test_holm_adjusts_in_input_order() -> None:
    assert fx.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert fx.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert fx.holm([]) == []


def test_six_of_ten_remote_against_one_of_ten_office_fails_the_screen() -> None:
    rows, groups = panel({"remote": (6, 10), "office": (1, 10)})
    t = fx.audit_flag(rows, {"working_arrangement": groups})["working_arrangement"]
    remote = next(g for g in t["groups"] if g["value"] == "remote")
    office = next(g for g in t["groups"] if g["value"] == "office")
    assert t["best_group"] == "office"
    assert remote["flagged_rate"] == 0.6 and remote["favourable_rate"] == pytest.approx(0.4)
    assert remote["impact_ratio"] == pytest.approx(0.4 / 0.9)  # 0.444 < 0.8
    assert office["impact_ratio"] == 1.0
    p = fisher_exact([[6, 4], [1, 9]])[1]
    assert remote["p_value"] == pytest.approx(p)
    # two groups: "remote vs the rest" and "office vs the rest" are one test, adjusted once
    assert remote["p_adjusted"] == pytest.approx(p) and office["p_adjusted"] == pytest.approx(p)
    assert p > 0.05
    assert remote["status"] == "below_screen" and remote["severity"] == "watch"
    assert office["status"] == "ok"
    assert remote["rate_vs_others"] == pytest.approx(6.0)
    f = fx.impact_findings("dora.low_cluster", "Low DORA cluster flags",
                           {"working_arrangement": t})
    assert [x["severity"] for x in f] == ["watch"]
    assert "remote teams 6.0× as often" in f[0]["text"] and "impact ratio 0.44 < 0.8" in f[0]["text"]
    assert "not significant" in f[0]["text"]


def test_a_large_clear_difference_is_a_concern_with_plain_language() -> None:
    rows, groups = panel({"remote": (30, 50), "office": (5, 50)}, teams_per_group=5)
    t = fx.audit_flag(rows, {"working_arrangement": groups}, impact_ratio=0.8, alpha=0.05)
    remote = next(g for g in t["working_arrangement"]["groups"] if g["value"] == "remote")
    assert remote["p_adjusted"] == pytest.approx(fisher_exact([[30, 20], [5, 45]])[1])
    assert remote["status"] == "adverse" and remote["severity"] == "concern"
    assert remote["teams"] == 5 and remote["teams_flagged"] == 5
    (f,) = fx.impact_findings("dora.low_cluster", "Low DORA cluster flags", t)
    assert f["severity"] == "concern"
    assert f["text"].startswith("Low DORA cluster flags fall on remote teams 6.0× as often")
    assert "impact ratio 0.44 < 0.8, p < 0.001 Holm-adjusted, 50 team-quarters" in f["text"]
    assert "review board" in f["what_to_do"]


def test_equal_rates_raise_no_concern() -> None:
    rows, groups = panel({"remote": (3, 10), "office": (3, 10), "hybrid": (3, 10)})
    t = fx.audit_flag(rows, {"working_arrangement": groups})
    assert {g["status"] for g in t["working_arrangement"]["groups"]} == {"ok"}
    assert all(g["impact_ratio"] == pytest.approx(1.0) for g in t["working_arrangement"]["groups"])
    (f,) = fx.impact_findings("cost.tension", "Cost tension warnings", t)
    assert f["severity"] == "ok" and "evenly" in f["text"]


def test_holm_runs_across_every_comparison_of_a_flag() -> None:
    rows, groups = panel({"remote": (6, 10), "office": (1, 10), "hybrid": (2, 10)})
    t = fx.audit_flag(rows, {"working_arrangement": groups})
    gs = t["working_arrangement"]["groups"]
    raw = [g["p_value"] for g in gs]
    assert [g["p_adjusted"] for g in gs] == pytest.approx(fx.holm(raw))


def test_a_group_with_three_observations_is_inconclusive() -> None:
    rows, groups = panel({"remote": (3, 3), "office": (1, 10)})
    t = fx.audit_flag(rows, {"working_arrangement": groups})["working_arrangement"]
    remote = next(g for g in t["groups"] if g["value"] == "remote")
    assert remote["status"] == "inconclusive" and remote["p_adjusted"] is None
    assert remote["observations"] == 3  # shown: two teams
    f = fx.impact_findings("x", "X flags", {"working_arrangement": t})
    assert any("too little data" in x["text"] and "3 team-quarters < 5" in x["text"] for x in f)


def test_a_one_team_group_shows_no_counts() -> None:
    rows, groups = panel({"remote": (4, 8), "office": (1, 10)}, teams_per_group=1)
    t = fx.audit_flag(rows, {"working_arrangement": groups})["working_arrangement"]
    for g in t["groups"]:
        assert g["suppressed"] and g["status"] == "inconclusive"
        assert g["observations"] is None and g["flagged"] is None and g["p_value"] is None


def test_teams_without_the_attribute_are_left_out_and_counted() -> None:
    rows, groups = panel({"remote": (2, 10), "office": (2, 10)})
    rows.append(FlagRow("nomad", "q0", True))
    t = fx.impact_table(rows, groups)
    assert t["teams_without_value"] == 1 and t["observations"] == 20


def test_a_flag_never_raised_is_reported_as_such() -> None:
    rows, groups = panel({"remote": (0, 10), "office": (0, 10)})
    t = fx.audit_flag(rows, {"location": groups})
    (f,) = fx.impact_findings("dora.low_cluster", "Low DORA cluster flags", t)
    assert f["severity"] == "ok" and "never raised" in f["text"]


def test_eta_squared_on_a_constructed_example() -> None:
    values, groups = [1.0, 2.0, 3.0, 5.0, 6.0, 7.0], ["a", "a", "a", "b", "b", "b"]
    # grand mean 4; SST = 28; SSB = 3·(2-4)² + 3·(6-4)² = 24
    assert fx.eta_squared(values, groups) == pytest.approx(24 / 28)
    assert fx.eta_squared([2.0, 2.0], ["a", "b"]) is None
    res = fx.org_unit_variance(values, groups, ["t1", "t2", "t3", "t4", "t5", "t6"])
    assert res["eta_squared"] == pytest.approx(24 / 28)
    assert res["kruskal_p"] == pytest.approx(kruskal([1, 2, 3], [5, 6, 7]).pvalue)
    assert [g["median"] for g in res["groups"]] == [2.0, 6.0]
    one_team = fx.org_unit_variance(values, groups, ["t1"] * 3 + ["t2"] * 3)
    assert [g["median"] for g in one_team["groups"]] == [None, None]  # one team each: hidden
    rows = [res]
    fx.grade_variance(rows, alpha=0.2)
    assert rows[0]["severity"] == "concern"


def test_spearman_matches_scipy_and_grades_strength() -> None:
    x = [float(i) for i in range(20)]
    y = [v * v + (3 if i % 4 == 0 else 0) for i, v in enumerate(x)]
    got = fx.spearman(x, y)
    want = spearmanr(x, y)
    assert got["rho"] == pytest.approx(want.statistic) and got["p_value"] == pytest.approx(want.pvalue)
    assert fx.spearman([1.0] * 6, x[:6])["rho"] is None  # constant: undefined
    assert fx.spearman([1.0, 2.0, None], [1.0, 2.0, 3.0])["n"] == 2
    teams = [f"t{i % 5}" for i in range(20)]
    rows = fx.correlation_table({"m": y, "noise": [float((i * 7) % 5) for i in range(20)]},
                                {"load": x}, teams, team_level=("load",))
    by = {r["series"]: r for r in rows}
    assert by["m"]["severity"] == "concern" and by["m"]["team_level"]["n"] == 5
    f = fx.correlation_findings(rows, {"m": "Metric", "noise": "Noise"}, {"load": "load"})
    assert f[0]["severity"] == "concern" and f[0]["text"].startswith("Metric rises with load")


def test_findings_sort_concerns_first() -> None:
    fs = [{"severity": s} for s in ("ok", "watch", "concern", "ok")]
    assert [f["severity"] for f in fx.sort_findings(fs)] == ["concern", "watch", "ok", "ok"]


# --------------------------------------------------------------------------------------------
# a small store end to end


def _deploys(service: str, start: date, days: int, every: int, *,
             slow: bool = False) -> list[dict[str, Any]]:
    """Deployments every ``every`` days; ``slow`` ones ship a commit written 100 days earlier and
    each causes an incident resolved ten days later (the DORA 2024 low cluster)."""
    out: list[dict[str, Any]] = []
    for i in range(0, days, every):
        d = start + timedelta(days=i)
        dep = {"type": "deployment", "id": f"{service}-{i}", "service": service,
               "environment": "production", "started_at": f"{d}T10:00:00Z",
               "finished_at": f"{d}T10:10:00Z", "status": "success", "version": f"v{i}"}
        if slow:
            sha = f"{service}-c{i}"
            t = f"{d - timedelta(days=100)}T10:00:00Z"
            out.append({"type": "commit", "sha": sha, "repo": service, "author": "a@example.com",
                        "authored_at": t, "committed_at": t, "additions": 1, "deletions": 0})
            dep["commits"] = [sha]
            out.append({"type": "incident", "id": f"inc-{service}-{i}", "service": service,
                        "severity": "sev2", "opened_at": f"{d}T12:00:00Z",
                        "resolved_at": f"{d + timedelta(days=10)}T12:00:00Z",
                        "caused_by": f"{service}-{i}"})
        out.append(dep)
    return out


def small_org() -> list[dict[str, Any]]:
    """Two remote teams that deploy every 45 days and fail (the low cluster) and two office
    teams that deploy every other day; a migration investment in 2025-Q2; people and pages."""
    recs: list[dict[str, Any]] = [{"type": "org_unit", "id": "eng", "name": "Engineering"},
                                  {"type": "org_unit", "id": "web", "name": "Web", "parent": "eng"}]
    start = date(2025, 1, 1)
    for team, arrangement, unit in (("r1", "remote", "eng"), ("r2", "remote", "web"),
                                    ("o1", "office", "eng"), ("o2", "office", "web")):
        recs.append({"type": "team", "id": team, "name": team.upper(), "org_unit": unit,
                     "delivery_unit": "deployments",
                     "attributes": {"working_arrangement": arrangement, "location": "Lisbon"}})
        recs.append({"type": "service", "id": f"{team}-api", "name": team, "team": team})
        if arrangement == "remote":
            recs += _deploys(f"{team}-api", start + timedelta(days=20), 365, 45, slow=True)
        else:
            recs += _deploys(f"{team}-api", start, 365, 2)
        for p in range(3):
            recs.append({"type": "person", "id": f"{team}.p{p}@example.com", "team": team,
                         "since": "2024-12-01"})
        for i in range(0, 365, 30 if arrangement == "office" else 10):
            recs.append({"type": "page", "id": f"pg-{team}-{i}", "team": team,
                         "person": f"{team}.p0@example.com",
                         "at": f"{start + timedelta(days=i)}T03:00:00Z", "urgency": "high"})
    recs.append({"type": "investment", "id": "inv-mig", "name": "Platform migration",
                 "teams": ["r1", "r2", "o1", "o2"], "started_at": "2025-04-01T09:00:00Z",
                 "amount": 1000, "currency": "EUR", "kind": "managed-services"})
    return recs


@pytest.fixture
def small(settings: Settings, tmp_path: Path) -> Settings:
    import_paths(settings, [write_jsonl(tmp_path / "org.jsonl", small_org())])
    return settings


def test_audit_through_the_view_refuses_members_and_logs_reads(small: Settings) -> None:
    member = Principal("member", "r1", "t-member")
    execu = Principal("exec", None, "t-exec")
    with open_store(small) as store:
        before = store.count("access_log")
        with pytest.raises(ForbiddenError):
            fairness(Caller(store, member, small))
        audit = dump(fairness(Caller(store, execu, small)))
        log = store.query("SELECT role, action, allowed FROM access_log ORDER BY read_at")[before:]
        with pytest.raises(InputError):
            fairness(Caller(store, execu, small), flags=["nope"])
        with pytest.raises(InputError):
            fairness(Caller(store, execu, small), attributes=["shoe_size"])
    assert [(r["role"], r["action"], r["allowed"]) for r in log] == [
        ("member", "fairness.audit", False), ("exec", "fairness.audit", True)]
    assert json.loads(json.dumps(audit))  # JSON-ready
    assert set(audit) >= {"generated_at", "observations", "flags", "correlations",
                          "org_unit_variance", "findings", "method"}
    assert [f["id"] for f in audit["flags"]] == list(FLAG_PROVIDERS)
    low = next(f for f in audit["flags"] if f["id"] == "dora.low_cluster")
    wa = next(a for a in low["attributes"] if a["attribute"] == "working_arrangement")
    remote = next(g for g in wa["groups"] if g["value"] == "remote")
    assert remote["flagged"] == remote["observations"] == 10  # every remote team-quarter
    assert remote["status"] == "adverse"
    assert audit["findings"][0]["severity"] == "concern"
    assert any(f["kind"] == "adverse_impact" and f.get("group") == "remote"
               and f["severity"] == "concern" for f in audit["findings"])
    assert audit["correlations"]["migration"]["quarters"] == ["2025-Q2"]
    load = next(r for r in audit["correlations"]["rows"]
                if r["series"] == "dora.low_cluster" and r["context"] == "on_call_load")
    assert load["rho"] > 0.5  # remote teams are paged three times as often
    assert audit["observations"]["independent"] is False
    text = json.dumps(audit)
    assert "@example.com" not in text and "detail" not in text  # no people, no per-team flags
    md = audit_markdown(audit)
    assert md.startswith("# Fairness audit") and "## Findings" in md and "### Concerns" in md


def test_migration_quarters_can_be_named_in_the_request(small: Settings) -> None:
    with open_store(small) as store:
        audit = dump(fairness(Caller(store, Principal("admin"), small),
                              context={"migration_quarters": ["2025-Q3"]},
                              attributes=["location"]))
    assert audit["correlations"]["migration"]["source"] == "request"
    assert audit["correlations"]["migration"]["quarters"] == ["2025-Q3"]
    assert [a["attribute"] for a in audit["flags"][0]["attributes"]] == ["location"]


@pytest.mark.slow
def test_cli_audit_as_a_token(small: Settings, tmp_path: Path) -> None:
    from shipwise.app.tokens import create_token

    with open_store(small) as store:
        lead = create_token(store, "lead", "lead", "r1")["token"]
        execu = create_token(store, "exec", "exec")["token"]

    def run(token: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "shipwise", "--db", str(small.db), "fairness",
                               "audit", *args], cwd=tmp_path, capture_output=True, text=True,
                              env=cli_env(SHIPWISE_TOKEN=token), timeout=120)

    refused = run(lead)
    assert refused.returncode == 1 and refused.stderr.startswith("Error: role lead may not")
    res = run(execu, "--format", "json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["findings"][0]["severity"] == "concern"
    md = run(execu, "--format", "markdown")
    assert md.returncode == 0 and "# Fairness audit" in md.stdout
    table = run(execu)
    assert table.returncode == 0 and "Findings" in table.stdout and "concern" in table.stdout
