"""The charter validates against the registry and its rules; a broken charter is refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from shipwise.governance.charter import load_charter, parse, validate
from tests.conftest import cli_env

CHARTER = Path(__file__).resolve().parents[2] / "src/shipwise/governance/charter.yaml"


def test_the_shipped_charter_holds_every_rule() -> None:
    assert validate(load_charter()) == []


def _raw() -> dict:
    return yaml.safe_load(CHARTER.read_text())


def test_each_rule_is_enforced() -> None:
    raw = _raw()
    raw["metrics"]["flow.cycle_time"]["view"] = "performance"
    raw["metrics"]["flow.cycle_time"]["may_not_inform"] = ["compensation"]
    raw["metrics"]["dora.rework_rate"]["audience"] = ["member", "ceo"]
    raw["metrics"]["dora.rework_rate"]["inputs"] = ["deployment", "gossip"]
    del raw["metrics"]["strain.weekend_pages"]
    del raw["retention"]["page"]
    raw["version"] += 1  # a new version with no line in `changes`
    problems = "\n".join(validate(parse(raw)))
    assert "flow.cycle_time: people-derived metrics may only be diagnostic" in problems
    assert "flow.cycle_time: may_not_inform lacks individual performance rating" in problems
    assert "dora.rework_rate: unknown audience ceo" in problems
    assert "dora.rework_rate: audience must include admin" in problems
    assert "input 'gossip' is not a canonical record type" in problems
    assert "strain.weekend_pages: metric has no charter entry" in problems
    assert "person-level input 'page' has no retention period" in problems
    assert f"version {raw['version']} has no line in `changes`" in problems


def test_every_entry_states_its_retention_from_the_rules() -> None:
    entry = load_charter().get("strain.sleep_hour_pages")
    assert "page: 365 days (then deleted)" in entry.retention


def test_cli_validate_exits_1_on_a_broken_charter(tmp_path: Path) -> None:
    raw = _raw()
    raw["metrics"]["flow.review_time"]["may_inform"].append("promotion")
    bad = tmp_path / "charter.yaml"
    bad.write_text(yaml.safe_dump(raw, allow_unicode=True))
    run = subprocess.run([sys.executable, "-m", "shipwise", "charter", "validate", str(bad)],
                         capture_output=True, text=True, env=cli_env())
    assert run.returncode == 1
    assert "flow.review_time: both may and may not inform promotion" in run.stdout
    ok = subprocess.run([sys.executable, "-m", "shipwise", "charter", "validate"],
                        capture_output=True, text=True, env=cli_env())
    assert ok.returncode == 0, ok.stdout + ok.stderr
