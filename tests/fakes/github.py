"""A fake GitHub: a real HTTP server on 127.0.0.1 serving a deterministic generated
:class:`World` of repositories in GitHub's payload shapes.

REST objects (``/repos``, ``/rate_limit``, ``/compare``, ``/actions/runs``, ``/jobs``,
``/releases``) and GraphQL (``POST /graphql``), where the query is executed with graphql-core
against ``github_schema.graphql`` — a subset of GitHub's public schema with its real names — so a
query GitHub would reject is rejected here. Link-header pagination, GraphQL ``pageInfo``
cursors, ``ETag``/``If-None-Match`` → 304, ``X-OAuth-Scopes``, ``X-RateLimit-*``, request
counting, and per-test fault injection (:meth:`FakeGitHub.fail`).

The world also writes itself as canonical files (:meth:`World.write_canonical`), computed from
its own truth (which deployment shipped which commits is decided here, not by the connector's
mapping), so a test can compare syncing through the fake with importing the files.

Usage::

    world = World.generate(repos=3, prs=60)
    with FakeGitHub(world) as gh:
        source = GitHubSource(base_url=gh.base_url, repos=world.names, token_env="GH_TOKEN")
        ...
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import graphql

SCHEMA_FILE = Path(__file__).with_name("github_schema.graphql")
START = datetime(2026, 7, 1, tzinfo=UTC)


def iso(at: datetime | None) -> str | None:
    return None if at is None else _iso(at)


@lru_cache(maxsize=1 << 20)
def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sha(*parts: object) -> str:
    return hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()


# -- the world ------------------------------------------------------------------------------------

@dataclass
class Commit:
    sha: str
    email: str | None
    login: str | None
    authored: datetime
    committed: datetime
    additions: int
    deletions: int
    files: int
    parents: list[str]


@dataclass
class Review:
    login: str
    state: str  # APPROVED, COMMENTED, CHANGES_REQUESTED, PENDING
    submitted: datetime | None


@dataclass
class PullRequest:
    number: int
    author: str | None  # login; None: a deleted account ("ghost")
    bot: bool
    created: datetime
    updated: datetime
    merged: datetime | None
    closed: datetime | None
    commits: list[str]
    reviews: list[Review]
    merge_sha: str | None = None
    labels: list[str] = field(default_factory=list)


@dataclass
class Deployment:
    id: int
    environment: str
    sha: str
    created: datetime
    statuses: list[tuple[str, datetime]]  # (GraphQL state, at), oldest first
    task: str = "deploy"


@dataclass
class Job:
    id: int
    name: str
    status: str
    conclusion: str | None
    started: datetime
    completed: datetime | None


@dataclass
class Run:
    id: int
    name: str
    branch: str
    sha: str
    created: datetime
    status: str
    conclusion: str | None
    updated: datetime
    jobs: list[Job]


@dataclass
class Release:
    id: int
    tag: str
    created: datetime
    published: datetime | None
    draft: bool = False
    prerelease: bool = False


@dataclass
class Repo:
    owner: str
    name: str
    index: int
    #: how this repository deploys: "deployments", "workflow" or "releases"
    mode: str
    team: str
    default_branch: str = "main"
    commits: dict[str, Commit] = field(default_factory=dict)
    #: the default branch's first-parent line, oldest first
    main: list[str] = field(default_factory=list)
    #: commits each main-line commit brought in (itself last)
    introduced: list[list[str]] = field(default_factory=list)
    prs: list[PullRequest] = field(default_factory=list)
    deployments: list[Deployment] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    releases: list[Release] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)  # name -> sha
    pushed: datetime = START
    version: int = 0  # bump on every change: the caches below are kept per version
    _cache: dict[tuple[str, int], Any] = field(default_factory=dict, repr=False)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def service(self) -> str:
        return self.name

    def main_index(self) -> dict[str, int]:
        key = ("main", self.version)
        if key not in self._cache:
            self._cache[key] = {sha: i for i, sha in enumerate(self.main)}
        found: dict[str, int] = self._cache[key]
        return found

    def between(self, base: str, head: str) -> list[str] | None:
        """Commits reachable from ``head`` and not from ``base``, oldest first (both on the main
        line; None otherwise)."""
        idx = self.main_index()
        if base not in idx or head not in idx:
            return None
        out: list[str] = []
        for k in range(idx[base] + 1, idx[head] + 1):
            out.extend(self.introduced[k])
        return out

    def reachable_sorted(self) -> list[Commit]:
        """Every commit reachable from the default branch, newest commit date first."""
        key = ("reach", self.version)
        if key not in self._cache:
            shas = [s for group in self.introduced for s in group]
            self._cache[key] = sorted((self.commits[s] for s in shas),
                                      key=lambda c: (c.committed, c.sha), reverse=True)
        found: list[Commit] = self._cache[key]
        return found


PEOPLE = [f"dev{i:02d}" for i in range(12)]


@dataclass
class World:
    repos: list[Repo]
    owner: str = "acme"

    @property
    def names(self) -> list[str]:
        return [r.full_name for r in self.repos]

    def repo(self, full_name: str) -> Repo | None:
        for r in self.repos:
            if r.full_name.lower() == full_name.lower():
                return r
        return None

    @classmethod
    def generate(cls, repos: int = 3, prs: int = 60, seed: int = 1, owner: str = "acme",
                 modes: tuple[str, ...] = ("deployments", "workflow", "releases")) -> World:
        rng = random.Random(seed)
        world = cls([], owner)
        for r in range(repos):
            world.repos.append(_generate_repo(rng, owner, r, prs, modes[r % len(modes)]))
        return world

    # -- changes (for incremental syncs) -----------------------------------------------------

    def add_review(self, full_name: str, number: int, login: str, at: datetime) -> None:
        repo = self.repo(full_name)
        assert repo is not None
        pr = next(p for p in repo.prs if p.number == number)
        pr.reviews.append(Review(login, "APPROVED", at))
        pr.updated = max(pr.updated, at)
        repo.version += 1

    # -- truth as canonical files ------------------------------------------------------------

    def canonical_org(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [{"type": "org_unit", "id": "eng", "name": "Engineering"}]
        for team in sorted({r.team for r in self.repos}):
            out.append({"type": "team", "id": team, "name": team.title(), "org_unit": "eng",
                        "delivery_unit": "deployments"})
        for r in self.repos:
            out.append({"type": "service", "id": r.service, "name": r.service, "team": r.team,
                        "repo": r.full_name})
        return out

    def canonical_records(self) -> Iterator[dict[str, Any]]:
        yield from self.canonical_org()
        for r in self.repos:
            for c in r.commits.values():
                yield {"type": "commit", "sha": c.sha, "repo": r.full_name,
                       "author": c.email or c.login, "authored_at": iso(c.authored),
                       "committed_at": iso(c.committed), "additions": c.additions,
                       "deletions": c.deletions, "files_changed": c.files, "parents": c.parents}
            for p in r.prs:
                cs = [r.commits[s] for s in p.commits]
                reviews = [v.submitted for v in p.reviews
                           if v.state != "PENDING" and v.submitted is not None
                           and v.login != p.author]
                yield {"type": "pull_request", "id": f"truth-{r.name}-{p.number}",
                       "repo": r.full_name, "number": p.number,
                       "author": (f"{p.author}[bot]" if p.bot else p.author),
                       "created_at": iso(p.created),
                       "first_commit_at": iso(min(c.authored for c in cs)),
                       "first_review_at": iso(min(reviews)) if reviews else None,
                       "merged_at": iso(p.merged), "closed_at": iso(p.closed),
                       "commits": list(p.commits), "additions": sum(c.additions for c in cs),
                       "deletions": sum(c.deletions for c in cs)}
            yield from self._truth_deployments(r)
        yield from self.canonical_incidents()

    def canonical_incidents(self) -> Iterator[dict[str, Any]]:
        """Incidents caused by every fourth successful production deployment (resolved two hours
        later), so change fail rate and recovery time are not trivially zero. The connector does
        not read incidents: a test imports these into both stores."""
        n = 0
        for r in self.repos:
            ok = [d for d in self._truth_deployments(r) if d["status"] == "success"]
            for d in ok[1::4]:
                n += 1
                opened = datetime.fromisoformat(d["finished_at"].replace("Z", "+00:00"))
                yield {"type": "incident", "id": f"INC-{n}", "service": r.service,
                       "severity": "sev2", "opened_at": iso(opened + timedelta(minutes=30)),
                       "resolved_at": iso(opened + timedelta(hours=2, minutes=30)),
                       "caused_by": d["id"]}

    def _truth_deployments(self, r: Repo) -> Iterator[dict[str, Any]]:
        """Production deployments as this world defines them: finished ones only; the commits
        between the previous success (in creation order) and this one's sha; the first ships
        its sha alone."""
        events: list[tuple[datetime, str, str, datetime, datetime, str]] = []
        if r.mode == "deployments":
            for d in r.deployments:
                if d.environment != "production":
                    continue
                done = next(((s, at) for s, at in d.statuses
                             if s in ("SUCCESS", "FAILURE", "ERROR")), None)
                if done is not None:
                    events.append((d.created, f"deployment {d.id}", d.sha, d.created, done[1],
                                   "success" if done[0] == "SUCCESS" else "failure"))
        elif r.mode == "workflow":
            for run in r.runs:
                if run.name != "deploy":
                    continue
                for job in run.jobs:
                    if job.name.startswith("ship-") and job.conclusion in ("success", "failure"):
                        assert job.completed is not None
                        events.append((run.created, f"run {run.id} job {job.id}", run.sha,
                                       job.started,
                                       job.completed, job.conclusion))
        else:
            for rel in r.releases:
                if rel.draft or rel.prerelease or rel.published is None:
                    continue
                events.append((rel.published, f"release {rel.tag}", r.tags[rel.tag], rel.published,
                               rel.published, "success"))
        events.sort(key=lambda e: e[0])
        last_success: str | None = None
        for _, key, sha, started, finished, status in events:
            shipped = [sha] if last_success is None else (r.between(last_success, sha) or [])
            # the id follows docs/github.md, so incidents can name the deployment that caused them
            yield {"type": "deployment", "id": f"{r.full_name} {key}", "service": r.service,
                   "environment": "production", "started_at": iso(started),
                   "finished_at": iso(finished), "status": status, "commits": shipped}
            if status == "success":
                last_success = sha

    def write_canonical(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "world.jsonl"
        with path.open("w") as f:
            for record in self.canonical_records():
                f.write(json.dumps({k: v for k, v in record.items() if v is not None}) + "\n")
        return path


def _generate_repo(rng: random.Random, owner: str, index: int, n_prs: int, mode: str) -> Repo:
    repo = Repo(owner, f"svc{index}", index, mode, team=f"team{index % 2}")
    commit_no = 0

    def new_commit(login: str | None, authored: datetime, committed: datetime,
                   parents: list[str], merge: bool = False) -> str:
        nonlocal commit_no
        commit_no += 1
        sha = _sha(owner, repo.name, commit_no)
        email = None if login is None else f"{login}@example.com"
        if login is not None and commit_no % 37 == 0 and not login.endswith("[bot]"):
            # a commit whose author has no email GitHub knows: the login stands in (a bot's
            # commits always carry its noreply email, and no User)
            email = None
        adds, dels = (0, 0) if merge else (rng.randint(1, 300), rng.randint(0, 120))
        repo.commits[sha] = Commit(sha, email, login, authored, committed, adds, dels,
                                   0 if merge else rng.randint(1, 12), parents)
        return sha

    root_at = START - timedelta(days=1)
    root = new_commit("dev00", root_at, root_at, [])
    repo.main.append(root)
    repo.introduced.append([root])
    t = START
    for number in range(1, n_prs + 1):
        t += timedelta(minutes=rng.randint(60, 300))
        created = t
        bot = number % 23 == 0
        author: str | None = "renovate" if bot else rng.choice(PEOPLE)
        if number % 41 == 0:
            author = None  # a deleted account
        shas: list[str] = []
        first = created - timedelta(minutes=rng.randint(30, 2880))
        n_commits = 120 if number == 7 else rng.randint(1, 4)  # one long one: nested pages
        for k in range(n_commits):
            at = first + timedelta(minutes=7 * k)
            login = f"{author}[bot]" if bot else author
            shas.append(new_commit(login, at, at, [shas[-1]] if shas else [root]))
        reviews: list[Review] = []
        rt = created
        for _ in range(rng.randint(0, 3)):
            rt += timedelta(minutes=rng.randint(20, 1500))
            reviewer = rng.choice(PEOPLE)
            state = rng.choice(["APPROVED", "COMMENTED", "CHANGES_REQUESTED"])
            reviews.append(Review(reviewer, state, rt))
        if author and rng.random() < 0.2:  # the author's own comment: not a first review
            reviews.insert(0, Review(author, "COMMENTED", created + timedelta(minutes=5)))
        if rng.random() < 0.1:
            reviews.append(Review(rng.choice(PEOPLE), "PENDING", None))
        fate = rng.random()
        merged = closed = None
        if fate < 0.8:
            merged = rt + timedelta(minutes=rng.randint(10, 600))
            closed = merged
        elif fate < 0.9:
            closed = rt + timedelta(minutes=rng.randint(10, 600))
        times = [created, *[v.submitted for v in reviews if v.submitted]]
        if closed:
            times.append(closed)
        repo.prs.append(PullRequest(number, author, bot, created, max(times), merged, closed,
                                    shas, reviews))
    # the main line, in merge order, with a direct push now and then
    merges = sorted((p for p in repo.prs if p.merged), key=lambda p: p.merged or START)
    for i, pr in enumerate(merges):
        assert pr.merged is not None
        if i % 10 == 5:
            at = pr.merged - timedelta(minutes=3)
            sha = new_commit(rng.choice(PEOPLE), at, at, [repo.main[-1]])
            repo.main.append(sha)
            repo.introduced.append([sha])
        sha = new_commit(rng.choice(PEOPLE), pr.merged, pr.merged, [repo.main[-1], pr.commits[-1]],
                         merge=True)
        pr.merge_sha = sha
        repo.main.append(sha)
        repo.introduced.append([*pr.commits, sha])
    repo.pushed = max(c.committed for c in repo.commits.values())
    _generate_deploys(rng, repo, merges)
    return repo


def _generate_deploys(rng: random.Random, repo: Repo, merges: list[PullRequest]) -> None:
    heads = [(pr.merged, pr.merge_sha) for pr in merges]
    ids = iter(range(repo.index * 1_000_000 + 1, 10**9))
    last_ok: Deployment | None = None
    for i in range(2, len(heads), 3):
        at, sha = heads[i]
        assert at is not None and sha is not None
        created = at + timedelta(minutes=rng.randint(5, 90), seconds=i)
        roll = rng.random()
        outcome = "success" if roll < 0.8 else ("failure" if roll < 0.95 else "cancelled")
        took = timedelta(minutes=rng.randint(3, 40))
        if repo.mode == "deployments":
            if i % 4 == 0:
                repo.deployments.append(Deployment(next(ids), "staging", sha,
                                                   created - timedelta(minutes=2),
                                                   [("SUCCESS", created)]))
            state = {"success": "SUCCESS", "failure": "FAILURE", "cancelled": "ERROR"}[outcome]
            d = Deployment(next(ids), "production", sha, created,
                           [("QUEUED", created), ("IN_PROGRESS", created + timedelta(seconds=30)),
                            (state, created + took)])
            repo.deployments.append(d)
            if state == "SUCCESS":
                if last_ok is not None:  # GitHub marks the previous one inactive
                    last_ok.statuses.append(("INACTIVE", created + took))
                last_ok = d
        elif repo.mode == "workflow":
            run_id = next(ids)
            build = Job(next(ids), "build", "completed", "success", created,
                        created + timedelta(minutes=2))
            ship_conclusion = {"success": "success", "failure": "failure",
                               "cancelled": "cancelled"}[outcome]
            ship = Job(next(ids), "ship-production", "completed", ship_conclusion,
                       created + timedelta(minutes=2), created + took)
            repo.runs.append(Run(run_id, "deploy", repo.default_branch, sha, created,
                                 "completed", ship_conclusion, created + took, [build, ship]))
            repo.runs.append(Run(next(ids), "ci", repo.default_branch, sha,
                                 created - timedelta(minutes=1), "completed", "success",
                                 created, [Job(next(ids), "test", "completed", "success",
                                               created, created)]))
        else:
            if outcome == "cancelled":
                continue
            tag = f"v1.{len(repo.releases)}"
            repo.tags[tag] = sha
            repo.releases.append(Release(next(ids), tag, created, created + took,
                                         draft=(outcome == "failure" and i % 2 == 0)))


# -- GraphQL --------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def schema() -> graphql.GraphQLSchema:
    return graphql.build_schema(SCHEMA_FILE.read_text())


@lru_cache(maxsize=64)
def _document(query: str) -> tuple[graphql.DocumentNode | None, list[dict[str, Any]]]:
    try:
        doc = graphql.parse(query)
    except graphql.GraphQLError as exc:
        return None, [{"message": exc.message, "type": "PARSE_ERROR"}]
    errors = graphql.validate(schema(), doc)
    if errors:
        return None, [{"message": e.message, "locations": [loc._asdict() for loc in e.locations or []]}
                      for e in errors]
    return doc, []


def _cursor(n: int) -> str:
    return base64.b64encode(f"cursor:v2:{n}".encode()).decode()


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    return int(base64.b64decode(cursor).decode().rsplit(":", 1)[1]) + 1


def connection(items: list[Any], build: Callable[[Any], Any], first: int | None = None,
               after: str | None = None, last: int | None = None,
               before: str | None = None, **_: Any) -> dict[str, Any]:
    if (first is not None and not 0 <= first <= 100) or (last is not None and not 0 <= last <= 100):
        raise graphql.GraphQLError("first/last must be between 0 and 100")
    start = _offset(after)
    end = _offset(before) - 1 if before else len(items)
    if first is not None:
        end = min(end, start + first)
    elif last is not None:
        start = max(start, end - last)
    page = items[start:end]
    return {
        "nodes": [build(x) for x in page],
        "totalCount": len(items),
        "pageInfo": {"hasNextPage": end < len(items), "hasPreviousPage": start > 0,
                     "startCursor": _cursor(start) if page else None,
                     "endCursor": _cursor(end - 1) if page else None},
    }


class Graph:
    """Builds GraphQL values (dicts, with callables for fields that take arguments)."""

    def __init__(self, world: World, errors: list[dict[str, Any]]) -> None:
        self.world = world
        self.errors = errors

    def root(self) -> dict[str, Any]:
        return {"repository": self.repository, "node": self.node,
                "rateLimit": lambda info, **a: {"cost": 1, "limit": 5000, "nodeCount": 0,
                                                "remaining": 4999, "used": 1,
                                                "resetAt": iso(datetime.now(UTC))},
                "viewer": {"__typename": "User", "id": "U_me", "login": "me", "url": "",
                           "email": ""}}

    def repository(self, info: Any, owner: str, name: str, **_: Any) -> dict[str, Any] | None:
        repo = self.world.repo(f"{owner}/{name}")
        if repo is None:
            self.errors.append({"type": "NOT_FOUND", "path": [info.path.key],
                                "message": f"Could not resolve to a Repository with the name "
                                           f"'{owner}/{name}'."})
            return None
        return self.repo_node(repo)

    def node(self, info: Any, id: str) -> dict[str, Any] | None:
        m = re.fullmatch(r"PR_(\d+)_(\d+)", id)
        if m:
            repo = self.world.repos[int(m.group(1))]
            pr = next((p for p in repo.prs if p.number == int(m.group(2))), None)
            if pr is not None:
                return self.pr_node(repo, pr)
        self.errors.append({"type": "NOT_FOUND", "path": ["node"],
                            "message": f"Could not resolve to a node with the global id of '{id}'"})
        return None

    def actor(self, login: str | None, bot: bool = False) -> dict[str, Any] | None:
        if login is None:
            return None
        kind = "Bot" if bot else "User"
        return {"__typename": kind, "id": f"{kind}_{login}", "login": login,
                "url": f"https://github.com/{login}", "email": ""}

    def repo_node(self, repo: Repo) -> dict[str, Any]:
        head = repo.main[-1]
        published = [r for r in repo.releases if not r.draft and not r.prerelease and r.published]
        latest = max(published, key=lambda r: r.published or START) if published else None
        return {
            "__typename": "Repository", "id": f"R_{repo.index}", "name": repo.name,
            "nameWithOwner": repo.full_name, "url": f"https://github.com/{repo.full_name}",
            "isPrivate": True, "isArchived": False, "createdAt": iso(START - timedelta(days=400)),
            "updatedAt": iso(repo.pushed), "pushedAt": iso(repo.pushed),
            "defaultBranchRef": {"__typename": "Ref", "id": f"REF_{repo.index}_main",
                                 "name": repo.default_branch, "prefix": "refs/heads/",
                                 "target": self.commit_node(repo, head)},
            "latestRelease": self.release_node(latest) if latest else None,
            "pullRequests": lambda info, **a: self.pull_requests(repo, **a),
            "deployments": lambda info, **a: self.deployments(repo, **a),
            "refs": lambda info, **a: self.refs(repo, **a),
            "object": lambda info, oid=None, expression=None: (
                self.commit_node(repo, oid) if oid in repo.commits else None),
        }

    def release_node(self, rel: Release) -> dict[str, Any]:
        return {"__typename": "Release", "id": f"RE_{rel.id}", "name": rel.tag,
                "tagName": rel.tag, "createdAt": iso(rel.created),
                "publishedAt": iso(rel.published), "updatedAt": iso(rel.published or rel.created),
                "isDraft": rel.draft, "isPrerelease": rel.prerelease}

    def commit_node(self, repo: Repo, sha: str) -> dict[str, Any]:
        c = repo.commits[sha]

        def actor(at: datetime) -> dict[str, Any]:
            user = self.actor(c.login) if c.login else None
            if user is not None and c.login and c.login.endswith("[bot]"):
                user = None  # a bot's commits carry no User
            return {"email": c.email or "", "name": c.login or "ghost", "date": iso(at),
                    "user": user}

        return {
            "__typename": "Commit", "id": f"C_{sha}", "oid": sha, "abbreviatedOid": sha[:7],
            "message": f"change {sha[:7]}", "additions": c.additions, "deletions": c.deletions,
            "changedFilesIfAvailable": c.files, "authoredDate": iso(c.authored),
            "committedDate": iso(c.committed), "author": actor(c.authored),
            "committer": actor(c.committed),
            "parents": lambda info, **a: connection(c.parents,
                                                    lambda p: self.commit_node(repo, p), **a),
            "history": lambda info, **a: self.history(repo, sha, **a),
        }

    def history(self, repo: Repo, sha: str, since: str | None = None, until: str | None = None,
                **a: Any) -> dict[str, Any]:
        if sha != repo.main[-1]:
            raise graphql.GraphQLError("the fake serves history of the default branch only")
        items = repo.reachable_sorted()
        if since:
            lo = datetime.fromisoformat(since.replace("Z", "+00:00"))
            items = [c for c in items if c.committed >= lo]
        if until:
            hi = datetime.fromisoformat(until.replace("Z", "+00:00"))
            items = [c for c in items if c.committed <= hi]
        return connection(items, lambda c: self.commit_node(repo, c.sha), **a)

    def pull_requests(self, repo: Repo, states: list[str] | None = None,
                      orderBy: dict[str, str] | None = None, **a: Any) -> dict[str, Any]:
        order = orderBy or {"field": "CREATED_AT", "direction": "ASC"}
        key = {"CREATED_AT": lambda p: (p.created, p.number),
               "UPDATED_AT": lambda p: (p.updated, p.number),
               "COMMENTS": lambda p: (len(p.reviews), p.number)}[order["field"]]
        items = sorted(repo.prs, key=key, reverse=order["direction"] == "DESC")
        if states:
            items = [p for p in items if _pr_state(p) in states]
        return connection(items, lambda p: self.pr_node(repo, p), **a)

    def pr_node(self, repo: Repo, pr: PullRequest) -> dict[str, Any]:
        commits = [repo.commits[s] for s in pr.commits]
        return {
            "__typename": "PullRequest", "id": f"PR_{repo.index}_{pr.number}",
            "number": pr.number, "title": f"Change {pr.number}",
            "url": f"https://github.com/{repo.full_name}/pull/{pr.number}",
            "state": _pr_state(pr), "merged": pr.merged is not None, "isDraft": False,
            "createdAt": iso(pr.created), "updatedAt": iso(pr.updated),
            "mergedAt": iso(pr.merged), "closedAt": iso(pr.closed),
            "additions": sum(c.additions for c in commits),
            "deletions": sum(c.deletions for c in commits),
            "changedFiles": sum(c.files for c in commits), "baseRefName": repo.default_branch,
            "headRefName": f"change-{pr.number}", "author": self.actor(pr.author, pr.bot),
            "mergeCommit": self.commit_node(repo, pr.merge_sha) if pr.merge_sha else None,
            "labels": lambda info, **a: connection(
                pr.labels, lambda n: {"__typename": "Label", "id": f"LA_{n}", "name": n,
                                      "color": "ededed"}, **a),
            "commits": lambda info, **a: connection(
                pr.commits, lambda s: {"__typename": "PullRequestCommit", "id": f"PRC_{s}",
                                       "url": "", "commit": self.commit_node(repo, s)}, **a),
            "reviews": lambda info, states=None, author=None, **a: connection(
                [v for v in pr.reviews if (not states or v.state in states)
                 and (author is None or v.login == author)],
                lambda v: {"__typename": "PullRequestReview", "id": f"PRR_{id(v)}",
                           "author": self.actor(v.login), "state": v.state,
                           "submittedAt": iso(v.submitted),
                           "createdAt": iso(v.submitted or pr.created)}, **a),
        }

    def deployments(self, repo: Repo, environments: list[str] | None = None,
                    orderBy: dict[str, str] | None = None, **a: Any) -> dict[str, Any]:
        items = sorted(repo.deployments, key=lambda d: (d.created, d.id),
                       reverse=(orderBy or {}).get("direction") == "DESC")
        if environments:
            items = [d for d in items if d.environment in environments]
        return connection(items, lambda d: self.deployment_node(d), **a)

    def deployment_node(self, d: Deployment) -> dict[str, Any]:
        def status(s: tuple[str, datetime]) -> dict[str, Any]:
            return {"__typename": "DeploymentStatus", "id": f"DS_{d.id}_{s[1].timestamp()}",
                    "state": s[0], "description": None, "environment": d.environment,
                    "logUrl": None, "createdAt": iso(s[1]), "updatedAt": iso(s[1])}

        last = d.statuses[-1] if d.statuses else None
        return {
            "__typename": "Deployment", "id": f"DE_{d.id}", "databaseId": d.id,
            "environment": d.environment, "originalEnvironment": d.environment,
            "task": d.task, "description": None, "createdAt": iso(d.created),
            "updatedAt": iso(last[1] if last else d.created), "commitOid": d.sha,
            "commit": None, "state": last[0] if last and last[0] != "QUEUED" else "PENDING",
            "latestStatus": status(last) if last else None,
            "statuses": lambda info, **a: connection(d.statuses, status, **a),
        }

    def refs(self, repo: Repo, refPrefix: str, direction: str | None = None,
             **a: Any) -> dict[str, Any]:
        if refPrefix == "refs/tags/":
            names = sorted(repo.tags, reverse=direction == "DESC")

            def build(name: str) -> dict[str, Any]:
                return {"__typename": "Ref", "id": f"REF_{repo.index}_{name}", "name": name,
                        "prefix": refPrefix, "target": self.commit_node(repo, repo.tags[name])}

            return connection(names, build, **a)
        if refPrefix == "refs/heads/":
            return connection([repo.default_branch], lambda n: {
                "__typename": "Ref", "id": f"REF_{repo.index}_{n}", "name": n,
                "prefix": refPrefix, "target": self.commit_node(repo, repo.main[-1])}, **a)
        return connection([], lambda n: n, **a)


def _pr_state(pr: PullRequest) -> str:
    return "MERGED" if pr.merged else ("CLOSED" if pr.closed else "OPEN")


def execute_graphql(world: World, query: str, variables: dict[str, Any] | None) -> dict[str, Any]:
    doc, errors = _document(query)
    if doc is None:
        return {"errors": errors}
    found: list[dict[str, Any]] = []
    result = graphql.execute(schema(), doc, root_value=Graph(world, found).root(),
                             variable_values=variables or {})
    out: dict[str, Any] = {"data": result.data}
    errs = found + [{"message": e.message, "path": e.path} for e in result.errors or []]
    if errs:
        out["errors"] = errs
    return out


# -- REST -----------------------------------------------------------------------------------------

def rest_repo(repo: Repo) -> dict[str, Any]:
    return {"id": repo.index + 1000, "node_id": f"R_{repo.index}", "name": repo.name,
            "full_name": repo.full_name, "owner": {"login": repo.owner, "type": "Organization"},
            "private": True, "html_url": f"https://github.com/{repo.full_name}",
            "default_branch": repo.default_branch, "pushed_at": iso(repo.pushed),
            "updated_at": iso(repo.pushed), "permissions": {"pull": True, "push": False}}


def rest_commit(repo: Repo, sha: str) -> dict[str, Any]:
    c = repo.commits[sha]
    return {"sha": sha, "node_id": f"C_{sha}",
            "commit": {"author": {"name": c.login, "email": c.email, "date": iso(c.authored)},
                       "committer": {"name": c.login, "email": c.email, "date": iso(c.committed)},
                       "message": f"change {sha[:7]}"},
            "author": {"login": c.login} if c.login else None,
            "parents": [{"sha": p} for p in c.parents]}


def rest_run(repo: Repo, run: Run) -> dict[str, Any]:
    return {"id": run.id, "name": run.name, "head_branch": run.branch, "head_sha": run.sha,
            "event": "push", "status": run.status, "conclusion": run.conclusion,
            "workflow_id": 1 if run.name == "deploy" else 2, "run_attempt": 1,
            "created_at": iso(run.created), "updated_at": iso(run.updated),
            "run_started_at": iso(run.created),
            "repository": {"full_name": repo.full_name, "name": repo.name,
                           "owner": {"login": repo.owner}}}


def rest_job(run: Run, job: Job) -> dict[str, Any]:
    return {"id": job.id, "run_id": run.id, "name": job.name, "status": job.status,
            "conclusion": job.conclusion, "head_sha": run.sha,
            "started_at": iso(job.started), "completed_at": iso(job.completed)}


def rest_release(rel: Release) -> dict[str, Any]:
    return {"id": rel.id, "tag_name": rel.tag, "name": rel.tag, "draft": rel.draft,
            "prerelease": rel.prerelease, "created_at": iso(rel.created),
            "published_at": iso(rel.published), "target_commitish": "main"}


# -- the server -----------------------------------------------------------------------------------

@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    times: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Request:
    method: str
    path: str
    status: int


class FakeGitHub:
    """The server. ``base_url`` is the REST root to configure (``…/api/v3`` with
    ``enterprise=True``); ``requests`` lists every request answered (method, path, status)."""

    def __init__(self, world: World, *, token: str | None = "ghp_fake_token",
                 scopes: str | None = "repo", enterprise: bool = False) -> None:
        self.world = world
        self.token = token
        self.scopes = scopes
        self.prefix = "/api/v3" if enterprise else ""
        self.graphql_path = "/api/graphql" if enterprise else "/graphql"
        self.faults: list[Fault] = []
        self.requests: list[Request] = []
        self.rate_remaining = 5000
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- control --------------------------------------------------------------------------------

    def fail(self, path: str, status: int, *, times: int = 1, method: str = "*",
             headers: dict[str, str] | None = None, body: bytes | str | None = None) -> None:
        """Answer the next ``times`` requests whose path (with query) matches the regular
        expression ``path`` with ``status``, ``headers`` and ``body`` instead."""
        if body is None:
            body = json.dumps({"message": f"fault {status}"})
        self.faults.append(Fault(method, re.compile(path), status, times, dict(headers or {}),
                                 body.encode() if isinstance(body, str) else body))

    def secondary_limit(self, path: str, retry_after: int = 7, times: int = 1) -> None:
        self.fail(path, 403, times=times, headers={"Retry-After": str(retry_after)},
                  body=json.dumps({"message": "You have exceeded a secondary rate limit. Please "
                                   "wait a few minutes before you try again."}))

    def truncated(self, path: str, times: int = 1) -> None:
        self.fail(path, 200, times=times, body=b'{"data": {"repository": {"pullRequests": {"no')

    def count(self, method: str | None = None, path: str = "") -> int:
        return sum(1 for r in self.requests
                   if (method is None or r.method == method) and path in r.path)

    def reset_counts(self) -> None:
        self.requests.clear()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.prefix}"

    def __enter__(self) -> FakeGitHub:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    # -- answering ------------------------------------------------------------------------------

    def _send(self, h: BaseHTTPRequestHandler, method: str, path: str, status: int,
              body: bytes, headers: dict[str, str]) -> None:
        with self.lock:
            self.requests.append(Request(method, path, status))
            if status != 304:
                self.rate_remaining = max(0, self.rate_remaining - 1)
            remaining = self.rate_remaining
        h.send_response(status)
        base = {"Content-Type": "application/json; charset=utf-8",
                "X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": str(remaining),
                "X-RateLimit-Reset": str(int(time.time()) + 3600),
                "X-RateLimit-Resource": "graphql" if "graphql" in path else "core"}
        if self.scopes is not None:
            base["X-OAuth-Scopes"] = self.scopes
        base.update(headers)
        for k, v in base.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        path = h.path
        with self.lock:
            fault = next((f for f in self.faults if f.times > 0
                          and f.method in ("*", method) and f.path.search(path)), None)
            if fault is not None:
                fault.times -= 1
        if fault is not None:
            self._send(h, method, path, fault.status, fault.body, fault.headers)
            return
        if self.token is not None and h.headers.get("Authorization") != f"Bearer {self.token}":
            self._send(h, method, path, 401, json.dumps(
                {"message": "Bad credentials",
                 "documentation_url": "https://docs.github.com/rest"}).encode(), {})
            return
        split = urlsplit(path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        try:
            status, payload, headers = self._route(method, split.path, query, raw, h)
        except _NotFound:
            status, payload, headers = 404, {"message": "Not Found"}, {}
        body = json.dumps(payload, separators=(",", ":")).encode()
        if method == "GET" and status == 200:
            etag = 'W/"' + hashlib.sha1(body).hexdigest() + '"'
            headers["ETag"] = etag
            if h.headers.get("If-None-Match") == etag:
                self._send(h, method, path, 304, b"", headers)
                return
        self._send(h, method, path, status, body, headers)

    def _route(self, method: str, path: str, query: dict[str, str], raw: bytes,
               h: BaseHTTPRequestHandler) -> tuple[int, Any, dict[str, str]]:
        if method == "POST" and path == self.graphql_path:
            request = json.loads(raw)
            return 200, execute_graphql(self.world, request["query"],
                                        request.get("variables")), {}
        if method != "GET" or not path.startswith(self.prefix):
            raise _NotFound
        path = path[len(self.prefix):]
        if path == "/rate_limit":
            core = {"limit": 5000, "remaining": self.rate_remaining, "used": 0,
                    "reset": int(time.time()) + 3600}
            return 200, {"resources": {"core": core, "graphql": core}, "rate": core}, {}
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)(/.*)?", path)
        if not m:
            raise _NotFound
        repo = self.world.repo(f"{m.group(1)}/{m.group(2)}")
        if repo is None:
            raise _NotFound
        rest = m.group(3) or ""
        if rest == "":
            return 200, rest_repo(repo), {}
        cm = re.fullmatch(r"/compare/([0-9a-f]+)\.\.\.([0-9a-f]+)", rest)
        if cm:
            shas = repo.between(cm.group(1), cm.group(2))
            if shas is None:
                raise _NotFound
            page, links = self._page(shas, query, h, path)
            return 200, {"status": "ahead", "ahead_by": len(shas), "behind_by": 0,
                         "total_commits": len(shas),
                         "commits": [rest_commit(repo, s) for s in page], "files": []}, links
        if rest == "/actions/runs":
            runs = sorted(repo.runs, key=lambda r: (r.created, r.id), reverse=True)
            if "branch" in query:
                runs = [r for r in runs if r.branch == query["branch"]]
            if query.get("created", "").startswith(">="):
                lo = datetime.fromisoformat(query["created"][2:].replace("Z", "+00:00"))
                runs = [r for r in runs if r.created >= lo]
            page, links = self._page(runs, query, h, path)
            return 200, {"total_count": len(runs),
                         "workflow_runs": [rest_run(repo, r) for r in page]}, links
        jm = re.fullmatch(r"/actions/runs/(\d+)/jobs", rest)
        if jm:
            run = next((r for r in repo.runs if r.id == int(jm.group(1))), None)
            if run is None:
                raise _NotFound
            page, links = self._page(run.jobs, query, h, path)
            return 200, {"total_count": len(run.jobs),
                         "jobs": [rest_job(run, j) for j in page]}, links
        if rest == "/releases":
            rels = sorted(repo.releases, key=lambda r: (r.created, r.id), reverse=True)
            page, links = self._page(rels, query, h, path)
            return 200, [rest_release(r) for r in page], links
        raise _NotFound

    def _page(self, items: list[Any], query: dict[str, str], h: BaseHTTPRequestHandler,
              path: str) -> tuple[list[Any], dict[str, str]]:
        per_page = min(100, int(query.get("per_page", 30)))
        page = max(1, int(query.get("page", 1)))
        chunk = items[(page - 1) * per_page: page * per_page]
        links: list[str] = []
        host = h.headers.get("Host", "127.0.0.1")
        url = f"http://{host}{self.prefix}{path}"
        last = max(1, -(-len(items) // per_page))
        if page < last:
            links.append(f'<{url}?{urlencode({**query, "page": page + 1})}>; rel="next"')
            links.append(f'<{url}?{urlencode({**query, "page": last})}>; rel="last"')
        return chunk, ({"Link": ", ".join(links)} if links else {})


class _NotFound(Exception):
    pass


# -- helpers for tests: a store synced through the fake ---------------------------------------------

def org_file(world: World, folder: Path) -> Path:
    """The world's organisation (org unit, teams, services with their repositories) as a file."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "org.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in world.canonical_org()))
    return path


