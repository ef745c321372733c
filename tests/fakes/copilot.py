"""Fakes of GitHub's Copilot metrics APIs: the usage metrics reports (the current API,
:class:`FakeCopilotReports`, at the end) and the legacy metrics API closed on github.com on
2026-04-02 (:class:`FakeCopilot`).

The legacy fake: GitHub's Copilot metrics API (``GET /orgs/{org}/copilot/metrics`` and
``GET /orgs/{org}/team/{team_slug}/copilot/metrics``) on a real local HTTP server.

It serves the payload shape GitHub documents ("REST API endpoints for Copilot metrics", API
version 2022-11-28): a JSON list of days, each with ``date``, ``total_active_users``,
``total_engaged_users`` and per feature ``copilot_ide_code_completions`` (``editors[].models[]
.languages[]`` with ``total_code_suggestions``, ``total_code_acceptances``,
``total_code_lines_suggested``, ``total_code_lines_accepted``), ``copilot_ide_chat``
(``editors[].models[].total_chats``), ``copilot_dotcom_chat`` (``models[].total_chats``) and
``copilot_dotcom_pull_requests``. Like GitHub it keeps only the last 28 completed days, takes
``since``/``until`` (ISO 8601) and ``page``/``per_page`` (≤ 100) and pages with a ``Link``
header; and it checks what GitHub checks: a bearer token (401 otherwise), the API version header
(400 for an unsupported one), an unknown team (404).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import time
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.fakes.server import FakeServer

TOKEN = "ghp_copilot_fake_token"
API_VERSION = "2022-11-28"


def day_payload(rng: random.Random, when: date, people: int) -> dict[str, Any]:
    """One day of metrics for a group of ``people`` (GitHub's shape)."""
    active = rng.randint(people // 2, people)
    engaged = rng.randint(active // 2, active)

    def langs() -> list[dict[str, Any]]:
        out = []
        for name in ("python", "typescript"):
            shown = rng.randint(20, 300)
            acc = rng.randint(0, shown)
            lines = rng.randint(shown, 2 * shown)
            out.append({"name": name, "total_engaged_users": rng.randint(1, engaged or 1),
                        "total_code_suggestions": shown, "total_code_acceptances": acc,
                        "total_code_lines_suggested": lines,
                        "total_code_lines_accepted": rng.randint(0, lines)})
        return out

    return {
        "date": when.isoformat(),
        "total_active_users": active,
        "total_engaged_users": engaged,
        "copilot_ide_code_completions": {
            "total_engaged_users": engaged,
            "languages": [{"name": "python", "total_engaged_users": engaged}],
            "editors": [{"name": editor, "total_engaged_users": engaged, "models": [
                {"name": "default", "is_custom_model": False,
                 "custom_model_training_date": None, "total_engaged_users": engaged,
                 "languages": langs()}]} for editor in ("vscode", "jetbrains")],
        },
        "copilot_ide_chat": {"total_engaged_users": engaged, "editors": [
            {"name": "vscode", "total_engaged_users": engaged, "models": [
                {"name": "default", "is_custom_model": False,
                 "custom_model_training_date": None, "total_engaged_users": engaged,
                 "total_chats": rng.randint(0, 40), "total_chat_insertion_events": 3,
                 "total_chat_copy_events": 5}]}]},
        "copilot_dotcom_chat": {"total_engaged_users": 2, "models": [
            {"name": "default", "is_custom_model": False, "custom_model_training_date": None,
             "total_engaged_users": 2, "total_chats": rng.randint(0, 10)}]},
        "copilot_dotcom_pull_requests": {"total_engaged_users": 1, "repositories": [
            {"name": "acme/pay", "total_engaged_users": 1, "models": [
                {"name": "default", "is_custom_model": False,
                 "custom_model_training_date": None, "total_pr_summaries_created": 2,
                 "total_engaged_users": 1}]}]},
    }


class FakeCopilot(FakeServer):
    """``days[None]``: the organisation's days; ``days[slug]``: a team's. ``today``: the
    fake's date (the last completed day is the day before)."""

    def __init__(self, org: str, days: dict[str | None, list[dict[str, Any]]],
                 today: date) -> None:
        super().__init__()
        self.org, self.days, self.today = org, days, today
        #: the headers of every request (to check what the connector sends)
        self.headers: list[dict[str, str]] = []

    def answer(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        _, fault = self.received(parts.path, parts.query)
        with self.lock:
            self.headers.append({k.lower(): v for k, v in h.headers.items()})
        if fault is not None:
            self.send(h, fault.status, fault.body or json.dumps({"message": "fault"}).encode(),
                      fault.headers)
            return
        if h.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send(h, 401, json.dumps({"message": "Bad credentials"}).encode())
            return
        if h.headers.get("X-GitHub-Api-Version", API_VERSION) != API_VERSION:
            self.send(h, 400, json.dumps({"message": "Unsupported API version"}).encode())
            return
        org_path = f"/orgs/{self.org}/copilot/metrics"
        prefix = f"/orgs/{self.org}/team/"
        if parts.path == org_path:
            key: str | None = None
        elif parts.path.startswith(prefix) and parts.path.endswith("/copilot/metrics"):
            key = parts.path[len(prefix):-len("/copilot/metrics")]
            if key not in self.days:
                self.send(h, 404, json.dumps({"message": "Not Found"}).encode())
                return
        else:
            self.send(h, 404, json.dumps({"message": "Not Found"}).encode())
            return
        q = parse_qs(parts.query)
        first = self.today - timedelta(days=28)
        since = datetime.fromisoformat(q["since"][0].replace("Z", "+00:00")).date() \
            if "since" in q else first
        per_page = min(int(q.get("per_page", ["28"])[0]), 100)
        page = int(q.get("page", ["1"])[0])
        days = [d for d in self.days[key] if max(since, first) <= date.fromisoformat(d["date"])
                < self.today]
        chunk = days[(page - 1) * per_page: page * per_page]
        headers = {}
        if page * per_page < len(days):
            nxt = {**{k: v[0] for k, v in q.items()}, "page": str(page + 1)}
            headers["Link"] = f'<{self.url}{parts.path}?{urlencode(nxt)}>; rel="next"'
        self.send(h, 200, json.dumps(chunk).encode(), headers)


# -- the Copilot usage metrics reports (the current API) --------------------------------------

REPORTS_API_VERSION = "2026-03-10"
FIRST_REPORT_DAY = date(2025, 10, 10)
_SECRET = b"fake-storage-key"


def person_row(rng: random.Random, when: date, user_id: int, login: str) -> dict[str, Any]:
    """One person's day in ``users-1-day`` (the documented per-user record, trimmed of the
    per-IDE/language/model breakdowns the connector does not read, plus a few it must skip)."""
    gen = rng.randint(0, 80)
    acc = rng.randint(0, gen)
    agent = rng.randint(0, 6)
    chat = agent + rng.randint(0, 10)
    suggested = rng.randint(gen, 3 * gen + 1)
    return {
        "report_start_day": when.isoformat(), "report_end_day": when.isoformat(),
        "day": when.isoformat(), "organization_id": "4242", "enterprise_id": None,
        "user_id": user_id, "user_login": login,
        "user_initiated_interaction_count": chat,
        "code_generation_activity_count": gen + agent, "code_acceptance_activity_count": acc,
        "loc_suggested_to_add_sum": suggested, "loc_suggested_to_delete_sum": 0,
        "loc_added_sum": rng.randint(0, suggested), "loc_deleted_sum": rng.randint(0, 9),
        "used_agent": agent > 0, "used_chat": chat > 0, "used_cli": False,
        "ai_credits_used": round(rng.random() * 5, 2), "ai_adoption_phase": "code_first",
        "totals_by_feature": [
            {"feature": "code_completion", "user_initiated_interaction_count": 0,
             "code_generation_activity_count": gen, "code_acceptance_activity_count": acc,
             "loc_suggested_to_add_sum": suggested, "loc_suggested_to_delete_sum": 0,
             "loc_added_sum": acc, "loc_deleted_sum": 0},
            {"feature": "chat_panel_agent_mode", "user_initiated_interaction_count": agent,
             "code_generation_activity_count": agent, "code_acceptance_activity_count": 0,
             "loc_suggested_to_add_sum": 0, "loc_suggested_to_delete_sum": 0,
             "loc_added_sum": 0, "loc_deleted_sum": 0},
        ],
        "totals_by_ide": [{"ide": "vscode", "user_initiated_interaction_count": chat,
                           "code_generation_activity_count": gen,
                           "code_acceptance_activity_count": acc}],
        "totals_by_language_feature": [], "totals_by_model_feature": [],
    }


class FakeCopilotReports(FakeServer):
    """The usage metrics reports of ``org``: ``users[day]`` the per-user records of a day,
    ``teams[day]`` its (user, team) records (``user_id``, ``user_login``, ``day``,
    ``organization_id``, ``team_id``, ``slug``). ``today`` is the fake's date: it has reports
    for completed days only, from 2025-10-10 and a year back, and 404 for any other.

    ``GET /orgs/{org}/copilot/metrics/reports/{report}?day=`` checks the bearer token (401), the
    API version (400) and answers ``{"download_links": [...], "report_day": ...}``; the links
    point at ``/storage/…`` of this server, signed (``sig``) with an expiry (``se``, epoch
    seconds, ``ttl`` after the report was asked; ``expire_next`` makes the next links already
    expired). Storage refuses (403) a bad signature, an expired link, and any request that
    carries an ``Authorization`` header (like real storage), and serves the NDJSON split in
    ``parts`` files."""

    def __init__(self, org: str, users: dict[date, list[dict[str, Any]]],
                 teams: dict[date, list[dict[str, Any]]], today: date, *, parts: int = 2,
                 ttl: float = 300.0) -> None:
        super().__init__()
        self.org, self.users, self.teams, self.today = org, users, teams, today
        self.parts, self.ttl = parts, ttl
        self.expire_next = 0
        #: the headers of every request (to check what the connector sends)
        self.headers: list[tuple[str, dict[str, str]]] = []

    def _sign(self, path: str, expiry: int) -> str:
        return hmac.new(_SECRET, f"{path}|{expiry}".encode(), hashlib.sha256).hexdigest()

    def answer(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        _, fault = self.received(parts.path, parts.query)
        with self.lock:
            self.headers.append((parts.path, {k.lower(): v for k, v in h.headers.items()}))
        if fault is not None:
            self.send(h, fault.status, fault.body or json.dumps({"message": "fault"}).encode(),
                      fault.headers)
            return
        if parts.path.startswith("/storage/"):
            self._storage(h, parts.path, parse_qs(parts.query))
            return
        if h.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.send(h, 401, json.dumps({"message": "Bad credentials"}).encode())
            return
        if h.headers.get("X-GitHub-Api-Version") != REPORTS_API_VERSION:
            self.send(h, 400, json.dumps({"message": "Unsupported API version"}).encode())
            return
        prefix = f"/orgs/{self.org}/copilot/metrics/reports/"
        report = parts.path[len(prefix):] if parts.path.startswith(prefix) else ""
        data = {"users-1-day": self.users, "user-teams-1-day": self.teams}.get(report)
        q = parse_qs(parts.query)
        try:
            day = date.fromisoformat(q["day"][0])
        except (KeyError, ValueError):
            self.send(h, 422 if data is not None else 404,
                      json.dumps({"message": "Validation Failed"}).encode())
            return
        if data is None or day not in data or not (
                max(FIRST_REPORT_DAY, self.today - timedelta(days=365)) <= day < self.today):
            self.send(h, 404, json.dumps({"message": "Not Found"}).encode())
            return
        expiry = int(time.time() + self.ttl)
        with self.lock:
            if self.expire_next:
                self.expire_next -= 1
                expiry = int(time.time()) - 1
        links = []
        for k in range(self.parts):
            path = f"/storage/{report}/{day.isoformat()}/part-{k}.ndjson"
            links.append(f"{self.url}{path}?se={expiry}&sig={self._sign(path, expiry)}")
        self.send(h, 200, json.dumps({"download_links": links,
                                      "report_day": day.isoformat()}).encode())

    def _storage(self, h: BaseHTTPRequestHandler, path: str, q: dict[str, list[str]]) -> None:
        refused = json.dumps({"code": "AuthenticationFailed"}).encode()
        try:
            expiry, sig = int(q["se"][0]), q["sig"][0]
        except (KeyError, ValueError):
            self.send(h, 403, refused)
            return
        if (h.headers.get("Authorization") is not None or time.time() > expiry
                or not hmac.compare_digest(sig, self._sign(path, expiry))):
            self.send(h, 403, refused)
            return
        _, report, day, part = path.split("/")[1:]
        data = {"users-1-day": self.users, "user-teams-1-day": self.teams}[report]
        rows = data[date.fromisoformat(day)]
        k = int(part.removeprefix("part-").removesuffix(".ndjson"))
        mine = rows[k::self.parts]
        body = "".join(json.dumps(r) + "\n" for r in mine).encode()
        self.send(h, 200, body, ctype="application/x-ndjson")
