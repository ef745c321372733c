"""``shipwise ingest``: connectors."""

from __future__ import annotations

import click

from shipwise.cli.access import caller, runs_as


@click.group("ingest")
def ingest() -> None:
    """Ingest from a connector."""


@ingest.command("git")
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@click.option("--repo", default=None, help="Repository id to record [default: folder name].")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
@runs_as("admin.ingest")
def git_cmd(ctx: click.Context, path: str, repo: str | None, fmt: str) -> None:
    """Commits (sha, parents, author, times, lines added/deleted, files changed) and tags of a
    local git repository. Incremental: a re-run reads only commits not seen before."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from shipwise.app.git import ingest_git
    from shipwise.cli.commands import print_import_report
    from shipwise.cli.render import emit_json

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.completed} commits"), TimeElapsedColumn(),
                  transient=True, disable=fmt == "json") as bar:
        task = bar.add_task("reading history", total=None)
        with caller(ctx) as c:
            res = ingest_git(c, path, repo, progress=lambda n: bar.update(task, completed=n))
    if fmt == "json":
        emit_json({"repo": res.repo, "commits_read": res.commits_read, "tags_read": res.tags_read,
                   "incremental": res.incremental, **res.report.as_dict()})
        return
    click.echo(f"{res.repo}: {res.commits_read} new commits, {res.tags_read} tags"
               + (" (incremental)" if res.incremental else ""))
    if res.report.counts:
        print_import_report(res.report)
