"""A fake Jira: a real HTTP server on 127.0.0.1 serving a deterministic world in the shapes of
Jira's REST API (as Atlassian's API reference shows them), Cloud or Data Center, for the Jira
connector's tests.

::

    world = generate_world(seed=1, tickets=30, incidents=8)
    with FakeJira(world, edition="cloud") as jira:       # jira.url is http://127.0.0.1:PORT
        ... JiraSource(base_url=jira.url, edition="cloud", email=EMAIL, ...) ...
        jira.fail(r"/search/jql$", status=429, headers={"Retry-After": "7"})
        jira.requests                                    # (method, path, query, body) served

What it serves. **Cloud** (``/rest/api/3``): ``POST``/``GET /search/jql`` paged by an opaque
``nextPageToken`` (``isLast``), ``POST /search/approximate-count``, ``/issue/{key}/changelog``
(``startAt``/``maxResults``/``total``/``isLast``), ``/myself``, ``/status``; the removed
``/rest/api/{2,3}/search`` answers **410 Gone** with Atlassian's message. Basic auth with
``email:api-token``. **Data Center** (``/rest/api/2``): ``GET /search`` paged by
``startAt``/``maxResults``/``total``, ``/issue/{key}?expand=changelog`` (the whole changelog),
``/myself``, ``/status``. Bearer personal access token. A search returns only the ``fields``
asked for (Cloud's ``/search/jql`` returns just ``id`` when none are), with
``expand=changelog`` the changelog oldest first, truncated to ``changelog_limit`` histories
(``total`` says how many there are). Times are written like Jira writes them,
``2025-01-06T04:00:00.000-0500``, in the user's time zone, and JQL date literals are read in it.

JQL: ``project = X``, ``project in (X, Y)``, ``issuetype = X``, ``updated >= "yyyy-MM-dd HH:mm"``
joined by ``AND`` (parentheses allowed), then ``ORDER BY updated ASC, key ASC``; anything else is
a 400 naming the clause, as Jira's ``errorMessages`` do.

The world's truth (:meth:`World.truth`) is written from the world's own records (each ticket's
status walk and each status's declared flow category), never through the connector's mapping.
"""

from __future__ import annotations

import base64
import json
import random
import re
import threading
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from shipwise.config import JiraSource

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
EMAIL = "sync-bot@acme.example"
TOKEN = "ATATT3xFfGF0-fake-api-token"
PAT = "NjM0-fake-personal-access-token"
TEAM_FIELD = "customfield_10001"
CAUSE_FIELD = "customfield_10070"
GONE = ("The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
        "A full migration guideline is available at "
        "https://developer.atlassian.com/changelog/#CHANGE-2046")


@dataclass(frozen=True)
class Status:
    id: str
    name: str
    category: str  # Jira's statusCategory.key: new | indeterminate | done
    flow: str  # the truth: what shipwise should call it (todo, in_progress, blocked, done)
    waits_on: str | None = None


CATEGORY = {"new": (2, "blue-gray", "To Do"), "indeterminate": (4, "yellow", "In Progress"),
            "done": (3, "green", "Done")}

TODO = Status("10000", "To Do", "new", "todo")
PROGRESS = Status("3", "In Progress", "indeterminate", "in_progress")
REVIEW = Status("10002", "In Review", "indeterminate", "in_progress")
BLOCKED = Status("10003", "Blocked", "indeterminate", "blocked")
WAITING = Status("10004", "Waiting for Security", "indeterminate", "blocked", "security")
DONE = Status("10001", "Done", "done", "done")
OPEN = Status("10100", "Open", "new", "todo")
WORKING = Status("10101", "Work in progress", "indeterminate", "in_progress")
RESOLVED = Status("10102", "Resolved", "done", "done")
STATUSES = (TODO, PROGRESS, REVIEW, BLOCKED, WAITING, DONE, OPEN, WORKING, RESOLVED)

PRIORITIES = {"Highest": ("1", "sev1"), "High": ("2", "sev2"), "Medium": ("3", "sev3"),
              "Low": ("4", "sev4"), "Lowest": ("5", "sev5")}


