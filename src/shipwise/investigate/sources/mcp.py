"""Bring your own sources: an MCP server's tools as evidence (``investigate.sources.mcp``).

Each configured server is reached with the official MCP SDK's client — started as a subprocess
and spoken to over stdio (``command``/``args``), or over streamable HTTP (``url``, with a bearer
token from the environment variable ``token_env``). Each mapped tool is called once per
investigation with its arguments template filled in from the scope (:func:`fill`), and its
answer — the structured result, else the text parsed as JSON — read as one kind of evidence:

- ``metrics`` — rows ``{"entity", "metric", "time", "value"}`` (``timestamp`` and ``service``
  are accepted for ``time`` and ``entity``);
- ``logs`` — lines as in a case's ``logs.jsonl`` (``time``, ``entity``/``service``, ``level``,
  ``message``, ``instance``, ``trace_id``, ``exception: {type, message, stack}``); only WARN and
  worse are kept;
- ``events`` — changes and actions as in ``events.jsonl`` (``id``, ``time``, ``kind``,
  ``entity``, ``actor``, ``summary``, ``details``);
- ``topology`` — ``{"nodes": [{"id", "kind"}], "edges": [{"source", "target", "relation"}]}``.

A list may also come wrapped in an object under ``rows``, ``items``, ``result``, or the kind's
own name. Items outside the window are dropped; an item that cannot be read fails the source
with what was wrong (the investigation goes on with the other sources).
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import anyio
import httpx2
import numpy as np
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from shipwise.errors import InputError, TransientError
from shipwise.investigate.case import Series, load_topology, parse_time
from shipwise.investigate.evidence import Evidence, LogLine, Scope
from shipwise.investigate.settings import McpSourceSettings, McpToolSettings
from shipwise.investigate.sources.base import EvidenceSource
from shipwise.investigate.sources.files import event_from_json

_WARN = {"WARN": "WARN", "WARNING": "WARN", "ERROR": "ERROR", "FATAL": "FATAL",
         "CRITICAL": "CRITICAL"}


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def fill(template: Any, scope: Scope) -> Any:
    """The arguments template with the scope's values in its strings (recursively)."""
    values = {"entity": scope.alarm.entity, "metric": scope.alarm.metric,
              "start": f"{scope.start:.0f}", "end": f"{scope.end:.0f}",
              "start_iso": _iso(scope.start), "end_iso": _iso(scope.end),
              "changes_start": f"{scope.changes_from:.0f}",
              "changes_start_iso": _iso(scope.changes_from),
              "minutes": f"{(scope.end - scope.start) / 60:.0f}"}
    if isinstance(template, str):
        try:
            return template.format_map(values)
        except (KeyError, ValueError, IndexError) as exc:
            raise InputError(f"argument template {template!r}: {exc}",
                             hint="placeholders: " + ", ".join(f"{{{k}}}" for k in values)) from None
    if isinstance(template, dict):
        return {k: fill(v, scope) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, scope) for v in template]
    return template


class McpSource(EvidenceSource):
    """One MCP server and its mapped tools."""

    def __init__(self, settings: McpSourceSettings) -> None:
        self.settings = settings
        self.name = f"mcp:{settings.name}"

    def describe(self) -> str:
        s = self.settings
        where = s.url if s.url else " ".join([str(s.command), *s.args])
        return f"{self.name}: {where} (tools {', '.join(t.tool for t in s.tools)})"

    def check(self) -> list[str]:
        s = self.settings
        problems = []
        if s.command is not None and shutil.which(s.command) is None:
            problems.append(f"command {s.command!r} not found")
        if s.url is not None:
            u = urlparse(s.url)
            if u.scheme not in ("http", "https") or not u.netloc:
                problems.append(f"url {s.url!r} is not an http(s) URL")
        if s.token_env and not os.environ.get(s.token_env):
            problems.append(f"environment variable {s.token_env} (the token) is not set")
        return problems

    @asynccontextmanager
    async def _client(self) -> Any:
        s = self.settings
        if s.url is not None:
            headers = {"Authorization": f"Bearer {os.environ[s.token_env]}"} if s.token_env else {}
            async with httpx2.AsyncClient(headers=headers, timeout=s.timeout_seconds) as http, \
                    Client(streamable_http_client(s.url, http_client=http),
                           read_timeout_seconds=s.timeout_seconds) as client:
                yield client
        else:
            params = StdioServerParameters(command=str(s.command), args=list(s.args),
                                           env=dict(s.env) or None)
            async with Client(params, read_timeout_seconds=s.timeout_seconds) as client:
                yield client

    async def _call_all(self, scope: Scope) -> list[tuple[McpToolSettings, Any]]:
        out = []
        with anyio.fail_after(self.settings.timeout_seconds * (1 + len(self.settings.tools))):
            async with self._client() as client:
                for t in self.settings.tools:
                    result = await client.call_tool(t.tool, fill(t.arguments, scope))
                    out.append((t, answer_of(t.tool, result)))
        return out

    def fetch(self, scope: Scope) -> Evidence:
        try:
            answers = anyio.run(self._call_all, scope)
        except Exception as exc:
            leaf = _leaf(exc)  # the SDK's task groups wrap what failed
            if isinstance(leaf, InputError | TransientError):
                raise leaf from None
            raise TransientError(f"MCP server {self.settings.name}: {type(leaf).__name__}: "
                                 f"{leaf}") from exc
        out = Evidence()
        for t, data in answers:
            ref = f"{self.name}/{t.tool}"
            out.merge(to_evidence(t.evidence, data, scope, ref))
        return out


