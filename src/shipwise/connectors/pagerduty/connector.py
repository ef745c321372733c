"""The PagerDuty connector: incidents and the pages (notifications) to people, read
incrementally over REST API v2 (see ``docs/pagerduty.md``).

Two scopes, each with its own cursor:

* ``incidents`` — incidents created in each window from the cursor's ``created_until`` (minus
  ``overlap``) to now, in windows of ``INCIDENT_WINDOW`` oldest first, one batch per page. The
  incidents still open are kept in the cursor and read again, one by one, at the start of every
  sync, so an incident resolved later gets its ``resolved_at`` (PagerDuty filters ``/incidents``
  by creation time only).
* ``pages`` — ``notify_log_entry`` log entries (PagerDuty notified a person: push, SMS, phone,
  e-mail) in windows of ``PAGE_WINDOW`` from the cursor's ``until``; each is one canonical
  ``page`` of the team that the incident's PagerDuty service maps to, to the person notified
  (their e-mail from ``/users``, pseudonymised by the importer like every person).

* ``oncalls`` — with a ``schedules:`` mapping, the on-call rota: the first-level ``/oncalls``
  entries of the mapped schedules, each one canonical ``oncall_shift`` of the schedule's team
  (:mod:`.oncall` explains how shifts PagerDuty clips to the query range are kept whole).

A window's cursor moves only once the whole window is committed, so a sync killed inside one
reads it again (the importer's upserts make that harmless). A record whose PagerDuty service no
setting maps is emitted with the PagerDuty service's name as its service or team: the importer
quarantines it with the reason (``unknown service``), and once the mapping exists the next full
read (``shipwise sync`` after resetting the scope's cursor) brings it in.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shipwise.config import PagerDutySource
from shipwise.connectors.base import Batch, Cursor, Scope
from shipwise.connectors.http import ClientHolder
from shipwise.connectors.incidents import Routing, batch, cached, instant, page_row, start_from
from shipwise.connectors.pagerduty import oncall
from shipwise.connectors.pagerduty.client import PagerDutyClient, iso
from shipwise.domain.services import ServiceMap
from shipwise.errors import ShipwiseError, TerminalError

#: Incidents are read in windows this long (PagerDuty caps a range at 6 months).
INCIDENT_WINDOW = timedelta(days=30)
#: Log entries are read in windows this long.
PAGE_WINDOW = timedelta(days=7)
#: Open incidents re-read per request batch.
OPEN_BATCH = 100


def _now() -> datetime:
    return datetime.now(UTC)


def _ref(obj: Any) -> tuple[str, str]:
    """(id, summary) of a PagerDuty reference object."""
    if not isinstance(obj, Mapping):
        return "", ""
    return str(obj.get("id") or ""), str(obj.get("summary") or obj.get("name") or "")


def _by_user(obj: Any) -> bool:
    return isinstance(obj, Mapping) and str(obj.get("type", "")).startswith("user")


class PagerDutyConnector(ClientHolder[PagerDutyClient]):
    """The :class:`~shipwise.connectors.base.Connector` of one ``kind: pagerduty`` source. A
    page goes to the team ``teams`` names for its PagerDuty service, else to the team that owns
    the shipwise service it maps to (``services.owner``)."""

    kind = "pagerduty"

    def __init__(self, source: PagerDutySource, services: ServiceMap, *,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], datetime] = _now,
                 overlap: timedelta = timedelta(minutes=10)) -> None:
        self.source = source
        self.services = services
        self.name = source.id
        self._hold(transport, sleep, clock)
        self.overlap = overlap
        self.routing = Routing(source.services, source.teams, services)
        self._email = cached(self._emails)
        self._severity = {k.lower(): v for k, v in source.severity.items()}
        self._urgency = {k.lower(): v for k, v in source.urgency_severity.items()}
        self._schedule_map = {k.lower(): v for k, v in source.schedules.items()}

    # -- plumbing -----------------------------------------------------------------------------

    def client(self, *, token_required: bool = True, max_attempts: int | None = None
               ) -> PagerDutyClient:
        src = self.source
        return self._held(lambda: PagerDutyClient(
            src.base_url, src.token(required=token_required), **self._client_options(
                timeout=src.timeout_seconds, max_attempts=max_attempts or src.max_attempts)),
            fresh=max_attempts is not None)

    def scopes(self) -> list[Scope]:
        base = self.source.base_url.rstrip("/")
        scopes = [Scope("incidents", f"{base}/incidents"), Scope("pages", f"{base}/log_entries")]
        if self.source.schedules:
            scopes.append(Scope("oncalls", f"{base}/oncalls"))
        return scopes

    # -- doctor -------------------------------------------------------------------------------

    def check(self) -> list[str]:
        """Problems with this source as sentences saying what to do (docs/pagerduty.md)."""
        src = self.source
        problems: list[str] = []
        if src.token(required=False) is None:
            where = src.token_env or str(src.token_file or "token_env")
            return [f"source '{src.id}': no PagerDuty API key found in {where}; create a "
                    "read-only REST API key (Integrations → API Access Keys) and export it as "
                    f"{src.token_env or 'the variable named by token_env'}."]
        unknown = sorted({v for v in src.services.values() if v not in self.services.services})
        if self.services.services and unknown:
            problems.append(f"source '{src.id}': services maps to {', '.join(unknown)}, which "
                            "the organisation does not have; fix `services:` or the org file.")
        unknown_teams = sorted({v for v in src.schedules.values() if v not in self.services.teams})
        if self.services.teams and unknown_teams:
            problems.append(f"source '{src.id}': schedules maps to {', '.join(unknown_teams)}, "
                            "which the organisation does not have as teams; fix `schedules:` "
                            "or the org file.")
        client = self.client(max_attempts=1)
        try:
            seen = {x for page in client.pages("services", "services") for x in
                    (str(s.get("id", "")).lower() for s in page) if x}
            names = {x for page in client.pages("services", "services") for x in
                     (str(s.get("name", "")).lower() for s in page) if x}
            schedules = self._schedules(client) if src.schedules else {}
        except ShipwiseError as exc:
            problems.append(f"source '{src.id}': {exc}" + (f" ({exc.hint})" if exc.hint else ""))
            return problems
        finally:
            client.close()
        missing = sorted(k for k in src.services if k.lower() not in seen | names)
        if missing:
            problems.append(f"source '{src.id}': PagerDuty has no service {', '.join(missing)} "
                            "(ids or names in `services:`); check the spelling.")
        if src.schedules:
            known = {k.lower() for sid, name in schedules.items() for k in (sid, name)}
            absent = sorted(k for k in src.schedules if k.lower() not in known)
            if absent:
                problems.append(f"source '{src.id}': PagerDuty has no schedule "
                                f"{', '.join(absent)} (ids or names in `schedules:`); check the "
                                "spelling.")
            unmapped = sorted(f"{name} ({sid})" for sid, name in schedules.items()
                              if self._schedule_team(sid, name) is None)
            if unmapped:
                problems.append(f"source '{src.id}': PagerDuty schedule(s) {', '.join(unmapped)} "
                                "map to no team, so their on-call shifts are not read; add them "
                                "to `schedules:` if they are a team's rota.")
        if not src.services:
            problems.append(f"source '{src.id}': no `services:` mapping; every incident will be "
                            "quarantined as an unknown service until PagerDuty services are "
                            "mapped to shipwise services.")
        return problems

    # -- mapping ------------------------------------------------------------------------------

    def _service(self, pd_service: Any) -> tuple[str, str | None]:
        """(the PagerDuty service's name, its shipwise service or None)."""
        sid, name = _ref(pd_service)
        return name or sid, self.routing.service([sid, name])

    def _team(self, pd_service: Any) -> str:
        sid, name = _ref(pd_service)
        shown, mapped = self._service(pd_service)
        return self.routing.team([sid, name], mapped) or shown

    def _schedule_team(self, sid: str, name: str) -> str | None:
        return self._schedule_map.get(sid.lower()) or self._schedule_map.get(name.lower())

    @staticmethod
    def _schedules(client: PagerDutyClient) -> dict[str, str]:
        """PagerDuty's schedules: id -> name."""
        return {str(s["id"]): str(s.get("name") or s.get("summary") or "")
                for page in client.pages("schedules", "schedules") for s in page if s.get("id")}

    def incident_row(self, x: Mapping[str, Any]) -> dict[str, Any] | None:
        opened = instant(x.get("created_at"))
        if opened is None or not x.get("id"):
            return None
        shown, mapped = self._service(x.get("service"))
        _, priority = _ref(x.get("priority"))
        urgency = str(x.get("urgency") or "high").lower()
        severity = (self._severity.get(priority.lower()) if priority else None) or \
            self._urgency.get(urgency) or "sev3"
        resolved = None
        if str(x.get("status")) == "resolved":
            resolved = instant(x.get("resolved_at")) or instant(x.get("last_status_change_at"))
        acks = x.get("acknowledgements") or []
        human = any(_by_user(a.get("acknowledger")) for a in acks if isinstance(a, Mapping)) or (
            resolved is not None and _by_user(x.get("last_status_change_by")))
        return {"id": f"{self.name}:{x['id']}", "service": mapped or shown, "severity": severity,
                "opened_at": opened, "resolved_at": resolved, "human_actioned": human}

    def page_row(self, e: Mapping[str, Any], incidents: Mapping[str, Mapping[str, Any]]
                 ) -> dict[str, Any] | None:
        at = instant(e.get("created_at"))
        uid, _ = _ref(e.get("user"))
        if at is None or not uid or not e.get("id"):
            return None
        raw = e.get("incident")
        inc: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        iid = str(inc.get("id") or "")
        full: Mapping[str, Any] = incidents.get(iid) or inc
        pd_service = full.get("service") or e.get("service")
        urgency = str(full.get("urgency") or "high").lower()
        return page_row(self.name, str(e["id"]), team=self._team(pd_service),
                        person=self._email(uid) or f"pagerduty:{uid}", at=at, urgency=urgency)

    def _emails(self) -> dict[str, str]:
        return {str(u.get("id")): str(u.get("email"))
                for page in self.client().pages("users", "users") for u in page
                if u.get("id") and u.get("email")}

    # -- sync ---------------------------------------------------------------------------------

    def _start(self, cursor: Cursor, key: str) -> datetime:
        return start_from(cursor, key, since=self.source.since, first_days=self.source.first_days,
                          now=self._clock(), overlap=self.overlap)

    def sync(self, scope: Scope, cursor: Cursor) -> Iterator[Batch]:
        if scope.key == "incidents":
            yield from self._incidents(cursor)
        elif scope.key == "pages":
            yield from self._pages(cursor)
        elif scope.key == "oncalls" and self.source.schedules:
            yield from self._oncalls(cursor)
        else:
            raise TerminalError(f"source '{self.name}': no scope '{scope.key}'",
                                hint="PagerDuty scopes are 'incidents', 'pages' and (with "
                                     "`schedules:`) 'oncalls'")

    def _incidents(self, cursor: Cursor) -> Iterator[Batch]:
        client = self.client()
        state: dict[str, Any] = dict(cursor.state)
        # 1. the incidents open at the last sync, read again (the cursor after each chunk: the
        #    ones still open so far, then those not read yet)
        was_open = [str(i) for i in state.get("open") or []]
        kept: list[str] = []
        for k in range(0, len(was_open), OPEN_BATCH):
            rows = []
            for iid in was_open[k:k + OPEN_BATCH]:
                body = client.get(f"incidents/{iid}", ok=(404,)).json
                x = body.get("incident") if isinstance(body, dict) else None
                row = self.incident_row(x) if isinstance(x, dict) else None
                if row is None:
                    continue  # deleted (404): nothing to update
                rows.append(row)
                if row["resolved_at"] is None:
                    kept.append(iid)
            state = {**state, "open": kept + was_open[k + OPEN_BATCH:]}
            yield self._batch("incident", rows, state)
        # 2. incidents created since the last window read; a window's start moves once it is
        #    all committed
        start, now = self._start(cursor, "created_until"), self._clock()
        opened = list(state.get("open") or [])
        while start < now:
            end = min(start + INCIDENT_WINDOW, now)
            for page in client.window("incidents", "incidents", start, end,
                                      {"sort_by": "created_at:asc"}):
                rows = []
                for x in page:
                    row = self.incident_row(x)
                    if row is None:
                        continue
                    rows.append(row)
                    if row["resolved_at"] is None and str(x["id"]) not in opened:
                        opened.append(str(x["id"]))
                yield self._batch("incident", rows, {**state, "open": list(opened)})
            state = {**state, "open": list(opened), "created_until": iso(end)}
            yield self._batch("incident", [], state)
            start = end

    def _pages(self, cursor: Cursor) -> Iterator[Batch]:
        client = self.client()
        state: dict[str, Any] = dict(cursor.state)
        start, now = self._start(cursor, "until"), self._clock()
        while start < now:
            end = min(start + PAGE_WINDOW, now)
            for page in client.window("log_entries", "log_entries", start, end,
                                      {"is_overview": "false", "include[]": "incidents"}):
                notified = [e for e in page if e.get("type") == "notify_log_entry"]
                incidents = {str(e["incident"]["id"]): e["incident"] for e in notified
                             if isinstance(e.get("incident"), Mapping)
                             and e["incident"].get("id")}
                rows = [r for r in (self.page_row(e, incidents) for e in notified)
                        if r is not None]
                yield self._batch("page", rows, state)
            state = {**state, "until": iso(end)}
            yield self._batch("page", [], state)
            start = end

    def _oncalls(self, cursor: Cursor) -> Iterator[Batch]:
        """The rota of the mapped schedules from the cursor's ``until`` minus the overlap (whole
        days; never before ``from``, the first instant ever read) to now plus the horizon."""
        client = self.client()
        src = self.source
        now = self._clock()
        first = oncall.day_floor(instant(cursor.state.get("from")) or self._start(Cursor(), ""))
        mark = instant(cursor.state.get("until"))
        since = first if mark is None else max(
            first, oncall.day_floor(mark - timedelta(days=src.oncall_overlap_days)))
        teams = {sid: team for sid, name in self._schedules(client).items()
                 if (team := self._schedule_team(sid, name)) is not None}
        state: dict[str, Any] = {**cursor.state, "from": iso(first)}
        if not teams:
            yield self._batch("oncall_shift", [], {**state, "until": iso(mark or since)})
            return
        reader = oncall.ShiftReader(client, sorted(teams), since=since,
                                    until=now + timedelta(days=src.oncall_horizon_days), now=now,
                                    first_ever=first)
        for entries, until in reader.read():
            rows = {}
            for e in entries:
                row = oncall.shift_row(self.name, e, teams[e.schedule], self._email)
                rows[row["id"]] = row  # a schedule on two escalation policies: one shift
            state = {**state, "until": iso(until)}
            yield self._batch("oncall_shift", list(rows.values()), state)

    @staticmethod
    def _batch(kind: str, rows: Sequence[Mapping[str, Any]], state: Mapping[str, Any]) -> Batch:
        return batch({kind: rows}, state)
