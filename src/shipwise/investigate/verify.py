"""Post-validation: are the series an investigation found anomalous back to their baseline?

For every series of a record's ``anomalous_series`` (entity, metric, the direction that was bad
and the pre-incident baseline the investigation judged it against: median and IQR of the window
before the onset), the recent window ``[at − minutes, at]`` is re-read from Prometheus and tested:

- the recent level is the **median** of the window (one late spike or one good sample does not
  decide), its deviation ``(median_recent − median_baseline) / IQR_baseline`` is in the same
  robust-σ units the investigation used, turned so that positive is the bad direction;
- **recovered** when that deviation is below :data:`THRESHOLD` (3 robust-σ, the investigation's
  own floor for "anomalous") *and* at most :data:`MAX_OUTSIDE` of the recent samples lie beyond
  it (a series flapping in and out is not settled); **still anomalous** otherwise;
- **no data** when Prometheus returned fewer than :data:`MIN_SAMPLES` samples in the window.

Nothing is stored here; the caller decides (``shipwise verify --record``).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import numpy as np

from shipwise.errors import ConfigError, TransientError
from shipwise.investigate.case import Series
from shipwise.investigate.rank import iso
from shipwise.investigate.settings import PrometheusSettings
from shipwise.investigate.sources.prometheus import MAX_POINTS, PrometheusSource

THRESHOLD = 3.0
MAX_OUTSIDE = 0.2
MIN_SAMPLES = 3

TEST = (f"median of the last window against the pre-incident baseline median, in baseline IQRs "
        f"(robust-σ) in the direction that was bad: recovered below {THRESHOLD:g} with at most "
        f"{MAX_OUTSIDE:.0%} of the window's samples beyond it")


def promql(settings: PrometheusSettings, entity: str, metric: str) -> str:
    """The PromQL selecting ``metric`` of ``entity`` as the Prometheus source reads it."""
    matchers = [f'{settings.entity_label}="{entity}"']
    if settings.matchers.strip():
        matchers.append(settings.matchers.strip())
    return f"{settings.metric_prefix}{metric}{{{', '.join(matchers)}}}"


def read_series(settings: PrometheusSettings, expr: str, start: float, end: float) -> Series | None:
    """One series of ``expr`` over ``[start, end]`` (several: the one with the highest mean, as
    the investigation's Prometheus source keeps), or None when Prometheus has none."""
    step = settings.step_seconds or 15.0
    step = max(min(step, max((end - start) / 20, 1.0)), (end - start) / MAX_POINTS)
    try:
        r = httpx.get(f"{settings.url.rstrip('/')}/api/v1/query_range",
                      params={"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}",
                              "step": f"{step:g}"}, timeout=settings.timeout_seconds)
    except httpx.HTTPError as exc:
        raise TransientError(f"prometheus at {settings.url} unreachable: {exc}",
                             hint="check investigate.sources.prometheus.url in shipwise.yaml") from exc
    if r.status_code != 200:
        raise TransientError(f"prometheus answered {r.status_code}: {r.text[:200]}")
    body = r.json()
    if body.get("status") != "success":
        raise TransientError(f"prometheus query failed: {body.get('error')}")
    best: Series | None = None
    for item in body["data"]["result"]:
        arr = np.asarray([(float(t), float(v)) for t, v in item.get("values", [])], dtype=float)
        if arr.size == 0:
            continue
        arr = arr[np.isfinite(arr[:, 1])]
        if arr.size == 0:
            continue
        if best is None or float(arr[:, 1].mean()) > float(best.values.mean()):
            best = Series(arr[:, 0], arr[:, 1])
    return best


def judge(baseline: dict[str, Any], direction: int, recent: Series | None) -> dict[str, Any]:
    """The test of the module docstring on one series."""
    if recent is None or recent.values.size < MIN_SAMPLES:
        return {"status": "no_data", "samples": 0 if recent is None else int(recent.values.size),
                "reason": "Prometheus returned too few samples in the window to judge"}
    med, iqr = float(baseline["median"]), max(float(baseline["iqr"]), 1e-12)
    sign = direction if direction else 1
    dev = (recent.values - med) / iqr * sign
    level = float(np.median(recent.values))
    deviation = (level - med) / iqr * sign
    if not direction:
        dev, deviation = np.abs(dev), abs(deviation)
    outside = float(np.mean(dev >= THRESHOLD))
    ok = deviation < THRESHOLD and outside <= MAX_OUTSIDE
    if ok:
        reason = (f"median {level:.4g} is {deviation:+.1f} robust-σ from the baseline {med:.4g}; "
                  f"{outside:.0%} of samples beyond {THRESHOLD:g}")
    elif deviation >= THRESHOLD:
        reason = (f"median {level:.4g} is still {deviation:.1f} robust-σ from the baseline "
                  f"{med:.4g} (recovered below {THRESHOLD:g})")
    else:
        reason = (f"median {level:.4g} is back near the baseline {med:.4g}, but {outside:.0%} of "
                  f"the samples are still beyond {THRESHOLD:g} robust-σ (at most "
                  f"{MAX_OUTSIDE:.0%}): not settled")
    return {"status": "recovered" if ok else "still_anomalous", "samples": int(recent.values.size),
            "recent_median": level, "deviation": round(deviation, 2),
            "outside_share": round(outside, 3), "reason": reason}


def verify_record(record: dict[str, Any], settings: PrometheusSettings | None, *,
                  at: float | None = None, minutes: float = 10) -> dict[str, Any]:
    """Per anomalous series of ``record``: back to its baseline at ``at`` (default now)?"""
    if settings is None:
        raise ConfigError("no Prometheus configured: verify re-reads the anomalous series from it",
                          hint="set investigate.sources.prometheus.url in shipwise.yaml")
    problems = PrometheusSource(settings).check()
    if problems:
        raise ConfigError("; ".join(problems), hint="fix investigate.sources.prometheus in shipwise.yaml")
    if minutes <= 0:
        raise ConfigError("--minutes must be positive")
    end = time.time() if at is None else float(at)
    start = end - minutes * 60
    listed = list(record.get("anomalous_series") or [])
    out = []
    for s in listed:
        expr = promql(settings, s["entity"], s["metric"])
        recent = read_series(settings, expr, start, end)
        verdict = judge(s["baseline"], int(s.get("direction") or 0), recent)
        out.append({"entity": s["entity"], "metric": s["metric"], "promql": expr,
                    "graph": PrometheusSource(settings).graph_link(expr),
                    "baseline": s["baseline"], "anomaly_score": s.get("score"), **verdict})
    statuses = {x["status"] for x in out}
    overall = ("nothing_to_verify" if not out else "still_anomalous" if "still_anomalous" in statuses
               else "no_data" if statuses == {"no_data"} else
               "recovered" if statuses == {"recovered"} else "partly_unknown")
    return {"investigation_id": record["id"], "at": end, "at_iso": iso(end), "minutes": minutes,
            "status": overall, "test": TEST, "series": out,
            "watch": [x["promql"] for x in out if x["status"] != "recovered"]
            or [x["promql"] for x in out]}
