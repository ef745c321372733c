"""Flow and strain definitions v1 on a small week whose answers are worked out by hand, and the
suppression, audit and retention that guard them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from shipwise.app import admin, humane
from shipwise.app.caller import Caller
from shipwise.app.context import open_store
from shipwise.app.owner import import_paths
from shipwise.app.results import dump
from shipwise.config import Settings
from shipwise.errors import ForbiddenError
from shipwise.governance.access import LOCAL_ADMIN, Principal
from shipwise.metrics.flow import FlowQuery, flow_sql
from shipwise.metrics.strain import Hours, StrainQuery, strain_sql
from shipwise.store.duckdb_store import Store
from tests.conftest import write_jsonl

H = 3600


def _caller(store: Store, principal: Principal, settings: Settings | None) -> Caller:
    return Caller(store, principal, settings or Settings(db=store.path), "api")


def team_diagnostics(store: Store, principal: Principal, family: str, team: str, *,
                     settings: Settings | None = None, **kw: Any) -> dict[str, Any]:
    """A team's flow or strain through its door (default settings: k = 5, default hours)."""
    return dict(dump(humane.team_diagnostics(_caller(store, principal, settings), family,
                                             (team,), **kw)))


def org_diagnostics(store: Store, principal: Principal, family: str, *,
                    settings: Settings | None = None, **kw: Any) -> dict[str, Any]:
    return dict(dump(humane.org_diagnostics(_caller(store, principal, settings), family, **kw)))


def access_log(store: Store, principal: Principal, **kw: Any) -> list[dict[str, Any]]:
    return list(dump(admin.access_log(_caller(store, principal, None), **kw)))
W27 = (date(2025, 6, 30), date(2025, 7, 6))  # Monday .. Sunday


def _org() -> list[dict[str, Any]]:
    recs: list[dict[str, Any]] = [{"type": "org_unit", "id": "eng", "name": "Engineering"}]
    for team, svc, tz in (("payments", "pay-api", "Europe/Berlin"), ("web", "web-app", "UTC"),
                          ("ops", "ops-api", "UTC")):
        recs.append({"type": "team", "id": team, "name": team.title(), "org_unit": "eng",
                     "delivery_unit": "deployments", "attributes": {"timezone": tz}})
        recs.append({"type": "service", "id": svc, "name": svc, "team": team})
    people = [("p1", "payments"), ("p2", "payments"), ("p3", "payments"), ("p4", "payments"),
              ("p5", "payments"), ("w1", "web"), ("w2", "web"), ("w3", "web"),
              *[(f"o{i}", "ops") for i in range(1, 7)]]
    recs += [{"type": "person", "id": f"{p}@example.com", "team": t, "since": "2025-01-01"}
             for p, t in people]
    return recs


def _pr(n: int, author: str, created: str, *, first_commit: str | None = None,
        review: str | None = None, merged: str | None = None, commits: list[str] | None = None,
        repo: str = "pay-api", closed: str | None = None) -> dict[str, Any]:
    return {"type": "pull_request", "id": f"pr{n}", "repo": repo, "number": n,
            "author": f"{author}@example.com", "created_at": created, "first_commit_at": first_commit,
            "first_review_at": review, "merged_at": merged, "closed_at": closed or merged,
            "commits": commits or []}


def _commit(sha: str, at: str) -> dict[str, Any]:
    return {"type": "commit", "sha": sha, "repo": "pay-api", "author": "p1@example.com",
            "authored_at": at, "committed_at": at, "additions": 1, "deletions": 0}


def _dep(id: str, at: str, commits: list[str]) -> dict[str, Any]:
    return {"type": "deployment", "id": id, "service": "pay-api", "environment": "production",
            "started_at": at, "finished_at": at, "status": "success", "commits": commits}


def _page(n: int, person: str, at: str, team: str = "payments") -> dict[str, Any]:
    return {"type": "page", "id": f"pg{n}", "team": team, "person": f"{person}@example.com",
            "at": at, "urgency": "high"}


