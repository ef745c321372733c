"""A differencing attacker: everything one principal can read, and a linear-algebra solver over it.

The attacker reads every flow and strain figure a principal can (every team and org unit it may
see, every grain, the whole data span), then models each additive figure as a sum of unknown
*atoms* — a team's count on a run of days that no published period boundary splits (for figures
summed over days), or a team's count at one week end (work in progress, open pull requests) —
using only public knowledge: the org hierarchy and the calendar. A hidden figure is recoverable
when its atom vector lies in the span of the shown figures' vectors; its value is then worked
out from the shown values (the minimum-norm atom solution), and compared with the truth.

Nothing here reads suppression code: it is an independent check of the guarantee in
docs/governance.md ("no hidden figure is recoverable by any linear combination of figures the
same principal can read").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np

#: how each additive column is made of atoms: "day" (summed over days), "wip" (mean over the
#: period's week ends: × week_ends is the sum), "last" (at the period's last week end)
MODEL: dict[str, dict[str, str]] = {
    "flow": {
        "merged_prs": "day", "merged_without_review": "day", "delivered_prs": "day",
        "reviewed_prs": "day", "flow.work_in_progress": "wip",
        **{c: "last" for c in ("open_prs", "open_lt_1d", "open_1d_3d", "open_3d_7d",
                               "open_7d_14d", "open_ge_14d")},
    },
    "strain": {
        c: "day" for c in ("pages", "strain.after_hours_pages", "strain.weekend_pages",
                           "strain.sleep_hour_pages", "incident_hours", "cross_team_prs",
                           "strain.stalled_prs")
    },
}
Fetch = Callable[[str, str, str], list[dict[str, Any]]]  # (family, level, grain) -> rows


@dataclass
class Figure:
    family: str
    column: str
    level: str  # team | org_unit
    entity: str
    grain: str
    period: str
    start: date
    week_ends: int
    value: float | None  # None: hidden

    @property
    def key(self) -> tuple[str, str, str, str, str, str]:
        return (self.family, self.column, self.level, self.entity, self.grain, self.period)


@dataclass
class Attack:
    """What the attacker got: hidden figures of additive columns, and those recovered."""

    hidden: int = 0
    recoverable: list[Figure] = field(default_factory=list)
    exact: list[Figure] = field(default_factory=list)  # recovered and equal to the truth
    wrong: list[Figure] = field(default_factory=list)  # in the span but a different value


def _end(grain: str, start: date) -> date:
    if grain == "week":
        return start + timedelta(days=6)
    months = 1 if grain == "month" else 3
    y, m = start.year + (start.month - 1 + months) // 12, (start.month - 1 + months) % 12 + 1
    return date(y, m, 1) - timedelta(days=1)


def _segment(d: date) -> tuple[str, str]:
    iso = d.isocalendar()
    return (f"{iso.year}-W{iso.week:02d}", f"{d.year}-{d.month:02d}")


def figures(fetch: Fetch, reads: Iterable[tuple[str, str, str]]) -> list[Figure]:
    """Every additive figure of the reads ``(family, level, grain)``."""
    out: list[Figure] = []
    for family, level, grain in reads:
        for row in fetch(family, level, grain):
            entity = row.get("team") or row.get("org_unit")
            values = {**row["metrics"], **row["counts"]}
            we = int(row["counts"].get("week_ends") or 0)
            for col in MODEL[family]:
                out.append(Figure(family, col, level, str(entity), grain, str(row["period"]),
                                  date.fromisoformat(row["period_start"]), we, values.get(col)))
    return out


def attack(figs: list[Figure], teams_of: Mapping[tuple[str, str], Iterable[str]],
           truth: Callable[[Figure], float]) -> Attack:
    """Solve for every hidden figure. ``teams_of[(level, entity)]``: the teams an entity's
    figures add up (the org hierarchy, public); ``truth``: the real value, only to check."""
    out = Attack()
    if not figs:
        return out
    lo = min(f.start for f in figs)
    hi = max(_end(f.grain, f.start) for f in figs)
    days = [lo + timedelta(days=i) for i in range((hi - lo).days + 1)]
    by_model: dict[tuple[str, str], list[Figure]] = {}
    for f in figs:
        by_model.setdefault((f.family, MODEL[f.family][f.column]), []).append(f)
    for (_, model), group in by_model.items():
        columns: dict[str, list[Figure]] = {}
        for f in group:
            columns.setdefault(f.column, []).append(f)
        vectors = _vectors(group, model, days, teams_of)
        _solve(list(columns.values()), vectors, model, truth, out)
    return out


def _vectors(group: list[Figure], model: str, days: list[date],
             teams_of: Mapping[tuple[str, str], Iterable[str]]
             ) -> dict[tuple[str, str, str, str], np.ndarray]:
    """(level, entity, grain, period) -> the figure's atom vector."""
    teams = sorted({t for f in group for t in teams_of[(f.level, f.entity)]})
    if model == "day":
        cells = sorted({_segment(d) for d in days})
    else:  # week ends
        cells = sorted({(d.isoformat(), "") for d in days if d.isoweekday() == 7})
    index = {(t, c): i for i, (t, c) in enumerate((t, c) for t in teams for c in cells)}
    out: dict[tuple[str, str, str, str], np.ndarray] = {}
    for f in group:
        key = (f.level, f.entity, f.grain, f.period)
        if key in out:
            continue
        start, end = f.start, _end(f.grain, f.start)
        span = [start + timedelta(days=i) for i in range((end - start).days + 1)]
        if model == "day":
            mine = {_segment(d) for d in span}
        else:
            sundays = [d for d in span if d.isoweekday() == 7][:f.week_ends]
            if model == "last":
                sundays = sundays[-1:]
            mine = {(d.isoformat(), "") for d in sundays}
        v = np.zeros(len(index))
        for t in teams_of[(f.level, f.entity)]:
            for c in mine:
                if (t, c) in index:
                    v[index[(t, c)]] = 1.0
        out[key] = v
    return out


