"""Does the adoption effect estimate recover a known effect? And how long does the cohort
computation take at 1,000 teams × 2 years of daily usage? (issue 19, docs/ai-effect.md)

Part 1 — attribution. For each of 200 seeds and each scenario (``SCENARIOS``), a team × month
panel (60 teams, 24 months) with team levels, team-specific linear trends (sd 1 %/month), a
common month shock, noise (sd 0.08 on log cost to serve), and staggered adoption: 40 teams reach
the level at a month drawn from 4–20, 20 never do. The estimator of ``shipwise ai effect``
(:func:`shipwise.metrics.attribution.estimate`) is run on each panel; reported: bias (estimate −
truth, the truth being the mean planted effect over the adopting months), RMSE, the share of 90 %
intervals that contain the truth (coverage), the share that exclude 0 (power, or false
positives without an effect) and the share of panels the pre-trend check warns about.

Part 2 — cohorts. 1,000 teams × 730 days × 2 tools of ``ai_usage`` rows in a fresh store, then
the adoption query (:func:`shipwise.metrics.ai.adoption_sql`): wall time and peak RSS.

    PYTHONPATH=src python bench/bench_ai_attribution.py [--seeds 200] [--teams 1000]
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

from shipwise.app.ai_rows import placebo
from shipwise.metrics import ai
from shipwise.metrics.attribution import Panel, estimate
from shipwise.store.duckdb_store import Store

EFFECT = -0.10
TEAMS, MONTHS, ADOPTERS = 60, 24, 40
OUT = Path(__file__).resolve().parent / "results" / "ai_attribution.json"


#: scenarios: how the effect and the adoption dates are generated
SCENARIOS = {
    "planted": "adoption lowers log cost to serve by −0.10 from the adoption month on",
    "null": "no effect",
    "ramp": "the effect grows linearly to −0.10 over the 6 months after adoption",
    "selection": "teams already getting cheaper adopt (adopters' trend −0.5 %/month): parallel "
                 "trends fail",
    "detected_single": "−0.10 from the true month, but the estimator gets adoption months as "
                       "shipwise reads them from usage, counting single months "
                       "(sustain_months: 1): the first month a noisy engaged share (sd 0.04) "
                       "reaches the light threshold (0.05); the share rises 0.1 a month from "
                       "the true month",
    "detected_held": "as detected_single, with the default sustain_months: 2 (the level held "
                     "for two months)",
}


def panel(seed: int, scenario: str) -> tuple[Panel, dict[str, int], float]:
    """A panel, the adoption months the estimator is given, and the truth: the mean planted
    effect over the adopting teams' months from their true adoption month on."""
    rng = np.random.default_rng(seed)
    teams = [f"t{i:03d}" for i in range(TEAMS)]
    level = rng.normal(np.log(5000), 0.4, TEAMS)
    trend = rng.normal(0.0, 0.01, TEAMS)
    if scenario == "selection":
        trend[:ADOPTERS] -= 0.005
    shock = rng.normal(0.0, 0.03, MONTHS)
    adopt = {teams[i]: int(rng.integers(4, 21)) for i in range(ADOPTERS)}
    size = 0.0 if scenario == "null" else EFFECT
    t_idx, p_idx, ys, cs, planted = [], [], [], [], []
    for i, t in enumerate(teams):
        for m in range(MONTHS):
            y = level[i] + trend[i] * m + shock[m] + rng.normal(0.0, 0.08)
            if t in adopt and m >= adopt[t]:
                e = size * min(1.0, (m - adopt[t] + 1) / 6) if scenario == "ramp" else size
                y += e
                planted.append(e)
            t_idx.append(t)
            p_idx.append(m)
            ys.append(y)
            cs.append(float(np.exp(y) * 40))
    given = adopt
    if scenario.startswith("detected"):
        held = 2 if scenario == "detected_held" else 1
        given = {}
        for t, g in adopt.items():
            share = np.clip(0.1 * (np.arange(MONTHS) - g + 1), 0.0, 1.0)
            at = share + rng.normal(0.0, 0.04, MONTHS) >= 0.05
            # the rule of metrics/ai.py adoption_sql: reached and held for ``held`` months
            hit = [m for m in range(MONTHS - held + 1) if at[m:m + held].all()]
            if hit:
                given[t] = hit[0]
    return (Panel(np.array(t_idx), np.array(p_idx, dtype=np.int64), np.array(ys),
                  np.array(cs)), given, float(np.mean(planted)) if planted else 0.0)


