"""`shipwise explain`: why a deployment or a pull request counted, on a hand-written store whose
links are known (first production deployments, the delivering deployment, a fan-out, an incident,
an undelivered pull request, a quarantined deployment), the refusals, and a cross-check against the
derived facts of the sample organisation."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from shipwise.app.caller import LOCAL_ADMIN, Principal
from shipwise.app.explain import (
    explain_deployment,
    explain_pull_request,
    list_deployments,
    list_pull_requests,
)
from shipwise.app.owner import import_paths
from shipwise.app.results import DeploymentExplanation, dump
from shipwise.cli.main import cli
from shipwise.config import Settings
from shipwise.errors import ForbiddenError, NotFoundError
from tests.app.conftest import caller_of, log_rows
from tests.conftest import cli_env, org, write_jsonl

HOUR = 3600.0
C = {n: f"{n}{'0' * 38}" for n in ("c1", "c2", "c3", "c4", "c5")}
MEMBER = Principal("member", "payments", "tok-pay", "pay member")
OTHER = Principal("member", "search", "tok-search", "search member")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def records() -> list[dict[str, Any]]:
    recs = org((("payments", "pay-api"), ("search", "search-api")))
    for r in recs:
        if r.get("id") == "pay-api":
            r["repo"] = "acme/pay"
    recs.append({"type": "person", "id": "ana@example.com", "team": "payments",
                 "since": "2025-01-01"})
    for sha, when in (("c1", "2025-03-01T10:00:00Z"), ("c2", "2025-03-02T10:00:00Z"),
                      ("c3", "2025-03-03T10:00:00Z"), ("c4", "2025-03-04T09:00:00Z")):
        recs.append({"type": "commit", "sha": C[sha], "repo": "acme/pay",
                     "author": "ana@example.com", "authored_at": when, "committed_at": when,
                     "additions": 1, "deletions": 0})
    pr = {"type": "pull_request", "repo": "acme/pay", "author": "ana@example.com"}
    recs += [
        {**pr, "id": "gh-12", "number": 12, "created_at": "2025-03-01T12:00:00Z",
         "first_commit_at": "2025-03-01T10:00:00Z", "first_review_at": "2025-03-02T09:00:00Z",
         "merged_at": "2025-03-03T12:00:00Z", "commits": [C["c1"], C["c2"], C["c3"]],
         "source": "github:acme/pay pull 12"},
        {**pr, "id": "gh-13", "number": 13, "created_at": "2025-03-04T10:00:00Z",
         "merged_at": "2025-03-05T10:00:00Z", "commits": [C["c4"]]},
        {**pr, "id": "gh-14", "number": 14, "created_at": "2025-03-05T10:00:00Z"},
    ]
    dep = {"type": "deployment", "service": "pay-api", "environment": "production",
           "status": "success"}
    recs += [
        {**dep, "id": "d1", "version": "1.0", "region": "eu", "commits": [C["c1"], C["c2"]],
         "started_at": "2025-03-02T11:50:00Z", "finished_at": "2025-03-02T12:00:00Z"},
        {**dep, "id": "d1-us", "version": "1.0", "region": "us", "commits": [C["c1"], C["c2"]],
         "started_at": "2025-03-02T12:50:00Z", "finished_at": "2025-03-02T13:00:00Z"},
        {**dep, "id": "d2", "version": "1.1", "commits": [C["c1"], C["c2"], C["c3"]],
         "started_at": "2025-03-04T12:00:00Z", "finished_at": "2025-03-04T12:00:00Z",
         "source": "git:pay tag v1.1", "rule": "tag 'v1.1' matches deployments_from_tags 'v*'"},
        {**dep, "id": "d-staging", "environment": "staging", "version": "1.2",
         "commits": [C["c4"]],
         "started_at": "2025-03-05T12:00:00Z", "finished_at": "2025-03-05T12:00:00Z"},
        {**dep, "id": "d-ghost", "service": "ghost", "started_at": "2025-03-05T12:00:00Z",
         "finished_at": "2025-03-05T12:00:00Z"},  # quarantined: unknown service
        {"type": "incident", "id": "INC-1", "service": "pay-api", "severity": "sev2",
         "opened_at": "2025-03-04T13:00:00Z", "resolved_at": "2025-03-04T15:00:00Z",
         "caused_by": "d2"},
    ]
    return recs


@pytest.fixture
def store(settings: Settings, tmp_path: Path) -> Settings:
    report = import_paths(settings, [write_jsonl(tmp_path / "records.jsonl", records())])
    assert report.counts["deployment"].quarantined == 1  # d-ghost
    return settings


@pytest.fixture
def shown(store: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """This store's team has one person, so its flow figures are suppressed and explain withholds
    its records' times (tested below); the tests of links show them as for a large team."""
    monkeypatch.setattr("shipwise.app.explain.team_hidden", lambda *a: False)
    return store