HISTORY: list[dict[str, Any]] = [
    *_org(),
    _commit("c1", "2025-06-30T08:00:00Z"), _commit("c2", "2025-06-29T10:00:00Z"),
    _commit("c3", "2025-07-01T09:00:00Z"),
    # coding 2 h, pickup 2 h, review 4 h; delivered by d1: deploy 18 h, cycle 26 h
    _pr(1, "p1", "2025-06-30T10:00:00Z", first_commit="2025-06-30T08:00:00Z",
        review="2025-06-30T12:00:00Z", merged="2025-06-30T16:00:00Z", commits=["c1"]),
    # coding 48 h, pickup 6 h, review 18 h; delivered by d2: deploy 2 h, cycle 74 h
    _pr(2, "p2", "2025-07-01T10:00:00Z", first_commit="2025-06-29T10:00:00Z",
        review="2025-07-01T16:00:00Z", merged="2025-07-02T10:00:00Z", commits=["c2"]),
    # first commit after opening: coding 0; pickup 1 h, review 2 h; never deployed
    _pr(3, "p3", "2025-07-01T08:00:00Z", first_commit="2025-07-01T09:00:00Z",
        review="2025-07-01T09:00:00Z", merged="2025-07-01T11:00:00Z", commits=["c3"]),
    _pr(4, "p4", "2025-07-02T10:00:00Z"),  # open, unreviewed: 110 h old at the week end
    _pr(5, "p5", "2025-06-20T10:00:00Z", review="2025-07-03T10:00:00Z"),  # latency 312 h, open
    _pr(6, "w1", "2025-06-30T09:00:00Z"),  # web's person in payments' repository: stalled
    _pr(7, "p1", "2025-07-06T10:00:00Z", review="2025-07-06T12:00:00Z",
        closed="2025-07-07T09:00:00Z"),  # open at the week end (14 h), closed the next week
    _dep("d1", "2025-07-01T10:00:00Z", ["c1"]), _dep("d2", "2025-07-02T12:00:00Z", ["c2"]),
    {"type": "ticket_status", "ticket": "T-1", "team": "payments", "at": "2025-06-30T09:00:00Z",
     "status": "In Progress", "category": "in_progress"},
    {"type": "ticket_status", "ticket": "T-1", "team": "payments", "at": "2025-07-01T09:00:00Z",
     "status": "Waiting for Web", "category": "blocked", "blocked_on": "web"},
    {"type": "ticket_status", "ticket": "T-1", "team": "payments", "at": "2025-07-02T09:00:00Z",
     "status": "In Progress", "category": "in_progress"},
    {"type": "ticket_status", "ticket": "T-1", "team": "payments", "at": "2025-07-04T09:00:00Z",
     "status": "Done", "category": "done"},
    {"type": "ticket_status", "ticket": "T-2", "team": "payments", "at": "2025-07-03T09:00:00Z",
     "status": "In Progress", "category": "in_progress"},
    {"type": "ticket_status", "ticket": "T-2", "team": "payments", "at": "2025-07-04T09:00:00Z",
     "status": "Done", "category": "done"},
    # payments in Europe/Berlin (UTC+2 in July)
    _page(1, "p1", "2025-07-01T08:00:00Z"),  # Tue 10:00 local: working hours
    _page(2, "p1", "2025-07-01T17:30:00Z"),  # Tue 19:30: after hours
    _page(3, "p2", "2025-07-02T22:30:00Z"),  # Thu 00:30: after hours and sleep
    _page(4, "p3", "2025-07-05T10:00:00Z"),  # Sat 12:00: weekend
    _page(5, "p4", "2025-07-06T03:00:00Z"),  # Sun 05:00: weekend and sleep
    _page(6, "p5", "2025-07-03T09:00:00Z"),  # Thu 11:00
    _page(7, "p1", "2025-07-03T12:00:00Z"),  # Thu 14:00
    _page(20, "p2", "2025-07-05T09:00:00Z"),  # Sat 11:00: weekend (after the retention cut below)
    _page(8, "w2", "2025-07-02T10:00:00Z", "web"), _page(9, "w3", "2025-07-02T11:00:00Z", "web"),
    *[_page(10 + i, f"o{i}", "2025-07-02T12:00:00Z", "ops") for i in range(1, 7)],
    {"type": "incident", "id": "i1", "service": "pay-api", "severity": "sev2",
     "opened_at": "2025-07-01T10:00:00Z", "resolved_at": "2025-07-01T14:00:00Z"},
    {"type": "incident", "id": "i2", "service": "pay-api", "severity": "sev4",  # not burden
     "opened_at": "2025-07-01T10:00:00Z", "resolved_at": "2025-07-03T14:00:00Z"},
]


