"""Inline SVG charts for the reports, generated in Python: no JavaScript, no plotting library.

Every chart is a self-contained ``<svg role="img">`` with a visible title, axis labels, a
``<title>``/``<desc>`` pair for screen readers, and a ``<title>`` tooltip on every data mark. The
charts inherit the page's font, scale with their container (``viewBox``) and print crisply.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

#: Palette: colour-blind-safe blue and orange, neutral greys, amber for caution.
BLUE = "#1f5fa8"
BLUE_LIGHT = "#dbe7f5"
ORANGE = "#c2590a"
GREY = "#6b7280"
GREY_LIGHT = "#e5e7eb"
INK = "#1f2937"
AMBER = "#b45309"

FONT = "Liberation Sans, DejaVu Sans, Arial, Helvetica, sans-serif"

Formatter = Callable[[float], str]


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _n(v: float) -> str:
    """A coordinate, short and stable."""
    return f"{v:.1f}".rstrip("0").rstrip(".")


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (steps of 1, 2, 2.5 or 5 × 10ⁿ)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        pad = abs(hi) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(count - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * 0.999)
    start = math.floor(lo / step + 1e-9) * step
    stop = math.ceil(hi / step - 1e-9) * step
    n = round((stop - start) / step)
    return [round(start + i * step, 10) for i in range(n + 1)]


@dataclass(frozen=True)
class Series:
    """One line of a line chart: values aligned with the chart's categories (None = no value)."""

    name: str
    values: Sequence[float | None]
    color: str = BLUE
    dashed: bool = False
    label_points: bool = True


def _open(chart_id: str, width: int, height: int, title: str, desc: str) -> list[str]:
    return [
        f'<svg class="chart" id="{_e(chart_id)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-labelledby="{_e(chart_id)}-t {_e(chart_id)}-d" '
        f'preserveAspectRatio="xMidYMid meet" font-family="{FONT}">',
        f'<title id="{_e(chart_id)}-t">{_e(title)}</title>',
        f'<desc id="{_e(chart_id)}-d">{_e(desc)}</desc>',
    ]


def _segments(points: Sequence[tuple[float, float] | None]) -> list[list[tuple[float, float]]]:
    """Split a polyline at missing values so a gap is drawn as a gap."""
    out: list[list[tuple[float, float]]] = [[]]
    for p in points:
        if p is None:
            if out[-1]:
                out.append([])
        else:
            out[-1].append(p)
    return [s for s in out if s]


