"""What requests share: one store connection (behind a lock) and the investigation worker.

DuckDB lets one process hold a file read-write; inside it every connection to that file must use
the same configuration. So the server keeps a single read-write :class:`Store` and lends it out
under a lock (:meth:`SharedStore.session`): writes are serialised and a webhook waits at most for
another webhook's few milliseconds, never for an investigation. Long writes — an import or sync
through the API, a command another local process asked the server to run
(:mod:`shipwise.http.local`) — each take a connection of their own
(:meth:`SharedStore.own_connection`), one at a time, so the pages and webhooks go on meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shipwise.app.alarms import (
    RunElsewhere,
    intake_result,
    pending_alarm_ids,
    prepare_intake,
    receive_alarm,
    start_investigations,
    write_intake,
)
from shipwise.app.caller import Caller
from shipwise.app.diagnostics import FAMILIES, _hidden
from shipwise.app.investigate import store_slice
from shipwise.app.notify import SCHEDULED_DIGEST, deliver_pending, send_digests
from shipwise.app.prevention import SCHEDULED_SCAN
from shipwise.app.prevention import scan as prevention_scan
from shipwise.app.scm_hooks import (
    HookOutcome,
    answer,
    assess,
    pending_syncs,
    sync_delivered,
    write_deliveries,
)
from shipwise.app.telemetry import Export, TelemetryWriter, prepare_export, pseudonymiser
from shipwise.config import Settings, environ_as
from shipwise.errors import StoreError, UnauthorizedError
from shipwise.governance.pseudonym import Pseudonymiser
from shipwise.governance.refusals import RefusalLog
from shipwise.http.auth import SessionKeys
from shipwise.http.intake import GroupCommit
from shipwise.http.local import Relay, ServerInfo, advertise, withdraw
from shipwise.http.periodic import Periodic
from shipwise.http.worker import InvestigationPool, InvestigationWorker, SyncWorker
from shipwise.investigate.alarms import alarm_from_dict
from shipwise.metrics.facts import ensure_fresh
from shipwise.notify.deliver import DeliveryLoop
from shipwise.store import prevention as prevention_table
from shipwise.store.duckdb_store import Store, borrowing

log = logging.getLogger(__name__)


class SharedStore:
    """One read-write store connection, opened on first use, lent out under a lock."""

    def __init__(self, path: Path, *, memory_limit: str | None = None) -> None:
        self.path = path
        self._memory_limit = memory_limit
        self._store: Store | None = None
        self._lock = threading.RLock()
        self._closed = False
        self._owner: int | None = None
        self._depth = 0
        self._local = threading.local()
        self._cursors: list[Store] = []

    @contextmanager
    def session(self) -> Iterator[Store]:
        with self._lock:
            if self._closed:
                raise StoreError("the server is shutting down", hint="retry in a moment")
            if self._store is None:
                self._store = Store.open(self.path, memory_limit=self._memory_limit)  # migrates
            self._owner, self._depth = threading.get_ident(), self._depth + 1
            try:
                yield self._store
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._owner = None

    def shared(self) -> Store:
        """The shared store (opened if need be), for code that takes :meth:`Store.sibling`
        connections of it, never for using it outside :meth:`session`."""
        with self.session() as store:
            return store

    @contextmanager
    def own_connection(self) -> Iterator[Store]:
        """A store on a connection of its own (a cursor of the server's): a long write — an
        import, a sync, a command run for another process — commits or rolls back alone while
        the dashboard and webhooks go on with the shared one."""
        store = self.shared().sibling()
        try:
            yield store
        finally:
            store.close()

    @contextmanager
    def reader(self) -> Iterator[Store]:
        """A read-only view of the store for the calling thread, without the lock: its own
        cursor on the shared connection (DuckDB runs each cursor's queries side by side and
        shows it what is committed). For reads that take tens of milliseconds, such as an
        investigation's store slice, so webhook commits do not wait for them."""
        cursor = getattr(self._local, "store", None)
        if cursor is None:
            with self.session() as store:
                cursor = store.sibling()
                self._cursors.append(cursor)
            self._local.store = cursor
        if self._closed:
            raise StoreError("the server is shutting down", hint="retry in a moment")
        yield cursor

    def held_here(self) -> bool:
        """Does the calling thread hold the store already (a request inside its session)?"""
        return self._owner == threading.get_ident()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for cursor in self._cursors:
                cursor.close()
            self._cursors.clear()
            if self._store is not None:
                self._store.close()
                self._store = None


class ServerState:
    """Settings, the shared store and the worker, for the life of one app."""

    def __init__(self, settings: Settings, *, insecure_webhooks: bool = False,
                 url: str | None = None,
                 commands: Callable[[list[str]], int] | None = None) -> None:
        self.settings = settings
        #: the loopback URL other local processes reach this server at (``None``: not announced,
        #: e.g. an app under test); with it, the server file and ``/local/run``
        self.url = url
        self.advertised: ServerInfo | None = None
        #: runs one command line of another local process here, answering its exit code (the
        #: CLI's own entry point, handed in by ``shipwise serve``)
        self.commands = commands
        #: long writers take turns: imports and syncs (API, webhooks) and relayed commands, each
        #: on its own connection; two at once would conflict on the rows both rewrite
        self.writes = threading.Lock()
        self.relay = Relay(self.writes)
        self.insecure_webhooks = insecure_webhooks
        secret = settings.webhooks.secret
        self.webhook_secret: bytes | None = secret.get_secret_value().encode() if secret else None
        signing = settings.webhooks.hmac_secret
        #: the generic webhook is signed with this (X-Shipwise-Signature), when set
        self.hmac_secret: bytes | None = signing.get_secret_value().encode() if signing else None
        self.store = SharedStore(settings.db, memory_limit=settings.memory_limit)
        #: the web session secret (a file beside the key, never the store)
        self.sessions = SessionKeys(settings.session_secret_file)
        #: refused credentials, written to the access log within a budget
        self.refusals = RefusalLog()
        #: a webhook sender used ?token= (warned once: headers are preferred)
        self.query_secret_warned = False
        workers = settings.server.investigation_workers
        self.worker: InvestigationWorker | InvestigationPool = (
            InvestigationPool(self._investigate_elsewhere, self._job, settings.investigate, workers)
            if workers else InvestigationWorker(self._investigate))
        self.intake = GroupCommit(self.store.session, write_intake, held_here=self.store.held_here,
                                  delay=settings.server.intake_commit_delay_ms / 1000)
        self.deliveries = GroupCommit(self.store.session, write_deliveries,
                                      held_here=self.store.held_here)
        self.syncs = SyncWorker(self._sync, delay=settings.webhooks.sync_delay_seconds)
        hours = settings.prevention.interval_hours
        #: the prevention scan, every ``prevention.interval_hours`` (None: switched off)
        self.prevention: Periodic | None = (
            Periodic(self._prevention_scan, hours * 3600, first_delay=self._prevention_due,
                     name="shipwise-prevention") if hours > 0 else None)
        digests = settings.notify.digest
        #: every team's weekly digest, checked every ``notify.digest.check_hours`` (None: no
        #: digest channel, or switched off)
        self.digests: Periodic | None = (
            Periodic(self._send_digests, digests.check_hours * 3600,
                     first_delay=lambda: settings.prevention.start_delay_minutes * 60,
                     name="shipwise-digest")
            if digests.channel is not None and digests.check_hours > 0 else None)
        #: delivers the notification outbox in the background (docs/notifications.md)
        self.outbox = DeliveryLoop(lambda: deliver_pending(self.settings, self.store.session),
                                   settings.notify.deliver.interval_seconds)
        #: OTLP/HTTP traces and logs: requests that arrive together share one commit
        self.telemetry_writer = TelemetryWriter(settings)
        self.telemetry = GroupCommit(self.store.session, self.telemetry_writer,
                                     held_here=self.store.held_here)
        self._pseudo: Pseudonymiser | None = None
        #: the families whose small-group suppression the start-up prewarm decided, with seconds
        self.prewarmed: dict[str, float] = {}

    def run_relayed(self, argv: list[str], env: dict[str, str]) -> Iterator[bytes]:
        """Run another local process's command line here, on a connection of its own, reading
        settings and secrets from ``env``; its output as :meth:`Relay.run` streams it."""
        command = self.commands
        if command is None:
            raise UnauthorizedError("this server runs no commands for other processes")
        shared = self.store.shared()

        def job() -> int:
            with environ_as(env), borrowing(self.settings.db, shared):
                return command(argv)

        return self.relay.run(job)

    @property
    def webhook_auth(self) -> str:
        """``secret`` | ``insecure`` (no secret, --insecure-webhooks) | ``disabled``."""
        if self.webhook_secret is not None:
            return "secret"
        return "insecure" if self.insecure_webhooks else "disabled"

    def start(self) -> None:
        if self.url is not None and self.commands is not None:
            self.relay.install()
            self.advertised = advertise(self.settings.db, self.url)
        self.worker.start()
        self.intake.start()
        self.deliveries.start()
        self.telemetry.start()
        self.syncs.start()
        if self.prevention is not None:
            self.prevention.start()
        if self.digests is not None:
            self.digests.start()
        if self.settings.notify.channels:
            self.outbox.start()
        try:
            pending = pending_alarm_ids(self.settings, session=self.store.session)
            with self.store.session() as store:  # telemetry retention, even with none arriving
                self.telemetry_writer.trim(store)
            for source, scope in pending_syncs(self.store.session):
                self.syncs.submit(source, scope)  # accepted before a restart: synced now
        except StoreError as exc:
            log.warning("store not ready: %s%s", exc, f" ({exc.hint})" if exc.hint else "")
            return
        if pending:
            log.info("resuming %d alarm(s) not investigated yet", len(pending))
            self.worker.submit(pending)
        if self.settings.server.prewarm:
            threading.Thread(target=self._prewarm, name="shipwise-prewarm", daemon=True).start()

    def _prewarm(self) -> None:
        """Decide small-group suppression for the whole organisation once, before the first team
        page asks (at 750 teams this is seconds; every page after it is milliseconds)."""
        try:
            with self.store.session() as store:
                ensure_fresh(store)
                for family in FAMILIES:
                    t0 = time.perf_counter()
                    _hidden(store, family, self.settings.privacy.min_group_size)
                    self.prewarmed[family] = time.perf_counter() - t0
        except Exception as exc:
            log.warning("could not prepare flow and strain views: %s", exc)

    def stop(self) -> None:
        if self.prevention is not None:
            self.prevention.stop(self.settings.server.drain_seconds)
        if self.digests is not None:
            self.digests.stop(self.settings.server.drain_seconds)
        self.intake.stop()
        self.deliveries.stop()
        self.telemetry.stop()
        self.syncs.stop(self.settings.server.drain_seconds)
        self.worker.stop(self.settings.server.drain_seconds)
        self.outbox.stop()
        try:
            if self.refusals.pending:
                with self.store.session() as store:
                    self.refusals.flush(store)  # the counts of refusals not written one by one
        except Exception as exc:
            log.warning("could not write the last refusals to the access log: %s", exc)
        if self.advertised is not None:
            withdraw(self.settings.db, self.advertised)
            self.advertised = None
        self.relay.uninstall()
        self.store.close()

    def receive(self, body: bytes, kind: str | None) -> dict[str, Any]:
        """Store a webhook body; queue its new alarms for investigation."""
        result = receive_alarm(self.settings, body, kind, session=self.store.session,
                               commit=self.intake.run)
        self.worker.submit(result["accepted"])
        return result

    async def receive_async(self, body: bytes, kind: str | None) -> dict[str, Any]:
        """:meth:`receive` without a thread hop: parse on the event loop, await the group commit."""
        intake = prepare_intake(body, kind)
        fresh, seen = await asyncio.wrap_future(self.intake.submit(intake.records))
        result = intake_result(intake, fresh, seen)
        self.worker.submit(result["accepted"])
        return result

    async def receive_otlp(self, signal: str, body: bytes, content_type: str | None,
                           encoding: str | None) -> Export:
        """Decode an OTLP/HTTP body on the event loop and await the group commit of its rows."""
        if self._pseudo is None:
            self._pseudo = pseudonymiser(self.settings)
        export = prepare_export(self.settings, self._pseudo, signal, body, content_type, encoding)
        if len(export.decoded):
            await asyncio.wrap_future(self.telemetry.submit([export.record]))
        return export

    async def receive_scm(self, provider: str, headers: dict[str, str], body: bytes) -> HookOutcome:
        """Verify a GitHub/GitLab delivery on the event loop, keep it in the next group commit,
        and queue the sync of the repository it names."""
        assessed = assess(self.settings, provider, headers, body)
        if assessed.row is None:
            return assessed.outcome
        fresh = await asyncio.wrap_future(self.deliveries.submit([assessed.row]))
        outcome = answer(assessed, bool(fresh))
        if outcome.sync is not None:
            self.syncs.submit(*outcome.sync)
        return outcome

    def _prevention_due(self) -> float:
        """Seconds until the first prevention scan of this run: an interval after the last one
        (whoever ran it), due at once on a store never scanned — but not before
        ``prevention.start_delay_minutes`` after the start."""
        grace = self.settings.prevention.start_delay_minutes * 60
        try:
            with self.store.session() as store:
                last = prevention_table.last_scan(store)
        except StoreError as exc:  # not ready yet: the first scan is tried after the grace
            log.warning("prevention scan: store not ready (%s)", exc)
            return grace
        if last is None or self.prevention is None:
            return grace
        age = (datetime.now(UTC) - last["started_at"]).total_seconds()
        return max(grace, self.prevention.interval - age)

    def _prevention_scan(self) -> None:
        """The scheduled scan, as its own principal, on a connection of its own (taking turns
        with the other long writes), so pages and webhooks go on meanwhile."""
        with self.writes, self.store.own_connection() as store:
            result = prevention_scan(Caller(store, SCHEDULED_SCAN, self.settings, "api"),
                                     trigger="server")
        log.info("prevention scan: %d recommendations (%d new)", result.scan.found or 0,
                 result.scan.new or 0)

    def _send_digests(self) -> None:
        """The scheduled weekly digests, as their own principal, on a connection of their own."""
        with self.writes, self.store.own_connection() as store:
            run = send_digests(Caller(store, SCHEDULED_DIGEST, self.settings, "api"))
        log.info("weekly digest %s: %d queued, %d already sent, %d failed", run.week,
                 len(run.queued), len(run.already_sent), len(run.failed))

    def _sync(self, source: str, scope: str) -> None:
        with self.writes:
            sync_delivered(self.settings, source, scope, session=self.store.session)

    def _investigate(self, ids: list[str]) -> None:
        start_investigations(self.settings, ids, session=self.store.session)
        self.outbox.wake()

    def _investigate_elsewhere(self, ids: list[str], run: RunElsewhere) -> None:
        start_investigations(self.settings, ids, session=self.store.session, run=run)
        self.outbox.wake()

    def _job(self, alarm_id: str, alarm: dict[str, Any]) -> dict[str, Any]:
        """A worker process's job: the alarm and what its investigation reads from the store."""
        data = store_slice(self.settings, alarm_from_dict(alarm), self.store.reader)
        return {"id": alarm_id, "alarm": alarm, "slice": None if data is None else data.to_json()}
