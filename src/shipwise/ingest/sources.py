"""Reading inputs into staging: JSONL/NDJSON, CSV, Parquet files and in-memory Arrow tables.

Every source ends up as rows of ``(type, seq, source, line, raw, <field> VARCHAR ...)`` in a
per-type staging table, so validation is one set of SQL rules whatever the format. Records that
cannot even be staged (invalid JSON, unknown type, a CSV row with the wrong number of columns)
go straight to quarantine with their reason.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from shipwise.config import IngestSettings
from shipwise.domain.schema import RECORD_TYPES, Kind, RecordType, resolve_type
from shipwise.errors import InputError
from shipwise.ingest.lines import NOT_UTF8, csv_records, physical_lines, shown, too_large
from shipwise.ingest.sql import lit, q

CHUNK_BYTES = 32 * 1024 * 1024
CSV_CHUNK_ROWS = 100_000
#: the column carrying each CSV row's line number into staging
LINE_COL = "__shipwise_line__"
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
    limits: IngestSettings = field(default_factory=IngestSettings)
    #: (file, reason) of files that could not be read at all (nothing of them is staged)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE _stage_reject (type VARCHAR, reason VARCHAR, "
            "source VARCHAR, line BIGINT, raw VARCHAR)"
        )
        for rt in RECORD_TYPES:
            cols = ", ".join(f"{q(f.name)} VARCHAR" for f in rt.fields)
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE {stage_table(rt)} (_seq BIGINT, _source VARCHAR, "
                f"_line BIGINT, _raw VARCHAR, _pre VARCHAR, {cols})"
            )

    def close(self) -> None:
        self.con.execute("DROP TABLE IF EXISTS _stage_reject")
        for rt in RECORD_TYPES:
            self.con.execute(f"DROP TABLE IF EXISTS {stage_table(rt)}")

    # -- files ------------------------------------------------------------------------------
    def add_path(self, path: Path) -> None:
        """Stage a file, or every supported file of a folder. A file that cannot be read at all
        (corrupt Parquet, a CSV without a usable header, an I/O error) is recorded in
        :attr:`failed` with the reason, and nothing of it is staged; the others go on."""
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
        if ext not in JSON_EXT | CSV_EXT | PARQUET_EXT:
            raise InputError(
                f"{path}: unsupported file type '{ext}'",
                hint="use .jsonl/.ndjson (a `type` per record), .csv (one type per file) or .parquet",
            )
        self.sources.append(str(path))
        staged = dict(self.staged)
        try:
            if ext in JSON_EXT:
                self._add_jsonl(path)
            elif ext in CSV_EXT:
                self._add_csv(path)
            else:
                self._add_columnar(
                    f"read_parquet({lit(str(path))})", str(path), _type_from_name(path.stem)
                )
        except (InputError, duckdb.Error, OSError) as exc:
            self._forget(str(path))
            self.staged = staged
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if isinstance(exc, duckdb.Error):
                what = "Parquet" if ext in PARQUET_EXT else "CSV" if ext in CSV_EXT else "JSON lines"
                detail = re.sub(r"^[A-Za-z ]*Error: ", "", message)
                message = f"not a readable {what} file ({detail})"
            if not message.startswith(str(path)):
                message = f"{path}: {message}"
            self.failed.append((str(path), message))

    def _forget(self, source: str) -> None:
        """Drop whatever a file that failed half-way had staged."""
        for table in ("_col", "_csv_chunk", "_lines", "_jl"):
            self.con.execute(f"DROP TABLE IF EXISTS {table}")
        self.con.execute("DELETE FROM _stage_reject WHERE source = ?", [source])
        for rt in RECORD_TYPES:
            self.con.execute(f"DELETE FROM {stage_table(rt)} WHERE _source = ?", [source])

    def add_arrow(self, type_name: str, table: pa.Table, source: str) -> None:
        name = f"_arrow_{next(_counter)}"
        self.con.register(name, table)
        try:
            self.sources.append(source)
            self._add_columnar(name, source, resolve_type(type_name))
        finally:
            self.con.unregister(name)

    def _reject(self, type_name: str | None, source: str,
                rows: list[tuple[int, str, str]]) -> None:
        """Records that cannot even be staged: (line, reason, text as read) to quarantine."""
        if not rows:
            return
        tbl = pa.table({
            "line": pa.array([r[0] for r in rows], pa.int64()),
            "reason": pa.array([r[1] for r in rows], pa.string()),
            "raw": pa.array([r[2] for r in rows], pa.string()),
        })
        self.con.register("_rejects_arrow", tbl)
        try:
            self.con.execute(
                f"INSERT INTO _stage_reject SELECT {lit(type_name)}, reason, {lit(source)}, line, raw "
                "FROM _rejects_arrow"
            )
        finally:
            self.con.unregister("_rejects_arrow")
        rows.clear()

    # -- JSON lines ---------------------------------------------------------------------------
    def _add_jsonl(self, path: Path) -> None:
        src_no = len(self.sources)
        limit = self.limits.max_record_bytes
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE _lines (_seq BIGINT, _line BIGINT, text VARCHAR)"
        )
        rejects: list[tuple[int, str, str]] = []
        numbers: list[int] = []
        texts: list[str] = []
        held = 0

        def flush() -> None:
            nonlocal held
            if not numbers:
                return
            tbl = pa.table({"_line": pa.array(numbers, pa.int64()), "text": pa.array(texts, pa.string())})
            self.con.register("_chunk", tbl)
            try:
                self.con.execute(
                    f"INSERT INTO _lines SELECT {src_no} * 10000000000 + _line, _line, text FROM _chunk"
                )
            finally:
                self.con.unregister("_chunk")
            numbers.clear()
            texts.clear()
            held = 0

        try:
            with path.open("rb") as fh:
                for line in physical_lines(fh, limit):
                    if line.oversize:
                        rejects.append((line.no, too_large(limit),
                                        shown(line.text) + f"… [{line.size} bytes, cut]"))
                    elif not line.utf8_ok:
                        rejects.append((line.no, NOT_UTF8, shown(line.text)))
                    elif line.text.strip():
                        numbers.append(line.no)
                        texts.append(line.text)
                        held += line.size
                        if held >= CHUNK_BYTES:
                            flush()
                flush()
        except OSError as exc:
            raise InputError(f"{path}: cannot read ({exc})") from exc
        self._reject(None, str(path), rejects)
        src = lit(str(path))
        self.con.execute(
            """CREATE OR REPLACE TEMP TABLE _jl AS
            SELECT _seq, _line, text, j,
              CASE WHEN json_type(j) = 'OBJECT' THEN lower(trim(j->>'$.type')) END AS type
            FROM (SELECT *, TRY_CAST(text AS JSON) AS j FROM _lines)"""
        )
        known = ", ".join(lit(n) for n in _type_names())
        self.con.execute(
            f"""INSERT INTO _stage_reject
            SELECT type,
              CASE WHEN j IS NULL THEN 'not valid JSON'
                   WHEN json_type(j) <> 'OBJECT' THEN 'not a JSON object'
                   WHEN type IS NULL OR type = '' THEN 'missing type'
                   ELSE 'unknown type' END,
              {src}, _line, text
            FROM _jl WHERE type IS NULL OR type NOT IN ({known})"""
        )
        present = {str(r[0]) for r in self.con.execute(
            f"SELECT DISTINCT type FROM _jl WHERE type IN ({known})").fetchall()}
        for rt in RECORD_TYPES:
            if rt.name not in present:
                continue
            exprs = ", ".join(_json_field(f.name, f.kind) for f in rt.fields)
            cur = self.con.execute(
                f"INSERT INTO {stage_table(rt)} SELECT _seq, {src}, _line, text, "
                f"{_json_shape(rt)}, {exprs} FROM _jl WHERE type = {lit(rt.name)}"
            )
            self._bump(rt.name, cur)
        self.con.execute("DROP TABLE IF EXISTS _lines")
        self.con.execute("DROP TABLE IF EXISTS _jl")

    # -- CSV ----------------------------------------------------------------------------------
    def _add_csv(self, path: Path) -> None:
        """Parsed here, record by record (RFC 4180), so every row that cannot be read is
        quarantined once with its own reason and the rows after it are still read."""
        delim = "\t" if path.suffix.lower() == ".tsv" else ","
        limit = self.limits.max_record_bytes
        csv.field_size_limit(max(csv.field_size_limit(), limit))
        fixed = _type_from_name(path.stem)
        type_name = fixed.name if fixed else None
        source = str(path)
        header: list[str] | None = None
        rejects: list[tuple[int, str, str]] = []
        rows: list[list[str]] = []
        lines: list[int] = []

        def flush() -> None:
            assert header is not None
            if not rows:
                return
            data = {name: pa.array([r[i] for r in rows], pa.string()) for i, name in enumerate(header)}
            data[LINE_COL] = pa.array(lines, pa.int64())
            self.con.register("_csv_arrow", pa.table(data))
            try:
                self.con.execute("CREATE OR REPLACE TEMP TABLE _csv_chunk AS SELECT * FROM _csv_arrow")
            finally:
                self.con.unregister("_csv_arrow")
            self._add_columnar("_csv_chunk", source, fixed, line_col=LINE_COL)
            self.con.execute("DROP TABLE IF EXISTS _csv_chunk")
            rows.clear()
            lines.clear()

        try:
            with path.open("rb") as fh:
                for rec in csv_records(fh, limit, delim):
                    if rec.fields is None:
                        rejects.append((rec.line, rec.reason or "CSV: unreadable", rec.raw))
                        continue
                    if not rec.fields or (len(rec.fields) == 1 and not rec.fields[0].strip()):
                        continue  # a blank line
                    if header is None:
                        header = _csv_header(path, rec.fields, fixed)
                        continue
                    if len(rec.fields) != len(header):
                        rejects.append((rec.line, f"CSV: expected {len(header)} columns, found "
                                        f"{len(rec.fields)}", shown(_csv_text(rec.fields, delim))))
                        continue
                    rows.append(rec.fields)
                    lines.append(rec.line)
                    if len(rows) >= CSV_CHUNK_ROWS:
                        flush()
        except OSError as exc:
            raise InputError(f"{path}: cannot read ({exc})") from exc
        if header is None:
            raise InputError(f"{path}: no header row", hint="a CSV file starts with a header naming its columns")
        flush()
        self._reject(type_name, source, rejects)

    # -- columnar (CSV after parsing, Parquet, Arrow) ------------------------------------------
    def _add_columnar(
        self, relation: str, source: str, fixed: RecordType | None, line_col: str | None = None
    ) -> None:
        described = self.con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
        cols = {str(r[0]).lower(): (str(r[0]), str(r[1]).upper()) for r in described
                if str(r[0]) != line_col}
        src_no = len(self.sources)
        if line_col is not None:
            numbered = (f"(SELECT {src_no} * 10000000000 + {q(line_col)} AS _seq, {q(line_col)} AS _line, "
                        f"* EXCLUDE ({q(line_col)}) FROM {relation})")
        else:
            numbered = (
                f"(SELECT {src_no} * 10000000000 + row_number() OVER () AS _seq, "
                f"row_number() OVER () AS _line, * FROM {relation})"
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
            present = {str(r[0]) for r in self.con.execute(
                f"SELECT DISTINCT lower(trim({type_col})) FROM _col").fetchall()}
            types = [rt for rt in types if rt.name in present]
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
                f"INSERT INTO {stage_table(rt)} SELECT _seq, {lit(source)}, _line, NULL, "
                f"{_columnar_shape(rt, cols)}, {exprs} FROM _col {where}"
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



_NESTED = ("OBJECT", "ARRAY")
_SCALAR_WORD = {Kind.TEXT: "text", Kind.PERSON: "text", Kind.INT: "an integer",
                Kind.NUMBER: "a number", Kind.BOOL: "true or false", Kind.INSTANT: "an instant",
                Kind.DATE: "a date", Kind.MONTH: "a month"}


def _json_shape(rt: RecordType) -> str:
    """Reasons a JSON record's values have the wrong shape (an object or list where a single
    value belongs), which reading them as text would hide."""
    parts = []
    for f in rt.fields:
        if f.kind in (Kind.TEXT_LIST, Kind.OBJECT):
            continue
        path = lit('$."' + f.name + '"')
        x = f"json_type(j->{path})"
        parts.append(f"CASE WHEN {x} IN ('OBJECT', 'ARRAY') THEN "
                     f"{lit(f'{f.name}: expected {_SCALAR_WORD[f.kind]}, not a JSON ')} || lower({x}) END")
    return f"concat_ws('; ', {', '.join(parts)})" if parts else "NULL"


def _columnar_shape(rt: RecordType, cols: dict[str, tuple[str, str]]) -> str:
    """The same for typed columns: a list or struct column where a single value belongs."""
    parts = []
    for f in rt.fields:
        if f.kind in (Kind.TEXT_LIST, Kind.OBJECT) or f.name.lower() not in cols:
            continue
        dtype = cols[f.name.lower()][1]
        if dtype.endswith("]") or dtype.startswith(("STRUCT", "MAP", "UNION")):
            parts.append(lit(f"{f.name}: expected {_SCALAR_WORD[f.kind]}, not a list or structure"))
    return f"concat_ws('; ', {', '.join(parts)})" if parts else "NULL"


def _csv_header(path: Path, fields: list[str], fixed: RecordType | None) -> list[str]:
    names = [f.strip() or f"column{i + 1}" for i, f in enumerate(fields)]
    seen: set[str] = set()
    for n in names:
        if n.lower() in seen:
            raise InputError(f"{path}: the header names column '{n}' twice",
                             hint="give every column its own name")
        seen.add(n.lower())
    if fixed is None and "type" not in seen:
        raise InputError(
            f"{path}: cannot tell the record type",
            hint="name the file after the type (e.g. deployments.csv) or add a `type` column",
        )
    return names


def _csv_text(fields: list[str], delim: str) -> str:
    out = io.StringIO()
    csv.writer(out, delimiter=delim, lineterminator="").writerow(fields)
    return out.getvalue()
