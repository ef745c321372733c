"""The story the demo organisation tells, declared as data.

Who the teams are, which of them adopt delivery automation and when, which team buys speed with
quality, when the platform migration slows everyone down, and the calendar (weekends, the quiet
late-December week, the summer lull) that shapes every team's rhythm. The generator turns these
declarations into events. The organisation itself (teams, services, people and their moves) is
built here too, from the random stream the generator hands over.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import numpy as np

#: Hours of the day a team works, local time.
WORK_OPEN, WORK_CLOSE = 9.0, 18.0
WORK_HOURS = WORK_CLOSE - WORK_OPEN


@dataclass(frozen=True)
class TeamSpec:
    slug: str
    name: str
    org_unit: str
    delivery_unit: str  # deployments | pull_requests | commits
    team_type: str
    services: tuple[str, ...]
    #: adoption wave of delivery automation (0, 1, 2), or -1 for teams that do not adopt
    wave: int = -1
    #: the team that buys speed with quality in the last quarters
    speed_for_quality: bool = False
    #: an early adopter of the AI coding assistant
    ai: bool = False
    #: founding members when fixed (0: drawn from the block's size distribution)
    size: int = 0
    #: people on the primary on-call rota (0: every long-standing member takes a week)
    rota: int = 0
    #: key of the team's ticket tracker project ("" when its tickets are not in ``ticket_status``)
    tracker: str = ""
    #: share of the team's tickets that get blocked on another team (before the migration effect)
    block_rate: float = 0.0
    #: the teams (catalogue slugs) its tickets wait on, the most frequent first
    waits_on: tuple[str, ...] = ()


#: One "block" of fifteen teams. Larger scales repeat the block (in new business units).
CATALOG: tuple[TeamSpec, ...] = (
    TeamSpec("payments", "Payments", "commerce", "deployments", "stream-aligned",
             ("payments-api", "payments-ledger", "payouts-worker", "fraud-check"), wave=0,
             tracker="PAY", block_rate=0.12, waits_on=("identity", "data-platform", "developer-platform")),
    TeamSpec("checkout", "Checkout", "commerce", "deployments", "stream-aligned",
             ("checkout-api", "cart-service", "promotions-engine"), wave=1, ai=True,
             tracker="CHK", block_rate=0.10, waits_on=("payments", "pricing", "developer-platform")),
    TeamSpec("search", "Search", "consumer", "deployments", "complicated-subsystem",
             ("search-api", "search-indexer", "query-understanding"), wave=1),
    TeamSpec("identity", "Identity", "platform", "deployments", "stream-aligned",
             ("identity-api", "auth-gateway", "session-store"), wave=2),
    TeamSpec("recommendations", "Recommendations", "consumer", "deployments",
             "complicated-subsystem",
             ("recs-api", "recs-ranker", "recs-feature-store"), speed_for_quality=True),
    TeamSpec("catalog", "Catalog", "commerce", "deployments", "stream-aligned",
             ("catalog-api", "catalog-importer", "media-resizer"),
             tracker="CAT", block_rate=0.22, waits_on=("data-platform", "developer-platform", "search")),
    TeamSpec("notifications", "Notifications", "consumer", "deployments", "stream-aligned",
             ("notify-api", "email-sender", "push-gateway"),
             tracker="NTF", block_rate=0.20, waits_on=("data-platform", "developer-platform", "identity")),
    TeamSpec("developer-platform", "Developer Platform", "platform", "deployments", "platform",
             ("ci-runners", "artifact-registry", "deploy-orchestrator")),
    TeamSpec("data-platform", "Data Platform", "platform", "deployments", "platform",
             ("event-bus", "warehouse-loader", "stream-processor"), rota=2),
    TeamSpec("observability", "Observability", "platform", "deployments", "enabling",
             ("metrics-gateway", "log-router"), size=4),
    TeamSpec("mobile-app", "Mobile App", "consumer", "pull_requests", "stream-aligned",
             ("mobile-ios", "mobile-android", "mobile-bff"), ai=True,
             tracker="MOB", block_rate=0.14, waits_on=("identity", "notifications", "developer-platform")),
    TeamSpec("web-storefront", "Web Storefront", "consumer", "pull_requests", "stream-aligned",
             ("storefront-web", "storefront-ssr", "design-system"), ai=True,
             tracker="WEB", block_rate=0.10, waits_on=("catalog", "search", "developer-platform")),
    TeamSpec("customer-care", "Customer Care Tools", "enterprise", "pull_requests",
             "stream-aligned", ("care-console", "ticket-sync", "care-knowledge-base"),
             tracker="CARE", block_rate=0.16, waits_on=("identity", "data-platform", "erp-integration")),
    TeamSpec("erp-integration", "ERP Integration", "enterprise", "commits", "complicated-subsystem",
             ("erp-connector", "invoice-exporter", "finance-reports")),
    TeamSpec("pricing", "Pricing", "commerce", "deployments", "complicated-subsystem",
             ("pricing-api", "pricing-rules", "tax-calculator")),
)

ORG_UNITS: tuple[tuple[str, str], ...] = (
    ("consumer", "Consumer"),
    ("commerce", "Commerce"),
    ("platform", "Platform & Infrastructure"),
    ("enterprise", "Enterprise Systems"),
)

#: location -> (UTC offset in hours, monthly loaded cost of one FTE in USD)
LOCATIONS: dict[str, tuple[float, float]] = {
    "Lisbon": (0.0, 9_500.0),
    "Berlin": (1.0, 12_500.0),
    "London": (0.0, 13_000.0),
    "Warsaw": (1.0, 8_500.0),
    "Austin": (-6.0, 16_500.0),
    "Toronto": (-5.0, 13_500.0),
    "São Paulo": (-3.0, 7_000.0),
    "Bangalore": (5.5, 6_000.0),
}

#: location -> IANA time zone (the team attribute ``timezone``; strain is judged in it)
TIMEZONES: dict[str, str] = {
    "Lisbon": "Europe/Lisbon",
    "Berlin": "Europe/Berlin",
    "London": "Europe/London",
    "Warsaw": "Europe/Warsaw",
    "Austin": "America/Chicago",
    "Toronto": "America/Toronto",
    "São Paulo": "America/Sao_Paulo",
    "Bangalore": "Asia/Kolkata",
}

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-1")

BOTS: tuple[str, ...] = (
    "renovate[bot]",
    "dependabot[bot]",
    "deploy-bot[bot]",
    "github-actions[bot]",
    "pagerduty-autoremediate[bot]",
)

# Story effects: how strongly each context moves each mechanism (multiplicative).
ADOPTION_DEPLOY_GAIN = 0.9  # deploy frequency x(1 + gain) once fully adopted
ADOPTION_PR_GAIN = 0.08  # capacity given back: a little more work gets done
ADOPTION_RAMP_DAYS = 60
SFQ_DEPLOY_GAIN = 0.8
SFQ_RAMP_DAYS = 21
AI_PR_GAIN = 0.05
MIGRATION_SLOWDOWN = 0.22
ANNUAL_GROWTH = 0.03  # organic activity growth, about offsets the yearly raise

#: Founding members per catalogue block (the fixed-size teams included).
BLOCK_PEOPLE = 235

# Pull requests of stream-aligned teams in another team's repository (platform contributions).
CROSS_TEAM_PR_SHARE = 0.05
CROSS_TEAM_REPOS = ("developer-platform", "data-platform", "identity")

# The error-budget story at the end of the data (first block only): the first service of
# FAST_BURN_TEAM had an outage OUTAGE_DAYS_AGO days before the end, so the team cut its releases
# (APPETITE_BRAKE) and is now burning fast again in a sev2 opened FAST_BURN_MINUTES ago; the
# first service of SLOW_BURN_TEAM has been degrading for SLOW_BURN_DAYS and has nearly spent its
# budget. Every other SLO is healthy.
FAST_BURN_TEAM = "checkout"
SLOW_BURN_TEAM = "data-platform"
OUTAGE_DAYS_AGO = 18
FAST_BURN_MINUTES = 50
SLOW_BURN_DAYS = 24
APPETITE_BRAKE = 0.5


def quarter_label(d: dt.date) -> str:
    return f"{d.year}-Q{(d.month - 1) // 3 + 1}"


def quarter_start(d: dt.date) -> dt.date:
    return dt.date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)


def add_months(d: dt.date, months: int) -> dt.date:
    m = d.year * 12 + d.month - 1 + months
    return dt.date(m // 12, m % 12 + 1, 1)


@dataclass(frozen=True)
class Calendar:
    """Local working time of a team, as a monotone map between wall clock and working hours.

    Every team works the same local calendar (weekdays 09:00-18:00; a trickle at weekends; the
    quiet week from 24 December to 1 January). A *working coordinate* ``w`` counts working hours
    since the start; durations of work are drawn in working hours and mapped back to the wall
    clock, so a review that takes five working hours started at 16:00 on Friday ends on Monday.
    """

    start: dt.date
    weekday: np.ndarray  # (H,) 0 = Monday
    cap: np.ndarray  # (H,) working hours in the local day
    open_h: np.ndarray  # (H,) local hour the working window opens
    close_h: np.ndarray  # (H,) local hour it closes
    cum: np.ndarray  # (H + 1,) working hours before each day
    season: np.ndarray  # (H,) activity multiplier (summer lull)

    @classmethod
    def build(cls, start: dt.date, horizon: int) -> Calendar:
        days = np.arange(horizon)
        dates = np.datetime64(start.isoformat(), "D") + days
        weekday = (dates.astype("datetime64[D]").astype(np.int64) + 3) % 7  # 1970-01-01: Thursday
        months = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
        dom = (dates - dates.astype("datetime64[M]")).astype(np.int64) + 1
        holiday = ((months == 12) & (dom >= 24)) | ((months == 1) & (dom <= 1))
        weekend = weekday >= 5
        cap = np.where(weekend, 0.35, WORK_HOURS)
        open_h = np.where(weekend, 10.0, WORK_OPEN)
        close_h = np.where(weekend, 22.0, WORK_CLOSE)
        cap = np.where(holiday, 0.4, cap)
        open_h = np.where(holiday, 10.0, open_h)
        close_h = np.where(holiday, 16.0, close_h)
        cum = np.concatenate([[0.0], np.cumsum(cap)])
        season = np.where(months == 8, 0.82, 1.0)
        return cls(start, weekday, cap, open_h, close_h, cum, season)

    @property
    def horizon(self) -> int:
        return int(self.cap.shape[0])

    def to_local(self, w: np.ndarray) -> np.ndarray:
        """Working coordinate (hours) -> local seconds since the start's local midnight."""
        d = np.clip(np.searchsorted(self.cum, w, side="right") - 1, 0, self.horizon - 1)
        frac = np.clip((w - self.cum[d]) / self.cap[d], 0.0, 1.0)
        hour = self.open_h[d] + frac * (self.close_h[d] - self.open_h[d])
        return d * 86_400.0 + hour * 3_600.0

    def to_w(self, local: np.ndarray) -> np.ndarray:
        """Local seconds since the start's local midnight -> working coordinate (hours)."""
        d = np.clip((local // 86_400).astype(np.int64), 0, self.horizon - 1)
        hour = (local - d * 86_400.0) / 3_600.0
        frac = np.clip((hour - self.open_h[d]) / (self.close_h[d] - self.open_h[d]), 0.0, 1.0)
        return self.cum[d] + frac * self.cap[d]


@dataclass(frozen=True)
class Plan:
    """When things happen, as day indexes from ``start`` (day 0)."""

    start: dt.date
    end: dt.date
    days: int  # days in the reported period
    horizon: int  # days simulated (period plus spill-over past ``end``)
    quarter_starts: tuple[dt.date, ...]
    migration_quarter: int
    wave_quarters: tuple[int, ...]
    wave_days: tuple[int, ...]
    sfq_quarter: int
    sfq_day: int
    ai_quarter: int
    ai_day: int

    @classmethod
    def build(cls, end: dt.date, quarters: int) -> Plan:
        if quarters < 6:
            raise ValueError("the demo story needs at least 6 quarters")
        last = quarter_start(end)
        qs = tuple(add_months(last, -3 * (quarters - 1 - i)) for i in range(quarters))
        start = qs[0]
        days = (end - start).days + 1
        q = quarters
        # The migration sits six quarters before the end, so the latest quarter's year-over-year
        # comparison (q-1 vs q-5) is not flattered by it; adoption waves follow it.
        migration = q - 6
        waves = (q - 5, q - 4, q - 3)

        def day(qi: int, offset: int) -> int:
            return (qs[qi] - start).days + offset

        return cls(
            start=start,
            end=end,
            days=days,
            horizon=days + 120,
            quarter_starts=qs,
            migration_quarter=migration,
            wave_quarters=waves,
            wave_days=tuple(day(w, 18) for w in waves),
            sfq_quarter=q - 3,
            sfq_day=day(q - 3, -10),
            ai_quarter=q - 2,
            ai_day=day(q - 2, 7),
        )

    def quarter_label(self, i: int) -> str:
        return quarter_label(self.quarter_starts[i])

    def date(self, day: int) -> dt.date:
        return self.start + dt.timedelta(days=int(day))

    def quarter_bounds(self, i: int) -> tuple[int, int]:
        lo = (self.quarter_starts[i] - self.start).days
        hi = (add_months(self.quarter_starts[i], 3) - self.start).days
        return lo, hi

    def migration(self) -> np.ndarray:
        lo, hi = self.quarter_bounds(self.migration_quarter)
        m = np.zeros(self.horizon)
        m[lo:hi] = 1.0
        return m

    def after_migration(self) -> np.ndarray:
        _, hi = self.quarter_bounds(self.migration_quarter)
        m = np.zeros(self.horizon)
        m[hi:] = 1.0
        return m

    def growth(self) -> np.ndarray:
        return (1.0 + ANNUAL_GROWTH) ** (np.arange(self.horizon) / 365.0)

    def adoption(self, wave: np.ndarray) -> np.ndarray:
        """(teams, horizon) adoption level in [0, 1]: 0 before, ramping to 1 after the wave."""
        days = np.arange(self.horizon)
        out = np.zeros((wave.shape[0], self.horizon))
        for w, wd in enumerate(self.wave_days):
            ramp = np.clip((days - wd) / ADOPTION_RAMP_DAYS, 0.0, 1.0)
            out[wave == w] = ramp
        return out

    def speed_for_quality(self, sfq: np.ndarray) -> np.ndarray:
        days = np.arange(self.horizon)
        ramp = np.clip((days - self.sfq_day) / SFQ_RAMP_DAYS, 0.0, 1.0)
        return sfq[:, None].astype(float) * ramp[None, :]

    def ai(self, ai: np.ndarray) -> np.ndarray:
        days = np.arange(self.horizon)
        ramp = np.clip((days - self.ai_day) / 45.0, 0.0, 1.0)
        return ai[:, None].astype(float) * ramp[None, :]


# --------------------------------------------------------------------------------------------
# the organisation: teams, services and people (drawn from the generator's random stream)


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
class Org:
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
    offset: np.ndarray  # UTC offset, hours (fixed: the simulation's working calendar)
    timezone: list[str]  # IANA time zone of the team's location
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

    def spec(self, name: str) -> np.ndarray:
        """A catalogue attribute (``rota``, ``block_rate`` …) of every team, as an array."""
        return np.array([getattr(CATALOG[p], name) for p in self.pos])

    def team_of(self, slug: str) -> np.ndarray:
        """For every team, the team of its own block with catalogue slug ``slug``."""
        at = [s.slug for s in CATALOG].index(slug)
        return self.block * len(CATALOG) + at


def build_org(rng: np.random.Generator, blocks: int, plan: Plan) -> Org:
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
        for ou, name in ORG_UNITS:
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
                "timezone": TIMEZONES[locs[loc_pick[i]]],
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

    # people: ~235 founding members per block; leavers are backfilled by joiners a few weeks later.
    # Fixed-size teams (one small team) keep their founding members: nobody leaves or moves.
    fixed = np.array([CATALOG[p].size for p in pos])
    weights = np.exp(0.35 * rng.standard_normal(n_teams)) * (fixed == 0)
    blk_sum = np.bincount(block, weights=weights)[block]
    drawn = BLOCK_PEOPLE - np.bincount(block, weights=fixed)[block]
    size = np.where(fixed > 0, fixed, np.maximum(7, np.round(weights / blk_sum * drawn))).astype(np.int64)
    home0 = np.repeat(np.arange(n_teams), size)
    n0 = home0.shape[0]
    D = plan.days
    until0 = np.full(n0, -1, np.int64)
    leave = np.flatnonzero((rng.random(n0) < 0.07) & (fixed[home0] == 0))
    until0[leave] = rng.integers(60, D - 60, leave.shape[0])
    join = until0[leave] + rng.integers(20, 60, leave.shape[0])
    home = np.concatenate([home0, home0[leave]])
    since = np.concatenate([np.zeros(n0, np.int64), join])
    until = np.concatenate([until0, np.full(leave.shape[0], -1, np.int64)])
    n_h = int(home.shape[0])
    fte = rng.choice([1.0, 0.8, 0.5], n_h, p=[0.92, 0.06, 0.02])
    # movers: a few people of steady teams move to another steady team of their block
    steady = (wave < 0) & ~sfq & (fixed == 0)
    move_day = rng.integers(90, D - 90, n_h)
    mover = (rng.random(n_h) < 0.03) & steady[home] & (since + 30 < move_day)
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

    first = _names(rng, n_h, (2, 2))
    last = _names(rng, n_h, (2, 3))
    seen: dict[str, int] = {}
    person_id = []
    for f, ln in zip(first, last, strict=True):
        base = f"{f}.{ln}"
        k = seen.get(base, 0)
        seen[base] = k + 1
        person_id.append(f"{base}{k + 1 if k else ''}@example.com")
    n_bots = len(BOTS)
    person_id += list(BOTS)
    platform = int(np.flatnonzero(np.array([CATALOG[p].slug for p in pos]) == "developer-platform")[0])
    return Org(
        org_units=ous, team_id=team_id, team_name=team_name, team_ou=team_ou, unit=unit,
        attributes=attrs, block=block, pos=pos, wave=wave, sfq=sfq, ai=ai, offset=offset,
        timezone=[TIMEZONES[locs[k]] for k in loc_pick], loaded=loaded, svc_id=svc_id, svc_name=svc_name, svc_team=svc_team_a, svc_lo=svc_lo,
        svc_n=svc_n, person_id=person_id, n_humans=n_h,
        m_person=np.concatenate([m_person, n_h + np.arange(n_bots)]),
        m_team=np.concatenate([m_team, np.full(n_bots, platform)]),
        m_since=np.concatenate([m_since, np.zeros(n_bots, np.int64)]),
        m_until=np.concatenate([m_until, np.full(n_bots, -1)]),
        m_fte=np.concatenate([m_fte, np.zeros(n_bots)]),
        m_bot=np.concatenate([np.zeros(m_person.shape[0], bool), np.ones(n_bots, bool)]),
    )


class Members:
    """Pick active human members of a team on a day, vectorised."""

    def __init__(self, org: Org, horizon: int) -> None:
        human = ~org.m_bot
        order = np.lexsort((org.m_since[human], org.m_team[human]))
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

    def fte(self, org: Org, horizon: int) -> np.ndarray:
        """(teams, horizon) FTE of humans active each day."""
        human = ~org.m_bot
        diff = np.zeros((len(org.team_id), horizon + 1))
        until = np.where(org.m_until[human] < 0, horizon - 1, org.m_until[human])
        np.add.at(diff, (org.m_team[human], org.m_since[human]), org.m_fte[human])
        np.add.at(diff, (org.m_team[human], until + 1), -org.m_fte[human])
        return np.cumsum(diff, axis=1)[:, :horizon]
