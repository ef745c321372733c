"""SQL generated from the canonical schema: typing, validation checks and row hashes.

Pure functions from :mod:`shipwise.domain.schema` declarations to SQL text; no I/O. Every staged
value arrives as VARCHAR (whatever the file format), so one set of rules serves JSONL, CSV,
Parquet and Arrow alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import duckdb

from shipwise.domain.people import quote_identifier
from shipwise.domain.schema import Field, Kind, RecordType


@dataclass(frozen=True)
class Plausible:
    """Instants accepted at ingest: [earliest, latest] (UTC, naive), from ``ingest`` settings."""

    earliest: datetime
    latest: datetime
    latest_years_ahead: float

#: An instant with a real UTC offset (they run from -12:00 to +14:00; up to ±14:59 is allowed).
INSTANT_RE = (r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*"
              r"(Z|z|[+-](0\d|1[0-4])(:?[0-5]\d)?)$")
#: The same shape with any two-digit offset: matches what INSTANT_RE rejects for its offset alone.
ANY_OFFSET_RE = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*[+-]\d{2}(:?\d{2})?$"
DATE_RE = r"^\d{4}-\d{2}-\d{2}$"
#: JSON objects (e.g. team attributes) nested deeper than this are rejected: every reader of a
#: stored value could otherwise fail on it.
MAX_JSON_DEPTH = 64
#: the SQL function measuring it (registered by :func:`register_functions`)
JSON_DEPTH_FN = "shipwise_json_depth"
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(r"[\[\]{}]")


def json_depth(text: str) -> int:
    """How deeply a JSON text nests objects and lists (iteratively: any depth is safe)."""
    depth = deepest = 0
    for ch in _BRACKET.findall(_STRING.sub("", text)):
        depth += 1 if ch in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def register_functions(con: duckdb.DuckDBPyConnection) -> None:
    """Make the functions the generated SQL uses available on ``con`` (once)."""
    known = con.execute("SELECT count(*) FROM duckdb_functions() WHERE function_name = ?",
                        [JSON_DEPTH_FN]).fetchall()
    if not known[0][0]:
        con.create_function(JSON_DEPTH_FN, json_depth, ["VARCHAR"], "BIGINT")
MONTH_RE = r"^\d{4}-(0[1-9]|1[0-2])$"
INT_RE = r"^[+-]?\d+(\.0+)?$"

EXPECTED = {
    Kind.INT: "an integer",
    Kind.NUMBER: "a number",
    Kind.BOOL: "true or false",
    Kind.INSTANT: "an ISO-8601 instant with an offset or Z",
    Kind.DATE: "a date YYYY-MM-DD",
    Kind.MONTH: "a month YYYY-MM",
    Kind.TEXT_LIST: "a list of strings (JSON array, or 'a;b' in CSV)",
    Kind.OBJECT: "a JSON object",
}


q = quote_identifier


def lit(value: object) -> str:
    """A SQL literal for a Python scalar."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def typed_expr(f: Field) -> str:
    """Typed value of staged VARCHAR column ``f`` (NULL when absent or unparseable)."""
    c = q(f.name)
    k = f.kind
    if k in (Kind.TEXT, Kind.PERSON):
        e = f"lower({c})" if f.choices else c
    elif k is Kind.INT:
        e = f"CASE WHEN regexp_matches({c}, '{INT_RE}') THEN TRY_CAST(TRY_CAST({c} AS DOUBLE) AS BIGINT) END"
    elif k is Kind.NUMBER:  # inf, nan and 1e309 (beyond a double) are not amounts
        e = f"CASE WHEN isfinite(TRY_CAST({c} AS DOUBLE)) THEN TRY_CAST({c} AS DOUBLE) END"
    elif k is Kind.BOOL:
        e = f"TRY_CAST({c} AS BOOLEAN)"
    elif k is Kind.INSTANT:
        e = (
            f"CASE WHEN regexp_matches({c}, '{INSTANT_RE}') "
            f"THEN TRY_CAST({c} AS TIMESTAMPTZ) AT TIME ZONE 'UTC' END"
        )
    elif k is Kind.DATE:
        e = f"CASE WHEN regexp_matches({c}, '{DATE_RE}') THEN TRY_CAST({c} AS DATE) END"
    elif k is Kind.MONTH:
        e = f"CASE WHEN regexp_matches({c}, '{MONTH_RE}') THEN {c} END"
    elif k is Kind.TEXT_LIST:
        e = (
            f"CASE WHEN starts_with({c}, '[') THEN "
            f"CASE WHEN json_type(TRY_CAST({c} AS JSON)) = 'ARRAY' AND len(list_filter("
            f"json_extract(TRY_CAST({c} AS JSON), '$[*]'), "
            f"lambda x: json_type(x) NOT IN ('VARCHAR', 'NULL'))) = 0 "
            f"THEN list_filter(from_json({c}, '[\"VARCHAR\"]'), lambda x: x IS NOT NULL AND trim(x) <> '') END "
            f"ELSE list_filter(list_transform(string_split({c}, ';'), lambda x: trim(x)), lambda x: x <> '') END"
        )
    elif k is Kind.OBJECT:
        e = (f"CASE WHEN json_type(TRY_CAST({c} AS JSON)) = 'OBJECT' AND "
             f"{JSON_DEPTH_FN}({c}) <= {MAX_JSON_DEPTH} THEN json({c}) END")
    else:  # pragma: no cover - exhaustive
        raise AssertionError(k)
    if f.default is not None:
        e = f"CASE WHEN {c} IS NULL THEN {lit(f.default)} ELSE {e} END"
    return e


