"""Findings where people work: the notification outbox (status, delivery, requeue; admins) and
the weekly team digest (the team's own view) — docs/notifications.md."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import UTC, date, datetime
from typing import Any

from shipwise.app.caller import Caller
from shipwise.app.delivery import dora
from shipwise.app.guard import guard
from shipwise.app.humane import team_diagnostics
from shipwise.app.metrics import DoraRequest
from shipwise.app.reliability import slo
from shipwise.app.results import (
    ChannelCheck,
    DeliveryPass,
    Digest,
    DigestLine,
    DigestRun,
    DigestSection,
    NotifyStatus,
    OutboxCount,
    OutboxError,
    Requeued,
    dump,
)
from shipwise.config import Settings, environ
from shipwise.errors import ConfigError, InputError, ShipwiseError
from shipwise.governance.access import Principal
from shipwise.metrics.formatting import WEB, render
from shipwise.metrics.ids import ERROR_BUDGET_REMAINING
from shipwise.notify import digest as dg
from shipwise.notify.deliver import PassResult, deliver_due, now_utc
from shipwise.notify.plan import marker, row_id
from shipwise.notify.settings import Channel, SlackApiChannel, SlackWebhookChannel
from shipwise.store import org
from shipwise.store import outbox as table
from shipwise.store.duckdb_store import StoreSession

_TITLES = {"dora": "Delivery (DORA)", "flow": "Flow", "strain": "Strain"}


@guard("admin.notify", "outbox")
def notify_status(caller: Caller) -> NotifyStatus:
    """Rows per channel and status, and the latest errors of rows not yet delivered."""
    counts = table.counts(caller.store)

    def total(status: str) -> int:
        return sum(int(c["n"]) for c in counts if c["status"] == status)

    return NotifyStatus(
        pending=total("pending"), delivered=total("delivered"), failed=total("failed"),
        channels=[ChannelCheck(name=c.id, kind=c.kind, secret=_secret_state(c))
                  for c in caller.settings.notify.channels],
        counts=[OutboxCount.model_validate(c) for c in counts],
        last_errors=[OutboxError.model_validate(e) for e in table.last_errors(caller.store)])


def _secret_state(ch: Channel) -> str:
    try:
        ch.secret(environ())
    except ConfigError as exc:
        return str(exc).split(": ", 1)[-1]
    return "found"


@guard("admin.notify", "outbox:deliver")
def deliver(caller: Caller, *, limit: int | None = None) -> DeliveryPass:
    """One delivery pass over the rows due now."""
    return _pass(deliver_due(lambda: nullcontext(caller.store), caller.settings.notify,
                             environ(), limit=limit))


@guard("admin.notify", "outbox:retry")
def retry_failed(caller: Caller, *, channel: str | None = None) -> Requeued:
    """Failed rows (of ``channel``) pending again, due now."""
    if channel is not None:
        caller.settings.notify.channel(channel)  # a clear error for an unknown name
    with caller.store.transaction():
        return Requeued(requeued=table.requeue(caller.store, now_utc(), channel))


def _pass(r: PassResult) -> DeliveryPass:
    return DeliveryPass(delivered=r.delivered, retrying=r.retrying, failed=r.failed,
                        waiting=r.waiting, reconciled=r.reconciled, errors=r.errors[:50])


def deliver_pending(settings: Settings, session: StoreSession) -> PassResult:
    """The server's background pass (no door: it reads and writes only the outbox)."""
    return deliver_due(session, settings.notify, environ())


