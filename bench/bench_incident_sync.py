"""Syncing incidents and pages from a fake PagerDuty over real HTTP on loopback.

    python bench/bench_incident_sync.py [--incidents 20000] [--notifications 3]
                                        [--out bench/results/incident_sync.json]

The fake PagerDuty (``tests/fakes/pagerduty.py``: a ThreadingHTTPServer with PagerDuty's REST v2
payload shapes and classic offset pagination, in this process) serves ``--incidents`` incidents
over 180 days, each with ``--notifications`` notify log entries plus trigger and resolve entries.

(a) First sync: ``shipwise sync pagerduty`` as a separate process (the CLI a user runs) into a
store that knows the organisation; wall time, requests by kind, records stored, and the sync
process's peak RSS (``wait4``). (b) Second sync with nothing new, an hour later by the data:
requests and wall time (the open incidents are read again, one request each). The fake's own
cost is part of the wall time (reported as ``fake_busy_seconds``: the time it spent answering),
so the figures are an upper bound of shipwise's own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.pagerduty import TOKEN, FakePagerDuty, generate_world  # noqa: E402

from shipwise.app.context import init_store  # noqa: E402
from shipwise.app.owner import import_paths  # noqa: E402
from shipwise.config import Settings, load_settings  # noqa: E402
from shipwise.store import Store  # noqa: E402

TOKEN_ENV = "BENCH_PD_TOKEN"
RESULTS = ROOT / "bench" / "results" / "incident_sync.json"
SERVICES = {"PSVC001": "payments-api", "PSVC002": "checkout-web", "PSVC003": "legacy-batch"}


def _org(folder: Path) -> Path:
    records: list[dict[str, Any]] = [{"type": "org_unit", "id": "eng", "name": "Engineering"}]
    for team in ("payments", "checkout"):
        records.append({"type": "team", "id": team, "name": team.title(), "org_unit": "eng",
                        "delivery_unit": "deployments"})
    for service, team in (("payments-api", "payments"), ("checkout-web", "checkout"),
                          ("legacy-batch", "payments")):
        records.append({"type": "service", "id": service, "name": service, "team": team})
    path = folder / "org.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _sync(settings: Settings, config: Path, source: str = "pagerduty",
          secret: tuple[str, str] = (TOKEN_ENV, TOKEN)) -> dict[str, Any]:
    """``shipwise sync SOURCE`` as a separate process, with the key ``secret`` (variable,
    value) in its environment: wall time, peak RSS and each scope's report."""
    env = {**os.environ, secret[0]: secret[1]}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "shipwise", "--db", str(settings.db),
                             "--config", str(config), "sync", source, "--format", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    out = proc.stdout.read() if proc.stdout else ""
    err = proc.stderr.read() if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"sync failed: {err[-2000:]}")
    report = json.loads(out)
    return {"seconds": round(wall, 2), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
            "scopes": {s["scope"]: {k: s.get(k, 0) for k in
                                    ("records", "inserted", "updated", "unchanged",
                                     "quarantined", "requests", "seconds")}
                       for s in report["scopes"]}}


def _write(out: dict[str, Any], path: Path) -> None:
    """Write the results to ``path`` and print the two syncs' figures."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps({k: out[k] for k in ("world", "stored")}))
    for name in ("first_sync", "second_sync"):
        s = out[name]
        print(f"{name}: {s['seconds']} s (the fake answering: {s['fake_busy_seconds']} s), "
              f"peak {s['peak_rss_mib']} MiB, requests "
              f"{sum(s['requests_by_path'].values())} {s['requests_by_path']}")
    print(f"wrote {path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--incidents", type=int, default=20_000)
    ap.add_argument("--notifications", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    world = generate_world(seed=11, incidents=args.incidents, days=180,
                           notifications=args.notifications)
    start = min(i.created for i in world.incidents)
    with tempfile.TemporaryDirectory() as tmp, FakePagerDuty(world) as fake:
        folder = Path(tmp)
        settings = Settings(db=folder / "shipwise.duckdb")
        init_store(settings)
        import_paths(settings, [_org(folder)])
        config = folder / "shipwise.yaml"
        config.write_text(yaml.safe_dump({"sources": [{
            "kind": "pagerduty", "base_url": fake.url, "token_env": TOKEN_ENV,
            "services": SERVICES, "since": (start - timedelta(days=1)).date().isoformat()}]}))
        settings = load_settings(db=settings.db, config_file=config)
        first = _sync(settings, config)
        first["requests_by_path"] = dict(Counter(p for p, _ in fake.requests))
        first["fake_busy_seconds"] = round(fake.busy, 2)
        fake.requests.clear()
        fake.busy = 0.0
        second = _sync(settings, config)
        second["requests_by_path"] = dict(Counter(p.split("/PINC")[0] for p, _ in fake.requests))
        second["fake_busy_seconds"] = round(fake.busy, 2)
        with Store.open(settings.db, read_only=True) as store:
            stored = {t: store.count(t) for t in ("incident", "page", "quarantine")}
    still_open = sum(1 for i in world.incidents if i.resolved is None)
    out = {
        "benchmark": "PagerDuty incidents and pages: first sync and a second with nothing new",
        "command": " ".join(["python", "bench/bench_incident_sync.py", *sys.argv[1:]]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "world": {"incidents": len(world.incidents), "open_incidents": still_open,
                  "log_entries": len(world.log_entries())},
        "first_sync": first, "second_sync": second, "stored": stored,
    }
    _write(out, args.out)


if __name__ == "__main__":
    main()
