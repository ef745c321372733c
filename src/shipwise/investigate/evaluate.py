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
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, Protocol

from shipwise.investigate.calibration import RELIABILITY_BINS
from shipwise.investigate.calibration import reliability as binned_reliability
from shipwise.investigate.case import Case

KS = (1, 2, 3, 4, 5)


class _HasEntity(Protocol):
    @property
    def entity(self) -> str: ...


RankFn = Callable[[Case, str], Sequence[_HasEntity]]
#: the answer of a case: ``{"root_cause": entity, "fault"?: kind, "system"?: dataset, "accept"?:
#: [entities that also count as the root cause, e.g. every pod of the faulty service]}``
Truth = dict[str, Any]



def default_group(case: Case) -> str:
    """The case's scenario (``alarm.source["scenario"]``), else ``"all"``."""
    return str(case.alarm.source.get("scenario") or "all")


def rank_of(ranked: Iterable[str], truth: str | Collection[str]) -> int | None:
    """1-based position of ``truth`` (an entity, or any of a set of entities) among the distinct
    ``ranked`` entities, or ``None``."""
    accept = {truth} if isinstance(truth, str) else set(truth)
    seen: set[str] = set()
    for e in ranked:
        if e in seen:
            continue
        seen.add(e)
        if e in accept:
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


def reliability(cases: Sequence[dict[str, Any]], method: str,
                bins: int = RELIABILITY_BINS) -> list[dict[str, Any]] | None:
    """How far ``method``'s confidence can be trusted: the scored cases (:func:`evaluate`'s
    ``cases``) binned by the confidence of the method's top-1 answer
    (:func:`shipwise.investigate.calibration.reliability`; ``top1_right``: the top-1 was the
    root cause). ``None`` when the method gave no confidence for any case (plain rankers)."""
    pairs = [(float(c["confidence"][method]), c["ranks"][method] == 1) for c in cases
             if c.get("confidence", {}).get(method) is not None]
    if not pairs:
        return None
    return binned_reliability([p for p, _ in pairs], [ok for _, ok in pairs], bins)


def _truth_of(value: str | Truth) -> Truth:
    return {"root_cause": value} if isinstance(value, str) else dict(value)


def _confidence(ranked: Sequence[Any]) -> float | None:
    """The confidence of a ranking's top-1 answer, when its ranker states one."""
    if not ranked:
        return None
    conf = getattr(ranked[0], "confidence", None)
    return None if conf is None else float(conf)


