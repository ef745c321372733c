"""A new user's path to real data, through the CLI and the server only: an organisation file, a
GitHub source in shipwise.yaml, `doctor`, `sync` (twice), DORA and flow for a team, `explain`,
and a signed webhook that brings a new review in — against the fake GitHub on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
import yaml

from shipwise.config import load_settings
from shipwise.server.app import create_app
from tests.conftest import cli_env, serve_app
from tests.fakes.github import PEOPLE, FakeGitHub, World

pytestmark = pytest.mark.slow

HOOK = "e2e-github-webhook-secret-01234"


def org_yaml(world: World) -> dict[str, Any]:
    teams = sorted({r.team for r in world.repos})
    return {
        "version": 1,
        "org_units": [{"id": "eng", "name": "Engineering"}],
        "teams": [{"id": t, "name": t.title(), "org_unit": "eng", "timezone": "Europe/Lisbon"}
                  for t in teams],
        # each developer commits as <login>@example.com and opens pull requests as <login>:
        # the file says they are one person
        "people": [{"emails": [f"{p}@example.com"], "logins": [p],
                    "memberships": [{"team": teams[i % len(teams)], "since": "2020-01-01"}]}
                   for i, p in enumerate(PEOPLE)]
                  + [{"logins": ["renovate[bot]"], "bot": True,
                      "memberships": [{"team": teams[0], "since": "2020-01-01"}]}],
        "services": [{"id": r.service, "name": r.service, "team": r.team, "repos": [r.full_name]}
                     for r in world.repos],
    }


class Cli:
    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root, self.env = root, env

    def __call__(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        res = subprocess.run([sys.executable, "-m", "shipwise", "--db",
                              str(self.root / "shipwise.duckdb"), "--config",
                              str(self.root / "shipwise.yaml"), *args],
                             capture_output=True, text=True, timeout=300, env=self.env)
        if ok:
            assert res.returncode == 0, f"{args}: {res.stdout}\n{res.stderr}"
        return res

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--format", "json").stdout)


def test_from_an_org_file_and_a_github_source_to_explained_figures(tmp_path: Path) -> None:
    world = World.generate(repos=3, prs=40, seed=3)
    (tmp_path / "org.yaml").write_text(yaml.safe_dump(org_yaml(world), sort_keys=False))
    with FakeGitHub(world) as gh:
        (tmp_path / "shipwise.yaml").write_text(yaml.safe_dump({
            "webhooks": {"sync_delay_seconds": 0},
            "sources": [{"kind": "github", "base_url": gh.base_url, "repos": world.names,
                         "token_env": "E2E_GH_TOKEN", "webhook_secret_env": "E2E_GH_HOOK",
                         "workflows": [{"workflow": "deploy", "job": "ship-*"}]}]}))
        env = cli_env(E2E_GH_TOKEN=gh.token or "", E2E_GH_HOOK=HOOK, SHIPWISE_TOKEN="")
        cli = Cli(tmp_path, env)
        cli("init")
        plan = cli.json("org", "apply", str(tmp_path / "org.yaml"), "--dry-run")
        assert plan and "team0" in json.dumps(plan)
        cli("org", "apply", str(tmp_path / "org.yaml"))
        assert "no changes" in cli("org", "apply", str(tmp_path / "org.yaml")).stdout.lower()

        doctor = cli("doctor")
        assert "No problems found." in doctor.stdout, doctor.stdout

        first = cli.json("sync")
        assert {s["status"] for s in first["scopes"]} == {"ok"}
        assert sum(s.get("inserted", 0) for s in first["scopes"]) > 500
        gh.reset_counts()
        again = cli.json("sync")
        assert sum(s.get("inserted", 0) + s.get("updated", 0) for s in again["scopes"]) == 0
        assert len(gh.requests) <= 2 * len(world.repos), [r.path for r in gh.requests]

        dora = cli.json("metrics", "dora", "--team", "team0", "--grain", "month")
        deployments = sum((r.get("counts") or {}).get("deployments", 0) for r in dora["rows"])
        assert deployments > 5, dora
        flow = cli("flow", "--team", "team0", "--format", "json")
        assert flow.returncode == 0

        listed = cli.json("explain", "deployment", "--list", "--service", world.repos[0].service)
        dep_id = listed["rows"][0]["id"]
        explained = cli.json("explain", "deployment", dep_id)
        text = json.dumps(explained)
        assert "github:" in text and "@example.com" not in text and "p_" not in text
        assert cli.json("explain", "pull-request", f"{world.repos[0].full_name}#1")

        # one person in all their ids: pull requests (by login) and commits (by email) agree
        people = _one(tmp_path, 'SELECT count(DISTINCT author) FROM "commit" '
                                "WHERE NOT author_is_bot")
        both = _one(tmp_path, "SELECT count(DISTINCT a) FROM (SELECT author AS a FROM "
                              '"commit" WHERE NOT author_is_bot UNION SELECT author FROM '
                              "pull_request WHERE NOT author_is_bot)")
        assert people == both <= len(PEOPLE)

        # a review arrives; GitHub tells the server; the server syncs that repository
        repo = world.repos[0]
        pr = next(p for p in repo.prs if p.merged is not None and not p.reviews and not p.bot)
        reviewed = datetime.now(UTC).replace(microsecond=0)  # now: the pull request's updatedAt moves
        world.add_review(repo.full_name, pr.number, PEOPLE[-1] if pr.author != PEOPLE[-1]
                         else PEOPLE[0], reviewed)
        before = _review_at(tmp_path, repo.full_name, pr.number)
        assert before is None
        _webhook(tmp_path, env, repo.full_name)
        after = _review_at(tmp_path, repo.full_name, pr.number)
        assert after == reviewed.replace(tzinfo=None)


def _one(root: Path, sql: str) -> Any:
    con = duckdb.connect(str(root / "shipwise.duckdb"), read_only=True)
    try:
        row = con.execute(sql).fetchone()
        return row[0] if row else None
    finally:
        con.close()


def _review_at(root: Path, repo: str, number: int) -> Any:
    return _one(root, f"SELECT first_review_at FROM pull_request WHERE repo = '{repo}' "
                      f"AND number = {number}")


def _webhook(root: Path, env: dict[str, str], repo: str) -> None:
    old = {k: os.environ.get(k) for k in ("E2E_GH_TOKEN", "E2E_GH_HOOK")}
    os.environ.update({k: env[k] for k in old})
    try:
        settings = load_settings(db=root / "shipwise.duckdb", config_file=root / "shipwise.yaml")
        app = create_app(settings)
        with serve_app(app, timeout=20) as url:
            body = json.dumps({"action": "submitted", "repository": {"full_name": repo},
                               "review": {"state": "approved"}}).encode()
            sig = "sha256=" + hmac.new(HOOK.encode(), body, hashlib.sha256).hexdigest()
            res = httpx.post(url + "/webhooks/github", content=body, timeout=30, headers={
                "X-GitHub-Event": "pull_request_review", "X-GitHub-Delivery": str(uuid.uuid4()),
                "X-Hub-Signature-256": sig, "Content-Type": "application/json"})
            assert res.status_code == 202, res.text
            state = app.state.shipwise
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with state.store.session() as store:
                    rows = store.query("SELECT status FROM webhook_delivery")
                if rows and all(r["status"] != "queued" for r in rows) and not state.syncs.pending:
                    break
                time.sleep(0.1)
            assert [r["status"] for r in rows] == ["synced"], rows
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
