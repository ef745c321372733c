"""Releases and their deployments: volumes, outcomes and timings, which commits each shipped."""

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
    _expand,
    _ids,
    _lists,
    _ln,
    _segments,
    _smooth_counts,
    _strings,
    _take,
)
from shipwise.demo.sim import Sim
from shipwise.demo.story import REGIONS
from shipwise.demo.work import PR_RATE


def normal_releases(sim: Sim) -> Arrays:
    rng, cal, D, o = sim.rng, sim.cal, sim.plan.days, sim.org
    n_svc = len(o.svc_id)
    t_of_s = o.svc_team
    unit_s = sim.unit[t_of_s]
    # releases follow the flow of merges into each service: about one per three merges for
    # service teams, one per eight for app teams (which batch changes into app releases)
    merges = sim.fte[t_of_s, 0] * PR_RATE * 0.86 / o.svc_n[t_of_s]
    base = merges * np.where(unit_s == "deployments", 0.33, 0.125) * _ln(rng, 1.0, 0.25, n_svc)
    base[sim.train[t_of_s]] = 0.0
    day_factor = (cal.cap[:D] / st.WORK_HOURS) * cal.season[:D] * sim.growth[:D] * (1 - 0.3 * sim.mig[:D])
    team_factor = (1 + st.ADOPTION_DEPLOY_GAIN * sim.adopt[:, :D]) * (1 + st.SFQ_DEPLOY_GAIN * sim.sfq[:, :D])
    team_factor = team_factor * sim.brake[:, :D]  # release appetite cut after an outage
    size = sim.fte[:, :D] / np.maximum(sim.fte[:, :1], 1.0)  # more people, more changes
    lam = base[:, None] * sim.act * (team_factor * size)[t_of_s] * day_factor[None, :]
    svc, day = _expand(_smooth_counts(rng, lam))
    team = t_of_s[svc]
    build = sim.utc(cal.cum[day] + rng.random(svc.shape[0]) * cal.cap[day], team)
    # the enterprise release train leaves every other Tuesday at 10:00 local
    tuesdays = np.flatnonzero((cal.weekday[:D] == 1) & (cal.cap[:D] == st.WORK_HOURS))
    train_days = tuesdays[(tuesdays - tuesdays[0]) % 14 == 0]
    tsvc = np.flatnonzero(sim.train[t_of_s])
    ts = np.repeat(tsvc, train_days.shape[0])
    td = np.tile(train_days, tsvc.shape[0])
    tt = t_of_s[ts]
    tbuild = td * DAY + (10 + 0.5 * rng.random(ts.shape[0])) * HOUR - o.offset[tt] * HOUR
    svc = np.concatenate([svc, ts])
    return shape_releases(sim, svc, np.concatenate([build, tbuild]), hotfix=False)


def shape_releases(sim: Sim, svc: np.ndarray, build: np.ndarray, hotfix: bool) -> Arrays:
    """Durations, outcome and toil of releases built at ``build`` (UTC seconds)."""
    rng = sim.rng
    n = svc.shape[0]
    team = sim.org.svc_team[svc]
    day = sim.day_of(build, team)
    a, s, m = sim.adopt[team, day], sim.sfq[team, day], sim.mig[day]
    slow = 1 + 0.5 * m
    has_stg = (rng.random(n) < 1 - 0.7 * s) & (not hotfix)
    stg_dur = _ln(rng, (25 * (1 - a) + 9 * a) * MINUTE, 0.45, n) * slow
    gap = _ln(rng, (50 * (1 - a) + 6 * a) * (1 - 0.85 * s) * MINUTE, 0.8, n)
    prod_dur = _ln(rng, (35 * (1 - a) + 11 * a) * MINUTE, 0.45, n) * slow
    p_sf = 0.05 * (1 - 0.5 * a) * (1 + m) * has_stg
    p_pf = 0.02 * (1 - 0.4 * a) * (1 + m) + 0.03 * s
    p_rb = 0.035 * (1 - 0.5 * a) * (1 + 0.8 * m) + 0.13 * s
    u = rng.random(n)
    status = np.where(u < p_sf, 3, np.where(u < p_sf + p_pf, 1, np.where(u < p_sf + p_pf + p_rb, 2, 0)))
    if hotfix:
        status[:] = 0
        gap = np.full(n, MINUTE)
    return {
        "service": svc,
        "team": team,
        "build": build,
        "has_stg": has_stg,
        "stg_dur": stg_dur,
        "gap": gap,
        "prod_dur": prod_dur,
        "status": status,  # 0 success, 1 production failure, 2 rolled back, 3 failed in staging
        "kind": np.full(n, 1 if hotfix else 0),
        "mi_prod": rng.poisson(1.5 * (1 - a) + 0.15 * a + 1.0 * m),
        "mi_stg": rng.poisson(0.3 * (1 - a)),
        "rb_delay": _ln(rng, 15 * MINUTE, 0.6, n),
        "rb_dur": _ln(rng, 8 * MINUTE, 0.4, n),
        "a": a,
        "s": s,
        "m": m,
        "remediates": np.full(n, -1),
    }


