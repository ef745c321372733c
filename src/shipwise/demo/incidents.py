"""Incidents and the hotfixes that remediate them, on-call pages, and SLOs with their SLIs."""

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
    _categorical,
    _expand,
    _ln,
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
#: local hour bands of alert pages: working hours, evening, early morning, sleep (last)
PAGE_BANDS = np.array([[9.0, 18.0], [18.0, 23.0], [7.0, 9.0], [23.0, 31.0]])
PAGE_HOURS_WEEKDAY = np.array([0.64, 0.17, 0.07, 0.12])
PAGE_HOURS_WEEKEND = np.array([0.45, 0.25, 0.15, 0.15])
ALERT_PAGES = 0.45  # alert pages without an incident per team and weekday
PAGE_WEEKEND = 0.6  # alert volume on a weekend day relative to a weekday
ROTA_REST_LOW = 0.4  # share of low-urgency pages of a small-rota team that go to the rest
#: the story's incidents (``inc["story"]``): the outage of the fast-burning service weeks ago,
#: which lasted OUTAGE_HOURS, and the sev2 burning it at the end
OUTAGE, FAST_BURN = 1, 2
OUTAGE_HOURS = 2.0


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
    # the error-budget story: an outage of the fast-burning team's first service some weeks ago,
    # and a sev2 on it that opened minutes before the end and is still open
    s_svc = np.full(2, o.svc_lo[sim.fast_team])
    s_opened = np.array([
        sim.outage_day * DAY + (14 + 1 / 3 - o.offset[sim.fast_team]) * HOUR,
        sim.end_s - st.FAST_BURN_MINUTES * MINUTE,
    ])
    caused = np.concatenate([rb, pf, lat, np.full(nb + 2, -1)])
    svc = np.concatenate([r["service"][rb], r["service"][pf], r["service"][lat], bsvc, s_svc])
    team = o.svc_team[svc]
    opened = np.concatenate([
        t["prod_end0"][rb] + rng.random(rb.shape[0]) * 0.8 * r["rb_delay"][rb],
        t["prod_end0"][pf] + _ln(rng, 4 * MINUTE, 0.5, pf.shape[0]),
        t["prod_end0"][lat] + _ln(rng, 5 * HOUR, 1.0, lat.shape[0]),
        bday * DAY + rng.random(nb) * DAY,
        s_opened,
    ])
    probs = np.concatenate([
        blend(rb),
        np.tile(SEV_FAILED_DEPLOY, (pf.shape[0], 1)),
        blend(lat),
        np.tile(SEV_BACKGROUND, (nb + 2, 1)),
    ])
    sev = _categorical(rng, probs)
    k = svc.shape[0]
    story = np.zeros(k, bool)
    story[-2:] = True
    sev[story] = (0, 1)  # sev1 outage, sev2 now
    day = sim.day_of(opened, team)
    ad = sim.adopt[team, day]
    human = (rng.random(k) >= np.minimum(BOT_ACTIONED[sev] * (1 + 0.8 * ad), 0.9)) | story
    by_rollback = np.zeros(k, bool)
    by_rollback[: rb.shape[0]] = True
    resolved = opened + _ln(rng, RESOLVE_HOURS[sev] * HOUR * np.where(human, 1.0, 0.3), 0.9, k)
    resolved[by_rollback] = t["rb_end"][rb] + _ln(rng, 6 * MINUTE, 0.5, rb.shape[0])
    resolved[story] = (s_opened[0] + OUTAGE_HOURS * HOUR, np.nan)
    hot = np.flatnonzero((sev <= 2) & human & ~by_rollback & ~story & (rng.random(k) < 0.35))
    resolved[(sev >= 3) & (rng.random(k) < 0.015)] = np.nan
    story_code = np.zeros(k, np.int64)
    story_code[story] = (OUTAGE, FAST_BURN)

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
        "caused": caused, "sev": sev, "human": human, "day": day, "story": story_code,
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
    """Pages: one per human-actioned serious incident (two for a sev1), plus alerts that page
    without an incident, timed in each team's local time.

    Alert pages fall mostly in working hours, some in the evening and early morning, fewer at
    weekends; teams that have more incidents also get more of them in sleep hours (23:00-07:00).
    Each team rotates the pager weekly across its long-standing members, except teams whose
    catalogue entry names a small rota: that rota carries most pages, and the others take only
    the secondary pages and a share of the low-urgency ones, a day each.
    """
    rng, o, D, cal = sim.rng, sim.org, sim.plan.days, sim.cal
    n_teams = len(o.team_id)
    sev, human = inc["sev"], inc["human"]
    primary = np.flatnonzero(human & ((sev <= 2) | ((sev == 3) & (rng.random(sev.shape[0]) < 0.5))))
    secondary = np.flatnonzero(human & (sev == 0))
    weekend = cal.weekday[:D] >= 5
    lam = ALERT_PAGES * sim.act * (1 + sim.mig[:D])[None, :] * (1 + sim.sfq[:, :D]) * (1 - 0.3 * sim.adopt[:, :D])
    lam = lam * np.where(weekend, PAGE_WEEKEND, 1.0)[None, :]
    nteam, nday = _expand(rng.poisson(lam * sim.growth[None, :D]))
    nn = nteam.shape[0]
    # strain: a team with more human-actioned incidents than the typical team is woken more often
    load = np.bincount(inc["team"][human], minlength=n_teams).astype(float)
    strain = np.clip(load / max(float(np.median(load)), 1.0), 0.5, 3.0)
    probs = np.where(weekend[nday][:, None], PAGE_HOURS_WEEKEND[None, :], PAGE_HOURS_WEEKDAY[None, :])
    probs[:, -1] *= strain[nteam]
    band = _categorical(rng, probs)
    hour = PAGE_BANDS[band, 0] + rng.random(nn) * (PAGE_BANDS[band, 1] - PAGE_BANDS[band, 0])
    local_noise = nday * DAY + hour * HOUR  # sleep hours run past midnight into the next day
    off = sim.tz_offset[nteam, np.minimum(nday, sim.plan.horizon - 1)]
    team = np.concatenate([inc["team"][primary], inc["team"][secondary], nteam])
    at = np.concatenate([
        inc["opened"][primary] + _ln(rng, MINUTE, 0.5, primary.shape[0]),
        inc["opened"][secondary] + 5 * MINUTE + _ln(rng, MINUTE, 0.5, secondary.shape[0]),
        local_noise - off * HOUR,
    ])
    high = np.concatenate([sev[primary] <= 2, np.ones(secondary.shape[0], bool), rng.random(nn) < 0.3])
    shift = np.concatenate([np.zeros(primary.shape[0], np.int64), np.ones(secondary.shape[0], np.int64), np.zeros(nn, np.int64)])
    # weekly rotations of each team's long-standing members, handover Monday 10:00 local
    founding = ~o.m_bot & (o.m_since == 0) & (o.m_until < 0)
    rl = np.bincount(o.m_team[founding], minlength=n_teams)
    order = np.argsort(o.m_team[founding], kind="stable")
    roster_people = o.m_person[founding][order]
    lo = np.cumsum(rl) - rl
    # a small rota carries most pages; the rest of the team takes secondaries and a share of
    # the low-urgency ones, on a daily triage rotation
    rota = o.spec("rota")
    small = (rota > 0) & (rota < rl)
    n_rota = np.where(small, rota, rl)
    rest = small[team] & ((shift == 1) | (~high & (rng.random(team.shape[0]) < ROTA_REST_LOW)))
    base = np.where(rest, lo[team] + n_rota[team], lo[team])
    size = np.where(rest, rl[team] - n_rota[team], n_rota[team])
    first_monday = int(np.flatnonzero(cal.weekday == 0)[0])
    local = at + o.offset[team] * HOUR
    week = np.floor((local - (first_monday * DAY + 10 * HOUR)) / (7 * DAY)).astype(np.int64)
    turn = np.where(rest, np.floor(local / DAY).astype(np.int64), week + np.where(small[team], 0, shift))
    slot = (turn + 3 * team) % np.maximum(size, 1)
    person = roster_people[np.minimum(base + slot, roster_people.shape[0] - 1)]
    return {"team": team, "at": at, "high": high, "person": person}
