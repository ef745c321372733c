"""A fake ServiceNow instance: a real HTTP server on 127.0.0.1 serving a deterministic world in
the shapes of the Table API (``GET /api/now/table/{table}``), for the ServiceNow connector's
tests and bench.

::

    world = generate_world(seed=1, incidents=40)
    with FakeServiceNow(world) as sn:          # sn.url is http://127.0.0.1:PORT
        ... ServiceNowSource(base_url=sn.url, user=USER, token_env=...) ...
        sn.fail(r"/incident$", status=429, headers={"Retry-After": "3"})

What it serves: ``incident``, ``change_request`` and ``cmdb_ci`` (services and CIs). Records are
``{"result": [...]}`` with every value a string; ``sysparm_display_value=false`` gives stored
values (date/times UTC ``YYYY-MM-DD HH:MM:SS``, choices ``"1"``…), and a reference is
``{"link", "value"}`` unless ``sysparm_exclude_reference_link=true`` makes it the sys_id.
``sysparm_fields`` picks fields, dot-walking one reference (``business_service.name``).
``sysparm_query`` understands ``^``-joined ``f=v``, ``f!=v``, ``f>=v``, ``f>v``, ``f<=v``,
``f<v``, ``fINa,b`` and ``ORDERBYf``/``ORDERBYDESCf`` (a date/time written as text is UTC, as on
a real instance); anything else is a 400 (a real instance would quietly ignore it). Paging by
``sysparm_limit`` (default 10,000) and ``sysparm_offset`` with ``X-Total-Count`` and a ``Link``
header (first, prev, next, last). Auth: Basic ``USER:PASSWORD`` or ``Bearer TOKEN``; otherwise
401 with ServiceNow's error body.
"""

from __future__ import annotations

import base64
import json
import random
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.fakes.server import FakeServer

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
USER = "svc.shipwise"
PASSWORD = "fake-Passw0rd!"
TOKEN = "fakeOAuthAccessToken0123"
FMT = "%Y-%m-%d %H:%M:%S"
AUTOMATION_USER = "a0000000000000000000000000000bot"


def ts(t: datetime | None) -> str:
    return "" if t is None else t.astimezone(UTC).strftime(FMT)


def sys_id(kind: str, k: int) -> str:
    """A 32-hex sys_id, deterministic per kind and number."""
    return f"{zlib.crc32(kind.encode()) & 0xFFFF:04x}{k:028x}"


CTYPE = "application/json;charset=UTF-8"
TABLES = ("incident", "change_request", "cmdb_ci")
REFERENCES = {"business_service": "cmdb_ci", "cmdb_ci": "cmdb_ci", "caused_by": "change_request",
              "resolved_by": "sys_user", "closed_by": "sys_user", "assigned_to": "sys_user"}


@dataclass
class World:
    """Everything the instance holds; ``now`` is its clock (``sys_updated_on`` of changes)."""

    ci: list[dict[str, str]] = field(default_factory=list)
    changes: list[dict[str, str]] = field(default_factory=list)
    incidents: list[dict[str, str]] = field(default_factory=list)
    now: datetime = T0
    version: int = 0

    def table(self, name: str) -> list[dict[str, str]]:
        return {"incident": self.incidents, "change_request": self.changes,
                "cmdb_ci": self.ci}[name]

    def by_id(self, name: str) -> dict[str, dict[str, str]]:
        return {r["sys_id"]: r for r in self.table(name)}

    def tick(self, seconds: float = 1) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    def update(self, incident: dict[str, str], **values: str) -> None:
        """Change an incident as a person would: its ``sys_updated_on`` becomes now."""
        incident.update(values)
        incident["sys_updated_on"] = ts(self.tick())
        incident["sys_mod_count"] = str(int(incident.get("sys_mod_count", "0")) + 1)
        self.version += 1


SERVICES = [("Payments API", 1), ("Checkout Web", 2), ("Legacy Batch", 3)]  # third: unmapped
CIS = [("pay-db-01", 11), ("web-lb-02", 12)]


