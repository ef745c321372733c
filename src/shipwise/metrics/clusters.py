"""DORA 2024 software delivery performance clusters.

Source: Google Cloud, *Accelerate State of DevOps Report 2024* (DORA), section "Software delivery
performance", table of performance levels:

| level  | share | deployment frequency                     | change lead time         | change fail rate | failed deployment recovery time |
|--------|-------|------------------------------------------|--------------------------|------------------|---------------------------------|
| elite  | 19 %  | on demand (multiple deploys per day)     | less than one day        | 5 %              | less than one hour              |
| high   | 22 %  | between once per day and once per week   | between 1 day and 1 week | 20 %             | less than one day               |
| medium | 35 %  | between once per week and once per month | between 1 week and 1 month | 10 %           | less than one day               |
| low    | 25 %  | between once per month and once every six months | between 1 month and 6 months | 40 %  | between one week and one month  |

The report's levels come from a cluster analysis of survey answers, not from fixed thresholds.
shipwise therefore assigns the level whose profile is *nearest*: each level is represented by a
typical value per metric (the geometric middle of its range), values are clamped to the range the
profiles span (better than elite counts as elite), distances are taken on a log scale normalised
by each metric's spread across levels, and metrics without a value are left out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

DAY = 86400.0
WEEK = 7 * DAY

#: Typical value per level: deployments/week, lead seconds, fail rate, recovery seconds.
PROFILES: dict[str, dict[str, float]] = {
    "elite": {"df": 14.0, "lead": 0.5 * DAY, "cfr": 0.05, "rec": 0.5 * 3600},
    "high": {"df": math.sqrt(7 * 1), "lead": math.sqrt(DAY * WEEK), "cfr": 0.20, "rec": math.sqrt(3600 * DAY)},
    "medium": {"df": math.sqrt(1 * 12 / 52), "lead": math.sqrt(WEEK * 30 * DAY), "cfr": 0.10,
               "rec": math.sqrt(3600 * DAY)},
    "low": {"df": math.sqrt(12 / 52 * 2 / 52), "lead": math.sqrt(30 * DAY * 182 * DAY), "cfr": 0.40,
            "rec": math.sqrt(WEEK * 30 * DAY)},
}
LEVELS = ("elite", "high", "medium", "low")
_KEYS = {
    "df": "dora.deployment_frequency",
    "lead": "dora.change_lead_time",
    "cfr": "dora.change_fail_rate",
    "rec": "dora.failed_deployment_recovery_time",
}
_FLOOR = {"df": 1e-3, "lead": 60.0, "cfr": 0.005, "rec": 60.0}


def _bounds(k: str) -> tuple[float, float]:
    vals = [math.log(PROFILES[lv][k]) for lv in LEVELS]
    return min(vals), max(vals)


def cluster_layers(columns: Mapping[str, str]) -> tuple[list[str], list[str], str]:
    """SQL that assigns the nearest 2024 level, in three layers of one query each.

    ``columns`` maps the four key metric ids to the columns holding their values. Returns
    (clamped log values, distances to each level, the pick); each layer's expressions refer to the
    columns the previous layer named (``_x_df`` …, ``_d_elite`` …), so every logarithm and distance
    is computed once per team-period, set-based, never as a Python loop.
    """
    xs = []
    for k, mid in _KEYS.items():
        col = columns[mid]
        lo, hi = _bounds(k)
        # Better than elite reads as elite, worse than low as low: a 0 % fail rate at low
        # volume must not outweigh everything else on a log scale.
        xs.append(f"least(greatest(ln(greatest({col}, {_FLOOR[k]!r})), {lo!r}), {hi!r}) AS _x_{k}")
    ds = []
    for lv in LEVELS:
        terms = []
        for k in _KEYS:
            lo, hi = _bounds(k)
            terms.append(
                f"coalesce(power((_x_{k} - {math.log(PROFILES[lv][k])!r}) / {hi - lo!r}, 2), 0)"
            )
        ds.append(" + ".join(terms) + f" AS _d_{lv}")
    df, lead, cfr, rec = (columns[_KEYS[k]] for k in ("df", "lead", "cfr", "rec"))
    pick = (
        f"CASE WHEN {df} IS NULL OR ({df} = 0 AND {lead} IS NULL AND {cfr} IS NULL AND {rec} IS NULL) "
        "THEN NULL "
        "WHEN _d_elite <= least(_d_high, _d_medium, _d_low) THEN 'elite' "
        "WHEN _d_high <= least(_d_medium, _d_low) THEN 'high' "
        "WHEN _d_medium <= _d_low THEN 'medium' ELSE 'low' END"
    )
    return xs, ds, pick
