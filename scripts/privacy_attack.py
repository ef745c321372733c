"""Attack a store's suppression the way tests/governance/test_adversary.py does, and print what
each role could recover and how much is hidden.

    python scripts/privacy_attack.py --db shipwise.duckdb [--member-team payments]
    python scripts/privacy_attack.py --random 8       # eight random organisations

Run from the repository root (it uses the attacker in tests/governance/adversary.py).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.governance import attack as attacker

from shipwise.app.diagnostics import COUNTS, SOURCE, DiagnosticRequest, diagnostic_rows
from shipwise.governance.access import LOCAL_ADMIN, Principal
from shipwise.store.duckdb_store import Store


def hidden_share(store: Store) -> dict[str, str]:
    out = {}
    for fam in ("flow", "strain"):
        for grain in ("week", "month", "quarter"):
            tot = hid = 0
            for lvl in ("team", "org_unit"):
                for row in diagnostic_rows(store, DiagnosticRequest(fam, grain, lvl))["rows"]:
                    for k in {**row["metrics"], **row["counts"]}:
                        if SOURCE.get(k, COUNTS[fam].get(k)) is None:
                            continue
                        tot += 1
                        hid += k in row["suppressed"]
            out[f"{fam} {grain}"] = f"{hid}/{tot} = {hid / max(tot, 1):.1%}"
    return out


def attack_store(store: Store, member_team: str | None) -> dict[str, dict[str, int]]:
    team = member_team or store.con.execute("SELECT min(id) FROM team").fetchone()[0]
    roles = {"admin": LOCAL_ADMIN, "exec": Principal("exec", name="cfo"),
             f"member:{team}": Principal("member", team=team, name="m")}
    out = {}
    for name, who in roles.items():
        t = time.perf_counter()
        got = attacker.run(store, who)
        out[name] = {"hidden_additive": got.hidden, "in_span": len(got.recoverable),
                     "recovered_exactly": len(got.exact), "model_mismatch": len(got.wrong),
                     "seconds": round(time.perf_counter() - t, 1)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db")
    ap.add_argument("--member-team")
    ap.add_argument("--random", type=int, default=0)
    a = ap.parse_args()
    if a.db:
        with Store.open(a.db) as store:
            print(json.dumps({"hidden_share": hidden_share(store),
                              "attack": attack_store(store, a.member_team)}, indent=1))
    for seed in range(a.random):
        from tests.conftest import write_jsonl

        from shipwise.app.context import init_store
        from shipwise.app.owner import import_paths
        from shipwise.config import load_settings

        with tempfile.TemporaryDirectory() as d:
            s = load_settings(db=Path(d) / "s.duckdb")
            init_store(s)
            import_paths(s, [write_jsonl(Path(d) / "o.jsonl", attacker.random_org(random.Random(seed)))])
            with Store.open(s.db) as store:
                print(seed, json.dumps(attack_store(store, None)))


if __name__ == "__main__":
    main()
