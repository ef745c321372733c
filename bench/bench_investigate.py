"""Alarm → stored investigation on 50+ services with 6 h of 15 s metrics (target ≤ 10 s on 2 cores).

    python bench/bench_investigate.py [--fault bad_deploy] [--regions 5] [--repeat 3] [--rebuild]

Steps:

1. Workload (``bench/world_scale.py``): the demo shop five times side by side (regions ``eu1``,
   ``eu2``, ``us1``, ``us2``, ``ap1``: 11 services each, every entity id prefixed with its
   region) behind a global ``edge`` gateway; one region (``us1`` by default) has the fault, the
   others are healthy on the same 15 s grid: 6 h of history ending 2 min after the alarm. Written
   as one case directory under ``bench/.data/`` (gitignored) and reused unless ``--rebuild``.
2. The timed path, as in production: a fresh store (``init_store``), a ``shipwise.yaml`` whose
   ``investigate.sources`` point at the workload's files (metrics, logs, events, traces,
   topology, runbooks; ``store: {enabled: false}``), then ``receive_alarm(settings, body,
   "generic")`` with ``alarm.json`` as the body and ``start_investigations(settings, ids)``. The
   clock stops when ``start_investigations`` returns (the record is stored); the ``investigation``
   row is then read back and its ``root_cause_entity`` compared with ``truth.yaml``.
   Measured for ``lookback_minutes`` 120 (the default: the engine reads 2 h before the alarm)
   and 360 (the whole 6 h), two ways:

   * ``subprocess``: each repetition in a fresh Python process (file caches warm, Python state
     cold: the engine's modules are imported lazily inside the timed call, as for the first alarm
     a freshly started server receives). Imports done before the clock starts (``shipwise.config``,
     ``shipwise.app.alarms``, ``shipwise.app.context``) are reported apart; peak RSS is
     the process's own high-water mark (``VmHWM``; ``ru_maxrss`` too).
   * ``in-process``: the repetitions in this process after one warm-up run (a long-running
     server that has investigated before).

3. Profile: one in-process run per lookback under cProfile with the evidence sources fetched one
   after the other in the main thread (cProfile sees only the thread it runs in; ``gather``
   normally queries them in parallel threads, so the profiled run is slower than the timed ones).

Results are printed and written to ``bench/results/investigate.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import platform
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
RESULTS = HERE / "results" / "investigate.json"
LOOKBACKS = (120, 360)
HISTORY_HOURS = 6.0


# -- workload -----------------------------------------------------------------------------------

def workload_params(args: argparse.Namespace) -> dict[str, Any]:
    from world_scale import LAYOUT

    return {"fault": args.fault, "regions": args.regions, "faulty_region": args.faulty_region,
            "seed": args.seed, "history_hours": HISTORY_HOURS, "step_seconds": 15.0,
            "after_seconds": 120.0, "layout": LAYOUT}


def ensure_workload(args: argparse.Namespace) -> tuple[Path, dict[str, Any]]:
    """The case directory, built unless a matching one exists (``--rebuild`` forces it)."""
    from world_scale import build_regions, region_names, workload_size, write_workload

    params = workload_params(args)
    path = (HERE / ".data" / f"investigate-{args.fault}-r{args.regions}-f{args.faulty_region}"
            f"-s{args.seed}")
    manifest = path / "manifest.json"
    if manifest.is_file() and not args.rebuild:
        meta = json.loads(manifest.read_text())
        if meta.get("params") == params:
            print(f"workload: reusing {path.relative_to(HERE.parent)} (--rebuild to regenerate)")
            return path, meta
    print(f"workload: building {path.relative_to(HERE.parent)}")
    t0 = time.perf_counter()
    regions = build_regions(args.fault, args.regions, args.faulty_region, args.seed,
                            history_seconds=HISTORY_HOURS * 3600.0, after_seconds=120.0,
                            step_seconds=15.0)
    write_workload(path, regions)
    size = workload_size(path)
    meta = {"params": params, "build_seconds": round(time.perf_counter() - t0, 1),
            "regions": [{"name": r.name, "cloud_region": r.cloud, "seed": r.seed,
                         "faulty": r.faulty} for r in regions],
            "region_names": [n for n, _ in region_names(args.regions)],
            "size": size}
    manifest.write_text(json.dumps(meta, indent=2) + "\n")
    print(f"workload: built in {meta['build_seconds']} s")
    return path, meta


def write_config(workdir: Path, case: Path, lookback: int) -> Path:
    cfg = {"investigate": {
        "lookback_minutes": lookback, "after_minutes": 2,
        "sources": {
            "metrics": {"paths": [str(case / "metrics.parquet")]},
            "logs": {"paths": [str(case / "logs.jsonl")]},
            "events": {"paths": [str(case / "events.jsonl")]},
            "traces": {"paths": [str(case / "traces")]},
            "topology": {"path": str(case / "topology.json")},
            "runbooks": {"paths": [str(case / "runbooks")]},
            "store": {"enabled": False},
        }}}
    path = workdir / "shipwise.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


# -- one repetition -----------------------------------------------------------------------------

def peak_rss_mib() -> dict[str, float | None]:
    """``VmHWM`` (this process's own high-water mark) and ``ru_maxrss`` (which on Linux also
    survives ``execve``, so it may include the parent's RSS at fork time)."""
    hwm = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                hwm = round(int(line.split()[1]) / 1024.0, 1)
    ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ru_mib = ru / (1024.0 * 1024.0) if sys.platform == "darwin" else ru / 1024.0
    return {"vmhwm": hwm, "ru_maxrss": round(ru_mib, 1)}


def run_once(case: Path, lookback: int, workdir: Path) -> dict[str, Any]:
    """Fresh store and settings in ``workdir``; time alarm → stored investigation; verify it."""
    from shipwise.app.alarms import receive_alarm, start_investigations
    from shipwise.app.context import init_store, open_store
    from shipwise.config import load_settings

    cfg = write_config(workdir, case, lookback)
    settings = load_settings(db=workdir / "shipwise.duckdb", config_file=cfg)
    t0 = time.perf_counter()
    init_store(settings)
    t_init = time.perf_counter() - t0
    body = (case / "alarm.json").read_bytes()

    t0 = time.perf_counter()
    received = receive_alarm(settings, body, "generic")
    t_receive = time.perf_counter() - t0
    outcome = start_investigations(settings, received["accepted"])
    wall = time.perf_counter() - t0

    assert len(received["accepted"]) == 1, received
    assert outcome and outcome[0]["status"] == "investigated", outcome
    with open_store(settings) as store:
        rows = store.query("SELECT id, root_cause_entity, root_cause_kind, seconds, "
                           "CAST(record AS VARCHAR) AS record FROM investigation")
    assert len(rows) == 1, f"expected one stored investigation, found {len(rows)}"
    row = rows[0]
    assert row["id"] == outcome[0]["investigation_id"]
    record = json.loads(row["record"])
    truth = yaml.safe_load((case / "truth.yaml").read_text())
    root = record.get("root_cause") or {}
    window = record["window"]
    return {
        "wall_seconds": round(wall, 3),
        "receive_seconds": round(t_receive, 3),
        "init_store_seconds": round(t_init, 3),
        "record_seconds": record["seconds"],
        "sources": {s["name"]: {"ok": s["ok"], "seconds": s["seconds"],
                                **({"error": s["error"]} if s.get("error") else {})}
                    for s in record["sources"]},
        "stored_id": row["id"],
        "status": record["status"],
        "root_cause_entity": row["root_cause_entity"],
        "root_cause_kind": row["root_cause_kind"],
        "root_cause_fault": root.get("fault"),
        "confidence": root.get("confidence"),
        "truth_root_cause": truth.get("root_cause"),
        "truth_fault": truth.get("fault"),
        "root_cause_correct": row["root_cause_entity"] == truth.get("root_cause"),
        "fault_correct": root.get("fault") == truth.get("fault"),
        "window_hours": round((window["end"] - window["start"]) / 3600.0, 3),
        "hypotheses": len(record["hypotheses"]),
        "anomalous_entities": sum(1 for t in record["triage"] if t["anomalous"]),
    }


def child_main(case: Path, lookback: int) -> None:
    """One repetition in this (fresh) process; prints ``RESULT <json>``."""
    t0 = time.perf_counter()
    t_import = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="shipwise-bench-inv-") as tmp:
        out = run_once(case, lookback, Path(tmp))
    out["preimport_seconds"] = round(t_import, 3)
    out["peak_rss_mib"] = peak_rss_mib()
    print("RESULT " + json.dumps(out), flush=True)


