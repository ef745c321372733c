"""`shipwise serve` delivers the outbox in the background: a real server process receives an
alarm, investigates it in its worker process, and the alarm's Slack thread (investigating, then
the findings as a reply) reaches a local receiver with no command run; `shipwise notify
status` while the server holds the store is answered through it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from shipwise.app.owner import import_paths
from shipwise.config import Settings
from tests.conftest import cli_env, org, write_jsonl
from tests.fakes import notify as fake
from tests.server.conftest import SECRET, serve_process


def test_serve_delivers_in_the_background(settings: Settings, tmp_path: Path) -> None:
    import_paths(settings, [write_jsonl(tmp_path / "org.jsonl", org((("payments", "pay-api"),)))])
    with fake.Receivers() as rx:
        (tmp_path / "shipwise.yaml").write_text(yaml.safe_dump({
            "webhooks": {"secret": SECRET},
            "notify": {"channels": [{"kind": "slack_api", "base_url": f"{rx.url}/slack/api",
                                     "channel": "C0INCIDENT"}],
                       "deliver": {"interval_seconds": 0.5}}}))
        env = cli_env(SLACK_BOT_TOKEN=fake.SLACK_TOKEN)
        with serve_process(cwd=tmp_path, env=env) as served:
            r = httpx.post(served.url + "/webhooks/generic", timeout=10, headers={
                "Authorization": f"Bearer {SECRET}"}, json={
                "entity": "pay-api", "metric": "error_rate", "time": "2026-09-29T10:15:00Z"})
            assert r.status_code in (200, 202), r.text
            deadline = time.monotonic() + 60
            while len(rx.posts) < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            # only the store is read (the default source): an inconclusive record
            started, found = (p.body for p in rx.posts)
            assert started["text"].startswith("Investigating: pay-api error_rate")
            assert "thread_ts" not in started
            assert found["text"].startswith("Investigation: pay-api error_rate")
            assert "Status: Inconclusive" in found["text"]
            assert found["thread_ts"] == f"{rx.slack_epoch}.000001"  # the first message's ts
            status = subprocess.run([sys.executable, "-m", "shipwise", "notify", "status",
                                     "--format", "json"], cwd=tmp_path, env=env,
                                    capture_output=True, text=True, timeout=60)
            assert status.returncode == 0, status.stderr
            res = json.loads(status.stdout)
            assert (res["pending"], res["delivered"], res["failed"]) == (0, 2, 0)
        assert rx.problems == []
