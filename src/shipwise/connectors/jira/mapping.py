"""Pure conversions from Jira's REST payloads to canonical rows. No I/O: every function takes
what Jira returned and gives plain dicts in the columns of ``docs/canonical-format.md``;
:func:`table` turns a list of them into Arrow.

Conventions:

* a ticket's and an incident's id is the issue key (``PAY-123``);
* a ticket's status events come from its changelog (items with ``field == "status"``), plus its
  status at creation (the first change's ``fromString``, else its current status) at ``created``;
* no person is read: authors, assignees and reporters stay in Jira.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import pyarrow as pa

from shipwise.config import JiraFieldMap, JiraStatuses

INSTANT = pa.timestamp("us", tz="UTC")

SCHEMAS: dict[str, pa.Schema] = {
    "ticket_status": pa.schema([
        ("ticket", pa.string()), ("team", pa.string()), ("at", INSTANT), ("status", pa.string()),
        ("category", pa.string()), ("blocked_on", pa.string()),
    ]),
    "incident": pa.schema([
        ("id", pa.string()), ("service", pa.string()), ("severity", pa.string()),
        ("opened_at", INSTANT), ("resolved_at", INSTANT), ("caused_by", pa.string()),
        ("labels", pa.list_(pa.string())), ("source", pa.string()),
    ]),
}

#: Jira's status categories (``statusCategory.key``) as ticket categories.
STATUS_CATEGORY = {"new": "todo", "indeterminate": "in_progress", "done": "done"}

#: Priority names (Cloud's and Data Center's defaults, and P1-P5) as severities.
DEFAULT_SEVERITY = {
    "highest": "sev1", "high": "sev2", "medium": "sev3", "low": "sev4", "lowest": "sev5",
    "blocker": "sev1", "critical": "sev2", "major": "sev3", "minor": "sev4", "trivial": "sev5",
    "p1": "sev1", "p2": "sev2", "p3": "sev3", "p4": "sev4", "p5": "sev5",
}

#: The fields every search asks for (besides those a mapping names).
BASE_FIELDS = ("created", "updated", "status", "priority", "project", "components", "labels",
               "resolutiondate", "issuelinks")


def instant(value: Any) -> datetime | None:
    """Jira's ``2024-01-02T03:04:05.000+0000`` (or any ISO-8601 with an offset) as aware UTC;
    ``None`` when missing or unreadable (a required field is then quarantined as missing)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else None


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def jql_date(value: datetime, zone: tzinfo) -> str:
    """An instant as a JQL date literal, ``"2024-01-02 03:04"``, in ``zone`` (Jira reads JQL
    dates in the searching user's time zone), rounded down to the minute (JQL's resolution)."""
    return value.astimezone(zone).strftime('"%Y-%m-%d %H:%M"')


def lower_bound(watermark: datetime, overlap: timedelta, zone: tzinfo) -> str:
    """The JQL clause reading everything updated at or after ``watermark - overlap``. When that
    local time occurs twice (the hour a daylight-saving clock goes back), Jira may read the later
    one: the bound is then written an hour earlier, so nothing is skipped."""
    start = watermark - overlap
    local = start.astimezone(zone)
    if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():
        start -= timedelta(hours=1)
    return f"updated >= {jql_date(start, zone)}"


def fields_wanted(*maps: JiraFieldMap | None, extra: Iterable[str | None] = ()) -> list[str]:
    out = list(BASE_FIELDS)
    for fm in maps:
        if fm is not None and fm.from_ not in ("project", "component", "label"):
            out.append(fm.from_)
    out += [f for f in extra if f]
    return list(dict.fromkeys(out))


def _texts(value: Any) -> list[str]:
    """A field's value as texts: a string or number, an option (``value``), an object
    (``name``/``key``/``displayName`` is not read: no people), or a list of those."""
    if value is None:
        return []
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    if isinstance(value, Mapping):
        for k in ("value", "name", "key"):
            if isinstance(value.get(k), str | int) and not isinstance(value.get(k), bool):
                return [str(value[k])]
        return []
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        text = str(value).strip()
        return [text] if text else []
    return []


def candidates(issue: Mapping[str, Any], source: str) -> list[str]:
    """The values ``source`` (``project``, ``component``, ``label`` or a field id) names."""
    fields = issue.get("fields") or {}
    if source == "project":
        project = fields.get("project") or {}
        return [str(project["key"])] if isinstance(project, Mapping) and project.get("key") else []
    if source == "component":
        return _texts([c.get("name") for c in fields.get("components") or []
                       if isinstance(c, Mapping)])
    if source == "label":
        return _texts(fields.get("labels"))
    return _texts(fields.get(source))


def resolve(issue: Mapping[str, Any], fm: JiraFieldMap) -> str | None:
    """The team or service an issue belongs to under ``fm`` (see :class:`JiraFieldMap`)."""
    values = candidates(issue, fm.from_)
    lowered = {k.lower(): v for k, v in fm.map.items()}
    for value in values:
        if value.lower() in lowered:
            return lowered[value.lower()]
    if fm.default is not None:
        return fm.default
    return values[0] if values else None


def category(name: str | None, jira_category: str | None, cfg: JiraStatuses) -> str | None:
    """A status's ticket category: ``categories`` > ``blocked`` > Jira's status category."""
    if name is None:
        return None
    low = name.lower()
    for k, v in cfg.categories.items():
        if k.lower() == low:
            return v
    if any(b.lower() == low for b in cfg.blocked):
        return "blocked"
    return STATUS_CATEGORY.get(str(jira_category or "").lower())


