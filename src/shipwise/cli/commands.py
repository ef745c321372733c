"""Store-level commands: init, import, quarantine, teams, services."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from shipwise.cli.access import caller, runs_as
from shipwise.cli.main import settings_from
from shipwise.cli.render import FORMATS, emit_csv, emit_json, emit_table

if TYPE_CHECKING:
    from shipwise.app.caller import Caller


@click.command("init")
@click.pass_context
def init_cmd(ctx: click.Context) -> None:
    """Create the store and the pseudonymisation key (kept outside the database)."""
    from shipwise.app.context import init_store

    res = init_store(settings_from(ctx))
    click.echo(f"store: {res.db} ({'created' if res.created_store else 'exists'}, schema v{res.schema_version})")
    click.echo(f"pseudonymisation key: {res.key_file} ({'created' if res.created_key else 'exists'})")
    if res.created_key:
        click.echo("Keep the key safe and out of version control: without it, new data cannot be "
                   "linked to the people already in the store.")


def print_import_report(report: Any) -> None:
    """An import's counts per record type, its repeated keys and the reasons records were
    quarantined (an ``ImportReport``)."""
    rows = [
        (t, c.inserted, c.updated, c.unchanged, c.quarantined)
        for t, c in report.counts.items()
    ]
    emit_table("Imported", ["type", "inserted", "updated", "unchanged", "quarantined"], rows,
               justify_right=(1, 2, 3, 4))
    for t, c in report.counts.items():
        if c.passed_on:
            click.echo(f"{t}: {c.passed_on} valid records stored as the records they stand for "
                       "(counted in their rows above).")
    dups = sum(c.duplicates for c in report.counts.values())
    if dups:
        click.echo(f"{dups} records repeated a key within the input; the last one was kept.")
    if report.quarantined:
        click.echo(f"{report.quarantined} records quarantined:", err=True)
        for reason, n in report.reasons.most_common(10):
            click.echo(f"  {n:>6}  {reason}", err=True)
        click.echo("See them with `shipwise quarantine list`.", err=True)


@click.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
@runs_as("admin.ingest")
def import_cmd(ctx: click.Context, paths: tuple[str, ...], fmt: str) -> None:
    """Import canonical event files: .jsonl/.ndjson (a `type` per record), .csv (one type per
    file, named after the type or with a `type` column) and .parquet. Folders are read whole."""
    from rich.console import Console

    from shipwise.app.ingest import import_paths

    console = Console(stderr=True)
    with console.status("importing…") as status:
        # On a terminal a spinner; in logs and pipes one line per step.
        step = status.update if console.is_terminal else (lambda s: console.print(s, highlight=False))
        with caller(ctx) as c:
            report = import_paths(c, paths, progress=step)
    if fmt == "json":
        emit_json(report.as_dict())
    else:
        print_import_report(report)


@click.group("quarantine")
def quarantine() -> None:
    """Records that were rejected at ingest, kept with the reason."""


@quarantine.command("list")
@click.option("--type", "type_name", default=None, help="Only this record type.")
@click.option("--limit", default=50, show_default=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table")
@click.pass_context
@runs_as("admin.quarantine")
def quarantine_list_cmd(ctx: click.Context, type_name: str | None, limit: int, fmt: str) -> None:
    """Show quarantined records (newest first) and a summary by reason. Admins only: a
    rejected line is kept verbatim and can hold names or emails."""
    from shipwise.app.ingest import quarantine_list

    with caller(ctx) as c:
        res = quarantine_list(c, type_name=type_name, limit=limit)
    if fmt == "json":
        emit_json(res)
        return
    rows = [(r["type"], r["reason"], r["source"], r["line"], (r["raw"] or "")[:120]) for r in res["records"]]
    if fmt == "csv":
        emit_csv(["type", "reason", "source", "line", "raw"], rows)
        return
    if not res["total"]:
        click.echo("The quarantine is empty: every record was accepted.")
        return
    emit_table(f"Quarantine: {res['total']} records", ["type", "reason", "records"],
               [(s["type"], s["reason"], s["records"]) for s in res["summary"]], justify_right=(2,))
    emit_table(None, ["type", "reason", "source", "line", "raw"], rows)


def _listing(ctx: click.Context, door: Callable[[Caller], list[Any]], headers: list[str],
             fmt: str, title: str) -> None:
    from shipwise.app.results import dump

    with caller(ctx) as c:
        rows = dump(door(c))
    if fmt == "json":
        emit_json([{h: r[h] for h in headers} for r in rows])
    elif fmt == "csv":
        emit_csv(headers, [[r[h] for h in headers] for r in rows])
    else:
        emit_table(title, headers, [[r[h] for h in headers] for r in rows])


@click.command("teams")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table")
@click.pass_context
@runs_as()
def teams_cmd(ctx: click.Context, fmt: str) -> None:
    """List teams."""
    from shipwise.app.org import teams

    _listing(ctx, teams, ["team", "name", "org_unit", "delivery_unit", "services"], fmt, "Teams")


@click.command("services")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table")
@click.pass_context
@runs_as()
def services_cmd(ctx: click.Context, fmt: str) -> None:
    """List services."""
    from shipwise.app.org import services

    _listing(ctx, services, ["service", "name", "team"], fmt, "Services")