def release_times(sim: Sim, r: Arrays) -> Arrays:
    stg_end = r["build"] + np.where(r["has_stg"], r["stg_dur"], 0.0)
    prod_start = stg_end + r["gap"]
    prod_end0 = prod_start + r["prod_dur"]
    nreg = np.where(r["status"] == 0, sim.n_regions[r["service"]], 1)
    last_end = prod_start + (nreg - 1) * (r["prod_dur"] + 10 * MINUTE) + r["prod_dur"]
    rb_start = prod_end0 + r["rb_delay"]
    return {
        "stg_end": stg_end, "prod_start": prod_start, "prod_end0": prod_end0,
        "last_end": last_end, "rb_start": rb_start, "rb_end": rb_start + r["rb_dur"],
        "nreg": nreg,
    }


def ship(sim: Sim, rel: Arrays, commits: Arrays) -> tuple[np.ndarray, np.ndarray]:
    """Commit indexes each release lists, grouped by release, and the count per release."""
    n_rel = rel["service"].shape[0]
    scale = (sim.plan.horizon + 10) * DAY
    order = np.lexsort((rel["build"], rel["service"]))
    rkey = rel["service"][order] * scale + rel["build"][order]
    merged = np.flatnonzero(~np.isnan(commits["avail"]))
    csvc = commits["service"][merged]
    ckey = csvc * scale + commits["avail"][merged]
    qo = np.argsort(ckey)  # sorted queries make the binary searches cache-friendly
    ckey_sorted = ckey[qo]

    def first_after(sel: np.ndarray) -> np.ndarray:
        pos = np.flatnonzero(sel[order])
        i = np.empty(ckey.shape[0], np.int64)
        i[qo] = np.searchsorted(rkey[pos], ckey_sorted, side="left")
        out = np.full(ckey.shape[0], -1)
        ok = i < pos.shape[0]
        out[ok] = order[pos[i[ok]]]
        out[(out >= 0) & (rel["service"][np.maximum(out, 0)] != csvc)] = -1
        return out

    ships = first_after(rel["status"] == 0)
    tried = first_after((rel["status"] == 0) | (rel["status"] == 1) | (rel["status"] == 2))
    extra = (tried >= 0) & (tried != ships)
    r_idx = np.concatenate([ships[ships >= 0], tried[extra]])
    c_idx = np.concatenate([merged[ships >= 0], merged[extra]])
    o = np.lexsort((commits["committed"][c_idx], r_idx))  # oldest first
    return c_idx[o], np.bincount(r_idx, minlength=n_rel)