@pytest.fixture
def week(settings: Settings, tmp_path: Path) -> Settings:
    rep = import_paths(settings, [write_jsonl(tmp_path / "h.jsonl", HISTORY)])
    assert rep.quarantined == 0, rep.reasons
    return settings


def _rows(store: Store, sql: str, params: list[object]) -> dict[str, dict[str, Any]]:
    cur = store.con.execute(sql, params)
    cols = [d[0] for d in cur.description or []]
    return {r[0]: dict(zip(cols, r, strict=True)) for r in cur.fetchall()}


def test_flow_phases_latency_wip_and_blocked_time(week: Settings) -> None:
    with open_store(week, read_only=True) as store:
        rows = _rows(store, *flow_sql(FlowQuery("week", "team", *W27)))
    p = rows["payments"]
    assert p["period"] == "2025-W27"
    assert (p["merged_prs"], p["delivered_prs"], p["reviewed_prs"]) == (3, 2, 5)
    assert p["flow.coding_time"] == 2 * H  # [0, 2 h, 48 h]
    assert p["flow.pickup_time"] == 2 * H  # [1 h, 2 h, 6 h]
    assert p["flow.review_time"] == 4 * H  # [2 h, 4 h, 18 h]
    assert p["flow.deploy_time"] == 10 * H  # [2 h, 18 h]
    assert p["flow.cycle_time"] == 50 * H  # [26 h, 74 h]
    assert p["flow.review_latency"] == 2 * H  # [1 h, 2 h, 2 h (pr7), 6 h, 312 h]
    # open at Sunday 24:00: pr7 (14 h), pr4 (110 h), pr6 (159 h), pr5 (398 h)
    assert p["flow.work_in_progress"] == 4.0
    assert p["flow.open_pr_age"] == (110 + 159) / 2 * H
    assert (p["open_lt_1d"], p["open_3d_7d"], p["open_ge_14d"]) == (1, 2, 1)
    # T-1 blocked 24 h of 96 h active; T-2 never blocked (24 h active)
    assert (p["tickets_done"], p["tickets_blocked"]) == (2, 1)
    assert p["flow.blocked_time"] == 24 * H
    assert p["flow.blocked_ratio"] == pytest.approx(24 / 120)
    assert rows["web"]["flow.cycle_time"] is None  # nothing delivered: undefined, not zero


def test_strain_in_the_teams_time_zone(week: Settings) -> None:
    with open_store(week, read_only=True) as store:
        rows = _rows(store, *strain_sql(StrainQuery("week", "team", *W27, Hours())))
    p = rows["payments"]
    assert p["pages"] == 8
    assert p["strain.after_hours_pages"] == 2
    assert p["strain.weekend_pages"] == 3
    assert p["strain.sleep_hour_pages"] == 2
    assert p["strain.out_of_hours_share"] == pytest.approx(5 / 8)
    assert p["strain.incident_burden"] == pytest.approx(4 / 5)  # sev2 4 h / 5 person-weeks
    assert p["strain.oncall_concentration"] == pytest.approx(3 / 8)  # busiest of five: 3 pages
    assert rows["web"]["strain.stalled_prs"] == 1  # pr6 waited 73 h in payments' repository
    assert p["strain.stalled_prs"] == 0
    # configurable hours: a 07:00–20:00 day turns the 19:30 page into a working-hours page
    late = Hours(work_start=7 * 60, work_end=20 * 60)
    with open_store(week, read_only=True) as store:
        rows = _rows(store, *strain_sql(StrainQuery("week", "team", *W27, late)))
    assert rows["payments"]["strain.after_hours_pages"] == 1


