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
@click.option("--deployments-from-tags", "tags", default=None, metavar="PATTERN",
              help="Tags matching this pattern (shell-style, case-sensitive: 'v*') are "
                   "deployments; each ships the commits since the previous matching tag.")
@click.option("--service", default=None,
              help="Service of the tag deployments [default: the service the organisation "
                   "maps the repository to].")
@click.option("--environment", default="production", show_default=True,
              help="Environment of the tag deployments.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
@runs_as("admin.ingest")
def git_cmd(ctx: click.Context, path: str, repo: str | None, tags: str | None,
            service: str | None, environment: str, fmt: str) -> None:
    """Commits (sha, parents, author, times, lines added/deleted, files changed) and tags of a
    local git repository. Incremental: a re-run reads only commits not seen before.

    With --deployments-from-tags, each matching tag is also a production deployment (version =
    the tag) of the repository's service, shipping the commits reachable from it and not from
    the previous matching tag (the first tag ships all its history, so its lead time is long).
    A re-run emits only tags not seen before."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from shipwise.app.git import ingest_git
    from shipwise.cli.commands import print_import_report
    from shipwise.cli.render import emit_json

    if (service is not None or environment != "production") and not tags:
        raise click.UsageError("--service and --environment apply to --deployments-from-tags")
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.completed} commits"), TimeElapsedColumn(),
                  transient=True, disable=fmt == "json") as bar:
        task = bar.add_task("reading history", total=None)
        with caller(ctx) as c:
            res = ingest_git(c, path, repo, progress=lambda n: bar.update(task, completed=n),
                             deployments_from_tags=tags, service=service,
                             environment=environment)
    fix = (f"{res.deployment_service!r} is not a service of the organisation, so the "
           f"deployments from tags were quarantined (unknown service): name the service of "
           f"repository {res.repo!r} in the organisation file (service.repo: {res.repo}) or pass "
           f"--service SERVICE, then run this command again") if res.unknown_service else None
    if fmt == "json":
        emit_json({"repo": res.repo, "commits_read": res.commits_read, "tags_read": res.tags_read,
                   "incremental": res.incremental,
                   **({"deployments_read": res.deployments_read,
                       "deployment_service": res.deployment_service} if tags else {}),
                   **({"hint": fix} if fix else {}), **res.report.as_dict()})
        return
    click.echo(f"{res.repo}: {res.commits_read} new commits, {res.tags_read} tags"
               + (f", {res.deployments_read} new deployments from tags of "
                  f"{res.deployment_service}" if tags else "")
               + (" (incremental)" if res.incremental else ""))
    if res.report.counts:
        print_import_report(res.report)
    if fix:
        click.echo(f"Note: {fix}.", err=True)
