"""Sessions and secrets, tried the way an attacker would: read the store file as another local user
could, forge a session cookie with what is in it, replay a cookie after sign-out or after the
secret was rotated, flood the sign-in with wrong tokens, and hide the webhook secret from the
access-log mask by encoding its parameter name."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipwise.app.tokens import create_token, revoke_token
from shipwise.config import Settings
from shipwise.governance.refusals import ACTION, MORE, RefusalLog
from shipwise.http.auth import SESSION_COOKIE
from shipwise.store.duckdb_store import Store
from tests.conftest import cli_env
from tests.server.conftest import SECRET, Live, fixture_bytes, serve, serve_process

MEMBER_LIKE = "exec"  # a non-admin role that needs no team (the store here has none)


@pytest.fixture
def umask_022() -> Iterator[None]:
    """A fresh process's usual umask (opening a store tightens it for the whole process)."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def tokens(settings: Settings) -> dict[str, str]:
    with Store.open(settings.db) as store:
        return {role: create_token(store, f"test-{role}", role)["token"]
                for role in ("admin", MEMBER_LIKE)}


def _others_can_read(path: Path) -> bool:
    return bool(path.stat().st_mode & (stat.S_IRGRP | stat.S_IROTH | stat.S_IWGRP | stat.S_IWOTH))


def sign_in(url: str, token: str) -> str:
    """Sign in through the form, as a browser does; returns the session cookie's value."""
    with httpx.Client(base_url=url, follow_redirects=False, timeout=10) as client:
        form = client.get("/signin")
        csrf = form.cookies["shipwise_csrf"]
        res = client.post("/signin", data={"token": token, "csrf": csrf, "next": "/"})
        assert res.status_code == 303, res.text
        return str(res.cookies[SESSION_COOKIE])


def sign_out(url: str, cookie: str) -> None:
    csrf = hashlib.sha256(f"shipwise-csrf:{cookie}".encode()).hexdigest()
    with httpx.Client(cookies={SESSION_COOKIE: cookie}, timeout=10) as client:
        res = client.post(url + "/signout", data={"csrf": csrf}, follow_redirects=False)
    assert res.status_code == 303 and res.headers["location"] == "/signin"


def as_cookie(url: str, cookie: str, path: str = "/api/v1/teams") -> int:
    with httpx.Client(cookies={SESSION_COOKIE: cookie}, timeout=10) as client:
        return client.get(url + path, follow_redirects=False).status_code


def _refusals(live: Live) -> list[dict[str, Any]]:
    with live.state.store.session() as store:
        return store.query("SELECT * FROM access_log WHERE action LIKE 'auth.refused%' "
                           "ORDER BY read_at")


# -- the store file ------------------------------------------------------------------------------

def test_a_new_store_and_its_wal_are_readable_by_their_owner_only(tmp_path: Path,
                                                                  umask_022: None) -> None:
    db = tmp_path / "new.duckdb"
    with Store.open(db, create=True) as store:
        with store.transaction():
            store.set_meta("probe", "x")  # a write: DuckDB (re)creates the WAL now
        wal = db.with_name(db.name + ".wal")
        assert wal.exists()
        assert not _others_can_read(db), oct(db.stat().st_mode)
        assert not _others_can_read(wal), oct(wal.stat().st_mode)


def test_an_existing_world_readable_store_is_tightened_on_open(settings: Settings,
                                                               umask_022: None) -> None:
    os.chmod(settings.db, 0o644)
    Store.open(settings.db, read_only=True).close()
    assert stat.S_IMODE(settings.db.stat().st_mode) == 0o600


