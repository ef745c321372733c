"""A fake GitLab: a real HTTP server on 127.0.0.1 serving a deterministic world in the shapes of
GitLab's REST v4 API (as its API documentation shows them), for the GitLab connector's tests.

::

    world = generate_world(seed=1, projects=3, mrs=50)
    with FakeGitLab(world) as gl:          # gl.url is http://127.0.0.1:PORT
        ... GitLabSource(base_url=gl.url, projects=world.paths(), token_env=...) ...
        gl.fail(r"/merge_requests$", status=429, headers={"Retry-After": "7"})
        gl.requests                          # every request served, in order

What it serves: ``/projects/:id`` (numeric id or URL-encoded path), merge requests with their
commits, notes and approvals, default-branch commits (``with_stats``, ``since``), ``compare``,
deployments, environments, pipelines and their jobs, releases, tags, and
``/personal_access_tokens/self``. Lists paginate with ``Link``, ``X-Next-Page``, ``X-Page``,
``X-Per-Page``, ``X-Total`` and ``X-Total-Pages``; every 200 carries an ``ETag`` and a request
sending it back in ``If-None-Match`` gets 304. ``updated_after`` is inclusive, like GitLab's.

The world's truth, :meth:`World.write_canonical`, is written from the world's own records (which
commits are on the default branch, which deployments went to production and succeeded), never
through the connector's mapping.

``last_activity_at`` is the instant of the newest merge request, note or default-branch commit;
with ``Project.throttle`` it moves at most once in that long, like GitLab's (one hour).
Deployments, pipelines and releases do not move it, as on GitLab.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from shipwise.config import GitLabSource
from shipwise.domain.services import ServiceMap, ServiceTarget

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
TOKEN = "glpat-fake-token-0123456789"


def ts(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass
class User:
    id: int
    username: str
    name: str
    email: str

    def json(self) -> dict[str, Any]:
        return {"id": self.id, "username": self.username, "name": self.name, "state": "active",
                "locked": False, "avatar_url": None,
                "web_url": f"https://gitlab.example.com/{self.username}"}


@dataclass
class Commit:
    sha: str
    parents: list[str]
    author: User
    authored: datetime
    committed: datetime
    additions: int
    deletions: int
    title: str

    def json(self, stats: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.sha, "short_id": self.sha[:8], "created_at": ts(self.committed),
            "parent_ids": list(self.parents), "title": self.title, "message": self.title + "\n",
            "author_name": self.author.name, "author_email": self.author.email,
            "authored_date": ts(self.authored), "committer_name": self.author.name,
            "committer_email": self.author.email, "committed_date": ts(self.committed),
            "trailers": {}, "extended_trailers": {},
            "web_url": f"https://gitlab.example.com/-/commit/{self.sha}"}
        if stats:
            out["stats"] = {"additions": self.additions, "deletions": self.deletions,
                            "total": self.additions + self.deletions}
        return out


@dataclass
class Note:
    id: int
    author: User
    body: str
    system: bool
    created_at: datetime


@dataclass
class MergeRequest:
    id: int
    iid: int
    author: User
    title: str
    created_at: datetime
    updated_at: datetime
    state: str  # opened | merged | closed
    commits: list[str]
    notes: list[Note] = field(default_factory=list)
    approvers: list[User] = field(default_factory=list)
    merged_at: datetime | None = None
    closed_at: datetime | None = None
    merge_commit_sha: str | None = None


@dataclass
class Environment:
    id: int
    name: str
    tier: str
    production: bool  # the world's truth: counts as production under the default rule or tier


@dataclass
class Deployment:
    id: int
    iid: int
    environment: Environment
    status: str  # created | running | success | failed | canceled | skipped | blocked
    sha: str
    ref: str
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    job_id: int
    job_name: str = "deploy"


@dataclass
class Job:
    id: int
    name: str
    stage: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None


@dataclass
class Pipeline:
    id: int
    iid: int
    sha: str
    ref: str
    source: str
    status: str
    created_at: datetime
    updated_at: datetime
    jobs: list[Job]


@dataclass
class Release:
    tag_name: str
    sha: str
    released_at: datetime


@dataclass
class Project:
    id: int
    path: str
    default_branch: str
    #: how this project's production deployments are recorded: deployments | jobs | releases
    mode: str
    service: str | None
    team: str
    commits: dict[str, Commit] = field(default_factory=dict)
    main_tip: str = ""
    mrs: list[MergeRequest] = field(default_factory=list)
    environments: list[Environment] = field(default_factory=list)
    deployments: list[Deployment] = field(default_factory=list)
    pipelines: list[Pipeline] = field(default_factory=list)
    releases: list[Release] = field(default_factory=list)
    created_at: datetime = T0
    #: GitLab's throttle: ``last_activity_at`` moves only to an event at least this long after
    #: its current value (GitLab: one hour). ``None``: every event moves it.
    throttle: timedelta | None = None

    @property
    def last_activity_at(self) -> datetime:
        times = [self.created_at]
        times += [m.updated_at for m in self.mrs]
        times += [n.created_at for m in self.mrs for n in m.notes]
        times += [self.commits[s].committed for s in self.main_shas()]
        if self.throttle is None:
            return max(times)
        shown = min(times)
        for t in sorted(times):
            if t >= shown + self.throttle:
                shown = t
        return shown

    def reachable(self, tip: str | None) -> set[str]:
        seen: set[str] = set()
        todo = [tip] if tip else []
        while todo:
            sha = todo.pop()
            if sha in seen or sha not in self.commits:
                continue
            seen.add(sha)
            todo.extend(self.commits[sha].parents)
        return seen

    def main_shas(self) -> list[str]:
        """Default-branch commits, newest first (by commit time, then sha)."""
        shas = self.reachable(self.main_tip)
        return sorted(shas, key=lambda s: (self.commits[s].committed, s), reverse=True)

    def compare(self, old: str | None, new: str) -> list[str]:
        """Commits reachable from ``new`` but not ``old``, oldest first."""
        fresh = self.reachable(new) - self.reachable(old)
        return sorted(fresh, key=lambda s: (self.commits[s].committed, s))

    def json(self) -> dict[str, Any]:
        ns, _, name = self.path.rpartition("/")
        return {
            "id": self.id, "description": None, "name": name, "name_with_namespace": self.path,
            "path": name, "path_with_namespace": self.path, "created_at": ts(self.created_at),
            "default_branch": self.default_branch, "tag_list": [], "topics": [],
            "ssh_url_to_repo": f"git@gitlab.example.com:{self.path}.git",
            "http_url_to_repo": f"https://gitlab.example.com/{self.path}.git",
            "web_url": f"https://gitlab.example.com/{self.path}", "readme_url": None,
            "forks_count": 0, "avatar_url": None, "star_count": 0,
            "last_activity_at": ts(self.last_activity_at), "visibility": "private",
            "namespace": {"id": 1, "name": ns, "path": ns.rsplit("/", 1)[-1], "kind": "group",
                          "full_path": ns},
            "archived": False, "empty_repo": False,
        }


@dataclass
class World:
    projects: list[Project]
    users: list[User]
    #: incidents caused by some production deployments: (id, service, deployment id, opened, resolved)
    incidents: list[tuple[str, str, str, datetime, datetime]] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: iter(range(10_000, 10**9)))

    def paths(self) -> list[str]:
        return [p.path for p in self.projects]

    def project(self, key: str) -> Project | None:
        for p in self.projects:
            if str(p.id) == key or p.path == key:
                return p
        return None

    def next_id(self) -> int:
        return next(self._ids)

    # -- the truth ----------------------------------------------------------------------------

    def production_deployments(self, project: Project) -> list[dict[str, Any]]:
        """The project's production deployments as the world knows them (canonical records)."""
        events: list[tuple[datetime, str, str, str, datetime, str | None]] = []
        # (finished, kind/key, status, sha, started, version)
        if project.mode == "deployments":
            for d in project.deployments:
                if d.environment.production and d.status in ("success", "failed"):
                    assert d.finished_at is not None and d.started_at is not None
                    events.append((d.finished_at, f"deployment/{d.id}", d.status, d.sha,
                                   d.started_at, None))
        elif project.mode == "jobs":
            for pl in project.pipelines:
                if pl.ref != project.default_branch:
                    continue
                for j in pl.jobs:
                    if j.name == "deploy-prod" and j.status in ("success", "failed"):
                        assert j.finished_at is not None and j.started_at is not None
                        events.append((j.finished_at, f"job/{j.id}", j.status, pl.sha,
                                       j.started_at, None))
        else:
            for r in project.releases:
                events.append((r.released_at, f"release/{r.tag_name}", "success", r.sha,
                               r.released_at, r.tag_name))
        events.sort(key=lambda e: (e[0], e[1]))
        out: list[dict[str, Any]] = []
        previous: str | None = None
        for finished, key, status, sha, started, version in events:
            if status == "success":
                shipped = project.compare(previous, sha) if previous else [sha]
                previous = sha
            else:
                shipped = [sha]
            out.append({"type": "deployment", "id": f"{project.path}/{key}",
                        "service": project.service or project.path, "environment": "production",
                        "started_at": ts(started), "finished_at": ts(finished),
                        "status": "success" if status == "success" else "failure",
                        "commits": shipped, **({"version": version} if version else {})})
        return out

    def canonical(self) -> dict[str, list[dict[str, Any]]]:
        """The world as canonical records, by file: ``org`` (org units, teams, services with
        their repo, people), ``delivery`` (commits, pull requests, deployments), ``incidents``."""
        org: list[dict[str, Any]] = [{"type": "org_unit", "id": "eng", "name": "Engineering"}]
        teams = sorted({p.team for p in self.projects})
        for t in teams:
            org.append({"type": "team", "id": t, "name": t.title(), "org_unit": "eng",
                        "delivery_unit": "deployments"})
        for p in self.projects:
            if p.service:
                org.append({"type": "service", "id": p.service, "name": p.service,
                            "team": p.team, "repo": p.path})
        for i, u in enumerate(self.users):
            org.append({"type": "person", "id": u.username, "team": teams[i % len(teams)],
                        "since": "2024-01-01"})
        delivery: list[dict[str, Any]] = []
        for p in self.projects:
            for sha in reversed(p.main_shas()):
                c = p.commits[sha]
                delivery.append({"type": "commit", "sha": sha, "repo": p.path,
                                 "author": c.author.email, "authored_at": ts(c.authored),
                                 "committed_at": ts(c.committed), "additions": c.additions,
                                 "deletions": c.deletions, "parents": c.parents})
            for m in p.mrs:
                reviews = [n.created_at for n in m.notes if n.author.id != m.author.id and (
                    not n.system or n.body.startswith("approved this merge request"))]
                rec: dict[str, Any] = {
                    "type": "pull_request", "id": f"{p.path}!{m.iid}", "repo": p.path,
                    "number": m.iid, "author": m.author.username, "created_at": ts(m.created_at),
                    "first_commit_at": ts(min(p.commits[s].authored for s in m.commits)),
                    "commits": m.commits + ([m.merge_commit_sha] if m.merge_commit_sha else []),
                }
                if reviews:
                    rec["first_review_at"] = ts(min(reviews))
                if m.merged_at:
                    rec["merged_at"] = rec["closed_at"] = ts(m.merged_at)
                elif m.closed_at:
                    rec["closed_at"] = ts(m.closed_at)
                delivery.append(rec)
            delivery += self.production_deployments(p)
        incidents = [{"type": "incident", "id": i, "service": s, "severity": "sev2",
                      "opened_at": ts(o), "resolved_at": ts(r), "caused_by": d}
                     for i, s, d, o, r in self.incidents]
        return {"org": org, "delivery": delivery, "incidents": incidents}

    def write_canonical(self, folder: Path) -> dict[str, Path]:
        """Write :meth:`canonical` as ``org.jsonl``, ``delivery.jsonl`` and ``incidents.jsonl``."""
        folder.mkdir(parents=True, exist_ok=True)
        out = {}
        for name, records in self.canonical().items():
            path = folder / f"{name}.jsonl"
            path.write_text("".join(json.dumps(r) + "\n" for r in records))
            out[name] = path
        return out


