"""Work tickets moving through a tracker's statuses (``ticket_status``).

The teams whose catalogue entry names a tracker project file tickets. A ticket is created (todo),
started (in progress), sometimes blocked on another team once or twice ("Waiting for <team>",
``blocked_on`` = that team's id), resumed, often reviewed, and done. Durations are drawn in
working hours on the team's calendar, so a ticket blocked on Friday afternoon waits over the
weekend. Each team blocks at its own rate; tickets waiting on the platform teams block more often
and for longer during the platform migration. Tickets name no person.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shipwise.demo import story as st
from shipwise.demo.arrays import MINUTE, _categorical, _expand, _ln, _smooth_counts, _strings
from shipwise.demo.sim import Sim

TICKET_RATE = 0.05  # tickets per FTE per full working day
#: how often a ticket waits on the first, second and third team its team depends on
DEPENDENCY_WEIGHTS = np.array([0.55, 0.3, 0.15])
PLATFORM = ("developer-platform", "data-platform")
MIGRATION_BLOCKING = 1.5  # extra blocking on the platform teams during the migration
#: two tracker vocabularies: Jira-like and Linear-like (todo, in progress, review, done)
VOCABULARIES = (("To Do", "In Progress", "Code Review", "Done"), ("Todo", "In Progress", "In Review", "Done"))
CATEGORIES = ("todo", "in_progress", "blocked", "done")
# the status slots of a ticket, in order: (category, vocabulary word, or -1 for "Waiting for …")
SLOTS = ((0, 0), (1, 1), (2, -1), (1, 1), (2, -1), (1, 1), (1, 2), (3, 3))


def ticket_status(sim: Sim) -> pa.Table:
    rng, cal, D, o = sim.rng, sim.cal, sim.plan.days, sim.org
    n_teams = len(o.team_id)
    tracker = o.spec("tracker")
    tracked = np.flatnonzero(tracker != "")
    day_factor = (cal.cap[:D] / st.WORK_HOURS) * cal.season[:D] * sim.growth[:D]
    lam = sim.fte[tracked, :D] * TICKET_RATE * sim.act * day_factor[None, :]
    r, day = _expand(_smooth_counts(rng, lam, burst=0.4))
    team = tracked[r]
    n = int(team.shape[0])

    # the teams each team's tickets wait on (same block), and which one this ticket would
    waits = np.full((n_teams, 3), -1)
    for i in tracked:
        for j, slug in enumerate(st.CATALOG[o.pos[i]].waits_on):
            waits[i, j] = o.team_of(slug)[i]
    on = waits[team, _categorical(rng, DEPENDENCY_WEIGHTS[None, :] * (waits[team] >= 0))]
    platform = np.isin(o.pos, [[c.slug for c in st.CATALOG].index(s) for s in PLATFORM])
    m = sim.mig[day] * platform[on]
    p_block = o.spec("block_rate")[team] * (1 + MIGRATION_BLOCKING * m)
    b1 = rng.random(n) < p_block
    b2 = b1 & (rng.random(n) < 0.25)
    d1 = _ln(rng, 10.0, 1.0, n) * (1 + m) * b1  # working hours blocked
    d2 = _ln(rng, 6.0, 1.0, n) * (1 + m) * b2
    u1 = rng.uniform(0.1, 0.5, n)
    u2 = rng.uniform(0.6, 0.9, n)
    reviewed = rng.random(n) < 0.7

    w0 = cal.cum[day] + rng.random(n) * cal.cap[day]
    w_start = w0 + np.minimum(_ln(rng, 10.0, 1.3, n), 400)
    work = np.minimum(_ln(rng, 14.0, 0.9, n), 200)
    w_review = w_start + work + d1 + d2
    w = np.stack([
        w0, w_start,
        w_start + u1 * work, w_start + u1 * work + d1,
        w_start + u2 * work + d1, w_start + u2 * work + d1 + d2,
        w_review, w_review + np.where(reviewed, _ln(rng, 3.0, 0.8, n), 0.0),
    ], axis=1)
    valid = np.stack([np.ones(n, bool), np.ones(n, bool), b1, b1, b2, b2, reviewed, np.ones(n, bool)], axis=1)
    at = np.empty_like(w)
    prev = np.full(n, -np.inf)
    for c in range(len(SLOTS)):  # each status at least a minute after the previous one
        at[:, c] = np.where(valid[:, c], np.maximum(sim.utc(w[:, c], team), prev + MINUTE), np.nan)
        prev = np.where(valid[:, c], at[:, c], prev)
    # the snapshot: no status after the end (a ticket created after it is not there at all)
    valid &= at < sim.end_s
    row, slot = np.nonzero(valid)

    # keys per tracker project (numbered by creation), statuses in the team's vocabulary
    order = np.lexsort((w0, team))
    number = np.empty(n, np.int64)
    sorted_team = team[order]
    number[order] = np.arange(n) - np.searchsorted(sorted_team, sorted_team, side="left") + 1
    sfx = [("" if b == 0 else str(b + 1)) for b in o.block]
    project = [f"{tracker[i]}{sfx[i]}-" for i in range(n_teams)]
    ticket = pc.binary_join_element_wise(
        _strings(project, team[row]), pa.array(number[row]).cast(pa.string()), ""
    )
    cat = np.array([c for c, _ in SLOTS])[slot]
    word = np.array([v for _, v in SLOTS])[slot]
    style = o.pos[team[row]] % len(VOCABULARIES)
    names = [v for voc in VOCABULARIES for v in voc] + [f"Waiting for {t}" for t in o.team_name]
    status = np.where(word >= 0, style * 4 + word, 4 * len(VOCABULARIES) + on[row])
    blocked = cat == 2
    return pa.table({
        "ticket": ticket,
        "team": _strings(o.team_id, team[row]),
        "at": sim.ts(at[row, slot]),
        "status": _strings(names, status),
        "category": _strings(list(CATEGORIES), cat),
        "blocked_on": _strings(o.team_id, on[row], null=~blocked),
    })
