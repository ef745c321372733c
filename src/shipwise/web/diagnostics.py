"""The team page's flow, SLO and strain sections, and the organisation page (flow and strain per
org unit): shaped from the JSON of the doors of :mod:`shipwise.app` only. A suppressed figure stays ``None`` with its
reason beside it (``hidden``); the templates show it as "hidden", never as 0."""

from __future__ import annotations

from typing import Any

from shipwise.app import humane, reliability
from shipwise.app import org as organisation
from shipwise.app.caller import Caller
from shipwise.app.guard import charter_map, metric_ids
from shipwise.app.results import dump, figures
from shipwise.metrics import ids
from shipwise.metrics.registry import REGISTRY, ids_of, metrics_of
from shipwise.web.render import title as _title

#: cycle-time phases, in the order a change goes through them (stacked bottom to top)
PHASES = ids_of("flow", ids.SHOWN_PHASE)
FLOW_TILES = ids_of("flow", ids.SHOWN_TILE)
FLOW_TABLE = ids_of("flow", ids.SHOWN_TABLE)
STRAIN_TILES = ids_of("strain", ids.SHOWN_TILE)
STRAIN_TABLE = ids_of("strain", ids.SHOWN_TABLE)
#: the page counts (charted together, the share out of hours beside them)
PAGES = tuple(m.id for m in metrics_of("strain") if m.unit == "pages")
AGE_BUCKETS = (("lt_1d", "under 1 day"), ("1d_3d", "1–3 days"), ("3d_7d", "3–7 days"),
               ("7d_14d", "7–14 days"), ("ge_14d", "14 days or more"))
REGISTRY_FORMAT = {m: REGISTRY[m].format for m in REGISTRY}
#: periods shown in the tables (every period is in the JSON twin)
TABLE_PERIODS = 8
ALERT_TEXT = {"ok": "no alert", "ticket": "ticket alert firing", "page": "page alert firing",
              "unknown": "cannot be evaluated"}


def why(row: dict[str, Any], metric_id: str) -> str | None:
    """Why a row's figure is not shown: suppressed (too few people) or withheld (the charter's
    audience does not include the role); None when it is shown."""
    return ((row.get("suppressed") or {}).get(metric_id)
            or (row.get("withheld") or {}).get(metric_id))


def cell(row: dict[str, Any] | None, metric_id: str) -> dict[str, Any]:
    """A figure of a row: value, and why it is hidden (None when shown)."""
    if row is None:
        return {"metric": metric_id, "value": None, "hidden": None}
    return {"metric": metric_id, "value": row["metrics"].get(metric_id),
            "hidden": why(row, metric_id)}


def shown(row: dict[str, Any], metric_id: str, scale: Any = None) -> Any:
    """A figure for a chart: None (a gap) when hidden."""
    v = row["metrics"].get(metric_id)
    if v is None or why(row, metric_id):
        return None
    return scale(v) if scale else v


#: a duration unit: (symbol, word, seconds)
DAYS = ("d", "days", 86400)
HOURS = ("h", "hours", 3600)


