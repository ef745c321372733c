"""Alarm intake: webhook payloads turned into :class:`~shipwise.investigate.case.Alarm` s.

Pure functions, no I/O. Six shapes are understood (see ``docs/alarms.md``):

- ``alertmanager`` — a Prometheus Alertmanager webhook (``version: "4"``): one alarm per
  *firing* alert.
- ``grafana`` — Grafana unified alerting's webhook (the Alertmanager shape, ``version: "1"``,
  with Grafana's fields) and ``datadog`` — Datadog's webhook integration
  (:mod:`shipwise.investigate.alarm_vendors`).
- ``dynatrace`` — a Dynatrace problem notification (custom integration, default JSON payload).
- ``cloudwatch`` — a CloudWatch alarm delivered by SNS over HTTP(S): the SNS envelope whose
  ``Message`` is the alarm as a JSON string (or the alarm itself, with raw message delivery).
- ``generic`` — the case format's ``alarm.json`` (``{"entity", "metric", "time", ...}``) or a list.

Every alarm carries a stable ``source["key"]`` naming the alert it came from (the same alert
delivered twice has the same key), ``source["kind"]`` and ``source["payload"]`` (the original
alert, problem or alarm message). Resolved alerts produce no alarm; they are reported as
:class:`Notice` s. Malformed input raises :class:`~shipwise.errors.InputError` saying what is wrong.
"""

from __future__ import annotations

import json
import math
import re
import time
from datetime import UTC, datetime
from typing import Any

from shipwise.errors import InputError
from shipwise.investigate.alarm_shapes import DOCS, AlarmBatch, Notice, Subscription
from shipwise.investigate.alarm_shapes import compact as _compact
from shipwise.investigate.alarm_shapes import digest as _digest
from shipwise.investigate.alarm_shapes import instant as _instant
from shipwise.investigate.alarm_shapes import number as _number
from shipwise.investigate.alarm_shapes import obj as _obj
from shipwise.investigate.alarm_vendors import (
    datadog,
    grafana,
    looks_like_datadog,
    looks_like_grafana,
)
from shipwise.investigate.case import Alarm, parse_time

KINDS = ("alertmanager", "grafana", "datadog", "dynatrace", "cloudwatch", "generic")

#: Alertmanager labels naming the entity, strongest first.
ALERTMANAGER_ENTITY_LABELS = ("entity", "service", "job", "instance")
#: CloudWatch dimensions naming the entity, strongest first (else the alarm's first dimension).
CLOUDWATCH_ENTITY_DIMENSIONS = (
    "entity", "ServiceName", "service", "Service", "FunctionName", "AutoScalingGroupName",
    "TableName", "DBInstanceIdentifier", "DBClusterIdentifier", "QueueName", "TopicName",
    "CacheClusterId", "ClusterName", "LoadBalancer", "TargetGroup", "InstanceId",
)
_SNS_HANDSHAKES = ("SubscriptionConfirmation", "UnsubscribeConfirmation")
_MANY_ENTITIES = re.compile(r"^\d+ impacted entities$")


def parse_alarm_payload(payload: bytes | str | dict[str, Any] | list[Any], kind: str | None = None,
                        *, received_at: float | None = None) -> list[Alarm]:
    """The firing alarms of a webhook payload (``kind`` None: detected from its shape).

    ``received_at`` (epoch seconds, default now) is the time of an alarm whose payload has none.
    """
    return list(parse_alarm_batch(payload, kind, received_at=received_at).alarms)


def parse_alarm_batch(payload: bytes | str | dict[str, Any] | list[Any], kind: str | None = None,
                      *, received_at: float | None = None) -> AlarmBatch:
    """Like :func:`parse_alarm_payload`, with the resolved notices and any SNS handshake too."""
    if kind is not None and kind not in KINDS:
        raise InputError(f"unknown alarm kind {kind!r}", hint=f"use one of {', '.join(KINDS)}")
    data = load_payload(payload)
    now = time.time() if received_at is None else float(received_at)
    if kind is None:
        kind = detect_kind(data)
        return _PARSERS[kind](data, now)
    try:
        return _PARSERS[kind](data, now)
    except InputError as exc:
        other = _guess_kind(data)
        if other is None or other == kind:
            raise
        raise InputError(f"{exc} (the payload looks like kind '{other}', not '{kind}')",
                         hint=f"send it as kind '{other}' (POST /webhooks/{other})") from exc


