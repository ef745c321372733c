"""OTLP/HTTP intake: traces and logs an OpenTelemetry SDK or Collector exports to
``shipwise serve`` (``POST /v1/traces``, ``/v1/logs``; docs/otlp.md).

A request body is decoded on the event loop (:func:`prepare_export`: protobuf or JSON, gzip
undone, customer ids pseudonymised with the store's key), then its rows join the next group
commit (:class:`TelemetryWriter`, run by :class:`shipwise.http.intake.GroupCommit`): the bodies
that arrive together are written with one statement per table in one transaction, and retention
(``telemetry.retention_days``) runs with the first commit every ``telemetry.trim_every_seconds``.
The answer is sent only once the rows are committed, so an exporter that got a success lost
nothing; a retry stores nothing twice (spans are keyed by trace and span id, log lines by a hash
of their content).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shipwise.config import Settings
from shipwise.errors import ShipwiseError
from shipwise.governance.pseudonym import Pseudonymiser, load_key
from shipwise.ingest.otlp import (
    LOG_COLUMNS,
    SPAN_COLUMNS,
    Decoded,
    decode,
    error_status,
    inflate,
    media_type,
    response,
)
from shipwise.store import telemetry as table
from shipwise.store.duckdb_store import Store

log = logging.getLogger(__name__)

_CUSTOMER = SPAN_COLUMNS.index("customer")


@dataclass(frozen=True)
class Export:
    """One decoded request: its rows (to commit) and its answer (to send once committed)."""

    signal: str
    decoded: Decoded
    body: bytes
    content_type: str

    @property
    def record(self) -> tuple[str, list[list[Any]]]:
        """What the group commit stores: (signal, column lists)."""
        return self.signal, list(self.decoded.columns.values())


def prepare_export(settings: Settings, pseudo: Pseudonymiser, signal: str, body: bytes,
                   content_type: str | None, encoding: str | None,
                   received_ns: int | None = None) -> Export:
    """Decode one OTLP/HTTP request (InputError for a body that cannot be read: nothing of it is
    stored)."""
    kind = media_type(content_type)
    raw = inflate(body, encoding, settings.telemetry.max_inflated_bytes)
    decoded = decode(signal, raw, kind, time.time_ns() if received_ns is None else received_ns)
    if signal == "traces":
        customers = decoded.columns["customer"]
        known = {c: pseudo.pseudonym(c) for c in set(customers) if c}
        decoded.columns["customer"] = [known.get(c, "") for c in customers]
    answer, answer_type = response(signal, decoded, kind)
    return Export(signal, decoded, answer, answer_type)


def error_answer(message: str, content_type: str | None) -> tuple[bytes, str]:
    """The body of an OTLP error answer (a ``google.rpc.Status``) in the request's encoding."""
    try:
        kind = media_type(content_type)
    except ShipwiseError:
        kind = "application/json"
    return error_status(message, kind)


def pseudonymiser(settings: Settings) -> Pseudonymiser:
    """Customer ids on spans are pseudonymised with the store's key, as people are."""
    return Pseudonymiser(load_key(settings.resolved_key_file), settings.bots,
                          settings.ai.agents)


class TelemetryWriter:
    """The group commit's work: the rows of many requests, one insert per table, and retention
    when it is due. Per request: how many rows were new."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.trimmed_at = 0.0
        self.trimmed: dict[str, int] = {}

    def __call__(self, store: Store, batches: list[list[tuple[Any, ...]]]) -> list[int]:
        merged: dict[str, list[list[Any]]] = {
            "traces": [[] for _ in SPAN_COLUMNS], "logs": [[] for _ in LOG_COLUMNS]}
        for rows in batches:
            for signal, columns in rows:
                for into, col in zip(merged[signal], columns, strict=True):
                    into.extend(col)
        now = time.time()
        received_us = int(now * 1e6)
        with store.transaction():
            table.insert_spans(store, merged["traces"], received_us)
            table.insert_logs(store, merged["logs"], received_us)
            if now - self.trimmed_at >= self.settings.telemetry.trim_every_seconds:
                self.trim(store, now)
        return [sum(len(cols[0]) for _, cols in rows) for rows in batches]

    def trim(self, store: Store, now: float | None = None) -> dict[str, int]:
        """Retention now (the server also runs it when it starts)."""
        now = time.time() if now is None else now
        self.trimmed = trim(store, self.settings, now)
        self.trimmed_at = now
        return self.trimmed


def trim(store: Store, settings: Settings, now: float | None = None) -> dict[str, int]:
    """Delete telemetry older than ``telemetry.retention_days``: {table: rows deleted}."""
    now = time.time() if now is None else now
    cutoff = (datetime.fromtimestamp(now, tz=UTC).replace(tzinfo=None)
              - timedelta(days=settings.telemetry.retention_days))
    deleted = table.trim(store, cutoff)
    if any(deleted.values()):
        log.info("telemetry retention: deleted %s (before %s)", deleted, cutoff.isoformat())
    return deleted
