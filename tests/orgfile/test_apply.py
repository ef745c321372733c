"""Applying an organisation file to a real store: the plan, dry runs, idempotence, prune, export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shipwise.app.owner import import_paths
from shipwise.config import Settings
from shipwise.errors import InputError
from shipwise.orgfile import OrgFileError
from shipwise.store.duckdb_store import Store
from shipwise.store.org import service_map
from tests.conftest import write_jsonl
from tests.orgfile.conftest import ORG, apply, export, snapshot


def test_a_dry_run_shows_the_plan_and_writes_nothing(settings: Settings) -> None:
    before = snapshot(settings)
    res = apply(settings, dry_run=True)
    assert res.dry_run and not res.applied
    added = {(c.kind, c.id) for c in res.changes if c.action == "added"}
    assert {("org_unit", "eng"), ("team", "payments"), ("service", "ledger")} <= added
    assert len([c for c in res.changes if c.kind == "person"]) == 3
    assert all(c.line for c in res.changes)
    ledger = next(c for c in res.changes if c.id == "ledger")
    assert ledger.fields["team"] == [None, "platform"]  # the owner on TODAY
    assert ledger.fields["owners"][1] == "payments until 2026-03-31; platform since 2026-04-01"
    assert snapshot(settings) == before


def test_apply_writes_the_organisation_and_twice_changes_nothing(settings: Settings) -> None:
    res = apply(settings)
    assert res.applied and not res.dry_run
    after = snapshot(settings)
    with Store.open(settings.db) as s:
        teams = {r["id"]: r for r in s.query("SELECT * FROM team")}
        assert json.loads(teams["payments"]["attributes"]) == {
            "timezone": "Europe/Lisbon", "working_hours": "09:00-17:30",
            "working_days": [1, 2, 3, 4, 5], "team_type": "stream-aligned",
            "location": "Lisbon", "working_arrangement": "hybrid"}
        assert teams["platform"]["delivery_unit"] == "pull_requests"
        assert s.query("SELECT id, team, repo FROM service ORDER BY id") == [
            {"id": "ledger", "team": "platform", "repo": "acme/ledger"},
            {"id": "pay-api", "team": "payments", "repo": "acme/pay-api"}]
        people = s.query('SELECT id, team, since, "until", bot FROM person ORDER BY id, since')
        ids = {r["id"] for r in people}
        assert "bot:renovate[bot]" in ids and len(ids) == 3
        assert all(i.startswith(("p_", "bot:")) for i in ids)
        aliases = s.query("SELECT alias, person FROM person_alias")
        assert len(aliases) == 2 and len({a["person"] for a in aliases}) == 1
        stored = " ".join(str(r) for t in ("person", "person_alias", "quarantine", "ingest_run")
                          for r in s.con.execute(f"SELECT * FROM {t}").fetchall())
        assert "acme.com" not in stored and "ana-gh" not in stored  # no raw id anywhere
        smap = service_map(s)
        assert smap.resolve("acme/mono", "production", "deploy-ledger-eu") == "ledger"
        assert smap.resolve("acme/mono", "production", "deploy-other") is None
        assert smap.resolve("acme/pay-api") == "pay-api"
        assert smap.resolve("acme/ledger", "staging") == "ledger"

    again = apply(settings)
    assert again.changes == [] and again.rewritten == {} and not again.applied
    assert snapshot(settings) == after  # no new row versions, no ingest run


def test_a_change_shows_old_and_new_and_replaces_memberships(settings: Settings) -> None:
    apply(settings)
    text = (ORG.replace('working_hours: "09:00-17:30"', 'working_hours: "08:00-16:00"')
            .replace("      - {team: payments, since: 2025-01-01}\n",
                     "      - {team: platform, since: 2025-02-01}\n"))
    res = apply(settings, text)
    changed = {c.id: c.fields for c in res.changes if c.action == "changed"}
    assert changed["payments"]["attributes"] == ["working_hours=09:00-17:30",
                                                 "working_hours=08:00-16:00"]
    (bo,) = [f for i, f in changed.items() if i.startswith("p_")]
    assert bo["memberships"] == ["payments since 2025-01-01", "platform since 2025-02-01"]
    with Store.open(settings.db) as s:
        teams = s.query("SELECT team FROM person WHERE id IN "
                        "(SELECT id FROM person GROUP BY id HAVING count(*) = 1 AND NOT bool_or(bot))")
        assert teams == [{"team": "platform"}]  # the old membership is gone, not left beside
    assert apply(settings, text).changes == []


def test_removed_entries_are_kept_without_prune_and_refused_when_referenced(
        settings: Settings, tmp_path: Path) -> None:
    apply(settings)
    import_paths(settings, [write_jsonl(tmp_path / "d.jsonl", [
        {"type": "deployment", "id": "d1", "service": "pay-api", "environment": "production",
         "started_at": "2026-05-01T10:00:00Z", "finished_at": "2026-05-01T10:05:00Z",
         "status": "success"}])])
    smaller = ORG[:ORG.index("services:")] + """services:
  - id: ledger
    name: Ledger
    team: platform
