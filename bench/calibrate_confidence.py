"""Fit the investigation's confidence curve on labelled data and report its reliability.

    python bench/calibrate_confidence.py [--petshop DIR] [--dir DIR ...] [--seeds 11 37] [--write]

Runs the full investigation (``investigate``, in memory, as ``shipwise rca eval`` does) on every
labelled case it is given — the PetShop dataset (68 cases, ``--petshop``), the demo world's
scenarios (40 cases per ``--seeds`` value, generated) and any folder ``shipwise rca eval DIR``
reads (``--dir``, e.g. the RCD Sock Shop or MicroIRC Bookinfo sets; see docs/investigation.md
for where to get them) — and keeps each case's raw confidence (the engine's margin,
:func:`shipwise.investigate.calibration.raw_confidence`) and whether the named root cause was
right (an inconclusive record counts as not right).

Then:

- the reliability table of the raw values and of the curve fitted on all the data;
- **held out**: for each data set, the calibration error (ECE) of the curve fitted on the others
  only — the honest figure for data the curve has not seen;
- with ``--write``, the curve (isotonic, :func:`~shipwise.investigate.calibration.fit_isotonic`)
  is written to ``src/shipwise/investigate/calibration.json`` with the data sets and sizes.

Results also go to ``bench/results/calibration.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "calibration.json"


def _record(case: Any) -> dict[str, Any]:
    from shipwise.investigate.engine import analyse
    from shipwise.investigate.evidence import Evidence, Scope

    series = [s for s in case.metrics.values() if s.timestamps.size]
    first = min([case.alarm.time, *(float(s.timestamps[0]) for s in series)])
    end = max([case.alarm.time, *(float(s.timestamps[-1]) for s in series)])
    return analyse(case.alarm, Evidence(topology=case.topology, metrics=case.metrics),
                   Scope(case.alarm, first, end))


def _row(dataset: str, rec: dict[str, Any], truth: str, accept: set[str]) -> dict[str, Any]:
    root = rec.get("root_cause") or {}
    found = rec["status"] == "root_cause_found"
    return {"set": dataset, "raw": float(root.get("confidence_raw") or 0.0) if found else 0.0,
            "right": bool(found and root.get("entity") in ({truth} | accept))}


def collect(petshop: Path | None, dirs: list[Path], seeds: list[int]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if petshop is not None:
        from shipwise.investigate.petshop import iter_cases

        for case, truth in iter_cases(petshop):
            scen = str(case.alarm.source.get("scenario"))
            name = "petshop-temporal" if scen.startswith("temporal") else "petshop"
            rows.append(_row(name, _record(case), truth, set()))
    for d in dirs:
        from shipwise.errors import InputError
        from shipwise.investigate.layouts import READERS, find_cases

        for folder, kind in find_cases(d):
            try:
                case, truth = READERS[kind](folder)[:2]
            except (InputError, OSError, ValueError, KeyError):
                continue  # as `shipwise rca eval` does: an unreadable case is left out
            rows.append(_row(str(truth.get("system") or d.name), _record(case),
                             str(truth["root_cause"]), set(truth.get("accept") or ())))
    if seeds:
        from shipwise.app.investigate import investigate_case
        from shipwise.demo.world.scenarios import generate_scenarios
        from shipwise.investigate.case import load_truth

        with tempfile.TemporaryDirectory(prefix="shipwise-calibrate-") as tmp:
            for seed in seeds:
                for p in generate_scenarios(40, seed, Path(tmp) / str(seed)):
                    # every kind of evidence the case holds (logs, events, traces…), as
                    # `shipwise rca eval scenarios` does
                    rows.append(_row("demo-world", investigate_case(p),
                                     str(load_truth(p)["root_cause"]), set()))
    return rows


def main() -> None:
    from shipwise.investigate.calibration import (
        TABLE,
        apply_knots,
        calibration_error,
        fit_isotonic,
        reliability,
    )

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--petshop", type=Path,
                    default=HERE.parent.parent / "shared" / "datasets" / "petshop" / "dataset")
    ap.add_argument("--dir", dest="dirs", type=Path, action="append", default=[])
    ap.add_argument("--seeds", type=int, nargs="*", default=[11, 37])
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    rows = collect(args.petshop if args.petshop and args.petshop.is_dir() else None, args.dirs,
                   args.seeds)
    raw = [r["raw"] for r in rows]
    right = [r["right"] for r in rows]
    fit = fit_isotonic(raw, right)
    sets = sorted({r["set"] for r in rows})
    held_out = {}
    for s in sets:
        train = [r for r in rows if r["set"] != s]
        test = [r for r in rows if r["set"] == s]
        k = fit_isotonic([r["raw"] for r in train], [r["right"] for r in train])
        held_out[s] = {
            "n": len(test), "right": round(sum(r["right"] for r in test) / len(test), 3),
            "ece_raw": round(calibration_error([r["raw"] for r in test], [r["right"] for r in test]), 3),
            "ece_held_out_curve": round(calibration_error(
                [apply_knots(k, r["raw"]) for r in test], [r["right"] for r in test]), 3)}
    out = {"date": dt.date.today().isoformat(), "cases": len(rows), "sets": {
        s: sum(1 for r in rows if r["set"] == s) for s in sets},
        "reliability_raw": reliability(raw, right),
        "reliability_fitted": reliability([apply_knots(fit, x) for x in raw], right),
        "ece_raw": round(calibration_error(raw, right), 3),
        "ece_fitted_in_sample": round(calibration_error([apply_knots(fit, x) for x in raw], right), 3),
        "held_out": held_out, "knots": fit, "seconds": round(time.perf_counter() - t0, 1)}
    print(json.dumps({k: v for k, v in out.items() if k not in ("reliability_raw", "reliability_fitted")},
                     indent=1))
    for name in ("reliability_raw", "reliability_fitted"):
        print(name)
        for b in out[name]:
            mc = "" if b["mean_confidence"] is None else f"{b['mean_confidence']:.2f}"
            rt = "" if b["top1_right"] is None else f"{b['top1_right']:.2f}"
            print(f"  {b['low']:.1f}–{b['high']:.1f}  n={b['n']:4d}  mean conf {mc:>5s}  right {rt:>5s}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=1) + "\n")
    if args.write:
        TABLE.write_text(json.dumps({
            "about": "isotonic curve from raw to calibrated confidence; written by "
                     "bench/calibrate_confidence.py --write (see shipwise.investigate.calibration)",
            "fit": {"date": out["date"], "sets": out["sets"], "knots": fit,
                    "ece_raw": out["ece_raw"], "held_out": held_out}}, indent=1) + "\n")
        print(f"wrote {TABLE}")


if __name__ == "__main__":
    main()