# -- generation --------------------------------------------------------------------------------

def _sha(rng: random.Random) -> str:
    return f"{rng.getrandbits(160):040x}"


def generate_world(seed: int = 1, projects: int = 3, mrs: int = 50,
                   modes: tuple[str, ...] = ("deployments", "jobs", "releases"),
                   unmapped: bool = False, pending: bool = True) -> World:
    """A deterministic world: ``projects`` projects of ``mrs`` merge requests each, cycling
    through ``modes``. With ``unmapped``, the last project has no service in the organisation;
    with ``pending``, the last production deployment (or deploy job) is still running."""
    rng = random.Random(seed)
    users = [User(100 + i, f"dev{i}", f"Dev {i}", f"dev{i}@example.com") for i in range(8)]
    world = World([], users)
    for n in range(projects):
        mode = modes[n % len(modes)]
        path = f"acme/team{n % 2}/svc-{n}"
        service = None if unmapped and n == projects - 1 else f"svc-{n}"
        p = Project(id=500 + n, path=path, default_branch="main", mode=mode, service=service,
                    team=f"team{n % 2}")
        _fill(world, p, rng, mrs, pending)
        world.projects.append(p)
    return world


def _commit(world: World, p: Project, rng: random.Random, parents: list[str], author: User,
            when: datetime, title: str, merge: bool = False) -> str:
    sha = _sha(rng)
    p.commits[sha] = Commit(sha, parents, author, when - timedelta(minutes=rng.randint(0, 30)),
                            when, 0 if merge else rng.randint(1, 200),
                            0 if merge else rng.randint(0, 80), title)
    return sha