"""
    # pay-api is gone from the file: shown as removed, kept
    res = apply(settings, smaller)
    gone = next(c for c in res.changes if c.id == "pay-api")
    assert gone.action == "removed" and gone.referenced_by == {"deployments": 1}
    with Store.open(settings.db) as s:
        assert s.count("service") == 2
    before = snapshot(settings)
    with pytest.raises(InputError, match=r"pay-api is referenced by 1 deployments"):
        apply(settings, smaller, prune=True)
    assert snapshot(settings) == before  # nothing written

    # an unreferenced service is pruned; a referenced one never
    with Store.open(settings.db) as s:
        s.con.execute("DELETE FROM deployment")
    res = apply(settings, smaller, prune=True)
    assert any(c.id == "pay-api" and c.action == "removed" for c in res.changes)
    with Store.open(settings.db) as s:
        assert [r[0] for r in s.con.execute("SELECT id FROM service").fetchall()] == ["ledger"]
        assert s.con.execute("SELECT count(*) FROM service_target WHERE service = 'pay-api'"
                             ).fetchone() == (0,)
    assert apply(settings, smaller, prune=True).changes == []


def test_export_then_apply_changes_nothing(settings: Settings, tmp_path: Path) -> None:
    apply(settings)
    # someone a canonical file brought in, whom the file never listed
    import_paths(settings, [write_jsonl(tmp_path / "p.jsonl", [
        {"type": "person", "id": "cy@acme.com", "team": "payments", "since": "2025-03-01"}])])
    text = export(settings)
    assert text.startswith("# shipwise organisation file") and "pseudonym" in text.splitlines()[1]
    assert "acme.com" not in text and "renovate[bot]" in text
    before = snapshot(settings)
    res = apply(settings, text)
    assert res.changes == [] and res.rewritten == {}
    assert snapshot(settings) == before
    # and the original file, applied again, only lists the person it does not name
    res = apply(settings)
    assert [(c.kind, c.action) for c in res.changes] == [("person", "removed")]


def test_a_pseudonym_this_store_does_not_hold_is_an_error(settings: Settings) -> None:
    text = ORG.replace("emails: [bo@acme.com]", "ids: [p_0123456789abcdef0123]")
    with pytest.raises(OrgFileError) as err:
        apply(settings, text)
    (problem,) = err.value.problems
    assert problem.line == text.splitlines().index("  - ids: [p_0123456789abcdef0123]") + 1
    assert "holds no such person" in problem.message


def test_a_team_whose_services_the_file_moves_may_be_pruned(settings: Settings) -> None:
    apply(settings)
    text = """\
version: 1
org_units:
  - {id: eng, name: Engineering}
teams:
  - {id: platform, name: Platform, org_unit: eng, delivery_unit: pull_requests,
     attributes: {cost_centre: CC-12}}
services:
  - {id: pay-api, name: Pay API, team: platform, repos: [acme/pay-api]}
"""
    plan = apply(settings, text, prune=True, dry_run=True)
    removed = {(c.kind, c.id): c.referenced_by for c in plan.changes if c.action == "removed"}
    # payments' services and memberships are moved or pruned by the same run: nothing holds it
    assert {k for k in removed if k[0] != "person"} == {
        ("team", "payments"), ("org_unit", "money"), ("service", "ledger")}
    assert sum(kind == "person" for kind, _ in removed) == 3
    assert not any(removed.values()), removed
    res = apply(settings, text, prune=True)
    assert res.applied
    with Store.open(settings.db) as s:
        assert s.con.execute("SELECT id FROM team").fetchall() == [("platform",)]
        assert s.con.execute("SELECT id, team FROM service").fetchall() == [("pay-api", "platform")]
        assert s.count("person") == s.count("person_alias") == s.count("service_owner") == 0
    assert apply(settings, text, prune=True).changes == []
