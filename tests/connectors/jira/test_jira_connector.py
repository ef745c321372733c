"""The Jira connector against the fake Jira, Cloud and Data Center: a first sync reads exactly the
world's truth, a second with nothing new reads nothing, new transitions and issues are found (JQL
dates in the user's time zone), Cloud never touches the removed search, a sync killed or failing
mid-way resumes without counting anything twice, rate limits and 5xx are waited out, no person
reaches a record, and ``check()``'s sentences."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from pydantic import SecretStr
from tests.fakes.jira import (
    BLOCKED,
    DONE,
    EMAIL,
    PROGRESS,
    TOKEN,
    WAITING,
    FakeJira,
    World,
    generate_world,
    make_source,
)

from shipwise.app.caller import local_caller
from shipwise.app.context import pseudonymiser_for
from shipwise.app.doctor import doctor
from shipwise.app.ingest import import_paths_into, import_tables_into
from shipwise.app.sync import sync_sources
from shipwise.config import Settings, load_settings
from shipwise.connectors.base import Batch, Cursor
from shipwise.connectors.http import MalformedPageError
from shipwise.connectors.jira import JiraConnector
from shipwise.connectors.jira.client import EndpointGoneError, JiraClient
from shipwise.connectors.sync import sync_scope
from shipwise.domain.services import ServiceMap
from shipwise.errors import RetriesExhaustedError, UnauthorizedError
from shipwise.ingest.loader import ImportReport
from shipwise.metrics import facts
from shipwise.store import sync_state
from shipwise.store.duckdb_store import Store

EDITIONS = ["cloud", "data_center"]
SERVICES = ServiceMap(services=frozenset({"pay-api", "search-api"}))


def connector(jira: FakeJira, tmp_path: Path, page_size: int = 7, **kw: Any) -> JiraConnector:
    kw.setdefault("edition", jira.edition)
    source = make_source(jira.url, tmp_path / f"token-{jira.edition}", **kw)
    return JiraConnector(source, SERVICES, sleep=lambda s: None, page_size=page_size)


def read_all(c: JiraConnector, cursors: dict[str, Cursor] | None = None
             ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Cursor]]:
    out: dict[str, list[dict[str, Any]]] = {}
    cursors = dict(cursors or {})
    for scope in c.scopes():
        for batch in c.sync(scope, cursors.get(scope.key, Cursor())):
            for kind, table in batch.records.items():
                out.setdefault(kind, []).extend(table.to_pylist())
            cursors[scope.key] = batch.cursor
    return out, cursors


def keyed(kind: str, rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Rows by their canonical key, instants in UTC text (exactly one row per key)."""
    out = {}
    for r in rows:
        norm = {k: v.astimezone(UTC).isoformat() if isinstance(v, datetime) else v
                for k, v in r.items()}
        key = (norm["ticket"], norm["at"]) if kind == "ticket_status" else (norm["id"], "")
        assert key not in out, f"{key} read twice in one sync"
        out[key] = norm
    return out


@pytest.fixture
def world() -> World:
    return generate_world(seed=3, tickets=30, incidents=8)


@pytest.fixture(params=EDITIONS)
def jira(request: pytest.FixtureRequest, world: World) -> Iterator[FakeJira]:
    with FakeJira(world, edition=request.param, changelog_limit=4, max_results=7) as fake:
        yield fake


