"""How many distinct people stand behind a people-derived figure, per entity and period.

The service layer suppresses a figure whose group is smaller than the minimum (default 5). The
group is the people whose records feed it: the authors of the pull requests a flow figure is
computed from, the responders paged for strain, the authors of stalled cross-team pull requests.
Counts for periods a retention run reached are frozen at that run (``people_count_frozen``);
live counts never count retention tokens (``gone:…``): one person could appear as a token and
under their pseudonym in the same period, and counting both would make a group look larger
than it is. Leaving tokens out can only make a group look smaller — more suppression, never less.
"""

from __future__ import annotations

import duckdb

from shipwise.metrics.hierarchy import calendar_cte, entity_map_cte, with_clause

_ENDED = ("CASE WHEN x.merged_at IS NULL THEN x.closed_at WHEN x.closed_at IS NULL THEN x.merged_at "
          "ELSE least(x.merged_at, x.closed_at) END")

#: source -> SELECT of (team, day, person): who stands behind the source's figures of a team on
#: a day. Periods and org units are then equi-joins (calendar, entity map), so the costly part —
#: e.g. the range join of open pull requests with week ends — runs once, at team level.
_TOUCH: dict[str, str] = {
    "flow.merged": """SELECT team, CAST(merged_at AS DATE) AS day, author AS person
      FROM flow_pr_fact WHERE author IS NOT NULL AND author NOT LIKE 'gone:%'
        AND merged_at IS NOT NULL""",
    "flow.delivered": """SELECT team, CAST(delivered_at AS DATE) AS day, author AS person
      FROM flow_pr_fact WHERE author IS NOT NULL AND author NOT LIKE 'gone:%'
        AND delivered_at IS NOT NULL""",
    "flow.reviewed": """SELECT team, CAST(first_review_at AS DATE) AS day, author AS person
      FROM flow_pr_fact WHERE author IS NOT NULL AND author NOT LIKE 'gone:%'
        AND first_review_at IS NOT NULL""",
    # open at a week end (Sunday 24:00 UTC) the data reaches, as flow.work_in_progress
    "flow.open": f"""SELECT x.team, w.day, x.author AS person
      FROM (SELECT *, {_ENDED} AS ended_at FROM flow_pr_fact x
            WHERE author IS NOT NULL AND author NOT LIKE 'gone:%') x
      JOIN (SELECT c.day, CAST(c.day + INTERVAL 1 DAY AS TIMESTAMP) AS t FROM calendar c,
              (SELECT max(greatest(created_at, coalesce(first_review_at, created_at),
                                   coalesce(merged_at, created_at), coalesce(closed_at, created_at),
                                   coalesce(delivered_at, created_at))) AS t FROM flow_pr_fact) e
            WHERE c.weekday = 7 AND CAST(c.day + INTERVAL 1 DAY AS TIMESTAMP) <= e.t
              AND c.day >= (SELECT CAST(min(created_at) AS DATE) FROM flow_pr_fact)) w
        ON x.created_at < w.t AND (x.ended_at IS NULL OR x.ended_at >= w.t)""",
    "strain.responders": """SELECT team, CAST("at" AS DATE) AS day, person
      FROM strain_page_fact WHERE person IS NOT NULL AND person NOT LIKE 'gone:%'""",
    # on call by the rota (each UTC day a shift touches) and, without a rota, the responders paged
    "strain.oncall": """SELECT team, CAST("at" AS DATE) AS day, person
      FROM strain_page_fact WHERE person IS NOT NULL AND person NOT LIKE 'gone:%'
      UNION ALL
      SELECT team, CAST(d AS DATE) AS day, person FROM (
        SELECT team, person, unnest(generate_series(CAST(CAST(starts_at AS DATE) AS TIMESTAMP),
          CAST(CAST(ends_at AS DATE) AS TIMESTAMP), INTERVAL 1 DAY)) AS d
        FROM strain_oncall_fact WHERE person IS NOT NULL AND person NOT LIKE 'gone:%') s""",
    # authors of cross-team pull requests, counted for the author's team on the day opened
    "strain.stalled_authors": """SELECT author_team AS team, CAST(created_at AS DATE) AS day,
      author AS person FROM flow_pr_fact
      WHERE author IS NOT NULL AND author NOT LIKE 'gone:%' AND team IS NOT NULL
        AND author_team IS NOT NULL AND team <> author_team""",
}
#: open pull requests at the period's last week end only (the open-PR age and its distribution)
_LAST_WEEK_END = {"flow.open_end": "flow.open"}
SOURCES = (*_TOUCH, *_LAST_WEEK_END)


def people_sql(source: str, grain: str, level: str, touch: str | None = None) -> str:
    """(entity, period, people) for one source; parameters: since, until (days). ``touch``: a
    table already holding the source's (team, day, person) rows (:func:`touch_table`)."""
    base = _LAST_WEEK_END.get(source, source)
    last = ""
    if source in _LAST_WEEK_END:
        last = """ JOIN (SELECT c.period, max(d.day) AS day FROM (SELECT DISTINCT day FROM touch) d
                     JOIN cal c ON c.day = d.day GROUP BY c.period) l
               ON l.period = cal.period AND l.day = t.day"""
    return f"""
{with_clause(level)}
{entity_map_cte(level)},
{calendar_cte(grain)},
touch AS ({f"SELECT * FROM {touch}" if touch else
           f"SELECT DISTINCT team, day, person FROM ({_TOUCH[base]}) t"})
SELECT m.entity, cal.period, count(DISTINCT t.person) AS people
FROM touch t JOIN cal ON cal.day = t.day{last} JOIN emap m ON m.team = t.team
GROUP BY m.entity, cal.period
"""


def touch_table(con: duckdb.DuckDBPyConnection, source: str, name: str,
                since: object = None, until: object = None) -> None:
    """Materialise a source's (team, day, person) rows (from day ``since`` on and up to day
    ``until``, if given) as temporary table ``name``, so that its counts for every grain and
    level (:func:`people_counts` with ``touch``) derive them once."""
    base = _LAST_WEEK_END.get(source, source)
    bounds = [(">=", since), ("<=", until)]
    where = " AND ".join(f"day {op} CAST(? AS DATE)" for op, v in bounds if v is not None)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS "
                f"SELECT DISTINCT team, day, person FROM ({_TOUCH[base]}) t"
                + (f" WHERE {where}" if where else ""),
                [v for _, v in bounds if v is not None])


def base_source(source: str) -> str:
    """The source whose (team, day, person) rows ``source`` counts (open pull requests at the
    period's last week end count the rows of all open ones)."""
    return _LAST_WEEK_END.get(source, source)


def people_counts(con: duckdb.DuckDBPyConnection, source: str, grain: str, level: str,
                  since: object, until: object, touch: str | None = None
                  ) -> dict[tuple[str, str], int]:
    """{(entity, period): people}, frozen counts taking precedence over live ones."""
    live = con.execute(people_sql(source, grain, level, touch), [since, until]).fetchall()
    frozen = con.execute(
        "SELECT team, period, people FROM people_count_frozen WHERE family = ? AND grain = ?",
        [f"{source}:{level}", grain]).fetchall()
    out = {(str(e), str(p)): int(n) for e, p, n in live}
    out.update({(str(e), str(p)): int(n) for e, p, n in frozen})
    return out
