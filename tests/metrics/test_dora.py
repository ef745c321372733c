"""DORA definitions v1 on a small history whose answers are worked out by hand."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from shipwise.app.metrics import DoraRequest
from shipwise.app.owner import dora, import_paths
from shipwise.config import Settings
from shipwise.errors import InputError, NotFoundError
from shipwise.metrics import clusters
from tests.conftest import org, write_jsonl

H = 3600


def dep(id: str, finished: str, status: str = "success", commits: list[str] | None = None,
        version: str | None = None, env: str = "production", **kw: Any) -> dict[str, Any]:
    return {"type": "deployment", "id": id, "service": kw.pop("service", "pay-api"), "environment": env,
            "started_at": f"2025-07-{finished}", "finished_at": f"2025-07-{finished}",
            "status": status, "commits": commits or [], "version": version, **kw}


def commit(sha: str, committed: str) -> dict[str, Any]:
    return {"type": "commit", "sha": sha, "repo": "pay", "author": "dev@example.com",
            "authored_at": committed, "committed_at": committed, "additions": 1, "deletions": 0}


HISTORY = [
    *org([("payments", "pay-api"), ("web", "web-app")]),
    commit("c1", "2025-06-30T10:00:00Z"),  # lead 24 h (d1)
    commit("c2", "2025-07-01T08:00:00Z"),  # lead 2 h (d1)
    commit("c3", "2025-07-01T10:00:00Z"),  # rolled back in d2; first success d4: 48 h
    commit("c4", "2025-07-03T09:00:00Z"),  # lead 1 h (d4)
    commit("c5", "2025-07-04T13:00:00Z"),  # "deployed" before committed: negative, excluded
    dep("d1", "01T10:00:00Z", commits=["c1", "c2"], version="v1", region="eu"),
    dep("d1b", "01T11:00:00Z", commits=["c1", "c2"], version="v1", region="us"),  # same version
    dep("d2", "02T10:00:00Z", status="rolled_back", commits=["c3"], version="v2"),
    dep("d3", "02T12:00:00Z", kind="rollback"),  # restores d2 after 2 h
    dep("d4", "03T10:00:00Z", commits=["c3", "c4"], version="v3"),  # causes i1, resolved 5 h later
    dep("d5", "04T10:00:00Z", status="failure", version="v4"),  # never reached production
    dep("d6", "04T12:00:00Z", commits=["c5"], version="v5", kind="hotfix", remediates="i1"),
    dep("d7", "05T09:00:00Z", version="v6"),  # causes i2, still open
    dep("s1", "05T10:00:00Z", env="staging", commits=["c4"], version="v7"),  # not production
    {"type": "incident", "id": "i1", "service": "pay-api", "severity": "sev2",
     "opened_at": "2025-07-03T11:00:00Z", "resolved_at": "2025-07-03T15:00:00Z", "caused_by": "d4"},
    {"type": "incident", "id": "i2", "service": "pay-api", "severity": "sev3",
     "opened_at": "2025-07-05T10:00:00Z", "resolved_at": None, "caused_by": "d7"},
]


@pytest.fixture
def history(settings: Settings, tmp_path: Path) -> Settings:
    rep = import_paths(settings, [write_jsonl(tmp_path / "h.jsonl", HISTORY)])
    assert rep.quarantined == 0
    return settings


def week(settings: Settings, **kw: Any) -> dict[str, Any]:
    return dora(settings, DoraRequest(grain="week", since=date(2025, 6, 30), until=date(2025, 7, 6), **kw))


def test_every_definition_on_the_worked_example(history: Settings) -> None:
    res = week(history)
    assert res["grain"] == "week"
    rows = {r["team"]: r for r in res["rows"]}
    pay = rows["payments"]
    assert pay["period"] == "2025-W27"
    m = pay["metrics"]
    # five normalised successful deployments (v1 across two regions counts once) in one week
    assert m["dora.deployment_frequency"] == 5.0
    assert m["dora.deployment_days_per_week"] == 5.0
    # leads 1 h, 2 h, 24 h, 48 h: median is the mean of the middle two, p90 interpolates
    assert m["dora.change_lead_time"] == (2 * H + 24 * H) / 2
    assert m["dora.change_lead_time_p90"] == pytest.approx(24 * H + 0.7 * 24 * H)
    assert pay["counts"]["negative_lead_time_spans"] == 1
    assert pay["counts"]["lead_time_commits"] == 4
    # reached production: v1, v2, d3, v3, v5, v6; failed: v2 (rolled back), v3 and v6 (incidents)
    assert pay["counts"]["reached_production"] == 6
    assert m["dora.change_fail_rate"] == 0.5
    assert m["dora.failed_deployment_attempts"] == 1.0
    # recovery: v2 by the next deployment (2 h), v3 by its incident (5 h); v6 unresolved
    assert m["dora.failed_deployment_recovery_time"] == (2 * H + 5 * H) / 2
    assert pay["counts"]["unresolved_failures"] == 1
    # rework: the rollback d3 and the hotfix d6
    assert m["dora.rework_rate"] == pytest.approx(2 / 6)


def test_team_without_deployments_reads_zero_not_missing(history: Settings) -> None:
    web = next(r for r in week(history)["rows"] if r["team"] == "web")
    assert web["metrics"]["dora.deployment_frequency"] == 0.0
    assert web["metrics"]["dora.change_fail_rate"] is None  # undefined, not zero
    assert web["cluster"] is None


def test_quarter_and_month_grains_label_and_normalise_weeks(history: Settings) -> None:
    q = dora(history, DoraRequest(grain="quarter", team=("payments",),
                                  since=date(2025, 7, 1), until=date(2025, 9, 29)))
    (row,) = q["rows"]
    assert row["period"] == "2025-Q3"
    assert row["metrics"]["dora.deployment_frequency"] == pytest.approx(5 / 13)  # 91 days = 13 weeks
    m = dora(history, DoraRequest(grain="month", team=("payments",),
                                  since=date(2025, 6, 1), until=date(2025, 7, 31)))
    assert [r["period"] for r in m["rows"]] == ["2025-06", "2025-07"]
    assert m["rows"][0]["metrics"]["dora.change_lead_time"] is None
    assert m["rows"][1]["change"]["dora.deployment_frequency"] == pytest.approx(5 / (31 / 7))


def test_per_service_rows_carry_service(history: Settings) -> None:
    res = week(history, by="service", service=("pay-api",))
    assert [r["service"] for r in res["rows"]] == ["pay-api"]
    assert res["rows"][0]["metrics"]["dora.change_fail_rate"] == 0.5


def test_unknown_team_and_bad_grain_are_clear_errors(history: Settings) -> None:
    with pytest.raises(NotFoundError, match="unknown team 'nope'"):
        dora(history, DoraRequest(team=("nope",)))
    with pytest.raises(InputError, match="grain"):
        dora(history, DoraRequest(grain="fortnight"))


def test_default_range_is_the_span_of_production_deployments(history: Settings) -> None:
    res = dora(history, DoraRequest(grain="week"))
    assert (res["since"], res["until"]) == ("2025-07-01", "2025-07-05")


@pytest.mark.parametrize(
    ("df", "lead", "cfr", "rec", "level"),
    [
        (20.0, 2 * H, 0.04, 0.3 * H, "elite"),
        (3.0, 2 * 86400, 0.18, 5 * H, "high"),
        (0.5, 12 * 86400, 0.10, 6 * H, "medium"),
        (0.1, 60 * 86400, 0.45, 14 * 86400, "low"),
        # a quiet team with no failure this quarter is not elite for it
        (1.8, 8.4 * 86400, 0.0, None, "medium"),
    ],
)
def test_dora_2024_cluster_assignment(
    df: float, lead: float, cfr: float, rec: float | None, level: str
) -> None:
    import duckdb

    xs, ds, pick = clusters.cluster_layers({
        "dora.deployment_frequency": "df", "dora.change_lead_time": "lead",
        "dora.change_fail_rate": "cfr", "dora.failed_deployment_recovery_time": "rec",
    })
    values = "SELECT ?::DOUBLE AS df, ?::DOUBLE AS lead, ?::DOUBLE AS cfr, ?::DOUBLE AS rec"
    got = duckdb.connect().execute(
        f"SELECT {pick} FROM (SELECT *, {', '.join(ds)} FROM (SELECT *, {', '.join(xs)} "
        f"FROM ({values})))", [df, lead, cfr, rec]
    ).fetchall()
    assert got == [(level,)]


def test_a_failed_version_is_not_restored_by_its_own_success_elsewhere(
    settings: Settings, tmp_path: Path
) -> None:
    recs = [*org(), dep("d1", "01T10:00:00Z", version="v1", region="eu"),
            dep("d1b", "01T11:00:00Z", status="rolled_back", version="v1", region="us"),
            dep("d2", "01T14:00:00Z", version="v2")]
    import_paths(settings, [write_jsonl(tmp_path / "r.jsonl", recs)])
    (row,) = week(settings)["rows"]
    # v1 first reached production at 10:00 and failed; v2 restored service at 14:00
    assert row["metrics"]["dora.failed_deployment_recovery_time"] == 4 * H
    assert row["counts"]["recovered_failures"] == 1


def test_recovery_before_the_failure_is_counted_not_silently_dropped(
    settings: Settings, tmp_path: Path
) -> None:
    recs = [*org(), dep("d1", "01T10:00:00Z", version="v1"),
            {"type": "incident", "id": "i1", "service": "pay-api", "severity": "sev2",
             "opened_at": "2025-07-01T08:00:00Z", "resolved_at": "2025-07-01T09:00:00Z",
             "caused_by": "d1"}]
    import_paths(settings, [write_jsonl(tmp_path / "r.jsonl", recs)])
    (row,) = week(settings)["rows"]
    assert row["metrics"]["dora.failed_deployment_recovery_time"] is None
    assert row["counts"]["negative_recovery_spans"] == 1