def line_chart(
    chart_id: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    fmt: Formatter,
    tick_fmt: Formatter | None = None,
    width: int = 680,
    height: int = 260,
    include_zero: bool = True,
) -> str:
    """A line chart over categorical periods, with a legend, a zero line and labelled points."""
    tick_fmt = tick_fmt or fmt
    values = [v for s in series for v in s.values if v is not None]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if include_zero:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    ticks = nice_ticks(lo, hi)
    y0, y1 = ticks[0], ticks[-1]
    left, right, top, bottom = 62, 18, 64, 46
    pw, ph = width - left - right, height - top - bottom
    n = max(len(categories), 1)

    def x(i: int) -> float:
        return left + (pw * (i + 0.5) / n)

    def y(v: float) -> float:
        return top + ph - (v - y0) / ((y1 - y0) or 1.0) * ph

    desc = "; ".join(
        f"{s.name}: " + ", ".join(
            f"{c} {fmt(v) if v is not None else 'no value'}"
            for c, v in zip(categories, s.values, strict=False))
        for s in series)
    out = _open(chart_id, width, height, title, desc)
    out.append(f'<text class="chart-title" x="0" y="18" font-size="15" font-weight="700" '
               f'fill="{INK}">{_e(title)}</text>')
    # Legend, under the title.
    lx = 0.0
    for s in series:
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        out.append(f'<line x1="{_n(lx)}" y1="36" x2="{_n(lx + 22)}" y2="36" stroke="{s.color}" '
                   f'stroke-width="2.5"{dash}/>')
        out.append(f'<circle cx="{_n(lx + 11)}" cy="36" r="3.5" fill="{s.color}"/>')
        out.append(f'<text x="{_n(lx + 28)}" y="40" font-size="12" fill="{INK}">{_e(s.name)}</text>')
        lx += 40 + 6.6 * len(s.name)
    # Grid and y axis.
    for t in ticks:
        yy = y(t)
        strong = abs(t) < 1e-12
        out.append(f'<line x1="{left}" y1="{_n(yy)}" x2="{left + pw}" y2="{_n(yy)}" '
                   f'stroke="{GREY if strong else GREY_LIGHT}" '
                   f'stroke-width="{1.2 if strong else 1}"/>')
        out.append(f'<text x="{left - 8}" y="{_n(yy + 4)}" font-size="11" text-anchor="end" '
                   f'fill="{GREY}">{_e(tick_fmt(t))}</text>')
    out.append(f'<text x="14" y="{_n(top + ph / 2)}" font-size="11" fill="{GREY}" '
               f'text-anchor="middle" transform="rotate(-90 14 {_n(top + ph / 2)})">'
               f'{_e(y_label)}</text>')
    # X axis.
    step = max(1, math.ceil(n / 12))
    for i, c in enumerate(categories):
        if i % step == 0 or i == n - 1:
            out.append(f'<text x="{_n(x(i))}" y="{top + ph + 18}" font-size="11" '
                       f'text-anchor="middle" fill="{GREY}">{_e(c)}</text>')
    out.append(f'<text x="{_n(left + pw / 2)}" y="{height - 6}" font-size="11" '
               f'text-anchor="middle" fill="{GREY}">{_e(x_label)}</text>')
    # Series.
    for s in series:
        pts = [(x(i), y(v)) if v is not None else None for i, v in enumerate(s.values)]
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        for seg in _segments(pts):
            d = " ".join(f"{_n(px)},{_n(py)}" for px, py in seg)
            out.append(f'<polyline points="{d}" fill="none" stroke="{s.color}" '
                       f'stroke-width="2.5" stroke-linejoin="round"{dash}/>')
        for i, v in enumerate(s.values):
            if v is None:
                continue
            px, py = x(i), y(v)
            out.append(f'<circle cx="{_n(px)}" cy="{_n(py)}" r="4" fill="{s.color}" '
                       f'stroke="#fff" stroke-width="1.5"><title>{_e(s.name)}, '
                       f'{_e(categories[i])}: {_e(fmt(v))}</title></circle>')
            if s.label_points:
                out.append(f'<text x="{_n(px)}" y="{_n(py - 9)}" font-size="11" '
                           f'font-weight="700" text-anchor="middle" fill="{s.color}" '
                           f'aria-hidden="true">{_e(fmt(v))}</text>')
    out.append("</svg>")
    return "\n".join(out)


