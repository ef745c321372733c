"""A small two-team world in a real Prometheus (back-filled), for the gaps and verify tests.

``checkout`` (team checkout) breaks at ``incident``: its latency rises for 40 minutes and comes
back; its error rate rises and stays up. ``payouts-worker`` (team payouts, no topology linking it
to checkout) is deployed two minutes earlier and its CPU jumps right after: an unrelated deploy
with an effect of its own — the red herring an honest investigation must not blame."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from shipwise.app.owner import import_paths
from shipwise.config import Settings
from tests.conftest import org, write_jsonl

STEP = 15.0


@dataclass(frozen=True)
class PromWorld:
    url: str
    start: float
    alarm: float
    incident: float
    deploy: float
    end: float


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).isoformat().replace("+00:00", "Z")


def world_times() -> PromWorld:
    now = float(int(time.time() // 60 * 60))
    start = now - 5 * 3600
    alarm = start + 3 * 3600
    incident = alarm - 8 * 60
    return PromWorld("", start, alarm, incident, incident - 150, now - 20 * 60)


def openmetrics(w: PromWorld, seed: int = 3) -> str:
    rng = np.random.default_rng(seed)
    ts = np.arange(w.start, w.end + 1, STEP)
    after = ts >= w.incident
    latency = np.where(after & (ts < w.incident + 40 * 60), 400.0, 100.0) + rng.normal(0, 3, ts.size)
    errors = np.where(after, 0.3, 0.01) + rng.normal(0, 0.001, ts.size)
    requests = 50 + rng.normal(0, 1, ts.size)
    cpu = np.where(ts >= w.deploy + 30, 0.9, 0.3) + rng.normal(0, 0.01, ts.size)
    series = {("latency_p95_ms", "checkout"): latency, ("error_rate", "checkout"): errors,
              ("requests_per_s", "checkout"): requests,
              ("cpu_utilisation", "payouts-worker"): cpu}
    lines: list[str] = []
    for metric in sorted({m for m, _ in series}):
        lines.append(f"# TYPE shop_{metric} gauge")
        for (m, svc), vals in sorted(series.items()):
            if m == metric:
                lines += [f'shop_{m}{{service="{svc}"}} {float(v)!r} {t:.3f}' for t, v in zip(ts, vals, strict=True)]
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def store_world(settings: Settings, tmp: Path, w: PromWorld) -> None:
    """The two teams and services, and the payouts-worker deployment, in the store."""
    recs: list[dict[str, Any]] = [*org([("checkout", "checkout"), ("payouts", "payouts-worker")])]
    recs.append({"type": "deployment", "id": "pw-42", "service": "payouts-worker",
                 "environment": "production", "started_at": iso(w.deploy - 120),
                 "finished_at": iso(w.deploy), "status": "success", "commits": [],
                 "version": "4.2"})
    import_paths(settings, [write_jsonl(tmp / "recs.jsonl", recs)])


def prometheus_config(url: str) -> dict[str, Any]:
    return {"url": url, "entity_label": "service", "metric_prefix": "shop_", "step_seconds": 15}