def sync_into(settings: Any, source: Any, *, services: Any = None,
              after_commit: Callable[[int], None] | None = None,
              sleep: Callable[[float], None] = lambda s: None) -> tuple[Any, list[Any]]:
    """Sync every scope of a GitHub ``source`` into the store of ``settings`` through
    :func:`~shipwise.connectors.sync.sync_scope` and the importer (facts refreshed once at the
    end). ``services``: a ServiceMap (default: the store's). ``after_commit(n)`` is called after
    the n-th batch is imported (raise from it to kill the sync there). Returns the connector
    (closed; its ``stats`` stay readable) and the import reports."""
    from shipwise.app.context import pseudonymiser_for
    from shipwise.app.ingest import import_tables_into, refresh_facts
    from shipwise.connectors.github import GitHubConnector
    from shipwise.connectors.sync import sync_scope
    from shipwise.store.duckdb_store import Store
    from shipwise.store.org import service_map

    store = Store.open(settings.db)
    reports: list[Any] = []
    try:
        pseudo = pseudonymiser_for(store, settings)
        connector = GitHubConnector(source, services or service_map(store), sleep=sleep)

        def commit(batch: Any) -> Any:
            report = import_tables_into(store, pseudo, batch.records, f"github:{source.id}",
                                        kind="github", limits=settings.ingest, refresh=False)
            reports.append(report)
            if after_commit is not None:
                after_commit(len(reports))
            return report

        try:
            for scope in connector.scopes():
                sync_scope(store, connector, scope, commit)
        finally:
            refresh_facts(store)
            connector.close()
    finally:
        store.close()
    return connector, reports
