"""The GitHub Copilot metrics connector: each mapped GitHub team (and, with ``org_team``, the
whole organisation) is a scope; a sync reads its days since the cursor and yields them as
``ai_usage`` records of the shipwise team it is mapped to.

The API (``GET /orgs/{org}/team/{team_slug}/copilot/metrics``, ``GET /orgs/{org}/copilot/metrics``,
API version ``2022-11-28``) answers completed days only, at most the last 28, paged by a
``Link`` header (``per_page`` ≤ 100 days). The cursor keeps the last day read (``until``); the
next sync reads again from ``overlap_days`` before it, so a day GitHub completed late is
corrected, and an upsert of an unchanged day changes nothing. A day older than 28 days that was
never read (a sync paused for longer) cannot be read any more: the scope reports it as a gap.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from shipwise.config import CopilotSource
from shipwise.connectors.base import Batch, Cursor, Scope
from shipwise.connectors.copilot import mapping as m
from shipwise.connectors.http import GITHUB_RATE_LIMIT, ClientHolder, HttpClient, MalformedPageError
from shipwise.errors import ConfigError

#: GitHub keeps this many days of Copilot metrics
WINDOW_DAYS = 28
API_VERSION = "2022-11-28"
PER_PAGE = 100
ORG_SCOPE = "(organisation)"


def _now() -> datetime:
    return datetime.now(UTC)


class CopilotConnector(ClientHolder[HttpClient]):
    kind = "github-copilot"

    def __init__(self, source: CopilotSource, *, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.source = source
        self.name = source.id
        self._hold(transport, sleep, clock or (lambda: _now()))

    def client(self) -> HttpClient:
        src = self.source
        return self._held(lambda: HttpClient(
            src.base_url, token=src.token(), rate_limit=GITHUB_RATE_LIMIT, service="GitHub",
            headers={"Accept": "application/vnd.github+json",
                     "X-GitHub-Api-Version": API_VERSION},
            **self._client_options(timeout=src.timeout_seconds, max_attempts=src.max_attempts)))

    def scopes(self) -> list[Scope]:
        out = [Scope(slug, f"{self.source.org}/team/{slug} -> {team}")
               for slug, team in self.source.teams.items()]
        if self.source.org_team:
            out.append(Scope(ORG_SCOPE, f"{self.source.org} -> {self.source.org_team}"))
        return out

    def check(self) -> list[str]:
        problems = []
        if not self.source.teams and not self.source.org_team:
            problems.append("map GitHub teams to shipwise teams (`teams:`) or name the team "
                            "that gets the whole organisation's usage (`org_team:`)")
        if self.source.org_team and self.source.org_team in self.source.teams.values():
            problems.append(f"`org_team: {self.source.org_team}` is also a mapped GitHub team's "
                            "team: the organisation's days would replace the team's (one row "
                            "per team, day and tool); give the organisation a team of its own")
        try:
            self.source.token()
        except ConfigError as exc:
            problems.append(f"{exc} ({exc.hint})" if exc.hint else str(exc))
        return problems

    def _path(self, scope: Scope) -> tuple[str, str, str]:
        org = self.source.org
        if scope.key == ORG_SCOPE:
            team = self.source.org_team or ""
            return f"orgs/{org}/copilot/metrics", team, f"github-copilot:{org}"
        if scope.key not in self.source.teams:
            raise ConfigError(f"no GitHub team '{scope.key}' is mapped in source '{self.name}'")
        return (f"orgs/{org}/team/{scope.key}/copilot/metrics", self.source.teams[scope.key],
                f"github-copilot:{org} team {scope.key}")

    def since(self, cursor: Cursor) -> date:
        """The first day to ask for: ``overlap_days`` before the last day read, never before
        GitHub's window (nor ``since``)."""
        today = self._clock().date()
        first = today - timedelta(days=WINDOW_DAYS)  # completed days: today's is not
        last = cursor.state.get("until")
        start = (date.fromisoformat(last) - timedelta(days=self.source.overlap_days)
                 if isinstance(last, str) else first)
        if self.source.since is not None:
            start = max(start, self.source.since)
        return max(start, first)

    def sync(self, scope: Scope, cursor: Cursor) -> Iterator[Batch]:
        path, team, source = self._path(scope)
        since = self.since(cursor)
        params: dict[str, Any] = {"since": f"{since.isoformat()}T00:00:00Z", "per_page": PER_PAGE}
        rows: dict[date, dict[str, Any]] = {}
        for page in self.client().paginate(path, params):
            body = page.json
            if not isinstance(body, list):
                raise MalformedPageError(
                    f"GET {path}: GitHub answered without the list of days of Copilot metrics",
                    url=page.url, excerpt=str(body)[:200],
                    hint="check base_url and that the Copilot metrics API is enabled for "
                         "the organisation")
            for day in body:
                row = m.usage_row(day, team, source) if isinstance(day, dict) else None
                if row is not None:
                    rows[row["day"]] = row
        last = cursor.state.get("until")
        until = max([*(d.isoformat() for d in rows), *([last] if isinstance(last, str) else [])],
                    default=None)
        state = {**cursor.state, **({"until": until} if until else {})}
        yield Batch({"ai_usage": m.table(rows[d] for d in sorted(rows))}, Cursor(state))
