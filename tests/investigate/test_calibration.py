"""The confidence curve: isotonic on labelled outcomes, applied to the raw margin."""

from __future__ import annotations

import numpy as np

from shipwise.investigate import calibration
from shipwise.investigate.calibration import (
    apply_knots,
    calibration_error,
    fit_isotonic,
    raw_confidence,
    reliability,
)


def test_the_fit_is_monotone_and_matches_the_outcomes_it_was_fitted_on() -> None:
    rng = np.random.default_rng(5)
    raw = rng.uniform(0, 1, 400)
    right = rng.uniform(0, 1, 400) < raw**2  # truly right with probability raw²
    knots = fit_isotonic(raw.tolist(), right.tolist())
    ys = [y for _, y in knots]
    assert ys == sorted(ys) and len(knots) >= 3
    fitted = [apply_knots(knots, x) for x in raw]
    assert calibration_error(fitted, right.tolist()) < calibration_error(raw.tolist(), right.tolist())
    assert apply_knots(knots, 0.9) > 0.6 > apply_knots(knots, 0.3)


def test_no_block_rests_on_fewer_than_the_minimum_of_cases() -> None:
    raw = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    right = [False, True, False, True, True, True, True]
    knots = fit_isotonic(raw, right, min_per_block=3)
    assert len(knots) <= len(raw) // 3
    assert fit_isotonic([], []) == []


def test_reliability_bins_count_each_case_once() -> None:
    rows = reliability([0.05, 0.5, 0.55, 1.0, None], [False, True, False, True, True])
    assert [r["n"] for r in rows] == [1, 0, 2, 0, 1]
    assert rows[2]["mean_confidence"] == 0.525 and rows[2]["top1_right"] == 0.5
    assert rows[1]["top1_right"] is None


def test_raw_confidence_is_the_margin_and_the_shipped_curve_is_used(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    assert raw_confidence(0.0, 3.0) == 0.0
    assert raw_confidence(8.0, 0.0) == 0.8 and raw_confidence(8.0, 6.0) == 0.5
    monkeypatch.setattr(calibration, "knots", lambda: [(0.2, 0.1), (0.8, 0.9)])
    assert calibration.calibrated(0.5) == 0.5 and calibration.calibrated(0.95) == 0.9
    monkeypatch.setattr(calibration, "knots", lambda: [])
    assert calibration.calibrated(0.37) == 0.37
