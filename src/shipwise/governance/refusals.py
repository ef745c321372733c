"""Refused credentials in the audit log, without letting a flood fill it.

Every presented credential that is refused — a wrong, unknown or revoked API token (REST API,
MCP), a forged, expired or signed-out session cookie, a failed sign-in on the web page — is a row
of ``access_log`` with ``allowed = false``, action ``auth.refused``, role ``anonymous`` and the
reason and client address in ``subject``. The presented secret is never written: only the public
id of a token (``sw_<id>_…``) or of a session's token, when the value has that shape.

A source (client address) gets at most :attr:`RefusalLog.per_minute` rows per minute; the rest of
that minute are counted and written as one row (action ``auth.refused.more``, the count in
``subject``) once the minute is over — at the next refusal from anyone, or when the server stops.
At most :attr:`RefusalLog.max_sources` sources are told apart per minute; the others share one
bucket. So a flood adds at most ``max_sources × (per_minute + 1) + per_minute + 1`` rows a minute.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from shipwise.store import access_log
from shipwise.store.access_log import Entry
from shipwise.store.duckdb_store import Store

ACTION = "auth.refused"
MORE = "auth.refused.more"
OTHERS = "other sources"
_TOKEN_ID = re.compile(r"^\s*sw_([0-9a-f]{12})_")
_SESSION_ID = re.compile(r"^([0-9a-f]{12})\.")


@dataclass
class _Bucket:
    minute: int
    written: int = 0
    more: int = 0
    interface: str = ""


def public_id(presented: str) -> str | None:
    """The public token id in a presented token or session cookie (never any secret part)."""
    m = _TOKEN_ID.match(presented) or _SESSION_ID.match(presented)
    return m.group(1) if m else None


class RefusalLog:
    """Writes refusals to ``access_log`` within a per-source, per-minute budget."""

    def __init__(self, per_minute: int = 10, max_sources: int = 100,
                 clock: Callable[[], float] = time.time) -> None:
        self.per_minute = per_minute
        self.max_sources = max_sources
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    def record(self, store: Store, *, source: str, interface: str, what: str,
               presented: str = "") -> None:
        now = self._clock()
        minute = int(now // 60)
        with self._lock:
            rows = self._due(lambda b: b.minute != minute)
            key = source if source in self._buckets or len(self._buckets) < self.max_sources \
                else OTHERS
            bucket = self._buckets.setdefault(key, _Bucket(minute))
            if bucket.written < self.per_minute:
                bucket.written += 1
                rows.append(_row(now, public_id(presented), interface, ACTION,
                                 f"{what} (from {source})"))
            else:
                bucket.more += 1
                bucket.interface = interface
        _write(store, rows)

    @property
    def pending(self) -> bool:
        """Are refusals counted but not written yet?"""
        with self._lock:
            return any(b.more for b in self._buckets.values())

    def flush(self, store: Store) -> None:
        """Write the summary rows of every bucket (when the server stops)."""
        with self._lock:
            rows = self._due(lambda b: True)
        _write(store, rows)

    def _due(self, done: Callable[[_Bucket], bool]) -> list[Entry]:
        rows = []
        for key, bucket in list(self._buckets.items()):
            if not done(bucket):
                continue
            del self._buckets[key]
            if bucket.more:
                rows.append(_row(self._clock(), None, bucket.interface, MORE,
                                 _more(bucket.more, key, bucket.minute)))
        return rows


def record_counted(store: Store, *, interface: str, what: str, presented: str = "",
                   per_minute: int = 10) -> None:
    """The same budget for short-lived local processes (the CLI, MCP over stdio), counted in the
    store since no process lives for the minute: ``per_minute`` rows per interface and minute,
    then one ``auth.refused.more`` row whose count goes up."""
    now = time.time()
    minute = int(now // 60)
    start = datetime.fromtimestamp(minute * 60, UTC)
    with store.transaction():
        if access_log.count_since(store, action=ACTION, interface=interface, since=start) < per_minute:
            access_log.append(store, _row(now, public_id(presented), interface, ACTION, what))
            return
        more = access_log.first_since(store, action=MORE, interface=interface, since=start)
        if more is None:
            access_log.append(store, _row(now, None, interface, MORE, _more(1, interface, minute)))
        else:
            n = int(str(more[1]).split(" ", 1)[0]) + 1
            access_log.set_subject(store, more[0], _more(n, interface, minute))


def _more(n: int, source: str, minute: int) -> str:
    start = datetime.fromtimestamp(minute * 60, UTC)
    return (f"{n} more refused credentials from {source} in the minute from "
            f"{start:%Y-%m-%d %H:%M} UTC (counted, not written one by one)")


def _row(at: float, token_id: str | None, interface: str, action: str, subject: str) -> Entry:
    return Entry(datetime.fromtimestamp(at, UTC), token_id, "anonymous", interface or "api", action,
                 subject, False)


def _write(store: Store, rows: list[Entry]) -> None:
    access_log.append(store, *rows)
