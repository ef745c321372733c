"""``shipwise cost``: cost to serve per team, the organisation roll-up, and tension flags."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import click

from shipwise.cli.access import caller, runs_as
from shipwise.cli.metrics import _parse_date, engine_options, spark_engine
from shipwise.cli.render import (
    FORMATS,
    cell,
    count,
    emit_csv,
    emit_json,
    emit_note,
    emit_table,
    money,
    multiple,
    span,
)
from shipwise.metrics import ids
from shipwise.metrics.registry import REGISTRY, get, metrics_of

COLUMNS = list(ids.COST_COLUMNS)
#: beside the headline cost figures, the tension metrics the flags are judged by
_TENSION_COLUMNS = (ids.CHANGE_FAIL_RATE, ids.HIGH_SEVERITY_TICKETS_PER_DEPLOYMENT)


@click.group("cost", invoke_without_command=True)
@click.option("--team", "teams", multiple=True, help="Only these teams (repeatable).")
@click.option("--grain", type=click.Choice(["quarter", "month"]), default="quarter", show_default=True)
@click.option("--baseline", type=click.Choice(["yoy", "qoq"]), default="yoy", show_default=True,
              help="What savings are measured against.")
@click.option("--categories", default=None,
              help="Comma-separated cost categories [default: all: people,infrastructure,tooling,other,cloud].")
@click.option("--since", callback=_parse_date, help="First day (UTC), YYYY-MM-DD.")
@click.option("--until", callback=_parse_date, help="Last day (UTC), YYYY-MM-DD.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table")
@engine_options
@click.pass_context
@runs_as()
def cost(ctx: click.Context, teams: tuple[str, ...], grain: str, baseline: str,
         categories: str | None, since: date | None, until: date | None, fmt: str, engine: str,
         data: str | None, master: str) -> None:
    """Cost to serve per team (cost ÷ units delivered, each team against its own past), what it
    gave back (savings, effective headcount), tension metrics beside it and the organisation's
    cost-weighted improvement."""
    if ctx.invoked_subcommand is not None:
        return
    from shipwise.app.cost import CATEGORIES, CostRequest
    from shipwise.app.delivery import cost as compute
    from shipwise.app.results import dump

    cats = tuple(c.strip() for c in categories.split(",")) if categories else CATEGORIES
    req = CostRequest(grain, baseline, teams, cats, since, until)
    if engine == "spark":
        from shipwise.app import spark
        from shipwise.cli.main import settings_from

        with spark_engine(data, master) as e:
            res = dump(spark.cost(e, req, settings_from(ctx).cost))
    else:
        with caller(ctx) as c:
            res = dump(compute(c, req, c.settings.cost))
    print_cost(res, fmt)


def _short(flag: dict[str, Any]) -> str:
    if flag["kind"] == "tension":
        return f"tension: {flag['metric'].split('.')[-1].replace('_', ' ')} worse"
    return flag["message"].split(":")[0]


def no_rows(res: dict[str, Any]) -> str:
    """Why a cost answer is empty: no cost records at all, or none in the window asked for."""
    data = res.get("data") or {}
    if not data.get("since"):
        return ("No cost records in the store yet: import `cost` and `headcount` records, or run "
                "`shipwise demo`.")
    since, until = res["since"], res["until"]
    window = f"from {since} to {until}" if since <= until else "in the requested window"
    return (f"No cost records {window}: the store has cost records from {data['since']} to "
            f"{data['until']} (--since and --until choose the window).")


def print_cost(res: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        emit_json(res)
        return
    rows = res["rows"]
    if fmt == "csv":
        emit_csv(["team", "period", "unit", "cost_amount", "units", *COLUMNS, "flags"],
                 [[r["team"], r["period"], r["unit"], r["cost_amount"], r["units"],
                   *[r["metrics"][c] for c in COLUMNS], " | ".join(f["message"] for f in r["flags"])]
                  for r in rows])
        return
    if not rows:
        click.echo(no_rows(res))
        return
    cur = res.get("currency") or ""
    imp = ids.improvement(res["baseline"])
    headline = [m for m in metrics_of("cost", ids.SHOWN_TILE)
                if m.id == imp or m.id not in (ids.IMPROVEMENT_QOQ, ids.IMPROVEMENT_YOY)]
    shown = [*headline, *(REGISTRY[i] for i in _TENSION_COLUMNS)]
    table = []
    for r in rows:
        m = r["metrics"]
        table.append((r["team"], r["period"], count(r["units"]), money(r["cost_amount"], cur),
                      *[cell(c.id, m[c.id], cur) for c in shown],
                      "; ".join(_short(f) for f in r["flags"])))
    # the cost figures, what they gave back, the tension metrics beside them: groups a narrow
    # terminal splits into tables of their own, each keyed by team and period
    gave_back = 4 + next(i for i, c in enumerate(shown) if c.id != ids.COST_TO_SERVE)
    emit_table(f"Cost to serve by team and {res['grain']} ({cur}; baseline {res['baseline']}) — "
               "each team against its own past, never a ranking",
               ["team", "period", "units", "cost", *[c.label for c in shown], "flags"],
               table, justify_right=tuple(range(2, 4 + len(shown))), key=2,
               groups=(gave_back, 4 + len(headline)))
    emit_note(_units_note(rows))
    org_shown = [get(imp), get(ids.IMPROVEMENT_MEDIAN_TEAM), get(ids.SAVINGS),
                 get(ids.EFFECTIVE_HEADCOUNT)]
    org = [(o["period"], count(o["cohort_teams"]),
            *[cell(c.id, o["metrics"][c.id], cur) for c in org_shown])
           for o in res["organisation"]]
    emit_table("Organisation (cost-weighted over teams with units in both periods)",
               ["period", "teams", *[c.label for c in org_shown]],
               org, justify_right=(1, 2, 3, 4, 5))
    for line in reading_lines(res):
        emit_note(line)
    print_conversion(res.get("conversion") or {})
    if any(r["flags"] for r in rows):
        emit_note("Flags in short; --format json has each flag's full sentence. A tension flag "
                  "means cost to serve improved while quality worsened in the same period.")


def _units_note(rows: list[dict[str, Any]]) -> str:
    """What each team's units are (the unit is the team's, so it is not a column)."""
    by_unit: dict[str, list[str]] = {}
    for r in rows:
        teams = by_unit.setdefault(str(r["unit"]).replace("_", " "), [])
        if r["team"] not in teams:
            teams.append(r["team"])
    return "Units delivered: " + "; ".join(f"{u} ({', '.join(t)})" for u, t in by_unit.items())


#: Flags about the size of a figure or the months behind it, printed in full under the tables.
_READ_WITH_CARE = ("exceeds_spend", "exceeds_headcount", "months_without_units",
                   "baseline_months_without_units")


def reading_lines(res: dict[str, Any]) -> list[str]:
    """What the figures mean, under the tables: why a figure reads '–' (grouped by reason), the
    figures larger than a team's own spend or headcount and the periods with empty months (in
    full), and the organisation's latest saving in words, decomposed."""
    lines: list[str] = []
    reasons: dict[str, list[str]] = {}
    imp = ids.improvement(res["baseline"])
    for r in res["rows"]:
        why = (r.get("missing") or {}).get(imp) or (r.get("missing") or {}).get(ids.SAVINGS)
        if why:
            reasons.setdefault(why, [])
            if r["team"] not in reasons[why]:
                reasons[why].append(r["team"])
    teams = {r["team"] for r in res["rows"]}
    for why, who in reasons.items():
        names = f"all {len(who)} teams" if len(who) == len(teams) > 1 else ", ".join(who)
        lines.append(f"– improvement and savings: {why} ({names})")
    for r in res["rows"]:
        for f in r["flags"]:
            if f["kind"] in _READ_WITH_CARE:
                lines.append(f"⚠ {r['team']} {r['period']}: {f['message']}")
    # one team's roll-up repeats the team's own lines
    org = res.get("organisation") or [] if len(teams) > 1 else []
    for o in org:
        for f in o.get("flags") or []:
            lines.append(f"⚠ organisation {o['period']}: {f['message']}")
    if org and org[-1].get("explanation"):
        lines.append(f"Organisation {org[-1]['period']}: {org[-1]['explanation']}")
    if any(r["metrics"].get(ids.SAVINGS) is not None for r in res["rows"]):
        lines.append("Savings = units × (baseline cost per unit − cost per unit now) = the unit "
                     "cost change on the baseline's units + the extra units at the new unit cost "
                     "(volume growth). eff. FTE (capacity given back) = savings ÷ the team's "
                     "loaded cost of one FTE: the people the same volume would have needed at the "
                     "baseline's unit cost, not people who left.")
    return lines


