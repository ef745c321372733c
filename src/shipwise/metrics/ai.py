"""AI-assisted development: adoption cohorts and agent-authored changes, set-based (issue 19).

**Adoption** (:func:`adoption_sql`), per team and month, from ``ai_usage`` (one team's use of one
tool on one day, already aggregated to the team):

* *engaged users* of a day are the largest engaged-user count over the team's tools that day
  (one person may use several tools, so summing would count them twice: the largest is a lower
  bound on the distinct people); a month's figure is their average over the **weekdays** of the
  month inside the span the team's usage covers (a weekday without a usage row counts as 0;
  weekends are left out, so a team that does not work on Saturdays is not diluted);
* *team size* is the team's members in the month (``person`` records, bots excluded), else its
  ``headcount`` FTE;
* *engaged share* = engaged users ÷ team size, capped at 1;
* the *adoption level* is the highest of ``light``, ``moderate``, ``heavy`` whose threshold the
  share reaches (settings ``ai.adoption``), else ``none``; a month without usage data is ``none``;
* the *adoption month* of a level is the first month a team reaches that level or a higher one
  and holds it through the next ``sustain - 1`` months (setting ``ai.adoption.sustain_months``,
  default 2: a one-month spike is not adoption; a level reached in the data's last month is not
  yet confirmed) — from the usage data, never declared by hand. Adoption is read as absorbing: a
  team that falls back later stays adopted from that month (the effect estimates the effect of
  having started).

**Agent-authored changes** (:func:`agents_sql`), per team, month and author kind (``agent``,
``human``, ``bot``; an unclassified change is ``bot`` when its author is a bot, else ``human``):

* a *commit*'s kind is its ``author_kind``; a *pull request*'s its own;
* a *production deployment* (normalised as DORA: one service version counts once) is ``agent``
  when it carries at least one agent-authored commit, else ``human`` when it carries a human
  one, else ``bot``, else ``unknown`` (no commit known) — so an agent's change is judged by the
  deployments that carried it;
* per kind: units delivered in the team's own delivery unit (deployments by their first success,
  pull requests reaching production, commits reaching production) and their share of the team's
  units; median change lead time (commit → first successful production deployment); median
  review time (pull request opened → first review) of pull requests merged in the month; change
  fail rate and rework rate of the deployments that reached production; manual interventions
  per deployment (every production attempt of the version counts).

Portable DuckDB SQL over the canonical tables and the DORA/flow facts; nothing row by row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: adoption levels in ascending order (index = rank)
LEVELS = ("none", "light", "moderate", "heavy")
#: author kinds compared (unknown: a deployment without any known commit)
KINDS = ("agent", "human", "bot", "unknown")


@dataclass(frozen=True)
class Thresholds:
    """Engaged share (engaged users ÷ team size) from which a team is at each level."""

    light: float
    moderate: float
    heavy: float
    #: months a level must be held (the month reached and the next ones) to count as adopted
    sustain: int = 1

    def __post_init__(self) -> None:
        if not 0.0 < self.light <= self.moderate <= self.heavy <= 1.0:
            raise ValueError("adoption thresholds must satisfy 0 < light <= moderate <= heavy <= 1")
        if self.sustain < 1:
            raise ValueError("a level must be held for at least one month")


def _kind(alias: str) -> str:
    return (f"coalesce({alias}.author_kind, CASE WHEN {alias}.author_is_bot THEN 'bot' "
            "ELSE 'human' END)")


def adoption_sql(teams: Sequence[str] = (), sustain: int = 1) -> str:
    """(team, month, weekdays, team_size, engaged_users, active_users, engaged_share,
    suggestions_shown, suggestions_accepted, chat_sessions, agent_sessions, tools, level,
    level_rank, light_from, moderate_from, heavy_from) for every team and month its usage
    covers; ``sustain``: months a level must be held to count as adopted. Parameters
    (:func:`adoption_params`): light, moderate, heavy thresholds, first and last day."""
    only = ""
    if teams:
        only = " AND team IN (" + ", ".join("'" + t.replace("'", "''") + "'" for t in teams) + ")"
    return f"""
