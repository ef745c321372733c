from __future__ import annotations

import json
from datetime import timedelta

from shipwise.store import runs
from shipwise.store.duckdb_store import Store
from tests.store.conftest import NOW


def test_an_ingest_run_is_recorded_with_its_counts(store: Store) -> None:
    run_id = runs.record_ingest(store, kind="import", source="a.jsonl",
                                started_at=NOW.replace(tzinfo=None),
                                finished_at=NOW.replace(tzinfo=None), counts={"team": 2})
    (row,) = store.query("SELECT * FROM ingest_run")
    assert row["id"] == run_id and row["kind"] == "import" and json.loads(row["counts"]) == {"team": 2}


def test_the_quarantine_listing(store: Store) -> None:
    store.con.execute(
        "INSERT INTO quarantine VALUES "
        "('q1', 'team', 'missing id', 'a.jsonl', 1, '{}', TIMESTAMP '2026-09-01 10:00:00'), "
        "('q2', 'team', 'missing id', 'a.jsonl', 2, '{}', TIMESTAMP '2026-09-01 11:00:00'), "
        "('q3', 'service', 'unknown team', 'b.jsonl', 7, '{}', TIMESTAMP '2026-09-01 09:00:00')")
    listing = runs.quarantine(store)
    assert listing["total"] == 3
    assert [r["line"] for r in listing["records"]] == [2, 1, 7]
    assert listing["summary"][0] == {"type": "team", "reason": "missing id", "records": 2}
    only = runs.quarantine(store, type_name="service", limit=5)
    assert only["total"] == 1 and only["records"][0]["reason"] == "unknown team"
    assert runs.quarantine(store, limit=1)["total"] == 3  # the limit cuts the records only
    assert runs.quarantine(store, type_name="commit") == {"total": 0, "summary": [], "records": []}


def test_retention_runs_and_their_latest_cutoffs(store: Store) -> None:
    cut = NOW.replace(tzinfo=None) - timedelta(days=365)
    assert runs.last_cutoffs(store) == {} and runs.retention_runs(store) == []
    runs.record_retention(store, run_at=NOW - timedelta(days=1), record_type="commit",
                          cutoff=cut - timedelta(days=1), action="remove_person", rows=3)
    runs.record_retention(store, run_at=NOW, record_type="commit", cutoff=cut,
                          action="remove_person", rows=1)
    runs.record_retention(store, run_at=NOW, record_type="page", cutoff=cut,
                          action="delete", rows=0)
    assert [(r["record_type"], r["rows"]) for r in runs.retention_runs(store)] == [
        ("commit", 1), ("page", 0), ("commit", 3)]
    assert runs.last_cutoffs(store) == {"commit": cut, "page": cut}