def test_small_groups_are_hidden_and_cannot_be_recovered_from_the_total(week: Settings) -> None:
    with open_store(week) as store:
        teams = {t: team_diagnostics(store, LOCAL_ADMIN, "strain", t, grain="week",
                                     since=W27[0], until=W27[1], settings=week)["rows"][0]
                 for t in ("payments", "web", "ops")}
        eng = org_diagnostics(store, LOCAL_ADMIN, "strain", grain="week", since=W27[0],
                              until=W27[1], settings=week)["rows"][0]
    # web: 2 responders < 5 → hidden; payments (5) is the smallest visible sibling → hidden too,
    # or eng − ops would give web's figures away
    assert teams["web"]["metrics"]["strain.after_hours_pages"] is None
    assert "fewer than 5 people" in teams["web"]["suppressed"]["strain.after_hours_pages"]
    assert teams["payments"]["metrics"]["strain.weekend_pages"] is None
    assert "cannot be worked out" in teams["payments"]["suppressed"]["strain.weekend_pages"]
    assert teams["payments"]["counts"]["pages"] is None
    assert teams["ops"]["counts"]["pages"] == 6
    # six responders: the busiest fifth is two people, so their share is no figure to show
    assert teams["ops"]["suppressed"] == {
        "strain.oncall_concentration": "the busiest fifth or the rest would be fewer than 5 people"}
    assert eng["org_unit"] == "eng" and eng["counts"]["pages"] == 16
    # stalled PRs come from one web author: hidden whatever the responders
    assert teams["web"]["metrics"]["strain.stalled_prs"] is None


def test_each_flow_figure_is_judged_by_the_authors_behind_it(week: Settings) -> None:
    from shipwise.config import PrivacySettings

    three = week.model_copy(update={"privacy": PrivacySettings(min_group_size=3)})
    with open_store(week) as store:
        res = team_diagnostics(store, LOCAL_ADMIN, "flow", "payments", grain="week",
                               since=W27[0], until=W27[1], settings=three)
    (row,) = res["rows"]
    m = row["metrics"]
    assert m["flow.review_latency"] == 2 * H  # first reviewed: p1, p2, p3, p5
    assert m["flow.work_in_progress"] == 4.0  # open at the week end: p1, p4, p5, w1
    assert row["open_pr_age_distribution"] == {"lt_1d": 1, "1d_3d": 0, "3d_7d": 2, "7d_14d": 0,
                                               "ge_14d": 1}
    assert m["flow.cycle_time"] is None and m["flow.deploy_time"] is None  # delivered: p1, p2
    assert "fewer than 3 people" in row["suppressed"]["flow.cycle_time"]
    assert row["counts"]["delivered_prs"] is None and row["counts"]["reviewed_prs"] == 5
    # merged in W27: p1, p2, p3 — enough, and shown: W27 (30 June – 6 July) is June's merged
    # PRs plus July's, both hidden (one and two authors), so it gives neither away
    assert m["flow.coding_time"] is not None and row["counts"]["merged_prs"] == 3
    with open_store(week) as store:
        months = team_diagnostics(store, LOCAL_ADMIN, "flow", "payments", grain="month",
                                  since=date(2025, 6, 1), until=date(2025, 7, 31),
                                  settings=three)["rows"]
    assert [r["counts"]["merged_prs"] for r in months] == [None, None]
    assert m["flow.blocked_ratio"] == pytest.approx(0.2)  # tickets name no one
    assert "people" not in row and "responders" not in row["counts"]


def test_dates_are_whole_periods_so_requests_cannot_be_subtracted(week: Settings) -> None:
    """A period's figure is the same whatever dates were asked for."""
    with open_store(week) as store:
        full = team_diagnostics(store, LOCAL_ADMIN, "strain", "ops", grain="week",
                                since=W27[0], until=W27[1], settings=week)
        part = team_diagnostics(store, LOCAL_ADMIN, "strain", "ops", grain="week",
                                since=date(2025, 7, 2), until=date(2025, 7, 2), settings=week)
    assert part["since"] == "2025-06-30" and part["until"] == "2025-07-06"
    assert part["rows"] == full["rows"]


