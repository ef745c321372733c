"""The demo world with faults: a small web shop whose telemetry we can break on purpose.

- :func:`build_world` — the shop for a seed (topology and healthy baselines).
- :func:`write_world_case` / :func:`generate_scenarios` — investigation cases on disk
  (``docs/case-format.md``), one per fault or a varied set cycling through every fault kind.
- :func:`start_exporter` — the same world served live to Prometheus, with a fault on a timer.

See ``docs/demo-world.md`` for the system, the fault library and the red herrings.
"""

from __future__ import annotations

from shipwise.demo.world.baseline import World, build_world
from shipwise.demo.world.exporter import ExporterHandle, exposition, start_exporter
from shipwise.demo.world.faults import FAULT_KINDS
from shipwise.demo.world.herrings import HERRINGS
from shipwise.demo.world.model import METRICS, evaluate
from shipwise.demo.world.plan import Scenario, plan_scenario
from shipwise.demo.world.scenarios import (
    CaseSummary,
    NoAlarmError,
    build_case,
    generate_scenarios,
    summarise,
    write_world_case,
)

RED_HERRINGS: tuple[str, ...] = tuple(HERRINGS)

__all__ = [
    "FAULT_KINDS",
    "METRICS",
    "RED_HERRINGS",
    "CaseSummary",
    "ExporterHandle",
    "NoAlarmError",
    "Scenario",
    "World",
    "build_case",
    "build_world",
    "evaluate",
    "exposition",
    "generate_scenarios",
    "plan_scenario",
    "start_exporter",
    "summarise",
    "write_world_case",
]
