"""The story the demo organisation tells, declared as data.

Who the teams are, which of them adopt delivery automation and when, which team buys speed with
quality, when the platform migration slows everyone down, and the calendar (weekends, the quiet
late-December week, the summer lull) that shapes every team's rhythm. The generator turns these
declarations into events; nothing here draws random numbers.
"""

from __future__ import annotations

import datetime as dt
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


#: One "block" of fifteen teams. Larger scales repeat the block (in new business units).
CATALOG: tuple[TeamSpec, ...] = (
    TeamSpec("payments", "Payments", "commerce", "deployments", "stream-aligned",
             ("payments-api", "payments-ledger", "payouts-worker", "fraud-check"), wave=0),
    TeamSpec("checkout", "Checkout", "commerce", "deployments", "stream-aligned",
             ("checkout-api", "cart-service", "promotions-engine"), wave=1, ai=True),
    TeamSpec("search", "Search", "consumer", "deployments", "complicated-subsystem",
             ("search-api", "search-indexer", "query-understanding"), wave=1),
    TeamSpec("identity", "Identity", "platform", "deployments", "stream-aligned",
             ("identity-api", "auth-gateway", "session-store"), wave=2),
    TeamSpec("recommendations", "Recommendations", "consumer", "deployments",
             "complicated-subsystem",
             ("recs-api", "recs-ranker", "recs-feature-store"), speed_for_quality=True),
    TeamSpec("catalog", "Catalog", "commerce", "deployments", "stream-aligned",
             ("catalog-api", "catalog-importer", "media-resizer")),
    TeamSpec("notifications", "Notifications", "consumer", "deployments", "stream-aligned",
             ("notify-api", "email-sender", "push-gateway")),
    TeamSpec("developer-platform", "Developer Platform", "platform", "deployments", "platform",
             ("ci-runners", "artifact-registry", "deploy-orchestrator")),
    TeamSpec("data-platform", "Data Platform", "platform", "deployments", "platform",
             ("event-bus", "warehouse-loader", "stream-processor")),
    TeamSpec("observability", "Observability", "platform", "deployments", "enabling",
             ("metrics-gateway", "log-router")),
    TeamSpec("mobile-app", "Mobile App", "consumer", "pull_requests", "stream-aligned",
             ("mobile-ios", "mobile-android", "mobile-bff"), ai=True),
    TeamSpec("web-storefront", "Web Storefront", "consumer", "pull_requests", "stream-aligned",
             ("storefront-web", "storefront-ssr", "design-system"), ai=True),
    TeamSpec("customer-care", "Customer Care Tools", "enterprise", "pull_requests",
             "stream-aligned", ("care-console", "ticket-sync", "care-knowledge-base")),
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

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-1")

BOTS: tuple[str, ...] = (
    "renovate[bot]",
    "dependabot[bot]",
    "deploy-bot[bot]",
    "github-actions[bot]",
    "pagerduty-autoremediate[bot]",
)

# Story effects: how strongly each context moves each mechanism (multiplicative).
ADOPTION_DEPLOY_GAIN = 1.35  # deploy frequency x(1 + gain) once fully adopted
ADOPTION_PR_GAIN = 0.08  # capacity given back: a little more work gets done
ADOPTION_RAMP_DAYS = 60
SFQ_DEPLOY_GAIN = 1.6
SFQ_RAMP_DAYS = 21
AI_PR_GAIN = 0.05
MIGRATION_SLOWDOWN = 0.22
ANNUAL_GROWTH = 0.03  # organic activity growth, about offsets the yearly raise


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