def score_cases(cases_with_truth: Iterable[tuple[Case, str | Truth]], rank_fn: RankFn,
                methods: Sequence[str], *, group_fn: Callable[[Case], str] = default_group,
                clock: Callable[[], float] = time.perf_counter,
                on_case: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Run every method on every case: one row per case ``{"name", "group", "system", "fault",
    "truth", "ranks": {method: position or None}, "top1": {method: entity ranked first or None},
    "seconds": {method: s}, "confidence": {method: top-1 confidence or None}}``. ``on_case`` is called after each case (progress).
    Exceptions from ``rank_fn`` propagate."""
    per_case: list[dict[str, Any]] = []
    for case, raw in cases_with_truth:
        truth = _truth_of(raw)
        accept = {str(truth["root_cause"]), *(str(a) for a in truth.get("accept") or ())}
        ranks: dict[str, int | None] = {}
        secs: dict[str, float] = {}
        conf: dict[str, float | None] = {}
        top1: dict[str, str | None] = {}
        for m in methods:
            t0 = clock()
            ranked = rank_fn(case, m)
            secs[m] = clock() - t0
            ranks[m] = rank_of((r.entity for r in ranked), accept)
            conf[m] = _confidence(ranked)
            top1[m] = ranked[0].entity if ranked else None
        row = {"name": case.name, "group": group_fn(case),
               "system": str(truth.get("system") or case.alarm.source.get("dataset") or "all"),
               "fault": str(truth.get("fault") or "unknown"), "truth": str(truth["root_cause"]),
               "alarm": {"entity": case.alarm.entity, "metric": case.alarm.metric,
                         "time": case.alarm.time},
               "ranks": ranks, "top1": top1, "seconds": secs, "confidence": conf}
        per_case.append(row)
        if on_case is not None:
            on_case(row)
    return per_case


def summarise(per_case: Sequence[dict[str, Any]], methods: Sequence[str]) -> dict[str, Any]:
    """Scores of scored cases (:func:`score_cases`): ``{"methods", "groups", "by_fault",
    "by_system", "overall", "reliability": {method: bins or None}, "cases"}`` where a summary
    is ``{"n", "ac1".."ac5", "avg5", "seconds_per_case"}``."""
    methods = list(methods)

    def by(key: str) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for g in sorted({str(c[key]) for c in per_case}):
            rows = [c for c in per_case if str(c[key]) == g]
            out[g] = {m: _summary([c["ranks"][m] for c in rows], [c["seconds"][m] for c in rows])
                      for m in methods}
        return out

    overall = {m: _summary([c["ranks"][m] for c in per_case], [c["seconds"][m] for c in per_case])
               for m in methods}
    return {"methods": methods, "groups": by("group"), "by_fault": by("fault"),
            "by_system": by("system"), "overall": overall,
            "reliability": {m: reliability(per_case, m) for m in methods},
            "cases": list(per_case)}


def evaluate(cases_with_truth: Iterable[tuple[Case, str | Truth]], rank_fn: RankFn,
             methods: Sequence[str], *, group_fn: Callable[[Case], str] = default_group,
             clock: Callable[[], float] = time.perf_counter,
             on_case: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run every method on every case and score it (:func:`score_cases` then
    :func:`summarise`). A truth is the root-cause entity or a :data:`Truth` dict."""
    methods = list(methods)
    return summarise(score_cases(cases_with_truth, rank_fn, methods, group_fn=group_fn,
                                 clock=clock, on_case=on_case), methods)


def format_table(result: dict[str, Any], *, markdown: bool = True, key: str = "groups",
                 label: str = "scenario") -> str:
    """A table with one row per (group, method) of ``result[key]`` and one per overall method."""
    header = [label, "method", "n", "AC@1", "AC@3", "AC@5", "Avg@5", "s/case"]
    rows: list[list[str]] = []

    def add(group: str, m: str, s: dict[str, Any]) -> None:
        rows.append([group, m, str(s["n"]), f"{s['ac1']:.2f}", f"{s['ac3']:.2f}",
                     f"{s['ac5']:.2f}", f"{s['avg5']:.2f}", f"{s['seconds_per_case']:.3f}"])

    for g, by_method in result[key].items():
        for m in result["methods"]:
            add(g, m, by_method[m])
    for m in result["methods"]:
        add("overall", m, result["overall"][m])
    return _render(header, rows, markdown)


def format_reliability(result: dict[str, Any], *, markdown: bool = True) -> str:
    """The reliability table of ``result``: per method that states a confidence, one row per
    confidence bin (n, mean confidence, fraction whose top-1 was right); ``n/a`` for methods
    that state none."""
    header = ["method", "confidence", "n", "mean conf", "top-1 right"]
    rows: list[list[str]] = []
    for m in result["methods"]:
        bins = (result.get("reliability") or {}).get(m)
        if not bins:
            rows.append([m, "n/a", "", "", ""])
            continue
        for b in bins:
            rows.append([m, f"{b['low']:.1f}–{b['high']:.1f}", str(b["n"]),
                         "" if not b["n"] else f"{b['mean_confidence']:.2f}",
                         "" if not b["n"] else f"{b['top1_right']:.2f}"])
    return _render(header, rows, markdown)


def _render(header: list[str], rows: list[list[str]], markdown: bool) -> str:
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
