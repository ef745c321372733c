"""Who to call: resolving an actor's pseudonym for incident response, governed.

People are pseudonymised at the door with a keyed hash (:mod:`shipwise.governance.pseudonym`) and
shipwise keeps no map back. An on-call responder who needs to reach the person behind
``p_3f9c…`` in an investigation supplies the identities it might be (their team's logins, a
directory file, the names they suspect); shipwise hashes each with the store's key and says which
one, if any, has that pseudonym. Nothing of it is stored but the fact of the lookup.

The rules (docs/governance.md, "Who to call"):

- ``people.resolve``: a member or lead whose token carries the **responder** grant, on the
  investigations of their team's services; admins (who hold the key) on any;
- only for an investigation that is **open**: no verdict marked on it, and either an imported
  incident covering it is unresolved or it was stored less than :data:`RESPONSE_DAYS` days ago
  with no resolved incident covering it;
- only for a pseudonym **in that investigation's record** (an actor, an author of its evidence);
- only with a **reason** (at least :data:`MIN_REASON` characters);
- **every** attempt past the role check — matched, unmatched or refused — is a row of the
  actor-lookup log (who, which pseudonym, which investigation, the reason, the outcome), which
  admins read (``shipwise audit lookups``, the audit page); the access log has the action too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from shipwise.app.caller import Caller
from shipwise.app.guard import Access, guard
from shipwise.app.response_results import ActorLookupRow, ActorResolution
from shipwise.errors import InputError, NotFoundError
from shipwise.governance.pseudonym import (
    SHOWN_PSEUDONYM,
    Pseudonymiser,
    directory_entries,
    load_key,
    resolve,
)
from shipwise.store import actor_lookups as lookups
from shipwise.store import investigations as table
from shipwise.store import org

#: an investigation with no unresolved incident covering it is open this long after it was stored
RESPONSE_DAYS = 7
#: the shortest reason accepted (a few words: "paging the author of the config change")
MIN_REASON = 10
#: the most identities one lookup may check (a team's or an organisation's directory)
MAX_CANDIDATES = 20_000


def _access(caller: Caller, arguments: Mapping[str, Any]) -> Iterable[Access]:
    inv_id = arguments["inv_id"]
    entity = table.entity_of(caller.store, inv_id)
    if entity is None and not table.exists(caller.store, inv_id):
        raise NotFoundError(f"no investigation {inv_id!r}",
                            hint="`shipwise investigations list` or GET /api/v1/investigations")
    team = org.service_team(caller.store, entity) if entity is not None else None
    return [Access("people.resolve",
                   f"investigation:{inv_id}:actor:{str(arguments['pseudonym']).strip()}", team)]


def closed_because(caller: Caller, inv_id: str, now: datetime | None = None) -> str | None:
    """Why investigation ``inv_id`` is no longer open for incident response (None: it is open).
    No authorisation of its own: the pages call it for an investigation they just read."""
    state = lookups.response_state(caller.store, inv_id)
    if state is None:
        return "there is no such investigation"
    if state["verdict"] is not None:
        return f"a verdict ({state['verdict']}) was marked on it: the incident is being reviewed"
    if state["open_incidents"]:
        return None
    if state["incidents"]:
        return "every imported incident it covers is resolved"
    created = state["created_at"]
    created = created if created.tzinfo else created.replace(tzinfo=UTC)
    if (now or datetime.now(UTC)) - created > timedelta(days=RESPONSE_DAYS):
        return (f"it was stored more than {RESPONSE_DAYS} days ago and no unresolved incident "
                "covers it")
    return None


def _appears_in(record: Mapping[str, Any], pseudonym: str) -> bool:
    """Whether ``pseudonym`` is in the record (an actor, an author, a user of its evidence) —
    itself, or a longer pseudonym it is the short form of."""
    text = json.dumps(record, default=str)
    return re.search(rf"(?<![0-9a-z_]){re.escape(pseudonym)}[0-9a-f]*(?![0-9a-z_])",
                     text) is not None


@guard("people.resolve", accesses=_access)
def resolve_actor(caller: Caller, inv_id: str, pseudonym: str, *, reason: str,
                  candidates: Iterable[str] | str) -> ActorResolution:
    """Which of ``candidates`` (identities, or a directory's text: one person a line, fields a
    login, an email, contact details) has ``pseudonym`` under the store's key — for an open
    investigation ``inv_id`` that shows that pseudonym, with a ``reason``. The answer is shown
    once; the lookup (not the identity) is logged."""
    p = caller.principal
    target = pseudonym.strip().lower()
    why = " ".join((reason or "").split())
    entries = directory_entries(candidates if isinstance(candidates, str)
                                else "\n".join(candidates))
    now = datetime.now(UTC)

    def log(outcome: str, detail: str | None) -> None:
        lookups.append(caller.store, lookups.Lookup(
            looked_up_at=now, token_id=p.token_id, reader=p.name or None, role=p.role,
            interface=caller.interface, investigation_id=inv_id, pseudonym=target[:64],
            reason=why[:2000] or None, outcome=outcome, detail=detail,
            candidates=len(entries)))

    def refuse(detail: str, hint: str) -> InputError:
        log("refused", detail)
        return InputError(f"cannot resolve {target or 'an empty pseudonym'}: {detail}", hint=hint)

    if len(why) < MIN_REASON:
        raise refuse("a reason is required (why you need to reach this person)",
                     "e.g. --reason \"paging the author of the permission change that broke "
                     "checkout\"")
    if not SHOWN_PSEUDONYM.match(target):
        raise refuse("not a pseudonym (p_ and 8 to 20 hex digits)",
                     "pipelines (pipeline:…), systems (system:…) and bots (bot:…) are named "
                     "already")
    closed = closed_because(caller, inv_id, now)
    if closed is not None:
        raise refuse(f"investigation {inv_id} is closed ({closed})",
                     "actors are resolved only while the incident is being responded to")
    record = table.record(caller.store, inv_id) or {}
    if not _appears_in(record, target):
        raise refuse(f"{target} does not appear in investigation {inv_id}",
                     "resolve only the actors an investigation shows (its events, authors)")
    if not entries:
        raise refuse("no candidate identities given",
                     "name the people it might be, or pass a directory file (one person a "
                     "line: login, email, contact)")
    if len(entries) > MAX_CANDIDATES:
        raise refuse(f"{len(entries)} candidates (at most {MAX_CANDIDATES})",
                     "narrow the directory to the team and the people who could have acted")
    pseudo = Pseudonymiser(load_key(caller.settings.resolved_key_file), caller.settings.bots)
    found = resolve(pseudo, target, entries)
    log("match" if found else "no match", None)
    advice = (f"Reach them through your on-call tool; this lookup ({p.name or p.role}, reason "
              "recorded) is in the audit log." if found else
              f"None of the {len(entries)} identities has this pseudonym. Check the directory is "
              "complete, or find the actor in the record of the system that made the change "
              "(its event id and time are in the investigation).")
    return ActorResolution(investigation_id=inv_id, pseudonym=target,
                           outcome="match" if found else "no match", identity=found,
                           candidates=len(entries), reason=why, logged_at=now, advice=advice)


@guard("admin.audit", "actor_lookup")
def actor_lookups(caller: Caller, *, limit: int = 100,
                  investigation_id: str | None = None) -> list[ActorLookupRow]:
    """The actor-lookup log, newest first: who resolved (or tried to resolve) which pseudonym,
    for which investigation, why, and the outcome."""
    return [ActorLookupRow.model_validate(r) for r in lookups.read(
        caller.store, limit=limit, investigation_id=investigation_id)]
