"""``shipwise metrics``: list, explain and compute."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import click

from shipwise.cli.access import caller, runs_as
from shipwise.cli.render import FORMATS, cell, emit_csv, emit_json, emit_table
from shipwise.metrics.ids import DORA_2024_LEVELS, DORA_GROUPS, SHOWN_TABLE, SHOWN_TREND
from shipwise.metrics.registry import Metric, grouped


@click.group("metrics")
def metrics() -> None:
    """List, explain and compute metrics."""


@metrics.command("list")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table")
def list_cmd(fmt: str) -> None:
    """Every registered metric id with its unit, and the engines it is proven on."""
    from shipwise.app.catalog import listing

    headers = ["id", "title", "unit", "better", "view", "engines"]
    rows = [tuple(r[h] for h in headers) for r in listing()]
    if fmt == "json":
        emit_json([dict(zip(headers, r, strict=True)) for r in rows])
    elif fmt == "csv":
        emit_csv(headers, rows)
    else:
        emit_table("Metrics", headers, rows)


@metrics.command("explain")
@click.argument("metric_id")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def explain_cmd(metric_id: str, fmt: str) -> None:
    """A metric's charter entry: definition, unit, exclusions, what it may and may not inform."""
    from shipwise.app.catalog import explanation

    m, entry = explanation(metric_id)
    if fmt == "json":
        emit_json({"id": m.id, "title": m.title, "family": m.family, "better": m.better,
                   "docs": f"docs/metrics/{m.id}.md", **entry.model_dump()})
        return
    click.echo(f"{m.id} — {m.title}\n")
    click.echo(entry.definition + "\n")
    for label, value in (
        ("unit", entry.unit), ("frequency", entry.frequency), ("normalisation", entry.normalisation),
        ("exclusions", entry.exclusions), ("may inform", ", ".join(entry.may_inform)),
        ("may NOT inform", ", ".join(entry.may_not_inform)), ("audience", ", ".join(entry.audience)),
        ("view", entry.view), ("retention", entry.retention), ("docs", f"docs/metrics/{m.id}.md"),
    ):
        click.echo(f"  {label:<15} {value}")


def engine_options(f: Any) -> Any:
    """``--engine duckdb|spark``, ``--data DIR`` and ``--master`` (Spark's master URL)."""
    for opt in reversed((
        click.option("--engine", type=click.Choice(["duckdb", "spark"]), default="duckdb",
                     show_default=True,
                     help="duckdb: the store; spark: Spark over the Parquet folder of --data."),
        click.option("--data", type=click.Path(file_okay=False), default=None,
                     help="With --engine spark: a folder written by `shipwise export parquet`."),
        click.option("--master", default="local[2]", show_default=True,
                     help="With --engine spark: Spark's master (local[N], spark://HOST:PORT, …)."),
    )):
        f = opt(f)
    return f


@contextmanager
def spark_engine(data: str | None, master: str) -> Iterator[Any]:
    """The Spark engine over ``data`` (Spark stops with the process)."""
    from shipwise.app.spark import open_engine

    if not data:
        raise click.UsageError("--engine spark reads a folder: pass --data DIR "
                               "(written by `shipwise export parquet DIR`)")
    yield open_engine(Path(data), master=master)