def duration_unit(seconds: list[Any]) -> tuple[str, str, int]:
    """One unit for a chart and the table beside it: days when the typical (median) value is a
    day and a half or more, hours otherwise — never hours in the chart and days in the table."""
    vals = sorted(float(v) for v in seconds if v is not None)
    if not vals:
        return HOURS
    return DAYS if vals[len(vals) // 2] >= 1.5 * 86400 else HOURS


def _scaled(unit: tuple[str, str, int]) -> Any:
    size = unit[2]
    return lambda v: None if v is None else round(float(v) / size, 2)


def series(label: str, metric: str, values: list[Any], axis: str = "left") -> dict[str, Any]:
    return {"label": label, "metric": metric, "values": values, "axis": axis}


def _table(rows: list[dict[str, Any]], ids: tuple[str, ...],
           units: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The latest periods, newest first; a duration column with a unit in ``units`` reads in
    that unit in every row (the unit of the chart beside it)."""
    units = units or {}
    return [{"period": r["period"],
             "cells": [{**cell(r, m), "unit": units.get(m)} for m in ids]}
            for r in reversed(rows[-TABLE_PERIODS:])]


def _hidden_note(rows: list[dict[str, Any]], ids: tuple[str, ...]) -> str | None:
    n = sum(1 for r in rows if any(why(r, m) for m in ids))
    return (f"Gaps are periods whose figures are hidden ({n} of {len(rows)}): too few people "
            "to show them." if n else None)


def flow_section(data: dict[str, Any]) -> dict[str, Any]:
    """Tiles of the latest period, the phases as stacked bars, WIP and review latency, the age of
    open pull requests, and a table of the latest periods."""
    rows = data["rows"]
    latest = rows[-1] if rows else None
    labels = [r["period"] for r in rows]
    # the phases stack up to the cycle time: the chart, the cycle-time column and the phase
    # columns share the unit of the cycle time; review latency has its own (chart and column)
    stack = duration_unit([shown(r, ids.CYCLE_TIME) for r in rows])
    latency = duration_unit([shown(r, ids.REVIEW_LATENCY) for r in rows])
    units = {m: stack[0] for m in (ids.CYCLE_TIME, *PHASES)}
    units[ids.REVIEW_LATENCY] = latency[0]
    for m in FLOW_TABLE:
        if m not in units and REGISTRY_FORMAT.get(m) == "duration":
            units[m] = duration_unit([shown(r, m) for r in rows])[0]
    phases = {
        "id": "flow-phases-chart", "kind": "stacked", "labels": labels,
        "title": f"Cycle time by phase (medians, {stack[1]}), per period",
        "left": stack[1], "right": "", "left_unit": stack[0],
        "series": [series(_title(m).replace(" (median)", ""), m,
                          [shown(r, m, _scaled(stack)) for r in rows]) for m in PHASES],
        "note": _hidden_note(rows, PHASES),
    }
    wip = {
        "id": "flow-wip-chart", "kind": "line", "gaps": True, "labels": labels,
        "title": "Work in progress and review latency per period",
        "left": "open pull requests (mean)", "right": f"review latency ({latency[1]})",
        "right_unit": latency[0],
        "series": [
            series(_title(ids.WORK_IN_PROGRESS), ids.WORK_IN_PROGRESS,
                   [shown(r, ids.WORK_IN_PROGRESS) for r in rows]),
            series(_title(ids.REVIEW_LATENCY).replace(")", f", {latency[1]})"),
                   ids.REVIEW_LATENCY,
                   [shown(r, ids.REVIEW_LATENCY, _scaled(latency)) for r in rows], "right"),
        ],
        "note": _hidden_note(rows, (ids.WORK_IN_PROGRESS, ids.REVIEW_LATENCY)),
    }
    age: dict[str, Any] = {"period": latest["period"] if latest else None, "buckets": [],
                           "hidden": None}
    if latest is not None:
        dist = latest.get("open_pr_age_distribution")
        if dist is None:
            age["hidden"] = why(latest, ids.OPEN_PR_AGE) or "too few people"
        else:
            top = max(dist.values(), default=0) or 1
            age["buckets"] = [{"key": k, "label": label, "count": dist.get(k, 0),
                               "share": round(100 * dist.get(k, 0) / top)}
                              for k, label in AGE_BUCKETS]
    return {"period": latest["period"] if latest else None,
            "tiles": [cell(latest, m) for m in FLOW_TILES] if latest else [],
            "charts": [phases, wip] if rows else [], "open_pr_age": age,
            "columns": list(FLOW_TABLE), "table": _table(rows, FLOW_TABLE, units),
            "units": units, "min_group_size": data["min_group_size"]}


def strain_section(data: dict[str, Any]) -> dict[str, Any]:
    rows = data["rows"]
    latest = rows[-1] if rows else None
    chart = {
        "id": "strain-chart", "kind": "line", "gaps": True,
        "labels": [r["period"] for r in rows],
        "title": "Pages out of hours per period, and their share of all pages",
        "left": "pages", "right": "share out of hours", "right_format": "pct",
        "series": [series(_title(m), m, [shown(r, m) for r in rows]) for m in PAGES]
        + [series(_title(ids.OUT_OF_HOURS_SHARE), ids.OUT_OF_HOURS_SHARE,
                  [shown(r, ids.OUT_OF_HOURS_SHARE) for r in rows], "right")],
        "note": _hidden_note(rows, PAGES),
    }
    return {"period": latest["period"] if latest else None,
            "tiles": [cell(latest, m) for m in STRAIN_TILES] if latest else [],
            "charts": [chart] if rows else [], "columns": list(STRAIN_TABLE),
            "table": _table(rows, STRAIN_TABLE), "min_group_size": data["min_group_size"]}


def slo_section(data: dict[str, Any], team: str) -> dict[str, Any]:
    """Each SLO's status now, the team's release appetite, and attainment per period."""
    slos = []
    for s in data["status"]:
        firing = [a for a in s["alerts"] if a["firing"]]
        slos.append({
            "slo": s["slo"], "service": s["service"], "objective": s["objective"],
            "window_days": s["window_days"],
            "attainment": cell(s, ids.ATTAINMENT),
            "budget_remaining": cell(s, ids.ERROR_BUDGET_REMAINING),
            "burn_hidden": why(s, ids.BURN_RATE),
            "burn": [{"window": b["window"], "rate": b["burn_rate"], "reason": b["reason"]}
                     for b in s["burn"]],
            "alert_state": s["alert_state"],
            "alert_text": ALERT_TEXT.get(s["alert_state"], s["alert_state"]),
            "firing": [f"{a['severity']}: {a['long_window']} and {a['short_window']} windows "
                       f"above {a['factor']:g}×" for a in firing],
            "appetite": cell(s, ids.RELEASE_APPETITE),
        })
    hist = data.get("history", {}).get("rows", [])
    labels = sorted({r["period"] for r in hist})
    by = {(r["slo"], r["period"]): r for r in hist}
    names = sorted({r["slo"] for r in hist})
    chart = {
        "id": "slo-chart", "kind": "line", "gaps": True, "labels": labels,
        "title": "SLO attainment per period", "left": "attainment", "right": "",
        "left_format": "pct",
        "series": [series(n, ids.ATTAINMENT,
                          [shown(by[(n, p)], ids.ATTAINMENT) if (n, p) in by else None
                           for p in labels]) for n in names],
    }
    return {"at": data.get("at"), "appetite": data.get("appetite", {}).get(team),
            "slos": slos, "charts": [chart] if labels and names else []}


def team_sections(c: Caller, team_id: str, grain: str) -> dict[str, Any]:
    """The three sections, each read through its door (checked; the page is one logged action)."""
    flow = figures(humane.team_diagnostics(c, "flow", (team_id,), grain=grain))
    strain = figures(humane.team_diagnostics(c, "strain", (team_id,), grain=grain))
    slo = figures(reliability.slo(c, (team_id,), grain=grain))
    return {"flow": flow_section(flow), "strain": strain_section(strain),
            "slo": slo_section(slo, team_id),
            "diagnostics": {"flow": flow, "strain": strain, "slo": slo}}


# -- the organisation page ----------------------------------------------------------------------

ORG_FLOW = ids_of("flow", ids.SHOWN_ORG)
ORG_STRAIN = ids_of("strain", ids.SHOWN_ORG)


def unit_names(c: Caller) -> dict[str, dict[str, Any]]:
    """Each org unit: its name, whether it is a parent (its figures are its children's together)
    and its label on the pages ("Engineering (total)" for a parent)."""
    units = dump(organisation.org_units(c))
    parents = {u["parent"] for u in units if u["parent"]}
    return {u["org_unit"]: {"name": u["name"], "parent": u["parent"],
                            "total": u["org_unit"] in parents,
                            "label": f"{u['name']} (total)" if u["org_unit"] in parents
                            else u["name"]} for u in units}


def _unit_order(units: list[str], names: dict[str, dict[str, Any]]) -> list[str]:
    """Children by name, then the totals (parents) last: a total reads as the sum under them."""
    def key(u: str) -> tuple[bool, str]:
        n = names.get(u, {})
        return bool(n.get("total")), str(n.get("name") or u).lower()
    return sorted(units, key=key)


def _per_unit_chart(chart_id: str, title: str, axis: str, rows: list[dict[str, Any]],
                    metric: str, names: dict[str, dict[str, Any]],
                    unit: tuple[str, str, int] | None = None) -> dict[str, Any]:
    labels = sorted({r["period"] for r in rows})
    units = _unit_order(list({r["org_unit"] for r in rows}), names)
    by = {(r["org_unit"], r["period"]): r for r in rows}
    scale = _scaled(unit) if unit else None

    def value(u: str, per: str) -> Any:
        r = by.get((u, per))
        return None if r is None else shown(r, metric, scale)

    out = []
    for u in units:
        s = series(names.get(u, {}).get("label", u), metric, [value(u, per) for per in labels])
        if names.get(u, {}).get("total"):
            s["total"] = True  # drawn dashed and grey: the sum of the others, not a fifth unit
        out.append(s)
    return {"id": chart_id, "kind": "line", "gaps": True, "labels": labels, "title": title,
            "left": axis if unit is None else f"{axis} ({unit[1]})", "right": "",
            "left_format": "pct" if axis == "share" else None,
            "left_unit": unit[0] if unit else None, "series": out}


def org(c: Caller, grain: str) -> dict[str, Any]:
    """Flow and strain per org unit (exec, admin): the latest period's table and trends."""
    flow = figures(humane.org_diagnostics(c, "flow", grain=grain))
    strain = figures(humane.org_diagnostics(c, "strain", grain=grain))
    names = unit_names(c)
    cycle = duration_unit([shown(r, ids.CYCLE_TIME) for r in flow["rows"]])

    def latest(rows: list[dict[str, Any]], ids_: tuple[str, ...]) -> dict[str, Any]:
        period = max((r["period"] for r in rows), default=None)
        now = {r["org_unit"]: r for r in rows if r["period"] == period}
        # the cycle time in the unit of its chart below; every other duration column in one
        # unit of its own (a column never switches between hours and days from row to row)
        units = {m: duration_unit([shown(r, m) for r in now.values()])[0] for m in ids_
                 if REGISTRY_FORMAT.get(m) == "duration"}
        if ids.CYCLE_TIME in units:
            units[ids.CYCLE_TIME] = cycle[0]
        return {"period": period, "columns": list(ids_),
                "rows": [{"org_unit": u, **names.get(u, {"name": u, "label": u, "total": False}),
                          "cells": [{**cell(now[u], m), "unit": units.get(m)} for m in ids_]}
                         for u in _unit_order(list(now), names)]}

    charts = []
    if flow["rows"]:
        charts.append(_per_unit_chart("org-cycle-chart", f"{_title(ids.CYCLE_TIME)} per org unit",
                                      "cycle time", flow["rows"], ids.CYCLE_TIME, names, cycle))
    if strain["rows"]:
        charts.append(_per_unit_chart("org-strain-chart",
                                      "Share of pages out of hours per org unit", "share",
                                      strain["rows"], ids.OUT_OF_HOURS_SHARE, names))
    out = {"grain": grain, "min_group_size": flow["min_group_size"], "org_units": names,
           "flow": latest(flow["rows"], ORG_FLOW), "strain": latest(strain["rows"], ORG_STRAIN),
           "charts": charts, "diagnostics": {"flow": flow, "strain": strain}}
    out["charter"] = charter_map(metric_ids(out))
    return out
