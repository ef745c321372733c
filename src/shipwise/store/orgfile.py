"""The organisation file's tables: reading today's organisation, applying a plan, identity
aliases and ownership over time. All the SQL of ``shipwise org`` lives here.

Org units, teams, services and memberships are written by the canonical importer (the caller
does that); this module writes what the canonical format has no record for — ``person_alias``,
``service_owner``, ``service_target`` — and replaces, prunes and re-attributes. Every write is
set-based; the tables it joins (aliases, owners, targets) are the size of the organisation.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import duckdb
import pyarrow as pa

from shipwise.domain.people import BOT_PREFIX, PSEUDONYM_RE
from shipwise.domain.people import quote_identifier as q
from shipwise.domain.schema import RECORD_TYPES, Kind
from shipwise.orgfile.state import OrgState, OrgUnit, Person, Service, Team
from shipwise.store.duckdb_store import Store

#: (table, column) of every stored person field of the canonical format (commit.author, ...);
#: a type with no table (``ai_usage_person``: summed to teams at the door) stores no person
PERSON_COLUMNS: tuple[tuple[str, str], ...] = tuple(
    (rt.table, f.name) for rt in RECORD_TYPES if rt.table
    for f in rt.fields if f.kind is Kind.PERSON)

#: what may still reference an entity of each kind: (table, column, label)
REFERENCES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "org_unit": (("team", "org_unit", "teams"), ("org_unit", "parent", "org units")),
    "team": (("service", "team", "services"), ("service_owner", "team", "service ownerships"),
             ("person", "team", "memberships"), ("page", "team", "pages"),
             ("cost", "team", "cost rows"), ("headcount", "team", "headcount rows"),
             ("investment_team", "team", "investments"),
             ("ticket_status", "team", "ticket statuses"), ("api_token", "team", "API tokens")),
    "service": (("deployment", "service", "deployments"), ("incident", "service", "incidents"),
                ("slo", "service", "SLOs")),
    "person": (),
}
#: the key column of each kind's table, and the table
_TABLES = {"org_unit": ("org_unit", "id"), "team": ("team", "id"), "service": ("service", "id"),
           "person": ("person", "id")}


def _attributes(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    parsed = json.loads(value) if isinstance(value, str) else value
    return dict(parsed) if isinstance(parsed, dict) else {}


def current_state(store: Store) -> OrgState:
    """Today's organisation as stored."""
    con = store.con
    state = OrgState()
    for ident, name, parent in con.execute(
            "SELECT id, name, parent FROM org_unit ORDER BY id").fetchall():
        state.org_units[ident] = OrgUnit(name, parent)
    for ident, name, unit, delivery, attrs in con.execute(
            "SELECT id, name, org_unit, delivery_unit, attributes FROM team ORDER BY id").fetchall():
        state.teams[ident] = Team(name, unit, delivery, _attributes(attrs))
    owners: dict[str, list[tuple[str, date | None, date | None]]] = {}
    for service, team, since, until in con.execute(
            'SELECT service, team, since, "until" FROM service_owner '
            "ORDER BY service, coalesce(since, DATE '0001-01-01'), team").fetchall():
        owners.setdefault(service, []).append((team, since, until))
    targets: dict[str, list[tuple[str, str | None, str | None]]] = {}
    for service, repo, env, job in con.execute(
            "SELECT service, repo, environment, job FROM service_target "
            "ORDER BY service, position").fetchall():
        targets.setdefault(service, []).append((repo, env, job))
    for ident, name, team, repo in con.execute(
            "SELECT id, name, team, repo FROM service ORDER BY id").fetchall():
        mine = tuple(targets.get(ident, ()))
        if not mine and repo is not None:
            mine = ((repo, None, None),)  # a repository named by a canonical file
        state.services[ident] = Service(name, team, repo, tuple(owners.get(ident, ())), mine)
    aliases: dict[str, list[str]] = {}
    for alias, person in con.execute(
            "SELECT alias, person FROM person_alias ORDER BY alias").fetchall():
        aliases.setdefault(person, []).append(alias)
    people: dict[str, tuple[bool, list[tuple[str, date | None, date | None]]]] = {}
    for ident, team, since, until, bot in con.execute(
            'SELECT id, team, since, "until", bot FROM person ORDER BY id, since, team').fetchall():
        bot_before, periods = people.get(ident, (False, []))
        periods.append((team, since, until))
        people[ident] = (bot_before or bool(bot), periods)
    for person in aliases:
        people.setdefault(person, (person.startswith(BOT_PREFIX), []))
    for ident, (bot, periods) in people.items():
        state.people[ident] = Person(bot, tuple(periods), tuple(aliases.get(ident, ())))
    return state


def stored_ids(store: Store, candidates: Iterable[str]) -> set[str]:
    """Which of ``candidates`` are pseudonyms this store holds (a person's id or alias): an
    organisation file may name a person by one (``shipwise org export`` does)."""
    wanted = [c for c in dict.fromkeys(candidates)]
    if not wanted:
        return set()
    rows = store.con.execute(
        f"""SELECT DISTINCT c FROM (SELECT unnest(?) AS c) x
        WHERE regexp_full_match(c, '{PSEUDONYM_RE}')
          AND (c IN (SELECT id FROM person) OR c IN (SELECT alias FROM person_alias)
               OR c IN (SELECT person FROM person_alias))""", [wanted]).fetchall()
    return {str(r[0]) for r in rows}


