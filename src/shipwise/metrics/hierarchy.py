"""Entities a team-level metric can be computed for: the team itself, or every org unit above it.

The same metric SQL runs at both levels by joining its facts through ``entity_map``: a team maps
to itself at the team level, and to each of its org units (and their parents, up to the root) at
the org-unit level — so an org unit's median is computed from the records, not from its teams'
medians. Portable SQL (a recursive CTE; ``UNION`` so a cycle in bad data still terminates).
"""

from __future__ import annotations

LEVELS = ("team", "org_unit")


def entity_map_cte(level: str, entities: tuple[str, ...] = ()) -> str:
    """A CTE named ``emap(team, entity)``; needs ``WITH RECURSIVE`` at the org-unit level.
    ``entities`` narrows it to those teams (or org units): only their figures are computed."""
    only = ""
    if entities:
        only = " WHERE entity IN (" + ", ".join(_lit(e) for e in entities) + ")"
    if level == "team":
        return f"emap AS (SELECT * FROM (SELECT id AS team, id AS entity FROM team){only})"
    if level == "org_unit":
        return f"""unit_up(team, entity) AS (
  SELECT id, org_unit FROM team
  UNION
  SELECT u.team, o.parent FROM unit_up u JOIN org_unit o ON o.id = u.entity
  WHERE o.parent IS NOT NULL
),
emap AS (SELECT team, entity FROM unit_up{only})"""
    raise ValueError(f"unknown level {level!r}")


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def with_clause(level: str) -> str:
    return "WITH RECURSIVE" if level == "org_unit" else "WITH"


def calendar_cte(grain: str) -> str:
    """``cal(day, weekday, period, period_start)`` between two ``?`` parameters (since, until)."""
    if grain not in ("week", "month", "quarter"):
        raise ValueError(f"unknown grain {grain!r}")
    return (f"cal AS (SELECT day, weekday, {grain} AS period, {grain}_start AS period_start "
            "FROM calendar WHERE day BETWEEN ? AND ?)")
