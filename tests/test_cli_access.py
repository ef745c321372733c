"""Every CLI command runs as the principal it is given (SHIPWISE_TOKEN, or the store's owner), or is
exempt with a stated reason; admin commands refuse other roles with a one-line error."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from shipwise.app.context import open_store
from shipwise.app.owner import import_paths
from shipwise.app.tokens import create_token
from shipwise.cli.access import EXEMPT, MARK
from shipwise.cli.main import cli
from shipwise.config import Settings
from shipwise.errors import UnauthorizedError
from tests.conftest import cli_env, org, write_jsonl

UNKNOWN_TOKEN = "sw_000000000000_" + "x" * 40

#: arguments a command needs to get past click's own parsing (the principal is resolved first)
ARGS: dict[str, list[str]] = {
    "import": ["e.jsonl"],
    "export parquet": ["out"],
    "cost cloud import": ["cur.parquet"],
    "ingest git": ["."],
    "investigate": ["--service", "pay-api", "--at", "now"],
    "investigations show": ["inv-x"],
    "ask": ["inv-x", "when did it start?"],
    "investigations verdict": ["inv-x", "right"],
    "prevention show": ["k"],
    "prevention accept": ["k"],
    "prevention dismiss": ["k", "--reason", "r"],
    "prevention done": ["k"],
    "prevention reopen": ["k"],
    "org apply": ["org.yaml"],
    "org check": ["org.yaml"],
    "report cost": ["--out", "r.html"],
    "slo history": ["--team", "payments"],
    "notify digest": ["--team", "payments"],
    "token create": ["--name", "x", "--role", "admin"],
    "token revoke": ["000000000000"],
    "verify": ["inv-x"],
    "topology show": ["pay-api"],
    "incidents show": ["INC-x"],
    "people resolve": ["p_0123456789", "--investigation", "inv-x", "--reason", "on call"],
}


def commands(group: click.Group = cli, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    """Every command a user can run: leaves, and groups that run without a subcommand."""
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        assert cmd is not None, name
        path = f"{prefix}{name}"
        if isinstance(cmd, click.Group):
            if cmd.invoke_without_command:
                yield path, cmd
            yield from commands(cmd, path + " ")
        else:
            yield path, cmd


def runs_as(cmd: click.Command) -> str | None:
    return getattr(cmd.callback, MARK, None)


def test_every_command_runs_as_its_principal_or_says_why_not() -> None:
    found = dict(commands())
    assert len(found) > 30
    neither = [p for p, c in found.items() if runs_as(c) is None and p not in EXEMPT]
    assert not neither, f"commands that neither run as the principal nor are exempt: {neither}"
    both = [p for p, c in found.items() if runs_as(c) is not None and p in EXEMPT]
    assert not both, both
    assert set(EXEMPT) <= set(found), set(EXEMPT) - set(found)  # no stale exemption
    assert all(len(why) > 20 for why in EXEMPT.values())


@pytest.fixture
def store(settings: Settings, tmp_path: Path) -> Settings:
    import_paths(settings, [write_jsonl(tmp_path / "e.jsonl", [
        *org((("payments", "pay-api"), ("search", "search-api"))),
        {"type": "deployment", "id": "d1", "service": "pay-api"}])])  # quarantined
    return settings


def test_a_bad_token_stops_every_command_before_it_starts(store: Settings) -> None:
    runner = CliRunner()
    for path, _ in commands():
        if path in EXEMPT:
            continue
        res = runner.invoke(cli, ["--db", str(store.db), *path.split(), *ARGS.get(path, [])],
                            env={"SHIPWISE_TOKEN": UNKNOWN_TOKEN})
        assert isinstance(res.exception, UnauthorizedError), (path, res.exception, res.output)


def run(store: Settings, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shipwise", "--db", str(store.db), *args],
                          capture_output=True, text=True, env=cli_env(SHIPWISE_TOKEN=token),
                          cwd=store.db.parent, timeout=120)


@pytest.mark.slow
def test_admin_commands_refuse_a_member_in_one_line(store: Settings) -> None:
    with open_store(store) as s:
        member = create_token(s, "searcher", "member", "search")["token"]
        before = s.count("api_token")
    for args in (["token", "list"], ["token", "create", "--name", "me", "--role", "admin"],
                 ["report", "cost", "--out", "r.html"], ["cost", "initiatives"],
                 ["quarantine", "list"], ["import", "e.jsonl"]):
        res = run(store, member, *args)
        assert res.returncode == 1, (args, res.stdout)
        assert res.stdout == "" and len(res.stderr.strip().splitlines()) == 1, (args, res.stderr)
        assert res.stderr.startswith("Error: ") and "member" in res.stderr, res.stderr
    assert not (store.db.parent / "r.html").exists()
    with open_store(store) as s:
        assert s.count("api_token") == before  # no admin token was minted
        refused = s.query("SELECT action FROM access_log WHERE NOT allowed AND interface = 'cli'")
    assert {r["action"] for r in refused} == {"admin.tokens", "org.cost", "admin.quarantine",
                                              "admin.ingest"}


def test_an_admin_token_and_the_local_owner_may(store: Settings) -> None:
    with open_store(store) as s:
        admin = create_token(s, "ops", "admin")["token"]
    res = run(store, admin, "quarantine", "list", "--format", "json")
    assert res.returncode == 0 and json.loads(res.stdout)["total"] == 1
    res = run(store, "", "token", "list", "--format", "json")  # no token: the store's owner
    assert res.returncode == 0 and [t["name"] for t in json.loads(res.stdout)] == ["ops"]
    teams = run(store, "", "teams", "--format", "json")
    assert [t["team"] for t in json.loads(teams.stdout)] == ["payments", "search"]


def test_refused_tokens_are_audited_within_a_budget(store: Settings) -> None:
    """A refused SHIPWISE_TOKEN is an audit row like a refused API token, without its secret;
    a flood of them costs at most ten rows a minute plus one row that counts the rest."""
    from shipwise.app.tokens import LOCAL_REFUSALS_PER_MINUTE

    runner = CliRunner()
    tries = 25
    for _ in range(tries):
        res = runner.invoke(cli, ["--db", str(store.db), "teams"],
                            env={"SHIPWISE_TOKEN": UNKNOWN_TOKEN})
        assert isinstance(res.exception, UnauthorizedError)
    with open_store(store) as s:
        rows = s.con.execute("SELECT action, subject, token_id, allowed, "
                             "date_trunc('minute', read_at) FROM access_log "
                             "WHERE interface = 'cli' AND action LIKE 'auth.refused%'").fetchall()
    secret = UNKNOWN_TOKEN.split("_", 2)[2]
    assert rows and not any(secret in str(r[1]) for r in rows) and not any(r[3] for r in rows)
    written = [r for r in rows if r[0] == "auth.refused"]
    counted = sum(int(str(r[1]).split()[0]) for r in rows if r[0] == "auth.refused.more")
    assert len(written) + counted == tries  # every refusal accounted for
    minutes = {r[4] for r in rows}
    assert len(written) <= LOCAL_REFUSALS_PER_MINUTE * len(minutes)
    assert len(rows) - len(written) <= len(minutes)  # one counting row a minute at most
