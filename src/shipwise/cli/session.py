"""``shipwise session``: the web dashboard's sessions (rotate the secret that signs them)."""

from __future__ import annotations

import click

from shipwise.cli.access import runs_as
from shipwise.cli.main import settings_from
from shipwise.cli.render import emit_json
from shipwise.http.auth import rotate_session_secret


@click.group("session")
def session() -> None:
    """Web dashboard sessions (the secret that signs them lives beside the pseudonymisation key)."""


@session.command("rotate")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
@runs_as("admin.tokens")
def rotate_cmd(ctx: click.Context, fmt: str) -> None:
    """Rotate the session secret: every web session ends, everyone signs in again."""
    res = rotate_session_secret(settings_from(ctx))
    if fmt == "json":
        emit_json(res)
        return
    ended = res["sessions_ended"]
    click.echo(f"rotated the session secret in {res['secret_file']}: every web session has ended "
               + (f"({ended} were live)" if ended is not None else
                  "(a running server holds the store; it reads the new secret at its next "
                  "request)"))
