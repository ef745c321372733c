"""A deterministic synthetic software organisation, in the canonical event format v1.

``generate(seed, scale, end, quarters)`` returns every record type of
:mod:`shipwise.domain.schema` as Arrow tables, plus ``story``: machine-readable facts about what
the numbers should show (who adopted delivery automation and when, which team bought speed with
quality, which quarter was the platform migration).

Everything is vectorised with numpy: loops run over teams, quarters or story waves, never over
events. Volumes are drawn as counts per (team or service, day) and expanded (work and releases
track each team's story closely, see :func:`_smooth_counts`; incidents and pages are Poisson);
times are drawn in *working hours* on each team's local calendar (see :class:`~shipwise.demo.story.Calendar`)
and mapped to UTC, which gives weekday and office-hour rhythms and a quiet late December.

Conventions the rest of shipwise can rely on:

* a service's repository is named exactly like the service id (``commit.repo == service.id``);
* every commit merged to trunk is shipped by the first successful production release of its
  service built after the merge (a release is built when its staging deployment starts; rollback
  deployments ship nothing); a production attempt that failed or was rolled
  back also lists the commits it tried to ship. Staging and rollback deployments list none;
* multi-region releases are one deployment per region with the same ``version``; every
  successful release is also a git tag ``v<version>`` on the newest commit it shipped;
* a commit that no pull request lists went straight to trunk (the release train's way);
* the data is a snapshot at the end of ``end``: nothing happens later, and spans still running
  then are open (``resolved_at``/``merged_at`` null).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shipwise.demo import story as st
from shipwise.demo.story import REGIONS, Calendar, Members, Plan, build_org

TS = pa.timestamp("us", tz="UTC")
HOUR = 3_600.0
MINUTE = 60.0
DAY = 86_400.0
Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class DemoOrg:
    """Canonical tables keyed by record type name, and the facts of the story they tell."""

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
    return (rng.random(int(probs.shape[0]))[:, None] > c).sum(axis=1)


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Poisson counts of shape (rows, days) -> (row, day) of every event."""
    flat = np.repeat(np.arange(counts.size), counts.ravel())
    return flat // counts.shape[1], flat % counts.shape[1]


def _smooth_counts(rng: np.random.Generator, lam: np.ndarray, burst: float = 0.2) -> np.ndarray:
    """Event counts per (row, day) that track the expected ``lam`` closely over weeks.

    Day-to-day the counts are bursty (a log-normal factor per day), but instead of independent
    Poisson draws the cumulative expectation is sampled systematically (random phase per row),
    so a team's quarterly volume stays within a few percent of its story. That keeps the trend
    of a team against itself readable at demo sizes.
    """
    noisy = lam * np.exp(burst * rng.standard_normal(lam.shape) - burst**2 / 2)
    cum = np.cumsum(noisy, axis=1) + rng.random((lam.shape[0], 1))
    cum = np.floor(cum)
    out = np.diff(cum, axis=1, prepend=np.floor(cum[:, :1] - noisy[:, :1]))
    return out.astype(np.int64)


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


_HEX_PAIRS = np.array(
    [int.from_bytes(f"{b:02x}".encode(), "little") for b in range(256)], dtype=np.uint16
)


