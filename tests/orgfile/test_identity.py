"""Identity resolution: one person's several emails and logins are one pseudonym once the
organisation file says so — for records imported before ``org apply`` (rewritten) and after it
(resolved by the importer)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from shipwise.app.owner import import_paths
from shipwise.config import Settings
from shipwise.metrics import facts
from shipwise.metrics.people import people_counts
from shipwise.store.duckdb_store import Store
from tests.conftest import write_jsonl
from tests.orgfile.conftest import apply


def commit(sha: str, author: str, day: int) -> dict[str, Any]:
    at = f"2026-05-{day:02d}T10:00:00Z"
    return {"type": "commit", "sha": sha, "repo": "pay-api", "author": author,
            "authored_at": at, "committed_at": at, "additions": 1, "deletions": 0}


def pull(n: int, author: str, day: int) -> dict[str, Any]:
    return {"type": "pull_request", "id": f"pr{n}", "repo": "acme/pay-api", "number": n,
            "author": author, "created_at": f"2026-05-{day:02d}T09:00:00Z",
            "merged_at": f"2026-05-{day:02d}T15:00:00Z"}


def page(n: int, person: str, day: int) -> dict[str, Any]:
    return {"type": "page", "id": f"pg{n}", "team": "payments", "person": person,
            "at": f"2026-05-{day:02d}T23:30:00Z", "urgency": "high"}


def authors(s: Store, table: str) -> dict[str, str]:
    key = "sha" if table == "commit" else "id"
    return {str(k): str(a) for k, a in s.con.execute(
        f'SELECT {key}, author FROM "{table}"').fetchall()}


def test_several_emails_are_one_person_before_and_after_apply(
        settings: Settings, tmp_path: Path) -> None:
    # before the organisation file: two emails of Ana are two pseudonyms
    import_paths(settings, [write_jsonl(tmp_path / "team.jsonl", [  # for the page
        {"type": "org_unit", "id": "eng", "name": "Engineering"},
        {"type": "team", "id": "payments", "name": "Payments", "org_unit": "eng",
         "delivery_unit": "deployments"}])])
    import_paths(settings, [write_jsonl(tmp_path / "before.jsonl", [
        commit("a1", "ana@acme.com", 4), commit("a2", "Ana.Old@acme.com", 5),
        commit("b1", "bo@acme.com", 5),
        pull(1, "ana@acme.com", 4), pull(2, "ana.old@acme.com", 5), pull(3, "ana-gh", 6),
        page(1, "ana-gh", 4)])])
    with Store.open(settings.db) as s:
        before = authors(s, "commit")
        assert before["a1"] != before["a2"]
        hash_before = s.con.execute("SELECT row_hash FROM \"commit\" WHERE sha = 'a1'").fetchone()

    plan = apply(settings, dry_run=True)
    moved = {"commit.author": 1, "pull_request.author": 2, "page.person": 1}
    assert plan.rewritten == moved
    res = apply(settings)
    assert res.rewritten == moved

    # after it: new records under any of her ids come in as the canonical pseudonym
    import_paths(settings, [write_jsonl(tmp_path / "after.jsonl", [
        commit("a3", "ANA-GH", 6), commit("a4", "ana.old@acme.com", 7),
        pull(4, "ana.old@acme.com", 7), page(2, "ana.old@acme.com", 7),
        page(3, "ana@acme.com", 8)])])
    with Store.open(settings.db) as s:
        after = authors(s, "commit")
        canonical = after["a1"]
        assert canonical == before["a1"]  # the first email is the canonical id
        assert after["a2"] == after["a3"] == after["a4"] == canonical
        assert after["b1"] != canonical
        prs = authors(s, "pull_request")
        assert set(prs.values()) == {canonical}
        assert s.con.execute("SELECT row_hash FROM \"commit\" WHERE sha = 'a1'").fetchone() \
            == hash_before
        facts.ensure_fresh(s)
        assert s.con.execute("SELECT count(DISTINCT author) FROM flow_pr_fact").fetchone() == (1,)
        merged = people_counts(s.con, "flow.merged", "month", "team",
                               date(2026, 5, 1), date(2026, 5, 31))
        assert merged == {("payments", "2026-05"): 1}  # four pull requests, one person
        responders = people_counts(s.con, "strain.responders", "month", "team",
                                   date(2026, 5, 1), date(2026, 5, 31))
        assert responders == {("payments", "2026-05"): 1}  # three pages, one person

    # the rewritten rows are unchanged for the importer: the same file again counts nothing new
    report = import_paths(settings, [tmp_path / "before.jsonl"])
    assert report.counts["commit"].inserted == report.counts["commit"].updated == 0
    assert apply(settings).changes == []


def test_a_stored_pseudonym_is_taken_as_that_person(settings: Settings, tmp_path: Path) -> None:
    apply(settings)
    with Store.open(settings.db) as s:
        (bo,) = s.con.execute("SELECT id FROM person WHERE id LIKE 'p_%' GROUP BY id "
                              "HAVING count(*) = 1").fetchone() or ("",)
    import_paths(settings, [write_jsonl(tmp_path / "c.jsonl", [commit("c1", bo, 8)])])
    with Store.open(settings.db) as s:
        assert authors(s, "commit") == {"c1": bo}  # not hashed a second time


def test_bots_keep_their_readable_id(settings: Settings, tmp_path: Path) -> None:
    apply(settings)
    import_paths(settings, [write_jsonl(tmp_path / "b.jsonl", [commit("r1", "renovate[bot]", 9)])])
    with Store.open(settings.db) as s:
        assert s.con.execute("SELECT author, author_is_bot FROM \"commit\"").fetchall() == [
            ("bot:renovate[bot]", True)]


def test_memberships_imported_under_an_alias_merge_into_the_file_s(
        settings: Settings, tmp_path: Path) -> None:
    import_paths(settings, [write_jsonl(tmp_path / "team.jsonl", [
        {"type": "org_unit", "id": "eng", "name": "Engineering"},
        {"type": "team", "id": "payments", "name": "Payments", "org_unit": "eng",
         "delivery_unit": "deployments"},
        {"type": "person", "id": "ana.old@acme.com", "team": "payments", "since": "2024-01-01"},
        commit("o1", "ana.old@acme.com", 3)])])
    plan = apply(settings, dry_run=True)
    assert plan.rewritten == {"person.id": 1, "commit.author": 1}
    # the person known as ana.old@ is not removed: the file says she is Ana
    assert not [c for c in plan.changes if c.kind == "person" and c.action == "removed"]
    apply(settings)
    with Store.open(settings.db) as s:
        (ana,) = s.con.execute('SELECT author FROM "commit"').fetchone() or ("",)
        assert s.con.execute('SELECT team, since FROM person WHERE id = ? ORDER BY since',
                             [ana]).fetchall() == [("payments", date(2025, 1, 1)),
                                                   ("platform", date(2026, 4, 1))]
    again = apply(settings)
    assert again.changes == [] and again.rewritten == {}
