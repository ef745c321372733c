"""Syncing alerts, pages and on-call shifts from a fake Opsgenie over real HTTP on loopback.

    flock /tmp/w/heavy.lock python bench/bench_opsgenie_sync.py [--alerts 20000] [--recipients 3]
                                          [--out bench/results/opsgenie_sync.json]

The fake Opsgenie (``tests/fakes/opsgenie.py``: a ThreadingHTTPServer with Opsgenie's payload
shapes, offset paging and its 20,000 offset cap, in this process) serves ``--alerts`` alerts over
180 days, each with ``--recipients`` recipients (about a third of them not notified), and three
schedules (two mapped: weekly and twelve-hour shifts).

(a) First sync: ``shipwise sync opsgenie`` as a separate process (the CLI a user runs) into a
store that knows the organisation; wall time, requests by kind, records stored, peak RSS.
(b) Second sync with nothing new, an hour later: requests and wall time. The fake's own cost is
part of the wall time (``fake_busy_seconds``: the time it spent answering), so the figures are an
upper bound of shipwise's own.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_incident_sync import _org, _sync, _write  # noqa: E402
from tests.fakes.opsgenie import TOKEN, FakeOpsgenie, generate_world  # noqa: E402

from shipwise.app.context import init_store  # noqa: E402
from shipwise.app.owner import import_paths  # noqa: E402
from shipwise.config import Settings, load_settings  # noqa: E402
from shipwise.store import Store  # noqa: E402

TOKEN_ENV = "BENCH_OG_TOKEN"
RESULTS = ROOT / "bench" / "results" / "opsgenie_sync.json"
SERVICES = {"payments": "payments-api", "Checkout Team": "checkout-web",
            "Legacy Ops": "legacy-batch"}
SCHEDULES = {"Payments rota": "payments", "Checkout rota": "checkout"}


def _kinds(fake: FakeOpsgenie) -> dict[str, int]:
    return dict(Counter(re.sub(r"/v2/(alerts|schedules)/[^/]+/", r"/v2/\1/{id}/", p)
                        for p, _ in fake.requests))


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--alerts", type=int, default=20_000)
    ap.add_argument("--recipients", type=int, default=3)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    world = generate_world(seed=11, alerts=args.alerts, days=180, recipients=args.recipients)
    start = min(a.created for a in world.alerts)
    last = max(a.updated for a in world.alerts)
    with tempfile.TemporaryDirectory() as tmp, FakeOpsgenie(world) as fake:
        folder = Path(tmp)
        settings = Settings(db=folder / "shipwise.duckdb")
        init_store(settings)
        import_paths(settings, [_org(folder)])
        config = folder / "shipwise.yaml"
        config.write_text(yaml.safe_dump({"sources": [{
            "kind": "opsgenie", "base_url": fake.url, "token_env": TOKEN_ENV,
            "services": SERVICES, "schedules": SCHEDULES,
            "since": (start - timedelta(days=1)).date().isoformat()}]}))
        settings = load_settings(db=settings.db, config_file=config)
        first = _sync(settings, config, "opsgenie", (TOKEN_ENV, TOKEN))
        first["requests_by_path"] = _kinds(fake)
        first["fake_busy_seconds"] = round(fake.busy, 2)
        fake.requests.clear()
        fake.busy = 0.0
        second = _sync(settings, config, "opsgenie", (TOKEN_ENV, TOKEN))
        second["requests_by_path"] = _kinds(fake)
        second["fake_busy_seconds"] = round(fake.busy, 2)
        with Store.open(settings.db, read_only=True) as store:
            stored = {t: store.count(t) for t in ("incident", "page", "oncall_shift",
                                                  "quarantine")}
    out = {
        "benchmark": "Opsgenie alerts, pages and on-call shifts: first sync and a second with "
                     "nothing new",
        "command": " ".join(["python", "bench/bench_opsgenie_sync.py", *sys.argv[1:]]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "world": {"alerts": len(world.alerts),
                  "open_alerts": sum(1 for a in world.alerts if a.closed is None),
                  "recipients": sum(len(a.recipients) for a in world.alerts),
                  "last_update": last.isoformat()},
        "first_sync": first, "second_sync": second, "stored": stored,
    }
    _write(out, args.out)


if __name__ == "__main__":
    main()