def _fill(world: World, p: Project, rng: random.Random, n_mrs: int, pending: bool) -> None:
    t = T0 + timedelta(hours=p.id - 500)
    p.main_tip = _commit(world, p, rng, [], world.users[0], t, "initial commit")
    prod = Environment(world.next_id(), ["production", "prod-eu", "live"][p.id % 3], "production",
                       True)
    staging = Environment(world.next_id(), "staging", "staging", False)
    if p.mode == "deployments":
        p.environments = [prod, staging]
    merged_since_deploy = 0
    for iid in range(1, n_mrs + 1):
        t += timedelta(hours=rng.randint(2, 9))
        add_merge_request(world, p, rng, iid, t, final=iid > n_mrs - 3)
        m = p.mrs[-1]
        if m.state == "merged":
            merged_since_deploy += 1
            t = max(t, m.merged_at or t)
        if merged_since_deploy >= 3 or (iid == n_mrs and merged_since_deploy):
            t += timedelta(minutes=30)
            add_production_deploy(world, p, rng, t)
            merged_since_deploy = 0
    if pending and p.mode != "releases":  # a fix pushed to the default branch, being deployed
        t += timedelta(hours=1)
        p.main_tip = _commit(world, p, rng, [p.main_tip], world.users[1], t, "hotfix")
        t += timedelta(minutes=10)
        add_production_deploy(world, p, rng, t, status="running")
    if p.mode == "deployments":  # a staging deployment and a canceled production one
        t += timedelta(hours=1)
        for env, status in ((staging, "success"), (prod, "canceled")):
            p.deployments.append(Deployment(
                world.next_id(), len(p.deployments) + 1, env, status, p.main_tip, "main", t, t, t,
                t, world.next_id()))
    # incidents: the second successful production deployment of each mapped project
    prod_deps = [d for d in world.production_deployments(p) if d["status"] == "success"]
    if p.service and len(prod_deps) > 2:
        d = prod_deps[1]
        opened = datetime.fromisoformat(d["finished_at"].replace("Z", "+00:00")) + timedelta(hours=1)
        world.incidents.append((f"inc-{p.id}", p.service, d["id"], opened, opened + timedelta(hours=3)))


