"""Spark is optional: without PySpark, without Java, or with a folder that is no export, the
Spark engine says what to do in one line (no Spark session is started here)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from shipwise.app import spark as on_spark
from shipwise.cli.main import cli
from shipwise.errors import ConfigError, InputError
from shipwise.metrics import spark as spark_engine


def test_without_pyspark_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)
    with pytest.raises(ConfigError, match="PySpark is not installed") as e:
        spark_engine.session()
    assert "shipwise[spark]" in (e.value.hint or "")


def test_without_java_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pyspark")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", os.devnull)
    with pytest.raises(ConfigError, match="needs Java"):
        spark_engine.session()


def test_a_folder_that_is_no_export_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"manifest\.json"):
        on_spark.open_engine(tmp_path)
    res = CliRunner().invoke(cli, ["metrics", "dora", "--engine", "spark"])
    assert res.exit_code != 0 and "--data DIR" in res.output


def test_a_folder_exported_by_an_older_shipwise_is_refused_with_what_to_do(
        tmp_path: Path) -> None:
    """A version-1 export has no commit keys, which the change facts join by: refused before
    any Spark work, saying to export again."""
    (tmp_path / "manifest.json").write_text(
        '{"format": "shipwise canonical parquet", "version": 1, "tables": {}}')
    with pytest.raises(InputError, match="export the store again"):
        on_spark.open_engine(tmp_path)