def test_reads_are_authorised_and_audited_as_people_derived(week: Settings) -> None:
    member = Principal("member", "web", "tok1", "wanda")
    with open_store(week) as store:
        team_diagnostics(store, member, "flow", "web", settings=week)
        with pytest.raises(ForbiddenError):
            team_diagnostics(store, member, "strain", "payments", settings=week)
        with pytest.raises(ForbiddenError):
            org_diagnostics(store, member, "strain", settings=week)
        log = access_log(store, LOCAL_ADMIN, people_derived=True)
    seen = {(r["subject"], r["allowed"], r["reader"]) for r in log}
    assert ("team:web:flow", True, "wanda") in seen
    assert ("team:payments:strain", False, "wanda") in seen
    assert ("org:strain", False, "wanda") in seen


@pytest.mark.slow
def test_retention_purges_people_and_keeps_every_aggregate(week: Settings, tmp_path: Path) -> None:
    from shipwise.governance.charter import load_charter
    from shipwise.governance.retention import cutoffs, run

    def figures(store: Store) -> tuple[Any, ...]:
        out = []
        for fam in ("flow", "strain"):
            for t in ("payments", "web", "ops"):
                out.append(team_diagnostics(store, LOCAL_ADMIN, fam, t, grain="week",
                                            since=W27[0], until=W27[1], settings=week)["rows"])
        return tuple(out)

    as_of = datetime(2026, 7, 4, tzinfo=UTC)  # pages: 365 days → before 2025-07-04
    plan = cutoffs(load_charter(), {"pull_request": 365}, as_of)
    with open_store(week) as store:
        before = figures(store)
        dry = run(store, plan, dry_run=True)
        assert store.con.execute("SELECT count(*) FROM page").fetchone() == (16,)
        rep = run(store, plan)
        assert rep["records"] == dry["records"]
        removed = {r["record_type"]: r["rows"] for r in rep["records"]}
        assert removed["page"] == 13 and removed["pull_request"] == 6  # pr7 is after the cut
        assert store.con.execute(
            "SELECT count(*) FROM page WHERE \"at\" < TIMESTAMP '2025-07-04'").fetchone() == (0,)
        assert store.con.execute("SELECT count(*) FROM pull_request WHERE author IS NOT NULL "
                                 "AND created_at < TIMESTAMP '2025-07-04'").fetchone() == (0,)
        people = {r[0] for r in store.con.execute("SELECT id FROM person").fetchall()}
        for table, col, at in (("strain_page_fact", "person", '"at"'),
                               ("flow_pr_fact", "author", "created_at")):
            old = {r[0] for r in store.con.execute(
                f"SELECT {col} FROM {table} WHERE {at} < TIMESTAMP '2025-07-04'").fetchall()}
            assert old and not (old & people)  # kept for the aggregates, linked to no one
            assert all(str(p).startswith("gone:") for p in old)
        assert figures(store) == before  # every aggregate, and what is hidden, unchanged
    # re-importing the same files brings nothing back
    import_paths(week, [write_jsonl(tmp_path / "again.jsonl", HISTORY)])
    with open_store(week) as store:
        assert store.con.execute(
            "SELECT count(*) FROM page WHERE \"at\" < TIMESTAMP '2025-07-04'").fetchone() == (0,)
        assert store.con.execute("SELECT count(*) FROM pull_request WHERE author IS NOT NULL "
                                 "AND created_at < TIMESTAMP '2025-07-04'").fetchone() == (0,)
        assert figures(store) == before