def load_payload(payload: bytes | str | dict[str, Any] | list[Any]) -> Any:
    """The JSON value of a body (bytes or text); a dict or list is returned as it is."""
    if isinstance(payload, dict | list):
        check_value(payload)
        return payload
    if isinstance(payload, bytes):
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"body is not UTF-8 text (byte {exc.start})",
                             hint="send a JSON alarm payload encoded as UTF-8") from exc
    if not payload.strip():
        raise InputError("empty body: expected a JSON alarm payload", hint=DOCS)
    return strict_json(payload, "body")


#: Deepest nesting of objects and lists a payload may have (real ones stay under 12).
MAX_DEPTH = 64


def strict_json(text: str, where: str) -> Any:
    """Parse JSON that can be stored and read back safely: finite numbers, no lone surrogates,
    at most :data:`MAX_DEPTH` levels. Anything else is an :class:`InputError` saying why."""
    try:
        data = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                         hint=f"send a JSON alarm payload; {DOCS}") from exc
    except RecursionError as exc:
        raise InputError(f"{where} nests objects or lists deeper than {MAX_DEPTH} levels",
                         hint="send the alarm payload as the alerting system produces it") from exc
    except _NotFinite as exc:
        raise InputError(f"{where} holds {exc.args[0]}, which is not a JSON number",
                         hint="send finite numbers (JSON has no NaN or Infinity)") from exc
    check_value(data, where)
    return data