def sparkline(
    chart_id: str,
    categories: Sequence[str],
    values: Sequence[float | None],
    *,
    title: str,
    y_label: str,
    fmt: Formatter,
    width: int = 330,
    height: int = 132,
) -> str:
    """One team's trend on its own scale from zero: a small multiple, first and last labelled."""
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    hi = max((v for _, v in known), default=1.0)
    lo = min(0.0, min((v for _, v in known), default=0.0))
    ticks = nice_ticks(lo, hi if hi > lo else lo + 1, count=4)
    y0, y1 = ticks[0], ticks[-1]
    left, right, top, bottom = 52, 14, 30, 22
    pw, ph = width - left - right, height - top - bottom
    n = max(len(categories), 1)

    def x(i: int) -> float:
        return left + (pw * i / (n - 1) if n > 1 else pw / 2)

    def y(v: float) -> float:
        return top + ph - (v - y0) / ((y1 - y0) or 1.0) * ph

    desc = ", ".join(f"{c}: {fmt(v) if v is not None else 'no value'}"
                     for c, v in zip(categories, values, strict=False))
    out = _open(chart_id, width, height, title, desc)
    for t in ticks:
        yy = y(t)
        out.append(f'<line x1="{left}" y1="{_n(yy)}" x2="{left + pw}" y2="{_n(yy)}" '
                   f'stroke="{GREY if t == 0 else GREY_LIGHT}" stroke-width="1"/>')
        out.append(f'<text x="{left - 6}" y="{_n(yy + 3.5)}" font-size="10" text-anchor="end" '
                   f'fill="{GREY}">{_e(fmt(t))}</text>')
    out.append(f'<text x="0" y="10" font-size="10" fill="{GREY}">{_e(y_label)}</text>')
    if categories:
        out.append(f'<text x="{_n(x(0))}" y="{height - 6}" font-size="10" fill="{GREY}">'
                   f'{_e(categories[0])}</text>')
        if n > 1:
            out.append(f'<text x="{_n(x(n - 1))}" y="{height - 6}" font-size="10" '
                       f'text-anchor="end" fill="{GREY}">{_e(categories[-1])}</text>')
    pts = [(x(i), y(v)) if v is not None else None for i, v in enumerate(values)]
    for seg in _segments(pts):
        if len(seg) > 1:
            area = (f"{_n(seg[0][0])},{_n(y(max(y0, 0.0)))} "
                    + " ".join(f"{_n(px)},{_n(py)}" for px, py in seg)
                    + f" {_n(seg[-1][0])},{_n(y(max(y0, 0.0)))}")
            out.append(f'<polygon points="{area}" fill="{BLUE_LIGHT}" stroke="none"/>')
        d = " ".join(f"{_n(px)},{_n(py)}" for px, py in seg)
        out.append(f'<polyline points="{d}" fill="none" stroke="{BLUE}" stroke-width="2" '
                   f'stroke-linejoin="round"/>')
    for i, v in known:
        last = i == known[-1][0]
        first = i == known[0][0]
        out.append(f'<circle cx="{_n(x(i))}" cy="{_n(y(v))}" r="{3.5 if last else 2.5}" '
                   f'fill="{BLUE}"><title>{_e(categories[i])}: {_e(fmt(v))}</title></circle>')
        if first or last:
            anchor = "end" if last and n > 1 else "start"
            out.append(f'<text x="{_n(x(i) + (-4 if anchor == "end" else 4))}" '
                       f'y="{_n(max(y(v) - 7, top - 2))}" font-size="10.5" font-weight="700" '
                       f'text-anchor="{anchor}" fill="{INK}" aria-hidden="true">'
                       f'{_e(fmt(v))}</text>')
    if not known:
        out.append(f'<text x="{_n(left + pw / 2)}" y="{_n(top + ph / 2)}" font-size="11" '
                   f'text-anchor="middle" fill="{GREY}">no cost to serve yet</text>')
    out.append("</svg>")
    return "\n".join(out)


@dataclass(frozen=True)
class Interval:
    """One row of a dot-and-whisker chart."""

    label: str
    estimate: float | None
    low: float | None
    high: float | None
    caution: bool = False


