"""Strain signals v1: the load a team's people carry, per team (and per org unit, for the
organisation's view) — never per person — as set-based SQL.

Definitions (the contract; docs/metrics/strain.*.md explain each):

- Pages to humans (bots left out) on the team, by the UTC day of the page; each page's local
  time is taken in the team's time zone (``team.attributes.timezone``, IANA; else the configured
  default), against the team's working hours and days (``team.attributes.working_hours``
  "HH:MM-HH:MM" and ``working_days`` [ISO weekdays]; else the configured ones). A page on a working day outside working hours is *after hours*; a page on a
  non-working day is a *weekend* page; a page inside the sleep window (any day) is a
  *sleep-hour* page (it may also be after hours or weekend).
- Incident burden: hours of human-actioned sev1–sev3 incidents on the team's services that fall inside the
  period (clipped to it; open incidents run to the end of the data), per on-call person-week
  (distinct responder × ISO week pairs with at least one page in the period).
- On-call concentration: the share of the period's pages carried by the busiest fifth of its
  responders (rounded up, at least one): ⌈n/5⌉/n when evenly spread (0.2 for 5, 10… responders),
  1.0 when they carry all.
  A distribution figure: it names no one, and no query returns a responder's own count.
- On-call hours (rota): when a team has on-call rota shifts (``oncall_shift``, e.g. PagerDuty's
  first escalation level) in a period, the person-hours its people were on call, split in the
  team's local time like pages: on a working day outside working hours (*after hours*), on a
  non-working day (*weekend*), inside the sleep window (*sleep*, any day). Each shift is cut at
  the team's local midnights and at the local working and sleep boundaries, each turned back to
  an instant in the team's zone, so a night the clocks change counts its real hours (9 hours
  from 23:00 to 07:00 the night summer time ends). Hours count in the period of the local day
  they fall on. A team without shifts in a period falls back to its pages: the distinct
  (responder, local clock hour) pairs with a page of that kind, a lower bound. ``oncall_basis``
  says which: ``rota``, ``pages``, or ``mixed`` (an org unit with teams of both).
- Stalled pull requests: pull requests the team's people opened in the period in another team's
  repository that waited longer than the threshold for a first review (or are still waiting);
  one merged or closed without a review stopped waiting then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from shipwise.metrics import registry
from shipwise.metrics.hierarchy import calendar_cte, entity_map_cte, with_clause

COLUMNS = (
    "pages", "after_hours_pages", "weekend_pages", "sleep_hour_pages", "incident_hours",
    "oncall_person_weeks", "responders", "busiest_fifth_share", "cross_team_prs", "stalled_prs",
    "oncall_hours", "after_hours_oncall_hours", "weekend_oncall_hours", "sleep_oncall_hours",
    "oncall_basis",
)
ADDITIVE = ("pages", "after_hours_pages", "weekend_pages", "sleep_hour_pages", "incident_hours",
            "oncall_person_weeks", "cross_team_prs", "stalled_prs", "oncall_hours",
            "after_hours_oncall_hours", "weekend_oncall_hours", "sleep_oncall_hours")


@dataclass(frozen=True)
class Hours:
    """Working and sleep hours, in minutes after local midnight, and working ISO weekdays."""

    work_start: int = 9 * 60
    work_end: int = 18 * 60
    working_days: tuple[int, ...] = (1, 2, 3, 4, 5)
    sleep_start: int = 23 * 60
    sleep_end: int = 7 * 60
    default_timezone: str = "UTC"
    stalled_after_seconds: int = 48 * 3600

    @classmethod
    def from_settings(cls, s: object) -> Hours:
        def minutes(hhmm: str) -> int:
            h, m = hhmm.split(":")
            return int(h) * 60 + int(m)

        return cls(minutes(s.work_start), minutes(s.work_end),  # type: ignore[attr-defined]
                   tuple(s.working_days), minutes(s.sleep_start),  # type: ignore[attr-defined]
                   minutes(s.sleep_end), s.default_timezone,  # type: ignore[attr-defined]
                   int(s.stalled_after_hours * 3600))  # type: ignore[attr-defined]


@dataclass(frozen=True)
class StrainQuery:
    grain: str
    level: str
    since: date
    until: date
    hours: Hours = Hours()
    #: only these teams (or org units); all when empty
    entities: tuple[str, ...] = ()


def _within(col: str, start: int, end: int) -> str:
    if start <= end:
        return f"({col} >= {start} AND {col} < {end})"
    return f"({col} >= {start} OR {col} < {end})"  # wraps past midnight


def _at(minutes: str) -> str:
    """The instant (UTC) of ``minutes`` after local midnight of ``lday`` in zone ``tz``: local
    wall-clock time turned back into an instant, so daylight saving moves it."""
    return (f"timezone('UTC', timezone(tz, CAST(lday AS TIMESTAMP) "
            f"+ to_minutes(CAST({minutes} AS BIGINT))))")


def _overlap(start: str, end: str) -> str:
    """Seconds of the shift between two local times of its day (minutes after midnight)."""
    return (f"greatest(0, epoch(least(ends_at, {_at(end)})) "
            f"- epoch(greatest(starts_at, {_at(start)})))")


def _window(start: str, end: str, wraps: str) -> str:
    """Seconds of the shift inside a daily window, which may wrap past midnight."""
    return (f"CASE WHEN {wraps} THEN {_overlap('0', end)} + {_overlap(start, '1440')} "
            f"ELSE {_overlap(start, end)} END")


def strain_sql(q: StrainQuery) -> tuple[str, list[object]]:
    h = q.hours
    days = ", ".join(str(int(d)) for d in h.working_days) or "0"
    metrics = registry.family("strain")
    metric_cols = ", ".join(f'{m.sql} AS "{m.id}"' for m in metrics)
    working = (f"CASE WHEN team_days IS NOT NULL THEN list_contains(team_days, isodow(local_at)) "
               f"ELSE isodow(local_at) IN ({days}) END")
    mins = "(hour(local_at) * 60 + minute(local_at))"
    person_hour = ("coalesce(pg.person, '?') || '|' "
                   "|| CAST(date_trunc('hour', local_at) AS VARCHAR)")
    sql = f"""
{with_clause(q.level)}
{entity_map_cte(q.level, q.entities)},
{calendar_cte(q.grain)},
periods AS (
  SELECT period, min(period_start) AS period_start,
         CAST(max(day) + INTERVAL 1 DAY AS TIMESTAMP) AS period_end
  FROM cal GROUP BY period
),
entities AS (SELECT DISTINCT entity FROM emap),
team_hours AS (
  -- a team's own working hours ("08:00-17:00") and days ([1, 2, 3, 4, 7]) in its attributes
  SELECT id AS team,
         try_cast(split_part(split_part(wh, '-', 1), ':', 1) AS INTEGER) * 60
           + try_cast(split_part(split_part(wh, '-', 1), ':', 2) AS INTEGER) AS ws,
         try_cast(split_part(split_part(wh, '-', 2), ':', 1) AS INTEGER) * 60
           + try_cast(split_part(split_part(wh, '-', 2), ':', 2) AS INTEGER) AS we,
         try_cast(json_extract(attributes, '$.working_days') AS INTEGER[]) AS team_days
  FROM (SELECT id, attributes, json_extract_string(attributes, '$.working_hours') AS wh FROM team)
),
pg AS (
  SELECT m.entity, x.team, x.person, x."at",
         timezone(coalesce(x.timezone, ?), CAST(x."at" AS TIMESTAMPTZ)) AS local_at,
         coalesce(th.ws, {h.work_start}) AS ws, coalesce(th.we, {h.work_end}) AS we, th.team_days
  FROM strain_page_fact x JOIN emap m ON m.team = x.team LEFT JOIN team_hours th ON th.team = x.team
),
pages AS (
  SELECT pg.entity, cal.period, count(*) AS pages,
         sum(CASE WHEN {working} AND NOT ({mins} >= ws AND {mins} < we) THEN 1 ELSE 0 END)
           AS after_hours_pages,
         sum(CASE WHEN NOT ({working}) THEN 1 ELSE 0 END) AS weekend_pages,
         sum(CASE WHEN {_within(mins, h.sleep_start, h.sleep_end)} THEN 1 ELSE 0 END) AS sleep_hour_pages,
         count(DISTINCT pg.person || '|' || CAST(date_trunc('week', pg."at") AS VARCHAR))
           AS oncall_person_weeks,
         count(DISTINCT pg.person) AS responders
  FROM pg JOIN cal ON cal.day = CAST(pg."at" AS DATE)
  GROUP BY pg.entity, cal.period
),
per_responder AS (
  SELECT pg.entity, cal.period, pg.person, count(*) AS n
  FROM pg JOIN cal ON cal.day = CAST(pg."at" AS DATE) WHERE pg.person IS NOT NULL
  GROUP BY pg.entity, cal.period, pg.person
),
ranked AS (
  SELECT entity, period, n,
         row_number() OVER (PARTITION BY entity, period ORDER BY n DESC) AS rn,
         count(*) OVER (PARTITION BY entity, period) AS k
  FROM per_responder
),
concentration AS (
  SELECT entity, period,
         CAST(sum(CASE WHEN rn <= greatest(1, CAST(ceil(k / 5.0) AS BIGINT)) THEN n ELSE 0 END) AS DOUBLE)
           / sum(n) AS busiest_fifth_share
  FROM ranked GROUP BY entity, period
),
sh AS (
  -- rota shifts overlapping the periods asked for, with their team's zone and hours
  SELECT m.entity, x.team, x.starts_at, x.ends_at, coalesce(x.timezone, ?) AS tz,
         coalesce(th.ws, {h.work_start}) AS ws, coalesce(th.we, {h.work_end}) AS we, th.team_days
  FROM strain_oncall_fact x JOIN emap m ON m.team = x.team LEFT JOIN team_hours th ON th.team = x.team
  CROSS JOIN (SELECT min(period_start) AS lo, max(period_end) AS hi FROM periods) r
  WHERE x.starts_at < r.hi + INTERVAL 2 DAY AND x.ends_at > CAST(r.lo AS TIMESTAMP) - INTERVAL 2 DAY
),
sh_day AS (
  -- each shift once per local day it touches
  SELECT entity, team, starts_at, ends_at, tz, ws, we, team_days, CAST(d AS DATE) AS lday
  FROM (SELECT *, unnest(generate_series(
                    CAST(CAST(timezone(tz, timezone('UTC', starts_at)) AS DATE) AS TIMESTAMP),
                    CAST(CAST(timezone(tz, timezone('UTC', ends_at)) AS DATE) AS TIMESTAMP),
                    INTERVAL 1 DAY)) AS d FROM sh) s
),
sh_part AS (
  SELECT entity, team, lday, {_overlap('0', '1440')} AS on_s,
         {_window('ws', 'we', 'ws > we')} AS work_s,
         {_window(str(h.sleep_start), str(h.sleep_end), 'TRUE' if h.sleep_start > h.sleep_end else 'FALSE')} AS sleep_s,
         CASE WHEN team_days IS NOT NULL THEN list_contains(team_days, isodow(lday))
              ELSE isodow(lday) IN ({days}) END AS working
  FROM sh_day
),
rota AS (
  SELECT p.entity, p.team, cal.period, sum(p.on_s) / 3600.0 AS on_h,
         sum(CASE WHEN p.working THEN p.on_s - p.work_s ELSE 0 END) / 3600.0 AS after_h,
         sum(CASE WHEN p.working THEN 0 ELSE p.on_s END) / 3600.0 AS weekend_h,
         sum(p.sleep_s) / 3600.0 AS sleep_h
  FROM sh_part p JOIN cal ON cal.day = p.lday
  GROUP BY p.entity, p.team, cal.period
  HAVING sum(p.on_s) > 0
),
paged_hours AS (
  -- without a rota: the (responder, local clock hour) pairs with such a page (a lower bound)
  SELECT pg.entity, pg.team, cal.period,
         count(DISTINCT CASE WHEN {working} AND NOT ({mins} >= ws AND {mins} < we)
                             THEN {person_hour} END) AS after_h,
         count(DISTINCT CASE WHEN NOT ({working}) THEN {person_hour} END) AS weekend_h,
         count(DISTINCT CASE WHEN {_within(mins, h.sleep_start, h.sleep_end)}
                             THEN {person_hour} END) AS sleep_h
  FROM pg JOIN cal ON cal.day = CAST(pg."at" AS DATE)
  GROUP BY pg.entity, pg.team, cal.period
),
oncall AS (
  SELECT coalesce(r.entity, p.entity) AS entity, coalesce(r.period, p.period) AS period,
         sum(r.on_h) AS oncall_hours,
         sum(coalesce(r.after_h, p.after_h)) AS after_hours_oncall_hours,
         sum(coalesce(r.weekend_h, p.weekend_h)) AS weekend_oncall_hours,
         sum(coalesce(r.sleep_h, p.sleep_h)) AS sleep_oncall_hours,
         CASE WHEN count(r.team) = count(*) THEN 'rota' WHEN count(r.team) = 0 THEN 'pages'
              ELSE 'mixed' END AS oncall_basis
  FROM rota r FULL OUTER JOIN paged_hours p
    ON p.entity = r.entity AND p.team = r.team AND p.period = r.period
  GROUP BY coalesce(r.entity, p.entity), coalesce(r.period, p.period)
),
data_end AS (
  SELECT greatest((SELECT max("at") FROM strain_page_fact),
                  (SELECT max(coalesce(resolved_at, opened_at)) FROM incident)) AS t
),
inc AS (
  SELECT m.entity, p.period,
         sum(date_diff('second', greatest(i.opened_at, CAST(p.period_start AS TIMESTAMP)),
                       least(coalesce(i.resolved_at, d.t), p.period_end))) / 3600.0 AS incident_hours
  FROM incident i JOIN service s ON s.id = i.service JOIN emap m ON m.team = s.team
  CROSS JOIN data_end d
  JOIN periods p ON i.opened_at < p.period_end
   AND coalesce(i.resolved_at, d.t) > CAST(p.period_start AS TIMESTAMP)
  WHERE i.human_actioned AND i.severity IN ('sev1', 'sev2', 'sev3')
  GROUP BY m.entity, p.period
),
pr_end AS (
  SELECT max(greatest(created_at, coalesce(first_review_at, created_at),
                      coalesce(merged_at, created_at), coalesce(closed_at, created_at))) AS t
  FROM flow_pr_fact
),
stalled AS (
  SELECT m.entity, cal.period, count(*) AS cross_team_prs,
         sum(CASE WHEN date_diff('second', x.created_at,
                                 coalesce(x.first_review_at, x.merged_at, x.closed_at, e.t)) > ?
                  THEN 1 ELSE 0 END) AS stalled_prs
  FROM flow_pr_fact x JOIN emap m ON m.team = x.author_team CROSS JOIN pr_end e
  JOIN cal ON cal.day = CAST(x.created_at AS DATE)
  WHERE x.team IS NOT NULL AND x.team <> x.author_team
  GROUP BY m.entity, cal.period
),
agg AS (
  SELECT e.entity, p.period, p.period_start,
         coalesce(pages.pages, 0) AS pages,
         coalesce(pages.after_hours_pages, 0) AS after_hours_pages,
         coalesce(pages.weekend_pages, 0) AS weekend_pages,
         coalesce(pages.sleep_hour_pages, 0) AS sleep_hour_pages,
         coalesce(inc.incident_hours, 0) AS incident_hours,
         coalesce(z.oncall_person_weeks, pages.oncall_person_weeks, 0) AS oncall_person_weeks,
         coalesce(pages.responders, 0) AS responders,
         coalesce(z.busiest_fifth_share, concentration.busiest_fifth_share) AS busiest_fifth_share,
         coalesce(stalled.cross_team_prs, 0) AS cross_team_prs,
         coalesce(stalled.stalled_prs, 0) AS stalled_prs,
         oncall.oncall_hours,
         coalesce(oncall.after_hours_oncall_hours, 0) AS after_hours_oncall_hours,
         coalesce(oncall.weekend_oncall_hours, 0) AS weekend_oncall_hours,
         coalesce(oncall.sleep_oncall_hours, 0) AS sleep_oncall_hours,
         oncall.oncall_basis
  FROM entities e CROSS JOIN periods p
  LEFT JOIN pages ON pages.entity = e.entity AND pages.period = p.period
  LEFT JOIN inc ON inc.entity = e.entity AND inc.period = p.period
  LEFT JOIN concentration ON concentration.entity = e.entity AND concentration.period = p.period
  LEFT JOIN stalled ON stalled.entity = e.entity AND stalled.period = p.period
  LEFT JOIN oncall ON oncall.entity = e.entity AND oncall.period = p.period
  LEFT JOIN strain_frozen z ON z.level = '{q.level}' AND z.grain = '{q.grain}'
   AND z.entity = e.entity AND z.period = p.period
)
SELECT entity, period, period_start, {", ".join(COLUMNS)}, {metric_cols}
FROM agg ORDER BY entity, period_start
"""
    return sql, [q.since, q.until, h.default_timezone, h.default_timezone,
                 h.stalled_after_seconds]
