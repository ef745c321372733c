"""The Opsgenie connector: alerts as incidents, their recipients' notifications as pages, and
on-call schedules as on-call shifts, read incrementally (see ``docs/opsgenie.md``).

Two scopes, each with its own cursor:

* ``alerts`` — alerts *updated* in each window from the cursor's ``until`` (minus ``overlap``)
  to now, in windows of ``ALERT_WINDOW`` oldest first, one batch per page of 100 with the
  alerts' ``incident`` records and the ``page`` s of their recipients (one request per alert).
  An alert acknowledged or closed after a sync is updated then, so the next sync reads it again
  and its incident gets its ``resolved_at``: open alerts are re-read until they are closed,
  without re-reading every open alert on every sync.
* ``oncall`` (only when ``schedules:`` names some) — each schedule's final timeline, in windows
  of ``SHIFT_STEP`` that reach ``shift_days`` back, so a shift cut by one window's start is read
  whole by the one before; a shift still under way is read by the next sync, once it is over.
  Shift ids are the schedule, rotation and start instant, so a shift read twice is one record.

A window's cursor moves only once the whole window is committed, so a sync killed inside one
reads it again (the importer's upserts make that harmless).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shipwise.config import OpsgenieSource
from shipwise.connectors.base import Batch, Cursor, Scope
from shipwise.connectors.http import ClientHolder
from shipwise.connectors.incidents import Routing, batch, instant, iso, start_from
from shipwise.connectors.opsgenie.client import OpsgenieClient
from shipwise.connectors.opsgenie.mapping import Rules, incident_row, page_rows, shift_rows
from shipwise.connectors.paging import objects
from shipwise.domain.services import ServiceMap
from shipwise.errors import NotFoundError, ShipwiseError, TerminalError

#: Alerts are read in windows this long.
ALERT_WINDOW = timedelta(days=30)
#: Schedule timelines are read in steps this long (each reaching ``shift_days`` further back).
SHIFT_STEP = timedelta(days=28)


def _now() -> datetime:
    return datetime.now(UTC)


class OpsgenieConnector(ClientHolder[OpsgenieClient]):
    """The :class:`~shipwise.connectors.base.Connector` of one ``kind: opsgenie`` source."""

    kind = "opsgenie"

    def __init__(self, source: OpsgenieSource, services: ServiceMap, *,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], datetime] = _now,
                 overlap: timedelta = timedelta(minutes=10)) -> None:
        self.source = source
        self.services = services
        self.name = source.id
        self._hold(transport, sleep, clock)
        self.overlap = overlap
        self.rules = Rules.of(source.id, Routing(source.services, source.teams, services),
                              source.severity, source.high_urgency)
        self._teams: dict[str, str] | None = None
        self._users: set[str] | None = None

    # -- plumbing -------------------------------------------------------------------------------

    def client(self, *, max_attempts: int | None = None) -> OpsgenieClient:
        src = self.source
        return self._held(lambda: OpsgenieClient(src.base_url, src.token(), **self._client_options(
            timeout=src.timeout_seconds, max_attempts=max_attempts or src.max_attempts)),
            fresh=max_attempts is not None)

    def scopes(self) -> list[Scope]:
        base = self.source.base_url.rstrip("/")
        scopes = [Scope("alerts", f"{base}/v2/alerts")]
        if self.source.schedules:
            scopes.append(Scope("oncall", f"{base}/v2/schedules"))
        return scopes

    def team_names(self) -> dict[str, str]:
        """Opsgenie team id -> name (``GET /v2/teams``, once)."""
        if self._teams is None:
            data = self.client().data("v2/teams")
            self._teams = {str(t["id"]): str(t.get("name") or "") for t in objects(data)
                           if t.get("id")}
        return self._teams

    def usernames(self) -> set[str]:
        """The account's users (``GET /v2/users``, once): who acknowledges as a person."""
        if self._users is None:
            self._users = {str(u["username"]) for page in self.client().pages("v2/users")
                           for u in page if u.get("username")}
        return self._users

    def schedules(self, client: OpsgenieClient | None = None) -> dict[str, tuple[str, str]]:
        """Each ``schedules:`` key found in Opsgenie -> (schedule id, schedule name)."""
        listed = objects((client or self.client()).data("v2/schedules"))
        found: dict[str, tuple[str, str]] = {}
        for key in self.source.schedules:
            for s in listed:
                if key.lower() in (str(s.get("id", "")).lower(), str(s.get("name", "")).lower()):
                    found[key] = (str(s["id"]), str(s.get("name") or s["id"]))
        return found

    # -- doctor ---------------------------------------------------------------------------------

    def check(self) -> list[str]:
        """Problems with this source as sentences saying what to do (docs/opsgenie.md)."""
        src = self.source
        if src.token(required=False) is None:
            where = src.token_env or str(src.token_file or "token_env")
            return [f"source '{src.id}': no Opsgenie API key found in {where}; create an API "
                    "integration with read access (Settings → Integrations → API) and export "
                    f"its key as {src.token_env or 'the variable named by token_env'}."]
        problems: list[str] = []
        if self.services.services:
            unknown = sorted({v for v in src.services.values()
                              if v not in self.services.services})
            if unknown:
                problems.append(f"source '{src.id}': services maps to {', '.join(unknown)}, "
                                "which the organisation does not have; fix `services:` or the "
                                "org file.")
        client = self.client(max_attempts=1)
        try:
            teams = objects(client.data("v2/teams"))
            schedules = self.schedules(client) if src.schedules else {}
        except ShipwiseError as exc:
            problems.append(f"source '{src.id}': {exc}" + (f" ({exc.hint})" if exc.hint else ""))
            return problems
        finally:
            client.close()
        known = {str(t.get(k, "")).lower() for t in teams for k in ("id", "name")}
        missing = sorted(k for k in src.teams if k.lower() not in known)
        if missing:
            problems.append(f"source '{src.id}': Opsgenie has no team {', '.join(missing)} "
                            "(ids or names in `teams:`); check the spelling.")
        absent = sorted(k for k in src.schedules if k not in schedules)
        if absent:
            problems.append(f"source '{src.id}': Opsgenie has no schedule {', '.join(absent)} "
                            "(ids or names in `schedules:`); check the spelling.")
        if not src.services:
            problems.append(f"source '{src.id}': no `services:` mapping; every alert will be "
                            "quarantined as an unknown service until alert tags or Opsgenie "
                            "teams are mapped to shipwise services.")
        return problems

    # -- sync -----------------------------------------------------------------------------------

    def _start(self, cursor: Cursor, key: str) -> datetime:
        return start_from(cursor, key, since=self.source.since, first_days=self.source.first_days,
                          now=self._clock(), overlap=self.overlap)

    def sync(self, scope: Scope, cursor: Cursor) -> Iterator[Batch]:
        if scope.key == "alerts":
            yield from self._alerts(cursor)
        elif scope.key == "oncall":
            yield from self._oncall(cursor)
        else:
            raise TerminalError(f"source '{self.name}': no scope '{scope.key}'",
                                hint="Opsgenie scopes are 'alerts' and 'oncall'")

    def _alerts(self, cursor: Cursor) -> Iterator[Batch]:
        client = self.client()
        state: dict[str, Any] = dict(cursor.state)
        start, now = self._start(cursor, "until"), self._clock()
        while start < now:
            end = min(start + ALERT_WINDOW, now)
            for page in client.alerts(start, end):
                yield batch(self._alert_records(client, page), state)
            state = {**state, "until": iso(end)}
            yield batch({}, state)
            start = end

    def _alert_records(self, client: OpsgenieClient, alerts: list[dict[str, Any]]
                       ) -> dict[str, list[dict[str, Any]]]:
        teams, users = self.team_names(), self.usernames()
        incidents = [incident_row(a, self.rules, teams, users) for a in alerts]
        pages: list[dict[str, Any]] = []
        for a in alerts:
            if not a.get("id"):
                continue  # its incident is quarantined (missing id); no recipients to ask for
            recipients = client.data(f"v2/alerts/{a['id']}/recipients", {"identifierType": "id"})
            pages.extend(page_rows(a, objects(recipients), self.rules, teams))
        return {"incident": incidents, "page": pages}

    def _oncall(self, cursor: Cursor) -> Iterator[Batch]:
        client = self.client()
        found = self.schedules()
        absent = sorted(k for k in self.source.schedules if k not in found)
        if absent:
            raise NotFoundError(f"source '{self.name}': Opsgenie has no schedule "
                                f"{', '.join(absent)}", hint="fix `schedules:` in shipwise.yaml "
                                                             "(ids or names)")
        marks = cursor.state.get("until")
        until: dict[str, Any] = dict(marks) if isinstance(marks, Mapping) else {}
        reach = timedelta(days=self.source.shift_days)
        for key, (sid, name) in sorted(found.items()):
            team = self.source.schedules[key]
            mark = instant(until.get(sid))
            first = mark is None
            a = (mark - self.overlap) if mark is not None else \
                self._start(Cursor(), "until")
            floor, now = a, self._clock()
            seen: set[str] = set()
            while a < now:
                b = min(a + SHIFT_STEP, now)
                date = a - reach
                # one day more than needed: a period Opsgenie cuts at the end it serves is never taken whole
                days = math.ceil((b - date).total_seconds() / 86400) + 1
                data = client.data(f"v2/schedules/{sid}/timeline", {
                    "identifierType": "id", "intervalUnit": "days", "interval": days,
                    "date": date.strftime("%Y-%m-%dT%H:%M:%S.000Z")})
                served_end = date + timedelta(days=days)
                rows = [r for r in shift_rows(data if isinstance(data, Mapping) else {},
                                              source=self.name, schedule_id=sid,
                                              schedule=name, team=team,
                                              window=(date, min(b, served_end)))
                        if r["id"] not in seen and (not first or r["starts_at"] >= floor)]
                seen.update(r["id"] for r in rows)
                until = {**until, sid: iso(b)}
                yield batch({"oncall_shift": rows}, {**cursor.state, "until": until})
                a = b
