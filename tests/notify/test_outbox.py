"""The outbox (docs/notifications.md): notifications are written in the investigation's own
transaction, delivered to real HTTP receivers on 127.0.0.1 that check each vendor's payload
shape, retried with backoff while a receiver is down or failing, and never posted twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shipwise.app import incidents as incident_doors
from shipwise.app import investigate as engine
from shipwise.app.alarms import receive_alarm, start_investigations
from shipwise.app.caller import local_caller
from shipwise.app.context import open_store
from shipwise.app.investigate import save_investigation
from shipwise.app.notify import notify_status, retry_failed
from shipwise.app.owner import import_paths
from shipwise.config import Settings
from shipwise.notify import plan
from shipwise.notify.deliver import deliver_due, now_utc
from shipwise.notify.settings import NotifySettings
from shipwise.store import investigations
from shipwise.store import outbox as table
from shipwise.store.duckdb_store import Store, lend
from tests.conftest import org, write_jsonl
from tests.fakes import notify as fake

ALARM_AT = datetime(2026, 9, 29, 10, 15)
KINDS = ("slack_webhook", "slack_api", "teams", "jira", "servicenow", "pagerduty", "github")


def record(inv_id: str = "inv-1", *, statement: str = "pay-api deploy v42 broke the cache",
           alarm_id: str | None = "alm-1") -> dict[str, Any]:
    return {
        "id": inv_id, "alarm_id": alarm_id, "status": "root_cause_found",
        "alarm": {"entity": "pay-api", "metric": "error_rate",
                  "time": (ALARM_AT - datetime(1970, 1, 1)).total_seconds(),
                  "at": "2026-09-29T10:15:00Z"},
        "root_cause": {"entity": "pay-api", "fault": "bad_deploy", "statement": statement,
                       "confidence": 0.82, "confidence_label": "high"},
        "key_observations": [{"text": "error rate 0.1% → 7% at 10:12"},
                             {"text": "deploy v42 at 10:11"}],
        "ruled_out": [{"observation": "CPU spike on i-9", "reason": "the instance had just started"}],
        "impact": {"summary": "1,204 failed requests, 311 customers"},
        "long_term_fix": "# Long-term fix\n\n## Requirements\n- contract tests for the cache format",
        "seconds": {"total": 1.5},
    }


def channels(url: str) -> dict[str, Any]:
    return {"channels": [
        {"kind": "slack_webhook"},
        {"kind": "slack_api", "base_url": f"{url}/slack/api", "channel": "C0INCIDENT"},
        {"kind": "teams"},
        {"kind": "jira", "base_url": f"{url}/jira", "edition": "cloud", "email": fake.JIRA_EMAIL},
        {"kind": "servicenow", "base_url": f"{url}/sn", "user": fake.SN_USER},
        {"kind": "pagerduty", "base_url": f"{url}/pd", "from_email": fake.PD_FROM},
        {"kind": "github", "base_url": f"{url}/gh", "repo": "acme/reliability"},
    ], "deliver": {"backoff_seconds": 5, "max_backoff_seconds": 600, "max_attempts": 6},
        "base_url": "https://shipwise.acme.example"}


def env(url: str) -> dict[str, str]:
    return {"SLACK_WEBHOOK_URL": url + fake.SLACK_HOOK, "SLACK_BOT_TOKEN": fake.SLACK_TOKEN,
            "TEAMS_WEBHOOK_URL": url + fake.TEAMS_HOOK, "JIRA_TOKEN": fake.JIRA_TOKEN,
            "SERVICENOW_PASSWORD": fake.SN_PASSWORD, "PAGERDUTY_TOKEN": fake.PD_TOKEN,
            "GITHUB_TOKEN": fake.GH_TOKEN}


@pytest.fixture
def receivers() -> Iterator[fake.Receivers]:
    with fake.Receivers(jira_issues=("OPS-12",), servicenow=("INC0010001",),
                        pagerduty=("PABC123",), repos=("acme/reliability",)) as r:
        yield r


@pytest.fixture
def store_settings(settings: Settings, tmp_path: Path,
                   receivers: fake.Receivers) -> Settings:
    """A store with pay-api (team payments) and its incident in Jira, ServiceNow and
    PagerDuty, as their connectors store them, open at the alarm's time."""
    opened = (ALARM_AT + timedelta(minutes=3)).isoformat() + "Z"
    incidents = [
        {"type": "incident", "id": "OPS-12", "source": "jira:jira incident OPS-12"},
        {"type": "incident", "id": "servicenow:INC0010001",
         "source": "servicenow:servicenow incident INC0010001"},
        {"type": "incident", "id": "pagerduty:PABC123"},
        # an incident of another day: not this investigation's
        {"type": "incident", "id": "OPS-3", "source": "jira:jira incident OPS-3",
         "opened_at": "2026-08-01T00:00:00Z", "resolved_at": "2026-08-01T02:00:00Z"},
    ]
    import_paths(settings, [write_jsonl(tmp_path / "org.jsonl", [
        *org((("payments", "pay-api"),)),
        *({"service": "pay-api", "severity": "sev2", "opened_at": opened,
           "human_actioned": True, **i} for i in incidents)])])
    return settings.model_copy(update={
        "notify": NotifySettings.model_validate(channels(receivers.url))})