def _parse_date(_: click.Context, __: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("expected a date YYYY-MM-DD") from None


@metrics.command("dora")
@click.option("--team", "teams", multiple=True, help="Only these teams (repeatable).")
@click.option("--service", "services", multiple=True, help="Per-service rows for these services.")
@click.option("--by", type=click.Choice(["team", "service"]), default="team", show_default=True)
@click.option("--grain", type=click.Choice(["week", "month", "quarter"]), default="quarter",
              show_default=True)
@click.option("--since", callback=_parse_date, help="First day (UTC), YYYY-MM-DD.")
@click.option("--until", callback=_parse_date, help="Last day (UTC), YYYY-MM-DD.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table")
@click.option("--quick-check", "quick", is_flag=True,
              help="The DORA Quick Check 2025 scores (0-10) of the measured metrics, beside the "
                   "2025 benchmark mean ± SD (docs/metrics/dora.md).")
@engine_options
@click.pass_context
@runs_as()
def dora_cmd(ctx: click.Context, teams: tuple[str, ...], services: tuple[str, ...], by: str,
             grain: str, since: date | None, until: date | None, fmt: str, quick: bool,
             engine: str, data: str | None, master: str) -> None:
    """DORA metrics per team (or service) and period, grouped as the DORA 2025 report does
    (throughput, instability), with change vs the previous period and the DORA 2024 level.
    With --quick-check, the Quick Check 2025 scores and benchmarks instead. With --engine spark,
    computed by Spark from a folder of `shipwise export parquet` (no store is read;
    docs/spark.md)."""
    from shipwise.app.metrics import DoraRequest
    from shipwise.app.results import dump

    req = DoraRequest(grain, teams, services, by, since, until)
    if engine == "spark":
        from shipwise.app import spark

        with spark_engine(data, master) as e:
            res = dump(spark.dora(e, req))
    else:
        from shipwise.app.delivery import dora

        with caller(ctx) as c:
            res = dump(dora(c, req))
    if quick and fmt != "json":
        print_quick_check(res, fmt)
    else:
        print_dora(res, fmt)


def print_dora(res: dict[str, object], fmt: str) -> None:
    if fmt == "json":
        emit_json(res)
        return
    rows_in = res["rows"]
    assert isinstance(rows_in, list)
    key = "service" if rows_in and "service" in rows_in[0] else "team"
    groups = grouped("dora", SHOWN_TABLE)
    shown = [m for _, ms in groups for m in ms]
    ids = [m.id for m in shown]
    if fmt == "csv":
        emit_csv([key, "period", *ids, "dora_2024_level"],
                 [[r[key], r["period"], *[r["metrics"][i] for i in ids], r["cluster"]] for r in rows_in])
        return
    if not rows_in:
        click.echo("No production deployments in the store yet: import some, or run `shipwise demo`.")
        return

    def arrow(r: dict[str, Any], m: Metric) -> str:
        d = r["change"].get(m.id)
        if SHOWN_TREND not in m.shown or not d:
            return ""
        good = (d > 0) == (m.better == "higher")
        return " [green]▲[/]" if d > 0 and good else " [green]▼[/]" if good else (
            " [red]▲[/]" if d > 0 else " [red]▼[/]")

    def value(r: dict[str, Any], m: Metric) -> str | None:
        text = cell(m.id, r["metrics"][m.id])
        return (text or "–") + arrow(r, m) if SHOWN_TREND in m.shown else text

    # the DORA 2025 groups as a header line above their columns
    headers = [f"\n{key}", "\nperiod"]
    for g, ms in groups:
        headers += [(f"{DORA_GROUPS.get(g or '', 'Other')}\n" if i == 0 else "\n") + m.label
                    for i, m in enumerate(ms)]
    table_rows = [(r[key], r["period"], *[value(r, m) for m in shown], r["cluster"])
                  for r in rows_in]
    emit_table(f"DORA by {key} and {res['grain']} ({res['since']} – {res['until']})",
               [*headers, "DORA 2024\nlevel"], table_rows,
               justify_right=tuple(range(2, 2 + len(shown))))
    click.echo(f"Grouped as the DORA 2025 report groups them. Level: {DORA_2024_LEVELS} (the "
               "2024 report's clusters, not the 2025 report's model); `--quick-check` scores "
               "the 2025 way.")
    appetite: dict[str, Any] = res.get("release_appetite") or {}  # type: ignore[assignment]
    held = {t: a for t, a in appetite.items() if a.get("appetite") not in (None, "full")}
    if held:
        click.echo("Release appetite now (error-budget policy, read beside deployment frequency):")
        for a in held.values():
            click.echo(f"  {a['team']}: {a['appetite']} — {a['sentence']}")


def _score(x: Any) -> str | None:
    return None if x is None else f"{x:.1f}"


def _mean_sd(b: dict[str, Any] | None) -> str | None:
    return None if not b else f"{b['mean']:.1f} ± {b['sd']:.1f}"


def print_quick_check(res: dict[str, Any], fmt: str) -> None:
    """The Quick Check 2025 scores of each row and the 2025 benchmarks beside them."""
    rows_in: list[dict[str, Any]] = res["rows"]
    key = "service" if rows_in and "service" in rows_in[0] else "team"
    scored = [m for _, ms in grouped("dora") for m in ms
              if any(m.id in (r.get("quick_check") or {}).get("metrics", {}) for r in rows_in)]
    if fmt == "csv":
        # long: one line per row and metric, with its DORA 2025 group
        emit_csv([key, "period", "metric", "group", "value", "answer", "score"], [
            [r[key], r["period"], m.id, m.group, r["metrics"].get(m.id),
             r["quick_check"]["answers"].get(m.id), r["quick_check"]["metrics"].get(m.id)]
            for r in rows_in if r.get("quick_check") for m in scored])
        return
    if not rows_in or not scored:
        click.echo("No production deployments in the store yet (or computed without the store: "
                   "the Quick Check needs it): import some, or run `shipwise demo`.")
        return
    groups = [(g, [m for m in ms if m in scored]) for g, ms in grouped("dora")]
    headers = [f"\n{key}", "\nperiod"]
    for g, ms in groups:
        headers += [(f"{DORA_GROUPS.get(g or '', 'Other')}\n" if i == 0 else "\n") + m.label
                    for i, m in enumerate(ms)]
    order = [m for _, ms in groups for m in ms]
    emit_table(
        f"DORA Quick Check 2025 scores, 0–10, higher is better ({res['grain']})",
        [*headers, "\noverall"],
        [(r[key], r["period"], *[_score(r["quick_check"]["metrics"].get(m.id)) for m in order],
          _score(r["quick_check"]["overall"])) for r in rows_in if r.get("quick_check")],
        justify_right=tuple(range(2, 3 + len(order))))
    qc = res.get("quick_check") or {}
    cohorts: dict[tuple[str, str], tuple[dict[str, Any], list[str]]] = {}
    for team, marks in (qc.get("benchmarks") or {}).items():
        for b in marks:
            cohorts.setdefault((b["scope"], b["key"]), (b, []))[1].append(team)
    n_teams = len(qc.get("benchmarks") or {})
    if cohorts:
        emit_table(
            "DORA 2025 benchmark, mean ± SD on the same scale",
            ["cohort", "teams", *[m.label for m in order], "overall"],
            [(b["name"], "all" if len(ts) == n_teams and n_teams > 1 else ", ".join(ts),
              *[_mean_sd(b["metrics"].get(m.id)) for m in order], _mean_sd(b.get("overall")))
             for b, ts in cohorts.values()])
    for team, notes in (qc.get("notes") or {}).items():
        for n in notes:
            click.echo(f"{team}: {n}")
    src = qc.get("source") or {}
    click.echo("Answers from telemetry by the Quick Check's buckets (durations, deployments per "
               "day), rates as percentages scored (100 − v)/10; overall = mean. Source: "
               f"{src.get('repository', 'dora-team/dora.dev')} @ {str(src.get('commit', ''))[:8]} "
               f"({src.get('licence', '').split(' (')[0]}).")
    if qc.get("profile"):
        click.echo(qc["profile"])
