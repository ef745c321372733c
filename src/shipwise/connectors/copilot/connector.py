"""The GitHub Copilot metrics connector, on one of two GitHub APIs (``api:`` in the source).

``reports`` (default; github.com since the legacy API closed on 2026-04-02): one scope,
``(reports)``. For each day from the cursor on it asks ``GET /orgs/{org}/copilot/metrics/
reports/users-1-day?day=…`` and ``…/user-teams-1-day?day=…`` (API version ``2026-03-10``); each
answers ``{"download_links": [signed URLs], "report_day": …}``. The NDJSON files behind the
links are downloaded without the token (they are signed; a link expires, and then the report is
asked again for fresh links), joined and summed per shipwise team in memory
(:mod:`.reports`): nothing per person leaves this module. A day GitHub has not produced yet
(404, 204 or no links) is skipped; the cursor keeps the last day read and the next sync reads
``overlap_days`` again before it, so a day GitHub produced late or corrected is read then.
Reports exist from 2025-10-10 and for a year back; a first sync reads ``backfill_days``.

``legacy``: each mapped GitHub team (and, with ``org_team``, the whole organisation) is a
scope; ``GET /orgs/{org}/team/{team_slug}/copilot/metrics`` / ``GET /orgs/{org}/copilot/
metrics`` (API version ``2022-11-28``) answer completed days only, at most the last 28, paged by
a ``Link`` header (``per_page`` ≤ 100 days). The cursor keeps the last day read (``until``); the
next sync reads again from ``overlap_days`` before it. A day older than 28 days that was never
read cannot be read any more.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pyarrow as pa

from shipwise.config import CopilotSource
from shipwise.connectors.base import Batch, Cursor, Scope
from shipwise.connectors.copilot import mapping as m
from shipwise.connectors.copilot import reports as r
from shipwise.connectors.copilot.download import ExpiredLinkError, SignedDownloader
from shipwise.connectors.http import GITHUB_RATE_LIMIT, ClientHolder, HttpClient, MalformedPageError
from shipwise.errors import ConfigError

#: GitHub keeps this many days of Copilot metrics
WINDOW_DAYS = 28
API_VERSION = "2022-11-28"
PER_PAGE = 100
ORG_SCOPE = "(organisation)"
#: the usage metrics reports
REPORTS_API_VERSION = "2026-03-10"
REPORTS_SCOPE = "(reports)"
#: the first day GitHub has reports for, and how far back it keeps them
REPORTS_FIRST_DAY = date(2025, 10, 10)
REPORTS_KEPT_DAYS = 365
#: times a report is asked again when its links expired before they were read
LINK_RETRIES = 2


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
        self._downloader: SignedDownloader | None = None
        #: per scope, what the last sync wants the operator to know (:meth:`sync_notes`)
        self._notes: dict[str, list[str]] = {}

    def client(self) -> HttpClient:
        src = self.source
        return self._held(lambda: HttpClient(
            src.base_url, token=src.token(), rate_limit=GITHUB_RATE_LIMIT, service="GitHub",
            headers={"Accept": "application/vnd.github+json",
                     "X-GitHub-Api-Version": API_VERSION if src.api == "legacy"
                     else REPORTS_API_VERSION},
            **self._client_options(timeout=src.timeout_seconds, max_attempts=src.max_attempts)))

    def downloader(self) -> SignedDownloader:
        """Downloads of the signed report links: no token, the same retries."""
        if self._downloader is None:
            self._downloader = SignedDownloader(
                **self._client_options(timeout=self.source.timeout_seconds,
                                       max_attempts=self.source.max_attempts))
        return self._downloader

    def close(self) -> None:
        super().close()
        if self._downloader is not None:
            self._downloader.close()
            self._downloader = None

    def sync_notes(self, scope: str) -> list[str]:
        """What the last sync of ``scope`` wants the operator to know (shown by ``shipwise
        sync``): people of GitHub's reports on no mapped team, counted, never stored."""
        return list(self._notes.get(scope, []))

    def scopes(self) -> list[Scope]:
        if self.source.api == "reports":
            return [Scope(REPORTS_SCOPE, f"{self.source.org} usage metrics reports -> "
                          f"{len(set(self.source.teams.values()))} team(s)")]
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
        if scope.key == REPORTS_SCOPE:
            yield from self._sync_reports(cursor)
            return
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

    # -- the usage metrics reports -------------------------------------------------------------

    def report_days(self, cursor: Cursor) -> list[date]:
        """The days to read: from ``overlap_days`` before the last day read (a first sync:
        ``backfill_days`` back) to yesterday, never before GitHub keeps reports."""
        yesterday = self._clock().date() - timedelta(days=1)
        last = cursor.state.get("until")
        start = (date.fromisoformat(last) - timedelta(days=self.source.overlap_days)
                 if isinstance(last, str)
                 else yesterday - timedelta(days=self.source.backfill_days - 1))
        if self.source.since is not None:
            start = max(start, self.source.since)
        start = max(start, REPORTS_FIRST_DAY,
                    self._clock().date() - timedelta(days=REPORTS_KEPT_DAYS))
        return [start + timedelta(days=k) for k in range((yesterday - start).days + 1)]

    def _links(self, report: str, day: date) -> list[str] | None:
        """The signed links of one report of ``day`` (None: GitHub has no report for it)."""
        path = f"orgs/{self.source.org}/copilot/metrics/reports/{report}"
        page = self.client().get(path, {"day": day.isoformat()}, ok=(404,))
        body = page.json
        if page.status in (204, 404) or body is None:
            return None
        links = body.get("download_links") if isinstance(body, dict) else None
        if not isinstance(links, list) or not all(isinstance(x, str) for x in links):
            raise MalformedPageError(
                f"GET /{path}: GitHub answered without the report's download_links",
                url=page.url, excerpt=str(body)[:200],
                hint="check base_url and that the Copilot usage metrics policy is enabled")
        said = body.get("report_day")
        if isinstance(said, str) and said != day.isoformat():
            raise MalformedPageError(
                f"GET /{path}: asked for {day.isoformat()}, GitHub answered the report of "
                f"{said}", url=page.url, excerpt=str(body)[:200])
        return links or None

    def _report(self, report: str, day: date) -> list[bytes] | None:
        """The NDJSON files of one report of ``day``; links that expired before they were read
        are asked for again (at most :data:`LINK_RETRIES` times)."""
        for attempt in range(LINK_RETRIES + 1):
            links = self._links(report, day)
            if links is None:
                return None
            try:
                return [self.downloader().get(link) for link in links]
            except ExpiredLinkError:
                if attempt == LINK_RETRIES:
                    raise
        return None  # pragma: no cover - the loop returns or raises

    def _sync_reports(self, cursor: Cursor) -> Iterator[Batch]:
        src = self.source
        source = f"github-copilot:{src.org} reports"
        self._notes.pop(REPORTS_SCOPE, None)
        days, worst = 0, (0, 0)
        for day in self.report_days(cursor):
            users = self._report("users-1-day", day)
            teams = self._report("user-teams-1-day", day) if users is not None else None
            if users is None or teams is None:
                continue  # not produced (yet): a later sync asks again within the overlap
            try:
                people = r.read_ndjson(users, r.USERS)
                members = r.read_ndjson(teams, r.USER_TEAMS)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                # the excerpt stays empty: the files name people
                raise MalformedPageError(
                    f"the Copilot usage reports of {day.isoformat()} are not the NDJSON GitHub "
                    f"documents ({type(exc).__name__})", url=f"{src.base_url}/orgs/{src.org}/"
                    "copilot/metrics/reports", excerpt="",
                    hint="check base_url; if GitHub changed the report's fields, report it "
                         "to shipwise's maintainers") from None
            got = r.aggregate(people, members, src.teams, day, source, src.org_team)
            days += 1
            worst = max(worst, (got.unmapped, got.people))
            if worst[0]:
                self._notes[REPORTS_SCOPE] = [
                    f"up to {worst[0]} of {worst[1]} people a day in GitHub's reports were on no "
                    f"mapped GitHub team ({days} day(s) read): their usage is in no team; map "
                    "their teams under `teams:` (or set `org_team:`)"]
            last = cursor.state.get("until")
            until = max(day.isoformat(), last) if isinstance(last, str) else day.isoformat()
            cursor = Cursor({**cursor.state, "until": until,
                             "last_day": {"day": day.isoformat(), "people": got.people,
                                          "on_no_mapped_team": got.unmapped}})
            yield Batch({"ai_usage": got.table}, cursor)

