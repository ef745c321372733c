"""Syncing incidents from a fake ServiceNow instance over real HTTP on loopback.

    python bench/bench_servicenow_sync.py [--incidents 20000] [--changes 400] [--page-size 1000]
                                          [--out bench/results/servicenow_sync.json]

The fake instance (``tests/fakes/servicenow.py``: a ThreadingHTTPServer answering the Table API
in its payload shapes, offset paging with ``Link`` and ``X-Total-Count``, in this process) serves
``--incidents`` incidents over 180 days; about a fifth are caused by one of ``--changes`` change
requests, each naming one of 100 deployments (``correlation_id``), half of which the store has.

(a) First sync: ``shipwise sync servicenow`` as a separate process (the CLI a user runs) into a
store that knows the organisation and those deployments; wall time, requests by table, records
stored, and the sync process's peak RSS (``wait4``). (b) Second sync with nothing new: requests
and wall time. The fake's own cost is part of the wall time (``fake_busy_seconds``: the time it
spent answering), so the figures are an upper bound of shipwise's own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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

from bench.bench_incident_sync import _sync, _write  # noqa: E402
from tests.fakes.servicenow import (  # noqa: E402
    AUTOMATION_USER,
    PASSWORD,
    T0,
    USER,
    FakeServiceNow,
    generate_world,
)

from shipwise.app.context import init_store  # noqa: E402
from shipwise.app.owner import import_paths  # noqa: E402
from shipwise.config import Settings, load_settings  # noqa: E402
from shipwise.store import Store  # noqa: E402

SECRET_ENV = "BENCH_SN_PASSWORD"
RESULTS = ROOT / "bench" / "results" / "servicenow_sync.json"
SERVICES = {"Payments API": "payments-api", "Checkout Web": "checkout-web",
            "Legacy Batch": "legacy-batch"}
DEPLOYMENTS = [f"dep-{k:03d}" for k in range(100)]


def _org(folder: Path) -> Path:
    records: list[dict[str, Any]] = [{"type": "org_unit", "id": "eng", "name": "Engineering"}]
    for team in ("payments", "checkout"):
        records.append({"type": "team", "id": team, "name": team.title(), "org_unit": "eng",
                        "delivery_unit": "deployments"})
    for service, team in (("payments-api", "payments"), ("checkout-web", "checkout"),
                          ("legacy-batch", "payments")):
        records.append({"type": "service", "id": service, "name": service, "team": team})
    for did in DEPLOYMENTS[::2]:  # half the deployments the changes name are in the store
        records.append({"type": "deployment", "id": did, "service": "payments-api",
                        "environment": "production", "started_at": "2025-06-01T10:00:00Z",
                        "finished_at": "2025-06-01T10:10:00Z", "status": "success"})
    path = folder / "org.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--incidents", type=int, default=20_000)
    ap.add_argument("--changes", type=int, default=400)
    ap.add_argument("--page-size", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    start = T0 - timedelta(days=180)
    world = generate_world(seed=11, incidents=args.incidents, changes=args.changes,
                           start=start, days=180, deployments=DEPLOYMENTS)
    with tempfile.TemporaryDirectory() as tmp, FakeServiceNow(world) as fake:
        folder = Path(tmp)
        settings = Settings(db=folder / "shipwise.duckdb")
        init_store(settings)
        import_paths(settings, [_org(folder)])
        config = folder / "shipwise.yaml"
        config.write_text(yaml.safe_dump({"sources": [{
            "kind": "servicenow", "base_url": fake.url, "user": USER, "token_env": SECRET_ENV,
            "services": SERVICES, "change_deployment_field": "correlation_id",
            "automation_users": [AUTOMATION_USER], "page_size": args.page_size,
            "since": (start - timedelta(days=1)).date().isoformat()}]}))
        settings = load_settings(db=settings.db, config_file=config)
        first = _sync(settings, config, "servicenow", (SECRET_ENV, PASSWORD))
        first["requests_by_path"] = dict(Counter(p for p, _ in fake.requests))
        first["fake_busy_seconds"] = round(fake.busy, 2)
        fake.requests.clear()
        fake.busy = 0.0
        second = _sync(settings, config, "servicenow", (SECRET_ENV, PASSWORD))
        second["requests_by_path"] = dict(Counter(p for p, _ in fake.requests))
        second["fake_busy_seconds"] = round(fake.busy, 2)
        with Store.open(settings.db, read_only=True) as store:
            stored = {t: store.count(t) for t in ("incident", "incident_label", "quarantine")}
            stored["incident_caused_by"] = store.con.execute(
                "SELECT count(*) FROM incident WHERE caused_by IS NOT NULL").fetchone()[0]
    out = {
        "benchmark": "ServiceNow incidents: first sync and a second with nothing new",
        "command": " ".join(["python", "bench/bench_servicenow_sync.py", *sys.argv[1:]]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "world": {"incidents": len(world.incidents), "changes": len(world.changes),
                  "page_size": args.page_size},
        "first_sync": first, "second_sync": second, "stored": stored,
    }
    _write(out, args.out)


if __name__ == "__main__":
    main()