def conversion_lines(conv: dict[str, Any]) -> list[str]:
    """The rates used and the costs left unconverted, one line each."""
    cur = conv.get("reporting_currency") or ""
    lines = []
    for r in conv.get("rates") or []:
        source = f", {r['source']}" if r.get("source") else ""
        lines.append(f"{r['month']}: 1 {r['currency']} = {r['rate']:g} {cur}{source} — "
                     f"{r['records']} record{'s' if r['records'] != 1 else ''}, "
                     f"{money(r['amount'], r['currency'])} → {money(r['reported_amount'], cur)}")
    for u in conv.get("unconverted") or []:
        lines.append(f"⚠ {u['month']}: no rate from {u['currency']} to {cur} — {u['records']} "
                     f"record{'s' if u['records'] != 1 else ''} ({money(u['amount'], u['currency'])}"
                     f"; {', '.join(u['teams'])}) not converted: their periods "
                     "show no cost; import `fx_rate` records for them")
    return lines


def print_conversion(conv: dict[str, Any]) -> None:
    lines = conversion_lines(conv)
    if lines:
        click.echo(f"Amounts in other currencies, converted to {conv.get('reporting_currency')} "
                   "at the rate of their month:")
        for line in lines:
            click.echo("  " + line)


@cost.command("initiatives")
@click.option("--by", type=click.Choice(["kind", "investment"]), default="kind", show_default=True,
              help="One initiative per investment kind (waves of one programme) or per record.")
