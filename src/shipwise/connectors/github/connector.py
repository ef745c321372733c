"""The GitHub connector: pull requests, commits and deployments of configured repositories.

One scope per repository (``owner/name``). A sync of a scope runs these stages, each yielding
batches of about a page with the cursor valid once the batch is committed:

1. **probe** — one GraphQL request for *all* configured repositories (aliased blocks, 25 a
   request) asking for what moves when anything changes: ``pushedAt``, the newest pull request's
   ``updatedAt``, the last deployments' statuses, the latest release, the tag count. When a
   repository's answer equals the one kept in its cursor, nothing is read for it (only the
   conditional workflow-runs request, if it has workflow rules, which answers 304);
2. **pull requests** — GraphQL, 50 a page with up to 100 commits and reviews each, newest update
   first, down to the ``updated_since`` watermark; more commits/reviews of a long pull request by
   ``node(id:)`` pages. Gives ``pull_request`` and the pull requests' ``commit`` records;
3. **history** — GraphQL ``defaultBranchRef.target.history(since:)``, 100 a page: ``commit``;
4. **deployments** — GraphQL ``deployments`` newest first down to the watermark, then in
   creation order: production ones (``production_environment``) in a terminal state become
   ``deployment`` records with the commits of ``GET /compare/{prev}...{sha}`` (``prev`` = the sha
   of the previous successful production deployment of the same service; the first one ships
   just its head commit). In-progress ones are not emitted and hold the watermark back (for at
   most :data:`ABANDONED_AFTER`);
5. **workflow runs** — for repositories with ``workflows`` rules: ``GET /actions/runs``
   (``created>=`` the watermark, per branch, conditional) and the jobs of matching runs;
6. **releases / tags** — when ``releases_as_deployments`` says so, or ``deployments_from_tags``
   is set.

The cursor (JSON) keeps per stage a watermark (minus :data:`OVERLAP`) or, mid-stage, where to
resume; the ETag of the runs and releases requests; the probe answer; and the last successful
production deployments per service (the base of the next compare).
"""

from __future__ import annotations

import fnmatch
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pyarrow as pa

from shipwise.config import AgentSettings, GitHubSource, WorkflowRule
from shipwise.connectors.base import JSON, Batch, Cursor, Scope, ServiceMap
from shipwise.connectors.github import queries
from shipwise.connectors.github.client import GitHubClient
from shipwise.connectors.github.mapping import (
    DeployEvent,
    commit_record,
    deployment_from_graphql,
    deployment_from_job,
    deployment_from_release,
    deployment_from_run,
    deployment_from_tag,
    deployment_record,
    instant,
    pull_request_record,
    table,
    workflow_matches,
)
from shipwise.connectors.http import HttpStats, Response
from shipwise.errors import ConfigError, NotFoundError, ShipwiseError
from shipwise.governance.agents import AgentRules

__all__ = ["ABANDONED_AFTER", "OVERLAP", "GitHubConnector"]

