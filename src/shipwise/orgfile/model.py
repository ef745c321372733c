"""The organisation file's shape (``version: 1``), as pydantic models: unknown keys are errors.

Checks that need one entry only live here (a time zone, working hours, ``until`` before
``since``); checks across entries (duplicate ids, references, overlaps, an email claimed twice)
are in :mod:`shipwise.orgfile.validate`.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

FORMAT_VERSION = 1

#: an id of an org unit, a team or a service: no spaces, as in canonical files
Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200,
                                      pattern=r"^[^\s]+$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
DeliveryUnit = Literal["deployments", "pull_requests", "commits"]
WORKING_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
#: team attributes the file names at the team's top level (and the readers that use them)
TEAM_ATTRIBUTES = ("timezone", "working_hours", "working_days", "team_type", "location",
                   "working_arrangement", "incident_window_hours", "incident_labels")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrgUnitSpec(Strict):
    id: Id
    name: Text | None = None
    parent: Id | None = None


class IncidentLabels(Strict):
    """Which incident labels name the deployment or version that caused it: ``deploy:D-12``,
    ``version:1.4.2``. A null prefix turns that kind of label off."""

    deployment: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = "deploy:"
    version: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = "version:"


class TeamSpec(Strict):
    id: Id
    name: Text | None = None
    org_unit: Id
    delivery_unit: DeliveryUnit = "deployments"
    timezone: Text | None = None
    working_hours: Text | None = None
    working_days: list[int] | None = None
    team_type: Text | None = None
    location: Text | None = None
    working_arrangement: Text | None = None
    #: link an incident to the latest production deployment of its service this many hours
    #: before it opened, when nothing else links it (docs/incident-links.md)
    incident_window_hours: float | None = Field(default=None, gt=0, le=720)
    #: label prefixes naming the deployment or version that caused an incident
    incident_labels: IncidentLabels | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{value}' is not an IANA time zone (e.g. Europe/Lisbon)") from None
        return value

    @field_validator("working_hours")
    @classmethod
    def _hours(cls, value: str | None) -> str | None:
        if value is None:
            return None
        m = WORKING_HOURS.match(value.replace(" ", ""))
        if not m or (m.group(3) == "24" and m.group(4) != "00"):
            raise ValueError(f"'{value}' is not working hours \"HH:MM-HH:MM\" (e.g. 09:00-17:30)")
        start, end = value.replace(" ", "").split("-")
        if start == end:  # a night shift (22:00-06:00) wraps past midnight
            raise ValueError(f"working hours '{value}' start when they end")
        return f"{start}-{end}"

    @field_validator("working_days")
    @classmethod
    def _days(cls, value: list[int] | None) -> list[int] | None:
        if value is None:
            return None
        if not value or any(d < 1 or d > 7 for d in value) or len(set(value)) != len(value):
            raise ValueError("working_days are distinct ISO weekdays, 1 (Monday) to 7 (Sunday)")
        return sorted(value)

    @field_validator("attributes")
    @classmethod
    def _attributes(cls, value: dict[str, Any]) -> dict[str, Any]:
        named = sorted(set(value) & set(TEAM_ATTRIBUTES))
        if named:
            raise ValueError(f"give {', '.join(named)} at the team's top level, not under "
                             "attributes (they are checked there)")
        return value

    def all_attributes(self) -> dict[str, Any]:
        """What goes to the team's ``attributes`` JSON (strain and fairness read it)."""
        named = {k: getattr(self, k) for k in TEAM_ATTRIBUTES if getattr(self, k) is not None}
        if self.incident_labels is not None:
            named["incident_labels"] = self.incident_labels.model_dump()
        return {**self.attributes, **named}


class Period(Strict):
    since: date | None = None
    until: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.since is not None and self.until is not None and self.until < self.since:
            raise ValueError(f"until ({self.until}) is before since ({self.since})")
        return self


class Membership(Period):
    team: Id
    since: date  # a membership starts on a day


class PersonSpec(Strict):
    emails: list[Text] = Field(default_factory=list)
    logins: list[Text] = Field(default_factory=list)
    #: other ids: a provider-qualified login, or a pseudonym ``p_…`` this store already holds
    ids: list[Text] = Field(default_factory=list)
    bot: bool = False
    memberships: list[Membership] = Field(default_factory=list)

    @model_validator(mode="after")
    def _named(self) -> PersonSpec:
        if not (self.emails or self.logins or self.ids):
            raise ValueError("a person needs at least one of emails, logins or ids")
        return self

    def all_ids(self) -> list[tuple[str, str, int]]:
        """(raw id, key, index) in order: emails, logins, ids; the first is the canonical one."""
        return [(v, key, i) for key in ("emails", "logins", "ids")
                for i, v in enumerate(getattr(self, key))]


class Owner(Period):
    team: Id


class DeployTarget(Strict):
    repo: Text
    environment: Text | None = None
    job: Text | None = None


class ServiceSpec(Strict):
    id: Id
    name: Text | None = None
    team: Id | None = None
    owners: list[Owner] = Field(default_factory=list)
    repos: list[Text] = Field(default_factory=list)
    deploy_targets: list[DeployTarget] = Field(default_factory=list)

    @model_validator(mode="after")
    def _owned(self) -> ServiceSpec:
        if self.team is not None and self.owners:
            raise ValueError("give either team (one owner throughout) or owners (over time), "
                             "not both")
        if self.team is None and not self.owners:
            raise ValueError("a service needs an owner: team, or owners over time")
        return self

    def ownership(self) -> list[Owner]:
        return self.owners or [Owner(team=self.team or "")]


class OrgFile(Strict):
    version: Literal[1]
    org_units: list[OrgUnitSpec] = Field(default_factory=list)
    teams: list[TeamSpec] = Field(default_factory=list)
    people: list[PersonSpec] = Field(default_factory=list)
    services: list[ServiceSpec] = Field(default_factory=list)
