"""Answer time of ``shipwise ask`` without an LLM (goal ≤ 200 ms) and the share of the fixed list
of 30 on-call questions it answers correctly from the record.

    python bench/bench_ask.py [--repeat 20]

Workload: the demo world's ``bad_deploy`` case (seed 7, 30 min of history), investigated and
stored in a fresh store, as ``tests/investigate/test_ask.py`` does. Timed, as a user meets it:

* ``door``: ``shipwise.app.ask.ask`` as the local administrator over the open store — reading the
  record (DuckDB), parsing the JSON, matching the intent, building the answer, the guard and the
  access-log row — for each of the 30 questions, ``--repeat`` times (after one warm-up pass);
* ``matching``: the pure answer (``shipwise.investigate.ask.answer``) on the record in memory;
* ``cli``: ``python -m shipwise ask INV "…" --format json`` end to end in a fresh process, for 5
  questions (start-up and imports included: what a person at a terminal waits);
* ``rescope``: one re-scoping question (``last 30 minutes``), which re-runs the investigation on
  the case files — reported apart: it is an investigation, not an answer.

The share answered correctly is graded by ``tests/investigate/ask_cases.grade`` (intent, the
expected content and the evidence reference each answer must cite). Results are printed and
written to ``bench/results/ask.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.investigate.ask_cases import grade, load_questions  # noqa: E402

from shipwise.app import ask  # noqa: E402
from shipwise.app.caller import LOCAL_ADMIN, Caller  # noqa: E402
from shipwise.app.context import init_store, open_store  # noqa: E402
from shipwise.app.owner import investigate_case  # noqa: E402
from shipwise.config import Settings  # noqa: E402
from shipwise.demo.world.scenarios import write_world_case  # noqa: E402
from shipwise.investigate.ask import answer  # noqa: E402

OUT = ROOT / "bench" / "results" / "ask.json"
GOAL_MS = 200.0


def summary(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {"n": len(ms), "median_ms": round(statistics.median(ms), 3),
            "p95_ms": round(ms[max(0, round(0.95 * len(ms)) - 1)], 3),
            "max_ms": round(ms[-1], 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    questions = load_questions()
    with tempfile.TemporaryDirectory(prefix="bench-ask-") as tmp:
        case = write_world_case(Path(tmp) / "case", "bad_deploy", seed=7, history_seconds=1800.0)
        settings = Settings(db=Path(tmp) / "ask.duckdb")
        init_store(settings)
        record = investigate_case(settings, case)
        inv = str(record["id"])

        graded = []
        for item in questions:
            problems = grade(item, answer(record, item["q"]))
            graded.append({"question": item["q"], "intent": item["intent"],
                           "correct": not problems, "problems": problems})
        correct = sum(g["correct"] for g in graded)

        pure: list[float] = []
        for _ in range(args.repeat):
            for item in questions:
                t0 = time.perf_counter()
                answer(record, item["q"])
                pure.append((time.perf_counter() - t0) * 1000)

        door: list[float] = []
        with open_store(settings) as store:
            c = Caller(store, LOCAL_ADMIN, settings, "cli")
            for item in questions:  # warm-up
                ask.ask(c, inv, item["q"], rescope_allowed=False)
            for _ in range(args.repeat):
                for item in questions:
                    t0 = time.perf_counter()
                    got = ask.ask(c, inv, item["q"], rescope_allowed=False)
                    door.append((time.perf_counter() - t0) * 1000)
                    assert got.answered, item["q"]
            t0 = time.perf_counter()
            rescoped = ask.ask(c, inv, "last 30 minutes")
            rescope_ms = (time.perf_counter() - t0) * 1000
            assert rescoped.rescoped is not None

        cli: list[float] = []
        env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
        env.pop("SHIPWISE_TOKEN", None)
        for item in questions[:5]:
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, "-m", "shipwise", "--db", str(settings.db), "ask",
                                  inv, item["q"], "--format", "json"], capture_output=True,
                                 text=True, env=env, check=True)
            cli.append((time.perf_counter() - t0) * 1000)
            assert json.loads(out.stdout)["answered"]

    result: dict[str, Any] = {
        "command": "python bench/bench_ask.py " + " ".join(sys.argv[1:]),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "workload": "demo world bad_deploy case (seed 7, 30 min history), 30 on-call questions "
                    "(tests/investigate/ask_questions.yaml)",
        "questions": len(questions), "answered_correctly": correct,
        "share_correct": round(correct / len(questions), 3),
        "goal_ms": GOAL_MS,
        "door": summary(door), "matching": summary(pure), "cli_process": summary(cli),
        "rescope_last_30_minutes_ms": round(rescope_ms, 1),
        "meets_goal": statistics.median(door) <= GOAL_MS and max(door) <= GOAL_MS,
        "graded": graded,
    }
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{correct}/{len(questions)} answered correctly ({result['share_correct']:.0%})")
    for k in ("door", "matching", "cli_process"):
        print(f"{k:12s} {result[k]}")
    print(f"rescope (re-run, last 30 minutes): {result['rescope_last_30_minutes_ms']} ms")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
