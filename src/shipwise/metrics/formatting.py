"""How a metric value reads, in one place: by the registry's ``format`` and decimals.

This is the web pages', reports' and notifications' style (``4.1 d``, thousands separators, money
in k/M). The terminal's tables have their own, in one place too: ``shipwise/cli/render.py``.
"""

from __future__ import annotations

import math
from typing import Any

from shipwise.metrics.registry import REGISTRY, Metric

WEB = "web"


def duration(seconds: float) -> str:
    """``354447`` -> ``4.1 d``; ``5400`` -> ``1.5 h`` (web pages, reports)."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


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
    registry entry or id; an id the registry does not know renders as a plain number. ``style``
    is WEB, the one style here."""
    m = REGISTRY.get(metric) if isinstance(metric, str) else metric
    if _missing(value):
        return None
    if isinstance(value, str):  # a state (release appetite)
        return value
    v = float(value)
    fmt = m.format if m else "number"
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
