"""The DORA Quick Check 2025 scoring, computed from measured DORA metrics, and its 2025 benchmarks.

Source (data file ``shipwise/data/editions/2025/quick_check.json``, which names the commit):
dora-team/dora.dev, ``svelte/quick-check`` (formerly ``svelte/quick-check-2025``), Apache-2.0.
The Quick Check asks five questions:

- change lead time, failed deployment recovery time and deployment frequency are answered in six
  buckets, 1 (worst) to 6 (best), scored ``(answer - 1) * 2`` (0–10; ``recode_numeric_range``);
- change fail rate and deployment rework rate are percentages ``v`` (0–100), scored
  ``(100 - v) / 10``;
- the overall score is the mean of the answered metrics' scores.

shipwise answers the questions from telemetry: a duration falls in the bucket its label names
(:data:`DURATION_BUCKETS`), deployment frequency by deployments per day (:data:`FREQUENCY_BUCKETS`),
a rate is its percentage unrounded. A metric without a value (no commit deployed, no failure to
recover from, nothing reached production) is left out of the mean, as an unanswered question.

The benchmarks are the report's means and standard deviations on the same 0–10 scale, higher is
better: change fail rate and rework are published as ``v / 10`` (higher is worse) and shown as
``10 - mean``, as the Quick Check does (``transformMetrics``); the overall mean is the mean of the
five shown means, with the published standard deviation. The DORA 2025 report's seven team
profiles also rest on survey answers telemetry does not have: none is inferred here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from shipwise.metrics import ids

HOUR = 3600.0
DAY = 24 * HOUR
WEEK = 7 * DAY
#: A month of 30 days and six months of 182.5 days (half of 365), as shipwise reads the labels.
MONTH = 30 * DAY
SIX_MONTHS = 182.5 * DAY

#: The lower bound (inclusive) of each answer for a duration, best first: "Less than one hour" is 6,
#: "Less than one day" 5, "One day to one week" 4, "One week to one month" 3, "One to six months"
#: 2, "More than six months" 1.
DURATION_BUCKETS: tuple[tuple[float, int], ...] = (
    (SIX_MONTHS, 1), (MONTH, 2), (WEEK, 3), (DAY, 4), (HOUR, 5), (0.0, 6))
#: The lower bound (inclusive) of deployments per day for each answer: "On demand (multiple
#: deploys per day)" is 6 (two or more a day), "Between once per hour and once per day" 5 (at
#: least one a day), "Between once per day and once per week" 4, "Between once per week and once
#: per month" 3, "Between once per month and once every six months" 2, "Less than once per six
#: months" 1. The survey's answers 5 and 6 overlap ("once per hour" is also "multiple per day");
#: shipwise reads 6 as more than one a day and 5 as about daily.
FREQUENCY_BUCKETS: tuple[tuple[float, int], ...] = (
    (2.0, 6), (1.0, 5), (1 / 7, 4), (1 / 30, 3), (1 / 182.5, 2), (0.0, 1))

#: Quick Check question -> the metric it measures, and how it is answered.
QUESTIONS: dict[str, tuple[str, str]] = {
    "leadtime": (ids.CHANGE_LEAD_TIME, "duration"),
    "deployfreq": (ids.DEPLOYMENT_FREQUENCY, "frequency"),
    "failurerecovery": (ids.FAILED_DEPLOYMENT_RECOVERY_TIME, "duration"),
    "changefailure": (ids.CHANGE_FAIL_RATE, "percentage"),
    "rework": (ids.REWORK_RATE, "percentage"),
}
#: Published as v / 10 with higher worse: shown as 10 - mean.
_INVERTED = ("changefailure", "rework")

#: Team attributes naming the benchmark cohort (team.attributes JSON).
INDUSTRY_KEYS = ("industry",)
SIZE_KEYS = ("organization_size", "organisation_size", "org_size")


@dataclass(frozen=True)
class Score:
    """One metric's Quick Check answer and score."""

    metric: str
    #: the bucket 1–6, or the percentage 0–100 (None: no value measured)
    answer: float | None
    label: str | None
    score: float | None


def data() -> dict[str, Any]:
    """The shipped data file (buckets, benchmarks, source)."""
    return _data()