@click.option("--confidence", default=0.9, show_default=True, type=click.FloatRange(0.5, 0.99))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table")
@click.pass_context
@runs_as("org.cost")
def initiatives_cmd(ctx: click.Context, by: str, confidence: float, fmt: str) -> None:
    """Which initiatives drove the change: each investment's effect on its teams' cost to serve
    (difference-in-differences, adopting vs not-yet/never adopting teams), attributed savings and
    ROI, each with a bootstrap interval and plain warnings."""
    from shipwise.app.delivery import initiatives
    from shipwise.app.results import dump

    with caller(ctx) as c:
        res = dump(initiatives(c, by=by, confidence=confidence))
    rows = res["initiatives"]
    if fmt == "json":
        emit_json(res)
        return
    keys = ["id", "name", "amount", "teams", "effect", "low", "high", "attributed_savings",
            "savings_low", "savings_high", "roi", "roi_low", "roi_high", "warnings"]
    if fmt == "csv":
        emit_csv(keys, [[("; ".join(r[k]) if isinstance(r[k], list) else r[k]) for k in keys]
                        for r in rows])
        return
    if not rows:
        click.echo("No investments in the store: import `investment` records, or run `shipwise demo`.")
        return

    cur = res["currency"]

    def est(r: dict[str, Any], a: str, low: str, high: str,
            fmt: Callable[[float | None], str | None]) -> str:
        """An estimate over its interval, on two lines."""
        if r[a] is None:
            return "–"
        return f"{fmt(r[a])}\n{span(fmt(r[low]), fmt(r[high])) or ''}"

    def cash(x: float | None) -> str | None:
        return money(x, cur)

    def effect(x: float | None) -> str | None:
        return None if x is None else f"{x:+.2f}"

    table = [(r["name"] + (" ⚠" if r["warnings"] else ""),
              count(r.get("adopting_teams", len(r["teams"]))),
              count(r["control_teams"]), cash(r["amount"]),
              est(r, "effect", "low", "high", effect),
              est(r, "attributed_savings", "savings_low", "savings_high", cash),
              est(r, "roi", "roi_low", "roi_high", multiple))
             for r in rows]
    emit_table(f"Initiatives ({cur}; each estimate with its {confidence:.0%} interval below it)",
               ["initiative", "adopters", "comparison", "amount", "effect", "attributed savings",
                "ROI"], table, justify_right=(1, 2, 3, 4, 5, 6), wrap=(0,))
    for r in rows:
        for w in r["warnings"]:
            emit_note(f"⚠ {r['name']}: {w}")
    emit_note("adopters: teams that received it; comparison: teams that had not (yet), observed "
              "in the same periods. effect: the change in log cost to serve (−0.10 ≈ 10 % cheaper "
              "per unit).")


