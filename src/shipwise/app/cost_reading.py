"""What a reader must be told beside a cost figure (docs/cost-attribution.md, *What a saving is
made of*): the figures a saving is read against and the saving in words, why a figure is empty,
and flags on figures larger than the team's own spend or headcount and on periods with months
that delivered nothing. Row by row over the cost query's result (one row per team and period);
every figure itself is computed set-based in :mod:`shipwise.metrics.cost`."""

from __future__ import annotations

from typing import Any

from shipwise.metrics import ids
from shipwise.metrics.cost import lags

_UNIT_WORDS = {"deployments": "deployments", "pull_requests": "pull requests",
               "commits": "commits"}


def _money(v: float | None, currency: str | None) -> str:
    if v is None:
        return "–"
    return f"{v:,.0f} {currency}" if currency else f"{v:,.0f}"


def _units(n: float | int | None, unit: str | None) -> str:
    words = _UNIT_WORDS.get(str(unit), str(unit or "units"))
    if n is not None and abs(n) == 1:
        words = words[:-1] if words.endswith("s") else words
    return f"{n:,.0f} {words}" if n is not None else words


def _per(unit: str | None) -> str:
    words = _UNIT_WORDS.get(str(unit), str(unit or "units"))
    return words[:-1] if words.endswith("s") else words


def saving_parts(r: dict[str, Any], metrics: dict[str, Any],
                 currency: str | None) -> dict[str, Any]:
    """The figures a saving is read against — the team's headcount, the baseline period, its
    units and cost, what this period's volume would have cost at the baseline's unit cost — the
    months that delivered nothing, and the saving said in words."""
    baseline_cts = r["baseline_cost_to_serve"]
    same = (r["units"] * baseline_cts if baseline_cts is not None
            and metrics.get(ids.SAVINGS) is not None else None)
    part: dict[str, Any] = {
        "average_fte": r["average_fte"],
        "baseline_period": r["baseline_period"],
        "baseline_units": None if r["baseline_units"] is None else int(r["baseline_units"]),
        "baseline_cost_amount": r["baseline_cost_amount"],
        "same_volume_at_baseline_cost": same,
        "months_without_units": int(r["months_without_units"]),
        "first_month_without_units": r["first_month_without_units"],
        "last_month_without_units": r["last_month_without_units"],
        "cost_to_serve_delivering_months": (
            r["delivering_months_cost_amount"] / r["units"]
            if r["units"] and r["delivering_months_cost_amount"] else None),
        "explanation": None,
    }
    savings = metrics.get(ids.SAVINGS)
    if same is None or savings is None or r["cost_amount"] is None:
        return part
    unit, bp = r["delivery_unit"], r["baseline_period"]
    s = (f"The same {_units(r['units'], unit)} at {bp}'s cost per {_per(unit)} "
         f"({_money(baseline_cts, currency)}) would have cost {_money(same, currency)}; they cost "
         f"{_money(r['cost_amount'], currency)}, so {_money(abs(savings), currency)} "
         f"{'saved' if savings >= 0 else 'more'}.")
    unit_part, volume = metrics.get(ids.SAVINGS_UNIT_COST), metrics.get(ids.SAVINGS_VOLUME)
    if unit_part is not None and volume is not None and r["baseline_units"] is not None:
        extra = int(r["units"]) - int(r["baseline_units"])
        s += (f" Of that, {_money(unit_part, currency)} is the unit cost change on "
              f"{bp}'s {_units(r['baseline_units'], unit)} and {_money(volume, currency)} comes "
              f"from volume ({'+' if extra >= 0 else '−'}{_units(abs(extra), unit)} at the "
              f"{'lower' if savings >= 0 else 'higher'} unit cost).")
    if r["baseline_cost_amount"] is not None:
        change = r["cost_amount"] - r["baseline_cost_amount"]
        if round(change) == 0:
            s += f" The team's spend was the same as in {bp}."
        else:
            s += (f" The team's spend {'rose' if change > 0 else 'fell'} "
                  f"{_money(abs(change), currency)} on {bp} "
                  f"({_money(r['baseline_cost_amount'], currency)} → "
                  f"{_money(r['cost_amount'], currency)}).")
    part["explanation"] = s
    return part


