"""Generate cases: one for a fault kind, or a varied set cycling through every kind."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import yaml

from shipwise.demo.world.alarm import Fired, alert_rules, calibrate, first_alarm
from shipwise.demo.world.baseline import World, build_world
from shipwise.demo.world.faults import FAULT_KINDS
from shipwise.demo.world.logs import generate_logs
from shipwise.demo.world.model import evaluate
from shipwise.demo.world.noise import rng_for, stable_u64
from shipwise.demo.world.plan import Scenario, plan_scenario
from shipwise.demo.world.runbooks import choose_runbooks
from shipwise.demo.world.traces import generate_traces
from shipwise.demo.world.writer import CaseFiles, write_case

#: How long after the fault starts we wait for an alert to fire before re-planning.
ALARM_HORIZON_S = 3600.0
_EPOCH = datetime(2026, 11, 2, tzinfo=UTC).timestamp()


class NoAlarmError(RuntimeError):
    """No alert rule fired for a planned fault (the fault was too mild to notice)."""


@dataclass(frozen=True)
class CaseSummary:
    """What was written, without the answer."""

    path: Path
    fault: str
    alarm: str
    alarm_entity: str
    alarm_metric: str
    alarm_time: str


def fault_start(seed: int) -> float:
    """A daytime instant in November 2026, different for every seed."""
    rng = rng_for(seed, "start")
    day = int(rng.integers(0, 28))
    return _EPOCH + day * 86_400.0 + float(rng.uniform(7.5, 21.5)) * 3600.0


def plan_case(world: World, fault_kind: str, seed: int, *, step_seconds: float = 15.0,
              history_seconds: float = 7200.0, target: str | None = None,
              herrings: Sequence[str] | None = None) -> tuple[Scenario, np.ndarray, Fired]:
    """Plan the fault and find the alarm; re-plan (deterministically) if nothing fired."""
    start = fault_start(seed)
    for attempt in range(6):
        sub = seed if attempt == 0 else int(stable_u64("replan", seed, attempt) % 2**31)
        scn = plan_scenario(world, fault_kind, start, sub, target=target, herrings=herrings)
        first = math.floor((start - history_seconds - 900.0) / step_seconds) * step_seconds
        grid = np.arange(first, start + ALARM_HORIZON_S + 300.0, step_seconds)
        ev = evaluate(scn, grid)
        rules = calibrate(alert_rules(world), grid, ev.metrics, scn.start)
        fired = first_alarm(rules, grid, ev.metrics, scn.start)
        if fired is not None:
            return scn, grid, fired
    raise NoAlarmError(f"{fault_kind} (seed {seed}) never raised an alarm")


def build_case(fault_kind: str, seed: int, *, step_seconds: float = 15.0,
               history_seconds: float = 7200.0, after_seconds: float = 120.0,
               target: str | None = None, herrings: Sequence[str] | None = None,
               trace_every_s: float = 20.0) -> CaseFiles:
    """Everything a case holds, in memory."""
    world = build_world(seed)
    scn, _, fired = plan_case(world, fault_kind, seed, step_seconds=step_seconds,
                              history_seconds=history_seconds, target=target, herrings=herrings)
    t_end = fired.time + after_seconds
    t_start = fired.time - history_seconds
    grid = np.arange(t_start, t_end + step_seconds / 2, step_seconds)
    ev = evaluate(scn, grid)
    traces = generate_traces(scn, ev, t_start, t_end, rng_for(seed, "traces"), trace_every_s)
    logs = generate_logs(scn, ev, t_start, t_end, rng_for(seed, "logs"), traces)
    books = choose_runbooks(scn, fired.rule.name, rng_for(seed, "runbooks"))
    return CaseFiles(scn, ev, (t_start, float(grid[-1])), fired, logs, traces, books)


def write_world_case(out_dir: str | Path, fault_kind: str, seed: int, *,
                     step_seconds: float = 15.0, history_seconds: float = 7200.0,
                     after_seconds: float = 120.0, target: str | None = None,
                     herrings: Sequence[str] | None = None) -> Path:
    """Write one case of ``fault_kind`` into ``out_dir`` (the case directory itself)."""
    if fault_kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {fault_kind!r} (one of {', '.join(FAULT_KINDS)})")
    files = build_case(fault_kind, seed, step_seconds=step_seconds,
                       history_seconds=history_seconds, after_seconds=after_seconds,
                       target=target, herrings=herrings)
    return write_case(Path(out_dir), files)


def generate_scenarios(n: int, seed: int, out_dir: str | Path, step_seconds: float = 15.0,
                       history_seconds: float = 7200.0, *,
                       fault_kinds: Sequence[str] | None = None) -> list[Path]:
    """``n`` varied cases under ``out_dir`` (``world-000``, ``world-001``…), cycling through the
    fault kinds (or ``fault_kinds``); targets, timing, red herrings and noise vary with each
    case's seed.

    Directory names do not reveal the fault (an engine reading the case must not learn it).
    """
    out = Path(out_dir)
    kinds = tuple(fault_kinds) if fault_kinds else FAULT_KINDS
    paths = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        case_seed = int(stable_u64("scenario", seed, i) % 2**31)
        paths.append(write_world_case(out / f"world-{i:03d}", kind, case_seed,
                                      step_seconds=step_seconds, history_seconds=history_seconds))
    return paths


def summarise(path: Path) -> CaseSummary:
    """The summary of a written case: its alarm and fault kind, not its root cause."""
    alarm = json.loads((path / "alarm.json").read_text())
    truth = yaml.safe_load((path / "truth.yaml").read_text())
    return CaseSummary(path, str(truth.get("fault", "")), str(alarm["source"]["alertname"]),
                       str(alarm["entity"]), str(alarm["metric"]), str(alarm["time"]))
