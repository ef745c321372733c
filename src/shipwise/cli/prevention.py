"""``shipwise prevention``: scan for recurring incident patterns and decide on the
recommendations (docs/prevention.md)."""

from __future__ import annotations

from typing import Any

import click

from shipwise.app import prevention
from shipwise.app.results import dump
from shipwise.cli.access import caller, runs_as
from shipwise.cli.render import emit_json, emit_table

FORMAT = click.Choice(["table", "json"])


@click.group("prevention")
def prevention_group() -> None:
    """Recurring incident patterns and the changes that would prevent them."""


def _table(title: str, rows: list[dict[str, Any]]) -> None:
    emit_table(title, ["key", "priority", "cost", "n", "status", "title"],
               [(r["key"], r["priority"], f"{r['cost']:.1f}", r["occurrences"],
                 r["status"] + ("" if r["active"] else " (not seen lately)"), r["title"])
                for r in rows], justify_right=(2, 3))


@prevention_group.command("scan")
@click.option("--format", "fmt", type=FORMAT, default="table")
@click.pass_context
@runs_as("prevention.scan")
def scan_cmd(ctx: click.Context, fmt: str) -> None:
    """Scan every stored investigation and imported incident for recurring patterns; keep the
    recommendations (a re-scan updates them and keeps their status)."""
    with caller(ctx) as c:
        res = dump(prevention.scan(c))
    if fmt == "json":
        emit_json(res)
        return
    s = res["scan"]
    click.echo(f"Scanned {s['investigations']} investigations and {s['incidents']} incidents in "
               f"{s['seconds']:.2f} s: {s['found']} recommendations ({s['new']} new, "
               f"{s['reopened']} reopened).")
    _table("Recommendations", res["recommendations"])


@prevention_group.command("list")
@click.option("--status", type=click.Choice(list(prevention.STATUSES)), default=None)
@click.option("--category", type=click.Choice(list(prevention.CATEGORIES)), default=None)
@click.option("--all", "include_inactive", is_flag=True,
              help="Also those the latest scan no longer saw.")
@click.option("--format", "fmt", type=FORMAT, default="table")
@click.pass_context
@runs_as()
def list_cmd(ctx: click.Context, status: str | None, category: str | None,
             include_inactive: bool, fmt: str) -> None:
    """Recommendations, highest priority and cost first (a member's or lead's token: about
    their team's services)."""
    with caller(ctx) as c:
        res = dump(prevention.recommendations(c, status=status, category=category,
                                              include_inactive=include_inactive))
    if fmt == "json":
        emit_json(res)
        return
    _table("Prevention recommendations", res["recommendations"])
    last = res.get("last_scan")
    click.echo(f"Last scan: {last['started_at']} ({last['trigger']})" if last
               else "No scan yet: run `shipwise prevention scan`.")


@prevention_group.command("show")
@click.argument("key")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
@runs_as()
def show_cmd(ctx: click.Context, key: str, fmt: str) -> None:
    """One recommendation with the incidents behind it."""
    with caller(ctx) as c:
        r = dump(prevention.recommendation(c, key))
    if fmt == "json":
        emit_json(r)
        return
    click.echo(f"{r['title']}  [{r['category']}, {r['priority']} priority, {r['status']}]")
    click.echo(f"Why: {r['rationale']}")
    click.echo(f"Change: {r['change']}")
    click.echo(f"Cost: {r['cost']:.1f} customer-hours over {r['occurrences']} occurrences")
    if r.get("reason"):
        click.echo(f"Reason: {r['reason']}")
    for i in r["incidents"]:
        click.echo(f"  {i['at']}  {i['source']:<13} {i['id']}  impact {i['impact']:g}, "
                   f"{i['minutes']:g} min" + (f", verdict {i['verdict']}" if i.get("verdict")
                                              else ""))


def _decide(ctx: click.Context, key: str, status: str, reason: str | None, fmt: str) -> None:
    with caller(ctx) as c:
        r = dump(prevention.decide(c, key, status, reason=reason))
    if fmt == "json":
        emit_json(r)
    else:
        click.echo(f"{r['key']}: {r['status']}" + (f" ({r['reason']})" if r.get("reason") else ""))


@prevention_group.command("accept")
@click.argument("key")
@click.option("--reason", default=None, help="Optional note (e.g. the ticket that tracks it).")
@click.option("--format", "fmt", type=FORMAT, default="table")
@click.pass_context
@runs_as()
def accept_cmd(ctx: click.Context, key: str, reason: str | None, fmt: str) -> None:
    """Accept recommendation KEY: the change will be made."""
    _decide(ctx, key, "accepted", reason, fmt)


@prevention_group.command("dismiss")
@click.argument("key")
@click.option("--reason", required=True, help="Why it will not be done.")
@click.option("--format", "fmt", type=FORMAT, default="table")
@click.pass_context
@runs_as()
def dismiss_cmd(ctx: click.Context, key: str, reason: str, fmt: str) -> None:
    """Dismiss recommendation KEY, with the reason (kept; a re-scan does not reopen it)."""
    _decide(ctx, key, "dismissed", reason, fmt)


@prevention_group.command("done")
@click.argument("key")
@click.option("--reason", default=None, help="Optional note (e.g. what was changed).")
@click.option("--format", "fmt", type=FORMAT, default="table")
@click.pass_context
@runs_as()
def done_cmd(ctx: click.Context, key: str, reason: str | None, fmt: str) -> None:
    """Mark recommendation KEY done (a scan reopens it if the pattern comes back after)."""
    _decide(ctx, key, "done", reason, fmt)


@prevention_group.command("reopen")
@click.argument("key")
@click.option("--format", "fmt", type=FORMAT, default="table")
@click.pass_context
@runs_as()
def reopen_cmd(ctx: click.Context, key: str, fmt: str) -> None:
    """Set recommendation KEY back to open."""
    _decide(ctx, key, "open", None, fmt)