def deployments(
    sim: Sim, rel: Arrays, rt: Arrays, lists: np.ndarray, lens: np.ndarray, shas: pa.Array
) -> tuple[pa.Table, np.ndarray]:
    o, end_s = sim.org, sim.end_s
    n_rel = rel["service"].shape[0]
    status, svc = rel["status"], rel["service"]
    seq, prev_rel = release_versions(rel)

    stg = np.flatnonzero(rel["has_stg"])
    prod_rel = np.flatnonzero(status != 3)
    g, k = _segments(rt["nreg"][prod_rel])
    pr = prod_rel[g]
    rb = np.flatnonzero(status == 2)
    p_start = rt["prod_start"][pr] + k * (rel["prod_dur"][pr] + 10 * MINUTE)
    rec: Arrays = {
        "rel": np.concatenate([stg, pr, rb]),
        "env": np.concatenate([np.zeros(stg.shape[0], np.int64), np.ones(pr.shape[0] + rb.shape[0], np.int64)]),
        "start": np.concatenate([rel["build"][stg], p_start, rt["rb_start"][rb]]),
        "finish": np.concatenate([rt["stg_end"][stg], p_start + rel["prod_dur"][pr], rt["rb_end"][rb]]),
        "status": np.concatenate([np.where(status[stg] == 3, 1, 0), status[pr], np.zeros(rb.shape[0], np.int64)]),
        "kind": np.concatenate([rel["kind"][stg], rel["kind"][pr], np.full(rb.shape[0], 2)]),
        "region": np.concatenate([sim.regions[svc[stg], 0], sim.regions[svc[pr], k], sim.regions[svc[rb], 0]]),
        "mi": np.concatenate([rel["mi_stg"][stg], np.where(k == 0, rel["mi_prod"][pr], 0), (rel["a"][rb] < 0.5).astype(np.int64)]),
        "version": np.concatenate([seq[stg], seq[pr], np.where(prev_rel[rb] >= 0, seq[np.maximum(prev_rel[rb], 0)], -1)]),
        "remediates": np.concatenate([np.full(stg.shape[0], -1), rel["remediates"][pr], np.full(rb.shape[0], -1)]),
        "listed": np.concatenate([np.zeros(stg.shape[0], bool), np.ones(pr.shape[0], bool), np.zeros(rb.shape[0], bool)]),
        "first": np.concatenate([np.zeros(stg.shape[0], bool), k == 0, np.zeros(rb.shape[0], bool)]),
    }
    keep = np.flatnonzero(rec["finish"] < end_s)
    keep = keep[np.argsort(rec["start"][keep], kind="stable")]
    rec = _take(rec, keep)
    n = keep.shape[0]
    prod0 = np.full(n_rel, -1)
    prod0[rec["rel"][rec["first"]]] = np.flatnonzero(rec["first"])
    # commit lists of production deployments
    offs = np.cumsum(lens) - lens
    length = np.where(rec["listed"], lens[rec["rel"]], 0)
    gg, jj = _segments(length)
    values = shas.take(pa.array(lists[offs[rec["rel"][gg]] + jj]))
    ver = pa.array(rec["version"], mask=rec["version"] < 0).cast(pa.string())
    table = pa.table({
        "id": _ids("dep-", n, 8),
        "service": _strings(o.svc_id, svc[rec["rel"]]),
        "environment": _strings(["staging", "production"], rec["env"]),
        "started_at": sim.ts(rec["start"]),
        "finished_at": sim.ts(rec["finish"]),
        "status": _strings(["success", "failure", "rolled_back"], rec["status"]),
        "commits": _lists(length, values, null=~rec["listed"]),
        "version": pc.binary_join_element_wise("1.", ver, ".0", ""),
        "region": _strings(list(REGIONS), rec["region"]),
        "kind": _strings(["normal", "hotfix", "rollback"], rec["kind"]),
        "remediates": pa.array(np.where(rec["remediates"] >= 0, rec["remediates"], np.nan)),
        "manual_interventions": pa.array(rec["mi"].astype(np.int64)),
    })
    return table, prod0


def release_versions(rel: Arrays) -> tuple[np.ndarray, np.ndarray]:
    """Release numbers per service in build order (version ``1.<n>.0``), and for each release the
    latest earlier successful release of its service (what a rollback goes back to), or -1."""
    svc = rel["service"]
    n = svc.shape[0]
    order = np.lexsort((rel["build"], svc))
    s_sorted = svc[order]
    seq = np.empty(n, np.int64)
    seq[order] = np.arange(n) - np.searchsorted(s_sorted, s_sorted, side="left") + 1
    last_ok = np.maximum.accumulate(np.where(rel["status"][order] == 0, np.arange(n), -1))
    prev = np.full(n, -1)
    prev[order[1:]] = last_ok[:-1]
    prev_rel = np.where(prev >= 0, order[np.maximum(prev, 0)], -1)
    prev_rel[(prev_rel >= 0) & (svc[np.maximum(prev_rel, 0)] != svc)] = -1
    return seq, prev_rel