def generate_world(seed: int = 1, incidents: int = 40, *, changes: int = 10,
                   start: datetime = T0 - timedelta(days=60), days: int = 60,
                   deployments: list[str] | None = None) -> World:
    """``incidents`` over ``days`` from ``start``; about a fifth caused by one of ``changes``
    change requests, whose ``correlation_id`` names one of ``deployments`` (when given)."""
    rng = random.Random(seed)
    w = World()
    for name, k in SERVICES:
        w.ci.append({"sys_id": sys_id("svc", k), "name": name, "sys_class_name": "cmdb_ci_service"})
    for name, k in CIS:
        w.ci.append({"sys_id": sys_id("ci", k), "name": name, "sys_class_name": "cmdb_ci_server"})
    for k in range(changes):
        dep = deployments[k % len(deployments)] if deployments else ""
        w.changes.append({"sys_id": sys_id("chg", k), "number": f"CHG{30000 + k:07d}",
                          "correlation_id": dep, "state": "3", "type": "normal",
                          "sys_updated_on": ts(start)})
    people = [sys_id("usr", k) for k in range(6)]
    for k in range(incidents):
        opened = start + timedelta(seconds=rng.randrange(days * 86400))
        add_incident(w, rng, opened, people=people, number=k + 1)
    return w


def add_incident(w: World, rng: random.Random, opened: datetime, *, people: list[str] | None = None,
                 number: int | None = None, resolved: bool | None = None,
                 updated: datetime | None = None) -> dict[str, str]:
    number = number or len(w.incidents) + 1
    people = people or [sys_id("usr", 0)]
    services = [c for c in w.ci if c["sys_class_name"] == "cmdb_ci_service"]
    svc = services[rng.randrange(len(services))]
    is_resolved = rng.random() < 0.7 if resolved is None else resolved
    done = opened + timedelta(minutes=rng.randrange(5, 900)) if is_resolved else None
    closed = done + timedelta(days=1) if done is not None and rng.random() < 0.5 else None
    resolver = (AUTOMATION_USER if rng.random() < 0.2 else rng.choice(people)) if done else ""
    cause = rng.choice(w.changes)["sys_id"] if w.changes and rng.random() < 0.2 else ""
    priority = str(rng.choice([1, 2, 3, 3, 4, 5]))
    inc = {
        "sys_id": sys_id("inc", number), "number": f"INC{number:07d}",
        "sys_created_on": ts(opened), "opened_at": ts(opened),
        "sys_updated_on": ts(updated or closed or done or opened + timedelta(minutes=1)),
        "sys_mod_count": "3", "state": "7" if closed else "6" if done else "2",
        "active": "false" if done else "true",
        "priority": priority, "impact": str(min(3, int(priority))), "urgency": "2",
        "severity": "3", "business_service": svc["sys_id"],
        "cmdb_ci": rng.choice([sys_id("ci", 11), sys_id("ci", 12), ""]),
        "category": rng.choice(["software", "network", "database", ""]),
        "subcategory": rng.choice(["", "dns", "latency"]),
        "caused_by": cause, "resolved_at": ts(done), "closed_at": ts(closed),
        "resolved_by": resolver, "closed_by": resolver if closed else "",
        "assigned_to": rng.choice(people) if rng.random() < 0.8 else "",
        "short_description": f"Incident {number}", "contact_type": "monitoring",
    }
    w.incidents.append(inc)
    w.version += 1
    return inc


_TERM = re.compile(r"^(?P<f>[a-z_][a-z0-9_.]*?)(?P<op>>=|<=|!=|IN|=|>|<)(?P<v>.*)$")


class BadQueryError(ValueError):
    pass


def _parse(query: str) -> tuple[list[tuple[str, str, str]], list[tuple[str, bool]]]:
    terms, order = [], []
    for part in filter(None, query.split("^")):
        if part.startswith("ORDERBYDESC"):
            order.append((part[11:], True))
        elif part.startswith("ORDERBY"):
            order.append((part[7:], False))
        elif part.startswith(("OR", "NQ", "javascript:")) or "javascript:" in part:
            raise BadQueryError(f"the fake does not understand {part!r}")
        else:
            m = _TERM.match(part)
            if m is None:
                raise BadQueryError(f"the fake does not understand {part!r}")
            terms.append((m["f"], m["op"], m["v"]))
    return terms, order


def _match(r: dict[str, str], terms: list[tuple[str, str, str]]) -> bool:
    for f, op, v in terms:
        x = r.get(f, "")
        ok = {"=": x == v, "!=": x != v, ">=": x >= v, ">": x > v, "<=": x <= v, "<": x < v,
              "IN": x in v.split(",")}[op]
        if not ok:
            return False
    return True


