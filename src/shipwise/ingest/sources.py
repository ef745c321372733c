"""Reading inputs into staging: JSONL/NDJSON, CSV, Parquet files and in-memory Arrow tables.

Every source ends up as rows of ``(type, seq, source, line, raw, <field> VARCHAR ...)`` in a
per-type staging table, so validation is one set of SQL rules whatever the format. Records that
cannot even be staged (invalid JSON, unknown type, a CSV row with the wrong number of columns)
go straight to quarantine with their reason.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from shipwise.domain.schema import RECORD_TYPES, Kind, RecordType, resolve_type
from shipwise.errors import InputError
from shipwise.ingest.sql import lit, q

CHUNK_BYTES = 32 * 1024 * 1024
_counter = itertools.count()

JSON_EXT = {".jsonl", ".ndjson", ".json"}
CSV_EXT = {".csv", ".tsv"}
PARQUET_EXT = {".parquet", ".pq"}


@dataclass
class Staging:
    """Temp tables holding staged records of one batch, per type."""

    con: duckdb.DuckDBPyConnection
    sources: list[str] = field(default_factory=list)
    #: type name -> number of staged rows
    staged: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE _stage_reject (type VARCHAR, reason VARCHAR, "
            "source VARCHAR, line BIGINT, raw VARCHAR)"
        )
        for rt in RECORD_TYPES:
            cols = ", ".join(f"{q(f.name)} VARCHAR" for f in rt.fields)
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE {stage_table(rt)} (_seq BIGINT, _source VARCHAR, "
                f"_line BIGINT, _raw VARCHAR, {cols})"
            )

    def close(self) -> None:
        self.con.execute("DROP TABLE IF EXISTS _stage_reject")
        for rt in RECORD_TYPES:
            self.con.execute(f"DROP TABLE IF EXISTS {stage_table(rt)}")

    # -- files ------------------------------------------------------------------------------
    def add_path(self, path: Path) -> None:
        if path.is_dir():
            files = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in JSON_EXT | CSV_EXT | PARQUET_EXT
            )
            if not files:
                raise InputError(f"{path}: no .jsonl, .csv or .parquet files in this folder")
            for p in files:
                self.add_path(p)
            return
        if not path.exists():
            raise InputError(f"{path}: no such file")
        ext = path.suffix.lower()
        self.sources.append(str(path))
        if ext in JSON_EXT:
            self._add_jsonl(path)
        elif ext in CSV_EXT:
            self._add_csv(path)
        elif ext in PARQUET_EXT:
            self._add_columnar(
                f"read_parquet({lit(str(path))})", str(path), _type_from_name(path.stem)
            )
        else:
            raise InputError(
                f"{path}: unsupported file type '{ext}'",
                hint="use .jsonl/.ndjson (a `type` per record), .csv (one type per file) or .parquet",
            )

    def add_arrow(self, type_name: str, table: pa.Table, source: str) -> None:
        name = f"_arrow_{next(_counter)}"
        self.con.register(name, table)
        try:
            self.sources.append(source)
            self._add_columnar(name, source, resolve_type(type_name))
        finally:
            self.con.unregister(name)

    # -- JSON lines ---------------------------------------------------------------------------
    def _add_jsonl(self, path: Path) -> None:
        src_no = len(self.sources)
        line_no = 0
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE _lines (_seq BIGINT, _line BIGINT, text VARCHAR)"
        )
        try:
            with path.open("rb") as fh:
                while True:
                    chunk = fh.read(CHUNK_BYTES)
                    if not chunk:
                        break
                    chunk += fh.readline()
                    lines = chunk.decode("utf-8", errors="replace").split("\n")
                    if lines and lines[-1] == "":
                        lines.pop()
                    n = len(lines)
                    numbers = np.arange(line_no + 1, line_no + n + 1, dtype=np.int64)
                    tbl = pa.table({"_line": numbers, "text": pa.array(lines, pa.string())})
                    self.con.register("_chunk", tbl)
                    self.con.execute(
                        f"INSERT INTO _lines SELECT {src_no} * 10000000000 + _line, _line, "
                        "rtrim(text, chr(13)) FROM _chunk WHERE trim(text) <> ''"
                    )
                    self.con.unregister("_chunk")
                    line_no += n
        except OSError as exc:
            raise InputError(f"{path}: cannot read ({exc})") from exc
        src = lit(str(path))
        self.con.execute(
            """CREATE OR REPLACE TEMP TABLE _jl AS
            SELECT _seq, _line, text,
              CASE WHEN json_valid(text) AND json_type(text::JSON) = 'OBJECT'
                   THEN lower(trim(text::JSON->>'$.type')) END AS type,
              json_valid(text) AS ok_json
            FROM _lines"""
        )
        known = ", ".join(lit(n) for n in _type_names())
        self.con.execute(
            f"""INSERT INTO _stage_reject
            SELECT type,
              CASE WHEN NOT ok_json THEN 'not valid JSON'
                   WHEN json_type(text::JSON) <> 'OBJECT' THEN 'not a JSON object'
                   WHEN type IS NULL OR type = '' THEN 'missing type'
                   ELSE 'unknown type' END,
              {src}, _line, text
            FROM _jl WHERE type IS NULL OR type NOT IN ({known})"""
        )
        for rt in RECORD_TYPES:
            exprs = ", ".join(_json_field(f.name, f.kind) for f in rt.fields)
            cur = self.con.execute(
                f"INSERT INTO {stage_table(rt)} SELECT _seq, {src}, _line, text, {exprs} "
                f"FROM (SELECT *, text::JSON AS j FROM _jl WHERE type = {lit(rt.name)})"
            )
            self._bump(rt.name, cur)
        self.con.execute("DROP TABLE IF EXISTS _lines")
        self.con.execute("DROP TABLE IF EXISTS _jl")

    # -- CSV ----------------------------------------------------------------------------------
    def _add_csv(self, path: Path) -> None:
        delim = "\t" if path.suffix.lower() == ".tsv" else ","
        rel = (
            f"read_csv({lit(str(path))}, all_varchar = true, header = true, delim = {lit(delim)}, "
            "store_rejects = true, rejects_table = '_csv_rejects', rejects_scan = '_csv_scan', "
            "null_padding = false, strict_mode = true)"
        )
        try:
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE _csv AS SELECT * FROM {rel}")
        except duckdb.Error as exc:
            raise InputError(f"{path}: cannot read as CSV ({str(exc).splitlines()[0]})") from exc
        fixed = _type_from_name(path.stem)
        self.con.execute(
            f"""INSERT INTO _stage_reject
            SELECT {lit(fixed.name if fixed else None)},
                   'CSV: ' || error_message, {lit(str(path))}, line, csv_line
            FROM _csv_rejects"""
        )
        self._add_columnar("_csv", str(path), _type_from_name(path.stem), header_rows=1)
        self.con.execute("DROP TABLE IF EXISTS _csv")

    # -- columnar (CSV after parsing, Parquet, Arrow) ------------------------------------------
    def _add_columnar(
        self, relation: str, source: str, fixed: RecordType | None, header_rows: int = 0
    ) -> None:
        try:
            described = self.con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
        except duckdb.Error as exc:
            raise InputError(f"{source}: cannot read ({str(exc).splitlines()[0]})") from exc
        cols = {str(r[0]).lower(): (str(r[0]), str(r[1]).upper()) for r in described}
        src_no = len(self.sources)
        numbered = (
            f"(SELECT {src_no} * 10000000000 + row_number() OVER () AS _seq, "
            f"row_number() OVER () + {header_rows} AS _line, * FROM {relation})"
        )
        if fixed is None and "type" not in cols:
            raise InputError(
                f"{source}: cannot tell the record type",
                hint="name the file after the type (e.g. deployments.csv) or add a `type` column",
            )
        types = [fixed] if fixed is not None else list(RECORD_TYPES)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE _col AS SELECT * FROM {numbered}")
        if fixed is None:
            type_col = q(cols["type"][0])
            known = ", ".join(lit(n) for n in _type_names())
            cur = self.con.execute(
                f"""INSERT INTO _stage_reject
                SELECT lower({type_col}), CASE WHEN {type_col} IS NULL THEN 'missing type'
                       ELSE 'unknown type' END, {lit(source)}, _line,
                       CAST(to_json(c) AS VARCHAR)
                FROM _col c WHERE lower(trim({type_col})) NOT IN ({known}) OR {type_col} IS NULL"""
            )
        for rt in types:
            exprs = ", ".join(_columnar_field(f.name, f.kind, cols) for f in rt.fields)
            where = "" if fixed is not None else f"WHERE lower(trim({q(cols['type'][0])})) = {lit(rt.name)}"
            cur = self.con.execute(
                f"INSERT INTO {stage_table(rt)} SELECT _seq, {lit(source)}, _line, NULL, {exprs} "
                f"FROM _col {where}"
            )
            self._bump(rt.name, cur)
        self.con.execute("DROP TABLE IF EXISTS _col")

    def _bump(self, type_name: str, cur: duckdb.DuckDBPyConnection) -> None:
        row = cur.fetchone()
        n = int(row[0]) if row else 0
        if n:
            self.staged[type_name] = self.staged.get(type_name, 0) + n


def stage_table(rt: RecordType) -> str:
    return q(f"_stg_{rt.name}")


def _type_names() -> list[str]:
    return [rt.name for rt in RECORD_TYPES]


def _type_from_name(stem: str) -> RecordType | None:
    return resolve_type(stem.split(".")[0])


def _json_field(name: str, kind: Kind) -> str:
    """A field of a JSON record ``j`` as VARCHAR, lists and objects as JSON text."""
    path = lit(f'$."{name}"')
    if kind in (Kind.TEXT_LIST, Kind.OBJECT):
        x = f"j->{path}"
        return (
            f"NULLIF(trim(CASE json_type({x}) WHEN 'VARCHAR' THEN {x}->>'$' WHEN 'NULL' THEN NULL "
            f"ELSE CAST({x} AS VARCHAR) END), '')"
        )
    return f"NULLIF(trim(j->>{path}), '')"


def _columnar_field(name: str, kind: Kind, cols: dict[str, tuple[str, str]]) -> str:
    """A column of a typed relation as VARCHAR (missing column -> NULL)."""
    if name.lower() not in cols:
        return "NULL"
    real, dtype = cols[name.lower()]
    c = q(real)
    if dtype.endswith("[]") or dtype.startswith(("STRUCT", "MAP", "JSON")):
        e = f"CAST(to_json({c}) AS VARCHAR)"
    elif dtype == "TIMESTAMP" or dtype.startswith("TIMESTAMP_") or dtype == "TIMESTAMP WITHOUT TIME ZONE":
        # Parquet/Arrow timestamps without a zone are read as UTC (documented).
        e = f"CAST(CAST({c} AS TIMESTAMPTZ) AS VARCHAR)"
    else:
        e = f"CAST({c} AS VARCHAR)"
    return f"NULLIF(trim({e}), '')"

