"""No output names a person: every API response, web page (and its JSON twin) and CLI output of a
full demo, scanned for the people's pseudonyms (and for raw identities, and for retention
tokens), fails on any.

New endpoints are scanned automatically (they are read from the OpenAPI document); a new CLI
command must be added to COMMANDS or, when it cannot run here, to EXEMPT with the reason — the
test fails otherwise, so nothing new escapes the scan.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import httpx
import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from shipwise.app.owner import run_demo
from shipwise.app.tokens import create_token
from shipwise.config import WebhookSettings, load_settings
from shipwise.store.duckdb_store import Store
from tests.server.conftest import SECRET, serve

pytestmark = pytest.mark.slow

#: CLI commands that read the store, with arguments ({team}, {small}, {inv} filled in)
COMMANDS: list[list[str]] = [
    ["teams"], ["services"], ["quarantine", "list"], ["metrics", "list"],
    ["metrics", "explain", "flow.pickup_time"],
    ["metrics", "dora", "--grain", "quarter", "--format", "json"],
    ["metrics", "dora", "--by", "service", "--grain", "month", "--format", "csv"],
    ["cost", "--format", "json"], ["cost", "initiatives", "--format", "json"],
    ["cost", "cloud", "--format", "json"], ["cost", "cloud"],
    ["flow", "--format", "json"], ["flow", "--grain", "week", "--format", "csv"],
    ["flow", "--org-units", "--format", "json"],
    ["strain", "--format", "json"], ["strain", "--grain", "week", "--team", "{small}"],
    ["strain", "--org-units", "--grain", "month", "--format", "json"],
    ["slo", "--format", "json"], ["slo", "history", "--team", "{team}", "--format", "json"],
    ["fairness", "audit", "--format", "json"], ["fairness", "audit", "--format", "markdown"],
    ["charter", "show", "--format", "json"], ["charter", "validate"],
    ["audit", "list", "--format", "json", "--limit", "1000"],
    ["investigations", "list", "--format", "json"], ["token", "list", "--format", "json"],
    ["retention", "apply", "--dry-run", "--format", "json"], ["retention", "runs"],
    ["rca", "eval", "scenarios", "--cases", "2", "--format", "json"],
    ["explain", "deployment", "{deployment}", "--format", "json"],
    ["explain", "deployment", "{deployment}"],
    ["explain", "pull-request", "{pr}", "--format", "json"],
    ["explain", "pull-request", "--list"],
    ["explain", "incident", "{incident}", "--format", "json"], ["explain", "incident", "--list"],
    ["topology", "refresh"], ["topology", "show", "{service}", "--all", "--depth", "3"],
    ["topology", "show", "{team_entity}", "--all", "--format", "json"],
    ["prevention", "scan", "--format", "json"], ["prevention", "list", "--format", "json"],
    ["prevention", "list"], ["investigations", "accuracy", "--format", "json"],
    ["notify", "status", "--format", "json"],
    ["notify", "digest", "--team", "{team}", "--format", "json"],
    ["notify", "digest", "--team", "{small}"],
    ["incidents", "list", "--format", "json"], ["incidents", "list", "--open"],
    ["incidents", "show", "{incident}"], ["audit", "lookups", "--format", "json"],
    ["ai", "adoption", "--format", "json"], ["ai", "agents", "--format", "json"],
    ["ai", "agents", "--team", "{small}", "--grain", "month"],
    ["ai", "effect", "--format", "json"],
]
#: leaf commands not run here, and why
EXEMPT = {
    "init": "creates an empty store",
    "export parquet": "writes the canonical records (person-level, pseudonymised) to files by "
                      "design, admin only; prints counts (tests/metrics/test_spark.py)",
    "import": "writes what it is given; its report holds counts and reasons only (tests/ingest)",
    "ingest git": "needs a repository (tests/connectors)",
    "cost cloud import": "writes the cloud bills it is given (tests/ingest/test_cloud_cost.py); "
                         "bills name accounts and tags, never people; its report holds counts",
    "demo": "builds the store this test scans",
    "demo world": "writes a case directory of a simulated system, no people (tests/demo/world)",
    "investigate": "needs a case or alarm (tests/investigate); its output is scanned via the API",
    "investigations show": "scanned via GET /api/v1/investigations/{id}",
    "verify": "needs a Prometheus holding the investigation's series (tests/investigate/"
              "test_verify.py); prints entities, metric names, PromQL and figures, no people",
    "rca eval petshop": "needs the PetShop dataset",
    "rca eval dir": "needs a labelled dataset directory (tests/investigate/test_layouts.py); "
                    "prints entity names of the benchmark systems and scores, no people",
    "rca rank": "needs a case directory (tests/investigate)",
    "report cost": "writes a file; the same data as `cost --format json`",
    "serve": "the server: its responses are scanned below",
    "mcp": "the same views as the API (tests/mcp)",
    "token create": "prints a new token",
    "token revoke": "changes a token",
    "retention apply": "scanned with --dry-run",
    "session rotate": "replaces the web session secret; prints no figures and names no one",
    "sync": "needs configured sources (tests/app/test_sync.py, tests/e2e/test_real_systems.py); "
            "prints counts per repository",
    "doctor": "needs configured sources; prints settings and connector checks, no records "
              "(tests/app/test_sync.py)",
    "org apply": "writes the organisation file it is given (tests/orgfile)",
    "org check": "validates a file without a store (tests/orgfile)",
    "ask": "needs an investigation; answers from its record, scanned via GET "
           "/api/v1/investigations/{id} (tests/investigate/test_ask.py)",
    "investigations verdict": "writes a verdict; prints it back (scanned via "
                              "GET /api/v1/investigations/{id}/verdict)",
    "prevention show": "one recommendation of `prevention list`, scanned above and via "
                       "GET /api/v1/prevention/{key}",
    "prevention accept": "changes a recommendation's status; prints it back",
    "prevention dismiss": "changes a recommendation's status; prints it back",
    "prevention done": "changes a recommendation's status; prints it back",
    "prevention reopen": "changes a recommendation's status; prints it back",
    "notify deliver": "sends the outbox to the configured channels (tests/notify); prints counts",
    "notify retry": "requeues failed outbox rows; prints counts",
    "people resolve": "prints, to the responder who asks, the identity they named that has the "
                      "pseudonym, by design (governed and logged: tests/app/test_people.py "
                      "checks that no table keeps it)",
    "org export": "admin-only round trip of the organisation file: members are written as the "
                  "pseudonyms the store holds (never an email), so that export then apply "
                  "changes nothing (tests/orgfile); it shows memberships, never a figure",
}
RAW_IDENTITY = re.compile(r"[A-Za-z0-9._%+-]+@example\.com")


def _leaves(group: click.Group, ctx: click.Context, prefix: str = "") -> Iterator[str]:
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        path = f"{prefix}{name}"
        if isinstance(cmd, click.Group):
            sub = click.Context(cmd, parent=ctx, info_name=name)
            yield from _leaves(cmd, sub, path + " ")
        else:
            yield path


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("SHIPWISE_PSEUDONYM_KEY", raising=False)
        mp.delenv("SHIPWISE_DB", raising=False)
        db = tmp_path_factory.mktemp("privacy") / "demo.duckdb"
        run_demo(load_settings(db=db))
    return db


def _copy(db: Path, to: Path) -> Path:
    to.mkdir(parents=True, exist_ok=True)
    copy = to / "shipwise.duckdb"
    shutil.copy(db, copy)
    for extra in db.parent.glob(db.name + ".*"):
        shutil.copy(extra, to / extra.name.replace(db.name, copy.name))
    return copy


def _people(db: Path) -> set[str]:
    with Store.open(db, read_only=True) as store:
        rows = store.con.execute("""
            SELECT id FROM person WHERE NOT bot
            UNION SELECT author FROM "commit" WHERE NOT author_is_bot
            UNION SELECT author FROM pull_request WHERE NOT author_is_bot
            UNION SELECT person FROM page WHERE NOT person_is_bot
            UNION SELECT tagger FROM tag WHERE NOT coalesce(tagger_is_bot, false)""").fetchall()
    people = {str(r[0]) for r in rows if r[0]}
    assert len(people) > 200  # the demo's people, pseudonymised at ingest
    return people


def _leaks(text: str, people: set[str]) -> list[str]:
    found = [p for p in people if p in text]
    found += RAW_IDENTITY.findall(text)
    found += re.findall(r"gone:[0-9a-f]{16}", text)
    return found


def test_no_cli_output_names_a_person(demo: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from shipwise.cli.main import cli

    db = _copy(demo, tmp_path / "cli")
    people = _people(db)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SHIPWISE_TOKEN", raising=False)
    with Store.open(db, read_only=True) as store:
        team = str(store.con.execute("SELECT min(id) FROM team").fetchone()[0])  # type: ignore[index]
        small = str(store.con.execute(  # the team with the fewest people
            "SELECT team FROM person WHERE NOT bot GROUP BY team ORDER BY count(*), team LIMIT 1"
        ).fetchone()[0])  # type: ignore[index]
        deployment = str(store.con.execute(  # a production deployment that shipped commits
            "SELECT min(deployment_id) FROM deployment_commit dc JOIN deployment d "
            "ON d.id = dc.deployment_id WHERE d.environment = 'production'").fetchone()[0])  # type: ignore[index]
        pr = str(store.con.execute(
            "SELECT min(pull_request_id) FROM pr_delivery_fact").fetchone()[0])  # type: ignore[index]
        incident = str(store.con.execute(
            "SELECT min(incident_id) FROM incident_link").fetchone()[0])  # type: ignore[index]
        service = str(store.con.execute(  # a service that was deployed
            "SELECT min(service) FROM deployment").fetchone()[0])  # type: ignore[index]
    runner = CliRunner()
    for args in COMMANDS:
        argv = ["--db", str(db), *[a.format(team=team, small=small, deployment=deployment, pr=pr,
                                              incident=incident, service=service,
                                              team_entity=f"team:{team}")
                                     for a in args]]
        res = runner.invoke(cli, argv, catch_exceptions=False)
        assert res.exit_code == 0, (args, res.output)
        assert res.output.strip(), args
        assert not _leaks(res.output, people), (args, _leaks(res.output, people)[:3])
    ctx = click.Context(cli, info_name="shipwise")
    leaves = set(_leaves(cli, ctx))
    covered = {" ".join(c[:k]) for c in COMMANDS for k in range(1, len(c) + 1)
               if not any(a.startswith("-") for a in c[:k])}
    missing = sorted(leaf for leaf in leaves if leaf not in covered and leaf not in EXEMPT)
    assert not missing, f"CLI commands not scanned for people (add to COMMANDS or EXEMPT): {missing}"


def _fill(path: str, values: dict[str, list[str]]) -> list[str]:
    names = re.findall(r"{([^}:]+)(?::path)?}", path)
    if not names:
        return [path]
    out = [path]
    for name in names:
        assert name in values, f"no values for path parameter {{{name}}} of {path}: extend the map"
        out = [re.sub("{" + name + "(:path)?}", v, p) for p in out for v in values[name]]
    return out


def test_no_api_response_names_a_person(demo: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    db = _copy(demo, tmp_path / "api")
    people = _people(db)
    monkeypatch.chdir(tmp_path / "api")
    settings = load_settings(db=db).model_copy(
        update={"webhooks": WebhookSettings(secret=SecretStr(SECRET))})
    with Store.open(db) as store:
        teams = [str(r[0]) for r in store.con.execute("SELECT id FROM team ORDER BY id").fetchall()]
        toks = {"admin": create_token(store, "admin", "admin")["token"],
                "exec": create_token(store, "cfo", "exec")["token"],
                "member": create_token(store, "member", "member", teams[0])["token"]}
        metric_ids = [str(r) for r in __import__("shipwise.metrics.registry",
                                                 fromlist=["REGISTRY"]).REGISTRY]
        services = [str(r[0]) for r in store.con.execute("SELECT id FROM service LIMIT 3").fetchall()]
        units = [str(r[0]) for r in store.con.execute("SELECT id FROM org_unit").fetchall()]
        incident_ids = [str(r[0]) for r in store.con.execute(
            "SELECT id FROM incident ORDER BY id LIMIT 2").fetchall()]
    with serve(settings) as live:
        def get(path: str, who: str = "admin", **params: Any) -> httpx.Response:
            return httpx.get(live.url + path, params=params, timeout=60,
                             headers={"Authorization": f"Bearer {toks[who]}"})

        spec = get("/openapi.json").json()
        invs = get("/api/v1/investigations").json()
        inv_ids = [str(i["id"]) for i in (invs if isinstance(invs, list) else invs.get("rows", []))][:3]
        tok_ids = [t.split("_")[1] for t in toks.values()]
        httpx.post(live.url + "/api/v1/prevention/scans", timeout=120,
                   headers={"Authorization": f"Bearer {toks['admin']}"})
        keys = [str(r["key"]) for r in get("/api/v1/prevention").json()["recommendations"]][:3]
        values = {"team": teams, "metric_id": metric_ids, "investigation_id": inv_ids or ["none"],
                  "inv_id": inv_ids or ["none"], "id": inv_ids or ["none"], "token_id": tok_ids,
                  "service": services, "org_unit": units, "alarm_id": ["none"],
                  "entity": services, "key": keys or ["none"],
                  "incident_id": incident_ids or ["none"]}
        scanned = 0
        for path, ops in spec["paths"].items():
            if "get" not in ops or not path.startswith("/api/"):
                continue
            for url in _fill(path, values):
                for who in ("admin", "exec", "member"):
                    for grain in ("quarter", "week"):
                        res = get(url, who, grain=grain)
                        assert res.status_code < 500, (url, who, res.text[:300])
                        leaks = _leaks(res.text, people)
                        assert not leaks, (url, who, leaks[:3])
                        scanned += 1
        assert scanned > 200
        # the web pages and their JSON twins, through the same server
        from shipwise.web.routes import router as web

        pages = 0
        for route in web.routes:
            path = getattr(route, "path", "")
            if "GET" not in (getattr(route, "methods", None) or ()) or path.startswith("/static"):
                continue
            for url in _fill(path, values):
                for suffix in (("", ".json") if "{" in path else ("",)):
                    for who in ("admin", "exec", "member"):
                        res = get(url + suffix, who)
                        assert res.status_code < 500, (url, who, res.text[:300])
                        leaks = _leaks(res.text, people)
                        assert not leaks, (url + suffix, who, leaks[:3])
                        pages += 1
        assert pages > 100


def test_retention_on_the_demo_changes_no_figure_and_reveals_nothing(demo: Path,
                                                                   tmp_path: Path) -> None:
    """A real retention run over the demo (pages older than a year deleted, pull-request authors
    older than two years removed): every flow and strain figure of every team and org unit, at
    every grain, keeps its value and its hidden/shown state."""
    from datetime import UTC, datetime

    from shipwise.app.diagnostics import DiagnosticRequest, diagnostic_rows
    from shipwise.governance.charter import load_charter
    from shipwise.governance.retention import cutoffs, run

    db = _copy(demo, tmp_path / "retention")

    def figures(store: Store) -> dict[tuple[str, ...], tuple[Any, bool]]:
        out = {}
        for fam in ("flow", "strain"):
            for grain in ("week", "month", "quarter"):
                for level in ("team", "org_unit"):
                    for r in diagnostic_rows(store, DiagnosticRequest(fam, grain, level))["rows"]:
                        unit = str(r.get("team") or r.get("org_unit"))
                        for m, v in r["metrics"].items():
                            out[(fam, grain, unit, str(r["period"]), m)] = (v, m in r["suppressed"])
        return out

    with Store.open(db) as store:
        before = figures(store)
        rep = run(store, cutoffs(load_charter(), {}, datetime(2026, 11, 22, tzinfo=UTC)))
        assert {r["record_type"]: r["rows"] > 0 for r in rep["records"]}["page"]
        after = figures(store)
    assert len(before) > 50_000 and before.keys() == after.keys()
    assert [k for k in before if before[k][1] != after[k][1]] == []  # nothing revealed or hidden
    assert [k for k in before if before[k][0] != pytest.approx(after[k][0])] == []


def test_no_mcp_tool_answer_names_a_person(demo: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Every read-only MCP tool, as the administrator, for a team, the org units and a week."""
    from tests.mcp.conftest import call

    db = _copy(demo, tmp_path / "mcp")
    people = _people(db)
    monkeypatch.chdir(tmp_path / "mcp")
    settings = load_settings(db=db)
    with Store.open(db) as store:
        team = str(store.con.execute("SELECT min(id) FROM team").fetchone()[0])  # type: ignore[index]
    calls: list[tuple[str, dict[str, Any]]] = [
        ("list_teams", {}), ("get_dora", {"team": team}), ("get_dora", {"team": team, "grain": "week"}),
        ("get_cost", {}), ("get_cost", {"team": team}), ("explain_metric", {"metric_id": "flow.pickup_time"}),
        ("get_flow", {"team": team}), ("get_flow", {"team": team, "grain": "week"}), ("get_flow", {}),
        ("get_strain", {"team": team, "grain": "month"}), ("get_strain", {}),
        ("get_slo", {"team": team}), ("get_charter", {}), ("fairness_audit", {}),
        ("list_investigations", {}),
    ]
    for name, args in calls:
        res = call(settings, None, name, args)
        text = json.dumps(res.structured_content, default=str) + " ".join(
            str(getattr(c, "text", "")) for c in res.content)
        assert not res.is_error, (name, text[:300])
        assert not _leaks(text, people), (name, _leaks(text, people)[:3])


