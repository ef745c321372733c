"""The full investigation on demo-world cases: the right root cause and fault kind for every
fault in the library, red herrings ruled out with the reason, customer impact, a mitigation plan
with commands for the platform, runbooks cited when they apply, records stored and shown."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from shipwise.app.investigate import investigate_case
from shipwise.app.owner import investigate_case as store_case
from shipwise.demo.world import FAULT_KINDS
from shipwise.demo.world.scenarios import write_world_case
from shipwise.investigate.case import load_truth
from shipwise.store import investigations as stored
from shipwise.store.duckdb_store import Store
from tests.conftest import cli_env

# with -n 2 (pyproject: --dist loadgroup) one worker writes this module's cases for all of its tests
pytestmark = pytest.mark.xdist_group("engine-cases")

PARTS = ("prepare", "pre_validate", "apply", "post_validate", "rollback")


class _Cases(dict[str, Path]):
    """The world case of each fault kind (seed 101 + its index in FAULT_KINDS), written the first
    time a test asks for it, so the quick tier writes only the kinds its tests use."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def __missing__(self, kind: str) -> Path:
        path = write_world_case(self.root / kind, kind, seed=101 + FAULT_KINDS.index(kind))
        self[kind] = path
        return path


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _Cases(tmp_path_factory.mktemp("world"))


#: Kinds the quick tier investigates (their cases are written for other quick tests anyway); the
#: engine's accuracy on every other fault kind of the demo world is ``slow``.
QUICK_KINDS = ("bad_deploy", "config_change", "permission_revoked")


@pytest.mark.parametrize("fault", [k if k in QUICK_KINDS else pytest.param(k, marks=pytest.mark.slow)
                                   for k in FAULT_KINDS])
def test_every_fault_kind_is_found_with_its_cause(cases: dict[str, Path], fault: str) -> None:
    truth = load_truth(cases[fault])
    rec = investigate_case(cases[fault])
    root = rec["root_cause"]
    assert rec["status"] == "root_cause_found"
    assert (root["entity"], root["fault"]) == (truth["root_cause"], truth["fault"]), rec["hypotheses"][:3]
    if fault in ("bad_deploy", "config_change", "permission_revoked", "manual_host_session"):
        assert root["event"]["id"] == truth["event"]
    if fault == "manual_host_session":
        assert root["instance"] == truth["instance"]
    assert rec["key_observations"] and all(o["weight"] > 0 for o in rec["key_observations"])
    assert all(rec["mitigation"][p] for p in PARTS)
    assert "## Requirements" in rec["long_term_fix"]
    assert rec["root_cause"]["entity"] in {n["id"] for n in rec["topology"]["nodes"]}
    assert all(s["ok"] for s in rec["sources"])


def test_red_herrings_are_ruled_out_with_the_reason(tmp_path: Path) -> None:
    case = write_world_case(tmp_path / "c", "bad_deploy", seed=7,
                            herrings=["fresh_instance_cpu", "unrelated_deploy"])
    truth = load_truth(case)
    details = {h["kind"]: h for h in truth["red_herring_details"]}
    rec = investigate_case(case)
    assert rec["root_cause"]["entity"] == truth["root_cause"]
    by_entity = {r["entity"]: r for r in rec["ruled_out"]}
    deploy = next(r for r in rec["ruled_out"] if r["kind"] == "code_change"
                  and r["entity"] == details["unrelated_deploy"]["entity"])
    assert any(why in deploy["reason"] for why in ("stayed within its normal range",
                                                   "already anomalous", "dependency"))
    inst = details["fresh_instance_cpu"]["entity"]
    assert by_entity[inst]["kind"] == "instance_start"
    assert "launched" in by_entity[inst]["reason"] and "start-up" in by_entity[inst]["reason"]
    assert all(r["entity"] != truth["root_cause"] for r in rec["ruled_out"])