def _wrap(text: str, width: int, lines: int = 2) -> list[str]:
    words, out, cur = text.split(), [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width:
            out.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    if cur:
        out.append(cur)
    if len(out) > lines:
        out = [*out[: lines - 1], " ".join(out[lines - 1:])]
        if len(out[-1]) > width:
            out[-1] = out[-1][: width - 1] + "…"
    return out or [""]


def interval_chart(
    chart_id: str,
    rows: Sequence[Interval],
    *,
    title: str,
    x_label: str,
    fmt: Formatter,
    tick_fmt: Formatter | None = None,
    left_note: str = "",
    right_note: str = "",
    width: int = 680,
) -> str:
    """Dot-and-whisker: an estimate and its interval per row, against a zero reference line.

    Rows marked ``caution`` (an interval spanning zero, few comparison teams) are drawn hollow and
    in amber so the uncertainty is seen before the number is read.
    """
    tick_fmt = tick_fmt or fmt
    row_h = 40
    left, right, top, bottom = 210, 150, 58, 46
    height = top + bottom + row_h * max(len(rows), 1)
    vals = [v for r in rows for v in (r.estimate, r.low, r.high) if v is not None]
    lo, hi = min([0.0, *vals]), max([0.0, *vals])
    ticks = nice_ticks(lo, hi)
    x0, x1 = ticks[0], ticks[-1]
    pw = width - left - right

    def x(v: float) -> float:
        return left + (v - x0) / ((x1 - x0) or 1.0) * pw

    desc = "; ".join(
        f"{r.label}: {fmt(r.estimate) if r.estimate is not None else 'no estimate'}"
        + (f" (from {fmt(r.low)} to {fmt(r.high)})" if r.low is not None and r.high is not None
           else "")
        for r in rows)
    out = _open(chart_id, width, height, title, desc)
    out.append(f'<text class="chart-title" x="0" y="18" font-size="15" font-weight="700" '
               f'fill="{INK}">{_e(title)}</text>')
    zx = x(0.0)
    if left_note:
        out.append(f'<text x="{_n(zx - 6)}" y="{top - 10}" font-size="11" text-anchor="end" '
                   f'fill="{GREY}">{_e(left_note)}</text>')
    if right_note:
        out.append(f'<text x="{_n(zx + 6)}" y="{top - 10}" font-size="11" fill="{GREY}">'
                   f'{_e(right_note)}</text>')
    plot_bottom = top + row_h * max(len(rows), 1)
    for t in ticks:
        out.append(f'<line x1="{_n(x(t))}" y1="{top}" x2="{_n(x(t))}" y2="{plot_bottom}" '
                   f'stroke="{GREY_LIGHT}" stroke-width="1"/>')
        out.append(f'<text x="{_n(x(t))}" y="{plot_bottom + 16}" font-size="11" '
                   f'text-anchor="middle" fill="{GREY}">{_e(tick_fmt(t))}</text>')
    out.append(f'<line x1="{_n(zx)}" y1="{top - 4}" x2="{_n(zx)}" y2="{plot_bottom}" '
               f'stroke="{GREY}" stroke-width="1.3" stroke-dasharray="4 3"/>')
    out.append(f'<text x="{_n(left + pw / 2)}" y="{height - 6}" font-size="11" '
               f'text-anchor="middle" fill="{GREY}">{_e(x_label)}</text>')
    for k, r in enumerate(rows):
        cy = top + row_h * k + row_h / 2
        lines = _wrap(r.label, 30)
        for j, line in enumerate(lines):
            ly = cy + 4 + (j - (len(lines) - 1) / 2) * 13
            out.append(f'<text x="0" y="{_n(ly)}" font-size="12" fill="{INK}">{_e(line)}</text>')
        color = AMBER if r.caution else BLUE
        tip = (f"{r.label}: {fmt(r.estimate) if r.estimate is not None else 'no estimate'}"
               + (f", plausible range {fmt(r.low)} to {fmt(r.high)}"
                  if r.low is not None and r.high is not None else "")
               + (" (treat with caution)" if r.caution else ""))
        out.append("<g>")
        out.append(f"<title>{_e(tip)}</title>")
        if r.low is not None and r.high is not None:
            xl, xh = x(r.low), x(r.high)
            out.append(f'<line x1="{_n(xl)}" y1="{_n(cy)}" x2="{_n(xh)}" y2="{_n(cy)}" '
                       f'stroke="{color}" stroke-width="2.5"/>')
            for xe in (xl, xh):
                out.append(f'<line x1="{_n(xe)}" y1="{_n(cy - 7)}" x2="{_n(xe)}" '
                           f'y2="{_n(cy + 7)}" stroke="{color}" stroke-width="2.5"/>')
        if r.estimate is not None:
            fill = "#fff" if r.caution else color
            out.append(f'<circle cx="{_n(x(r.estimate))}" cy="{_n(cy)}" r="6" fill="{fill}" '
                       f'stroke="{color}" stroke-width="2.5"/>')
        label = fmt(r.estimate) if r.estimate is not None else "no estimate"
        if r.low is not None and r.high is not None:
            label += f"  ({fmt(r.low)} to {fmt(r.high)})"
        out.append(f'<text x="{left + pw + 10}" y="{_n(cy + 4)}" font-size="11.5" '
                   f'font-weight="700" fill="{color}">{_e(label)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)
