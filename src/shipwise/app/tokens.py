"""API tokens: created (shown once), stored hashed, revoked, and checked on every request.

A token reads ``sw_<id>_<secret>``: ``id`` finds the row, the SHA-256 of ``secret`` is compared
in constant time. The secret is 32 random bytes (URL-safe base64), so a plain hash suffices.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime
from typing import Any

from shipwise.errors import InputError, NotFoundError, UnauthorizedError
from shipwise.governance.access import ROLES, TEAM_ROLES, Principal
from shipwise.governance.refusals import record_counted
from shipwise.store import org, tokens
from shipwise.store.duckdb_store import Store

_TOKEN = re.compile(r"^sw_([0-9a-f]{12})_([A-Za-z0-9_-]{20,})$")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(store: Store, name: str, role: str, team: str | None = None, *,
                 responder: bool = False) -> dict[str, Any]:
    """A new token; its value is in the result and nowhere else (it is not stored).
    ``responder``: a member or lead token that may resolve actors' pseudonyms for incident
    response (docs/governance.md#who-to-call)."""
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}", hint=f"use one of {', '.join(ROLES)}")
    if role in TEAM_ROLES and not team:
        raise InputError(f"a {role} token needs --team", hint="shipwise teams lists them")
    if team and not org.team_exists(store, team):
        raise NotFoundError(f"unknown team {team!r}", hint="shipwise teams lists them")
    if not name.strip():
        raise InputError("a token needs a name (who or what uses it)")
    if responder and role not in TEAM_ROLES:
        raise InputError(f"the responder grant is for member and lead tokens, not {role}",
                         hint="admins may resolve actors already; exec tokens see no incidents")
    tid = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    tokens.insert(store, token_id=tid, name=name.strip(), role=role,
                  team=team if role in TEAM_ROLES or team else None,
                  secret_sha256=_hash(secret), created_at=datetime.now(UTC),
                  responder=responder)
    return {"id": tid, "name": name.strip(), "role": role, "team": team,
            "token": f"sw_{tid}_{secret}", **({"responder": True} if responder else {})}


def revoke_token(store: Store, token_id: str) -> dict[str, Any]:
    if not tokens.revoke(store, token_id, datetime.now(UTC)):
        raise NotFoundError(f"no token {token_id!r}", hint="shipwise token list")
    return {"id": token_id, "revoked": True}


def list_tokens(store: Store) -> list[dict[str, Any]]:
    return [dict(r) for r in tokens.list_all(store)]


def authenticate(store: Store, token: str, *, touch: bool = True) -> Principal:
    """The principal of a token, or :class:`UnauthorizedError`."""
    m = _TOKEN.match(token.strip())
    if not m:
        raise UnauthorizedError("not a shipwise token", hint="tokens look like sw_<id>_<secret>; "
                                "create one with `shipwise token create`")
    tid, secret = m.groups()
    row = tokens.find(store, tid)
    if row is None or not hmac.compare_digest(row["secret_sha256"], _hash(secret)):
        raise UnauthorizedError("unknown token", hint="check it, or create a new one")
    if row["revoked_at"] is not None:
        raise UnauthorizedError("this token was revoked", hint="ask an admin for a new one")
    if touch:
        tokens.touch(store, tid, datetime.now(UTC))
    return Principal(row["role"], row["team"], tid, row["name"], bool(row["responder"]))


#: refusals one local interface (the CLI, MCP over stdio) writes per minute, across processes
LOCAL_REFUSALS_PER_MINUTE = 10


def authenticate_local(store: Store, token: str, interface: str, *,
                       touch: bool = True) -> Principal:
    """:func:`authenticate` for a token given to a local process (``SHIPWISE_TOKEN``): a refusal
    goes to the audit log like the server's (action ``auth.refused``, never the secret), at most
    :data:`LOCAL_REFUSALS_PER_MINUTE` rows per interface and minute — counted in the store, since
    each process is short-lived — and then one ``auth.refused.more`` row holding the count."""
    try:
        return authenticate(store, token, touch=touch)
    except UnauthorizedError as exc:
        record_counted(store, interface=interface, what=f"{exc} (SHIPWISE_TOKEN)",
                       presented=token, per_minute=LOCAL_REFUSALS_PER_MINUTE)
        raise
