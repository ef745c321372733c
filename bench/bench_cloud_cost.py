"""Importing a 5 GB-class month of AWS CUR 2.0: wall time and peak RSS, against DuckDB's own scan.

    flock /tmp/w/heavy.lock python bench/bench_cloud_cost.py [--csv-gb 5] [--memory-limit 1GB]
        [--threads 2] [--keep] [--reuse] [--out bench/results/cloud_cost.json]

Generates one billing month in the CUR 2.0 layout (the columns of tests/fakes/cloud_bills.py:
resource_tags and product as MAP in Parquet, JSON text in CSV; 300 team tag values, 200 usage
accounts, usage, savings plan, reserved instance, credit, refund and tax lines) with DuckDB
``COPY`` into ``bench/.data`` (gitignored): a CSV of about ``--csv-gb`` GB uncompressed and the
same rows as Parquet. Then, each as a separate process whose peak RSS (``VmHWM``) is sampled:

(a) DuckDB alone, at the same memory limit and threads (the floor for any importer built on
    it): the unblended cost summed by month, account, charge type, service and currency
    (``query_seconds``), and the same grouped by the team tag too (``with_tag_query_seconds``:
    the grouping shipwise does, without the amortised cost, checks and mapping);
(b) ``shipwise cost cloud import`` of the Parquet into a fresh store, again (unchanged: skipped),
    and again with ``--force`` (read and replaced: the totals must not change);
(c) the same for the CSV.

The files are deleted at the end unless ``--keep``.
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
sys.path.insert(0, str(ROOT))

from tests.fakes.cloud_bills import CUR2_COLUMNS  # noqa: E402

from shipwise.app.context import init_store  # noqa: E402
from shipwise.app.owner import import_paths  # noqa: E402
from shipwise.config import Settings  # noqa: E402

DATA = ROOT / "bench" / ".data"
RESULTS = ROOT / "bench" / "results" / "cloud_cost.json"
TEAMS = 300
ACCOUNTS = 200


def _generate_sql(rows: int) -> str:
    """One month of CUR 2.0 line items, typed as the Parquet export (deterministic in i)."""
    kinds = ("CASE WHEN i % 50 = 0 THEN 'SavingsPlanCoveredUsage' "
             "WHEN i % 50 = 1 THEN 'SavingsPlanNegation' WHEN i % 61 = 0 THEN 'DiscountedUsage' "
             "WHEN i % 97 = 0 THEN 'Credit' WHEN i % 389 = 0 THEN 'Refund' "
             "WHEN i % 193 = 0 THEN 'Tax' ELSE 'Usage' END")
    values = {
        "identity_line_item_id": "md5(CAST(i AS VARCHAR))",
        "identity_time_interval": "'2026-01-01T00:00:00Z/2026-02-01T00:00:00Z'",
        "bill_bill_type": "'Anniversary'", "bill_billing_entity": "'AWS'",
        "bill_billing_period_end_date": "TIMESTAMP '2026-02-01'",
        "bill_billing_period_start_date": "TIMESTAMP '2026-01-01'",
        "bill_invoice_id": "'EUINGB26-000001'", "bill_payer_account_id": "'999988887777'",
        "bill_payer_account_name": "'org-payer'",
        "cost_category": "MAP {'env': 'prod'}",
        "discount": "CAST(MAP {} AS MAP(VARCHAR, DOUBLE))",
        "line_item_availability_zone": "'eu-west-1a'",
        "line_item_blended_cost": "c", "line_item_currency_code": "'USD'",
        "line_item_legal_entity": "'Amazon Web Services EMEA SARL'",
        "line_item_line_item_description":
            "'USD 0.096 per On Demand Linux m5.large Instance Hour'",
        "line_item_line_item_type": "k", "line_item_net_unblended_cost": "c",
        "line_item_operation": "'RunInstances'",
        "line_item_product_code": "CASE i % 7 WHEN 0 THEN 'AmazonS3' WHEN 1 THEN 'AmazonRDS' "
                                  "ELSE 'AmazonEC2' END",
        "line_item_resource_id": "'arn:aws:ec2:eu-west-1:' || a || ':instance/i-' || "
                                 "lpad(to_hex(i), 17, '0')",
        "line_item_unblended_cost": "CASE WHEN k = 'SavingsPlanNegation' THEN -c "
                                    "WHEN k IN ('Credit', 'Refund') THEN -c / 10 ELSE c END",
        "line_item_unblended_rate": "'0.096'", "line_item_usage_account_id": "a",
        "line_item_usage_account_name": "'account-' || a",
        "line_item_usage_amount": "1.0",
        "line_item_usage_end_date": "TIMESTAMP '2026-01-01' + to_hours(i % 744 + 1)",
        "line_item_usage_start_date": "TIMESTAMP '2026-01-01' + to_hours(i % 744)",
        "line_item_usage_type": "'EU-BoxUsage:m5.large'",
        "pricing_public_on_demand_cost": "c",
        "product": "MAP {'region': 'eu-west-1', 'instance_type': 'm5.large'}",
        "product_region_code": "'eu-west-1'",
        "reservation_effective_cost": "CASE WHEN k = 'DiscountedUsage' THEN c * 0.6 END",
        "reservation_reservation_a_r_n": "CASE WHEN k = 'DiscountedUsage' THEN "
                                         "'arn:aws:ec2:eu-west-1:999988887777:reserved-instances/r1' END",
        "reservation_unused_amortized_upfront_fee_for_billing_period": "CAST(NULL AS DOUBLE)",
        "reservation_unused_recurring_fee": "CAST(NULL AS DOUBLE)",
        "resource_tags": "CASE WHEN i % 5 = 0 THEN CAST(MAP {} AS MAP(VARCHAR, VARCHAR)) "
                         "ELSE MAP {'user_team': 'team-' || (hash(i) % " + str(TEAMS) + "), "
                         "'user_env': 'prod'} END",
        "savings_plan_savings_plan_a_r_n": "CASE WHEN k LIKE 'SavingsPlan%' THEN "
                                           "'arn:aws:savingsplans::999988887777:savingsplan/sp1' END",
        "savings_plan_savings_plan_effective_cost": "CASE WHEN k = 'SavingsPlanCoveredUsage' "
                                                    "THEN c * 0.7 END",
        "savings_plan_total_commitment_to_date": "CAST(NULL AS DOUBLE)",
        "savings_plan_used_commitment": "CAST(NULL AS DOUBLE)",
    }
    assert list(values) == list(CUR2_COLUMNS), "the bench writes the fake's layout"
    cols = ", ".join(f"CAST({v} AS {CUR2_COLUMNS[c]}) AS {c}" for c, v in values.items())
    return f"""
