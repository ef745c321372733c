"""``shipwise explain``: why a deployment, a pull request or an incident counted (its source, rule,
commits, first production deployments and delivery; the deployment an incident is linked to)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from shipwise.cli.access import caller, runs_as


@click.group("explain")
def explain() -> None:
    """Why a record counted: where it came from and how DORA and flow link it."""


def _at(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return f"{value:%Y-%m-%d %H:%M}"


def _dur(seconds: Any) -> str | None:
    from shipwise.cli.render import duration

    return None if seconds is None else duration(float(seconds))


def _print_list(data: dict[str, Any], fmt: str) -> None:
    from shipwise.cli.render import emit_json, emit_table

    if fmt == "json":
        emit_json(data)
        return
    if not data["rows"]:
        click.echo("Nothing to explain yet.")
        return
    emit_table(None, ["id", "what", "at (UTC)"],
               [[r["id"], r["what"], _at(r.get("at"))] for r in data["rows"]])


def _fields(pairs: list[tuple[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table.grid(padding=(0, 2))
    t.add_column(style="bold")
    t.add_column(overflow="fold")
    for name, value in pairs:
        if value is not None and value != "":
            t.add_row(name, str(value))
    Console(width=None, soft_wrap=False).print(t)


@explain.command("deployment")
@click.argument("deployment_id", required=False)
@click.option("--list", "listing", is_flag=True, help="List the latest deployments' ids.")
@click.option("--service", default=None, help="With --list: only this service's deployments.")
@click.option("--limit", default=20, show_default=True, help="With --list: how many.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
@runs_as()
def deployment_cmd(ctx: click.Context, deployment_id: str | None, listing: bool,
                   service: str | None, limit: int, fmt: str) -> None:
    """Where deployment DEPLOYMENT_ID came from (source, rule), whether and how DORA counts it,
    the commits it shipped with each one's first production deployment (lead time counts from
    the first), their pull requests and which deployment delivered each, and the incidents it
    caused."""
    from shipwise.app.explain import explain_deployment, list_deployments
    from shipwise.app.results import dump
    from shipwise.cli.render import emit_json, emit_table

    if listing or deployment_id is None:
        if deployment_id is not None:
            raise click.UsageError("give a DEPLOYMENT_ID or --list, not both")
        if not listing:
            raise click.UsageError("give a DEPLOYMENT_ID (`shipwise explain deployment --list "
                                   "--service S` lists them)")
        with caller(ctx) as c:
            _print_list(dump(list_deployments(c, service, limit)), fmt)
        return
    with caller(ctx) as c:
        res = dump(explain_deployment(c, deployment_id))
    if fmt == "json":
        emit_json(res)
        return
    click.echo(f"Deployment {res['id']}")
    _fields([("source", res.get("source") or "imported from a file (no connector)"),
             ("rule", res.get("rule")),
             ("service", f"{res['service']} (team {res.get('team') or '–'})"),
             ("environment", res["environment"]), ("status", res["status"]),
             ("kind", res.get("kind")), ("version", res.get("version")),
             ("region", res.get("region")),
             ("started", _at(res["started_at"])), ("finished", _at(res["finished_at"]))])
    if res.get("withheld"):
        click.echo(f"Commit times withheld: {res['withheld']}")
    click.echo("\nHow DORA counts it")
    for reason in res["dora"]["reasons"]:
        click.echo(f"  - {reason}")
    commits = res["commits"]
    if commits:
        emit_table(f"Commits {'shipped' if res['status'] == 'success' else 'listed'} "
                   f"({len(commits)})",
                   ["commit", "committed (UTC)", "lead to here", "first production deployment",
                    "lead counted"],
                   [[c["short_sha"], _at(c.get("committed_at")), _dur(c.get("lead_seconds")),
                     "this one" if c.get("first") else
                     (c.get("first_deployment") or "not deployed yet"),
                     _dur(c.get("counted_lead_seconds"))] for c in commits])
    prs = res["pull_requests"]
    if prs:
        emit_table(f"Pull requests ({len(prs)})",
                   ["pull request", "merged (UTC)", "commits here", "delivered by"],
                   [[p["ref"], _at(p.get("merged_at")), f"{p['commits_here']}/{p['commits']}",
                     "this deployment" if p["delivered_here"] else
                     (p.get("delivered_by") or "not delivered yet")] for p in prs])
    if res["incidents"]:
        emit_table("Incidents linked to its version",
                   ["incident", "severity", "opened (UTC)", "resolved (UTC)", "linked by"],
                   [[i["id"], i["severity"], _at(i["opened_at"]), _at(i.get("resolved_at")),
                     f"{i.get('basis')} ({i.get('deployment_id')})"] for i in res["incidents"]])


@explain.command("pull-request")
@click.argument("ref", required=False, metavar="REPO#N")
@click.option("--list", "listing", is_flag=True, help="List the latest pull requests.")
@click.option("--repo", default=None, help="With --list: only this repository's.")
@click.option("--limit", default=20, show_default=True, help="With --list: how many.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
@runs_as()
def pull_request_cmd(ctx: click.Context, ref: str | None, listing: bool, repo: str | None,
                     limit: int, fmt: str) -> None:
    """Pull request REPO#N (or its id): its times and flow phases (coding, pickup, review,
    deploy), its commits with each one's first production deployment, and the deployment that
    delivered it — or why none did."""
    from shipwise.app.explain import explain_pull_request, list_pull_requests
    from shipwise.app.results import dump
    from shipwise.cli.render import emit_json, emit_table

    if listing or ref is None:
        if ref is not None:
            raise click.UsageError("give REPO#N or --list, not both")
        if not listing:
            raise click.UsageError("give REPO#N (`shipwise explain pull-request --list --repo "
                                   "REPO` lists them)")
        with caller(ctx) as c:
            _print_list(dump(list_pull_requests(c, repo, limit)), fmt)
        return
    with caller(ctx) as c:
        res = dump(explain_pull_request(c, ref))
    if fmt == "json":
        emit_json(res)
        return
    click.echo(f"Pull request {res['ref']}" + (f" ({res['id']})" if res["id"] != res["ref"] else ""))
    phases = res["phases"]
    _fields([("source", res.get("source") or "imported from a file (no connector)"),
             ("team", res.get("team") or "no team owns its repository"),
             ("created", _at(res.get("created_at"))),
             ("first commit", _at(res.get("first_commit_at"))),
             ("first review", _at(res.get("first_review_at"))),
             ("merged", _at(res.get("merged_at"))), ("closed", _at(res.get("closed_at"))),
             ("delivered", _at(res.get("delivered_at"))),
             ("coding", _dur(phases.get("coding_seconds"))),
             ("pickup", _dur(phases.get("pickup_seconds"))),
             ("review", _dur(phases.get("review_seconds"))),
             ("deploy", _dur(phases.get("deploy_seconds"))),
             ("cycle", _dur(phases.get("cycle_seconds")))])
    click.echo(f"\nDelivery: {res['delivery']}")
    if res.get("withheld"):
        click.echo(f"Times withheld: {res['withheld']}")
    commits = res["commits"]
    if commits:
        emit_table(f"Commits ({len(commits)})",
                   ["commit", "committed (UTC)", "first production deployment", "deployed (UTC)",
                    "lead counted"],
                   [[c["short_sha"], _at(c.get("committed_at")),
                     c.get("first_deployment") or "not deployed yet",
                     _at(c.get("first_deployed_at")), _dur(c.get("counted_lead_seconds"))]
                    for c in commits])


@explain.command("incident")
@click.argument("incident_id", required=False)
@click.option("--list", "listing", is_flag=True, help="List the latest incidents' ids.")
@click.option("--service", default=None, help="With --list: only this service's incidents.")
@click.option("--limit", default=20, show_default=True, help="With --list: how many.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
@runs_as()
def incident_cmd(ctx: click.Context, incident_id: str | None, listing: bool,
                 service: str | None, limit: int, fmt: str) -> None:
    """The production deployment incident INCIDENT_ID is linked to and why (its caused_by, a
    label, or the team's time window — docs/incident-links.md), or why none; the production
    deployments of its service around its opening; and what the link changes in DORA (change
    fail rate, time to restore)."""
    from shipwise.app.explain import explain_incident, list_incidents
    from shipwise.app.results import dump
    from shipwise.cli.render import emit_json, emit_table

    if listing or incident_id is None:
        if incident_id is not None:
            raise click.UsageError("give an INCIDENT_ID or --list, not both")
        if not listing:
            raise click.UsageError("give an INCIDENT_ID (`shipwise explain incident --list "
                                   "--service S` lists them)")
        with caller(ctx) as c:
            _print_list(dump(list_incidents(c, service, limit)), fmt)
        return
    with caller(ctx) as c:
        res = dump(explain_incident(c, incident_id))
    if fmt == "json":
        emit_json(res)
        return
    click.echo(f"Incident {res['id']}")
    rules = res["rules"]
    _fields([("source", res.get("source") or "imported from a file (no connector)"),
             ("service", f"{res['service']} (team {res.get('team') or '–'})"),
             ("severity", res["severity"]), ("opened", _at(res["opened_at"])),
             ("resolved", _at(res.get("resolved_at")) or "not resolved"),
             ("caused_by", res.get("caused_by")),
             ("labels", ", ".join(res["labels"]) or None),
             ("linked to", (f"{res['link']['deployment_id']} ({res['link']['normalised_key']}, "
                            f"{res['link']['basis']})") if res.get("link") else "no deployment"),
             ("team rules", "; ".join([
                 f"window {rules['window_hours']:g} h" if rules.get("window_hours")
                 else "no window",
                 "labels " + (", ".join(f"'{p}…'" for p in (rules.get("deployment_label_prefix"),
                                                            rules.get("version_label_prefix"))
                                        if p) or "off")]))])
    click.echo("\nWhy")
    for reason in res["reasons"]:
        click.echo(f"  - {reason}")
    click.echo("\nWhat it changes in DORA")
    for line in res["dora"]:
        click.echo(f"  - {line}")
    if res["candidates"]:
        emit_table("Production deployments of the service around it",
                   ["deployment", "version", "status", "finished (UTC)", "before it opened",
                    "linked"],
                   [[d["id"], d.get("version") or "–", d["status"], _at(d["finished_at"]),
                     _dur(d["seconds_before"]) if d["seconds_before"] >= 0
                     else f"{_dur(-d['seconds_before'])} after", "yes" if d["linked"] else ""]
                    for d in res["candidates"]])
