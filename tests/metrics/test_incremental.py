"""Incremental refresh: after any sequence of imports it equals a full rebuild, row for row.

Two stores receive the same random sequence of small canonical imports (new and changed
deployments, incidents caused by old deployments, commits, pull requests, pages, memberships,
re-imports of the same records, now and then an ownership change); one refreshes incrementally
after each, the other rebuilds every fact from scratch. Their fact tables must be equal as
multisets of rows after every step.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipwise.app import diagnostics
from shipwise.app.ingest import import_tables_into
from shipwise.config import BotSettings
from shipwise.governance import retention
from shipwise.governance.charter import load_charter
from shipwise.governance.pseudonym import Pseudonymiser
from shipwise.metrics import facts, incremental
from shipwise.store.duckdb_store import Store

TEAMS = ("t1", "t2", "t3")
#: one service per repository: a repository's team is the most common team of its services, and
#: a tie between two would have no one answer
SERVICES = {"s1": ("t1", "r1"), "s2": ("t2", "r2"), "s3": ("t3", "r3")}
PEOPLE = tuple(f"dev{i}@example.com" for i in range(7))
SHAS = tuple(f"c{i}" for i in range(10))
DEPLOYS = tuple(f"d{i}" for i in range(12))
PRS = tuple(f"pr{i}" for i in range(8))
ALL_FACTS = (*(t for t, _ in facts.FACTS), *(t for t, _, _ in facts.RETAINED_FACTS))


def _at(day: int, hour: int) -> str:
    return f"2025-03-{day:02d}T{hour:02d}:00:00Z"


def _org() -> dict[str, list[dict[str, Any]]]:
    people = [{"id": p, "team": TEAMS[i % 3], "since": "2024-01-01", "bot": False}
              for i, p in enumerate(PEOPLE)]
    return {
        "org_unit": [{"id": "eng", "name": "Engineering"}],
        "team": [{"id": t, "name": t, "org_unit": "eng", "delivery_unit": "deployments"}
                 for t in TEAMS],
        "service": [{"id": s, "name": s, "team": t, "repo": r} for s, (t, r) in SERVICES.items()],
        "person": people,
    }


day = st.integers(1, 25)
hour = st.integers(0, 23)

commit = st.builds(
    lambda sha, author, d, h: {"sha": sha, "repo": "r1", "author": author,
                               "authored_at": _at(d, h), "committed_at": _at(d, h),
                               "additions": 1, "deletions": 0},
    st.sampled_from(SHAS), st.sampled_from(PEOPLE), day, hour)
deployment = st.builds(
    lambda i, svc, env, status, version, d, h, kind, shas: {
        "id": i, "service": svc, "environment": env, "started_at": _at(d, h),
        "finished_at": _at(d, h), "status": status, "version": version, "kind": kind,
        "commits": sorted(shas)},
    st.sampled_from(DEPLOYS), st.sampled_from(tuple(SERVICES)),
    st.sampled_from(("production", "production", "staging")),
    st.sampled_from(("success", "success", "failure", "rolled_back")),
    st.sampled_from((None, "v1", "v2", "v3")), day, hour,
    st.sampled_from(("normal", "normal", "hotfix", "rollback")),
    st.sets(st.sampled_from(SHAS), max_size=3))
incident = st.builds(
    lambda i, svc, cause, d, h, resolved, labels: {
        "id": i, "service": svc, "severity": "sev2", "opened_at": _at(d, h),
        "resolved_at": _at(min(d + resolved, 28), h) if resolved is not None else None,
        "caused_by": cause, "labels": sorted(labels)},
    st.sampled_from(("i0", "i1", "i2", "i3")), st.sampled_from(tuple(SERVICES)),
    st.one_of(st.none(), st.none(), st.sampled_from(DEPLOYS)), day, hour,
    st.one_of(st.none(), st.integers(0, 3)),
    # labels linking a deployment or a version of the incident's service (docs/incident-links.md)
    st.sets(st.sampled_from(("deploy:d1", "deploy:d2", "version:v1", "version:v2", "sev:x")),
            max_size=2))
#: a team's incident link rules change (its attributes): every incident's link may move
link_rules = st.builds(
    lambda t, hours, labels: {"id": t, "name": t, "org_unit": "eng",
                              "delivery_unit": "deployments",
                              "attributes": {"incident_window_hours": hours,
                                             **({"incident_labels": {"version": None}}
                                                if not labels else {})}},
    st.sampled_from(TEAMS), st.sampled_from((None, 6, 48, 240)), st.booleans())
pull_request = st.builds(
    lambda i, repo, author, d, merged, shas: {
        "id": i, "repo": repo, "number": int(i[2:]), "author": author,
        "created_at": _at(d, 1), "first_commit_at": _at(d, 0),
        "merged_at": _at(min(d + merged, 28), 5) if merged is not None else None,
        "commits": sorted(shas)},
    st.sampled_from(PRS), st.sampled_from(("r1", "r2", "r3")), st.sampled_from(PEOPLE), day,
    st.one_of(st.none(), st.integers(0, 2)), st.sets(st.sampled_from(SHAS), max_size=3))
page = st.builds(
    lambda i, team, person, d, h: {"id": i, "team": team, "person": person, "at": _at(d, h),
                                   "urgency": "high"},
    st.sampled_from(("g0", "g1", "g2", "g3")), st.sampled_from(TEAMS),
    st.sampled_from(PEOPLE), day, hour)
membership = st.builds(
    lambda p, team, since, days: {"id": p, "team": team, "since": f"2025-03-{since:02d}",
                                  "until": None if days is None else f"2025-03-{since + days:02d}",
                                  "bot": False},
    st.sampled_from(PEOPLE), st.sampled_from(TEAMS), day, st.one_of(st.none(), st.integers(0, 3)))
owner_change = st.builds(
    lambda s, team: {"id": s, "name": s, "team": team, "repo": SERVICES[s][1]},
    st.sampled_from(tuple(SERVICES)), st.sampled_from(TEAMS))

batch = st.fixed_dictionaries({}, optional={
    "commit": st.lists(commit, min_size=1, max_size=4),
    "deployment": st.lists(deployment, min_size=1, max_size=4),
    "incident": st.lists(incident, min_size=1, max_size=2),
    "pull_request": st.lists(pull_request, min_size=1, max_size=3),
    "page": st.lists(page, min_size=1, max_size=2),
    "person": st.lists(membership, min_size=1, max_size=2),
})
#: a step: a new batch, the same batch again, or (rarely) an ownership change
step = st.one_of(batch, batch, batch, st.just("again"),
                 st.builds(lambda s: {"service": [s]}, owner_change),
                 st.builds(lambda t: {"team": [t]}, link_rules))


def _tables(records: dict[str, list[dict[str, Any]]]) -> dict[str, pa.Table]:
    return {name: pa.Table.from_pylist(rows) for name, rows in records.items() if rows}


def _facts(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    return {t: sorted(store.con.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
            for t in ALL_FACTS}


PSEUDO = Pseudonymiser(b"k" * 32, BotSettings())


@pytest.fixture
def stores() -> Iterator[tuple[Store, Store]]:
    a, b = Store.memory(), Store.memory()
    for s in (a, b):
        import_tables_into(s, PSEUDO, _tables(_org()), "org", refresh=False)
        facts.refresh(s)
    yield a, b
    a.close()
    b.close()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=1, max_size=5))
def test_incremental_refresh_equals_full_rebuild(stores: tuple[Store, Store],
                                                 steps: list[Any]) -> None:
    inc, full = stores
    # each example starts from the organisation alone
    for s in (inc, full):
        for table in ("deployment", "deployment_commit", "incident", "incident_label", '"commit"',
                      "pull_request",
                      "pull_request_commit", "page", "person", "service"):
            s.con.execute(f"DELETE FROM {table}")
        import_tables_into(s, PSEUDO, _tables(_org()), "org", refresh=False)
        facts.refresh(s)
    last: dict[str, list[dict[str, Any]]] = {}
    for item in steps:
        records = last if item == "again" else item
        if not records:
            continue
        last = records
        import_tables_into(inc, PSEUDO, _tables(records), "step", refresh=False)
        import_tables_into(full, PSEUDO, _tables(records), "step", refresh=False)
        if facts.is_stale(inc):
            timings = facts.refresh(inc, incremental=True)
            assert timings["incremental"] == (0.0 if "service" in records else 1.0)
        facts.refresh(full)
        assert _facts(inc) == _facts(full)
        assert not incremental.pending(inc)
        # the suppression decision, its people recounted only from the first day changed on and
        # its audits kept from the last decision, equals one decided from scratch
        for family in ("flow", "strain"):
            kept = diagnostics._hidden(inc, family, 3)
            with diagnostics._HIDDEN_LOCK:
                diagnostics._HIDDEN.clear()
                diagnostics._COUNTED.clear()
                diagnostics._MEMOS.clear()
                diagnostics._EQUATIONS.clear()
            assert diagnostics._hidden(inc, family, 3) == kept


def test_touches_are_what_the_import_changed(stores: tuple[Store, Store]) -> None:
    store, _ = stores
    dep = {"id": "d1", "service": "s1", "environment": "production", "started_at": _at(2, 1),
           "finished_at": _at(2, 1), "status": "success", "version": "v1", "kind": "normal",
           "commits": ["c1", "c2"]}
    import_tables_into(store, PSEUDO, _tables({"deployment": [dep]}), "a", refresh=False)
    assert incremental.pending(store) == {"nkey": 1, "sha": 2, "raw": 1}
    facts.refresh(store, incremental=True)
    # the same record again changes nothing; a changed one touches its old keys and its new ones
    import_tables_into(store, PSEUDO, _tables({"deployment": [dep]}), "a", refresh=False)
    assert not incremental.pending(store) and not facts.is_stale(store)
    moved = {**dep, "version": "v2", "commits": ["c3"]}
    import_tables_into(store, PSEUDO, _tables({"deployment": [moved]}), "b", refresh=False)
    assert incremental.pending(store) == {"nkey": 2, "sha": 3, "raw": 1}


def test_suppression_decision_is_kept_unless_what_it_reads_changed(
        stores: tuple[Store, Store]) -> None:
    store, _ = stores
    prs = [{"id": f"pr{i}", "repo": "r1", "number": i, "author": PEOPLE[i % 7],
            "created_at": _at(3 + i, 1), "merged_at": _at(4 + i, 1), "commits": []}
           for i in range(6)]
    import_tables_into(store, PSEUDO, _tables({"pull_request": prs}), "prs")
    flow = diagnostics._hidden(store, "flow", 5)
    assert diagnostics._hidden(store, "flow", 5) is flow
    # a deployment changes DORA facts only: the flow decision stands
    dep = {"id": "d1", "service": "s1", "environment": "production", "started_at": _at(2, 1),
           "finished_at": _at(2, 1), "status": "success", "kind": "normal", "commits": []}
    import_tables_into(store, PSEUDO, _tables({"deployment": [dep]}), "dep")
    assert diagnostics._hidden(store, "flow", 5) is flow
    # a page changes strain facts: flow's decision stands, strain's is made again
    strain = diagnostics._hidden(store, "strain", 5)
    page = {"id": "g1", "team": "t1", "person": PEOPLE[0], "at": _at(5, 3), "urgency": "high"}
    import_tables_into(store, PSEUDO, _tables({"page": [page]}), "page")
    assert diagnostics._hidden(store, "flow", 5) is flow
    assert diagnostics._hidden(store, "strain", 5) is not strain
    # a pull request of team t1 changes flow facts: made again
    more = [{**prs[0], "merged_at": None}]
    import_tables_into(store, PSEUDO, _tables({"pull_request": more}), "pr")
    assert diagnostics._hidden(store, "flow", 5) is not flow
    # a view of team t2 alone is kept while only t1's rows changed
    before = incremental.team_stamp(store, ["flow_pr_fact"], ["t2"])
    again = [{**prs[0], "merged_at": _at(9, 1)}]  # dev0 of t1, repository r1 (t1 and t3)
    import_tables_into(store, PSEUDO, _tables({"pull_request": again}), "pr")
    assert incremental.team_stamp(store, ["flow_pr_fact"], ["t2"]) == before
    assert incremental.team_stamp(store, ["flow_pr_fact"], ["t1"]) != before


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(before=st.lists(batch, min_size=1, max_size=4), cut=st.integers(2, 27),
       after=st.lists(batch, min_size=1, max_size=2))
def test_retention_refreshes_incrementally_what_a_full_rebuild_would(
        stores: tuple[Store, Store], before: list[dict[str, list[dict[str, Any]]]], cut: int,
        after: list[dict[str, list[dict[str, Any]]]]) -> None:
    """A retention run re-derives only the facts its purge reaches, and an import of records
    from before its cut-offs purges them again: both equal a full rebuild of the same store."""
    store, _ = stores
    for table in ("deployment", "deployment_commit", "incident", '"commit"', "pull_request",
                  "pull_request_commit", "page", "person", "service", "people_count_frozen",
                  "strain_frozen", "retention_run"):
        store.con.execute(f"DELETE FROM {table}")
    for table, _, _ in facts.RETAINED_FACTS:
        store.con.execute("DELETE FROM meta WHERE key = ?", [facts.horizon_key(table)])
    import_tables_into(store, PSEUDO, _tables(_org()), "org", refresh=False)
    facts.refresh(store)
    for records in before:
        import_tables_into(store, PSEUDO, _tables(records), "step")
    charter = load_charter()
    at = datetime(2025, 3, cut, 12)
    plan = [retention.Cutoff(t, rule, at, rule.days) for t, rule in charter.retention.items()]
    generation = store.get_meta(incremental.GENERATION_KEY)
    retention.run(store, plan)
    assert store.get_meta(incremental.GENERATION_KEY) != generation  # no cached view survives
    assert store.con.execute("SELECT count(*) FROM page WHERE \"at\" < ?", [at]).fetchone() == (0,)
    kept = _facts(store)
    facts.refresh(store)
    assert kept == _facts(store)
    for records in after:  # may bring back what the run purged: purged again, incrementally
        import_tables_into(store, PSEUDO, _tables(records), "again")
        assert not incremental.pending(store)
        kept = _facts(store)
        facts.refresh(store)
        assert kept == _facts(store)
