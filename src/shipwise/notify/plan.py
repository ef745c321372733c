"""Which notifications an investigation makes, per configured channel: the outbox rows written in
the same transaction as the investigation (:func:`investigation_rows`).

The ticket channels (Jira, ServiceNow, PagerDuty) act on the incidents the investigation is
about: the incidents of the alarm's service open at the alarm's time (docs/notifications.md,
"Which ticket"), as their connector stored them (``sync``) or labelled ``jira:KEY``,
``servicenow:NUMBER`` or ``pagerduty:ID`` by a canonical import.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from shipwise.notify import messages
from shipwise.notify.settings import (
    Channel,
    GitHubChannel,
    JiraChannel,
    NotifySettings,
    PagerDutyChannel,
    ServiceNowChannel,
    SlackApiChannel,
    SlackWebhookChannel,
    TeamsChannel,
)
from shipwise.store import org
from shipwise.store import outbox as table
from shipwise.store.duckdb_store import Store

#: an incident opened up to this long after the alarm is the alarm's (the page opened it)
OPENED_AFTER = timedelta(minutes=30)
#: and one resolved up to this long before the alarm still is (a flapping alarm)
RESOLVED_BEFORE = timedelta(minutes=30)


def row_id(*parts: Any) -> str:
    """A row's id (and the idempotency key sent with it): the hash of what it says."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return "ob_" + hashlib.sha256(text.encode()).hexdigest()[:24]


def marker(rid: str) -> str:
    return f"shipwise:{rid}"


def linked_tickets(store: Store, record: dict[str, Any]) -> list[tuple[str, str]]:
    """(system, remote id) of the incidents ``record`` is about: ``(source name, id)`` pairs
    keyed ``jira:NAME``, ``servicenow:NAME``, ``pagerduty:NAME`` or ``label:SYSTEM``."""
    alarm = record.get("alarm") or {}
    if not alarm.get("entity") or alarm.get("time") is None:
        return []
    at = datetime.fromtimestamp(float(alarm["time"]), tz=UTC).replace(tzinfo=None)
    out: list[tuple[str, str]] = []
    for inc in table.incidents_at(store, str(alarm["entity"]), at, before=RESOLVED_BEFORE,
                                  after=OPENED_AFTER):
        iid, source = str(inc["id"]), str(inc.get("source") or "")
        if source.startswith("jira:") and " incident " in source:
            out.append((f"jira:{source[5:].split(' incident ')[0]}", iid))
        elif source.startswith("servicenow:") and " incident " in source:
            name = source[11:].split(" incident ")[0]
            out.append((f"servicenow:{name}", iid.removeprefix(f"{name}:")))
        elif ":" in iid:
            name, rest = iid.split(":", 1)
            out.append((f"pagerduty:{name}", rest))
        for label in inc.get("labels") or []:
            system, _, value = str(label).partition(":")
            if system in ("jira", "servicenow", "pagerduty") and value:
                out.append((f"label:{system}", value))
    return out


def _targets(ch: Channel, tickets: list[tuple[str, str]]) -> list[str]:
    system = {JiraChannel: "jira", ServiceNowChannel: "servicenow",
              PagerDutyChannel: "pagerduty"}[type(ch)]
    source = getattr(ch, "source", system)
    found = [rid for key, rid in tickets if key in (f"{system}:{source}", f"label:{system}")]
    return list(dict.fromkeys(found))


def _request(ch: Channel, record: dict[str, Any], f: dict[str, Any], mark: str,
             target: str | None, *, reply: bool) -> dict[str, Any] | None:
    if isinstance(ch, SlackWebhookChannel):
        return messages.slack_webhook(f, mark)
    if isinstance(ch, SlackApiChannel):
        return messages.slack_api(f, mark, ch.channel, reply=reply)
    if isinstance(ch, TeamsChannel):
        return messages.teams(f, mark)
    if isinstance(ch, JiraChannel):
        return messages.jira(f, mark, str(target), cloud=ch.cloud)
    if isinstance(ch, ServiceNowChannel):
        return messages.servicenow(f, mark, str(target))
    if isinstance(ch, PagerDutyChannel):
        return messages.pagerduty(f, mark, str(target))
    return messages.github(record, f, mark, ch.repo, ch.labels, reply=reply)


