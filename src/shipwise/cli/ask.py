"""``shipwise ask INV "question"``: a follow-up question on a stored investigation (docs/ask.md)."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from shipwise.app import ask as door
from shipwise.app.results import dump
from shipwise.cli.access import caller, runs_as
from shipwise.cli.render import emit_json


@click.command("ask")
@click.argument("inv_id")
@click.argument("question", nargs=-1, required=True)
@click.option("--no-rescope", "no_rescope", is_flag=True,
              help="Answer a re-scoping question from the record instead of re-running.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
@runs_as()
def ask_cmd(ctx: click.Context, inv_id: str, question: tuple[str, ...], no_rescope: bool,
            fmt: str) -> None:
    """Ask investigation INV_ID a follow-up question, answered from its record with the
    evidence behind each fact: "when did it start?", "which alarms fired?", "how many
    customers?", "what was ruled out and why?", "what changed before it?"… A question that
    narrows it ("focus on the most recent wave", "only us-east", "what about the database?",
    "last 30 minutes") re-runs the investigation narrowed and links the new record. Exits 2
    when the record cannot answer it."""
    with caller(ctx) as c:
        res = dump(door.ask(c, inv_id, " ".join(question), rescope_allowed=not no_rescope))
    if fmt == "json":
        emit_json(res)
    else:
        print_answer(res)
    if not res["answered"]:
        raise SystemExit(2)


def print_answer(res: dict[str, Any]) -> None:
    con = Console(width=None if sys.stdout.isatty() else 140, highlight=False)
    if res.get("prose"):
        con.print(escape(res["prose"]["text"]))
        how = "an open question, answered" if res["prose"].get("open_question") else "rephrased"
        con.print(f"[dim]({how} by {escape(res['prose']['model'])} from the facts below)[/]")
    con.print(f"[bold]{escape(res['answer'])}[/]")
    for f in res.get("facts") or []:
        con.print(f"  • {escape(f['text'])}" + (f"  [dim]({escape(f['ref'])})[/]" if f.get("ref") else ""))
    r = res.get("rescoped")
    if r:
        con.print(f"[dim]New investigation {r['id']} (child of {r['parent_id']}): "
                  f"shipwise investigations show {r['id']}[/]")
    if res.get("rescope_note"):
        con.print(f"[yellow]{escape(res['rescope_note'])}[/]")
    if res.get("prose_error"):
        con.print(f"[dim]LLM prose unavailable: {escape(res['prose_error'])}[/]")
    if res.get("suggestions"):
        con.print("Questions the record can answer:")
        for s in res["suggestions"]:
            con.print(f"  - {escape(s)}")
