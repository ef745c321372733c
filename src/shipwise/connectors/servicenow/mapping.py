"""Pure conversions from ServiceNow Table API records to canonical ``incident`` rows. No I/O.

Records are read with ``sysparm_display_value=false`` and ``sysparm_exclude_reference_link=true``:
every value is a string (``""`` when empty), a reference is the referenced record's sys_id, a
choice is its stored value (priority ``"1"``…``"5"``), a date/time is UTC as
``YYYY-MM-DD HH:MM:SS``. A dot-walked field (``business_service.name``) comes under its dotted
name. No person is read: ``resolved_by`` and friends are only compared with the configured
automation accounts and never leave this module.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

INSTANT = pa.timestamp("us", tz="UTC")
SCHEMA = pa.schema([
    ("id", pa.string()), ("service", pa.string()), ("severity", pa.string()),
    ("opened_at", INSTANT), ("resolved_at", INSTANT), ("caused_by", pa.string()),
    ("human_actioned", pa.bool_()), ("labels", pa.list_(pa.string())), ("source", pa.string()),
])

#: what ServiceNow writes for a date/time (and accepts in an encoded query, read as UTC)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

#: incident fields read besides the configured service (and its ``.name``) and severity fields
BASE_FIELDS = ("sys_id", "number", "sys_updated_on", "opened_at", "resolved_at", "closed_at",
               "category", "subcategory", "caused_by", "resolved_by", "closed_by", "assigned_to")


@dataclass(frozen=True)
class Change:
    """A change_request as an incident's cause: its number, and the deployment it names."""

    number: str
    deployment: str | None = None


@dataclass(frozen=True)
class Rules:
    """How one source maps incidents (from its settings and the organisation)."""

    name: str
    service_field: str
    #: ServiceNow service/CI sys_id or name, lower-cased -> shipwise service
    services: Mapping[str, str]
    #: the shipwise services the organisation has (a ServiceNow name equal to one maps to it)
    known_services: Collection[str]
    severity_field: str
    severity: Mapping[str, str]
    automation_users: Collection[str] = ()


def text(value: Any) -> str:
    """A field's value as text (``""`` for missing, null, or an object without ``value``)."""
    if isinstance(value, Mapping):  # a reference left with its link: {"link", "value"}
        value = value.get("value")
    if value is None or isinstance(value, bool | list | dict):
        return ""
    return str(value).strip()


def instant(value: Any) -> datetime | None:
    """``2026-01-02 03:04:05`` (UTC) as an aware instant; ``None`` when empty or unreadable (a
    required field is then quarantined as missing)."""
    raw = text(value)
    if not raw:
        return None
    try:
        return datetime.strptime(raw, TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def glide(value: datetime) -> str:
    """An instant as a date/time value of an encoded query (UTC, whole seconds)."""
    return value.astimezone(UTC).strftime(TIME_FORMAT)


def fields_wanted(rules: Rules) -> list[str]:
    return list(dict.fromkeys([*BASE_FIELDS, rules.service_field, f"{rules.service_field}.name",
                               rules.severity_field]))


def service(x: Mapping[str, Any], rules: Rules) -> str | None:
    """The shipwise service of an incident: ``services`` by sys_id, then by name, then a name
    the organisation has; else the ServiceNow name (or sys_id), which the importer quarantines
    as an unknown service with the reason; ``None`` (missing service) when the field is empty."""
    sys_id = text(x.get(rules.service_field))
    name = text(x.get(f"{rules.service_field}.name"))
    mapped = rules.services.get(sys_id.lower()) or rules.services.get(name.lower())
    if mapped:
        return mapped
    if name and name in rules.known_services:
        return name
    return name or sys_id or None


def severity(x: Mapping[str, Any], rules: Rules) -> str | None:
    """The configured severity of the severity field's value; an unmapped value is kept as
    ``priority 7`` so the importer quarantines it with the value in the reason."""
    value = text(x.get(rules.severity_field))
    if not value:
        return None
    return rules.severity.get(value) or f"{rules.severity_field} {value}"


def human_actioned(x: Mapping[str, Any], rules: Rules) -> bool:
    """True when a person acted: whoever resolved (else closed) it, else its assignee, is set
    and is not one of the automation accounts."""
    actor = text(x.get("resolved_by")) or text(x.get("closed_by")) or text(x.get("assigned_to"))
    return bool(actor) and actor not in rules.automation_users


def labels(x: Mapping[str, Any], change: Change | None) -> list[str]:
    out = [f"{k}:{text(x.get(k))}" for k in ("category", "subcategory") if text(x.get(k))]
    if change is not None:
        out.append(f"change:{change.number}")
        if change.deployment:
            out.append(f"deploy:{change.deployment}")
    return out


def incident_row(x: Mapping[str, Any], rules: Rules, changes: Mapping[str, Change],
                 deployments: Collection[str]) -> dict[str, Any]:
    """A ServiceNow incident as a canonical ``incident``: id ``<source>:<number>``, opened at
    ``opened_at``, resolved at ``resolved_at`` (else ``closed_at``). Its ``caused_by`` change is
    a ``change:<number>`` label; when the change names a deployment, that is a ``deploy:<id>``
    label and — only if the store has that deployment (``deployments``), since the importer
    refuses an incident naming an unknown one — the incident's ``caused_by``."""
    number = text(x.get("number")) or text(x.get("sys_id"))
    change = changes.get(text(x.get("caused_by"))) if text(x.get("caused_by")) else None
    cause = change.deployment if change is not None else None
    return {
        "id": f"{rules.name}:{number}",
        "service": service(x, rules),
        "severity": severity(x, rules),
        "opened_at": instant(x.get("opened_at")),
        "resolved_at": instant(x.get("resolved_at")) or instant(x.get("closed_at")),
        "caused_by": cause if cause is not None and cause in deployments else None,
        "human_actioned": human_actioned(x, rules),
        "labels": labels(x, change),
        "source": f"servicenow:{rules.name} incident {number}",
    }


def table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=SCHEMA)