def attribution(seeds: int, replicates: int) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, what in SCENARIOS.items():
        est, truths, covered, excludes_zero, widths, flagged = [], [], 0, 0, [], 0
        start = time.perf_counter()
        for seed in range(seeds):
            p, adopt, truth = panel(seed, name)
            e = estimate(p, adopt, 1.0, confidence=0.9, replicates=replicates, seed=seed)
            assert e.effect is not None and e.low is not None and e.high is not None
            est.append(e.effect)
            truths.append(truth)
            covered += e.low <= truth <= e.high
            excludes_zero += not (e.low <= 0.0 <= e.high)
            widths.append(e.high - e.low)
            pre = placebo(p, adopt)  # the pre-trend check of `shipwise ai effect`
            flagged += pre is not None and pre.low is not None and pre.high is not None \
                and not (pre.low <= 0.0 <= pre.high)
        a, tr = np.array(est), np.array(truths)
        out[name] = {
            "what": what, "mean_truth": float(tr.mean()), "seeds": seeds,
            "replicates": replicates, "mean_estimate": float(a.mean()),
            "bias": float((a - tr).mean()), "rmse": float(np.sqrt(((a - tr) ** 2).mean())),
            "coverage_90": covered / seeds, "intervals_excluding_zero": excludes_zero / seeds,
            "mean_interval_width": float(np.mean(widths)),
            "pretrend_warnings": flagged / seeds,
            "seconds": round(time.perf_counter() - start, 1),
        }
    return out


def cohorts(teams: int, days: int = 730) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "bench.duckdb", create=True)
        store.migrate()
        con = store.con
        now = datetime.now(UTC).replace(tzinfo=None)
        start = time.perf_counter()
        con.execute(f"""
INSERT INTO ai_usage
SELECT t || '|' || CAST(d AS VARCHAR) || '|' || tool, t, d, tool,
       CAST(10 * random() AS BIGINT), CAST(8 * random() AS BIGINT), 100, 30, 500, 150, 3, 1,
       2.0, 'USD', 'bench', 'h', ?
FROM (SELECT 'team-' || CAST(i AS VARCHAR) AS t FROM range({teams}) r(i)) a,
     (SELECT CAST(DATE '2024-10-01' + INTERVAL (j) DAY AS DATE) AS d FROM range({days}) s(j)) b,
     (SELECT unnest(['copilot', 'agent']) AS tool) c""", [now])
        con.execute(f"""
INSERT INTO headcount SELECT 'team-' || CAST(i AS VARCHAR), m, 12.0, 'h', ?
FROM range({teams}) r(i), (SELECT DISTINCT strftime(DATE '2024-10-01' + INTERVAL (j) DAY, '%Y-%m')
  AS m FROM range({days}) s(j)) x""", [now])
        rows = con.execute("SELECT count(*) FROM ai_usage").fetchone()
        load = time.perf_counter() - start
        th = ai.Thresholds(0.05, 0.25, 0.5)
        start = time.perf_counter()
        result = con.execute(ai.adoption_sql(), ai.adoption_params(
            th, date(2024, 10, 1), date(2026, 9, 30))).fetchall()
        query = time.perf_counter() - start
        store.close()
    return {"teams": teams, "days": days, "usage_rows": rows[0] if rows else 0,
            "team_months": len(result), "load_seconds": round(load, 2),
            "adoption_query_seconds": round(query, 2),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def effect_at_scale(teams: int, replicates: int = 999) -> dict[str, object]:
    """The estimator on a 1,000-team × 24-month panel (three levels × three outcomes is nine
    such calls in ``shipwise ai effect``)."""
    global TEAMS, ADOPTERS
    saved = TEAMS, ADOPTERS
    TEAMS, ADOPTERS = teams, teams * 2 // 3
    try:
        p, adopt, _ = panel(0, "planted")
    finally:
        TEAMS, ADOPTERS = saved
    start = time.perf_counter()
    e = estimate(p, adopt, 1.0, confidence=0.9, replicates=replicates, seed=0)
    return {"teams": teams, "months": MONTHS, "replicates": replicates,
            "estimate_seconds": round(time.perf_counter() - start, 2), "effect": e.effect,
            "interval": [e.low, e.high]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=200)
    ap.add_argument("--replicates", type=int, default=499)
    ap.add_argument("--teams", type=int, default=1000)
    args = ap.parse_args()
    cohort = cohorts(args.teams)  # first: its peak memory is the process's so far
    res = {"measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
           "attribution": attribution(args.seeds, args.replicates), "cohorts": cohort,
           "effect_at_scale": effect_at_scale(args.teams)}
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
