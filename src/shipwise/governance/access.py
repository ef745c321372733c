"""Who may see and do what: roles, principals and the one authorisation check every interface
(CLI, API, web, MCP) goes through in the application layer (:mod:`shipwise.services.views`).

Roles:

- ``member`` and ``lead`` — their own team's diagnostic views (DORA, cost, investigations of
  their services), the organisation overview and the metric catalog;
- ``exec`` — the organisation's cost views (cost to serve of every team, initiatives), the
  overview and the catalog; no team diagnostics, no incidents;
- ``admin`` — everything, plus tokens, settings and the access log.

No role can see individuals: no view returns person-level data (see governance/charter.yaml).
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
    #: org-unit roll-ups of people-derived diagnostics (flow, strain), suppressed like team figures
    "org.diagnostic": ("exec", "admin"),
    "fairness.audit": ("exec", "admin"),
}
TEAM_SCOPED = {"team.diagnostic"}


@dataclass(frozen=True)
class Principal:
    """Who is asking: a token (or the local CLI user, who owns the store file)."""

    role: str
    team: str | None = None
    token_id: str | None = None
    name: str = ""

    def can(self, action: str, team: str | None = None) -> bool:
        allowed = POLICY.get(action)
        if allowed is None or self.role not in allowed:
            return False
        if action in TEAM_SCOPED and self.role in TEAM_ROLES:
            return team is not None and team == self.team
        return True

    def require(self, action: str, team: str | None = None) -> None:
        if self.can(action, team):
            return
        if action in TEAM_SCOPED and self.role in TEAM_ROLES and self.role in POLICY[action]:
            raise ForbiddenError(f"a {self.role} of team {self.team or '?'} cannot open team "
                                 f"{team or '(none given)'}",
                                 hint="ask an admin for a token of that team")
        raise ForbiddenError(f"role {self.role} may not {action.replace('.', ' ')}",
                             hint=f"roles allowed: {', '.join(POLICY.get(action, ())) or 'none'}")


#: the local CLI user: whoever can read the store file and its key is its administrator
LOCAL_ADMIN = Principal("admin", None, None, "local")