@dataclass
class Person:
    account_id: str
    name: str
    email: str

    def json(self, url: str) -> dict[str, Any]:
        return {"self": f"{url}/rest/api/3/user?accountId={self.account_id}",
                "accountId": self.account_id, "emailAddress": self.email,
                "displayName": self.name, "active": True, "timeZone": "Europe/Lisbon",
                "accountType": "atlassian", "avatarUrls": {}}


@dataclass
class Change:
    id: int
    at: datetime
    frm: Status
    to: Status
    author: Person


@dataclass
class Issue:
    id: int
    key: str
    project: str
    issuetype: str
    created: datetime
    status: Status
    priority: str
    reporter: Person
    assignee: Person | None
    components: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    team: str | None = None  # the Team custom field's option value
    changes: list[Change] = field(default_factory=list)
    resolved: datetime | None = None
    cause: str | None = None  # customfield_10070: the deployment that caused it
    edited: datetime | None = None  # a non-status edit (moves `updated`)

    @property
    def updated(self) -> datetime:
        times = [self.created, *(c.at for c in self.changes)]
        if self.edited:
            times.append(self.edited)
        return max(times)

    @property
    def initial(self) -> Status:
        return self.changes[0].frm if self.changes else self.status


PROJECTS = {"PAY": ("Payments", "software"), "SRCH": ("Search", "software"),
            "OPS": ("Operations", "service_desk")}


@dataclass
class World:
    issues: list[Issue]
    people: list[Person]
    timezone: str = "America/New_York"
    next_id: int = 20000

    def issue(self, key: str) -> Issue | None:
        return next((i for i in self.issues if i.key == key), None)

    def tickets(self) -> list[Issue]:
        return [i for i in self.issues if i.project != "OPS"]

    def incidents(self) -> list[Issue]:
        return [i for i in self.issues if i.project == "OPS"]

    def truth(self) -> dict[str, list[dict[str, Any]]]:
        """The canonical records a correct sync yields, from the world itself."""
        teams = {"Payments": "payments", "Search": "search"}
        statuses: list[dict[str, Any]] = []
        for i in self.tickets():
            walk = [(i.created, i.initial)] + [(c.at, c.to) for c in i.changes]
            for at, s in {at: (at, s) for at, s in walk}.values():
                statuses.append({"ticket": i.key, "team": teams.get(i.team or "", "platform"),
                                 "at": at, "status": s.name, "category": s.flow,
                                 "blocked_on": s.waits_on})
        services = {"Payments API": "pay-api", "Search API": "search-api"}
        incidents = [{"id": i.key, "service": services[i.components[0]],
                      "severity": PRIORITIES[i.priority][1], "opened_at": i.created,
                      "resolved_at": i.resolved, "caused_by": i.cause,
                      "labels": sorted(set(i.labels)) or None,
                      "source": f"jira:jira incident {i.key}"} for i in self.incidents()]
        return {"ticket_status": statuses, "incident": incidents}

    def transition(self, key: str, to: Status, at: datetime) -> None:
        i = self.issue(key)
        assert i is not None
        self.next_id += 1
        i.changes.append(Change(self.next_id, at, i.status, to, self.people[0]))
        i.status = to
        if to.category == "done":
            i.resolved = at

    def add_ticket(self, project: str, at: datetime, team: str | None = "Payments") -> Issue:
        self.next_id += 1
        n = 1 + sum(1 for i in self.issues if i.project == project)
        issue = Issue(self.next_id, f"{project}-{n}", project, "Story", at, TODO, "Medium",
                      self.people[1], None, team=team)
        self.issues.append(issue)
        return issue

    def org_records(self) -> list[dict[str, Any]]:
        """An organisation file's records naming the teams and services the truth uses."""
        out: list[dict[str, Any]] = [{"type": "org_unit", "id": "eng", "name": "Engineering"}]
        for team in ("payments", "search", "platform", "security"):
            out.append({"type": "team", "id": team, "name": team.title(), "org_unit": "eng",
                        "delivery_unit": "deployments"})
        out += [{"type": "service", "id": "pay-api", "name": "Payments API", "team": "payments"},
                {"type": "service", "id": "search-api", "name": "Search API", "team": "search"}]
        for i in self.incidents():  # the deployments incidents name as their cause
            if i.cause:
                at = i.created - timedelta(minutes=30)
                out.append({"type": "deployment", "id": i.cause, "service": "pay-api",
                            "environment": "production", "started_at": at.isoformat(),
                            "finished_at": (at + timedelta(minutes=5)).isoformat(),
                            "status": "success"})
        return out

    def write_org(self, path: Path) -> Path:
        path.write_text("".join(json.dumps(r) + "\n" for r in self.org_records()))
        return path


