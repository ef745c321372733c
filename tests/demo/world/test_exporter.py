"""The live exporter: Prometheus text over real HTTP, evaluated at the clock's now."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from shipwise.demo.world import build_world, start_exporter
from shipwise.investigate.case import parse_time

SAMPLE = re.compile(r'^(world_[a-z0-9_]+)\{entity="([^"]+)",kind="([a-z_]+)"\} (\S+)$')


class Clock:
    """A clock the test moves (the exporter asks it for "now" on every scrape)."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def scrape(url: str) -> dict[tuple[str, str], float]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = resp.read().decode()
    out: dict[tuple[str, str], float] = {}
    typed = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            assert kind == "gauge" and name not in typed
            typed.add(name)
            continue
        if line.startswith("# HELP "):
            continue
        m = SAMPLE.match(line)
        assert m, line
        assert m.group(1) in typed
        out[(m.group(1), m.group(2))] = float(m.group(4))
    return out


def test_exposition_over_http_changes_after_the_fault(tmp_path: Path) -> None:
    clock = Clock(1_795_000_000.0)
    with start_exporter(build_world(3), fault_kind="permission_revoked", fault_after_seconds=60,
                        out_dir=tmp_path, clock=clock, target="orders-db.inventory") as h:
        assert h.url.startswith("http://127.0.0.1:") and h.port > 0
        before = scrape(h.url)
        clock.t += 600
        after = scrape(h.url)
        again = scrape(h.url)
        assert after == again  # the same instant scraped twice
        expected = h.expected_alarm()
    assert ("world_error_rate", "checkout") in before
    assert ("world_cpu_utilisation", "gateway") in before
    instances = [e for (m, e) in before if m == "world_cpu_utilisation" and e.startswith("i-")]
    assert len(instances) >= 12
    assert after[("world_errors_per_s", "orders-db.inventory")] > 20 * max(
        before[("world_errors_per_s", "orders-db.inventory")], 0.05)
    assert after[("world_error_rate", "inventory")] > 0.1 > before[("world_error_rate",
                                                                        "inventory")]
    assert expected is not None and parse_time(expected["time"]) > clock.t - 540


def test_exporter_writes_what_an_investigation_reads(tmp_path: Path) -> None:
    clock = Clock(1_795_100_000.0)
    with start_exporter(build_world(8), fault_kind="bad_deploy", fault_after_seconds=120,
                        out_dir=tmp_path, clock=clock) as h:
        truth = h.truth
        fault_start = h.fault_start
    assert fault_start == pytest.approx(clock.t + 120)
    names = {p.name for p in tmp_path.iterdir()}
    assert {"topology.json", "events.jsonl", "logs.jsonl", "traces", "runbooks"} <= names
    assert "truth.yaml" not in names and "alarm.json" not in names
    events = [json.loads(x) for x in (tmp_path / "events.jsonl").read_text().splitlines()]
    cause = next(e for e in events if e["id"] == truth["event"])
    assert cause["kind"] == "deployment" and cause["entity"] == truth["root_cause"]
    assert parse_time(cause["time"]) > clock.t  # scheduled in the near future
    logs = [json.loads(x) for x in (tmp_path / "logs.jsonl").read_text().splitlines()]
    assert any(x.get("exception", {}).get("type") == "SerializationException" for x in logs)
    topo = json.loads((tmp_path / "topology.json").read_text())
    assert any(n["kind"] == "instance" for n in topo["nodes"])


def test_exporter_on_the_wall_clock_serves_a_healthy_world_and_stops() -> None:
    h = start_exporter(build_world(1), fault_kind=None)
    try:
        now = scrape(h.url)
        assert 0 <= now[("world_error_rate", "gateway")] < 0.02
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(h.url.replace("/metrics", "/nope"), timeout=10)
        assert h.expected_alarm() is None
    finally:
        h.stop()
    with pytest.raises(OSError):
        urllib.request.urlopen(h.url, timeout=2)