def blocked_on(name: str, cfg: JiraStatuses) -> str | None:
    for k, v in cfg.blocked_on.items():
        if k.lower() == name.lower():
            return v
    return None


def status_index(statuses: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """``GET /status`` as status id → category key and lower-cased name → category key."""
    out: dict[str, str] = {}
    for s in statuses:
        key = str((s.get("statusCategory") or {}).get("key") or "")
        if s.get("id") is not None:
            out[f"id:{s['id']}"] = key
        if s.get("name"):
            out[f"name:{str(s['name']).lower()}"] = key
    return out


def status_changes(histories: Iterable[Mapping[str, Any]]) -> list[tuple[datetime, dict[str, Any]]]:
    """The status items of a changelog, oldest first, each with its instant."""
    out = []
    for h in histories:
        at = instant(h.get("created"))
        if at is None:
            continue
        for item in h.get("items") or []:
            if isinstance(item, Mapping) and item.get("field") == "status":
                out.append((at, dict(item)))
    out.sort(key=lambda pair: pair[0])
    return out


def ticket_rows(issue: Mapping[str, Any], histories: Sequence[Mapping[str, Any]],
                team: str | None, cfg: JiraStatuses,
                index: Mapping[str, str]) -> list[dict[str, Any]]:
    """An issue's ``ticket_status`` events: its status at creation, then each change. Two at
    one instant keep the last (the key is ticket + at)."""
    key = str(issue.get("key"))
    fields = issue.get("fields") or {}
    current = fields.get("status") or {}
    changes = status_changes(histories)
    created = instant(fields.get("created"))
    steps: list[tuple[datetime | None, str | None, str | None]] = []
    if changes:
        first = changes[0][1]
        steps.append((created, first.get("fromString"), first.get("from")))
        steps += [(at, item.get("toString"), item.get("to")) for at, item in changes]
    else:
        steps.append((created, current.get("name"), current.get("id")))
    by_at: dict[datetime | None, dict[str, Any]] = {}
    for at, name, status_id in steps:
        jira_cat = index.get(f"id:{status_id}") or index.get(f"name:{str(name or '').lower()}")
        if name is not None and str(name) == current.get("name"):
            jira_cat = jira_cat or (current.get("statusCategory") or {}).get("key")
        cat = category(name, jira_cat, cfg)
        by_at[at] = {"ticket": key, "team": team, "at": at, "status": name, "category": cat,
                     "blocked_on": blocked_on(name, cfg) if name and cat == "blocked" else None}
    return list(by_at.values())


def severity(priority: Any, overrides: Mapping[str, str]) -> str | None:
    name = str(priority.get("name") or "") if isinstance(priority, Mapping) else ""
    for k, v in overrides.items():
        if k.lower() == name.lower():
            return v
    return DEFAULT_SEVERITY.get(name.lower())


def caused_by(issue: Mapping[str, Any], field: str | None, link: str | None) -> str | None:
    """The causing deployment's id: ``field``'s value, else the key of the issue linked by the
    phrase ``link`` (``is caused by``), as the issue shows it."""
    fields = issue.get("fields") or {}
    if field:
        values = _texts(fields.get(field))
        if values:
            return values[0]
    if link:
        phrase = link.strip().lower()
        for lk in fields.get("issuelinks") or []:
            if not isinstance(lk, Mapping):
                continue
            kind = lk.get("type") or {}
            for side, words in (("inwardIssue", "inward"), ("outwardIssue", "outward")):
                other = lk.get(side)
                if isinstance(other, Mapping) and str(kind.get(words) or "").lower() == phrase:
                    return str(other.get("key"))
    return None


def incident_row(issue: Mapping[str, Any], service: str | None, severities: Mapping[str, str],
                 cause_field: str | None, cause_link: str | None,
                 source: str | None = None) -> dict[str, Any]:
    """A Jira Service Management incident (any issue, really) as a canonical ``incident``:
    opened at ``created``, resolved at ``resolutiondate``, severity from its priority, its
    labels kept (a team's ``incident_labels`` may link it to a deployment by them)."""
    fields = issue.get("fields") or {}
    key = str(issue.get("key"))
    labels = sorted({str(x) for x in fields.get("labels") or [] if isinstance(x, (str, int))})
    return {"id": key, "service": service,
            "severity": severity(fields.get("priority"), severities),
            "opened_at": instant(fields.get("created")),
            "resolved_at": instant(fields.get("resolutiondate")),
            "caused_by": caused_by(issue, cause_field, cause_link),
            "labels": labels or None,
            "source": f"{source} incident {key}" if source else None}


def unknown_causes_as_labels(rows: list[dict[str, Any]],
                             known: Callable[[Collection[str]], set[str]]) -> None:
    """An incident whose cause field names a deployment the store does not have keeps it as the
    label ``deploy:<id>`` instead (the importer would refuse the whole incident for an unknown
    ``caused_by``); once that deployment arrives, the label links them (docs/incident-links.md)."""
    causes = {r["caused_by"] for r in rows if r.get("caused_by")}
    have = known(causes) if causes else set()
    for r in rows:
        cause = r.get("caused_by")
        if cause and cause not in have:
            r["labels"] = sorted({*(r.get("labels") or []), f"deploy:{cause}"})
            r["caused_by"] = None


def table(kind: str, rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=SCHEMAS[kind])
