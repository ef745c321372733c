"""The boundaries the code keeps, checked the way a reviewer would: the import contracts of
pyproject.toml (import-linter), function-level imports only in the CLI (for a fast start), no
import cycle between modules, and a metric-id literal nowhere outside metrics/ and the charter."""

from __future__ import annotations

from pathlib import Path

import pytest
from importlinter.cli import lint_imports
from scripts.architecture import scan

ROOT = Path(__file__).resolve().parents[1]


def test_the_import_contracts_hold(monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)
    status = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True,
                          no_logo=True)
    assert status == 0, capsys.readouterr().out


def test_function_level_imports_only_in_the_cli_and_no_cycles() -> None:
    figures = scan()
    outside = {k: v for k, v in figures["function_level_imports_by_package"].items()  # type: ignore[union-attr]
               if k != "cli"}
    assert outside == {}, "import at module level (only cli/ imports lazily, for start-up)"
    assert figures["module_cycles"] == []
    assert figures["metric_id_literals_outside_metrics"] == 0, \
        figures["metric_id_literals_by_module"]
