"""The ServiceNow connector against the fake instance (real HTTP on 127.0.0.1): a first sync
stores the incidents as mapped, a second adds nothing, incidents updated while we page are
neither missed nor doubled, a cause whose deployment arrives later is linked then, rate limits
and 5xx are retried, a malformed page is quarantined with its reason, 401 is terminal, a killed
sync resumes, and ``shipwise sync`` / ``shipwise doctor`` work from the command line."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from tests.fakes.servicenow import (
    AUTOMATION_USER,
    PASSWORD,
    USER,
    FakeServiceNow,
    World,
    generate_world,
)

from shipwise.app.context import pseudonymiser_for
from shipwise.app.ingest import import_paths_into, import_tables_into
from shipwise.config import ServiceNowSource, Settings
from shipwise.connectors.base import Batch, Cursor, Scope
from shipwise.connectors.servicenow import ServiceNowConnector
from shipwise.connectors.servicenow import mapping as m
from shipwise.connectors.sync import sync_scope
from shipwise.errors import TerminalError, UnauthorizedError
from shipwise.ingest.loader import ImportReport
from shipwise.store import deployments, sync_state
from shipwise.store.duckdb_store import Store
from shipwise.store.org import service_map

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
SERVICES = {"Payments API": "payments-api", "Checkout Web": "checkout-web"}
OWNERS = {"payments-api": "payments", "checkout-web": "checkout"}
DEPLOYS = ["dep-1", "dep-2", "dep-late"]  # dep-late is not in the store at first


class Clock:
    def __init__(self, at: datetime = NOW) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def world() -> World:
    return generate_world(seed=4, incidents=60, changes=6, deployments=DEPLOYS)


@pytest.fixture
def fake(world: World) -> Iterator[FakeServiceNow]:
    with FakeServiceNow(world) as sn:
        yield sn


def _import(settings: Settings, tmp_path: Path, records: list[dict[str, Any]], name: str) -> None:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    with Store.open(settings.db) as store:
        import_paths_into(store, pseudonymiser_for(store, settings), [path])


def deployment(did: str) -> dict[str, Any]:
    return {"type": "deployment", "id": did, "service": "payments-api",
            "environment": "production", "started_at": "2025-12-01T10:00:00Z",
            "finished_at": "2025-12-01T10:10:00Z", "status": "success"}


@pytest.fixture
def org(settings: Settings, tmp_path: Path) -> Settings:
    records: list[dict[str, Any]] = [{"type": "org_unit", "id": "eng", "name": "Engineering"}]
    for team in sorted(set(OWNERS.values())):
        records.append({"type": "team", "id": team, "name": team.title(), "org_unit": "eng",
                        "delivery_unit": "deployments"})
    for service, team in OWNERS.items():
        records.append({"type": "service", "id": service, "name": service, "team": team})
    records += [deployment("dep-1"), deployment("dep-2")]
    _import(settings, tmp_path, records, "org.jsonl")
    return settings


def source(url: str, tmp_path: Path, **kw: Any) -> ServiceNowSource:
    secret = tmp_path / "sn-password"
    if not secret.exists():
        secret.write_text(PASSWORD)
    settings: dict[str, Any] = {"base_url": url, "user": USER, "token_file": secret,
                                "services": SERVICES, "since": date(2025, 10, 1),
                                "change_deployment_field": "correlation_id",
                                "automation_users": [AUTOMATION_USER], "page_size": 7}
    return ServiceNowSource.model_validate({**settings, **kw})


def connector(fake: FakeServiceNow, settings: Settings, tmp_path: Path,
              sleeps: list[float] | None = None, **kw: Any) -> ServiceNowConnector:
    with Store.open(settings.db, read_only=True) as store:
        services = service_map(store)
    return ServiceNowConnector(source(fake.url, tmp_path, **kw), services,
                               sleep=(sleeps if sleeps is not None else []).append,
                               clock=Clock())


def run(settings: Settings, c: ServiceNowConnector, kill_after: int | None = None
        ) -> list[ImportReport]:
    reports: list[ImportReport] = []
    with Store.open(settings.db) as store:
        pseudo = pseudonymiser_for(store, settings)
        c.known_deployments = lambda ids: deployments.existing(store, ids)

        def commit(batch: Batch) -> ImportReport:
            if kill_after is not None and len(reports) >= kill_after:
                raise KeyboardInterrupt("killed")
            reports.append(import_tables_into(store, pseudo, batch.records, "servicenow",
                                              kind="sync", refresh=False))
            return reports[-1]

        for scope in c.scopes():
            sync_scope(store, c, scope, commit)
    return reports


def rows(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(settings.db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def naive(text: str) -> datetime | None:
    t = m.instant(text)
    return t.replace(tzinfo=None) if t else None


def truth(world: World, known: tuple[str, ...] = ("dep-1", "dep-2")) -> dict[str, tuple[Any, ...]]:
    """The world's incidents of mapped services as the store should hold them."""
    names = {c["sys_id"]: c["name"] for c in world.ci}
    changes = {c["sys_id"]: c for c in world.changes}
    out = {}
    for i in world.incidents:
        service = SERVICES.get(names[i["business_service"]])
        if service is None:
            continue
        change = changes.get(i["caused_by"])
        dep = change["correlation_id"] if change else None
        actor = i["resolved_by"] or i["closed_by"] or i["assigned_to"]
        labels = [f"{k}:{i[k]}" for k in ("category", "subcategory") if i[k]]
        if change:
            labels += [f"change:{change['number']}", f"deploy:{dep}"]
        out[f"servicenow:{i['number']}"] = (
            service, f"sev{i['priority']}", naive(i["opened_at"]),
            naive(i["resolved_at"]) or naive(i["closed_at"]),
            dep if dep in known else None, bool(actor) and actor != AUTOMATION_USER,
            f"servicenow:servicenow incident {i['number']}", sorted(labels))
    return out


