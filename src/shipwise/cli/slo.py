"""``shipwise slo``: SLO status, error budgets, burn-rate alerts, release appetite and history."""

from __future__ import annotations

from datetime import date
from typing import Any

import click

from shipwise.cli.access import caller, runs_as
from shipwise.cli.metrics import _parse_date
from shipwise.cli.render import FORMATS, cell, count, emit_csv, emit_json, emit_table, percent
from shipwise.metrics.ids import ATTAINMENT, BURN_RATE, ERROR_BUDGET_REMAINING, RELEASE_APPETITE
from shipwise.metrics.registry import get

_STATE = {"page": "[red]page[/]", "ticket": "[yellow]ticket[/]", "unknown": "[dim]unknown[/]",
          "ok": "[green]ok[/]"}
_APPETITE = {"full": "[green]full[/]", "reduced": "[yellow]reduced[/]",
             "fixes only": "[red]fixes only[/]"}


def _objective(x: float) -> str:
    return f"{100 * x:g}%"


def _read(ctx: click.Context, team: str | None, **kw: Any) -> dict[str, Any]:
    """An authorised, logged read: ``team``, or every team the principal may see (each team is
    authorised and logged; the figures come from one query)."""
    from shipwise.app.reliability import slo
    from shipwise.app.results import dump

    with caller(ctx) as c:  # every read goes to the access log
        return dict(dump(slo(c, (team,) if team else (), **kw)))


@click.group("slo", invoke_without_command=True)
@click.option("--team", default=None, help="Only this team [default: every team you may see].")
@click.option("--at", "at", default=None,
              help="Status at this instant, ISO 8601 (UTC unless it has an offset) "
                   "[default: the latest SLI interval end].")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table")
@click.pass_context
@runs_as()
def slo(ctx: click.Context, team: str | None, at: str | None, fmt: str) -> None:
    """SLO status per SLO (attainment, error budget remaining, burn rates, multi-window
    burn-rate alerts) and each team's release appetite under the error-budget policy."""
    if ctx.invoked_subcommand is not None:
        return
    res = _read(ctx, team, at=at, history=False)
    print_status(res, fmt)


def print_status(res: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        emit_json(res)
        return
    wins: list[str] = res["windows"]
    status: list[dict[str, Any]] = res["status"]
    if fmt == "csv":
        emit_csv(["team", "slo", "service", "objective", "window_days", "good", "total",
                  ATTAINMENT, ERROR_BUDGET_REMAINING,
                  *[f"{BURN_RATE}:{w}" for w in wins], "alert_state", RELEASE_APPETITE,
                  "team_release_appetite"],
                 [[s["team"], s["slo"], s["service"], s["objective"], s["window_days"], s["good"],
                   s["total"], s["metrics"][ATTAINMENT],
                   s["metrics"][ERROR_BUDGET_REMAINING],
                   *[s["metrics"][BURN_RATE][w] for w in wins], s["alert_state"],
                   s["metrics"][RELEASE_APPETITE],
                   res["appetite"][s["team"]]["appetite"]] for s in status])
        return
    if status:
        # one heading row per team, its SLOs under it: the team is not a column, so the
        # identifiers fit a 100-column terminal; the burn rates split off when they do not
        rows: list[tuple[str | None, ...]] = []
        blank = ("",) * (5 + len(wins))
        team = None
        for s in status:
            if s["team"] != team:
                team = s["team"]
                rows.append((f"[bold]{team}[/]", *blank))
            m = s["metrics"]
            burns = [cell(BURN_RATE, m[BURN_RATE][w]) for w in wins]
            rows.append((f"  {s['slo']}", _objective(s["objective"]), f"{s['window_days']} d",
                         cell(ATTAINMENT, m[ATTAINMENT]),
                         cell(ERROR_BUDGET_REMAINING, m[ERROR_BUDGET_REMAINING]),
                         _STATE.get(s["alert_state"], s["alert_state"]), *burns))
        emit_table(f"SLOs at {res['at']} (burn rate × the budget rate; – = not measurable)",
                   ["team / slo", "objective", "window", get(ATTAINMENT).label,
                    get(ERROR_BUDGET_REMAINING).label, "alert",
                    *[f"{get(BURN_RATE).label} {w}" for w in wins]], rows,
                   justify_right=(1, 2, 3, 4, *range(6, 6 + len(wins))), groups=(1, 6))
    else:
        click.echo("No SLOs for these teams: import `slo` and `sli` records, or run `shipwise demo`.")
    apps = res["appetite"]
    if apps:
        emit_table("Release appetite (error-budget policy)", ["team", "appetite", "why"],
                   [(t, _APPETITE.get(a["appetite"], "–"), a["sentence"])
                    for t, a in sorted(apps.items())])


@slo.command("history")
@click.option("--team", required=True, help="The team whose SLOs to show.")
@click.option("--grain", type=click.Choice(["week", "month", "quarter"]), default="month",
              show_default=True)
@click.option("--since", callback=_parse_date, help="First day (UTC), YYYY-MM-DD.")
@click.option("--until", callback=_parse_date, help="Last day (UTC), YYYY-MM-DD.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table")
@click.pass_context
@runs_as()
def history_cmd(ctx: click.Context, team: str, grain: str, since: date | None,
                until: date | None, fmt: str) -> None:
    """Attainment per SLO and period, whether it met the objective, and budget consumed.

    Budget consumed is the share of the period's allowed bad events that went bad; an SLI
    interval counts in the period its end falls in."""
    res = _read(ctx, team, grain=grain, since=since, until=until)
    hist = res["history"]
    if fmt == "json":
        emit_json(hist)
        return
    rows = hist["rows"]
    if fmt == "csv":
        emit_csv(["team", "slo", "period", "objective", "good", "total", ATTAINMENT, "met",
                  "budget_consumed"],
                 [[r["team"], r["slo"], r["period"], r["objective"], r["good"], r["total"],
                   r["metrics"][ATTAINMENT], r["met"], r["budget_consumed"]] for r in rows])
        return
    if not rows:
        click.echo(f"No SLI data for team {team} in this range.")
        return
    met = {True: "[green]yes[/]", False: "[red]no[/]", None: None}
    emit_table(f"SLO history of {team} by {hist['grain']} ({hist['since']} – {hist['until']})",
               ["slo", "period", "objective", "good", "total", get(ATTAINMENT).label, "met",
                "budget consumed"],
               [(r["slo"], r["period"], _objective(r["objective"]), count(r["good"]),
                 count(r["total"]),
                 cell(ATTAINMENT, r["metrics"][ATTAINMENT]), met[r["met"]],
                 percent(r["budget_consumed"], 1)) for r in rows],
               justify_right=(2, 3, 4, 5, 7))
