"""Results of the incident-response doors (:mod:`shipwise.app.incidents` for imported incidents,
:mod:`shipwise.app.people` for resolving an actor's pseudonym): the REST API's response models,
like :mod:`shipwise.app.results` (kept beside it so that module stays readable)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shipwise.app.results import IncidentExplanation, Instant, Result


class IncidentRow(Result):
    """An imported incident (canonical import, PagerDuty, Opsgenie, ServiceNow, Jira)."""

    id: str
    service: str
    team: str | None = Field(default=None, description="the team owning its service")
    severity: str
    opened_at: Instant
    resolved_at: Instant | None = Field(default=None, description="null: still open")
    duration_seconds: float | None = Field(default=None, description=(
        "from opening to resolution (null: still open)"))
    caused_by: str | None = Field(default=None, description=(
        "the deployment that caused it: its own caused_by, else the derived link"))
    caused_by_basis: str | None = Field(default=None, description=(
        "explicit, label or window (docs/incident-links.md)"))
    source: str | None = Field(default=None, description=(
        "connector and raw id (null: imported from a file)"))
    human_actioned: bool | None = None
    labels: list[str] = Field(default_factory=list)
    investigations: list[str] = Field(default_factory=list, description=(
        "ids of the investigations of its service whose alarm fell between an hour before it "
        "opened and its resolution"))


class IncidentFilters(Result):
    team: str | None = None
    service: str | None = None
    severity: str | None = None
    since: Instant | None = None
    until: Instant | None = None
    open_only: bool = False


class IncidentList(Result):
    """Imported incidents, newest first, with the filters applied and the values they can take."""

    total: int = Field(description="how many match the filters (``incidents`` holds the newest)")
    incidents: list[IncidentRow]
    filters: IncidentFilters
    severities: list[str] = Field(default_factory=list)
    services: list[str] = Field(default_factory=list)
    teams: list[str] = Field(default_factory=list)


class IncidentDetail(Result):
    """One imported incident: its row, why it is linked to a deployment (or not), and the
    investigations that cover it."""

    incident: IncidentRow
    explanation: IncidentExplanation


Outcome = Literal["match", "no match", "refused"]


class ActorResolution(Result):
    """The answer to "who is this pseudonym?" for a responder, shown once and never stored: the
    audit log keeps who asked, about which pseudonym, for which investigation, why and the
    outcome — not the identity."""

    investigation_id: str
    pseudonym: str
    outcome: Outcome
    identity: str | None = Field(default=None, description=(
        "the candidate whose keyed hash is the pseudonym (null: none of them)"))
    candidates: int = Field(description="how many candidate identities were checked")
    reason: str
    logged_at: Instant
    advice: str = Field(description="what to do next, in a sentence")


class ActorLookupRow(Result):
    """One row of the actor-lookup log (admins and auditors)."""

    looked_up_at: Instant
    token_id: str | None = None
    reader: str | None = None
    role: str
    interface: str
    investigation_id: str
    pseudonym: str
    reason: str | None = None
    outcome: str
    detail: str | None = None
    candidates: int