def stored(settings: Settings) -> dict[str, tuple[Any, ...]]:
    return {r[0]: tuple(r[1:]) for r in rows(settings, """
        SELECT i.id, service, severity, opened_at, resolved_at, caused_by, human_actioned, source,
               coalesce(list_sort(list(l.label) FILTER (WHERE l.label IS NOT NULL)), [])
        FROM incident i LEFT JOIN incident_label l ON l.incident_id = i.id
        GROUP BY ALL""")}


# -- tests --------------------------------------------------------------------------------------

def test_a_first_sync_stores_the_incidents_as_mapped(
        org: Settings, fake: FakeServiceNow, world: World, tmp_path: Path) -> None:
    run(org, connector(fake, org, tmp_path))
    assert stored(org) == truth(world)
    # the third service is mapped to nothing: its incidents are kept with the reason
    unmapped = [i for i in world.incidents if i["business_service"] == world.ci[2]["sys_id"]]
    assert unmapped
    kept = rows(org, "SELECT reason, raw FROM quarantine WHERE type = 'incident'")
    assert [r for r, _ in kept] == ["unknown service (service)"] * len(unmapped)
    assert all("Legacy Batch" in raw for _, raw in kept)
    # incidents caused by a change naming a deployment the store lacks are kept, not lost
    late = [k for k, v in truth(world).items() if "deploy:dep-late" in v[-1]]
    assert late and all(stored(org)[k][4] is None for k in late)
    # requests: the incident pages plus one change_request read per page with new causes
    assert fake.count(r"/change_request$") <= fake.count(r"/incident$")


def test_a_second_sync_with_nothing_new_adds_nothing(
        org: Settings, fake: FakeServiceNow, tmp_path: Path) -> None:
    run(org, connector(fake, org, tmp_path))
    before = rows(org, "SELECT (SELECT count(*) FROM incident), (SELECT count(*) FROM "
                       "incident_label), (SELECT count(*) FROM quarantine)")
    first = fake.count(r"/incident$")
    reports = run(org, connector(fake, org, tmp_path))
    assert sum(c.inserted + c.updated for r in reports for c in r.counts.values()) == 0
    assert sum(r.counts["incident"].unchanged for r in reports if "incident" in r.counts) == 0
    assert rows(org, "SELECT (SELECT count(*) FROM incident), (SELECT count(*) FROM "
                     "incident_label), (SELECT count(*) FROM quarantine)") == before
    assert fake.count(r"/incident$") - first == 1  # the overlap only, one page
    with Store.open(org.db, read_only=True) as store:
        state = sync_state.get(store, "servicenow", "incidents")
    assert state is not None and state.last_status == "ok"