#: Watermarks are moved back by this much, so an update GitHub indexes a little late is read.
OVERLAP = timedelta(minutes=5)
#: A deployment (or run) still unfinished after this long is taken as abandoned: it no longer
#: holds the watermark back (GitHub keeps deployments ``in_progress`` forever when nobody ends them).
ABANDONED_AFTER = timedelta(days=3)
PR_PAGE = 50
HISTORY_PAGE = 100
DEPLOY_PAGE = 50
#: Repositories per probe request.
PROBE_CHUNK = 25
#: A probe answer older than this (seconds) is asked again rather than used.
PROBE_MAX_AGE = 120.0
#: A commit listing this many parents may have more (``parents(first: 10)``): not walked locally.
MAX_PARENTS = 10
#: Successful deployments kept per service in the cursor (bases for compare).
KEEP_SUCCESSES = 20


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class GitHubConnector:
    """The :class:`~shipwise.connectors.base.Connector` of a ``kind: github`` source."""

    kind = "github"
    #: Work out what a deployment shipped from the commit graph read in the same sync when it
    #: holds every commit needed (else ``GET /compare``). Tests switch it off to exercise the API.
    local_compare = True

    def __init__(self, source: GitHubSource, services: ServiceMap, *,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 agents: AgentSettings | None = None) -> None:
        self.source = source
        #: how agent-authored pull requests are recognised (``ai.agents``: logins and labels)
        self.agents = AgentRules.of(agents or AgentSettings())
        self.services = services
        self.name = source.id
        self._clock = clock
        self._client = GitHubClient(source.base_url, source.token(required=False),
                                    timeout=source.timeout_seconds,
                                    max_attempts=source.max_attempts, transport=transport,
                                    sleep=sleep)
        #: probe answers of repositories not synced yet: (when, answer)
        self._probes: dict[str, tuple[float, Any]] = {}

    @property
    def stats(self) -> HttpStats:
        return self._client.stats

    def close(self) -> None:
        self._client.close()

    def scopes(self) -> list[Scope]:
        web = self.source.base_url.rstrip("/")
        web = ("https://github.com" if web == "https://api.github.com"
               else web.removesuffix("/api/v3"))
        return [Scope(repo, f"{web}/{repo}") for repo in self.source.repos]

    # -- check ------------------------------------------------------------------------------

    def check(self) -> list[str]:
        """Sentences saying what to fix (empty when all is well); see docs/github.md."""
        problems: list[str] = []
        src = self.source
        if not src.repos:
            problems.append(f"source '{src.id}': no repositories: list them under `repos:` "
                            "as owner/name")
        if src.token(required=False) is None:
            where = src.token_env or src.token_file
            problems.append(f"source '{src.id}': no token found in {where}: create a token "
                            "with the 'repo' scope (or read access for a fine-grained token) "
                            f"and export {src.token_env or 'it'}")
            return problems
        try:
            limit = self._client.get("/rate_limit")
        except ShipwiseError as exc:
            problems.append(f"source '{src.id}': cannot use {src.base_url}: {exc}"
                            + (f" ({exc.hint})" if exc.hint else ""))
            return problems
        scopes = limit.headers.get("X-OAuth-Scopes")
        if scopes is None:
            problems.append(f"source '{src.id}': the token has no X-OAuth-Scopes header (a "
                            "fine-grained token or an app token): make sure it may read "
                            "contents, pull requests, deployments and actions of each repository")
        else:
            granted = {s.strip() for s in scopes.split(",") if s.strip()}
            if not granted & {"repo", "public_repo"}:
                problems.append(f"source '{src.id}': the token's scopes are "
                                f"'{scopes or 'none'}': give it 'repo' (private repositories) "
                                "or 'public_repo' (public ones only)")
        core = ((limit.json or {}).get("resources") or {}).get("core") or {}
        if core.get("remaining") == 0:
            reset = datetime.fromtimestamp(float(core.get("reset", 0)), UTC)
            problems.append(f"source '{src.id}': the REST rate limit is used up until "
                            f"{_iso(reset)}: sync after that")
        for repo in src.repos:
            try:
                self._client.get(f"/repos/{repo}")
            except ShipwiseError as exc:
                problems.append(f"source '{src.id}': repository {repo}: {exc}"
                                + (f" ({exc.hint})" if exc.hint else ""))
            if not self._mapped(repo):
                problems.append(f"source '{src.id}': repository {repo} belongs to no service: "
                                "give a service `repo: " + repo + "` in the organisation file "
                                "(its deployments would be quarantined as 'unknown service')")
        return problems

    def _mapped(self, repo: str) -> bool:
        if any(t.repo.lower() == repo.lower() for t in self.services.targets):
            return True
        return self.services.resolve(repo) is not None

    # -- sync -------------------------------------------------------------------------------

    def sync(self, scope: Scope, cursor: Cursor) -> Iterator[Batch]:
        repo = scope.key
        if repo not in self.source.repos:
            raise ConfigError(f"source '{self.name}' does not list the repository {repo!r}")
        self.source.token()  # ConfigError naming where the token should be, before any request
        state: dict[str, Any] = json.loads(cursor.to_json()) if not cursor.is_start else {}
        probe = self._probe(repo)
        if probe is None:
            raise NotFoundError(f"GitHub: repository {repo} not found",
                                hint="check its owner/name in shipwise.yaml and that the token "
                                     "can read it (private repositories answer 'not found')")
        fingerprint = json.dumps(probe, sort_keys=True)
        before = json.loads(state["probe"]) if isinstance(state.get("probe"), str) else {}
        sync = _RepoSync(self, repo, probe, state)

        def changed(stage: str, *parts: str) -> bool:
            """Whether ``stage`` must run: its part of the probe answer moved, or it stopped
            half-way (a resume point) or holds unfinished deployments."""
            mine = state.get(stage) or {}
            if mine.get("resume") or mine.get("pending") or not before:
                return True
            return any(before.get(p) != probe.get(p) for p in parts)

        if changed("history", "defaultBranchRef"):  # first: its parents serve the next stages
            yield from sync.history()
        if changed("prs", "pullRequests"):
            yield from sync.pull_requests()
        if changed("deployments", "deployments"):
            yield from sync.deployments()
        yield from sync.workflow_runs()  # its own conditional probe
        if changed("releases", "latestRelease", "refs", "pushedAt"):
            yield from sync.releases_and_tags()
        state["probe"] = fingerprint
        final = Cursor(_jsonable(state))
        if final != cursor:  # the last batch's cursor also records the probe answer
            yield Batch({}, final)

    def _probe(self, repo: str) -> Any:
        """This repository's probe answer, from one request for all repositories (each answer is
        used once: the next sync of the same repository asks again)."""
        cached = self._probes.pop(repo, None)
        if cached is not None and time.monotonic() - cached[0] < PROBE_MAX_AGE:
            return cached[1]
        repos = list(self.source.repos)
        start = repos.index(repo)
        chunk = repos[start:start + PROBE_CHUNK]
        query = queries.probe_query([tuple(r.split("/", 1)) for r in chunk])  # type: ignore[misc]
        data = self._client.graphql(query, allow_not_found=True)
        taken = time.monotonic()
        for i, name in enumerate(chunk[1:], start=1):
            self._probes[name] = (taken, data.get(f"r{i}"))
        return data.get("r0")


