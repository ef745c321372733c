"""Writing an organisation back out as an organisation file (``shipwise org export``).

Raw emails and logins are never stored, so people are written by their stored ids: a pseudonym
(``p_…``) first, then their other ids (aliases); a bot by its readable id with ``bot: true``.
``shipwise org apply`` takes a pseudonym the store holds as that person, so applying an export
changes nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import yaml

from shipwise.orgfile.model import FORMAT_VERSION, TEAM_ATTRIBUTES
from shipwise.orgfile.state import OrgState

#: a bot's stored id is its readable id after this (``governance.pseudonym.BOT_PREFIX``)
BOT_PREFIX = "bot:"

HEADER = """\
# shipwise organisation file (format version {version}), exported {today}.
# People are listed by pseudonym (p_...): raw emails and logins are never stored, so they cannot
# be exported. `shipwise org apply` takes a pseudonym the store holds as that person; replace it
# by the person's emails and logins to add ids, or keep it as is.
"""


class _Dumper(yaml.SafeDumper):
    """Block style, lists of scalars and small mappings in flow style, keys in model order."""


def _period(team: str, since: date | None, until: date | None) -> dict[str, Any]:
    out: dict[str, Any] = {"team": team}
    if since is not None:
        out["since"] = since
    if until is not None:
        out["until"] = until
    return out


def _readable(ident: str) -> str:
    return ident[len(BOT_PREFIX):] if ident.startswith(BOT_PREFIX) else ident


def to_data(state: OrgState) -> dict[str, Any]:
    """The organisation file's content (plain data) for ``state``."""
    units = []
    for ident, u in sorted(state.org_units.items()):
        unit: dict[str, Any] = {"id": ident, "name": u.name}
        if u.parent is not None:
            unit["parent"] = u.parent
        units.append(unit)
    teams = []
    for ident, t in sorted(state.teams.items()):
        team: dict[str, Any] = {"id": ident, "name": t.name, "org_unit": t.org_unit,
                                "delivery_unit": t.delivery_unit}
        attrs = dict(t.attributes)
        for key in TEAM_ATTRIBUTES:
            if attrs.get(key) is not None:
                team[key] = attrs.pop(key)
        if attrs:
            team["attributes"] = attrs
        teams.append(team)
    people = []
    for ident, p in sorted(state.people.items(), key=lambda kv: (kv[1].bot, kv[0])):
        person: dict[str, Any] = {"ids": [_readable(i) for i in (ident, *p.aliases)]}
        if p.bot:
            person["bot"] = True
        person["memberships"] = [_period(*m) for m in p.memberships]
        people.append(person)
    services = []
    for ident, s in sorted(state.services.items()):
        service: dict[str, Any] = {"id": ident, "name": s.name}
        if s.owners:
            service["owners"] = [_period(*o) for o in s.owners]
        else:
            service["team"] = s.team
        repos = [repo for repo, env, job in s.targets if env is None and job is None]
        targets = [{k: v for k, v in (("repo", repo), ("environment", env), ("job", job))
                    if v is not None} for repo, env, job in s.targets
                   if env is not None or job is not None]
        if repos:
            service["repos"] = repos
        if targets:
            service["deploy_targets"] = targets
        services.append(service)
    return {"version": FORMAT_VERSION, "org_units": units, "teams": teams, "people": people,
            "services": services}


def to_yaml(state: OrgState, today: date) -> str:
    """``state`` as an organisation file, with a header saying how people are named."""
    body = yaml.dump(to_data(state), Dumper=_Dumper, sort_keys=False, default_flow_style=None,
                     allow_unicode=True, width=100)
    return HEADER.format(version=FORMAT_VERSION, today=today.isoformat()) + body