def generate_world(seed: int = 1, tickets: int = 30, incidents: int = 8,
                   timezone: str = "America/New_York") -> World:
    """Tickets of PAY and SRCH walking through the board's statuses (some blocked on the way,
    some waiting for security), and JSM incidents of OPS with priorities, components and, for
    some, the deployment that caused them."""
    rng = random.Random(seed)
    people = [Person(f"5b10ac8d82e05b22cc7d{n:04d}", name, f"{name.split()[0].lower()}@acme.example")
              for n, name in enumerate(["Ana Lima", "Bruno Reis", "Carla Sousa", "Duarte Neves"])]
    world = World([], people, timezone)
    walk = [TODO, PROGRESS, REVIEW, DONE]
    for n in range(tickets):
        project = "PAY" if n % 3 else "SRCH"
        created = T0 + timedelta(hours=7 * n, minutes=rng.randrange(60))
        team = {"PAY": "Payments", "SRCH": "Search"}[project] if n % 7 else None
        issue = world.add_ticket(project, created, team)
        issue.issuetype = rng.choice(["Story", "Bug", "Task"])
        issue.assignee = rng.choice(people)
        issue.components = [rng.choice(["Payments API", "Search API"])]
        issue.labels = rng.sample(["backend", "frontend", "tech-debt"], 1)
        steps = rng.randrange(0, 7)
        if n == 1:
            steps = 9  # a long changelog (truncated in search results)
        at = created
        state = 0
        for _ in range(steps):
            at += timedelta(hours=rng.randrange(1, 30), minutes=rng.randrange(60))
            if issue.status in (BLOCKED, WAITING):
                nxt = PROGRESS
            elif rng.random() < 0.3 and issue.status is not DONE:
                nxt = rng.choice([BLOCKED, WAITING])
            else:
                state = min(state + 1, len(walk) - 1)
                nxt = walk[state] if walk[state] is not issue.status else PROGRESS
            if nxt is issue.status:
                continue
            world.transition(issue.key, nxt, at)
        if n == 2 and not issue.changes:
            world.transition(issue.key, PROGRESS, created)  # moved on creation: same instant
    for n in range(incidents):
        world.next_id += 1
        created = T0 + timedelta(hours=11 * n + 3, minutes=rng.randrange(60))
        issue = Issue(world.next_id, f"OPS-{n + 1}", "OPS", "[System] Incident", created, OPEN,
                      rng.choice(list(PRIORITIES)), people[2], rng.choice(people),
                      components=[rng.choice(["Payments API", "Search API"])],
                      cause=f"pay-api/deployment/{100 + n}" if n % 3 == 0 else None)
        world.issues.append(issue)
        world.transition(issue.key, WORKING, created + timedelta(minutes=rng.randrange(5, 50)))
        if n % 4 != 3:  # the last of every four is still open
            world.transition(issue.key, RESOLVED, created + timedelta(hours=rng.randrange(1, 9)))
    return world


@dataclass
class Fault:
    pattern: str
    status: int
    times: int
    headers: dict[str, str]
    body: bytes | None
    truncate: int | None


class JqlError(Exception):
    pass


