"""Incident response in the dashboard, in a real browser: the Incidents menu leads to imported
incidents (filterable, one incident with its investigations) and to investigations; on an
investigation page an on-call responder resolves an actor's pseudonym with a reason — the answer
shown once, the lookup on the audit page — while a member without the grant reads how to find
the actor instead."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipwise.app.context import init_store, open_store
from shipwise.app.owner import import_paths
from shipwise.app.owner import investigate_case as store_case
from shipwise.app.tokens import create_token
from shipwise.config import Settings
from shipwise.demo.world.scenarios import write_world_case
from shipwise.governance.pseudonym import Pseudonymiser, load_key
from shipwise.server import create_app
from shipwise.store.duckdb_store import Store
from tests.conftest import org, serve_app, write_jsonl
from tests.web.conftest import sign_in

pytestmark = pytest.mark.browser

ALICE = "alice.sre@example.com"


@dataclass
class Desk:
    url: str
    tokens: dict[str, str]
    inv: str
    actor: str
    settings: Settings


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    root = tmp_path_factory.mktemp("respond")
    with pytest.MonkeyPatch.context() as mp:
        for var in ("SHIPWISE_PSEUDONYM_KEY", "SHIPWISE_DB", "SHIPWISE_TOKEN"):
            mp.delenv(var, raising=False)
        settings = Settings(db=root / "shipwise.duckdb")
        init_store(settings)
        case = write_world_case(root / "case", "bad_deploy", seed=7)
        record = store_case(settings, case)
        service = str(record["alarm"]["entity"])
        now = datetime.now(UTC).replace(microsecond=0)
        alarm_at = datetime.fromisoformat(str(record["alarm"]["at"]).replace("Z", "+00:00"))
        import_paths(settings, [write_jsonl(root / "e.jsonl", [
            *org((("shop", service), ("other", "other-api"))),
            {"type": "incident", "id": "INC-9", "service": service, "severity": "sev1",
             "opened_at": (alarm_at - timedelta(minutes=5)).isoformat(),
             "source": "opsgenie:main alert 42"},
            {"type": "incident", "id": "INC-8", "service": service, "severity": "sev3",
             "opened_at": (now - timedelta(days=40)).isoformat(),
             "resolved_at": (now - timedelta(days=40) + timedelta(minutes=50)).isoformat()},
            {"type": "incident", "id": "INC-7", "service": "other-api", "severity": "sev2",
             "opened_at": (now - timedelta(days=3)).isoformat()}])])
        actor = Pseudonymiser(load_key(settings.resolved_key_file), settings.bots).pseudonym(ALICE)
        with Store.open(settings.db) as store:  # the change was made by alice, as the audit
            # export pseudonymised with the store's key would say
            store.con.execute("UPDATE investigation SET record = json_merge_patch(record, ?) "
                              "WHERE id = ?", [json.dumps({"root_cause": {"event": {
                                  "actor": actor, "kind": "config_change",
                                  "id": "ev-42"}}}), record["id"]])
        with open_store(settings) as store:
            tokens = {
                "responder": create_token(store, "shop on call", "member", "shop",
                                          responder=True)["token"],
                "member": create_token(store, "shop member", "member", "shop")["token"],
                "admin": create_token(store, "auditor", "admin")["token"]}
        with serve_app(create_app(settings)) as url:
            yield Desk(url, tokens, str(record["id"]), actor, settings)


def test_incidents_menu_lists_imported_incidents_and_filters(desk: Desk, page: Any) -> None:
    sign_in(page, desk.url, desk.tokens["member"])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Incidents").click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/incidents")
    table = page.get_by_test_id("incident-table")
    rows = table.locator("tbody tr")
    assert rows.count() == 2  # the shop's two, not the other team's
    assert "INC-9" in rows.nth(0).inner_text() and "unresolved" in rows.nth(0).inner_text()
    assert "50 min" in rows.nth(1).inner_text()
    assert desk.inv in rows.nth(0).inner_text()  # the investigation covering it
    page.get_by_label("Severity").select_option("sev3")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state("networkidle")
    assert "severity=sev3" in page.url
    assert [r.split("\t")[0] for r in table.locator("tbody tr").all_inner_texts()] == ["INC-8"]
    page.get_by_role("link", name="Investigations").first.click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/investigations")
    page.goto(desk.url + "/incidents/INC-9")
    section = page.get_by_test_id("incident-investigations")
    section.get_by_role("link", name=desk.inv).click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(f"/investigations/{desk.inv}")


def test_a_member_without_the_grant_reads_how_to_find_the_actor(desk: Desk, page: Any) -> None:
    sign_in(page, desk.url, desk.tokens["member"])
    page.goto(f"{desk.url}/investigations/{desk.inv}")
    panel = page.get_by_test_id("who-to-call")
    assert desk.actor in panel.inner_text() and "config_change ev-42" in panel.inner_text()
    assert "responder grant" in page.get_by_test_id("how-to-find").inner_text()
    assert panel.locator("form").count() == 0


def test_a_responder_resolves_the_actor_and_the_auditor_sees_the_lookup(
        desk: Desk, page: Any) -> None:
    sign_in(page, desk.url, desk.tokens["responder"])
    page.goto(f"{desk.url}/investigations/{desk.inv}")
    panel = page.get_by_test_id("who-to-call")
    panel.get_by_label("Who might it be?").fill(f"bob@example.com\nalice, {ALICE}, +1 555 0100")
    panel.get_by_label("Why you need to reach them").fill("paging the author of the config change")
    panel.get_by_role("button", name="Check who it is").click()
    page.wait_for_load_state("networkidle")
    answer = page.get_by_test_id("resolution").inner_text()
    assert f"is alice, {ALICE}, +1 555 0100" in answer
    assert "/resolve" in page.url  # a rendered answer, not a redirect to a URL holding it
    page.goto(f"{desk.url}/investigations/{desk.inv}")  # gone once reloaded
    assert page.get_by_test_id("resolution").count() == 0
    with httpx.Client(base_url=desk.url, timeout=30) as http:
        rows = http.get("/api/v1/audit/actor-lookups",
                        headers={"Authorization": f"Bearer {desk.tokens['admin']}"}).json()
    assert [(r["reader"], r["pseudonym"], r["outcome"], r["reason"]) for r in rows][-1] == (
        "shop on call", desk.actor, "match", "paging the author of the config change")
    assert ALICE not in json.dumps(rows)
    page.context.clear_cookies()
    sign_in(page, desk.url, desk.tokens["admin"])
    page.goto(desk.url + "/audit")
    lookups = page.get_by_test_id("actor-lookups").inner_text()
    assert "shop on call" in lookups and "paging the author of the config change" in lookups
    assert ALICE not in page.content()


def test_api_resolution_refuses_without_a_reason(desk: Desk) -> None:
    with httpx.Client(base_url=desk.url, timeout=30) as http:
        def post(who: str, **body: Any) -> httpx.Response:
            return http.post(f"/api/v1/investigations/{desk.inv}/actors/resolve",
                             headers={"Authorization": f"Bearer {desk.tokens[who]}"},
                             json={"pseudonym": desk.actor, "candidates": [ALICE], **body})

        assert post("responder", reason="").status_code == 400
        assert post("member", reason="paging the author of the change").status_code == 403
        ok = post("responder", reason="paging the author of the change")
        assert ok.status_code == 200 and ok.json()["identity"] == ALICE
        assert ok.headers["cache-control"] == "no-store"
        inc = http.get("/api/v1/imported-incidents", params={"open": "true"},
                       headers={"Authorization": f"Bearer {desk.tokens['member']}"}).json()
        assert [i["id"] for i in inc["incidents"]] == ["INC-9"]


def test_no_identity_in_the_store_after_the_lookups(desk: Desk) -> None:
    folder = Path(desk.settings.db).parent
    blob = b"".join(p.read_bytes() for p in folder.iterdir()
                    if p.is_file() and p.name.startswith("shipwise.duckdb")
                    and not p.name.endswith((".key", ".session-secret")))
    assert ALICE.encode() not in blob and b"555 0100" not in blob