WITH daily AS (
  SELECT team, day, max(engaged_users) AS engaged, max(active_users) AS active,
         sum(suggestions_shown) AS shown, sum(suggestions_accepted) AS accepted,
         sum(chat_sessions) AS chats, sum(agent_sessions) AS agent_sessions,
         count(DISTINCT tool) AS tools
  FROM ai_usage WHERE day BETWEEN CAST(?4 AS DATE) AND CAST(?5 AS DATE){only}
  GROUP BY team, day
),
span AS (SELECT team, min(day) AS first_day, max(day) AS last_day FROM daily GROUP BY team),
days AS (
  SELECT s.team, c.day, c.month FROM span s
  JOIN calendar c ON c.day BETWEEN s.first_day AND s.last_day
  WHERE NOT c.is_weekend
),
weekly AS (
  SELECT d.team, d.month, count(*) AS weekdays,
         sum(coalesce(u.engaged, 0)) / count(*) AS engaged_users,
         sum(coalesce(u.active, 0)) / count(*) AS active_users
  FROM days d LEFT JOIN daily u ON u.team = d.team AND u.day = d.day
  GROUP BY d.team, d.month
),
totals AS (  -- every day, weekends included
  SELECT team, strftime(day, '%Y-%m') AS month, sum(shown) AS suggestions_shown,
         sum(accepted) AS suggestions_accepted, sum(chats) AS chat_sessions,
         sum(agent_sessions) AS agent_sessions, max(tools) AS tools
  FROM daily GROUP BY ALL
),
monthly AS (
  SELECT w.*, t.suggestions_shown, t.suggestions_accepted, t.chat_sessions, t.agent_sessions,
         t.tools
  FROM weekly w LEFT JOIN totals t ON t.team = w.team AND t.month = w.month
),
members AS (
  SELECT m.team, m.month, count(DISTINCT p.id) AS members
  FROM monthly m JOIN person p ON p.team = m.team AND NOT p.bot
   AND p.since <= last_day(CAST(m.month || '-01' AS DATE))
   AND (p."until" IS NULL OR p."until" >= CAST(m.month || '-01' AS DATE))
  GROUP BY m.team, m.month
),
sized AS (
  SELECT m.*, coalesce(CAST(nullif(p.members, 0) AS DOUBLE), h.fte) AS team_size
  FROM monthly m LEFT JOIN members p ON p.team = m.team AND p.month = m.month
  LEFT JOIN headcount h ON h.team = m.team AND h.month = m.month
),
leveled AS (
  SELECT s.*, CASE WHEN team_size > 0 THEN least(engaged_users / team_size, 1.0) END
           AS engaged_share
  FROM sized s
),
ranked AS (
  SELECT l.*, CASE WHEN engaged_share IS NULL THEN 0
                   WHEN engaged_share >= ?3 THEN 3 WHEN engaged_share >= ?2 THEN 2
                   WHEN engaged_share >= ?1 THEN 1 ELSE 0 END AS level_rank
  FROM leveled l
),
held AS (  -- the level held through the month and the next sustain - 1 (0 when data ends first)
  SELECT r.*, CASE WHEN count(*) OVER w = {int(sustain)} THEN min(level_rank) OVER w ELSE 0 END
           AS held_rank
  FROM ranked r
  WINDOW w AS (PARTITION BY team ORDER BY month
               ROWS BETWEEN CURRENT ROW AND {int(sustain) - 1} FOLLOWING)
)
SELECT team, month, weekdays, team_size, engaged_users, active_users, engaged_share,
       suggestions_shown, suggestions_accepted, chat_sessions, agent_sessions, tools,
       ['{LEVELS[0]}', '{LEVELS[1]}', '{LEVELS[2]}', '{LEVELS[3]}'][level_rank + 1] AS level,
       level_rank,
       min(CASE WHEN held_rank >= 1 THEN month END) OVER (PARTITION BY team) AS light_from,
       min(CASE WHEN held_rank >= 2 THEN month END) OVER (PARTITION BY team) AS moderate_from,
       min(CASE WHEN held_rank >= 3 THEN month END) OVER (PARTITION BY team) AS heavy_from
FROM held
ORDER BY team, month"""


def adoption_params(thresholds: Thresholds, since: object, until: object) -> list[object]:
    """The parameters of :func:`adoption_sql` in order (thresholds as ``?1..?3``)."""
    return [thresholds.light, thresholds.moderate, thresholds.heavy, since, until]


def usage_span_sql() -> str:
    """First and last day of AI usage data."""
    return "SELECT min(day) AS first_day, max(day) AS last_day FROM ai_usage"


def spend_sql() -> str:
    """AI tool spend per team and month in the reporting currency (``?`` twice), from
    ``ai_usage.cost``: (team, month, spend, unconverted) — ``unconverted`` the spend in another
    currency without an ``fx_rate`` for its month (left out of ``spend``, never guessed)."""
    return """
