"""Validate staged records and upsert them on their natural keys, set-based.

For each record type, in dependency order and each in its own transaction:
type every field, collect the reasons a record is bad (missing or malformed fields, bad
enumerations, negative numbers or spans, unknown references), quarantine the bad ones with their
reason and raw text, pseudonymise people, keep the last of duplicate keys, and upsert the rest —
counting what was inserted, updated or already there unchanged. Running the same input twice
leaves the same state; a crash between types leaves whole types, and the next run completes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa

from shipwise.config import IngestSettings
from shipwise.domain.schema import BY_NAME, RECORD_TYPES, Kind, RecordType
from shipwise.governance.agents import AgentRules
from shipwise.governance.pseudonym import BOT_PREFIX, Pseudonymiser, normalise_id
from shipwise.ingest.sources import Staging, stage_table
from shipwise.ingest.sql import (
    Plausible,
    checks,
    lit,
    q,
    reference_checks,
    register_functions,
    row_hash_expr,
    typed_expr,
)
from shipwise.metrics.facts import mark_stale
from shipwise.metrics.incremental import record as record_touches
from shipwise.store.duckdb_store import Store
from shipwise.store.orgfile import canonicalise

#: Where each type's records live, and the key column other types reference.
REF_TARGETS: dict[str, tuple[str, str]] = {rt.name: (rt.table, rt.key[0]) for rt in RECORD_TYPES
                                           if rt.table}


@dataclass
class TypeCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    duplicates: int = 0
    #: valid records of a type without a table, passed on as records of other types
    #: (``people_cost`` → ``cost`` and ``headcount``), which count them as their own
    passed_on: int = 0

    @property
    def accepted(self) -> int:
        return self.inserted + self.updated + self.unchanged


@dataclass
class ImportReport:
    counts: dict[str, TypeCounts] = field(default_factory=dict)
    reasons: Counter[str] = field(default_factory=Counter)
    sources: list[str] = field(default_factory=list)
    #: (file, reason) of files that could not be read at all: nothing of them was imported
    failed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def quarantined(self) -> int:
        return sum(c.quarantined for c in self.counts.values()) + self.reasons.get("(unstaged)", 0)

    def as_dict(self) -> dict[str, object]:
        return {
            "sources": self.sources,
            "types": {
                t: {
                    "inserted": c.inserted,
                    "updated": c.updated,
                    "unchanged": c.unchanged,
                    "quarantined": c.quarantined,
                    "duplicates": c.duplicates,
                    **({"passed_on": c.passed_on}
                       if BY_NAME.get(t) and (BY_NAME[t].splits or BY_NAME[t].rollup) else {}),
                }
                for t, c in self.counts.items()
            },
            "quarantine_reasons": dict(self.reasons.most_common()),
            "failed_files": [{"source": src, "reason": why} for src, why in self.failed],
        }


def _stored(name: str, kind: Kind) -> str:
    """The typed value as stored; an empty list and no list mean the same, so both are NULL."""
    v = q(name + "__v")
    if kind is Kind.TEXT_LIST:
        return f"CASE WHEN len(c.{v}) > 0 THEN c.{v} END AS {q(name)}"
    return f"c.{v} AS {q(name)}"


def person_fields(rt: RecordType) -> list[str]:
    return [f.name for f in rt.fields if f.kind is Kind.PERSON]


def bot_column(rt: RecordType, name: str) -> str:
    """Column flagging a person field as a bot (``person.id`` uses the record's ``bot``)."""
    return "bot" if rt.name == "person" else f"{name}_is_bot"


def target_columns(rt: RecordType) -> list[str]:
    cols = [*(["id"] if rt.id_from else []), *(f.name for f in rt.fields if f.name not in rt.children)]
    for name in person_fields(rt):
        bc = bot_column(rt, name)
        if bc not in cols:
            cols.append(bc)
    return cols


#: tables whose ``sha`` names a commit: each row also carries the SHA's integer key
#: (``sha_key``, migration 13), which the change facts group and join by
SHA_KEYED = frozenset({"commit", "deployment_commit", "pull_request_commit"})


def assign_sha_keys(con: duckdb.DuckDBPyConnection, select: str) -> None:
    """Give every SHA of ``select`` (one column) that has no key yet the next free one; a SHA
    keeps its key for good (a commit named by a deployment before it is imported, re-imported,
    or purged and imported again is the same key)."""
    con.execute(f"""INSERT INTO sha_key
        SELECT sha, (SELECT coalesce(max("key"), 0) FROM sha_key) + row_number() OVER (ORDER BY sha)
        FROM (SELECT DISTINCT x.s AS sha FROM ({select}) x(s) WHERE x.s IS NOT NULL) n
        WHERE NOT EXISTS (SELECT 1 FROM sha_key k WHERE k.sha = n.sha)""")


class Loader:
    """Moves one batch of staged records into the store."""

    def __init__(self, store: Store, pseudo: Pseudonymiser,
                 limits: IngestSettings | None = None) -> None:
        self.store = store
        self.con: duckdb.DuckDBPyConnection = store.con
        self.pseudo = pseudo
        self.limits = limits or IngestSettings()
        #: the batch being loaded (a type with ``splits`` stages the records it stands for)
        self._staging: Staging | None = None
        register_functions(self.con)
        now = datetime.now(UTC).replace(tzinfo=None)
        self.plausible = Plausible(
            datetime.combine(self.limits.earliest_instant, datetime.min.time()),
            now + timedelta(days=365.25 * self.limits.latest_years_ahead),
            self.limits.latest_years_ahead)

    def load(
        self,
        staging: Staging,
        report: ImportReport | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> ImportReport:
        report = report or ImportReport()
        report.sources.extend(staging.sources)
        with self.store.transaction():
            self._quarantine_unstaged(report)
        for rt in RECORD_TYPES:
            if not staging.staged.get(rt.name):
                continue
            if progress:
                progress(f"loading {rt.name}")
            with self.store.transaction():
                self._staging = staging
                counts = self._load_type(rt, report)
            prev = report.counts.get(rt.name)
            if prev is None:
                report.counts[rt.name] = counts
            else:
                for k in ("inserted", "updated", "unchanged", "quarantined", "duplicates",
                          "passed_on"):
                    setattr(prev, k, getattr(prev, k) + getattr(counts, k))
            self.con.execute(f"DELETE FROM {stage_table(rt)}")
        staging.staged.clear()
        return report

    # -- steps ----------------------------------------------------------------------------------
    def _quarantine_unstaged(self, report: ImportReport) -> None:
        rows = self.con.execute(
            "SELECT coalesce(type, '(none)'), reason, count(*) FROM _stage_reject GROUP BY ALL"
        ).fetchall()
        if not rows:
            return
        self.con.execute(
            """INSERT OR IGNORE INTO quarantine
            SELECT md5(coalesce(type, '') || '|' || reason || '|' || coalesce(raw, '')),
                   type, reason, source, line, raw, now()::TIMESTAMP
            FROM _stage_reject"""
        )
        for type_name, reason, n in rows:
            report.reasons[f"{type_name}: {reason}"] += int(n)
            tc = report.counts.setdefault(type_name, TypeCounts())
            tc.quarantined += int(n)
        self.con.execute("DELETE FROM _stage_reject")

    def _load_type(self, rt: RecordType, report: ImportReport) -> TypeCounts:
        con = self.con
        stg = stage_table(rt)
        typed = ", ".join(f"{typed_expr(f)} AS {q(f.name + '__v')}" for f in rt.fields)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _typed AS SELECT *, {typed} FROM {stg}")
        reasons = (checks(rt, self.plausible, self.limits.max_record_bytes)
                   + reference_checks(rt, REF_TARGETS))
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _checked AS SELECT *, "
            f"concat_ws('; ', {', '.join(reasons)}) AS _reason FROM _typed"
        )
        con.execute("DROP TABLE _typed")
        counts = TypeCounts()

        # People: pseudonymise distinct ids once (a handful per batch, not one per event), for
        # good and bad records alike — a quarantined record is kept as read, its people excepted.
        people = person_fields(rt)
        classified = "author_kind" in {f.name for f in rt.fields} and "author" in people
        if classified:
            self._agent_map()
        for i, name in enumerate(people):
            self._person_map(rt, name, f"_pmap{i}")

        # Bad records: quarantined with their reason and the record as read (people pseudonymised).
        raw_fields = ", ".join(f"{q(f.name)} := {q(f.name)}" for f in rt.fields)
        cur = con.execute("SELECT count(*) FROM _checked WHERE _reason <> ''").fetchone()
        counts.quarantined = int(cur[0]) if cur else 0
        if counts.quarantined:
            raw = f"coalesce(c._raw, CAST(to_json(struct_pack({raw_fields.replace(':= ', ':= c.')})) AS VARCHAR))"
            pjoins = ""
            for i, name in enumerate(people):
                # a person-level type never keeps its person, not even pseudonymised
                pid = "NULL" if rt.rollup else f"qm{i}.pid"
                raw = (f"CASE WHEN qm{i}.pid IS NOT NULL AND json_valid({raw}) THEN CAST(json_merge_patch("
                       f"{raw}, json_object({lit(name)}, {pid})) AS VARCHAR) ELSE {raw} END")
                pjoins += f" LEFT JOIN _pmap{i} qm{i} ON qm{i}.raw = c.{q(name + '__v')}"
            con.execute(
                f"""INSERT OR IGNORE INTO quarantine
                SELECT md5({lit(rt.name)} || '|' || _reason || '|' || raw), {lit(rt.name)}, _reason,
                       _source, _line, raw, now()::TIMESTAMP
                FROM (SELECT c.*, {raw} AS raw FROM _checked c {pjoins} WHERE c._reason <> '')"""
            )
            for reason, n in con.execute(
                "SELECT _reason, count(*) FROM _checked WHERE _reason <> '' GROUP BY 1"
            ).fetchall():
                report.reasons[f"{rt.name}: {reason}"] += int(n)

        select = [_stored(f.name, f.kind) for f in rt.fields]
        joins = ""
        for i, name in enumerate(people):
            alias = f"pm{i}"
            select = [s for s in select if not s.endswith(f" AS {q(name)}")]
            select.append(f"{alias}.pid AS {q(name)}")
            bot_expr = f"coalesce({alias}.is_bot, FALSE)"
            if rt.name == "person":
                select = [s for s in select if not s.endswith(' AS "bot"')]
                bot_expr = f"({bot_expr} OR coalesce(c.{q('bot__v')}, FALSE))"
            select.append(f"{bot_expr} AS {q(bot_column(rt, name))}")
            joins += f" LEFT JOIN _pmap{i} {alias} ON {alias}.raw = c.{q(name + '__v')}"
        if classified:  # who made it: as given, else by the ai.agents rules, else bot or human
            pm = f"pm{people.index('author')}"
            select = [s for s in select if not s.endswith((' AS "author_kind"', ' AS "agent"'))]
            # an agent named without a kind is an agent's change
            select.append(
                "coalesce(c.author_kind__v, CASE WHEN c.agent__v IS NOT NULL THEN 'agent' END, "
                f"am.kind, CASE WHEN coalesce({pm}.is_bot, FALSE) THEN 'bot' ELSE 'human' END) "
                "AS author_kind")
            select.append("CASE WHEN c.author_kind__v IS NOT NULL OR c.agent__v IS NOT NULL "
                          "THEN c.agent__v ELSE am.agent END AS agent")
            joins += " LEFT JOIN _amap am ON am.raw = c.author__v"
        if rt.id_from:
            parts = ", ".join(f"CAST(c.{q(k + '__v')} AS VARCHAR)" for k in rt.id_from)
            select.insert(0, f"concat_ws('|', {parts}) AS id")
        key_cols = ", ".join(q(k) for k in rt.key)
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _valid AS
            SELECT * EXCLUDE (_rank) FROM (
              SELECT {', '.join(select)}, c._seq, c._source, c._line,
                     row_number() OVER (PARTITION BY {', '.join('c.' + q(k + '__v') for k in rt.key)}
                                        ORDER BY c._seq DESC) AS _rank
              FROM _checked c {joins} WHERE c._reason = '')
            WHERE _rank = 1"""
        )
        dup = con.execute(
            "SELECT (SELECT count(*) FROM _checked WHERE _reason = '') - (SELECT count(*) FROM _valid)"
        ).fetchone()
        counts.duplicates = int(dup[0]) if dup else 0
        con.execute("DROP TABLE _checked")
        con.execute("DROP TABLE IF EXISTS _amap")
        if rt.rollup:
            counts.passed_on, unplaced = self._roll_up(rt, self._staging)
            if unplaced:
                counts.quarantined += unplaced
                report.reasons[f"{rt.name}: person in no team that day (not stored)"] += unplaced
            con.execute("DROP TABLE _valid")
            return counts
        if rt.splits:
            counts.passed_on = self._pass_on(rt, self._staging)
            con.execute("DROP TABLE _valid")
            return counts

        cols = target_columns(rt)
        hashed = [*cols, *rt.children]
        con.execute("ALTER TABLE _valid ADD COLUMN _hash VARCHAR")
        con.execute(f"UPDATE _valid SET _hash = {row_hash_expr(hashed)}")

        table = q(rt.table)
        on = " AND ".join(f"t.{q(k)} = v.{q(k)}" for k in rt.key)
        row = con.execute(
            f"""SELECT count(*) FILTER (WHERE t.row_hash IS NULL),
                       count(*) FILTER (WHERE t.row_hash IS NOT NULL AND t.row_hash <> v._hash),
                       count(*) FILTER (WHERE t.row_hash = v._hash)
                FROM _valid v LEFT JOIN {table} t ON {on}"""
        ).fetchone()
        assert row is not None
        counts.inserted, counts.updated, counts.unchanged = (int(x) for x in row)
        if counts.inserted or counts.updated:
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE _changed AS
                SELECT v.* FROM _valid v LEFT JOIN {table} t ON {on}
                WHERE t.row_hash IS NULL OR t.row_hash <> v._hash"""
            )
            # derived facts no longer match, in the same transaction: which keys (old values
            # and new) the next refresh re-derives
            record_touches(con, rt.name, "_changed")
            mark_stale(self.store)
            if counts.updated:
                con.execute(
                    f"DELETE FROM {table} WHERE ({key_cols}) IN (SELECT ({key_cols}) FROM _changed)"
                    if len(rt.key) > 1
                    else f"DELETE FROM {table} WHERE {key_cols} IN (SELECT {key_cols} FROM _changed)"
                )
            col_list = ", ".join(q(c) for c in cols)
            values = ", ".join("v." + q(c) for c in cols)
            if rt.table in SHA_KEYED:
                assign_sha_keys(con, "SELECT sha FROM _changed")
                con.execute(
                    f"INSERT INTO {table} ({col_list}, row_hash, ingested_at, sha_key) "
                    f"SELECT {values}, v._hash, now()::TIMESTAMP, k.\"key\" "
                    "FROM _changed v JOIN sha_key k ON k.sha = v.sha"
                )
            else:
                con.execute(
                    f"INSERT INTO {table} ({col_list}, row_hash, ingested_at) "
                    f"SELECT {col_list}, _hash, now()::TIMESTAMP FROM _changed"
                )
            for list_field, (child, child_col) in rt.children.items():
                parent_col = f"{rt.name}_id"
                con.execute(
                    f"DELETE FROM {q(child)} WHERE {q(parent_col)} IN (SELECT {q(rt.key[0])} FROM _changed)"
                )
                links = (f"SELECT DISTINCT {q(rt.key[0])} AS p, unnest({q(list_field)}) AS s "
                         f"FROM _changed WHERE {q(list_field)} IS NOT NULL")
                if child in SHA_KEYED:
                    assign_sha_keys(con, f"SELECT s FROM ({links})")
                    con.execute(
                        f"""INSERT OR IGNORE INTO {q(child)} ({q(parent_col)}, {q(child_col)}, sha_key)
                        SELECT l.p, l.s, k."key" FROM ({links}) l LEFT JOIN sha_key k ON k.sha = l.s"""
                    )
                else:
                    con.execute(
                        f"INSERT OR IGNORE INTO {q(child)} ({q(parent_col)}, {q(child_col)}) "
                        f"SELECT p, s FROM ({links})"
                    )
            con.execute("DROP TABLE _changed")
        con.execute("DROP TABLE _valid")
        return counts

    def _pass_on(self, rt: RecordType, staging: Staging | None) -> int:
        """Stage every valid record of ``rt`` (in ``_valid``) as the records it splits into,
        with its own file and line: they are validated and upserted as those types next, so the
        same file twice leaves them unchanged."""
        assert staging is not None, "records are passed on only while a batch loads"
        for split in rt.splits:
            target = BY_NAME[split.type]
            values = []
            for f in target.fields:
                if f.name in split.fields:
                    values.append(f"CAST({q(split.fields[f.name])} AS VARCHAR)")
                else:
                    values.append(lit(split.constants.get(f.name)))
            cur = self.con.execute(
                f"INSERT INTO {stage_table(target)} SELECT _seq, _source, _line, NULL, NULL, "
                f"{', '.join(values)} FROM _valid")
            row = cur.fetchone()
            if row and row[0]:
                staging.staged[target.name] = staging.staged.get(target.name, 0) + int(row[0])
        row = self.con.execute("SELECT count(*) FROM _valid").fetchone()
        return int(row[0]) if row else 0

    def _roll_up(self, rt: RecordType, staging: Staging | None) -> tuple[int, int]:
        """Sum the valid person-level records of ``rt`` (in ``_valid``, people pseudonymised)
        into the ``rt.rollup`` records of each person's team that day, staged to be validated
        and upserted next; the person-level rows are not kept anywhere. Returns (records
        summed, records whose person was in no team that day — counted, not stored)."""
        assert staging is not None, "records are rolled up only while a batch loads"
        target = BY_NAME[rt.rollup]
        names = {f.name for f in rt.fields}
        sums = {f.name: f"CAST(sum(v.{q(f.name)}) AS VARCHAR)" for f in target.fields
                if f.name in names and f.kind in (Kind.INT, Kind.NUMBER)}
        agg = {
            "team": "p.team", "day": "CAST(v.day AS VARCHAR)", "tool": "v.tool",
            "active_users": "CAST(count(DISTINCT v.person) FILTER (WHERE v.active "
                            "AND NOT v.person_is_bot) AS VARCHAR)",
            "engaged_users": "CAST(count(DISTINCT v.person) FILTER (WHERE v.engaged "
                             "AND NOT v.person_is_bot) AS VARCHAR)",
            **sums,
            # one currency per team, day and tool: mixed ones leave it empty, and the summed
            # cost is then quarantined with "currency: required with cost"
            "currency": "CASE WHEN count(DISTINCT v.currency) = 1 THEN min(v.currency) END",
            "source": "'per-person rows of ' || min(v._source)",
        }
        values = [agg.get(f.name, "NULL") for f in target.fields]
        self.con.execute("""CREATE OR REPLACE TEMP TABLE _placed AS
            SELECT v.*, p.team FROM _valid v JOIN person p ON p.id = v.person
              AND v.day >= p.since AND (p.until IS NULL OR v.day <= p.until)""")
        cur = self.con.execute(
            f"INSERT INTO {stage_table(target)} SELECT min(v._seq), min(v._source), "
            f"min(v._line), NULL, NULL, {', '.join(values)} FROM _placed v "
            "GROUP BY p.team, v.day, v.tool".replace("p.team", "v.team"))
        row = cur.fetchone()
        if row and row[0]:
            staging.staged[target.name] = staging.staged.get(target.name, 0) + int(row[0])
        placed = self.con.execute(
            "SELECT count(DISTINCT (person, day, tool)), (SELECT count(*) FROM _valid v "
            "WHERE NOT EXISTS (SELECT 1 FROM _placed p WHERE p.person = v.person AND "
            "p.day = v.day AND p.tool = v.tool)) FROM _placed").fetchone()
        self.con.execute("DROP TABLE _placed")
        return (int(placed[0]), int(placed[1])) if placed else (0, 0)

    def _agent_map(self) -> None:
        """``_amap``: each distinct author of the changes in ``_checked`` that the ``ai.agents``
        rules decide by login alone (an agent account, a plain bot), before pseudonymisation."""
        rules = AgentRules.of(self.pseudo.agents)
        raws = [r[0] for r in self.con.execute(
            "SELECT DISTINCT author__v FROM _checked WHERE author__v IS NOT NULL").fetchall()]
        decided = {raw: rules.classify(raw) for raw in raws}
        decided = {raw: kind for raw, kind in decided.items() if kind[0] is not None}
        tbl = pa.table({"raw": pa.array(list(decided), pa.string()),
                        "kind": pa.array([k for k, _ in decided.values()], pa.string()),
                        "agent": pa.array([a for _, a in decided.values()], pa.string())})
        self.con.register("_amap_arrow", tbl)
        self.con.execute("CREATE OR REPLACE TEMP TABLE _amap AS SELECT * FROM _amap_arrow")
        self.con.unregister("_amap_arrow")

    def _person_map(self, rt: RecordType, name: str, table: str) -> None:
        raws = [
            r[0]
            for r in self.con.execute(
                f"SELECT DISTINCT {q(name + '__v')} FROM _checked "
                f"WHERE {q(name + '__v')} IS NOT NULL"
            ).fetchall()
        ]
        known_bots = {
            r[0][len(BOT_PREFIX) :]
            for r in self.con.execute(
                "SELECT DISTINCT id FROM person WHERE bot AND starts_with(id, ?)", [BOT_PREFIX]
            ).fetchall()
        }
        if rt.name == "person":
            known_bots |= {
                self_id.strip().lower()
                for (self_id,) in self.con.execute(
                    f"SELECT DISTINCT {q('id__v')} FROM _checked WHERE _reason = '' AND {q('bot__v')}"
                ).fetchall()
            }
        # an agent account is not a person: stored readable, like a bot (never a pseudonym)
        rules = AgentRules.of(self.pseudo.agents)
        known_bots |= {normalise_id(raw) for raw in raws if rules.account(raw) is not None}
        mapping = self.pseudo.map(raws, known_bots)
        tbl = pa.table(
            {
                "raw": pa.array(list(mapping), pa.string()),
                "pid": pa.array([v[0] for v in mapping.values()], pa.string()),
                "is_bot": pa.array([v[1] for v in mapping.values()], pa.bool_()),
            }
        )
        self.con.register("_pmap_arrow", tbl)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM _pmap_arrow")
        self.con.unregister("_pmap_arrow")
        # identity resolution (the organisation file): one person's other ids become their
        # canonical id, and a pseudonym the store already holds is taken as that person
        canonicalise(self.con, table)

