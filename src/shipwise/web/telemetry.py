"""Telemetry values as people read them on an investigation page.

The investigation's sentences measure an anomaly in robust-σ ("catalog error_rate rose 398.2
robust-σ"): exact, but a responder wants the values — "catalog error rate rose from 0.26% to
53.6%". :func:`plain_deviations` rewrites such a phrase with the series' baseline (the median
before the incident) and its value at the peak, both from the record's ``anomalous_series``, and
keeps the robust-σ in a tooltip beside it. A phrase whose series the record does not carry keeps
its wording, with the σ explained in a tooltip."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from markupsafe import Markup, escape

#: "catalog error_rate rose 398.2 robust-σ"
_DEVIATION = re.compile(r"(?P<entity>[A-Za-z0-9_.:/-]+) (?P<metric>[a-z][a-z0-9_]*) "
                        r"(?P<verb>rose|dropped|fell|jumped) (?P<z>-?[\d.]+) robust-σ")
#: "error_rate rose along the calls a → b: b deviated 580.5 robust-σ (+0.534)"
_ALONG = re.compile(r"^(?P<metric>[a-z][a-z0-9_]*) (?:rose|dropped|fell) along ")
_DEVIATED = re.compile(r"(?P<entity>[A-Za-z0-9_.:/-]+) deviated (?P<z>-?[\d.]+) robust-σ "
                       r"\((?P<delta>[+−-][\d.]+)\)")
#: any other "2.5 robust-σ"
_SIGMA = re.compile(r"(?P<z>-?[\d.]+) robust-σ")
SIGMA_TIP = ("robust-σ: how far outside its usual spread the metric went, in units of that "
             "spread (the interquartile range before the incident)")


def metric_label(metric: str) -> str:
    """``latency_p95_ms`` → "latency p95", ``error_rate`` → "error rate"."""
    name = re.sub(r"_(ms|mb|bytes|seconds|s|per_s)$", "", metric)
    return name.replace("_", " ")


def _si(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def telemetry_value(metric: str, value: float) -> str:
    """A telemetry value with the unit its name carries: ``_ms``, ``_mb``, ``_bytes``,
    ``_per_s``, ``_seconds``; rates, ratios and utilisation as percentages."""
    v = float(value)
    if metric.endswith("_ms"):
        return f"{v / 1000:.3g} s" if abs(v) >= 1000 else f"{_si(v)} ms"
    if metric.endswith(("_seconds", "_s")) and not metric.endswith("_per_s"):
        return f"{_si(v)} s"
    if metric.endswith("_per_s"):
        return f"{_si(v)}/s"
    if metric.endswith("_mb"):
        return f"{v / 1024:.3g} GB" if abs(v) >= 1024 else f"{_si(v)} MB"
    if metric.endswith("_bytes"):
        return f"{v / 2**20:.3g} MB" if abs(v) >= 2**20 else f"{_si(v)} B"
    if any(w in metric for w in ("rate", "ratio", "utilisation", "utilization", "share")) \
            and -1.5 <= v <= 1.5:
        return f"{v * 100:.3g}%"
    return _si(v)


def series_values(record: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """``entity|metric`` → its baseline (median before the incident) and its value at the peak,
    for every anomalous series of the record that carries both."""
    out = {}
    for s in record.get("anomalous_series") or []:
        before = (s.get("baseline") or {}).get("median")
        peak = s.get("peak_value")
        if before is not None and peak is not None:
            out[f"{s['entity']}|{s['metric']}"] = {"before": float(before), "peak": float(peak)}
    return out


def _tip(z: str) -> Markup:
    return Markup('<span class="sigma" tabindex="0" title="{0} robust-σ. {1}">({0} σ)</span>'
                  ).format(z, SIGMA_TIP)


def plain_deviations(text: Any, series: Mapping[str, Mapping[str, float]]) -> Markup:
    """``text`` (escaped) with every "entity metric rose N robust-σ" read as the values before
    and at the peak, the σ in a tooltip; other robust-σ figures explained in a tooltip."""
    raw = str(text or "")
    out: list[Markup | str] = []
    pos = 0
    along = _ALONG.match(raw)
    if along is not None:  # the metric is named once, at the start
        for m in _DEVIATED.finditer(raw):
            values = series.get(f"{m['entity']}|{along['metric']}")
            if values is None:
                continue
            out.append(escape(raw[pos:m.start()]))
            out.append(Markup("{} went from {} to {} {}").format(
                m["entity"], telemetry_value(along["metric"], values["before"]),
                telemetry_value(along["metric"], values["peak"]), _tip(m["z"])))
            pos = m.end()
        raw, pos = raw[pos:], 0
    for m in _DEVIATION.finditer(raw):
        out.append(escape(raw[pos:m.start()]))
        values = series.get(f"{m['entity']}|{m['metric']}")
        if values is None:
            out.append(_explained(m.group(0)))
        else:
            out.append(Markup("{} {} {} from {} to {} {}").format(
                m["entity"], metric_label(m["metric"]), m["verb"],
                telemetry_value(m["metric"], values["before"]),
                telemetry_value(m["metric"], values["peak"]), _tip(m["z"])))
        pos = m.end()
    out.append(_explained(raw[pos:]))
    return Markup("").join(out)


def _explained(text: str) -> Markup:
    parts: list[Markup | str] = []
    pos = 0
    for m in _SIGMA.finditer(text):
        parts.append(escape(text[pos:m.start()]))
        parts.append(Markup('<abbr title="{}">{} robust-σ</abbr>').format(SIGMA_TIP, m["z"]))
        pos = m.end()
    parts.append(escape(text[pos:]))
    return Markup("").join(parts)
