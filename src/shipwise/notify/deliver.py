"""Deliver the outbox: pending rows, oldest first, each sent once per attempt and marked
``delivered`` only after the receiver answered 2xx (docs/notifications.md, "Delivery").

One pass (:func:`deliver_due`) claims a row (a lease in ``claimed_until``), sends it with no store
lock held, then records the outcome in one conditional statement. A failure is retried with
exponential backoff (doubling from ``backoff_seconds`` up to ``max_backoff_seconds``, with jitter,
never sooner than a ``Retry-After``); a receiver's refusal (4xx other than 408/409/425/429) fails
the row at once, kept with the error for ``shipwise notify retry``.

An attempt whose request may have reached the receiver without its answer reaching us (a read
timeout, a connection cut after the request was written) is *ambiguous*. Before re-sending such
a row to a receiver whose posts can be read back (Jira comments, PagerDuty notes, GitHub issues;
Slack's Web API and ServiceNow work notes with ``read_back: true``), the deliverer looks for the
row's marker there and, when found, marks the row delivered without posting again. Webhooks
(Slack, Teams) cannot be read back: for them an ambiguous attempt is re-sent (at least once).
"""

from __future__ import annotations

import base64
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shipwise.errors import ConfigError
from shipwise.notify.settings import (
    Channel,
    GitHubChannel,
    JiraChannel,
    NotifySettings,
    PagerDutyChannel,
    ServiceNowChannel,
    SlackApiChannel,
)
from shipwise.store import outbox as table
from shipwise.store.duckdb_store import StoreSession

log = logging.getLogger(__name__)

#: one pass at a time in a process (the server's loop and a relayed `notify deliver`)
_PASS = threading.Lock()
#: statuses worth retrying; any other 4xx is the receiver refusing the request as it is
_RETRY = {408, 409, 425, 429}
AMBIGUOUS = "ambiguous: "


