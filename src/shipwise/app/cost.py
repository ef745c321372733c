"""Cost to serve per team and period, the organisation roll-up, and the tension guard."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from shipwise.app.cost_reading import (
    missing_reasons,
    organisation_flags,
    organisation_sentence,
    saving_parts,
    size_flags,
)
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
