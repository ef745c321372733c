"""Alarm intake: store what a webhook delivered, then hand each new alarm to the investigation engine.

Every body is kept (``alarm_intake.payload``), malformed ones too (status ``rejected`` with the
reason). Each alarm gets one row whose id is derived from the alert's identity
(:func:`intake_id`), so a body delivered twice — Alertmanager retries and repeats — lands on the
same rows: their ``deliveries`` count goes up and nothing is investigated twice.

Statuses: ``accepted`` → ``investigating`` → ``investigated`` | ``failed``; ``rejected`` (malformed
body), ``resolved`` (a resolved alert, OK alarm or closed problem: nothing to investigate),
``subscription`` (an SNS subscription handshake, confirmed by an operator).

The functions take an optional ``session``: a callable returning a context manager that yields an
open :class:`~shipwise.store.duckdb_store.Store`. The server passes its one shared, locked
connection; without it each call opens the store itself.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from shipwise.app import investigate as engine
from shipwise.app.context import open_store
from shipwise.config import Settings
from shipwise.errors import InputError, NotFoundError, ShipwiseError
from shipwise.investigate.alarms import (
    KINDS,
    AlarmBatch,
    alarm_from_dict,
    alarm_to_dict,
    parse_alarm_batch,
)
from shipwise.notify import plan as notify_plan
from shipwise.store import alarms as intake_table
from shipwise.store import investigations as investigation_table
from shipwise.store.duckdb_store import Store, StoreSession

log = logging.getLogger(__name__)

#: stores one body's intake rows together with other bodies' (one transaction); (new, known) ids
GroupCommitFn = Callable[[list[tuple[Any, ...]]], Any]

STATUSES = ("accepted", "rejected", "resolved", "subscription", "investigating", "investigated",
            "failed")
#: Rows a worker still has to investigate (``investigating``: interrupted by a stop or crash).
PENDING = ("accepted", "investigating")

#: Investigates one stored alarm (id, alarm dict) elsewhere — a worker process — and returns its
#: record, not stored: the caller writes it together with the row's status.
RunElsewhere = Callable[[str, dict[str, Any]], dict[str, Any]]


class InvestigationError(Exception):
    """The engine failed in a worker process; the message is as recorded in process
    (``Type: message (hint)``)."""


class InvestigationInterrupted(Exception):
    """The investigation was stopped before it finished (the server is shutting down): the row
    stays pending and is investigated on the next start."""


def intake_id(alarm_key: str) -> str:
    """The intake row id of an alarm key: ``alm-`` + 16 hex digits of its SHA-256."""
    return "alm-" + hashlib.sha256(alarm_key.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class _Row:
    key: str
    status: str
    alarm: dict[str, Any] | None = None
    error: str | None = None


def receive_alarm(settings: Settings, body: bytes, kind: str | None,
                  received_at: float | None = None, *,
                  session: StoreSession | None = None,
                  commit: GroupCommitFn | None = None) -> dict[str, Any]:
    """Store a webhook body and say what it held.

    Returns ``{"kind", "accepted": [new alarm ids], "duplicates": [ids seen before],
    "rejected": reason | None, "hint", "resolved": n, "duplicate": bool, "subscription": {...} |
    None, "ids": [every row id of this body]}``. ``duplicate`` is true when the body brought
    nothing new. Only ``accepted`` ids still need investigating.

    ``commit`` (the server's group commit) runs the write together with other bodies that
    arrived at the same time, in one transaction, and returns once it is durable.
    """
    intake = prepare_intake(body, kind, received_at)
    if commit is not None:
        fresh, seen = commit(intake.records)
    else:
        with (session or _opener(settings))() as store, store.transaction():
            fresh, seen = write_intake(store, [intake.records])[0]
    return intake_result(intake, fresh, seen)


@dataclass
class Intake:
    """A webhook body parsed and turned into intake rows, ready to store."""

    kind: str | None
    batch: AlarmBatch | None
    reason: InputError | None
    crash: Exception | None
    rows: list[_Row]
    records: list[tuple[Any, ...]]


def prepare_intake(body: bytes, kind: str | None, received_at: float | None = None) -> Intake:
    """Parse a body (never raising for a bad one: it becomes a ``rejected`` row with the reason)."""
    if kind is not None and kind not in KINDS:
        raise InputError(f"unknown alarm kind {kind!r}", hint=f"use one of {', '.join(KINDS)}")
    received_at = time.time() if received_at is None else float(received_at)
    sha = hashlib.sha256(body).hexdigest()
    batch: AlarmBatch | None = None
    reason: InputError | None = None
    crash: Exception | None = None
    try:
        batch = parse_alarm_batch(body, kind, received_at=received_at)
        rows = _rows(batch, reason, sha)
        alarms = [None if r.alarm is None else
                  json.dumps(r.alarm, default=str, allow_nan=False) for r in rows]
    except InputError as exc:
        batch, reason = None, exc
    except Exception as exc:  # a parser bug: keep the body, then let the caller see the failure
        batch, crash = None, exc
        reason = InputError(f"internal error while reading the payload: {exc!r}")
    if batch is None:
        rows = _rows(None, reason, sha)
        alarms = [None]
    kind = batch.kind if batch else kind
    # the body as received, in text that can always be stored: bytes that are not UTF-8 as \xNN
    payload = body.decode("utf-8", errors="backslashreplace")
    records = [(intake_id(r.key), received_at, kind, r.status, r.error, payload, sha, alarm, r.key)
               for r, alarm in zip(rows, alarms, strict=True)]
    return Intake(kind, batch, reason, crash, rows, records)


def intake_result(intake: Intake, fresh: set[str], seen: set[str]) -> dict[str, Any]:
    """What a stored body held (see :func:`receive_alarm`); re-raises a parser crash."""
    if intake.crash is not None:
        raise intake.crash
    batch, reason, rows, kind = intake.batch, intake.reason, intake.rows, intake.kind
    ids = [intake_id(r.key) for r in rows]
    sub = batch.subscription if batch else None
    return {
        "kind": batch.kind if batch else kind,
        "accepted": [i for i, r in zip(ids, rows, strict=True) if r.status == "accepted" and i in fresh],
        "duplicates": [i for i in ids if i in seen],
        "rejected": str(reason) if reason else None,
        "hint": reason.hint if reason else None,
        "resolved": len(batch.resolved) if batch else 0,
        "duplicate": not fresh,
        "subscription": None if sub is None else {
            "type": sub.type, "topic_arn": sub.topic_arn, "message_id": sub.message_id,
            "subscribe_url": sub.subscribe_url},
        "ids": ids,
    }


def _rows(batch: AlarmBatch | None, reason: InputError | None, sha: str) -> list[_Row]:
    if batch is None:
        return [_Row(f"rejected:{sha}", "rejected", error=str(reason) if reason else None)]
    rows = [_Row(str(a.source["key"]), "accepted", alarm_to_dict(a)) for a in batch.alarms]
    rows += [_Row(f"{n.key}:{n.state}", "resolved",
                  {"entity": n.entity, "name": n.name, "state": n.state}) for n in batch.resolved]
    if batch.subscription is not None:
        rows.append(_Row(f"sns:{batch.subscription.message_id or sha}", "subscription"))
    unique: dict[str, _Row] = {}
    for r in rows:  # the same alert twice in one body is one row
        unique.setdefault(r.key, r)
    return list(unique.values())


def write_intake(store: Store, bodies: list[list[tuple[Any, ...]]]) -> list[tuple[set[str], set[str]]]:
    """Store the rows of many bodies with three statements: which ids exist, insert the new
    ones, count a delivery on the known ones. Per body: (new ids, known ids). A row id seen
    earlier in the same batch counts as known (a retry that raced its original)."""
    seen = intake_table.existing_ids(store, [rec[0] for recs in bodies for rec in recs])
    new_rows: list[tuple[Any, ...]] = []
    repeats: dict[str, int] = {}
    out = []
    for recs in bodies:
        fresh, known = set(), set()
        for rec in recs:
            if rec[0] in seen:
                known.add(rec[0])
                repeats[rec[0]] = repeats.get(rec[0], 0) + 1
            else:
                seen.add(rec[0])
                fresh.add(rec[0])
                new_rows.append(rec)
        out.append((fresh, known))
    with store.transaction():
        intake_table.insert(store, new_rows)
        intake_table.add_deliveries(store, repeats)
    return out


def list_alarms(settings: Settings, status: str | None = None, limit: int = 50, *,
                session: StoreSession | None = None,
                team: str | None = None) -> list[dict[str, Any]]:
    """The latest intake rows, newest first (without the raw payload; see :func:`get_alarm`);
    with ``team``, only alarms on that team's services."""
    if status is not None and status not in STATUSES:
        raise InputError(f"unknown intake status {status!r}", hint=f"use one of {', '.join(STATUSES)}")
    if not 1 <= limit <= 10_000:
        raise InputError(f"limit {limit} is out of range", hint="use 1 to 10000")
    with (session or _opener(settings))() as store:
        rows = intake_table.latest(store, status=status or None, team=team, limit=limit)
    return [_public(r) for r in rows]


def get_alarm(settings: Settings, alarm_id: str, *,
              session: StoreSession | None = None) -> dict[str, Any]:
    """One intake row with its raw payload."""
    with (session or _opener(settings))() as store:
        row = intake_table.get(store, alarm_id)
    if row is None:
        raise NotFoundError(f"no alarm {alarm_id!r} in the intake")
    return _public(row)


def pending_alarm_ids(settings: Settings, *, session: StoreSession | None = None) -> list[str]:
    """Accepted alarms not investigated yet (oldest first), e.g. after a restart."""
    with (session or _opener(settings))() as store:
        return intake_table.ids_in(store, PENDING)


#: alarms on the same entity and metric this close to an investigated one share its investigation
STORM_SECONDS = 600.0


def _alarm_time(alarm: dict[str, Any]) -> float:
    try:
        return float(alarm_from_dict(alarm).time)
    except (ShipwiseError, KeyError, TypeError, ValueError):
        return 0.0


def start_investigations(settings: Settings, ids: Iterable[str], *,
                         session: StoreSession | None = None,
                         run: RunElsewhere | None = None) -> list[dict[str, Any]]:
    """Investigate each accepted alarm, one after the other, recording the outcome on its row.

    Calls ``shipwise.app.investigate.investigate_alarm(settings, alarm, alarm_id,
    session=session)`` (the store this process holds, never a second connection), looked up
    at each call (the seam tests replace). The row goes ``investigating`` → ``investigated`` with
    ``investigation_id``, or ``failed`` with the error (the engine missing or raising
    included). Rows not pending are skipped. An alarm storm — an alarm on the same entity and metric within
    :data:`STORM_SECONDS` of one already investigated — is linked to that investigation instead
    of starting another (``"coalesced": True``). Returns ``[{"id", "status", "investigation_id"
    | "error"}]``.

    With ``run`` (the server's worker processes) the engine runs elsewhere and the record comes
    back; it is stored in the same transaction as the row's new status, so a crash at any point
    leaves either both or neither (the row then stays pending and is investigated again, its
    record replaced, never doubled). :class:`InvestigationInterrupted` from ``run`` stops the
    batch and leaves the row pending.
    """
    session = session or _opener(settings)
    ids = list(ids)
    with session() as store:
        rows = intake_table.statuses(store, ids)
        alarms = {i: a for i, (st, text) in rows.items() if st in PENDING
                  and (a := read_alarm(text)) is not None}
        entities = sorted({str(a.get("entity")) for a in alarms.values()})
        # investigations an alarm storm can join: (entity, metric) -> [(alarm time, id)]
        known: dict[tuple[str, str], list[tuple[float, str]]] = {}
        for inv_id, entity, metric, t in investigation_table.alarm_times(store, entities):
            known.setdefault((entity, metric), []).append((t, inv_id))
    out: list[dict[str, Any]] = []
    joined: list[tuple[str, str]] = []

    def flush() -> None:
        if joined:
            with session() as store:
                intake_table.link_investigations(store, joined)
            joined.clear()

    for alarm_id in ids:
        alarm = alarms.get(alarm_id)
        if alarm is None:
            status = rows[alarm_id][0] if alarm_id in rows else "missing"
            out.append({"id": alarm_id, "status": status, "skipped": True})
            continue
        key, t = (str(alarm.get("entity")), str(alarm.get("metric") or "")), _alarm_time(alarm)
        near = [(abs(t0 - t), inv) for t0, inv in known.get(key, []) if abs(t0 - t) <= STORM_SECONDS]
        if near:  # an alarm storm: share the investigation of the same entity and metric
            inv = min(near)[1]
            joined.append((alarm_id, inv))
            out.append({"id": alarm_id, "status": "investigated", "investigation_id": inv,
                        "coalesced": True})
            continue
        flush()
        with session() as store, store.transaction():
            intake_table.mark_investigating(store, alarm_id)
            _progress(store, settings, alarm_id, alarm)
        if run is None:
            outcome = _investigate(settings, alarm_id, alarm, session)
            with session() as store, store.transaction():
                intake_table.set_status(store, alarm_id, outcome["status"],
                                        investigation_id=outcome.get("investigation_id"),
                                        error=outcome.get("error"))
                if outcome.get("error"):
                    _progress(store, settings, alarm_id, alarm, outcome["error"])
        else:
            outcome = _investigate_elsewhere(settings, run, alarm_id, alarm, session)
        if outcome.get("investigation_id"):
            known.setdefault(key, []).append((t, str(outcome["investigation_id"])))
        log.info("alarm %s: %s %s", alarm_id, outcome["status"],
                 outcome.get("investigation_id") or outcome.get("error"))
        out.append({"id": alarm_id, **outcome})
    flush()
    return out


def _investigate(settings: Settings, alarm_id: str, alarm: dict[str, Any],
                 session: StoreSession) -> dict[str, Any]:
    try:
        investigate_alarm = engine.investigate_alarm
    except AttributeError as exc:
        log.error("alarm %s: investigation engine unavailable: %s", alarm_id, exc)
        return {"status": "failed", "error": f"investigation engine unavailable: {exc}"}
    try:
        # the store this process holds: the evidence and the record go through it
        result = investigate_alarm(settings, alarm_from_dict(alarm), alarm_id, session=session)
        investigation_id = result.get("id") if isinstance(result, dict) else None
        if not investigation_id:
            raise TypeError(f"investigate_alarm returned no investigation id ({result!r:.200})")
    except Exception as exc:
        log.exception("alarm %s: investigation failed", alarm_id)
        message = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, ShipwiseError) and exc.hint:
            message += f" ({exc.hint})"
        return {"status": "failed", "error": message}
    return {"status": "investigated", "investigation_id": str(investigation_id)}


