"""The prevention and verdict MCP tools (stdio server, the SDK's in-memory client) over a store
with a known incident history: the same doors, roles and results as the API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shipwise.app import prevention
from shipwise.app.context import open_store
from shipwise.app.tokens import create_token
from shipwise.config import Settings
from tests.app.conftest import caller_of
from tests.mcp.conftest import call, error_text
from tests.prevention_world import build


@pytest.fixture
def world(settings: Settings, tmp_path: Path) -> tuple[Settings, dict[str, str]]:
    build(settings, tmp_path)
    with caller_of(settings) as c:
        prevention.scan(c)
    with open_store(settings) as store:
        tokens = {"member": create_token(store, "m", "member", "payments")["token"],
                  "other": create_token(store, "o", "member", "search")["token"],
                  "exec": create_token(store, "e", "exec")["token"]}
    return settings, tokens


def test_list_and_decide_prevention(world: tuple[Settings, dict[str, str]]) -> None:
    settings, tok = world
    listed = call(settings, tok["member"], "list_prevention", {"category": "pipeline"})
    recs: list[dict[str, Any]] = listed.structured_content["recommendations"]
    assert {r["key"] for r in recs} == {"pipeline:deploy:pay-api", "pipeline:preprod:pay-api"}
    assert all(r["incidents"] and r["change"] and r["rationale"] for r in recs)
    assert "needs a reason" in error_text(call(settings, tok["member"], "decide_prevention",
                                               {"key": "pipeline:deploy:pay-api",
                                                "status": "dismissed"}))
    done = call(settings, tok["member"], "decide_prevention",
                {"key": "pipeline:deploy:pay-api", "status": "done", "reason": "canary live"})
    assert done.structured_content["status"] == "done"
    assert "cannot" in error_text(call(settings, tok["other"], "decide_prevention",
                                       {"key": "pipeline:deploy:pay-api", "status": "open"}))
    assert "may not" in error_text(call(settings, tok["exec"], "list_prevention"))


def test_mark_verdict_and_accuracy(world: tuple[Settings, dict[str, str]]) -> None:
    settings, tok = world
    res = call(settings, tok["member"], "mark_verdict",
               {"id": "inv-deploy-1", "verdict": "wrong", "comment": "a config flip"})
    assert res.structured_content["verdict"] == "wrong"
    assert res.structured_content["marked_by"] == "member/mcp"
    assert "must be one of" in error_text(call(settings, tok["member"], "mark_verdict",
                                               {"id": "inv-deploy-1", "verdict": "meh"}))
    acc = call(settings, tok["member"], "investigation_accuracy").structured_content
    assert acc["overall"]["wrong"] == 1 and acc["by_kind"][0]["value"] == "bad_deploy"
    assert "may not" in error_text(call(settings, tok["exec"], "investigation_accuracy"))