def investigation_rows(store: Store, settings: NotifySettings, record: dict[str, Any], *,
                       event: str = "investigation.saved",
                       link: str | None = None) -> list[table.OutboxRow]:
    """The outbox rows of ``event`` on investigation ``record``, one per channel (and per linked
    ticket for the ticket channels; none for a channel with nothing to act on)."""
    if not settings.channels:
        return []
    entity = str((record.get("alarm") or {}).get("entity") or "")
    team = org.service_team(store, entity) if entity else None
    tickets = linked_tickets(store, record) if any(
        isinstance(c, (JiraChannel, ServiceNowChannel, PagerDutyChannel))
        for c in settings.channels) else []
    f = messages.facts(record, event, link)
    thread = str(record.get("alarm_id") or record.get("id"))
    rows: list[table.OutboxRow] = []
    for ch in settings.channels:
        if ch.teams and team not in ch.teams:
            continue
        if isinstance(ch, GitHubChannel) and event != "investigation.saved":
            continue  # the issue holds the fix spec; a verification changes no spec
        targets: list[str | None]
        if isinstance(ch, (JiraChannel, ServiceNowChannel, PagerDutyChannel)):
            targets = list(_targets(ch, tickets))
        elif isinstance(ch, GitHubChannel):
            targets = [ch.repo]
        elif isinstance(ch, SlackApiChannel):
            targets = [ch.channel]
        else:
            targets = [None]
        reply = isinstance(ch, (SlackApiChannel, GitHubChannel)) and (
            table.has_thread(store, ch.id, thread) or any(r["channel"] == ch.id for r in rows))
        for target in targets:
            rid = row_id(ch.id, event, record.get("id"), target, f,
                         (record.get("long_term_fix") if isinstance(ch, GitHubChannel) else None))
            req = _request(ch, record, f, marker(rid), target, reply=reply)
            if req is None:
                continue
            rows.append(table.OutboxRow(id=rid, channel=ch.id, kind=ch.kind, event=event,
                                        subject=str(record.get("id")), thread=thread,
                                        target=target, payload=req))
    return rows


def write_investigation(store: Store, settings: NotifySettings, record: dict[str, Any], *,
                        event: str = "investigation.saved", link: str | None = None) -> int:
    """Write the rows of :func:`investigation_rows` (inside the caller's transaction)."""
    rows = investigation_rows(store, settings, record, event=event, link=link)
    return table.add(store, rows, datetime.now(UTC).replace(tzinfo=None))


def write_alarm_progress(store: Store, settings: NotifySettings, alarm_id: str, entity: str,
                         metric: str, at: float, *, error: str | None = None) -> int:
    """The Slack Web API thread of an alarm, as its investigation progresses (inside the
    caller's transaction): "investigating" when it starts (the thread's first message), and a
    reply when it fails (``error``). The findings follow as replies when the investigation is
    saved (:func:`write_investigation`). Other channels hear only of saved investigations."""
    chans = [c for c in settings.channels if isinstance(c, SlackApiChannel)]
    if not chans:
        return 0
    team = org.service_team(store, entity)
    when = datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    what = entity + (f" {metric}" if metric else "")
    rows: list[table.OutboxRow] = []
    for ch in chans:
        if ch.teams and team not in ch.teams:
            continue
        started = table.has_thread(store, ch.id, alarm_id)
        if error is None and started:
            continue  # investigated again: the thread exists
        event = "investigation.failed" if error is not None else "investigation.started"
        rid = row_id(ch.id, event, alarm_id, error)
        title, text = ((f"Investigation failed: {what}", f"*Error*\n{error}")
                       if error is not None else
                       (f"Investigating: {what} at {when}",
                        f"Alarm `{alarm_id}` on {what}. Findings follow in this thread."))
        rows.append(table.OutboxRow(
            id=rid, channel=ch.id, kind=ch.kind, event=event, subject=alarm_id, thread=alarm_id,
            target=ch.channel, payload=messages.slack_progress(title, text, marker(rid),
                                                               ch.channel, reply=started)))
    return table.add(store, rows, datetime.now(UTC).replace(tzinfo=None))