@guard("team.diagnostic", "team:{team}:digest", team="team", people_derived=True)
def digest(caller: Caller, team: str, *, week: str | None = None, send: bool = False,
           today: date | None = None) -> Digest:
    """``team``'s week (default: the last full week of the data) against its own previous
    ``notify.digest.weeks`` weeks; with ``send``, written to the outbox for the digest channel
    (once per team and week) and delivered."""
    if not org.team_exists(caller.store, team):
        raise InputError(f"unknown team {team!r}", hint="`shipwise teams` lists them")
    n = caller.settings.notify.digest.weeks
    k = caller.settings.privacy.min_group_size
    d = dump(dora(caller, DoraRequest(grain="week", team=(team,))))
    until = date.fromisoformat(str(d["until"])[:10])
    the_week = week or dg.last_full_week(until, today or datetime.now(UTC).date())
    if not _is_week(the_week):
        raise InputError(f"not an ISO week: {the_week!r}", hint="e.g. 2026-W39")
    families: dict[str, list[dict[str, Any]]] = {"dora": d["rows"]}
    for family in ("flow", "strain"):
        families[family] = dump(team_diagnostics(caller, family, (team,), grain="week"))["rows"]
    sections = [DigestSection(family=f, title=_TITLES[f], lines=[
        DigestLine.model_validate(x)
        for x in dg.compare(families[f], dg.DIGEST_METRICS[f], the_week, n)])
        for f in ("dora", "flow", "strain")]
    s = dump(slo(caller, (team,), history=False))
    budget = [f"{x['slo']} ({x['service']}): {render(ERROR_BUDGET_REMAINING, v, WEB)} of the "
              "error budget left" for x in s.get("status") or []
              if (v := (x.get("metrics") or {}).get(ERROR_BUDGET_REMAINING)) is not None]
    budget += [a["sentence"] for a in (s.get("appetite") or {}).values() if a.get("sentence")]
    name = org.team_name(caller.store, team) or team
    text, blocks = dg.blocks(team, name, the_week, n,
                             [x.model_dump() for x in sections], budget, k)
    out = Digest(team=team, week=the_week, weeks=n, min_group_size=k, sections=sections,
                 budget=budget, text=text, blocks=blocks)
    if send:
        out.row_id, out.queued = _queue_digest(caller, team, the_week, text, blocks)
        result = deliver_due(lambda: nullcontext(caller.store), caller.settings.notify, environ())
        out.delivered = bool(result.delivered) and _delivered(caller, out.row_id)
    return out


#: who the server's weekly digest runs as (logged in the access log like any other reader)
SCHEDULED_DIGEST = Principal("admin", None, None, "weekly-digest")


@guard("admin.notify", "outbox:digests")
def send_digests(caller: Caller, *, today: date | None = None) -> DigestRun:
    """Every team's digest of the last full week of the data, sent to the digest channel once
    per team and week (the outbox row's id makes a second pass queue nothing); a team whose
    digest cannot be made (no delivery data yet) is listed with the reason, the others go on."""
    if caller.settings.notify.digest.channel is None:
        raise ConfigError("no digest channel configured",
                          hint="set notify.digest.channel to a slack_webhook or slack_api channel")
    run = DigestRun(queued=[], already_sent=[], failed={})
    for team in org.team_ids(caller.store):
        try:
            d = digest(caller, team, send=True, today=today)
        except ConfigError:
            raise
        except ShipwiseError as exc:
            run.failed[team] = str(exc)
            continue
        run.week = d.week
        (run.queued if d.queued else run.already_sent).append(team)
    return run


def _is_week(text: str) -> bool:
    try:
        date.fromisocalendar(int(text[:4]), int(text[6:]), 1)
    except ValueError:
        return False
    return len(text) in (8,) and text[4:6] == "-W"


def _queue_digest(caller: Caller, team: str, week: str, text: str,
                  blocks: list[dict[str, Any]]) -> tuple[str, bool]:
    notify = caller.settings.notify
    name = notify.digest.channel
    if name is None:
        raise ConfigError("no digest channel configured",
                          hint="set notify.digest.channel to a slack_webhook or slack_api channel")
    ch = notify.channel(name)
    if not isinstance(ch, (SlackWebhookChannel, SlackApiChannel)):
        raise ConfigError(f"notify channel '{name}' is {ch.kind}: the digest goes to Slack",
                          hint="name a slack_webhook or slack_api channel in notify.digest.channel")
    rid = row_id(ch.id, "digest", team, week)
    mark = marker(rid)
    body: dict[str, Any] = {"text": f"{text[:2900]}\n[{mark}]", "blocks": [
        *blocks, {"type": "context", "elements": [{"type": "mrkdwn", "text": mark}]}]}
    payload: dict[str, Any] = {"method": "POST", "path": "", "body": body}
    if isinstance(ch, SlackApiChannel):
        payload = {"method": "POST", "path": "/chat.postMessage",
                   "body": {**body, "channel": ch.channel, "unfurl_links": False}}
    with caller.store.transaction():
        new = table.add(caller.store, [table.OutboxRow(
            id=rid, channel=ch.id, kind=ch.kind, event="digest", subject=f"team:{team}:{week}",
            thread=None, target=ch.channel if isinstance(ch, SlackApiChannel) else None,
            payload=payload)], now_utc())
    return rid, bool(new)


def _delivered(caller: Caller, rid: str | None) -> bool:
    return any(r["id"] == rid and r["status"] == "delivered"
               for r in table.rows_of(caller.store, None) if r["event"] == "digest")