def _solve(columns: list[list[Figure]],
           vectors: Mapping[tuple[str, str, str, str], np.ndarray],
           model: str, truth: Callable[[Figure], float], out: Attack) -> None:
    """Every identity among the figures (the left null space of their atom vectors, from one
    SVD), then for each column: a hidden figure is determined iff its unit vector lies in the
    row space of the identities restricted to the hidden figures — then one identity isolates
    it, and the shown figures in it give its value."""
    keys = [k for k, v in vectors.items() if v.any()]
    at = {k: i for i, k in enumerate(keys)}
    A = np.array([vectors[k] for k in keys])
    U, S, _ = np.linalg.svd(A, full_matrices=True)
    r = int((S[0] * 1e-10 < S).sum()) if S.size else 0
    Y = U[:, r:].T  # rows: identities Y @ (figure values) = 0
    patterns: dict[frozenset[int], list[dict[int, Figure]]] = {}
    for figs in columns:
        col: dict[int, Figure] = {}
        for f in figs:  # the same figure read twice (two requests) is one unknown
            i = at.get((f.level, f.entity, f.grain, f.period))
            if i is not None:
                col.setdefault(i, f)
        hidden = frozenset(i for i, f in col.items() if f.value is None)
        out.hidden += len(hidden)
        patterns.setdefault(hidden, []).append(col)
    for hidden_set, cols in patterns.items():
        if not hidden_set or not Y.shape[0]:
            continue
        hidden = sorted(hidden_set)
        YH = Y[:, hidden]
        _, s, vt = np.linalg.svd(YH, full_matrices=False)
        rr = int((s[0] * 1e-10 < s).sum()) if s.size and s[0] > 1e-12 else 0
        inside = (vt[:rr] ** 2).sum(axis=0)  # |projection of e_h on the row space|²
        pinned = [j for j in range(len(hidden)) if inside[j] > 1 - 1e-9]
        if not pinned:
            continue
        shown = [i for i in range(len(keys)) if i not in hidden_set]
        for j in pinned:
            e = np.zeros(len(hidden))
            e[j] = 1.0
            c, *_ = np.linalg.lstsq(YH.T, e, rcond=None)
            y = c @ Y  # y_h = 1, 0 on the other hidden figures
            for col in cols:
                f = col[hidden[j]]
                est = -sum(y[i] * _value(col[i], model) for i in shown if i in col)
                out.recoverable.append(f)
                real = truth(f) * (f.week_ends if model == "wip" else 1)
                ok = abs(est - real) <= 1e-6 * max(1.0, abs(real))
                (out.exact if ok else out.wrong).append(f)


def _value(f: Figure, model: str) -> float:
    assert f.value is not None
    return float(f.value) * (f.week_ends if model == "wip" else 1)
