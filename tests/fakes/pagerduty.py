"""A fake PagerDuty: a real HTTP server on 127.0.0.1 serving a deterministic world in the shapes
of PagerDuty's REST API v2 (as its API reference shows them), for the PagerDuty connector's tests.

::

    world = generate_world(seed=1, incidents=40)
    with FakePagerDuty(world) as pd:          # pd.url is http://127.0.0.1:PORT
        ... PagerDutySource(base_url=pd.url, token_env=...) ...
        pd.fail(r"^/incidents$", status=429, headers={"ratelimit-reset": "3"})

What it serves: ``/services``, ``/users``, ``/incidents`` (``since``/``until`` on
``created_at``, ``sort_by=created_at:asc``), ``/incidents/{id}`` and ``/log_entries``
(``include[]=incidents`` expands each entry's incident). Lists use classic pagination
(``limit`` ≤ 100, ``offset``, ``more``, ``total`` only with ``total=true``) and answer 400 when
``offset + limit`` passes 10,000, like PagerDuty. Auth is ``Authorization: Token token=…``.
"""

from __future__ import annotations

import bisect
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.server import FakeServer

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
TOKEN = "u+fakePagerDutyKey0123"
MAX_OFFSET = 10_000


def ts(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ref(kind: str, id_: str, summary: str) -> dict[str, Any]:
    return {"id": id_, "type": f"{kind}_reference", "summary": summary,
            "self": f"https://api.pagerduty.com/{kind}s/{id_}",
            "html_url": f"https://acme.pagerduty.com/{kind}s/{id_}"}


@dataclass
class User:
    id: str
    name: str
    email: str

    def json(self) -> dict[str, Any]:
        return {"id": self.id, "type": "user", "name": self.name, "email": self.email,
                "summary": self.name, "time_zone": "Europe/Paris", "role": "user",
                "self": f"https://api.pagerduty.com/users/{self.id}"}


@dataclass
class Service:
    id: str
    name: str

    def json(self) -> dict[str, Any]:
        return {"id": self.id, "type": "service", "name": self.name, "summary": self.name,
                "status": "active", "self": f"https://api.pagerduty.com/services/{self.id}"}


@dataclass
class Notification:
    id: str
    at: datetime
    user: User


#: bumped by every change to an incident's fields, so cached log entries know they are stale
_CHANGES = [0]


@dataclass
class Incident:
    id: str
    number: int
    service: Service
    created: datetime
    urgency: str
    priority: str | None
    resolved: datetime | None = None
    acknowledged_by: User | None = None
    resolved_by_user: bool = False
    notifications: list[Notification] = field(default_factory=list)

    def __setattr__(self, name: str, value: Any) -> None:
        _CHANGES[0] += 1
        super().__setattr__(name, value)

    @property
    def status(self) -> str:
        if self.resolved is not None:
            return "resolved"
        return "acknowledged" if self.acknowledged_by else "triggered"

    def json(self) -> dict[str, Any]:
        acks = ([{"at": ts(self.created + timedelta(minutes=4)),
                  "acknowledger": ref("user", self.acknowledged_by.id, self.acknowledged_by.name)}]
                if self.acknowledged_by and self.resolved is None else [])
        changed_by = (ref("user", "PUSER1", "someone") if self.resolved_by_user
                      else ref("service", self.service.id, self.service.name))
        return {
            "id": self.id, "type": "incident", "incident_number": self.number,
            "title": f"Incident {self.number}", "summary": f"[#{self.number}] Incident",
            "created_at": ts(self.created), "updated_at": ts(self.resolved or self.created),
            "status": self.status, "urgency": self.urgency,
            "incident_key": f"key-{self.number}",
            "service": ref("service", self.service.id, self.service.name),
            "priority": ({"id": f"PRIO{self.priority}", "type": "priority",
                          "summary": self.priority, "name": self.priority}
                         if self.priority else None),
            "assignments": [], "acknowledgements": acks,
            "last_status_change_at": ts(self.resolved or self.created),
            "last_status_change_by": changed_by,
            "resolved_at": ts(self.resolved),
            "escalation_policy": ref("escalation_policy", "PEP1", "Default"),
            "teams": [], "self": f"https://api.pagerduty.com/incidents/{self.id}",
        }


@dataclass
class World:
    services: list[Service]
    users: list[User]
    incidents: list[Incident]
    _cache: tuple[Any, list[tuple[datetime, dict[str, Any]]], list[float],
                  dict[str, Incident]] | None = None

    def log_entries(self) -> list[dict[str, Any]]:
        """Every log entry, newest first (PagerDuty's order): a trigger, the notifications
        and (for resolved incidents) a resolve entry per incident."""
        return [e for _, e in self.timed_log_entries()]

    def timed_log_entries(self) -> list[tuple[datetime, dict[str, Any]]]:
        """(instant, entry) of :meth:`log_entries`, made again only when the world changed."""
        return self.index()[0]

    def index(self) -> tuple[list[tuple[datetime, dict[str, Any]]], list[float],
                             dict[str, Incident]]:
        """(timed log entries newest first, minus their epoch seconds — ascending, for bisect —,
        incidents by id), made again only when the world changed."""
        signature = (len(self.incidents), _CHANGES[0])
        if self._cache is None or self._cache[0] != signature:
            timed = self._make_log_entries()
            self._cache = (signature, timed, [-t.timestamp() for t, _ in timed],
                           {i.id: i for i in self.incidents})
        return self._cache[1], self._cache[2], self._cache[3]

    def _make_log_entries(self) -> list[tuple[datetime, dict[str, Any]]]:
        out: list[tuple[datetime, dict[str, Any]]] = []
        for i in self.incidents:
            inc = ref("incident", i.id, f"[#{i.number}] Incident")
            svc = ref("service", i.service.id, i.service.name)
            out.append((i.created, {"id": f"RT{i.id}", "type": "trigger_log_entry",
                                    "created_at": ts(i.created), "incident": inc,
                                    "service": svc, "channel": {"type": "api"}}))
            for n in i.notifications:
                out.append((n.at, {
                    "id": n.id, "type": "notify_log_entry", "created_at": ts(n.at),
                    "incident": inc, "service": svc,
                    "user": ref("user", n.user.id, n.user.name),
                    "channel": {"type": "notification",
                                "notification": {"type": "push_notification_notification"}}}))
            if i.resolved:
                out.append((i.resolved, {"id": f"RR{i.id}", "type": "resolve_log_entry",
                                         "created_at": ts(i.resolved), "incident": inc,
                                         "service": svc, "channel": {"type": "web_ui"}}))
        out.sort(key=lambda x: (x[0], x[1]["id"]), reverse=True)
        return out

    def incident(self, id_: str) -> Incident | None:
        return next((i for i in self.incidents if i.id == id_), None)


def generate_world(seed: int = 1, incidents: int = 40, *, start: datetime = T0,
                   days: int = 60, notifications: int = 2) -> World:
    rng = random.Random(seed)
    services = [Service("PSVC001", "Payments API"), Service("PSVC002", "Checkout Web"),
                Service("PSVC003", "Legacy Batch")]  # the third is mapped to nothing
    users = [User(f"PUSR{k:03d}", f"Person {k}", f"person{k}@acme.example") for k in range(8)]
    world = World(services, users, [])
    end = start + timedelta(days=days)
    for k in range(incidents):
        created = start + timedelta(seconds=rng.randrange(days * 86400))
        # as on a real account, only recent incidents are still open
        recent = created > end - timedelta(days=2)
        add_incident(world, rng, created, notifications=notifications, number=k + 1,
                     resolved=None if recent else True)
    return world


def add_incident(world: World, rng: random.Random, created: datetime, *, notifications: int = 2,
                 number: int | None = None, resolved: bool | None = None) -> Incident:
    number = number or len(world.incidents) + 1
    svc = world.services[rng.randrange(len(world.services))]
    is_resolved = rng.random() < 0.5 if resolved is None else resolved
    inc = Incident(
        f"PINC{number:05d}", number, svc, created, rng.choice(["high", "high", "low"]),
        rng.choice(["P1", "P2", "P3", None]),
        resolved=created + timedelta(minutes=rng.randrange(5, 600)) if is_resolved else None,
        acknowledged_by=world.users[rng.randrange(len(world.users))] if rng.random() < 0.7 else None,
        resolved_by_user=rng.random() < 0.5)
    for n in range(notifications):
        user = world.users[rng.randrange(len(world.users))]
        inc.notifications.append(Notification(f"RN{number:05d}{n}", created + timedelta(
            seconds=30 + 60 * n), user))
    world.incidents.append(inc)
    return inc


class FakePagerDuty(FakeServer):
    """The fake server over ``world`` (see the module docstring)."""

    def __init__(self, world: World, *, token: str = TOKEN) -> None:
        super().__init__()
        self.world = world
        self.token = token

    def authorised(self, h: BaseHTTPRequestHandler) -> bool:
        return (h.headers.get("Authorization") == f"Token token={self.token}"
                and "vnd.pagerduty+json;version=2" in (h.headers.get("Accept") or ""))

    def refusal(self, h: BaseHTTPRequestHandler) -> tuple[int, Any]:
        if h.headers.get("Authorization") != f"Token token={self.token}":
            return 401, {"error": {"message": "Authentication failed", "code": 2006}}
        return 406, {"error": {"message": "Not acceptable", "code": 2001}}

    def error(self, status: int) -> Any:
        return {"error": {"message": f"fault {status}", "code": 2000}}

    def route(self, path: str, q: dict[str, list[str]]) -> tuple[int, Any]:
        return self._route(path, q)

    def _route(self, path: str, q: dict[str, list[str]]) -> tuple[int, Any]:
        one = {k: v[-1] for k, v in q.items()}
        m = re.fullmatch(r"/incidents/([A-Z0-9]+)", path)
        if m:
            inc = self.world.incident(m.group(1))
            if inc is None:
                return 404, {"error": {"message": "Not Found", "code": 2100}}
            return 200, {"incident": inc.json()}
        since, until = _instant(one.get("since")), _instant(one.get("until"))
        if path == "/services":
            items = [s.json() for s in self.world.services]
            key = "services"
        elif path == "/users":
            items = [u.json() for u in self.world.users]
            key = "users"
        elif path == "/incidents":
            chosen = [i for i in self.world.incidents if _within(i.created, since, until)]
            chosen.sort(key=lambda i: (i.created, i.id),
                        reverse=one.get("sort_by", "created_at:asc").endswith("desc"))
            items = chosen
            key = "incidents"
        elif path == "/log_entries":
            timed, times, by_id = self.world.index()
            lo = 0 if until is None else bisect.bisect_right(times, -until.timestamp())
            hi = len(timed) if since is None else bisect.bisect_right(times, -since.timestamp())
            items = [e for t, e in timed[lo:hi] if _within(t, since, until)]
            key = "log_entries"
        else:
            return 404, {"error": {"message": "Not Found", "code": 2100}}
        try:
            limit, offset = int(one.get("limit", "25")), int(one.get("offset", "0"))
        except ValueError:
            return 400, {"error": {"message": "Invalid Input Provided", "code": 2001}}
        limit = min(max(limit, 1), 100)
        if offset + limit > MAX_OFFSET:
            return 400, {"error": {"message": "Invalid Input Provided", "code": 2001,
                                   "errors": ["Offset must be less than 10001."]}}
        page = [x.json() if isinstance(x, Incident) else x for x in items[offset:offset + limit]]
        if key == "log_entries" and "incidents" in q.get("include[]", []):
            page = [{**e, "incident": by_id[e["incident"]["id"]].json()} for e in page]
        return 200, {key: page, "limit": limit, "offset": offset,
                     "more": offset + limit < len(items),
                     "total": len(items) if one.get("total") == "true" else None}


def _instant(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _within(t: datetime | None, since: datetime | None, until: datetime | None) -> bool:
    """PagerDuty's ``since`` is inclusive and ``until`` exclusive."""
    if t is None:
        return False
    return (since is None or t >= since) and (until is None or t < until)
