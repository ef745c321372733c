"""``shipwise rca``: rank root causes for a case, evaluate on labelled data."""

from __future__ import annotations

import click

from shipwise.cli.render import emit_json, emit_table

METHOD_CHOICES = ["naive", "nsigma", "baro", "baro+topology", "traversal"]
PETSHOP_METHODS = [*METHOD_CHOICES, "investigate"]
SCENARIO_METHODS = PETSHOP_METHODS


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


@rca.group("eval")
def eval_group() -> None:
    """Evaluate the ranking methods on labelled incidents."""


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

    res = evaluate_petshop(root, methods or None, scenario)
    if fmt == "json":
        emit_json(res)
        return
    from shipwise.app.investigate import evaluation_table

    click.echo(evaluation_table(res))


@eval_group.command("scenarios")
@click.option("--cases", "n", default=40, show_default=True, help="How many cases to generate (≥ 30).")
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

    res = evaluate_scenarios(n, seed, out_dir, methods or None)
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
