"""GitHub and GitLab webhooks on `shipwise serve`, over real HTTP: signatures, replays, what is
kept, and the sync the delivery triggers."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from shipwise.config import Settings, load_settings
from tests.server.conftest import Live, serve

GH_SECRET = "gh-webhook-secret-0123456789"
GL_SECRET = "gl-webhook-secret-0123456789"
PUSH = {"ref": "refs/heads/main", "repository": {"full_name": "acme/pay", "name": "pay",
                                                 "owner": {"login": "acme"}},
        "pusher": {"name": "ana", "email": "ana@example.com"}, "commits": []}
MR = {"object_kind": "merge_request", "event_type": "merge_request",
      "project": {"id": 7, "path_with_namespace": "platform/billing"},
      "object_attributes": {"iid": 3, "action": "merge"}}


def _settings(settings: Settings, tmp_path: Path, base: str = "http://127.0.0.1:9") -> Settings:
    path = tmp_path / "shipwise.yaml"
    path.write_text(yaml.safe_dump({
        "webhooks": {"sync_delay_seconds": 0},
        "sources": [
            {"kind": "github", "repos": ["acme/pay"], "base_url": base, "token_env": "SW_GH_TOKEN",
             "webhook_secret_env": "SW_GH_HOOK", "max_attempts": 1},
            {"kind": "gitlab", "projects": ["platform/billing"], "base_url": base,
             "token_env": "SW_GL_TOKEN", "webhook_secret_env": "SW_GL_HOOK", "max_attempts": 1},
        ]}))
    return load_settings(db=settings.db, config_file=path)


@pytest.fixture
def hooked(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    monkeypatch.setenv("SW_GH_HOOK", GH_SECRET)
    monkeypatch.setenv("SW_GL_HOOK", GL_SECRET)
    monkeypatch.setenv("SW_GH_TOKEN", "ghp_test_token_value")
    monkeypatch.setenv("SW_GL_TOKEN", "glpat-test-token-value")
    with serve(_settings(settings, tmp_path)) as live:
        yield live


def github(live: Live, payload: dict[str, Any] | bytes, *, event: str = "push",
           secret: str | None = GH_SECRET, delivery: str | None = None) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery or str(uuid.uuid4())}
    if secret is not None:
        headers["X-Hub-Signature-256"] = "sha256=" + hmac.new(
            secret.encode(), body, hashlib.sha256).hexdigest()
    return live.post("/webhooks/github", body, secret=None, headers=headers)


def deliveries(live: Live) -> list[dict[str, Any]]:
    with live.state.store.session() as store:
        return store.query("SELECT * FROM webhook_delivery ORDER BY received_at")


def settled(live: Live, timeout: float = 20) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = deliveries(live)
        if not live.state.syncs.pending and all(r["status"] != "queued" for r in rows):
            return rows
        time.sleep(0.05)
    raise AssertionError(f"webhook syncs did not settle: {deliveries(live)}")


def test_a_signed_delivery_is_queued_once_and_a_replay_is_not(hooked: Live) -> None:
    first = github(hooked, PUSH, delivery="d-1")
    assert first.status_code == 202, first.text
    assert first.json() == {"queued": True, "delivery": "d-1", "source": "github",
                            "scope": "acme/pay"}
    again = github(hooked, PUSH, delivery="d-1")  # GitHub's redelivery, or a replay
    assert again.status_code == 200 and again.json()["duplicate"] is True
    rows = settled(hooked)
    assert [(r["delivery_id"], r["event"], r["scope"]) for r in rows] == [("d-1", "push", "acme/pay")]
    # the fake host is unreachable here: the sync failed, and the delivery says why
    assert rows[0]["status"] == "failed" and rows[0]["reason"]


def test_a_bad_or_missing_signature_is_refused_and_kept_without_the_body(hooked: Live) -> None:
    missing = github(hooked, PUSH, secret=None)
    wrong = github(hooked, PUSH, secret="not-the-secret-at-all")
    assert missing.status_code == 401 and wrong.status_code == 403
    assert "X-Hub-Signature-256" in wrong.json()["error"]
    rows = deliveries(hooked)
    assert [r["status"] for r in rows] == ["refused", "refused"]
    assert {r["reason"].split(" (")[0] for r in rows} == {"no signature", "bad signature"}
    assert "ana@example.com" not in json.dumps(rows, default=str)
    assert not hooked.state.syncs.pending


def test_a_tampered_body_fails_the_signature(hooked: Live) -> None:
    body = json.dumps(PUSH).encode()
    sig = "sha256=" + hmac.new(GH_SECRET.encode(), body, hashlib.sha256).hexdigest()
    res = hooked.post("/webhooks/github", body.replace(b"acme/pay", b"acme/pax"), secret=None,
                      headers={"X-GitHub-Event": "push", "X-Hub-Signature-256": sig,
                               "X-GitHub-Delivery": "t-1"})
    assert res.status_code == 403


def test_ping_unknown_repositories_and_unused_events(hooked: Live) -> None:
    assert github(hooked, {"zen": "Keep it simple", "hook_id": 1}, event="ping").status_code == 200
    other = dict(PUSH, repository={"full_name": "acme/other"})
    res = github(hooked, other)
    assert res.status_code == 202 and "not a repository" in res.json()["ignored"]
    res = github(hooked, PUSH, event="star")
    assert res.status_code == 202 and "not used" in res.json()["ignored"]
    bad = github(hooked, b"[1, 2]")
    assert bad.status_code == 400
    assert not hooked.state.syncs.pending


def test_gitlab_token_is_checked_and_the_project_queued(hooked: Live) -> None:
    body = json.dumps(MR)
    headers = {"X-Gitlab-Event": "Merge Request Hook", "X-Gitlab-Event-UUID": "g-1"}
    wrong = hooked.post("/webhooks/gitlab", body, secret=None,
                        headers={**headers, "X-Gitlab-Token": "nope"})
    assert wrong.status_code == 403
    ok = hooked.post("/webhooks/gitlab", body, secret=None,
                     headers={**headers, "X-Gitlab-Token": GL_SECRET})
    assert ok.status_code == 202, ok.text
    assert ok.json()["scope"] == "platform/billing"
    rows = settled(hooked)
    assert [r["status"] for r in rows] == ["refused", "failed"]


def test_without_a_secret_the_provider_is_disabled(settings: Settings, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SW_GH_HOOK", raising=False)
    with serve(_settings(settings, tmp_path)) as live:
        res = github(live, PUSH)
    assert res.status_code == 503 and "SW_GH_HOOK" in res.json()["hint"]