@cache
def _data() -> dict[str, Any]:
    path = resources.files("shipwise") / "data" / "editions" / "2025" / "quick_check.json"
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def source() -> dict[str, Any]:
    return dict(data()["source"])


def _bucket(value: float, buckets: tuple[tuple[float, int], ...]) -> int:
    return next(answer for lower, answer in buckets if value >= lower)


def answer(question: str, value: float | None) -> tuple[float | None, str | None]:
    """The Quick Check answer a measured value gives: a bucket 1–6 with its label, or a percentage.

    ``value`` is in the registry's unit: seconds, deployments per week, or a ratio 0–1."""
    if value is None:
        return None, None
    kind = QUESTIONS[question][1]
    if kind == "percentage":
        pct = min(max(float(value) * 100, 0.0), 100.0)
        return pct, f"{pct:.1f} %"
    bucket = (_bucket(max(float(value), 0.0), DURATION_BUCKETS) if kind == "duration"
              else _bucket(max(float(value), 0.0) / 7, FREQUENCY_BUCKETS))
    return float(bucket), data()["answers"][question][str(bucket)]


def score_of(question: str, ans: float | None) -> float | None:
    """The published scoring: buckets 1–6 → 0–10, percentages (100 − v) / 10."""
    if ans is None:
        return None
    if QUESTIONS[question][1] == "percentage":
        return (100 - min(max(ans, 0.0), 100.0)) / 10
    return (min(max(ans, 1.0), 6.0) - 1) / 5 * 10


def _mean(xs: list[float | None]) -> float | None:
    got = [x for x in xs if x is not None]
    return sum(got) / len(got) if got else None


