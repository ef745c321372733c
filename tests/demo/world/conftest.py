"""One written case per fault kind, shared by the demo-world tests (generated once per session)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from shipwise.demo.world import FAULT_KINDS, write_world_case

#: Seed of the shared cases; the tests hold for any seed (test_scenarios checks several).
SEED = 20261


@pytest.fixture(scope="session")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("world-cases")
    return {kind: write_world_case(root / kind, kind, SEED) for kind in FAULT_KINDS}


def truth_of(case: Path) -> dict[str, Any]:
    return dict(yaml.safe_load((case / "truth.yaml").read_text()))


def events_of(case: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (case / "events.jsonl").read_text().splitlines()]


def logs_of(case: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (case / "logs.jsonl").read_text().splitlines()]
