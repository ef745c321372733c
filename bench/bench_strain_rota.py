"""Strain with an on-call rota: every team of a demo store gets 12-hour shifts (08:00 and 20:00
UTC) over two years, then the full refresh and the strain query (every team or org unit, whole
span) are timed.

    python bench/bench_strain_rota.py --db <demo store> [--repeat 3]

The store is copied first (the shifts are written to the copy only). Prints the figures.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", type=Path, required=True, help="A demo store (copied first).")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from shipwise.metrics import facts
    from shipwise.metrics.strain import StrainQuery, strain_sql
    from shipwise.store.duckdb_store import Store

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "rota.duckdb"
        shutil.copy(args.db, db)
        key = args.db.parent / (args.db.name + ".key")
        if key.exists():
            shutil.copy(key, Path(tmp) / "rota.duckdb.key")
        with Store.open(db) as store:
            store.con.execute("""INSERT INTO oncall_shift
              SELECT t.id || ':' || CAST(s AS VARCHAR), t.id,
                     'p' || CAST(CAST(epoch(s) AS BIGINT) % 7 AS VARCHAR) || t.id, false,
                     s, s + INTERVAL 12 HOUR, 'S', 'bench', 'h', now()
              FROM team t, unnest(generate_series(TIMESTAMP '2024-10-01 08:00:00',
                                                  TIMESTAMP '2026-09-30 20:00:00',
                                                  INTERVAL 12 HOUR)) u(s)""")
            row = store.con.execute("SELECT count(*) FROM oncall_shift").fetchone()
            t0 = time.perf_counter()
            facts.refresh(store)
            print(f"{row[0] if row else 0} shifts; full refresh {time.perf_counter() - t0:.2f} s")
            for grain, level in (("quarter", "team"), ("week", "team"), ("quarter", "org_unit")):
                sql, params = strain_sql(StrainQuery(grain, level, date(2024, 10, 1),
                                                     date(2026, 9, 30)))
                runs = []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    n = len(store.con.execute(sql, params).fetchall())
                    runs.append(time.perf_counter() - t0)
                print(f"strain {grain}/{level}: {n} rows, median {statistics.median(runs):.3f} s")


if __name__ == "__main__":
    main()
