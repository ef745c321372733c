"""Alarms and investigations: a member or lead sees those of their team's services (and may start
one on them); an admin sees everything, including entities that are no team's service; an exec is
refused — incidents are operational detail, not an organisation view."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from contextlib import nullcontext
from datetime import UTC, date, datetime
from typing import Any

from shipwise.app import investigate as engine
from shipwise.app.alarms import list_alarms
from shipwise.app.caller import Caller
from shipwise.app.explain import explain_incident
from shipwise.app.guard import Access, guard
from shipwise.app.response_results import (
    IncidentDetail,
    IncidentFilters,
    IncidentList,
    IncidentRow,
)
from shipwise.app.results import (
    AlarmRow,
    Investigation,
    InvestigationQueued,
    InvestigationSummary,
    Verification,
)
from shipwise.errors import InputError, NotFoundError
from shipwise.investigate.case import parse_time
from shipwise.investigate.steps import steps_of
from shipwise.investigate.verify import verify_record
from shipwise.notify import plan as outbox
from shipwise.store import incidents as incident_table
from shipwise.store import investigations as table
from shipwise.store import org
from shipwise.store.duckdb_store import lend


@guard("alarms.read", accesses=lambda c, a: [Access("alarms.read", "alarms", c.own_team)])
def alarms(caller: Caller, *, status: str | None = None, limit: int = 50) -> list[AlarmRow]:
    """The latest alarm intake rows, newest first (without raw payloads)."""
    rows = list_alarms(caller.settings, status, limit, session=lambda: nullcontext(caller.store),
                       team=caller.own_team)
    return [AlarmRow.model_validate(r) for r in rows]


@guard("investigations.read",
       accesses=lambda c, a: [Access("investigations.read", "investigations", c.own_team)])
def investigations(caller: Caller, *, limit: int = 50) -> list[InvestigationSummary]:
    """The latest investigations, newest alarm first."""
    return [InvestigationSummary.model_validate(r)
            for r in table.recent(caller.store, team=caller.own_team, limit=limit)]


def _investigation_access(caller: Caller, arguments: Mapping[str, Any]) -> Iterable[Access]:
    found = table.entity_of(caller.store, arguments["inv_id"])
    team = org.service_team(caller.store, found) if found is not None else caller.own_team
    return [Access("investigations.read", f"investigation:{arguments['inv_id']}", team)]


@guard("investigations.read", accesses=_investigation_access)
def investigation(caller: Caller, inv_id: str) -> Investigation:
    """One investigation record, for whoever may read the investigations of its service's team."""
    record = table.record(caller.store, inv_id)
    if record is None:
        raise NotFoundError(f"no investigation {inv_id!r}",
                            hint="`shipwise investigations list` or GET /api/v1/investigations")
    if not record.get("steps"):  # stored before investigations kept their steps
        record["steps"] = steps_of(record)
    return Investigation.model_validate(record)


def _start_access(caller: Caller, arguments: Mapping[str, Any]) -> Iterable[Access]:
    entity = arguments["entity"]
    if not org.service_exists(caller.store, entity):
        return [Access("investigations.start", f"service:{entity}", caller.own_team)]
    return [Access("investigations.start", f"service:{entity}",
                   org.service_team(caller.store, entity))]


@guard("investigations.start", accesses=_start_access)
def start_investigation(caller: Caller, entity: str, at: datetime, metric: str | None = None, *,
                        receive: Callable[[bytes, str], dict[str, Any]]) -> InvestigationQueued:
    """Queue an investigation of ``entity`` at ``at``: a generic alarm handed to ``receive`` (the
    server's intake, which stores it and queues it for the investigation worker)."""
    if not org.service_exists(caller.store, entity):  # services are public: a 404
        raise NotFoundError(f"unknown service {entity!r}", hint="GET /api/v1/services lists them")
    if at.tzinfo is None:
        raise InputError("'at' needs a UTC offset", hint="e.g. 2026-09-01T10:00:00Z")
    p = caller.principal
    body = {"entity": entity, "metric": metric or "", "time": at.isoformat(),
            "alertname": "investigation requested",
            "summary": f"requested through the {caller.interface} by {p.name or p.role}"}
    result = receive(json.dumps(body).encode(), "generic")
    if result["rejected"]:
        raise InputError(result["rejected"], hint=result["hint"])
    return InvestigationQueued(id=result["ids"][0], queued=bool(result["accepted"]),
                               duplicate=result["duplicate"], entity=entity, at=at.isoformat(),
                               metric=metric)


