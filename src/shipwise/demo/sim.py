"""The simulation's shared state: random generator, plan, calendar, organisation and story curves."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import numpy as np
import pyarrow as pa

from shipwise.demo import story as st
from shipwise.demo.arrays import DAY, HOUR, TS
from shipwise.demo.story import REGIONS, Calendar, Members, Plan, build_org


class Sim:
    """One simulation run: everything the activity modules draw from, in a fixed order."""

    def __init__(self, seed: int, scale: float, end: dt.date, quarters: int) -> None:
        if scale <= 0:
            raise ValueError("scale must be positive")
        self.seed = seed
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
        self.tz_offset = _tz_offsets(org.timezone, org.offset, plan.start, H)
        # the error-budget story (first block): the fast-burning team cut its releases after an outage
        self.fast_team = int(org.team_of(st.FAST_BURN_TEAM)[0])
        self.slow_team = int(org.team_of(st.SLOW_BURN_TEAM)[0])
        self.outage_day = plan.days - st.OUTAGE_DAYS_AGO
        self.brake = np.ones((len(org.team_id), H))
        self.brake[self.fast_team, self.outage_day + 1:] = st.APPETITE_BRAKE

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

    def ts(self, sec: np.ndarray) -> pa.Array:
        t0 = int(dt.datetime.combine(self.plan.start, dt.time(0), tzinfo=dt.UTC).timestamp()) * 1_000_000
        mask = np.isnan(sec)
        us = t0 + np.round(np.where(mask, 0.0, sec) * 1e6).astype(np.int64)
        return pa.array(us, type=pa.int64(), mask=mask if mask.any() else None).cast(TS)


def _tz_offsets(zones: list[str], fixed: np.ndarray, start: dt.date, horizon: int) -> np.ndarray:
    """(teams, horizon) UTC offset in hours at local noon of each day, daylight saving included.

    One look-up per time zone and day (never per event); falls back to the fixed offset when the
    system has no time zone database.
    """
    out = np.repeat(fixed[:, None].astype(float), horizon, axis=1)
    days = [dt.datetime.combine(start + dt.timedelta(days=d), dt.time(12)) for d in range(horizon)]
    for name in sorted(set(zones)):
        try:
            tz = zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue
        hours = np.array([tz.utcoffset(d).total_seconds() / HOUR for d in days])  # type: ignore[union-attr]
        out[np.array(zones) == name] = hours
    return out
