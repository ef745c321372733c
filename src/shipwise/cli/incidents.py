"""``shipwise incidents``: the imported incidents (canonical import, PagerDuty, Opsgenie,
ServiceNow, Jira) with their duration, cause and the investigations that cover them."""

from __future__ import annotations

from typing import Any

import click

from shipwise.app import incidents
from shipwise.app.results import dump
from shipwise.cli.access import caller, runs_as
from shipwise.cli.render import emit_csv, emit_json, emit_table


def duration(seconds: float | None) -> str:
    """A duration as people read it: 45 min, 2 h 25 min, 3 d 4 h (open: –)."""
    if seconds is None:
        return "open"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _at(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else "–"


@click.group("incidents")
def incidents_group() -> None:
    """Imported incidents: list (filter by team, service, severity, period), show one."""


@incidents_group.command("list")
@click.option("--team", default=None, help="Only the incidents of this team's services.")
@click.option("--service", default=None, help="Only this service's incidents.")
@click.option("--severity", default=None, help="Only this severity (sev1 … sev5).")
@click.option("--since", default=None, help="Opened from this day or instant (UTC).")
@click.option("--until", default=None, help="Opened before this day or instant (UTC).")
@click.option("--open", "open_only", is_flag=True, help="Only unresolved incidents.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table")
@click.pass_context
@runs_as()
def list_cmd(ctx: click.Context, team: str | None, service: str | None, severity: str | None,
             since: str | None, until: str | None, open_only: bool, limit: int,
             fmt: str) -> None:
    """Newest first (a member's or lead's token: their team's services)."""
    with caller(ctx) as c:
        res = dump(incidents.incident_list(c, team=team, service=service, severity=severity,
                                           since=since, until=until, open_only=open_only,
                                           limit=limit))
    rows = res["incidents"]
    headers = ["id", "service", "team", "severity", "opened_at", "resolved_at",
               "duration_seconds", "caused_by", "source", "investigations"]
    if fmt == "json":
        emit_json(res)
    elif fmt == "csv":
        emit_csv(headers, [[";".join(r[h]) if h == "investigations" else r.get(h)
                            for h in headers] for r in rows])
    else:
        emit_table(f"Incidents ({len(rows)} of {res['total']}, newest first)",
                   ["id", "service", "severity", "opened (UTC)", "lasted", "caused by",
                    "investigations"],
                   [(r["id"], r["service"], r["severity"], _at(r["opened_at"]),
                     duration(r.get("duration_seconds")), r.get("caused_by") or "–",
                     ", ".join(r["investigations"]) or "–") for r in rows])


@incidents_group.command("show")
@click.argument("incident_id")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
@runs_as()
def show_cmd(ctx: click.Context, incident_id: str, fmt: str) -> None:
    """One incident: when, how long, what caused it and why, the investigations covering it."""
    with caller(ctx) as c:
        res = dump(incidents.incident_detail(c, incident_id))
    if fmt == "json":
        emit_json(res)
        return
    i, e = res["incident"], res["explanation"]
    click.echo(f"{i['id']} — {i['severity']} on {i['service']} (team {i.get('team') or '–'})")
    click.echo(f"opened {_at(i['opened_at'])} UTC, resolved {_at(i.get('resolved_at'))} UTC, "
               + (f"lasted {duration(i['duration_seconds'])}" if i.get('duration_seconds') is not None
                  else "still open"))
    click.echo(f"source: {i.get('source') or 'imported from a file'}"
               + (f"; labels: {', '.join(i['labels'])}" if i["labels"] else ""))
    click.echo(f"caused by: {i.get('caused_by') or 'no deployment'}"
               + (f" ({i['caused_by_basis']})" if i.get("caused_by_basis") else ""))
    for reason in e.get("reasons", []):
        click.echo(f"  - {reason}")
    invs = i["investigations"]
    click.echo("investigations: " + (", ".join(invs) if invs else
                                     "none (no alarm of this service was investigated then)"))
