"""Optional prose from an OpenAI-compatible chat endpoint (docs/ask.md): an answer or a summary
rephrased from the record's facts only — never new facts.

The model is handed the question, the deterministic answer and its facts, and told to use
nothing else. Its reply is refused when it names a figure that is not in them (a number the
record does not hold), when it is empty, or on any HTTP error or timeout: the caller then keeps
the deterministic answer, which is always shown beside the prose anyway.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from shipwise.config import LlmSettings

SYSTEM = ("You rephrase facts from an incident investigation for an on-call engineer. Use ONLY "
          "the facts given; never add causes, figures, names or advice that are not in them. "
          "Answer the question in two to four plain sentences. If the facts do not answer it, "
          "say so.")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


class ProseError(Exception):
    """The endpoint failed, timed out, or replied with something unusable."""


@dataclass(frozen=True)
class Prose:
    text: str
    model: str


def messages(question: str, answer: str, facts: Sequence[str]) -> list[dict[str, str]]:
    """The chat messages: the rules, then the question, the answer and its facts."""
    listed = "\n".join(f"- {f}" for f in facts) or "- (none)"
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Question: {question}\n\nAnswer from the record: "
                                        f"{answer}\n\nFacts:\n{listed}"}]


def _number(n: str) -> str:
    n = n.replace(",", ".")
    if "." in n:
        n = n.rstrip("0").rstrip(".")
    return n or "0"


def _numbers(text: str) -> set[str]:
    return {_number(n) for n in _NUMBER.findall(text)}


def check(prose: str, question: str, answer: str, facts: Sequence[str]) -> str:
    """Why ``prose`` may not be shown ('' when it may): empty, or a figure not in the facts."""
    if not prose.strip():
        return "the model returned no text"
    allowed = _numbers(" ".join([question, answer, *facts]))
    extra = sorted(_numbers(prose) - allowed)
    if extra:
        return "the model's prose named figures that are not in the record: " + ", ".join(extra[:5])
    return ""


def rephrase(settings: LlmSettings, question: str, answer: str, facts: Sequence[str], *,
             client: httpx.Client | None = None) -> Prose:
    """The answer in prose from ``settings``' endpoint (``POST {url}/chat/completions``)."""
    if not settings.url:
        raise ProseError("no llm.url configured")
    headers = {"Content-Type": "application/json"}
    key = settings.api_key()
    if key is not None:
        headers["Authorization"] = f"Bearer {key.get_secret_value()}"
    body = {"model": settings.model, "messages": messages(question, answer, facts),
            "temperature": 0, "max_tokens": settings.max_tokens, "stream": False}
    url = settings.url.rstrip("/") + "/chat/completions"
    try:
        if client is None:
            with httpx.Client(timeout=settings.timeout_seconds) as own:
                resp = own.post(url, json=body, headers=headers)
        else:
            resp = client.post(url, json=body, headers=headers, timeout=settings.timeout_seconds)
    except httpx.HTTPError as exc:
        raise ProseError(f"{type(exc).__name__} from {url}") from exc
    if resp.status_code != 200:
        raise ProseError(f"{url} answered HTTP {resp.status_code}")
    try:
        data = resp.json()
        text = str(data["choices"][0]["message"]["content"] or "").strip()
        model = str(data.get("model") or settings.model)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ProseError(f"{url} answered no chat completion ({type(exc).__name__})") from exc
    problem = check(text, question, answer, facts)
    if problem:
        raise ProseError(problem)
    return Prose(text, model)