def _shas(rng: np.random.Generator, n: int) -> pa.Array:
    """``n`` 40-hex-digit commit ids from the generator's random bytes."""
    raw = rng.integers(0, 256, size=(n, 20), dtype=np.uint8)
    data = _HEX_PAIRS[raw].tobytes()
    offsets = np.arange(0, 40 * (n + 1), 40, dtype=np.int64)
    arr = pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
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
        blocks = max(1, round(scale))
        self.act = scale / blocks
        self.org = org = build_org(self.rng, blocks, plan)
        H = plan.horizon
        self.members = Members(org, H)
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
        team, day = _expand(_smooth_counts(rng, lam * pr_share[:, None]))
        n = int(team.shape[0])
        a, s, m = self.adopt[team, day], self.sfq[team, day], self.mig[day]
        slow = 1 + 0.3 * m
        w0 = cal.cum[day] + rng.random(n) * cal.cap[day]
        coding = np.minimum(_ln(rng, 4.0, 1.3, n), 250) * slow
        faster = (1 - 0.2 * a) * (1 - 0.6 * s) * slow
        pickup = np.minimum(_ln(rng, 2.5 * faster, 1.2, n), 250)
        review = np.minimum(_ln(rng, 3.0 * faster, 1.3, n), 250)
        # a few pull requests stall, waiting on another team or a dependency
        stalled = rng.random(n) < 0.08
        review = review + np.where(stalled, np.minimum(_ln(rng, 40.0, 1.0, n), 400), 0.0)
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
        r, dday = _expand(_smooth_counts(rng, lam_d))
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
        n = int(svc.shape[0])
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
        # releases follow the flow of merges into each service: about one per three merges for
        # service teams, one per eight for app teams (which batch changes into app releases)
        merges = self.fte[t_of_s, 0] * PR_RATE * 0.86 / o.svc_n[t_of_s]
        base = merges * np.where(unit_s == "deployments", 0.33, 0.125) * _ln(rng, 1.0, 0.25, n_svc)
        base[self.train[t_of_s]] = 0.0
        day_factor = (cal.cap[:D] / st.WORK_HOURS) * cal.season[:D] * self.growth[:D] * (1 - 0.3 * self.mig[:D])
        team_factor = (1 + st.ADOPTION_DEPLOY_GAIN * self.adopt[:, :D]) * (1 + st.SFQ_DEPLOY_GAIN * self.sfq[:, :D])
        size = self.fte[:, :D] / np.maximum(self.fte[:, :1], 1.0)  # more people, more changes
        lam = base[:, None] * self.act * (team_factor * size)[t_of_s] * day_factor[None, :]
        svc, day = _expand(_smooth_counts(rng, lam))
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
        while (nxt := st.add_months(m, 1)) <= p.end + dt.timedelta(days=1):  # complete months only
            labels.append(f"{m.year:04d}-{m.month:02d}")
            lo.append((m - p.start).days)
            hi.append((nxt - p.start).days)
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
        k = D * 4 - 1  # intervals ending before the snapshot's end
        kk = np.arange(k)
        diurnal = np.array([0.55, 0.95, 1.3, 1.2])[kk % 4]
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

    # assembly ----------------------------------------------------------------------------------
    def run(self) -> DemoOrg:
        o, p, end_s = self.org, self.plan, self.end_s
        human = self.human_work()
        bots = self.bot_work()
        r0 = self.normal_releases()
        inc, hot, r1 = self.incidents(r0, self.release_times(r0))
        prs, commits = _merge_work([human, bots, hot])
        rel = _concat([r0, r1])
        rt = self.release_times(rel)
        pages = self.pages(inc)

        # the snapshot: nothing after the end of `end`; spans still running are open
        commits = _take(commits, commits["committed"] < end_s)
        kept_pr = np.flatnonzero(prs["created"] < end_s)
        pr_map = np.full(prs["created"].shape[0] + 1, -1)  # last slot: commits without a PR
        pr_map[kept_pr] = np.arange(kept_pr.shape[0])
        on_branch = commits["pr"] >= 0
        commits["pr"] = pr_map[commits["pr"]]
        # branch commits of pull requests opened after the snapshot are not in it either
        commits = _take(commits, ~on_branch | (commits["pr"] >= 0))
        prs = _take(prs, kept_pr)
        for k in ("first_review", "merged", "closed"):
            prs[k] = np.where(prs[k] >= end_s, np.nan, prs[k])
        commits["avail"] = np.where(commits["avail"] >= end_s, np.nan, commits["avail"])
        shas = _shas(self.rng, commits["pr"].shape[0])

        # which release shipped which commit
        rel_lists, rel_len = self.ship(rel, commits)

        tables: dict[str, pa.Table] = {}
        tables["org_unit"] = pa.table({
            "id": pa.array([u[0] for u in o.org_units]),
            "name": pa.array([u[1] for u in o.org_units]),
            "parent": pa.array([u[2] for u in o.org_units], pa.string()),
        })
        tables["team"] = pa.table({
            "id": pa.array(o.team_id), "name": pa.array(o.team_name),
            "org_unit": pa.array(o.team_ou), "delivery_unit": pa.array(o.unit),
            "attributes": pa.array(o.attributes),
        })
        tables["service"] = pa.table({
            "id": pa.array(o.svc_id), "name": pa.array(o.svc_name),
            "team": _strings(o.team_id, o.svc_team),
        })
        epoch = (p.start - dt.date(1970, 1, 1)).days
        tables["person"] = pa.table({
            "id": _strings(o.person_id, o.m_person),
            "team": _strings(o.team_id, o.m_team),
            "since": pa.array((epoch + o.m_since).astype(np.int32)).cast(pa.date32()),
            "until": pa.array((epoch + o.m_until).astype(np.int32), mask=o.m_until < 0).cast(pa.date32()),
            "bot": pa.array(o.m_bot),
        })
        nc = commits["pr"].shape[0]
        tables["commit"] = pa.table({
            "sha": shas,
            "repo": _strings(o.svc_id, commits["service"]),
            "author": _strings(o.person_id, commits["author"]),
            "authored_at": self.ts(commits["authored"]),
            "committed_at": self.ts(commits["committed"]),
            "additions": pa.array(commits["additions"]),
            "deletions": pa.array(commits["deletions"]),
            "files_changed": pa.array(commits["files"]),
            "parents": pa.nulls(nc, pa.list_(pa.string())),
        })
        tables["pull_request"] = self.pr_table(prs, commits, shas)
        dep, prod0 = self.deployments(rel, rt, rel_lists, rel_len, shas)
        # release tags on the newest commit each successful release shipped
        tagged = np.flatnonzero((rel["status"] == 0) & (prod0 >= 0) & (rel_len > 0))
        last = (np.cumsum(rel_len) - 1)[tagged]
        seq, _ = _versions(rel)
        tables["tag"] = pa.table({
            "repo": _strings(o.svc_id, rel["service"][tagged]),
            "name": pc.binary_join_element_wise("v1.", pa.array(seq[tagged]).cast(pa.string()), ".0", ""),
            "sha": shas.take(pa.array(rel_lists[last])),
            "tagged_at": self.ts(rel["build"][tagged]),
            "tagger": _strings(o.person_id, np.full(tagged.shape[0], o.n_humans + st.BOTS.index("deploy-bot[bot]"))),
        })
        inc_t, inc_ids, inc_new = self.incident_table(inc, prod0, dep)
        rem = dep.column("remediates").to_numpy(zero_copy_only=False)
        rem = np.where(np.isnan(rem), -1, rem).astype(np.int64)
        dep = dep.set_column(
            dep.schema.get_field_index("remediates"), "remediates",
            _strings(inc_ids, np.where(rem >= 0, inc_new[np.maximum(rem, 0)], -1), null=rem < 0),
        )
        tables["deployment"] = dep
        tables["incident"] = inc_t
        keep = np.flatnonzero(pages["at"] < end_s)
        keep = keep[np.argsort(pages["at"][keep], kind="stable")]
        tables["page"] = pa.table({
            "id": _ids("PG-", keep.shape[0], 7),
            "team": _strings(o.team_id, pages["team"][keep]),
            "person": _strings(o.person_id, pages["person"][keep]),
            "at": self.ts(pages["at"][keep]),
            "urgency": _strings(["low", "high"], pages["high"][keep].astype(np.int64)),
        })
        tables["cost"], tables["headcount"] = self.money()
        tables["investment"] = self.investments()
        tables["slo"], tables["sli"] = self.slos(inc)
        order_names = ("org_unit", "team", "service", "person", "commit", "tag", "pull_request",
                       "deployment", "incident", "page", "cost", "headcount", "investment", "slo", "sli")
        return DemoOrg({k: tables[k] for k in order_names}, self.story())

    def ship(self, rel: Arrays, commits: Arrays) -> tuple[np.ndarray, np.ndarray]:
        """Commit indexes each release lists, grouped by release, and the count per release."""
        n_rel = rel["service"].shape[0]
        scale = (self.plan.horizon + 10) * DAY
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

    def pr_table(self, prs: Arrays, commits: Arrays, shas: pa.Array) -> pa.Table:
        o = self.org
        n = prs["service"].shape[0]
        svc = prs["service"]
        order = np.lexsort((prs["created"], svc))
        s_sorted = svc[order]
        number = np.empty(n, np.int64)
        number[order] = np.arange(n) - np.searchsorted(s_sorted, s_sorted, side="left") + 1
        in_pr = np.flatnonzero(commits["pr"] >= 0)
        cpr = commits["pr"][in_pr]
        key = cpr * ((self.plan.horizon + 10) * DAY) + commits["authored"][in_pr]
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
            "created_at": self.ts(prs["created"]),
            "first_commit_at": self.ts(prs["first_commit"]),
            "first_review_at": self.ts(prs["first_review"]),
            "merged_at": self.ts(prs["merged"]),
            "closed_at": self.ts(prs["closed"]),
            "commits": _lists(counts, shas.take(pa.array(co))),
            "additions": pa.array(adds),
            "deletions": pa.array(dels),
        })

    def deployments(
        self, rel: Arrays, rt: Arrays, lists: np.ndarray, lens: np.ndarray, shas: pa.Array
    ) -> tuple[pa.Table, np.ndarray]:
        o, end_s = self.org, self.end_s
        n_rel = rel["service"].shape[0]
        status, svc = rel["status"], rel["service"]
        seq, prev_rel = _versions(rel)

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
            "region": np.concatenate([self.regions[svc[stg], 0], self.regions[svc[pr], k], self.regions[svc[rb], 0]]),
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
            "started_at": self.ts(rec["start"]),
            "finished_at": self.ts(rec["finish"]),
            "status": _strings(["success", "failure", "rolled_back"], rec["status"]),
            "commits": _lists(length, values, null=~rec["listed"]),
            "version": pc.binary_join_element_wise("1.", ver, ".0", ""),
            "region": _strings(list(REGIONS), rec["region"]),
            "kind": _strings(["normal", "hotfix", "rollback"], rec["kind"]),
            "remediates": pa.array(np.where(rec["remediates"] >= 0, rec["remediates"], np.nan)),
            "manual_interventions": pa.array(rec["mi"].astype(np.int64)),
        })
        return table, prod0

    def incident_table(self, inc: Arrays, prod0: np.ndarray, dep: pa.Table) -> tuple[pa.Table, list[str], np.ndarray]:
        o, end_s = self.org, self.end_s
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
            "opened_at": self.ts(inc["opened"][keep]),
            "resolved_at": self.ts(resolved),
            "caused_by": caused_by,
            "human_actioned": pa.array(inc["human"][keep]),
        })
        return table, ids, new

    def story(self) -> dict[str, object]:
        o, p = self.org, self.plan
        adopters = [o.team_id[i] for i in np.flatnonzero(o.wave >= 0)]
        wave_of = {o.team_id[i]: int(o.wave[i]) for i in np.flatnonzero(o.wave >= 0)}
        sfq = [o.team_id[i] for i in np.flatnonzero(o.sfq)]
        return {
            "start": p.start,
            "end": p.end,
            "quarters": [p.quarter_label(i) for i in range(len(p.quarter_starts))],
            "adopters": adopters,
            "adoption_quarter": {t: p.quarter_label(p.wave_quarters[w]) for t, w in wave_of.items()},
            "adoption_date": {t: p.date(p.wave_days[w]) for t, w in wave_of.items()},
            "speed_for_quality_team": sfq[0],
            "speed_for_quality_from": p.quarter_label(p.sfq_quarter),
            "migration_quarter": p.quarter_label(p.migration_quarter),
            "ai_assistant_teams": [o.team_id[i] for i in np.flatnonzero(o.ai)],
            "ai_assistant_from": p.quarter_label(p.ai_quarter),
            "release_train_teams": [o.team_id[i] for i in np.flatnonzero(self.train)],
            "non_adopters": [o.team_id[i] for i in np.flatnonzero((o.wave < 0) & ~o.sfq)],
            "bots": list(st.BOTS),
            "repo_of_service": "commit.repo and pull_request.repo equal the service id",
            "currency": "USD",
        }


def _versions(rel: Arrays) -> tuple[np.ndarray, np.ndarray]:
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


def _merge_work(batches: list[tuple[Arrays, Arrays]]) -> tuple[Arrays, Arrays]:
    prs, commits, off = [], [], 0
    for p, c in batches:
        c = dict(c)
        c["pr"] = np.where(c["pr"] >= 0, c["pr"] + off, -1)
        off += p["service"].shape[0]
        prs.append(p)
        commits.append(c)
    return _concat(prs), _concat(commits)


def generate(
    seed: int = 7, scale: float = 1.0, end: dt.date = dt.date(2026, 9, 30), quarters: int = 8
) -> DemoOrg:
    """The demo organisation: ``quarters`` calendar quarters ending with the one holding ``end``.

    ``scale`` multiplies the volume: below 1 the same organisation is less busy; above 1 the
    fifteen-team block is repeated ``round(scale)`` times (about 250 people per block) in new
    business units, so scale 50 is 750 teams and about 11 million events. The same arguments
    always give the same tables. Costs and headcount cover complete months only, so pick ``end``
    at the end of a quarter for whole quarters (the default). ``quarters`` must be at least 6.
    """
    return _Sim(seed, scale, end, quarters).run()
