"""A deterministic synthetic software organisation, in the canonical event format v1.

``generate(seed, scale, end, quarters)`` returns every record type of
:mod:`shipwise.domain.schema` as Arrow tables, plus ``story``: machine-readable facts about what
the numbers should show (who adopted delivery automation and when, which team bought speed with
quality, which quarter was the platform migration).

Everything is vectorised with numpy: loops run over teams, quarters or story waves, never over
events. Volumes are drawn as Poisson counts per (team or service, day) and expanded; times are
drawn in *working hours* on each team's local calendar (see :class:`~shipwise.demo.story.Calendar`)
and mapped to UTC, which gives weekday and office-hour rhythms and a quiet late December.

Conventions the rest of shipwise can rely on:

* a service's repository is named exactly like the service id (``commit.repo == service.id``);
* every commit merged to trunk is shipped by the first later successful production deployment of
  its service (rollback deployments ship nothing); a production attempt that failed or was rolled
  back also lists the commits it tried to ship. Staging and rollback deployments list none;
* multi-region releases are one deployment per region with the same ``version``;
* the data is a snapshot at the end of ``end``: nothing happens later, and spans still running
  then are open (``resolved_at``/``merged_at`` null).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shipwise.demo import story as st
from shipwise.demo.story import CATALOG, LOCATIONS, REGIONS, Calendar, Plan

TS = pa.timestamp("us", tz="UTC")
HOUR = 3_600.0
MINUTE = 60.0
DAY = 86_400.0
Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class DemoOrg:
    tables: dict[str, pa.Table]
    story: dict[str, object]

    def event_count(self) -> int:
        return sum(t.num_rows for t in self.tables.values())


# --------------------------------------------------------------------------------------------
# small vectorised helpers


def _ln(rng: np.random.Generator, median: Any, sigma: float, n: int) -> np.ndarray:
    """Log-normal draws with the given median(s)."""
    return np.asarray(median) * np.exp(sigma * rng.standard_normal(n))


def _categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row of ``probs`` (rows need not be normalised); returns 0-based classes."""
    c = np.cumsum(probs, axis=1)
    c /= c[:, -1:]
    return (rng.random(probs.shape[0])[:, None] > c).sum(axis=1)


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Poisson counts of shape (rows, days) -> (row, day) of every event."""
    flat = np.repeat(np.arange(counts.size), counts.ravel())
    return flat // counts.shape[1], flat % counts.shape[1]


def _segments(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For groups of the given lengths: group index and position within the group of each item."""
    group = np.repeat(np.arange(lengths.shape[0]), lengths)
    starts = np.cumsum(lengths) - lengths
    return group, np.arange(group.shape[0]) - starts[group]


def _concat(parts: list[Arrays]) -> Arrays:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _take(parts: Arrays, keep: np.ndarray) -> Arrays:
    return {k: v[keep] for k, v in parts.items()}


def _ids(prefix: str, n: int, width: int) -> pa.Array:
    nums = pa.array(np.arange(1, n + 1, dtype=np.int64)).cast(pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(nums, width=width, padding="0"), "")


def _shas(rng: np.random.Generator, n: int) -> pa.Array:
    raw = rng.integers(0, 256, size=(n, 20), dtype=np.uint8)
    hexd = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    out = np.empty((n, 40), dtype=np.uint8)
    out[:, 0::2] = hexd[raw >> 4]
    out[:, 1::2] = hexd[raw & 15]
    offsets = np.arange(0, 40 * (n + 1), 40, dtype=np.int64)
    arr = pa.Array.from_buffers(
        pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(out.tobytes())]
    )
    return arr.cast(pa.string())


def _lists(lengths: np.ndarray, values: pa.Array, null: np.ndarray | None = None) -> pa.Array:
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    mask = None if null is None else pa.array(null)
    return pa.ListArray.from_arrays(pa.array(offsets), values, mask=mask)