class FakeServiceNow(FakeServer):
    """The fake instance over ``world`` (see the module docstring)."""

    protocol_version = "HTTP/1.1"

    def __init__(self, world: World, *, user: str = USER, password: str = PASSWORD,
                 token: str = TOKEN) -> None:
        super().__init__()
        self.world = world
        self.auth = {"Basic " + base64.b64encode(f"{user}:{password}".encode()).decode(),
                     f"Bearer {token}"}
        #: called with the number of requests answered so far, before an incident page
        self.before: Callable[[int], None] | None = None
        self._sorted: dict[tuple[str, str, int], list[dict[str, str]]] = {}

    def answer(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        q = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        answered, fault = self.received(parts.path, q)
        if fault is not None:
            body = fault.body if fault.body is not None else _error(f"fault {fault.status}")
            html = fault.body is not None and fault.body[:1] == b"<"
            self.send(h, fault.status, body, fault.headers,
                      "text/html;charset=UTF-8" if html else CTYPE)
            return
        if h.headers.get("Authorization") not in self.auth:
            self.send(h, 401, _error("User Not Authenticated",
                                     "Required to provide Auth information"),
                      {"WWW-Authenticate": 'BASIC realm="Service-now"'}, CTYPE)
            return
        m = re.fullmatch(r"/api/now/(?:v[12]/)?table/([a-z_]+)", parts.path)
        if method != "GET" or m is None or m.group(1) not in TABLES:
            self.send(h, 400 if m else 404, _error(
                "Invalid table" if m else "Requested URI does not represent any resource"),
                None, CTYPE)
            return
        if self.before is not None and m.group(1) == "incident":
            with self.lock:
                self.before(answered)
        try:
            status, result, headers = self._table(m.group(1), parts.path, q)
        except BadQueryError as exc:
            self.send(h, 400, _error(str(exc)), None, CTYPE)
            return
        self.send(h, status, json.dumps({"result": result}).encode(), headers, CTYPE)

    def _table(self, table: str, path: str, q: dict[str, str]
               ) -> tuple[int, list[dict[str, Any]], dict[str, str]]:
        terms, order = _parse(q.get("sysparm_query", ""))
        with self.lock:
            key = (table, json.dumps(order), self.world.version)
            rows = self._sorted.get(key)
            if rows is None:
                rows = list(self.world.table(table))
                for f, desc in reversed(order):
                    rows.sort(key=lambda r, f=f: r.get(f, ""), reverse=desc)
                self._sorted = {k: v for k, v in self._sorted.items()
                                if k[2] == self.world.version}
                self._sorted[key] = rows
            chosen = [r for r in rows if _match(r, terms)]
        limit = int(q.get("sysparm_limit") or 10_000)
        offset = int(q.get("sysparm_offset") or 0)
        page = chosen[offset:offset + limit]
        fields = [f for f in q.get("sysparm_fields", "").split(",") if f]
        exclude = q.get("sysparm_exclude_reference_link") == "true"
        ci = self.world.by_id("cmdb_ci")
        out = [self._shape(r, fields, exclude, ci) for r in page]
        headers = {"X-Total-Count": str(len(chosen))}
        links = []
        base = f"https://fake.service-now.com{path}"

        def link(off: int, rel: str) -> str:
            return f'<{base}?{urlencode({**q, "sysparm_offset": off})}>;rel="{rel}"'

        links.append(link(0, "first"))
        if offset > 0:
            links.append(link(max(0, offset - limit), "prev"))
        if offset + limit < len(chosen):
            links.append(link(offset + limit, "next"))
        links.append(link(max(0, (len(chosen) - 1) // limit * limit), "last"))
        headers["Link"] = ",".join(links)
        return 200, out, headers

    def _shape(self, r: dict[str, str], fields: list[str], exclude: bool,
               ci: dict[str, dict[str, str]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields or list(r):
            if "." in f:
                ref, sub = f.split(".", 1)
                target = ci.get(r.get(ref, "")) if REFERENCES.get(ref) == "cmdb_ci" else None
                out[f] = (target or {}).get(sub, "")
                continue
            if f not in r:
                continue  # ServiceNow leaves out a field the table does not have
            value = r[f]
            if f in REFERENCES and value and not exclude:
                out[f] = {"link": f"https://fake.service-now.com/api/now/table/"
                                  f"{REFERENCES[f]}/{value}", "value": value}
            else:
                out[f] = value
        return out


def _error(message: str, detail: str | None = None) -> bytes:
    """ServiceNow's error body."""
    return json.dumps({"error": {"message": message, "detail": detail},
                       "status": "failure"}).encode()
