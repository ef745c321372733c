"""Pull requests and commits: human work, release-train direct commits and bot dependency bumps."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shipwise.demo import story as st
from shipwise.demo.arrays import (
    DAY,
    HOUR,
    MINUTE,
    Arrays,
    _concat,
    _expand,
    _lists,
    _ln,
    _segments,
    _smooth_counts,
    _strings,
)
from shipwise.demo.sim import Sim

PR_RATE = 0.32  # pull requests per FTE per full working day
COMMITS_PER_PR = 2.8
CROSS_PICKUP_HOURS = 8.0  # median working hours before another team first reviews


def human_work(sim: Sim) -> tuple[Arrays, Arrays]:
    rng, cal, D = sim.rng, sim.cal, sim.plan.days
    day_factor = (cal.cap[:D] / st.WORK_HOURS) * cal.season[:D] * sim.growth[:D]
    day_factor = day_factor * (1 - st.MIGRATION_SLOWDOWN * sim.mig[:D])
    team_factor = (1 + st.ADOPTION_PR_GAIN * sim.adopt[:, :D]) * (1 + st.AI_PR_GAIN * sim.ai[:, :D])
    team_factor = team_factor * (1 + 0.25 * sim.sfq[:, :D])
    lam = sim.fte[:, :D] * PR_RATE * sim.act * day_factor[None, :] * team_factor
    pr_share = np.where(sim.train, 0.4, 1.0)
    team, day = _expand(_smooth_counts(rng, lam * pr_share[:, None]))
    n = int(team.shape[0])
    a, s, m = sim.adopt[team, day], sim.sfq[team, day], sim.mig[day]
    slow = 1 + 0.3 * m
    w0 = cal.cum[day] + rng.random(n) * cal.cap[day]
    coding = np.minimum(_ln(rng, 4.0, 1.3, n), 250) * slow
    faster = (1 - 0.2 * a) * (1 - 0.6 * s) * slow
    pickup = np.minimum(_ln(rng, 2.5 * faster, 1.2, n), 250)
    review = np.minimum(_ln(rng, 3.0 * faster, 1.3, n), 250)
    # a few pull requests stall, waiting on another team or a dependency
    stalled = rng.random(n) < 0.08
    review = review + np.where(stalled, np.minimum(_ln(rng, 40.0, 1.0, n), 400), 0.0)
    # stream-aligned teams contribute to the platform teams' repositories: those pull requests
    # wait longer for a first review (another team's queue) and are left open more often
    cross, owner = _cross_team(sim, team)
    pickup = np.where(cross, np.minimum(_ln(rng, CROSS_PICKUP_HOURS, 1.1, n), 400), pickup)
    review = np.where(cross, 1.5 * review, review)
    w_created = w0 + coding
    w_review = w_created + pickup
    u = rng.random(n)
    merged = u < np.where(cross, 0.76, 0.86)
    closed = ~merged & (u < np.where(cross, 0.88, 0.94))
    created = sim.utc(w_created, team)
    first_review = sim.utc(w_review, team)
    first_review[~merged & ~closed & (rng.random(n) < np.where(cross, 0.7, 0.5))] = np.nan
    merged_at = np.where(merged, sim.utc(w_review + review, team), np.nan)
    closed_w = w_created + _ln(rng, 16.0, 1.2, n)
    closed_at = np.where(merged, merged_at, np.where(closed, sim.utc(closed_w, team), np.nan))
    prs: Arrays = {
        "service": sim.pick_service(owner),  # its commits ship with the owner's releases
        "team": team,
        "author": sim.members.pick(rng, team, day),
        "created": created,
        "first_review": first_review,
        "merged": merged_at,
        "closed": closed_at,
    }
    k = 1 + rng.poisson(COMMITS_PER_PR - 1, n)
    pr, j = _segments(k)
    fix = (j > 0) & (rng.random(pr.shape[0]) < 0.2)
    uc = rng.random(pr.shape[0])
    wc = np.where(
        j == 0,
        w0[pr],
        np.where(fix, w_created[pr] + uc * (pickup[pr] + 0.8 * review[pr]), w0[pr] + uc * coding[pr]),
    )
    ct = team[pr]
    limit = np.where(np.isnan(closed_at), np.inf, closed_at)[pr]
    authored = sim.utc(wc, ct)
    authored = _evening(sim, authored, ct, (j > 0), limit)
    commits = _commit_fields(sim, pr, prs["service"][pr], ct, prs["author"][pr], authored, limit)
    commits["avail"] = merged_at[pr]
    prs["first_commit"] = sim.utc(w0, team)
    prs["bot"] = np.zeros(n, bool)
    # abandoned pull requests are closed by the stale bot about six weeks later; a few linger
    abandoned = np.flatnonzero(~merged & ~closed & (rng.random(n) < 0.98))
    prs["closed"][abandoned] = created[abandoned] + _ln(rng, 42 * DAY, 0.5, abandoned.shape[0])

    # direct commits to trunk of the release-train teams
    rows = np.flatnonzero(sim.train)
    lam_d = lam[rows] * (1 - pr_share[rows])[:, None] * COMMITS_PER_PR
    r, dday = _expand(_smooth_counts(rng, lam_d))
    dteam = rows[r]
    nd = dteam.shape[0]
    dw = cal.cum[dday] + rng.random(nd) * cal.cap[dday]
    dauth = _evening(sim, sim.utc(dw, dteam), dteam, np.ones(nd, bool), np.full(nd, np.inf))
    direct = _commit_fields(
        sim, np.full(nd, -1), sim.pick_service(dteam), dteam, sim.members.pick(rng, dteam, dday),
        dauth, np.full(nd, np.inf), rebase=0.0,
    )
    direct["avail"] = direct["committed"]
    return prs, _concat([commits, direct])


def _cross_team(sim: Sim, team: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which pull requests of ``team`` go to another team's repository, and the owning team of
    each pull request's repository (the author's team unless cross-team)."""
    rng, o = sim.rng, sim.org
    n = team.shape[0]
    targets = np.stack([o.team_of(s) for s in st.CROSS_TEAM_REPOS], axis=1)
    j = rng.integers(0, targets.shape[1], n)
    pick = targets[team, j]
    pick = np.where(pick == team, targets[team, (j + 1) % targets.shape[1]], pick)
    stream = o.spec("team_type") == "stream-aligned"
    cross = stream[team] & (rng.random(n) < st.CROSS_TEAM_PR_SHARE)
    return cross, np.where(cross, pick, team)