@pytest.mark.slow
def test_mitigation_commands_fit_the_platform(cases: dict[str, Path]) -> None:
    rec = investigate_case(cases["bad_deploy"])
    root, topo = rec["root_cause"], json.loads((cases["bad_deploy"] / "topology.json").read_text())
    node = next(n for n in topo["nodes"] if n["id"] == root["entity"])
    commands = " ".join(s.get("command", "") for s in rec["mitigation"]["apply"])
    if node["platform"]["type"] == "kubernetes":
        assert f"rollout undo deployment/{node['platform']['deployment']}" in commands
    else:
        assert "gh run rerun run-" in commands or "start-instance-refresh" in commands

    host = investigate_case(cases["manual_host_session"])
    truth = load_truth(cases["manual_host_session"])
    apply = " ".join(s.get("command", "") for s in host["mitigation"]["apply"])
    assert truth["instance"] in apply

    perm = investigate_case(cases["permission_revoked"])
    apply = " ".join(s.get("command", "") for s in perm["mitigation"]["apply"])
    assert "put-resource-policy" in apply or "GRANT" in apply

    churn = investigate_case(cases["instance_churn"])
    apply = " ".join(s.get("command", "") for s in churn["mitigation"]["apply"])
    assert "suspend-processes" in apply and "ReplaceUnhealthy" in apply


def test_customer_impact_counts_distinct_customers(cases: dict[str, Path]) -> None:
    rec = investigate_case(cases["bad_deploy"])
    t = rec["impact"]["traces"]
    assert 0 < t["customers_affected"] <= t["customers_seen"]
    assert 0 < t["failed_requests"] <= t["requests"]
    assert any(s["error_rate_during"] > s["error_rate_before"] for s in rec["impact"]["services"])
    assert "distinct customers" in rec["impact"]["summary"]


