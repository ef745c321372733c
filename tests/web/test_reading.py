"""How numbers and sentences read on the pages, without a browser: units on bare numbers, one
humanising filter, durations in one unit, the summary's notion of a noticeable change, and
anomalies read as values before and at the peak (the markup escaped)."""

from __future__ import annotations

from shipwise.metrics import ids
from shipwise.web.render import duration_in, fmt, humanize
from shipwise.web.summary import change
from shipwise.web.telemetry import plain_deviations, telemetry_value


def test_bare_numbers_carry_their_unit() -> None:
    assert fmt(69.93, ids.EFFECTIVE_HEADCOUNT) == "69.9 FTE"
    assert fmt(16.82, ids.DEPLOYMENT_FREQUENCY) == "16.82 per week"
    assert fmt(12.0, ids.AFTER_HOURS_PAGES) == "12 pages"
    assert fmt(12.0, ids.AFTER_HOURS_PAGES, bare=True) == "12"
    assert fmt(21.77, ids.WORK_IN_PROGRESS) == "21.8 open PRs"
    # durations, percentages and money already say what they are
    assert fmt(0.026, ids.CHANGE_FAIL_RATE) == "2.6%"
    assert fmt(3.5 * 86400, ids.CHANGE_LEAD_TIME) == "3.5 d"
    assert fmt(None, ids.EFFECTIVE_HEADCOUNT) == "—"


def test_identifiers_read_as_words_and_durations_in_one_unit() -> None:
    assert humanize("pull_requests") == "pull requests"
    assert humanize("on-call_load") == "on call load"
    assert duration_in(36 * 3600, "d") == "1.5 d"
    assert duration_in(4.6 * 3600, "d") == "0.19 d"  # not "4.6 h" beside days
    assert duration_in(16.9 * 3600, "h") == "16.9 h"


def test_a_noticeable_change_and_its_direction() -> None:
    worse = change(ids.CHANGE_LEAD_TIME, 2 * 86400, 4 * 86400)
    assert worse is not None and worse["tone"] == "bad"
    assert worse["text"] == "Change lead time (median) rose from 2.0 d to 4.0 d (+100%)"
    better = change(ids.DEPLOYMENT_FREQUENCY, 4.0, 5.0)
    assert better is not None and better["tone"] == "good"
    # below the thresholds: not a change worth a line
    assert change(ids.DEPLOYMENT_FREQUENCY, 4.0, 4.4) is None  # +10%
    assert change(ids.CHANGE_FAIL_RATE, 0.10, 0.115) is None  # +1.5 points
    assert change(ids.AFTER_HOURS_PAGES, 4.0, 5.0) is None  # +25% but one page
    pp = change(ids.CHANGE_FAIL_RATE, 0.10, 0.13)
    assert pp is not None and "(+3.0 pp)" in pp["text"] and pp["tone"] == "bad"
    mixed = change(ids.FAILED_DEPLOYMENT_RECOVERY_TIME, 23.6 * 3600, 36 * 3600)
    assert mixed is not None and "from 0.98 d to 1.5 d" in mixed["text"]  # one unit


def test_anomalies_read_as_values_before_and_at_the_peak() -> None:
    series = {"api|latency_p95_ms": {"before": 120.0, "peak": 2400.0},
              "catalog|error_rate": {"before": 0.0026, "peak": 0.536}}
    html = str(plain_deviations("api latency_p95_ms rose 3722.3 robust-σ from 12:00 <b>", series))
    assert html.startswith("api latency p95 rose from 120 ms to 2.4 s ")
    assert 'title="3722.3 robust-σ.' in html and "&lt;b&gt;" in html and "<b>" not in html
    along = str(plain_deviations("error_rate rose along the calls gateway → catalog: catalog "
                                 "deviated 580.5 robust-σ (+0.534), tracks the alarm", series))
    assert "catalog went from 0.26% to 53.6%" in along and "(+0.534)" not in along
    # a series the record does not carry keeps its words, the σ explained
    kept = str(plain_deviations("db cpu rose 3.1 robust-σ", series))
    assert kept.startswith("db cpu rose <abbr title=") and "3.1 robust-σ</abbr>" in kept
    assert telemetry_value("memory_mb", 2048) == "2 GB"
    assert telemetry_value("requests_per_s", 12.5) == "12.5/s"
