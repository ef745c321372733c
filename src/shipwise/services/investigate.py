"""Root-cause ranking of a case, and evaluation on labelled data (no LLM anywhere)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any


def rank_case(path: str | Path, method: str = "baro+topology", top: int | None = None) -> dict[str, Any]:
    """``{"case", "method", "alarm", "seconds", "ranking": [{"entity", "score", "evidence"}]}``."""
    from shipwise.investigate.case import load_case
    from shipwise.investigate.rank import rank

    case = load_case(path)
    t0 = time.perf_counter()
    ranking = rank(case, method)
    seconds = time.perf_counter() - t0
    return {
        "case": case.name, "method": method, "seconds": round(seconds, 4),
        "alarm": {"entity": case.alarm.entity, "metric": case.alarm.metric, "time": case.alarm.time},
        "ranking": [{"entity": r.entity, "score": r.score, "evidence": list(r.evidence)}
                    for r in (ranking[:top] if top else ranking)],
    }


def evaluate_petshop(root: str | Path, methods: tuple[str, ...] | None = None,
                     scenario: str | None = None) -> dict[str, Any]:
    """AC@1, AC@3, Avg@5 per traffic scenario and overall, for each method."""
    from shipwise.investigate.evaluate import evaluate
    from shipwise.investigate.petshop import iter_cases
    from shipwise.investigate.rank import METHODS, rank

    cases = list(iter_cases(Path(root), scenario=scenario))
    return evaluate(cases, rank, methods or METHODS)
