"""Alarm webhook intake, A/B in one sitting: the same wrk load against ``shipwise serve`` run from
different source trees and settings, alternated, so the machine's noise hits every variant alike.

    python bench/bench_intake_path.py --variant base=/tmp/base/src --variant new=src \\
        [--variant new-nodelay=src:server.intake_commit_delay_ms=0] [--mode quiet,process]
        [--seconds 10] [--rounds 2] [--out bench/results/intake_path.json]
    python bench/bench_intake_path.py --store [--out ...]

A variant is ``NAME=SRC[:dotted.setting=value,...]``: the server runs with ``PYTHONPATH=SRC``
(e.g. a ``git archive`` of the commit before a change, and this tree's ``src``) and those
settings on top of the mode's. Modes as in ``bench/bench_api.py --only-investigating``: ``quiet``
(no evidence source: every investigation ends at once) and ``process`` (one worker process
investigating a demo-world incident, fed 2 alarms a second, while wrk runs). Each run is a fresh
copy of the demo store; afterwards every 2xx is checked against the stored rows (``lost``), and
the server's own count of bodies and commits (its log at shutdown) gives the bodies per commit.

``--store``: the intake insert alone — rows of 1 to 512 bodies written by ``write_intake`` in one
transaction, with the insert built three ways (an Arrow table per batch, as before; a multi-row
``VALUES``; plain column lists unnested, as now), alternated, best of three.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from shipwise.app.alarms import prepare_intake, write_intake
from shipwise.app.owner import run_demo
from shipwise.config import load_settings
from shipwise.store import Store
from shipwise.store import alarms as intake_table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_api import WRK_SECRET, _free_port, _post_steadily, _wait_ready, _world, _wrk

HERE = Path(__file__).resolve().parent


def _variant(text: str) -> tuple[str, Path, dict[str, Any]]:
    name, _, rest = text.partition("=")
    src, _, sets = rest.partition(":")
    overrides: dict[str, Any] = {}
    for item in filter(None, sets.split(",")):
        key, _, value = item.partition("=")
        overrides[key] = yaml.safe_load(value)
    return name, Path(src).resolve(), overrides


def _merge(config: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    for dotted, value in overrides.items():
        node = config
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return config


def _run(demo: Path, work: Path, src: Path, overrides: dict[str, Any], mode: str,
         world: tuple[dict[str, Any], list[tuple[str, str]], float], seconds: int,
         tag: str) -> dict[str, Any]:
    db = work / tag / "shipwise.duckdb"
    db.parent.mkdir(parents=True)
    shutil.copy(demo, db)
    for extra in demo.parent.glob(demo.name + ".*"):
        shutil.copy(extra, db.parent / extra.name)
    sources, pairs, t = world
    config = _merge({"server": {"investigation_workers": 1, "drain_seconds": 2, "prewarm": False,
                                "access_log": False},
                     "investigate": {"lookback_minutes": 60, "sources": (
                         {"store": {"enabled": False}} if mode == "quiet" else sources)}},
                    overrides)
    (db.parent / "shipwise.yaml").write_text(yaml.safe_dump(config))
    port = _free_port()
    env = {**os.environ, "SHIPWISE_DB": str(db), "SHIPWISE_WEBHOOK_SECRET": WRK_SECRET,
           "SHIPWISE_CONFIG": str(db.parent / "shipwise.yaml"), "PYTHONPATH": str(src)}
    env.pop("SHIPWISE_PSEUDONYM_KEY", None)
    log = db.parent / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "shipwise", "serve", "--port", str(port)],
                                env=env, cwd=db.parent, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    stop = threading.Event()
    sent: dict[str, int] = {}
    try:
        _wait_ready(url, proc, lambda: ": " + log.read_text()[-2000:])
        poster = threading.Thread(target=lambda: sent.update(
            _post_steadily(url, pairs, t, 2.0, stop, tag)))
        if mode != "quiet":
            poster.start()
            time.sleep(2)  # investigations under way before the measured run
        try:
            run = _wrk(url, seconds)
        finally:
            stop.set()
            if poster.is_alive():
                poster.join()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    with Store.open(db) as store:
        stored = int(store.query("SELECT coalesce(sum(deliveries), 0) AS n FROM alarm_intake "
                                 "WHERE alarm_key LIKE 'generic:wrk-%'")[0]["n"])
        done = int(store.query("SELECT count(*) AS n FROM investigation")[0]["n"])
    batching = re.search(r"intake-writer: (\d+) bodies in (\d+) commits", log.read_text())
    acked = run["requests"] - run["non_2xx"]
    return {**run, "stored": stored, "lost": max(0, acked - stored),
            "investigations_recorded": done,
            "bodies_per_commit": (round(int(batching.group(1)) / int(batching.group(2)), 1)
                                  if batching else None)}


def servers(args: argparse.Namespace) -> dict[str, Any]:
    variants = [_variant(v) for v in args.variant]
    modes = args.mode.split(",")
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {m: {v[0]: [] for v in variants}
                                                          for m in modes}
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp:
        demo = Path(tmp) / "demo" / "shipwise.duckdb"
        demo.parent.mkdir()
        run_demo(load_settings(db=demo))
        world = _world(Path(tmp))
        for n in range(args.rounds):
            for mode in modes:
                order = variants if n % 2 == 0 else variants[::-1]  # neither always goes first
                for name, src, overrides in order:
                    res = _run(demo, Path(tmp), src, overrides, mode, world, args.seconds,
                               f"{mode}-{name}-{n}")
                    print(mode, name, json.dumps(res), file=sys.stderr)
                    runs[mode][name].append(res)
    return {"variants": {name: {"src": str(src), "settings": overrides}
                         for name, src, overrides in variants},
            "load": f"wrk -t2 -c32 -d{args.seconds}s -s bench/intake_wrk.lua "
                       "(process: plus 2 investigation alarms/s)",
            "summary": {m: {v: {"requests_per_second": [r["requests_per_second"] for r in rs],
                                "bodies_per_commit": [r["bodies_per_commit"] for r in rs],
                                "lost": sum(r["lost"] for r in rs)}
                            for v, rs in by.items()} for m, by in runs.items()},
            "runs": runs}


# -- the insert alone ------------------------------------------------------------------------------

def _arrow_insert(store: Store, rows: list[tuple[Any, ...]]) -> None:
    """The insert before: an Arrow table per batch, registered and selected from."""
    if not rows:
        return
    cols = list(zip(*rows, strict=True))
    table = pa.table({name: pa.array(list(col), type=pa.float64() if name == "received_at"
                                     else pa.string())
                      for name, col in zip(intake_table.INTAKE_COLUMNS, cols, strict=True)})
    with store.transaction() as con:
        con.register("intake_batch", table)
        try:
            con.execute(f"INSERT INTO alarm_intake ({', '.join(intake_table.INTAKE_COLUMNS)}) "
                        "SELECT id, to_timestamp(received_at), source_kind, status, error, "
                        "payload, payload_sha256, CAST(alarm AS JSON), alarm_key FROM intake_batch")
        finally:
            con.unregister("intake_batch")


def _values_insert(store: Store, rows: list[tuple[Any, ...]]) -> None:
    """A multi-row VALUES with a placeholder per field."""
    if not rows:
        return
    one = "(?, to_timestamp(?), ?, ?, ?, ?, ?, CAST(? AS JSON), ?)"
    with store.transaction() as con:
        con.execute(f"INSERT INTO alarm_intake ({', '.join(intake_table.INTAKE_COLUMNS)}) VALUES "
                    + ", ".join([one] * len(rows)), [v for r in rows for v in r])


def store_insert(args: argparse.Namespace) -> dict[str, Any]:
    ways = {"arrow": _arrow_insert, "values": _values_insert, "lists": intake_table.insert}
    current = intake_table.insert
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-insert-") as tmp:
        db = Path(tmp) / "shipwise.duckdb"
        run_demo(load_settings(db=db))
        counter = iter(range(10**9))
        with Store.open(db) as store:
            try:
                for size in (1, 4, 16, 64, 256, 512):
                    best: dict[str, float] = {}
                    reps = max(5, 600 // size)
                    for _ in range(3):
                        for name, way in ways.items():
                            bodies = [[prepare_intake(json.dumps({
                                "entity": f"svc-{i % 50}", "metric": "error_rate",
                                "time": 1790000000 + i, "id": f"ins-{i}"}).encode(),
                                "generic").records for i in
                                (next(counter) for _ in range(size))] for _ in range(reps)]
                            intake_table.insert = way  # type: ignore[assignment]
                            t0 = time.perf_counter()
                            for batch in bodies:
                                with store.transaction():
                                    write_intake(store, batch)
                            ms = (time.perf_counter() - t0) / reps * 1000
                            best[name] = round(min(best.get(name, ms), ms), 2)
                    out[str(size)] = best
                    print(size, best, file=sys.stderr)
            finally:
                intake_table.insert = current  # type: ignore[assignment]
    return {"what": "ms per commit of write_intake (existence check, insert, commit), best of 3",
            "by_bodies_per_commit": out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", action="append", default=[],
                        help="NAME=SRC[:dotted.setting=value,...]; give two or more")
    parser.add_argument("--mode", default="quiet,process")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--store", action="store_true", help="measure the insert alone")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    os.environ.pop("SHIPWISE_PSEUDONYM_KEY", None)
    if args.store:
        result = store_insert(args)
    else:
        if shutil.which("wrk") is None:
            raise SystemExit("wrk is not installed (apt-get install -y wrk)")
        if len(args.variant) < 1:
            raise SystemExit("give at least one --variant NAME=SRC")
        result = servers(args)
    result["command"] = "python bench/bench_intake_path.py " + " ".join(sys.argv[1:])
    text = json.dumps(result, indent=2) + "\n"
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
