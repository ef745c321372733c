"""Incidents and the hotfixes that remediate them, on-call pages, and SLOs with their SLIs."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shipwise.demo.arrays import (
    DAY,
    HOUR,
    MINUTE,
    Arrays,
    _categorical,
    _expand,
    _ln,
    _segments,
    _strings,
)
from shipwise.demo.releases import release_times, shape_releases
from shipwise.demo.sim import Sim

SEV_DEPLOY = np.array([0.04, 0.12, 0.34, 0.32, 0.18])
SEV_SFQ = np.array([0.16, 0.34, 0.30, 0.14, 0.06])
SEV_BACKGROUND = np.array([0.01, 0.05, 0.22, 0.40, 0.32])
SEV_FAILED_DEPLOY = np.array([0.0, 0.0, 0.10, 0.50, 0.40])
BOT_ACTIONED = np.array([0.0, 0.02, 0.15, 0.35, 0.50])
RESOLVE_HOURS = np.array([1.5, 3.0, 8.0, 30.0, 60.0])
SLI_STEP = 6 * HOUR


def incidents(sim: Sim, r: Arrays, t: Arrays) -> tuple[Arrays, tuple[Arrays, Arrays], Arrays]:
    rng, o, D = sim.rng, sim.org, sim.plan.days
    n = r["status"].shape[0]
    u = rng.random(n)
    status, a, s, m = r["status"], r["a"], r["s"], r["m"]
    rb = np.flatnonzero((status == 2) & (u < 0.65))
    pf = np.flatnonzero((status == 1) & (u < 0.12))
    p_latent = 0.012 * (1 - 0.3 * a) * (1 + m) + 0.05 * s
    lat = np.flatnonzero((status == 0) & (r["kind"] == 0) & (u < p_latent))

    def blend(idx: np.ndarray) -> np.ndarray:
        return (1 - s[idx])[:, None] * SEV_DEPLOY[None, :] + s[idx][:, None] * SEV_SFQ[None, :]

    # background incidents (dependencies, capacity, infrastructure), at any hour
    lam = np.full((len(o.svc_id), 1), 0.011 * sim.act) * ((1 + 1.5 * sim.mig[:D]) * sim.growth[:D])[None, :]
    bsvc, bday = _expand(rng.poisson(lam))
    nb = bsvc.shape[0]
    caused = np.concatenate([rb, pf, lat, np.full(nb, -1)])
    svc = np.concatenate([r["service"][rb], r["service"][pf], r["service"][lat], bsvc])
    team = o.svc_team[svc]
    opened = np.concatenate([
        t["prod_end0"][rb] + rng.random(rb.shape[0]) * 0.8 * r["rb_delay"][rb],
        t["prod_end0"][pf] + _ln(rng, 4 * MINUTE, 0.5, pf.shape[0]),
        t["prod_end0"][lat] + _ln(rng, 5 * HOUR, 1.0, lat.shape[0]),
        bday * DAY + rng.random(nb) * DAY,
    ])
    probs = np.concatenate([
        blend(rb),
        np.tile(SEV_FAILED_DEPLOY, (pf.shape[0], 1)),
        blend(lat),
        np.tile(SEV_BACKGROUND, (nb, 1)),
    ])
    sev = _categorical(rng, probs)
    day = sim.day_of(opened, team)
    ad = sim.adopt[team, day]
    human = rng.random(svc.shape[0]) >= np.minimum(BOT_ACTIONED[sev] * (1 + 0.8 * ad), 0.9)
    k = svc.shape[0]
    by_rollback = np.zeros(k, bool)
    by_rollback[: rb.shape[0]] = True
    resolved = opened + _ln(rng, RESOLVE_HOURS[sev] * HOUR * np.where(human, 1.0, 0.3), 0.9, k)
    resolved[by_rollback] = t["rb_end"][rb] + _ln(rng, 6 * MINUTE, 0.5, rb.shape[0])
    hot = np.flatnonzero((sev <= 2) & human & ~by_rollback & (rng.random(k) < 0.35))
    resolved[(sev >= 3) & (rng.random(k) < 0.015)] = np.nan

    # hotfixes: a one-commit pull request, merged fast, shipped straight to production
    nh = hot.shape[0]
    hteam = team[hot]
    author = sim.members.pick(rng, hteam, day[hot])
    authored = opened[hot] + _ln(rng, 50 * MINUTE, 0.6, nh)
    created = authored + _ln(rng, 4 * MINUTE, 0.5, nh)
    first_review = created + _ln(rng, 12 * MINUTE, 0.6, nh)
    merged = first_review + _ln(rng, 4 * MINUTE, 0.5, nh)
    prs: Arrays = {
        "service": svc[hot], "team": hteam, "author": author, "created": created,
        "first_review": first_review, "merged": merged, "closed": merged.copy(),
        "first_commit": authored, "bot": np.zeros(nh, bool),
    }
    commits: Arrays = {
        "pr": np.arange(nh), "service": svc[hot], "team": hteam, "author": author,
        "authored": authored, "committed": authored.copy(),
        "additions": np.round(_ln(rng, 12.0, 1.0, nh)).astype(np.int64),
        "deletions": np.round(_ln(rng, 5.0, 1.0, nh)).astype(np.int64),
        "files": 1 + (rng.random(nh) < 0.4).astype(np.int64),
        "avail": merged.copy(),
    }
    hr = shape_releases(sim, svc[hot], merged + 90.0, hotfix=True)
    hr["remediates"] = hot
    ht = release_times(sim, hr)
    resolved[hot] = ht["last_end"] + _ln(rng, 8 * MINUTE, 0.5, nh)
    inc: Arrays = {
        "service": svc, "team": team, "opened": opened, "resolved": resolved,
        "caused": caused, "sev": sev, "human": human, "day": day,
    }
    return inc, (prs, commits), hr


def incident_table(sim: Sim, inc: Arrays, prod0: np.ndarray, dep: pa.Table) -> tuple[pa.Table, list[str], np.ndarray]:
    o, end_s = sim.org, sim.end_s
    keep = np.flatnonzero(inc["opened"] < end_s)
    keep = keep[np.argsort(inc["opened"][keep], kind="stable")]
    n = keep.shape[0]
    new = np.full(inc["opened"].shape[0], -1)
    new[keep] = np.arange(n)
    ids = [f"INC-{i + 1:06d}" for i in range(n)]
    resolved = inc["resolved"][keep]
    resolved = np.where(resolved >= end_s, np.nan, resolved)
    caused = inc["caused"][keep]
    dep_idx = np.where(caused >= 0, prod0[np.maximum(caused, 0)], -1)
    dep_ids = dep.column("id").combine_chunks()
    caused_by = dep_ids.take(pa.array(np.maximum(dep_idx, 0))) if dep.num_rows else pa.nulls(n, pa.string())
    if dep.num_rows:
        caused_by = pc.if_else(pa.array(dep_idx < 0), pa.scalar(None, pa.string()), caused_by)
    table = pa.table({
        "id": pa.array(ids, pa.string()),
        "service": _strings(o.svc_id, inc["service"][keep]),
        "severity": _strings(["sev1", "sev2", "sev3", "sev4", "sev5"], inc["sev"][keep]),
        "opened_at": sim.ts(inc["opened"][keep]),
        "resolved_at": sim.ts(resolved),
        "caused_by": caused_by,
        "human_actioned": pa.array(inc["human"][keep]),
    })
    return table, ids, new


def on_call_pages(sim: Sim, inc: Arrays) -> Arrays:
    rng, o, D, cal = sim.rng, sim.org, sim.plan.days, sim.cal
    n_teams = len(o.team_id)
    sev, human = inc["sev"], inc["human"]
    primary = np.flatnonzero(human & ((sev <= 2) | ((sev == 3) & (rng.random(sev.shape[0]) < 0.5))))
    secondary = np.flatnonzero(human & (sev == 0))
    lam = 0.22 * sim.act * (1 + sim.mig[:D])[None, :] * (1 + sim.sfq[:, :D]) * (1 - 0.3 * sim.adopt[:, :D])
    nteam, nday = _expand(rng.poisson(lam * sim.growth[None, :D]))
    nn = nteam.shape[0]
    team = np.concatenate([inc["team"][primary], inc["team"][secondary], nteam])
    at = np.concatenate([
        inc["opened"][primary] + _ln(rng, MINUTE, 0.5, primary.shape[0]),
        inc["opened"][secondary] + 5 * MINUTE + _ln(rng, MINUTE, 0.5, secondary.shape[0]),
        nday * DAY + rng.random(nn) * DAY,
    ])
    high = np.concatenate([sev[primary] <= 2, np.ones(secondary.shape[0], bool), rng.random(nn) < 0.3])
    shift = np.concatenate([np.zeros(primary.shape[0], np.int64), np.ones(secondary.shape[0], np.int64), np.zeros(nn, np.int64)])
    # weekly rotations of each team's long-standing members, handover Monday 10:00 local
    founding = ~o.m_bot & (o.m_since == 0) & (o.m_until < 0)
    rl = np.bincount(o.m_team[founding], minlength=n_teams)
    order = np.argsort(o.m_team[founding], kind="stable")
    roster_people = o.m_person[founding][order]
    lo = np.cumsum(rl) - rl
    first_monday = int(np.flatnonzero(cal.weekday == 0)[0])
    local = at + o.offset[team] * HOUR
    week = np.floor((local - (first_monday * DAY + 10 * HOUR)) / (7 * DAY)).astype(np.int64)
    slot = (week + shift + 3 * team) % np.maximum(rl[team], 1)
    person = roster_people[np.minimum(lo[team] + slot, roster_people.shape[0] - 1)]
    return {"team": team, "at": at, "high": high, "person": person}


def slos(sim: Sim, inc: Arrays) -> tuple[pa.Table, pa.Table]:
    rng, o, D, p = sim.rng, sim.org, sim.plan.days, sim.plan
    with_slo = np.zeros(len(o.svc_id), bool)
    with_slo[o.svc_lo] = True
    with_slo |= o.sfq[o.svc_team]
    svc = np.flatnonzero(with_slo)
    n = svc.shape[0]
    objective = rng.choice([0.99, 0.995, 0.999], n, p=[0.3, 0.4, 0.3])
    window = np.where(rng.random(n) < 0.7, 28, 30)
    slo_id = [f"slo-{o.svc_id[s]}-availability" for s in svc]
    k = D * 4 - 1  # intervals ending before the snapshot's end
    kk = np.arange(k)
    diurnal = np.array([0.55, 0.95, 1.3, 1.2])[kk % 4]
    wd = (p.start.weekday() + kk // 4) % 7
    weekend = np.where(wd >= 5, 0.8, 1.0)
    shape = diurnal * weekend * sim.growth[kk // 4]
    base = _ln(rng, 40_000.0, 1.2, n)
    total = rng.poisson(base[:, None] * shape[None, :] * _ln(rng, 1.0, 0.1, n * k).reshape(n, k))
    p_bad = (1 - objective)[:, None] * rng.uniform(0.1, 0.5, n)[:, None]
    p_bad = p_bad * _ln(rng, 1.0, 0.5, n * k).reshape(n, k) * (1 + sim.mig[kk // 4])[None, :]
    # incidents burn the error budget of their service's SLO
    slo_of_svc = np.full(len(o.svc_id), -1)
    slo_of_svc[svc] = np.arange(n)
    hit = np.flatnonzero(slo_of_svc[inc["service"]] >= 0)
    op = inc["opened"][hit]
    res = np.where(np.isnan(inc["resolved"][hit]), op + DAY, inc["resolved"][hit])
    k0 = (op // SLI_STEP).astype(np.int64)
    k1 = (np.minimum(res, op + 2 * DAY) // SLI_STEP).astype(np.int64)
    g, j = _segments(k1 - k0 + 1)
    kx = k0[g] + j
    ok = kx < k
    bad_share = np.array([0.08, 0.02, 0.004, 0.0008, 0.0002])[inc["sev"][hit][g]]
    np.add.at(p_bad, (slo_of_svc[inc["service"][hit][g]][ok], kx[ok]), bad_share[ok])
    bad = rng.binomial(total, np.clip(p_bad, 0.0, 1.0))
    slo = pa.table({
        "id": pa.array(slo_id), "service": _strings(o.svc_id, svc),
        "objective": pa.array(objective), "window_days": pa.array(window.astype(np.int64)),
    })
    sli = pa.table({
        "slo": _strings(slo_id, np.repeat(np.arange(n), k)),
        "at": sim.ts(np.tile((kk + 1) * SLI_STEP, n)),
        "good": pa.array((total - bad).ravel().astype(np.int64)),
        "total": pa.array(total.ravel().astype(np.int64)),
    })
    return slo, sli
