"""``shipwise people resolve``: who is behind a pseudonym in an open investigation, for the
on-call responder who has to call them — with a reason, against identities the responder
supplies, logged (docs/governance.md, "Who to call")."""

from __future__ import annotations

from pathlib import Path

import click

from shipwise.app import people
from shipwise.app.results import dump
from shipwise.cli.access import caller, runs_as
from shipwise.cli.render import emit_json


@click.group("people")
def people_group() -> None:
    """People are pseudonyms; an on-call responder may resolve one (governed, logged)."""


@people_group.command("resolve")
@click.argument("pseudonym")
@click.option("--investigation", "inv_id", required=True,
              help="The open investigation that shows the pseudonym.")
@click.option("--reason", required=True, help="Why you need to reach this person (logged).")
@click.option("--directory", "directory", type=click.Path(exists=True, dir_okay=False),
              help="A file of identities: one person a line, comma-separated login, email and "
                   "how to reach them. Read here, never stored.")
@click.option("--candidate", "names", multiple=True,
              help="An identity it might be (a login or an email); repeat for several.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
@runs_as()
def resolve_cmd(ctx: click.Context, pseudonym: str, inv_id: str, reason: str,
                directory: str | None, names: tuple[str, ...], fmt: str) -> None:
    """Which of the identities you name has PSEUDONYM under this store's key.

    Needs a token with the responder grant (or the store's owner), an open investigation that
    shows PSEUDONYM, and a reason. The lookup is in the audit log (`shipwise audit lookups`); the
    identity is printed here and stored nowhere."""
    text = "\n".join(names)
    if directory:
        text += "\n" + Path(directory).read_text(encoding="utf-8")
    with caller(ctx) as c:
        res = dump(people.resolve_actor(c, inv_id, pseudonym, reason=reason, candidates=text))
    if fmt == "json":
        emit_json(res)
        return
    if res["outcome"] == "match":
        click.echo(f"{res['pseudonym']} is {res['identity']}")
    else:
        click.echo(f"{res['pseudonym']}: no match among {res['candidates']} identities")
    click.echo(res["advice"], err=True)
