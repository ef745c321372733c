"""Telemetry received over OTLP: ``otel_span`` and ``otel_log`` (migration 0023, docs/otlp.md).

Writes are one statement per table and batch (each column a list parameter, unnested; a row
already stored — an exporter's retry — is skipped by its key). Retention is one ``DELETE`` per
table by instant. Reads for an investigation are set-based: per service and minute, the calls,
errors and latency quantiles are computed by DuckDB; only the spans of the window (capped) and the
WARN-and-worse log lines reach Python.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shipwise.store.duckdb_store import Store

_SPAN_INSERT = """
INSERT OR IGNORE INTO otel_span
SELECT trace_id, span_id, parent_span_id, service, instance, name, kind,
       make_timestamp(start_ns // 1000), greatest(end_ns - start_ns, 0) / 1e9,
       status_code, status_message, customer, make_timestamp(?)
FROM (SELECT unnest(?) AS trace_id, unnest(?) AS span_id, unnest(?) AS parent_span_id,
             unnest(?) AS service, unnest(?) AS instance, unnest(?) AS name,
             unnest(?::INTEGER[]) AS kind, unnest(?::BIGINT[]) AS start_ns,
             unnest(?::BIGINT[]) AS end_ns, unnest(?::INTEGER[]) AS status_code,
             unnest(?) AS status_message, unnest(?) AS customer)
"""

_LOG_INSERT = """
INSERT OR IGNORE INTO otel_log
SELECT log_id, make_timestamp(time_ns // 1000), service, instance, severity_number, level, body,
       trace_id, span_id, exc_type, exc_message, stack, make_timestamp(?)
FROM (SELECT unnest(?) AS log_id, unnest(?::BIGINT[]) AS time_ns, unnest(?) AS service,
             unnest(?) AS instance, unnest(?::INTEGER[]) AS severity_number, unnest(?) AS level,
             unnest(?) AS body, unnest(?) AS trace_id, unnest(?) AS span_id,
             unnest(?) AS exc_type, unnest(?) AS exc_message, unnest(?) AS stack)
"""


def insert_spans(store: Store, columns: list[list[Any]], received_us: int) -> int:
    """Insert spans given as column lists (``shipwise.ingest.otlp.SPAN_COLUMNS`` order; customer
    ids already pseudonymised). Returns how many rows the table gained."""
    return _insert(store, "otel_span", _SPAN_INSERT, columns, received_us)


def insert_logs(store: Store, columns: list[list[Any]], received_us: int) -> int:
    """Insert log records given as column lists (``LOG_COLUMNS`` order)."""
    return _insert(store, "otel_log", _LOG_INSERT, columns, received_us)


def _insert(store: Store, table: str, sql: str, columns: list[list[Any]],
            received_us: int) -> int:
    if not columns or not columns[0]:
        return 0
    with store.transaction() as con:
        before = store.count(table)
        con.execute(sql, [received_us, *columns])
        return store.count(table) - before


def trim(store: Store, before: datetime) -> dict[str, int]:
    """Delete spans started and log lines written before ``before`` (naive UTC): retention."""
    out = {}
    with store.transaction() as con:
        for table, column in (("otel_span", "start_at"), ("otel_log", "logged_at")):
            row = con.execute(f"DELETE FROM {table} WHERE {column} < ? RETURNING 1",
                              [before]).fetchall()
            out[table] = len(row)
    return out


def counts(store: Store) -> dict[str, int]:
    return {"spans": store.count("otel_span"), "logs": store.count("otel_log")}


def span_minutes(store: Store, start: datetime, end: datetime,
                 services: list[str] | None = None) -> list[tuple[str, float, int, int, float,
                                                                  float]]:
    """Per service and minute of ``[start, end]``: (service, minute as epoch seconds, calls,
    errors, latency p50 ms, latency p95 ms). Calls are spans of kind server or consumer when the
    service has any (what it served), else all its spans."""
    where, params = _window("start_at", start, end, services)
    return [(str(s), float(m), int(n), int(e), float(p50), float(p95)) for s, m, n, e, p50, p95 in
            store.con.execute(f"""
        WITH w AS (SELECT * FROM otel_span WHERE {where}),
        served AS (SELECT service, bool_or(kind IN (2, 5)) AS has_server FROM w GROUP BY service)
        SELECT w.service, epoch(time_bucket(INTERVAL 1 MINUTE, start_at)) AS minute,
               count(*) AS calls, count(*) FILTER (WHERE status_code = 2) AS errors,
               quantile_cont(duration_seconds, 0.5) * 1000, quantile_cont(duration_seconds, 0.95) * 1000
        FROM w JOIN served USING (service)
        WHERE NOT served.has_server OR w.kind IN (2, 5)
        GROUP BY ALL ORDER BY 1, 2""", params).fetchall()]


def call_minutes(store: Store, start: datetime, end: datetime,
                 services: list[str] | None = None) -> list[tuple[str, str, float, float, float]]:
    """Per call between two services and minute of ``[start, end]``: (caller, callee, minute as
    epoch seconds, latency p50 ms, latency p95 ms) of the call *as its caller saw it* — the
    caller's client span (kind 3) whose child server span (kind 2) is in another service. Beside
    the callee's own server latency (:func:`span_minutes`) this tells time lost on the way from
    time spent in the callee's work."""
    where, params = _window("start_at", start, end, services)
    return [(str(a), str(b), float(m), float(p50), float(p95)) for a, b, m, p50, p95 in
            store.con.execute(f"""
        WITH w AS (SELECT * FROM otel_span WHERE {where})
        SELECT c.service, s.service, epoch(time_bucket(INTERVAL 1 MINUTE, c.start_at)) AS minute,
               quantile_cont(c.duration_seconds, 0.5) * 1000,
               quantile_cont(c.duration_seconds, 0.95) * 1000
        FROM w c JOIN w s ON s.trace_id = c.trace_id AND s.parent_span_id = c.span_id
        WHERE c.kind = 3 AND s.kind = 2 AND s.service <> c.service
        GROUP BY ALL ORDER BY 1, 2, 3""", params).fetchall()]


def spans(store: Store, start: datetime, end: datetime, services: list[str] | None = None,
          limit: int = 200_000) -> list[tuple[str, str, str, str, float, bool, str]]:
    """The spans of the window, newest last, at most ``limit`` (the latest): (trace id, span id,
    parent span id, service, start as epoch seconds, is error, customer pseudonym)."""
    where, params = _window("start_at", start, end, services)
    rows = store.con.execute(f"""
        SELECT * FROM (
          SELECT trace_id, span_id, parent_span_id, service, epoch(start_at) AS t,
                 status_code = 2, customer
          FROM otel_span WHERE {where} ORDER BY start_at DESC LIMIT ?) ORDER BY t""",
                             [*params, limit]).fetchall()
    return [(str(a), str(b), str(c), str(d), float(t), bool(err), str(cu))
            for a, b, c, d, t, err, cu in rows]


def error_logs(store: Store, start: datetime, end: datetime, services: list[str] | None = None,
               limit: int = 5000) -> list[dict[str, Any]]:
    """WARN-and-worse log lines of the window (the latest ``limit``), oldest first."""
    where, params = _window("logged_at", start, end, services)
    return store.query(f"""
        SELECT * FROM (
          SELECT log_id, epoch(logged_at) AS time, service, instance, level, body, trace_id,
                 exc_type, exc_message, stack
          FROM otel_log WHERE {where} AND level IN ('WARN', 'ERROR', 'FATAL')
          ORDER BY logged_at DESC LIMIT ?) ORDER BY time""", [*params, limit])


def _window(column: str, start: datetime, end: datetime,
            services: list[str] | None) -> tuple[str, list[Any]]:
    where = f"{column} BETWEEN ? AND ?"
    params: list[Any] = [start, end]
    if services is not None:
        where += " AND service IN (SELECT unnest(?))"
        params.append(services)
    return where, params
