"""Templates and the small formatting helpers the pages share (numbers, durations, markdown)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup

from shipwise.app.catalog import charter_summary
from shipwise.metrics import ids
from shipwise.metrics.formatting import duration, money, render
from shipwise.metrics.registry import REGISTRY
from shipwise.web.telemetry import metric_label, plain_deviations

__all__ = ["change", "charter_entry", "charter_tip", "duration", "duration_in", "environment",
           "fmt", "humanize", "markdown", "money", "title", "unit_suffix"]

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"



def _money(v: float | None) -> str:
    """An amount, or a dash when there is none (a cost without an exchange rate)."""
    return "—" if v is None else money(v)

#: the unit a bare number carries on the pages, by the registry's ``unit`` (durations, percentages,
#: money and states carry theirs already): suffix and, when not the registry's, decimals
UNIT_SUFFIX: dict[str, tuple[str, int | None]] = {
    "deployments/week": ("per week", None),
    "days/week": ("days per week", None),
    "FTE": ("FTE", 1),
    "tickets/deployment": ("per deployment", None),
    "interventions/deployment": ("per deployment", None),
    "deployments/FTE-week": ("per builder-week", None),
    "open pull requests": ("open PRs", None),
    "pages": ("pages", None),
    "pull requests": ("PRs", None),
    "hours/person-week": ("h per person-week", None),
    "hours": ("h", 1),
}
_BARE = ("number", "count", "rate")


def unit_suffix(metric_id: str) -> str:
    """The unit a bare number of this metric carries ("per week", "FTE"), or ''."""
    m = REGISTRY.get(metric_id)
    if m is None or m.format not in _BARE:
        return ""
    return UNIT_SUFFIX.get(m.unit, ("", None))[0]


def fmt(value: Any, metric_id: str | None = None, bare: bool = False) -> str:
    """A metric value as people read it, by its format in the registry, with its unit: a tile
    never shows a bare "69.93" — it reads "69.9 FTE", "5.71 per week", "12 pages". ``bare``
    leaves the unit out, for a table column whose heading names it."""
    m = REGISTRY.get(metric_id or "")
    if m is not None and m.format in _BARE and m.unit in UNIT_SUFFIX \
            and isinstance(value, int | float) and not isinstance(value, bool) and value == value:
        suffix, digits = UNIT_SUFFIX[m.unit]
        places = m.digits if digits is None else digits
        return f"{float(value):,.{places}f}" + ("" if bare else f" {suffix}")
    return render(metric_id or "", value) or "—"


def duration_in(seconds: Any, unit: str) -> str:
    """A duration in a fixed unit (``d`` or ``h``), so a table reads in the unit of the chart
    beside it instead of switching between hours and days from cell to cell."""
    if seconds is None:
        return "—"
    v = float(seconds) / (86400 if unit == "d" else 3600)
    return f"{v:,.{2 if abs(v) < 1 else 1}f} {unit}"


def humanize(text: Any) -> str:
    """An identifier as words: ``pull_requests`` → "pull requests", ``on_call-load`` →
    "on call load". Every snake_case or kebab-case label on the pages goes through this."""
    return " ".join(str(text or "").replace("_", " ").replace("-", " ").split())


def charter_entry(metric_id: str) -> dict[str, Any] | None:
    """What to show beside a number (``Charter.summary``), or None without a charter entry."""
    return charter_summary(metric_id)


def charter_tip(metric_id: str) -> str:
    """The tooltip of a number: what it means, and what it may and may not inform."""
    e = charter_entry(metric_id)
    name = title(metric_id)
    if e is None:
        return f"{name}: no charter entry yet"
    return (f"{name}: {e['definition']} May inform: {'; '.join(e['may_inform'])}. "
            f"May not inform: {'; '.join(e['may_not_inform'])}. Open for the charter entry.")


def change(value: Any, metric_id: str) -> dict[str, str]:
    """The change vs the previous period (an absolute difference, in the metric's unit): text,
    arrow and whether it is good news by the metric's direction in the registry."""
    if value is None:
        return {"text": "no previous period", "arrow": "", "tone": "flat"}
    v = float(value)
    m = REGISTRY.get(metric_id)
    better = m.better if m else None
    arrow = "▲" if v > 0 else "▼" if v < 0 else "="
    if v == 0 or better is None:
        tone = "flat"
    else:
        tone = "good" if (v > 0) == (better == "higher") else "bad"
    sign = "+" if v > 0 else "−" if v < 0 else "±"
    size = (f"{abs(v) * 100:.1f} pp" if m is not None and m.format == "percent"
            else fmt(abs(v), metric_id))
    return {"text": f"{sign}{size} vs previous period", "arrow": arrow, "tone": tone}


def title(metric_id: str) -> str:
    return REGISTRY[metric_id].title if metric_id in REGISTRY else metric_id


def markdown(text: str) -> Markup:
    """CommonMark with raw HTML disabled (the text is escaped), for long-term fix specs."""
    return Markup(MarkdownIt("commonmark", {"html": False}).render(text or ""))


@cache
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                      autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
    env.filters.update(fmt=fmt, money=_money, duration=duration, markdown=markdown,
                       humanize=humanize, duration_in=duration_in,
                       deviations=plain_deviations, metric_label=metric_label)
    env.globals.update(change=change, title=title, charter_entry=charter_entry,
                       charter_tip=charter_tip, ids=ids, unit_suffix=unit_suffix)
    return env