def test_no_hidden_figure_can_be_worked_out_over_the_api(demo: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The differencing attacker (tests/governance/adversary.py) reads every flow and strain
    figure an admin, an exec and a payments member can read over the REST API — every team, org
    unit and grain — and solves the linear system of known identities: it must recover nothing.
    (On the rule before this one it recovered, among others, payments' hidden February 2025
    pages as Q1 − January − March.)"""
    from shipwise.governance.access import LOCAL_ADMIN, Principal
    from tests.governance import attack as attacker
    from tests.governance.adversary import attack, figures

    db = _copy(demo, tmp_path / "attack")
    monkeypatch.chdir(tmp_path / "attack")
    settings = load_settings(db=db)
    with Store.open(db) as store:
        toks = {"admin": create_token(store, "admin", "admin")["token"],
                "exec": create_token(store, "cfo", "exec")["token"],
                "member": create_token(store, "member", "member", "payments")["token"]}
        who = {"admin": LOCAL_ADMIN, "exec": Principal("exec", name="cfo"),
               "member": Principal("member", team="payments", name="member")}
        teams_of, truth = attacker.teams_of(store), attacker.truth(store)
        with serve(settings) as live:
            reads = {}
            for role, tok in toks.items():
                with httpx.Client(base_url=live.url, timeout=120,
                                  headers={"Authorization": f"Bearer {tok}"}) as client:
                    fetch = attacker.http_fetch(client, store, who[role])
                    reads[role] = figures(fetch, attacker.reads(who[role], store))
        for role, figs in reads.items():
            got = attack(figs, teams_of, truth)
            assert got.hidden > 0, role
            assert not got.wrong, (role, [f.key for f in got.wrong][:5])
            assert not got.exact, (role, len(got.exact), [f.key for f in got.exact][:10])
