"""Benchmark: the incident -> deployment link step of the facts refresh at >= 10 M events.

Usage::

    python bench/bench_dora.py                              # builds bench/.data/dora_s50.duckdb
    python bench/bench_incident_links.py [--db bench/.data/dora_s50.duckdb] [--repeat 3]

On a copy of the store (the original is not touched), times ``facts.INCIDENT_LINK`` (the SELECT
alone, 2 threads) and ``dora_deploy_fact``'s SELECT beside it, in two cases: the store as it is
(its teams' rules, materialised), and every team with a 24 h window plus a ``deploy:<id>`` label on
a quarter of the incidents (the latest successful production deployment of their service before
they opened). Prints the best and median of ``--repeat`` runs and the links per basis; writes
``bench/results/incident_links.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from shipwise.metrics import facts

HERE = Path(__file__).parent
RESULTS = HERE / "results" / "incident_links.json"


def _time(con: duckdb.DuckDBPyConnection, sql: str, repeat: int) -> tuple[list[float], list]:
    times, rows = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        rows = con.execute(f"SELECT basis, count(*) FROM ({sql}) x GROUP BY basis "
                           "ORDER BY basis").fetchall() if "incident_id" in sql else \
            con.execute(f"SELECT count(*) FROM ({sql}) x").fetchall()
        times.append(time.perf_counter() - t)
    return times, rows


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--db", type=Path, default=HERE / ".data" / "dora_s50.duckdb")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.db.parent) as tmp:
        copy = Path(tmp) / "copy.duckdb"
        shutil.copy(args.db, copy)
        con = duckdb.connect(str(copy))
        con.execute("SET threads = 2")
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
                  for t in ("incident", "deployment")}
        deploy_sql = dict(facts.FACTS)["dora_deploy_fact"]
        out: dict[str, object] = {"benchmark": "incident_links", "db": str(args.db), **counts}
        for case in ("as_is", "window_24h_and_labels"):
            if case == "window_24h_and_labels":
                con.execute("UPDATE incident_link_policy SET window_hours = 24")
                con.execute("""INSERT OR IGNORE INTO incident_label
                    SELECT i.id, 'deploy:' || d.id FROM incident i JOIN deployment d
                      ON d.service = i.service
                    WHERE lower(d.environment) = 'production' AND d.status = 'success'
                      AND d.finished_at < i.opened_at AND hash(i.id) % 4 = 0
                    QUALIFY row_number() OVER (PARTITION BY i.id ORDER BY d.finished_at DESC) = 1""")
            link_t, by_basis = _time(con, facts.INCIDENT_LINK, args.repeat)
            dep_t, _ = _time(con, deploy_sql, args.repeat)
            out[case] = {"links": dict(by_basis), "incident_link_best_s": min(link_t),
                         "incident_link_median_s": statistics.median(link_t),
                         "dora_deploy_fact_best_s": min(dep_t),
                         "dora_deploy_fact_median_s": statistics.median(dep_t)}
            print(f"{case}: links {dict(by_basis)}; incident_link best {min(link_t):.3f} s "
                  f"median {statistics.median(link_t):.3f} s; dora_deploy_fact best "
                  f"{min(dep_t):.3f} s")
        con.close()
    out["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
