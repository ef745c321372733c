"""What each service is sent about an investigation: pure functions from the stored record to the
request each receiver's API documents (no I/O; the deliverer adds the secrets and sends).

A request is ``{"method", "path", "body"}`` (``path`` below the channel's base URL; "" for a
webhook, whose URL is the secret), plus for ServiceNow ``lookup`` (the incident number whose
``sys_id`` the PATCH needs) and for a Slack thread reply ``reply: true`` (the deliverer sets
``thread_ts`` from the thread's first message). Every text carries the row's marker
(``shipwise:<row id>``) so a receiver that can be read back is checked before a retry.
"""

from __future__ import annotations

from typing import Any

#: Slack: a header block's text is at most 150 characters, a section's 3,000
_HEADER_MAX = 150
_SECTION_MAX = 3000
_STATUS = {"root_cause_found": "Root cause found", "inconclusive": "Inconclusive"}


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def facts(record: dict[str, Any], event: str, link: str | None = None) -> dict[str, Any]:
    """The few facts every message shows, from a stored investigation record."""
    alarm = record.get("alarm") or {}
    root = record.get("root_cause") or {}
    status = _STATUS.get(str(record.get("status")), str(record.get("status") or "unknown"))
    what = f"{alarm.get('entity')}" + (f" {alarm.get('metric')}" if alarm.get("metric") else "")
    verb = {"investigation.saved": "Investigation", "investigation.verified": "Verification",
            "investigation.updated": "Investigation updated"}.get(event, "Investigation")
    verification = (record.get("verifications") or [{}])[-1] if event == "investigation.verified" \
        else {}
    return {
        "id": record.get("id"),
        "title": f"{verb}: {what} at {alarm.get('at') or alarm.get('time')}",
        "status": status,
        "root": (f"{root.get('statement')} (confidence {float(root.get('confidence') or 0):.0%}, "
                 f"{root.get('confidence_label', '')})") if root else "No root cause named.",
        "impact": str((record.get("impact") or {}).get("summary") or "not measured"),
        "observations": [str(o.get("text")) for o in (record.get("key_observations") or [])[:3]],
        "ruled_out": [f"{r.get('observation')}: {r.get('reason')}"
                      for r in (record.get("ruled_out") or [])[:3]],
        "verification": (f"{verification.get('status')}: {verification.get('test', '')}"
                         if verification else None),
        "link": link,
        "show": f"shipwise investigations show {record.get('id')}",
    }


def _lines(f: dict[str, Any]) -> list[tuple[str, str]]:
    out = [("Status", f["status"]), ("Root cause", f["root"]), ("Customer impact", f["impact"])]
    if f["verification"]:
        out.append(("Verification", f["verification"]))
    if f["observations"]:
        out.append(("Key observations", "\n".join(f"• {o}" for o in f["observations"])))
    if f["ruled_out"]:
        out.append(("Ruled out", "\n".join(f"• {o}" for o in f["ruled_out"])))
    out.append(("Record", f["link"] or f["show"]))
    return out


def plain(f: dict[str, Any], marker: str) -> str:
    """The message as plain text (ServiceNow work notes, PagerDuty notes, Slack's fallback)."""
    body = "\n".join(f"{k}: {v}" for k, v in _lines(f))
    return f"{f['title']}\n{body}\n[{marker}]"


def slack_blocks(f: dict[str, Any], marker: str) -> list[dict[str, Any]]:
    """Block Kit: a header, a section per fact, and a context line with the marker."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(f["title"], _HEADER_MAX)}}]
    for k, v in _lines(f):
        blocks.append({"type": "section",
                       "text": {"type": "mrkdwn", "text": _cut(f"*{k}*\n{v}", _SECTION_MAX)}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": marker}]})
    return blocks


def slack_webhook(f: dict[str, Any], marker: str) -> dict[str, Any]:
    return {"method": "POST", "path": "",
            "body": {"text": _cut(plain(f, marker), 3000), "blocks": slack_blocks(f, marker)}}


def slack_api(f: dict[str, Any], marker: str, channel: str, *, reply: bool) -> dict[str, Any]:
    """``chat.postMessage``: the thread's first message, or (``reply``) a reply in it."""
    req: dict[str, Any] = {"method": "POST", "path": "/chat.postMessage", "body": {
        "channel": channel, "text": _cut(plain(f, marker), 3000), "blocks": slack_blocks(f, marker),
        "unfurl_links": False, "unfurl_media": False}}
    if reply:
        req["reply"] = True
    return req


