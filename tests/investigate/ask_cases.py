"""The fixed on-call questions of ``ask_questions.yaml`` and how an answer is graded (shared by
tests/investigate/test_ask.py and bench/bench_ask.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

QUESTIONS = Path(__file__).with_name("ask_questions.yaml")


def load_questions() -> list[dict[str, Any]]:
    return list(yaml.safe_load(QUESTIONS.read_text(encoding="utf-8")))


def grade(item: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """What is wrong with answer ``got`` to ``item`` (empty: answered correctly): the intent,
    every expected text (``a|b``: either) in the answer or its facts, the evidence reference,
    and a reference on every fact."""
    problems = []
    if not got["answered"]:
        problems.append("not answered")
    if got["intent"] != item["intent"]:
        problems.append(f"intent {got['intent']!r}, expected {item['intent']!r}")
    text = " ".join([got["answer"], *(f["text"] for f in got["facts"])]).lower()
    for want in item["expect"]:
        if not any(alt.lower() in text for alt in str(want).split("|")):
            problems.append(f"missing {want!r}")
    refs = [f["ref"] for f in got["facts"]]
    if not any(item["ref"] in r for r in refs):
        problems.append(f"no fact cites {item['ref']!r} (refs: {sorted(set(refs))[:6]})")
    if any(not r for r in refs):
        problems.append("a fact without an evidence reference")
    return problems