def test_shipwise_init_makes_private_files(tmp_path: Path) -> None:
    res = subprocess.run(["sh", "-c", f"umask 022 && exec {sys.executable} -m shipwise init"],
                         cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    made = [p for p in tmp_path.iterdir() if p.is_file()]
    assert {p.name for p in made} >= {"shipwise.duckdb", "shipwise.duckdb.key"}
    assert not [p.name for p in made if _others_can_read(p)]


# -- the session secret --------------------------------------------------------------------------

def _forged(secret: bytes, token_id: str) -> list[str]:
    """Admin session cookies an attacker signs with ``secret``, in every cookie layout shipwise
    has used (``<token>.<expiry>.<sig>``, and ``<token>.<expiry>.<session id>.<sig>``)."""
    expiry = int(time.time()) + 3600
    old = f"{token_id}.{expiry}"
    new = f"{token_id}.{expiry}.forged-session-id"
    return [f"{p}.{hmac.new(secret, p.encode(), hashlib.sha256).hexdigest()}" for p in (old, new)]


def test_what_the_store_file_holds_cannot_forge_a_session(settings: Settings,
                                                         tokens: dict[str, str]) -> None:
    admin_id = tokens["admin"].split("_")[1]
    with serve(settings) as live:  # a sign-in makes the session secret
        assert as_cookie(live.url, sign_in(live.url, tokens["admin"])) == 200
    # another local user copies the store file (and its WAL) and reads everything in it
    loot = settings.db.with_name("loot.duckdb")
    shutil.copy(settings.db, loot)
    with Store.open(loot) as copy:
        meta = copy.query("SELECT key, value FROM meta")
    candidates = [str(m["value"]).encode() for m in meta]
    candidates += [bytes.fromhex(str(m["value"])) for m in meta
                   if re.fullmatch(r"([0-9a-f]{2})+", str(m["value"]))]
    with serve(settings) as live:
        for secret in candidates:
            for cookie in _forged(secret, admin_id):
                assert as_cookie(live.url, cookie) == 401, cookie
    assert not [m for m in meta if "secret" in m["key"]], meta
    # the secret is in a file of its own beside the pseudonymisation key, the owner's alone
    secret_file = settings.session_secret_file
    assert secret_file.exists() and stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert secret_file.parent == settings.resolved_key_file.parent


def test_a_session_secret_left_in_an_old_store_is_removed_and_useless(
        settings: Settings, tokens: dict[str, str]) -> None:
    old_secret = "ab" * 32
    # the store as the previous version left it
    with Store.open(settings.db) as store, store.transaction() as con:
        con.execute("DELETE FROM schema_migrations WHERE version >= 7")
        con.execute("DROP TABLE web_session")
        for column in ("last_status", "last_error", "last_attempt_at"):  # 0008's, undone
            con.execute(f"ALTER TABLE sync_state DROP COLUMN {column}")
        store.set_meta("session_secret", old_secret)
    with serve(settings) as live:
        with live.state.store.session() as store:
            assert store.get_meta("session_secret") is None
        for cookie in _forged(bytes.fromhex(old_secret), tokens["admin"].split("_")[1]):
            assert as_cookie(live.url, cookie) == 401


@pytest.mark.slow
def test_rotating_the_secret_signs_everyone_out(settings: Settings,
                                                tokens: dict[str, str]) -> None:
    with serve(settings) as live:
        cookie = sign_in(live.url, tokens[MEMBER_LIKE])
        assert as_cookie(live.url, cookie) == 200
        # while the server holds the store: the new secret file is enough
        res = subprocess.run([sys.executable, "-m", "shipwise", "--db", str(settings.db),
                              "session", "rotate"], env=cli_env(SHIPWISE_TOKEN=""),
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        assert "every web session has ended" in res.stdout
        assert as_cookie(live.url, cookie) == 401
        assert as_cookie(live.url, cookie, "/") == 303  # the page sends the browser to sign in
        fresh = sign_in(live.url, tokens[MEMBER_LIKE])
        assert as_cookie(live.url, fresh) == 200
    # with the store free, the sessions' rows are ended as well
    res = subprocess.run([sys.executable, "-m", "shipwise", "--db", str(settings.db), "session",
                          "rotate", "--format", "json"], env=cli_env(SHIPWISE_TOKEN=""),
                         capture_output=True, text=True, timeout=60)
    # (both sessions' rows: the first one's cookie stopped verifying at the first rotation)
    assert res.returncode == 0 and '"sessions_ended": 2' in res.stdout, res.stdout + res.stderr


# -- sign-out ------------------------------------------------------------------------------------

def test_a_cookie_kept_after_sign_out_is_refused(settings: Settings,
                                                 tokens: dict[str, str]) -> None:
    with serve(settings) as live:
        cookie = sign_in(live.url, tokens[MEMBER_LIKE])
        other = sign_in(live.url, tokens[MEMBER_LIKE])  # the same person on another device
        assert as_cookie(live.url, cookie) == 200
        sign_out(live.url, cookie)
        assert as_cookie(live.url, cookie) == 401
        assert as_cookie(live.url, cookie, "/") == 303
        assert as_cookie(live.url, other) == 200  # signing out ends that session only
        refused = _refusals(live)
        assert refused and "session refused: this session has ended" in refused[-1]["subject"]
        assert cookie.rsplit(".", 2)[1] not in str(refused)  # the session id is not logged


def test_revoking_a_token_ends_its_sessions(settings: Settings, tokens: dict[str, str]) -> None:
    with serve(settings) as live:
        cookie = sign_in(live.url, tokens[MEMBER_LIKE])
        assert as_cookie(live.url, cookie) == 200
        with live.state.store.session() as store:
            revoke_token(store, tokens[MEMBER_LIKE].split("_")[1])
        assert as_cookie(live.url, cookie) == 401


# -- refused credentials in the audit log --------------------------------------------------------

def test_refused_tokens_and_sign_ins_are_audited_without_their_secret(
        settings: Settings, tokens: dict[str, str]) -> None:
    wrong = tokens["admin"][:-6] + "XXXXXX"  # a real token id, a wrong secret
    with serve(settings) as live:
        assert httpx.get(live.url + "/api/v1/teams", timeout=10,
                         headers={"Authorization": f"Bearer {wrong}"}).status_code == 401
        mcp = httpx.post(live.url + "/mcp", timeout=10, json={"jsonrpc": "2.0", "id": 1,
                                                              "method": "tools/list"},
                         headers={"Authorization": "Bearer hunter2-not-a-token",
                                  "Accept": "application/json, text/event-stream"})
        assert mcp.status_code == 401
        with httpx.Client(base_url=live.url, timeout=10) as client:
            csrf = client.get("/signin").cookies["shipwise_csrf"]
            res = client.post("/signin", data={"token": "my-password-typed-here", "csrf": csrf})
            assert res.status_code == 401
        rows = _refusals(live)
    assert [(r["interface"], r["allowed"], r["action"]) for r in rows] == [
        ("api", False, ACTION), ("mcp", False, ACTION), ("web", False, ACTION)]
    assert rows[0]["token_id"] == tokens["admin"].split("_")[1]  # the public part only
    assert "unknown token" in rows[0]["subject"] and "127.0.0.1" in rows[0]["subject"]
    assert "sign-in refused" in rows[2]["subject"]
    text = str(rows)
    for secret in (wrong.split("_", 2)[2], "hunter2", "my-password-typed-here"):
        assert secret not in text


@pytest.mark.slow
def test_a_flood_of_wrong_tokens_cannot_fill_the_audit_log(settings: Settings) -> None:
    sent = 60
    with serve(settings) as live:
        with httpx.Client(base_url=live.url, timeout=10) as client:
            for i in range(sent):
                res = client.get("/api/v1/teams",
                                 headers={"Authorization": f"Bearer sw_{i:012x}_{'x' * 40}"})
                assert res.status_code == 401
        budget = live.state.refusals.per_minute
    # stopped: the counts not written one by one are in their summary row now
    with Store.open(settings.db) as store:
        rows = store.query("SELECT action, subject FROM access_log WHERE action LIKE "
                           "'auth.refused%'")
    single = [r for r in rows if r["action"] == ACTION]
    more = [r for r in rows if r["action"] == MORE]
    assert len(single) <= 2 * budget and 1 <= len(more) <= 2  # two, if a minute ended meanwhile
    counted = sum(int(r["subject"].split()[0]) for r in more)
    assert len(single) + counted == sent


def test_the_refusal_budget_is_per_source_and_minute() -> None:
    now = [600.0]
    log = RefusalLog(per_minute=3, max_sources=2, clock=lambda: now[0])
    store = Store.memory()
    for _ in range(10):
        log.record(store, source="10.0.0.1", interface="api", what="token refused: unknown token")
    log.record(store, source="10.0.0.2", interface="web", what="sign-in refused")
    for _ in range(5):  # a third source in the same minute shares the others' bucket
        log.record(store, source="10.0.0.3", interface="api", what="token refused")
    assert store.count("access_log") == 3 + 1 + 3
    now[0] += 60  # the next minute: the counted rest is written as one row per bucket
    log.record(store, source="10.0.0.1", interface="api", what="token refused: unknown token")
    more = store.query("SELECT subject FROM access_log WHERE action = ?", [MORE])
    assert {m["subject"].split(" from ")[1].split(" in ")[0]: int(m["subject"].split()[0])
            for m in more} == {"10.0.0.1": 7, "other sources": 2}
    assert store.count("access_log") == 3 + 1 + 3 + 2 + 1


# -- the webhook secret in the access log --------------------------------------------------------

@pytest.mark.slow
def test_an_encoded_token_parameter_is_masked_in_the_access_log(settings: Settings) -> None:
    with serve_process("--db", str(settings.db), cwd=settings.db.parent,
                       env=cli_env(SHIPWISE_WEBHOOK_SECRET=SECRET)) as srv:
        body = fixture_bytes("cloudwatch_sns_alarm.json")
        for query in (f"%74oken={SECRET}", f"a=1&%74%6F%6B%65%6E={SECRET}"):
            res = httpx.post(f"{srv.url}/webhooks/cloudwatch?{query}", content=body, timeout=10)
            assert res.status_code == 202, res.text  # it authenticates
        for query in (f"TOKEN={SECRET}", f"%2574oken={SECRET}"):  # not the secret's name, but
            httpx.post(f"{srv.url}/webhooks/cloudwatch?{query}", content=body, timeout=10)  # masked
    logged = srv.out + srv.err
    assert "/webhooks/cloudwatch?%74oken=***" in logged and "&%74%6F%6B%65%6E=***" in logged
    assert SECRET not in logged
    assert logged.count("presented the secret in the URL") == 1  # warned once, not per request


def test_a_key_file_others_could_read_is_tightened_when_used(settings: Settings) -> None:
    from shipwise.governance.pseudonym import load_key

    os.chmod(settings.resolved_key_file, 0o644)
    load_key(settings.resolved_key_file)
    assert stat.S_IMODE(settings.resolved_key_file.stat().st_mode) == 0o600


def test_only_an_admin_rotates_the_session_secret(settings: Settings,
                                                  tokens: dict[str, str]) -> None:
    from shipwise.http.auth import SessionKeys

    before = SessionKeys(settings.session_secret_file).secret()
    res = subprocess.run([sys.executable, "-m", "shipwise", "--db", str(settings.db), "session",
                          "rotate"], env=cli_env(SHIPWISE_TOKEN=tokens[MEMBER_LIKE]),
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 1 and res.stderr.startswith("Error: ") and "admin" in res.stderr
    assert SessionKeys(settings.session_secret_file).secret() == before
