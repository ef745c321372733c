"""The GitLab connector: merge requests, default-branch commits and production deployments of
each configured project, read incrementally over REST v4 (see ``docs/gitlab.md``).

One scope per project (``group/sub/project``). A sync reads, in this order, each phase yielding
one batch per page (commits: about 1,000, newest first) with the cursor valid once that batch is
committed:

1. **probe** — ``GET /projects/:id`` (conditional). When the project's ``last_activity_at`` has
   not moved, the last full pass began more than an hour after it (GitLab updates it at most
   once an hour), no deployment or pipeline is still running and the last full pass is younger
   than ``full_every``, the sync stops here: one request. (A webhook about a deployment, pipeline,
   job or release received in this process makes the next sync read those phases.)
2. **merge requests** updated since the watermark (minus ``overlap``); commits and notes are
   fetched only for those whose ``updated_at`` moved.
3. **commits** of the default branch: its head (conditional ``GET /repository/branches/:b``);
   when it moved, ``compare`` from the previous head gives exactly the new commits (old-dated
   commits of a branch merged late included), then one listing ``with_stats`` reads them.
4. **deployments** to production environments (name regex or ``tier: production``), commits
   shipped by ``compare`` from the previous successful production deployment.
5. **pipelines and jobs** matching ``jobs:`` rules, when there are rules.
6. **releases** and tags (``deployments_from_tags``) when ``releases_as_deployments`` says so.

A deployment no service maps is emitted with the project path as its service (the importer
quarantines it as ``unknown service``) and kept in the cursor; once the :class:`ServiceMap` maps
it, the next sync emits it again with its service.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shipwise.config import AgentSettings, GitLabSource
from shipwise.connectors.base import Batch, Cursor, Scope
from shipwise.connectors.gitlab import mapping as m
from shipwise.connectors.gitlab import webhook
from shipwise.connectors.gitlab.client import PER_PAGE, GitLabClient
from shipwise.connectors.http import ClientHolder
from shipwise.domain.services import ServiceMap
from shipwise.errors import ConfigError, ShipwiseError, TerminalError
from shipwise.governance.agents import AgentRules

#: Commits per batch.
COMMIT_BATCH = 1000
#: Deployments of an unmapped project kept in the cursor to emit again once it is mapped.
MAX_UNMAPPED = 2000
#: GitLab moves ``last_activity_at`` at most once in this long.
ACTIVITY_THROTTLE = timedelta(hours=1)
#: Pipeline statuses that are final.
PIPELINE_DONE = frozenset({"success", "failed", "canceled", "skipped", "manual"})


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _State:
    """The cursor of one project, as a mutable working copy."""

    data: dict[str, Any] = field(default_factory=dict)

    def part(self, name: str) -> dict[str, Any]:
        value = self.data.get(name)
        if not isinstance(value, dict):
            value = {}
            self.data[name] = value
        return value

    def cursor(self) -> Cursor:
        return Cursor(self.data)


class GitLabConnector(ClientHolder[GitLabClient]):
    """The :class:`~shipwise.connectors.base.Connector` of one ``kind: gitlab`` source."""

    kind = "gitlab"

    def __init__(self, source: GitLabSource, services: ServiceMap, *,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], datetime] = _now,
                 overlap: timedelta = timedelta(minutes=10),
                 full_every: timedelta = timedelta(hours=1),
                 agents: AgentSettings | None = None) -> None:
        self.source = source
        #: how agent-authored merge requests are recognised (``ai.agents``: usernames, labels)
        self.agents = AgentRules.of(agents or AgentSettings())
        self.services = services
        self.name = source.id
        self._hold(transport, sleep, clock)
        self.overlap = overlap
        self.full_every = full_every

    # -- plumbing -----------------------------------------------------------------------------

    def client(self, *, token_required: bool = True) -> GitLabClient:
        src = self.source
        return self._held(lambda: GitLabClient(
            src.base_url, src.token(required=token_required), **self._client_options(
                timeout=src.timeout_seconds, max_attempts=src.max_attempts)))

    def scopes(self) -> list[Scope]:
        base = self.source.base_url.rstrip("/")
        return [Scope(p, f"{base}/{p}") for p in self.source.projects]

    # -- doctor -------------------------------------------------------------------------------

    def check(self) -> list[str]:
        """Problems with this source as sentences saying what to do (see ``docs/gitlab.md``)."""
        src = self.source
        problems: list[str] = []
        if not src.projects:
            problems.append(f"source '{src.id}': no projects listed; add `projects: "
                            "[group/project]` to the source in shipwise.yaml.")
        if src.token(required=False) is None:
            where = src.token_env or str(src.token_file or "token_env")
            return [*problems, f"source '{src.id}': no GitLab token found in {where}; create a "
                    "personal, group or project access token with the 'read_api' scope and "
                    f"export it as {src.token_env or 'the variable named by token_env'}."]
        # one attempt per request: doctor reports a failure rather than waiting out back-offs
        client = GitLabClient(src.base_url, src.token(required=False), timeout=src.timeout_seconds,
                              max_attempts=1, transport=self._transport, sleep=self._sleep,
                              clock=lambda: self._clock().timestamp())
        try:
            return problems + self._check_with(client)
        finally:
            client.close()

    def _check_with(self, client: GitLabClient) -> list[str]:
        src = self.source
        problems: list[str] = []
        try:
            me = client.get("personal_access_tokens/self").json or {}
        except ShipwiseError as exc:
            return [_sentence(src, exc)]
        scopes = set(me.get("scopes") or []) if isinstance(me, dict) else set()
        if not scopes & {"read_api", "api"}:
            problems.append(
                f"source '{src.id}': the token's scopes are {sorted(scopes) or 'none'}; it needs "
                "'read_api' (or 'api'): create a token with the read_api scope.")
            return problems
        if client.last_rate_limit is not None:
            remaining, limit, reset = client.last_rate_limit
            if limit and remaining < max(50, limit // 10):
                at = datetime.fromtimestamp(reset, UTC).strftime("%H:%M UTC")
                problems.append(f"source '{src.id}': only {remaining} of {limit} requests left "
                                f"until {at}; sync later or fewer projects at once.")
        for project in src.projects:
            try:
                client.get(GitLabClient.project_path(project))
            except ShipwiseError as exc:
                problems.append(_sentence(src, exc, project))
                continue
            if self.services.resolve(project) is None and not any(
                    t.repo.lower() == project.lower() for t in self.services.targets):
                problems.append(
                    f"source '{src.id}': project {project} is not mapped to a service; give a "
                    f"service `repo: {project}` in the organisation file, or its deployments "
                    "are quarantined as 'unknown service'.")
        return problems

    # -- sync ---------------------------------------------------------------------------------

    def sync(self, scope: Scope, cursor: Cursor) -> Iterator[Batch]:
        if scope.key not in self.source.projects:
            raise ConfigError(f"source '{self.source.id}' does not list project {scope.key!r}",
                              hint="add it to `projects:` of the source in shipwise.yaml")
        client = self.client()
        st = _State(_copy(cursor.state))
        project = scope.key
        if not isinstance(st.data.get("project_id"), int):
            info = client.get(GitLabClient.project_path(project)).json
            st.data["project_id"] = int(info["id"])
            st.data["default_branch"] = info.get("default_branch") or "main"
        base = f"projects/{st.data['project_id']}"
        started = self._clock()
        last = cursor.to_json()
        run_activity, run_deploys, seen = self._probe(client, base, project, st, started)
        if not run_activity:
            st.part("probe").update(seen)
        phases: list[Iterator[Batch]] = [self._remapped(project, st)]
        if run_activity:
            phases += [self._merge_requests(client, base, project, st),
                       self._commits(client, base, project, st)]
        if run_deploys:
            phases.append(self._deployments(client, base, project, st))
            if self.source.jobs:
                phases.append(self._pipelines(client, base, project, st))
            phases.append(self._releases(client, base, project, st))
        for phase in phases:
            for batch in phase:
                now = batch.cursor.to_json()
                if batch.rows or now != last:  # no empty batch that changes nothing
                    last = now
                    yield batch
        probe = st.part("probe")
        if run_activity:  # what the probe saw is kept only once everything it announced is in
            probe.update(seen)
            probe["activity_read_at"] = m.iso(started)
        if run_deploys:
            probe["deploys_read_at"] = m.iso(started)
        if st.cursor().to_json() != last:
            yield Batch({}, st.cursor())

    def _probe(self, client: GitLabClient, base: str, project: str, st: _State,
               now: datetime) -> tuple[bool, bool, dict[str, Any]]:
        """The cheap change probe (see the module docstring): whether merge requests and
        commits, and whether deployments, pipelines and releases, need reading, and what the
        probe saw (ETag, ``last_activity_at``) to keep once they are read."""
        probe = st.part("probe")
        response = client.get(base, etag=probe.get("etag"))
        moved = False
        seen: dict[str, Any] = {}
        activity = probe.get("activity")
        if not response.not_modified:
            body = response.json or {}
            activity = body.get("last_activity_at")
            moved = activity != probe.get("activity")
            seen = {"etag": response.etag, "activity": activity}
        activity_at = m.instant(activity)
        read_at = m.instant(probe.get("activity_read_at"))
        deploys_at = m.instant(probe.get("deploys_read_at"))
        run_activity = (moved or activity_at is None or read_at is None
                        # activity may have happened since without moving the probe
                        or read_at < activity_at + ACTIVITY_THROTTLE
                        or now - read_at >= self.full_every)
        run_deploys = (run_activity or deploys_at is None
                       # deployments, pipelines and releases do not move the probe
                       or now - deploys_at >= self.full_every
                       or webhook.announced_after(project, deploys_at)
                       or bool(st.part("dep").get("pending") or st.part("pipe").get("pending")))
        return run_activity, run_deploys, seen

    # merge requests ---------------------------------------------------------------------------

    def _merge_requests(self, client: GitLabClient, base: str, project: str,
                        st: _State) -> Iterator[Batch]:
        part = st.part("mr")
        after = self._after(part.get("after"), default=self._since())
        seen: dict[str, Any] = dict(part.get("seen") or {})
        params = {"updated_after": after, "order_by": "updated_at", "sort": "asc",
                  "scope": "all", "state": "all", "per_page": PER_PAGE}
        for items in self._pages(client, f"{base}/merge_requests", params, part):
            rows = []
            for mr in items:
                iid, updated = str(mr.get("iid")), mr.get("updated_at")
                if seen.get(iid) == updated:
                    continue
                path = f"{base}/merge_requests/{mr['iid']}"
                commits = client.all_items(f"{path}/commits", {"per_page": PER_PAGE})
                notes = client.all_items(f"{path}/notes", {"sort": "asc", "order_by": "created_at",
                                                           "per_page": PER_PAGE})
                rows.append(m.merge_request(project, mr, commits, notes, self.agents))
                seen[iid] = updated
                part["after"] = _later(part.get("after"), updated)
            part["seen"] = self._prune(seen, part.get("after"))
            yield Batch({"pull_request": m.table("pull_request", rows)} if rows else {},
                        st.cursor())

    # commits ----------------------------------------------------------------------------------

    def _commits(self, client: GitLabClient, base: str, project: str,
                 st: _State) -> Iterator[Batch]:
        part = st.part("commits")
        branch = str(st.data.get("default_branch") or "main")
        response = client.get(f"{base}/repository/branches/{_quote(branch)}",
                              etag=part.get("etag"))
        if response.not_modified:
            return
        tip = str(((response.json or {}).get("commit") or {}).get("id") or "")
        old = part.get("tip")
        if not tip or tip == old:
            part["etag"] = response.etag
            return
        params: dict[str, Any] = {"ref_name": tip, "with_stats": "true", "per_page": PER_PAGE}
        wanted: set[str] | None = None
        if old:
            cmp = client.get(f"{base}/repository/compare", {"from": old, "to": tip}).json or {}
            new = [c for c in cmp.get("commits") or [] if isinstance(c, dict)]
            if not cmp.get("compare_timeout"):
                wanted = {str(c["id"]) for c in new}
                dates = [t for t in (m.instant(c.get("committed_date")) for c in new) if t]
                if not dates:
                    part["tip"], part["etag"] = tip, response.etag
                    yield Batch({}, st.cursor())
                    return
                params["since"] = m.iso(min(dates) - self.overlap)
        elif self.source.since is not None:
            params["since"] = f"{self.source.since.isoformat()}T00:00:00Z"
        # GitLab lists newest first; batches go in that order (memory stays bounded on a first
        # sync of a long history) and the head is kept only with the last one, so a sync killed
        # half-way reads the new commits again (upserts: nothing counted twice)
        rows: list[dict[str, Any]] = []
        for page in client.items(f"{base}/repository/commits", params):
            rows += [m.commit(project, c) for c in page
                     if wanted is None or str(c.get("id")) in wanted]
            if len(rows) >= COMMIT_BATCH:
                yield Batch({"commit": m.table("commit", rows)}, st.cursor())
                rows = []
        part["tip"], part["etag"] = tip, response.etag  # only now: a kill reads them again
        yield Batch({"commit": m.table("commit", rows)} if rows else {}, st.cursor())

    # deployments ------------------------------------------------------------------------------

    def _environments(self, client: GitLabClient, base: str, st: _State) -> dict[str, Any]:
        part = st.part("envs")
        response = client.get(f"{base}/environments", {"per_page": PER_PAGE},
                              etag=part.get("etag"))
        if not response.not_modified and isinstance(response.json, list) and \
                not response.next_url:
            part["etag"] = response.etag
            part["tiers"] = {str(e.get("id")): e.get("tier") for e in response.json
                             if isinstance(e, dict)}
        elif not response.not_modified:  # many environments: read all, keep no ETag
            part.pop("etag", None)
            part["tiers"] = {str(e.get("id")): e.get("tier")
                             for e in client.all_items(f"{base}/environments",
                                                       {"per_page": PER_PAGE})}
        tiers = part.get("tiers")
        return tiers if isinstance(tiers, dict) else {}

    def _deployments(self, client: GitLabClient, base: str, project: str,
                     st: _State) -> Iterator[Batch]:
        tiers: dict[str, Any] | None = None
        part = st.part("dep")
        seen: dict[str, Any] = dict(part.get("seen") or {})
        read_from = self._after(part.get("after"), default=self._since())
        params = {"updated_after": read_from, "order_by": "updated_at", "sort": "asc",
                  "per_page": PER_PAGE}
        pending: str | None = None
        pattern = self.source.production_environment
        for items in self._pages(client, f"{base}/deployments", params, part):
            rows = []
            for d in items:
                key, updated = str(d.get("id")), d.get("updated_at")
                status = str(d.get("status") or "")
                env = _obj(d.get("environment"))
                name = env.get("name")
                tier = env.get("tier")
                if tier is None:
                    known = st.part("envs").get("tiers")
                    if tiers is None and not (isinstance(known, dict)
                                              and str(env.get("id")) in known):
                        tiers = self._environments(client, base, st)  # once, when needed
                    tier = (tiers or known or {}).get(str(env.get("id")))
                rule = m.production_rule(name, tier, pattern)
                if rule is not None:
                    st.data["has_deployments"] = True
                if status in m.DEPLOYMENT_PENDING and rule is not None:
                    pending = _earlier(pending, updated)
                    continue
                if seen.get(key) == updated:
                    continue
                seen[key] = updated
                verdict = m.deployment_status(status)
                if rule is not None and verdict is not None:
                    started, finished = m.deployment_times(d)
                    job = _obj(d.get("deployable"))
                    rows.append(self._deploy_row(
                        client, base, project, st, kind="deployment", key=key, sha=d.get("sha"),
                        status=verdict, started=started, finished=finished, env=name,
                        job=job.get("name"), rule=f"GitLab deployment; {rule}",
                        source=f"gitlab:{project} deployment {key} status {status}"))
                if pending is None:
                    part["after"] = _later(part.get("after"), updated)
            part["pending"] = pending
            part["seen"] = self._prune(seen, part.get("after"))
            yield Batch({"deployment": m.table("deployment", rows)} if rows else {}, st.cursor())

    def _deploy_row(self, client: GitLabClient, base: str, project: str, st: _State, *,
                    kind: str, key: str, sha: Any, status: m.DeployStatus,
                    started: datetime | None, finished: datetime | None, env: str | None,
                    job: str | None, rule: str, source: str, version: str | None = None,
                    environment: str = m.PRODUCTION_ENV) -> dict[str, Any]:
        """A deployment row with the commits it shipped; parked in the cursor when no service
        maps it (see :meth:`_remapped`)."""
        shipped = self._shipped(client, base, st, str(sha or ""), finished) if (
            status == "success" and environment == m.PRODUCTION_ENV) else (
            [str(sha)] if sha else [])
        service = self.services.resolve(project, env, job)
        row = m.deployment_row(project=project, kind=kind, key=key, service=service or project,
                               started=started, finished=finished, status=status,
                               commits=shipped, rule=rule, source=source, version=version,
                               environment=environment)
        if service is None:  # quarantined as unknown service; kept to emit again once mapped
            parked = st.part("unmapped")
            if len(parked) < MAX_UNMAPPED:
                parked[row["id"]] = {"row": m.row_to_json(row), "env": env, "job": job}
        return row

    def _shipped(self, client: GitLabClient, base: str, st: _State, sha: str,
                 finished: datetime | None) -> list[str]:
        """The commits a successful production deployment of ``sha`` shipped: those since the
        previous one's sha (``compare``); the first one ships its head only, the same sha again
        nothing, and one that ended before the latest seen (out of order) its head only, leaving
        the base where it is."""
        if not sha:
            return []
        previous = st.data.get("prod_sha")
        latest = m.instant(st.data.get("prod_at"))
        if latest is not None and finished is not None and finished < latest:
            return [sha]
        if finished is not None:
            st.data["prod_at"] = m.iso(finished)
        st.data["prod_sha"] = sha
        if not previous:
            return [sha]
        if previous == sha:
            return []
        cmp = client.get(f"{base}/repository/compare", {"from": previous, "to": sha}).json
        return [str(c["id"]) for c in (cmp or {}).get("commits") or [] if isinstance(c, dict)]

    def _remapped(self, project: str, st: _State) -> Iterator[Batch]:
        """The deployments quarantined as ``unknown service`` that the organisation now maps."""
        parked = st.part("unmapped")
        rows = []
        for key, entry in list(parked.items()):
            service = self.services.resolve(project, entry.get("env"), entry.get("job"))
            if service is not None:
                rows.append({**m.row_from_json(entry["row"]), "service": service})
                del parked[key]
        if rows:
            yield Batch({"deployment": m.table("deployment", rows)}, st.cursor())

    # pipelines --------------------------------------------------------------------------------

    def _pipelines(self, client: GitLabClient, base: str, project: str,
                   st: _State) -> Iterator[Batch]:
        part = st.part("pipe")
        seen: dict[str, Any] = dict(part.get("seen") or {})
        branch = str(st.data.get("default_branch") or "main")
        params: dict[str, Any] = {"updated_after": self._after(part.get("after"),
                                                               default=self._since()),
                                  "order_by": "updated_at", "sort": "asc", "per_page": PER_PAGE}
        if all(r.branch is None for r in self.source.jobs):
            params["ref"] = branch
        pending: str | None = None
        pattern = self.source.production_environment
        for items in self._pages(client, f"{base}/pipelines", params, part):
            rows = []
            for pl in items:
                key, updated = str(pl.get("id")), pl.get("updated_at")
                if str(pl.get("status")) not in PIPELINE_DONE:
                    pending = _earlier(pending, updated)
                    continue
                if seen.get(key) == updated:
                    continue
                seen[key] = updated
                for job in client.all_items(f"{base}/pipelines/{key}/jobs", {"per_page": PER_PAGE}):
                    rule = m.job_rule(self.source.jobs, pl, job, branch)
                    verdict = m.job_status(job.get("status"))
                    if rule is None or verdict is None:
                        continue
                    production = m.production_rule(rule.environment, None, pattern) is not None
                    st.data["has_job_deploys"] = st.data.get("has_job_deploys") or production
                    rows.append(self._deploy_row(
                        client, base, project, st, kind="job", key=str(job.get("id")),
                        sha=pl.get("sha"), status=verdict, started=m.instant(job.get("started_at")),
                        finished=m.instant(job.get("finished_at")), env=rule.environment,
                        job=job.get("name"), rule=m.describe_rule(rule, branch),
                        source=f"gitlab:{project} pipeline {key} job {job.get('id')}",
                        environment=m.PRODUCTION_ENV if production else rule.environment))
                if pending is None:
                    part["after"] = _later(part.get("after"), updated)
            part["pending"] = pending
            part["seen"] = self._prune(seen, part.get("after"))
            yield Batch({"deployment": m.table("deployment", rows)} if rows else {}, st.cursor())

    # releases and tags ------------------------------------------------------------------------

    def _releases(self, client: GitLabClient, base: str, project: str,
                  st: _State) -> Iterator[Batch]:
        mode = self.source.releases_as_deployments
        use = mode == "always" or (mode == "auto" and not st.data.get("has_deployments")
                                   and not st.data.get("has_job_deploys"))
        part = st.part("rel")
        seen: dict[str, Any] = dict(part.get("seen") or {})
        rows = []
        if use:
            response = client.get(f"{base}/releases", {"order_by": "released_at", "sort": "asc",
                                                       "per_page": PER_PAGE}, etag=part.get("etag"))
            items = [] if response.not_modified else self._rest(client, response)
            if not response.not_modified and not response.next_url:
                part["etag"] = response.etag
            for r in items:
                tag, sha = str(r.get("tag_name")), str((r.get("commit") or {}).get("id") or "")
                at = m.instant(r.get("released_at"))
                if r.get("upcoming_release") or at is None or seen.get(tag) == sha:
                    continue
                seen[tag] = sha
                rows.append(self._deploy_row(
                    client, base, project, st, kind="release", key=tag, sha=sha,
                    status="success", started=at, finished=at, env=m.PRODUCTION_ENV, job=None,
                    rule=f"releases_as_deployments: {mode}",
                    source=f"gitlab:{project} release {tag}", version=tag))
        pattern = self.source.deployments_from_tags
        if pattern and use:
            tags = [t for page in self._pages(client, f"{base}/repository/tags",
                                              {"order_by": "updated", "sort": "asc",
                                               "per_page": PER_PAGE}, st.part("tags"))
                    for t in page]
            tags.sort(key=lambda t: str(t.get("created_at") or
                                        (t.get("commit") or {}).get("committed_date") or ""))
            for t in tags:
                name = str(t.get("name"))
                sha = str((t.get("commit") or {}).get("id") or t.get("target") or "")
                if not fnmatch.fnmatchcase(name, pattern) or seen.get(f"tag:{name}") == sha:
                    continue
                at = m.instant(t.get("created_at")) or m.instant(
                    (t.get("commit") or {}).get("committed_date"))
                seen[f"tag:{name}"] = sha
                rows.append(self._deploy_row(
                    client, base, project, st, kind="tag", key=name, sha=sha, status="success",
                    started=at, finished=at, env=m.PRODUCTION_ENV, job=None,
                    rule=f"deployments_from_tags '{pattern}'",
                    source=f"gitlab:{project} tag {name}", version=name))
        part["seen"] = seen
        if rows:
            yield Batch({"deployment": m.table("deployment", rows)}, st.cursor())

    # helpers ----------------------------------------------------------------------------------

    def _pages(self, client: GitLabClient, path: str, params: Mapping[str, Any],
               part: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """The pages of a list; the first is conditional on the ETag kept in ``part`` when the
        same query last fitted one page (then a 304 means: nothing new, no page at all)."""
        query = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        etag = part.get("etag") if part.get("query") == query else None
        for pages, response in enumerate(client.paginate(path, params, etag=etag), start=1):
            if response.not_modified:
                return
            if pages == 1 and not response.next_url:
                part["etag"], part["query"] = response.etag, query
            elif pages == 1:
                part.pop("etag", None)
                part.pop("query", None)
            body = response.json
            yield [x for x in body if isinstance(x, dict)] if isinstance(body, list) else []

    @staticmethod
    def _rest(client: GitLabClient, first: Any) -> list[dict[str, Any]]:
        items = [x for x in (first.json or []) if isinstance(x, dict)]
        nxt = first.next_url
        while nxt:
            page = client.get(nxt)
            items += [x for x in (page.json or []) if isinstance(x, dict)]
            nxt = page.next_url
        return items

    def _since(self) -> str | None:
        return f"{self.source.since.isoformat()}T00:00:00Z" if self.source.since else None

    def _after(self, watermark: Any, default: str | None) -> str | None:
        at = m.instant(watermark)
        return m.iso(at - self.overlap) if at is not None else default

    def _prune(self, seen: dict[str, Any], watermark: Any) -> dict[str, Any]:
        """Keep what the next read's overlap can return again (and anything undated)."""
        at = m.instant(watermark)
        if at is None:
            return seen
        bound = at - self.overlap - timedelta(seconds=1)
        return {k: v for k, v in seen.items() if (m.instant(v) or at) >= bound}


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _copy(state: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (_copy(v) if isinstance(v, Mapping) else v) for k, v in state.items()}


def _later(a: Any, b: Any) -> Any:
    ta, tb = m.instant(a), m.instant(b)
    if tb is None:
        return a
    return b if ta is None or tb > ta else a


def _earlier(a: str | None, b: Any) -> str | None:
    ta, tb = m.instant(a), m.instant(b)
    if tb is None:
        return a
    return str(b) if ta is None or tb < ta else a


def _quote(branch: str) -> str:
    return branch.replace("/", "%2F")


def _sentence(source: GitLabSource, exc: ShipwiseError, project: str | None = None) -> str:
    what = f"project {project}" if project else f"GitLab at {source.base_url}"
    text = f"source '{source.id}': {what}: {exc}"
    if exc.hint:
        text += f"; {exc.hint}"
    if not isinstance(exc, TerminalError):
        text += " (could not reach it: check base_url and the network)"
    return text + "."
