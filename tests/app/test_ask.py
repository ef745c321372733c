"""The ask door (docs/ask.md) over a real store: answers, re-scoping with linked records, access,
the optional LLM against a local fake OpenAI-compatible endpoint, and the API, CLI, web and
MCP faces of the same door."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipwise.app import ask, incidents
from shipwise.app.caller import Principal
from shipwise.app.context import open_store
from shipwise.app.owner import investigate_case
from shipwise.app.tokens import create_token
from shipwise.config import LlmSettings, Settings
from shipwise.demo.world.scenarios import write_world_case
from shipwise.errors import ForbiddenError, InputError, NotFoundError
from shipwise.server import create_app
from tests.app.conftest import caller_of, log_rows
from tests.conftest import cli_env, serve_app
from tests.fakes.openai import KEY, FakeOpenAI


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(write_world_case(tmp_path_factory.mktemp("ask-case") / "case", "bad_deploy",
                                 seed=7, history_seconds=1800.0))


@pytest.fixture
def stored(settings: Settings, case: Path) -> tuple[Settings, str]:
    record = investigate_case(settings, case)
    return settings, str(record["id"])


def test_answers_come_from_the_stored_record_and_are_logged(stored: tuple[Settings, str]) -> None:
    settings, inv = stored
    with caller_of(settings) as c:
        got = ask.ask(c, inv, "  how many   customers were affected? ")
    assert got.answered and got.intent == "impact" and got.question == "how many customers were affected?"
    assert got.answer.startswith("11 distinct customers were affected")
    assert all(f.ref for f in got.facts) and got.rescoped is None and got.prose is None
    row = log_rows(settings)[-1]
    assert (row["action"], row["subject"], row["allowed"]) == (
        "investigations.read", f"investigation:{inv}", True)


def test_bad_questions_and_unknown_investigations(stored: tuple[Settings, str]) -> None:
    settings, inv = stored
    with caller_of(settings) as c:
        with pytest.raises(InputError, match="empty question"):
            ask.ask(c, inv, "   ")
        with pytest.raises(InputError, match="longer than"):
            ask.ask(c, inv, "why " * 200)
        with pytest.raises(NotFoundError, match="no investigation 'inv-nope'"):
            ask.ask(c, "inv-nope", "when did it start?")
        got = ask.ask(c, inv, "what's the weather in Paris?")
    assert not got.answered and got.suggestions and got.facts == []


def test_only_those_who_may_read_the_investigation_may_ask(stored: tuple[Settings, str]) -> None:
    settings, inv = stored
    for who in (Principal("exec", None, "tok-e", "e"), Principal("member", "payments", "tok-m", "m")):
        with caller_of(settings, who) as c, pytest.raises(ForbiddenError):
            ask.ask(c, inv, "when did it start?")
    assert log_rows(settings)[-1]["allowed"] is False


def test_rescoping_reruns_narrowed_and_links_both_records(stored: tuple[Settings, str]) -> None:
    settings, inv = stored
    with caller_of(settings) as c:
        got = ask.ask(c, inv, "last 30 minutes")
        assert got.intent == "rescope" and got.rescoped is not None
        child = got.rescoped.id
        assert child.startswith(inv + "-s") and got.rescoped.parent_id == inv
        assert got.rescoped.same_root_cause and got.rescoped.kind == "window"
        assert any(f.ref == f"/investigations/{child}" for f in got.facts)
        rec = incidents.investigation(c, child).model_dump()
        assert rec["parent"]["id"] == inv and rec["parent"]["question"] == "last 30 minutes"
        assert rec["window"]["end"] - rec["window"]["start"] == pytest.approx(1800)
        assert rec["status"] == "root_cause_found" and rec["root_cause"]["entity"] == "catalog"
        # asked again: the same child, replaced, one link
        again = ask.ask(c, inv, "Last 30 minutes")
        assert again.rescoped is not None and again.rescoped.id == child
        links = ask.rescoped(c, inv)
        assert [(x.id, x.relation) for x in links] == [(child, "child")]
        assert [(x.id, x.relation) for x in ask.rescoped(c, child)] == [(inv, "parent")]
        # a question on the child is answered from the child's record
        assert ask.ask(c, child, "what's the root cause?").intent == "root_cause"
        db = ask.ask(c, inv, "what about the database?")
        assert db.rescoped is not None and db.rescoped.kind == "entities"
        assert db.rescoped.id != child
        kept = incidents.investigation(c, db.rescoped.id).model_dump()["parent"]["entities"]
        assert "catalog-db.products" in kept and "gateway" in kept and "search" not in kept
        assert len(ask.rescoped(c, inv)) == 2
        assert {x["id"] for x in ask.ask(c, inv, "when did it start?").children} == {
            child, db.rescoped.id}


def test_a_narrowing_that_keeps_nothing_is_not_rerun(stored: tuple[Settings, str]) -> None:
    settings, inv = stored
    with caller_of(settings) as c:
        got = ask.ask(c, inv, "only us-east")
        assert got.rescoped is None and not got.answered
        assert got.rescope_note is not None and "labelled region eu-west-1" in got.rescope_note
        kept = ask.ask(c, inv, "focus on the most recent wave", rescope_allowed=False)
        assert kept.rescoped is None and "asked not to" in str(kept.rescope_note)
        assert ask.rescoped(c, inv) == []


def test_a_rescope_that_cannot_run_still_answers_from_the_record(
        stored: tuple[Settings, str], monkeypatch: pytest.MonkeyPatch) -> None:
    settings, inv = stored
    with open_store(settings) as store:  # the case directory is gone: the configured sources
        rec = json.loads(store.con.execute("SELECT record FROM investigation WHERE id = ?",
                                           [inv]).fetchone()[0])
        rec["case"] = "/nonexistent/case"
        store.con.execute("UPDATE investigation SET record = ? WHERE id = ?",
                          [json.dumps(rec), inv])
    off = settings.model_copy(update={"investigate": settings.investigate.model_copy(update={
        "sources": settings.investigate.sources.model_copy(update={"store": settings.investigate
                                                                   .sources.store.model_copy(
                                                                       update={"enabled": False})})})})
    with caller_of(off) as c:
        got = ask.ask(c, inv, "how long did it last? only the last 30 minutes")
    assert got.rescoped is None and got.answered and got.intent == "duration"
    assert "not re-run: no evidence sources configured" in str(got.rescope_note)


def test_old_records_show_their_steps(stored: tuple[Settings, str]) -> None:
    settings, inv = stored
    with open_store(settings) as store:
        row = store.con.execute("SELECT record FROM investigation WHERE id = ?", [inv]).fetchone()
        rec = json.loads(row[0])
        rec.pop("steps")
        store.con.execute("UPDATE investigation SET record = ? WHERE id = ?", [json.dumps(rec), inv])
    with caller_of(settings) as c:
        steps = incidents.investigation(c, inv).model_dump()["steps"]
    assert steps[0]["type"] == "plan" and steps[-1]["type"] == "root_cause"


# -- the optional LLM -----------------------------------------------------------------------------

def _with_llm(settings: Settings, url: str, **kw: Any) -> Settings:
    llm = LlmSettings(enabled=True, url=url + "/v1", model="fake-gpt", api_key_env="ASK_TEST_KEY",
                      **kw)
    return settings.model_copy(update={"llm": llm})


def test_llm_prose_is_shown_beside_the_facts(stored: tuple[Settings, str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    settings, inv = stored
    monkeypatch.setenv("ASK_TEST_KEY", KEY)
    with FakeOpenAI(lambda msgs: "Eleven customers were hit: 11 of 15 seen.") as fake, \
            caller_of(_with_llm(settings, fake.url)) as c:
        got = ask.ask(c, inv, "how many customers were affected?")
    assert got.prose is not None and got.prose.model == "fake-gpt"
    assert got.prose.text.startswith("Eleven customers")
    assert got.answer.startswith("11 distinct customers") and got.facts  # always beside it
    body = fake.bodies[0]
    assert body["model"] == "fake-gpt" and body["temperature"] == 0 and body["stream"] is False
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "Use ONLY the facts" in body["messages"][0]["content"]
    assert "11 distinct customers affected of 15 seen" in body["messages"][1]["content"]


def test_an_open_question_goes_to_the_llm_with_the_records_main_facts(
        stored: tuple[Settings, str], monkeypatch: pytest.MonkeyPatch) -> None:
    settings, inv = stored
    monkeypatch.setenv("ASK_TEST_KEY", KEY)
    with FakeOpenAI(lambda msgs: "The cache codec change in catalog 2.9.0 broke reads.") as fake, \
            caller_of(_with_llm(settings, fake.url)) as c:
        got = ask.ask(c, inv, "could a feature toggle have done this instead?")
    assert not got.answered and got.answer.startswith("I can't answer that")  # still honest
    assert got.prose is not None and got.prose.open_question
    assert got.prose.text.startswith("The cache codec change")
    assert any("catalog 2.8.0 → 2.9.0" in f.text for f in got.facts)  # shown beside it
    assert all(f.ref for f in got.facts)
    sent = fake.bodies[0]["messages"][1]["content"]
    assert "11 distinct customers affected of 15 seen" in sent and "why not:" in sent


@pytest.mark.parametrize("case_", ["down", "slow", "bad key", "invents figures", "not json"])
def test_llm_failures_fall_back_to_the_deterministic_answer(
        stored: tuple[Settings, str], monkeypatch: pytest.MonkeyPatch, case_: str) -> None:
    settings, inv = stored
    monkeypatch.setenv("ASK_TEST_KEY", "sk-wrong" if case_ == "bad key" else KEY)
    reply = "About 250 customers were affected." if case_ == "invents figures" else "ok"
    with FakeOpenAI(lambda msgs: reply, delay=1.0 if case_ == "slow" else 0.0) as fake:
        if case_ == "down":
            fake.fail(r"/chat/completions", 503)
        if case_ == "not json":
            fake.fail(r"/chat/completions", 200, body=b"<html>proxy</html>")
        with caller_of(_with_llm(settings, fake.url, timeout_seconds=0.3)) as c:
            got = ask.ask(c, inv, "how many customers were affected?")
    assert got.prose is None and got.prose_error
    assert got.answered and got.answer.startswith("11 distinct customers")
    expected = {"down": "HTTP 503", "slow": "Timeout", "bad key": "HTTP 401",
                "invents figures": "figures that are not in the record: 250",
                "not json": "no chat completion"}[case_]
    assert expected in got.prose_error
    assert KEY not in got.prose_error


def test_llm_is_off_by_default_and_never_called(stored: tuple[Settings, str]) -> None:
    settings, inv = stored
    assert not settings.llm.active
    with FakeOpenAI(lambda msgs: "never") as fake, caller_of(settings) as c:
        assert ask.ask(c, inv, "when did it start?").prose is None
    assert fake.bodies == []


# -- the faces of the door ------------------------------------------------------------------------

def test_api_cli_web_and_mcp_answer_alike(stored: tuple[Settings, str]) -> None:
    settings, inv = stored
    with open_store(settings) as store:
        admin = create_token(store, "ask-admin", "admin")["token"]
        execu = create_token(store, "ask-exec", "exec")["token"]
    cli = subprocess.run([sys.executable, "-m", "shipwise", "--db", str(settings.db), "ask", inv,
                          "when", "did", "it", "start?", "--format", "json"],
                         capture_output=True, text=True, env=cli_env(), timeout=120)
    assert cli.returncode == 0, cli.stderr
    from_cli = json.loads(cli.stdout)
    assert from_cli["intent"] == "start" and from_cli["answer"].startswith("It started at")
    nope = subprocess.run([sys.executable, "-m", "shipwise", "--db", str(settings.db), "ask", inv,
                           "what's the weather?"], capture_output=True, text=True, env=cli_env(),
                          timeout=120)
    assert nope.returncode == 2 and "can't answer that from the record" in nope.stdout
    with serve_app(create_app(settings)) as url:
        auth = {"Authorization": f"Bearer {admin}"}
        api = httpx.post(f"{url}/api/v1/investigations/{inv}/ask", headers=auth,
                         json={"question": "when did it start?"}, timeout=30)
        assert api.status_code == 200, api.text
        assert api.json()["answer"] == from_cli["answer"]
        assert api.json()["facts"] == from_cli["facts"]
        refused = httpx.post(f"{url}/api/v1/investigations/{inv}/ask",
                             headers={"Authorization": f"Bearer {execu}"},
                             json={"question": "when did it start?"}, timeout=30)
        assert refused.status_code == 403
        bad = httpx.post(f"{url}/api/v1/investigations/{inv}/ask", headers=auth,
                         json={"question": ""}, timeout=30)
        assert bad.status_code in (400, 422)
        spec = httpx.get(f"{url}/openapi.json", timeout=30).json()
        assert "/api/v1/investigations/{inv_id}/ask" in spec["paths"]
        fragment = httpx.post(f"{url}/investigations/{inv}/ask", timeout=30,
                              headers={**auth, "HX-Request": "true"},
                              data={"question": "which alarm fired?"})
        assert fragment.status_code == 200
        assert 'data-intent="alarms"' in fragment.text and "GatewayErrorRate" in fragment.text
        assert "<html" not in fragment.text
        page = httpx.post(f"{url}/investigations/{inv}/ask", headers=auth, timeout=30,
                          data={"question": "which alarm fired?"})
        assert page.status_code == 200 and "<html" in page.text
        assert "GatewayErrorRate" in page.text and "How it was investigated" in page.text