def references(store: Store, kind: str, ids: Iterable[str],
               leaving: Mapping[str, Iterable[str]]) -> dict[str, dict[str, int]]:
    """For each of ``ids`` of ``kind``: what still references it (label -> rows), not counting
    rows of entities that leave in the same prune (``leaving``: kind -> ids)."""
    wanted = list(ids)
    out: dict[str, dict[str, int]] = {i: {} for i in wanted}
    if not wanted:
        return out
    for table, column, label in REFERENCES[kind]:
        own = next((k for k, (t, _) in _TABLES.items() if t == table), None)
        key = _TABLES[own][1] if own else None
        gone = list(leaving.get(own, ())) if own else []
        exclude = f" AND {q(key)} NOT IN (SELECT unnest(?))" if key and gone else ""
        if table == "service_owner" and leaving.get("service"):
            exclude, gone = " AND service NOT IN (SELECT unnest(?))", list(leaving["service"])
        params: list[Any] = [wanted, *([gone] if exclude else [])]
        for ident, n in store.con.execute(
                f"SELECT {q(column)}, count(*) FROM {q(table)} WHERE {q(column)} IN "
                f"(SELECT unnest(?)){exclude} GROUP BY 1", params).fetchall():
            out[str(ident)][label] = int(n)
    return out


def _alias_table(con: duckdb.DuckDBPyConnection, aliases: Mapping[str, str]) -> None:
    con.register("_alias_arrow", pa.table({
        "alias": pa.array(list(aliases), pa.string()),
        "person": pa.array(list(aliases.values()), pa.string())}))
    con.execute("CREATE OR REPLACE TEMP TABLE _org_alias AS SELECT * FROM _alias_arrow")
    con.unregister("_alias_arrow")


def alias_rewrites(store: Store, aliases: Mapping[str, str]) -> dict[str, int]:
    """How many stored rows name a person by one of ``aliases`` (alias -> canonical id), per
    ``table.column``: the rows applying them re-attributes."""
    if not aliases:
        return {}
    _alias_table(store.con, aliases)
    out: dict[str, int] = {}
    for table, column in PERSON_COLUMNS:
        row = store.con.execute(
            f"SELECT count(*) FROM {q(table)} t JOIN _org_alias a ON a.alias = t.{q(column)}"
        ).fetchone()
        if row and row[0]:
            out[f"{table}.{column}"] = int(row[0])
    store.con.execute("DROP TABLE _org_alias")
    return out


def write_aliases(store: Store, aliases: Mapping[str, str], people: Iterable[str],
                  prune: bool) -> None:
    """The file's aliases: every alias row of the people it lists (and of ids it names) is
    replaced; with ``prune``, every other alias row goes too."""
    con = store.con
    _alias_table(con, aliases)
    named = list({*people, *aliases})
    if prune:
        con.execute("DELETE FROM person_alias WHERE alias NOT IN (SELECT alias FROM _org_alias)")
    con.execute("DELETE FROM person_alias WHERE person IN (SELECT unnest(?)) "
                "OR alias IN (SELECT unnest(?))", [named, named])
    con.execute("INSERT INTO person_alias SELECT alias, person, now()::TIMESTAMP FROM _org_alias")
    con.execute("DROP TABLE _org_alias")


def write_services(store: Store, services: Mapping[str, Service]) -> None:
    """Replace the owners over time and the repositories/deploy targets of ``services``."""
    con = store.con
    names = list(services)
    if not names:
        return
    con.execute("DELETE FROM service_owner WHERE service IN (SELECT unnest(?))", [names])
    con.execute("DELETE FROM service_target WHERE service IN (SELECT unnest(?))", [names])
    owners = [(s, t, since, until) for s, svc in services.items() for t, since, until in svc.owners]
    if owners:
        con.executemany('INSERT INTO service_owner (service, team, since, "until", applied_at) '
                        "VALUES (?, ?, ?, ?, now()::TIMESTAMP)", owners)
    targets = [(s, i, repo, env, job) for s, svc in services.items()
               for i, (repo, env, job) in enumerate(svc.targets)]
    if targets:
        con.executemany("INSERT INTO service_target (service, position, repo, environment, job, "
                        "applied_at) VALUES (?, ?, ?, ?, ?, now()::TIMESTAMP)", targets)


def keep_memberships(store: Store, people: Mapping[str, Person]) -> int:
    """Delete the memberships of ``people`` the file no longer lists (a changed ``since`` is a
    new membership; the importer upserts the listed ones). Returns rows deleted."""
    con = store.con
    rows = [(pid, team, since) for pid, p in people.items() for team, since, _ in p.memberships]
    con.register("_keep_arrow", pa.table({
        "id": pa.array([r[0] for r in rows], pa.string()),
        "team": pa.array([r[1] for r in rows], pa.string()),
        "since": pa.array([r[2] for r in rows], pa.date32())}))
    try:
        cur = con.execute(
            "DELETE FROM person WHERE id IN (SELECT unnest(?)) AND (id, team, since) NOT IN "
            "(SELECT (id, team, since) FROM _keep_arrow) RETURNING id", [list(people)])
        return len(cur.fetchall())
    finally:
        con.unregister("_keep_arrow")