def _jsonable(state: Mapping[str, Any]) -> dict[str, JSON]:
    out: dict[str, JSON] = json.loads(json.dumps(state))
    return out


class _RepoSync:
    """The stages of one repository's sync, sharing its cursor state (mutated as batches go)."""

    def __init__(self, connector: GitHubConnector, repo: str, probe: Mapping[str, Any],
                 state: dict[str, Any]) -> None:
        self.c = connector
        self.client = connector._client
        self.source = connector.source
        self.repo = repo
        self.owner, self.name = repo.split("/", 1)
        self.probe = probe
        self.state = state
        self.now = connector._clock()
        #: ``source.since``: the first sync reads nothing older (every stage's first watermark)
        self.floor = (f"{connector.source.since.isoformat()}T00:00:00Z"
                      if connector.source.since else None)
        branch = (probe.get("defaultBranchRef") or {}).get("name")
        self.default_branch: str | None = branch
        self.has_deployments = bool((probe.get("deployments") or {}).get("totalCount"))
        #: the commit graph read in this sync: sha -> parents, sha -> committed instant
        self.parents: dict[str, list[str]] = {}
        self.dates: dict[str, str] = {}
        #: per service: the sha of its last successful deployment and that sha's ancestors
        self._bases: dict[str, tuple[str, set[str]]] = {}
        self._pending_base: tuple[str, str, set[str] | None] | None = None

    def _batch(self, records: Mapping[str, pa.Table]) -> Batch:
        return Batch(dict(records), Cursor(_jsonable(self.state)))

    # -- pull requests ------------------------------------------------------------------------

    def pull_requests(self) -> Iterator[Batch]:
        st = self.state.setdefault("prs", {})
        since = instant(st.get("since") or self.floor)
        resume = st.get("resume") or {}
        after, top = resume.get("after"), resume.get("top")
        while True:
            data = self.client.graphql(queries.PULL_REQUESTS, {
                "owner": self.owner, "name": self.name, "first": PR_PAGE, "after": after})
            conn = _repository(data, self.repo)["pullRequests"]
            prs: list[dict[str, Any]] = []
            commits: dict[str, dict[str, Any]] = {}
            done = not conn["pageInfo"]["hasNextPage"]
            for node in conn["nodes"] or ():
                updated = node["updatedAt"]
                if since is not None and (instant(updated) or since) < since:
                    done = True
                    break
                if top is None or updated > top:
                    top = updated
                pr_commits = self._all_commits(node)
                reviews = self._all_reviews(node)
                prs.append(pull_request_record(self.repo, node, pr_commits, reviews,
                                               self.c.agents))
                for c in pr_commits:
                    commits[c["oid"]] = commit_record(self.repo, c)
            self._fill_parents(list(commits.values()))
            self._learn(list(commits.values()))
            if done:
                mark = instant(top)
                st["since"] = _iso(mark - OVERLAP) if mark else st.get("since")
                st.pop("resume", None)
            else:
                after = conn["pageInfo"]["endCursor"]
                st["resume"] = {"after": after, "top": top}
            yield self._batch({"pull_request": table("pull_request", prs),
                               "commit": table("commit", list(commits.values()))})
            if done:
                return

    def _all_commits(self, node: Mapping[str, Any]) -> list[dict[str, Any]]:
        conn = node["commits"]
        out = [n["commit"] for n in conn["nodes"] or () if n]
        page = conn["pageInfo"]
        while page["hasNextPage"]:
            data = self.client.graphql(queries.PULL_REQUEST_COMMITS,
                                       {"id": node["id"], "after": page["endCursor"]})
            more = data["node"]["commits"]
            out.extend(n["commit"] for n in more["nodes"] or () if n)
            page = more["pageInfo"]
        return out

    def _all_reviews(self, node: Mapping[str, Any]) -> list[dict[str, Any]]:
        conn = node.get("reviews") or {"nodes": [], "pageInfo": {"hasNextPage": False}}
        out = [n for n in conn["nodes"] or () if n]
        page = conn["pageInfo"]
        while page["hasNextPage"]:
            data = self.client.graphql(queries.PULL_REQUEST_REVIEWS,
                                       {"id": node["id"], "after": page["endCursor"]})
            more = data["node"]["reviews"]
            out.extend(n for n in more["nodes"] or () if n)
            page = more["pageInfo"]
        return out

    # -- history ------------------------------------------------------------------------------

    def history(self) -> Iterator[Batch]:
        if self.default_branch is None:  # an empty repository
            return
        st = self.state.setdefault("history", {})
        since = st.get("since") or self.floor
        resume = st.get("resume") or {}
        after, top = resume.get("after"), resume.get("top")
        while True:
            data = self.client.graphql(queries.HISTORY, {
                "owner": self.owner, "name": self.name, "first": HISTORY_PAGE, "after": after,
                "since": since})
            ref = _repository(data, self.repo).get("defaultBranchRef") or {}
            conn = (ref.get("target") or {}).get("history")
            if conn is None:
                return
            rows = [commit_record(self.repo, n) for n in conn["nodes"] or () if n]
            self._learn(rows)
            for n in conn["nodes"] or ():
                if top is None or n["committedDate"] > top:
                    top = n["committedDate"]
            done = not conn["pageInfo"]["hasNextPage"]
            if done:
                mark = instant(top)
                st["since"] = _iso(mark - OVERLAP) if mark else since
                st.pop("resume", None)
            else:
                after = conn["pageInfo"]["endCursor"]
                st["resume"] = {"after": after, "top": top}
            yield self._batch({"commit": table("commit", rows)})
            if done:
                return

    # -- deployments (GitHub deployments, workflow runs, releases, tags) ----------------------

    def deployments(self) -> Iterator[Batch]:
        if not self.has_deployments:
            return
        st = self.state.setdefault("deployments", {})
        since = instant(st.get("since") or self.floor)
        events: list[DeployEvent] = []
        after = None
        while True:
            data = self.client.graphql(queries.DEPLOYMENTS, {
                "owner": self.owner, "name": self.name, "first": DEPLOY_PAGE, "after": after})
            conn = _repository(data, self.repo)["deployments"]
            stop = False
            for node in conn["nodes"] or ():
                if since is not None and (instant(node["createdAt"]) or since) < since:
                    stop = True
                    break
                event = deployment_from_graphql(self.repo, node, self.source.production_environment)
                if event is not None:
                    events.append(event)
            if stop or not conn["pageInfo"]["hasNextPage"]:
                break
            after = conn["pageInfo"]["endCursor"]
        yield from self._emit(events, st)

    def _emit(self, events: list[DeployEvent], st: dict[str, Any]) -> Iterator[Batch]:
        """Emit finished events in creation order, DEPLOY_PAGE a batch (see :meth:`_emit_chunks`)."""
        events.sort(key=lambda e: (e.created_at, e.key))
        yield from self._emit_chunks(
            ((chunk, chunk[-1].created_at)
             for chunk in (events[i:i + DEPLOY_PAGE] for i in range(0, len(events), DEPLOY_PAGE))),
            st)

    def _emit_chunks(self, chunks: Iterable[tuple[list[DeployEvent], datetime]],
                     st: dict[str, Any]) -> Iterator[Batch]:
        """One batch per chunk (events created up to the chunk's instant, chunks in creation
        order). The stage's watermark ``st['since']`` moves to the chunk's instant but never past
        an unfinished (and not abandoned) event; events committed before (``st['done']``, within
        the overlap) are not emitted again."""
        held: datetime | None = None
        pending = 0
        st["pending"] = 0
        done: dict[str, str] = st.setdefault("done", {})
        for events, last in chunks:
            events.sort(key=lambda e: (e.created_at, e.key))
            rows: list[dict[str, Any]] = []
            for event in events:
                if event.key in done:  # committed by an earlier sync (the overlap re-reads it)
                    continue
                if event.status is None or event.finished_at is None:
                    if self.now - event.created_at < ABANDONED_AFTER:
                        pending += 1
                        held = event.created_at if held is None else min(held, event.created_at)
                    continue
                service = self.c.services.resolve(self.repo, event.environment, event.job)
                key = service or self.repo
                self._pending_base = None
                rows.append(deployment_record(event, key, self._shipped(key, event)))
                done[event.key] = _iso(event.created_at)
                if event.status == "success":
                    self._remember(key, event)
                    grown = self._pending_base
                    if grown is not None and grown[2] is not None:
                        self._bases[key] = (grown[1], grown[2])
            mark = (min(held, last) if held is not None else last) - OVERLAP
            st["since"] = _iso(mark)
            st["done"] = done = {k: v for k, v in done.items() if v >= st["since"]}
            st["pending"] = pending
            yield self._batch({"deployment": table("deployment", rows)})

    def _remember(self, service: str, event: DeployEvent) -> None:
        wins = self.state.setdefault("successes", {}).setdefault(service, [])
        entry = [_iso(event.created_at), event.key, event.sha]
        if entry not in wins:
            wins.append(entry)
            wins.sort()
            del wins[:-KEEP_SUCCESSES]

    def _previous(self, service: str, event: DeployEvent) -> str | None:
        mine = (_iso(event.created_at), event.key)
        before = [w for w in self.state.get("successes", {}).get(service, [])
                  if (w[0], w[1]) < mine]
        return before[-1][2] if before else None

    def _shipped(self, service: str, event: DeployEvent) -> list[str]:
        """The commits ``event`` shipped: compare with the previous success of its service, or
        just its head commit when it is the first."""
        base = self._previous(service, event)
        if base is None:
            return [event.sha]
        if base == event.sha:
            return []
        local = self._walk(service, base, event.sha) if self.c.local_compare else None
        if local is not None:
            return local
        path = f"/repos/{self.repo}/compare/{base}...{event.sha}"
        first = self.client.get(path, {"per_page": 100}, ok=(404,))
        if first.status == 404:  # a base rewritten away (force-push): its head alone, as a first
            return [event.sha]
        page: Response | None = first
        listed: list[tuple[str, str]] = []
        while page is not None:
            for c in (page.json or {}).get("commits") or ():
                when = instant(((c.get("commit") or {}).get("committer") or {}).get("date"))
                listed.append((_iso(when) if when else "", c["sha"]))
            page = self.client.get(page.next_url) if page.next_url else None
        # in commit-time order, like the local walk: the same deployment gives the same record
        return [sha for _, sha in sorted(listed)]

    def _fill_parents(self, rows: list[dict[str, Any]]) -> None:
        """Give commit rows read without parents (a pull request's) the parents the history
        gave in this sync, or ask for them: one request per 100 commits."""
        missing = []
        for row in rows:
            if row["parents"] is None:
                known = self.parents.get(row["sha"])
                if known is not None:
                    row["parents"] = list(known)
                else:
                    missing.append(row)
        for start in range(0, len(missing), 100):
            part = missing[start:start + 100]
            data = self.client.graphql(queries.commit_parents_query(
                self.owner, self.name, [r["sha"] for r in part]))
            found = _repository(data, self.repo)
            for i, row in enumerate(part):
                node = found.get(f"c{i}") or {}
                if "parents" in node:
                    row["parents"] = [p["oid"] for p in (node["parents"].get("nodes") or ())
                                      if p]

    def _learn(self, rows: list[dict[str, Any]]) -> None:
        """Keep the commit graph read in this sync (parents, commit instants)."""
        for row in rows:
            if row["parents"] is None:
                continue
            self.parents[row["sha"]] = row["parents"]
            self.dates[row["sha"]] = _iso(row["committed_at"]) if row["committed_at"] else ""

    def _ancestors(self, sha: str) -> set[str] | None:
        """``sha`` and every commit reachable from it, if the graph read in this sync holds them
        all (None otherwise)."""
        seen: set[str] = set()
        stack = [sha]
        while stack:
            s = stack.pop()
            if s in seen:
                continue
            parents = self.parents.get(s)
            if parents is None or len(parents) >= MAX_PARENTS:
                return None
            seen.add(s)
            stack.extend(parents)
        return seen

    def _walk(self, service: str, base: str, head: str) -> list[str] | None:
        """What ``GET /compare/{base}...{head}`` would list (commits reachable from ``head`` and
        not from ``base``, oldest first), from the graph read in this sync — or None when it does
        not hold every commit needed (then the compare API is asked). A first sync reads the
        whole history before the deployments, so it needs no compare request for deployments of
        the default branch; the ancestors of the last base per service are kept and grown."""
        cached = self._bases.get(service)
        known = cached[1] if cached is not None and cached[0] == base else self._ancestors(base)
        if known is None:
            return None
        out: set[str] = set()
        stack = [head]
        reached_base = False
        while stack:
            s = stack.pop()
            if s in known:
                reached_base = reached_base or s == base
                continue
            if s in out:
                continue
            parents = self.parents.get(s)
            if parents is None or len(parents) >= MAX_PARENTS:
                return None
            out.add(s)
            stack.extend(parents)
        # the next base of this service is ``head`` if this one succeeds: its ancestors are
        # base's and ``out`` when it descends from base (else they are computed when needed)
        self._pending_base = (service, head, (known | out) if reached_base else None)
        return sorted(out, key=lambda c: (self.dates.get(c, ""), c))

    def _rules(self) -> list[tuple[int, WorkflowRule]]:
        return list(enumerate(self.source.workflows))

    def workflow_runs(self) -> Iterator[Batch]:
        if not self.source.workflows:
            return
        st = self.state.setdefault("runs", {})
        since = st.get("since") or self.floor
        etags = st.setdefault("etags", {})
        branches = sorted({rule.branch or self.default_branch or "main"
                           for rule in self.source.workflows})
        runs: dict[int, tuple[Mapping[str, Any], str]] = {}
        fresh: dict[str, str | None] = {}  # kept only once every run read is committed
        for branch in branches:
            # a cheap conditional probe: the newest run of the branch (a 304 costs no quota)
            head = self.client.get(f"/repos/{self.repo}/actions/runs",
                                   {"branch": branch, "per_page": 1},
                                   etag=etags.get(branch) if not st.get("pending") else None)
            if head.not_modified:
                continue
            fresh[branch] = head.etag
            params: dict[str, str | int | float | bool | None] = {
                "branch": branch, "per_page": 100}
            if since:
                params["created"] = f">={since}"
            for page in self.client.paginate(f"/repos/{self.repo}/actions/runs", params):
                for run in (page.json or {}).get("workflow_runs") or ():
                    runs[int(run["id"])] = (run, branch)
        if fresh:
            ordered = sorted(runs.values(), key=lambda rb: (str(rb[0].get("created_at")),
                                                            int(rb[0]["id"])))

            def chunks() -> Iterator[tuple[list[DeployEvent], datetime]]:
                # the jobs of DEPLOY_PAGE runs at a time: a kill loses one chunk's requests
                for i in range(0, len(ordered), DEPLOY_PAGE):
                    part = ordered[i:i + DEPLOY_PAGE]
                    events = [e for run, branch in part for e in self._run_events(run, branch)]
                    if events:
                        st["matched"] = True  # a rule matched: releases are not deployments
                    last = instant(part[-1][0].get("created_at"))
                    assert last is not None, "GitHub always gives a run's created_at"
                    yield events, last

            yield from self._emit_chunks(chunks(), st)
        etags.update(fresh)  # in the sync's final cursor: a kill before it reads the runs again

    def _run_events(self, run: Mapping[str, Any], branch: str) -> list[DeployEvent]:
        out: list[DeployEvent] = []
        for index, rule in self._rules():
            want_branch = rule.branch or self.default_branch or "main"
            if not (workflow_matches(run.get("name"), rule.workflow)
                    and workflow_matches(run.get("head_branch"), want_branch)
                    and workflow_matches(branch, want_branch)):
                continue
            why = (f"workflow '{run.get('name')}' matches source.workflows[{index}] "
                   f"(workflow '{rule.workflow}', job '{rule.job or '*'}', branch "
                   f"'{want_branch}')")
            if rule.job is None:  # the run itself is the deployment
                event = deployment_from_run(self.repo, run, rule.environment, why,
                                            self.source.production_environment)
                if event is not None:
                    out.append(event)
                continue
            if run.get("status") != "completed":  # its jobs are read once it has finished
                created = instant(run.get("created_at"))
                if created is not None:
                    out.append(DeployEvent(f"{self.repo} run {run['id']}", rule.environment,
                                           None, str(run.get("head_sha")), created, created,
                                           None, None, "", why))
                continue
            prefix = f"{self.repo} run {run['id']} job "
            if any(k.startswith(prefix) for k in (self.state.get("runs") or {}).get("done", {})):
                continue  # committed by an earlier sync: its jobs are not asked for again
            for page in self.client.paginate(f"/repos/{self.repo}/actions/runs/{run['id']}/jobs",
                                             {"per_page": 100}):
                for job in (page.json or {}).get("jobs") or ():
                    if workflow_matches(job.get("name"), rule.job):
                        event = deployment_from_job(self.repo, run, job, rule.environment,
                                                    why + f", job '{job.get('name')}'",
                                                    self.source.production_environment)
                        if event is not None:
                            out.append(event)
        return out

    def releases_and_tags(self) -> Iterator[Batch]:
        mode = self.source.releases_as_deployments
        matched = bool((self.state.get("runs") or {}).get("matched"))
        use_releases = mode == "always" or (
            mode == "auto" and not self.has_deployments and not matched)
        pattern = self.source.deployments_from_tags
        if not use_releases and not pattern:
            return
        tags = self._tags()
        events: list[DeployEvent] = []
        if use_releases:
            why = ("releases_as_deployments 'always'" if mode == "always" else
                   "releases_as_deployments 'auto': the repository has no deployments and no "
                   "workflow run matching a rule")
            for page in self.client.paginate(f"/repos/{self.repo}/releases", {"per_page": 100}):
                for release in page.json or ():
                    sha = tags.get(str(release.get("tag_name")), (None, None))[0]
                    if not sha:
                        continue  # a release whose tag is gone: no commit to ship
                    event = deployment_from_release(self.repo, release, sha, why)
                    if event is not None:
                        events.append(event)
        if pattern:
            why = f"tag matches deployments_from_tags '{pattern}'"
            for name, (sha, at) in tags.items():
                if sha and at is not None and fnmatch.fnmatchcase(name, pattern):
                    events.append(deployment_from_tag(self.repo, name, sha, at, why))
        st = self.state.setdefault("releases", {})
        # releases and tags are read whole (few): those before the watermark were committed
        floor = instant(st.get("since") or self.floor)
        if floor is not None:
            events = [e for e in events if e.created_at >= floor]
        yield from self._emit(events, st)

    def _tags(self) -> dict[str, tuple[str, datetime | None]]:
        out: dict[str, tuple[str, datetime | None]] = {}
        after = None
        while True:
            data = self.client.graphql(queries.TAGS, {"owner": self.owner, "name": self.name,
                                                      "first": 100, "after": after})
            conn = _repository(data, self.repo).get("refs") or {}
            for ref in conn.get("nodes") or ():
                target = ref.get("target") or {}
                if target.get("__typename") == "Tag":
                    inner = target.get("target") or {}
                    at = instant((target.get("tagger") or {}).get("date")) or instant(
                        inner.get("committedDate"))
                    out[ref["name"]] = (inner.get("oid", ""), at)
                else:
                    out[ref["name"]] = (target.get("oid", ""), instant(target.get("committedDate")))
            page = conn.get("pageInfo") or {}
            if not page.get("hasNextPage"):
                return out
            after = page.get("endCursor")


def _repository(data: Mapping[str, Any], repo: str) -> dict[str, Any]:
    found = data.get("repository")
    if not isinstance(found, dict):
        raise NotFoundError(f"GitHub: repository {repo} not found",
                            hint="check its owner/name in shipwise.yaml and the token's access")
    return found