def deliver(store: Store, s: Settings, url: str, at: datetime | None = None) -> Any:
    return deliver_due(lend(store), s.notify, env(url), clock=lambda: at or now_utc())


def test_an_investigation_writes_one_row_per_channel_in_its_own_transaction(
        store_settings: Settings) -> None:
    with open_store(store_settings) as store:
        save_investigation(store, record(), store_settings.notify)
        rows = table.rows_of(store, "inv-1")
        assert sorted(r["kind"] for r in rows) == sorted(KINDS)
        by = {r["kind"]: r for r in rows}
        assert by["jira"]["target"] == "OPS-12"  # the incident open at the alarm, not OPS-3
        assert by["servicenow"]["target"] == "INC0010001"
        assert by["pagerduty"]["target"] == "PABC123"
        assert {r["status"] for r in rows} == {"pending"}
        # the same record saved again says nothing new
        save_investigation(store, record(), store_settings.notify)
        assert len(table.rows_of(store, "inv-1")) == len(KINDS)


def test_both_or_neither(store_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*a: Any, **k: Any) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr(table, "add", broken)
    with open_store(store_settings) as store:
        with pytest.raises(RuntimeError, match="disk full"):
            save_investigation(store, record(), store_settings.notify)
        assert not investigations.exists(store, "inv-1")
        assert table.rows_of(store) == []


def test_every_receiver_gets_its_vendors_shape_once(store_settings: Settings,
                                                     receivers: fake.Receivers) -> None:
    with open_store(store_settings) as store:
        save_investigation(store, record(), store_settings.notify)
        res = deliver(store, store_settings, receivers.url)
        assert (res.delivered, res.retrying, res.failed) == (7, 0, 0), res.errors
        rows = table.rows_of(store, "inv-1")
    assert receivers.problems == []
    assert sorted(p.service for p in receivers.posts) == sorted(KINDS)
    for r in rows:
        assert r["status"] == "delivered" and r["attempts"] == 1
        assert receivers.effects(plan.marker(r["id"])) == 1
    posts = {p.service: p for p in receivers.posts}
    jira = posts["jira"]
    assert jira.path == "/jira/rest/api/3/issue/OPS-12/comment"
    assert jira.body["body"]["type"] == "doc" and jira.headers["authorization"].startswith("Basic ")
    assert posts["servicenow"].path.startswith("/sn/api/now/table/incident/")
    assert "pay-api deploy v42" in posts["servicenow"].body["work_notes"]
    assert posts["pagerduty"].headers["from"] == fake.PD_FROM
    assert posts["github"].body["body"].startswith("# Long-term fix")
    assert "thread_ts" not in posts["slack_api"].body
    assert "https://shipwise.acme.example/investigations/inv-1" in json.dumps(posts["teams"].body)
    # nothing is due any more: another pass sends nothing
    with open_store(store_settings) as store:
        assert deliver(store, store_settings, receivers.url).delivered == 0
    assert len(receivers.posts) == 7