def score(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """A team-period's Quick Check from its measured metrics (by metric id): per metric the answer
    and score, the mean of each DORA 2025 group's scores, and the overall mean."""
    scores: dict[str, Score] = {}
    for q, (mid, _) in QUESTIONS.items():
        ans, label = answer(q, metrics.get(mid))
        scores[mid] = Score(mid, ans, label, score_of(q, ans))
    groups = {ids.THROUGHPUT: (ids.CHANGE_LEAD_TIME, ids.DEPLOYMENT_FREQUENCY,
                               ids.FAILED_DEPLOYMENT_RECOVERY_TIME),
              ids.INSTABILITY: (ids.CHANGE_FAIL_RATE, ids.REWORK_RATE)}
    return {
        "scores": {m: s.score for m, s in scores.items()},
        "answers": {m: s.answer for m, s in scores.items()},
        "labels": {m: s.label for m, s in scores.items()},
        "groups": {g: _mean([scores[m].score for m in ms]) for g, ms in groups.items()},
        "overall": _mean([s.score for s in scores.values()]),
    }


def _shown(kind: str, key: str) -> dict[str, Any]:
    """One published benchmark row on the Quick Check's shown scale (higher is better)."""
    table = data()[kind]
    row = table[key]
    out: dict[str, dict[str, float]] = {}
    for q, (mid, _) in QUESTIONS.items():
        b = row[q]
        mean = float(b["mean"])
        if q in _INVERTED or (q == "failurerecovery" and kind == "organization_size"
                              and _size_recovery_inverted()):
            mean = 10 - mean
        out[mid] = {"mean": round(mean, 2), "sd": float(b["std"])}
    overall = row.get("performance_average") or {}
    thr = row.get("software_delivery_throughput") or {}
    ins = row.get("software_delivery_instability") or {}
    return {
        "name": row["name"], "key": key,
        "metrics": out,
        "overall": {"mean": round(sum(v["mean"] for v in out.values()) / len(out), 2),
                    "sd": float(overall["std"])} if overall else None,
        "groups": {
            ids.THROUGHPUT: {"mean": float(thr["mean"]), "sd": float(thr["std"])} if thr else None,
            ids.INSTABILITY: ({"mean": round(10 - float(ins["mean"]), 2), "sd": float(ins["std"])}
                              if ins else None),
        },
    }


def _size_recovery_inverted() -> bool:
    """The 2025 organisation-size file gives failure recovery for all organisations as 10 minus
    the industry file's all-industries value (2.6 against 7.4) while every other all-row figure is
    equal: its recovery is on the inverted scale, and is shown as 10 − mean like the rates."""
    ind = float(data()["industry"]["all"]["failurerecovery"]["mean"])
    size = float(data()["organization_size"]["all"]["failurerecovery"]["mean"])
    return abs(ind - size) > 0.05 and abs(ind + size - 10) < 0.05


def _find(kind: str, value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    want = value.strip().lower()
    for key, row in data()[kind].items():
        if key != "all" and want in (key.lower(), str(row["name"]).lower()):
            return key
    return None


def choices(kind: str) -> list[str]:
    """The keys an attribute may name (``industry`` or ``organization_size``)."""
    return [k for k in data()[kind] if k != "all"]


def benchmarks(attributes: Mapping[str, Any] | None) -> tuple[list[dict[str, Any]], list[str]]:
    """The 2025 benchmarks to show beside a team's scores: all industries, then its industry and
    its organisation size when its attributes name them; and notes on attributes not understood."""
    attrs = attributes or {}
    out = [{"scope": "all", **_shown("industry", "all")}]
    notes: list[str] = []
    for kind, keys, scope in (("industry", INDUSTRY_KEYS, "industry"),
                              ("organization_size", SIZE_KEYS, "organization_size")):
        given = next((attrs[k] for k in keys if attrs.get(k) not in (None, "")), None)
        if given is None:
            continue
        key = _find(kind, given)
        if key is None:
            notes.append(f"{scope} {given!r} is not one of the 2025 benchmark's: "
                         f"{', '.join(choices(kind))}")
            continue
        out.append({"scope": scope, **_shown(kind, key)})
    return out, notes


#: Said wherever the scores are shown.
NO_PROFILE = ("The DORA 2025 report's seven team profiles combine these metrics with survey answers "
              "(well-being, friction, burnout, team and product performance) that telemetry does "
              "not measure: shipwise infers no profile.")


def attributes_of(raw: Any) -> dict[str, Any]:
    """A team's stored attributes (JSON text, a mapping or None) as a mapping."""
    if isinstance(raw, Mapping):
        return dict(raw)
    if isinstance(raw, str) and raw.strip():
        try:
            loaded = json.loads(raw)
        except ValueError:
            return {}
        return loaded if isinstance(loaded, dict) else {}
    return {}


def _column(question: str, values: list[Any]) -> tuple[list[float | None], list[float | None],
                                                        list[str | None]]:
    """:func:`answer` and :func:`score_of` over one metric's column (same results, no per-row
    dispatch): answers, scores, labels."""
    kind = QUESTIONS[question][1]
    if kind == "percentage":
        pcts = [None if v is None else min(max(float(v) * 100, 0.0), 100.0) for v in values]
        return (pcts, [None if p is None else (100 - p) / 10 for p in pcts],
                [None if p is None else f"{p:.1f} %" for p in pcts])
    buckets = DURATION_BUCKETS if kind == "duration" else FREQUENCY_BUCKETS
    scale = 1.0 if kind == "duration" else 1 / 7
    words = data()["answers"][question]
    answers: list[float | None] = [
        None if v is None else float(_bucket(max(float(v), 0.0) * scale, buckets)) for v in values]
    return (answers, [None if a is None else (a - 1) * 2 for a in answers],
            [None if a is None else words[str(int(a))] for a in answers])


def score_columns(columns: Mapping[str, list[Any]], n: int) -> list[dict[str, Any]]:
    """:func:`score` of ``n`` rows given column-wise (metric id -> values), as each row's
    ``quick_check``: ``metrics`` (scores), ``answers``, ``labels``, ``groups``, ``overall``."""
    per = {mid: _column(q, list(columns.get(mid) or [None] * n)) for q, (mid, _) in QUESTIONS.items()}
    mids = list(per)
    thr = [ids.CHANGE_LEAD_TIME, ids.DEPLOYMENT_FREQUENCY, ids.FAILED_DEPLOYMENT_RECOVERY_TIME]
    ins = [ids.CHANGE_FAIL_RATE, ids.REWORK_RATE]
    out = []
    for i in range(n):
        scores = {m: per[m][1][i] for m in mids}
        out.append({
            "metrics": scores,
            "answers": {m: per[m][0][i] for m in mids},
            "labels": {m: per[m][2][i] for m in mids},
            "groups": {ids.THROUGHPUT: _mean([scores[m] for m in thr]),
                       ids.INSTABILITY: _mean([scores[m] for m in ins])},
            "overall": _mean(list(scores.values())),
        })
    return out
