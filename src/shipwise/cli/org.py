"""``shipwise org``: the organisation file — check it, apply it (with a plan first), export it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from shipwise.cli.access import caller, runs_as

if TYPE_CHECKING:
    from shipwise.app.results import OrgApplyResult

KIND_TITLES = {"org_unit": "Org units", "team": "Teams", "service": "Services",
               "person": "People"}


@click.group("org")
def org() -> None:
    """The organisation file (org.yaml): org units, teams, people, services and owners."""


def _read(file: str) -> tuple[str, str]:
    """The file's text and the name errors give it (``-``: standard input)."""
    if file == "-":
        return sys.stdin.read(), "<stdin>"
    path = Path(file)
    if not path.is_file():
        raise click.BadParameter(f"no file {file}", param_hint="FILE")
    return path.read_text(encoding="utf-8"), file


def _problems(exc: Exception) -> None:
    """Every problem of the file on its own line, compiler style (``org.yaml:12:5: ...``)."""
    from shipwise.app.orgfile import OrgFileError

    assert isinstance(exc, OrgFileError)
    for p in exc.problems:
        where = f"{exc.source}:{p.line}" + (f":{p.column}" if p.column else "")
        click.echo(f"{where}: error: {p.message}", err=True)
    click.echo(f"{len(exc.problems)} problem(s); nothing was written.", err=True)
    sys.exit(1)


def _render(res: OrgApplyResult) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(width=None if sys.stdout.isatty() else 160)
    if not res.changes and not res.rewritten:
        console.print(f"{res.source}: no changes.")
        return
    signs = {"added": ("+", "green"), "changed": ("~", "yellow"), "removed": ("-", "red")}
    for kind, title in KIND_TITLES.items():
        rows = [c for c in res.changes if c.kind == kind]
        if not rows:
            continue
        table = Table(title=title, title_justify="left", show_header=True, header_style="bold",
                      show_lines=False)
        table.add_column("", width=1)
        table.add_column("id", overflow="fold")
        table.add_column("line", justify="right")
        table.add_column("what", overflow="fold")
        for c in rows:
            sign, colour = signs[c.action]
            if c.action == "removed":
                refs = ", ".join(f"{n} {what}" for what, n in (c.referenced_by or {}).items())
                what = (Text(f"kept: referenced by {refs}", style="bold red") if refs else
                        Text("deleted" if res.prune else "not in the file (deleted only with "
                             "--prune)", style="red"))
            else:
                what = Text()
                for i, (field, (old, new)) in enumerate(c.fields.items()):
                    if i:
                        what.append("\n")
                    what.append(f"{field}: ", style="bold")
                    if c.action == "changed":
                        what.append(old or "–", style="red")
                        what.append(" → ")
                    what.append(new or "–", style="green")
            table.add_row(Text(sign, style=colour), Text(c.id), str(c.line or ""), what)
        console.print(table)
    for column, n in res.rewritten.items():
        console.print(f"re-attributed to the canonical person: {n} row(s) of {column}")
    counts = {a: sum(1 for c in res.changes if c.action == a)
              for a in ("added", "changed", "removed")}
    summary = ", ".join(f"{n} {a}" for a, n in counts.items())
    if res.dry_run:
        console.print(f"Plan: {summary}. Dry run: nothing was written.")
    else:
        kept = "" if res.prune or not counts["removed"] else (
            " Removed entries were kept (run with --prune to delete them).")
        console.print(f"Applied: {summary}.{kept}")


@org.command("apply")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--dry-run", is_flag=True, help="Show the plan; write nothing.")
@click.option("--prune", is_flag=True,
              help="Delete what the store holds and the file does not list (never what data "
                   "still references).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
@runs_as("admin.ingest")
def apply_cmd(ctx: click.Context, file: str, dry_run: bool, prune: bool, fmt: str) -> None:
    """Apply an organisation file (FILE, or - for standard input): show what changes (added,
    changed field: old → new, removed) and write it. Applying the same file again changes
    nothing. Every problem of the file is reported with its line; then nothing is written."""
    from shipwise.app.orgfile import OrgFileError, apply_org
    from shipwise.cli.render import emit_json

    text, source = _read(file)
    try:
        with caller(ctx) as c:
            res = apply_org(c, text, source, dry_run=dry_run, prune=prune)
    except OrgFileError as exc:
        _problems(exc)
        return
    if fmt == "json":
        emit_json(res.model_dump(mode="json"))
        return
    _render(res)


@org.command("check")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.pass_context
@runs_as()
def check_cmd(ctx: click.Context, file: str) -> None:
    """Validate an organisation file without a store: every problem with its line."""
    from shipwise.app.orgfile import OrgFileError, check_org_file

    text, source = _read(file)
    try:
        res = check_org_file(text, source)
    except OrgFileError as exc:
        _problems(exc)
        return
    click.echo(f"{source}: valid — {res.org_units} org units, {res.teams} teams, "
               f"{res.people} people, {res.services} services.")


@org.command("export")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False), default=None,
              help="Write to this file [default: standard output].")
@click.pass_context
@runs_as("admin.ingest")
def export_cmd(ctx: click.Context, output: str | None) -> None:
    """Write today's organisation as an organisation file (people by pseudonym)."""
    from shipwise.app.orgfile import export_org

    with caller(ctx) as c:
        res = export_org(c)
    if output is None:
        click.echo(res.yaml, nl=False)
        return
    Path(output).write_text(res.yaml, encoding="utf-8")
    click.echo(f"wrote {output}: " + ", ".join(f"{n} {k.replace('_', ' ')}"
                                               for k, n in res.counts.items()), err=True)