def test_a_small_teams_record_times_are_withheld(store: Settings) -> None:
    with caller_of(store) as c:
        pr = explain_pull_request(c, "acme/pay#12")
        d2 = explain_deployment(c, "d2")
    assert pr.withheld and "suppressed" in pr.withheld
    assert (pr.created_at, pr.first_commit_at, pr.first_review_at, pr.merged_at) == (None,) * 4
    assert set(pr.phases.values()) == {None}
    assert all(x.committed_at is None and x.counted_lead_seconds is None for x in pr.commits)
    assert pr.delivered_by == "d2" and pr.delivery.startswith("delivered by d2: ")  # the link stays
    assert d2.withheld and all(x.lead_seconds is None and x.committed_at is None
                               for x in d2.commits)
    assert [x.first_deployment for x in d2.commits] == ["d1", "d1", "d2"]
    assert d2.pull_requests[0].merged_at is None and d2.pull_requests[0].delivered_here


def test_a_deployment_shows_its_commits_first_deployments_and_delivered_pull_requests(
        shown: Settings) -> None:
    store = shown
    with caller_of(store) as c:
        d2 = explain_deployment(c, "d2")
    assert (d2.source, d2.rule, d2.service, d2.team) == (
        "git:pay tag v1.1", "tag 'v1.1' matches deployments_from_tags 'v*'", "pay-api", "payments")
    commits = {x.sha: x for x in d2.commits}
    assert [x.sha for x in d2.commits] == [C["c1"], C["c2"], C["c3"]]  # by committed time
    # c1 and c2 reached production first with d1: their lead time counts to d1, not here
    assert (commits[C["c1"]].first, commits[C["c1"]].first_deployment) == (False, "d1")
    assert commits[C["c1"]].lead_seconds == 74 * HOUR  # to this deployment
    assert commits[C["c1"]].counted_lead_seconds == 26 * HOUR  # to d1, what DORA counts
    assert (commits[C["c3"]].first, commits[C["c3"]].first_deployment) == (True, "d2")
    assert commits[C["c3"]].counted_lead_seconds == 26 * HOUR
    assert commits[C["c3"]].short_sha == "c300000000"
    (pr,) = d2.pull_requests
    assert (pr.ref, pr.delivered_by, pr.delivered_here, pr.commits_here, pr.commits) == (
        "acme/pay#12", "d2", True, 3, 3)
    assert pr.delivered_at == at("2025-03-04T12:00:00")
    assert [i.id for i in d2.incidents] == ["INC-1"]
    assert d2.dora.production and d2.dora.counted and d2.dora.failed
    assert d2.dora.normalised_key == "pay-api@1.1"
    text = " ".join(d2.dora.reasons)
    assert "linked to incident INC-1 (explicit)" in text and "1 of its 3 commits" in text and "d1" in text


def test_a_fan_out_and_a_staging_deployment_say_why_they_add_nothing(store: Settings) -> None:
    with caller_of(store) as c:
        us = explain_deployment(c, "d1-us")
        staging = explain_deployment(c, "d-staging")
        d1 = explain_deployment(c, "d1")
    assert not us.dora.counted and d1.dora.counted
    assert "one of 2 production deployments of pay-api@1.0" in us.dora.reasons[0]
    assert any("first succeeded earlier" in r for r in us.dora.reasons)
    assert all(not x.first and x.first_deployment == "d1" for x in us.commits)
    (pr,) = d1.pull_requests
    assert (pr.delivered_by, pr.delivered_here, pr.commits_here) == ("d2", False, 2)
    assert not staging.dora.production and not staging.dora.counted
    assert staging.dora.reasons == ["not counted by DORA: environment 'staging' is not production"]


def test_a_pull_request_shows_its_phases_and_the_deployment_that_delivered_it(
        shown: Settings) -> None:
    store = shown
    with caller_of(store) as c:
        pr = explain_pull_request(c, "acme/pay#12")
        by_id = explain_pull_request(c, "gh-12")
    assert pr == by_id
    assert (pr.id, pr.team, pr.source, pr.delivered_by) == (
        "gh-12", "payments", "github:acme/pay pull 12", "d2")
    assert pr.phases == {"coding_seconds": 2 * HOUR, "pickup_seconds": 21 * HOUR,
                         "review_seconds": 27 * HOUR, "deploy_seconds": 24 * HOUR,
                         "cycle_seconds": 74 * HOUR}
    assert [(x.short_sha, x.first_deployment) for x in pr.commits] == [
        ("c100000000", "d1"), ("c200000000", "d1"), ("c300000000", "d2")]
    assert pr.delivery.startswith("delivered by d2 at 2025-03-04 12:00 UTC")
    assert pr.undeployed == []


