"""The organisation file: check it, plan it against the store, apply it, export the store's.

``apply_org`` reads the file (every problem with its line), pseudonymises the people's ids with
the store's key, compares the organisation it describes with the stored one, and — unless it is
a dry run — writes the difference: org units, teams, services and memberships through the
canonical importer (the same validation, pseudonymisation and upserts as an imported file);
identity aliases, owners over time and deploy targets beside them. Stored rows that name a person
by an alias are re-attributed to the canonical id and the derived facts rebuilt. Applying the same
file again changes nothing and writes nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from shipwise.app.caller import Caller
from shipwise.app.context import pseudonymiser_for
from shipwise.app.guard import guard
from shipwise.app.ingest import import_tables_into
from shipwise.app.results import OrgApplyResult, OrgChange, OrgCheckResult, OrgExport
from shipwise.domain.people import PSEUDONYM_RE
from shipwise.errors import InputError
from shipwise.governance.pseudonym import Pseudonymiser, normalise_id
from shipwise.governance.retention import reapply
from shipwise.metrics import facts
from shipwise.orgfile import (
    Change,
    OrgDocument,
    OrgFileError,
    OrgState,
    Problem,
    desired_state,
    diff,
    entry_lines,
    parse,
    to_data,
    to_yaml,
)
from shipwise.orgfile.state import KINDS, person_ids
from shipwise.store import orgfile as org_table
from shipwise.store.duckdb_store import Store

__all__ = ["OrgFileError", "apply_org", "check_org_file", "export_org"]

#: the canonical fields of each kind (a change to any is re-imported as a record)
_RECORD_FIELDS = {"org_unit": {"name", "parent"},
                  "team": {"name", "org_unit", "delivery_unit", "attributes"},
                  "service": {"name", "team", "repo"}, "person": {"bot", "memberships"}}


def _today(today: date | None) -> date:
    return today or datetime.now(UTC).date()


def check_org_file(text: str, source: str = "org.yaml") -> OrgCheckResult:
    """Validate an organisation file without a store (:class:`OrgFileError` with every problem
    and its line). People are not pseudonymised: nothing is compared with a store."""
    org = parse(text, source).org
    return OrgCheckResult(source=source, org_units=len(org.org_units), teams=len(org.teams),
                          people=len(org.people), services=len(org.services))


def _resolve(store: Store, pseudo: Pseudonymiser, doc: OrgDocument
             ) -> tuple[dict[str, tuple[str, bool]], list[Problem]]:
    """Each person id of the file -> (stored id, bot): the pseudonymiser's answer, or the id
    itself when it is a pseudonym the store holds. Problems: a pseudonym the store does not
    know, and two people of the file that are one stored person."""
    people = doc.org.people
    raws = [raw for p in people for raw in person_ids(p)]
    held = org_table.stored_ids(store, raws)
    pattern = re.compile(PSEUDONYM_RE)
    problems: list[Problem] = []
    resolved: dict[str, tuple[str, bool]] = {}
    owner: dict[str, int] = {}
    for i, person in enumerate(people):
        known_bots = {normalise_id(r) for r in person_ids(person)} if person.bot else set()
        for raw, key, j in person.all_ids():
            if raw in held:
                resolved[raw] = (raw, False)
            elif pattern.match(raw):
                problems.append(doc.problem(("people", i, key, j), (
                    f"{raw} looks like a pseudonym but this store holds no such person (a "
                    "pseudonym from another store, or from another key, names nobody here)")))
                continue
            else:
                resolved.update(pseudo.map([raw], known_bots))
            sid = resolved[raw][0]
            if owner.setdefault(sid, i) != i:
                problems.append(doc.problem(("people", i, key, j), (
                    f"{key[:-1]} {raw} is the same stored person as the person at line "
                    f"{doc.line(('people', owner[sid]))}")))
    return resolved, problems


def _changes_out(changes: list[Change]) -> list[OrgChange]:
    return [OrgChange(kind=c.kind, id=c.id, action=c.action,
                      fields={k: [old, new] for k, (old, new) in c.fields.items()},
                      line=c.line or None, referenced_by=c.referenced_by or None)
            for c in changes]


@guard("admin.ingest", "org:apply")
def apply_org(caller: Caller, text: str, source: str = "org.yaml", *, dry_run: bool = False,
              prune: bool = False, today: date | None = None) -> OrgApplyResult:
    """Plan the organisation file ``text`` against the caller's store and, unless ``dry_run``,
    apply it. Entities the store holds and the file does not list are shown as removed and
    deleted only with ``prune`` — never one that data still references (that is an error, and
    nothing is written). :class:`OrgFileError` lists every problem of the file with its line."""
    store = caller.store
    day = _today(today)
    doc = parse(text, source)
    pseudo = pseudonymiser_for(store, caller.settings)
    resolved, problems = _resolve(store, pseudo, doc)
    if problems:
        raise OrgFileError(source, problems)
    current = org_table.current_state(store)
    desired = desired_state(doc, resolved, day)
    canonical = {i: resolved[person_ids(p)[0]][0] for i, p in enumerate(doc.org.people)}
    merged = desired.aliases()  # stored people the file says are another's other ids
    changes = [c for c in diff(current, desired, entry_lines(doc, canonical))
               if not (c.kind == "person" and c.action == "removed" and c.id in merged)]
    removed: dict[str, list[str]] = {
        k: [c.id for c in changes if c.kind == k and c.action == "removed"] for k in KINDS}
    # rows of entities the file lists are replaced by the file's, which references only what
    # it defines; rows of entities this prune deletes go too: neither holds anything back
    leaving: dict[str, list[str]] = {
        k: [*desired.of(k), *(removed[k] if prune else ())] for k in KINDS}
    for kind in ("org_unit", "team", "service"):
        refs = org_table.references(store, kind, removed[kind], leaving)
        for c in changes:
            if c.kind == kind and c.action == "removed":
                c.referenced_by = {k: v for k, v in refs.get(c.id, {}).items() if v}
    rewrites = org_table.alias_rewrites(store, desired.aliases())
    result = OrgApplyResult(
        source=source, dry_run=dry_run, prune=prune, changes=_changes_out(changes),
        rewritten=rewrites, applied=False)
    if dry_run:
        return result
    refused = [c for c in changes if c.action == "removed" and c.referenced_by] if prune else []
    if refused:
        listing = "; ".join(f"{c.kind} {c.id} is referenced by " + ", ".join(
            f"{n} {what}" for what, n in c.referenced_by.items()) for c in refused)
        raise InputError(f"{source}: cannot prune: {listing}",
                         hint="keep them in the file, or move that data first; nothing was "
                              "written")
    result.applied = _write(caller, doc, current, desired, changes, resolved, rewrites, prune)
    return result


def _write(caller: Caller, doc: OrgDocument, current: OrgState, desired: OrgState,
           changes: list[Change], resolved: Mapping[str, tuple[str, bool]],
           rewrites: Mapping[str, int], prune: bool) -> bool:
    """Write the plan; True when anything was written."""
    store = caller.store
    listed = [c for c in changes if c.action != "removed"]
    services = {c.id: desired.services[c.id] for c in listed if c.kind == "service"
                and (c.action == "added" or {"owners", "targets"} & set(c.fields))}
    people = {c.id: desired.people[c.id] for c in listed if c.kind == "person"}
    have, want = current.aliases(), desired.aliases()
    aliases_changed = any(have.get(a) != pid for a, pid in want.items()) or any(
        pid in desired.people and want.get(a) != pid for a, pid in have.items())
    pruned = {k: [c.id for c in changes if c.kind == k and c.action == "removed"]
              for k in KINDS} if prune else {}
    wrote = False
    with store.transaction():
        if aliases_changed or (prune and any(pid in pruned.get("person", ())
                                             for pid in have.values())):
            org_table.write_aliases(store, want, list(desired.people), prune)
            wrote = True
        if services:
            org_table.write_services(store, services)
            wrote = True
        if rewrites:  # first: an alias's memberships become the person's, then are trimmed
            org_table.rewrite_aliases(store)
            wrote = True
        if (people or rewrites) and org_table.keep_memberships(store, desired.people):
            wrote = True
        for kind in ("person", "service", "team", "org_unit"):
            if pruned.get(kind) and org_table.prune(store, kind, pruned[kind]):
                wrote = True
        if wrote:
            facts.mark_stale(store, everything="organisation file")
    tables = _records(doc, desired, changes, resolved)
    if tables:
        report = import_tables_into(store, pseudonymiser_for(store, caller.settings), tables,
                                    f"org:{doc.source}", kind="org", limits=caller.settings.ingest)
        if report.quarantined:
            raise InputError(
                f"{doc.source}: {report.quarantined} record(s) of the organisation were refused "
                f"by the importer: " + "; ".join(report.reasons),
                hint="see `shipwise quarantine list`; fix the file and apply it again")
        return True
    if wrote and facts.is_stale(store):
        reapply(store)  # as an import does: retention first, so nothing purged comes back
        facts.refresh(store)
    return wrote


def _records(doc: OrgDocument, desired: OrgState, changes: list[Change],
             resolved: Mapping[str, tuple[str, bool]]) -> dict[str, pa.Table]:
    """The canonical records of the entities whose canonical fields changed (text columns, as
    a file would give them)."""
    todo = {(c.kind, c.id) for c in changes if c.action == "added"
            or (c.action == "changed" and _RECORD_FIELDS[c.kind] & set(c.fields))}
    rows: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}
    for ident, u in desired.org_units.items():
        if ("org_unit", ident) in todo:
            rows["org_unit"].append({"id": ident, "name": u.name, "parent": u.parent})
    for ident, t in desired.teams.items():
        if ("team", ident) in todo:
            rows["team"].append({"id": ident, "name": t.name, "org_unit": t.org_unit,
                                 "delivery_unit": t.delivery_unit,
                                 "attributes": json.dumps(dict(t.attributes), sort_keys=True)
                                 if t.attributes else None})
    for ident, s in desired.services.items():
        if ("service", ident) in todo:
            rows["service"].append({"id": ident, "name": s.name, "team": s.team,
                                    "repo": s.repo})
    for person in doc.org.people:
        raw = person_ids(person)[0]
        pid = resolved[raw][0]
        if ("person", pid) not in todo:
            continue
        p = desired.people[pid]
        for team, since, until in p.memberships:
            rows["person"].append({"id": raw, "team": team, "since": str(since),
                                   "until": str(until) if until else None,
                                   "bot": "true" if p.bot else "false"})
    return {k: pa.Table.from_pylist(v, schema=pa.schema([(c, pa.string()) for c in v[0]]))
            for k, v in rows.items() if v}


@guard("admin.ingest", "org:export")
def export_org(caller: Caller, today: date | None = None) -> OrgExport:
    """Today's organisation as an organisation file (people by pseudonym: raw ids are never
    stored). Applying it to the same store changes nothing."""
    state = org_table.current_state(caller.store)
    data = to_data(state)
    return OrgExport(yaml=to_yaml(state, _today(today)),
                     counts={k: len(data[k]) for k in ("org_units", "teams", "people",
                                                       "services")})
