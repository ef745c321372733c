"""How a metric value reads, in one place: by the registry's ``format`` and decimals.

Two styles, because the interfaces differ on purpose: the CLI's terse tables (``4.1d``, ``12.3%``,
plain decimals) and the web pages and reports (``4.1 d``, thousands separators, money in k/M).
"""

from __future__ import annotations

import math
from typing import Any

from shipwise.metrics.registry import REGISTRY, Metric

CLI = "cli"
WEB = "web"


def duration(seconds: float) -> str:
    """``354447`` -> ``4.1 d``; ``5400`` -> ``1.5 h`` (web pages, reports)."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def short_duration(seconds: float | None) -> str | None:
    """``354447`` -> ``4.1d`` (the CLI's tables)."""
    if seconds is None:
        return None
    s = float(seconds)
    if s < 3600:
        return f"{s / 60:.0f}m"
    if s < 86400 * 2:
        return f"{s / 3600:.1f}h"
    return f"{s / 86400:.1f}d"


def percent(x: float | None, digits: int = 1) -> str | None:
    """``0.1234`` -> ``12.3%``."""
    return None if x is None else f"{100 * x:.{digits}f}%"


def number(x: float | None, digits: int = 2) -> str | None:
    return None if x is None else f"{x:.{digits}f}"


def money(v: float) -> str:
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.2f}M"
    if a >= 1e4:
        return f"{v / 1e3:.1f}k"
    return f"{v:,.0f}"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def render(metric: Metric | str, value: Any, style: str = WEB) -> str | None:
    """A metric's value as people read it (None when there is no value). ``metric`` is a
    registry entry or id; an id the registry does not know renders as a plain number."""
    m = REGISTRY.get(metric) if isinstance(metric, str) else metric
    if _missing(value):
        return None
    if isinstance(value, str):  # a state (release appetite)
        return value
    v = float(value)
    fmt = m.format if m else "number"
    if style == CLI:
        digits = m.cli_digits if m else 2
        if fmt == "duration":
            return short_duration(v)
        if fmt == "percent":
            return percent(v, digits)
        return number(v, digits)
    digits = m.digits if m else 2
    if fmt == "percent":
        return f"{v:.{digits}%}"
    if fmt == "duration":
        return duration(v)
    if fmt == "money":
        return money(v)
    if fmt == "multiple":
        return f"{v:,.{digits}f}×"
    return f"{v:,.{digits}f}"
