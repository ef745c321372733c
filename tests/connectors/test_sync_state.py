"""store/sync_state.py: one row per (source, scope); failures never move the cursor; 0008 keeps rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest

from shipwise.store import Store, sync_state
from shipwise.store.duckdb_store import SCHEMA_TABLE, migrations

T0 = datetime(2025, 3, 1, 10, 0)
T1 = datetime(2025, 3, 2, 10, 0)
T2 = datetime(2025, 3, 3, 10, 0)


@pytest.fixture
def store() -> Store:
    return Store.memory()


def test_put_get_and_list(store: Store) -> None:
    assert sync_state.get(store, "git", "payments") is None
    sync_state.put(store, "git", "payments", '{"tips": {"refs/heads/main": "abc"}}', at=T0)
    sync_state.put(store, "github", "acme/payments", '{"since": "2025-03-01T00:00:00Z"}', at=T0)
    sync_state.put(store, "git", "checkout", "{}", at=T0)
    state = sync_state.get(store, "git", "payments")
    assert state == sync_state.SyncState("git", "payments", '{"tips": {"refs/heads/main": "abc"}}',
                                         T0, "ok", None, T0)
    assert [(s.source, s.scope) for s in sync_state.list_states(store)] == [
        ("git", "checkout"), ("git", "payments"), ("github", "acme/payments")]
    assert [s.scope for s in sync_state.list_states(store, "github")] == ["acme/payments"]
    sync_state.put(store, "git", "payments", '{"tips": {}}', at=T1)  # replaces, one row per key
    assert store.count("sync_state") == 3
    assert sync_state.get(store, "git", "payments").cursor == '{"tips": {}}'  # type: ignore[union-attr]


def test_a_failure_keeps_the_cursor_and_a_success_clears_it(store: Store) -> None:
    sync_state.put(store, "github", "acme/payments", '{"page": 3}', at=T0)
    sync_state.record_failure(store, "github", "acme/payments", "transient",
                              "GitHub answered 503", at=T1)
    state = sync_state.get(store, "github", "acme/payments")
    assert state is not None
    assert (state.cursor, state.updated_at) == ('{"page": 3}', T0)  # the cursor did not move
    assert (state.last_status, state.last_error, state.last_attempt_at) == (
        "transient", "GitHub answered 503", T1)
    sync_state.put(store, "github", "acme/payments", '{"page": 5}', at=T2)
    state = sync_state.get(store, "github", "acme/payments")
    assert state is not None
    assert (state.cursor, state.updated_at, state.last_status, state.last_error) == (
        '{"page": 5}', T2, "ok", None)


def test_a_scope_that_never_synced_can_record_a_failure(store: Store) -> None:
    sync_state.record_failure(store, "git", "typo", "terminal", "/srv/typo does not exist.", at=T0)
    state = sync_state.get(store, "git", "typo")
    assert state is not None
    assert (state.cursor, state.updated_at, state.last_status) == ("{}", None, "terminal")


def test_instants_are_stored_in_utc_and_bad_arguments_refused(store: Store) -> None:
    paris = timezone(timedelta(hours=2))
    sync_state.put(store, "git", "payments", "{}", at=datetime(2025, 3, 1, 12, 0, tzinfo=paris))
    assert sync_state.get(store, "git", "payments").updated_at == T0  # type: ignore[union-attr]
    sync_state.put(store, "git", "now", "{}")
    now = sync_state.get(store, "git", "now").updated_at  # type: ignore[union-attr]
    assert now is not None and abs(now - datetime.now(UTC).replace(tzinfo=None)) < timedelta(minutes=1)
    with pytest.raises(ValueError):
        sync_state.put(store, "git", "payments", "[1, 2]")
    with pytest.raises(ValueError):
        sync_state.record_failure(store, "git", "payments", "ok", "fine")


def test_migration_0008_keeps_the_cursors_of_an_older_store(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE TABLE {SCHEMA_TABLE} (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
                "applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)")
    for version, name, sql in migrations():
        if version < 8:
            con.execute(sql)
            con.execute(f"INSERT INTO {SCHEMA_TABLE} (version, name) VALUES (?, ?)", [version, name])
    cursor = json.dumps({"tips": {"refs/heads/main": "a" * 40}, "path": "/srv/payments"})
    con.execute("INSERT INTO sync_state VALUES ('git', 'payments', ?, ?)", [cursor, T0])
    con.close()

    with Store.open(path) as store:
        assert store.schema_version() >= 8
        state = sync_state.get(store, "git", "payments")
    assert state == sync_state.SyncState("git", "payments", cursor, T0, "ok", None, T0)