class _Failed(Exception):
    def __init__(self, message: str, *, status: int | None = None, retry: bool = True,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status, self.retry, self.retry_after = status, retry, retry_after


@dataclass
class PassResult:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    #: replies waiting for their thread's first message
    waiting: int = 0
    #: rows found already at the receiver after an ambiguous attempt (not posted again)
    reconciled: int = 0
    errors: list[str] = field(default_factory=list)


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def backoff(settings: NotifySettings, attempts: int, retry_after: float | None = None) -> float:
    """Seconds before attempt ``attempts + 1`` (``attempts`` failed so far, ≥ 1)."""
    d = settings.deliver
    delay = min(d.max_backoff_seconds, d.backoff_seconds * 2 ** max(0, attempts - 1))
    delay *= 0.5 + random.random() / 2
    return max(delay, retry_after or 0.0)


def deliver_due(session: StoreSession, settings: NotifySettings, env: Mapping[str, str], *,
                limit: int | None = None, client: httpx.Client | None = None,
                clock: Callable[[], datetime] = now_utc) -> PassResult:
    """Deliver the rows due now (at most ``limit``, default ``deliver.batch``)."""
    result = PassResult()
    with _PASS:
        with session() as store:
            rows = table.due(store, clock(), limit or settings.deliver.batch)
        if not rows:
            return result
        own = client is None
        http = client or httpx.Client(follow_redirects=False)
        try:
            for row in rows:
                _one(session, settings, env, http, row, result, clock)
        finally:
            if own:
                http.close()
    return result


def _one(session: StoreSession, settings: NotifySettings, env: Mapping[str, str],
         http: httpx.Client, row: dict[str, Any], result: PassResult,
         clock: Callable[[], datetime]) -> None:
    now = clock()
    ch = next((c for c in settings.channels if c.id == row["channel"]), None)
    lease = (ch.timeout_seconds if ch else 10.0) * 3 + 30
    until = now + timedelta(seconds=lease)
    with session() as store:
        if not table.claim(store, row["id"], now, until):
            return
        parent = table.thread_parent(store, row["channel"], row["thread"]) \
            if row["payload"].get("reply") and row["thread"] else None
    req = dict(row["payload"])
    if parent is not None and parent["id"] != row["id"]:
        if parent["status"] == "pending":
            with session() as store:
                table.release(store, row["id"], until)
            result.waiting += 1
            return
        answer = parent.get("response") or {}
        if answer.get("ts"):  # Slack: a reply in the first message's thread
            req["body"] = {**req["body"], "thread_ts": answer["ts"]}
            row = {**row, "_thread_ts": answer["ts"]}
        elif answer.get("number") and "{number}" in str(req.get("path")):  # a GitHub comment
            req["path"] = str(req["path"]).replace("{number}", str(answer["number"]))
        elif req.get("fallback"):  # the thread's first issue was never opened: open one
            req = dict(req["fallback"])
    elif req.get("fallback") and "{number}" in str(req.get("path")):
        req = dict(req["fallback"])
    row = {**row, "_request": req}
    try:
        if ch is None:
            raise _Failed(f"channel '{row['channel']}' is no longer configured", retry=False)
        found = _reconcile(http, ch, env, row) if str(row.get("last_error") or "").startswith(
            AMBIGUOUS) else None
        response: dict[str, Any] | None
        if found is not None:
            status, response = 200, found
            result.reconciled += 1
        else:
            status, response = _send(http, ch, env, req)
    except Exception as exc:  # one row's failure never stops the pass
        if not isinstance(exc, _Failed):
            log.exception("outbox %s: unexpected failure", row["id"])
            exc = _Failed(f"{type(exc).__name__}: {exc}")
        attempts = int(row["attempts"]) + 1
        give_up = not exc.retry or attempts >= settings.deliver.max_attempts
        wait = backoff(settings, attempts, exc.retry_after)
        with session() as store:
            table.mark_attempt(store, row["id"], until, next_at=clock() + timedelta(seconds=wait),
                               status=exc.status, error=str(exc), give_up=give_up)
        if give_up:
            result.failed += 1
        else:
            result.retrying += 1
        result.errors.append(f"{row['channel']} {row['id']}: {exc}")
        log.info("outbox %s (%s): %s", row["id"], row["channel"], exc)
        return
    with session() as store:
        if not table.mark_delivered(store, row["id"], until, clock(), status, response):
            log.warning("outbox %s: delivered, but its claim had expired", row["id"])
    result.delivered += 1


# -- the request of each kind ----------------------------------------------------------------

def _auth(ch: Channel, env: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """The URL base (the webhook URL itself for a webhook) and the headers of ``ch``."""
    try:
        secret = ch.secret(env).get_secret_value()
    except ConfigError as exc:
        raise _Failed(str(exc) + (f" ({exc.hint})" if exc.hint else "")) from exc
    json_h = {"Content-Type": "application/json", "Accept": "application/json",
              "User-Agent": "shipwise"}
    if isinstance(ch, SlackApiChannel):
        return ch.base_url.rstrip("/"), {**json_h, "Content-Type": "application/json; charset=utf-8",
                                         "Authorization": f"Bearer {secret}"}
    if isinstance(ch, JiraChannel):
        if ch.cloud:
            return ch.base_url.rstrip("/"), {**json_h, "Authorization": _basic(str(ch.email),
                                                                               secret)}
        return ch.base_url.rstrip("/"), {**json_h, "Authorization": f"Bearer {secret}"}
    if isinstance(ch, ServiceNowChannel):
        auth = _basic(str(ch.user), secret) if ch.auth == "basic" else f"Bearer {secret}"
        return ch.base_url.rstrip("/"), {**json_h, "Authorization": auth}
    if isinstance(ch, PagerDutyChannel):
        return ch.base_url.rstrip("/"), {
            **json_h, "Accept": "application/vnd.pagerduty+json;version=2",
            "Authorization": f"Token token={secret}", "From": ch.from_email}
    if isinstance(ch, GitHubChannel):
        return ch.base_url.rstrip("/"), {
            **json_h, "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28", "Authorization": f"Bearer {secret}"}
    return secret, json_h  # a webhook: its URL is the secret


def _basic(user: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


def _call(http: httpx.Client, ch: Channel, method: str, url: str, headers: dict[str, str],
          body: Any = None) -> httpx.Response:
    try:
        return http.request(method, url, headers=headers, json=body, timeout=ch.timeout_seconds)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise _Failed(f"not sent: {type(exc).__name__}: {_safe(exc, url)}") from exc
    except httpx.TransportError as exc:  # the request may have arrived
        raise _Failed(f"{AMBIGUOUS}{type(exc).__name__}: {_safe(exc, url)}") from exc


def _safe(exc: Exception, url: str) -> str:
    """The error's text without the URL (a webhook URL is a secret)."""
    return str(exc).replace(url, "<url>") or "no detail"


def _check(r: httpx.Response) -> None:
    if 200 <= r.status_code < 300:
        return
    retry_after = None
    if r.headers.get("Retry-After", "").strip().isdigit():
        retry_after = float(r.headers["Retry-After"])
    retry = r.status_code in _RETRY or r.status_code >= 500
    raise _Failed(f"HTTP {r.status_code}: {r.text[:300]}", status=r.status_code, retry=retry,
                  retry_after=retry_after)


def _send(http: httpx.Client, ch: Channel, env: Mapping[str, str],
          req: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
    base, headers = _auth(ch, env)
    path = str(req.get("path") or "")
    if isinstance(ch, ServiceNowChannel):
        path = path.replace("{sys_id}", _sys_id(http, ch, base, headers, req["lookup"]))
    r = _call(http, ch, str(req["method"]), base + path, headers, req["body"])
    _check(r)
    if isinstance(ch, SlackApiChannel):
        data = r.json()
        if not data.get("ok"):
            err = str(data.get("error"))
            raise _Failed(f"Slack answered ok=false: {err}", status=r.status_code,
                          retry=err in ("ratelimited", "internal_error", "service_unavailable",
                                        "request_timeout", "fatal_error"))
        return r.status_code, {"ts": data.get("ts"), "channel": data.get("channel")}
    if isinstance(ch, GitHubChannel):
        data = r.json()
        return r.status_code, {"number": data.get("number"), "html_url": data.get("html_url")}
    if isinstance(ch, JiraChannel):
        return r.status_code, {"id": r.json().get("id")}
    if isinstance(ch, PagerDutyChannel):
        return r.status_code, {"id": (r.json().get("note") or {}).get("id")}
    return r.status_code, None


def _sys_id(http: httpx.Client, ch: ServiceNowChannel, base: str, headers: dict[str, str],
            lookup: dict[str, str]) -> str:
    r = _call(http, ch, "GET", f"{base}/api/now/table/{lookup['table']}?" + str(httpx.QueryParams({
        "sysparm_query": f"number={lookup['number']}", "sysparm_fields": "sys_id,number",
        "sysparm_limit": "1"})), headers)
    _check(r)
    found = r.json().get("result") or []
    if not found:
        raise _Failed(f"ServiceNow has no {lookup['table']} {lookup['number']}", status=404,
                      retry=False)
    return str(found[0]["sys_id"])


# -- after an ambiguous attempt: is it there already? ---------------------------------------

def _reconcile(http: httpx.Client, ch: Channel, env: Mapping[str, str],
               row: dict[str, Any]) -> dict[str, Any] | None:
    """The receiver's record of ``row`` when it is already there (None: not found, or this
    receiver cannot be read back)."""
    mark = f"shipwise:{row['id']}"
    req = row.get("_request") or row["payload"]
    if isinstance(ch, GitHubChannel):
        base, headers = _auth(ch, env)
        if str(req["path"]).endswith("/comments"):
            query = "per_page=100"
        else:
            query = "state=all&per_page=100&labels=" + ",".join(req["body"].get("labels") or [])
        r = _call(http, ch, "GET", f"{base}{req['path']}?{query}", headers)
        _check(r)
        for item in r.json():
            if mark in str(item.get("body") or ""):
                return {"number": item.get("number"), "html_url": item.get("html_url")}
        return None
    if isinstance(ch, JiraChannel):
        base, headers = _auth(ch, env)
        r = _call(http, ch, "GET", f"{base}{req['path']}?orderBy=-created&maxResults=100",
                  headers)
        _check(r)
        for c in r.json().get("comments") or []:
            if mark in json.dumps(c.get("body")):
                return {"id": c.get("id")}
        return None
    if isinstance(ch, SlackApiChannel) and ch.read_back:
        return _slack_read_back(http, ch, env, row, mark)
    if isinstance(ch, ServiceNowChannel) and ch.read_back:
        base, headers = _auth(ch, env)
        sys_id = _sys_id(http, ch, base, headers, req["lookup"])
        r = _call(http, ch, "GET", f"{base}/api/now/table/sys_journal_field?" + str(
            httpx.QueryParams({"sysparm_query": f"element_id={sys_id}^element=work_notes"
                                                f"^valueLIKE{mark}",
                               "sysparm_fields": "sys_id", "sysparm_limit": "1"})), headers)
        _check(r)
        found = r.json().get("result") or []
        return {"sys_id": sys_id, "journal": found[0].get("sys_id")} if found else None
    if isinstance(ch, PagerDutyChannel):
        base, headers = _auth(ch, env)
        r = _call(http, ch, "GET", f"{base}{req['path']}", headers)
        _check(r)
        for n in r.json().get("notes") or []:
            if mark in str(n.get("content") or ""):
                return {"id": n.get("id")}
        return None
    return None


def _slack_read_back(http: httpx.Client, ch: SlackApiChannel, env: Mapping[str, str],
                     row: dict[str, Any], mark: str) -> dict[str, Any] | None:
    """The message carrying ``mark`` in the thread (a reply) or the conversation since the row
    was written (a first message)."""
    base, headers = _auth(ch, env)
    thread = (row.get("_thread_ts") or "") if row["payload"].get("reply") else ""
    if thread:
        method, params = "conversations.replies", {"channel": ch.channel, "ts": thread,
                                                   "limit": "200"}
    else:
        created = row["created_at"].replace(tzinfo=UTC).timestamp() - 60
        method, params = "conversations.history", {"channel": ch.channel,
                                                   "oldest": f"{created:.6f}", "limit": "200"}
    r = _call(http, ch, "GET", f"{base}/{method}?" + str(httpx.QueryParams(params)), headers)
    _check(r)
    data = r.json()
    if not data.get("ok"):
        raise _Failed(f"Slack answered ok=false to {method}: {data.get('error')}")
    for m in data.get("messages") or []:
        if mark in str(m.get("text") or "") or mark in json.dumps(m.get("blocks") or []):
            return {"ts": m.get("ts"), "channel": ch.channel}
    return None


class DeliveryLoop:
    """``shipwise serve``'s background deliverer: a pass every ``deliver.interval_seconds``
    (sooner after :meth:`wake`)."""

    def __init__(self, run: Callable[[], PassResult], interval: float) -> None:
        self._run, self._interval = run, interval
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="shipwise-outbox", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                self._run()
            except Exception:
                log.exception("outbox delivery pass failed")
            self._wake.wait(max(0.0, self._interval - (time.monotonic() - t0)))
            self._wake.clear()