def test_a_pull_request_not_delivered_says_which_commit_is_missing(store: Settings) -> None:
    with caller_of(store) as c:
        waiting = explain_pull_request(c, "acme/pay#13")
        open_pr = explain_pull_request(c, "acme/pay#14")
    assert waiting.delivered_by is None and waiting.undeployed == ["c400000000"]
    assert waiting.delivery == ("not delivered yet: no successful production deployment lists "
                                "c400000000 (1 of its 1 commits)")  # staging does not count
    assert waiting.phases["deploy_seconds"] is None
    assert open_pr.delivery == "not delivered: not merged (still open)"


def test_explain_never_shows_people(store: Settings) -> None:
    con = duckdb.connect(str(store.db), read_only=True)
    pseudonym = con.execute("SELECT DISTINCT author FROM pull_request").fetchone()
    con.close()
    assert pseudonym and str(pseudonym[0]).startswith("p_")
    with caller_of(store) as c:
        text = json.dumps([dump(explain_deployment(c, "d2")),
                           dump(explain_pull_request(c, "acme/pay#12"))], default=str)
    assert str(pseudonym[0]) not in text and "ana@" not in text
    for word in ("author", "reviewer", "tagger", "person"):
        assert word not in text


def test_another_teams_member_is_refused_and_the_owners_member_reads(store: Settings) -> None:
    with caller_of(store, MEMBER) as c:
        assert explain_deployment(c, "d2").id == "d2"
        assert explain_pull_request(c, "acme/pay#12").id == "gh-12"
        assert {r.id for r in list_deployments(c).rows} == {"d1", "d1-us", "d2", "d-staging"}
    with caller_of(store, OTHER) as c:
        with pytest.raises(ForbiddenError, match="team search cannot open team payments"):
            explain_deployment(c, "d2")
        with pytest.raises(ForbiddenError):
            explain_pull_request(c, "acme/pay#12")
        with pytest.raises(ForbiddenError):
            list_deployments(c, "pay-api")
        assert list_deployments(c).rows == []  # their own team's: none
    with caller_of(store, Principal("exec", None, "tok-exec")) as c, pytest.raises(ForbiddenError):
        explain_deployment(c, "d2")
    refused = [r for r in log_rows(store) if not r["allowed"]]
    assert {r["subject"] for r in refused} >= {"deployment:d2:explain",
                                               "pull_request:gh-12:explain"}


def test_an_unknown_id_says_how_to_find_ids_or_that_it_was_quarantined(store: Settings) -> None:
    with caller_of(store, LOCAL_ADMIN) as c:
        with pytest.raises(NotFoundError) as unknown:
            explain_deployment(c, "nope")
        with pytest.raises(NotFoundError) as ghost:
            explain_deployment(c, "d-ghost")
        with pytest.raises(NotFoundError) as pr:
            explain_pull_request(c, "acme/pay#99")
        assert [r.id for r in list_pull_requests(c, "acme/pay").rows] == [
            "acme/pay#14", "acme/pay#13", "acme/pay#12"]
    assert "explain deployment --list --service S" in (unknown.value.hint or "")
    assert "quarantined (unknown service (service)" in (ghost.value.hint or "")
    assert "`shipwise quarantine`" in (ghost.value.hint or "")
    assert "--list --repo REPO" in (pr.value.hint or "")


def test_the_cli_renders_a_table_and_json(store: Settings) -> None:
    runner = CliRunner()
    base = ["--db", str(store.db), "explain"]
    table = runner.invoke(cli, [*base, "deployment", "d2"])
    assert table.exit_code == 0, table.output
    assert "git:pay tag v1.1" in table.output and "this one" in table.output
    assert "acme/pay#12" in table.output and "this deployment" in table.output
    data = json.loads(runner.invoke(cli, [*base, "pull-request", "acme/pay#12", "--format",
                                          "json"]).output)
    assert data["delivered_by"] == "d2"
    missing = subprocess.run([sys.executable, "-m", "shipwise", *base, "deployment", "nope"],
                             capture_output=True, text=True, env=cli_env(), timeout=120)
    assert missing.returncode != 0
    assert missing.stderr.strip().startswith("Error: no deployment 'nope' in the store (")
    assert "--list" in missing.stderr and len(missing.stderr.strip().splitlines()) == 1
    listed = runner.invoke(cli, [*base, "deployment", "--list", "--service", "pay-api"])
    assert listed.exit_code == 0 and "d1-us" in listed.output


