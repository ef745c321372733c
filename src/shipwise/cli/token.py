"""``shipwise token``: API tokens (create shows the token once; revoke; list)."""

from __future__ import annotations

import click

from shipwise.app import admin
from shipwise.app.results import dump
from shipwise.cli.access import caller, runs_as
from shipwise.cli.render import emit_json, emit_table


@click.group("token")
def token() -> None:
    """API tokens for the REST API, the web dashboard and MCP (roles: member, lead, exec, admin)."""


@token.command("create")
@click.option("--name", required=True, help="Who or what uses it (a person's role, a script).")
@click.option("--role", required=True, type=click.Choice(["member", "lead", "exec", "admin"]))
@click.option("--team", default=None, help="The team of a member or lead.")
@click.option("--responder", is_flag=True,
              help="A member or lead on call: may resolve actors' pseudonyms in open "
                   "investigations of the team's services, with a reason (logged).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
@runs_as()
def create_cmd(ctx: click.Context, name: str, role: str, team: str | None, responder: bool,
               fmt: str) -> None:
    """Create a token. It is shown once and stored only as a hash."""
    with caller(ctx) as c:
        res = dump(admin.create_token(c, name, role, team, responder=responder))
    if fmt == "json":
        emit_json(res)
        return
    click.echo(res["token"])
    click.echo(f"token {res['id']} for {res['name']} ({role}{', team ' + team if team else ''}): "
               "store it now, it is not shown again", err=True)


@token.command("revoke")
@click.argument("token_id")
@click.pass_context
@runs_as()
def revoke_cmd(ctx: click.Context, token_id: str) -> None:
    """Revoke a token by its id (the part after sw_)."""
    with caller(ctx) as c:
        admin.revoke_token(c, token_id)
    click.echo(f"revoked {token_id}")


@token.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
@runs_as()
def list_cmd(ctx: click.Context, fmt: str) -> None:
    """Tokens (never their secrets)."""
    with caller(ctx) as c:
        rows = dump(admin.tokens(c))
    if fmt == "json":
        emit_json(rows)
        return
    emit_table("API tokens", ["id", "name", "role", "team", "responder", "created", "revoked",
                              "last used"],
               [(r["id"], r["name"], r["role"], r.get("team"),
                 "yes" if r.get("responder") else "", r.get("created_at"),
                 r.get("revoked_at"), r.get("last_used_at")) for r in rows])
