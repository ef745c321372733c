"""GitHub webhooks: checking a delivery's signature and which repository's sync it should start.

The server's webhook route calls :func:`verify` on the raw body with the
``X-Hub-Signature-256`` header and the secret from ``webhook_secret_env``, then
:func:`scope_of` with the ``X-GitHub-Event`` header and the parsed payload: a webhook only
*triggers* a sync of that repository (the sync reads what changed through the API), so a lost or
repeated delivery costs nothing but a later or extra sync.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

__all__ = ["EVENTS", "scope_of", "verify"]

#: The events to subscribe to (``ping`` is sent once when the hook is created).
EVENTS = ("pull_request", "pull_request_review", "deployment_status", "workflow_run", "push",
          "release", "ping")


def verify(secret: str, body: bytes, signature_header: str | None) -> bool:
    """True when ``signature_header`` is ``sha256=<hex HMAC-SHA256 of body keyed by secret>``
    (compared in constant time). False for a missing, malformed or wrong signature, and for an
    empty secret (an unconfigured secret must not accept everything)."""
    if not secret or not signature_header or not signature_header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature_header.removeprefix("sha256=").strip().lower())


def scope_of(event: str, payload: Mapping[str, Any]) -> str | None:
    """The ``owner/name`` whose sync ``event`` should trigger; None for ``ping``, events not in
    :data:`EVENTS`, and payloads without a repository."""
    if event not in EVENTS or event == "ping":
        return None
    repository = payload.get("repository")
    if not isinstance(repository, Mapping):
        return None
    name = repository.get("full_name")
    if isinstance(name, str) and "/" in name:
        return name
    owner = repository.get("owner")
    login = owner.get("login") if isinstance(owner, Mapping) else None
    short = repository.get("name")
    if isinstance(login, str) and isinstance(short, str):
        return f"{login}/{short}"
    return None