def test_jira_data_center_gets_a_v2_string_comment(store_settings: Settings,
                                                   receivers: fake.Receivers) -> None:
    notify = store_settings.notify.model_copy(update={"channels": [
        c.model_copy(update={"edition": "data_center"}) if c.kind == "jira" else c
        for c in store_settings.notify.channels if c.kind == "jira"]})
    s = store_settings.model_copy(update={"notify": notify})
    with open_store(s) as store:
        save_investigation(store, record(), s.notify)
        assert deliver(store, s, receivers.url).delivered == 1
    (post,) = receivers.posts
    assert post.path == "/jira/rest/api/2/issue/OPS-12/comment"
    assert isinstance(post.body["body"], str) and post.headers["authorization"].startswith("Bearer")


def test_updates_go_in_the_thread_of_the_first_message(
        store_settings: Settings, receivers: fake.Receivers) -> None:
    with open_store(store_settings) as store:
        save_investigation(store, record(), store_settings.notify)
        deliver(store, store_settings, receivers.url)
        # the alarm investigated again (a new finding), then a verification recorded
        save_investigation(store, record(statement="the cache node ran out of memory"),
                           store_settings.notify)
        again = record(statement="the cache node ran out of memory")
        plan.write_investigation(store, store_settings.notify, {
            **again, "verifications": [{"status": "recovered", "test": "error rate < 0.5%"}]},
            event="investigation.verified")
        res = deliver(store, store_settings, receivers.url)
        assert res.failed == 0 and res.retrying == 0, res.errors
        first = next(r for r in table.rows_of(store, "inv-1")
                     if r["kind"] == "slack_api")["response"]["ts"]
    slack = [p for p in receivers.posts if p.service == "slack_api"]
    assert len(slack) == 3
    assert "thread_ts" not in slack[0].body
    assert slack[1].body["thread_ts"] == slack[2].body["thread_ts"] == first
    # GitHub: the new fix spec is a comment on the thread's issue, not a second issue
    gh = [p for p in receivers.posts if p.service == "github"]
    assert [p.path for p in gh] == ["/gh/repos/acme/reliability/issues",
                                    "/gh/repos/acme/reliability/issues/1/comments"]
    assert "the cache node ran out of memory" in gh[1].body["body"]
    assert receivers.problems == []


def test_a_receiver_that_is_down_loses_nothing(store_settings: Settings,
                                               receivers: fake.Receivers) -> None:
    receivers.down()
    assert receivers.refused()
    with open_store(store_settings) as store:
        save_investigation(store, record(), store_settings.notify)
        t0 = now_utc()
        res = deliver(store, store_settings, receivers.url, t0)
        assert (res.delivered, res.retrying) == (0, 7)
        rows = table.rows_of(store, "inv-1")
        assert {r["status"] for r in rows} == {"pending"}
        assert all(r["attempts"] == 1 and r["next_at"] > t0 for r in rows)
        assert all("not sent: ConnectError" in r["last_error"] for r in rows)
        # not due yet: backoff holds
        assert deliver(store, store_settings, receivers.url, t0 + timedelta(seconds=1)).retrying == 0
        # still down at the next attempt: the wait grows
        second = deliver(store, store_settings, receivers.url, t0 + timedelta(seconds=10))
        assert second.retrying == 7
        rows = table.rows_of(store, "inv-1")
        assert all(r["attempts"] == 2 for r in rows)
        receivers.up()
        res = deliver(store, store_settings, receivers.url, t0 + timedelta(seconds=60))
        assert res.delivered == 7, res.errors
    assert receivers.problems == []
    for r in rows:
        assert receivers.effects(plan.marker(r["id"])) == 1


