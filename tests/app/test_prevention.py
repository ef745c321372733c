"""Prevention through its doors (shipwise.app.prevention) on a real store file: the patterns a
scan finds in stored investigations and imported incidents, the recommendations it keeps
across scans, people's decisions on them, verdicts feeding them, and who may see what."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shipwise.app import prevention, verdicts
from shipwise.app.alarms import receive_alarm
from shipwise.app.incidents import store_investigation
from shipwise.app.owner import import_paths
from shipwise.app.prevention_results import Recommendation
from shipwise.config import Settings
from shipwise.errors import ForbiddenError, InputError, NotFoundError
from shipwise.governance.access import Principal
from tests.app.conftest import caller_of, log_rows
from tests.conftest import write_jsonl
from tests.prevention_world import DAY, T0, build, record

MEMBER_PAY = Principal("member", "payments", "tok-pay", "pay-bot")
MEMBER_SEARCH = Principal("member", "search", "tok-search", "search-bot")
EXEC = Principal("exec", None, "tok-exec", "cfo")


@pytest.fixture
def world(settings: Settings, tmp_path: Path) -> Settings:
    return build(settings, tmp_path)


def scan(settings: Settings) -> dict[str, Recommendation]:
    with caller_of(settings) as c:
        return {r.key: r for r in prevention.scan(c).recommendations}


def test_a_scan_recommends_in_all_four_categories_with_the_incidents_behind_each(
        world: Settings) -> None:
    recs = scan(world)
    assert {r.category for r in recs.values()} == {"governance", "infrastructure",
                                                     "observability", "pipeline"}
    perm = recs["governance:permission:pay-api:s3:GetObject"]
    assert [i.id for i in perm.incidents] == ["inv-perm-1", "inv-perm-2"]
    assert "s3:GetObject" in perm.title and "review" in perm.change
    assert "2 incidents" in perm.rationale
    churn = recs["infrastructure:churn:search-api"]
    assert "in service during replacement" in churn.title
    assert "minimum healthy" in churn.change
    # deployment-caused incidents: the two investigations and the two imported incidents
    deploy = recs["pipeline:deploy:pay-api"]
    assert {(i.id, i.source) for i in deploy.incidents} == {
        ("inv-deploy-1", "investigation"), ("inv-deploy-2", "investigation"),
        ("inc-1", "incident"), ("inc-2", "incident")}
    assert "roll back automatically" in deploy.change and "bake time" in deploy.change
    # pay-api is only ever deployed to production; search-api has a staging deployment
    assert "pipeline:preprod:pay-api" in recs
    assert not any(k.startswith("pipeline:preprod:search-api") for k in recs)
    # observability: the logs the deploy investigations lacked, and pay-api's missing SLO
    assert [i.id for i in recs["observability:gap:pay-api:logs"].incidents] == [
        "inv-deploy-1", "inv-deploy-2"]
    assert "observability:no_slo:pay-api" in recs
    assert "observability:no_slo:search-api" not in recs  # it has one
    assert recs["infrastructure:memory:search-api"].team == "search"


def test_priority_follows_the_incidents_cost(world: Settings) -> None:
    recs = scan(world)
    deploy = recs["pipeline:deploy:pay-api"]
    # inc-1: sev1 (100) x 2 h; inc-2: sev2 (30) x 1 h; each investigation: 40 customers x 0.5 h
    # x 0.75 (not marked yet)
    assert deploy.cost == pytest.approx(100 * 2 + 30 * 1 + 2 * 40 * 0.5 * 0.75)
    assert deploy.priority == "high"
    churn = recs["infrastructure:churn:search-api"]
    assert churn.cost == pytest.approx(2 * 5 * 0.5 * 0.75) and churn.priority == "low"
    with caller_of(world) as c:
        listed = prevention.recommendations(c).recommendations
    order = {"high": 0, "medium": 1, "low": 2}
    assert [(order[r.priority], -r.cost) for r in listed] == sorted(
        (order[r.priority], -r.cost) for r in listed)


def test_a_rescan_keeps_one_row_per_key_and_people_s_decisions(world: Settings) -> None:
    first = scan(world)
    with caller_of(world) as c:
        prevention.decide(c, "pipeline:deploy:pay-api", "accepted", reason="JIRA-12")
        prevention.decide(c, "infrastructure:churn:search-api", "dismissed",
                          reason="moving to managed instances")
    second = scan(world)
    assert set(second) == set(first)
    with caller_of(world) as c:
        rows = c.store.query("SELECT key, count(*) AS n FROM prevention_recommendation "
                             "GROUP BY key HAVING count(*) > 1")
        scans = c.store.query("SELECT new FROM prevention_scan ORDER BY started_at")
    assert rows == []
    assert [s["new"] for s in scans] == [len(first), 0]
    assert second["pipeline:deploy:pay-api"].status == "accepted"
    assert second["pipeline:deploy:pay-api"].reason == "JIRA-12"
    churn = second["infrastructure:churn:search-api"]
    assert (churn.status, churn.reason) == ("dismissed", "moving to managed instances")


def test_dismissing_needs_a_reason_and_a_bad_status_or_key_is_refused(world: Settings) -> None:
    scan(world)
    with caller_of(world) as c:
        with pytest.raises(InputError, match="needs a reason"):
            prevention.decide(c, "pipeline:deploy:pay-api", "dismissed")
        with pytest.raises(InputError, match="status must be one of"):
            prevention.decide(c, "pipeline:deploy:pay-api", "closed")
        with pytest.raises(NotFoundError):
            prevention.decide(c, "pipeline:deploy:nope", "done")
        assert prevention.recommendation(c, "pipeline:deploy:pay-api").status == "open"


def test_a_done_recommendation_opens_again_when_its_pattern_comes_back(
        world: Settings) -> None:
    scan(world)
    with caller_of(world) as c:
        prevention.decide(c, "governance:permission:pay-api:s3:GetObject", "done")
    again = scan(world)  # nothing new: stays done
    assert again["governance:permission:pay-api:s3:GetObject"].status == "done"
    with caller_of(world) as c:  # the permission is revoked once more, after it was done
        later = record("inv-perm-3", "pay-api", "permission_revoked", 4_000_000_000.0,
                       permission="s3:GetObject")
        store_investigation(c, later)
    with caller_of(world) as c:
        res = prevention.scan(c)
    reopened = {r.key: r for r in res.recommendations}[
        "governance:permission:pay-api:s3:GetObject"]
    assert reopened.status == "open" and "recurred" in (reopened.reason or "")
    assert reopened.occurrences == 3 and res.scan.reopened == 1


def test_a_root_cause_marked_wrong_backs_no_pattern_and_a_confirmed_one_weighs_more(
        world: Settings) -> None:
    before = scan(world)
    assert "infrastructure:memory:search-api" in before
    with caller_of(world) as c:
        verdicts.mark_verdict(c, "inv-wrong-1", "wrong", comment="it was the GC settings")
        verdicts.mark_verdict(c, "inv-perm-1", "right")
        verdicts.mark_verdict(c, "inv-perm-2", "right")
    after = scan(world)
    assert "infrastructure:memory:search-api" not in after  # one occurrence left: no pattern
    with caller_of(world) as c:
        kept = prevention.recommendations(c, include_inactive=True).recommendations
    memory = next(r for r in kept if r.key == "infrastructure:memory:search-api")
    assert memory.active is False  # kept, with its status, but not seen by the last scan
    perm_before = before["governance:permission:pay-api:s3:GetObject"]
    perm_after = after["governance:permission:pay-api:s3:GetObject"]
    assert perm_after.cost == pytest.approx(perm_before.cost / 0.75)
    assert {i.verdict for i in perm_after.incidents} == {"right"}
    assert "confirmed the root cause in 2 of 2" in perm_after.rationale


def test_inconclusive_investigations_back_no_cause_pattern(settings: Settings,
                                                           tmp_path: Path) -> None:
    build(settings, tmp_path)
    with caller_of(settings) as c:
        for n in range(3):
            store_investigation(c, record(f"inv-inc-{n}", "pay-db", "config_change",
                                          T0 + (10 + n) * DAY, status="inconclusive"))
    assert not any(k.startswith("governance:config:") for k in scan(settings))


def test_flapping_alarms_and_incidents_no_alarm_announced(settings: Settings,
                                                          tmp_path: Path) -> None:
    build(settings, tmp_path)
    for minute in range(0, 50, 10):  # one alarm firing five times within the hour
        body = {"entity": "search-api", "metric": "latency_p99",
                "time": f"2026-09-25T10:{minute:02d}:00Z", "id": f"flap-{minute}"}
        assert receive_alarm(settings, json.dumps(body).encode(), "generic")["accepted"]
    recs = scan(settings)
    flap = recs["observability:flapping:search-api:latency_p99"]
    assert flap.occurrences == 5 and {i.source for i in flap.incidents} == {"alarm"}
    assert "for: 10m" in flap.change
    # inc-1 and inc-2 on pay-api were opened with no alarm on pay-api around them
    silent = recs["observability:silent:pay-api"]
    assert [i.id for i in silent.incidents] == ["inc-1", "inc-2"]


def test_no_silent_recommendation_while_no_alarm_ever_reached_shipwise(world: Settings) -> None:
    assert not any(k.startswith("observability:silent:") for k in scan(world))


def test_an_imported_incident_an_investigation_covers_counts_once(settings: Settings,
                                                                  tmp_path: Path) -> None:
    build(settings, tmp_path)
    covered = {"type": "incident", "id": "inc-covered", "service": "pay-api",
               "severity": "sev3", "opened_at": "2026-09-25T14:00:00Z",
               "resolved_at": "2026-09-25T16:00:00Z", "caused_by": "d2"}
    import_paths(settings, [write_jsonl(tmp_path / "more.jsonl", [covered])])
    # inv-deploy-1's alarm (T0 + 4 days = 2026-09-25T14:13:20Z) falls inside inc-covered
    ids = [i.id for i in scan(settings)["pipeline:deploy:pay-api"].incidents]
    assert "inc-covered" not in ids and "inv-deploy-1" in ids


def test_members_see_and_decide_only_their_team_s_recommendations(world: Settings) -> None:
    scan(world)
    with caller_of(world, MEMBER_PAY) as c:
        own = prevention.recommendations(c).recommendations
        assert own and {r.team for r in own} == {"payments"}
        prevention.decide(c, "pipeline:deploy:pay-api", "accepted")
        with pytest.raises(ForbiddenError):
            prevention.recommendation(c, "infrastructure:churn:search-api")
        with pytest.raises(ForbiddenError):
            prevention.decide(c, "infrastructure:churn:search-api", "done")
        with pytest.raises(ForbiddenError):
            prevention.scan(c)
    with caller_of(world, EXEC) as c, pytest.raises(ForbiddenError):
        prevention.recommendations(c)
    refused = [(r["action"], r["allowed"]) for r in log_rows(world)
               if r["action"].startswith("prevention")]
    assert ("prevention.decide", False) in refused and ("prevention.scan", False) in refused


def test_lookback_leaves_old_incidents_out(world: Settings) -> None:
    keys = set(scan(world))
    ancient = Settings.model_validate({"db": world.db, "prevention": {"lookback_days": 1}})
    with caller_of(ancient) as c:
        assert prevention.scan(c).recommendations == []  # every occurrence is months old
    with caller_of(world) as c:
        assert prevention.recommendations(c).recommendations == []  # none active now
        kept = prevention.recommendations(c, include_inactive=True).recommendations
    assert {r.key for r in kept} == keys and {r.status for r in kept} == {"open"}