def _shift(period: str, grain: str, k: int) -> str:
    """The period ``k`` periods after ``period`` ('2025-Q1' + 4 -> '2026-Q1')."""
    if grain == "quarter":
        y, q = (int(x) for x in period.split("-Q"))
        i = y * 4 + q - 1 + k
        return f"{i // 4}-Q{i % 4 + 1}"
    y, m = (int(x) for x in period.split("-"))
    i = y * 12 + m - 1 + k
    return f"{i // 12}-{i % 12 + 1:02d}"


def missing_reasons(r: dict[str, Any], metrics: dict[str, Any], grain: str,
                    baseline: str) -> dict[str, str]:
    """Why a cost figure is empty ('–'), by metric id: a reader should never have to guess."""
    improvement_id = ids.improvement(baseline)
    baseline_ids = (improvement_id, ids.SAVINGS, ids.SAVINGS_UNIT_COST, ids.SAVINGS_VOLUME,
                    ids.EFFECTIVE_HEADCOUNT)
    out: dict[str, str] = {}
    if metrics.get(ids.COST_TO_SERVE) is None:
        if r["unconverted_costs"]:
            why = "a cost record of the period has no exchange rate"
        elif r["units"] == 0:
            why = "no units delivered in the period"
        else:
            why = "no cost recorded for the period"
        return {mid: why for mid in (ids.COST_TO_SERVE, *baseline_ids)}
    if r["baseline_cost_to_serve"] is None:
        lag = lags(grain)[1 if baseline == "yoy" else 0]
        history = ("a year of history" if baseline == "yoy"
                   else f"a previous {grain}")
        bp, first = r["baseline_period"], r["first_costed_period"]
        if bp is None or (first is not None and bp < first):
            why = (f"needs {history}: first cost to serve {first}, so it is compared from "
                   f"{_shift(first, grain, lag)}" if first else f"needs {history}")
        elif r["baseline_units"] == 0:
            why = f"no units delivered in the baseline period {bp}: nothing to compare with"
        else:
            why = f"no cost to serve in the baseline period {bp} (no cost, or no exchange rate)"
        return {mid: why for mid in baseline_ids}
    if metrics.get(ids.EFFECTIVE_HEADCOUNT) is None:
        out[ids.EFFECTIVE_HEADCOUNT] = ("no people cost or headcount recorded for the period: "
                                        "savings cannot be said in FTE")
    return out


def organisation_flags(o: dict[str, Any], currency: str | None) -> list[dict[str, Any]]:
    """The organisation's savings beside its own spend and headcount (over the same cohort)."""
    m = o["metrics"]
    out: list[dict[str, Any]] = []
    savings, fte, volume = m.get(ids.SAVINGS), m.get(ids.EFFECTIVE_HEADCOUNT), m.get(ids.SAVINGS_VOLUME)
    cohort = f"the {o['cohort_teams']} team{'s' if o['cohort_teams'] != 1 else ''} measured"
    share = (f"; {_money(volume, currency)} of it is volume growth"
             if volume is not None and volume > 0 else "")
    if savings is not None and o["cost_amount"] and savings > o["cost_amount"]:
        out.append({"kind": "exceeds_spend", "metric": ids.SAVINGS, "message": (
            f"savings larger than spend: {_money(savings, currency)} against "
            f"{_money(o['cost_amount'], currency)} spent by {cohort} in {o['period']} — what their "
            "volume would have cost at the baseline's unit costs minus what it cost, not money "
            f"returned{share}")})
    if fte is not None and o["average_fte"] and fte > o["average_fte"]:
        out.append({"kind": "exceeds_headcount", "metric": ids.EFFECTIVE_HEADCOUNT, "message": (
            f"capacity larger than headcount: {fte:,.1f} FTE given back against the "
            f"{o['average_fte']:,.1f} FTE of {cohort} — the extra people the same volume would "
            "have needed at the baseline's unit costs, not people freed from today's teams")})
    return out