def _evening(sim: Sim, t: np.ndarray, team: np.ndarray, eligible: np.ndarray, limit: np.ndarray) -> np.ndarray:
    rng = sim.rng
    ev = eligible & (rng.random(t.shape[0]) < 0.07)
    off = sim.org.offset[team] * HOUR
    local_day = np.floor((t + off) / DAY)
    late = local_day * DAY + (19 + 4.5 * rng.random(t.shape[0])) * HOUR - off
    return np.where(ev, np.maximum(t, np.minimum(late, limit - MINUTE)), t)


def _commit_fields(
    sim: Sim, pr: np.ndarray, service: np.ndarray, team: np.ndarray, author: np.ndarray,
    authored: np.ndarray, limit: np.ndarray, rebase: float = 0.25,
) -> Arrays:
    rng = sim.rng
    n = pr.shape[0]
    later = authored + _ln(rng, HOUR, 1.2, n)
    committed = np.where(rng.random(n) < rebase, np.minimum(later, limit - 1.0), authored)
    committed = np.maximum(committed, authored)
    return {
        "pr": pr,
        "service": service,
        "team": team,
        "author": author,
        "authored": authored,
        "committed": committed,
        "additions": np.round(_ln(rng, 22.0, 1.3, n)).astype(np.int64),
        "deletions": np.round(_ln(rng, 8.0, 1.5, n)).astype(np.int64),
        "files": np.maximum(1, np.round(_ln(rng, 2.2, 0.8, n))).astype(np.int64),
    }


