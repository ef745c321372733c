"""Alarm payloads of monitoring SaaS: Datadog's webhook integration and Grafana's unified
alerting webhook (docs/alarms.md). Pure functions, no I/O.

**Datadog** (``kind: datadog``): the Webhooks integration POSTs the JSON payload configured on
the webhook, with ``$VARIABLES`` filled in. Its default payload (``id``, ``title``, ``body``,
``date``, ``last_updated``, ``event_type``, ``org``) is read, and the variables docs/alarms.md
recommends adding (``alert_id``, ``alert_cycle_key``, ``alert_transition``, ``alert_metric``,
``alert_scope``, ``tags``, ``hostname``, ``alert_type``, ``priority``, ``link``…); upper-case
keys named after the variables (``ALERT_ID``) are read too. Entity: the ``service:`` tag of the
alert's scope, else of its tags (then ``entity:``, ``kube_deployment:``, ``host:``), else the
hostname. Time: ``date`` (epoch milliseconds, as ``$DATE`` gives it), else ``last_updated``.
``Recovered`` (or ``alert_type: success``) is a resolved notice; every other transition —
``Triggered``, ``Re-Triggered``, ``Warn``, ``No Data`` — fires.

**Grafana** (``kind: grafana``): Grafana unified alerting's webhook contact point — the
Alertmanager webhook shape (``version: "1"``) with Grafana's own fields (``orgId``, ``state``,
``title``; per alert ``values``, ``valueString``, ``dashboardURL``, ``panelURL``,
``silenceURL``). Parsed as an Alertmanager notification, then keyed and described as Grafana's.
"""

from __future__ import annotations

from typing import Any

from shipwise.errors import InputError
from shipwise.investigate.alarm_shapes import (
    DOCS,
    AlarmBatch,
    Notice,
    compact,
    digest,
    instant,
    number,
    obj,
)
from shipwise.investigate.case import Alarm

#: tags naming the entity of a Datadog alert, strongest first
DATADOG_ENTITY_TAGS = ("service", "entity", "kube_deployment", "kube_service", "host")
#: transitions that end an alert (anything else fires)
DATADOG_RESOLVED = ("recovered", "success")
#: keys that tell a Datadog webhook payload apart from other shapes
DATADOG_KEYS = ("alert_transition", "alert_cycle_key", "alert_scope", "ALERT_TRANSITION",
                "ALERT_CYCLE_KEY", "ALERT_SCOPE", "aggreg_key", "AGGREG_KEY")
#: fields only Grafana's webhook has (beside the Alertmanager ones)
GRAFANA_TOP = ("orgId", "state", "title")
GRAFANA_ALERT = ("valueString", "values", "silenceURL", "dashboardURL", "panelURL")


def looks_like_datadog(data: dict[str, Any]) -> bool:
    if any(k in data for k in DATADOG_KEYS):
        return True
    # the default payload: id, title, body, date, last_updated, event_type, org
    return {"event_type", "last_updated"} <= set(data) and isinstance(data.get("org"), dict)


def looks_like_grafana(data: dict[str, Any]) -> bool:
    alerts = data.get("alerts")
    if not isinstance(alerts, list):
        return False
    if any(k in data for k in GRAFANA_TOP):
        return True
    return any(isinstance(a, dict) and any(k in a for k in GRAFANA_ALERT) for a in alerts)


def _field(data: dict[str, Any], name: str) -> Any:
    """A Datadog field by its payload key (``alert_id``) or its variable's name (``ALERT_ID``);
    a variable Datadog left unfilled (``$ALERT_ID``) or empty counts as missing."""
    for key in (name, name.upper()):
        v = data.get(key)
        if v is None or (isinstance(v, str) and (not v.strip() or v.startswith("$"))):
            continue
        return v
    return None


def _tags(value: Any) -> dict[str, str]:
    """``service:checkout,env:prod`` (or a list of such) → {name: value} (the first of each)."""
    items = value if isinstance(value, list) else str(value or "").split(",")
    out: dict[str, str] = {}
    for item in items:
        name, sep, v = str(item).strip().partition(":")
        if sep and name and v:
            out.setdefault(name.strip(), v.strip())
    return out