def run_child(case: Path, lookback: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", str(lookback), "--case", str(case)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE.parent)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"child failed (exit {proc.returncode})")
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    out: dict[str, Any] = json.loads(line[len("RESULT "):])
    out["process_seconds"] = round(elapsed, 3)  # interpreter start-up and imports included
    return out


def run_inprocess(case: Path, lookback: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="shipwise-bench-inv-") as tmp:
        return run_once(case, lookback, Path(tmp))


# -- profile ------------------------------------------------------------------------------------

class _SerialExecutor:
    """Stands in for ThreadPoolExecutor so cProfile (main thread only) sees every source."""

    def __init__(self, max_workers: int | None = None) -> None:
        pass

    def __enter__(self) -> _SerialExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def map(self, fn: Any, items: Any) -> Iterator[Any]:
        return iter([fn(x) for x in items])

    def submit(self, fn: Any, *a: Any, **kw: Any) -> Future[Any]:
        f: Future[Any] = Future()
        f.set_result(fn(*a, **kw))
        return f


def profile_once(case: Path, lookback: int, top: int = 10) -> dict[str, Any]:
    from shipwise.investigate.sources import base

    real = base.ThreadPoolExecutor
    base.ThreadPoolExecutor = _SerialExecutor  # type: ignore[assignment,misc]
    prof = cProfile.Profile()
    try:
        with tempfile.TemporaryDirectory(prefix="shipwise-bench-inv-") as tmp:
            prof.enable()
            res = run_once(case, lookback, Path(tmp))
            prof.disable()
    finally:
        base.ThreadPoolExecutor = real  # type: ignore[misc]
    st = pstats.Stats(prof)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = st.stats  # type: ignore[attr-defined]
    total = res["wall_seconds"]

    def name(k: tuple[str, int, str]) -> str:
        file, line, func = k
        if "site-packages/" in file:
            file = file.split("site-packages/", 1)[1]
        elif "/src/" in file:
            file = file.split("/src/", 1)[1]
        return f"{file}:{line}({func})"

    def row(k: tuple[str, int, str], v: tuple[int, int, float, float, Any]) -> dict[str, Any]:
        return {"function": name(k), "calls": v[1], "cumulative_seconds": round(v[3], 3),
                "self_seconds": round(v[2], 3)}

    # Cumulative: shipwise's own functions below the call chain that wraps the whole run
    # (receive → start_investigations → investigate_alarm → investigate, ≥ 90 % of the run).
    ours = [(k, v) for k, v in raw.items()
            if "shipwise/" in k[0] and v[3] < 0.9 * total and k[2] != "<module>"]
    by_cum = sorted(ours, key=lambda kv: -kv[1][3])[:top]
    by_self = sorted(raw.items(), key=lambda kv: -kv[1][2])[:top]
    return {"lookback_minutes": lookback, "profiled_wall_seconds": total,
            "record_seconds": res["record_seconds"], "sources": res["sources"],
            "top_cumulative_shipwise": [row(k, v) for k, v in by_cum],
            "top_self": [row(k, v) for k, v in by_self]}


# -- report -------------------------------------------------------------------------------------

def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    walls = [r["wall_seconds"] for r in runs]
    med = sorted(runs, key=lambda r: r["wall_seconds"])[(len(runs) - 1) // 2]
    srcs = sorted({s for r in runs for s in r["sources"]})
    out: dict[str, Any] = {
        "wall_seconds": {"median": round(statistics.median(walls), 3), "max": round(max(walls), 3),
                         "min": round(min(walls), 3), "runs": walls},
        "record_seconds_median": {
            k: round(statistics.median(r["record_seconds"][k] for r in runs), 3)
            for k in med["record_seconds"]},
        "source_seconds_median": {
            s: round(statistics.median(r["sources"][s]["seconds"] for r in runs), 3)
            for s in srcs},
        "sources_ok": all(v["ok"] for r in runs for v in r["sources"].values()),
        "root_cause_correct": all(r["root_cause_correct"] for r in runs),
        "root_cause_entity": med["root_cause_entity"],
        "root_cause_fault": med["root_cause_fault"],
        "median_run": med,
    }
    if "peak_rss_mib" in med:
        out["peak_rss_mib_max"] = max(r["peak_rss_mib"]["vmhwm"] or r["peak_rss_mib"]["ru_maxrss"]
                                      for r in runs)
        out["process_seconds_median"] = round(statistics.median(r["process_seconds"]
                                                                for r in runs), 3)
        out["preimport_seconds_median"] = round(statistics.median(r["preimport_seconds"]
                                                                  for r in runs), 3)
    return out


def target(results: dict[str, dict[str, Any]], seconds: float = 10.0) -> dict[str, Any]:
    """The ≤ 10 s target per lookback: met when every run of both modes stayed under it."""
    out: dict[str, Any] = {"seconds": seconds}
    for lb, modes in results.items():
        med = max(s["wall_seconds"]["median"] for s in modes.values())
        worst = max(s["wall_seconds"]["max"] for s in modes.values())
        out[f"lookback_{lb}"] = {
            "worst_median_seconds": med, "worst_max_seconds": worst,
            "verdict": "met" if worst <= seconds else
                       "met at the median, not in every run" if med <= seconds else "not met"}
    return out


def machine() -> dict[str, Any]:
    import duckdb
    import numpy

    def git(*a: str) -> str:
        p = subprocess.run(["git", *a], cwd=HERE.parent, capture_output=True, text=True)
        return p.stdout.strip()

    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem = None
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_count": os.cpu_count(),
        "memory_gib": round(mem, 1) if mem else None,
        "machine": platform.machine(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "numpy": numpy.__version__,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "commit": git("rev-parse", "--short", "HEAD"),
        "src_dirty": bool(git("status", "--porcelain", "src")),
    }


def print_summary(out: dict[str, Any]) -> None:
    size = out["workload"]["size"]
    print("\nworkload:", ", ".join(f"{k} {size[k]:,}" for k in (
        "services", "metric_entities", "series", "metric_rows", "log_lines", "spans", "events",
        "runbooks")), f"({size['metrics_hours']} h of metrics, {size['bytes'] / 1e6:.1f} MB)")
    print(f"alarm: {out['alarm']['entity']} {out['alarm']['metric']} at {out['alarm']['time']}; "
          f"truth: {out['truth']['root_cause']} ({out['truth']['fault']})")
    print(f"\n{'lookback':>8} {'mode':<11} {'median s':>9} {'max s':>7} {'gather':>7} "
          f"{'total':>7} {'RSS MiB':>8}  root cause")
    for lb, modes in out["results"].items():
        for mode, s in modes.items():
            rss = s.get("peak_rss_mib_max")
            print(f"{lb:>8} {mode:<11} {s['wall_seconds']['median']:>9.2f} "
                  f"{s['wall_seconds']['max']:>7.2f} {s['record_seconds_median']['gather']:>7.2f} "
                  f"{s['record_seconds_median']['total']:>7.2f} "
                  f"{(f'{rss:.0f}' if rss else '-'):>8}  {s['root_cause_entity']} "
                  f"({'right' if s['root_cause_correct'] else 'WRONG'})")
        for mode, s in modes.items():
            print(f"{'':>8} {mode:<11} sources (median s): "
                  + ", ".join(f"{k} {v:.2f}" for k, v in s["source_seconds_median"].items()))
    for p in out.get("profiles", []):
        print(f"\nprofile, lookback {p['lookback_minutes']} min (sources serial, "
              f"{p['profiled_wall_seconds']:.1f} s under cProfile): top by cumulative time")
        for r in p["top_cumulative_shipwise"]:
            print(f"  {r['cumulative_seconds']:7.2f} s cum {r['self_seconds']:7.2f} s self "
                  f"{r['calls']:>9,}  {r['function']}")
        print("  top by self time:")
        for r in p["top_self"]:
            print(f"  {r['self_seconds']:7.2f} s self {r['cumulative_seconds']:7.2f} s cum "
                  f"{r['calls']:>9,}  {r['function']}")
    t = out["target"]
    print(f"\ntarget ≤ {t['seconds']:g} s wall on 2 cores: " + "; ".join(
        f"lookback {k.removeprefix('lookback_')} min {v['verdict']} (worst median "
        f"{v['worst_median_seconds']:.2f} s, worst run {v['worst_max_seconds']:.2f} s)"
        for k, v in t.items() if k.startswith("lookback_")))


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--fault", default="bad_deploy", help="fault kind of the faulty region")
    ap.add_argument("--regions", type=int, default=5)
    ap.add_argument("--faulty-region", type=int, default=None,
                    help="index of the faulty region (default: the middle one)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rebuild", action="store_true", help="regenerate the workload")
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument("--lookbacks", type=int, nargs="+", default=list(LOOKBACKS))
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--case", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        assert args.case is not None
        child_main(args.case, args.child)
        return
    if args.faulty_region is None:
        args.faulty_region = args.regions // 2
    from shipwise.demo.world import FAULT_KINDS

    if args.fault not in FAULT_KINDS:
        raise SystemExit(f"unknown fault {args.fault!r} (one of {', '.join(FAULT_KINDS)})")

    case, meta = ensure_workload(args)
    alarm = json.loads((case / "alarm.json").read_text())
    truth = yaml.safe_load((case / "truth.yaml").read_text())
    env = machine()
    results: dict[str, dict[str, Any]] = {}
    warm: dict[str, Any] | None = None
    for lb in args.lookbacks:
        sub = []
        for i in range(args.repeat):
            r = run_child(case, lb)
            print(f"lookback {lb} subprocess  #{i + 1}: {r['wall_seconds']:.2f} s "
                  f"(record total {r['record_seconds']['total']:.2f}, gather "
                  f"{r['record_seconds']['gather']:.2f}), root cause {r['root_cause_entity']}")
            sub.append(r)
        if warm is None:  # once per process: the engine's modules are imported lazily
            warm = run_inprocess(case, lb)
            print(f"lookback {lb} in-process warm-up: {warm['wall_seconds']:.2f} s")
        inproc = []
        for i in range(args.repeat):
            r = run_inprocess(case, lb)
            print(f"lookback {lb} in-process  #{i + 1}: {r['wall_seconds']:.2f} s "
                  f"(record total {r['record_seconds']['total']:.2f}, gather "
                  f"{r['record_seconds']['gather']:.2f}), root cause {r['root_cause_entity']}")
            inproc.append(r)
        results[str(lb)] = {"subprocess": summarise(sub), "in-process": summarise(inproc)}
    profiles = [] if args.no_profile else [profile_once(case, lb) for lb in args.lookbacks]

    out: dict[str, Any] = {
        "command": "python bench/bench_investigate.py " + " ".join(sys.argv[1:]),
        "workload": {"path": str(case.relative_to(HERE.parent)), **meta},
        "alarm": {"entity": alarm["entity"], "metric": alarm["metric"], "time": alarm["time"],
                  "alertname": alarm["source"].get("alertname")},
        "truth": {"root_cause": truth.get("root_cause"), "fault": truth.get("fault"),
                  "event": truth.get("event"), "region": truth.get("region")},
        "timed_path": "receive_alarm(settings, alarm.json, 'generic') + "
                      "start_investigations(settings, ids) on a fresh store; the record is stored "
                      "when the clock stops",
        "modes": {"subprocess": "fresh Python process per repetition; engine modules imported "
                                "lazily inside the timed call",
                  "in-process": "same process after one warm-up run"},
        "results": results,
        "in_process_warmup": warm and {"lookback_minutes": args.lookbacks[0],
                                       "wall_seconds": warm["wall_seconds"]},
        "profiles": profiles,
        "target": target(results),
        "environment": {**env, "load_average_end": [round(x, 2) for x in os.getloadavg()]},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.parent.mkdir(exist_ok=True)
    name = RESULTS if (args.fault, args.regions) == ("bad_deploy", 5) else \
        RESULTS.with_name(f"investigate-{args.fault}-r{args.regions}.json")
    name.write_text(json.dumps(out, indent=2) + "\n")
    print_summary(out)
    print(f"\nwritten: {name.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
