"""Who may see and do what: roles, principals and the one authorisation check every interface
(CLI, API, web, MCP) goes through in the application layer (:mod:`shipwise.app.views`).

Roles:

- ``member`` and ``lead`` — their own team's diagnostic views (DORA, cost, flow, strain, SLOs),
  the investigations and alarms of their team's services (and starting one on them), the
  organisation overview and the metric catalog;
- ``exec`` — the organisation's cost views (cost to serve of every team, initiatives), the
  overview and the catalog; no team diagnostics, no incidents;
- ``admin`` — everything, plus tokens, settings, the access log, importing, the quarantine (raw
  rejected lines can hold personal data) and serving the store; investigations and alarms of
  entities that are no team's service.

No role can see individuals: no view returns person-level data (see governance/charter.yaml).

One grant sits beside the roles: **responder** (``shipwise token create … --responder``). A
member or lead token carrying it may ask, with a reason, whether a pseudonym in an open
investigation of their team's services is one of the identities they name
(``people.resolve``: docs/governance.md, "Who to call"); admins may too (they hold the
pseudonymisation key already). Every such lookup is written to the actor-lookup log.
"""

from __future__ import annotations

from dataclasses import dataclass

from shipwise.errors import ForbiddenError

ROLES = ("member", "lead", "exec", "admin")
TEAM_ROLES = ("member", "lead")

#: action -> roles allowed. Team-scoped actions also need the principal's team (for member, lead).
POLICY: dict[str, tuple[str, ...]] = {
    "org.overview": ROLES,
    "metrics.catalog": ROLES,
    "teams.list": ROLES,
    "team.diagnostic": ("member", "lead", "admin"),
    "org.cost": ("exec", "admin"),
    "investigations.read": ("member", "lead", "admin"),
    "investigations.start": ("member", "lead", "admin"),
    "alarms.read": ("member", "lead", "admin"),
    "admin.tokens": ("admin",),
    "admin.audit": ("admin",),
    "admin.retention": ("admin",),
    #: writing into the store (import, connectors, the demo)
    "admin.ingest": ("admin",),
    #: rejected records kept verbatim (raw lines can hold names and emails)
    "admin.quarantine": ("admin",),
    #: the canonical records (pseudonymised, person-level) written out as Parquet files
    "admin.export": ("admin",),
    #: running the server over the store (it holds the store and its secrets)
    "admin.serve": ("admin",),
    #: the notification outbox: its status, delivering it, requeueing failed rows
    "admin.notify": ("admin",),
    #: org-unit roll-ups of people-derived diagnostics (flow, strain), suppressed like team figures
    "org.diagnostic": ("exec", "admin"),
    "fairness.audit": ("exec", "admin"),
    #: prevention recommendations about a team's services: read them, decide on them
    "prevention.read": ("member", "lead", "admin"),
    "prevention.decide": ("member", "lead", "admin"),
    #: a prevention scan reads every investigation and incident of the organisation
    "prevention.scan": ("admin",),
    #: incident response: is this pseudonym in an open investigation one of these people? (a
    #: member or lead needs the responder grant on their token; every lookup is logged)
    "people.resolve": ("member", "lead", "admin"),
}
#: actions a member or lead may take only with a grant on their token: action -> grant
GRANTED = {"people.resolve": "responder"}
#: for a member or lead, only their own team: a team's views, and the investigations and alarms
#: of its services (the views narrow lists to the principal's team)
TEAM_SCOPED = {"team.diagnostic", "investigations.read", "investigations.start", "alarms.read",
               "prevention.read", "prevention.decide", "people.resolve"}

#: what a member or lead was refused, with a team and without one (an entity of no team)
_SCOPED_WHAT = {
    "team.diagnostic": ("open team {team}", "open team (none given)"),
    "investigations.read": ("read the investigations of team {team}",
                            "read an investigation of an entity that is no team's service"),
    "investigations.start": ("start an investigation on a service of team {team}",
                             "start an investigation of an entity that is no team's service"),
    "alarms.read": ("read the alarms of team {team}",
                    "read alarms of entities that are no team's service"),
    "prevention.read": ("read the prevention recommendations of team {team}",
                        "read recommendations about entities that are no team's service"),
    "prevention.decide": ("decide on the prevention recommendations of team {team}",
                          "decide on recommendations about entities that are no team's "
                          "service"),
    "people.resolve": ("resolve the actors of investigations of team {team}",
                       "resolve actors of an entity that is no team's service"),
}


@dataclass(frozen=True)
class Principal:
    """Who is asking: a token (or the local CLI user, who owns the store file)."""

    role: str
    team: str | None = None
    token_id: str | None = None
    name: str = ""
    #: the token carries the responder grant (see :data:`GRANTED`)
    responder: bool = False

    def holds(self, grant: str) -> bool:
        return grant == "responder" and self.responder

    def can(self, action: str, team: str | None = None) -> bool:
        allowed = POLICY.get(action)
        if allowed is None or self.role not in allowed:
            return False
        grant = GRANTED.get(action)
        if grant is not None and self.role in TEAM_ROLES and not self.holds(grant):
            return False
        if action in TEAM_SCOPED and self.role in TEAM_ROLES:
            return team is not None and team == self.team
        return True

    def require(self, action: str, team: str | None = None) -> None:
        if self.can(action, team):
            return
        grant = GRANTED.get(action)
        if (grant is not None and self.role in TEAM_ROLES and self.role in POLICY[action]
                and not self.holds(grant)):
            raise ForbiddenError(
                f"only an on-call responder may resolve who is behind a pseudonym (this "
                f"{self.role} token has no {grant} grant)",
                hint=f"an admin creates a token with `shipwise token create --role {self.role} "
                     f"--team {self.team or 'TEAM'} --{grant}`; or find the actor in the record "
                     "of the system that made the change (docs/governance.md#who-to-call)")
        if action in TEAM_SCOPED and self.role in TEAM_ROLES and self.role in POLICY[action]:
            some, none = _SCOPED_WHAT.get(action, _SCOPED_WHAT["team.diagnostic"])
            what = some.format(team=team) if team else none
            raise ForbiddenError(f"a {self.role} of team {self.team or '?'} cannot {what}",
                                 hint="ask an admin for a token of that team" if team else
                                 "only admins see what belongs to no team")
        raise ForbiddenError(f"role {self.role} may not {action.replace('.', ' ')}",
                             hint=f"roles allowed: {', '.join(POLICY.get(action, ())) or 'none'}")


#: the local CLI user: whoever can read the store file and its key is its administrator
LOCAL_ADMIN = Principal("admin", None, None, "local")