def datadog(data: Any, received_at: float) -> AlarmBatch:
    where = "datadog payload"
    if not isinstance(data, dict):
        raise InputError(f"{where}: not an object",
                         hint="a Datadog webhook payload is a JSON object; " + DOCS)
    scope, tags = _tags(_field(data, "alert_scope")), _tags(_field(data, "tags"))
    entity = next((src[k] for k in DATADOG_ENTITY_TAGS for src in (scope, tags) if src.get(k)),
                  None) or _field(data, "hostname")
    title = str(_field(data, "alert_title") or _field(data, "title") or "")
    transition = str(_field(data, "alert_transition") or "").strip()
    alert_type = str(_field(data, "alert_type") or "").strip().lower()
    alert_id = _field(data, "alert_id")
    cycle = _field(data, "alert_cycle_key")
    if alert_id is not None and cycle is not None:
        key = f"datadog:{alert_id}:{cycle}"
    elif _field(data, "id") is not None:
        key = f"datadog:event:{_field(data, 'id')}"
    else:
        key = f"datadog:{digest(data)}"
    if _field(data, "date") is not None:
        when = instant(_field(data, "date"), f"{where}.date", millis=True)
    elif _field(data, "last_updated") is not None:
        when = instant(_field(data, "last_updated"), f"{where}.last_updated", millis=True)
    else:
        when = received_at
    metric = str(_field(data, "alert_metric") or title or "")
    if transition.lower() in DATADOG_RESOLVED or alert_type in DATADOG_RESOLVED:
        notice = Notice(f"{key}:{transition.lower() or alert_type}", "resolved", metric,
                        None if entity is None else str(entity))
        return AlarmBatch("datadog", resolved=(notice,))
    if entity is None:
        raise InputError(
            f"{where} ({title or 'untitled'}): nothing names the entity",
            hint="group the monitor by service (its scope then holds service:<name>), or add "
                 '"alert_scope": "$ALERT_SCOPE", "tags": "$TAGS" and "hostname": "$HOSTNAME" to '
                 "the webhook's payload; " + DOCS)
    if not metric:
        raise InputError(f"{where}: neither alert_metric nor a title",
                         hint='add "alert_metric": "$ALERT_METRIC" to the payload; ' + DOCS)
    source = compact({
        "kind": "datadog", "key": key, "alertname": title or None,
        "summary": _field(data, "alert_status") or _field(data, "body"),
        "transition": transition or None, "severity": _field(data, "priority"),
        "alert_type": alert_type or None, "monitor_id": alert_id,
        "query": _field(data, "alert_query"), "scope": _field(data, "alert_scope"),
        "threshold": number(_field(data, "threshold")), "link": _field(data, "link"),
        "event_type": _field(data, "event_type"), "payload": data,
    })
    return AlarmBatch("datadog", (Alarm(str(entity), metric, when, source),))


def grafana(batch: AlarmBatch, data: dict[str, Any]) -> AlarmBatch:
    """An Alertmanager-shaped batch of a Grafana notification, as Grafana's: ``grafana:`` keys
    and Grafana's fields (values, dashboard and panel links, the org) in every alarm's source."""
    def rekey(key: str) -> str:
        return "grafana:" + key.removeprefix("alertmanager:")

    alarms = []
    for a in batch.alarms:
        alert = obj(a.source.get("payload"))
        extra = compact({
            "values": alert.get("values") or None, "value_string": alert.get("valueString"),
            "dashboard_url": alert.get("dashboardURL"), "panel_url": alert.get("panelURL"),
            "silence_url": alert.get("silenceURL"), "org_id": data.get("orgId"),
            "title": data.get("title"),
        })
        alarms.append(Alarm(a.entity, a.metric, a.time,
                            {**a.source, **extra, "kind": "grafana",
                             "key": rekey(str(a.source["key"]))}))
    resolved = tuple(Notice(rekey(n.key), n.state, n.name, n.entity) for n in batch.resolved)
    return AlarmBatch("grafana", tuple(alarms), resolved)