@cost.group("cloud", invoke_without_command=True)
@click.option("--team", "teams", multiple=True, help="Only these teams (repeatable).")
@click.option("--since", default=None, metavar="YYYY-MM", help="First month.")
@click.option("--until", default=None, metavar="YYYY-MM", help="Last month.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
@runs_as("org.cost")
def cloud(ctx: click.Context, teams: tuple[str, ...], since: str | None, until: str | None,
          fmt: str) -> None:
    """Cloud cost (AWS CUR 2.0, FOCUS) per team and month on the configured basis, with credits,
    refunds, discounts and adjustments beside the spend (never netted) and the spend no team
    was mapped to, per account and tag value (docs/cloud-cost.md)."""
    if ctx.invoked_subcommand is not None:
        return
    from shipwise.app.cloud_cost import cloud_report

    with caller(ctx) as c:
        res = cloud_report(c, since=since, until=until, teams=teams)
    if fmt == "json":
        emit_json(res)
        return
    if not res["totals"]:
        click.echo("No cloud cost in the store: `shipwise cost cloud import FILE...` reads AWS "
                   "CUR 2.0 and FOCUS files (docs/cloud-cost.md).")
        return
    figures = ("spend", "credits", "refunds", "discounts", "adjustments")

    def amounts(r: dict[str, Any], *extra: str) -> list[str | None]:
        return [money(r[f], r["currency"], 2) for f in (*figures, *extra)]

    emit_table(f"Cloud cost per team and month (basis {res['basis']}; credits and refunds apart, "
               "not netted)", ["team", "month", *figures],
               [(r["team"], r["month"], *amounts(r)) for r in res["teams"]],
               key=2, justify_right=tuple(range(2, 7)))
    if res["unmapped"]:
        emit_table("Unmapped (no team tag of a known team and no mapped account)",
                   ["month", "account", "tag value", *figures],
                   [(r["month"], r["account"], r["tag_value"] or "–", *amounts(r))
                    for r in res["unmapped"]], key=3, justify_right=tuple(range(3, 8)))
    emit_table("Totals", ["month", *figures, "unmapped spend"],
               [(r["month"], *amounts(r, "unmapped_spend")) for r in res["totals"]],
               justify_right=tuple(range(1, 7)))


@cloud.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--force", is_flag=True, help="Read files again even when unchanged since their "
                                            "last import.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
@runs_as("admin.ingest")
def cloud_import(ctx: click.Context, paths: tuple[str, ...], force: bool, fmt: str) -> None:
    """Import AWS CUR 2.0 (Data Exports) or FOCUS 1.x files: Parquet, CSV, CSV.gz, or export
    folders of parts. Each month replaces that month of its billing account (restatements);
    rows without a date or a numeric cost are quarantined with the reason."""
    from shipwise.app.cloud_cost import import_cloud

    with caller(ctx) as c:
        res = import_cloud(c, paths, force=force,
                           progress=None if fmt == "json" else lambda m: click.echo(m, err=True))
    out = res.as_dict()
    if fmt == "json":
        emit_json(out)
        return
    for s in out["skipped"]:
        click.echo(f"unchanged since its last import, skipped (--force reads it again): {s}")
    months = ", ".join(sorted({m["month"] for m in out["months"]}))
    click.echo(f"{out['line_items']:,} line items read; months replaced: {months or 'none'}")
    if out["quarantined"]:
        reasons = "; ".join(f"{k}: {v}" for k, v in out["quarantine_reasons"].items())
        click.echo(f"{out['quarantined']:,} rows quarantined ({reasons}): "
                   "`shipwise quarantine list --type cloud_cost`")
    if out["unknown_teams"]:
        click.echo("Note: cost.cloud maps to teams the organisation does not have: "
                   + ", ".join(out["unknown_teams"]) + " (their spend is reported unmapped)",
                   err=True)