SELECT {cols} FROM (
  SELECT i, {kinds} AS k, (hash(i * 7) % 100000) / 1000.0 AS c,
         CAST(100000000000 + (hash(i * 13) % {ACCOUNTS}) AS VARCHAR) AS a
  FROM range({rows}) t(i))"""


def _csv_select(parquet: Path) -> str:
    """The Parquet as the CSV export writes it: maps as JSON, instants as ISO 8601 with Z."""
    cols = []
    for c, t in CUR2_COLUMNS.items():
        if t.startswith("MAP"):
            cols.append(f"CAST(to_json({c}) AS VARCHAR) AS {c}")
        elif t == "TIMESTAMP":
            cols.append(f"strftime({c}, '%Y-%m-%dT%H:%M:%SZ') AS {c}")
        else:
            cols.append(c)
    return f"SELECT {', '.join(cols)} FROM read_parquet('{parquet}')"


def generate(csv_gb: float, reuse: bool = False) -> tuple[Path, Path, int]:
    DATA.mkdir(parents=True, exist_ok=True)
    parquet, csv = DATA / "cur2-2026-01.parquet", DATA / "cur2-2026-01.csv"
    con = duckdb.connect()
    if reuse and parquet.exists() and csv.exists():
        row = con.execute(f"SELECT count(*) FROM read_parquet('{parquet}')").fetchone()
        con.close()
        return parquet, csv, int(row[0]) if row else 0
    con.execute("SET memory_limit = '2GB'; SET preserve_insertion_order = false")
    probe_pq, probe_csv = DATA / "probe.parquet", DATA / "probe.csv"
    con.execute(f"COPY ({_generate_sql(200_000)}) TO '{probe_pq}' (FORMAT parquet)")
    con.execute(f"COPY ({_csv_select(probe_pq)}) TO '{probe_csv}' (HEADER)")
    per_row = probe_csv.stat().st_size / 200_000
    probe_pq.unlink()
    probe_csv.unlink()
    rows = int(csv_gb * 1e9 / per_row)
    t0 = time.perf_counter()
    con.execute(f"COPY ({_generate_sql(rows)}) TO '{parquet}' (FORMAT parquet, "
                "COMPRESSION snappy)")
    con.execute(f"COPY ({_csv_select(parquet)}) TO '{csv}' (HEADER)")
    print(f"generated {rows:,} rows in {time.perf_counter() - t0:.0f} s: "
          f"{csv.stat().st_size / 1e9:.2f} GB CSV, {parquet.stat().st_size / 1e9:.2f} GB Parquet")
    con.close()
    return parquet, csv, rows


def _hwm_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def _timed(argv: list[str]) -> dict[str, Any]:
    """Run ``argv``; wall time and the child's peak RSS: its ``VmHWM`` (the high-water mark of
    its own address space, reset at exec — ``wait4``'s ru_maxrss would include this bench's
    own RSS, inherited at fork) read every 20 ms until it exits."""
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


_DUCKDB_SCAN = """
import duckdb, json, sys, time
con = duckdb.connect()
con.execute("SET memory_limit = '{mem}'; SET threads = {threads}; SET enable_progress_bar = false")
src = sys.argv[1]
parquet = src.endswith('.parquet')
scan = (f"read_parquet('{{src}}')" if parquet else
        f"read_csv('{{src}}', header = true, all_varchar = true)")
tag = ("resource_tags['user_team']" if parquet else
       "json_extract_string(resource_tags, '$.user_team')")
