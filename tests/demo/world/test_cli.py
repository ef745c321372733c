"""`shipwise demo world`: writes cases, names the alarm, keeps the answer to itself."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from tests.demo.world.conftest import truth_of

from shipwise.cli.demo import WORLD_FAULTS
from shipwise.cli.main import cli
from shipwise.demo.world import FAULT_KINDS


def test_cli_fault_choices_match_the_library() -> None:
    assert WORLD_FAULTS == FAULT_KINDS


def test_demo_world_writes_one_case_without_revealing_the_root_cause(tmp_path: Path) -> None:
    out = tmp_path / "case"
    res = CliRunner().invoke(cli, ["demo", "world", "--out", str(out), "--seed", "5"])
    assert res.exit_code == 0, res.output
    truth = truth_of(out)
    summary = res.stdout.splitlines()[0]
    assert summary.startswith(str(out)) and "alarm " in summary
    assert truth["fault"] not in summary  # random fault: not named either
    assert "root_cause" not in res.stdout and truth.get("event", "ev-") not in res.stdout
    shown = CliRunner().invoke(cli, ["demo", "world", "--out", str(out), "--seed", "5",
                                     "--show-truth"])
    assert f"root_cause={truth['root_cause']}" in shown.stdout
    assert f"[{truth['fault']}]" in shown.stdout


def test_demo_world_scenarios_as_json(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["demo", "world", "--out", str(tmp_path), "--scenarios", "3",
                                   "--fault", "queue_backlog", "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert len(rows) == 3
    assert {r["fault"] for r in rows} == {"queue_backlog"}
    assert all(r["alarm"] and r["entity"] and "truth" not in r for r in rows)
    assert len({truth_of(Path(r["path"]))["root_cause"] for r in rows}) == 1


def test_demo_without_subcommand_is_the_organisation_demo() -> None:
    res = CliRunner().invoke(cli, ["demo", "--help"])
    assert res.exit_code == 0
    assert "--scale" in res.output and "world" in res.output
    res = CliRunner().invoke(cli, ["demo", "world", "--help"])
    assert "--scenarios" in res.output and "--show-truth" in res.output
