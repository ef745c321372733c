from __future__ import annotations

from datetime import timedelta

from shipwise.store import access_log, tokens
from shipwise.store.access_log import Entry
from shipwise.store.duckdb_store import Store
from tests.store.conftest import NOW


def _entry(minutes: int, action: str = "team.read", *, token_id: str | None = None,
           interface: str = "api", people: bool = False, reader: str | None = None,
           allowed: bool = True) -> Entry:
    return Entry(NOW + timedelta(minutes=minutes), token_id, "member", interface, action,
                 f"subject-{minutes}", allowed, people, reader)


def test_read_newest_first_with_the_readers_name(store: Store) -> None:
    tokens.insert(store, token_id="tok", name="on-call laptop", role="member", team="payments",
                  secret_sha256="h", created_at=NOW)
    access_log.append(store, _entry(0, token_id="tok"), _entry(1, reader="local admin"),
                      _entry(2, people=True))
    rows = access_log.read(store)
    assert [(r["subject"], r["reader"], r["people_derived"]) for r in rows] == [
        ("subject-2", None, True), ("subject-1", "local admin", False),
        ("subject-0", "on-call laptop", False)]
    assert rows[0]["read_at"] == NOW + timedelta(minutes=2) and rows[0]["allowed"] is True


def test_read_filters(store: Store) -> None:
    access_log.append(store, *(_entry(m, people=m % 2 == 0) for m in range(6)))
    assert [r["subject"] for r in access_log.read(store, limit=2)] == ["subject-5", "subject-4"]
    assert [r["subject"] for r in access_log.read(store, people_derived=True)] == [
        "subject-4", "subject-2", "subject-0"]
    assert len(access_log.read(store, people_derived=False)) == 3
    since = access_log.read(store, since=NOW + timedelta(minutes=4), people_derived=True)
    assert [r["subject"] for r in since] == ["subject-4"]
    assert access_log.read(store, since=NOW + timedelta(days=1)) == []


def test_append_nothing_writes_nothing(store: Store) -> None:
    access_log.append(store)
    assert store.count("access_log") == 0


def test_counting_and_rewriting_refusals(store: Store) -> None:
    access_log.append(store, _entry(0, "auth.refused", interface="cli", allowed=False),
                      _entry(1, "auth.refused", interface="cli", allowed=False),
                      _entry(2, "auth.refused", interface="mcp", allowed=False),
                      _entry(3, "auth.refused.more", interface="cli", allowed=False))
    assert access_log.count_since(store, action="auth.refused", interface="cli", since=NOW) == 2
    assert access_log.count_since(store, action="auth.refused", interface="cli",
                                  since=NOW + timedelta(minutes=1)) == 1
    assert access_log.first_since(store, action="auth.refused.more", interface="mcp",
                                  since=NOW) is None
    more = access_log.first_since(store, action="auth.refused.more", interface="cli", since=NOW)
    assert more is not None and more[1] == "subject-3"
    access_log.set_subject(store, more[0], "2 more")
    assert access_log.read(store, limit=1)[0]["subject"] == "2 more"
