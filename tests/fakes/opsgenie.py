"""A fake Opsgenie: a real HTTP server on 127.0.0.1 serving a deterministic world in the shapes of
Opsgenie's REST API (its API reference and OpenAPI document), for the Opsgenie connector's tests.

::

    world = generate_world(seed=1, alerts=40)
    with FakeOpsgenie(world) as og:          # og.url is http://127.0.0.1:PORT
        ... OpsgenieSource(base_url=og.url, token_env=...) ...
        og.fail(r"^/v2/alerts$", status=429, headers={"Retry-After": "3"})

What it serves: ``/v2/teams``, ``/v2/users`` (paged), ``/v2/alerts`` (``query`` with
``updatedAt``/``createdAt`` comparisons in epoch milliseconds joined by ``AND``, ``sort``,
``order``, ``offset``, ``limit`` ≤ 100, ``paging.next``; 422 when ``offset + limit`` passes
20,000, like Opsgenie), ``/v2/alerts/count``, ``/v2/alerts/{id}/recipients``,
``/v2/schedules`` and ``/v2/schedules/{id}/timeline`` (``date``, ``interval``,
``intervalUnit``; periods cut at the window's edges, as Opsgenie does). Every answer carries
``took`` and ``requestId``. Auth is ``Authorization: GenieKey …``.
"""

from __future__ import annotations

import bisect
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlencode

from tests.fakes.server import FakeServer

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
TOKEN = "eb243592-faa2-4ba2-a551-1afdf565c889"
MAX_OFFSET = 20_000
INTEGRATION = "Datadog"


def ts(t: datetime | None) -> str | None:
    if t is None:
        return None
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def uuid(kind: int, n: int) -> str:
    return f"{kind:08x}-{n >> 16 & 0xffff:04x}-4{n & 0xfff:03x}-8000-{n:012x}"


@dataclass
class Team:
    id: str
    name: str


@dataclass
class User:
    id: str
    username: str
    name: str


@dataclass
class Recipient:
    user: User
    state: str  # notified, action, notactive
    method: str
    at: datetime


@dataclass
class Alert:
    id: str
    tiny: int
    team: Team
    tags: list[str]
    priority: str
    created: datetime
    updated: datetime
    closed_after_ms: int | None = None
    acknowledged_by: str | None = None
    closed_by: str | None = None
    recipients: list[Recipient] = field(default_factory=list)

    @property
    def closed(self) -> datetime | None:
        if self.closed_after_ms is None:
            return None
        return self.created + timedelta(milliseconds=self.closed_after_ms)

    def json(self) -> dict[str, Any]:
        report: dict[str, Any] = {}
        if self.acknowledged_by:
            report.update(ackTime=240_000, acknowledgedBy=self.acknowledged_by)
        if self.closed_after_ms is not None:
            report.update(closeTime=self.closed_after_ms, closedBy=self.closed_by or "System")
        return {
            "id": self.id, "tinyId": str(self.tiny), "alias": f"alias-{self.tiny}",
            "message": f"Alert {self.tiny}",
            "status": "closed" if self.closed_after_ms is not None else "open",
            "acknowledged": self.acknowledged_by is not None, "isSeen": True,
            "tags": list(self.tags), "snoozed": False, "count": 1,
            "lastOccurredAt": ts(self.created), "createdAt": ts(self.created),
            "updatedAt": ts(self.updated), "source": "datadog", "owner": self.acknowledged_by or "",
            "priority": self.priority,
            "teams": [{"id": self.team.id}],
            "responders": [{"type": "team", "id": self.team.id}],
            "integration": {"id": uuid(9, 1), "name": INTEGRATION, "type": "Datadog"},
            "report": report, "ownerTeamId": self.team.id,
        }


@dataclass
class Period:
    start: datetime
    end: datetime
    user: User | None  # None: nobody on call


@dataclass
class Schedule:
    id: str
    name: str
    team: Team
    rotation_id: str
    periods: list[Period]