def _strings(values: list[str], idx: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    arr = pa.array(values, pa.string()).take(pa.array(np.where(idx < 0, 0, idx)))
    if null is not None and null.any():
        arr = pc.if_else(pa.array(null), pa.scalar(None, pa.string()), arr)
    return arr


# --------------------------------------------------------------------------------------------
# the organisation


_ONSETS = ("b", "c", "d", "f", "g", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z",
           "br", "ch", "dr", "fr", "gr", "kr", "pr", "sh", "st", "tr", "th")
_VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o", "ai", "ia", "io", "ei", "ou")
_CODAS = ("", "", "", "n", "r", "s", "l", "m", "k", "th")


def _names(rng: np.random.Generator, n: int, syllables: tuple[int, int]) -> list[str]:
    k = syllables[1]
    on = rng.integers(0, len(_ONSETS), (n, k))
    vo = rng.integers(0, len(_VOWELS), (n, k))
    co = rng.integers(0, len(_CODAS), n)
    ln = rng.integers(syllables[0], syllables[1] + 1, n)
    out = []
    for i in range(n):
        s = "".join(_ONSETS[on[i, j]] + _VOWELS[vo[i, j]] for j in range(ln[i])) + _CODAS[co[i]]
        out.append(s)
    return out


@dataclass
class _Org:
    org_units: list[tuple[str, str, str | None]]
    team_id: list[str]
    team_name: list[str]
    team_ou: list[str]
    unit: list[str]
    attributes: list[str]
    block: np.ndarray
    pos: np.ndarray  # position in the catalogue block
    wave: np.ndarray
    sfq: np.ndarray
    ai: np.ndarray
    offset: np.ndarray  # UTC offset, hours
    loaded: np.ndarray  # monthly loaded cost of one FTE
    svc_id: list[str]
    svc_name: list[str]
    svc_team: np.ndarray
    svc_lo: np.ndarray  # first service of each team (services are sorted by team)
    svc_n: np.ndarray
    person_id: list[str]
    n_humans: int
    # membership rows (humans first, then bots), day indexes, until inclusive (-1: open)
    m_person: np.ndarray
    m_team: np.ndarray
    m_since: np.ndarray
    m_until: np.ndarray
    m_fte: np.ndarray
    m_bot: np.ndarray


def _build_org(rng: np.random.Generator, blocks: int, plan: Plan) -> _Org:
    ous: list[tuple[str, str, str | None]] = [("eng", "Acme Engineering", None)]
    team_id, team_name, team_ou, unit, attrs = [], [], [], [], []
    svc_id, svc_name, svc_team = [], [], []
    locs = list(LOCATIONS)
    n_cat = len(CATALOG)
    loc_pick = rng.integers(0, len(locs), blocks * n_cat)
    arrangement = rng.choice(["hybrid", "remote", "office"], blocks * n_cat, p=[0.55, 0.3, 0.15])
    for b in range(blocks):
        sfx = "" if b == 0 else f"-{b + 1}"
        if b > 0:
            ous.append((f"bu{sfx}", f"Business Unit {b + 1}", "eng"))
        for ou, name in st.ORG_UNITS:
            ous.append((ou + sfx, name + ("" if b == 0 else f" {b + 1}"), "eng" if b == 0 else f"bu{sfx}"))
        for p, spec in enumerate(CATALOG):
            i = b * n_cat + p
            tid = spec.slug + sfx
            team_id.append(tid)
            team_name.append(spec.name + ("" if b == 0 else f" {b + 1}"))
            team_ou.append(spec.org_unit + sfx)
            unit.append(spec.delivery_unit)
            attrs.append(json.dumps({
                "team_type": spec.team_type,
                "location": locs[loc_pick[i]],
                "working_arrangement": str(arrangement[i]),
            }, ensure_ascii=False))
            for s in spec.services:
                svc_id.append(s + sfx)
                svc_name.append(s.replace("-", " ").title() + ("" if b == 0 else f" {b + 1}"))
                svc_team.append(i)
    n_teams = len(team_id)
    pos = np.tile(np.arange(n_cat), blocks)
    block = np.repeat(np.arange(blocks), n_cat)
    wave = np.array([CATALOG[p].wave for p in pos])
    sfq = np.array([CATALOG[p].speed_for_quality for p in pos]) & (block == 0)
    ai = np.array([CATALOG[p].ai for p in pos])
    offset = np.array([LOCATIONS[locs[k]][0] for k in loc_pick])
    loaded = np.array([LOCATIONS[locs[k]][1] for k in loc_pick])
    svc_team_a = np.array(svc_team)
    svc_n = np.bincount(svc_team_a, minlength=n_teams)
    svc_lo = np.cumsum(svc_n) - svc_n

    # people: ~235 founding members per block plus joiners
    weights = np.exp(0.35 * rng.standard_normal(n_teams))
    blk_sum = np.bincount(block, weights=weights)[block]
    size = np.maximum(7, np.round(weights / blk_sum * 235)).astype(np.int64)
    home = np.repeat(np.arange(n_teams), size)
    n0 = home.shape[0]
    n_join = int(round(0.07 * n0))
    home = np.concatenate([home, rng.integers(0, n_teams, n_join)])
    n_h = home.shape[0]
    D = plan.days
    since = np.zeros(n_h, np.int64)
    since[n0:] = rng.integers(30, D - 30, n_join)
    until = np.full(n_h, -1, np.int64)
    leave = rng.random(n_h) < 0.07
    leave &= since + 120 < D
    until[leave] = since[leave] + 60 + (rng.random(leave.sum()) * (D - 61 - since[leave])).astype(np.int64)
    fte = rng.choice([1.0, 0.8, 0.5], n_h, p=[0.92, 0.06, 0.02])
    # movers: a few people of steady teams move to another steady team of their block
    steady = (wave < 0) & ~sfq
    move_day = rng.integers(90, D - 90, n_h)
    mover = (rng.random(n_h) < 0.05) & steady[home] & (since + 30 < move_day)
    mover &= (until < 0) | (move_day + 30 < until)
    dest = np.empty(n_h, np.int64)
    steady_pos = np.flatnonzero(steady[:n_cat])
    pick = steady_pos[rng.integers(0, steady_pos.shape[0], n_h)]
    pick = np.where(pick == pos[home], steady_pos[(np.searchsorted(steady_pos, pick) + 1) % steady_pos.shape[0]], pick)
    dest[:] = block[home] * n_cat + pick
    mi = np.flatnonzero(mover)
    m_person = np.concatenate([np.arange(n_h), mi])
    m_team = np.concatenate([home, dest[mi]])
    m_since = np.concatenate([since, move_day[mi]])
    m_until = np.concatenate([np.where(mover, move_day - 1, until), until[mi]])
    m_fte = np.concatenate([fte, fte[mi]])

    first = _names(rng, n_h, (2, 3))
    last = _names(rng, n_h, (2, 4))
    seen: dict[str, int] = {}
    person_id = []
    for f, ln in zip(first, last, strict=True):
        base = f"{f}.{ln}"
        k = seen.get(base, 0)
        seen[base] = k + 1
        person_id.append(f"{base}{k + 1 if k else ''}@example.com")
    n_bots = len(st.BOTS)
    person_id += list(st.BOTS)
    platform = int(np.flatnonzero(np.array([CATALOG[p].slug for p in pos]) == "developer-platform")[0])
    return _Org(
        org_units=ous, team_id=team_id, team_name=team_name, team_ou=team_ou, unit=unit,
        attributes=attrs, block=block, pos=pos, wave=wave, sfq=sfq, ai=ai, offset=offset,
        loaded=loaded, svc_id=svc_id, svc_name=svc_name, svc_team=svc_team_a, svc_lo=svc_lo,
        svc_n=svc_n, person_id=person_id, n_humans=n_h,
        m_person=np.concatenate([m_person, n_h + np.arange(n_bots)]),
        m_team=np.concatenate([m_team, np.full(n_bots, platform)]),
        m_since=np.concatenate([m_since, np.zeros(n_bots, np.int64)]),
        m_until=np.concatenate([m_until, np.full(n_bots, -1)]),
        m_fte=np.concatenate([m_fte, np.zeros(n_bots)]),
        m_bot=np.concatenate([np.zeros(m_person.shape[0], bool), np.ones(n_bots, bool)]),
    )


class _Members:
    """Pick active human members of a team on a day, vectorised."""

    def __init__(self, org: _Org, horizon: int) -> None:
        human = ~org.m_bot
        order = np.lexsort((org.m_since, org.m_team[human]))
        self.person = org.m_person[human][order]
        self.team = org.m_team[human][order]
        self.since = org.m_since[human][order]
        self.until = np.where(org.m_until[human] < 0, horizon, org.m_until[human])[order]
        n_teams = len(org.team_id)
        self.lo = np.searchsorted(self.team, np.arange(n_teams), "left")
        self.n = np.searchsorted(self.team, np.arange(n_teams), "right") - self.lo

    def pick(self, rng: np.random.Generator, team: np.ndarray, day: np.ndarray) -> np.ndarray:
        row = self.lo[team] + (rng.random(team.shape[0]) * self.n[team]).astype(np.int64)
        for _ in range(12):
            bad = np.flatnonzero((self.since[row] > day) | (self.until[row] < day))
            if bad.shape[0] == 0:
                break
            t = team[bad]
            row[bad] = self.lo[t] + (rng.random(bad.shape[0]) * self.n[t]).astype(np.int64)
        return self.person[row]

    def fte(self, org: _Org, horizon: int) -> np.ndarray:
        """(teams, horizon) FTE of humans active each day."""
        human = ~org.m_bot
        diff = np.zeros((len(org.team_id), horizon + 1))
        until = np.where(org.m_until[human] < 0, horizon - 1, org.m_until[human])
        np.add.at(diff, (org.m_team[human], org.m_since[human]), org.m_fte[human])
        np.add.at(diff, (org.m_team[human], until + 1), -org.m_fte[human])
        return np.cumsum(diff, axis=1)[:, :horizon]


# --------------------------------------------------------------------------------------------
# activity

PR_RATE = 0.32  # pull requests per FTE per full working day
COMMITS_PER_PR = 2.8
SEV_DEPLOY = np.array([0.04, 0.12, 0.34, 0.32, 0.18])
SEV_SFQ = np.array([0.16, 0.34, 0.30, 0.14, 0.06])
SEV_BACKGROUND = np.array([0.01, 0.05, 0.22, 0.40, 0.32])
SEV_FAILED_DEPLOY = np.array([0.0, 0.0, 0.10, 0.50, 0.40])
BOT_ACTIONED = np.array([0.0, 0.02, 0.15, 0.35, 0.50])
RESOLVE_HOURS = np.array([1.5, 3.0, 8.0, 30.0, 60.0])
SLI_STEP = 6 * HOUR


class _Sim:
    def __init__(self, seed: int, scale: float, end: dt.date, quarters: int) -> None:
        if scale <= 0:
            raise ValueError("scale must be positive")
        self.rng = np.random.default_rng(seed)
        self.plan = plan = Plan.build(end, quarters)
        self.cal = Calendar.build(plan.start, plan.horizon)
        blocks = max(1, int(round(scale)))
        self.act = scale / blocks
        self.org = org = _build_org(self.rng, blocks, plan)
        H = plan.horizon
        self.members = _Members(org, H)
        self.fte = self.members.fte(org, H)
        self.adopt = plan.adoption(org.wave)
        self.sfq = plan.speed_for_quality(org.sfq)
        self.ai = plan.ai(org.ai)
        self.mig = plan.migration()
        self.growth = plan.growth()
        self.unit = np.array(org.unit)
        self.train = self.unit == "commits"
        n_svc = len(org.svc_id)
        # service regions: a third of the deployment teams' services run in 2-3 regions
        team_unit = self.unit[org.svc_team]
        multi = (team_unit == "deployments") & (self.rng.random(n_svc) < 0.33)
        self.n_regions = np.where(multi, self.rng.integers(2, 4, n_svc), 1)
        home = self.rng.integers(0, len(REGIONS), n_svc)
        self.regions = (home[:, None] + np.arange(len(REGIONS))[None, :]) % len(REGIONS)
        self.end_s = plan.days * DAY

    # time helpers ------------------------------------------------------------------------
    def utc(self, w: np.ndarray, team: np.ndarray) -> np.ndarray:
        return self.cal.to_local(w) - self.org.offset[team] * HOUR

    def w_of(self, t: np.ndarray, team: np.ndarray) -> np.ndarray:
        return self.cal.to_w(t + self.org.offset[team] * HOUR)

    def day_of(self, t: np.ndarray, team: np.ndarray) -> np.ndarray:
        local = t + self.org.offset[team] * HOUR
        return np.clip((local // DAY).astype(np.int64), 0, self.plan.horizon - 1)

    def pick_service(self, team: np.ndarray) -> np.ndarray:
        o = self.org
        return o.svc_lo[team] + (self.rng.random(team.shape[0]) * o.svc_n[team]).astype(np.int64)

    # pull requests and commits -----------------------------------------------------------
    def human_work(self) -> tuple[Arrays, Arrays]:
        rng, cal, D = self.rng, self.cal, self.plan.days
        day_factor = (cal.cap[:D] / st.WORK_HOURS) * cal.season[:D] * self.growth[:D]
        day_factor = day_factor * (1 - st.MIGRATION_SLOWDOWN * self.mig[:D])
        team_factor = (1 + st.ADOPTION_PR_GAIN * self.adopt[:, :D]) * (1 + st.AI_PR_GAIN * self.ai[:, :D])
        team_factor = team_factor * (1 + 0.25 * self.sfq[:, :D])
        lam = self.fte[:, :D] * PR_RATE * self.act * day_factor[None, :] * team_factor
        pr_share = np.where(self.train, 0.4, 1.0)
        team, day = _expand(rng.poisson(lam * pr_share[:, None]))
        n = team.shape[0]
        a, s, m = self.adopt[team, day], self.sfq[team, day], self.mig[day]
        slow = 1 + 0.3 * m
        w0 = cal.cum[day] + rng.random(n) * cal.cap[day]
        coding = np.minimum(_ln(rng, 4.5, 1.0, n), 250) * slow
        faster = (1 - 0.2 * a) * (1 - 0.6 * s) * slow
        pickup = np.minimum(_ln(rng, 2.5 * faster, 1.2, n), 250)
        review = np.minimum(_ln(rng, 3.5 * faster, 1.1, n), 250)
        w_created = w0 + coding
        w_review = w_created + pickup
        u = rng.random(n)
        merged, closed = u < 0.86, (u >= 0.86) & (u < 0.94)
        created = self.utc(w_created, team)
        first_review = self.utc(w_review, team)
        first_review[~merged & ~closed & (rng.random(n) < 0.5)] = np.nan
        merged_at = np.where(merged, self.utc(w_review + review, team), np.nan)
        closed_w = w_created + _ln(rng, 16.0, 1.2, n)
        closed_at = np.where(merged, merged_at, np.where(closed, self.utc(closed_w, team), np.nan))
        prs: Arrays = {
            "service": self.pick_service(team),
            "team": team,
            "author": self.members.pick(rng, team, day),
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
        authored = self.utc(wc, ct)
        authored = self._evening(authored, ct, (j > 0), limit)
        commits = self._commit_fields(pr, prs["service"][pr], ct, prs["author"][pr], authored, limit)
        commits["avail"] = merged_at[pr]
        prs["first_commit"] = self.utc(w0, team)
        prs["bot"] = np.zeros(n, bool)

        # direct commits to trunk of the release-train teams
        rows = np.flatnonzero(self.train)
        lam_d = lam[rows] * (1 - pr_share[rows])[:, None] * COMMITS_PER_PR
        r, dday = _expand(rng.poisson(lam_d))
        dteam = rows[r]
        nd = dteam.shape[0]
        dw = cal.cum[dday] + rng.random(nd) * cal.cap[dday]
        dauth = self._evening(self.utc(dw, dteam), dteam, np.ones(nd, bool), np.full(nd, np.inf))
        direct = self._commit_fields(
            np.full(nd, -1), self.pick_service(dteam), dteam, self.members.pick(rng, dteam, dday),
            dauth, np.full(nd, np.inf), rebase=0.0,
        )
        direct["avail"] = direct["committed"]
        return prs, _concat([commits, direct])

    def _evening(self, t: np.ndarray, team: np.ndarray, eligible: np.ndarray, limit: np.ndarray) -> np.ndarray:
        rng = self.rng
        ev = eligible & (rng.random(t.shape[0]) < 0.07)
        off = self.org.offset[team] * HOUR
        local_day = np.floor((t + off) / DAY)
        late = local_day * DAY + (19 + 4.5 * rng.random(t.shape[0])) * HOUR - off
        return np.where(ev, np.maximum(t, np.minimum(late, limit - MINUTE)), t)

    def _commit_fields(
        self, pr: np.ndarray, service: np.ndarray, team: np.ndarray, author: np.ndarray,
        authored: np.ndarray, limit: np.ndarray, rebase: float = 0.25,
    ) -> Arrays:
        rng = self.rng
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

    def bot_work(self) -> tuple[Arrays, Arrays]:
        """Dependency bumps by renovate and dependabot: one commit, early-morning UTC PRs."""
        rng, cal, D, o = self.rng, self.cal, self.plan.days, self.org
        weekday = (cal.cap[:D] == st.WORK_HOURS).astype(float)
        lam = np.full((len(o.svc_id), 1), 0.045 * self.act) * weekday[None, :]
        svc, day = _expand(rng.poisson(lam))
        n = svc.shape[0]
        team = o.svc_team[svc]
        created = day * DAY + (2 + 4 * rng.random(n)) * HOUR
        first_review = self.utc(self.w_of(created, team) + _ln(rng, 4.0, 1.2, n), team)
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

    # releases -----------------------------------------------------------------------------
    def normal_releases(self) -> Arrays:
        rng, cal, D, o = self.rng, self.cal, self.plan.days, self.org
        n_svc = len(o.svc_id)
        t_of_s = o.svc_team
        unit_s = self.unit[t_of_s]
        base = np.where(unit_s == "deployments", _ln(rng, 0.6, 0.35, n_svc), _ln(rng, 0.28, 0.3, n_svc))
        base[self.train[t_of_s]] = 0.0
        day_factor = (cal.cap[:D] / st.WORK_HOURS) * cal.season[:D] * self.growth[:D] * (1 - 0.3 * self.mig[:D])
        team_factor = (1 + st.ADOPTION_DEPLOY_GAIN * self.adopt[:, :D]) * (1 + st.SFQ_DEPLOY_GAIN * self.sfq[:, :D])
        lam = base[:, None] * self.act * team_factor[t_of_s] * day_factor[None, :]
        svc, day = _expand(rng.poisson(lam))
        team = t_of_s[svc]
        build = self.utc(cal.cum[day] + rng.random(svc.shape[0]) * cal.cap[day], team)
        # the enterprise release train leaves every other Tuesday at 10:00 local
        tuesdays = np.flatnonzero((cal.weekday[:D] == 1) & (cal.cap[:D] == st.WORK_HOURS))
        train_days = tuesdays[(tuesdays - tuesdays[0]) % 14 == 0]
        tsvc = np.flatnonzero(self.train[t_of_s])
        ts = np.repeat(tsvc, train_days.shape[0])
        td = np.tile(train_days, tsvc.shape[0])
        tt = t_of_s[ts]
        tbuild = td * DAY + (10 + 0.5 * rng.random(ts.shape[0])) * HOUR - o.offset[tt] * HOUR
        svc = np.concatenate([svc, ts])
        return self.shape_releases(svc, np.concatenate([build, tbuild]), hotfix=False)

    def shape_releases(self, svc: np.ndarray, build: np.ndarray, hotfix: bool) -> Arrays:
        """Durations, outcome and toil of releases built at ``build`` (UTC seconds)."""
        rng = self.rng
        n = svc.shape[0]
        team = self.org.svc_team[svc]
        day = self.day_of(build, team)
        a, s, m = self.adopt[team, day], self.sfq[team, day], self.mig[day]
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

    def release_times(self, r: Arrays) -> Arrays:
        stg_end = r["build"] + np.where(r["has_stg"], r["stg_dur"], 0.0)
        prod_start = stg_end + r["gap"]
        prod_end0 = prod_start + r["prod_dur"]
        nreg = np.where(r["status"] == 0, self.n_regions[r["service"]], 1)
        last_end = prod_start + (nreg - 1) * (r["prod_dur"] + 10 * MINUTE) + r["prod_dur"]
        rb_start = prod_end0 + r["rb_delay"]
        return {
            "stg_end": stg_end, "prod_start": prod_start, "prod_end0": prod_end0,
            "last_end": last_end, "rb_start": rb_start, "rb_end": rb_start + r["rb_dur"],
            "nreg": nreg,
        }

    # incidents and the hotfixes that remediate them ----------------------------------------
    def incidents(self, r: Arrays, t: Arrays) -> tuple[Arrays, tuple[Arrays, Arrays], Arrays]:
        rng, o, D = self.rng, self.org, self.plan.days
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
        lam = np.full((len(o.svc_id), 1), 0.011 * self.act) * ((1 + 1.5 * self.mig[:D]) * self.growth[:D])[None, :]
        bsvc, bday = _expand(rng.poisson(lam))
        nb = bsvc.shape[0]
        bteam = o.svc_team[bsvc]
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
        day = self.day_of(opened, team)
        ad = self.adopt[team, day]
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
        author = self.members.pick(rng, hteam, day[hot])
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
        hr = self.shape_releases(svc[hot], merged + 90.0, hotfix=True)
        hr["remediates"] = hot
        ht = self.release_times(hr)
        resolved[hot] = ht["last_end"] + _ln(rng, 8 * MINUTE, 0.5, nh)
        inc: Arrays = {
            "service": svc, "team": team, "opened": opened, "resolved": resolved,
            "caused": caused, "sev": sev, "human": human, "day": day,
        }
        return inc, (prs, commits), hr

    # on-call pages ---------------------------------------------------------------------------
    def pages(self, inc: Arrays) -> Arrays:
        rng, o, D, cal = self.rng, self.org, self.plan.days, self.cal
        n_teams = len(o.team_id)
        sev, human = inc["sev"], inc["human"]
        primary = np.flatnonzero(human & ((sev <= 2) | ((sev == 3) & (rng.random(sev.shape[0]) < 0.5))))
        secondary = np.flatnonzero(human & (sev == 0))
        lam = 0.22 * self.act * (1 + self.mig[:D])[None, :] * (1 + self.sfq[:, :D]) * (1 - 0.3 * self.adopt[:, :D])
        nteam, nday = _expand(rng.poisson(lam * self.growth[None, :D]))
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

    # money -------------------------------------------------------------------------------------
    def months(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        p = self.plan
        labels, lo, hi = [], [], []
        m = st.add_months(p.start, 0)
        while m <= p.end:
            nxt = st.add_months(m, 1)
            labels.append(f"{m.year:04d}-{m.month:02d}")
            lo.append((m - p.start).days)
            hi.append(min((nxt - p.start).days, p.days))
            m = nxt
        return labels, np.array(lo), np.array(hi)

    def money(self) -> tuple[pa.Table, pa.Table]:
        rng, o = self.rng, self.org
        labels, lo, hi = self.months()
        n_teams, n_m = len(o.team_id), len(labels)

        def monthly(x: np.ndarray) -> np.ndarray:
            c = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(x, axis=1)], axis=1)
            return (c[:, hi] - c[:, lo]) / (hi - lo)

        fte = monthly(self.fte)
        adopt, ai = monthly(self.adopt), monthly(self.ai)
        mig = monthly(self.mig[None, :])[0]
        after = monthly(self.plan.after_migration()[None, :])[0]
        year = np.array([int(x[:4]) for x in labels])
        raise_ = 1.03 ** (year - self.plan.start.year)
        people = fte * o.loaded[:, None] * raise_[None, :] * _ln(rng, 1.0, 0.01, n_teams * n_m).reshape(n_teams, n_m)
        n_svc = len(o.svc_id)
        base = _ln(rng, 7_000.0, 0.7, n_svc)
        drift = (1 + 0.004 * np.arange(n_m)) * (1 + 0.25 * mig) * (1 - 0.07 * after)
        svc_cost = base[:, None] * drift[None, :] * _ln(rng, 1.0, 0.03, n_svc * n_m).reshape(n_svc, n_m)
        infra = np.add.reduceat(svc_cost, o.svc_lo, axis=0)
        tooling = (1_200 + fte * (260 + 160 * adopt + 39 * ai)) * _ln(rng, 1.0, 0.02, n_teams * n_m).reshape(n_teams, n_m)
        amounts = np.stack([people, infra, tooling], axis=2)  # team, month, category
        cats = ["people", "infrastructure", "tooling"]
        team_idx = np.repeat(np.arange(n_teams), n_m * 3)
        month_idx = np.tile(np.repeat(np.arange(n_m), 3), n_teams)
        cat_idx = np.tile(np.arange(3), n_teams * n_m)
        cost = pa.table({
            "team": _strings(o.team_id, team_idx),
            "month": _strings(labels, month_idx),
            "category": _strings(cats, cat_idx),
            "amount": pa.array(np.round(amounts.ravel(), 2)),
            "currency": pa.array(np.full(team_idx.shape[0], "USD")),
        })
        headcount = pa.table({
            "team": _strings(o.team_id, np.repeat(np.arange(n_teams), n_m)),
            "month": _strings(labels, np.tile(np.arange(n_m), n_teams)),
            "fte": pa.array(np.round(fte.ravel(), 3)),
        })
        return cost, headcount

    def investments(self) -> pa.Table:
        o, p = self.org, self.plan
        ids, names, teams, started, amounts, kinds = [], [], [], [], [], []
        t0 = dt.datetime.combine(p.start, dt.time(9), tzinfo=dt.UTC)
        for w, wd in enumerate(p.wave_days):
            members = [o.team_id[i] for i in np.flatnonzero(o.wave == w)]
            ids.append(f"inv-cicd-wave-{w + 1}")
            names.append(f"Delivery automation (CI/CD), wave {w + 1}")
            teams.append(members)
            started.append(t0 + dt.timedelta(days=wd))
            amounts.append(150_000.0 * len(members))
            kinds.append("ci-cd")
        lo, _ = p.quarter_bounds(p.migration_quarter)
        ids.append("inv-managed-platform")
        names.append("Platform migration to managed Kubernetes")
        teams.append(list(o.team_id))
        started.append(t0 + dt.timedelta(days=lo))
        amounts.append(1_200_000.0 * int(o.block.max() + 1))
        kinds.append("managed-services")
        ids.append("inv-ai-assistant")
        names.append("AI coding assistant")
        ai_teams = [o.team_id[i] for i in np.flatnonzero(o.ai)]
        teams.append(ai_teams)
        started.append(t0 + dt.timedelta(days=p.ai_day))
        amounts.append(60_000.0 * len(ai_teams))
        kinds.append("ai-tools")
        return pa.table({
            "id": pa.array(ids), "name": pa.array(names),
            "teams": pa.array(teams, pa.list_(pa.string())),
            "started_at": pa.array(started, TS), "amount": pa.array(amounts),
            "currency": pa.array(["USD"] * len(ids)), "kind": pa.array(kinds),
        })

    # service level objectives ----------------------------------------------------------------
    def slos(self, inc: Arrays) -> tuple[pa.Table, pa.Table]:
        rng, o, D, p = self.rng, self.org, self.plan.days, self.plan
        with_slo = np.zeros(len(o.svc_id), bool)
        with_slo[o.svc_lo] = True
        with_slo |= o.sfq[o.svc_team]
        svc = np.flatnonzero(with_slo)
        n = svc.shape[0]
        objective = rng.choice([0.99, 0.995, 0.999], n, p=[0.3, 0.4, 0.3])
        window = np.where(rng.random(n) < 0.7, 28, 30)
        slo_id = [f"slo-{o.svc_id[s]}-availability" for s in svc]
        k = D * 4
        kk = np.arange(k)
        diurnal = np.array([0.55, 0.95, 1.3, 1.2])[kk % 4]
        weekend = np.where(p.start.weekday() + kk // 4 % 7 >= 0, 1.0, 1.0)
        wd = (p.start.weekday() + kk // 4) % 7
        weekend = np.where(wd >= 5, 0.8, 1.0)
        shape = diurnal * weekend * self.growth[kk // 4]
        base = _ln(rng, 40_000.0, 1.2, n)
        total = rng.poisson(base[:, None] * shape[None, :] * _ln(rng, 1.0, 0.1, n * k).reshape(n, k))
        p_bad = (1 - objective)[:, None] * rng.uniform(0.1, 0.5, n)[:, None]
        p_bad = p_bad * _ln(rng, 1.0, 0.5, n * k).reshape(n, k) * (1 + self.mig[kk // 4])[None, :]
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
            "at": self.ts(np.tile((kk + 1) * SLI_STEP, n)),
            "good": pa.array((total - bad).ravel().astype(np.int64)),
            "total": pa.array(total.ravel().astype(np.int64)),
        })
        return slo, sli

    def ts(self, sec: np.ndarray) -> pa.Array:
        t0 = int(dt.datetime.combine(self.plan.start, dt.time(0), tzinfo=dt.UTC).timestamp()) * 1_000_000
        mask = np.isnan(sec)
        us = t0 + np.round(np.where(mask, 0.0, sec) * 1e6).astype(np.int64)
        return pa.array(us, type=pa.int64(), mask=mask if mask.any() else None).cast(TS)
