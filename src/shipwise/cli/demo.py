"""``shipwise demo``: a realistic synthetic organisation to try everything on."""

from __future__ import annotations

from pathlib import Path

import click

from shipwise.cli.main import settings_from


@click.command("demo")
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
def demo_cmd(ctx: click.Context, seed: int, scale: float, out: str | None, file_format: str,
             load: bool | None, fmt: str) -> None:
    """Generate a deterministic synthetic organisation (4 business units, 15 teams, 45 services,
    ~250 people plus bots, 8 quarters of activity), import it into the store and print a DORA
    summary per team. Re-running with the same seed changes nothing."""
    from rich.console import Console

    from shipwise.cli.commands import print_import_report
    from shipwise.cli.metrics import print_dora
    from shipwise.services.demo import run_demo
    from shipwise.services.metrics import DoraRequest, dora

    settings = settings_from(ctx)
    do_load = load if load is not None else out is None
    console = Console(stderr=True)
    with console.status("demo…") as status:
        res = run_demo(settings, seed=seed, scale=scale, out=Path(out) if out else None,
                       fmt=file_format, load=do_load, progress=lambda s: status.update(s))
    if res.written:
        console.print(f"wrote {len(res.written)} files ({res.events:,} records) to {out}; "
                      f"import them with `shipwise import {out}`")
    if not do_load:
        return
    summary = dora(settings, DoraRequest(grain="quarter"))
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
    from shipwise.services.cost import CostRequest
    from shipwise.services.cost import cost as cost_of

    summary_cost = cost_of(settings, CostRequest())
    org = summary_cost["organisation"]
    if org:
        o, cur = org[-1], summary_cost["currency"]
        console.print(
            f"Cost to serve, {o['period']}: {o['metrics']['cost.improvement_yoy']:.1%} cheaper per "
            f"unit than a year earlier across {o['cohort_teams']} teams (median team "
            f"{o['metrics']['cost.improvement_median_team']:.1%}); {o['metrics']['cost.savings']:,.0f} "
            f"{cur} saved, {o['metrics']['cost.effective_headcount']:.0f} FTE of capacity given back. "
            "Details: `shipwise cost`, `shipwise cost initiatives`."
        )
    console.print(
        f"{res.events:,} events in {settings.db}. Next: `shipwise metrics dora --team TEAM "
        "--grain quarter` for a team's trend, `shipwise metrics explain dora.change_lead_time`."
    )