def _investigate_elsewhere(settings: Settings, run: RunElsewhere, alarm_id: str,
                           alarm: dict[str, Any], session: StoreSession) -> dict[str, Any]:
    record: dict[str, Any] | None = None
    try:
        record = run(alarm_id, alarm)
        investigation_id = record.get("id") if isinstance(record, dict) else None
        if not investigation_id:
            raise TypeError(f"the worker returned no investigation id ({record!r:.200})")
        outcome = {"status": "investigated", "investigation_id": str(investigation_id)}
    except InvestigationInterrupted:
        raise
    except Exception as exc:
        log.warning("alarm %s: investigation failed: %s", alarm_id, exc)
        record = None
        message = str(exc) if isinstance(exc, InvestigationError) else f"{type(exc).__name__}: {exc}"
        if isinstance(exc, ShipwiseError) and exc.hint:
            message += f" ({exc.hint})"
        outcome = {"status": "failed", "error": message}
    with session() as store, store.transaction():  # the record and the status: both or neither
        if record is not None:
            engine.save_investigation(store, record, settings.notify)
        intake_table.set_status(store, alarm_id, outcome["status"],
                                investigation_id=outcome.get("investigation_id"),
                                error=outcome.get("error"))
        if outcome.get("error"):
            _progress(store, settings, alarm_id, alarm, outcome["error"])
    return outcome


