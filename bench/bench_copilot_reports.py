"""One day of GitHub's Copilot usage metrics reports of a large organisation, aggregated to teams
at the door: wall time of parsing the NDJSON and summing people into teams (no network).

    flock /tmp/w/heavy.lock python3 -m bench.bench_copilot_reports [--people 10000]
        [--teams 200] [--repeat 5] [--out bench/results/copilot_reports.json]

Generates (seeded) ``--people`` per-user records in the documented shape (with the per-IDE and
per-feature breakdowns the connector skips or reads) and 1.5 team memberships a person on
``--teams`` GitHub teams, all mapped to ``--teams`` / 2 shipwise teams, as NDJSON split in four
files like GitHub's links; then times :func:`shipwise.connectors.copilot.reports.read_ndjson`
plus :func:`~shipwise.connectors.copilot.reports.aggregate` (median and max of ``--repeat``
runs) and records the process's peak RSS. The team rows are checked: every mapped person counted.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import statistics
import time
from datetime import date
from pathlib import Path
from typing import Any

from shipwise.connectors.copilot import reports

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "copilot_reports.json"
DAY = date(2026, 11, 30)


def person(rng: random.Random, uid: int) -> dict[str, Any]:
    gen = rng.randint(0, 80)
    acc = rng.randint(0, gen)
    agent = rng.randint(0, 6)
    return {
        "day": DAY.isoformat(), "organization_id": "1", "user_id": uid,
        "user_login": f"user-{uid}", "user_initiated_interaction_count": agent + 3,
        "code_generation_activity_count": gen, "code_acceptance_activity_count": acc,
        "loc_suggested_to_add_sum": 2 * gen, "loc_added_sum": acc, "loc_deleted_sum": 1,
        "used_agent": agent > 0, "used_chat": True, "used_cli": False,
        "ai_adoption_phase": "code_first",
        "totals_by_feature": [
            {"feature": "code_completion", "code_generation_activity_count": gen,
             "code_acceptance_activity_count": acc, "user_initiated_interaction_count": 0},
            {"feature": "chat_panel_agent_mode", "code_generation_activity_count": agent,
             "code_acceptance_activity_count": 0, "user_initiated_interaction_count": agent}],
        "totals_by_ide": [{"ide": "vscode", "code_generation_activity_count": gen,
                           "last_known_ide_version": {"ide_version": "1.99.0"}}],
        "totals_by_language_feature": [{"language": "python", "feature": "code_completion",
                                        "code_generation_activity_count": gen}],
        "totals_by_cli": {"session_count": rng.randint(0, 2), "request_count": 3},
    }


def ndjson(rows: list[dict[str, Any]], parts: int = 4) -> list[bytes]:
    return ["".join(json.dumps(r) + "\n" for r in rows[k::parts]).encode()
            for k in range(parts)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=10_000)
    ap.add_argument("--teams", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    rng = random.Random(7)
    users = [person(rng, 10_000_000 + k) for k in range(args.people)]
    memberships = []
    for u in users:
        for slug in rng.sample(range(args.teams), 2 if rng.random() < 0.5 else 1):
            memberships.append({"user_id": u["user_id"], "user_login": u["user_login"],
                                "day": DAY.isoformat(), "team_id": slug, "slug": f"gh-{slug}"})
    teams = {f"gh-{k}": f"team-{k // 2}" for k in range(args.teams)}
    users_nd, teams_nd = ndjson(users), ndjson(memberships)
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        got = reports.aggregate(reports.read_ndjson(users_nd, reports.USERS),
                                reports.read_ndjson(teams_nd, reports.USER_TEAMS),
                                teams, DAY, "bench")
        times.append(time.perf_counter() - t0)
    assert got.unmapped == 0 and got.people == args.people
    assert got.table.num_rows == len(set(teams.values()))
    result = {
        "bench": "copilot_reports", "people": args.people, "github_teams": args.teams,
        "shipwise_teams": len(set(teams.values())), "memberships": len(memberships),
        "ndjson_bytes": sum(map(len, users_nd)) + sum(map(len, teams_nd)),
        "seconds_median": round(statistics.median(times), 4),
        "seconds_max": round(max(times), 4), "repeat": args.repeat,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "python": platform.python_version(), "machine": platform.machine(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
