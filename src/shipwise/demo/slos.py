"""SLOs and their SLIs: a 6-hour history, 5-minute intervals over the last week, and the
error-budget story at the end of the data.

Every sli row holds the good and total events of the interval *ending* at ``at``. The coarse
series ends exactly where the 5-minute series begins (a week before the end), and no interval
ends after the end of the data. Incidents on a service make a share of its SLO's events bad for
the part of each interval they overlap. At the end one SLO burns fast (a sev2 opened minutes ago,
on a service whose budget an outage already ate into), one burns slowly (a degradation that has
nearly spent its budget) and the rest are healthy.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from shipwise.demo import story as st
from shipwise.demo.arrays import DAY, HOUR, MINUTE, Arrays, _ln, _segments, _strings
from shipwise.demo.incidents import FAST_BURN, OUTAGE
from shipwise.demo.sim import Sim

SLI_STEP = 6 * HOUR
FINE_STEP = 5 * MINUTE
FINE_DAYS = 7
#: share of an SLO's events an incident makes bad while it lasts, by severity
BAD_SHARE = np.array([0.15, 0.04, 0.008, 0.0015, 0.0003])
#: the everyday bad share of the story's SLOs, in budget rates (others draw 0.1-0.5)
STORY_BASE_BURN = 0.15
#: healthy SLOs: budget spent over the last window at most, and the burn rate of incidents over
#: the last RECENT_HOURS at most (below every alert's factor)
HEALTHY_SPENT = 0.6
RECENT_HOURS = 6
RECENT_BURN = 0.3
#: the story's SLOs: budget ordinary incidents may spend over the last window
STORY_INCIDENT_SPENT = 0.15
#: the fast burn: budget spent by the end (the outage is sized for it), and the share of events
#: failing in the sev2 now (35 times the budget rate of 99.9 %)
FAST_SPENT = 0.85
FAST_BURN_IMPACT = 0.035
#: the slow burn: budget consumed over its window by the end, and its least burn rate now
SLOW_BURN_SPENT = 0.9
SLOW_BURN_MIN_RATE = 1.3


def slo_id(service: str) -> str:
    return f"slo-{service}-availability"


def sli_grid(days: int) -> tuple[np.ndarray, np.ndarray]:
    """Ends and lengths (seconds from the start) of the SLI intervals: 6-hour steps, then 5-minute
    steps for the last ``FINE_DAYS`` days; the last interval ends one step before the end."""
    fine_from = (days - FINE_DAYS) * DAY
    kc = int(fine_from // SLI_STEP)
    kf = int(FINE_DAYS * DAY // FINE_STEP) - 1
    ends = np.concatenate([np.arange(1, kc + 1) * SLI_STEP, fine_from + np.arange(1, kf + 1) * FINE_STEP])
    width = np.concatenate([np.full(kc, SLI_STEP), np.full(kf, FINE_STEP)])
    return ends, width


def slos(sim: Sim, inc: Arrays) -> tuple[pa.Table, pa.Table]:
    rng, o, D = sim.rng, sim.org, sim.plan.days
    with_slo = np.zeros(len(o.svc_id), bool)
    with_slo[o.svc_lo] = True
    with_slo |= o.sfq[o.svc_team]
    svc = np.flatnonzero(with_slo)
    n = svc.shape[0]
    slo_of_svc = np.full(len(o.svc_id), -1)
    slo_of_svc[svc] = np.arange(n)
    objective = rng.choice([0.99, 0.995, 0.999], n, p=[0.3, 0.4, 0.3])
    window = np.where(rng.random(n) < 0.7, 28, 30)
    base = _ln(rng, 40_000.0, 1.2, n)  # events per 6 hours
    base_burn = rng.uniform(0.1, 0.5, n)
    fast, slow = slo_of_svc[o.svc_lo[sim.fast_team]], slo_of_svc[o.svc_lo[sim.slow_team]]
    story = np.array([fast, slow])
    objective[story] = 0.999
    window[story] = (30, 28)
    base[story] = np.maximum(base[story], 60_000.0)
    base_burn[story] = STORY_BASE_BURN
    ids = [slo_id(o.svc_id[s]) for s in svc]

    ends, width = sli_grid(D)
    k = ends.shape[0]
    mid = ends - width / 2
    day = (mid // DAY).astype(np.int64)
    hour = (mid - day * DAY) / HOUR
    diurnal = 1.0 - 0.4 * np.cos(2 * np.pi * (hour - 3.0) / 24.0)  # UTC: low at night, high at 15:00
    weekend = np.where(sim.cal.weekday[day] >= 5, 0.8, 1.0)
    shape = diurnal * weekend * sim.growth[day] * (width / SLI_STEP)
    total = rng.poisson(base[:, None] * shape[None, :] * _ln(rng, 1.0, 0.1, n * k).reshape(n, k))
    budget = 1 - objective
    p_bad = (budget * base_burn)[:, None] * _ln(rng, 1.0, 0.5, n * k).reshape(n, k) * (1 + sim.mig[day])[None, :]

    # incidents burn the error budget of their service's SLO, for the part of each interval they
    # last: one segment per (incident, interval overlapped), weighted by the events it covers
    hit = np.flatnonzero(slo_of_svc[inc["service"]] >= 0)
    op = inc["opened"][hit]
    res = np.where(np.isnan(inc["resolved"][hit]), op + DAY, inc["resolved"][hit])
    res = np.minimum(res, op + 2 * DAY)
    starts = ends - width
    i0 = np.searchsorted(ends, op, side="right")
    i1 = np.searchsorted(starts, res, side="left") - 1
    g, j = _segments(np.maximum(i1 - i0 + 1, 0))
    ix = i0[g] + j
    frac = (np.minimum(ends[ix], res[g]) - np.maximum(starts[ix], op[g])) / width[ix]
    seg_slo = slo_of_svc[inc["service"][hit]][g]
    code = inc["story"][hit]
    share = np.where(code == FAST_BURN, FAST_BURN_IMPACT, BAD_SHARE[inc["sev"][hit]])

    # the end of the data tells the story: ordinary incidents eat at most a set part of an SLO's
    # budget over its last window and barely burn in the last hours (whole incidents are scaled,
    # so a series never steps), and the outage is sized to leave the fast SLO's budget low
    win_lo = np.searchsorted(ends, ends[-1] - window * DAY, side="right")
    recent_lo = int(np.searchsorted(ends, ends[-1] - RECENT_HOURS * HOUR, side="right"))
    cum = np.concatenate([np.zeros((n, 1)), np.cumsum(total, axis=1)], axis=1)
    rows = np.arange(n)
    per_win = budget * (cum[:, -1] - cum[rows, win_lo])  # bad events that would spend the budget
    per_recent = budget * (cum[:, -1] - cum[rows, recent_lo])
    base_bad = np.concatenate([np.zeros((n, 1)), np.cumsum(total * p_bad, axis=1)], axis=1)
    base_spent = (base_bad[:, -1] - base_bad[rows, win_lo]) / per_win
    events = total[seg_slo, ix] * frac
    ordinary = code[g] == 0
    in_win = ordinary & (ix >= win_lo[seg_slo])
    spent = np.bincount(seg_slo, weights=events * share[g] * in_win, minlength=n) / per_win
    recent = np.bincount(seg_slo, weights=events * share[g] * (in_win & (ix >= recent_lo)), minlength=n) / per_recent
    cap = np.full(n, HEALTHY_SPENT) - base_spent
    cap[story] = STORY_INCIDENT_SPENT
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.minimum(1.0, np.minimum(np.maximum(cap, 0.0) / spent, RECENT_BURN / recent))
    scale = np.where(np.isnan(scale), 1.0, scale)
    touches = np.bincount(g, weights=in_win, minlength=hit.shape[0]) > 0
    share = np.where(touches & (code == 0), share * scale[slo_of_svc[inc["service"][hit]]], share)
    outage = (code[g] == OUTAGE) & (ix >= win_lo[fast])
    now = np.bincount(seg_slo, weights=events * share[g] * (code[g] == FAST_BURN), minlength=n)[fast]
    before = base_spent[fast] + (spent[fast] * min(scale[fast], 1.0)) + now / per_win[fast]
    unit = (events * outage).sum() / per_win[fast]
    if unit > 0:
        share = np.where(code == OUTAGE, np.clip((FAST_SPENT - before) / unit, 0.05, 0.5), share)
    np.add.at(p_bad, (seg_slo, ix), share[g] * frac)

    # the slow burn: a degradation ramping up over the last weeks, sized so its SLO has nearly
    # spent its budget by the end while burning faster than the budget lasts
    ramp = np.clip((ends - (ends[-1] - st.SLOW_BURN_DAYS * DAY)) / (st.SLOW_BURN_DAYS * DAY), 0.0, 1.0)
    w_total = total[slow, win_lo[slow]:]
    used = (w_total * p_bad[slow, win_lo[slow]:]).sum() / per_win[slow]
    per_rate = (w_total * ramp[win_lo[slow]:]).sum() / w_total.sum()
    amplitude = max((SLOW_BURN_SPENT - used) / per_rate, SLOW_BURN_MIN_RATE)
    p_bad[slow] += budget[slow] * amplitude * ramp

    bad = rng.binomial(total, np.clip(p_bad, 0.0, 1.0))
    slo = pa.table({
        "id": pa.array(ids), "service": _strings(o.svc_id, svc),
        "objective": pa.array(objective), "window_days": pa.array(window.astype(np.int64)),
    })
    sli = pa.table({
        "slo": _strings(ids, np.repeat(np.arange(n), k)),
        "at": sim.ts(np.tile(ends, n)),
        "good": pa.array((total - bad).ravel().astype(np.int64)),
        "total": pa.array(total.ravel().astype(np.int64)),
    })
    return slo, sli
