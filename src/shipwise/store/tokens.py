"""The ``api_token`` table: API tokens, stored as the SHA-256 of their secret part."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict, cast

from shipwise.store.duckdb_store import Store


class TokenRow(TypedDict):
    """A token as listed (never its secret's hash)."""

    id: str
    name: str
    role: str
    team: str | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    responder: bool


class StoredToken(TypedDict):
    """What checking a presented token needs."""

    id: str
    name: str
    role: str
    team: str | None
    secret_sha256: str
    revoked_at: datetime | None
    responder: bool


def insert(store: Store, *, token_id: str, name: str, role: str, team: str | None,
           secret_sha256: str, created_at: datetime, responder: bool = False) -> None:
    with store.transaction() as con:
        con.execute("INSERT INTO api_token (id, name, role, team, secret_sha256, created_at, "
                    "responder) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [token_id, name, role, team, secret_sha256, created_at, responder])


def find(store: Store, token_id: str) -> StoredToken | None:
    """The token with public id ``token_id`` (revoked ones too), or None."""
    rows = store.query("SELECT id, name, role, team, secret_sha256, revoked_at, "
                       "coalesce(responder, false) AS responder FROM api_token "
                       "WHERE id = ?", [token_id])
    return cast(StoredToken, rows[0]) if rows else None


def revoke(store: Store, token_id: str, at: datetime) -> bool:
    """Revoke a live token at ``at`` (a revoked one keeps its first revocation). False: no such
    token."""
    with store.transaction() as con:
        con.execute("UPDATE api_token SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                    [at, token_id])
        row = con.execute("SELECT count(*) FROM api_token WHERE id = ?", [token_id]).fetchone()
    return bool(row and row[0])


def list_all(store: Store) -> list[TokenRow]:
    """Every token, oldest first."""
    return cast(list[TokenRow], store.query(
        "SELECT id, name, role, team, created_at, revoked_at, last_used_at, "
        "coalesce(responder, false) AS responder FROM api_token "
        "ORDER BY created_at, id"))


def touch(store: Store, token_id: str, at: datetime) -> None:
    """Record that the token was used at ``at``."""
    with store.transaction() as con:
        con.execute("UPDATE api_token SET last_used_at = ? WHERE id = ?", [at, token_id])
