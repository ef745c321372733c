"""The incident-response pages: imported incidents (a list with filters, one incident) and the
"who to call" panel of an investigation page, where an on-call responder may resolve an actor's
pseudonym (docs/governance.md, "Who to call") — built from the doors of :mod:`shipwise.app`
only, like every page."""

from __future__ import annotations

import re
from typing import Any

from shipwise.app import incidents, people
from shipwise.app.caller import Caller
from shipwise.app.results import dump

#: pseudonyms as an investigation record shows them
_PSEUDONYM = re.compile(r"(?<![0-9a-z_])p_[0-9a-f]{8,20}(?![0-9a-f])")

#: what the page says to whoever may not resolve an actor
HOW_TO_FIND = (
    "shipwise keeps people as pseudonyms and no map back to them. To reach the person behind one: "
    "look the change up by its event id and time in the system that made it (the deploy tool's "
    "run, the cloud provider's audit log, the configuration history), or ask your team's "
    "on-call lead — an admin can give an on-call member or lead a token with the responder "
    "grant, which may resolve a pseudonym here, with a reason, and every lookup is logged.")


def incident_list(c: Caller, *, team: str = "", service: str = "", severity: str = "",
                  since: str = "", until: str = "", open_only: str = "",
                  limit: int = 200) -> dict[str, Any]:
    res = dump(incidents.incident_list(
        c, team=team or None, service=service or None, severity=severity or None,
        since=since or None, until=until or None,
        open_only=open_only in ("1", "yes", "true", "on"), limit=limit))
    res["form"] = {"team": team, "service": service, "severity": severity, "since": since,
                   "until": until, "open": open_only in ("1", "yes", "true", "on")}
    return dict(res)


def incident(c: Caller, incident_id: str) -> dict[str, Any]:
    return dict(dump(incidents.incident_detail(c, incident_id)))


def actor_panel(c: Caller, inv_id: str, record: dict[str, Any]) -> dict[str, Any]:
    """The pseudonyms an investigation shows (with the events they acted in), whether the
    reader may resolve them, and if not, or not any more, why."""
    acted: dict[str, list[str]] = {}
    stack: list[Any] = [record]
    while stack:  # every event (a dict with an actor) anywhere in the record
        item = stack.pop()
        if isinstance(item, dict):
            actor = str(item.get("actor", ""))
            if _PSEUDONYM.fullmatch(actor):
                what = f"{item.get('kind', 'event')} {item.get('id', '')} at {item.get('at', '?')}"
                if what not in acted.setdefault(actor, []):
                    acted[actor].append(what)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    found = sorted(set(_PSEUDONYM.findall(str(record))) | set(acted))
    may = c.principal.can("people.resolve", c.principal.team if c.own_team else None)
    return {"pseudonyms": [{"pseudonym": p, "events": acted.get(p, [])} for p in found],
            "may_resolve": may, "closed": people.closed_because(c, inv_id) if may else None,
            "how_to_find": HOW_TO_FIND}


def resolve(c: Caller, inv_id: str, form: dict[str, str]) -> dict[str, Any]:
    return dict(dump(people.resolve_actor(c, inv_id, form.get("pseudonym", ""),
                                          reason=form.get("reason", ""),
                                          candidates=form.get("candidates", ""))))

