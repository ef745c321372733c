"""Syncing tickets and Jira Service Management incidents from a fake Jira over real HTTP.

    python bench/bench_jira_sync.py [--tickets 2000] [--incidents 1000] [--edition cloud]
                                    [--out bench/results/jira_sync.json]

The fake (``tests/fakes/jira.py``: a ThreadingHTTPServer answering Cloud's ``/search/jql`` with
``nextPageToken``, or Data Center's ``startAt`` paging, changelogs and JQL dates in the user's
zone, in this process) serves ``--tickets`` tickets and ``--incidents`` incidents (its world spaces
them hours apart from January 2025: more than these defaults reach into the future, which the
importer refuses). (a) First sync:
``shipwise sync jira`` as a separate process (the CLI a user runs); wall time, requests, records,
peak RSS. (b) A second sync with nothing new. The fake's own cost is part of the wall time
(``fake_busy_seconds``), so the figures are an upper bound of shipwise's own.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_incident_sync import _sync, _write  # noqa: E402
from tests.conftest import org, write_jsonl  # noqa: E402
from tests.fakes.jira import PAT, TOKEN, FakeJira, generate_world, make_source  # noqa: E402

from shipwise.app.context import init_store  # noqa: E402
from shipwise.app.owner import import_paths  # noqa: E402
from shipwise.config import Settings, load_settings  # noqa: E402
from shipwise.store import Store  # noqa: E402

SECRET_ENV = "BENCH_JIRA_TOKEN"
RESULTS = ROOT / "bench" / "results" / "jira_sync.json"


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--tickets", type=int, default=2000)
    ap.add_argument("--incidents", type=int, default=1000)
    ap.add_argument("--edition", choices=("cloud", "data_center"), default="cloud")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    world = generate_world(seed=5, tickets=args.tickets, incidents=args.incidents)
    secret = TOKEN if args.edition == "cloud" else PAT
    with tempfile.TemporaryDirectory() as tmp, FakeJira(world, edition=args.edition) as fake:
        folder = Path(tmp)
        settings = Settings(db=folder / "shipwise.duckdb")
        init_store(settings)
        records = org((("payments", "pay-api"), ("search", "search-api"), ("platform", "infra")))
        # the deployments the incidents name as their cause (an unknown one is quarantined)
        records += [{"type": "deployment", "id": i.cause, "service": "pay-api",
                     "environment": "production", "started_at": "2025-01-01T00:00:00Z",
                     "finished_at": "2025-01-01T00:00:00Z", "status": "success"}
                    for i in world.incidents() if i.cause]
        import_paths(settings, [write_jsonl(folder / "org.jsonl", records)])
        source = make_source(fake.url, folder / "token", edition=args.edition)
        spec = source.model_dump(mode="json", by_alias=True, exclude_none=True,
                                 exclude={"token_file"})
        spec["token_env"] = SECRET_ENV
        config = folder / "shipwise.yaml"
        config.write_text(yaml.safe_dump({"sources": [spec]}))
        settings = load_settings(db=settings.db, config_file=config)
        runs = []
        for _ in range(2):
            fake.requests.clear()
            busy0 = fake.busy
            run = _sync(settings, config, "jira", (SECRET_ENV, secret))
            run["requests_by_path"] = dict(Counter(r[1] for r in fake.requests))
            run["fake_busy_seconds"] = round(fake.busy - busy0, 2)
            runs.append(run)
        with Store.open(settings.db, read_only=True) as store:
            stored = {t: store.count(t) for t in ("incident", "incident_label", "ticket_status",
                                                  "quarantine")}
    out = {
        "benchmark": "Jira tickets and JSM incidents: first sync and a second with nothing new",
        "command": " ".join(["python", "bench/bench_jira_sync.py", *sys.argv[1:]]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "world": {"tickets": args.tickets, "incidents": args.incidents, "edition": args.edition},
        "first_sync": runs[0], "second_sync": runs[1], "stored": stored,
    }
    _write(out, args.out)


if __name__ == "__main__":
    main()
