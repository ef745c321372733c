"""Retention: person-level inputs past their charter period are purged; aggregates are kept.

For each record type that names a person (the charter's ``retention`` section, periods
shortened — never lengthened — by ``shipwise.yaml``), with the cut-off = as-of − days:

- ``page`` records before the cut-off are deleted; ``commit``, ``pull_request`` and ``tag``
  lose their person (author, tagger) but stay, so delivery metrics do not change; team
  memberships (``person``) that ended before the cut-off are deleted.
- The derived facts of flow and strain keep their rows before the cut-off (the *horizon*: fact
  refreshes never rebuild rows before it), with the person replaced by a token made with a
  random key that is thrown away: the rows can no longer be linked to anyone, to the person
  table or to later records, while counts of distinct responders and authors stay exact.
- Before that, the number of people behind every period that began before the cut-off is frozen
  (``people_count_frozen``) so suppression decisions never change afterwards.

All of it happens in one transaction; each run is recorded in ``retention_run`` with what it
removed. Re-importing old records later is purged again on import (:func:`reapply`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shipwise.errors import ConfigError
from shipwise.governance.charter import Charter, RetentionRule, load_charter
from shipwise.metrics import facts
from shipwise.metrics import incremental as incr
from shipwise.metrics.people import SOURCES, base_source, people_sql, touch_table
from shipwise.metrics.strain import StrainQuery, strain_sql
from shipwise.store import runs
from shipwise.store.duckdb_store import Store

#: record type -> (instant column, person columns) in the store
RECORDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "page": ('"at"', ("person",)),
    "oncall_shift": ("starts_at", ("person",)),
    "pull_request": ("created_at", ("author",)),
    "commit": ("committed_at", ("author",)),
    "tag": ("tagged_at", ("tagger",)),
    "person": ('"until"', ("id",)),
}
#: fact table -> (instant column, person column, the record type whose cut-off it follows)
FACTS: dict[str, tuple[str, str, str]] = {
    "flow_pr_fact": ("created_at", "author", "pull_request"),
    "strain_page_fact": ('"at"', "person", "page"),
}
#: people source -> the record type whose cut-off freezes its counts
SOURCE_TYPE = {s: ("page" if s == "strain.responders" else "pull_request") for s in SOURCES}


@dataclass(frozen=True)
class Cutoff:
    record_type: str
    rule: RetentionRule
    cutoff: datetime
    #: the period applied (the charter's, or a shorter one from the settings)
    days: int = 0


def cutoffs(charter: Charter, overrides: dict[str, int], as_of: datetime) -> list[Cutoff]:
    """The cut-off of every rule; a ``shipwise.yaml`` override may only shorten a period."""
    out = []
    for name, days in overrides.items():
        if name not in charter.retention:
            raise ConfigError(f"retention.periods: '{name}' has no retention rule in the charter",
                              hint=f"rules: {', '.join(sorted(charter.retention))}")
        if days > charter.retention[name].days:
            raise ConfigError(
                f"retention.periods.{name}: {days} days is longer than the charter allows "
                f"({charter.retention[name].days})",
                hint="settings may shorten a retention period, never lengthen it")
    for name, rule in sorted(charter.retention.items()):
        days = overrides.get(name, rule.days)
        out.append(Cutoff(name, rule, (as_of - timedelta(days=days)).replace(tzinfo=None), days))
    return out


def _purge_records(store: Store, c: Cutoff) -> tuple[str, int]:
    """Purge one record type before its cut-off, noting the rows it changes as an import would
    (:func:`shipwise.metrics.incremental.record`), so the refresh after it re-derives only the
    facts those rows reach."""
    col, people = RECORDS[c.record_type]
    table = f'"{c.record_type}"'
    con = store.con

    def purge(cond: str, change: str) -> int:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _purged AS SELECT * FROM {table} WHERE {cond}",
                    [c.cutoff])
        try:
            n = int(con.execute("SELECT count(*) FROM _purged").fetchone()[0])  # type: ignore[index]
            if n:
                incr.record(con, c.record_type, "_purged")
                con.execute(f"{change} WHERE {cond}", [c.cutoff])
            return n
        finally:
            con.execute("DROP TABLE _purged")

    if c.rule.action == "delete":
        return "deleted", purge(f"{col} < ?", f"DELETE FROM {table}")
    if c.rule.action == "delete_ended":
        return "deleted ended memberships", purge(
            f"{col} IS NOT NULL AND {col} < CAST(? AS DATE) AND NOT bot", f"DELETE FROM {table}")
    total = 0
    for f in c.rule.fields or list(people):
        total += purge(f"{col} < ? AND {f} IS NOT NULL AND NOT coalesce({f}_is_bot, false)",
                       f"UPDATE {table} SET {f} = NULL")
    return "removed person", total


def _reach(store: Store, source: str, cutoff: datetime) -> datetime:
    """The last instant the rows about to be unlinked still count in: a pull request opened
    before the cut-off may be reviewed, merged or delivered after it."""
    if SOURCE_TYPE[source] != "pull_request":
        return cutoff
    row = store.con.execute(
        """SELECT max(greatest(created_at, coalesce(first_review_at, created_at),
                               coalesce(merged_at, created_at), coalesce(closed_at, created_at),
                               coalesce(delivered_at, created_at)))
           FROM flow_pr_fact WHERE created_at < ? AND author IS NOT NULL
             AND author NOT LIKE 'gone:%'""", [cutoff]).fetchone()
    reach = max(cutoff, row[0]) if row and row[0] is not None else cutoff
    if source in ("flow.open", "flow.open_end"):  # still open: counted at every week end since
        still = store.con.execute(
            """SELECT count(*) FROM flow_pr_fact WHERE created_at < ? AND author IS NOT NULL
                 AND author NOT LIKE 'gone:%' AND merged_at IS NULL AND closed_at IS NULL""",
            [cutoff]).fetchone()
        if still and still[0]:
            end = store.con.execute(
                """SELECT max(greatest(created_at, coalesce(first_review_at, created_at),
                                       coalesce(merged_at, created_at), coalesce(closed_at, created_at),
                                       coalesce(delivered_at, created_at))) FROM flow_pr_fact""").fetchone()
            reach = max(reach, end[0]) if end and end[0] is not None else reach
    return reach


def _freeze_counts(store: Store, sources: dict[str, datetime]) -> int:
    """Freeze people counts of every period the rows about to be unlinked count in (once per
    period): those that began before the cut-off, or before the last review, merge or delivery
    of a pull request opened before it. (Still-open ones are left out of live counts later,
    which can only hide more.) Each source's (team, day, person) rows are derived once, up to
    the last day of those periods, for its three grains and two levels."""
    reach = {source: _reach(store, source, cutoff) for source, cutoff in sources.items()}
    made: dict[tuple[str, datetime], str] = {}
    n = 0
    for source, cutoff in reach.items():
        key = (base_source(source), cutoff)
        if key not in made:  # open pull requests: one derivation for both of their sources
            made[key] = f"_freeze_touch_{len(made)}"
            last = store.con.execute(
                """SELECT max(day) FROM calendar WHERE week IN (SELECT week FROM calendar
                     GROUP BY week HAVING min(day) < CAST(? AS DATE))
                   OR month IN (SELECT month FROM calendar GROUP BY month HAVING min(day) < CAST(? AS DATE))
                   OR quarter IN (SELECT quarter FROM calendar GROUP BY quarter
                                  HAVING min(day) < CAST(? AS DATE))""",
                [cutoff, cutoff, cutoff]).fetchone()
            touch_table(store.con, source, made[key], until=last[0] if last else None)
        touch = made[key]
        for grain in ("week", "month", "quarter"):
            for level in ("team", "org_unit"):
                family = f"{source}:{level}"
                sql = people_sql(source, grain, level, touch)
                before = store.con.execute(
                    "SELECT count(*) FROM people_count_frozen WHERE family = ? AND grain = ?",
                    [family, grain]).fetchone()
                store.con.execute(
                    f"""INSERT INTO people_count_frozen
                    SELECT ?, c.entity, ?, c.period, c.people FROM ({sql}) c
                    WHERE c.period IN (SELECT {grain} FROM calendar GROUP BY {grain}
                                       HAVING min(day) < CAST(? AS DATE))
                      AND NOT EXISTS (SELECT 1 FROM people_count_frozen z WHERE z.family = ?
                                      AND z.grain = ? AND z.team = c.entity AND z.period = c.period)""",
                    [family, grain, "2000-01-01", "2040-12-31", cutoff, family, grain])
                after = store.con.execute(
                    "SELECT count(*) FROM people_count_frozen WHERE family = ? AND grain = ?",
                    [family, grain]).fetchone()
                n += int(after[0] if after else 0) - int(before[0] if before else 0)
    for name in made.values():
        store.con.execute(f"DROP TABLE IF EXISTS {name}")
    return n


def _freeze_strain(store: Store, cutoff: datetime) -> int:
    """Freeze the people-counting strain figures of the periods the cut-off falls inside."""
    n = 0
    for grain in ("week", "month", "quarter"):
        row = store.con.execute(
            f"SELECT min(day), max(day) FROM calendar WHERE {grain} = "
            f"(SELECT {grain} FROM calendar WHERE day = CAST(? AS DATE))", [cutoff]).fetchone()
        if not row or row[0] is None or (row[0] == cutoff.date() and cutoff.time() == datetime.min.time()):
            continue  # the cut-off is a period boundary: no period straddles it
        for level in ("team", "org_unit"):
            sql, params = strain_sql(StrainQuery(grain, level, row[0], row[1]))
            before = store.con.execute("SELECT count(*) FROM strain_frozen").fetchone()
            store.con.execute(
                f"""INSERT OR IGNORE INTO strain_frozen
                SELECT ?, ?, period, entity, oncall_person_weeks, busiest_fifth_share FROM ({sql})""",
                [level, grain, *params])
            after = store.con.execute("SELECT count(*) FROM strain_frozen").fetchone()
            n += int(after[0] if after else 0) - int(before[0] if before else 0)
    return n


def _tokenise(store: Store, table: str, cutoff: datetime) -> int:
    col, person, _ = FACTS[table]
    key = secrets.token_hex(16)  # never stored: the tokens cannot be linked back
    cond = f"{col} < ? AND {person} IS NOT NULL AND {person} NOT LIKE 'gone:%'"
    n = store.con.execute(f"SELECT count(*) FROM {table} WHERE {cond}", [cutoff]).fetchone()
    store.con.execute(f"UPDATE {table} SET {person} = 'gone:' || substr(sha256(? || {person}), 1, 16) "
                      f"WHERE {cond}", [key, cutoff])
    return int(n[0]) if n else 0


def apply(store: Store, plan: list[Cutoff], *, dry_run: bool = False) -> dict[str, Any]:
    """Purge every person-level input before its cut-off; returns what was (or would be) removed."""
    run_at = datetime.now(UTC)
    report: dict[str, Any] = {"run_at": run_at.isoformat(), "dry_run": dry_run, "records": [],
                              "facts": [], "frozen_people_counts": 0}
    by_type = {c.record_type: c for c in plan}
    with store.transaction():
        facts.ensure_fresh(store)
        report["frozen_people_counts"] = _freeze_counts(
            store, {source: by_type[rtype].cutoff for source, rtype in SOURCE_TYPE.items()
                    if rtype in by_type})
        if "page" in by_type:
            report["frozen_strain_figures"] = _freeze_strain(store, by_type["page"].cutoff)
        for table, (_, _, rtype) in FACTS.items():
            if rtype not in by_type:
                continue
            cut = by_type[rtype].cutoff
            n = _tokenise(store, table, cut)
            report["facts"].append({"table": table, "before": cut.isoformat(), "unlinked_rows": n})
            old = facts.retention_horizon(store, table)
            if cut.isoformat(sep=" ") > old:
                store.set_meta(facts.horizon_key(table), cut.isoformat(sep=" "))
        for c in plan:
            action, n = _purge_records(store, c)
            report["records"].append({"record_type": c.record_type, "before": c.cutoff.isoformat(),
                                      "days": c.days,
                                      "action": action, "rows": n})
            runs.record_retention(store, run_at=run_at, record_type=c.record_type,
                                  cutoff=c.cutoff, action=action, rows=n)
        if dry_run:
            raise _DryRun(report)
        store.set_meta("retention_applied", run_at.isoformat())
        # the facts the purged rows reach (the rows before the horizon stay, unlinked), and a new
        # generation: every cached view is computed again from the purged store
        facts.refresh(store, incremental=True, new_generation=True)
    return report


class _DryRun(Exception):
    def __init__(self, report: dict[str, Any]) -> None:
        super().__init__("dry run")
        self.report = report


def run(store: Store, plan: list[Cutoff], *, dry_run: bool = False) -> dict[str, Any]:
    try:
        return apply(store, plan, dry_run=dry_run)
    except _DryRun as dry:  # rolled back: nothing changed
        return dry.report


def reapply(store: Store) -> int:
    """After an import: purge again, at the last run's cut-offs, whatever the import brought back
    from before them (an old export re-imported must not restore what retention removed)."""
    last = runs.last_cutoffs(store)
    if not last:
        return 0
    charter = load_charter()
    plan = [Cutoff(t, charter.retention[t], c, charter.retention[t].days)
            for t, c in last.items() if t in charter.retention]
    n = 0
    with store.transaction():
        for c in plan:
            n += _purge_records(store, c)[1]
        if n:  # the purged rows were noted: the next refresh re-derives what they reach
            facts.mark_stale(store)
    return n