def checks(rt: RecordType, plausible: Plausible | None = None,
           max_record_bytes: int | None = None) -> list[str]:
    """SQL expressions, each NULL when fine or a reason string when the record is bad.

    They run over a relation holding both the staged text (``name``) and typed (``name__v``)
    columns of every field, and ``_pre`` (reasons the reader found).
    """
    out: list[str] = ["NULLIF(_pre, '')"]
    if max_record_bytes is not None:
        size = " + ".join(f"coalesce(strlen({q(f.name)}), 0)" for f in rt.fields)
        out.append(f"CASE WHEN {size} > {max_record_bytes} THEN "
                   f"{lit(f'record larger than {max_record_bytes} bytes (setting ingest.max_record_bytes)')} END")
    for f in rt.fields:
        raw, v = q(f.name), q(f.name + "__v")
        if f.required:
            out.append(f"CASE WHEN {raw} IS NULL THEN {lit('missing ' + f.name)} END")
        if f.kind in EXPECTED:
            out.append(f"CASE WHEN {raw} IS NOT NULL AND {v} IS NULL THEN {_malformed(f)} END")
        if f.kind is Kind.INSTANT and plausible is not None:
            first = plausible.earliest.date().isoformat()
            out.append(
                f"CASE WHEN {v} < TIMESTAMP {lit(plausible.earliest.isoformat(sep=' '))} THEN "
                f"{lit(f'{f.name}: before {first}, not a plausible instant (setting ingest.earliest_instant)')} "
                f"WHEN {v} > TIMESTAMP {lit(plausible.latest.isoformat(sep=' '))} THEN "
                f"{lit(f'{f.name}: more than {plausible.latest_years_ahead:g} year(s) ahead, not a plausible instant (setting ingest.latest_years_ahead)')} END"
            )
        if f.choices:
            out.append(
                f"CASE WHEN {v} IS NOT NULL AND {v} NOT IN ({', '.join(lit(c) for c in f.choices)}) "
                f"THEN {lit(f.name + ': not one of ' + '|'.join(f.choices))} END"
            )
        if f.minimum is not None:
            word = "negative" if f.minimum == 0 else f"below {f.minimum:g}"
            out.append(f"CASE WHEN {v} < {f.minimum!r} THEN {lit(f.name + ': ' + word)} END")
        if f.above is not None:
            out.append(f"CASE WHEN {v} <= {f.above!r} THEN {lit(f.name + f': not above {f.above:g}')} END")
        if f.maximum is not None:
            out.append(f"CASE WHEN {v} > {f.maximum!r} THEN {lit(f.name + f': above {f.maximum:g}')} END")
    for given, needed in rt.together:
        out.append(f"CASE WHEN {q(given)} IS NOT NULL AND {q(needed)} IS NULL THEN "
                   f"{lit(f'{needed}: required with {given}')} END")
    for small, big in rt.at_most:
        a, b = q(small + "__v"), q(big + "__v")
        out.append(f"CASE WHEN {a} > {b} THEN {lit(f'{small}: more than {big}')} END")
    for s in rt.spans:
        a, b = q(s.start + "__v"), q(s.end + "__v")
        out.append(f"CASE WHEN {a} > {b} THEN {lit(f'negative span: {s.end} before {s.start}')} END")
    return out


def _malformed(f: Field) -> str:
    """Why a present value did not type: the specific reason when there is one."""
    raw = q(f.name)
    generic = lit(f.name + ": expected " + EXPECTED[f.kind])
    if f.kind is Kind.NUMBER:
        return (f"CASE WHEN TRY_CAST({raw} AS DOUBLE) IS NOT NULL THEN "
                f"{lit(f.name + ': not a finite number (infinity, NaN or beyond ±1.8e308)')} "
                f"ELSE {generic} END")
    if f.kind is Kind.INSTANT:
        return (f"CASE WHEN regexp_matches({raw}, '{ANY_OFFSET_RE}') THEN "
                f"{lit(f.name + ': impossible UTC offset (offsets run from -12:00 to +14:00)')} "
                f"ELSE {generic} END")
    if f.kind is Kind.OBJECT:
        return (f"CASE WHEN json_type(TRY_CAST({raw} AS JSON)) = 'OBJECT' THEN "
                f"{lit(f'{f.name}: nested deeper than {MAX_JSON_DEPTH} levels')} ELSE {generic} END")
    if f.kind is Kind.TEXT_LIST:
        return (f"CASE WHEN json_type(TRY_CAST({raw} AS JSON)) = 'ARRAY' THEN "
                f"{lit(f.name + ': expected a list of strings, found other values in the list')} "
                f"ELSE {generic} END")
    return generic


def reference_checks(rt: RecordType, tables: dict[str, tuple[str, str]]) -> list[str]:
    """Reasons for values naming records that do not exist in the store."""
    out = []
    for f in rt.fields:
        if f.references is None:
            continue
        table, col = tables[f.references[0]]
        v = q(f.name + "__v")
        out.append(
            f"CASE WHEN {v} IS NOT NULL AND {v} NOT IN (SELECT {q(col)} FROM {q(table)}) "
            f"THEN {lit(f'unknown {f.references[0]} ({f.name})')} END"
        )
    return out


def row_hash_expr(columns: list[str]) -> str:
    parts = ", ".join(f"{q(c)} := {q(c)}" for c in columns)
    return f"md5(CAST(to_json(struct_pack({parts})) AS VARCHAR))"
