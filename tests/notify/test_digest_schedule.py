"""Every team's weekly digest without anyone running a command: the door the server calls on a
schedule sends each team's last full week once (a second pass queues nothing), a team whose
digest cannot be made is listed with the reason, and `shipwise serve` runs it on its own every
``notify.digest.check_hours``."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from shipwise.app.caller import Caller
from shipwise.app.notify import send_digests
from shipwise.app.tokens import create_token
from shipwise.config import Settings
from shipwise.errors import ConfigError, ForbiddenError
from shipwise.governance.access import LOCAL_ADMIN, Principal
from shipwise.notify.settings import NotifySettings
from shipwise.store.duckdb_store import Store
from tests.fakes import notify as fake
from tests.server.conftest import serve


@pytest.fixture
def receivers(monkeypatch: pytest.MonkeyPatch) -> Iterator[fake.Receivers]:
    with fake.Receivers() as r:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", r.url + fake.SLACK_HOOK)
        yield r


def with_digest(settings: Settings, **digest: object) -> Settings:
    return settings.model_copy(update={"notify": NotifySettings.model_validate(
        {"channels": [{"kind": "slack_webhook"}],
         "digest": {"channel": "slack_webhook", **digest}})})


def test_every_team_once_per_week(sample_settings: Settings, receivers: fake.Receivers) -> None:
    s = with_digest(sample_settings)
    with Store.open(s.db) as store:
        teams = [str(r[0]) for r in store.con.execute("SELECT id FROM team").fetchall()]
        first = send_digests(Caller(store, LOCAL_ADMIN, s))
        again = send_digests(Caller(store, LOCAL_ADMIN, s))
    assert first.queued and first.week
    assert sorted(first.queued + list(first.failed)) == sorted(teams)
    assert all(reason for reason in first.failed.values())
    assert again.queued == [] and again.already_sent == first.queued and again.week == first.week
    assert len(receivers.posts) == len(first.queued)  # one message a team, none twice
    assert receivers.problems == []


def test_only_an_administrator_sends_them_and_a_channel_is_needed(
        sample_settings: Settings, receivers: fake.Receivers) -> None:
    with Store.open(sample_settings.db) as store:
        with pytest.raises(ForbiddenError):
            send_digests(Caller(store, Principal("lead", "payments", "tok", "lead"),
                                with_digest(sample_settings)))
        with pytest.raises(ConfigError):
            send_digests(Caller(store, LOCAL_ADMIN, sample_settings))
    assert receivers.posts == []


def test_the_server_sends_them_on_its_own(sample_settings: Settings,
                                          receivers: fake.Receivers) -> None:
    often = with_digest(sample_settings, check_hours=1 / 3600).model_copy(update={
        "prevention": sample_settings.prevention.model_copy(
            update={"start_delay_minutes": 0, "interval_hours": 0})})
    with serve(often) as server:
        digests = server.state.digests
        assert digests is not None
        deadline = time.monotonic() + 60
        while digests.runs < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert digests.runs >= 2 and digests.failures == 0
        with server.state.store.session() as store:
            teams = {str(r[0]) for r in store.con.execute(
                "SELECT DISTINCT subject FROM outbox WHERE event = 'digest'").fetchall()}
            readers = {str(r[0]) for r in store.con.execute(
                "SELECT reader FROM access_log WHERE action = 'admin.notify'").fetchall()}
    digest_posts = [x for x in receivers.posts if not x.body["text"].startswith("Investigat")]
    assert teams and len(digest_posts) == len(teams)  # two passes, each team once
    assert "weekly-digest" in readers
    with serve(sample_settings) as quiet:  # no digest channel: nothing scheduled
        assert quiet.state.digests is None


def test_the_api_shows_the_outbox_to_admins_and_a_digest_to_its_team(
        sample_settings: Settings) -> None:
    with Store.open(sample_settings.db) as store:
        admin = create_token(store, "api admin", "admin")["token"]
        member = create_token(store, "api member", "member", "payments")["token"]
        other = next(str(r[0]) for r in store.con.execute("SELECT id FROM team").fetchall()
                     if r[0] != "payments")
    with serve(with_digest(sample_settings)) as server:
        def get(path: str, token: str, **params: str) -> httpx.Response:
            return httpx.get(server.url + path, params=params, timeout=60,
                             headers={"Authorization": f"Bearer {token}"})

        status = get("/api/v1/notify/status", admin)
        assert status.status_code == 200, status.text
        assert {c["name"] for c in status.json()["channels"]} == {"slack_webhook"}
        assert get("/api/v1/notify/status", member).status_code == 403
        own = get("/api/v1/teams/payments/digest", member, week="2026-W38")
        assert own.status_code == 200, own.text
        body = own.json()
        assert (body["team"], body["week"]) == ("payments", "2026-W38")
        assert not body.get("queued") and not body.get("row_id")  # reading sends nothing
        assert get(f"/api/v1/teams/{other}/digest", member).status_code == 403
        assert get("/api/v1/teams/payments/digest", member, week="W38").status_code == 422