SELECT u.team, strftime(u.day, '%Y-%m') AS month,
       sum(CASE WHEN u.currency = ?1 THEN u.cost WHEN r.rate IS NOT NULL THEN u.cost * r.rate END)
         AS spend,
       sum(CASE WHEN u.currency <> ?1 AND r.rate IS NULL THEN u.cost END) AS unconverted,
       list(DISTINCT u.currency) FILTER (WHERE u.currency <> ?1 AND r.rate IS NULL)
         AS missing
FROM ai_usage u
LEFT JOIN fx_rate r ON r.month = strftime(u.day, '%Y-%m') AND r.currency = u.currency
  AND r.reporting_currency = ?1
WHERE u.cost IS NOT NULL AND u.cost <> 0
GROUP BY ALL ORDER BY u.team, month"""


def ai_investments_sql(kinds: Sequence[str]) -> str:
    """Investments of the AI kinds (compared lower-cased), as :func:`cost.investments_sql` reads
    them: id, name, kind, amount, currency, started_at, rate (``?`` twice), teams."""
    listed = ", ".join("'" + k.lower().replace("'", "''") + "'" for k in kinds) or "NULL"
    return f"""
SELECT i.id, i.name, i.kind, i.amount, i.currency, i.started_at,
       CASE WHEN i.currency = ? THEN CAST(1 AS DOUBLE) ELSE r.rate END AS rate,
       list(it.team ORDER BY it.team) AS teams
FROM investment i
LEFT JOIN investment_team it ON it.investment_id = i.id
LEFT JOIN fx_rate r ON r.month = strftime(i.started_at, '%Y-%m') AND r.currency = i.currency
  AND r.reporting_currency = ?
WHERE lower(i.kind) IN ({listed})
GROUP BY ALL ORDER BY i.started_at, i.id"""


#: the period label of an instant column per grain ('all': the whole window)
_PERIOD = {
    "month": "strftime({c}, '%Y-%m')",
    "quarter": "strftime({c}, '%Y') || '-Q' || CAST(quarter({c}) AS VARCHAR)",
    "all": "'all'",
}
#: the organisation's rows name this team (its units are production deployments)
ORGANISATION = "*"


def agents_sql(teams: Sequence[str] = (), grain: str = "month", *,
               organisation: bool = False) -> str:
    """(team, period, kind, delivery_unit, units, team_units, changes, lead_time_median_seconds,
    merged_prs, review_median_seconds, pr_authors, reached, failed, rework, deployments,
    interventions) per team, period and author kind; with ``organisation`` one row per period
    and kind for every team together (team ``*``; units: production deployments). Parameters:
    first and last instant (half-open: ``>= first``, ``< last``)."""
    if grain not in _PERIOD:
        raise ValueError(f"unknown grain {grain!r}")
    listed = ", ".join("'" + t.replace("'", "''") + "'" for t in teams)

    def only(column: str) -> str:
        """The team filter, pushed into every source (the window sums per team)."""
        return f" AND {column} IN ({listed})" if teams else ""

    def team(column: str) -> str:
        return f"'{ORGANISATION}'" if organisation else column

    def period(c: str) -> str:
        return _PERIOD[grain].format(c=c)
    return f"""
