"""Resolving an actor's pseudonym for incident response (docs/governance.md, "Who to call"): only
an on-call responder (a member or lead token with the responder grant, or an admin), only for an
open investigation that shows the pseudonym, only with a reason; every attempt logged; and no
identity kept anywhere in the store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from shipwise.app import people, verdicts
from shipwise.app.owner import import_paths
from shipwise.app.tokens import authenticate, create_token
from shipwise.config import Settings
from shipwise.errors import ForbiddenError, InputError
from shipwise.governance.access import Principal
from shipwise.governance.pseudonym import Pseudonymiser, load_key
from shipwise.store import investigations as table
from shipwise.store.duckdb_store import Store
from tests.conftest import org, write_jsonl

from .conftest import caller_of

ALICE = "alice.on-call@example.com"
DIRECTORY = ("# payments on call\n"
             "bob,bob@example.com,+44 20 7946 0001\n"
             f"alice,{ALICE},+44 20 7946 0002\n"
             "carol@example.com\n")


def _pseudonym(settings: Settings, who: str) -> str:
    return Pseudonymiser(load_key(settings.resolved_key_file), settings.bots).pseudonym(who)


def _store_investigation(store: Store, inv_id: str, actor: str, *, service: str = "pay-api",
                         created: datetime | None = None, alarm: datetime | None = None) -> None:
    created = created or datetime.now(UTC)
    alarm = alarm or created
    record: dict[str, Any] = {
        "id": inv_id, "alarm": {"entity": service, "metric": "errors", "at": alarm.isoformat()},
        "status": "root_cause_found",
        "root_cause": {"entity": service, "kind": "permission_change", "statement": "revoked",
                       "event": {"id": "ev-7", "kind": "permission_change", "entity": service,
                                 "actor": actor, "at": alarm.isoformat(), "summary": "revoked"}},
        "mitigation": {"prepare": [{"text": f"ask who revoked it ({actor}) and why"}]}}
    table.save(store, {"id": inv_id, "created_at": created, "alarm_id": None, "entity": service,
                       "metric": "errors", "alarm_at": alarm, "status": "root_cause_found",
                       "root_cause_entity": service, "root_cause_kind": "permission_change",
                       "confidence": 0.8, "summary": "revoked", "seconds": 1.0,
                       "record": json.dumps(record)})


@pytest.fixture
def responders(settings: Settings, tmp_path: Path) -> dict[str, Any]:
    import_paths(settings, [write_jsonl(tmp_path / "org.jsonl", org(
        (("payments", "pay-api"), ("search", "search-api"))))])
    actor = _pseudonym(settings, ALICE)
    with Store.open(settings.db) as store:
        _store_investigation(store, "inv-open", actor)
        _store_investigation(store, "inv-old", actor,
                             created=datetime.now(UTC) - timedelta(days=30))
        _store_investigation(store, "inv-search", actor, service="search-api")
        tokens = {
            "responder": create_token(store, "pay on call", "member", "payments",
                                      responder=True)["token"],
            "member": create_token(store, "pay member", "member", "payments")["token"],
            "search": create_token(store, "search on call", "member", "search",
                                   responder=True)["token"]}
        principals = {k: authenticate(store, v, touch=False) for k, v in tokens.items()}
    return {"actor": actor, "tokens": tokens, "principals": principals}


def _lookups(settings: Settings) -> list[dict[str, Any]]:
    with Store.open(settings.db) as store:
        return store.query("SELECT * FROM actor_lookup ORDER BY looked_up_at")


def test_a_responder_resolves_an_actor_of_an_open_investigation(
        settings: Settings, responders: dict[str, Any]) -> None:
    actor, who = responders["actor"], responders["principals"]["responder"]
    assert who.responder and who.can("people.resolve", "payments")
    with caller_of(settings, who, "api") as c:
        res = people.resolve_actor(c, "inv-open", actor, reason="paging whoever revoked the "
                                   "grant on the ledger table", candidates=DIRECTORY)
        short = people.resolve_actor(c, "inv-open", actor[:10], reason="the plan shows the "
                                     "short form", candidates=["nobody@example.com"])
    assert res.outcome == "match" and res.identity == f"alice,{ALICE},+44 20 7946 0002"
    assert res.candidates == 3  # the comment line is no candidate
    assert short.outcome == "no match" and short.identity is None
    rows = _lookups(settings)
    assert [(r["investigation_id"], r["pseudonym"], r["outcome"], r["candidates"], r["reader"],
             r["role"], r["interface"]) for r in rows] == [
        ("inv-open", actor, "match", 3, "pay on call", "member", "api"),
        ("inv-open", actor[:10], "no match", 1, "pay on call", "member", "api")]
    assert rows[0]["reason"] == "paging whoever revoked the grant on the ledger table"
    with caller_of(settings) as c:  # the auditor reads them
        assert [r.outcome for r in people.actor_lookups(c)] == ["no match", "match"]


def test_refused_without_the_grant_or_for_another_team(
        settings: Settings, responders: dict[str, Any]) -> None:
    actor = responders["actor"]
    with caller_of(settings, responders["principals"]["member"]) as c:
        with pytest.raises(ForbiddenError, match="responder") as exc:
            people.resolve_actor(c, "inv-open", actor, reason="I would like to know who",
                                 candidates=DIRECTORY)
        assert "--responder" in (exc.value.hint or "")
    with caller_of(settings, responders["principals"]["search"]) as c, \
            pytest.raises(ForbiddenError, match="team payments"):
        people.resolve_actor(c, "inv-open", actor, reason="paging the author of the change",
                             candidates=DIRECTORY)
    for p in (Principal("exec", None, "t-e", "cfo"), Principal("lead", "payments", "t-l", "l")):
        with caller_of(settings, p) as c, pytest.raises(ForbiddenError):
            people.resolve_actor(c, "inv-open", actor, reason="paging the author of the change",
                                 candidates=DIRECTORY)
    with caller_of(settings, responders["principals"]["member"]) as c, \
            pytest.raises(ForbiddenError):
        people.actor_lookups(c)  # the log is the auditor's
    with Store.open(settings.db) as store:
        refused = store.query("SELECT role, action, subject FROM access_log WHERE NOT allowed "
                              "AND action = 'people.resolve'")
    assert len(refused) == 4 and all(f"actor:{actor}" in r["subject"] for r in refused)
    assert _lookups(settings) == []  # refused before the lookup: the access log has them


@pytest.mark.parametrize(("inv", "pseudonym", "reason", "why"), [
    ("inv-open", None, "", "a reason is required"),
    ("inv-open", None, "too short", "a reason is required"),
    ("inv-old", None, "paging the author of the change", "closed .*more than 7 days"),
    ("inv-open", "p_00000000000000000000", "paging the author of the change",
     "does not appear in investigation"),
    ("inv-open", "pipeline:pay-deploy", "paging the author of the change", "not a pseudonym"),
])
def test_refused_and_logged_without_a_reason_or_for_a_closed_or_unrelated_investigation(
        settings: Settings, responders: dict[str, Any], inv: str, pseudonym: str | None,
        reason: str, why: str) -> None:
    target = pseudonym or responders["actor"]
    with caller_of(settings, responders["principals"]["responder"]) as c, \
            pytest.raises(InputError, match=why):
        people.resolve_actor(c, inv, target, reason=reason, candidates=DIRECTORY)
    [row] = _lookups(settings)
    assert row["outcome"] == "refused" and row["investigation_id"] == inv
    assert row["pseudonym"] == target.lower() and row["role"] == "member"


def test_a_verdict_or_resolved_incidents_close_an_investigation(
        settings: Settings, responders: dict[str, Any], tmp_path: Path) -> None:
    actor, who = responders["actor"], responders["principals"]["responder"]
    now = datetime.now(UTC)
    with Store.open(settings.db) as store:
        _store_investigation(store, "inv-incident", actor, alarm=now - timedelta(days=20))
    reason = "paging the author of the change"

    def incident(resolved: bool) -> None:
        opened = now - timedelta(days=20, minutes=10)
        import_paths(settings, [write_jsonl(tmp_path / "inc.jsonl", [{
            "type": "incident", "id": "INC-1", "service": "pay-api", "severity": "sev1",
            "opened_at": opened.isoformat(),
            **({"resolved_at": (opened + timedelta(hours=1)).isoformat()} if resolved else {})}])])

    incident(resolved=False)  # an unresolved incident keeps it open past the 7 days
    with caller_of(settings, who) as c:
        assert people.resolve_actor(c, "inv-incident", actor, reason=reason,
                                    candidates=[ALICE]).identity == ALICE
    incident(resolved=True)
    with caller_of(settings, who) as c, pytest.raises(InputError, match="incident it covers"):
        people.resolve_actor(c, "inv-incident", actor, reason=reason, candidates=[ALICE])
    with caller_of(settings) as c:
        verdicts.mark_verdict(c, "inv-open", "right")
    with caller_of(settings, who) as c, pytest.raises(InputError, match="verdict"):
        people.resolve_actor(c, "inv-open", actor, reason=reason, candidates=[ALICE])


def test_no_identity_is_kept_in_the_store_file(settings: Settings,
                                                responders: dict[str, Any]) -> None:
    """After lookups that matched, the store file and its write-ahead log hold neither the
    identity found nor any candidate: shipwise keeps no map from pseudonyms back to people."""
    with caller_of(settings, responders["principals"]["responder"]) as c:
        assert people.resolve_actor(c, "inv-open", responders["actor"],
                                    reason="paging the author of the change",
                                    candidates=DIRECTORY).outcome == "match"
    with caller_of(settings) as c:
        assert people.resolve_actor(c, "inv-open", responders["actor"], reason="admin check "
                                    "during the incident", candidates=[ALICE]).identity == ALICE
        c.store.con.execute("CHECKPOINT")
    files = [p for p in settings.db.parent.iterdir()
             if p.name.startswith(settings.db.name) and not p.name.endswith(".key")]
    blob = b"".join(p.read_bytes() for p in files)
    assert len(_lookups(settings)) == 2
    for secret in (ALICE, "alice", "bob@example.com", "carol@example.com", "7946"):
        assert secret.encode() not in blob, secret


def test_cli_resolves_with_a_directory_file(settings: Settings, responders: dict[str, Any],
                                            tmp_path: Path) -> None:
    from shipwise.cli.main import cli

    (tmp_path / "on-call.csv").write_text(DIRECTORY)
    runner = CliRunner()
    args = ["--db", str(settings.db), "people", "resolve", responders["actor"],
            "--investigation", "inv-open", "--directory", str(tmp_path / "on-call.csv")]
    env = {"SHIPWISE_TOKEN": responders["tokens"]["responder"]}
    res = runner.invoke(cli, [*args, "--reason", "paging the author of the change"], env=env)
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith(f"{responders['actor']} is alice,{ALICE}")
    res = runner.invoke(cli, [*args, "--reason", ""], env=env)
    assert isinstance(res.exception, InputError) and "a reason is required" in str(res.exception)
    res = runner.invoke(cli, [*args, "--reason", "paging the author of the change"],
                        env={"SHIPWISE_TOKEN": responders["tokens"]["member"]})
    assert isinstance(res.exception, ForbiddenError) and "responder" in str(res.exception)
    res = runner.invoke(cli, ["--db", str(settings.db), "audit", "lookups", "--format", "json"])
    rows = json.loads(res.stdout)
    assert [(r["outcome"], r["reader"]) for r in rows] == [("refused", "pay on call"),
                                                           ("match", "pay on call")]


def test_the_grant_is_for_member_and_lead_tokens(settings: Settings,
                                                 responders: dict[str, Any]) -> None:
    with Store.open(settings.db) as store:
        with pytest.raises(InputError, match="member and lead"):
            create_token(store, "cfo", "exec", responder=True)
        listed = {r["name"]: r["responder"] for r in store.query(
            "SELECT name, responder FROM api_token")}
    assert listed == {"pay on call": True, "pay member": False, "search on call": True}
