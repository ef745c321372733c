"""``shipwise fairness``: who the flags shipwise raises fall on, and what moves the metrics."""

from __future__ import annotations

from typing import Any

import click

from shipwise.cli.access import caller, runs_as

SEVERITY_STYLE = {"concern": "[bold red]concern[/]", "watch": "[yellow]watch[/]",
                  "ok": "[green]ok[/]"}


@click.group("fairness")
def fairness() -> None:
    """Fairness audit of the flags shipwise raises about teams."""


@fairness.command("audit")
@click.option("--flag", "flags", multiple=True,
              help="Only this flag (repeatable), e.g. dora.low_cluster, cost.tension.")
@click.option("--attribute", "attributes", multiple=True,
              help="Only this team attribute (repeatable), e.g. location.")
@click.option("--migration-quarter", "migration", multiple=True,
              help="Mark this quarter (e.g. 2025-Q2) as a migration quarter for every team, "
                   "instead of what the data marks (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]),
              default="table", show_default=True)
@click.pass_context
@runs_as()
def audit_cmd(ctx: click.Context, flags: tuple[str, ...], attributes: tuple[str, ...],
              migration: tuple[str, ...], fmt: str) -> None:
    """Adverse-impact ratios of every flag across team attributes (four-fifths screen and
    Fisher's exact test), correlation of metrics with context (on-call load, migration quarters,
    team size) and variance between org units, with plain-language findings and what to do.
    Needs the exec or admin role when SHIPWISE_TOKEN is set; every run is logged."""
    from shipwise.app.fairness import audit_markdown
    from shipwise.app.oversight import fairness
    from shipwise.app.results import dump

    with caller(ctx) as c:
        res = dump(fairness(c, flags=flags or None, attributes=attributes or None,
                            context={"migration_quarters": list(migration)} if migration
                            else None))
    if fmt == "json":
        from shipwise.cli.render import emit_json

        emit_json(res)
    elif fmt == "markdown":
        click.echo(audit_markdown(res), nl=False)
    else:
        print_audit(res)


def _n(x: float | None, digits: int = 2) -> str | None:
    return None if x is None else f"{x:.{digits}f}"


def _p(x: float | None) -> str | None:
    return None if x is None else "<0.001" if x < 0.001 else f"{x:.3f}"


def print_audit(res: dict[str, Any]) -> None:
    from shipwise.cli.render import emit_table, percent

    obs = res["observations"]
    click.echo(f"Fairness audit over {obs['since']} – {obs['until']}: {obs['teams']} teams, "
               f"{obs['team_quarters']} team-quarters (not independent: read p-values beside the "
               "team-level columns).")
    emit_table("Findings", ["severity", "finding", "what to do"],
               [(SEVERITY_STYLE[f["severity"]], f["text"],
                 "" if f["severity"] == "ok" else f["what_to_do"]) for f in res["findings"]])
    for flag in res["flags"]:
        rows = []
        for t in flag["attributes"]:
            for g in t["groups"]:
                rows.append((t["attribute"], g["value"], g["teams"], g["observations"],
                             percent(g["flagged_rate"]), _n(g["impact_ratio"]),
                             _p(g["p_adjusted"]),
                             None if g["teams_flagged"] is None
                             else f"{g['teams_flagged']}/{g['teams']}",
                             g["status"] + (" (one team)" if g["suppressed"] else "")))
        emit_table(f"{flag['label']} ({flag['id']}): raised in {flag['raised']} of "
                   f"{flag['observations']} team-quarters",
                   ["attribute", "group", "teams", "team-qtrs", "flagged", "impact ratio",
                    "p (Holm)", "teams flagged", "status"], rows,
                   justify_right=(2, 3, 4, 5, 6))
    emit_table("Metrics and context (Spearman over team-quarters)",
               ["metric or flag", "context", "n", "ρ", "p (Holm)", "ρ team means", "severity"],
               [(r["label"], r["context"].replace("_", " "), r["n"], _n(r["rho"]),
                 _p(r["p_adjusted"]), _n((r["team_level"] or {}).get("rho")),
                 SEVERITY_STYLE[r["severity"]]) for r in res["correlations"]["rows"]],
               justify_right=(2, 3, 4, 5))
    click.echo(f"Migration quarters: {', '.join(res['correlations']['migration']['quarters']) or 'none'}"
               f" ({res['correlations']['migration']['note']}).")
    emit_table("Variance between org units",
               ["metric or flag", "n", "org units", "η²", "Kruskal–Wallis p (Holm)",
                "η² team means", "severity"],
               [(r["label"], r["observations"], r["units"], _n(r["eta_squared"]),
                 _p(r["p_adjusted"]), _n((r["team_level"] or {}).get("eta_squared")),
                 SEVERITY_STYLE[r["severity"]]) for r in res["org_unit_variance"]],
               justify_right=(1, 2, 3, 4, 5))
    click.echo("How to read this: docs/fairness.md; `--format markdown` for the review board.")