@dataclass
class World:
    teams: list[Team]
    users: list[User]
    alerts: list[Alert]
    schedules: list[Schedule]
    version: int = 0
    _index: tuple[int, list[Alert], list[float]] | None = None

    def by_updated(self) -> tuple[list[Alert], list[float]]:
        """Alerts by (updatedAt, id), and their epoch seconds (for bisect); made again only
        when the world changed."""
        if self._index is None or self._index[0] != self.version:
            ordered = sorted(self.alerts, key=lambda a: (a.updated, a.id))
            self._index = (self.version, ordered, [a.updated.timestamp() for a in ordered])
        return self._index[1], self._index[2]

    def alert(self, id_: str) -> Alert | None:
        return next((a for a in self.alerts if a.id == id_), None)

    def close(self, alert: Alert, at: datetime, by: str | None = None) -> None:
        alert.closed_after_ms = int((at - alert.created).total_seconds() * 1000)
        alert.closed_by = by
        alert.updated = at
        self.version += 1

    def add_alert(self, rng: random.Random, created: datetime, *, team: int | None = None,
                  closed: bool | None = None, recipients: int = 2) -> Alert:
        n = len(self.alerts) + 1
        t = self.teams[rng.randrange(len(self.teams)) if team is None else team]
        tags = {"t-pay": ["payments", "env:prod"], "t-chk": ["web"],
                "t-old": ["batch"]}[t.id.split("-0")[0]]
        is_closed = rng.random() < 0.7 if closed is None else closed
        ack = rng.choice([None, "user", "user", INTEGRATION])
        alert = Alert(uuid(1, n), n, t, list(tags), rng.choice(["P1", "P2", "P3", "P4", "P5"]),
                      created, created + timedelta(minutes=1),
                      acknowledged_by=(self.users[rng.randrange(len(self.users))].username
                                       if ack == "user" else ack))
        for k in range(recipients):
            user = self.users[(n + k) % len(self.users)]
            state = rng.choice(["notified", "action", "notactive"]) if k else "notified"
            alert.recipients.append(Recipient(user, state, "SMS" if state != "action"
                                              else "Acknowledge",
                                              created + timedelta(seconds=30 + 60 * k)))
        if alert.acknowledged_by:
            alert.updated = created + timedelta(minutes=4)
        if is_closed:
            closer = rng.choice([None, INTEGRATION, self.users[0].username])
            self.close(alert, created + timedelta(minutes=rng.randrange(5, 600)), closer)
        self.alerts.append(alert)
        self.version += 1
        return alert


TEAM_IDS = ("t-pay-0001", "t-chk-0002", "t-old-0003")


def generate_world(seed: int = 1, alerts: int = 40, *, start: datetime = T0, days: int = 60,
                   recipients: int = 2) -> World:
    rng = random.Random(seed)
    teams = [Team(TEAM_IDS[0], "Payments Team"), Team(TEAM_IDS[1], "Checkout Team"),
             Team(TEAM_IDS[2], "Legacy Ops")]  # the third is mapped to nothing
    users = [User(uuid(2, k), f"person{k}@acme.example", f"Person {k}") for k in range(8)]
    world = World(teams, users, [], [])
    end = start + timedelta(days=days)
    for _ in range(alerts):
        created = start + timedelta(seconds=rng.randrange(days * 86400))
        recent = created > end - timedelta(days=2)  # only recent alerts are still open
        world.add_alert(rng, created, closed=None if recent else True, recipients=recipients)
    first = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)  # a Monday
    weekly = [Period(first + timedelta(weeks=k), first + timedelta(weeks=k + 1),
                     users[k % 4]) for k in range(40)]
    halves = [Period(first + timedelta(hours=12 * k), first + timedelta(hours=12 * (k + 1)),
                     None if k % 14 == 13 else users[4 + k % 3]) for k in range(560)]
    world.schedules = [Schedule("s-0001", "Payments rota", teams[0], "r-0001", weekly),
                       Schedule("s-0002", "Checkout rota", teams[1], "r-0002", halves),
                       Schedule("s-0003", "Legacy rota", teams[2], "r-0003", [])]
    return world


