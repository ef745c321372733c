"""``shipwise report``: reports people read (HTML, PDF)."""

from __future__ import annotations

from datetime import date

import click

from shipwise.cli.access import caller, runs_as
from shipwise.cli.metrics import _parse_date


@click.group("report")
def report() -> None:
    """Reports for people: HTML or PDF."""


@report.command("cost")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="FILE.html or FILE.pdf (PDF needs Debian's chromium).")
@click.option("--baseline", type=click.Choice(["yoy", "qoq"]), default="yoy", show_default=True)
@click.option("--since", callback=_parse_date, help="First day (UTC), YYYY-MM-DD.")
@click.option("--until", callback=_parse_date, help="Last day (UTC), YYYY-MM-DD.")
@click.pass_context
@runs_as("org.cost")
def cost_report_cmd(ctx: click.Context, out: str, baseline: str, since: date | None,
                    until: date | None) -> None:
    """The cost-to-serve report a CFO reads in five minutes: the organisation's trend and what
    it gave back (savings, ROI, effective headcount), each team against itself (never a
    ranking), tension metrics beside, initiative effects with uncertainty, and the definitions."""
    from shipwise.app.reports import cost_report

    with caller(ctx) as c:
        path = cost_report(c, out, since=since, until=until, baseline=baseline)
    click.echo(f"wrote {path}")