def add_merge_request(world: World, p: Project, rng: random.Random, iid: int, t: datetime,
                      final: bool = False) -> MergeRequest:
    """A merge request opened at ``t`` off the default branch: merged (with a merge commit),
    closed, or (``final``) still open."""
    author = rng.choice(world.users)
    base = p.main_tip
    shas: list[str] = []
    for k in range(rng.randint(1, 3)):
        shas.append(_commit(world, p, rng, [shas[-1] if shas else base], author,
                            t - timedelta(hours=3) + timedelta(minutes=20 * k), f"change {iid}.{k}"))
    state = "opened" if final else ("closed" if rng.random() < 0.1 else "merged")
    m = MergeRequest(world.next_id(), iid, author, f"MR {iid}", t, t, state, shas)
    reviewer = rng.choice([u for u in world.users if u.id != author.id])
    kind = rng.random()
    nt = t + timedelta(minutes=rng.randint(10, 240))
    m.notes.append(Note(world.next_id(), author, "added 1 commit", True, t + timedelta(minutes=1)))
    m.notes.append(Note(world.next_id(), author, "self note", False, t + timedelta(minutes=2)))
    if kind < 0.45:
        m.notes.append(Note(world.next_id(), reviewer, "Looks good, one nit", False, nt))
    elif kind < 0.8:
        m.notes.append(Note(world.next_id(), reviewer, "approved this merge request", True, nt))
        m.approvers.append(reviewer)
    # else: nobody reviewed
    end = nt + timedelta(minutes=rng.randint(5, 120))
    if state == "merged":
        m.merged_at = end
        m.merge_commit_sha = _commit(world, p, rng, [p.main_tip, shas[-1]], author, end,
                                     f"Merge branch 'mr-{iid}' into 'main'", merge=True)
        p.main_tip = m.merge_commit_sha
    elif state == "closed":
        m.closed_at = end
    m.updated_at = end if state != "opened" else nt
    p.mrs.append(m)
    return m


