"""The Jira connector: one scope per configured JQL query, read incrementally by ``updated``
(see ``docs/jira.md``).

A sync of one query:

1. ``GET /myself`` once per connector: JQL reads dates in the user's time zone, so the
   watermark is written in it;
2. for ticket queries, ``GET /status`` once per connector: a changelog names past statuses but
   not their categories;
3. ``(JQL) AND updated >= "<watermark - overlap>" ORDER BY updated ASC, key ASC`` with
   ``expand=changelog`` — Cloud: ``/rest/api/3/search/jql`` by ``nextPageToken``; Data Center:
   ``/rest/api/2/search`` by ``startAt`` — one batch per page. An issue whose embedded changelog
   is truncated has it read whole.

The cursor keeps ``updated`` (the newest ``updated`` read, UTC) and ``seen`` (issue key →
``updated`` of the issues inside the overlap), so the overlap JQL's minute resolution needs does
not import an unchanged issue twice; a page's cursor is valid once it is committed (issues come
oldest-updated first).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from shipwise.config import JiraQuery, JiraSource
from shipwise.connectors.base import Batch, Cursor, Scope
from shipwise.connectors.http import ClientHolder
from shipwise.connectors.jira import mapping as m
from shipwise.connectors.jira.client import PAGE_SIZE, JiraClient
from shipwise.connectors.paging import Watermark
from shipwise.domain.services import ServiceMap
from shipwise.errors import ConfigError, ShipwiseError, TerminalError

#: Read again this far before the watermark: JQL has minute resolution and Jira's search index
#: lags its writes by a few seconds.
OVERLAP = timedelta(minutes=5)


def _now() -> datetime:
    return datetime.now(UTC)


class JiraConnector(ClientHolder[JiraClient]):
    """The :class:`~shipwise.connectors.base.Connector` of one ``kind: jira`` source."""

    kind = "jira"

    def __init__(self, source: JiraSource, services: ServiceMap, *,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], datetime] = _now, overlap: timedelta = OVERLAP,
                 page_size: int = PAGE_SIZE,
                 deployments: Callable[[Collection[str]], set[str]] | None = None) -> None:
        self.source = source
        #: which of some deployment ids the store has (None: trust the cause field)
        self.known_deployments = deployments
        self.services = services
        self.name = source.id
        self.overlap = overlap
        self.page_size = page_size
        self._hold(transport, sleep, clock)
        self._zone: tzinfo | None = None
        self._index: dict[str, str] | None = None

    # -- plumbing -----------------------------------------------------------------------------

    def _new_client(self, *, max_attempts: int, required: bool = True) -> JiraClient:
        src = self.source
        return JiraClient(src.base_url, src.token(required=required), cloud=src.cloud,
                          email=src.email, **self._client_options(
                              timeout=src.timeout_seconds, max_attempts=max_attempts))

    def client(self) -> JiraClient:
        if self._client is None and self.source.cloud and not self.source.email:
            raise ConfigError(f"source '{self.source.id}': Jira Cloud needs `email:`",
                              hint="set `email:` to the account the API token belongs to")
        return self._held(lambda: self._new_client(max_attempts=self.source.max_attempts))

    def scopes(self) -> list[Scope]:
        base = self.source.base_url.rstrip("/")
        return [Scope(q.name, f"{base} ({q.as_}: {q.jql})") for q in self.source.queries]

    def query(self, name: str) -> JiraQuery:
        for q in self.source.queries:
            if q.name == name:
                return q
        raise ConfigError(f"source '{self.source.id}' has no query named {name!r}",
                          hint="add it to `queries:` of the source in shipwise.yaml")

    # -- doctor -------------------------------------------------------------------------------

    def check(self) -> list[str]:
        """Problems with this source as sentences saying what to do (see ``docs/jira.md``)."""
        src = self.source
        problems: list[str] = []
        if not src.queries:
            problems.append(f"source '{src.id}': no queries listed; add `queries: [{{name: work, "
                            "jql: 'project = PAY', as: tickets}]` to the source in shipwise.yaml.")
        if src.cloud and not src.email:
            problems.append(f"source '{src.id}': Jira Cloud authenticates with the account's "
                            "email and an API token; set `email:` on the source.")
        if src.token(required=False) is None:
            where = src.token_env or str(src.token_file or "token_env")
            what = ("an API token (id.atlassian.com → Security → API tokens)" if src.cloud else
                    "a personal access token (Profile → Personal Access Tokens)")
            return [*problems, f"source '{src.id}': no Jira token found in {where}; create "
                    f"{what} and export it as {src.token_env or 'the variable named by token_env'}."]
        if problems:
            return problems
        problems += self._check_services()
        # one attempt per request: doctor reports a failure rather than waiting out back-offs
        client = self._new_client(max_attempts=1, required=False)
        try:
            return problems + self._check_with(client)
        finally:
            client.close()

    def _check_services(self) -> list[str]:
        src, known = self.source, self.services.services
        if not known:
            return []
        out = []
        for q in src.queries:
            if q.as_ != "incidents":
                continue
            fm = q.service or src.service
            for name in sorted({*fm.map.values(), *([fm.default] if fm.default else [])} - known):
                out.append(f"source '{src.id}': query '{q.name}' maps incidents to service "
                           f"'{name}', which the organisation file does not define; add it or "
                           "fix `service:` (its incidents would be quarantined as 'unknown "
                           "service').")
        return out

    def _check_with(self, client: JiraClient) -> list[str]:
        src = self.source
        try:
            client.myself()
            statuses = client.statuses()
        except ShipwiseError as exc:
            return [_sentence(src, exc)]
        problems: list[str] = []
        names = {str(s.get("name") or "").lower() for s in statuses}
        cfg = src.statuses
        for setting, listed in (("statuses.blocked", cfg.blocked),
                                ("statuses.categories", list(cfg.categories)),
                                ("statuses.blocked_on", list(cfg.blocked_on))):
            for name in listed:
                if name.lower() not in names:
                    problems.append(f"source '{src.id}': {setting} names the status '{name}', "
                                    "which this Jira does not have; fix the spelling (names "
                                    "compare without case).")
        for q in src.queries:
            try:
                client.count(q.jql)
            except ShipwiseError as exc:
                problems.append(_sentence(src, exc, q.name))
        return problems

    # -- sync ---------------------------------------------------------------------------------

    def sync(self, scope: Scope, cursor: Cursor) -> Iterator[Batch]:
        q = self.query(scope.key)
        client = self.client()
        zone = self._user_zone(client)
        index = self._statuses(client) if q.as_ == "tickets" else {}
        state: dict[str, Any] = dict(cursor.state)
        mark = Watermark(m.instant(state.get("updated")), dict(state.get("seen") or {}),
                         overlap=self.overlap, margin=timedelta(minutes=1), parse=m.instant)
        watermark = mark.updated
        jql = f"({q.jql})"
        if watermark is not None:
            jql += f" AND {m.lower_bound(watermark, self.overlap, zone)}"
        elif self.source.since is not None:
            start = datetime.combine(self.source.since, datetime.min.time(), zone)
            jql += f" AND updated >= {m.jql_date(start, zone)}"
        jql += " ORDER BY updated ASC, key ASC"
        src = self.source
        team, service = q.team or src.team, q.service or src.service
        fields = m.fields_wanted(team if q.as_ == "tickets" else service,
                                 extra=(src.caused_by_field,) if q.as_ == "incidents" else ())
        last = cursor.to_json()
        for issues in client.search(jql, fields, page_size=self.page_size):
            rows: list[dict[str, Any]] = []
            for issue in issues:
                key = str(issue.get("key"))
                updated = (issue.get("fields") or {}).get("updated")
                if not mark.fresh(key, updated):
                    continue  # read before (the overlap, or a page read twice)
                if q.as_ == "tickets":
                    rows += m.ticket_rows(issue, self._histories(client, issue),
                                          m.resolve(issue, team), src.statuses, index)
                else:
                    rows.append(m.incident_row(issue, m.resolve(issue, service), src.severity,
                                               src.caused_by_field, src.caused_by_link,
                                               f"jira:{src.id}"))
            if q.as_ == "incidents" and self.known_deployments is not None:
                m.unknown_causes_as_labels(rows, self.known_deployments)
            if mark.updated is not None:
                state["updated"] = m.iso(mark.updated)
            state["seen"] = mark.kept()
            batch = Batch({_kind(q): m.table(_kind(q), rows)} if rows else {}, Cursor(state))
            if rows or batch.cursor.to_json() != last:
                last = batch.cursor.to_json()
                yield batch

    def _user_zone(self, client: JiraClient) -> tzinfo:
        if self._zone is None:
            name = client.myself().get("timeZone")
            try:
                self._zone = ZoneInfo(str(name)) if name else UTC
            except (ZoneInfoNotFoundError, ValueError):
                self._zone = UTC
        return self._zone

    def _statuses(self, client: JiraClient) -> dict[str, str]:
        if self._index is None:
            self._index = m.status_index(client.statuses())
        return self._index

    @staticmethod
    def _histories(client: JiraClient, issue: Mapping[str, Any]) -> list[dict[str, Any]]:
        log = issue.get("changelog") or {}
        histories = [h for h in log.get("histories") or [] if isinstance(h, dict)]
        total = log.get("total")
        if isinstance(total, int) and total > len(histories):
            return client.changelog(str(issue.get("key")))
        return histories


def _kind(q: JiraQuery) -> str:
    return "ticket_status" if q.as_ == "tickets" else "incident"


def _sentence(source: JiraSource, exc: ShipwiseError, query: str | None = None) -> str:
    what = f"query '{query}'" if query else f"Jira at {source.base_url}"
    text = f"source '{source.id}': {what}: {exc}"
    if exc.hint:
        text += f"; {exc.hint}"
    if not isinstance(exc, TerminalError):
        text += " (could not reach it: check base_url and the network)"
    return text + "."
