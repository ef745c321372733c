"""Runs and what they left: ``ingest_run`` (one row per import, sync or demo), ``quarantine``
(records that could not be accepted) and ``retention_run`` (one row per record type a retention
run cut)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, TypedDict, cast

from shipwise.store.duckdb_store import Store


class QuarantinedRecord(TypedDict):
    type: str | None
    reason: str
    source: str | None
    line: int | None
    raw: str | None
    quarantined_at: datetime


class QuarantineReason(TypedDict):
    type: str | None
    reason: str
    records: int


class QuarantineListing(TypedDict):
    total: int
    summary: list[QuarantineReason]
    records: list[QuarantinedRecord]


class RetentionRunRow(TypedDict):
    run_at: datetime
    record_type: str
    cutoff: datetime
    action: str
    rows: int


def record_ingest(store: Store, *, kind: str, source: str, started_at: datetime,
                  finished_at: datetime, counts: dict[str, Any]) -> str:
    """Record one ingest and what it did; its run id."""
    run_id = str(uuid.uuid4())
    with store.transaction() as con:
        con.execute("INSERT INTO ingest_run (id, kind, source, started_at, finished_at, counts) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [run_id, kind, source, started_at, finished_at, json.dumps(counts)])
    return run_id


def quarantine_raw(store: Store, *, type_name: str, reason: str, source: str, raw: str) -> None:
    """Keep something that could not be read as records (a connector's malformed page) in the
    quarantine, like a rejected record: the same thing twice is kept once."""
    with store.transaction() as con:
        con.execute("INSERT OR IGNORE INTO quarantine SELECT md5(? || '|' || ? || '|' || ?), "
                    "?, ?, ?, NULL, ?, now()::TIMESTAMP",
                    [type_name, reason, raw, type_name, reason, source, raw])


def quarantine(store: Store, *, type_name: str | None = None, limit: int = 50) -> QuarantineListing:
    """The quarantine (of one record type, with ``type_name``): how many records, how many per
    type and reason (most first), and the latest ``limit`` records."""
    where, params = ("WHERE type = ?", [type_name]) if type_name else ("", [])
    records = store.query(
        f"SELECT type, reason, source, line, raw, quarantined_at FROM quarantine {where} "
        "ORDER BY quarantined_at DESC, source, line LIMIT ?", [*params, limit])
    summary = store.query(
        f"SELECT type, reason, count(*) AS records FROM quarantine {where} "
        "GROUP BY ALL ORDER BY records DESC", params)
    total = store.con.execute(f"SELECT count(*) FROM quarantine {where}", params).fetchone()
    return {"total": int(total[0]) if total else 0,
            "summary": cast(list[QuarantineReason], summary),
            "records": cast(list[QuarantinedRecord], records)}


def record_retention(store: Store, *, run_at: datetime, record_type: str, cutoff: datetime,
                     action: str, rows: int) -> None:
    """Record what a retention run did to one record type."""
    with store.transaction() as con:
        con.execute("INSERT INTO retention_run (run_at, record_type, cutoff, action, rows) "
                    "VALUES (?, ?, ?, ?, ?)", [run_at, record_type, cutoff, action, rows])


def retention_runs(store: Store) -> list[RetentionRunRow]:
    """Every retention run's rows, newest first."""
    return cast(list[RetentionRunRow], store.query(
        "SELECT run_at, record_type, cutoff, action, rows FROM retention_run "
        "ORDER BY run_at DESC, record_type"))


def last_cutoffs(store: Store) -> dict[str, datetime]:
    """record type -> the latest cut-off any retention run applied to it."""
    return {str(t): c for t, c in store.con.execute(
        "SELECT record_type, max(cutoff) FROM retention_run GROUP BY record_type").fetchall()}