class FakeJira:
    """The fake server over ``world`` (see the module docstring)."""

    def __init__(self, world: World, *, edition: str = "cloud", email: str = EMAIL,
                 token: str | None = None, changelog_limit: int = 100,
                 max_results: int = 100) -> None:
        assert edition in ("cloud", "data_center")
        self.world = world
        self.edition = edition
        self.email = email
        self.token = token or (TOKEN if edition == "cloud" else PAT)
        self.changelog_limit = changelog_limit
        self.max_results = max_results
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str, str, Any]] = []  # (method, path, query, body)
        #: seconds spent answering (the fake's own cost, for benches)
        self.busy = 0.0
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- control -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api(self) -> str:
        return "/rest/api/3" if self.edition == "cloud" else "/rest/api/2"

    def fail(self, pattern: str, status: int = 500, *, times: int = 1,
             headers: dict[str, str] | None = None, body: bytes | None = None,
             truncate: int | None = None) -> None:
        """The next ``times`` requests whose path matches ``pattern`` (a regex searched in the
        path) answer ``status`` (or, with ``truncate``, the real body cut to that many bytes)."""
        with self.lock:
            self.faults.append(Fault(pattern, status, times, dict(headers or {}), body, truncate))

    def count(self, pattern: str = "") -> int:
        with self.lock:
            return sum(1 for _, path, _, _ in self.requests if re.search(pattern, path))

    def reset_counts(self) -> None:
        with self.lock:
            self.requests.clear()

    def __enter__(self) -> FakeJira:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._timed(self, "GET")

            def do_POST(self) -> None:
                fake._timed(self, "POST")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- serving -------------------------------------------------------------------------------

    def _authorised(self, h: BaseHTTPRequestHandler) -> bool:
        sent = h.headers.get("Authorization") or ""
        if self.edition == "cloud":
            pair = base64.b64encode(f"{self.email}:{self.token}".encode()).decode()
            return sent == f"Basic {pair}"
        return sent == f"Bearer {self.token}"

    def _timed(self, h: BaseHTTPRequestHandler, method: str) -> None:
        t0 = time.perf_counter()
        try:
            self._handle(h, method)
        finally:
            with self.lock:
                self.busy += time.perf_counter() - t0

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        path = parts.path
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                self._send(h, 400, {"errorMessages": ["Unexpected character in the body"],
                                    "errors": {}})
                return
        with self.lock:
            self.requests.append((method, path, parts.query, body))
            fault = next((f for f in self.faults if f.times > 0 and re.search(f.pattern, path)),
                         None)
            if fault is not None:
                fault.times -= 1
        if fault is not None and fault.truncate is None:
            payload = fault.body if fault.body is not None else json.dumps(
                {"errorMessages": [f"{fault.status} fault"], "errors": {}}).encode()
            self._send(h, fault.status, payload, fault.headers)
            return
        if not self._authorised(h):
            h.send_response(401)
            text = b"Client must be authenticated to access this resource."
            h.send_header("Content-Type", "text/html;charset=UTF-8")
            h.send_header("WWW-Authenticate", 'Basic realm="protected-area"')
            h.send_header("Content-Length", str(len(text)))
            h.end_headers()
            h.wfile.write(text)
            return
        if self.edition == "cloud" and re.fullmatch(r"/rest/api/[23]/search", path):
            self._send(h, 410, {"errorMessages": [GONE], "errors": {}})
            return
        if not path.startswith(self.api + "/"):
            self._send(h, 404, {"errorMessages": ["Not found"], "errors": {}})
            return
        args = dict(query)
        if isinstance(body, dict):
            args.update(body)
        try:
            status, result = self._route(method, path[len(self.api):], args)
        except JqlError as exc:
            status, result = 400, {"errorMessages": [str(exc)], "warningMessages": [],
                                   "errors": {}}
        self._send(h, status, result, truncate=fault.truncate if fault else None)

    def _route(self, method: str, path: str, q: dict[str, Any]) -> tuple[int, Any]:
        if path == "/myself":
            return 200, {"self": f"{self.url}{self.api}/user?accountId=sync",
                         "accountId": "712020:sync-bot", "emailAddress": self.email,
                         "displayName": "shipwise sync", "active": True,
                         "timeZone": self.world.timezone, "locale": "en_US",
                         "accountType": "atlassian", "groups": {"size": 1, "items": []},
                         "applicationRoles": {"size": 1, "items": []}}
        if path == "/status":
            return 200, [self._status(s) for s in STATUSES]
        if self.edition == "cloud" and path == "/search/approximate-count" and method == "POST":
            return 200, {"count": len(self._matching(str(q.get("jql") or "")))}
        if self.edition == "cloud" and path == "/search/jql":
            return 200, self._search_cloud(q)
        if self.edition == "data_center" and path == "/search":
            return 200, self._search_dc(q)
        m = re.fullmatch(r"/issue/([A-Z]+-\d+)(/changelog)?", path)
        if m:
            issue = self.world.issue(m.group(1))
            if issue is None:
                return 404, {"errorMessages": ["Issue does not exist or you do not have "
                                               "permission to see it."], "errors": {}}
            if m.group(2) and self.edition == "cloud":
                start = int(q.get("startAt") or 0)
                size = min(int(q.get("maxResults") or 100), 100)
                hist = self._histories(issue)
                page = hist[start:start + size]
                return 200, {"self": f"{self.url}{self.api}/issue/{issue.key}/changelog",
                             "maxResults": size, "startAt": start, "total": len(hist),
                             "isLast": start + len(page) >= len(hist), "values": page}
            if not m.group(2):
                return 200, self._issue(issue, _fields(q.get("fields")), _expand(q), limit=None)
        return 404, {"errorMessages": ["Not found"], "errors": {}}

    def _search_cloud(self, q: dict[str, Any]) -> dict[str, Any]:
        jql = str(q.get("jql") or "")
        issues = self._matching(jql)
        size = min(int(q.get("maxResults") or 50), self.max_results)
        token = q.get("nextPageToken")
        start = 0
        if token:
            offset, _, digest = base64.urlsafe_b64decode(str(token)).decode().partition(":")
            if digest != str(zlib.crc32(jql.encode())):
                raise JqlError("The provided next page token is invalid or expired.")
            start = int(offset)
        page = issues[start:start + size]
        fields = _fields(q.get("fields"), default=["id"])
        out: dict[str, Any] = {"issues": [self._issue(i, fields, _expand(q)) for i in page]}
        end = start + len(page)
        if end < len(issues):
            out["nextPageToken"] = base64.urlsafe_b64encode(
                f"{end}:{zlib.crc32(jql.encode())}".encode()).decode()
            out["isLast"] = False
        else:
            out["isLast"] = True
        return out

    def _search_dc(self, q: dict[str, Any]) -> dict[str, Any]:
        issues = self._matching(str(q.get("jql") or ""))
        start = int(q.get("startAt") or 0)
        size = min(int(q.get("maxResults") if q.get("maxResults") is not None else 50),
                   self.max_results)
        page = issues[start:start + size]
        fields = _fields(q.get("fields"), default=["*navigable"])
        return {"expand": "schema,names", "startAt": start, "maxResults": size,
                "total": len(issues),
                "issues": [self._issue(i, fields, _expand(q)) for i in page]}

    # -- JQL -----------------------------------------------------------------------------------

    def _matching(self, jql: str) -> list[Issue]:
        cut = re.search(r"\s+order\s+by\s+", jql, re.IGNORECASE)
        where, order = (jql[:cut.start()], jql[cut.end():]) if cut else (jql, "")
        tests = self._conjunction(where.strip())
        found = [i for i in self.world.issues if all(t(i) for t in tests)]
        if order.strip():
            if not re.fullmatch(r"updated\s+ASC(\s*,\s*key\s+ASC)?", order.strip(), re.I):
                raise JqlError(f"Error in the JQL Query: cannot order by '{order.strip()}'")
            found.sort(key=lambda i: (i.updated, i.project, int(i.key.split("-")[1])))
        else:
            found.sort(key=lambda i: i.created, reverse=True)
        return found

    def _conjunction(self, text: str) -> list[Any]:
        tests = []
        for clause in _split_and(text):
            clause = clause.strip()
            if clause.startswith("(") and _closing(clause, 0) == len(clause) - 1:
                tests += self._conjunction(clause[1:-1])
                continue
            tests.append(self._clause(clause))
        return tests

    def _clause(self, c: str) -> Any:
        m = re.fullmatch(r'project\s*=\s*"?([A-Za-z]+)"?', c, re.I)
        if m:
            key = m.group(1).upper()
            return lambda i: i.project == key
        m = re.fullmatch(r"project\s+in\s*\(([^)]*)\)", c, re.I)
        if m:
            keys = {k.strip().strip('"').upper() for k in m.group(1).split(",")}
            return lambda i: i.project in keys
        m = re.fullmatch(r'issuetype\s*=\s*"?([^"]+)"?', c, re.I)
        if m:
            name = m.group(1).strip().lower()
            return lambda i: i.issuetype.lower() == name
        m = re.fullmatch(r'updated\s*>=\s*"(\d{4}-\d{2}-\d{2} \d{2}:\d{2})"', c, re.I)
        if m:
            bound = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M").replace(
                tzinfo=ZoneInfo(self.world.timezone))
            return lambda i: i.updated >= bound
        raise JqlError(f"Error in the JQL Query: the clause '{c}' is not understood.")

    # -- payloads ------------------------------------------------------------------------------

    def _ts(self, t: datetime | None) -> str | None:
        if t is None:
            return None
        local = t.astimezone(ZoneInfo(self.world.timezone))
        return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}" + \
            local.strftime("%z")

    def _status(self, s: Status) -> dict[str, Any]:
        cid, colour, cname = CATEGORY[s.category]
        return {"self": f"{self.url}{self.api}/status/{s.id}", "description": "",
                "iconUrl": f"{self.url}/images/icons/statuses/generic.png", "name": s.name,
                "untranslatedName": s.name, "id": s.id,
                "statusCategory": {"self": f"{self.url}{self.api}/statuscategory/{cid}",
                                   "id": cid, "key": s.category, "colorName": colour,
                                   "name": cname}}

    def _histories(self, i: Issue) -> list[dict[str, Any]]:
        out = []
        for c in i.changes:
            items = [{"field": "status", "fieldtype": "jira", "fieldId": "status",
                      "from": c.frm.id, "fromString": c.frm.name, "to": c.to.id,
                      "toString": c.to.name}]
            if c.to is PROGRESS and i.assignee is not None:  # people change hands too
                items.insert(0, {"field": "assignee", "fieldtype": "jira", "fieldId": "assignee",
                                 "from": None, "fromString": None,
                                 "to": i.assignee.account_id, "toString": i.assignee.name,
                                 "tmpFromAccountId": None,
                                 "tmpToAccountId": i.assignee.account_id})
            out.append({"id": str(c.id), "author": c.author.json(self.url),
                        "created": self._ts(c.at), "items": items})
        if i.edited is not None:
            out.append({"id": str(i.id * 10), "author": i.reporter.json(self.url),
                        "created": self._ts(i.edited),
                        "items": [{"field": "labels", "fieldtype": "jira", "from": None,
                                   "fromString": "", "to": None, "toString": "edited"}]})
            out.sort(key=lambda h: str(h["created"]))
        return out

    def _issue(self, i: Issue, fields: list[str], expand: list[str],
               limit: int | None = -1) -> dict[str, Any]:
        every = {"*all", "*navigable"} & set(fields)
        name, kind = PROJECTS[i.project]
        values: dict[str, Any] = {
            "summary": f"{i.issuetype} {i.key}",
            "created": self._ts(i.created), "updated": self._ts(i.updated),
            "status": self._status(i.status),
            "priority": {"self": f"{self.url}{self.api}/priority/{PRIORITIES[i.priority][0]}",
                         "iconUrl": "", "name": i.priority, "id": PRIORITIES[i.priority][0]},
            "project": {"self": f"{self.url}{self.api}/project/{i.project}", "id": str(
                10000 + list(PROJECTS).index(i.project)), "key": i.project, "name": name,
                "projectTypeKey": kind, "simplified": False, "avatarUrls": {}},
            "issuetype": {"id": "10001", "name": i.issuetype, "subtask": False},
            "components": [{"self": f"{self.url}{self.api}/component/{n}", "id": str(n),
                            "name": c} for n, c in enumerate(i.components, 10500)],
            "labels": list(i.labels),
            "resolutiondate": self._ts(i.resolved),
            "resolution": {"id": "10000", "name": "Done"} if i.resolved else None,
            "reporter": i.reporter.json(self.url),
            "assignee": i.assignee.json(self.url) if i.assignee else None,
            "creator": i.reporter.json(self.url),
            "issuelinks": [],
            TEAM_FIELD: {"self": f"{self.url}{self.api}/customFieldOption/1", "id": "10100",
                         "value": i.team} if i.team else None,
            CAUSE_FIELD: i.cause,
        }
        chosen = values if every else {k: values[k] for k in fields if k in values}
        out: dict[str, Any] = {"expand": "renderedFields,names,schema,operations,editmeta,"
                                         "changelog,versionedRepresentations",
                               "id": str(i.id), "self": f"{self.url}{self.api}/issue/{i.id}",
                               "key": i.key}
        if fields == ["id"]:
            return {"id": str(i.id)}
        out["fields"] = chosen
        if "changelog" in expand:
            hist = self._histories(i)
            cap = self.changelog_limit if limit == -1 else len(hist)
            out["changelog"] = {"startAt": 0, "maxResults": cap, "total": len(hist),
                                "histories": hist[:cap]}
        return out

    def _send(self, h: BaseHTTPRequestHandler, status: int, result: Any,
              headers: dict[str, str] | None = None, truncate: int | None = None) -> None:
        body = result if isinstance(result, bytes) else json.dumps(result).encode()
        if truncate is not None:
            body = body[:truncate]
        h.send_response(status)
        h.send_header("Content-Type", "application/json;charset=UTF-8")
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)


