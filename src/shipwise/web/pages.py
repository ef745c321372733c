"""What each page shows, built from the doors of :mod:`shipwise.app` only (the caller's interface
is ``web``). The dicts returned here are the JSON twins; the templates render the same dicts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shipwise.app import ask, delivery, incidents
from shipwise.app import catalog as metric_catalog
from shipwise.app import org as organisation
from shipwise.app.caller import Caller
from shipwise.app.cost import CostRequest
from shipwise.app.guard import charter_map, metric_ids
from shipwise.app.metrics import DoraRequest
from shipwise.app.results import dump, figures
from shipwise.errors import InputError
from shipwise.metrics import ids
from shipwise.metrics.registry import REGISTRY, grouped, ids_of
from shipwise.web import ai as ai_page
from shipwise.web import prevention as prevention_page
from shipwise.web import response as response_page
from shipwise.web.diagnostics import FLOW_TILES, STRAIN_TILES, team_sections, unit_names
from shipwise.web.render import humanize
from shipwise.web.render import title as views_title
from shipwise.web.summary import team_summary
from shipwise.web.telemetry import series_values
from shipwise.web.topology import topology_svg

GRAINS = ("week", "month", "quarter")
#: metrics a cheaper cost to serve must not be bought with (overlaid on the cost chart)
TENSION = ids.TENSION
INPUTS = ids.COST_INPUTS
DORA_TILES = ids_of("dora", ids.SHOWN_TILE)


def check_grain(grain: str) -> str:
    if grain not in GRAINS:
        raise InputError(f"unknown grain {grain!r}", hint="use week, month or quarter")
    return grain


def _series(label: str, metric: str, values: list[Any], axis: str = "left") -> dict[str, Any]:
    return {"label": label, "metric": metric, "values": values, "axis": axis}


def overview(c: Caller) -> dict[str, Any]:
    out = dict(dump(organisation.overview(c)))
    out["unit_names"] = {u: n["name"] for u, n in unit_names(c).items()}
    return out


def team(c: Caller, team_id: str, grain: str = "quarter") -> dict[str, Any]:
    dora = figures(delivery.dora(c, DoraRequest(grain=check_grain(grain), team=(team_id,))))
    # cost is allocated per month at the finest: a weekly page shows monthly cost
    cost = figures(delivery.cost(c, CostRequest(grain="month" if grain == "week" else grain,
                                             team=(team_id,)), c.settings.cost))
    info: dict[str, Any] = next(
        (t for t in dump(organisation.teams(c)) if t["team"] == team_id), {})
    rows = dora["rows"]
    latest = rows[-1] if rows else None
    tiles = [{"metric": m, "value": latest["metrics"].get(m), "change": latest["change"].get(m),
              "hidden": (latest.get("withheld") or {}).get(m), "unit": _unit(m)}
             for m in DORA_TILES] if latest else []
    dora_groups = [{"group": g, "title": ids.DORA_GROUPS.get(g or "", "Other"),
                    "tiles": [t for t in tiles if REGISTRY[t["metric"]].group == g]}
                   for g, _ in grouped("dora", ids.SHOWN_TILE)]
    periods = [r["period"] for r in cost["rows"]]
    cost_chart = {
        "id": "cost-chart", "labels": periods,
        "title": "Cost to serve per period, with tension metrics overlaid",
        "left": f"cost per {humanize(info.get('delivery_unit') or 'unit').rstrip('s')} "
                f"({cost['currency']})",
        # the tension metrics are per deployment: drawn per 100 deployments, so the change fail
        # rate reads as the percentage its tile shows (2.6% → 2.6)
        "right": "per 100 deployments", "right_format": "per100",
        "series": [_series(views_title(ids.COST_TO_SERVE), ids.COST_TO_SERVE,
                           [r["metrics"][ids.COST_TO_SERVE] for r in cost["rows"]])]
        + [_series(views_title(m), m, [r["metrics"].get(m) for r in cost["rows"]], "right")
           for m in TENSION],
    }
    dora_chart = {
        "id": "dora-chart", "labels": [r["period"] for r in rows],
        "title": "Deployment frequency and change lead time per period",
        "left": "deployments per week", "right": "lead time (days)",
        "series": [
            _series(views_title(ids.DEPLOYMENT_FREQUENCY), ids.DEPLOYMENT_FREQUENCY,
                    [r["metrics"][ids.DEPLOYMENT_FREQUENCY] for r in rows]),
            _series("Change lead time (days)", ids.CHANGE_LEAD_TIME,
                    [None if r["metrics"][ids.CHANGE_LEAD_TIME] is None
                     else r["metrics"][ids.CHANGE_LEAD_TIME] / 86400 for r in rows], "right"),
        ],
    }
    inputs = [{"period": r["period"], "units": r["units"], "cost_amount": r["cost_amount"],
               "metrics": {m: r["metrics"].get(m) for m in INPUTS if m in r["metrics"]}}
              for r in cost["rows"]]
    by_period = {r["period"]: r for r in rows}
    for row in inputs:
        d = by_period.get(row["period"])
        for m in INPUTS:
            if REGISTRY[m].family == "dora" and d is not None:
                row["metrics"][m] = d["metrics"].get(m)
    flags = [{"period": r["period"], **f} for r in cost["rows"] for f in r["flags"]]
    latest_cost = cost["rows"][-1] if cost["rows"] else None
    savings = {"label": "Period", "rows": savings_rows(reversed(cost["rows"]), "period",
                                                           cost["baseline"]),
               "explanation": latest_cost.get("explanation") if latest_cost else None}
    sections = team_sections(c, team_id, grain)
    out = {"team": info or {"team": team_id}, "grain": grain, "currency": cost["currency"],
           "period": latest["period"] if latest else None,
           "cluster": latest["cluster"] if latest else None,
           "tiles": tiles, "dora_groups": dora_groups, "levels": ids.DORA_2024_LEVELS,
           "quick_check": _quick_check(dora, latest, team_id),
           "charts": [cost_chart, dora_chart], "inputs": inputs,
           "input_metrics": list(INPUTS), "flags": flags, "dora": dora, "cost": cost,
           "savings": savings, "ai": ai_page.team_section(c, team_id), **sections}
    out["summary"] = team_summary(out, DORA_TILES, FLOW_TILES, STRAIN_TILES)
    out["charter"] = charter_map(metric_ids(out))
    return out


def _unit(metric_id: str) -> str | None:
    """The unit a tile names beside its label: durations and percentages carry theirs."""
    m = REGISTRY[metric_id]
    return None if m.format in ("duration", "percent", "state") else m.unit


def _quick_check(dora: dict[str, Any], latest: dict[str, Any] | None,
                 team_id: str) -> dict[str, Any] | None:
    """The latest period's Quick Check 2025 scores, metric by metric in the DORA 2025 groups,
    with the team's 2025 benchmarks beside each (all industries, industry, organisation size)."""
    qc = (latest or {}).get("quick_check")
    info = dora.get("quick_check") or {}
    if not qc:
        return None
    marks = (info.get("benchmarks") or {}).get(team_id, [])
    rows = [{"metric": m.id, "group": ids.DORA_GROUPS.get(g or "", "Other"),
             "value": latest["metrics"].get(m.id) if latest else None,
             "answer": qc["labels"].get(m.id), "score": qc["metrics"].get(m.id),
             "benchmarks": [b["metrics"].get(m.id) for b in marks]}
            for g, ms in grouped("dora") for m in ms if m.id in qc["metrics"]]
    return {"rows": rows, "overall": qc.get("overall"),
            "overall_benchmarks": [b.get("overall") for b in marks],
            "cohorts": [b["name"] for b in marks],
            "notes": (info.get("notes") or {}).get(team_id, []),
            "source": info.get("source") or {}, "profile": info.get("profile")}