def test_runbooks_are_cited_only_when_they_apply(cases: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    case = tmp_path / "case"
    shutil.copytree(cases["bad_deploy"], case)
    root = load_truth(case)["root_cause"]
    shutil.rmtree(case / "runbooks")
    (case / "runbooks").mkdir()
    (case / "runbooks" / "match.md").write_text(
        f"---\ntitle: Roll back {root}\nservices: [{root}]\nfaults: [bad_deploy]\n---\n1. Undo.\n")
    (case / "runbooks" / "other.md").write_text(
        "---\ntitle: Elsewhere\nservices: [no-such-service]\n---\n1. Nothing.\n")
    (case / "runbooks" / "wrong-fault.md").write_text(
        f"---\ntitle: Leaks\nservices: [{root}]\nfaults: [memory_leak]\n---\n1. Restart.\n")
    rec = investigate_case(case)
    assert [r["title"] for r in rec["runbooks"]] == [f"Roll back {root}"]


def test_the_engine_never_reads_truth(cases: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    case = tmp_path / "case"
    shutil.copytree(cases["config_change"], case)
    before = investigate_case(case)
    (case / "truth.yaml").write_text("root_cause: [this is not even valid for the engine\n")
    after = investigate_case(case)
    for rec in (before, after):
        rec.pop("seconds")
        rec.pop("case")
        for s in rec["sources"]:
            s.pop("seconds")
        for st in rec["steps"]:  # a fetch step says how long its source took
            st.pop("seconds", None)
            st["text"] = st["text"].split(" in ")[0] if st["type"] == "fetch" else st["text"]
    assert before == after


def test_records_are_stored_listed_and_shown(cases: dict[str, Path], settings) -> None:
    rec = store_case(settings, cases["permission_revoked"])
    again = store_case(settings, cases["permission_revoked"])
    assert again["id"] == rec["id"]
    with Store.open(settings.db) as store:
        rows = stored.recent(store)
        got = stored.record(store, rec["id"])
    assert [r["id"] for r in rows] == [rec["id"]]  # the same alarm twice is one record
    assert rows[0]["root_cause_entity"] == rec["root_cause"]["entity"]
    assert got is not None
    assert got["root_cause"] == json.loads(json.dumps(rec["root_cause"]))


@pytest.mark.slow
def test_cli_investigate_case_json_and_text(cases: dict[str, Path], tmp_path: Path) -> None:
    env = cli_env()
    out = subprocess.run([sys.executable, "-m", "shipwise", "--db", str(tmp_path / "s.duckdb"),
                          "investigate", "--case", str(cases["bad_deploy"]), "--format", "json",
                          "--fix-spec", str(tmp_path / "fix.md")],
                         capture_output=True, text=True, env=env, cwd=tmp_path, check=True)
    rec = json.loads(out.stdout)
    assert rec["root_cause"]["entity"] == load_truth(cases["bad_deploy"])["root_cause"]
    assert (tmp_path / "fix.md").read_text().startswith("# ")
    text = subprocess.run([sys.executable, "-m", "shipwise", "investigate", "--case",
                           str(cases["bad_deploy"])], capture_output=True, text=True, env=env,
                          cwd=tmp_path, check=True).stdout
    for heading in ("Root cause", "Key observations", "Ruled out", "Customer impact",
                    "Mitigation plan", "Roll back the mitigation"):
        assert heading in text


def test_a_malformed_alarm_is_a_clear_error(tmp_path: Path) -> None:
    case = tmp_path / "bad"
    case.mkdir()
    (case / "alarm.json").write_text('{"metric": "error_rate"}')
    (case / "metrics.csv").write_text("timestamp,entity,metric,value\n1,a,m,1\n")
    res = subprocess.run([sys.executable, "-m", "shipwise", "investigate", "--case", str(case)],
                         capture_output=True, text=True, env=cli_env(), cwd=tmp_path)
    assert res.returncode == 1
    assert "malformed alarm" in res.stderr and "entity" in res.stderr


@pytest.mark.slow
def test_cli_investigate_an_alarm_file_from_configured_sources(cases: dict[str, Path],
                                                                tmp_path: Path) -> None:
    import yaml

    case = cases["slow_dependency"]
    (tmp_path / "shipwise.yaml").write_text(yaml.safe_dump({
        "db": str(tmp_path / "s.duckdb"),
        "investigate": {"sources": {
            "metrics": {"paths": [str(case / "metrics.parquet")]},
            "logs": {"paths": [str(case / "logs.jsonl")]},
            "events": {"paths": [str(case / "events.jsonl")]},
            "traces": {"paths": [str(case / "traces")]},
            "topology": {"path": str(case / "topology.json")},
            "runbooks": {"paths": [str(case / "runbooks")]},
            "prometheus": {"url": "ftp://nowhere"},  # refused by its check, never queried
        }}}))
    env = cli_env(SHIPWISE_CONFIG=str(tmp_path / "shipwise.yaml"))

    def run(*args: str) -> str:
        return subprocess.run([sys.executable, "-m", "shipwise", *args], capture_output=True,
                              text=True, env=env, cwd=tmp_path, check=True).stdout

    run("init")
    payload = json.loads((case / "alarm.json").read_text())["source"]  # Alertmanager-like alert
    body = {"version": "4", "status": "firing", "receiver": "shipwise", "groupLabels": {},
            "commonLabels": {}, "commonAnnotations": {}, "externalURL": "http://am",
            "groupKey": "{}:{}", "truncatedAlerts": 0, "alerts": [{
                "status": "firing", "labels": payload["labels"], "annotations": payload["annotations"],
                "startsAt": payload["startsAt"], "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prom/graph", "fingerprint": "abc123"}]}
    (tmp_path / "alert.json").write_text(json.dumps(body))
    rec = json.loads(run("investigate", "--alarm", str(tmp_path / "alert.json"), "--format", "json"))
    assert rec["root_cause"]["entity"] == load_truth(case)["root_cause"]
    status = {s["name"]: s for s in rec["sources"]}
    assert not status["prometheus"]["ok"] and "not an http" in status["prometheus"]["error"]
    assert all(s["ok"] for n, s in status.items() if n != "prometheus")
    listed = json.loads(run("investigations", "list", "--format", "json"))
    assert [r["id"] for r in listed] == [rec["id"]]
    shown = json.loads(run("investigations", "show", rec["id"], "--format", "json"))
    assert shown["root_cause"]["entity"] == rec["root_cause"]["entity"]
    # A person asks about the service and the time instead of forwarding an alarm.
    alarm = json.loads((case / "alarm.json").read_text())
    asked = json.loads(run("investigate", "--service", alarm["entity"], "--at", alarm["time"],
                           "--format", "json"))
    assert asked["alarm"]["source"] == {"kind": "manual"}
    assert asked["root_cause"]["entity"] == rec["root_cause"]["entity"]
