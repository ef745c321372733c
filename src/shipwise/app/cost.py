"""Cost to serve per team and period, the organisation roll-up, and the tension guard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from shipwise.app.dates import check_window
from shipwise.config import CostSettings, TensionThreshold
from shipwise.errors import InputError, NotFoundError
from shipwise.metrics import ids, registry
from shipwise.metrics.attribution import Panel, estimate
from shipwise.metrics.cost import (
    CATEGORIES,
    GRAINS,
    CostQuery,
    conversion_sql,
    cost_sql,
    currency_sql,
    data_span_sql,
    investments_sql,
    lags,
    organisation_sql,
)
from shipwise.metrics.engines import DuckDBEngine, Engine, scalar_row
from shipwise.store.duckdb_store import Store

TENSION_COLUMNS = {
    ids.CHANGE_FAIL_RATE: "baseline_change_fail_rate",
    ids.HIGH_SEVERITY_TICKETS_PER_DEPLOYMENT: "baseline_high_severity_tickets_per_deployment",
}


@dataclass(frozen=True)
class CostRequest:
    grain: str = "quarter"
    baseline: str = "yoy"
    team: tuple[str, ...] = ()
    categories: tuple[str, ...] = CATEGORIES
    since: date | None = None
    until: date | None = None


def _check(engine: Engine, req: CostRequest) -> None:
    if req.grain not in GRAINS:
        raise InputError(f"unknown grain '{req.grain}' for cost", hint="use quarter or month")
    if req.baseline not in ("yoy", "qoq"):
        raise InputError(f"unknown baseline '{req.baseline}'", hint="use yoy or qoq")
    bad = set(req.categories) - set(CATEGORIES)
    if bad:
        raise InputError(f"unknown cost categories: {', '.join(sorted(bad))}",
                         hint="use " + ", ".join(CATEGORIES))
    for t in req.team:
        row = scalar_row(engine, "SELECT count(*) FROM team WHERE id = ?", [t])
        if not row or not row[0]:
            raise NotFoundError(f"unknown team '{t}'", hint="`shipwise teams` lists them")


def reporting_currency(engine: Engine, setting: str | None) -> str | None:
    """The currency costs are reported in: the setting, else the one currency of the cost
    records (None when there are none); several currencies and no setting is an error, since
    choosing one would be a guess."""
    if setting:
        return setting
    currencies = [str(r[0]) for r in engine.rows(currency_sql())[1]]
    if len(currencies) > 1:
        raise InputError(
            f"costs are in several currencies ({', '.join(currencies)}) and no reporting "
            "currency is set",
            hint="set cost.reporting_currency in shipwise.yaml (e.g. `cost: {reporting_currency: "
                 f"{currencies[0]}}}`) and import `fx_rate` records for the others "
                 "(docs/canonical-format.md)",
        )
    return currencies[0] if currencies else None


def cost_rows(store: Store, req: CostRequest, tension: CostSettings | None = None) -> dict[str, Any]:
    """The cost result in the documented JSON shape (``rows`` per team and ``organisation``)."""
    check_window(store, req.since, req.until)
    return cost_rows_on(DuckDBEngine(store), req, tension)


def cost_rows_on(engine: Engine, req: CostRequest,
                 tension: CostSettings | None = None) -> dict[str, Any]:
    """:func:`cost_rows` computed by ``engine`` (the store's, or Spark over Parquet files)."""
    _check(engine, req)
    currency = reporting_currency(engine, tension.reporting_currency if tension else None)
    span = scalar_row(engine, data_span_sql())
    first, last = span or (None, None)
    since, until = req.since or first, req.until or last
    out: dict[str, Any] = {"grain": req.grain, "baseline": req.baseline, "currency": currency,
                           "since": _iso(since), "until": _iso(until), "rows": [], "organisation": [],
                           "data": {"since": _iso(first), "until": _iso(last)},
                           "conversion": {"reporting_currency": currency, "rates": [],
                                          "unconverted": []}}
    if since is None or until is None:
        return out
    query = CostQuery(req.grain, since, until, req.baseline, tuple(req.categories), req.team,
                      currency, tension.cloud.basis if tension else "amortised")
    out["conversion"] = _conversion(engine, query)
    sql, params = cost_sql(query)
    cols, team_rows = engine.rows(sql + " ORDER BY team, period_start", params)
    team_ids = [m.id for m in registry.family("cost") if not m.rollup] + [ids.CHANGE_FAIL_RATE]
    cost_settings = tension or CostSettings(min_improvement=0.05)
    for values in team_rows:
        r = dict(zip(cols, values, strict=True))
        metrics = {mid: r[mid] for mid in team_ids}
        row = {
            "team": r["team"], "org_unit": r["org_unit"], "period": r["period"],
            "unit": r["delivery_unit"],
            "cost_amount": r["cost_amount"], "units": int(r["units"]),
            "unconverted_costs": int(r["unconverted_costs"]),
            "metrics": metrics,
            "flags": _flags(r, metrics, cost_settings, req.baseline, currency),
            **saving_parts(r, metrics, currency),
            "missing": missing_reasons(r, metrics, req.grain, req.baseline),
        }
        out["rows"].append(row)
    ocols, org_rows = engine.rows(organisation_sql(sql), params)
    improvement_id = ids.improvement(req.baseline)
    for values in org_rows:
        o = dict(zip(ocols, values, strict=True))
        total = {
            "period": o["period"],
            "metrics": {
                improvement_id: o["improvement"],
                ids.IMPROVEMENT_MEDIAN_TEAM: o["improvement_median_team"],
                ids.SAVINGS: o["savings"],
                ids.SAVINGS_UNIT_COST: o["savings_unit_cost"],
                ids.SAVINGS_VOLUME: o["savings_volume"],
                ids.EFFECTIVE_HEADCOUNT: o["effective_headcount"],
            },
            "cohort_teams": int(o["cohort_teams"]),
            "cost_amount": o["cost_amount"],
            "baseline_cost_amount": o["baseline_cost_amount"],
            "same_volume_at_baseline_cost": o["same_volume_at_baseline_cost"],
            "average_fte": o["average_fte"],
            "teams_without_headcount": int(o["teams_without_headcount"]),
        }
        total["flags"] = organisation_flags(total, currency)
        total["explanation"] = organisation_sentence(total, currency)
        out["organisation"].append(total)
    return out


# -- what a saving is made of, and what a reader must be told beside it --------------------------

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
        i = _period_index(period) + k
        return f"{i // 4}-Q{i % 4 + 1}"
    year, month = (int(x) for x in period.split("-"))
    i = year * 12 + month - 1 + k
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


def _conversion(engine: Engine, query: CostQuery) -> dict[str, Any]:
    """The rates the answer used, per month and currency, and the cost records it could not
    convert (no rate for their month and currency): which months, currencies and teams."""
    sql, params = conversion_sql(query)
    cols, rows = engine.rows(sql, params)
    rates: dict[tuple[str, str], dict[str, Any]] = {}
    missing: dict[tuple[str, str], dict[str, Any]] = {}
    for values in rows:
        r = dict(zip(cols, values, strict=True))
        key = (str(r["month"]), str(r["currency"]))
        if r["rate"] is None:
            m = missing.setdefault(key, {"month": key[0], "currency": key[1], "records": 0,
                                         "amount": 0.0, "teams": []})
            m["teams"].append(r["team"])
        else:
            m = rates.setdefault(key, {"month": key[0], "currency": key[1], "rate": r["rate"],
                                       "source": r["source"], "records": 0, "amount": 0.0,
                                       "reported_amount": 0.0})
            m["reported_amount"] += float(r["reported_amount"])
        m["records"] += int(r["records"])
        m["amount"] += float(r["amount"])
    return {"reporting_currency": query.reporting_currency, "rates": list(rates.values()),
            "unconverted": list(missing.values())}


def _flags(r: dict[str, Any], metrics: dict[str, Any], cfg: CostSettings,
           baseline: str, currency: str | None = None) -> list[dict[str, Any]]:
    """Why a number is undefined, and the Goodhart guard: cheaper, but at what price?"""
    flags: list[dict[str, Any]] = []
    if r["unconverted_costs"]:
        n = int(r["unconverted_costs"])
        flags.append({"kind": "unconverted", "metric": ids.COST_TO_SERVE,
                      "message": (f"no exchange rate for {n} cost record{'s' if n != 1 else ''}: "
                                  "the period's cost and cost to serve are left out rather than "
                                  "understated (conversion.unconverted names the months and "
                                  "currencies); import `fx_rate` records for them")})
        return flags
    if r["units"] == 0:
        flags.append({"kind": "undefined", "metric": ids.COST_TO_SERVE,
                      "message": "no units delivered in the period: cost to serve is undefined"})
        return flags
    if r["cost_amount"] == 0:
        flags.append({"kind": "undefined", "metric": ids.COST_TO_SERVE,
                      "message": "no cost recorded for the period: cost to serve is undefined"})
        return flags
    flags += size_flags(r, metrics, baseline, currency)
    improvement = r["improvement"]
    if improvement is None or improvement < cfg.min_improvement:
        return flags
    for mid, th in tension_thresholds(cfg).items():
        now, before = metrics.get(mid), r.get(TENSION_COLUMNS.get(mid, ""))
        if now is None or before is None:
            continue
        if now - before >= th.absolute and now >= before * (1 + th.relative):
            flags.append({
                "kind": "tension", "metric": mid,
                "message": (f"cost to serve improved {improvement:.0%} ({baseline}) while "
                            f"{registry.get(mid).title.lower()} rose from {_fmt(mid, before)} "
                            f"to {_fmt(mid, now)}"),
            })
    return flags


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


def tension_thresholds(cfg: CostSettings) -> dict[str, TensionThreshold]:
    """The tension thresholds in force: the settings', else the defaults beside the metric ids."""
    if cfg.tension is not None:
        return cfg.tension
    return {mid: TensionThreshold(absolute=a, relative=r)
            for mid, (a, r) in ids.TENSION_THRESHOLDS.items()}


def _fmt(mid: str, v: float) -> str:
    return f"{v:.1%}" if registry.get(mid).format == "percent" else f"{v:.3f}"


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


def _period_index(label: str) -> int:
    """'2026-Q3' -> a consecutive integer (year * 4 + quarter - 1)."""
    year, q = label.split("-Q")
    return int(year) * 4 + int(q) - 1


def _common_name(names: list[str]) -> str:
    """'Delivery automation (CI/CD), wave 1' and '…, wave 2' -> 'Delivery automation (CI/CD)'."""
    if len(names) == 1:
        return names[0]
    prefix = names[0]
    for n in names[1:]:
        while not n.startswith(prefix):
            prefix = prefix[:-1]
    return prefix.rsplit(",", 1)[0].strip(" ,-–") if "," in prefix else prefix.strip(" ,-–")


def _first_quarter(started: Any) -> int:
    d = started.date()
    on_boundary = d.day == 1 and d.month in (1, 4, 7, 10)
    return d.year * 4 + (d.month - 1) // 3 + (0 if on_boundary else 1)


def initiatives_rows(
    store: Store, *, by: str = "kind", confidence: float = 0.9, replicates: int = 999,
    settings: CostSettings | None = None,
) -> dict[str, Any]:
    """Each investment's estimated effect on its teams' cost to serve, with an interval.

    The panel is every team × quarter with a cost to serve; a team has adopted an investment from
    the first whole quarter on or after its ``started_at`` (a quarter it only partly had the
    investment is not counted as adopted). Other teams — never or not yet adopting — are the
    comparison. With ``by="kind"`` (default) investments of one kind are one initiative rolled out
    in waves (each team adopts at its first wave); ``by="investment"`` estimates each record.
    See :mod:`shipwise.metrics.attribution` for the estimator. Amounts are in the reporting
    currency (each investment at the ``fx_rate`` of the month of its ``started_at``); an
    initiative with an investment that has no rate has no amount and no ROI, and says why.
    """
    if by not in ("kind", "investment"):
        raise InputError(f"unknown grouping '{by}'", hint="use kind or investment")
    base = cost_rows(store, CostRequest(grain="quarter", baseline="yoy"), settings)
    obs = [(r["team"], _period_index(r["period"]), r["metrics"][ids.COST_TO_SERVE], r["cost_amount"])
           for r in base["rows"] if r["metrics"][ids.COST_TO_SERVE]]
    out: dict[str, Any] = {"currency": base["currency"], "confidence": confidence, "initiatives": []}
    if not obs:
        return out
    panel = Panel(
        team=np.array([o[0] for o in obs]),
        period=np.array([o[1] for o in obs], dtype=np.int64),
        log_cts=np.log(np.array([o[2] for o in obs], dtype=float)),
        cost=np.array([o[3] for o in obs], dtype=float),
    )
    currency = base["currency"]
    investments = store.query(investments_sql(), [currency, currency])
    groups: dict[str, list[dict[str, Any]]] = {}
    for inv in investments:
        groups.setdefault(inv["kind"] if by == "kind" else inv["id"], []).append(inv)
    for key, members in groups.items():
        adoption: dict[str, int] = {}
        for inv in members:
            q = _first_quarter(inv["started_at"])
            for t in inv["teams"] or []:
                if t is not None:
                    adoption[t] = min(q, adoption.get(t, q))
        unrated = [inv for inv in members if inv["rate"] is None]
        amount = float(sum(inv["amount"] * (inv["rate"] or 0.0) for inv in members))
        first_q = min(_first_quarter(inv["started_at"]) for inv in members)
        effect = estimate(panel, adoption, amount, confidence=confidence, replicates=replicates)
        warnings = list(effect.warnings)
        if unrated:
            warnings.append(
                "no exchange rate to " + str(currency) + " for " + ", ".join(
                    f"{inv['id']} ({inv['currency']}, {inv['started_at']:%Y-%m})" for inv in unrated)
                + ": the amount and ROI are left out; import `fx_rate` records for those months")
        out["initiatives"].append({
            "id": key, "name": _common_name([inv["name"] for inv in members]),
            "kind": members[0]["kind"], "investments": [inv["id"] for inv in members],
            "amount": None if unrated else amount, "currency": currency,
            "rates": [{"investment": inv["id"], "currency": inv["currency"],
                       "month": f"{inv['started_at']:%Y-%m}", "rate": inv["rate"]}
                      for inv in members if inv["currency"] != currency],
            "started_at": members[0]["started_at"].isoformat() + "Z",
            "adopted_from": f"{first_q // 4}-Q{first_q % 4 + 1}", "teams": sorted(adoption),
            "effect": effect.effect, "low": effect.low, "high": effect.high,
            "attributed_savings": effect.attributed_savings,
            "savings_low": effect.savings_low, "savings_high": effect.savings_high,
            "roi": None if unrated else effect.roi,
            "roi_low": None if unrated else effect.roi_low,
            "roi_high": None if unrated else effect.roi_high,
            "adopting_teams": len(adoption),
            "never_adopting_teams": len(set(panel.team.tolist()) - set(adoption)),
            "treated_teams": effect.treated_teams, "control_teams": effect.control_teams,
            "warnings": warnings,
        })
    return out
