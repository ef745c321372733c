"""Follow-up questions answered from an investigation record (docs/ask.md): the fixed list of 30
on-call questions, honest refusals, and the re-scoping parser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shipwise.app.investigate import investigate_case
from shipwise.demo.world.scenarios import write_world_case
from shipwise.investigate.ask import CANNOT, answer
from shipwise.investigate.rescope import parse_narrowing, waves
from tests.investigate.ask_cases import grade, load_questions

QUESTIONS = load_questions()


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    case = write_world_case(tmp_path_factory.mktemp("ask") / "case", "bad_deploy", seed=7,
                            history_seconds=1800.0)
    rec = investigate_case(case)
    assert rec["status"] == "root_cause_found" and rec["root_cause"]["entity"] == "catalog"
    return rec


def test_the_list_holds_30_distinct_questions() -> None:
    assert len(QUESTIONS) == 30
    assert len({q["q"] for q in QUESTIONS}) == 30


@pytest.mark.parametrize("item", QUESTIONS, ids=[q["q"] for q in QUESTIONS])
def test_on_call_question_is_answered_from_the_record(record: dict[str, Any],
                                                      item: dict[str, Any]) -> None:
    got = answer(record, item["q"])
    assert grade(item, got) == [], got


@pytest.mark.parametrize("question", ["What's the weather in Paris?",
                                      "Who is the worst engineer on the team?",
                                      "asdf qwerty"])
def test_a_question_the_record_cannot_answer_says_so_with_suggestions(
        record: dict[str, Any], question: str) -> None:
    got = answer(record, question)
    assert got["answered"] is False and got["answer"] == CANNOT
    assert got["facts"] == []
    assert "When did it start?" in got["suggestions"]


def test_an_entity_named_is_answered_from_what_the_record_says_of_it(
        record: dict[str, Any]) -> None:
    got = answer(record, "and search?")
    assert got["intent"] == "entity" and got["answered"]
    assert "search was anomalous" in got["answer"]
    assert any("symptom" in f["text"] for f in got["facts"])
    db = answer(record, "is the database ok?")
    assert db["intent"] == "entity"
    assert "none of them was anomalous" in db["answer"]
    assert "catalog-db.products" in db["answer"]


def test_an_inconclusive_record_says_there_is_no_root_cause(record: dict[str, Any]) -> None:
    rec = {**record, "status": "inconclusive", "root_cause": None, "mitigation": None,
           "long_term_fix": None, "key_observations": [],
           "gaps": [{"source": "logs", "what": "no logs", "how": "set logs.paths"}]}
    assert answer(rec, "what's the root cause?")["answer"].startswith("No root cause was found")
    assert answer(rec, "how do I mitigate it?")["answer"].startswith("No mitigation plan")
    gaps = answer(rec, "what are the gaps?")
    assert "no logs — how to connect it: set logs.paths" in gaps["facts"][0]["text"]


def test_steps_are_typed_and_show_the_data_fetched(record: dict[str, Any]) -> None:
    steps = record["steps"]
    types = [s["type"] for s in steps]
    assert types[:2] == ["plan", "plan"] and types[-1] == "root_cause"
    assert {"fetch", "observation", "finding"} <= set(types)
    fetched = {s["source"]: s for s in steps if s["type"] == "fetch"}
    assert fetched["metrics"]["size"]["series"] > 0
    assert "metrics.parquet" in fetched["metrics"]["query"]
    assert fetched["logs"]["size"]["log_lines"] > 0
    assert fetched["traces"]["size"]["spans"] > 0
    assert "catalog 2.8.0 → 2.9.0" in steps[-1]["text"]
    assert record["sources"][0]["size"]  # the record's sources carry their sizes too


def test_a_record_stored_before_steps_gets_them_rebuilt(record: dict[str, Any]) -> None:
    from shipwise.investigate.steps import steps_of

    old = {k: v for k, v in record.items() if k != "steps"}
    rebuilt = steps_of(old)
    assert [s["type"] for s in rebuilt] == [s["type"] for s in record["steps"]]


def test_narrowing_questions(record: dict[str, Any]) -> None:
    end = record["window"]["end"]
    last = parse_narrowing("only the last 30 minutes please", record)
    assert last is not None and last.kind == "window"
    assert (last.start, last.end) == (end - 1800, end)
    wave = parse_narrowing("Focus on the most recent wave", record)
    assert wave is not None and wave.kind == "wave" and len(waves(record)) == 1
    assert wave.start is not None and wave.start < record["window"]["onset"]
    region = parse_narrowing("only us-east", record)
    assert region is not None and (region.kind, region.region) == ("region", "us-east")
    db = parse_narrowing("what about the database?", record)
    assert db is not None and db.kind == "entities"
    assert "catalog-db.products" in db.entities and "catalog" not in db.entities
    named = parse_narrowing("focus on recommendations", record)
    assert named is not None and named.entities == ("recommendations",)
    assert parse_narrowing("when did it start?", record) is None
    assert parse_narrowing("what about it?", record) is None
    assert last.child_id(record["id"]) == last.child_id(record["id"]) != wave.child_id(record["id"])


def test_waves_split_onsets_far_apart(record: dict[str, Any]) -> None:
    onset = record["window"]["onset"]
    rec = {**record, "anomalous_series": [*record["anomalous_series"],
                                          {"entity": "x", "metric": "m", "onset": onset - 3600}]}
    found = waves(rec)
    assert len(found) == 2 and found[0] == (onset - 3600, onset - 3600)
    wave = parse_narrowing("zoom in on the latest wave", rec)
    assert wave is not None and wave.start is not None and wave.start > onset - 3600




def test_a_case_without_traces_has_a_traces_gap_and_says_so(tmp_path: Path) -> None:
    import shutil

    case = write_world_case(tmp_path / "case", "bad_deploy", seed=7, history_seconds=1800.0)
    shutil.rmtree(Path(case) / "traces")
    rec = investigate_case(case)
    gap = [g for g in rec["gaps"] if g["source"] == "traces"]
    assert gap and "investigate.sources.traces.paths" in gap[0]["how"]
    got = answer(rec, "How many customers were affected?")
    assert got["answer"].startswith("No customer count: the traces held no customer ids")
    assert "traces" not in {s["source"] for s in rec["steps"] if s["type"] == "fetch"}


def test_a_region_narrowing_keeps_the_entities_of_that_region_and_the_path() -> None:
    import networkx as nx
    import numpy as np

    from shipwise.investigate.case import Series
    from shipwise.investigate.evidence import Evidence
    from shipwise.investigate.rescope import Narrowing, region_entities

    g = nx.DiGraph()
    g.add_node("edge", kind="gateway")
    g.add_node("api-us", kind="service", region="us-east-1")
    g.add_node("db-us", kind="table", platform={"type": "rds", "region": "us-east-1"})
    g.add_node("api-eu", kind="service", region="eu-west-1")
    g.add_edges_from([("edge", "api-us"), ("api-us", "db-us"), ("edge", "api-eu")],
                     relation="calls")
    s = Series(np.arange(3.0), np.zeros(3))
    ev = Evidence(topology=g, metrics={(e, "error_rate"): s for e in g})
    assert region_entities(g, "us-east") == {"api-us", "db-us"}
    narrowed, kept = Narrowing("region", "only us-east", region="us-east").apply(ev, "edge")
    assert kept == ["api-us", "db-us", "edge"]
    assert {e for e, _ in narrowed.metrics} == {"api-us", "db-us", "edge"}
    assert set(narrowed.topology.edges) == {("edge", "api-us"), ("api-us", "db-us")}
    _, none = Narrowing("region", "only ap-south", region="ap-south").apply(ev, "edge")
    assert none == []
