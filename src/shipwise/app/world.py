"""The demo shop's investigation cases (``shipwise demo world``): written as files, or served live
on /metrics. Generated data only — no store, no principal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from shipwise.demo.world import (
    FAULT_KINDS,
    build_world,
    generate_scenarios,
    start_exporter,
    summarise,
    write_world_case,
)
from shipwise.demo.world.noise import rng_for

__all__ = ["FAULT_KINDS", "pick_fault", "serve", "write_cases"]


def pick_fault(fault: str, seed: int) -> str:
    """``fault``, or for ``random`` one kind drawn from the seed."""
    if fault != "random":
        return fault
    return FAULT_KINDS[int(rng_for(seed, "cli-fault").integers(0, len(FAULT_KINDS)))]


def write_cases(out: Path, fault: str, seed: int, *, scenarios: int | None = None,
                step_seconds: float = 10.0, history_seconds: float = 7200.0,
                show_truth: bool = False) -> list[dict[str, Any]]:
    """Write one case (or ``scenarios`` cases) to ``out``; one summary per case, naming the
    alarm — the fault only when it was chosen or ``show_truth``, the answer with ``show_truth``."""
    chosen = fault != "random"
    if scenarios is not None:
        paths = generate_scenarios(scenarios, seed, out, step_seconds, history_seconds,
                                   fault_kinds=[fault] if chosen else None)
    else:
        paths = [write_world_case(out, pick_fault(fault, seed), seed, step_seconds=step_seconds,
                                  history_seconds=history_seconds)]
    rows = []
    for p in paths:
        s = summarise(p)
        row: dict[str, Any] = {"path": str(p), "alarm": s.alarm, "entity": s.alarm_entity,
                               "metric": s.alarm_metric, "time": s.alarm_time}
        if chosen or show_truth:
            row["fault"] = s.fault
        if show_truth:
            truth = yaml.safe_load((p / "truth.yaml").read_text())
            row["truth"] = {k: truth.get(k) for k in ("root_cause", "fault", "event", "instance",
                                                      "red_herrings") if truth.get(k)}
        rows.append(row)
    return rows


def serve(out: Path, kind: str, seed: int, port: int, fault_after: float) -> Any:
    """Serve the shop live on /metrics with the fault starting after ``fault_after`` seconds;
    the other files go to ``out``. Returns the exporter's handle (url, truth, stop)."""
    return start_exporter(build_world(seed), port=port, fault_kind=kind,
                          fault_after_seconds=fault_after, out_dir=out)
