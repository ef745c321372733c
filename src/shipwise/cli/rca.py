"""``shipwise rca``: rank root causes for a case, evaluate on labelled data."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

from shipwise.cli.render import emit_json, emit_table

Tick = Callable[[int, int, str], None]

METHOD_CHOICES = ["naive", "nsigma", "baro", "baro+topology", "traversal"]
PETSHOP_METHODS = [*METHOD_CHOICES, "investigate"]
SCENARIO_METHODS = PETSHOP_METHODS


@contextmanager
def progress_bar(fmt: str) -> Iterator[Tick | None]:
    """A progress bar on stderr while cases are scored (an evaluation runs minutes): cases done
    of all, the case being scored, time elapsed. None (no bar) when stderr is not a terminal or
    the output is JSON."""
    if fmt == "json" or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("cases", total=None)

        def tick(done: int, total: int, name: str) -> None:
            bar.update(task, completed=done, total=total, description=name or "done")

        yield tick


@click.group("rca")
def rca() -> None:
    """Root-cause ranking (statistics + topology; no LLM)."""


@rca.command("rank")
@click.argument("case_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--method", type=click.Choice(METHOD_CHOICES), default="baro+topology", show_default=True)
@click.option("--top", default=10, show_default=True, help="How many entities to show.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def rank_cmd(case_dir: str, method: str, top: int, fmt: str) -> None:
    """Rank the entities of a case directory (alarm.json, topology.json, metrics.csv) by how
    likely each is the root cause, best first, with the evidence for each."""
    from shipwise.app.investigate import rank_case

    res = rank_case(case_dir, method, top)
    if fmt == "json":
        emit_json(res)
        return
    emit_table(f"{res['case']}: alarm on {res['alarm']['entity']} {res['alarm']['metric']} — "
               f"{method}, {res['seconds'] * 1000:.0f} ms",
               ["#", "entity", "score", "evidence"],
               [(i + 1, r["entity"], f"{r['score']:.2f}", "; ".join(r["evidence"][:2]))
                for i, r in enumerate(res["ranking"])], justify_right=(0, 2))


class _EvalGroup(click.Group):
    """``rca eval NAME ...`` runs the subcommand ``NAME``; ``rca eval DIR ...`` (a first argument
    that is no subcommand nor an option) runs ``rca eval dir DIR ...``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["dir", *args]
        return super().parse_args(ctx, args)


@rca.group("eval", cls=_EvalGroup)
def eval_group() -> None:
    """Evaluate the ranking methods on labelled incidents: `shipwise rca eval DIR` on a folder of
    cases with their truth (any supported layout; same as `rca eval dir DIR`), or the named
    datasets below."""


LAYOUT_CHOICES = ["auto", "case", "rcaeval", "rcd", "microirc", "petshop"]


@eval_group.command("dir")
@click.argument("root", type=click.Path(exists=True, file_okay=False))
@click.option("--layout", type=click.Choice(LAYOUT_CHOICES), default="auto", show_default=True,
              help="Case folder layout (auto: detected per folder).")
@click.option("--method", "methods", multiple=True, type=click.Choice(PETSHOP_METHODS),
              help="Only these methods (repeatable) [default: all, and the full investigation].")
@click.option("--level", type=click.Choice(["service", "pod"]), default="service", show_default=True,
              help="Rank services, or pods (a hit is any pod of the faulty service).")
@click.option("--topology", "topology", type=click.Path(exists=True, dir_okay=False), default=None,
              help="A topology.json (case format) for layouts without a call graph, e.g. Sock Shop.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.option("--out", "out_file", type=click.Path(dir_okay=False), default=None,
              help="Also write the full results (every case) as JSON to this file.")
def dir_cmd(root: str, layout: str, methods: tuple[str, ...], level: str, topology: str | None,
            fmt: str, out_file: str | None) -> None:
    """Every labelled case under ROOT (layouts: shipwise case directories with truth.yaml,
    RCAEval RE1/RE2, RCD Sock Shop, MicroIRC Bookinfo, PetShop; span tables spans.csv/traces.csv
    beside them add topology and metrics): AC@1/AC@3/AC@5/Avg@5 per fault type, per system and
    overall, seconds per case, and how reliable the investigation's stated confidence is."""
    import json

    from shipwise.app.investigate import evaluate_dir, evaluation_report

    with progress_bar(fmt) as tick:
        res = evaluate_dir(root, methods or None, layout, level, topology, progress=tick)
    if out_file:
        with open(out_file, "w") as fh:
            json.dump(res, fh, indent=2, default=str)
    if fmt == "json":
        emit_json(res)
        return
    click.echo(evaluation_report(res))


@eval_group.command("petshop")
@click.argument("root", type=click.Path(exists=True, file_okay=False))
@click.option("--method", "methods", multiple=True, type=click.Choice(PETSHOP_METHODS),
              help="Only these methods [default: all].")
@click.option("--scenario", default=None, help="Only this traffic scenario (e.g. low_traffic).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def petshop_cmd(root: str, methods: tuple[str, ...], scenario: str | None, fmt: str) -> None:
    """The PetShop dataset (68 labelled issues; see its NOTICE.md): AC@1, AC@3 and Avg@5 per
    traffic scenario and overall, for each method."""
    from shipwise.app.investigate import evaluate_petshop

    with progress_bar(fmt) as tick:
        res = evaluate_petshop(root, methods or None, scenario, progress=tick)
    if fmt == "json":
        emit_json(res)
        return
    from shipwise.app.investigate import evaluation_table

    click.echo(evaluation_table(res))


@eval_group.command("scenarios")
@click.option("--cases", "n", default=45, show_default=True,
              help="How many cases to generate (the 9 fault kinds in turn: 45 is 5 of each).")
@click.option("--seed", default=11, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Keep the generated cases here [default: a temporary directory].")
@click.option("--method", "methods", multiple=True, type=click.Choice(SCENARIO_METHODS),
              help="Only these methods [default: all, and the full investigation].")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def scenarios_cmd(n: int, seed: int, out_dir: str | None, methods: tuple[str, ...], fmt: str) -> None:
    """The demo world's fault library: generate varied cases (every fault kind, red herrings) and
    report AC@1/AC@3 per fault kind for the metric-only rankers and for the full investigation
    (`investigate`: metrics, topology, logs, traces, events), plus how often the investigation
    names the right kind of fault."""
    from shipwise.app.investigate import evaluate_scenarios

    with progress_bar(fmt) as tick:
        res = evaluate_scenarios(n, seed, out_dir, methods or None, progress=tick)
    if fmt == "json":
        emit_json(res)
        return
    from shipwise.app.investigate import evaluation_table

    click.echo(evaluation_table(res))
    if "fault_kind_accuracy" in res:
        click.echo(f"\nfault kind named correctly by the investigation: {res['fault_kind_accuracy']:.2f}")
    misses = [c for c in res["cases"] if c["ranks"].get("investigate") not in (1, None) or
              ("investigate" in c["ranks"] and c["ranks"]["investigate"] is None)]
    for c in misses:
        click.echo(f"  miss: {c['name']} truth {c['truth']} ranked {c['ranks']['investigate']}")
