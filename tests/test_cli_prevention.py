"""``shipwise prevention …`` and ``shipwise investigations verdict|accuracy`` on a store file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from shipwise.app.context import open_store
from shipwise.app.tokens import create_token
from shipwise.cli.main import cli
from shipwise.config import Settings
from shipwise.errors import ForbiddenError, NotFoundError
from tests.prevention_world import build


@pytest.fixture
def world(settings: Settings, tmp_path: Path) -> Settings:
    return build(settings, tmp_path)


def run(settings: Settings, *args: str, token: str | None = None) -> Any:
    env = {"SHIPWISE_TOKEN": token} if token else {}
    return CliRunner().invoke(cli, ["--db", str(settings.db), *args], env=env)


def test_scan_list_decide_from_the_command_line(world: Settings) -> None:
    res = run(world, "prevention", "scan")
    assert res.exit_code == 0, res.output
    assert "Scanned 8 investigations and 2 incidents" in res.output
    listed = json.loads(run(world, "prevention", "list", "--format", "json").output)
    keys = [r["key"] for r in listed["recommendations"]]
    assert "governance:permission:pay-api:s3:GetObject" in keys
    no_reason = run(world, "prevention", "dismiss", "infrastructure:churn:search-api")
    assert no_reason.exit_code == 2 and "--reason" in no_reason.output
    ok = run(world, "prevention", "dismiss", "infrastructure:churn:search-api",
             "--reason", "replaced by managed instances")
    assert ok.exit_code == 0 and "dismissed (replaced by managed instances)" in ok.output
    assert run(world, "prevention", "accept", "pipeline:deploy:pay-api").exit_code == 0
    shown = run(world, "prevention", "show", "pipeline:deploy:pay-api")
    assert "Change: In pay-api's pipeline" in shown.output and "inc-1" in shown.output
    again = json.loads(run(world, "prevention", "scan", "--format", "json").output)
    statuses = {r["key"]: r["status"] for r in again["recommendations"]}
    assert again["scan"]["new"] == 0
    assert statuses["pipeline:deploy:pay-api"] == "accepted"
    assert statuses["infrastructure:churn:search-api"] == "dismissed"
    missing = run(world, "prevention", "done", "pipeline:deploy:nope")
    assert isinstance(missing.exception, NotFoundError)
    assert "no recommendation" in str(missing.exception)


def test_verdicts_and_accuracy_from_the_command_line(world: Settings) -> None:
    assert run(world, "investigations", "accuracy").output.startswith("No verdicts yet")
    res = run(world, "investigations", "verdict", "inv-perm-1", "right", "--comment", "yes")
    assert res.exit_code == 0 and "marked right (yes)" in res.output
    assert run(world, "investigations", "verdict", "inv-churn-1", "wrong").exit_code == 0
    bad = run(world, "investigations", "verdict", "inv-churn-1", "maybe")
    assert bad.exit_code == 2
    acc = json.loads(run(world, "investigations", "accuracy", "--format", "json").output)
    assert acc["overall"]["marked"] == 2 and acc["overall"]["accuracy"] == 0.5
    text = run(world, "investigations", "accuracy").output
    assert "Root cause right in 50% of 2" in text and "permission_revoked" in text


def test_a_member_token_may_not_scan(world: Settings) -> None:
    with open_store(world) as store:
        token = create_token(store, "m", "member", "payments")["token"]
    res = run(world, "prevention", "scan", token=token)
    assert isinstance(res.exception, ForbiddenError)
    assert "needs the admin role" in str(res.exception)