WITH ck AS (SELECT sha_key, {_kind('c')} AS kind FROM "commit" c),
dep AS (
  SELECT id, manual_interventions,
         CASE WHEN version IS NOT NULL THEN service || '@' || version ELSE '#' || id END AS nkey
  FROM deployment WHERE lower(environment) = 'production'
),
dep_kind AS (
  SELECT d.nkey, CASE WHEN bool_or(c.kind = 'agent') THEN 'agent'
                      WHEN bool_or(c.kind = 'human') THEN 'human'
                      WHEN bool_or(c.kind = 'bot') THEN 'bot' END AS kind
  FROM dep d JOIN deployment_commit dc ON dc.deployment_id = d.id
  JOIN ck c ON c.sha_key = dc.sha_key
  GROUP BY d.nkey
),
dep_int AS (SELECT nkey, sum(manual_interventions) AS interventions FROM dep GROUP BY nkey),
df AS (
  SELECT f.team, f.first_success_at, f.reached_at, f.failed, f.rework, i.interventions,
         coalesce(k.kind, 'unknown') AS kind
  FROM dora_deploy_fact f LEFT JOIN dep_kind k ON k.nkey = f.nkey
  LEFT JOIN dep_int i ON i.nkey = f.nkey
  WHERE TRUE{only('f.team')}
),
deployed AS (
  SELECT {team('team')} AS team, {period(c='first_success_at')} AS month, kind, count(*) AS deployments
  FROM df WHERE first_success_at >= ?1 AND first_success_at < ?2 GROUP BY ALL
),
reached AS (
  SELECT {team('team')} AS team, {period(c='reached_at')} AS month, kind, count(*) AS reached,
         sum(failed) AS failed, sum(rework) AS rework, sum(interventions) AS interventions
  FROM df WHERE reached_at >= ?1 AND reached_at < ?2 GROUP BY ALL
),
changes AS (
  SELECT {team('cf.team')} AS team, {period(c='cf.deployed_at')} AS month, c.kind, count(*) AS changes,
         median(cf.lead_seconds) AS lead_time_median_seconds
  FROM dora_change_fact cf JOIN ck c ON c.sha_key = cf.sha_key
  WHERE cf.deployed_at >= ?1 AND cf.deployed_at < ?2{only('cf.team')} GROUP BY ALL
),
merged AS (
  SELECT {team('f.team')} AS team, {period(c='f.merged_at')} AS month, {_kind('p')} AS kind,
         count(*) AS merged_prs,
         median(CASE WHEN f.first_review_at >= f.created_at
                     THEN date_diff('second', f.created_at, f.first_review_at) END)
           AS review_median_seconds,
         count(DISTINCT CASE WHEN f.author NOT LIKE 'gone:%' THEN f.author END) AS pr_authors
  FROM flow_pr_fact f JOIN pull_request p ON p.id = f.pull_request_id
  WHERE f.team IS NOT NULL AND f.merged_at >= ?1 AND f.merged_at < ?2{only('f.team')}
  GROUP BY ALL
),
delivered AS (
  SELECT {team('d.team')} AS team, {period(c='d.delivered_at')} AS month, {_kind('p')} AS kind,
         count(*) AS delivered_prs
  FROM pr_delivery_fact d JOIN pull_request p ON p.id = d.pull_request_id
  WHERE d.delivered_at >= ?1 AND d.delivered_at < ?2{only('d.team')} GROUP BY ALL
),
keys AS (
  SELECT team, month, kind FROM deployed UNION SELECT team, month, kind FROM reached
  UNION SELECT team, month, kind FROM changes UNION SELECT team, month, kind FROM merged
  UNION SELECT team, month, kind FROM delivered
),
joined AS (
  SELECT k.team, k.month AS period, k.kind, coalesce(t.delivery_unit, 'deployments')
           AS delivery_unit,
         CASE coalesce(t.delivery_unit, 'deployments')
              WHEN 'deployments' THEN coalesce(dp.deployments, 0)
              WHEN 'pull_requests' THEN coalesce(dv.delivered_prs, 0)
              ELSE coalesce(ch.changes, 0) END AS units,
         coalesce(ch.changes, 0) AS changes, ch.lead_time_median_seconds,
         coalesce(m.merged_prs, 0) AS merged_prs, m.review_median_seconds,
         coalesce(m.pr_authors, 0) AS pr_authors,
         coalesce(r.reached, 0) AS reached, coalesce(r.failed, 0) AS failed,
         coalesce(r.rework, 0) AS rework, coalesce(dp.deployments, 0) AS deployments,
         coalesce(r.interventions, 0) AS interventions
  FROM keys k LEFT JOIN team t ON t.id = k.team
  LEFT JOIN deployed dp USING (team, month, kind) LEFT JOIN reached r USING (team, month, kind)
  LEFT JOIN changes ch USING (team, month, kind) LEFT JOIN merged m USING (team, month, kind)
  LEFT JOIN delivered dv USING (team, month, kind)
)
SELECT *, sum(units) OVER (PARTITION BY team, period) AS team_units
FROM joined
ORDER BY team, period, kind"""
