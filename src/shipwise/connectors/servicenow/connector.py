"""The ServiceNow connector: one scope, ``incidents``, read incrementally by ``sys_updated_on``
(see ``docs/servicenow.md``).

A sync:

1. the incidents whose cause names a deployment the store did not have yet (``pending`` in the
   cursor) are read again by sys_id once the store has it, so they get their ``caused_by``;
2. ``<query>^sys_updated_on>=<watermark - overlap>^ORDERBYsys_updated_on^ORDERBYsys_id`` a page
   at a time. The date/time of an encoded query written as text is read as UTC, like the values
   read back with ``sysparm_display_value=false``, so no time zone enters. After each full page
   the next query starts again **at the last instant read** (keyset paging, re-reading that one
   second) instead of moving ``sysparm_offset``: an incident updated while we page moves to the
   end of the order and is read there, and nothing behind it shifts past us. Only a page that
   lies within a single second is followed by ``sysparm_offset`` (with a small overlap);
3. per page, the ``change_request`` records the incidents' ``caused_by`` names that were not
   read before (``sys_idIN…``), for their number and the deployment field.

The cursor keeps ``updated`` (the newest ``sys_updated_on`` read) and ``seen`` (sys_id →
``sys_updated_on`` of the incidents read within the overlap), so the overlap re-reads nothing
as new; each page's cursor is valid once it is committed (incidents come oldest first).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shipwise.config import ServiceNowSource
from shipwise.connectors.base import Batch, Cursor, Scope
from shipwise.connectors.http import ClientHolder
from shipwise.connectors.paging import Watermark
from shipwise.connectors.servicenow import mapping as m
from shipwise.connectors.servicenow.client import PAGE_OVERLAP, ServiceNowClient
from shipwise.domain.services import ServiceMap
from shipwise.errors import ShipwiseError, TerminalError

#: Read again this far before the watermark: a long transaction can commit an incident whose
#: ``sys_updated_on`` is older than one already read.
OVERLAP = timedelta(minutes=5)
#: sys_ids per ``sys_idIN`` query (keeps the URL short).
ID_CHUNK = 100
#: Incidents waiting for their deployment kept in the cursor at most (the oldest are let go:
#: they keep their ``deploy:<id>`` label, and ``--restart`` reads them again).
PENDING_MAX = 10_000

#: Which of the given deployment ids the store has (injected by the application layer).
KnownDeployments = Callable[[Collection[str]], set[str]]


def _now() -> datetime:
    return datetime.now(UTC)


def _chunks(items: list[str], size: int = ID_CHUNK) -> Iterator[list[str]]:
    for k in range(0, len(items), size):
        yield items[k:k + size]


class ServiceNowConnector(ClientHolder[ServiceNowClient]):
    """The :class:`~shipwise.connectors.base.Connector` of one ``kind: servicenow`` source."""

    kind = "servicenow"

    def __init__(self, source: ServiceNowSource, services: ServiceMap, *,
                 deployments: KnownDeployments | None = None,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], datetime] = _now, overlap: timedelta = OVERLAP) -> None:
        self.source = source
        self.services = services
        self.name = source.id
        self.overlap = overlap
        self.known_deployments = deployments or (lambda ids: set())
        self._hold(transport, sleep, clock)
        self._changes: dict[str, m.Change] = {}
        self.rules = m.Rules(
            name=source.id, service_field=source.service_field,
            services={k.lower(): v for k, v in source.services.items()},
            known_services=services.services, severity_field=source.severity_field,
            severity=dict(source.severity), automation_users=frozenset(source.automation_users))

    # -- plumbing -----------------------------------------------------------------------------

    def _new_client(self, *, max_attempts: int, required: bool = True) -> ServiceNowClient:
        src = self.source
        return ServiceNowClient(src.base_url, src.token(required=required), user=src.user,
                                oauth=src.auth == "oauth", **self._client_options(
                                    timeout=src.timeout_seconds, max_attempts=max_attempts))

    def client(self) -> ServiceNowClient:
        return self._held(lambda: self._new_client(max_attempts=self.source.max_attempts))

    def scopes(self) -> list[Scope]:
        base = self.source.base_url.rstrip("/")
        return [Scope("incidents", f"{base}/api/now/table/incident")]

    # -- doctor -------------------------------------------------------------------------------

    def check(self) -> list[str]:
        """Problems with this source as sentences saying what to do (docs/servicenow.md)."""
        src = self.source
        if src.token(required=False) is None:
            where = src.token_env or str(src.token_file or "token_env")
            what = "an OAuth access token" if src.auth == "oauth" else \
                f"the password of the user '{src.user}'"
            return [f"source '{src.id}': no ServiceNow credential found in {where}; export "
                    f"{what} as {src.token_env or 'the variable named by token_env'}."]
        problems: list[str] = []
        unknown = sorted({v for v in src.services.values() if v not in self.services.services})
        if self.services.services and unknown:
            problems.append(f"source '{src.id}': services maps to {', '.join(unknown)}, which "
                            "the organisation does not have; fix `services:` or the org file.")
        # one attempt per request: doctor reports a failure rather than waiting out back-offs
        client = self._new_client(max_attempts=1, required=False)
        try:
            client.page("incident", query=src.query, fields=["sys_id"], limit=1)
            if src.change_deployment_field:
                field = src.change_deployment_field
                rows = client.page("change_request", query="",
                                   fields=["sys_id", field], limit=1).items
                if rows and field not in rows[0]:
                    problems.append(f"source '{src.id}': change_request has no field '{field}' "
                                    "(change_deployment_field); check the column name "
                                    "(not its label).")
        except ShipwiseError as exc:
            text = f"source '{src.id}': {exc}" + (f"; {exc.hint}" if exc.hint else "")
            if not isinstance(exc, TerminalError):
                text += " (could not reach it: check base_url and the network)"
            problems.append(text + ".")
        finally:
            client.close()
        if not src.services and not self.services.services:
            problems.append(f"source '{src.id}': no `services:` mapping and no organisation "
                            "services; every incident would be quarantined as an unknown "
                            "service.")
        return problems

    # -- sync ---------------------------------------------------------------------------------

    def sync(self, scope: Scope, cursor: Cursor) -> Iterator[Batch]:
        if scope.key != "incidents":
            raise TerminalError(f"source '{self.name}': no scope '{scope.key}'",
                                hint="the ServiceNow scope is 'incidents'")
        client = self.client()
        state: dict[str, Any] = dict(cursor.state)
        pending: dict[str, str] = {str(k): str(v) for k, v in
                                   dict(state.get("pending") or {}).items()}
        fields = m.fields_wanted(self.rules)
        # 1. incidents waiting for their deployment, once the store has it
        if pending:
            known = self.known_deployments(set(pending.values()))
            ready = sorted(k for k, dep in pending.items() if dep in known)
            for chunk in _chunks(ready):
                rows = []
                for records in client.records("incident", query=f"sys_idIN{','.join(chunk)}",
                                              fields=fields, limit=len(chunk)):
                    rows += self._rows(client, records, pending)
                for sys_id in chunk:
                    pending.pop(sys_id, None)
                state = {**state, "pending": dict(pending)}
                yield self._batch(rows, state)
        # 2. incidents updated since the watermark, oldest first
        mark = Watermark(m.instant(state.get("updated_on")), dict(state.get("seen") or {}),
                         overlap=self.overlap, margin=timedelta(seconds=1), parse=m.instant)
        bound = self._start(mark.updated)
        size = self.source.page_size
        last_state = Cursor(state).to_json()
        while True:
            restart: datetime | None = None
            for records in client.records("incident", query=self._query(bound), fields=fields,
                                          limit=size, overlap=PAGE_OVERLAP):
                # read before (the overlap, or the boundary read again): skipped
                fresh = [x for x in records if mark.fresh(m.text(x.get("sys_id")),
                                                          m.text(x.get("sys_updated_on")))]
                rows = self._rows(client, fresh, pending)
                if mark.updated is not None:
                    state = {**state, "updated_on": m.glide(mark.updated)}
                state = {**state, "seen": mark.kept(), "pending": dict(pending)}
                batch = self._batch(rows, state)
                if rows or batch.cursor.to_json() != last_state:
                    last_state = batch.cursor.to_json()
                    yield batch
                last = max((t for t in (m.instant(x.get("sys_updated_on")) for x in records)
                            if t is not None), default=None)
                if len(records) >= size and last is not None and (bound is None or last > bound):
                    restart = last  # re-read from the last instant: keyset, not offset
                    break
            if restart is None:
                return
            bound = restart

    def _start(self, watermark: datetime | None) -> datetime | None:
        if watermark is not None:
            return watermark - self.overlap
        if self.source.since is not None:
            return datetime.combine(self.source.since, datetime.min.time(), UTC)
        return self._clock() - timedelta(days=self.source.first_days)

    def _query(self, bound: datetime | None) -> str:
        parts = [self.source.query] if self.source.query else []
        if bound is not None:
            parts.append(f"sys_updated_on>={m.glide(bound)}")
        parts += ["ORDERBYsys_updated_on", "ORDERBYsys_id"]
        return "^".join(parts)

    def _rows(self, client: ServiceNowClient, records: list[dict[str, Any]],
              pending: dict[str, str]) -> list[dict[str, Any]]:
        """Map ``records``; note in ``pending`` those whose deployment the store lacks."""
        if not records:
            return []
        self._read_changes(client, (m.text(x.get("caused_by")) for x in records))
        wanted = {d for d in (self._change(x).deployment for x in records) if d}
        known = self.known_deployments(wanted) if wanted else set()
        rows = []
        for x in records:
            row = m.incident_row(x, self.rules, self._changes, known)
            deployment, sys_id = self._change(x).deployment, m.text(x.get("sys_id"))
            if deployment and row["caused_by"] is None:
                pending.pop(sys_id, None)
                pending[sys_id] = deployment
                if len(pending) > PENDING_MAX:
                    del pending[next(iter(pending))]
            else:
                pending.pop(sys_id, None)
            rows.append(row)
        return rows

    def _change(self, x: Mapping[str, Any]) -> m.Change:
        return self._changes.get(m.text(x.get("caused_by"))) or m.Change("")

    def _read_changes(self, client: ServiceNowClient, ids: Iterable[str]) -> None:
        missing = sorted({i for i in ids if i and i not in self._changes})
        field = self.source.change_deployment_field
        fields = ["sys_id", "number", *([field] if field else [])]
        for chunk in _chunks(missing):
            for records in client.records("change_request", query=f"sys_idIN{','.join(chunk)}",
                                          fields=fields, limit=len(chunk)):
                for c in records:
                    deployment = m.text(c.get(field)) if field else ""
                    self._changes[m.text(c.get("sys_id"))] = m.Change(
                        m.text(c.get("number")) or m.text(c.get("sys_id")), deployment or None)
            for sys_id in chunk:  # a change deleted or hidden by an ACL: known to have none
                self._changes.setdefault(sys_id, m.Change(sys_id))

    @staticmethod
    def _batch(rows: list[dict[str, Any]], state: Mapping[str, Any]) -> Batch:
        return Batch({"incident": m.table(rows)} if rows else {}, Cursor(dict(state)))
