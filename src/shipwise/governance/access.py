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
from shipwise.governance.charter import load_charter

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


#: each action in plain words: what it opens, and why only the roles of POLICY may — the reason
#: a refused person reads (``{forbidden}`` is the charter's ``forbidden_uses``). Every action of
#: POLICY has one (a test checks).
PLAIN: dict[str, tuple[str, str]] = {
    "org.overview": ("the organisation overview", "every role may see it"),
    "metrics.catalog": ("the metric catalog and the charter", "every role may see it"),
    "teams.list": ("the list of teams and services", "every role may see it"),
    "team.diagnostic": (
        "a team's page (its delivery, cost, flow, strain and SLOs)",
        "the charter makes a team's figures diagnostic: they are for the team to understand and "
        "improve its own way of working, and may not inform comparison between teams, "
        "{forbidden}. So they stay with the team; leadership reads the organisation's cost and "
        "org-unit roll-ups instead"),
    "org.cost": (
        "every team's cost to serve and the organisation's savings",
        "the charter makes cost to serve a performance figure for platform investment, budget "
        "and executive reporting decisions: it is read by the people who make them. A team "
        "sees its own cost on its team page"),
    "org.diagnostic": (
        "flow and strain rolled up per org unit",
        "these roll-ups are for deciding where the organisation's system of work needs help; "
        "a team sees its own flow and strain on its team page, and by the charter no figure may "
        "inform {forbidden}"),
    "fairness.audit": (
        "the fairness audit of shipwise's own flags",
        "it compares how shipwise's flags fall across teams and org units — an oversight task "
        "for the people answerable for how the metrics are used"),
    "investigations.read": (
        "the incidents and investigations of a team's services",
        "an investigation holds the changes, alarms and responders' actions around one team's "
        "services: it is for the people who run and fix them"),
    "investigations.start": (
        "starting an investigation on a team's service",
        "an investigation reads the telemetry and changes of that team's services: the people "
        "who run them start it"),
    "alarms.read": (
        "the alarms of a team's services",
        "alarms belong to the people on call for those services"),
    "prevention.read": (
        "the prevention recommendations about a team's services",
        "they are drawn from that team's incidents, for the team that can act on them"),
    "prevention.decide": (
        "deciding on the prevention recommendations about a team's services",
        "the team that owns the services decides what to change in them"),
    "prevention.scan": (
        "a prevention scan over every incident",
        "it reads every investigation and incident of the organisation at once"),
    "admin.tokens": ("creating, listing and revoking access tokens",
                     "a token grants access to the store: only administrators hand them out"),
    "admin.audit": ("the audit log",
                    "it records who read what, reads of people-derived figures included: only "
                    "administrators audit it"),
    "admin.retention": ("applying the retention rules",
                        "it deletes person-level records for good, by the charter's retention "
                        "periods"),
    "admin.ingest": ("writing into the store (import, connectors, the demo)",
                     "what the store holds is every figure's source"),
    "admin.quarantine": ("the quarantine of rejected records",
                         "rejected lines are kept verbatim and can hold names and emails"),
    "admin.export": ("exporting the canonical records",
                     "the export holds person-level (pseudonymised) records"),
    "admin.serve": ("running the server over the store",
                    "the server holds the store and its secrets"),
    "admin.notify": ("the notification outbox",
                     "delivering and requeueing messages speaks for the organisation"),
    "people.resolve": (
        "checking who is behind a pseudonym in an open investigation of a team's services",
        "people are pseudonymised so that no figure can be traced to a person; an on-call "
        "responder of the team (a member or lead with the responder grant) may check one, with "
        "a stated reason, and every check is in the audit log"),
}
ROLE_WORDS = {"member": "team members", "lead": "team leads", "exec": "executives",
              "admin": "administrators"}


def _words(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def who_may(action: str, team: str | None = None) -> str:
    """Who may, in plain words: "members and leads of team payments, and administrators"."""
    allowed = POLICY.get(action, ())
    scoped = [r for r in allowed if r in TEAM_ROLES] if action in TEAM_SCOPED else []
    parts = []
    if scoped:
        whose = f"team {team}" if team else "the team it belongs to"
        parts.append(f"{_words([ROLE_WORDS[r].removeprefix('team ') for r in scoped])} of "
                     f"{whose}")
    parts += [ROLE_WORDS.get(r, r) for r in allowed if r not in scoped]
    if scoped and len(parts) > 1:  # "members and leads of team x, and administrators"
        return ", ".join(parts[:-1]) + ", and " + parts[-1]
    return _words(parts) if parts else "no role"


def refusal_detail(role: str, own_team: str | None, action: str, team: str | None) -> str:
    """Why a refusal happened, in plain words: what the action opens, who may, why (the
    charter's reason) and where the asker stands."""
    what, why = PLAIN.get(action, (f"this ({action})", "the access policy reserves it"))
    why = why.format(forbidden=_words(list(load_charter().forbidden_uses)))
    you = ROLE_WORDS.get(role, role).removesuffix("s")
    if role in TEAM_ROLES and own_team:
        you = f"a {you.removeprefix('team ')} of team {own_team}"
    else:
        you = f"an {you}" if you[:1] in "aeiou" else f"a {you}"
    return (f"Who can see {what}: {who_may(action, team)}. You are signed in as {you}. "
            f"Why: {why}.")


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
        allowed = POLICY.get(action, ())
        detail = refusal_detail(self.role, self.team, action, team)
        grant = GRANTED.get(action)
        if (grant is not None and self.role in TEAM_ROLES and self.role in POLICY[action]
                and not self.holds(grant)):
            raise ForbiddenError(
                f"only an on-call responder may resolve who is behind a pseudonym (this "
                f"{self.role} token has no {grant} grant)",
                hint=f"an admin creates a token with `shipwise token create --role {self.role} "
                     f"--team {self.team or 'TEAM'} --{grant}`; or find the actor in the record "
                     "of the system that made the change (docs/governance.md#who-to-call)",
                action=action, role=self.role, team=team, allowed=allowed, detail=detail)
        if action in TEAM_SCOPED and self.role in TEAM_ROLES and self.role in allowed:
            some, none = _SCOPED_WHAT.get(action, _SCOPED_WHAT["team.diagnostic"])
            what = some.format(team=team) if team else none
            raise ForbiddenError(f"a {self.role} of team {self.team or '?'} cannot {what}",
                                 hint="ask an admin for a token of that team" if team else
                                 "only admins see what belongs to no team", action=action,
                                 role=self.role, team=team, allowed=allowed, detail=detail)
        raise ForbiddenError(f"role {self.role} may not {action.replace('.', ' ')}",
                             hint=f"roles allowed: {', '.join(allowed) or 'none'}",
                             action=action, role=self.role, team=team, allowed=allowed,
                             detail=detail)


#: the local CLI user: whoever can read the store file and its key is its administrator
LOCAL_ADMIN = Principal("admin", None, None, "local")
