"""Who is calling: an API token in the ``Authorization: Bearer`` header, or a browser session
created by signing in with one (cookie ``shipwise_session``: HttpOnly, SameSite=Strict).

A session cookie is ``<token id>.<expiry epoch>.<session id>.<HMAC-SHA256>``, signed with the
session secret. The secret lives in a file beside the pseudonymisation key (mode 0600, made on
first use; :attr:`shipwise.config.Settings.session_secret_file`), never in the store: whoever can
read the store must not be able to forge a session. Each session is also a row of ``web_session``
(keyed by the SHA-256 of its id), so signing out ends it at once, and a cookie whose row is gone,
ended or expired is refused. The cookie carries no role — the token's row is read on every
request, so revoking a token ends its sessions at once. Rotating the secret
(``shipwise session rotate``) signs everyone out; a running server notices the new file.

Every refused credential that was presented (a wrong or revoked token, a forged, expired or
signed-out cookie) goes to the audit log through :mod:`shipwise.governance.refusals`.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request

from shipwise.app.tokens import authenticate
from shipwise.errors import ConfigError, StoreError, UnauthorizedError
from shipwise.governance.access import Principal
from shipwise.store import sessions, tokens
from shipwise.store.duckdb_store import Store

if TYPE_CHECKING:
    from shipwise.config import Settings

SESSION_COOKIE = "shipwise_session"
SESSION_SECONDS = 12 * 3600


class SessionKeys:
    """The session secret in its file: made (0600) on first use, re-read when the file changes,
    so a rotation by the CLI takes effect in a running server at its next request."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._cached: tuple[tuple[int, int, int], bytes] | None = None

    def secret(self) -> bytes:
        with self._lock:
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                _write_secret(self.path, exclusive=True)
                st = os.stat(self.path)
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
            if self._cached is not None and self._cached[0] == stamp:
                return self._cached[1]
            if st.st_mode & 0o077 and st.st_uid == os.getuid():
                os.chmod(self.path, 0o600)  # a copied or hand-made file: keep it ours alone
            text = self.path.read_text().strip()
            if len(text) < 32:
                raise ConfigError(f"session secret in {self.path} is too short (need ≥ 32 characters)",
                                  hint="run `shipwise session rotate` to make a new one")
            self._cached = (stamp, text.encode())
            return self._cached[1]

    def rotate(self) -> None:
        """A new secret: every session signed with the old one is refused from now on."""
        with self._lock:
            _write_secret(self.path, exclusive=False)
            self._cached = None


def _write_secret(path: Path, *, exclusive: bool) -> None:
    """A new random secret at ``path``, mode 0600 from the start (written beside it, then moved
    into place, so a reader never sees half a secret)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
        if exclusive:
            with contextlib.suppress(FileExistsError):  # another process made it first: keep theirs
                os.link(tmp, path)
        else:
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _sign(keys: SessionKeys, payload: str) -> str:
    return hmac.new(keys.secret(), payload.encode(), hashlib.sha256).hexdigest()


def _sid_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def make_session(store: Store, keys: SessionKeys, token_id: str, now: float | None = None) -> str:
    """A new session for ``token_id``: its row in ``web_session`` and its signed cookie value."""
    t = time.time() if now is None else now
    expiry = int(t + SESSION_SECONDS)
    sid = secrets.token_urlsafe(24)
    created = datetime.fromtimestamp(t, UTC)
    # sessions that ended or expired more than a day ago have nothing left to refuse
    sessions.create(store, id_sha256=_sid_hash(sid), token_id=token_id, created_at=created,
                    expires_at=datetime.fromtimestamp(expiry, UTC),
                    forget_before=created - timedelta(days=1))
    payload = f"{token_id}.{expiry}.{sid}"
    return f"{payload}.{_sign(keys, payload)}"


def _verified(keys: SessionKeys, cookie: str) -> tuple[str, int, str]:
    """(token id, expiry, session id) of a cookie whose signature holds."""
    parts = cookie.split(".")
    if len(parts) != 4 or not parts[1].isdigit():
        raise UnauthorizedError("malformed session", hint="sign in again")
    token_id, expiry, sid, sig = parts
    if not hmac.compare_digest(sig, _sign(keys, f"{token_id}.{expiry}.{sid}")):
        raise UnauthorizedError("invalid session", hint="sign in again")
    return token_id, int(expiry), sid


def session_principal(store: Store, keys: SessionKeys, cookie: str,
                      now: float | None = None) -> Principal:
    token_id, expiry, sid = _verified(keys, cookie)
    t = time.time() if now is None else now
    if expiry < t:
        raise UnauthorizedError("session expired", hint="sign in again")
    live = sessions.find(store, id_sha256=_sid_hash(sid), token_id=token_id)
    if live is None or live["ended_at"] is not None:
        raise UnauthorizedError("this session has ended (signed out)", hint="sign in again")
    row = tokens.find(store, token_id)
    if row is None or row["revoked_at"] is not None:
        raise UnauthorizedError("the token behind this session was revoked", hint="sign in again")
    return Principal(row["role"], row["team"], token_id, row["name"], bool(row["responder"]))


def end_session(store: Store, keys: SessionKeys, cookie: str, why: str = "signed out") -> bool:
    """End the session of ``cookie`` (a cookie that does not verify ends nothing)."""
    try:
        token_id, _, sid = _verified(keys, cookie)
    except UnauthorizedError:
        return False
    return sessions.end(store, id_sha256=_sid_hash(sid), token_id=token_id,
                        at=datetime.now(UTC), why=why)


def end_all_sessions(store: Store, why: str) -> int:
    """End every live session (after a rotation of the secret); how many were live."""
    return sessions.end_all(store, at=datetime.now(UTC), why=why)


def interface_of(request: Request) -> str:
    path = request.url.path
    if path == "/mcp" or path.startswith("/mcp/"):
        return "mcp"
    return "api" if path.startswith("/api/") else "web"


def request_principal(request: Request, store: Store) -> Principal:
    """The principal of a request (Bearer token first, then the session cookie). A credential
    that is presented and refused is written to the audit log (rate-limited)."""
    state = request.app.state.shipwise
    header = request.headers.get("authorization", "")
    cookie = request.cookies.get(SESSION_COOKIE)
    try:
        if header.lower().startswith("bearer "):
            return authenticate(store, header[7:].strip())
        if cookie:
            return session_principal(store, state.sessions, cookie)
    except UnauthorizedError as exc:
        kind, value = ("token", header[7:]) if header.lower().startswith("bearer ") else \
            ("session", cookie or "")
        state.refusals.record(store, source=client_of(request), interface=interface_of(request),
                              what=f"{kind} refused: {exc}", presented=value)
        raise
    raise UnauthorizedError("sign in or send a token",
                            hint="Authorization: Bearer sw_…; create one with `shipwise token create`")


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def rotate_session_secret(settings: Settings) -> dict[str, Any]:
    """A new session secret (every web session ends: the old cookies no longer verify); the
    store's session rows are ended too when the store is free (a running server holds it, and
    reads the new secret at its next request)."""
    keys = SessionKeys(settings.session_secret_file)
    keys.rotate()
    ended: int | None = None
    if settings.db.exists():
        try:
            with Store.open(settings.db) as store:
                ended = end_all_sessions(store, "session secret rotated")
        except StoreError:
            ended = None  # held by a running server: the new secret is enough
    return {"secret_file": str(keys.path), "sessions_ended": ended}