def test_5xx_is_retried_honouring_retry_after(store_settings: Settings,
                                              receivers: fake.Receivers) -> None:
    receivers.fail(r"^/pd/", 503, times=2)
    with open_store(store_settings) as store:
        save_investigation(store, record(), store_settings.notify)
        t0 = now_utc()
        assert deliver(store, store_settings, receivers.url, t0).retrying == 1
        assert deliver(store, store_settings, receivers.url, t0 + timedelta(hours=1)).retrying == 1
        (pd,) = [r for r in table.rows_of(store, "inv-1") if r["kind"] == "pagerduty"]
        assert pd["last_status"] == 503 and pd["attempts"] == 2
        assert deliver(store, store_settings, receivers.url, t0 + timedelta(hours=2)).delivered == 1
    assert receivers.effects(plan.marker(pd["id"])) == 1


def test_a_refusal_fails_the_row_and_retry_requeues_it(
        store_settings: Settings, receivers: fake.Receivers,
        monkeypatch: pytest.MonkeyPatch) -> None:
    receivers.state.jira.pop("OPS-12")  # the issue was deleted: Jira answers 404
    with open_store(store_settings) as store:
        save_investigation(store, record(), store_settings.notify)
        res = deliver(store, store_settings, receivers.url)
        assert (res.delivered, res.failed) == (6, 1)
    for k, v in env(receivers.url).items():
        monkeypatch.setenv(k, v)
    with local_caller(store_settings) as c:
        st = notify_status(c)
        assert (st.pending, st.delivered, st.failed) == (0, 6, 1)
        assert {c.secret for c in st.channels} == {"found"}
        (err,) = st.last_errors
        assert err.channel == "jira" and err.last_status == 404
        assert "Issue does not exist" in str(err.last_error)
        receivers.state.jira["OPS-12"] = []
        assert retry_failed(c).requeued == 1
    with open_store(store_settings) as store:
        assert deliver(store, store_settings, receivers.url).delivered == 1


def test_an_ambiguous_attempt_is_not_posted_twice_where_it_can_be_read_back(
        store_settings: Settings, receivers: fake.Receivers) -> None:
    for pattern in (r"^/jira/", r"^/pd/", r"^/gh/"):
        receivers.cut(pattern)  # the post takes effect; its answer is lost
    with open_store(store_settings) as store:
        save_investigation(store, record(), store_settings.notify)
        t0 = now_utc()
        res = deliver(store, store_settings, receivers.url, t0)
        assert (res.delivered, res.retrying) == (4, 3)
        res = deliver(store, store_settings, receivers.url, t0 + timedelta(hours=1))
        assert (res.delivered, res.reconciled) == (3, 3)
        rows = table.rows_of(store, "inv-1")
    assert {r["status"] for r in rows} == {"delivered"}
    for r in rows:
        assert receivers.effects(plan.marker(r["id"])) == 1, r["kind"]
    gh = next(r for r in rows if r["kind"] == "github")
    assert gh["response"]["number"] == 1  # the issue found is kept
    assert receivers.problems == []


