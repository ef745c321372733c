"""Opsgenie's objects as canonical records (pure: no I/O). See ``docs/opsgenie.md``, "Mapping".

* an alert (``GET /v2/alerts``) is an ``incident``: its service from a tag or a team it is routed
  to (``services:``), its severity from its priority (``severity:``), resolved when closed
  (``createdAt`` + ``report.closeTime`` milliseconds), human-actioned when a *user* (not an
  integration or the system) acknowledged or closed it, its tags as ``labels``;
* a recipient of an alert (``GET /v2/alerts/{id}/recipients``) who was notified or acted is a
  ``page`` to that user of the team the alert's Opsgenie team (``teams:``) or service maps to;
* a period of a schedule's final timeline (``GET /v2/schedules/{id}/timeline``) held by a user is
  an ``oncall_shift`` of the schedule's team (``schedules:``), when the period is wholly inside
  the window read (a period cut by the window's edge is read whole by another window).

A field Opsgenie left out is emitted as missing (``None``) so the importer quarantines the record
with its reason rather than losing it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shipwise.connectors.incidents import Routing, instant, iso, page_row
from shipwise.connectors.paging import objects

#: recipient states that are not a notification (the user was not on call, or not yet reached)
NOT_NOTIFIED = frozenset({"notactive", "pending", ""})


@dataclass(frozen=True)
class Rules:
    """The settings the mapping follows (from :class:`~shipwise.config.OpsgenieSource`)."""

    source: str
    routing: Routing
    severity: Mapping[str, str]
    high_urgency: Collection[str]

    @classmethod
    def of(cls, source: str, routing: Routing, severity: Mapping[str, str],
           high_urgency: Collection[str]) -> Rules:
        return cls(source, routing, {k.upper(): v for k, v in severity.items()},
                   frozenset(p.upper() for p in high_urgency))


def team_keys(alert: Mapping[str, Any], team_names: Mapping[str, str]) -> list[str]:
    """The Opsgenie teams an alert is routed to, each as its id then its name."""
    ids = [str(r.get("id") or "") for r in objects(alert.get("responders"))
           if r.get("type") == "team"]
    ids += [str(t.get("id") or "") for t in objects(alert.get("teams"))]
    if alert.get("ownerTeamId"):
        ids.append(str(alert["ownerTeamId"]))
    keys: list[str] = []
    for tid in ids:
        for k in (tid, team_names.get(tid, "")):
            if k and k not in keys:
                keys.append(k)
    return keys


def tags(alert: Mapping[str, Any]) -> list[str]:
    raw = alert.get("tags")
    return [str(t) for t in raw if isinstance(t, str) and t] if isinstance(raw, list) else []


def service_of(alert: Mapping[str, Any], rules: Rules, team_names: Mapping[str, str]
               ) -> tuple[str, str | None]:
    """(what Opsgenie calls the alert's service, for a quarantine reason; its shipwise service
    or ``None``): the first tag, then the first team, that ``services:`` maps."""
    teams = team_keys(alert, team_names)
    mapped = rules.routing.service(tags(alert) + teams)
    named = [team_names[k] for k in teams if k in team_names]
    shown = (named or tags(alert) or teams or ["(no tag or team)"])[0]
    return shown, mapped


def incident_row(alert: Mapping[str, Any], rules: Rules, team_names: Mapping[str, str],
                 users: Collection[str]) -> dict[str, Any]:
    """The ``incident`` of one alert; ``users`` holds the usernames of the account's users (an
    acknowledgement by anyone else is an integration's or the system's)."""
    aid = str(alert.get("id") or "") or None
    opened = instant(alert.get("createdAt"))
    shown, mapped = service_of(alert, rules, team_names)
    priority = str(alert.get("priority") or "P3").upper()
    raw = alert.get("report")
    report: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    resolved = None
    if str(alert.get("status") or "").lower() == "closed":
        close_ms = report.get("closeTime")
        resolved = (opened + timedelta(milliseconds=close_ms)
                    if opened is not None and isinstance(close_ms, int) and close_ms >= 0
                    else instant(alert.get("updatedAt")))
    people = {u.lower() for u in users}
    human = any(str(report.get(k) or "").lower() in people
                for k in ("acknowledgedBy", "closedBy") if report.get(k))
    return {"id": f"{rules.source}:{aid}" if aid else None, "service": mapped or shown,
            "severity": rules.severity.get(priority), "opened_at": opened,
            "resolved_at": resolved, "human_actioned": human, "labels": tags(alert),
            "source": f"opsgenie:{rules.source} alert {aid} (#{alert.get('tinyId') or '?'})"}


def page_rows(alert: Mapping[str, Any], recipients: list[dict[str, Any]], rules: Rules,
              team_names: Mapping[str, str]) -> Iterator[dict[str, Any]]:
    """A ``page`` for each recipient of ``alert`` who was notified or acted."""
    aid = str(alert.get("id") or "")
    teams = team_keys(alert, team_names)
    _, mapped = service_of(alert, rules, team_names)
    shown = next((team_names[k] for k in teams if k in team_names), None) or \
        (teams[0] if teams else mapped or "(no team)")
    team = rules.routing.team(teams, mapped) or shown
    priority = str(alert.get("priority") or "P3").upper()
    urgency = "high" if priority in rules.high_urgency else "low"
    for r in recipients:
        if str(r.get("state") or "").lower() in NOT_NOTIFIED:
            continue
        raw = r.get("user")
        user: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        uid = str(user.get("id") or user.get("username") or "")
        person = str(user.get("username") or "") or (f"opsgenie:{uid}" if uid else "")
        yield page_row(rules.source, f"{aid}:{uid}", team=team, person=person,
                       at=instant(r.get("createdAt")), urgency=urgency)


def shift_rows(timeline: Mapping[str, Any], *, source: str, schedule_id: str, schedule: str,
               team: str, window: tuple[datetime, datetime]) -> Iterator[dict[str, Any]]:
    """The ``oncall_shift`` s of a schedule's final timeline that lie wholly inside ``window``
    (strictly after its start, which Opsgenie cuts periods at, and ending by its end). Ids name
    the schedule by its id, so renaming a schedule does not duplicate its shifts."""
    start, end = window
    final = timeline.get("finalTimeline")
    rotations = objects(final.get("rotations")) if isinstance(final, Mapping) else []
    for rotation in rotations:
        rid = str(rotation.get("id") or rotation.get("name") or "")
        for period in objects(rotation.get("periods")):
            recipient = period.get("recipient")
            if not isinstance(recipient, Mapping) or recipient.get("type") != "user":
                continue  # nobody on call ("none"), or a team or escalation: no person
            a, b = instant(period.get("startDate")), instant(period.get("endDate"))
            if a is None or b is None or a <= start or b > end:
                continue
            yield {"id": f"{source}:{schedule_id}:{rid}:{iso(a)}", "team": team,
                   "person": str(recipient.get("name") or recipient.get("username") or "")
                   or None,
                   "starts_at": a, "ends_at": b, "schedule": schedule,
                   "source": f"opsgenie:{source} schedule {schedule} {iso(a)}"}
