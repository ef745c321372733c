"""Importing AI usage at 1,000 teams x 2 years of daily usage: wall time and peak RSS.

    flock /tmp/w/heavy.lock python bench/bench_ai_import.py [--teams 1000] [--days 730]
        [--tools 2] [--memory-limit 1GB] [--keep] [--out bench/results/ai_import.json]

Generates (DuckDB ``COPY``, deterministic) into ``bench/.data`` (gitignored) an organisation file
of ``--teams`` teams and one Parquet file of ``ai_usage`` rows — every team, every day of
``--days``, each of ``--tools`` tools (``copilot`` with completions and chat, ``claude-code``
with agent sessions; counts drawn from the row number, costs in USD), then, each as a separate
``shipwise import`` process whose peak RSS (``VmHWM``) is sampled every 20 ms:

(a) the organisation, then the usage file into a fresh store (every row inserted);
(b) the same usage file again (every row unchanged: nothing counted twice);
(c) the same rows as CSV into another fresh store (the format most tools export).

The counts the importer reports are checked (inserted, then unchanged, nothing quarantined)
and the stored rows counted. The files are deleted at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb
import yaml

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / ".data" / "ai_import"
RESULTS = ROOT / "bench" / "results" / "ai_import.json"
TOOLS = ("copilot", "claude-code")


def generate(folder: Path, teams: int, days: int, tools: int) -> tuple[Path, Path, Path, int]:
    folder.mkdir(parents=True, exist_ok=True)
    org = folder / "org.jsonl"
    with org.open("w") as fh:
        fh.write(json.dumps({"type": "org_unit", "id": "eng", "name": "Engineering"}) + "\n")
        for t in range(teams):
            fh.write(json.dumps({"type": "team", "id": f"team-{t:04d}", "name": f"Team {t}",
                                 "org_unit": "eng", "delivery_unit": "deployments"}) + "\n")
    con = duckdb.connect()
    tool_list = ", ".join(f"'{t}'" for t in TOOLS[:tools])
    # i: a stable row number; counts from it (no randomness: the same files on every run)
    select = f"""
    WITH g AS (
      SELECT t, d, tool, (t * 7919 + d * 104729 + ti * 31) AS h FROM range({teams}) r1(t),
        range({days}) r2(d), (SELECT unnest([{tool_list}]) AS tool,
                              generate_subscripts([{tool_list}], 1) AS ti))
    SELECT printf('team-%04d', t) AS team, DATE '2024-12-01' + CAST(d AS INTEGER) AS day, tool,
      4 + h % 9 AS active_users, least(4 + h % 9, 2 + h % 7) AS engaged_users,
      CASE WHEN tool = 'copilot' THEN 200 + h % 400 END AS suggestions_shown,
      CASE WHEN tool = 'copilot' THEN 50 + h % 150 END AS suggestions_accepted,
      CASE WHEN tool = 'copilot' THEN 300 + h % 600 END AS lines_suggested,
      CASE WHEN tool = 'copilot' THEN 60 + h % 200 END AS lines_accepted,
      CASE WHEN tool = 'copilot' THEN h % 30 END AS chat_sessions,
      CASE WHEN tool <> 'copilot' THEN h % 20 END AS agent_sessions,
      round(2.5 + (h % 1000) / 100.0, 2) AS cost, 'USD' AS currency
    FROM g"""
    parquet, csv = folder / "ai_usage.parquet", folder / "csv" / "ai_usage.csv"
    csv.parent.mkdir(exist_ok=True)
    con.execute(f"COPY ({select}) TO '{parquet}' (FORMAT parquet)")
    con.execute(f"COPY (SELECT * FROM read_parquet('{parquet}')) TO '{csv}' (HEADER)")
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{parquet}')").fetchone()
    con.close()
    return org, parquet, csv, int(rows[0]) if rows else 0


def _hwm_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _timed(argv: list[str]) -> dict[str, Any]:
    """Run ``argv``; wall time and the child's own peak RSS (``VmHWM``, sampled every 20 ms)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _hwm_kib(proc.pid) or 0)
        time.sleep(0.02)
    wall = time.perf_counter() - t0
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:8])} failed: {err[-3000:]}")
    return {"seconds": round(wall, 2), "peak_rss_mib": round(peak / 1024, 1), "stdout": out}


def shipwise(db: Path, config: Path, *args: str) -> dict[str, Any]:
    r = _timed([sys.executable, "-m", "shipwise", "--db", str(db), "--config", str(config),
                *args])
    r["report"] = json.loads(r.pop("stdout")) if "--format" in args else None
    return r


def counts(report: dict[str, Any]) -> dict[str, int]:
    return dict(report["types"]["ai_usage"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--teams", type=int, default=1000)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--tools", type=int, default=2, choices=(1, 2))
    ap.add_argument("--memory-limit", default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS)
    a = ap.parse_args()
    shutil.rmtree(DATA, ignore_errors=True)
    t0 = time.perf_counter()
    org, parquet, csv, rows = generate(DATA, a.teams, a.days, a.tools)
    gen = round(time.perf_counter() - t0, 1)
    print(f"generated {rows:,} rows in {gen} s", flush=True)
    config = DATA / "shipwise.yaml"
    config.write_text(yaml.safe_dump({"memory_limit": a.memory_limit} if a.memory_limit else {}))
    out: dict[str, Any] = {"teams": a.teams, "days": a.days, "tools": a.tools, "rows": rows,
                           "memory_limit": a.memory_limit, "generate_seconds": gen,
                           "parquet_mib": round(parquet.stat().st_size / 2**20, 1),
                           "csv_mib": round(csv.stat().st_size / 2**20, 1)}
    runs: dict[str, Any] = {}
    for fmt, path in (("parquet", parquet), ("csv", csv)):
        db = DATA / f"{fmt}.duckdb"
        subprocess.run([sys.executable, "-m", "shipwise", "--db", str(db), "--config",
                        str(config), "init"], check=True, capture_output=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
        shipwise(db, config, "import", str(org))
        first = shipwise(db, config, "import", str(path), "--format", "json")
        c1 = counts(first.pop("report"))
        assert c1["inserted"] == rows and c1["quarantined"] == 0, c1
        entry = {"first": {**first, "inserted": c1["inserted"]}}
        if fmt == "parquet":
            again = shipwise(db, config, "import", str(path), "--format", "json")
            c2 = counts(again.pop("report"))
            assert c2["unchanged"] == rows and c2["inserted"] == c2["updated"] == 0, c2
            entry["again"] = {**again, "unchanged": c2["unchanged"]}
        con = duckdb.connect(str(db), read_only=True)
        stored = con.execute("SELECT count(*) FROM ai_usage").fetchone()
        con.close()
        assert stored and stored[0] == rows, stored
        entry["store_mib"] = round(db.stat().st_size / 2**20, 1)
        runs[fmt] = entry
        print(fmt, json.dumps(entry), flush=True)
    out["runs"] = runs
    out["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                      "duckdb": duckdb.__version__, "platform": platform.platform()}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    if not a.keep:
        shutil.rmtree(DATA, ignore_errors=True)


if __name__ == "__main__":
    main()
