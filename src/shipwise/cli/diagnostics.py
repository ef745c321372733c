"""``shipwise flow`` and ``shipwise strain``: a team's delivery flow and the strain its people
carry, per period — team level only, small groups suppressed, every read in the audit log."""

from __future__ import annotations

from datetime import date
from typing import Any

import click

from shipwise.cli.access import caller, runs_as
from shipwise.cli.metrics import _parse_date
from shipwise.cli.render import FORMATS, cell, emit_csv, emit_json, emit_table
from shipwise.metrics.ids import SHOWN_CLI, SHOWN_TABLE
from shipwise.metrics.registry import metrics_of

_GRAIN = click.Choice(["week", "month", "quarter"])


def _options(f: Any) -> Any:
    for opt in reversed((
        click.option("--team", "teams", multiple=True, help="Only these teams (repeatable)."),
        click.option("--org-units", is_flag=True,
                     help="Per org unit instead of per team (exec and admin)."),
        click.option("--grain", type=_GRAIN, default="quarter", show_default=True),
        click.option("--since", callback=_parse_date, help="First day (UTC), YYYY-MM-DD."),
        click.option("--until", callback=_parse_date, help="Last day (UTC), YYYY-MM-DD."),
        click.option("--format", "fmt", type=click.Choice(FORMATS), default="table"),
    )):
        f = opt(f)
    return f


def _rows(ctx: click.Context, family: str, teams: tuple[str, ...], org_units: bool, grain: str,
          since: date | None, until: date | None) -> dict[str, Any]:
    from shipwise.app.humane import diagnostics, org_diagnostics
    from shipwise.app.results import dump

    if org_units and teams:
        raise click.UsageError("--org-units and --team do not go together: org units are "
                               "computed for the whole organisation")
    with caller(ctx) as c:  # every read of people-derived data is logged
        if org_units:
            return dict(dump(org_diagnostics(c, family, grain=grain, since=since, until=until)))
        return dict(dump(diagnostics(c, family, teams, grain=grain, since=since, until=until)))


def _emit(res: dict[str, Any], fmt: str, family: str) -> None:
    """The family's table: its metrics the CLI lists, in the registry's order."""
    title = family.capitalize()
    key = "org_unit" if res["level"] == "org_unit" else "team"
    if fmt == "json":
        emit_json(res)
        return
    columns = metrics_of(family, SHOWN_TABLE, SHOWN_CLI)
    ids = [m.id for m in columns]
    # strain: whether the on-call hours come from the rota or from pages
    basis = ["oncall_basis"] if family == "strain" else []
    if fmt == "csv":
        emit_csv([key, "period", *ids, *basis, "suppressed", "withheld"],
                 [[r[key], r["period"], *[r["metrics"][i] for i in ids],
                   *[r.get(b) for b in basis],
                   ";".join(sorted(r["suppressed"])), ";".join(sorted(r.get("withheld", {})))]
                  for r in res["rows"]])
        return
    if not res["rows"]:
        click.echo("Nothing to show for these teams and dates.")
        return
    def shown(r: dict[str, Any], i: str) -> str:
        if i in r["suppressed"]:
            return "hidden"
        if i in r.get("withheld", {}):
            return "withheld"
        return str(cell(i, r["metrics"][i]) or "–")

    rows = [(r[key], r["period"], *[shown(r, i) for i in ids], *[r.get(b) or "–" for b in basis])
            for r in res["rows"]]
    emit_table(f"{title} by {key.replace('_', ' ')} and {res['grain']} "
               f"({res['since']} – {res['until']})",
               [key, "period", *[m.label for m in columns], *["on-call basis" for _ in basis]],
               rows,
               justify_right=tuple(range(2, 2 + len(columns))))
    if any(r["suppressed"] for r in res["rows"]):
        click.echo(f"hidden: computed from fewer than {res['min_group_size']} people, or hidden so "
                   "such a figure cannot be worked out from other figures.")
    if any(r.get("withheld") for r in res["rows"]):
        click.echo("withheld: the metric charter does not name your role in this metric's audience.")


@click.command("flow")
@_options
@click.pass_context
@runs_as()
def flow_cmd(ctx: click.Context, teams: tuple[str, ...], org_units: bool, grain: str,
             since: date | None, until: date | None, fmt: str) -> None:
    """Where a team's delivery is stuck: cycle time by phase (coding, pickup, review, deploy),
    review latency, open pull-request age, work in progress, blocked time."""
    res = _rows(ctx, "flow", teams, org_units, grain, since, until)
    _emit(res, fmt, "flow")


@click.command("strain")
@_options
@click.pass_context
@runs_as()
def strain_cmd(ctx: click.Context, teams: tuple[str, ...], org_units: bool, grain: str,
               since: date | None, until: date | None, fmt: str) -> None:
    """The load a team's people carry (team level only): after-hours, weekend and sleep-hour
    pages in the team's time zone, incident burden, on-call concentration, stalled PRs."""
    res = _rows(ctx, "strain", teams, org_units, grain, since, until)
    _emit(res, fmt, "strain")
