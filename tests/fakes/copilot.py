"""A fake of GitHub's Copilot metrics API (``GET /orgs/{org}/copilot/metrics`` and
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

import json
import random
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
