"""``shipwise topology``: the kept topology — an entity's blast radius, and learning it from the
store now (docs/topology.md)."""

from __future__ import annotations

import click

from shipwise.cli.access import caller, runs_as


@click.group("topology")
def topology() -> None:
    """The kept topology: what depends on what, learnt from the store, deployments and every
    investigation's evidence (traces, Prometheus labels, topology files)."""


@topology.command("show")
@click.argument("entity")
@click.option("--depth", type=click.IntRange(1, 10), default=2, show_default=True,
              help="Steps to follow each way.")
@click.option("--days", type=click.FloatRange(min=0, min_open=True), default=30.0,
              show_default=True, help="Only edges last seen within this many days.")
@click.option("--all", "all_", is_flag=True, help="Every kept edge, however old (ignores --days).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
@runs_as()
def show_cmd(ctx: click.Context, entity: str, depth: int, days: float, all_: bool,
             fmt: str) -> None:
    """ENTITY's blast radius: upstream dependents (who is hurt if it fails) and downstream
    dependencies, with the relation, where each edge was learnt and when it was last seen;
    then its owner, repositories and deploy targets."""
    from shipwise.app.topology import show
    from shipwise.cli.render import emit_json, emit_table

    with caller(ctx) as c:
        res = show(c, entity, depth=depth, days=None if all_ else days)
    if fmt == "json":
        emit_json(res.model_dump(mode="json"))
        return
    owner = f", team {res.team}" if res.team else ""
    window = f"edges seen within {res.days:g} days" if res.days else "every kept edge"
    click.echo(f"{res.entity} ({res.kind or 'entity'}{owner}): depth {res.depth}, {window}")
    for title, rows in (("Upstream: hurt if it fails", res.upstream),
                        ("Downstream: what it depends on", res.downstream)):
        emit_table(title, ["entity", "depth", "via", "relation", "origin", "last seen", "seen"],
                   [[x.entity, x.depth, x.via, x.relation, ", ".join(x.origins),
                     x.last_seen_at.strftime("%Y-%m-%d %H:%M"), x.seen] for x in rows]
                   or [["(none)", "", "", "", "", "", ""]], justify_right=(1, 6))
    if res.facts:
        emit_table("Facts", ["source", "relation", "target", "origin", "last seen", "seen"],
                   [[f.source, f.relation, f.target, ", ".join(f.origins),
                     f.last_seen_at.strftime("%Y-%m-%d %H:%M"), f.seen] for f in res.facts],
                   justify_right=(5,))


@topology.command("refresh")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
@runs_as("admin.ingest")
def refresh_cmd(ctx: click.Context, fmt: str) -> None:
    """Learn the topology the store holds now: each service's team, each team's org unit, each
    service's repositories and deploy targets. Run again the same day, it counts nothing twice."""
    from shipwise.app.topology import refresh
    from shipwise.cli.render import emit_json

    with caller(ctx) as c:
        res = refresh(c)
    if fmt == "json":
        emit_json(res.model_dump(mode="json"))
        return
    seen = ", ".join(f"{n} {rel}" for rel, n in res.edges.items()) or "no edges"
    click.echo(f"topology refreshed from the store: {seen}; "
               f"{res.new_observations} new observation(s)")
    if res.trimmed_observations or res.forgotten_edges:
        click.echo(f"retention: {res.trimmed_observations} old observation(s) folded into their "
                   f"edges' counts, {res.forgotten_edges} edge(s) not seen since forgotten")
