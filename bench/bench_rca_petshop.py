"""PetShop root-cause evaluation: shipwise's methods beside the PetShop repository's own baselines,
on the same cases, in one harness.

    python bench/bench_rca_petshop.py [--dataset DIR] [--code DIR]

- ``--dataset``: the PetShop dataset folder (default ``../shared/datasets/petshop/dataset``).
  Evaluated: the 52 low- and high-traffic incidents (the two temporal scenarios have no normal
  period in the data, so neither shipwise nor the repository's baselines get a history there;
  they are reported apart, shipwise only).
- ``--code``: optional, the ``code/`` folder of the PetShop repository
  (``amazon-science/petshop-root-cause-analysis``; Apache-2.0 — never committed here, export it
  yourself, e.g. ``git -C <snapshot> archive HEAD code | tar -x -C /tmp/petshop``). Its baselines
  need ``dowhy`` (``pip install dowhy``, not a dependency of shipwise). When given, its anomaly
  **traversal** and **ranked correlation** run on the same cases through its own ``rca_task``
  loader (``load_scenario``) and are scored by its own ``in_top_k`` rule (sorted by score).

Every method is scored AC@1, AC@3, AC@5, Avg@5 (shipwise's :mod:`~shipwise.investigate.evaluate`)
with the wall time of the whole evaluation. Results are printed and written to
``bench/results/rca_petshop.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "rca_petshop.json"
SCENARIOS = ("low_traffic", "high_traffic")
METHODS = ("naive", "nsigma", "baro", "baro+topology", "traversal", "investigate")


def shipwise_methods(dataset: Path) -> dict[str, Any]:
    from shipwise.app.investigate import evaluate_petshop
    from shipwise.investigate.evaluate import accuracy

    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    res = {s: evaluate_petshop(dataset, METHODS, s) for s in SCENARIOS}
    wall = time.perf_counter() - t0
    cases = [c for r in res.values() for c in r["cases"]]
    for m in METHODS:
        ranks = [c["ranks"][m] for c in cases]
        out[m] = {"n": len(ranks), **{k: round(v, 3) for k, v in accuracy(ranks).items()},
                  "seconds_per_case": round(sum(c["seconds"][m] for c in cases) / len(cases), 3),
                  "per_scenario": {s: {k: round(r["overall"][m][k], 3) for k in ("ac1", "ac3")}
                                   for s, r in res.items()}}
    temporal = evaluate_petshop(dataset, ("traversal", "investigate"), "temporal_traffic1")
    temporal2 = evaluate_petshop(dataset, ("traversal", "investigate"), "temporal_traffic2")
    out["_temporal"] = {s: {m: {k: round(r["overall"][m][k], 3) for k in ("n", "ac1", "ac3")}
                            for m in ("traversal", "investigate")}
                        for s, r in (("temporal_traffic1", temporal), ("temporal_traffic2", temporal2))}
    out["_wall_seconds_all_methods"] = round(wall, 1)
    t1 = time.perf_counter()
    evaluate_petshop(dataset, ("investigate",), None)
    out["_wall_seconds_investigate_68"] = round(time.perf_counter() - t1, 1)
    return out


def repository_baselines(dataset: Path, code: Path) -> dict[str, Any]:
    """The PetShop repository's traversal and ranked correlation on the same 52 cases."""
    sys.path.insert(0, str(code))
    warnings.filterwarnings("ignore")
    try:  # the code was written for dowhy 0.9, whose ``gcm.graph`` moved to ``dowhy.graph``
        import dowhy.gcm.graph  # type: ignore[import-not-found]
    except ImportError:
        import dowhy.graph  # type: ignore[import-not-found]

        sys.modules["dowhy.gcm.graph"] = dowhy.graph
        import dowhy.gcm

        dowhy.gcm.graph = dowhy.graph  # type: ignore[attr-defined]
    import baseline_anomaly_traversal  # type: ignore[import-not-found]
    import ranked_correlation  # type: ignore[import-not-found]
    import rca_task  # type: ignore[import-not-found]

    from shipwise.investigate.evaluate import accuracy, rank_of

    methods = {"petshop:traversal": baseline_anomaly_traversal.make_baseline_analyze_root_causes(),
               "petshop:ranked_correlation": ranked_correlation.make_ranked_correlation()}
    ranks: dict[str, list[int | None]] = {m: [] for m in methods}
    secs: dict[str, float] = dict.fromkeys(methods, 0.0)
    for scenario in SCENARIOS:
        graph, normal, issues = rca_task.load_scenario(str(dataset / scenario))
        for split in ("train", "test"):
            for abnormal, target in issues[split]:
                t = target["target"]
                for name, fn in methods.items():
                    t0 = time.perf_counter()
                    found = fn(graph, t["node"], t["metric"], t["agg"], normal, abnormal)
                    secs[name] += time.perf_counter() - t0
                    order = [p.node for p in sorted(found, key=lambda p: p.score, reverse=True)]
                    ranks[name].append(rank_of(order, target["root_cause"]["node"]))
    return {m: {"n": len(r), **{k: round(v, 3) for k, v in accuracy(r).items()},
                "seconds_per_case": round(secs[m] / max(1, len(r)), 3)} for m, r in ranks.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", type=Path,
                    default=HERE.parent.parent / "shared" / "datasets" / "petshop" / "dataset")
    ap.add_argument("--code", type=Path, default=None)
    args = ap.parse_args()
    results: dict[str, Any] = {"dataset": str(args.dataset), "cases": "low_traffic + high_traffic",
                               "machine": {"python": platform.python_version(),
                                           "cpus": __import__("os").cpu_count()}}
    results["shipwise"] = shipwise_methods(args.dataset)
    if args.code is not None:
        try:
            results["repository"] = repository_baselines(args.dataset, args.code)
        except ImportError as exc:
            results["repository"] = {"error": f"{exc} (pip install dowhy)"}
    rows = [(m, r) for m, r in results["shipwise"].items() if not m.startswith("_")]
    rows += [(m, r) for m, r in results.get("repository", {}).items() if isinstance(r, dict)]
    print(f"{'method':28s} {'n':>3s} {'AC@1':>5s} {'AC@3':>5s} {'AC@5':>5s} {'Avg@5':>6s} {'s/case':>7s}")
    for m, r in rows:
        print(f"{m:28s} {r['n']:3d} {r['ac1']:5.2f} {r['ac3']:5.2f} {r['ac5']:5.2f} "
              f"{r['avg5']:6.2f} {r['seconds_per_case']:7.3f}")
    print(json.dumps({k: v for k, v in results["shipwise"].items() if k.startswith("_")}, indent=1))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
