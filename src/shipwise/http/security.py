"""Webhook authentication by a shared secret, and keeping that secret out of access logs.

Senders present the secret as ``Authorization: Bearer <secret>`` (Alertmanager's
``http_config.authorization``), as the password of HTTP Basic auth (SNS:
``https://user:<secret>@host/…``), or — a fallback for senders that can set no header — as
``?token=<secret>``. A secret in a URL ends up in proxies' and load balancers' logs, so the first
use of the query parameter is warned about once, and our access log masks the value of every
query parameter that decodes to ``token`` (``%74oken``, ``TOKEN``, ``%2574oken``…).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
from typing import Annotated
from urllib.parse import unquote_plus

from fastapi import Depends, Request

from shipwise.http.errors import ApiError
from shipwise.http.state import ServerState

log = logging.getLogger(__name__)
_PARAM = re.compile(r"([?&;])([^=&;\s]*)=([^&;\s]*)")
REALM = 'Basic realm="shipwise webhooks", charset="UTF-8"'
HOW = ("send Authorization: Bearer <secret> (or HTTP Basic auth with the secret as password, or "
       "?token=<secret> when the sender cannot set headers)")


def server_state(request: Request) -> ServerState:
    state = request.app.state.shipwise
    assert isinstance(state, ServerState)
    return state


def webhook_auth(request: Request) -> ServerState:
    """FastAPI dependency: the server state, once the request has shown the webhook secret."""
    state = server_state(request)
    secret = state.webhook_secret
    if secret is None:
        if state.insecure_webhooks:
            return state
        raise ApiError(503, "webhooks are disabled: no shared secret is configured",
                       hint="set webhooks.secret in shipwise.yaml or SHIPWISE_WEBHOOK_SECRET, then "
                            "restart (or run `shipwise serve --insecure-webhooks` for a local demo)")
    presented = presented_secret(request)
    if presented is None:
        raise ApiError(401, "webhook credentials missing", hint=HOW,
                       headers={"WWW-Authenticate": REALM})
    if not _same(presented, secret):
        raise ApiError(403, "wrong webhook secret", hint="use the secret configured in "
                       "webhooks.secret (or SHIPWISE_WEBHOOK_SECRET)")
    return state


def presented_secret(request: Request) -> bytes | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() == "bearer":
            return value.strip().encode()
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise ApiError(401, "malformed Basic authorization header", hint=HOW,
                               headers={"WWW-Authenticate": REALM}) from None
            return decoded.partition(b":")[2]
        raise ApiError(401, f"unsupported authorization scheme {scheme!r}", hint=HOW,
                       headers={"WWW-Authenticate": REALM})
    token = request.query_params.get("token")
    if token is None:
        return None
    state = server_state(request)
    if not state.query_secret_warned:
        state.query_secret_warned = True
        log.warning("a webhook sender presented the secret in the URL (?token=): URLs are kept in "
                    "proxy and load-balancer logs; send Authorization: Bearer <secret> (or Basic "
                    "auth) when the sender can set headers")
    return token.encode()


def _same(a: bytes, b: bytes) -> bool:
    # Hash first so the comparison takes the same time whatever the lengths.
    return hmac.compare_digest(hashlib.sha256(a).digest(), hashlib.sha256(b).digest())


def secret_digest(secret: bytes) -> bytes:
    """What :func:`bearer_matches` compares against (the secret's SHA-256, computed once)."""
    return hashlib.sha256(secret).digest()


def bearer_matches(authorization: bytes | None, digest: bytes) -> bool:
    """Is ``authorization`` (a raw ``Authorization`` header value) ``Bearer <the secret>``? In
    constant time, as :func:`webhook_auth` compares; False for anything else — another scheme,
    no header, a wrong secret — which :func:`webhook_auth` then answers as it always does."""
    if authorization is None:
        return False
    # read as presented_secret reads it (a header is Latin-1 to Starlette), so both agree
    scheme, _, value = authorization.decode("latin-1").strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(hashlib.sha256(value.strip().encode()).digest(), digest)


#: the header a signed generic webhook carries: ``sha256=<hex HMAC-SHA256 of the body>``
SIGNATURE_HEADER = "X-Shipwise-Signature"
SIGN_HOW = (f"sign the raw body with HMAC-SHA256 keyed with webhooks.hmac_secret and send "
            f"{SIGNATURE_HEADER}: sha256=<hex digest>")


def check_signature(body: bytes, header: str | None, secret: bytes) -> None:
    """Refuse (401) a body whose ``X-Shipwise-Signature`` is missing, malformed or not the
    HMAC-SHA256 of ``body`` keyed with ``secret``; compared in constant time."""
    if header is None or not header.strip():
        raise ApiError(401, f"webhook signature missing: this webhook must be signed "
                       f"({SIGNATURE_HEADER})", hint=SIGN_HOW)
    scheme, sep, presented = header.strip().partition("=")
    if not sep or scheme.strip().lower() != "sha256":
        raise ApiError(401, f"malformed {SIGNATURE_HEADER} header: expected sha256=<hex>",
                       hint=SIGN_HOW)
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), presented.strip().lower().encode()):
        raise ApiError(401, "webhook signature does not match the body", hint=SIGN_HOW +
                       " (the digest of the exact bytes sent, with the configured secret)")


#: a route parameter typed with this receives the server state
async def _server_state(request: Request) -> ServerState:
    return server_state(request)  # async: no thread-pool hop for a dependency that never blocks


async def _webhook_auth(request: Request) -> ServerState:
    return webhook_auth(request)


State = Annotated[ServerState, Depends(_server_state)]
#: the same, for webhooks: only once the request has shown the shared secret
WebhookState = Annotated[ServerState, Depends(_webhook_auth)]


def _decoded(name: str) -> str:
    """A query parameter's name as a server would read it, however often it was encoded."""
    for _ in range(5):
        plain = unquote_plus(name)
        if plain == name:
            break
        name = plain
    return name.strip().lower()


def redact(path: str) -> str:
    """``path`` with the value of every query parameter whose name decodes to ``token`` (any
    case, any percent-encoding) replaced by ``***``."""
    if "?" not in path:
        return path
    return _PARAM.sub(lambda m: f"{m.group(1)}{m.group(2)}=***" if _decoded(m.group(2)) == "token"
                      else m.group(0), path)


class RedactToken(logging.Filter):
    """Mask the webhook secret of ``?token=…`` (however encoded) in uvicorn's access log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3:
            args = list(record.args)
            if isinstance(args[2], str):
                args[2] = redact(args[2])
                record.args = tuple(args)
        return True
