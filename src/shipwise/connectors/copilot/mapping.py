"""Pure conversion of GitHub's Copilot metrics payload to canonical ``ai_usage`` rows.

One element of the answer is one day (``date``) of an organisation or team:
``total_active_users``, ``total_engaged_users``, and per feature the engaged users and counts —
``copilot_ide_code_completions.editors[].models[].languages[]`` (``total_code_suggestions``,
``total_code_acceptances``, ``total_code_lines_suggested``, ``total_code_lines_accepted``),
``copilot_ide_chat.editors[].models[]`` (``total_chats``), ``copilot_dotcom_chat.models[]``
(``total_chats``) and ``copilot_dotcom_pull_requests.repositories[].models[]``
(``total_pr_summaries_created``). A feature the organisation has not enabled is absent (its
counts stay empty, not 0). The day becomes one ``ai_usage`` row of tool ``copilot``:

* ``active_users`` / ``engaged_users``: the day's totals;
* ``suggestions_shown`` / ``suggestions_accepted`` / ``lines_suggested`` / ``lines_accepted``:
  the completions' counts summed over editors, models and languages;
* ``chat_sessions``: IDE and github.com chats summed; ``agent_sessions``: not reported by this
  API (empty); ``cost``: not in the API (empty: seat spend comes as an investment or a file).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import pyarrow as pa

TOOL = "copilot"

SCHEMA = pa.schema([
    ("team", pa.string()), ("day", pa.date32()), ("tool", pa.string()),
    ("active_users", pa.int64()), ("engaged_users", pa.int64()),
    ("suggestions_shown", pa.int64()), ("suggestions_accepted", pa.int64()),
    ("lines_suggested", pa.int64()), ("lines_accepted", pa.int64()),
    ("chat_sessions", pa.int64()), ("agent_sessions", pa.int64()),
    ("source", pa.string()),
])


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _sum(values: Iterable[int | None]) -> int | None:
    """The sum of the values given (None when none is)."""
    got = [v for v in values if v is not None]
    return sum(got) if got else None


def _items(obj: Any, key: str) -> list[Mapping[str, Any]]:
    value = obj.get(key) if isinstance(obj, Mapping) else None
    return [x for x in value if isinstance(x, Mapping)] if isinstance(value, list) else []


def completions(day: Mapping[str, Any], field: str) -> int | None:
    """``field`` of the IDE code completions summed over editors, models and languages."""
    feature = day.get("copilot_ide_code_completions")
    return _sum(_int(lang.get(field)) for editor in _items(feature, "editors")
                for model in _items(editor, "models") for lang in _items(model, "languages"))


def chats(day: Mapping[str, Any]) -> int | None:
    """IDE and github.com chats of the day."""
    ide = (_int(m.get("total_chats")) for e in _items(day.get("copilot_ide_chat"), "editors")
           for m in _items(e, "models"))
    dotcom = (_int(m.get("total_chats")) for m in _items(day.get("copilot_dotcom_chat"), "models"))
    return _sum([*ide, *dotcom])


def usage_row(day: Mapping[str, Any], team: str, source: str) -> dict[str, Any] | None:
    """The ``ai_usage`` row of one day of the payload (None when it has no readable date)."""
    try:
        when = date.fromisoformat(str(day.get("date")))
    except ValueError:
        return None
    return {
        "team": team, "day": when, "tool": TOOL,
        "active_users": _int(day.get("total_active_users")),
        "engaged_users": _int(day.get("total_engaged_users")),
        "suggestions_shown": completions(day, "total_code_suggestions"),
        "suggestions_accepted": completions(day, "total_code_acceptances"),
        "lines_suggested": completions(day, "total_code_lines_suggested"),
        "lines_accepted": completions(day, "total_code_lines_accepted"),
        "chat_sessions": chats(day), "agent_sessions": None, "source": source,
    }


def table(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist([dict(r) for r in rows], schema=SCHEMA)