def test_settings_may_shorten_retention_never_lengthen_it() -> None:
    from shipwise.errors import ConfigError
    from shipwise.governance.charter import load_charter
    from shipwise.governance.retention import cutoffs

    with pytest.raises(ConfigError, match="longer than the charter allows"):
        cutoffs(load_charter(), {"page": 10_000}, datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(ConfigError, match="no retention rule"):
        cutoffs(load_charter(), {"deployment": 10}, datetime(2026, 1, 1, tzinfo=UTC))


def test_the_charter_audience_is_enforced(week: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Narrow an audience in the charter and every view withholds the metric from other roles."""
    from shipwise.config import PrivacySettings
    from shipwise.governance import charter as charter_mod

    week = week.model_copy(update={"privacy": PrivacySettings(min_group_size=3)})
    real = charter_mod.load_charter()
    entry = real.entries["flow.review_latency"].model_copy(update={"audience": ["admin"]})
    narrowed = real.model_copy(update={"entries": {**real.entries, "flow.review_latency": entry}})
    monkeypatch.setattr(charter_mod, "load_charter", lambda: narrowed)
    lead = Principal("lead", "payments", "tok2", "lee")
    with open_store(week) as store:
        as_lead = team_diagnostics(store, lead, "flow", "payments", grain="week",
                                   since=W27[0], until=W27[1], settings=week)["rows"][0]
        as_admin = team_diagnostics(store, LOCAL_ADMIN, "flow", "payments", grain="week",
                                    since=W27[0], until=W27[1], settings=week)["rows"][0]
    assert as_lead["metrics"]["flow.review_latency"] is None
    assert "not for the lead role" in as_lead["withheld"]["flow.review_latency"]
    assert as_lead["metrics"]["flow.work_in_progress"] == 4.0  # the rest of the view is served
    assert as_admin["metrics"]["flow.review_latency"] == 2 * H


def test_a_lone_small_week_cannot_be_worked_out_from_its_month(week: Settings,
                                                                tmp_path: Path) -> None:
    """W28's merged PRs come from one author: hidden. July (W27's July days + W28) is shown, and
    so is W27 (30 June + W27's July days): together they give only W28 − June, and June (one
    author) is hidden — an exact identity needs a week and a month covering the same days."""
    from shipwise.config import PrivacySettings
    from tests.governance import attack as attacker

    three = week.model_copy(update={"privacy": PrivacySettings(min_group_size=3)})
    import_paths(week, [write_jsonl(tmp_path / "w28.jsonl", [
        _pr(8, "p1", "2025-07-08T10:00:00Z", review="2025-07-08T11:00:00Z",
            merged="2025-07-08T12:00:00Z")])])
    with open_store(week) as store:
        rows = team_diagnostics(store, LOCAL_ADMIN, "flow", "payments", grain="week",
                                since=date(2025, 6, 30), until=date(2025, 7, 13),
                                settings=three)["rows"]
        months = team_diagnostics(store, LOCAL_ADMIN, "flow", "payments", grain="month",
                                  since=date(2025, 6, 1), until=date(2025, 7, 31),
                                  settings=three)["rows"]
        got = attacker.run(store, LOCAL_ADMIN)
    w27, w28 = rows
    june, july = months
    assert "fewer than 3 people" in w28["suppressed"]["flow.coding_time"]
    assert "fewer than 3 people" in june["suppressed"]["merged_prs"]
    assert w27["counts"]["merged_prs"] == 3 and july["counts"]["merged_prs"] == 3
    assert w27["metrics"]["flow.work_in_progress"] == 4.0  # other cohorts stay visible
    assert got.hidden and not got.exact


def test_a_team_can_keep_its_own_working_hours_and_days(week: Settings, tmp_path: Path) -> None:
    """Attributes working_hours and working_days override the configured ones for that team."""
    import_paths(week, [write_jsonl(tmp_path / "t.jsonl", [
        {"type": "team", "id": "payments", "name": "Payments", "org_unit": "eng",
         "delivery_unit": "deployments",
         "attributes": {"timezone": "Europe/Berlin", "working_hours": "07:00-20:00",
                        "working_days": [1, 2, 3, 4, 5, 6]}}])])
    with open_store(week, read_only=True) as store:
        rows = _rows(store, *strain_sql(StrainQuery("week", "team", *W27, Hours())))
    p = rows["payments"]
    assert p["strain.after_hours_pages"] == 1  # Tue 19:30 is inside 07:00–20:00; Thu 00:30 is not
    assert p["strain.weekend_pages"] == 1  # Saturday is a working day; Sunday 05:00 is not
    assert p["strain.sleep_hour_pages"] == 2  # sleep hours are the configured ones