def bot_work(sim: Sim) -> tuple[Arrays, Arrays]:
    """Dependency bumps by renovate and dependabot: one commit, early-morning UTC PRs."""
    rng, cal, D, o = sim.rng, sim.cal, sim.plan.days, sim.org
    weekday = (cal.cap[:D] == st.WORK_HOURS).astype(float)
    lam = np.full((len(o.svc_id), 1), 0.045 * sim.act) * weekday[None, :]
    svc, day = _expand(rng.poisson(lam))
    n = int(svc.shape[0])
    team = o.svc_team[svc]
    created = day * DAY + (2 + 4 * rng.random(n)) * HOUR
    first_review = sim.utc(sim.w_of(created, team) + _ln(rng, 4.0, 1.2, n), team)
    u = rng.random(n)
    merged, closed = u < 0.78, (u >= 0.78) & (u < 0.95)
    merged_at = np.where(merged, first_review + _ln(rng, 20 * MINUTE, 0.8, n), np.nan)
    closed_at = np.where(merged, merged_at, np.where(closed, created + _ln(rng, 4 * DAY, 0.8, n), np.nan))
    first_review[~merged & ~closed] = np.nan
    author = o.n_humans + (rng.random(n) < 0.4).astype(np.int64)  # renovate, dependabot
    authored = created - _ln(rng, 60.0, 0.5, n)
    prs: Arrays = {
        "service": svc, "team": team, "author": author, "created": created,
        "first_review": first_review, "merged": merged_at, "closed": closed_at,
        "first_commit": authored, "bot": np.ones(n, bool),
    }
    commits: Arrays = {
        "pr": np.arange(n), "service": svc, "team": team, "author": author,
        "authored": authored, "committed": authored.copy(),
        "additions": np.round(_ln(rng, 40.0, 1.0, n)).astype(np.int64),
        "deletions": np.round(_ln(rng, 30.0, 1.0, n)).astype(np.int64),
        "files": 1 + (rng.random(n) < 0.5).astype(np.int64),
        "avail": merged_at,
    }
    return prs, commits


def merge_work(batches: list[tuple[Arrays, Arrays]]) -> tuple[Arrays, Arrays]:
    prs, commits, off = [], [], 0
    for p, c in batches:
        c = dict(c)
        c["pr"] = np.where(c["pr"] >= 0, c["pr"] + off, -1)
        off += p["service"].shape[0]
        prs.append(p)
        commits.append(c)
    return _concat(prs), _concat(commits)


def pr_table(sim: Sim, prs: Arrays, commits: Arrays, shas: pa.Array) -> pa.Table:
    o = sim.org
    n = prs["service"].shape[0]
    svc = prs["service"]
    order = np.lexsort((prs["created"], svc))
    s_sorted = svc[order]
    number = np.empty(n, np.int64)
    number[order] = np.arange(n) - np.searchsorted(s_sorted, s_sorted, side="left") + 1
    in_pr = np.flatnonzero(commits["pr"] >= 0)
    cpr = commits["pr"][in_pr]
    key = cpr * ((sim.plan.horizon + 10) * DAY) + commits["authored"][in_pr]
    co = in_pr[np.argsort(key, kind="stable")]
    counts = np.bincount(cpr, minlength=n)
    adds = np.bincount(cpr, weights=commits["additions"][in_pr], minlength=n).astype(np.int64)
    dels = np.bincount(cpr, weights=commits["deletions"][in_pr], minlength=n).astype(np.int64)
    repo = _strings(o.svc_id, svc)
    num = pa.array(number.astype(np.int64))
    return pa.table({
        "id": pc.binary_join_element_wise(repo, num.cast(pa.string()), "#"),
        "repo": repo,
        "number": num,
        "author": _strings(o.person_id, prs["author"]),
        "created_at": sim.ts(prs["created"]),
        "first_commit_at": sim.ts(prs["first_commit"]),
        "first_review_at": sim.ts(prs["first_review"]),
        "merged_at": sim.ts(prs["merged"]),
        "closed_at": sim.ts(prs["closed"]),
        "commits": _lists(counts, shas.take(pa.array(co))),
        "additions": pa.array(adds),
        "deletions": pa.array(dels),
    })