def prune(store: Store, kind: str, ids: Iterable[str]) -> int:
    """Delete entities of ``kind`` (and, for a service, its owners and targets; for a person,
    their memberships and aliases). The caller checked nothing references them."""
    wanted = list(ids)
    if not wanted:
        return 0
    table, key = _TABLES[kind]
    con = store.con
    if kind == "service":
        con.execute("DELETE FROM service_owner WHERE service IN (SELECT unnest(?))", [wanted])
        con.execute("DELETE FROM service_target WHERE service IN (SELECT unnest(?))", [wanted])
    if kind == "person":
        con.execute("DELETE FROM person_alias WHERE person IN (SELECT unnest(?))", [wanted])
    cur = con.execute(f"DELETE FROM {q(table)} WHERE {q(key)} IN (SELECT unnest(?)) "
                      f"RETURNING {q(key)}", [wanted])
    return len(cur.fetchall())


def _hash_columns(table: str) -> list[str] | None:
    """The columns the importer hashes for ``table`` (None: it hashes a child list too)."""
    rt = next(r for r in RECORD_TYPES if r.table == table)
    if rt.children:
        return None
    cols = [f.name for f in rt.fields]
    for f in rt.fields:
        if f.kind is Kind.PERSON:
            bot = "bot" if rt.name == "person" else f"{f.name}_is_bot"
            if bot not in cols:
                cols.append(bot)
    return cols


def rewrite_aliases(store: Store) -> dict[str, int]:
    """Re-attribute stored rows that name a person by an alias to the person's canonical id
    (one UPDATE per person field, joined with ``person_alias``). Row hashes are recomputed, so
    importing the same records again finds them unchanged (a pull request's hash covers its
    commit list in file order and is left: such a re-import rewrites the row once)."""
    con = store.con
    done: dict[str, int] = {}
    for table, column in PERSON_COLUMNS:
        if table == "person":  # the key: collapse onto an existing membership, then move
            con.execute("""DELETE FROM person WHERE rowid IN (
                SELECT p.rowid FROM person p JOIN person_alias a ON a.alias = p.id
                JOIN person c ON c.id = a.person AND c.team = p.team AND c.since = p.since)""")
            moved = con.execute("""CREATE OR REPLACE TEMP TABLE _moved AS
                SELECT a.person AS id, p.team, p.since, p."until", p.bot, p.row_hash, p.ingested_at
                FROM person p JOIN person_alias a ON a.alias = p.id""")
            del moved
            row = con.execute("SELECT count(*) FROM _moved").fetchone()
            n = int(row[0]) if row else 0
            if n:
                con.execute("DELETE FROM person WHERE id IN (SELECT alias FROM person_alias)")
                con.execute("INSERT INTO person SELECT * FROM _moved")
            con.execute("DROP TABLE _moved")
            if n:
                con.execute("UPDATE person SET row_hash = " + _hash("person", "id", "") +
                            " WHERE id IN (SELECT person FROM person_alias)")
        else:
            rehash = _hash(table, column, "a.person")
            cur = con.execute(
                f"UPDATE {q(table)} SET {q(column)} = a.person"
                + (f", row_hash = {rehash}" if rehash != "row_hash" else "")
                + f" FROM person_alias a WHERE {q(table)}.{q(column)} = a.alias RETURNING 1")
            n = len(cur.fetchall())
        if n:
            done[f"{table}.{column}"] = n
    return done


def _hash(table: str, column: str, new: str) -> str:
    """The importer's row hash of a row of ``table`` whose ``column`` becomes ``new`` (an SQL
    expression; "" keeps it); ``row_hash`` itself where the importer hashes a child list too."""
    cols = _hash_columns(table)
    if cols is None:
        return "row_hash"
    parts = ", ".join(f"{q(c)} := {new if c == column and new else q(table) + '.' + q(c)}"
                      for c in cols)
    return f"md5(CAST(to_json(struct_pack({parts})) AS VARCHAR))"


def canonicalise(con: duckdb.DuckDBPyConnection, person_map: str) -> None:
    """For the importer: in ``person_map`` (raw, pid, is_bot), a raw id that is already a stored
    pseudonym stays itself, and an alias pid becomes its person's canonical id (set-based)."""
    con.execute(
        f"""UPDATE {person_map} SET pid = raw, is_bot = FALSE
        WHERE regexp_full_match(raw, '{PSEUDONYM_RE}')
          AND (raw IN (SELECT id FROM person) OR raw IN (SELECT alias FROM person_alias)
               OR raw IN (SELECT person FROM person_alias))""")
    con.execute(f"""UPDATE {person_map} SET pid = a.person FROM person_alias a
        WHERE {person_map}.pid = a.alias""")