def organisation_sentence(o: dict[str, Any], currency: str | None) -> str | None:
    m = o["metrics"]
    same, savings = o["same_volume_at_baseline_cost"], m.get(ids.SAVINGS)
    if same is None or savings is None or o["cost_amount"] is None:
        return None
    n = o["cohort_teams"]
    s = (f"The {n} {'teams’' if n != 1 else 'team’s'} delivery in {o['period']}, at "
         f"{'each team’s' if n != 1 else 'its'} own baseline "
         f"unit cost, would have cost {_money(same, currency)}; it cost "
         f"{_money(o['cost_amount'], currency)}, so {_money(abs(savings), currency)} "
         f"{'saved' if savings >= 0 else 'more'}.")
    unit_part, volume = m.get(ids.SAVINGS_UNIT_COST), m.get(ids.SAVINGS_VOLUME)
    if unit_part is not None and volume is not None:
        s += (f" Of that, {_money(unit_part, currency)} is unit cost change on the baseline's "
              f"volume and {_money(volume, currency)} comes from volume growth.")
    if o["baseline_cost_amount"] is not None:
        change = o["cost_amount"] - o["baseline_cost_amount"]
        s += (f" Spend {'rose' if change >= 0 else 'fell'} {_money(abs(change), currency)} on the "
              "baseline.")
    return s


def size_flags(r: dict[str, Any], metrics: dict[str, Any], baseline: str,
               currency: str | None) -> list[dict[str, Any]]:
    """Figures a reader must not take at face value: a period (or its baseline) with months that
    had cost but delivered nothing, and savings larger than the team's own spend or headcount."""
    out: list[dict[str, Any]] = []
    unit, bp = r["delivery_unit"], r["baseline_period"]
    gaps = int(r["months_without_units"])
    if gaps:
        first, last = r["first_month_without_units"], r["last_month_without_units"]
        months = first if gaps == 1 else f"{first} and {last}" if gaps == 2 else \
            f"{gaps} months, {first} to {last}"
        delivering = (r["delivering_months_cost_amount"] / r["units"]
                      if r["delivering_months_cost_amount"] else None)
        out.append({"kind": "months_without_units", "metric": ids.COST_TO_SERVE, "message": (
            f"month{'s' if gaps != 1 else ''} with no {_UNIT_WORDS.get(str(unit), 'units')} "
            f"({months}): that cost is spread over the other months' units, so the period's cost "
            f"per {_per(unit)} is {_money(metrics.get(ids.COST_TO_SERVE), currency)} against "
            f"{_money(delivering, currency)} over the months that delivered; read it by month "
            "(--grain month)")})
    if r["baseline_months_without_units"] and metrics.get(ids.SAVINGS) is not None:
        out.append({"kind": "baseline_months_without_units", "metric": ids.improvement(baseline),
                    "message": (
            f"baseline with empty months: {bp} had {int(r['baseline_months_without_units'])} "
            f"month(s) with cost but no {_UNIT_WORDS.get(str(unit), 'units')}, which raises its "
            "cost per unit and so this period's improvement and savings")})
    savings, fte = metrics.get(ids.SAVINGS), metrics.get(ids.EFFECTIVE_HEADCOUNT)
    volume = metrics.get(ids.SAVINGS_VOLUME)
    extra = (int(r["units"]) - int(r["baseline_units"])
             if r["baseline_units"] is not None else 0)
    grew = volume is not None and savings is not None and volume > 0 and extra > 0
    if savings is not None and r["cost_amount"] and savings > r["cost_amount"]:
        why = (f"; {_money(volume, currency)} of it is volume growth ({_units(extra, unit)} more "
               f"than in {bp}, each at the lower unit cost)" if grew else "")
        out.append({"kind": "exceeds_spend", "metric": ids.SAVINGS, "message": (
            f"savings larger than spend: {_money(savings, currency)} against the team's "
            f"{_money(r['cost_amount'], currency)} spent in {r['period']}{why} — cost avoided "
            f"against {bp}'s unit cost, not money returned")})
    if fte is not None and savings and r["average_fte"] and fte > r["average_fte"]:
        why = (f"; {fte * volume / savings:,.1f} FTE of it is volume growth" if grew and volume
               else "")
        out.append({"kind": "exceeds_headcount", "metric": ids.EFFECTIVE_HEADCOUNT, "message": (
            f"capacity larger than headcount: {fte:,.1f} FTE given back against the team's "
            f"{r['average_fte']:,.1f} FTE{why} — the extra people the same volume would have "
            f"needed at {bp}'s unit cost, not people freed from the team")})
    return out
