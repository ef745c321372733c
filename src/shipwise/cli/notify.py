"""``shipwise notify``: the notification outbox (status, deliver, retry) and the weekly team
digest (docs/notifications.md)."""

from __future__ import annotations

import click

from shipwise.cli.access import caller, runs_as
from shipwise.cli.render import emit_json, emit_table


@click.group("notify")
def notify() -> None:
    """Findings where people work: the outbox of Slack, Teams, Jira, ServiceNow, PagerDuty and
    GitHub notifications, and the weekly team digest."""


@notify.command("status")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
@runs_as()
def status_cmd(ctx: click.Context, fmt: str) -> None:
    """Pending, delivered and failed rows per channel, and the latest errors (admins)."""
    from shipwise.app.notify import notify_status
    from shipwise.app.results import dump

    with caller(ctx) as c:
        res = dump(notify_status(c))
    if fmt == "json":
        emit_json(res)
        return
    click.echo(f"outbox: {res['pending']} pending, {res['delivered']} delivered, "
               f"{res['failed']} failed")
    if not res["channels"]:
        click.echo("no channels configured (notify.channels in shipwise.yaml)")
    else:
        emit_table("Channels", ["channel", "kind", "secret"],
                   [(c["name"], c["kind"], c["secret"]) for c in res["channels"]])
    if res["counts"]:
        emit_table("Rows per channel", ["channel", "kind", "status", "rows"],
                   [(r["channel"], r["kind"], r["status"], r["n"]) for r in res["counts"]])
    if res["last_errors"]:
        emit_table("Latest errors (not delivered)",
                   ["row", "channel", "status", "attempts", "next attempt", "error"],
                   [(e["id"], e["channel"], e["status"], e["attempts"],
                     e["next_at"].strftime("%Y-%m-%d %H:%M:%S") if e["status"] == "pending"
                     else "–", e["last_error"]) for e in res["last_errors"]])


@notify.command("deliver")
@click.option("--limit", type=click.IntRange(1, 100_000), default=None,
              help="At most this many rows [default: notify.deliver.batch].")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
@runs_as()
def deliver_cmd(ctx: click.Context, limit: int | None, fmt: str) -> None:
    """Deliver the rows due now, once (`shipwise serve` does this in the background)."""
    from shipwise.app.notify import deliver
    from shipwise.app.results import dump

    with caller(ctx) as c:
        res = dump(deliver(c, limit=limit))
    if fmt == "json":
        emit_json(res)
        return
    click.echo(f"delivered {res['delivered']}, retrying later {res['retrying']}, failed "
               f"{res['failed']}, waiting on their thread {res['waiting']}"
               + (f", found already delivered {res['reconciled']}" if res["reconciled"] else ""))
    for e in res["errors"]:
        click.echo(f"  {e}")


@notify.command("retry")
@click.option("--channel", default=None, help="Only this channel's failed rows.")
@click.pass_context
@runs_as()
def retry_cmd(ctx: click.Context, channel: str | None) -> None:
    """Make failed rows pending again (after fixing what failed them)."""
    from shipwise.app.notify import retry_failed

    with caller(ctx) as c:
        n = retry_failed(c, channel=channel).requeued
    click.echo(f"{n} failed row(s) pending again")


@notify.command("digest")
@click.option("--team", required=True, help="The team (its own figures, against its own past).")
@click.option("--week", default=None, help="ISO week, e.g. 2026-W39 [default: the last full "
                                           "week of the data].")
@click.option("--send", is_flag=True, help="Send it to notify.digest.channel (once per team and "
                                           "week) instead of only showing it.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
@runs_as()
def digest_cmd(ctx: click.Context, team: str, week: str | None, send: bool, fmt: str) -> None:
    """The weekly team digest: DORA, flow, strain and SLO budget against the team's own past
    weeks; never other teams, never people; small groups suppressed."""
    from shipwise.app.notify import digest
    from shipwise.app.results import dump

    with caller(ctx) as c:
        res = dump(digest(c, team, week=week, send=send))
    if fmt == "json":
        emit_json(res)
        return
    click.echo(res["text"])
    if send:
        where = "delivered" if res["delivered"] else "not delivered yet (`shipwise notify status`)"
        click.echo(f"\n{'queued' if res['queued'] else 'already in the outbox for this week'}"
                   f": {where}")