def test_incidents_updated_while_paging_are_neither_missed_nor_doubled(
        org: Settings, fake: FakeServiceNow, world: World, tmp_path: Path) -> None:
    """Before each incident page, the oldest incident not yet resolved... any incident is
    updated (moved to the end of the order): offset paging would skip one each time."""
    rng = random.Random(2)
    order = sorted(world.incidents, key=lambda i: (i["sys_updated_on"], i["sys_id"]))

    def meddle(n: int) -> None:
        if n < 12:
            victim = order[rng.randrange(len(order) // 2)]
            world.update(victim, priority=str(rng.choice([1, 2, 3])))

    fake.before = meddle
    world.now = NOW
    run(org, connector(fake, org, tmp_path))
    fake.before = None
    assert stored(org) == truth(world)
    # nothing read twice as new: every incident imported once, later updates as updates
    reports = run(org, connector(fake, org, tmp_path))
    assert sum(c.inserted for r in reports for c in r.counts.values()) == 0


def test_many_incidents_in_one_second_are_paged_by_offset(
        org: Settings, tmp_path: Path) -> None:
    world = generate_world(seed=8, incidents=30, changes=0)
    for i in world.incidents:
        i["sys_updated_on"] = "2026-01-04 10:00:00"  # one bulk update
    with FakeServiceNow(world) as sn:
        run(org, connector(sn, org, tmp_path))
        assert stored(org) == truth(world)
        assert any(q.get("sysparm_offset") not in (None, "0") for p, q in sn.requests
                   if p.endswith("/incident"))


def test_a_cause_whose_deployment_arrives_later_is_linked_then(
        org: Settings, fake: FakeServiceNow, world: World, tmp_path: Path) -> None:
    run(org, connector(fake, org, tmp_path))
    late = sorted(k for k, v in truth(world).items() if "deploy:dep-late" in v[-1])
    assert late
    _import(org, tmp_path, [deployment("dep-late")], "late.jsonl")
    run(org, connector(fake, org, tmp_path))
    assert stored(org) == truth(world, ("dep-1", "dep-2", "dep-late"))
    assert any(q.get("sysparm_query", "").startswith("sys_idIN") for p, q in fake.requests
               if p.endswith("/incident"))


def test_rate_limits_and_server_errors_are_retried(
        org: Settings, fake: FakeServiceNow, world: World, tmp_path: Path) -> None:
    fake.fail(r"/incident$", status=429, headers={"Retry-After": "7",
                                                  "X-RateLimit-Limit": "100",
                                                  "X-RateLimit-Reset": "0"})
    fake.fail(r"/change_request$", status=503, times=2)
    fake.fail(r"/incident$", status=200, body=b"<html><body>Hibernating</body></html>")
    sleeps: list[float] = []
    run(org, connector(fake, org, tmp_path, sleeps=sleeps))
    assert 7.0 in sleeps and len(sleeps) == 4
    assert stored(org) == truth(world)


def test_a_malformed_page_is_quarantined_with_its_reason(
        org: Settings, fake: FakeServiceNow, world: World, tmp_path: Path) -> None:
    config = org.db.parent / "shipwise.yaml"
    config.write_text(yaml.safe_dump({"sources": [_cli_source(fake)]}))
    fake.fail(r"/incident$", status=200, body=b'{"results": "maintenance"}', times=1)
    out = _cli(org, "sync", "servicenow", "--format", "json")
    scope = json.loads(out.stdout)["scopes"][0]
    assert scope["status"] == "terminal" and scope["quarantined"] == 1
    kept = rows(org, "SELECT type, reason, raw FROM quarantine WHERE type = 'page'")
    assert len(kept) == 1 and "without a `result` list" in kept[0][1]
    assert "maintenance" in kept[0][2]
    again = _cli(org, "sync", "servicenow", "--format", "json")  # the page reads again
    assert json.loads(again.stdout)["scopes"][0]["status"] == "ok"
    assert stored(org) == truth(world)


def test_bad_credentials_are_terminal_and_recorded(
        org: Settings, fake: FakeServiceNow, tmp_path: Path) -> None:
    (tmp_path / "sn-password").write_text("wrong")
    c = connector(fake, org, tmp_path)
    with pytest.raises(UnauthorizedError, match="refused the credentials") as err:
        run(org, c)
    assert "wrong" not in str(err.value) and "User Not Authenticated" in str(err.value)
    with Store.open(org.db, read_only=True) as store:
        state = sync_state.get(store, "servicenow", "incidents")
    assert state is not None and state.last_status == "terminal"


def test_an_oauth_token_is_sent_as_a_bearer(org: Settings, fake: FakeServiceNow,
                                            world: World, tmp_path: Path) -> None:
    token = tmp_path / "sn-token"
    token.write_text("fakeOAuthAccessToken0123")
    run(org, connector(fake, org, tmp_path, auth="oauth", user=None, token_file=token))
    assert stored(org) == truth(world)


def test_a_sync_killed_mid_way_resumes_without_counting_twice(
        org: Settings, fake: FakeServiceNow, world: World, tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        run(org, connector(fake, org, tmp_path), kill_after=3)
    assert 0 < len(stored(org)) < len(truth(world))
    run(org, connector(fake, org, tmp_path))
    assert stored(org) == truth(world)


def test_check_says_what_to_fix(org: Settings, fake: FakeServiceNow, tmp_path: Path) -> None:
    assert connector(fake, org, tmp_path).check() == []
    wrong = connector(fake, org, tmp_path, services={"Payments API": "nope"},
                      change_deployment_field="u_deploy")
    problems = wrong.check()
    assert any("nope" in p and "organisation does not have" in p for p in problems)
    assert any("no field 'u_deploy'" in p for p in problems)
    none = connector(fake, org, tmp_path, token_file=None, token_env="SN_UNSET_VAR")
    assert "no ServiceNow credential found in SN_UNSET_VAR" in none.check()[0]
    (tmp_path / "sn-password").write_text("wrong")
    assert any("refused the credentials (HTTP 401)" in p
               for p in connector(fake, org, tmp_path).check())


def test_an_unknown_scope_is_refused(org: Settings, fake: FakeServiceNow, tmp_path: Path) -> None:
    with pytest.raises(TerminalError, match="no scope 'changes'"):
        list(connector(fake, org, tmp_path).sync(Scope("changes"), Cursor()))


def test_settings_refuse_what_cannot_work() -> None:
    with pytest.raises(ValueError, match="basic auth needs `user:`"):
        ServiceNowSource.model_validate({"base_url": "https://x.service-now.com"})
    with pytest.raises(ValueError, match="leave out ORDERBY"):
        ServiceNowSource.model_validate({"base_url": "https://x", "user": "u",
                                         "query": "active=true^ORDERBYnumber"})
    with pytest.raises(ValueError, match=r"leave out \^NQ"):
        ServiceNowSource.model_validate({"base_url": "https://x", "user": "u",
                                         "query": "active=true^NQactive=false"})
    with pytest.raises(ValueError, match="sev1"):
        ServiceNowSource.model_validate({"base_url": "https://x", "user": "u",
                                         "severity": {"1": "critical"}})


# -- command line -------------------------------------------------------------------------------

def _cli_source(fake: FakeServiceNow, **kw: Any) -> dict[str, Any]:
    return {"kind": "servicenow", "base_url": fake.url, "user": USER, "token_env": "SW_TEST_SN",
            "services": SERVICES, "since": "2025-10-01", "change_deployment_field":
            "correlation_id", "automation_users": [AUTOMATION_USER], **kw}


def _cli(settings: Settings, *args: str, password: str = PASSWORD
         ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SW_TEST_SN": password}
    return subprocess.run([sys.executable, "-m", "shipwise", "--db", str(settings.db), "--config",
                           str(settings.db.parent / "shipwise.yaml"), *args],
                          capture_output=True, text=True, timeout=120, env=env)


def links(settings: Settings) -> dict[str, str]:
    return {r[0]: f"{r[1]}:{r[2]}" for r in rows(
        settings, "SELECT incident_id, basis, deployment_id FROM incident_link")}


def test_shipwise_sync_and_doctor_from_the_command_line(
        org: Settings, fake: FakeServiceNow, world: World, tmp_path: Path) -> None:
    config = org.db.parent / "shipwise.yaml"
    config.write_text(yaml.safe_dump({"sources": [_cli_source(fake)]}))
    doctor = _cli(org, "doctor")
    assert "servicenow" in doctor.stdout and "refused" not in doctor.stdout
    first = _cli(org, "sync", "servicenow", "--format", "json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert [(s["scope"], s["status"]) for s in report["scopes"]] == [("incidents", "ok")]
    assert stored(org) == truth(world)
    again = _cli(org, "sync", "servicenow", "--format", "json")
    assert again.returncode == 0, again.stderr
    assert sum(s.get("inserted", 0) + s.get("updated", 0)
               for s in json.loads(again.stdout)["scopes"]) == 0
    # the incidents whose change names a stored deployment are linked to it (explicit); those
    # naming one the store lacks are not linked yet ...
    want = {k: f"explicit:{v[4]}" for k, v in truth(world).items() if v[4]}
    assert want and {k: v for k, v in links(org).items() if k in want} == want
    late = {k for k, v in truth(world).items() if "deploy:dep-late" in v[-1]}
    assert late and not late & set(links(org))
    # ... until it arrives: the next sync reads them again and sets their caused_by
    _import(org, tmp_path, [deployment("dep-late")], "late.jsonl")
    third = _cli(org, "sync", "servicenow", "--format", "json")
    assert json.loads(third.stdout)["scopes"][0]["updated"] == len(late)
    assert {k: links(org)[k] for k in late} == {k: "explicit:dep-late" for k in late}
    wrong = _cli(org, "sync", "servicenow", password="wrong")
    assert wrong.returncode == 1 and "refused the credentials (HTTP 401)" in wrong.stderr
    assert PASSWORD not in wrong.stderr + wrong.stdout
    bad = _cli(org, "doctor", password="wrong")
    assert "refused the credentials" in bad.stdout + bad.stderr
    world.now = NOW + timedelta(days=1)
