"""The metric definitions on Spark, over a folder of canonical Parquet files.

:class:`SparkEngine` registers each file of a folder written by ``shipwise export parquet``
(:mod:`shipwise.store.parquet`) as a view, builds the derived facts from those records with the
same SQL the store uses (:data:`shipwise.metrics.facts.FACTS`, rendered for Spark by
:mod:`shipwise.metrics.portable`), and then runs the metric queries — the same text as on DuckDB.

PySpark is optional (the ``spark`` extra): it is loaded only when a session is made, and a
missing PySpark or Java is a :class:`~shipwise.errors.ConfigError` saying what to install.
"""

from __future__ import annotations

import importlib
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from shipwise.errors import ConfigError, InputError
from shipwise.metrics import facts, portable
from shipwise.metrics.engines import Columns, Rows
from shipwise.store import parquet

#: Session settings every shipwise Spark session needs: instants are UTC, double-quoted names are
#: identifiers (ANSI), and Parquet timestamps without a zone are read as UTC instants.
REQUIRED_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.ansi.doubleQuotedIdentifiers": "true",
    "spark.sql.parquet.inferTimestampNTZ.enabled": "false",
}
#: Local-mode settings (small shuffles, no UI); a cluster sets its own (docs/spark.md).
LOCAL_CONF = {
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.adaptive.enabled": "true",
}


def _pyspark() -> Any:
    try:
        return importlib.import_module("pyspark.sql")
    except ImportError:
        raise ConfigError(
            "PySpark is not installed", hint="pip install 'shipwise[spark]' (PySpark 4 and Java 17+)"
        ) from None


def session(master: str = "local[2]", app_name: str = "shipwise",
            conf: dict[str, str] | None = None) -> Any:
    """A Spark session with :data:`REQUIRED_CONF` (and, for a ``local`` master,
    :data:`LOCAL_CONF`); the active one is reused when there is one (its settings are then set
    here where Spark allows it at run time)."""
    sql = _pyspark()
    if not os.environ.get("JAVA_HOME") and shutil.which("java") is None:
        raise ConfigError("Spark needs Java (17 or newer), and none was found",
                          hint="install a JDK (Debian: openjdk-17-jre-headless) or set JAVA_HOME")
    settings = {**(LOCAL_CONF if master.startswith("local") else {}), **REQUIRED_CONF,
                **(conf or {})}
    builder = sql.SparkSession.builder.master(master).appName(app_name)
    for k, v in settings.items():
        builder = builder.config(k, v)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("FATAL")
    for k, v in REQUIRED_CONF.items():
        spark.conf.set(k, v)
    return spark


def _to_columns(table: pa.Table) -> Columns:
    """Arrow → (names, value lists), instants as naive UTC like the store returns them."""
    fields = []
    for f in table.schema:
        if pa.types.is_timestamp(f.type) and f.type.tz is not None:
            f = pa.field(f.name, pa.timestamp(f.type.unit), f.nullable)
        fields.append(f)
    table = table.cast(pa.schema(fields))
    return list(table.column_names), [c.to_pylist() for c in table.columns]


class SparkEngine:
    """The canonical tables of ``folder`` as Spark views, and the derived facts built from them.

    The views are the session's temporary views, so one folder at a time per session."""

    name = portable.SPARK

    def __init__(self, spark: Any, folder: Path) -> None:
        self.spark = spark
        self.folder = folder
        try:
            self.manifest = parquet.read_manifest(folder)
        except ValueError as e:
            raise InputError(str(e), hint="write one with `shipwise export parquet DIR`") from None
        #: seconds spent building each fact (for the bench)
        self.timings: dict[str, float] = {}
        self._facts: list[Any] = []
        self._load()
        self._build_facts()

    def _load(self) -> None:
        for table in self.manifest["tables"]:
            path = self.folder / f"{table}.parquet"
            if not path.exists():
                raise InputError(f"{path} is missing", hint="export the folder again")
            self.spark.read.parquet(str(path)).createOrReplaceTempView(table)
        for table, ddl in parquet.LATER_TABLES.items():
            if table not in self.manifest["tables"]:
                self.spark.createDataFrame([], ddl).createOrReplaceTempView(table)

    def _build_facts(self) -> None:
        """The facts of the store's refresh, from the records: same SQL, same order."""
        for table, select in facts.FACTS:
            self._materialise(table, portable.render(select, self.name), [])
        for table, column, select in facts.RETAINED_FACTS:
            try:
                portable.check(select)
            except portable.PortabilityError:
                continue  # not proven on Spark (the registry says which metrics need it)
            horizon = self.manifest.get("retained", {}).get(table, parquet.EPOCH)
            sql = (f"SELECT * FROM ({portable.render(select, self.name)}) x "
                   f'WHERE x."{column}" >= CAST(? AS TIMESTAMP)')
            frozen = self.folder / f"retained.{table}.parquet"
            if table in self.manifest.get("retained", {}) and frozen.exists():
                self.spark.read.parquet(str(frozen)).createOrReplaceTempView(f"retained_{table}")
                sql = f"SELECT * FROM retained_{table} UNION ALL {sql}"
            self._materialise(table, sql, [horizon])

    def _materialise(self, table: str, sql: str, params: list[object]) -> None:
        t0 = time.perf_counter()
        df = self.spark.sql(sql, args=params).cache()
        df.count()
        df.createOrReplaceTempView(table)
        self._facts.append(df)
        self.timings[table] = time.perf_counter() - t0

    def rows(self, sql: str, params: Sequence[object] = ()) -> Rows:
        cols, values = self.columns(sql, params)
        return cols, list(zip(*values, strict=True)) if values else []

    def columns(self, sql: str, params: Sequence[object] = ()) -> Columns:
        df = self.spark.sql(portable.render(sql, self.name), args=list(params))
        return _to_columns(df.toArrow())

    def close(self) -> None:
        """Drop the cached facts (the session stays for the next folder)."""
        for df in self._facts:
            df.unpersist()
        self._facts.clear()
