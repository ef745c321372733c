"""``shipwise export``: the store's canonical records written out for other engines."""

from __future__ import annotations

from pathlib import Path

import click

from shipwise.cli.access import caller, runs_as
from shipwise.cli.render import emit_json


@click.group("export")
def export() -> None:
    """Write the store's canonical records out for other engines."""


@export.command("parquet")
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
@runs_as("admin.export")
def parquet_cmd(ctx: click.Context, out: str, fmt: str) -> None:
    """Every canonical table and the calendar as OUT/<table>.parquet with OUT/manifest.json:
    what `shipwise metrics dora --engine spark --data OUT` reads (docs/spark.md). The records
    are person-level (pseudonymised): admin only, and keep the folder as private as the store."""
    from shipwise.app.export import export_parquet
    from shipwise.app.results import dump

    with caller(ctx) as c:
        res = dump(export_parquet(c, Path(out)))
    if fmt == "json":
        emit_json(res)
        return
    total = sum(res["rows"].values())
    click.echo(f"wrote {len(res['rows'])} tables ({total:,} rows) to {res['folder']}; "
               f"`shipwise metrics dora --engine spark --data {res['folder']}` reads them")
