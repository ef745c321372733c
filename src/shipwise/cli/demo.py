"""``shipwise demo``: a realistic synthetic organisation to try everything on, and
``shipwise demo world``: a small production system with faults, written as investigation cases."""

from __future__ import annotations

from pathlib import Path

import click

from shipwise.cli.access import caller, runs_as
from shipwise.cli.main import settings_from
from shipwise.metrics import ids


@click.group("demo", invoke_without_command=True)
@click.option("--seed", default=7, show_default=True, help="Same seed, same organisation.")
@click.option("--scale", default=1.0, show_default=True,
              help="Multiply the volume (about 50 gives ≥ 10 million events).")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Write canonical files here (one per record type) instead of importing.")
@click.option("--file-format", "file_format", type=click.Choice(["jsonl", "csv", "parquet"]),
              default="jsonl", show_default=True, help="Format of the files written by --out.")
@click.option("--import/--no-import", "load", default=None,
              help="Import into the store [default: yes without --out, no with it].")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
@runs_as("admin.ingest")
def demo_cmd(ctx: click.Context, seed: int, scale: float, out: str | None, file_format: str,
             load: bool | None, fmt: str) -> None:
    """Generate a deterministic synthetic organisation (4 business units, 15 teams, 45 services,
    ~250 people plus bots, 8 quarters of activity), import it into the store and print a DORA
    summary per team. Re-running with the same seed changes nothing.

    `shipwise demo world` writes incident cases of a small web shop with faults instead."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.console import Console

    from shipwise.app.context import init_store
    from shipwise.app.cost import CostRequest
    from shipwise.app.delivery import cost as cost_of
    from shipwise.app.delivery import dora
    from shipwise.app.demo import run_demo, write_demo
    from shipwise.app.metrics import DoraRequest
    from shipwise.app.results import dump
    from shipwise.cli.commands import print_import_report
    from shipwise.cli.metrics import print_dora

    settings = settings_from(ctx)
    do_load = load if load is not None else out is None
    console = Console(stderr=True)
    with console.status("demo…") as status:
        where = Path(out) if out else None
        if do_load:  # a fresh machine: the store and its key are made first
            init_store(settings)
            with caller(ctx) as c:
                res = run_demo(c, seed=seed, scale=scale, out=where, fmt=file_format,
                               progress=lambda s: status.update(s))
        else:
            assert where is not None  # --no-load writes files
            res = write_demo(where, seed=seed, scale=scale, fmt=file_format,
                             progress=lambda s: status.update(s))
    if res.written:
        console.print(f"wrote {len(res.written)} files ({res.events:,} records) to {out}; "
                      f"import them with `shipwise import {out}`")
    if not do_load:
        return
    with caller(ctx) as c:
        summary = dump(dora(c, DoraRequest(grain="quarter")))
        summary_cost = dump(cost_of(c, CostRequest()))
    last = summary["rows"][-1]["period"] if summary["rows"] else None
    latest = {**summary, "rows": [r for r in summary["rows"] if r["period"] == last]}
    if fmt == "json":
        from shipwise.cli.render import emit_json

        emit_json({"events": res.events, "story": res.story, "dora": latest,
                   "import": res.report.as_dict() if res.report else None})
        return
    assert res.report is not None
    print_import_report(res.report)
    print_dora(latest, "table")
    org = summary_cost["organisation"]
    if org:
        o, cur = org[-1], summary_cost["currency"]
        m = o["metrics"]
        console.print(
            f"Cost to serve, {o['period']}: {m[ids.IMPROVEMENT_YOY]:.1%} cheaper per "
            f"unit than a year earlier across {o['cohort_teams']} teams (median team "
            f"{m[ids.IMPROVEMENT_MEDIAN_TEAM]:.1%}); {m[ids.SAVINGS]:,.0f} "
            f"{cur} saved, {m[ids.EFFECTIVE_HEADCOUNT]:.0f} FTE of capacity given back. "
            "Details: `shipwise cost`, `shipwise cost initiatives`."
        )
        if m.get(ids.SAVINGS_VOLUME) is not None and m[ids.SAVINGS_VOLUME] > 0:
            console.print(f"Of those savings, {m[ids.SAVINGS_VOLUME]:,.0f} {cur} is volume growth "
                          "(extra work at the lower unit cost): cost avoided, not money returned.")
        for flag in o.get("flags") or []:
            console.print(f"⚠ {flag['message']}")
    console.print(
        f"{res.events:,} events in {settings.db}. Next: `shipwise metrics dora --team TEAM "
        "--grain quarter` for a team's trend, `shipwise metrics explain dora.change_lead_time`."
    )


#: The fault kinds of ``shipwise.demo.world`` (static, so `--help` imports no numpy; a test keeps
#: it equal to ``FAULT_KINDS``).
WORLD_FAULTS = ("bad_deploy", "config_change", "permission_revoked", "manual_host_session",
                "instance_churn", "traffic_surge", "slow_dependency", "memory_leak",
                "queue_backlog")


@demo_cmd.command("world")
@click.option("--out", type=click.Path(file_okay=False), default="shipwise-world",
              show_default=True,
              help="Case directory to write (with --scenarios: the directory holding the cases).")
@click.option("--fault", type=click.Choice([*WORLD_FAULTS, "random"]), default="random",
              show_default=True, help="Fault kind to plant (random: chosen from the seed).")
@click.option("--seed", default=7, show_default=True, help="Same seed, same case.")
@click.option("--scenarios", "n_scenarios", type=click.IntRange(min=1), default=None,
              help="Write N varied cases under OUT (cycling through every fault kind unless "
                   "--fault names one).")
@click.option("--step", "step_seconds", default=15.0, show_default=True,
              help="Seconds between metric samples.")
@click.option("--history", "history_seconds", default=7200.0, show_default=True,
              help="Seconds of metrics before the alarm.")
@click.option("--show-truth", is_flag=True, help="Also print the answer (root cause, fault, "
              "causing event, red herrings).")
@click.option("--serve", is_flag=True, help="Serve the world live on /metrics (Prometheus) with "
              "the fault starting after --fault-after seconds; write the other files to OUT.")
@click.option("--port", default=9108, show_default=True, help="Port for --serve.")
@click.option("--fault-after", "fault_after", default=120.0, show_default=True,
              help="Seconds from --serve start until the fault starts.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def world_cmd(out: str, fault: str, seed: int, n_scenarios: int | None, step_seconds: float,
              history_seconds: float, show_truth: bool, serve: bool, port: int,
              fault_after: float, fmt: str) -> None:
    """Write investigation cases of a small web shop with a planted fault: alarm, topology,
    metrics, logs, traces, events, runbooks (docs/case-format.md) and the answer in truth.yaml.
    The summary names the alarm, never the root cause (unless --show-truth)."""
    from shipwise.app.world import pick_fault, write_cases

    if serve:
        _serve_world(out, pick_fault(fault, seed), seed, port, fault_after, show_truth)
        return
    rows = write_cases(Path(out), fault, seed, scenarios=n_scenarios, step_seconds=step_seconds,
                       history_seconds=history_seconds, show_truth=show_truth)
    if fmt == "json":
        from shipwise.cli.render import emit_json

        emit_json(rows)
        return
    for row in rows:
        fault_note = f" [{row['fault']}]" if "fault" in row else ""
        click.echo(f"{row['path']}{fault_note}: alarm {row['alarm']} on {row['entity']} "
                   f"{row['metric']} at {row['time']}")
        if "truth" in row:
            t = row["truth"]
            click.echo("  truth: " + ", ".join(f"{k}={v}" for k, v in t.items()))
    click.echo(f"wrote {len(rows)} case(s); try `shipwise investigate --case {rows[0]['path']}`", err=True)


def _serve_world(out: str, kind: str, seed: int, port: int, fault_after: float,
                 show_truth: bool) -> None:
    import time

    from shipwise.app.world import serve

    handle = serve(Path(out), kind, seed, port, fault_after)
    click.echo(f"serving {handle.url}; topology, events, logs, traces and runbooks in {out}; "
               f"a fault starts in {fault_after:.0f} s. Ctrl-C stops.")
    if show_truth:
        click.echo(f"  truth: {handle.truth}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()