class _NotFinite(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise _NotFinite(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotFinite(text)
    return value


def check_value(data: Any, where: str = "body") -> None:
    """Refuse a parsed value that could not be stored as JSON or read back (iteratively: a deep
    value cannot exhaust the stack here)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise InputError(f"{where} nests objects or lists deeper than {MAX_DEPTH} levels",
                                 hint="send the alarm payload as the alerting system produces it")
            if isinstance(value, dict):
                for key, item in value.items():
                    _check_text(key, where)
                    stack.append((item, depth + 1))
            else:
                stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            _check_text(value, where)
        elif isinstance(value, float) and not math.isfinite(value):
            raise InputError(f"{where} holds {value!r}, which is not a JSON number",
                             hint="send finite numbers (JSON has no NaN or Infinity)")


def _check_text(value: object, where: str) -> None:
    if isinstance(value, str) and not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InputError(
                f"{where} holds a lone UTF-16 surrogate ({value[exc.start]!r}), which is not text",
                hint="escape characters outside the basic plane as a surrogate pair, or send "
                     "them as UTF-8") from exc


def detect_kind(data: Any) -> str:
    """Which of :data:`KINDS` a payload is, from its shape."""
    kind = _guess_kind(data)
    if kind is None:
        keys = ", ".join(sorted(map(str, data))[:12]) if isinstance(data, dict) else type(data).__name__
        raise InputError(
            f"cannot tell which kind of alarm this is (top level: {keys or 'empty object'})",
            hint="expected an Alertmanager or Grafana webhook (alerts), a Datadog webhook "
                 "(alert_transition, alert_scope), a Dynatrace problem (ProblemID, State), "
                 "an SNS message (Type, TopicArn) or {\"entity\", \"metric\", \"time\"}; " + DOCS)
    return kind


def _guess_kind(data: Any) -> str | None:
    if isinstance(data, list):
        return "generic"
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("alerts"), list):
        return "grafana" if looks_like_grafana(data) else "alertmanager"
    if looks_like_datadog(data):
        return "datadog"
    if "TopicArn" in data or data.get("Type") in ("Notification", *_SNS_HANDSHAKES):
        return "cloudwatch"
    if "AlarmName" in data and "NewStateValue" in data:
        return "cloudwatch"
    if any(k in data for k in ("ProblemID", "PID", "ProblemTitle")):
        return "dynatrace"
    if "entity" in data:
        return "generic"
    return None


# -- Alertmanager ------------------------------------------------------------------------------

def _alertmanager(data: Any, received_at: float) -> AlarmBatch:
    where = "alertmanager payload"
    if not isinstance(data, dict) or not isinstance(data.get("alerts"), list):
        raise InputError(f"{where}: no 'alerts' list",
                         hint="an Alertmanager webhook (version 4) has status, alerts[] and "
                              "groupLabels; " + DOCS)
    version = data.get("version")
    if version is not None and str(version) not in ("4", "1"):
        raise InputError(f"{where}: webhook version {version!r} is not supported",
                         hint="shipwise reads Alertmanager webhook version 4 (and Grafana's "
                              "version 1)")
    if not data["alerts"]:
        raise InputError(f"{where}: 'alerts' is empty", hint="a notification holds at least one alert")
    alarms: list[Alarm] = []
    resolved: list[Notice] = []
    for i, alert in enumerate(data["alerts"]):
        at = f"{where}: alerts[{i}]"
        if not isinstance(alert, dict):
            raise InputError(f"{at} is not an object", hint=DOCS)
        labels = alert.get("labels")
        if not isinstance(labels, dict) or not labels:
            raise InputError(f"{at} has no labels", hint="each alert needs labels (alertname, ...)")
        labels = {str(k): str(v) for k, v in labels.items()}
        annotations = _obj(alert.get("annotations"))
        name = labels.get("alertname", "")
        at = f"{at} ({name})" if name else at
        status = str(alert.get("status") or data.get("status") or "")
        entity = next((labels[k] for k in ALERTMANAGER_ENTITY_LABELS if labels.get(k)), None)
        if "startsAt" not in alert:
            raise InputError(f"{at} has no startsAt", hint="each alert needs startsAt (RFC 3339)")
        started = _instant(alert["startsAt"], f"{at}.startsAt")
        fingerprint = str(alert.get("fingerprint") or _digest(labels))
        key = f"alertmanager:{fingerprint}@{started:.3f}"
        if status == "resolved":
            resolved.append(Notice(key, "resolved", name, entity))
            continue
        if status != "firing":
            raise InputError(f"{at} has status {status!r}", hint="expected 'firing' or 'resolved'")
        if entity is None:
            raise InputError(
                f"{at} has no label naming the entity (labels: {', '.join(sorted(labels))})",
                hint="add one of the labels " + ", ".join(ALERTMANAGER_ENTITY_LABELS)
                     + " to the alerting rule")
        metric = labels.get("metric") or name
        if not metric:
            raise InputError(f"{at} has neither a 'metric' nor an 'alertname' label",
                             hint="alerting rules always set alertname; " + DOCS)
        source = _compact({
            "kind": "alertmanager", "key": key, "alertname": name or None,
            "severity": labels.get("severity"),
            "summary": annotations.get("summary") or annotations.get("description"),
            "threshold": _number(labels.get("threshold", annotations.get("threshold"))),
            "fingerprint": fingerprint, "generator_url": alert.get("generatorURL") or None,
            "receiver": data.get("receiver"), "group_key": data.get("groupKey"),
            "external_url": data.get("externalURL"), "payload": alert,
        })
        alarms.append(Alarm(entity, metric, started, source))
    return AlarmBatch("alertmanager", tuple(alarms), tuple(resolved))


# -- Dynatrace ---------------------------------------------------------------------------------

def _dynatrace(data: Any, received_at: float) -> AlarmBatch:
    where = "dynatrace payload"
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected a JSON object", hint=DOCS)
    problem = data.get("PID") or data.get("ProblemID")
    if not problem:
        raise InputError(f"{where}: no PID or ProblemID",
                         hint="use the custom integration's default payload: it has "
                              "\"PID\": \"{PID}\" and \"ProblemID\": \"{ProblemID}\"")
    title = str(data.get("ProblemTitle") or "")
    if not title:
        raise InputError(f"{where}: problem {problem} has no ProblemTitle",
                         hint="add \"ProblemTitle\": \"{ProblemTitle}\" to the payload")
    state = str(data.get("State") or "").upper()
    names = _impacted_names(data, where)
    entity = names[0] if names else _single_impacted_entity(data)
    key = f"dynatrace:{problem}"
    if state in ("RESOLVED", "CLOSED", "MERGED"):
        return AlarmBatch("dynatrace", resolved=(Notice(key, state.lower(), title, entity),))
    if state != "OPEN":
        raise InputError(f"{where}: problem {problem} has State {data.get('State')!r}",
                         hint="expected \"State\": \"{State}\" (OPEN, RESOLVED or MERGED)")
    if entity is None:
        raise InputError(f"{where}: problem {problem} names no impacted entity",
                         hint="add \"ImpactedEntities\": {ImpactedEntities} (no quotes) to the "
                              "custom payload")
    started, time_from = _dynatrace_start(data, where, received_at)
    details = _obj(data.get("ProblemDetailsJSON"))
    tags = data.get("Tags")
    source = _compact({
        "kind": "dynatrace", "key": key, "alertname": title, "summary": title,
        "severity": data.get("ProblemSeverity") or details.get("severityLevel"),
        "impact": data.get("ProblemImpact") or details.get("impactLevel"),
        "problem_id": data.get("ProblemID"), "pid": data.get("PID"),
        "url": data.get("ProblemURL") or data.get("Problem URL"),
        "impacted_entities": names or None,
        "tags": [t.strip() for t in tags.split(",") if t.strip()] if isinstance(tags, str) else tags,
        "time_from": time_from, "payload": data,
    })
    return AlarmBatch("dynatrace", (Alarm(entity, title, started, source),))


def _impacted_names(data: dict[str, Any], where: str) -> list[str]:
    impacted = data.get("ImpactedEntities")
    if isinstance(impacted, str) and impacted.strip().startswith("["):
        try:  # the placeholder quoted by mistake: "{ImpactedEntities}"
            impacted = strict_json(impacted, f"{where}: ImpactedEntities")
        except InputError as exc:
            raise InputError(f"{where}: ImpactedEntities is not a JSON list ({exc})",
                             hint="write {ImpactedEntities} without quotes in the payload") from exc
    names: list[str] = []
    if isinstance(impacted, list):
        for e in impacted:
            if isinstance(e, dict):
                name = e.get("name") or e.get("Name") or e.get("entity") or e.get("Entity")
                if name:
                    names.append(str(name))
    if not names and isinstance(data.get("ImpactedEntityNames"), str):
        names = [n.strip() for n in data["ImpactedEntityNames"].split(",") if n.strip()]
    return names


def _single_impacted_entity(data: dict[str, Any]) -> str | None:
    # {ImpactedEntity} is the entity's name, or "N impacted entities" when there are several.
    value = str(data.get("ImpactedEntity") or "").strip()
    return value if value and not _MANY_ENTITIES.match(value) else None


def _dynatrace_start(data: dict[str, Any], where: str, received_at: float) -> tuple[float, str]:
    """When the problem started: an added ProblemStartTime (or StartTime) field, else
    ProblemDetailsJSON.startTime, else the receipt time (the default payload carries no time)."""
    for name in ("ProblemStartTime", "StartTime"):
        if data.get(name) not in (None, "", -1):
            return _instant(data[name], f"{where}: {name}", millis=True), name
    details = data.get("ProblemDetailsJSON")
    if isinstance(details, dict) and details.get("startTime") not in (None, "", -1):
        return (_instant(details["startTime"], f"{where}: ProblemDetailsJSON.startTime", millis=True),
                "ProblemDetailsJSON.startTime")
    return received_at, "received_at"


# -- CloudWatch via SNS ------------------------------------------------------------------------

def _cloudwatch(data: Any, received_at: float) -> AlarmBatch:
    where = "cloudwatch payload"
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected a JSON object", hint=DOCS)
    sns: dict[str, Any] = {}
    if "Type" in data:
        kind = str(data["Type"])
        sns = {"message_id": data.get("MessageId"), "topic_arn": data.get("TopicArn"),
               "subject": data.get("Subject"), "timestamp": data.get("Timestamp")}
        if kind in _SNS_HANDSHAKES:
            url = data.get("SubscribeURL")
            if kind == "SubscriptionConfirmation" and not url:
                raise InputError(f"{where}: SubscriptionConfirmation without SubscribeURL",
                                 hint="an SNS subscription confirmation carries SubscribeURL")
            return AlarmBatch("cloudwatch", subscription=Subscription(
                kind, str(data.get("TopicArn") or ""), str(data.get("MessageId") or ""),
                str(url) if url else None))
        if kind != "Notification":
            raise InputError(f"{where}: SNS message Type {kind!r} is not understood",
                             hint="expected Notification, SubscriptionConfirmation or "
                                  "UnsubscribeConfirmation")
        message = data.get("Message")
        if not isinstance(message, str):
            raise InputError(f"{where}: SNS Notification without a Message string",
                             hint="CloudWatch publishes the alarm as a JSON string in Message")
        try:
            alarm = strict_json(message, f"{where}: the SNS Message")
        except InputError as exc:
            if "is not JSON" not in str(exc):
                raise
            raise InputError(f"{exc}, so not a CloudWatch alarm",
                             hint="subscribe this endpoint to the topic your CloudWatch alarm "
                                  "actions publish to") from exc
    else:
        alarm = data  # raw message delivery: the alarm itself
    if not isinstance(alarm, dict) or "AlarmName" not in alarm or "NewStateValue" not in alarm:
        raise InputError(f"{where}: the message is not a CloudWatch alarm (no AlarmName and "
                         "NewStateValue)", hint="CloudWatch alarm actions publish AlarmName, "
                         "NewStateValue, StateChangeTime and Trigger")
    name = str(alarm["AlarmName"])
    at = f"{where}: alarm {name!r}"
    state = str(alarm["NewStateValue"]).upper()
    if "StateChangeTime" not in alarm:
        raise InputError(f"{at} has no StateChangeTime", hint="CloudWatch always sends it; " + DOCS)
    changed = _instant(alarm["StateChangeTime"], f"{at}.StateChangeTime")
    key = f"cloudwatch:{alarm.get('AlarmArn') or name}@{changed:.3f}"
    trigger = _obj(alarm.get("Trigger"))
    dims = _dimensions(trigger)
    entity = next((dims[d] for d in CLOUDWATCH_ENTITY_DIMENSIONS if dims.get(d)), None)
    entity = entity or next(iter(dims.values()), None)
    if state in ("OK", "INSUFFICIENT_DATA"):
        return AlarmBatch("cloudwatch", resolved=(Notice(key, state.lower(), name, entity),))
    if state != "ALARM":
        raise InputError(f"{at} has NewStateValue {alarm['NewStateValue']!r}",
                         hint="expected ALARM, OK or INSUFFICIENT_DATA")
    if entity is None:
        raise InputError(f"{at} has no metric dimension naming the entity",
                         hint="alarm on a metric with a dimension such as "
                              + ", ".join(CLOUDWATCH_ENTITY_DIMENSIONS[1:7])
                              + " (composite alarms have none)")
    metric = _trigger_metric(trigger) or name
    source = _compact({
        "kind": "cloudwatch", "key": key, "alertname": name,
        "summary": alarm.get("AlarmDescription") or alarm.get("NewStateReason"),
        "reason": alarm.get("NewStateReason"), "threshold": _number(trigger.get("Threshold")),
        "comparison": trigger.get("ComparisonOperator"), "namespace": trigger.get("Namespace"),
        "dimensions": dims or None, "region": alarm.get("Region"),
        "account": alarm.get("AWSAccountId"), "alarm_arn": alarm.get("AlarmArn"),
        "sns": _compact(sns) or None, "payload": alarm,
    })
    return AlarmBatch("cloudwatch", (Alarm(entity, metric, changed, source),))


def _dimensions(trigger: dict[str, Any]) -> dict[str, str]:
    """name -> value of the trigger's dimensions (single metric, else every metric-math metric)."""
    lists = [trigger.get("Dimensions")]
    metrics = trigger.get("Metrics")
    for m in metrics if isinstance(metrics, list) else []:
        stat = m.get("MetricStat") if isinstance(m, dict) else None
        if isinstance(stat, dict) and isinstance(stat.get("Metric"), dict):
            lists.append(stat["Metric"].get("Dimensions"))
    dims: dict[str, str] = {}
    for items in lists:
        for d in items if isinstance(items, list) else []:
            if isinstance(d, dict):
                name, value = d.get("name", d.get("Name")), d.get("value", d.get("Value"))
                if name is not None and value is not None:
                    dims.setdefault(str(name), str(value))
    return dims


def _trigger_metric(trigger: dict[str, Any]) -> str | None:
    if trigger.get("MetricName"):
        return str(trigger["MetricName"])
    metrics = [m for m in trigger.get("Metrics") or [] if isinstance(m, dict)]
    for m in metrics:  # metric math: the expression that is returned, by its label
        if m.get("ReturnData") and (m.get("Label") or m.get("Id")):
            return str(m.get("Label") or m.get("Id"))
    for m in metrics:
        metric = (m.get("MetricStat") or {}).get("Metric") or {}
        if metric.get("MetricName"):
            return str(metric["MetricName"])
    return None


# -- generic (the case format's alarm.json) ----------------------------------------------------

_GENERIC_RESOLVED = ("resolved", "ok", "closed")
_GENERIC_FIRING = ("firing", "alarm", "open", "triggered")


def _generic(data: Any, received_at: float) -> AlarmBatch:
    where = "generic alarm"
    items = data if isinstance(data, list) else [data]
    if not items:
        raise InputError(f"{where}: the list is empty", hint="send at least one alarm")
    alarms: list[Alarm] = []
    resolved: list[Notice] = []
    for i, item in enumerate(items):
        at = f"{where}[{i}]" if isinstance(data, list) else where
        if not isinstance(item, dict):
            raise InputError(f"{at} is not an object",
                             hint="send {\"entity\": ..., \"metric\": ..., \"time\": ...} or a list")
        entity = item.get("entity")
        if not isinstance(entity, str) or not entity.strip():
            raise InputError(f"{at} has no entity",
                             hint="an alarm needs \"entity\" (the service that alarmed), "
                                  "\"metric\" and \"time\" (ISO-8601 with an offset, or epoch "
                                  "seconds)")
        metric = item.get("metric", "")
        if not isinstance(metric, str):
            raise InputError(f"{at}: metric must be a string, not {type(metric).__name__}")
        key = f"generic:{item['id']}" if item.get("id") not in (None, "") else f"generic:{_digest(item)}"
        status = str(item.get("status") or "firing").lower()
        if status in _GENERIC_RESOLVED:
            resolved.append(Notice(key, status, metric, entity))
            continue
        if status not in _GENERIC_FIRING:
            raise InputError(f"{at} has status {item.get('status')!r}",
                             hint="leave status out, or use firing or resolved")
        if item.get("time") in (None, ""):
            when, time_from = received_at, "received_at"
        else:
            when, time_from = _instant(item["time"], f"{at}.time"), "time"
        upstream = _obj(item.get("source"))
        fields = {k: item.get(k, upstream.get(k)) for k in ("alertname", "severity", "summary")}
        source = _compact({
            **{k: v for k, v in upstream.items() if k not in ("kind", "key", "payload")},
            **fields, "threshold": _number(item.get("threshold", upstream.get("threshold"))),
            "upstream_kind": upstream.get("kind"), "kind": "generic", "key": key,
            "time_from": time_from, "payload": item,
        })
        alarms.append(Alarm(entity, metric, when, source))
    return AlarmBatch("generic", tuple(alarms), tuple(resolved))


def _grafana(data: Any, received_at: float) -> AlarmBatch:
    if isinstance(data, dict) and str(data.get("version", "1")) != "1":
        raise InputError(f"grafana payload: webhook version {data.get('version')!r} is not "
                         "supported", hint="shipwise reads Grafana's webhook version 1")
    return grafana(_alertmanager(data, received_at), data)


_PARSERS = {"alertmanager": _alertmanager, "grafana": _grafana, "datadog": datadog,
            "dynatrace": _dynatrace, "cloudwatch": _cloudwatch, "generic": _generic}


# -- alarms as JSON ----------------------------------------------------------------------------

def alarm_to_dict(alarm: Alarm) -> dict[str, Any]:
    """The case format's ``alarm.json`` shape (time as ISO-8601 UTC)."""
    return {"entity": alarm.entity, "metric": alarm.metric, "time": iso_utc(alarm.time),
            "source": alarm.source}


def alarm_from_dict(data: dict[str, Any]) -> Alarm:
    """The inverse of :func:`alarm_to_dict`."""
    return Alarm(str(data["entity"]), str(data.get("metric") or ""), parse_time(data["time"]),
                 dict(data.get("source") or {}))


def iso_utc(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


# -- helpers -----------------------------------------------------------------------------------
