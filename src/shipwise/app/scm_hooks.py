"""GitHub and GitLab webhooks: verify the sender, refuse replays, and name the repository to sync.

A delivery is verified against the webhook secret of each configured source of that provider
(GitHub: ``X-Hub-Signature-256``, an HMAC-SHA256 of the body; GitLab: ``X-Gitlab-Token``, the
secret itself). A delivery that matches none is refused (401 without a signature, 403 with a
wrong one) and kept as a ``refused`` row without its body. A verified one is de-duplicated by its
delivery id (``X-GitHub-Delivery``, ``X-Gitlab-Event-UUID``), kept as ``queued``, and answered 202;
the server then syncs the repository it names with the same connector code as ``shipwise sync``
(:mod:`shipwise.app.sync`), through the same importer.

Why sync rather than map the payload: webhook payloads leave out what the metrics are made of
(a push lists no line counts, a ``pull_request`` event carries no commits or reviews, a
``deployment_status`` does not say which commits shipped), and writing a partial record would
overwrite what a sync read in full. An event is therefore a precise, cheap trigger: the
incremental sync of one repository costs a few conditional requests.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from shipwise.app.caller import Caller, Principal
from shipwise.app.sync import sync_sources
from shipwise.config import CodeHostSource, Settings
from shipwise.connectors.github import webhook as github_hook
from shipwise.connectors.gitlab import webhook as gitlab_hook
from shipwise.store import deliveries
from shipwise.store.duckdb_store import Store

log = logging.getLogger(__name__)

PROVIDERS = ("github", "gitlab")
#: who a webhook-triggered sync runs as (logged in the access log like any other writer)
WEBHOOK_SYNC = Principal("admin", None, None, "webhook-sync")

StoreSession = Callable[[], AbstractContextManager[Store]]


@dataclass
class HookOutcome:
    """The answer to a delivery, and the (source, scope) to sync when it was accepted."""

    status: int
    body: dict[str, Any]
    sync: tuple[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _secret(source: CodeHostSource) -> str | None:
    env = source.webhook_secret_env
    value = os.environ.get(env, "").strip() if env else ""
    return value or None


@dataclass
class Assessed:
    """A delivery judged without the store: the answer, and the row to keep (``None``: none).

    The row is kept by :func:`write_deliveries` (grouped with others in one transaction by the
    server); :func:`answer` then turns a replayed delivery id into a 200 duplicate."""

    outcome: HookOutcome
    row: tuple[Any, ...] | None = None


def _row(provider: str, delivery: str, event: str | None, source: str | None, scope: str | None,
         status: str, reason: str | None = None) -> tuple[Any, ...]:
    return (provider, delivery, event, source, scope, status, reason)


def assess(settings: Settings, provider: str, headers: Mapping[str, str], body: bytes) -> Assessed:
    """Verify and classify one delivery (``headers`` with lower-case names); no store needed."""
    sources = [s for s in settings.sources
               if isinstance(s, CodeHostSource) and s.kind == provider]
    if not sources:
        return Assessed(HookOutcome(404, {"error": f"no {provider} source is configured",
                                          "hint": f"add a `kind: {provider}` source to "
                                                  "shipwise.yaml"}))
    keyed = [(s, sec) for s in sources if (sec := _secret(s)) is not None]
    if not keyed:
        envs = ", ".join(sorted({s.webhook_secret_env or "?" for s in sources}))
        return Assessed(HookOutcome(503, {
            "error": f"{provider} webhooks are disabled: no secret is set",
            "hint": f"set {envs} to the secret configured on the webhook"}))
    hook: Any = github_hook if provider == "github" else gitlab_hook
    if provider == "github":
        presented = headers.get("x-hub-signature-256")
        event = headers.get("x-github-event")
        delivery = headers.get("x-github-delivery")
        matched = [s for s, sec in keyed if github_hook.verify(sec, body, presented)]
    else:
        presented = headers.get("x-gitlab-token")
        event = headers.get("x-gitlab-event")
        delivery = headers.get("x-gitlab-event-uuid") or headers.get("idempotency-key")
        matched = [s for s, sec in keyed if gitlab_hook.verify(sec, presented)]
    delivery = (delivery or "").strip()[:200] or "sha256:" + hashlib.sha256(body).hexdigest()
    if not matched:
        reason = "no signature" if not presented else "bad signature"
        log.warning("%s webhook refused: %s (delivery %s)", provider, reason, delivery)
        header = "X-Hub-Signature-256" if provider == "github" else "X-Gitlab-Token"
        # kept without the body, under an id that cannot shadow a real delivery's
        row = _row(provider, f"refused:{uuid.uuid4().hex}", event, None, None, "refused",
                   f"{reason} (delivery {delivery})")
        return Assessed(HookOutcome(401 if not presented else 403, {
            "error": f"{reason}: the {header} header does not match any {provider} source's "
                     "secret",
            "hint": "set the same secret on the webhook and in the source's webhook_secret_env"}),
            row)
    try:
        payload = json.loads(body)
        if not isinstance(payload, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        reason = f"body is not a JSON object ({exc})"
        return Assessed(HookOutcome(400, {"error": reason, "delivery": delivery}),
                        _row(provider, delivery, event, None, None, "ignored", reason))
    if provider == "github" and event == "ping":
        return Assessed(HookOutcome(200, {"pong": True, "delivery": delivery}))
    scope = hook.scope_of(event, payload) if event in hook.EVENTS else None
    owner = next((s for s in matched if scope and scope.lower() in
                  {k.lower() for k in s.scope_keys}), None)
    if owner is None or scope is None:
        reason = (f"event {event!r} is not used" if event not in hook.EVENTS else
                  "the event names no repository" if scope is None else
                  f"{scope} is not a repository of the {provider} sources in shipwise.yaml")
        return Assessed(HookOutcome(202, {"ignored": reason, "delivery": delivery}),
                        _row(provider, delivery, event, None, None, "ignored", reason))
    key = next(k for k in owner.scope_keys if k.lower() == scope.lower())
    return Assessed(HookOutcome(202, {"queued": True, "delivery": delivery, "source": owner.id,
                                      "scope": key}, sync=(owner.id, key)),
                    _row(provider, delivery, event, owner.id, key, "queued"))


def answer(assessed: Assessed, fresh: bool) -> HookOutcome:
    """The answer once the row was written: a delivery id seen before changes nothing."""
    out = assessed.outcome
    if fresh or assessed.row is None or out.status >= 400:
        return out
    return HookOutcome(200, {"duplicate": True, "delivery": out.body.get("delivery")})


def write_deliveries(store: Store, bodies: list[list[tuple[Any, ...]]]) -> list[bool]:
    """Keep the rows of many deliveries in one go (the server's group commit); per delivery,
    whether it was new."""
    return deliveries.record_many(store, [rows[0] if rows else None for rows in bodies])


def pending_syncs(session: StoreSession) -> list[tuple[str, str]]:
    """(source, scope) with deliveries accepted but not synced (e.g. before a restart)."""
    with session() as store:
        return deliveries.pending(store)


def sync_delivered(settings: Settings, source: str, scope: str, *, session: StoreSession) -> None:
    """Sync one repository named by deliveries, then mark them synced (or failed, with why)."""
    with session() as store:
        caller = Caller(store, WEBHOOK_SYNC, settings, "api")
        try:
            report = sync_sources(caller, [source], scopes=[scope])
            failed = report.failed
            error = failed[0].error if failed else None
        except Exception as exc:  # kept on the deliveries' rows; the next delivery tries again
            log.exception("webhook sync of %s %s failed", source, scope)
            error = str(exc) or type(exc).__name__
        deliveries.finish(store, source, scope, error=error)
