from __future__ import annotations

from datetime import timedelta

from shipwise.store import tokens
from shipwise.store.duckdb_store import Store
from tests.store.conftest import NOW


def _add(store: Store, tid: str, *, team: str | None = "payments", at_minutes: int = 0) -> None:
    tokens.insert(store, token_id=tid, name=f"name-{tid}", role="member", team=team,
                  secret_sha256=f"hash-{tid}", created_at=NOW + timedelta(minutes=at_minutes))


def test_insert_find_and_list_never_show_the_hash(store: Store) -> None:
    _add(store, "bbb", at_minutes=1)
    _add(store, "aaa", team=None, at_minutes=1)
    _add(store, "ccc")
    found = tokens.find(store, "aaa")
    assert found is not None
    assert (found["name"], found["role"], found["team"], found["secret_sha256"],
            found["revoked_at"]) == ("name-aaa", "member", None, "hash-aaa", None)
    assert tokens.find(store, "zzz") is None
    listed = tokens.list_all(store)
    assert [t["id"] for t in listed] == ["ccc", "aaa", "bbb"]  # oldest first, then by id
    assert all("secret_sha256" not in t for t in listed)


def test_revoke_keeps_the_first_revocation_and_says_when_unknown(store: Store) -> None:
    _add(store, "aaa")
    assert tokens.revoke(store, "aaa", NOW)
    assert tokens.revoke(store, "aaa", NOW + timedelta(days=1))  # known: still True
    found = tokens.find(store, "aaa")
    assert found is not None and found["revoked_at"] == NOW
    assert not tokens.revoke(store, "zzz", NOW)


def test_touch_records_the_last_use(store: Store) -> None:
    _add(store, "aaa")
    assert tokens.list_all(store)[0]["last_used_at"] is None
    tokens.touch(store, "aaa", NOW + timedelta(hours=1))
    assert tokens.list_all(store)[0]["last_used_at"] == NOW + timedelta(hours=1)
