"""The organisation as comparable values, from a file or from the store, and the plan between two.

:class:`OrgState` is what both sides reduce to — org units, teams (with their attributes JSON),
services (current owner, owners over time, repositories, deploy targets) and people by stored id
(pseudonym, or ``bot:…``) with their memberships and alias ids. :func:`diff` turns two states into
the changes a user reviews: added, changed (field: old → new) and removed, per kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from shipwise.orgfile.model import Owner, PersonSpec
from shipwise.orgfile.validate import OrgDocument

#: (team, since, until): an ownership or a membership period (None: unbounded)
Period = tuple[str, date | None, date | None]
#: (repo, environment pattern, job pattern): a deploy target; a plain repository has no patterns
Target = tuple[str, str | None, str | None]
Kind = Literal["org_unit", "team", "service", "person"]
KINDS: tuple[Kind, ...] = ("org_unit", "team", "service", "person")


@dataclass(frozen=True)
class OrgUnit:
    name: str
    parent: str | None


@dataclass(frozen=True)
class Team:
    name: str
    org_unit: str
    delivery_unit: str
    attributes: Mapping[str, Any]


@dataclass(frozen=True)
class Service:
    name: str
    team: str  # the owner today (``service.team``)
    repo: str | None  # ``service.repo``: the first repository (flow attributes pull requests by it)
    owners: tuple[Period, ...] = ()  # none: ``team`` throughout
    targets: tuple[Target, ...] = ()  # repositories (no patterns) and deploy targets, in order


@dataclass(frozen=True)
class Person:
    bot: bool
    memberships: tuple[Period, ...]
    aliases: tuple[str, ...] = ()  # other stored ids of the same person, sorted


@dataclass
class OrgState:
    org_units: dict[str, OrgUnit] = field(default_factory=dict)
    teams: dict[str, Team] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    people: dict[str, Person] = field(default_factory=dict)

    def of(self, kind: Kind) -> Mapping[str, Any]:
        if kind == "org_unit":
            return self.org_units
        if kind == "team":
            return self.teams
        return self.services if kind == "service" else self.people

    def aliases(self) -> dict[str, str]:
        """alias id -> canonical id, for every person."""
        return {a: pid for pid, p in self.people.items() for a in p.aliases}


def current_owner(owners: tuple[Period, ...], today: date) -> str | None:
    """The team owning a service on ``today``: the period covering it, else the one that ended
    last, else the first to come."""
    lo, hi = date.min, date.max
    covering = [t for t, s, u in owners if (s or lo) <= today <= (u or hi)]
    if covering:
        return covering[0]
    past = sorted((u or hi, t) for t, _, u in owners if (u or hi) < today)
    if past:
        return past[-1][1]
    future = sorted((s or lo, t) for t, s, _ in owners)
    return future[0][1] if future else None


def _periods(items: list[Owner]) -> tuple[Period, ...]:
    periods = tuple(sorted(((o.team, o.since, o.until) for o in items),
                           key=lambda p: (p[1] or date.min, p[0])))
    # one owner throughout is the same as no ownership periods: ``service.team`` alone
    return () if len(periods) == 1 and periods[0][1:] == (None, None) else periods


def person_ids(person: PersonSpec) -> list[str]:
    return [raw for raw, _, _ in person.all_ids()]


def desired_state(doc: OrgDocument, stored: Mapping[str, tuple[str, bool]],
                  today: date) -> OrgState:
    """The state the file describes; ``stored`` maps each person's raw id to its stored id and
    whether it is a bot (the pseudonymiser's answer, or the id itself for a stored pseudonym)."""
    org = doc.org
    state = OrgState()
    for u in org.org_units:
        state.org_units[u.id] = OrgUnit(u.name or u.id, u.parent)
    for t in org.teams:
        state.teams[t.id] = Team(t.name or t.id, t.org_unit, t.delivery_unit, t.all_attributes())
    for s in org.services:
        owners = _periods(s.ownership())
        team = current_owner(owners, today) if owners else s.ownership()[0].team
        targets = tuple(dict.fromkeys([*((r, None, None) for r in s.repos),
                                       *((t.repo, t.environment, t.job)
                                         for t in s.deploy_targets)]))
        repo = targets[0][0] if targets else None
        state.services[s.id] = Service(s.name or s.id, team or "", repo, owners, targets)
    for p in org.people:
        ids = [stored[raw] for raw in person_ids(p)]
        canonical = ids[0][0]
        aliases = tuple(sorted({sid for sid, _ in ids[1:]} - {canonical}))
        memberships = tuple(sorted(((m.team, m.since, m.until) for m in p.memberships),
                                   key=lambda m: (m[1] or date.min, m[0])))
        bot = p.bot or any(is_bot for _, is_bot in ids)
        state.people[canonical] = Person(bot, memberships, aliases)
    return state


# -- the plan ------------------------------------------------------------------------------------

Action = Literal["added", "changed", "removed"]


@dataclass
class Change:
    kind: Kind
    id: str
    action: Action
    #: field -> (old, new), as text; for an addition every field (old None), for a removal none
    fields: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    #: where the entry is in the file (0 for a removal)
    line: int = 0
    #: for a removal: what still references it (table -> rows); it is never deleted then
    referenced_by: dict[str, int] = field(default_factory=dict)


def show(value: Any, name: str = "") -> str | None:
    """A value as the plan shows it (``name``: the field, which says how to show a list)."""
    if value is None or value == () or value == {}:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={show(v)}" for k, v in sorted(value.items()))
    if isinstance(value, tuple | list):
        item = _target if name == "targets" else _period if name in (
            "owners", "memberships") else str
        return "; ".join(item(v) for v in value)
    return str(value)


def _period(value: Period) -> str:
    team, since, until = value
    if since and until:
        return f"{team} {since} to {until}"
    return f"{team} since {since}" if since else f"{team} until {until}" if until else team


def _target(value: Target) -> str:
    repo, env, job = value
    extra = [f"{k}={v}" for k, v in (("environment", env), ("job", job)) if v]
    return repo + (f" ({', '.join(extra)})" if extra else "")


def _fields(obj: Any) -> dict[str, Any]:
    return {k: getattr(obj, k) for k in obj.__dataclass_fields__}


def _norm(value: Any) -> Any:
    return dict(value) if isinstance(value, Mapping) else value


def _changed(name: str, old: Any, new: Any) -> tuple[str | None, str | None]:
    """(old, new) as shown; of a mapping (team attributes), only the keys that differ."""
    if isinstance(old, Mapping) and isinstance(new, Mapping) and old and new:
        keys = {k for k in {*old, *new} if old.get(k) != new.get(k)}
        return (show({k: old[k] for k in keys if k in old}, name),
                show({k: new[k] for k in keys if k in new}, name))
    return show(old, name), show(new, name)


def diff(current: OrgState, desired: OrgState, lines: Mapping[tuple[Kind, str], int]
         ) -> list[Change]:
    """What applying ``desired`` over ``current`` does, per kind; ``lines`` gives each desired
    entry's line in the file."""
    out: list[Change] = []
    for kind in KINDS:
        have, want = current.of(kind), desired.of(kind)
        for ident in sorted(want):
            new = _fields(want[ident])
            line = lines.get((kind, ident), 0)
            if ident not in have:
                out.append(Change(kind, ident, "added", {k: (None, show(v, k)) for k, v in new.items()
                                                         if show(v, k) is not None}, line))
                continue
            old = _fields(have[ident])
            changed = {k: _changed(k, old[k], new[k]) for k in new
                       if _norm(old[k]) != _norm(new[k])}
            if changed:
                out.append(Change(kind, ident, "changed", changed, line))
        for ident in sorted(set(have) - set(want)):
            out.append(Change(kind, ident, "removed"))
    return out


def entry_lines(doc: OrgDocument, canonical: Mapping[int, str]) -> dict[tuple[Kind, str], int]:
    """(kind, id) -> line of each entry of the file; people by their stored canonical id
    (``canonical``: entry index -> id)."""
    org = doc.org
    out: dict[tuple[Kind, str], int] = {}
    for i, u in enumerate(org.org_units):
        out[("org_unit", u.id)] = doc.line(("org_units", i))
    for i, t in enumerate(org.teams):
        out[("team", t.id)] = doc.line(("teams", i))
    for i, s in enumerate(org.services):
        out[("service", s.id)] = doc.line(("services", i))
    for i, pid in canonical.items():
        out[("person", pid)] = doc.line(("people", i))
    return out