def org_cost(c: Caller, grain: str = "quarter") -> dict[str, Any]:
    cost = figures(delivery.cost(c, CostRequest(grain=check_grain(grain)), c.settings.cost))
    periods = sorted({r["period"] for r in cost["rows"]})
    totals: dict[str, float | None] = {per: 0.0 for per in periods}
    for r in cost["rows"]:
        before = totals[r["period"]]
        # a team's cost without an exchange rate leaves the period's total unknown, not smaller
        totals[r["period"]] = None if before is None or r["cost_amount"] is None else \
            before + r["cost_amount"]
    org = {o["period"]: o for o in cost["organisation"]}
    improvement = ids.improvement(cost["baseline"])
    chart = {
        "id": "org-cost-chart", "labels": periods,
        "title": "Organisation cost per period, with cost-to-serve improvement",
        "left": f"total cost ({cost['currency']})", "right": "improvement (%)",
        "right_format": "pct",
        "series": [
            _series("Total cost", ids.COST_TO_SERVE,
                    [None if (t := totals[x]) is None else round(t, 2) for x in periods]),
            _series(views_title(improvement), improvement,
                    [org[x]["metrics"].get(improvement) if x in org else None for x in periods],
                    "right"),
            _series(views_title(ids.IMPROVEMENT_MEDIAN_TEAM), ids.IMPROVEMENT_MEDIAN_TEAM,
                    [org[x]["metrics"].get(ids.IMPROVEMENT_MEDIAN_TEAM) if x in org else None
                     for x in periods], "right"),
        ],
    }
    latest = periods[-1] if periods else None
    teams = [r for r in cost["rows"] if r["period"] == latest]
    total = org.get(latest or "")
    savings = {"label": f"Team, {latest}",
               "rows": ([{**total, "label": f"Organisation ({total['cohort_teams']} teams)"}]
                        if total else [])
               + savings_rows(teams, "team", cost["baseline"]),
               "explanation": total.get("explanation") if total else None}
    return {"grain": grain, "baseline": cost["baseline"], "currency": cost["currency"],
            "savings": savings,
            "organisation_flags": [{"period": o["period"], **f}
                                   for o in cost["organisation"] for f in o.get("flags") or []],
            "period": latest, "improvement_metric": improvement,
            "organisation": cost["organisation"], "latest_organisation": org.get(latest or ""),
            "teams": teams, "charts": [chart], "conversion": cost.get("conversion") or {},
            "team_names": {t["team"]: t["name"] for t in dump(organisation.teams(c))},
            "unit_names": {u: n["name"] for u, n in unit_names(c).items()},
            "flags": [{"team": r["team"], "period": r["period"], **f}
                      for r in cost["rows"] for f in r["flags"] if f["kind"] == "tension"]}


