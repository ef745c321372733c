"""``shipwise sync`` and ``shipwise doctor``: read the configured sources, and check them first."""

from __future__ import annotations

import click

from shipwise.cli.access import caller, runs_as


@click.command("sync")
@click.argument("sources", nargs=-1)
@click.option("--scope", "scopes", multiple=True,
              help="Only this repository/project of the sources (repeatable).")
@click.option("--restart", is_flag=True,
              help="Forget the cursors of these sources/scopes and read everything again "
                   "(after mapping a service; nothing is counted twice).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
@runs_as("admin.ingest")
def sync_cmd(ctx: click.Context, sources: tuple[str, ...], scopes: tuple[str, ...], restart: bool,
             fmt: str) -> None:
    """Read the sources configured in shipwise.yaml (all, or those named): pull requests,
    reviews, commits, deployments, pipelines and releases; incidents and pages. Incremental and resumable: a second
    sync reads only what changed; a sync killed half-way resumes where it stopped."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
    )

    from shipwise.app.results import dump
    from shipwise.app.sync import SyncEvent, sync_sources
    from shipwise.cli.render import emit_json, emit_table

    console = Console(stderr=True)
    tasks: dict[str, TaskID] = {}
    with Progress(TextColumn("{task.fields[source]}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                  transient=True, disable=fmt == "json" or not console.is_terminal) as bar:

        def on(event: SyncEvent) -> None:
            task = tasks.get(event.source)
            if task is None:
                task = tasks[event.source] = bar.add_task("", total=event.total or None,
                                                          source=event.source)
            if event.kind == "scope":
                bar.update(task, total=event.total, description=f"{event.scope}")
            elif event.kind == "batch":
                bar.update(task, description=f"{event.scope}: {event.rows:,} records")
            elif event.kind == "done":
                bar.update(task, completed=event.index)

        with caller(ctx) as c:
            report = sync_sources(c, sources, scopes=scopes, progress=on, restart=restart)
    if fmt == "json":
        emit_json(dump(report))
    else:
        emit_table("Synced", ["source", "scope", "status", "records", "inserted", "updated",
                              "quarantined", "requests", "seconds"],
                   [(s.source, s.scope, s.status + (" (incremental)" if s.incremental else ""),
                     s.records, s.inserted, s.updated, s.quarantined,
                     "" if s.requests is None else s.requests, f"{s.seconds:.1f}")
                    for s in report.scopes], justify_right=(3, 4, 5, 6, 7, 8))
        for s in report.scopes:
            for note in s.notes:
                click.echo(f"{s.source} {s.scope}: {note}", err=True)
        quarantined = sum(s.quarantined for s in report.scopes)
        if quarantined:
            click.echo(f"{quarantined} records quarantined: see them with `shipwise quarantine "
                       "list` (most often a repository not mapped to a service: `shipwise doctor`).",
                       err=True)
    failed = report.failed
    if failed:
        for s in failed:
            click.echo(f"Error: {s.source} {s.scope}: {s.error}", err=True)
        raise SystemExit(1)


@click.command("doctor")
@click.argument("sources", nargs=-1)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
@runs_as("admin.ingest")
def doctor_cmd(ctx: click.Context, sources: tuple[str, ...], fmt: str) -> None:
    """Check settings, store, secrets, hosts, token scopes, rate limits and that every repository
    maps to a service — cheapest first — and say in one sentence per problem what to do."""
    from shipwise.app.doctor import doctor
    from shipwise.app.results import DoctorCheck, DoctorReport, dump
    from shipwise.cli.render import emit_json
    from shipwise.errors import ConfigError

    try:
        with caller(ctx) as c:
            report = doctor(c, sources)
    except ConfigError as exc:  # the settings themselves: the first and only problem
        report = DoctorReport(checks=[DoctorCheck(
            area="settings", what="shipwise.yaml is valid", ok=False,
            problem=f"{exc}" + (f" ({exc.hint})" if exc.hint else ""))])
    if fmt == "json":
        emit_json(dump(report) | {"problems": len(report.problems)})
    else:
        for check in report.checks:
            if check.ok:
                click.echo(f"  ok   {check.area}: {check.what}")
            else:
                click.echo(f"  FIX  {check.area}: {check.problem}")
        n = len(report.problems)
        click.echo("No problems found." if not n else f"{n} problem(s) found.")
    if report.problems:
        raise SystemExit(1)