def _fields(value: Any, default: list[str] | None = None) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str) and value.strip():
        return [v.strip() for v in value.split(",") if v.strip()]
    return list(default or ["*all"])


def _expand(q: dict[str, Any]) -> list[str]:
    value = q.get("expand")
    if isinstance(value, list):
        return [str(v) for v in value]
    return [v.strip() for v in str(value or "").split(",") if v.strip()]


def _split_and(text: str) -> list[str]:
    """``a AND (b AND c) AND "x and y"`` split on the top-level ``AND``s."""
    parts, depth, quoted, start, i = [], 0, False, 0, 0
    while i < len(text):
        ch = text[i]
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and re.match(r"\s+and\s+", text[i:], re.I) and i > start:
            m = re.match(r"\s+and\s+", text[i:], re.I)
            assert m is not None
            parts.append(text[start:i])
            i += m.end()
            start = i
            continue
        i += 1
    parts.append(text[start:])
    return [p for p in parts if p.strip()]


def _closing(text: str, at: int) -> int:
    depth = 0
    for n in range(at, len(text)):
        if text[n] == "(":
            depth += 1
        elif text[n] == ")":
            depth -= 1
            if depth == 0:
                return n
    return -1


def make_source(url: str, token_path: Path, *, edition: str = "cloud",
                **kw: Any) -> JiraSource:
    """A ``JiraSource`` for the fake at ``url`` configured like the world's truth expects
    (teams from the Team field, services from components, blocked statuses, the cause field);
    its token is read from ``token_path`` (``kw`` overrides any setting)."""
    if not token_path.exists():
        token_path.write_text(TOKEN if edition == "cloud" else PAT)
    settings: dict[str, Any] = {
        "kind": "jira", "base_url": url, "edition": edition, "token_env": None,
        "token_file": str(token_path),
        "queries": [{"name": "work", "jql": "project in (PAY, SRCH)", "as": "tickets"},
                    {"name": "incidents", "jql": "project = OPS", "as": "incidents"}],
        "team": {"from": TEAM_FIELD, "map": {"Payments": "payments", "Search": "search"},
                 "default": "platform"},
        "service": {"from": "component", "map": {"Payments API": "pay-api",
                                                 "Search API": "search-api"}},
        "statuses": {"blocked": [s.name for s in STATUSES if s.flow == "blocked"],
                     "blocked_on": {s.name: s.waits_on for s in STATUSES if s.waits_on}},
        "caused_by_field": CAUSE_FIELD,
    }
    if edition == "cloud":
        settings["email"] = EMAIL
    settings.update(kw)
    return JiraSource.model_validate(settings)
