"""``shipwise charter``, ``shipwise audit`` and ``shipwise retention``."""

from __future__ import annotations

from datetime import UTC, date, datetime

import click

from shipwise.cli.access import caller, runs_as
from shipwise.cli.metrics import _parse_date
from shipwise.cli.render import FORMATS, emit_csv, emit_json, emit_table


@click.group("charter")
def charter() -> None:
    """The metric charter: what each metric means, may and may not inform, who sees it, and how
    long its inputs are kept."""


@charter.command("show")
@click.option("--metric", "metric_id", help="Only this metric's entry.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "yaml"]), default="table")
def charter_show(metric_id: str | None, fmt: str) -> None:
    """The charter (or one entry)."""
    from shipwise.app.catalog import charter_entry_of, charter_report
    from shipwise.app.results import dump

    if metric_id:
        entry = dump(charter_entry_of(metric_id))
        if fmt == "table":
            for k, v in entry.items():
                if k not in ("charter_version", "docs"):
                    click.echo(f"{k:<16} {', '.join(v) if isinstance(v, list) else v}")
        else:
            _dump({k: v for k, v in entry.items() if k != "docs"}, fmt)
        return
    rep = dump(charter_report())
    if fmt != "table":
        _dump(rep, fmt)
        return
    click.echo(f"metric charter v{rep['version']}: {rep['changes'].get(str(rep['version']), '')}")
    click.echo("never informs: " + ", ".join(rep["forbidden_uses"]))
    emit_table("Retention of person-level inputs", ["record type", "days", "then", "why"],
               [(k, v["days"], v["action"].replace("_", " "), v["why"])
                for k, v in rep["retention"].items()])
    emit_table("Metrics", ["id", "view", "audience", "may inform", "inputs"],
               [(k, v["view"], ", ".join(v["audience"]), ", ".join(v["may_inform"]),
                 ", ".join(v["inputs"])) for k, v in rep["metrics"].items()])


def _dump(data: object, fmt: str) -> None:
    if fmt == "yaml":
        import yaml

        click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    else:
        emit_json(data)


@charter.command("validate")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
def charter_validate(path: str | None) -> None:
    """Check the charter (or a proposed charter file) against the metric registry and the rules:
    an entry per metric, forbidden uses repeated everywhere, people-derived metrics diagnostic
    only, known roles and inputs, a retention period for every person-level input. Exit 1 when
    a rule is broken."""
    from shipwise.app.catalog import check_charter

    c = check_charter(path)
    for p in c.problems:
        click.echo(f"✗ {p}")
    if c.problems:
        raise SystemExit(1)
    click.echo(f"✓ charter v{c.version}: {c.metrics} metrics, {c.retention_rules} retention "
               "rules; every rule holds")


@click.group("audit")
def audit() -> None:
    """The audit log (admins): every read through the API, web, MCP and CLI."""


@audit.command("list")
@click.option("--people-derived", "people", is_flag=True,
              help="Only reads of figures computed from people's activity.")
@click.option("--since", callback=_parse_date, help="From this day (UTC), YYYY-MM-DD.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table")
@click.pass_context
@runs_as()
def audit_list(ctx: click.Context, people: bool, since: date | None, limit: int, fmt: str) -> None:
    """Who read what, when: newest first."""
    from shipwise.app.admin import access_log
    from shipwise.app.results import dump

    with caller(ctx) as c:
        start = datetime(since.year, since.month, since.day, tzinfo=UTC) if since else None
        rows = dump(access_log(c, limit=limit, people_derived=True if people else None,
                               since=start))
    headers = ["read_at", "reader", "role", "interface", "action", "subject", "allowed",
               "people_derived"]
    if fmt == "json":
        emit_json(rows)
    elif fmt == "csv":
        emit_csv(headers, [[r[h] for h in headers] for r in rows])
    else:
        emit_table("Audit log", headers, [[
            r["read_at"].strftime("%Y-%m-%d %H:%M:%S"), r["reader"] or r["token_id"] or "–",
            r["role"], r["interface"], r["action"], r["subject"] or "",
            "yes" if r["allowed"] else "REFUSED", "yes" if r["people_derived"] else ""]
            for r in rows])


@audit.command("lookups")
@click.option("--investigation", "inv_id", default=None, help="Only lookups for this investigation.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table")
@click.pass_context
@runs_as()
def audit_lookups(ctx: click.Context, inv_id: str | None, limit: int, fmt: str) -> None:
    """Actor lookups (`shipwise people resolve`): who resolved which pseudonym, for which
    investigation, why, and the outcome — never the identity."""
    from shipwise.app.people import actor_lookups
    from shipwise.app.results import dump

    with caller(ctx) as c:
        rows = dump(actor_lookups(c, limit=limit, investigation_id=inv_id))
    headers = ["looked_up_at", "reader", "role", "interface", "investigation_id", "pseudonym", "reason",
               "outcome", "detail", "candidates"]
    if fmt == "json":
        emit_json(rows)
    elif fmt == "csv":
        emit_csv(headers, [[r.get(h) for h in headers] for r in rows])
    else:
        emit_table("Actor lookups", ["when (UTC)", "reader", "role", "investigation", "pseudonym",
                                     "reason", "outcome"], [[
            r["looked_up_at"].strftime("%Y-%m-%d %H:%M:%S"), r.get("reader") or r.get("token_id") or "–",
            r["role"], r["investigation_id"], r["pseudonym"], r.get("reason") or "–",
            r["outcome"] + (f": {r['detail']}" if r.get("detail") else "")] for r in rows])


@click.group("retention")
def retention() -> None:
    """Retention of person-level inputs (the charter's periods)."""


@retention.command("apply")
@click.option("--as-of", "as_of", callback=_parse_date,
              help="Apply as if today were this day (default: today, UTC).")
@click.option("--dry-run", is_flag=True, help="Report what would be removed; change nothing.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
@runs_as()
def retention_apply_cmd(ctx: click.Context, as_of: date | None, dry_run: bool, fmt: str) -> None:
    """Purge person-level inputs older than their retention period (pages deleted; authors
    removed from commits and pull requests; ended memberships deleted) and keep every aggregate.
    Admins only; recorded in the audit log and in `shipwise retention runs`."""
    from shipwise.app.admin import retention_apply
    from shipwise.app.results import dump

    when = datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC) if as_of else None
    with caller(ctx) as c:
        rep = dump(retention_apply(c, as_of=when, dry_run=dry_run))
    if fmt == "json":
        emit_json(rep)
        return
    emit_table(f"Retention {'(dry run: nothing changed) ' if dry_run else ''}as of "
               f"{rep['as_of'][:10]} — charter v{rep['charter_version']}",
               ["record type", "kept (days)", "before", "action", "rows"],
               [(r["record_type"], r["days"], r["before"][:10], r["action"], r["rows"])
                for r in rep["records"]], justify_right=(1, 4))
    for f in rep["facts"]:
        click.echo(f"{f['table']}: {f['unlinked_rows']} rows before {f['before'][:10]} kept for the "
                   "aggregates, unlinked from people")
    click.echo(f"people counts frozen for {rep['frozen_people_counts']} period groups; "
               f"{rep.get('frozen_strain_figures', 0)} strain figures of the periods a cut-off "
               "falls inside frozen")


@retention.command("runs")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table")
@click.pass_context
@runs_as()
def retention_runs_cmd(ctx: click.Context, fmt: str) -> None:
    """Earlier retention runs and what each removed."""
    from shipwise.app.admin import retention_runs
    from shipwise.app.results import dump

    with caller(ctx) as c:
        rows = dump(retention_runs(c))
    headers = ["run_at", "record_type", "cutoff", "action", "rows"]
    if fmt == "json":
        emit_json(rows)
    elif fmt == "csv":
        emit_csv(headers, [[r[h] for h in headers] for r in rows])
    else:
        emit_table("Retention runs", headers, [[r[h] for h in headers] for r in rows])