def add_production_deploy(world: World, p: Project, rng: random.Random, t: datetime,
                          status: str | None = None) -> None:
    """Deploy the default branch's tip to production at ``t``, the way ``p.mode`` records it."""
    roll = rng.random()
    status = status or ("failed" if roll < 0.15 else "success")
    done = status in ("success", "failed")
    end = t + timedelta(minutes=rng.randint(3, 20))
    if p.mode == "deployments":
        env = p.environments[0]
        p.deployments.append(Deployment(
            world.next_id(), len(p.deployments) + 1, env, status, p.main_tip, "main", t,
            end if done else t, t, end if done else None, world.next_id()))
        if status == "failed":  # fixed and deployed again
            again = end + timedelta(minutes=30)
            p.deployments.append(Deployment(
                world.next_id(), len(p.deployments) + 1, env, "success", p.main_tip, "main",
                again, again + timedelta(minutes=5), again, again + timedelta(minutes=5),
                world.next_id()))
    elif p.mode == "jobs":
        jobs = [Job(world.next_id(), "build", "build", "success", t, t + timedelta(minutes=2)),
                Job(world.next_id(), "deploy-staging", "deploy", "success", t, t),
                Job(world.next_id(), "deploy-prod", "deploy", status, t, end if done else None)]
        pl_status = {"success": "success", "failed": "failed"}.get(status, "running")
        p.pipelines.append(Pipeline(world.next_id(), len(p.pipelines) + 1, p.main_tip, "main",
                                    "push", pl_status, t, end if done else t, jobs))
        # a merge-request pipeline whose deploy job is skipped: never a deployment
        p.pipelines.append(Pipeline(world.next_id(), len(p.pipelines) + 1, p.main_tip, "mr-x",
                                    "merge_request_event", "success", t, t,
                                    [Job(world.next_id(), "deploy-prod", "deploy", "skipped",
                                         None, None)]))
    else:
        p.releases.append(Release(f"v1.{len(p.releases)}.0", p.main_tip, end))


# -- the server --------------------------------------------------------------------------------

@dataclass
class Fault:
    pattern: str
    status: int = 500
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    #: serve the real answer cut to this many bytes instead of an error status
    truncate: int | None = None


