from __future__ import annotations

from datetime import datetime, timedelta

from shipwise.store import sessions
from shipwise.store.duckdb_store import Store
from tests.store.conftest import NOW

DAY = timedelta(days=1)


def _create(store: Store, sid: str, at: datetime = NOW) -> None:
    sessions.create(store, id_sha256=sid, token_id="tok", created_at=at,
                    expires_at=at + timedelta(hours=12), forget_before=at - DAY)


def test_a_session_is_found_by_its_hash_and_token(store: Store) -> None:
    _create(store, "s1")
    assert sessions.find(store, id_sha256="s1", token_id="tok") == {
        "ended_at": None, "expires_at": NOW + timedelta(hours=12)}
    assert sessions.find(store, id_sha256="s1", token_id="other") is None
    assert sessions.find(store, id_sha256="s2", token_id="tok") is None


def test_ending_one_session_or_all_live_ones(store: Store) -> None:
    for sid in ("s1", "s2", "s3"):
        _create(store, sid)
    assert sessions.end(store, id_sha256="s1", token_id="tok", at=NOW, why="signed out")
    assert not sessions.end(store, id_sha256="s1", token_id="tok", at=NOW, why="again")
    found = sessions.find(store, id_sha256="s1", token_id="tok")
    assert found is not None and found["ended_at"] == NOW
    assert sessions.end_all(store, at=NOW, why="rotated") == 2
    assert sessions.end_all(store, at=NOW, why="rotated") == 0
    # a session that has expired is not live: end_all leaves it alone
    _create(store, "old", at=NOW - timedelta(hours=13))
    assert sessions.end_all(store, at=NOW, why="rotated") == 0


def test_creating_a_session_forgets_those_over_a_day_past(store: Store) -> None:
    _create(store, "stale", at=NOW - 3 * DAY)
    _create(store, "recent", at=NOW - timedelta(hours=20))
    _create(store, "new")
    assert sessions.find(store, id_sha256="stale", token_id="tok") is None
    assert sessions.find(store, id_sha256="recent", token_id="tok") is not None
