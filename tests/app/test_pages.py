"""A web page is one user action: whatever doors it reads, one access-log row (a refusal among
them is logged and refuses the page)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from shipwise.app import admin
from shipwise.config import Settings
from shipwise.server import create_app

from .conftest import caller_of, log_rows


def test_a_team_page_is_one_row_and_people_derived(sample_settings: Settings) -> None:
    with caller_of(sample_settings, interface="cli") as c:
        lead = admin.create_token(c, "pay lead", "lead", "payments").token
        other = admin.create_token(c, "search member", "member", "search").token
    before = len(log_rows(sample_settings))
    with TestClient(create_app(sample_settings)) as client:
        ok = client.get("/teams/payments.json", headers={"Authorization": f"Bearer {lead}"})
        assert ok.status_code == 200, ok.text
        assert {"dora", "cost", "flow", "strain", "slo"} <= ok.json().keys()
        refused = client.get("/teams/payments.json",
                             headers={"Authorization": f"Bearer {other}"})
        assert refused.status_code == 403
    rows = log_rows(sample_settings)[before:]
    assert [(r["action"], r["subject"], r["allowed"], r["people_derived"]) for r in rows] == [
        ("team.diagnostic", "page:/teams/payments.json", True, True),
        ("team.diagnostic", "team:payments:dora", False, False),
    ]
