"""How many distinct people stand behind a people-derived figure, per entity and period.

The service layer suppresses a figure whose group is smaller than the minimum (default 5). The
group is the people whose records feed it: the authors of the pull requests a flow figure is
computed from, the responders paged for strain, the authors of stalled cross-team pull requests.
Counts for periods that began before a retention run are frozen at that run
(``people_count_frozen``), since the facts no longer name people there.
"""

from __future__ import annotations

import duckdb

from shipwise.metrics.hierarchy import calendar_cte, entity_map_cte, with_clause

_WEEK_END = "CAST(cal.day + INTERVAL 1 DAY AS TIMESTAMP)"
_ENDED = ("CASE WHEN x.merged_at IS NULL THEN x.closed_at WHEN x.closed_at IS NULL THEN x.merged_at "
          "ELSE least(x.merged_at, x.closed_at) END")


def _flow_touch(join: str, days: str = "cal") -> str:
    return f"""
f AS (SELECT m.entity, x.*, {_ENDED} AS ended_at FROM flow_pr_fact x JOIN emap m ON m.team = x.team
      WHERE x.author IS NOT NULL),
touch AS (SELECT f.entity, cal.period, f.author AS person FROM f JOIN {days} cal ON {join})"""


#: week ends the data reaches, for open pull requests (as flow.work_in_progress)
_WEEK_ENDS = f"""
data_end AS (
  SELECT max(greatest(created_at, coalesce(first_review_at, created_at), coalesce(merged_at, created_at),
                      coalesce(closed_at, created_at), coalesce(delivered_at, created_at))) AS t
  FROM flow_pr_fact
),
week_ends AS (
  SELECT cal.* FROM cal, data_end WHERE cal.weekday = 7 AND {_WEEK_END} <= data_end.t
),"""


#: source -> CTEs ending in ``touch(entity, period, person)`` over ``cal`` and ``emap``. Each
#: flow figure's group is the authors of exactly the pull requests it is computed from.
_TOUCH: dict[str, str] = {
    "flow.merged": _flow_touch("cal.day = CAST(f.merged_at AS DATE)"),
    "flow.delivered": _flow_touch("cal.day = CAST(f.delivered_at AS DATE)"),
    "flow.reviewed": _flow_touch("cal.day = CAST(f.first_review_at AS DATE)"),
    # open at a week end of the period that the data reaches (as flow.work_in_progress)
    "flow.open": _WEEK_ENDS + _flow_touch(
        f"f.created_at < {_WEEK_END} AND (f.ended_at IS NULL OR f.ended_at >= {_WEEK_END})",
        "week_ends").lstrip(),
    "strain.responders": """
touch AS (
  SELECT m.entity, cal.period, x.person FROM strain_page_fact x JOIN emap m ON m.team = x.team
  JOIN cal ON cal.day = CAST(x."at" AS DATE) WHERE x.person IS NOT NULL
)""",
    # authors of cross-team pull requests opened in the period (by the author's team)
    "strain.stalled_authors": """
touch AS (
  SELECT m.entity, cal.period, x.author AS person
  FROM flow_pr_fact x JOIN emap m ON m.team = x.author_team
  JOIN cal ON cal.day = CAST(x.created_at AS DATE)
  WHERE x.author IS NOT NULL AND x.team IS NOT NULL AND x.team <> x.author_team
)""",
}
SOURCES = tuple(_TOUCH)


def people_sql(source: str, grain: str, level: str) -> str:
    """(entity, period, people) for one source; parameters: since, until (days)."""
    return f"""
{with_clause(level)}
{entity_map_cte(level)},
{calendar_cte(grain)},
{_TOUCH[source].strip()}
SELECT entity, period, count(DISTINCT person) AS people FROM touch GROUP BY entity, period
"""


def people_counts(con: duckdb.DuckDBPyConnection, source: str, grain: str, level: str,
                  since: object, until: object) -> dict[tuple[str, str], int]:
    """{(entity, period): people}, frozen counts taking precedence over live ones."""
    live = con.execute(people_sql(source, grain, level), [since, until]).fetchall()
    frozen = con.execute(
        "SELECT team, period, people FROM people_count_frozen WHERE family = ? AND grain = ?",
        [f"{source}:{level}", grain]).fetchall()
    out = {(str(e), str(p)): int(n) for e, p, n in live}
    out.update({(str(e), str(p)): int(n) for e, p, n in frozen})
    return out