def test_first_sync_reads_exactly_the_worlds_truth(world: World, jira: FakeJira,
                                                   tmp_path: Path) -> None:
    records, cursors = read_all(connector(jira, tmp_path))
    truth = world.truth()
    for kind in ("ticket_status", "incident"):
        assert keyed(kind, records[kind]) == keyed(kind, truth[kind]), kind
    statuses = records["ticket_status"]
    # the ticket's status at creation is there, so blocked time is computable
    first = [r for r in statuses if r["ticket"] == "PAY-2"]
    assert min(r["at"] for r in first) == world.issue("PAY-2").created  # type: ignore[union-attr]
    assert {r["category"] for r in statuses} == {"todo", "in_progress", "blocked", "done"}
    assert {r["blocked_on"] for r in statuses if r["status"] == WAITING.name} == {"security"}
    assert all(r["blocked_on"] is None for r in statuses if r["status"] == BLOCKED.name)
    # a truncated changelog was read whole; the cursor is the newest `updated` read
    long = [i for i in world.tickets() if len(i.changes) > 4]
    assert long and jira.count(r"/issue/") >= len(long)
    assert cursors["work"].state["updated"].startswith(
        max(i.updated for i in world.tickets()).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"))


def test_cloud_searches_with_search_jql_and_never_the_removed_endpoint(
        world: World, tmp_path: Path) -> None:
    with FakeJira(world, edition="cloud", max_results=5) as jira:
        read_all(connector(jira, tmp_path, page_size=5))
        searches = [(m, p, b) for m, p, _, b in jira.requests if "/search" in p]
        assert searches and all(p == "/rest/api/3/search/jql" for _, p, _ in searches)
        tokens = [b.get("nextPageToken") for _, _, b in searches]
        assert tokens.count(None) == 2 and len(tokens) > 4  # one first page per query, then tokens
        assert all("changelog" in b["expand"] and "status" in b["fields"] for _, _, b in searches)
        # the old endpoint is gone on Cloud, and the error says what to configure
        client = JiraClient(jira.url, SecretStr(TOKEN), cloud=True, email=EMAIL)
        for old in ("rest/api/3/search", "rest/api/2/search"):
            with pytest.raises(EndpointGoneError, match="410") as caught:
                client.get(old, {"jql": "project = PAY"})
            assert "edition: cloud" in (caught.value.hint or "")
            assert "search/jql" in str(caught.value)  # Atlassian's own message is kept
        client.close()


def test_second_sync_with_nothing_new_reads_nothing(world: World, jira: FakeJira,
                                                    tmp_path: Path) -> None:
    c = connector(jira, tmp_path)
    _, cursors = read_all(c)
    jira.reset_counts()
    again, after = read_all(c, cursors)
    assert again == {}
    assert after == cursors
    assert jira.count(r"/search") == 2  # one page per query: the overlap, all seen before


def test_new_transitions_and_issues_are_read_in_the_users_time_zone(
        world: World, jira: FakeJira, tmp_path: Path) -> None:
    assert world.timezone == "America/New_York"  # 5 hours behind UTC: a UTC bound misses these
    c = connector(jira, tmp_path)
    _, cursors = read_all(c)
    latest = max(i.updated for i in world.issues)
    moved = next(i for i in world.tickets() if i.status is DONE)
    world.transition(moved.key, PROGRESS, latest + timedelta(hours=1))  # reopened
    new = world.add_ticket("SRCH", latest + timedelta(hours=2), team="Search")
    world.transition(new.key, BLOCKED, latest + timedelta(hours=3))
    incident = world.incidents()[-1]
    world.transition(incident.key, DONE, latest + timedelta(hours=4))
    records, _ = read_all(c, cursors)
    got = {(r["ticket"], r["status"]) for r in records["ticket_status"]}
    # a changed issue is read again whole (upserts make the old rows no-ops): its new row is in
    assert (moved.key, PROGRESS.name) in got and (new.key, BLOCKED.name) in got
    assert (new.key, "To Do") in got and {t for t, _ in got} == {moved.key, new.key}
    assert [r["id"] for r in records["incident"]] == [incident.key]
    assert records["incident"][0]["resolved_at"] == latest + timedelta(hours=4)


def test_malformed_pages_rate_limits_and_5xx_are_waited_out(world: World, jira: FakeJira,
                                                            tmp_path: Path) -> None:
    search = r"/search(/jql)?$"
    jira.fail(search, 429, headers={"Retry-After": "7"})
    jira.fail(search, 503, times=2)
    jira.fail(search, truncate=40)
    sleeps: list[float] = []
    c = connector(jira, tmp_path)
    c._sleep = sleeps.append
    records, _ = read_all(c)
    assert keyed("ticket_status", records["ticket_status"]) == keyed(
        "ticket_status", world.truth()["ticket_status"])
    assert len(sleeps) == 4 and max(sleeps) >= 7 and c.stats.retries == 4


def test_a_page_malformed_on_every_attempt_is_a_malformed_page_error(
        world: World, jira: FakeJira, tmp_path: Path) -> None:
    jira.fail(r"/search(/jql)?$", truncate=60, times=100)
    c = connector(jira, tmp_path, max_attempts=2)
    with pytest.raises(MalformedPageError) as caught:
        read_all(c)
    assert caught.value.excerpt.startswith('{"') and "/search" in caught.value.url
    jira.faults.clear()
    jira.fail(r"/search(/jql)?$", 200, body=b'["not", "a", "page"]')  # JSON, but not a page
    with pytest.raises(MalformedPageError, match="list where a page") as shape:
        read_all(connector(jira, tmp_path))
    assert shape.value.excerpt == '["not", "a", "page"]'


def test_no_person_reaches_a_record(world: World, jira: FakeJira, tmp_path: Path) -> None:
    records, _ = read_all(connector(jira, tmp_path))
    text = json.dumps(records, default=str)
    for p in world.people:
        assert p.email not in text and p.name not in text and p.account_id not in text
    asked = " ".join(json.dumps(b) + q for _, _, q, b in jira.requests)
    assert "assignee" not in asked and "reporter" not in asked


def test_bad_credentials_are_terminal_and_say_what_each_edition_wants(
        world: World, jira: FakeJira, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-token")
    c = connector(jira, tmp_path, token_file=str(wrong))
    with pytest.raises(UnauthorizedError, match="401") as caught:
        read_all(c)
    assert ("API token" if jira.edition == "cloud" else "personal access token") in str(
        caught.value.hint)
    assert "not-the-token" not in str(caught.value) + str(caught.value.hint)


# -- through the store -------------------------------------------------------------------------

def store_sync(settings: Settings, c: JiraConnector, fail_after: int | None = None,
               after_import: bool = False) -> list[ImportReport]:
    """Sync every scope through ``sync_scope``; with ``fail_after``, the commit callback raises
    after that many batches (a kill) — before importing the next, or with ``after_import`` once
    it is imported but before its cursor is stored."""
    store = Store.open(settings.db)
    reports: list[ImportReport] = []
    try:
        pseudo = pseudonymiser_for(store, settings)

        def commit(batch: Batch) -> ImportReport:
            if fail_after is not None and len(reports) >= fail_after and not after_import:
                raise KeyboardInterrupt("killed")
            reports.append(import_tables_into(store, pseudo, batch.records, "jira", kind="sync"))
            if fail_after is not None and len(reports) > fail_after:
                raise KeyboardInterrupt("killed between the import and the cursor")
            return reports[-1]

        for scope in c.scopes():
            sync_scope(store, c, scope, commit)
    finally:
        store.close()
    return reports


def import_org(settings: Settings, world: World, folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    store = Store.open(settings.db)
    try:
        import_paths_into(store, pseudonymiser_for(store, settings),
                          [world.write_org(folder / "org.jsonl")])
    finally:
        store.close()


def counts(settings: Settings) -> dict[str, int]:
    con = duckdb.connect(str(settings.db), read_only=True)
    try:
        return {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]  # type: ignore[index]
                for t in ("ticket_status", "incident", "quarantine")}
    finally:
        con.close()


def inserted(reports: list[ImportReport], kind: str) -> int:
    return sum(r.counts[kind].inserted for r in reports if kind in r.counts)


@pytest.mark.parametrize("after_import", [False, True])
def test_killed_mid_way_resumes_and_never_double_counts(world: World, settings: Settings,
                                                        tmp_path: Path, after_import: bool) -> None:
    with FakeJira(world, edition="cloud", max_results=5) as jira:
        import_org(settings, world, tmp_path / "org")
        with pytest.raises(KeyboardInterrupt):
            store_sync(settings, connector(jira, tmp_path, page_size=5), fail_after=3,
                       after_import=after_import)
        partial = counts(settings)
        truth = world.truth()
        want = {k: len(keyed(k, truth[k])) for k in ("ticket_status", "incident")}
        assert 0 < partial["ticket_status"] < want["ticket_status"]
        resumed = store_sync(settings, connector(jira, tmp_path, page_size=5))
        final = counts(settings)
        assert {k: final[k] for k in want} == want and final["quarantine"] == 0
        assert partial["ticket_status"] + inserted(resumed, "ticket_status") == want["ticket_status"]
        again = store_sync(settings, connector(jira, tmp_path, page_size=5))
        assert counts(settings) == final and all(inserted(again, k) == 0 for k in want)


def test_a_failure_mid_sync_is_recorded_and_the_next_sync_resumes(
        world: World, settings: Settings, tmp_path: Path) -> None:
    with FakeJira(world, edition="data_center", max_results=5) as jira:
        import_org(settings, world, tmp_path / "org")
        c = connector(jira, tmp_path, page_size=5, max_attempts=2)
        scope = c.scopes()[0]
        store = Store.open(settings.db)
        pseudo = pseudonymiser_for(store, settings)
        try:
            pages = iter(c.sync(scope, Cursor()))
            first = next(pages)
            import_tables_into(store, pseudo, first.records, "jira", kind="sync")
            sync_state.put(store, c.name, scope.key, first.cursor.to_json())
            jira.fail(r"/search$", 502, times=10)  # Jira goes down for longer than the retries

            def commit(batch: Batch) -> ImportReport:
                return import_tables_into(store, pseudo, batch.records, "jira", kind="sync")

            with pytest.raises(RetriesExhaustedError):
                sync_scope(store, c, scope, commit)
            state = sync_state.get(store, c.name, scope.key)
            assert state is not None and state.last_status == "transient"
            assert json.loads(state.cursor)["updated"] == first.cursor.state["updated"]
            jira.faults.clear()
            run = sync_scope(store, c, scope, commit)
            assert run.incremental and run.committed
            assert store.count("ticket_status") == len(keyed(
                "ticket_status", world.truth()["ticket_status"]))
        finally:
            store.close()


def test_unknown_teams_and_statuses_are_quarantined_with_a_reason(
        world: World, settings: Settings, tmp_path: Path) -> None:
    with FakeJira(world, edition="cloud") as jira:
        import_org(settings, world, tmp_path / "org")
        # no default team: tickets without a Team value have none; a value the map does not
        # know is passed on as it is, and no team has that id
        c = connector(jira, tmp_path, team={"from": "customfield_10001",
                                            "map": {"Payments": "payments"}})
        store_sync(settings, c)
    con = duckdb.connect(str(settings.db), read_only=True)
    try:
        rows = con.execute("SELECT reason, raw FROM quarantine WHERE type = 'ticket_status'"
                           ).fetchall()
    finally:
        con.close()
    teamless = [i for i in world.tickets() if i.team is None]
    assert teamless and rows
    assert {json.loads(r[1])["ticket"] for r in rows if r[0] == "missing team"} == {
        i.key for i in teamless}
    odd = [i for i in world.tickets() if i.team == "Search"]
    assert {json.loads(r[1])["ticket"] for r in rows if "unknown team" in r[0]} == {
        i.key for i in odd}


# -- check() -----------------------------------------------------------------------------------

def test_check_all_well(world: World, jira: FakeJira, tmp_path: Path) -> None:
    assert connector(jira, tmp_path).check() == []


def test_check_sentences(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JIRA_TOKEN", raising=False)
    with FakeJira(world, edition="cloud") as jira:
        no_email = connector(jira, tmp_path, email=None).check()
        assert len(no_email) == 1 and "email" in no_email[0]
        no_token = connector(jira, tmp_path, token_file=str(tmp_path / "absent"),
                             token_env="JIRA_TOKEN").check()
        assert len(no_token) == 1 and "JIRA_TOKEN" in no_token[0] and "API token" in no_token[0]
        wrong = tmp_path / "wrong"
        wrong.write_text("wrong-token-value")
        refused = connector(jira, tmp_path, token_file=str(wrong)).check()
        assert len(refused) == 1 and "401" in refused[0] and "wrong-token-value" not in refused[0]
        bad = connector(jira, tmp_path, queries=[
            {"name": "work", "jql": "projcet = PAY", "as": "tickets"}],
            statuses={"blocked": ["Blokced"]},
            service={"from": "component", "map": {"Payments API": "payments-api"}})
        problems = bad.check()
        assert any("Blokced" in p and "statuses.blocked" in p for p in problems)
        assert any("query 'work'" in p and "projcet" in p and "400" in p for p in problems)
        as_dc = connector(jira, tmp_path, edition="data_center").check()  # a bearer token
        assert len(as_dc) == 1 and "401" in as_dc[0] and "edition: cloud" in as_dc[0]
        nothing = connector(jira, tmp_path, queries=[]).check()
        assert len(nothing) == 1 and "no queries" in nothing[0]
    with FakeJira(world, edition="cloud") as jira:
        incidents = connector(jira, tmp_path, service={
            "from": "component", "map": {"Payments API": "payments-api"}}).check()
        assert len(incidents) == 1 and "payments-api" in incidents[0]
        assert "unknown service" in incidents[0]
    unreachable = connector(jira, tmp_path).check()  # the server is gone
    assert len(unreachable) == 1 and "could not reach" in unreachable[0]


def test_data_center_paging_misses_no_issue_updated_while_it_reads(world: World,
                                                                    tmp_path: Path) -> None:
    with FakeJira(world, edition="data_center", max_results=5) as jira:
        c = connector(jira, tmp_path, page_size=5)
        scope = c.scopes()[0]
        pages = c.sync(scope, Cursor())
        first = next(pages)
        tickets = {r["ticket"] for r in first.records["ticket_status"].to_pylist()}
        # someone moves an issue of the first page: it goes to the end of `updated` order and
        # every later issue shifts one place towards the start
        moved = sorted(world.tickets(), key=lambda i: (i.updated, i.key))[0]
        assert moved.key in tickets
        world.transition(moved.key, BLOCKED, max(i.updated for i in world.issues)
                         + timedelta(minutes=1))
        for batch in pages:
            tickets |= {r["ticket"] for r in batch.records["ticket_status"].to_pylist()}
    assert tickets == {i.key for i in world.tickets()}


# -- shipwise sync and shipwise doctor -------------------------------------------------------------

def test_shipwise_sync_and_doctor_with_a_jira_source(world: World, settings: Settings,
                                                     tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import_org(settings, world, tmp_path / "org")
    with FakeJira(world, edition="cloud", max_results=10) as jira:
        source = make_source(jira.url, tmp_path / "unused").model_dump(
            mode="json", by_alias=True, exclude_none=True)
        source.pop("token_file")
        source["token_env"] = "SW_TEST_JIRA"
        monkeypatch.setenv("SW_TEST_JIRA", TOKEN)
        path = tmp_path / "shipwise.yaml"
        path.write_text(yaml.safe_dump({"sources": [source]}))
        s = load_settings(db=settings.db, config_file=path)
        with local_caller(s) as caller:
            assert [p.problem for p in doctor(caller).problems] == []
            first = sync_sources(caller)
        truth = world.truth()
        assert [(r.scope, r.status, r.inserted, r.quarantined) for r in first.scopes] == [
            ("work", "ok", len(truth["ticket_status"]), 0),
            ("incidents", "ok", len(truth["incident"]), 0)]
        with local_caller(s) as caller:
            again = sync_sources(caller)
        assert [(r.incremental, r.records, r.inserted) for r in again.scopes] == [
            (True, 0, 0), (True, 0, 0)]
        # a page Jira cannot send whole is kept with its reason, and the next sync reads it
        world.transition(world.incidents()[-1].key, DONE, max(i.updated for i in world.issues)
                         + timedelta(minutes=3))
        jira.fail(r"/search/jql$", truncate=30, times=100)
        with local_caller(s) as caller:
            broken = sync_sources(caller, scopes=["incidents"]).scopes
            assert [(r.status, r.quarantined) for r in broken] == [("terminal", 1)]
            assert any("incidents" in (p.problem or "") for p in doctor(caller).problems)
        jira.faults.clear()
        with local_caller(s) as caller:
            (fixed,) = sync_sources(caller, scopes=["incidents"]).scopes
        assert (fixed.status, fixed.updated) == ("ok", 1)
    with Store.open(s.db) as store:
        rows = store.query("SELECT type, reason FROM quarantine")
        assert [r["type"] for r in rows] == ["page"] and "malformed page" in rows[0]["reason"]
        assert store.count("incident") == len(truth["incident"])


def test_a_cause_the_store_lacks_becomes_a_label_that_links_once_it_arrives(
        world: World, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    caused = [i for i in world.incidents() if i.cause]
    missing = caused[0].cause
    records = [r for r in world.org_records()
               if not (r.get("type") == "deployment" and r.get("id") == missing)]
    org_file = tmp_path / "org.jsonl"
    org_file.write_text("".join(json.dumps(r) + "\n" for r in records))
    with Store.open(settings.db) as store:
        import_paths_into(store, pseudonymiser_for(store, settings), [org_file])
    with FakeJira(world, edition="cloud", max_results=10) as jira:
        source = make_source(jira.url, tmp_path / "unused").model_dump(
            mode="json", by_alias=True, exclude_none=True)
        source.pop("token_file")
        source["token_env"] = "SW_TEST_JIRA"
        monkeypatch.setenv("SW_TEST_JIRA", TOKEN)
        path = tmp_path / "shipwise.yaml"
        path.write_text(yaml.safe_dump({"sources": [source]}))
        s = load_settings(db=settings.db, config_file=path)
        with local_caller(s) as caller:
            sync_sources(caller, scopes=["incidents"])
    with Store.open(s.db) as store:
        # kept whole (not quarantined for an unknown reference), the cause kept as a label
        assert store.count("quarantine") == 0
        assert store.count("incident") == len(world.incidents())
        row = store.con.execute(
            "SELECT i.caused_by, list(l.label) FROM incident i JOIN incident_label l "
            "ON l.incident_id = i.id WHERE i.id = ? GROUP BY i.caused_by", [caused[0].key]
        ).fetchone()
        assert row is not None and row[0] is None and f"deploy:{missing}" in row[1]
        known = [i for i in caused if i.cause != missing]
        if known:  # the others keep their explicit cause
            assert store.con.execute("SELECT caused_by FROM incident WHERE id = ?",
                                     [known[0].key]).fetchone() == (known[0].cause,)
        # the deployment arrives: the label links the incident to it
        dep = next(r for r in world.org_records()
                   if r.get("type") == "deployment" and r.get("id") == missing)
        late = tmp_path / "late.jsonl"
        late.write_text(json.dumps(dep) + "\n")
        import_paths_into(store, pseudonymiser_for(store, settings), [late])
        facts.ensure_fresh(store)
        assert store.con.execute(
            "SELECT deployment_id, basis FROM incident_link WHERE incident_id = ?",
            [caused[0].key]).fetchone() == (missing, "label")