@guard("investigations.start", accesses=lambda c, a: [Access(
    "investigations.start", f"service:{a['entity']}", org.service_team(c.store, a["entity"]))])
def may_investigate(caller: Caller, entity: str) -> None:
    """Refuse (logged) unless the caller may start an investigation of ``entity``: a member or
    lead on their own team's services; an entity that is no team's service, admins only."""


def _entity_access(caller: Caller, arguments: Mapping[str, Any]) -> Iterable[Access]:
    entity = arguments.get("service") or engine.alarm_entity(alarm_file=arguments["alarm_file"])
    return [Access("investigations.start", f"service:{entity}", org.service_team(caller.store,
                                                                               str(entity)))]


@guard("investigations.start", accesses=_entity_access)
def investigate(caller: Caller, *, alarm_file: str | None = None, service: str | None = None,
                at: str | float = "now", metric: str = "") -> Investigation:
    """Investigate the alarm in ``alarm_file``, or what happened to ``service`` around ``at``,
    against the sources configured in shipwise.yaml and the caller's store, and store the
    record there (one connection: the evidence read and the record written)."""
    held = lend(caller.store)
    if alarm_file is not None:
        record = engine.investigate_alarm_file(caller.settings, alarm_file, session=held)
    else:
        record = engine.investigate_service(caller.settings, str(service), at, metric,
                                            session=held)
    return Investigation.model_validate(record)


def _record_access(caller: Caller, arguments: Mapping[str, Any]) -> Iterable[Access]:
    entity = str(arguments["record"]["alarm"]["entity"])
    return [Access("investigations.start", f"service:{entity}", org.service_team(caller.store,
                                                                               entity))]


@guard("investigations.start", accesses=_record_access)
def store_investigation(caller: Caller, record: dict[str, Any]) -> Investigation:
    """Store an investigation made elsewhere (e.g. of a case directory) in the caller's store."""
    engine.save_investigation(caller.store, record, caller.settings.notify)
    return Investigation.model_validate(record)


def _verify_access(caller: Caller, arguments: Mapping[str, Any]) -> Iterable[Access]:
    checks = list(_investigation_access(caller, arguments))
    if arguments.get("record"):  # writing into the record: as starting an investigation
        checks.append(Access("investigations.start", f"investigation:{arguments['inv_id']}",
                             checks[0].team))
    return checks


@guard("investigations.read", accesses=_verify_access)
def verify_investigation(caller: Caller, inv_id: str, *, at: str | float = "now",
                         minutes: float = 10, record: bool = False) -> Verification:
    """Re-read from Prometheus every series investigation ``inv_id`` found anomalous and say,
    per series, whether it is back to the pre-incident baseline the investigation used (with
    the PromQL to watch). Nothing is stored unless ``record`` (then the verification is added
    to the investigation's record, under ``verifications``)."""
    rec = table.record(caller.store, inv_id)
    if rec is None:
        raise NotFoundError(f"no investigation {inv_id!r}",
                            hint="`shipwise investigations list` or GET /api/v1/investigations")
    if "anomalous_series" not in rec:
        raise InputError(f"investigation {inv_id!r} predates verification (no anomalous series "
                         "with their baseline in its record)",
                         hint="investigate the alarm again, then verify the new record")
    t = None if str(at).lower() == "now" else parse_time(at)
    result = verify_record(rec, caller.settings.investigate.sources.prometheus, at=t,
                           minutes=float(minutes))
    if record:
        result["recorded_at"] = datetime.now(UTC).isoformat()
        notify = caller.settings.notify
        with caller.store.transaction():  # the verification and its notifications: both or neither
            table.add_verification(caller.store, inv_id, result)
            if notify.channels:
                outbox.write_investigation(caller.store, notify, {
                    **rec, "verifications": [*rec.get("verifications", []), result]},
                    event="investigation.verified", link=notify.link(inv_id))
    return Verification.model_validate({
        "investigation_id": result["investigation_id"],
        "at": datetime.fromtimestamp(result["at"], tz=UTC), "minutes": result["minutes"],
        "status": result["status"], "test": result["test"], "series": result["series"],
        "watch": result["watch"], "recorded": bool(record)})