def test_a_missing_secret_is_named_never_shown(store_settings: Settings,
                                               receivers: fake.Receivers,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    for k in env(receivers.url):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("GITHUB_TOKEN", fake.GH_TOKEN)
    with local_caller(store_settings) as c:
        secrets = {ch.kind: ch.secret for ch in notify_status(c).channels}
    assert secrets["github"] == "found"
    assert secrets["slack_webhook"] == (
        "no secret found in the environment variable SLACK_WEBHOOK_URL")
    monkeypatch.delenv("GITHUB_TOKEN")
    with open_store(store_settings) as store:
        save_investigation(store, record(), store_settings.notify)
        res = deliver_due(lend(store), store_settings.notify, {})
        assert res.retrying == 7
        errors = {r["kind"]: r["last_error"] for r in table.rows_of(store, "inv-1")}
    assert "SLACK_WEBHOOK_URL" in errors["slack_webhook"]
    assert "GITHUB_TOKEN" in errors["github"]
    assert receivers.posts == []


def test_a_channel_for_other_teams_writes_nothing(store_settings: Settings) -> None:
    only = NotifySettings.model_validate({"channels": [{"kind": "slack_webhook",
                                                        "teams": ["search"]}]})
    with open_store(store_settings) as store:
        save_investigation(store, record(), only)
        assert table.rows_of(store) == []


def test_an_alarms_slack_thread_follows_its_investigation(
        store_settings: Settings, receivers: fake.Receivers,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Investigating (the thread's first message) → the findings as a reply; a failed
    investigation → the error as a reply. Other channels hear only of saved investigations."""
    s = store_settings
    body = {"entity": "pay-api", "metric": "error_rate", "time": "2026-09-29T10:15:00Z"}
    ok, bad = (receive_alarm(s, json.dumps({**body, "metric": m}).encode(), "generic")["ids"][0]
               for m in ("error_rate", "latency"))

    def fake_engine(settings: Settings, alarm: Any, alarm_id: str, *, session: Any) -> Any:
        if alarm.metric == "latency":
            raise RuntimeError("prometheus unreachable")
        rec = record("inv-ok", alarm_id=alarm_id)
        with session() as store:
            save_investigation(store, rec, settings.notify)
        return rec

    monkeypatch.setattr(engine, "investigate_alarm", fake_engine, raising=False)
    outcomes = start_investigations(s, [ok, bad])
    assert [o["status"] for o in outcomes] == ["investigated", "failed"]
    with open_store(s) as store:
        res = deliver(store, s, receivers.url)
        assert res.failed == 0 and res.retrying == 0, res.errors
        rows = [r for r in table.rows_of(store) if r["kind"] == "slack_api"]
    assert [(r["event"], r["thread"]) for r in rows] == [
        ("investigation.started", ok), ("investigation.saved", ok),
        ("investigation.started", bad), ("investigation.failed", bad)]
    slack = [p.body for p in receivers.posts if p.service == "slack_api"]
    assert "thread_ts" not in slack[0] and slack[0]["text"].startswith("Investigating: pay-api")
    assert slack[1]["thread_ts"] == rows[0]["response"]["ts"]
    assert "pay-api deploy v42" in slack[1]["text"]
    assert slack[3]["thread_ts"] == rows[2]["response"]["ts"]
    assert "prometheus unreachable" in slack[3]["text"]
    assert sum(p.service == "jira" for p in receivers.posts) == 1  # the saved one only
    assert receivers.problems == []


def test_a_worker_process_failure_is_told_in_the_thread(
        store_settings: Settings, receivers: fake.Receivers) -> None:
    """The server's worker processes (``run``): the record or the failure is written with the
    intake row's status, and so is the thread's reply."""
    s = store_settings
    body = {"entity": "pay-api", "metric": "latency", "time": "2026-09-29T10:15:00Z"}
    (alarm_id,) = receive_alarm(s, json.dumps(body).encode(), "generic")["ids"]

    def run(alarm_id: str, alarm: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("worker ran out of memory")

    assert start_investigations(s, [alarm_id], run=run)[0]["status"] == "failed"
    with open_store(s) as store:
        assert deliver(store, s, receivers.url).delivered == 2
    started, failed = (p.body for p in receivers.posts)
    assert failed["thread_ts"] and "worker ran out of memory" in failed["text"]
    assert started["text"].startswith("Investigating: pay-api latency")


def test_a_recorded_verification_is_told_where_the_findings_went(
        store_settings: Settings, receivers: fake.Receivers,
        monkeypatch: pytest.MonkeyPatch) -> None:
    s = store_settings
    with open_store(s) as store:
        save_investigation(store, {**record(), "anomalous_series": []}, s.notify)
        assert deliver(store, s, receivers.url).delivered == 7
    monkeypatch.setattr(incident_doors, "verify_record", lambda *a, **k: {
        "investigation_id": "inv-1", "at": 1.79e9, "minutes": 10.0, "status": "recovered",
        "test": "error rate back under its baseline", "series": [], "watch": []})
    with local_caller(s) as c:
        incident_doors.verify_investigation(c, "inv-1", record=True)
    with open_store(s) as store:
        assert deliver(store, s, receivers.url).delivered == 6  # no new GitHub issue
        verified = [r for r in table.rows_of(store, "inv-1")
                    if r["event"] == "investigation.verified"]
    assert len(verified) == 6
    slack = [p.body for p in receivers.posts if p.service == "slack_api"]
    assert slack[1]["thread_ts"] and "Verification: recovered" in slack[1]["text"]
    assert receivers.problems == []


def test_slack_and_servicenow_are_read_back_when_allowed(
        store_settings: Settings, receivers: fake.Receivers) -> None:
    """With ``read_back`` (the extra Slack scope, read access to sys_journal_field), a Slack
    message — first or reply — and a ServiceNow work note whose answer was lost are found, not
    posted again."""
    notify = store_settings.notify.model_copy(update={"channels": [
        c.model_copy(update={"read_back": True}) for c in store_settings.notify.channels
        if c.kind in ("slack_api", "servicenow")]})
    s = store_settings.model_copy(update={"notify": notify})
    for pattern in (r"^/slack/api/chat", r"^/sn/api/now/table/incident/"):
        receivers.cut(pattern)
    with open_store(s) as store:
        save_investigation(store, record(), s.notify)
        t0 = now_utc()
        assert deliver(store, s, receivers.url, t0).retrying == 2
        res = deliver(store, s, receivers.url, t0 + timedelta(hours=1))
        assert (res.delivered, res.reconciled) == (2, 2), res.errors
        # a reply in the thread, its answer lost too
        receivers.cut(r"^/slack/api/chat")
        save_investigation(store, record(statement="the cache node ran out of memory"), s.notify)
        t1 = now_utc()
        res = deliver(store, s, receivers.url, t1)
        assert (res.delivered, res.retrying) == (1, 1)  # the new work note; the reply was cut
        res = deliver(store, s, receivers.url, t1 + timedelta(hours=1))
        assert (res.delivered, res.reconciled) == (1, 1), res.errors
        rows = table.rows_of(store, "inv-1")
    assert {r["status"] for r in rows} == {"delivered"}
    for r in rows:
        assert receivers.effects(plan.marker(r["id"])) == 1, r["kind"]
    first = next(r for r in rows if r["kind"] == "slack_api")["response"]["ts"]
    reply = [p.body for p in receivers.posts if p.service == "slack_api"][1]
    assert reply["thread_ts"] == first
    assert receivers.problems == []


def test_a_comment_whose_issue_was_never_opened_opens_one(
        store_settings: Settings, receivers: fake.Receivers) -> None:
    s = store_settings
    receivers.fail(r"^/gh/repos/acme/reliability/issues$", 403)  # e.g. the token lacked a scope
    with open_store(s) as store:
        save_investigation(store, record(), s.notify)
        assert deliver(store, s, receivers.url).failed == 1
        save_investigation(store, record(statement="the cache node ran out of memory"), s.notify)
        assert deliver(store, s, receivers.url).delivered == 7
        gh = [r for r in table.rows_of(store, "inv-1") if r["kind"] == "github"]
    assert [r["status"] for r in gh] == ["failed", "delivered"]
    (post,) = [p for p in receivers.posts if p.service == "github"]
    assert post.path == "/gh/repos/acme/reliability/issues"
    assert post.body["title"] == "Long-term fix: the cache node ran out of memory"
