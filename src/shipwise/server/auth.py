"""Who is calling: an API token in the ``Authorization: Bearer`` header, or a browser session
created by signing in with one (cookie ``shipwise_session``: HttpOnly, SameSite=Strict).

A session cookie is ``<token id>.<expiry epoch>.<HMAC-SHA256>`` signed with a secret kept in the
store (``meta.session_secret``, made on first use); it carries no role — the token's row is read
on every request, so revoking a token ends its sessions at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from fastapi import Request

from shipwise.errors import UnauthorizedError
from shipwise.governance.access import Principal
from shipwise.store.duckdb_store import Store

SESSION_COOKIE = "shipwise_session"
SESSION_SECONDS = 12 * 3600
_SECRET_KEY = "session_secret"


def _secret(store: Store) -> bytes:
    value = store.get_meta(_SECRET_KEY)
    if value is None:
        value = secrets.token_hex(32)
        with store.transaction():
            store.set_meta(_SECRET_KEY, value)
    return bytes.fromhex(value)


def _sign(store: Store, payload: str) -> str:
    return hmac.new(_secret(store), payload.encode(), hashlib.sha256).hexdigest()


def make_session(store: Store, token_id: str, now: float | None = None) -> str:
    expiry = int((time.time() if now is None else now) + SESSION_SECONDS)
    payload = f"{token_id}.{expiry}"
    return f"{payload}.{_sign(store, payload)}"


def session_principal(store: Store, cookie: str, now: float | None = None) -> Principal:
    parts = cookie.split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        raise UnauthorizedError("malformed session", hint="sign in again")
    token_id, expiry, sig = parts
    if not hmac.compare_digest(sig, _sign(store, f"{token_id}.{expiry}")):
        raise UnauthorizedError("invalid session", hint="sign in again")
    if int(expiry) < (time.time() if now is None else now):
        raise UnauthorizedError("session expired", hint="sign in again")
    row = store.con.execute("SELECT name, role, team, revoked_at FROM api_token WHERE id = ?",
                            [token_id]).fetchone()
    if row is None or row[3] is not None:
        raise UnauthorizedError("the token behind this session was revoked", hint="sign in again")
    return Principal(str(row[1]), row[2], token_id, str(row[0]))


def request_principal(request: Request, store: Store) -> Principal:
    """The principal of a request (Bearer token first, then the session cookie)."""
    from shipwise.services.tokens import authenticate

    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return authenticate(store, header[7:].strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return session_principal(store, cookie)
    raise UnauthorizedError("sign in or send a token",
                            hint="Authorization: Bearer sw_…; create one with `shipwise token create`")
