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

#: source -> SELECT of (entity, period, person) over ``cal`` and ``emap``
_TOUCH: dict[str, str] = {
    # pull requests merged, delivered, first reviewed in the period, or open at a week end of it
    "flow.authors": f"""
f AS (SELECT m.entity, x.* FROM flow_pr_fact x JOIN emap m ON m.team = x.team
      WHERE x.author IS NOT NULL),
touch AS (
  SELECT f.entity, cal.period, f.author AS person FROM f JOIN cal ON cal.day = CAST(f.merged_at AS DATE)
  UNION ALL
  SELECT f.entity, cal.period, f.author FROM f JOIN cal ON cal.day = CAST(f.delivered_at AS DATE)
  UNION ALL
  SELECT f.entity, cal.period, f.author FROM f JOIN cal ON cal.day = CAST(f.first_review_at AS DATE)
  UNION ALL
  SELECT f.entity, cal.period, f.author FROM f JOIN cal
    ON cal.weekday = 7 AND f.created_at < {_WEEK_END}
   AND coalesce(f.merged_at, f.closed_at, TIMESTAMP '9999-12-31') >= {_WEEK_END}
)""",
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