def savings_rows(rows: Iterable[dict[str, Any]], key: str, baseline: str) -> list[dict[str, Any]]:
    """Cost rows for the savings table: labelled by ``key`` (period or team), with why the
    improvement and savings are empty when they are."""
    improvement = ids.improvement(baseline)
    out = []
    for r in rows:
        missing = r.get("missing") or {}
        out.append({**r, "label": r[key],
                    "why_empty": missing.get(improvement) or missing.get(ids.SAVINGS)})
    return out


def catalog(c: Caller) -> dict[str, Any]:
    return {"metrics": dump(metric_catalog.catalog(c))}


def metric(c: Caller, metric_id: str) -> dict[str, Any]:
    return dict(dump(metric_catalog.metric(c, metric_id)))


def investigations(c: Caller) -> dict[str, Any]:
    return {"investigations": dump(incidents.investigations(c))}


def investigation(c: Caller, inv_id: str) -> dict[str, Any]:
    record = dump(incidents.investigation(c, inv_id))
    root = (record.get("root_cause") or {}).get("entity")
    svg = topology_svg(record.get("topology") or {}, record["alarm"]["entity"], root)
    links = dump(ask.rescoped(c, inv_id))
    return {"investigation": record, "topology_svg": svg, "steps": record.get("steps") or [],
            "series": series_values(record),
            "children": [x for x in links if x["relation"] == "child"],
            "verdict": prevention_page.verdict_of(c, inv_id),
            "verdicts": list(prevention_page.verdicts.VERDICTS),
            "actors": response_page.actor_panel(c, inv_id, record)}