def _progress(store: Store, settings: Settings, alarm_id: str, alarm: dict[str, Any],
              error: str | None = None) -> None:
    """The alarm's Slack thread: investigating, or failed (docs/notifications.md)."""
    if settings.notify.channels:
        notify_plan.write_alarm_progress(store, settings.notify, alarm_id,
                                         str(alarm.get("entity")), str(alarm.get("metric") or ""),
                                         _alarm_time(alarm), error=error)


#: A stored alarm nested deeper than this is not shown (stored before intake limited nesting).
READ_DEPTH = 100


def read_alarm(text: str | None) -> dict[str, Any] | None:
    """A stored alarm, or None when it cannot be read back safely (too deep, not JSON): one bad
    row must never break a listing."""
    if not text:
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > READ_DEPTH:
                return None
            stack.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict) else value))
    return data if isinstance(data, dict) else None


def _public(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    if isinstance(out.get("alarm"), str):
        alarm = read_alarm(out["alarm"])
        if alarm is None:
            out["unreadable"] = "the stored alarm cannot be shown (nested too deeply or not JSON)"
        out["alarm"] = alarm
    if out.get("received_at") is not None:
        out["received_at"] = out["received_at"].isoformat()
    return out


def _opener(settings: Settings) -> StoreSession:
    return lambda: open_store(settings)