def test_explain_agrees_with_the_derived_facts_of_the_sample_organisation(
        sample_settings: Settings) -> None:
    con = duckdb.connect(str(sample_settings.db), read_only=True)
    delivered = con.execute(
        "SELECT pr.repo || '#' || pr.number, f.delivered_at FROM pr_delivery_fact f "
        "JOIN pull_request pr ON pr.id = f.pull_request_id ORDER BY 1 LIMIT 5").fetchall()
    firsts = con.execute(
        "SELECT dc.deployment_id, count(*) FROM deployment_commit dc "
        "JOIN dora_change_fact cf ON cf.sha_key = dc.sha_key JOIN deployment d ON d.id = dc.deployment_id "
        "WHERE d.finished_at = cf.deployed_at AND d.status = 'success' "
        "AND lower(d.environment) = 'production' GROUP BY 1 ORDER BY 1 LIMIT 3").fetchall()
    con.close()
    assert delivered and firsts
    with caller_of(sample_settings) as c:
        for ref, delivered_at in delivered:
            pr = explain_pull_request(c, ref)
            assert pr.delivered_at == delivered_at.replace(tzinfo=UTC)
            assert pr.delivered_by is not None
            by = explain_deployment(c, pr.delivered_by)
            assert by.finished_at == pr.delivered_at
            assert any(p.ref == ref and p.delivered_here for p in by.pull_requests)
        for deployment_id, n in firsts:
            d = explain_deployment(c, deployment_id)
            assert sum(1 for x in d.commits if x.first) >= 1
            assert sum(1 for x in d.commits if x.counted_lead_seconds == x.lead_seconds) >= n


def test_the_api_answers_like_the_cli_and_refuses_another_team(store: Settings) -> None:
    import httpx

    from shipwise.app.tokens import create_token
    from shipwise.server import create_app
    from shipwise.store.duckdb_store import Store
    from tests.conftest import serve_app

    with Store.open(store.db) as s:
        toks = {who: create_token(s, who, "member", team)["token"]
                for who, team in (("pay", "payments"), ("search", "search"))}
    cli_json = json.loads(CliRunner().invoke(
        cli, ["--db", str(store.db), "explain", "deployment", "d2", "--format", "json"]).output)
    with serve_app(create_app(store)) as url:
        def get(path: str, who: str = "pay") -> httpx.Response:
            return httpx.get(url + path, timeout=30,
                             headers={"Authorization": f"Bearer {toks[who]}"})

        d2 = get("/api/v1/deployments/d2/explain")
        assert d2.status_code == 200  # the same record (the API writes instants with Z)
        assert (DeploymentExplanation.model_validate(d2.json())
                == DeploymentExplanation.model_validate(cli_json))
        pr = get("/api/v1/pull-requests/acme/pay%2312/explain")
        assert pr.status_code == 200 and pr.json()["delivered_by"] == "d2"
        assert get("/api/v1/deployments?service=pay-api").json()["rows"][1]["id"] == "d2"
        refused = get("/api/v1/deployments/d2/explain", "search")
        assert refused.status_code == 403 and "team payments" in refused.json()["error"]
        missing = get("/api/v1/deployments/nope/explain")
        assert missing.status_code == 404 and "--list" in missing.json()["hint"]
        assert get("/api/v1/pull-requests/acme/pay%23999999999999999999999/explain").status_code == 404


def test_the_mcp_tools_answer_with_the_doors_and_refuse_another_team(store: Settings) -> None:
    from shipwise.app.tokens import create_token
    from shipwise.store.duckdb_store import Store
    from tests.mcp.conftest import call, error_text

    with Store.open(store.db) as s:
        search = create_token(s, "search", "member", "search")["token"]
    d2 = call(store, None, "explain_deployment", {"id": "d2"})
    assert not d2.is_error and d2.structured_content["commits"][2]["first"] is True
    pr = call(store, None, "explain_pull_request", {"ref": "acme/pay#13"})
    assert pr.structured_content["undeployed"] == ["c400000000"]
    assert "cannot open team payments" in error_text(
        call(store, search, "explain_deployment", {"id": "d2"}))
    assert "--list" in error_text(call(store, None, "explain_deployment", {"id": "nope"}))
