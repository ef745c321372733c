"""The report's view of the cost data: metric definitions, teams by period, baseline wording."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from shipwise.metrics.registry import REGISTRY
from shipwise.reports.format import as_float, fmt_money, fmt_num, fmt_pct, humanise, period_key


class Defs:
    """Titles, units and formats of metrics, from the definitions (heuristics as a fallback)."""

    def __init__(self, definitions: Sequence[Mapping[str, Any]], currency: str | None) -> None:
        self.by_id = {str(d.get("id")): d for d in definitions if isinstance(d, Mapping)}
        self.currency = currency

    def title(self, mid: str) -> str:
        d = self.by_id.get(mid)
        return str(d.get("title")) if d and d.get("title") else humanise(mid)

    def kind(self, mid: str) -> str:
        """percent, money_per_unit, money, fte or number: by the registry's format for a
        registered metric, else by the definition's unit."""
        m = REGISTRY.get(mid)
        if m is not None:
            if m.format == "percent":
                return "percent"
            if m.format == "money":
                return "money_per_unit" if m.unit.endswith("per unit") else "money"
            return "fte" if m.unit == "FTE" else "number"
        unit = str((self.by_id.get(mid) or {}).get("unit") or "").lower()
        if unit in ("ratio", "%", "percent", "share"):
            return "percent"
        if "per unit" in unit:
            return "money_per_unit"
        if unit in ("currency", (self.currency or "").lower()):
            return "money"
        return "fte" if unit == "fte" else "number"

    def fmt(self, mid: str, v: Any) -> str:
        kind = self.kind(mid)
        if kind == "percent":
            return fmt_pct(v)
        if kind in ("money", "money_per_unit"):
            return fmt_money(v, self.currency)
        if kind == "fte":
            return fmt_num(v, decimals=1)
        return fmt_num(v)


class Team:
    def __init__(self, team: str) -> None:
        self.team = team
        self.org_unit: str | None = None
        self.unit: str | None = None
        self.rows: dict[str, Mapping[str, Any]] = {}

    def metric(self, period: str, mid: str) -> float | None:
        row = self.rows.get(period)
        return as_float(((row or {}).get("metrics") or {}).get(mid))

    def flags(self, period: str) -> list[Mapping[str, Any]]:
        row = self.rows.get(period) or {}
        return [f for f in (row.get("flags") or []) if isinstance(f, Mapping)]


def collect_teams(rows: Iterable[Mapping[str, Any]]) -> list[Team]:
    """Teams in alphabetical order of org unit, then team: never in order of any number."""
    by: dict[str, Team] = {}
    for r in rows:
        name = str(r.get("team") or "(unnamed team)")
        t = by.setdefault(name, Team(name))
        t.org_unit = t.org_unit or (str(r["org_unit"]) if r.get("org_unit") else None)
        t.unit = t.unit or (str(r["unit"]) if r.get("unit") else None)
        t.rows[period_key(r.get("period"))] = r
    return sorted(by.values(), key=lambda t: ((t.org_unit or "").casefold(), t.team.casefold()))


def org_metric(entry: Mapping[str, Any], *keys: str) -> float | None:
    metrics = entry.get("metrics") or {}
    for k in keys:
        for src in (metrics, entry):
            v = as_float(src.get(k))
            if v is not None:
                return v
    return None


def baseline_cost_words(baseline: str, grain: str) -> str:
    """Whose cost per unit the savings are measured against."""
    if baseline == "yoy":
        return "last year’s cost per unit"
    if baseline == "qoq":
        return f"the previous {grain}’s cost per unit"
    return "the baseline cost per unit"


def baseline_words(baseline: str, grain: str) -> str:
    if baseline == "yoy":
        return "a year earlier"
    if baseline == "qoq":
        return f"the previous {grain}"
    return f"the {baseline} baseline"