keys = ("bill_billing_period_start_date, line_item_usage_account_id, line_item_line_item_type, "
        "line_item_product_code, line_item_currency_code")
total = "sum(TRY_CAST(line_item_unblended_cost AS DOUBLE)), count(*)"
out = {{}}
t0 = time.perf_counter()
out["groups"] = len(con.execute(f"SELECT {{keys}}, {{total}} FROM {{scan}} GROUP BY ALL").fetchall())
out["query_seconds"] = round(time.perf_counter() - t0, 2)
t0 = time.perf_counter()
out["groups_with_tag"] = len(con.execute(
    f"SELECT {{keys}}, {{tag}}, {{total}} FROM {{scan}} GROUP BY ALL").fetchall())
out["with_tag_query_seconds"] = round(time.perf_counter() - t0, 2)
print(json.dumps(out))
"""


def duckdb_scan(path: Path, mem: str, threads: int) -> dict[str, Any]:
    r = _timed([sys.executable, "-c", _DUCKDB_SCAN.format(mem=mem, threads=threads), str(path)])
    r.update(json.loads(r.pop("stdout")))
    return r


def shipwise_import(db: Path, config: Path, path: Path, *extra: str) -> dict[str, Any]:
    r = _timed([sys.executable, "-m", "shipwise", "--db", str(db), "--config", str(config),
                "cost", "cloud", "import", str(path), "--format", "json", *extra])
    rep = json.loads(r.pop("stdout"))
    r.update({k: rep[k] for k in ("line_items", "quarantined", "skipped")})
    return r


def totals(db: Path) -> list[Any]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return [list(r) for r in con.execute(
            "SELECT basis, kind, round(sum(amount), 2), sum(line_items), "
            "count(*) FILTER (WHERE team IS NULL) FROM cloud_cost GROUP BY ALL "
            "ORDER BY ALL").fetchall()]
    finally:
        con.close()


def _store(folder: Path, name: str, mem: str) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / f"{name}.duckdb"
    for f in folder.glob(f"{name}.duckdb*"):
        f.unlink()
    settings = Settings(db=db)
    init_store(settings)
    org = folder / "org.jsonl"
    records: list[dict[str, Any]] = [{"type": "org_unit", "id": "eng", "name": "Engineering"}]
    records += [{"type": "team", "id": f"team-{t}", "name": f"Team {t}", "org_unit": "eng",
                 "delivery_unit": "deployments"} for t in range(TEAMS - 20)]  # 20 tags unknown
    org.write_text("".join(json.dumps(r) + "\n" for r in records))
    import_paths(settings, [org])
    config = folder / f"{name}.yaml"
    config.write_text(yaml.safe_dump({
        "memory_limit": mem,
        "cost": {"cloud": {"basis": "amortised", "tag_keys": ["user_team"],
                           "accounts": {"100000000007": "team-7"}}}}))
    return db, config


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--csv-gb", type=float, default=5.0)
    ap.add_argument("--memory-limit", default="1GB")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    ap.add_argument("--reuse", action="store_true", help="use the files a --keep run left")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    parquet, csv, rows = generate(args.csv_gb, args.reuse)
    work = DATA / "stores"
    try:
        out: dict[str, Any] = {
            "benchmark": "cloud cost: one CUR 2.0 month as Parquet and as CSV",
            "command": " ".join(["python", "bench/bench_cloud_cost.py", *sys.argv[1:]]),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "duckdb": duckdb.__version__, "platform": platform.platform()},
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "memory_limit": args.memory_limit, "threads": args.threads,
            "file": {"rows": rows, "csv_bytes": csv.stat().st_size,
                     "parquet_bytes": parquet.stat().st_size},
        }
        for name, path in (("parquet", parquet), ("csv", csv)):
            ref = duckdb_scan(path, args.memory_limit, args.threads)
            db, config = _store(work, name, args.memory_limit)
            first = shipwise_import(db, config, path)
            after_first = totals(db)
            second = shipwise_import(db, config, path)
            forced = shipwise_import(db, config, path, "--force")
            assert totals(db) == after_first, "a second import changed the totals"
            out[name] = {"duckdb_scan": ref, "first_import": first, "second_import": second,
                         "forced_reimport": forced, "totals": after_first,
                         "rows_per_second": round(rows / first["seconds"]),
                         "vs_duckdb_scan": round(first["seconds"] / ref["query_seconds"], 2),
                         "vs_duckdb_scan_with_tag": round(
                             first["seconds"] / ref["with_tag_query_seconds"], 2)}
            print(f"{name}: duckdb scan {ref['query_seconds']:.2f} s, with tag "
                  f"{ref['with_tag_query_seconds']:.2f} s ({ref['peak_rss_mib']} MiB); import "
                  f"{first['seconds']} s ({first['peak_rss_mib']} MiB); unchanged again "
                  f"{second['seconds']} s; forced {forced['seconds']} s "
                  f"({forced['peak_rss_mib']} MiB)", flush=True)
    finally:
        if not args.keep:
            for f in (parquet, csv):
                f.unlink(missing_ok=True)
            shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