def _leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def answer_of(tool: str, result: Any) -> Any:
    """A tool's answer as JSON: its structured content (unwrapped from ``{"result": …}``), else
    its text content parsed as JSON."""
    if getattr(result, "is_error", False):
        text = " ".join(getattr(c, "text", "") for c in result.content)
        raise TransientError(f"tool {tool} failed: {text[:300]}")
    data = getattr(result, "structured_content", None)
    if data is not None:
        if isinstance(data, dict) and set(data) == {"result"}:
            return data["result"]
        return data
    texts = [c.text for c in result.content if getattr(c, "type", "") == "text"]
    if not texts:
        return []
    try:
        return json.loads(texts[0]) if len(texts) == 1 else [json.loads(t) for t in texts]
    except ValueError:
        raise InputError(f"tool {tool} answered text that is not JSON: {texts[0][:120]!r}",
                         hint="map only tools that answer JSON (or structured content)") from None


def _items(data: Any, kind: str) -> list[dict[str, Any]]:
    if isinstance(data, dict):
        for key in ("rows", "items", "result", kind):
            if isinstance(data.get(key), list):
                data = data[key]
                break
    if not isinstance(data, list):
        raise InputError(f"expected a list of {kind}, got {type(data).__name__}")
    bad = next((i for i, x in enumerate(data) if not isinstance(x, dict)), None)
    if bad is not None:
        raise InputError(f"{kind}[{bad}] is not an object")
    return data


def to_evidence(kind: str, data: Any, scope: Scope, ref: str) -> Evidence:
    """One tool's answer as evidence of ``kind``, cut to the scope's window."""
    try:
        return _CONVERT[kind](data, scope, ref)
    except InputError as exc:
        raise InputError(f"{ref}: {exc}", hint=exc.hint or "see docs/investigation.md, "
                         "'Bring your own sources through MCP', for the shapes") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{ref}: cannot read the {kind} it answered ({type(exc).__name__}: "
                         f"{exc})", hint="see docs/investigation.md, 'Bring your own sources "
                                         "through MCP', for the shapes") from None


def _metrics(data: Any, scope: Scope, ref: str) -> Evidence:
    points: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for _, r in enumerate(_items(data, "metrics")):
        t = parse_time(r.get("time", r.get("timestamp")))
        if not scope.start <= t <= scope.end:
            continue
        key = (str(r.get("entity") or r["service"]), str(r["metric"]))
        points.setdefault(key, []).append((t, float(r["value"])))
    out = Evidence()
    for key, pts in points.items():
        pts.sort()
        out.metrics[key] = Series(np.array([t for t, _ in pts]), np.array([v for _, v in pts]))
        out.metric_refs[key] = f"{ref}?entity={key[0]}&metric={key[1]}"
    return out


def _logs(data: Any, scope: Scope, ref: str) -> Evidence:
    logs = []
    for i, r in enumerate(_items(data, "logs")):
        level = _WARN.get(str(r.get("level", "")).upper())
        t = parse_time(r["time"])
        if level is None or not scope.start <= t <= scope.end:
            continue
        raw_exc = r.get("exception")
        exc: dict[str, Any] = raw_exc if isinstance(raw_exc, dict) else {}
        logs.append(LogLine(t, str(r.get("entity") or r.get("service") or ""), level,
                            str(r.get("message", "")), str(r.get("instance", "")),
                            str(r.get("trace_id", "")), str(exc.get("type", "")),
                            str(exc.get("message", "")), str(exc.get("stack", "")),
                            f"{ref}#{i}"))
    return Evidence(logs=logs)


def _events(data: Any, scope: Scope, ref: str) -> Evidence:
    events = [event_from_json(r, f"{ref}#{i}") for i, r in enumerate(_items(data, "events"))]
    return Evidence(events=[e for e in events if scope.changes_from <= e.time <= scope.end])


def _topology(data: Any, scope: Scope, ref: str) -> Evidence:
    if not isinstance(data, dict):
        raise InputError(f"expected a topology object, got {type(data).__name__}",
                         hint='{"nodes": [{"id", "kind"}], "edges": [{"source", "target"}]}')
    g = load_topology(data)
    for a, b in g.edges:
        g.edges[a, b].setdefault("seen_in", ref)
    return Evidence(topology=g)


_CONVERT = {"metrics": _metrics, "logs": _logs, "events": _events, "topology": _topology}
