"""The ``access_log`` table: who read what, when, through which interface, allowed or not."""

from __future__ import annotations

from dataclasses import astuple, dataclass
from datetime import datetime
from typing import Any, TypedDict, cast

from shipwise.store.duckdb_store import Store


@dataclass(frozen=True)
class Entry:
    """One row to append (the columns in table order)."""

    read_at: datetime
    token_id: str | None
    role: str
    interface: str
    action: str
    subject: str | None
    allowed: bool
    people_derived: bool = False
    reader: str | None = None


class AccessRow(TypedDict):
    """A row as read back, with the reader's name (the token's, else the one kept beside it)."""

    read_at: datetime
    token_id: str | None
    reader: str | None
    role: str
    interface: str
    action: str
    subject: str | None
    allowed: bool
    people_derived: bool


_INSERT = ("INSERT INTO access_log (read_at, token_id, role, interface, action, subject, allowed, "
           "people_derived, reader) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")


def append(store: Store, *entries: Entry) -> None:
    """Append rows, in one transaction (the caller's, when it holds one)."""
    if not entries:
        return
    with store.transaction() as con:
        if len(entries) == 1:
            con.execute(_INSERT, list(astuple(entries[0])))
        else:
            con.executemany(_INSERT, [list(astuple(e)) for e in entries])


def read(store: Store, *, limit: int = 100, people_derived: bool | None = None,
         since: datetime | None = None) -> list[AccessRow]:
    """The newest ``limit`` rows, newest first; only people-derived reads (or only the others)
    with ``people_derived``; only rows from ``since`` on."""
    where: list[str] = ["TRUE"]
    params: list[Any] = []
    if people_derived is not None:
        where.append("coalesce(a.people_derived, false) = ?")
        params.append(people_derived)
    if since is not None:
        where.append("a.read_at >= ?")
        params.append(since)
    return cast(list[AccessRow], store.query(
        "SELECT a.read_at, a.token_id, coalesce(t.name, a.reader) AS reader, a.role, a.interface, "
        "a.action, a.subject, a.allowed, coalesce(a.people_derived, false) AS people_derived "
        "FROM access_log a LEFT JOIN api_token t ON t.id = a.token_id "
        f"WHERE {' AND '.join(where)} ORDER BY a.read_at DESC LIMIT ?", [*params, limit]))


def count_since(store: Store, *, action: str, interface: str, since: datetime) -> int:
    """Rows of ``action`` through ``interface`` from ``since`` on."""
    row = store.con.execute("SELECT count(*) FROM access_log WHERE action = ? AND interface = ? "
                            "AND read_at >= ?", [action, interface, since]).fetchone()
    return int(row[0]) if row else 0


def first_since(store: Store, *, action: str, interface: str,
                since: datetime) -> tuple[int, str | None] | None:
    """(rowid, subject) of a row of ``action`` through ``interface`` from ``since`` on, or None."""
    row = store.con.execute("SELECT rowid, subject FROM access_log WHERE action = ? "
                            "AND interface = ? AND read_at >= ? ORDER BY read_at, rowid LIMIT 1",
                            [action, interface, since]).fetchone()
    return (int(row[0]), None if row[1] is None else str(row[1])) if row else None


def set_subject(store: Store, rowid: int, subject: str) -> None:
    """Rewrite the subject of one row (a running count of refusals)."""
    with store.transaction() as con:
        con.execute("UPDATE access_log SET subject = ? WHERE rowid = ?", [subject, rowid])
