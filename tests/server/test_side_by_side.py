"""Every command works while ``shipwise serve`` holds the store: real processes side by side.

The server is a real ``python -m shipwise serve`` process; each command is another real process
that finds the store locked and has the server run it (shipwise.http.local), or — for imports and
syncs over HTTP — a client of the API. The dashboard must keep answering meanwhile.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
import yaml
from mcp import Client, StdioServerParameters

from tests.conftest import cli_env, org, write_jsonl
from tests.connectors.test_git_service import commit, git
from tests.server.conftest import Served, serve_process

pytestmark = pytest.mark.slow


def _shipwise(*args: str, cwd: Path, timeout: float = 120, **env: str
              ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shipwise", *args], cwd=cwd,
                          env=cli_env(**env), capture_output=True, text=True, timeout=timeout)


def _deployments(n: int, prefix: str = "d") -> list[dict[str, object]]:
    return [{"type": "deployment", "id": f"{prefix}{i}", "service": "pay-api", "environment": "production",
             "status": "success", "started_at": f"2026-0{1 + i % 9}-1{i % 10}T09:50:00Z",
             "finished_at": f"2026-0{1 + i % 9}-1{i % 10}T10:00:00Z", "version": f"v{i}"}
            for i in range(n)]


def _served(home: Path) -> Iterator[Served]:
    """A store with one team and service in ``home``, served by a real process."""
    home.mkdir()
    assert _shipwise("init", cwd=home).returncode == 0
    res = _shipwise("import", str(write_jsonl(home / "org.jsonl", org())), cwd=home)
    assert res.returncode == 0, res.stderr
    with serve_process(cwd=home, env=cli_env()) as served:
        yield served


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Path]]:
    """One server for the tests that leave it running (each writes records of its own)."""
    root = tmp_path_factory.mktemp("side")
    for served in _served(root / "srv"):
        yield served, root


@pytest.fixture
def server(shared: tuple[Served, Path], tmp_path: Path) -> Served:
    served, root = shared
    (tmp_path / "srv").symlink_to(root / "srv")
    return served


def test_commands_run_through_the_server_while_it_holds_the_store(server: Served,
                                                                  tmp_path: Path) -> None:
    home = tmp_path / "srv"
    info = json.loads((home / "shipwise.duckdb.serve.json").read_text())
    assert stat.S_IMODE(os.stat(home / "shipwise.duckdb.serve.json").st_mode) == 0o600
    assert info["pid"] == server.proc.pid and info["url"] == server.url

    # a token, created while the server runs, works against it at once
    created = _shipwise("token", "create", "--name", "ci", "--role", "admin", cwd=home)
    assert created.returncode == 0, created.stderr
    token = created.stdout.split()[0]
    assert token.startswith("sw_")
    me = httpx.get(server.url + "/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["role"] == "admin"

    # an import from another directory, by a relative path: the same records twice never count
    # twice, and a bad record is kept in quarantine with its reason
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    write_jsonl(elsewhere / "deploys.jsonl", [*_deployments(20, "cli"),
                                             {"type": "deployment", "id": "bad"}])
    store = ("--db", "../srv/shipwise.duckdb")  # relative too
    first = _shipwise(*store, "import", "deploys.jsonl", "--format", "json", cwd=elsewhere)
    assert first.returncode == 0, first.stderr
    counts = json.loads(first.stdout)["types"]["deployment"]
    assert counts["inserted"] == 20 and counts["quarantined"] == 1
    again = json.loads(_shipwise(*store, "import", "deploys.jsonl", "--format", "json",
                                 cwd=elsewhere).stdout)["types"]["deployment"]
    assert again["inserted"] == 0 and again["unchanged"] == 20
    quarantined = _shipwise("quarantine", "list", "--format", "json", cwd=home)
    assert quarantined.returncode == 0 and "bad" in quarantined.stdout

    # reads see what the relayed import wrote; the API sees it too
    explained = _shipwise("explain", "deployment", "cli5", cwd=home)
    assert explained.returncode == 0, explained.stderr
    assert "pay-api (team payments)" in explained.stdout
    teams = httpx.get(server.url + "/api/v1/teams", headers={"Authorization": f"Bearer {token}"})
    assert [t["team"] for t in teams.json()] == ["payments"]

    # a command that writes files writes them where its caller asked, not in the server's folder
    exported = _shipwise(*store, "export", "parquet", "parquet-out", cwd=elsewhere)
    assert exported.returncode == 0, exported.stderr
    assert (elsewhere / "parquet-out" / "manifest.json").exists()
    assert not (home / "parquet-out").exists()

    # errors come back as the command's own, with its exit code
    missing = _shipwise(*store, "import", "nowhere.jsonl", cwd=elsewhere)
    assert missing.returncode != 0
    assert "nowhere.jsonl" in missing.stderr
    # a member's token is a member through the server too
    member = _shipwise("token", "create", "--name", "m", "--role", "member", "--team",
                       "payments", cwd=home).stdout.split()[0]
    refused = _shipwise("token", "list", cwd=home, SHIPWISE_TOKEN=member)
    assert refused.returncode == 1 and "role member may not" in refused.stderr

    # standard input cannot follow a command to the server: said so, nothing done
    piped = subprocess.run([sys.executable, "-m", "shipwise", "org", "apply", "-"], cwd=home,
                           env=cli_env(), input="teams: []\n", capture_output=True, text=True,
                           timeout=60)
    assert piped.returncode == 1 and "give the file's path instead of -" in piped.stderr

    # a second server on the same store is refused, naming the first
    second = _shipwise("serve", "--port", "1", cwd=home)
    assert second.returncode == 1 and f"already served by process {server.proc.pid}" in second.stderr

    assert server.proc.poll() is None  # it served throughout


def test_the_dashboard_answers_while_a_relayed_import_writes(server: Served,
                                                              tmp_path: Path) -> None:
    home = tmp_path / "srv"
    token = _shipwise("token", "create", "--name", "w", "--role", "admin",
                      cwd=home).stdout.split()[0]
    big = write_jsonl(tmp_path / "many.jsonl", _deployments(150_000, "bulk"))
    importing = subprocess.Popen([sys.executable, "-m", "shipwise", "import", str(big)],
                                 cwd=home, env=cli_env(), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
    answered_during = 0
    try:
        while importing.poll() is None:
            res = httpx.get(server.url + "/api/v1/teams", timeout=30,
                            headers={"Authorization": f"Bearer {token}"})
            assert res.status_code == 200
            if importing.poll() is None:
                answered_during += 1
            time.sleep(0.05)
    finally:
        out, err = importing.communicate(timeout=300)
    assert importing.returncode == 0, err
    assert answered_during >= 3, "the API did not answer while the import ran"
    assert "150,000" in out or "150000" in out


def test_an_mcp_session_over_stdio_is_answered_by_the_server(server: Served,
                                                             tmp_path: Path) -> None:
    home = tmp_path / "srv"
    params = StdioServerParameters(command=sys.executable, args=["-m", "shipwise", "mcp"],
                                   env=cli_env(), cwd=str(home))

    async def main() -> tuple[set[str], dict[str, object]]:
        async with Client(params) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            teams = await client.call_tool("list_teams", {})
            assert not teams.is_error, teams.content
            assert teams.structured_content is not None
            return tools, teams.structured_content

    tools, teams = anyio.run(main)
    assert {"list_teams", "get_dora"} <= tools
    assert [t["team"] for t in teams["teams"]] == ["payments"]  # type: ignore[index, union-attr]


def test_imports_and_syncs_over_the_api(server: Served, tmp_path: Path) -> None:
    home = tmp_path / "srv"
    admin = _shipwise("token", "create", "--name", "a", "--role", "admin",
                      cwd=home).stdout.split()[0]
    member = _shipwise("token", "create", "--name", "m", "--role", "member", "--team",
                       "payments", cwd=home).stdout.split()[0]
    body = "".join(json.dumps(r) + "\n" for r in _deployments(500, "api")).encode()

    def chunks() -> Iterator[bytes]:  # streamed: chunked transfer encoding, no length
        for i in range(0, len(body), 4096):
            yield body[i:i + 4096]

    url = server.url + "/api/v1/imports"
    auth = {"Authorization": f"Bearer {admin}"}
    res = httpx.post(url, params={"name": "deploys.jsonl"}, content=chunks(), headers=auth,
                     timeout=120)
    assert res.status_code == 200, res.text
    assert res.json()["types"]["deployment"]["inserted"] == 500
    assert res.json()["sources"] == ["deploys.jsonl"]
    again = httpx.post(url, params={"name": "deploys.jsonl"}, content=body, headers=auth,
                       timeout=120).json()
    assert again["types"]["deployment"]["unchanged"] == 500
    assert httpx.post(url, params={"name": "../x.jsonl"}, content=body,
                      headers=auth).status_code == 400
    assert httpx.post(url, params={"name": "x.exe"}, content=body, headers=auth).status_code == 400
    refused = httpx.post(url, params={"name": "d.jsonl"}, content=body,
                         headers={"Authorization": f"Bearer {member}"})
    assert refused.status_code == 403
    assert httpx.post(url, params={"name": "d.jsonl"}, content=body).status_code == 401

    # no sources configured: said so; then a real git repository synced, once and again
    syncs = server.url + "/api/v1/syncs"
    unconfigured = httpx.post(syncs, json={}, headers=auth, timeout=60)
    assert unconfigured.status_code == 409 and "no sources" in unconfigured.json()["error"]


def test_sync_runs_through_the_server_and_its_api(tmp_path: Path) -> None:
    home = tmp_path / "srv"
    home.mkdir()
    repo = tmp_path / "payments"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "a.txt", "1\n")
    commit(repo, "a.txt", "1\n2\n", when="2025-03-02T10:00:00+02:00")
    (home / "shipwise.yaml").write_text(yaml.safe_dump(
        {"sources": [{"kind": "git", "path": str(repo)}]}))
    assert _shipwise("init", cwd=home).returncode == 0
    org_file = write_jsonl(home / "org.jsonl", org())
    assert _shipwise("import", str(org_file), cwd=home).returncode == 0
    token = _shipwise("token", "create", "--name", "s", "--role", "admin",
                      cwd=home).stdout.split()[0]
    with serve_process(cwd=home, env=cli_env()) as served:
        # the CLI's sync, relayed: it reads this directory's shipwise.yaml
        first = _shipwise("sync", "--format", "json", cwd=home)
        assert first.returncode == 0, first.stderr
        scopes = json.loads(first.stdout)["scopes"]
        assert [(s["source"], s["status"]) for s in scopes] == [("git", "ok")]
        assert scopes[0]["records"] > 0
        commit(repo, "a.txt", "1\n2\n3\n", when="2025-03-03T10:00:00+02:00")
        res = httpx.post(served.url + "/api/v1/syncs", json={"sources": ["git"]},
                         headers={"Authorization": f"Bearer {token}"}, timeout=120)
        assert res.status_code == 200, res.text
        second = res.json()["scopes"]
        assert second[0]["status"] == "ok" and second[0]["incremental"]
        assert 0 < second[0]["records"] < scopes[0]["records"] + 5
        unknown = httpx.post(served.url + "/api/v1/syncs", json={"sources": ["nope"]},
                             headers={"Authorization": f"Bearer {token}"}, timeout=60)
        assert unknown.status_code == 404 and "nope" in unknown.json()["error"]


def test_only_this_runs_secret_from_loopback_runs_commands(server: Served,
                                                            tmp_path: Path) -> None:
    run = server.url + "/local/run"
    body = {"argv": ["token", "list"], "env": {}}
    assert httpx.post(run, json=body).status_code == 401
    assert httpx.post(run, json=body, headers={"x-shipwise-local": "guess"}).status_code == 401
    assert "/local/run" not in httpx.get(server.url + "/openapi.json").text


def test_after_a_kill_9_the_next_command_opens_the_store_itself(tmp_path: Path) -> None:
    home = tmp_path / "srv"
    server = next(served := _served(home))
    server.proc.kill()
    server.proc.wait(timeout=30)
    assert (home / "shipwise.duckdb.serve.json").exists()  # left behind by the killed server
    res = _shipwise("teams", "--format", "json", cwd=home)
    assert res.returncode == 0, res.stderr
    assert [t["team"] for t in json.loads(res.stdout)] == ["payments"]
    served.close()