_CLAUSE = re.compile(r"^\s*(updatedAt|createdAt)\s*(>=|<=|>|<|=)\s*(\d+)\s*$")


def _matcher(query: str) -> list[tuple[str, str, float]] | None:
    """The ``field op millis`` clauses of a query joined by AND (None: not understood)."""
    if not query.strip():
        return []
    out = []
    for part in re.split(r"\s+AND\s+", query.strip(), flags=re.IGNORECASE):
        m = _CLAUSE.match(part)
        if m is None:
            return None
        out.append((m.group(1), m.group(2), int(m.group(3)) / 1000))
    return out


def _holds(value: float, op: str, bound: float) -> bool:
    return {">=": value >= bound, "<=": value <= bound, ">": value > bound,
            "<": value < bound, "=": value == bound}[op]


class FakeOpsgenie(FakeServer):
    """The fake server over ``world`` (see the module docstring)."""

    def __init__(self, world: World, *, token: str = TOKEN) -> None:
        super().__init__()
        self.world = world
        self.token = token

    def authorised(self, h: BaseHTTPRequestHandler) -> bool:
        return h.headers.get("Authorization") == f"GenieKey {self.token}"

    def refusal(self, h: BaseHTTPRequestHandler) -> tuple[int, Any]:
        return 401, self._meta({"message": "Could not authenticate"})

    def error(self, status: int) -> Any:
        return self._meta({"message": f"fault {status}"})

    @staticmethod
    def _meta(body: dict[str, Any]) -> dict[str, Any]:
        return {**body, "took": 0.003, "requestId": "9ae63dd7-ed00-4c81-86f0-c4ffd33142c9"}

    def route(self, path: str, q: dict[str, list[str]]) -> tuple[int, Any]:
        one = {k: v[-1] for k, v in q.items()}
        w = self.world
        if path == "/v2/teams":
            return 200, self._meta({"data": [{"id": t.id, "name": t.name, "description": ""}
                                             for t in w.teams]})
        if path == "/v2/users":
            users = [{"id": u.id, "username": u.username, "fullName": u.name,
                      "role": {"id": "User", "name": "User"}, "blocked": False,
                      "verified": True, "timeZone": "Europe/Paris", "locale": "en_US",
                      "createdAt": ts(T0 - timedelta(days=400))} for u in w.users]
            return self._page(path, one, users, total=True)
        if path in ("/v2/alerts", "/v2/alerts/count"):
            clauses = _matcher(one.get("query", ""))
            if clauses is None:
                return 422, self._meta({"message": "Invalid query", "errors": {}})
            chosen = self._alerts(clauses, one.get("sort", "createdAt"))
            if one.get("order", "desc") == "desc":
                chosen = chosen[::-1]
            if path.endswith("/count"):
                return 200, self._meta({"data": {"count": len(chosen)}})
            return self._page(path, one, chosen)
        m = re.fullmatch(r"/v2/alerts/([^/]+)/recipients", path)
        if m:
            alert = w.alert(m.group(1))
            if alert is None:
                return 404, self._meta({"message": "Alert does not exist"})
            return 200, self._meta({"data": [
                {"user": {"id": r.user.id, "username": r.user.username}, "state": r.state,
                 "method": r.method, "createdAt": ts(r.at), "updatedAt": ts(r.at)}
                for r in alert.recipients]})
        if path == "/v2/schedules":
            return 200, self._meta({"data": [
                {"id": s.id, "name": s.name, "description": "", "timezone": "Europe/Paris",
                 "enabled": True, "ownerTeam": {"id": s.team.id, "name": s.team.name},
                 "rotations": []} for s in w.schedules], "expandable": ["rotation"]})
        m = re.fullmatch(r"/v2/schedules/([^/]+)/timeline", path)
        if m:
            return self._timeline(m.group(1), one)
        return 404, self._meta({"message": "Not Found"})

    def _alerts(self, clauses: list[tuple[str, str, float]], sort: str) -> list[Alert]:
        ordered, times = self.world.by_updated()
        lo, hi = 0, len(ordered)
        for name, op, bound in clauses:  # narrow by bisect on updatedAt, then filter exactly
            if name == "updatedAt" and op in (">=", ">"):
                lo = max(lo, bisect.bisect_left(times, bound))
            if name == "updatedAt" and op in ("<", "<="):
                hi = min(hi, bisect.bisect_right(times, bound))
        chosen = [a for a in ordered[lo:hi] if all(
            _holds((a.updated if n == "updatedAt" else a.created).timestamp(), op, b)
            for n, op, b in clauses)]
        if sort == "createdAt":
            chosen.sort(key=lambda a: (a.created, a.id))
        return chosen

    def _page(self, path: str, one: dict[str, str], items: list[Any], *, total: bool = False
              ) -> tuple[int, Any]:
        try:
            limit, offset = int(one.get("limit", "20")), int(one.get("offset", "0"))
        except ValueError:
            return 422, self._meta({"message": "Invalid offset or limit"})
        limit = min(max(limit, 1), 100)
        if offset + limit > MAX_OFFSET:
            return 422, self._meta({"message": "Offset + limit must be less than or equal to "
                                               f"{MAX_OFFSET}", "errors": {}})
        page = [x.json() if isinstance(x, Alert) else x for x in items[offset:offset + limit]]

        def link(at: int) -> str:
            return f"https://api.opsgenie.com{path}?" + urlencode({**one, "offset": at,
                                                                   "limit": limit})

        paging = {"first": link(0)}
        if offset + limit < len(items):
            paging["next"] = link(offset + limit)
            paging["last"] = link(max(0, (len(items) - 1) // limit * limit))
        if offset > 0:
            paging["prev"] = link(max(0, offset - limit))
        body: dict[str, Any] = {"data": page, "paging": paging}
        if total:
            body["totalCount"] = len(items)
        return 200, self._meta(body)

    def _timeline(self, id_: str, one: dict[str, str]) -> tuple[int, Any]:
        by_name = one.get("identifierType") == "name"
        s = next((s for s in self.world.schedules if (s.name if by_name else s.id) == id_), None)
        if s is None:
            return 404, self._meta({"message": "Schedule with identifier [{id_}] does not exist"})
        unit = {"days": 1, "weeks": 7, "months": 30}.get(one.get("intervalUnit", "weeks"))
        try:
            interval = int(one.get("interval", "1"))
            start = datetime.fromisoformat(one["date"].replace("Z", "+00:00")) \
                if one.get("date") else T0
        except (ValueError, KeyError):
            return 422, self._meta({"message": "Invalid date or interval"})
        if unit is None:
            return 422, self._meta({"message": "Invalid interval unit"})
        end = start + timedelta(days=unit * interval)
        periods = []
        for p in s.periods:
            if p.end <= start or p.start >= end:
                continue
            recipient = ({"id": p.user.id, "type": "user", "name": p.user.username}
                         if p.user else {"type": "none"})
            periods.append({"startDate": ts(max(p.start, start)), "endDate": ts(min(p.end, end)),
                            "type": "default", "recipient": recipient})
        rotation = {"id": s.rotation_id, "name": "Rota", "order": 0, "periods": periods}
        timeline = {"rotations": [rotation] if periods else []}
        return 200, self._meta({"data": {
            "_parent": {"id": s.id, "name": s.name, "enabled": True},
            "startDate": ts(start), "endDate": ts(end),
            "finalTimeline": timeline, "baseTimeline": timeline,
            "overrideTimeline": {"rotations": []}}, "expandable": ["base", "forwarding",
                                                                  "override"]})