# -- imported incidents (the incident table: canonical import, PagerDuty, Opsgenie, ServiceNow,
# -- Jira) -------------------------------------------------------------------------------------

def _instant(name: str, value: str | date | datetime | None) -> datetime | None:
    """A filter bound as naive UTC (the store's instants): a day (its midnight) or an instant
    with an offset."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    else:
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InputError(f"{name} {value!r} is not a day or an instant",
                             hint="e.g. 2026-09-01 or 2026-09-01T10:00:00Z") from None
        if len(value.strip()) == 10:  # a day
            return moment
    if moment.tzinfo is None:
        raise InputError(f"{name} {value!s} needs a UTC offset", hint="e.g. 2026-09-01T10:00:00Z")
    return moment.astimezone(UTC).replace(tzinfo=None)


def _incidents_access(caller: Caller, arguments: Mapping[str, Any]) -> Iterable[Access]:
    team, service = arguments.get("team"), arguments.get("service")
    if service:
        if not org.service_exists(caller.store, service):
            raise NotFoundError(f"unknown service {service!r}", hint="`shipwise services` lists them")
        return [Access("investigations.read", f"service:{service}:incidents",
                       org.service_team(caller.store, service))]
    if team:
        if not org.team_exists(caller.store, team):
            raise NotFoundError(f"unknown team {team!r}", hint="`shipwise teams` lists them")
        return [Access("investigations.read", f"team:{team}:incidents", team)]
    return [Access("investigations.read", "incidents", caller.own_team)]


@guard("investigations.read", accesses=_incidents_access)
def incident_list(caller: Caller, *, team: str | None = None, service: str | None = None,
                  severity: str | None = None, since: str | date | datetime | None = None,
                  until: str | date | datetime | None = None, open_only: bool = False,
                  limit: int = 200) -> IncidentList:
    """Imported incidents, newest first: of ``service``, of ``team``'s services, else of the
    reader's team (admins: every team's, and those of services no team owns); ``severity``
    exactly; opened from ``since`` (a day or an instant) and before ``until``; ``open_only``:
    unresolved. Each with its duration, the deployment that caused it and the investigations
    that cover it."""
    start, end = _instant("since", since), _instant("until", until)
    if start is not None and end is not None and start >= end:
        raise InputError(f"since {since} is not before until {until}")
    if limit < 1:
        raise InputError("limit must be at least 1")
    scope = team or caller.own_team
    total, rows = incident_table.listing(
        caller.store, team=None if service else scope, service=service or None,
        severity=severity or None, since=start, until=end, open_only=open_only, limit=limit)
    facets = incident_table.facets(caller.store, team=scope)
    return IncidentList(
        total=total, incidents=[IncidentRow.model_validate(r) for r in rows],
        filters=IncidentFilters(team=scope, service=service or None, severity=severity or None,
                                since=start, until=end, open_only=open_only), **facets)


def _one_incident_access(caller: Caller, arguments: Mapping[str, Any]) -> Iterable[Access]:
    iid = arguments["incident_id"]
    service = incident_table.service_of(caller.store, iid)
    if service is None:
        raise NotFoundError(f"no incident {iid!r} in the store",
                            hint="`shipwise incidents list` or GET /api/v1/imported-incidents")
    return [Access("investigations.read", f"incident:{iid}", org.service_team(caller.store,
                                                                             service))]


@guard("investigations.read", accesses=_one_incident_access)
def incident_detail(caller: Caller, incident_id: str) -> IncidentDetail:
    """One imported incident: its row (duration, cause, covering investigations) and why it is
    linked to a deployment or not (as ``explain incident``)."""
    row = incident_table.get(caller.store, incident_id)
    if row is None:  # pragma: no cover - the access check found it
        raise NotFoundError(f"no incident {incident_id!r} in the store")
    return IncidentDetail(incident=IncidentRow.model_validate(row),
                          explanation=explain_incident(caller, incident_id))
