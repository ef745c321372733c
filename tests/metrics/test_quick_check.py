"""The DORA Quick Check 2025 scoring from telemetry, against buckets and scores worked out by hand
from the published rules (dora-team/dora.dev, svelte/quick-check: answers 1-6 scored 0-10,
percentages (100 - v) / 10, overall = mean)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipwise.app.metrics import DoraRequest
from shipwise.app.owner import dora, import_paths
from shipwise.config import Settings
from shipwise.metrics import ids, quick_check
from tests.conftest import org, write_jsonl
from tests.metrics.test_dora import HISTORY, week

H = 3600.0
D = 86400.0


@pytest.mark.parametrize(("seconds", "bucket", "label"), [
    (59 * 60, 6, "Less than one hour"),
    (H, 5, "Less than one day"),            # one hour is no longer "less than one hour"
    (23 * H, 5, "Less than one day"),
    (D, 4, "One day to one week"),
    (6.9 * D, 4, "One day to one week"),
    (7 * D, 3, "One week to one month"),
    (29 * D, 3, "One week to one month"),
    (30 * D, 2, "One to six months"),
    (182 * D, 2, "One to six months"),
    (183 * D, 1, "More than six months"),
])
def test_durations_fall_in_the_bucket_their_label_names(seconds: float, bucket: int,
                                                        label: str) -> None:
    for q in ("leadtime", "failurerecovery"):
        assert quick_check.answer(q, seconds) == (bucket, label)


@pytest.mark.parametrize(("per_week", "bucket"), [
    (14.0, 6),        # two a day: multiple deploys per day
    (7.0, 5),         # one a day
    (1.0, 4),         # weekly: between once per day and once per week
    (0.5, 3),         # fortnightly
    (7 / 30, 3),      # once per month exactly
    (0.1, 2),         # about every ten weeks
    (0.0, 1),         # none: less than once per six months
])
def test_deployment_frequency_buckets(per_week: float, bucket: int) -> None:
    assert quick_check.answer("deployfreq", per_week)[0] == bucket


def test_published_scoring() -> None:
    # buckets 1..6 map linearly onto 0..10
    assert [quick_check.score_of("leadtime", b) for b in (1, 2, 3, 4, 5, 6)] == [0, 2, 4, 6, 8, 10]
    # percentages score (100 - v) / 10
    assert quick_check.score_of("changefailure", 0.0) == 10
    assert quick_check.score_of("changefailure", 15.0) == 8.5
    assert quick_check.score_of("rework", 100.0) == 0
    assert quick_check.answer("changefailure", 0.15)[0] == pytest.approx(15.0)


def test_a_team_scored_by_hand() -> None:
    got = quick_check.score({
        ids.DEPLOYMENT_FREQUENCY: 3.0,                # 3/7 a day: once a day to once a week (4)
        ids.CHANGE_LEAD_TIME: 2 * D,                   # one day to one week (4)
        ids.FAILED_DEPLOYMENT_RECOVERY_TIME: 30 * 60,  # less than one hour (6)
        ids.CHANGE_FAIL_RATE: 0.2,                     # 20 % -> 8
        ids.REWORK_RATE: None,                         # not measured: left out of the mean
    })
    assert got["scores"] == {ids.CHANGE_LEAD_TIME: 6, ids.DEPLOYMENT_FREQUENCY: 6,
                             ids.FAILED_DEPLOYMENT_RECOVERY_TIME: 10, ids.CHANGE_FAIL_RATE: 8,
                             ids.REWORK_RATE: None}
    assert got["overall"] == pytest.approx((6 + 6 + 10 + 8) / 4)
    assert got["groups"] == {ids.THROUGHPUT: pytest.approx(22 / 3), ids.INSTABILITY: 8}


def test_benchmarks_are_the_published_figures_on_the_shown_scale() -> None:
    marks, notes = quick_check.benchmarks({"industry": "Financial Services",
                                           "organization_size": "fewer_than_1000"})
    assert notes == []
    allind, fin, size = marks
    assert (allind["scope"], allind["name"]) == ("all", "All industries")
    # published: lead time 5.5 ± 2.4; change failure 1.9 ± 2.1 on the v/10 scale, shown 10 - 1.9
    assert allind["metrics"][ids.CHANGE_LEAD_TIME] == {"mean": 5.5, "sd": 2.4}
    assert allind["metrics"][ids.CHANGE_FAIL_RATE] == {"mean": 8.1, "sd": 2.1}
    assert allind["metrics"][ids.REWORK_RATE] == {"mean": 7.8, "sd": 2.2}
    # the Quick Check's overall mean: (5.5 + 4.8 + 7.4 + 8.1 + 7.8) / 5, published SD 1.2
    assert allind["overall"] == {"mean": pytest.approx(6.72), "sd": 1.2}
    assert (fin["scope"], fin["name"]) == ("industry", "Financial Services")
    assert fin["metrics"][ids.DEPLOYMENT_FREQUENCY] == {"mean": 5.1, "sd": 2.6}
    assert (size["scope"], size["name"]) == ("organization_size", "500 to 999 employees")
    # published as 2.7 on the inverted scale (its all-organisations row is 10 - 7.4): shown 7.3
    assert size["metrics"][ids.FAILED_DEPLOYMENT_RECOVERY_TIME] == {"mean": 7.3, "sd": 2.1}


def test_attributes_not_in_the_benchmark_are_said_not_guessed() -> None:
    marks, notes = quick_check.benchmarks({"industry": "space mining"})
    assert [m["scope"] for m in marks] == ["all"]
    assert "space mining" in notes[0] and "financial_services" in notes[0]
    assert [m["scope"] for m in quick_check.benchmarks(None)[0]] == ["all"]


def test_the_door_scores_each_row_and_puts_the_team_benchmarks_beside(
    settings: Settings, tmp_path: Path
) -> None:
    recs = [dict(r) for r in HISTORY]
    for r in recs:
        if r.get("type") == "team" and r["id"] == "payments":
            r["attributes"] = {"industry": "technology", "organization_size": "100 to 499 employees"}
    import_paths(settings, [write_jsonl(tmp_path / "h.jsonl", recs)])
    res = week(settings)
    pay = next(r for r in res["rows"] if r["team"] == "payments")
    q = pay["quick_check"]
    # worked example: 5 deployments in the week (5/7 a day: bucket 4 -> 6), median lead 13 h
    # (bucket 5 -> 8), median recovery 3.5 h (bucket 5 -> 8), change fail 50 % (5), rework 1/3
    assert q["answers"][ids.DEPLOYMENT_FREQUENCY] == 4
    assert q["labels"][ids.CHANGE_LEAD_TIME] == "Less than one day"
    assert q["metrics"] == {ids.DEPLOYMENT_FREQUENCY: 6, ids.CHANGE_LEAD_TIME: 8,
                            ids.FAILED_DEPLOYMENT_RECOVERY_TIME: 8, ids.CHANGE_FAIL_RATE: 5,
                            ids.REWORK_RATE: pytest.approx(20 / 3)}
    assert q["overall"] == pytest.approx((6 + 8 + 8 + 5 + 20 / 3) / 5)
    assert res["groups"][ids.CHANGE_FAIL_RATE] == ids.INSTABILITY
    assert res["groups"][ids.FAILED_DEPLOYMENT_RECOVERY_TIME] == ids.THROUGHPUT
    assert res["levels"] == "DORA 2024 levels"
    bench = res["quick_check"]["benchmarks"]
    assert [b["name"] for b in bench["payments"]] == [
        "All industries", "Technology", "100 to 499 employees"]
    assert [b["scope"] for b in bench["web"]] == ["all"]
    assert res["quick_check"]["source"]["commit"]
    assert "no profile" in res["quick_check"]["profile"]
    # a team with nothing deployed: frequency answers "less than once per six months" (0)
    web = next(r for r in res["rows"] if r["team"] == "web")
    assert web["quick_check"]["metrics"][ids.DEPLOYMENT_FREQUENCY] == 0
    assert web["quick_check"]["overall"] == 0


def test_quarter_rows_are_scored_too(settings: Settings, tmp_path: Path) -> None:
    import_paths(settings, [write_jsonl(tmp_path / "h.jsonl", [*org(), *HISTORY[2:]])])
    res = dora(settings, DoraRequest(grain="quarter", team=("payments",)))
    assert all(r["quick_check"]["overall"] is not None for r in res["rows"])


def test_column_wise_scoring_equals_the_row_rules() -> None:
    rows = [
        {ids.DEPLOYMENT_FREQUENCY: 0.0, ids.CHANGE_LEAD_TIME: None,
         ids.FAILED_DEPLOYMENT_RECOVERY_TIME: None, ids.CHANGE_FAIL_RATE: None, ids.REWORK_RATE: None},
        {ids.DEPLOYMENT_FREQUENCY: 14.0, ids.CHANGE_LEAD_TIME: 59 * 60.0,
         ids.FAILED_DEPLOYMENT_RECOVERY_TIME: 200 * D, ids.CHANGE_FAIL_RATE: 1.2,
         ids.REWORK_RATE: 0.0},
        {ids.DEPLOYMENT_FREQUENCY: 7 / 30, ids.CHANGE_LEAD_TIME: 7 * D,
         ids.FAILED_DEPLOYMENT_RECOVERY_TIME: H, ids.CHANGE_FAIL_RATE: 0.15, ids.REWORK_RATE: 0.5},
    ]
    cols = {m: [r[m] for r in rows] for m in rows[0]}
    for got, row in zip(quick_check.score_columns(cols, len(rows)), rows, strict=True):
        want = quick_check.score(row)
        assert got == {"metrics": want["scores"], "answers": want["answers"],
                       "labels": want["labels"], "groups": want["groups"],
                       "overall": want["overall"]}
    # a rate above 100 % (bad data) scores 0, never below
    assert quick_check.score_columns(cols, 3)[1]["metrics"][ids.CHANGE_FAIL_RATE] == 0
