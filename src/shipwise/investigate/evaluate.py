"""Evaluate root-cause rankers on labelled cases: AC@k and Avg@5, per group and overall.

Definitions (as in RCAEval and the BARO paper, Pham et al. FSE 2024), for a set of cases each with
one true root-cause entity:

- ``AC@k`` = fraction of cases whose true root cause is among the top ``k`` ranked entities;
- ``Avg@5`` = mean of ``AC@1 .. AC@5``.

A case whose ranking does not contain the truth counts as a miss at every ``k``. Entities ranked
more than once count at their first position. The ranker is passed in (``rank_fn(case, method)``
returning objects with an ``entity`` attribute, best first), so this module depends on no ranker.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from shipwise.investigate.case import Case

KS = (1, 2, 3, 4, 5)


class _HasEntity(Protocol):
    @property
    def entity(self) -> str: ...


RankFn = Callable[[Case, str], Sequence[_HasEntity]]


def default_group(case: Case) -> str:
    """The case's scenario (``alarm.source["scenario"]``), else ``"all"``."""
    return str(case.alarm.source.get("scenario") or "all")


def rank_of(ranked: Iterable[str], truth: str) -> int | None:
    """1-based position of ``truth`` among the distinct ``ranked`` entities, or ``None``."""
    seen: set[str] = set()
    for e in ranked:
        if e in seen:
            continue
        seen.add(e)
        if e == truth:
            return len(seen)
    return None


def accuracy(ranks: Sequence[int | None]) -> dict[str, float]:
    """``{"ac1".."ac5", "avg5"}`` from the truth positions of a set of cases (NaN if empty)."""
    n = len(ranks)
    out: dict[str, float] = {}
    for k in KS:
        out[f"ac{k}"] = (sum(1 for r in ranks if r is not None and r <= k) / n) if n else float("nan")
    out["avg5"] = sum(out[f"ac{k}"] for k in KS) / len(KS)
    return out


def _summary(ranks: list[int | None], seconds: list[float]) -> dict[str, Any]:
    n = len(ranks)
    return {"n": n, **accuracy(ranks),
            "seconds_per_case": (sum(seconds) / n) if n else float("nan")}


def evaluate(cases_with_truth: Iterable[tuple[Case, str]], rank_fn: RankFn,
             methods: Sequence[str], *, group_fn: Callable[[Case], str] = default_group,
             clock: Callable[[], float] = time.perf_counter) -> dict[str, Any]:
    """Run every method on every case and score it.

    Returns ``{"methods": [...], "groups": {group: {method: summary}}, "overall": {method:
    summary}, "cases": [{"name", "group", "truth", "ranks": {method: position or None},
    "seconds": {method: s}}]}`` where a summary is ``{"n", "ac1".."ac5", "avg5",
    "seconds_per_case"}``. Exceptions from ``rank_fn`` propagate.
    """
    methods = list(methods)
    per_case: list[dict[str, Any]] = []
    for case, truth in cases_with_truth:
        ranks: dict[str, int | None] = {}
        secs: dict[str, float] = {}
        for m in methods:
            t0 = clock()
            ranked = rank_fn(case, m)
            secs[m] = clock() - t0
            ranks[m] = rank_of((r.entity for r in ranked), truth)
        per_case.append({"name": case.name, "group": group_fn(case), "truth": truth,
                         "ranks": ranks, "seconds": secs})

    groups: dict[str, dict[str, Any]] = {}
    for g in sorted({c["group"] for c in per_case}):
        rows = [c for c in per_case if c["group"] == g]
        groups[g] = {m: _summary([c["ranks"][m] for c in rows], [c["seconds"][m] for c in rows])
                     for m in methods}
    overall = {m: _summary([c["ranks"][m] for c in per_case], [c["seconds"][m] for c in per_case])
               for m in methods}
    return {"methods": methods, "groups": groups, "overall": overall, "cases": per_case}


def format_table(result: dict[str, Any], *, markdown: bool = True) -> str:
    """A table with one row per (group, method) and one per overall method."""
    header = ["scenario", "method", "n", "AC@1", "AC@3", "AC@5", "Avg@5", "s/case"]
    rows: list[list[str]] = []

    def add(group: str, m: str, s: dict[str, Any]) -> None:
        rows.append([group, m, str(s["n"]), f"{s['ac1']:.2f}", f"{s['ac3']:.2f}",
                     f"{s['ac5']:.2f}", f"{s['avg5']:.2f}", f"{s['seconds_per_case']:.3f}"])

    for g, by_method in result["groups"].items():
        for m in result["methods"]:
            add(g, m, by_method[m])
    for m in result["methods"]:
        add("overall", m, result["overall"][m])

    if markdown:
        lines = ["| " + " | ".join(header) + " |",
                 "|" + "|".join("---" if i < 2 else "---:" for i in range(len(header))) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max([len(header[i]), *(len(r[i]) for r in rows)]) for i in range(len(header))]

    def fmt(r: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(r, widths, strict=True)))

    return "\n".join([fmt(header), *(fmt(r) for r in rows)])