def teams(f: dict[str, Any], marker: str) -> dict[str, Any]:
    """An Adaptive Card (1.4) in a ``message`` (Teams incoming webhook or Workflows)."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": f["title"], "weight": "Bolder", "size": "Medium",
         "wrap": True},
        {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in _lines(f)
                                      if k in ("Status", "Root cause", "Customer impact",
                                               "Verification")]},
    ]
    for k, v in _lines(f):
        if k in ("Key observations", "Ruled out"):
            body.append({"type": "TextBlock", "text": f"**{k}**", "wrap": True})
            body.append({"type": "TextBlock", "text": v.replace("• ", "- "), "wrap": True})
    body.append({"type": "TextBlock", "text": marker, "isSubtle": True, "size": "Small",
                 "wrap": True})
    card: dict[str, Any] = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                            "type": "AdaptiveCard", "version": "1.4", "body": body}
    if f["link"]:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open the investigation",
                            "url": f["link"]}]
    return {"method": "POST", "path": "", "body": {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
         "content": card}]}}


def _adf_text(text: str, *, strong: bool = False) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": text}
    if strong:
        node["marks"] = [{"type": "strong"}]
    return node


def jira(f: dict[str, Any], marker: str, key: str, *, cloud: bool) -> dict[str, Any]:
    """A comment: REST v3 with an Atlassian Document Format body (Cloud), or REST v2 with a
    wiki-markup string (Data Center)."""
    if not cloud:
        text = f"*{f['title']}*\n" + "\n".join(
            f"*{k}:* {v}" if "\n" not in v else f"*{k}:*\n" + v.replace("• ", "* ")
            for k, v in _lines(f)) + f"\n{{{{{marker}}}}}"
        return {"method": "POST", "path": f"/rest/api/2/issue/{key}/comment",
                "body": {"body": text}}
    content: list[dict[str, Any]] = [
        {"type": "heading", "attrs": {"level": 3}, "content": [_adf_text(f["title"])]}]
    for k, v in _lines(f):
        if "\n" in v:
            content.append({"type": "paragraph", "content": [_adf_text(k, strong=True)]})
            content.append({"type": "bulletList", "content": [
                {"type": "listItem", "content": [{"type": "paragraph", "content": [
                    _adf_text(item.removeprefix("• "))]}]} for item in v.split("\n")]})
        else:
            content.append({"type": "paragraph", "content": [
                _adf_text(f"{k}: ", strong=True), _adf_text(v)]})
    content.append({"type": "paragraph", "content": [
        {"type": "text", "text": marker, "marks": [{"type": "code"}]}]})
    return {"method": "POST", "path": f"/rest/api/3/issue/{key}/comment",
            "body": {"body": {"type": "doc", "version": 1, "content": content}}}


def servicenow(f: dict[str, Any], marker: str, number: str) -> dict[str, Any]:
    """A work note: ``PATCH /api/now/table/incident/{sys_id}`` with ``work_notes`` (the sys_id
    is looked up by the incident's number when the row is delivered)."""
    return {"method": "PATCH", "path": "/api/now/table/incident/{sys_id}",
            "lookup": {"table": "incident", "number": number},
            "body": {"work_notes": plain(f, marker)}}


def pagerduty(f: dict[str, Any], marker: str, incident: str) -> dict[str, Any]:
    """``POST /incidents/{id}/notes`` (the ``From`` header is the channel's ``from_email``)."""
    return {"method": "POST", "path": f"/incidents/{incident}/notes",
            "body": {"note": {"content": _cut(plain(f, marker), 25_000)}}}


def github(record: dict[str, Any], f: dict[str, Any], marker: str, repo: str,
           labels: list[str], *, reply: bool = False) -> dict[str, Any] | None:
    """An issue holding the long-term fix spec (None: the investigation has none); with
    ``reply`` (the alarm investigated again), a comment on the thread's issue holding the new
    spec — ``{number}`` is the issue's, set when it is delivered; ``fallback`` opens an issue
    when the thread's first issue could not be opened."""
    spec = record.get("long_term_fix")
    if not spec:
        return None
    root = record.get("root_cause") or {}
    title = _cut(f"Long-term fix: {root.get('statement') or f['title']}", 256)
    body = (f"{spec}\n\n---\nFrom investigation `{f['id']}` ({f['status']}; "
            f"{f['impact']}). {f['link'] or '`' + f['show'] + '`'}\n\n<!-- {marker} -->")
    issue = {"method": "POST", "path": f"/repos/{repo}/issues",
             "body": {"title": title, "body": body, "labels": list(labels)}}
    if not reply:
        return issue
    return {"method": "POST", "path": f"/repos/{repo}/issues/{{number}}/comments", "reply": True,
            "body": {"body": f"Investigated again: {root.get('statement') or f['status']}\n\n"
                             f"{body}"}, "fallback": issue}


def slack_progress(title: str, text: str, marker: str, channel: str, *,
                   reply: bool) -> dict[str, Any]:
    """A progress message of an alarm's thread (investigating, failed): ``chat.postMessage``."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(title, _HEADER_MAX)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, _SECTION_MAX)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": marker}]}]
    req: dict[str, Any] = {"method": "POST", "path": "/chat.postMessage", "body": {
        "channel": channel, "text": _cut(f"{title}\n{text}\n[{marker}]", 3000), "blocks": blocks,
        "unfurl_links": False, "unfurl_media": False}}
    if reply:
        req["reply"] = True
    return req