class FakeGitLab:
    """The fake server over ``world`` (see the module docstring). ``token`` is the only token
    it accepts; ``scopes`` are the token's (without ``read_api``/``api`` every API call but
    ``/personal_access_tokens/self`` answers 403 ``insufficient_scope``)."""

    def __init__(self, world: World, *, token: str = TOKEN,
                 scopes: tuple[str, ...] = ("read_api",), per_page_max: int = 100,
                 rate_limit: int = 2000) -> None:
        self.world = world
        self.token = token
        self.scopes = list(scopes)
        self.per_page_max = per_page_max
        self.rate_limit = rate_limit
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str]] = []  # (path, query)
        self.lock = threading.Lock()
        self.hidden: set[str] = set()  # project paths answering 404
        self.links = True  # False: no Link header (a proxy stripping it), X-Next-Page only
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def fail(self, pattern: str, status: int = 500, *, times: int = 1,
             headers: dict[str, str] | None = None, body: bytes | None = None,
             truncate: int | None = None) -> None:
        """The next ``times`` requests whose path matches ``pattern`` (a regex searched in the
        path after ``/api/v4``) answer ``status`` (or, with ``truncate``, the real body cut)."""
        with self.lock:
            self.faults.append(Fault(pattern, status, times, dict(headers or {}), body, truncate))

    def count(self, pattern: str = "") -> int:
        with self.lock:
            return sum(1 for path, _ in self.requests if re.search(pattern, path))

    def reset_counts(self) -> None:
        with self.lock:
            self.requests.clear()

    def __enter__(self) -> FakeGitLab:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- serving -------------------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        path = parts.path.removeprefix("/api/v4")
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        with self.lock:
            self.requests.append((path, parts.query))
            fault = next((f for f in self.faults if f.times > 0 and re.search(f.pattern, path)),
                         None)
            if fault is not None:
                fault.times -= 1
        if fault is not None and fault.truncate is None:
            body = fault.body if fault.body is not None else json.dumps(
                {"message": f"{fault.status} fault"}).encode()
            self._send(h, fault.status, body, fault.headers)
            return
        if h.headers.get("PRIVATE-TOKEN") != self.token:
            self._send(h, 401, b'{"message":"401 Unauthorized"}')
            return
        if path == "/personal_access_tokens/self":
            self._json(h, query, parts, {
                "id": 42, "name": "shipwise", "revoked": False, "created_at": ts(T0),
                "description": None, "scopes": self.scopes, "user_id": 7, "last_used_at": None,
                "active": True, "expires_at": "2027-01-01"})
            return
        if not {"read_api", "api"} & set(self.scopes):
            self._send(h, 403, json.dumps({
                "error": "insufficient_scope",
                "error_description": "The request requires higher privileges than provided by "
                                     "the access token.", "scope": "api read_api"}).encode())
            return
        try:
            result = self._route(path, query)
        except KeyError:
            result = None
        if result is None:
            self._send(h, 404, b'{"message":"404 Not Found"}')
            return
        self._json(h, query, parts, result, truncate=fault.truncate if fault else None)

    def _route(self, path: str, q: dict[str, str]) -> Any:
        m = re.fullmatch(r"/projects/([^/]+)(/.*)?", path)
        if not m:
            return None
        project = self.world.project(unquote(m.group(1)))
        if project is None or project.path in self.hidden:
            return None
        rest = m.group(2) or ""
        p = project
        if rest == "":
            return p.json()
        if rest == "/merge_requests":
            mrs = [x for x in p.mrs if _after(x.updated_at, q.get("updated_after"))]
            mrs.sort(key=lambda x: (x.updated_at, x.iid), reverse=q.get("sort") != "asc")
            return [self._mr(p, x) for x in mrs]
        mr = re.fullmatch(r"/merge_requests/(\d+)/(commits|notes|approvals)", rest)
        if mr:
            x = next(y for y in p.mrs if y.iid == int(mr.group(1)))
            if mr.group(2) == "commits":
                return [p.commits[s].json() for s in reversed(x.commits)]
            if mr.group(2) == "notes":
                notes = sorted(x.notes, key=lambda n: (n.created_at, n.id),
                               reverse=q.get("sort") != "asc")
                return [{"id": n.id, "type": None, "body": n.body, "attachment": None,
                         "author": n.author.json(), "created_at": ts(n.created_at),
                         "updated_at": ts(n.created_at), "system": n.system,
                         "noteable_id": x.id, "noteable_type": "MergeRequest",
                         "project_id": p.id, "resolvable": False, "confidential": False,
                         "internal": False, "noteable_iid": x.iid, "commands_changes": {}}
                        for n in notes]
            return {"id": x.id, "iid": x.iid, "project_id": p.id, "title": x.title,
                    "state": x.state, "created_at": ts(x.created_at),
                    "updated_at": ts(x.updated_at), "merge_status": "can_be_merged",
                    "approved": bool(x.approvers), "approvals_required": 0,
                    "approvals_left": 0, "require_password_to_approve": False,
                    "approved_by": [{"user": u.json()} for u in x.approvers],
                    "suggested_approvers": [], "approvers": [], "approver_groups": [],
                    "user_has_approved": False, "user_can_approve": False}
        br = re.fullmatch(r"/repository/branches/(.+)", rest)
        if br:
            if unquote(br.group(1)) != p.default_branch:
                return None
            return {"name": p.default_branch, "merged": False, "protected": True,
                    "default": True, "developers_can_push": False,
                    "developers_can_merge": False, "can_push": False,
                    "web_url": f"https://gitlab.example.com/{p.path}/-/tree/main",
                    "commit": p.commits[p.main_tip].json()}
        if rest == "/repository/commits":
            ref = q.get("ref_name", p.default_branch)
            tip = p.main_tip if ref == p.default_branch else ref
            if tip not in p.commits:
                return None
            since = q.get("since")
            shas = sorted((s for s in p.reachable(tip) if _after(p.commits[s].committed, since)),
                          key=lambda s: (p.commits[s].committed, s), reverse=True)
            return [p.commits[s].json(stats=q.get("with_stats") == "true") for s in shas]
        if rest == "/repository/compare":
            new = q["to"]
            shas = p.compare(q.get("from"), new)
            return {"commit": p.commits[new].json() if new in p.commits else None,
                    "commits": [p.commits[s].json() for s in shas], "diffs": [],
                    "compare_timeout": False, "compare_same_ref": q.get("from") == new,
                    "web_url": f"https://gitlab.example.com/{p.path}/-/compare"}
        if rest == "/environments":
            return [{"id": e.id, "name": e.name, "slug": e.name, "external_url": None,
                     "state": "available", "tier": e.tier, "created_at": ts(T0),
                     "updated_at": ts(T0)} for e in p.environments]
        if rest == "/deployments":
            deps = [d for d in p.deployments if _after(d.updated_at, q.get("updated_after"))]
            deps.sort(key=lambda d: (d.updated_at, d.id), reverse=q.get("sort") != "asc")
            return [self._deployment(p, d) for d in deps]
        if rest == "/pipelines":
            pls = [x for x in p.pipelines if _after(x.updated_at, q.get("updated_after"))
                   and (not q.get("ref") or x.ref == q["ref"])]
            pls.sort(key=lambda x: (x.updated_at, x.id), reverse=q.get("sort") != "asc")
            return [{"id": x.id, "iid": x.iid, "project_id": p.id, "sha": x.sha, "ref": x.ref,
                     "status": x.status, "source": x.source, "created_at": ts(x.created_at),
                     "updated_at": ts(x.updated_at), "name": None,
                     "web_url": f"https://gitlab.example.com/{p.path}/-/pipelines/{x.id}"}
                    for x in pls]
        pj = re.fullmatch(r"/pipelines/(\d+)/jobs", rest)
        if pj:
            pl = next(x for x in p.pipelines if x.id == int(pj.group(1)))
            return [self._job(p, pl, j) for j in pl.jobs]
        if rest == "/releases":
            rels = sorted(p.releases, key=lambda r: r.released_at, reverse=q.get("sort") != "asc")
            return [{"tag_name": r.tag_name, "description": "", "name": r.tag_name,
                     "created_at": ts(r.released_at), "released_at": ts(r.released_at),
                     "upcoming_release": False, "author": self.world.users[0].json(),
                     "commit": p.commits[r.sha].json(), "milestones": [],
                     "commit_path": f"/{p.path}/-/commit/{r.sha}",
                     "tag_path": f"/{p.path}/-/tags/{r.tag_name}",
                     "assets": {"count": 0, "sources": [], "links": []}, "evidences": [],
                     "_links": {}} for r in rels]
        if rest == "/repository/tags":
            return [{"name": r.tag_name, "message": "", "target": r.sha,
                     "commit": p.commits[r.sha].json(), "release": None, "protected": False,
                     "created_at": ts(r.released_at)} for r in p.releases]
        return None

    def _mr(self, p: Project, x: MergeRequest) -> dict[str, Any]:
        return {
            "id": x.id, "iid": x.iid, "project_id": p.id, "title": x.title, "description": "",
            "state": x.state, "created_at": ts(x.created_at), "updated_at": ts(x.updated_at),
            "merged_by": None, "merge_user": None, "merged_at": ts(x.merged_at),
            "closed_by": None, "closed_at": ts(x.closed_at), "target_branch": p.default_branch,
            "source_branch": f"mr-{x.iid}", "user_notes_count": len(x.notes), "upvotes": 0,
            "downvotes": 0, "author": x.author.json(), "assignees": [], "reviewers": [],
            "source_project_id": p.id, "target_project_id": p.id, "labels": [], "draft": False,
            "work_in_progress": False, "milestone": None, "merge_when_pipeline_succeeds": False,
            "merge_status": "can_be_merged", "detailed_merge_status": "mergeable",
            "sha": x.commits[-1], "merge_commit_sha": x.merge_commit_sha,
            "squash_commit_sha": None, "discussion_locked": None,
            "should_remove_source_branch": None, "force_remove_source_branch": True,
            "reference": f"!{x.iid}",
            "references": {"short": f"!{x.iid}", "relative": f"!{x.iid}",
                           "full": f"{p.path}!{x.iid}"},
            "web_url": f"https://gitlab.example.com/{p.path}/-/merge_requests/{x.iid}",
            "time_stats": {"time_estimate": 0, "total_time_spent": 0}, "squash": False,
            "task_completion_status": {"count": 0, "completed_count": 0},
            "has_conflicts": False, "blocking_discussions_resolved": True,
        }

    def _job(self, p: Project, pl: Pipeline, j: Job) -> dict[str, Any]:
        return {"id": j.id, "status": j.status, "stage": j.stage, "name": j.name, "ref": pl.ref,
                "tag": False, "coverage": None, "allow_failure": False,
                "created_at": ts(pl.created_at), "started_at": ts(j.started_at),
                "finished_at": ts(j.finished_at), "duration": None, "queued_duration": None,
                "user": self.world.users[0].json(), "commit": p.commits[pl.sha].json(),
                "pipeline": {"id": pl.id, "project_id": p.id, "ref": pl.ref, "sha": pl.sha,
                             "status": pl.status},
                "web_url": f"https://gitlab.example.com/{p.path}/-/jobs/{j.id}",
                "artifacts": [], "runner": None}

    def _deployment(self, p: Project, d: Deployment) -> dict[str, Any]:
        job = {"id": d.job_id, "status": d.status if d.status != "created" else "created",
               "stage": "deploy", "name": d.job_name, "ref": d.ref, "tag": False,
               "coverage": None, "created_at": ts(d.created_at), "started_at": ts(d.started_at),
               "finished_at": ts(d.finished_at), "duration": None,
               "user": self.world.users[0].json(), "commit": p.commits[d.sha].json(),
               "pipeline": {"id": d.job_id + 1, "sha": d.sha, "ref": d.ref,
                            "status": d.status}, "runner": None, "artifacts": []}
        return {"id": d.id, "iid": d.iid, "ref": d.ref, "sha": d.sha,
                "created_at": ts(d.created_at), "updated_at": ts(d.updated_at),
                "finished_at": ts(d.finished_at), "status": d.status,
                "user": self.world.users[0].json(),
                "environment": {"id": d.environment.id, "name": d.environment.name,
                                "external_url": None},
                "deployable": job}

    def _json(self, h: BaseHTTPRequestHandler, q: dict[str, str], parts: Any, result: Any,
              truncate: int | None = None) -> None:
        headers: dict[str, str] = {}
        if isinstance(result, list):
            per_page = min(int(q.get("per_page") or 20), self.per_page_max)
            page = max(1, int(q.get("page") or 1))
            total = len(result)
            pages = max(1, -(-total // per_page))
            result = result[(page - 1) * per_page: page * per_page]
            headers.update({"X-Page": str(page), "X-Per-Page": str(per_page),
                            "X-Total": str(total), "X-Total-Pages": str(pages),
                            "X-Prev-Page": str(page - 1) if page > 1 else "",
                            "X-Next-Page": str(page + 1) if page < pages else ""})
            base = f"{self.url}{parts.path}?"
            links = []
            if page < pages:
                links.append(f'<{base}{urlencode({**q, "page": page + 1, "per_page": per_page})}>; rel="next"')
            links.append(f'<{base}{urlencode({**q, "page": 1, "per_page": per_page})}>; rel="first"')
            links.append(f'<{base}{urlencode({**q, "page": pages, "per_page": per_page})}>; rel="last"')
            if self.links:
                headers["Link"] = ", ".join(links)
        body = json.dumps(result).encode()
        etag = 'W/"' + hashlib.sha1(body).hexdigest() + '"'
        headers["ETag"] = etag
        headers.update({"RateLimit-Limit": str(self.rate_limit),
                        "RateLimit-Remaining": str(self.rate_limit - len(self.requests)),
                        "RateLimit-Reset": "1767225600"})
        if h.headers.get("If-None-Match") == etag and truncate is None:
            self._send(h, 304, b"", headers)
            return
        if truncate is not None:
            body = body[:truncate]
        self._send(h, 200, body, headers)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, body: bytes,
              headers: dict[str, str] | None = None) -> None:
        h.send_response(status)
        if status != 304:
            h.send_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if body and status != 304:
            h.wfile.write(body)


def _after(when: datetime, bound: str | None) -> bool:
    if not bound:
        return True
    limit = datetime.fromisoformat(bound.replace("Z", "+00:00"))
    return when >= limit


def fake_gitlab(world: World, **kw: Any) -> Callable[[], FakeGitLab]:
    """A factory for pytest fixtures: ``with fake_gitlab(world)() as gl``."""
    return lambda: FakeGitLab(world, **kw)


def make_source(url: str, projects: list[str], token_file: Path, **kw: Any) -> GitLabSource:
    """A ``GitLabSource`` for the fake at ``url`` whose token is read from ``token_file``."""
    if not token_file.exists():
        token_file.write_text(TOKEN)
    return GitLabSource(base_url=url, projects=projects, token_env=None, token_file=token_file,
                        **kw)


def service_map(world: World) -> ServiceMap:
    """The organisation's map of the world (each project's service, by its repository)."""
    mapped = [p for p in world.projects if p.service]
    return ServiceMap(tuple(ServiceTarget(str(p.service), p.path) for p in mapped),
                      frozenset(str(p.service) for p in mapped))
