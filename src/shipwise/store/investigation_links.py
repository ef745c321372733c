"""The ``investigation_link`` table: a re-scoped investigation (child) and the one it narrows
(parent), with the question that asked for it and the narrowing applied."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from shipwise.store.duckdb_store import Store


def link(store: Store, parent_id: str, child_id: str, question: str,
         narrowing: dict[str, Any]) -> None:
    """Record that ``child_id`` re-scopes ``parent_id`` (again: replaces the earlier row)."""
    with store.transaction() as con:
        con.execute("DELETE FROM investigation_link WHERE parent_id = ? AND child_id = ?",
                    [parent_id, child_id])
        con.execute("INSERT INTO investigation_link (parent_id, child_id, question, narrowing, "
                    "created_at) VALUES (?, ?, ?, ?, ?)",
                    [parent_id, child_id, question, json.dumps(narrowing, default=str),
                     datetime.now(UTC).replace(tzinfo=None)])


def _rows(store: Store, where: str, value: str) -> list[dict[str, Any]]:
    rows = store.con.execute(
        "SELECT parent_id, child_id, question, narrowing, created_at FROM investigation_link "
        f"WHERE {where} = ? ORDER BY created_at, child_id", [value]).fetchall()
    return [{"parent_id": p, "child_id": c, "question": q, "narrowing": json.loads(n),
             "created_at": t} for p, c, q, n, t in rows]


def children(store: Store, parent_id: str) -> list[dict[str, Any]]:
    """The re-scoped investigations of ``parent_id``, oldest first."""
    return _rows(store, "parent_id", parent_id)


def parents(store: Store, child_id: str) -> list[dict[str, Any]]:
    """The investigations ``child_id`` re-scopes (one, unless the same narrowing was reached
    from two records)."""
    return _rows(store, "child_id", child_id)
