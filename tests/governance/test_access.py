"""Tokens, roles and the access log: the same rules for every interface (here: the application
layer directly, and the CLI acting as a token)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from shipwise.app import admin, delivery
from shipwise.app.caller import Caller
from shipwise.app.context import open_store
from shipwise.app.cost import CostRequest
from shipwise.app.metrics import DoraRequest
from shipwise.app.results import dump
from shipwise.app.tokens import authenticate, create_token, list_tokens, revoke_token
from shipwise.config import Settings
from shipwise.errors import ForbiddenError, InputError, UnauthorizedError
from shipwise.governance.access import LOCAL_ADMIN, PLAIN, POLICY, Principal
from shipwise.http.auth import SessionKeys, make_session, session_principal
from shipwise.store import org as org_table
from tests.conftest import SampleOrg, cli_env


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, sample_org: SampleOrg) -> Settings:
    """A private copy of the sample organisation (tests/conftest.py) for this module."""
    return sample_org.copy_to(tmp_path_factory.mktemp("demo"))


def _teams(settings: Settings) -> list[str]:
    with open_store(settings) as store:
        return [r["team"] for r in org_table.teams(store)]


def test_tokens_are_shown_once_stored_hashed_and_revocable(demo: Settings) -> None:
    team = _teams(demo)[0]
    with open_store(demo) as store:
        tok = create_token(store, "on-call laptop", "member", team)
        raw = store.con.execute("SELECT * FROM api_token WHERE id = ?", [tok["id"]]).fetchone()
        assert raw is not None and tok["token"].split("_", 2)[2] not in json.dumps(raw, default=str)
        assert authenticate(store, tok["token"]) == Principal("member", team, tok["id"], "on-call laptop")
        assert "token" not in list_tokens(store)[0]
        with pytest.raises(UnauthorizedError):
            authenticate(store, tok["token"][:-1] + ("A" if tok["token"][-1] != "A" else "B"))
        with pytest.raises(UnauthorizedError):
            authenticate(store, "not-a-token")
        keys = SessionKeys(demo.session_secret_file)
        cookie = make_session(store, keys, tok["id"])
        assert session_principal(store, keys, cookie).team == team
        with pytest.raises(UnauthorizedError):
            # tampered signature (a different last hex digit, whatever the signature ends with)
            session_principal(store, keys, cookie[:-1] + ("1" if cookie[-1] == "0" else "0"))
        revoke_token(store, tok["id"])
        with pytest.raises(UnauthorizedError, match="revoked"):
            authenticate(store, tok["token"])
        with pytest.raises(UnauthorizedError, match="revoked"):
            session_principal(store, keys, cookie)  # revoking a token ends its sessions
        with pytest.raises(InputError):
            create_token(store, "x", "member")  # a member needs a team
        with pytest.raises(InputError):
            create_token(store, "x", "root")


def test_roles_see_what_the_policy_allows_and_every_read_is_logged(demo: Settings) -> None:
    mine, other = _teams(demo)[:2]
    member = Principal("member", mine, "t-member")
    execu = Principal("exec", None, "t-exec")
    with open_store(demo) as store:
        def as_(p: Principal) -> Caller:
            return Caller(store, p, demo, "api")

        before = store.count("access_log")
        assert delivery.dora(as_(member), DoraRequest(team=(mine,))).rows
        assert delivery.cost(as_(member), CostRequest(team=(mine,))).rows
        with pytest.raises(ForbiddenError, match=f"cannot open team {other}"):
            delivery.dora(as_(member), DoraRequest(team=(other,)))
        with pytest.raises(ForbiddenError):
            delivery.cost(as_(member), CostRequest())
        assert delivery.cost(as_(execu), CostRequest()).organisation
        with pytest.raises(ForbiddenError):
            delivery.dora(as_(execu), DoraRequest(team=(mine,)))  # cost only, no team diagnostics
        with pytest.raises(ForbiddenError):
            admin.access_log(as_(member))
        log = dump(admin.access_log(as_(LOCAL_ADMIN)))
        assert store.count("access_log") == before + 7 + 1
    refused = [r for r in log if not r["allowed"]]
    assert {(r["token_id"], r["action"]) for r in refused} >= {
        ("t-member", "team.diagnostic"), ("t-member", "org.cost"), ("t-exec", "team.diagnostic"),
        ("t-member", "admin.audit")}


def test_every_action_has_roles_and_admin_may_do_everything() -> None:
    assert all(POLICY[a] for a in POLICY)
    assert all(LOCAL_ADMIN.can(a, "any-team") for a in POLICY)
    assert not Principal("member", None).can("team.diagnostic", None)


@pytest.mark.slow
def test_the_cli_obeys_a_token_like_the_api(demo: Settings, tmp_path: Path) -> None:
    mine, other = _teams(demo)[:2]
    with open_store(demo) as store:
        tok = create_token(store, "cli", "member", mine)["token"]
    env = cli_env(SHIPWISE_TOKEN=tok)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "shipwise", "--db", str(demo.db), *args],
                              capture_output=True, text=True, env=env, cwd=tmp_path)

    own = run("metrics", "dora", "--format", "json")
    assert own.returncode == 0, own.stderr
    assert {r["team"] for r in json.loads(own.stdout)["rows"]} == {mine}  # narrowed to its team
    refused = run("metrics", "dora", "--team", other)
    assert refused.returncode == 1 and f"cannot open team {other}" in refused.stderr
    org = run("cost")
    assert org.returncode == 1 and "org cost" in org.stderr
    listed = run("investigations", "list", "--format", "json")
    assert listed.returncode == 0 and json.loads(listed.stdout) == []
    with open_store(demo) as store:
        exec_token = create_token(store, "cfo", "exec")["token"]
    env["SHIPWISE_TOKEN"] = exec_token
    refused_inv = run("investigations", "list")
    assert refused_inv.returncode == 1 and "investigations read" in refused_inv.stderr


def test_cached_views_change_when_the_data_does(settings: Settings, tmp_path: Path) -> None:
    from shipwise.app.owner import import_paths
    from tests.conftest import org, write_jsonl

    def deployment(i: int, day: str) -> dict[str, object]:
        return {"type": "deployment", "id": f"d{i}", "service": "pay-api", "environment": "production",
                "started_at": f"2025-07-{day}T10:00:00Z", "finished_at": f"2025-07-{day}T10:05:00Z",
                "status": "success", "commits": [], "version": f"1.{i}"}

    import_paths(settings, [write_jsonl(tmp_path / "a.jsonl", [*org(), deployment(1, "01")])])
    month = DoraRequest(grain="month", team=("payments",))
    with open_store(settings) as store:
        first = dump(delivery.dora(Caller(store, LOCAL_ADMIN, settings), month))
        again = dump(delivery.dora(Caller(store, LOCAL_ADMIN, settings), month))
    assert first == again
    import_paths(settings, [write_jsonl(tmp_path / "b.jsonl", [deployment(2, "02"), deployment(3, "03")])])
    with open_store(settings) as store:
        after = dump(delivery.dora(Caller(store, LOCAL_ADMIN, settings), month))
    assert after != first
    assert after["rows"][-1]["counts"] != first["rows"][-1]["counts"]


def test_every_refusal_says_in_plain_words_who_may_and_why() -> None:
    assert set(POLICY) <= set(PLAIN), "a policy action without a plain reason"
    try:
        Principal("exec").require("team.diagnostic", "payments")
    except ForbiddenError as exc:
        assert exc.action == "team.diagnostic" and exc.role == "exec"
        assert exc.allowed == ("member", "lead", "admin")
        assert exc.detail is not None
        assert "members and leads of team payments, and administrators" in exc.detail
        assert "You are signed in as an executive" in exc.detail
        # the charter's reason, with its forbidden uses read from the charter
        assert "comparison between teams" in exc.detail and "compensation" in exc.detail
        assert str(exc) == "role exec may not team diagnostic"  # the machine message stays
    else:
        raise AssertionError("an exec opened a team page")
    try:
        Principal("member", "catalog").require("admin.audit")
    except ForbiddenError as exc:
        assert exc.detail is not None and exc.detail.startswith("Who can see the audit log: "
                                                                "administrators.")
        assert "a member of team catalog" in exc.detail
