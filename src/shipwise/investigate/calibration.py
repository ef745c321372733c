"""Confidence that means what it says: when an investigation says 0.8, it is right about 80 % of
the time on labelled incidents.

The engine's raw confidence is the margin of the root cause over its best rival,
``score / (score + rival + 2)`` (:func:`raw_confidence`): monotone in how clearly the evidence
favours the cause, but not a probability. :func:`calibrated` maps it through an isotonic
(monotone, piecewise-linear) curve fitted on labelled evaluation data — the share of cases whose
named root cause was right, as a function of the raw value — with the pool-adjacent-violators
algorithm (:func:`fit_isotonic`).

The curve is data, not code: ``calibration.json`` beside this module holds its knots, the data
sets it was fitted on, their sizes and the date, and is rewritten by
``python bench/calibrate_confidence.py`` (which also reports the reliability before and after,
and the calibration error on each data set when the curve is fitted without it). Without the
file (or with ``fit: null``) the raw value is used unchanged.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

TABLE = Path(__file__).with_name("calibration.json")
#: equal-width confidence bins of the reliability table
RELIABILITY_BINS = 5


def raw_confidence(score: float, rival: float) -> float:
    """The margin of a cause scoring ``score`` over its best rival scoring ``rival`` (0..1)."""
    return score / (score + max(rival, 0.0) + 2.0) if score > 0 else 0.0


def fit_isotonic(raw: Sequence[float], correct: Sequence[bool],
                 min_per_block: int = 5) -> list[tuple[float, float]]:
    """Knots ``(raw, probability)`` of the non-decreasing step fit of ``correct`` on ``raw``
    (pool adjacent violators), each block holding at least ``min_per_block`` cases so that a
    single case never sets a level; the knots sit at each block's mean raw value."""
    if len(raw) != len(correct):
        raise ValueError("raw and correct differ in length")
    if not raw:
        return []
    order = np.argsort(np.asarray(raw, dtype=float), kind="stable")
    x = np.asarray(raw, dtype=float)[order]
    y = np.asarray(correct, dtype=float)[order]
    # blocks: [sum_x, sum_y, n]
    blocks: list[list[float]] = []
    for xi, yi in zip(x.tolist(), y.tolist(), strict=True):
        blocks.append([xi, yi, 1.0])
        while len(blocks) > 1 and (
                blocks[-2][1] / blocks[-2][2] >= blocks[-1][1] / blocks[-1][2]
                or blocks[-2][2] < min_per_block):
            sx, sy, n = blocks.pop()
            blocks[-1][0] += sx
            blocks[-1][1] += sy
            blocks[-1][2] += n
    while len(blocks) > 1 and blocks[-1][2] < min_per_block:  # a short last block joins in
        sx, sy, n = blocks.pop()
        blocks[-1][0] += sx
        blocks[-1][1] += sy
        blocks[-1][2] += n
    return [(round(b[0] / b[2], 4), round(b[1] / b[2], 4)) for b in blocks]


def apply_knots(knots: Sequence[tuple[float, float]], raw: float) -> float:
    """``raw`` through the curve (flat beyond its first and last knot); no margin at all (a
    lead of an inconclusive investigation) stays 0."""
    if raw <= 0:
        return 0.0
    if not knots:
        return raw
    xs = [k[0] for k in knots]
    ys = [k[1] for k in knots]
    return float(np.interp(raw, xs, ys))


@functools.lru_cache(maxsize=1)
def _table() -> dict[str, Any]:
    try:
        data = json.loads(TABLE.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def knots() -> list[tuple[float, float]]:
    fit = _table().get("fit") or {}
    return [(float(a), float(b)) for a, b in fit.get("knots", [])]


def calibrated(raw: float) -> float:
    """The calibrated confidence of a raw one (the raw value when no curve is shipped)."""
    return round(min(1.0, max(0.0, apply_knots(knots(), raw))), 2)


def reliability(confidence: Sequence[float | None], correct: Sequence[bool],
                bins: int = RELIABILITY_BINS) -> list[dict[str, Any]]:
    """The cases binned by confidence (``[0, 1/bins)``, ..., ``[1 - 1/bins, 1]``; a case
    without one is left out), each bin ``{"low", "high", "n", "mean_confidence",
    "top1_right"}`` — ``top1_right`` the share of its cases that were right (None for an empty
    bin). Calibrated means ``top1_right`` close to ``mean_confidence`` in every bin."""
    binned: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for c, ok in zip(confidence, correct, strict=True):
        if c is None:
            continue
        p = min(max(float(c), 0.0), 1.0)
        binned[min(int(p * bins), bins - 1)].append((p, bool(ok)))
    out: list[dict[str, Any]] = []
    for b, inside in enumerate(binned):
        n = len(inside)
        out.append({"low": round(b / bins, 4), "high": round((b + 1) / bins, 4), "n": n,
                    "mean_confidence": (sum(p for p, _ in inside) / n) if n else None,
                    "top1_right": (sum(1 for _, ok in inside if ok) / n) if n else None})
    return out


def calibration_error(confidence: Sequence[float], correct: Sequence[bool]) -> float:
    """Expected calibration error over :data:`RELIABILITY_BINS`: the case-weighted mean gap between the
    mean confidence and the share right in each bin."""
    rows = reliability(list(confidence), correct)
    n = sum(r["n"] for r in rows)
    if not n:
        return float("nan")
    return sum(r["n"] * abs(r["mean_confidence"] - r["top1_right"]) for r in rows if r["n"]) / n
