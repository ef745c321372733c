"""The CLI as a user runs it: a real process, real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import cli_env, org, write_jsonl


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shipwise", *args], cwd=cwd, env=cli_env(**(env or {})),
                          capture_output=True, text=True, timeout=120)


def test_help_does_not_import_the_engine() -> None:
    code = "import sys; from shipwise.cli.main import cli; print(sorted(m for m in ('duckdb', 'pyarrow', 'rich', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=cli_env())
    assert out.stdout.strip() == "[]"


def test_errors_are_one_line_that_say_what_to_do(tmp_path: Path) -> None:
    res = run("metrics", "dora", cwd=tmp_path)
    assert res.returncode == 1
    assert res.stderr.strip().startswith("Error: no shipwise store at shipwise.duckdb")
    assert "shipwise init" in res.stderr and "Traceback" not in res.stderr
    res = run("metrics", "explain", "dora.nope", cwd=tmp_path)
    assert res.returncode == 1 and "shipwise metrics list" in res.stderr


@pytest.mark.slow
def test_init_import_quarantine_and_dora_from_the_command_line(tmp_path: Path) -> None:
    assert run("init", cwd=tmp_path).returncode == 0
    assert (tmp_path / "shipwise.duckdb").exists() and (tmp_path / "shipwise.duckdb.key").exists()
    recs = [*org(), {"type": "deployment", "id": "d1", "service": "pay-api", "environment": "production",
                     "started_at": "2025-07-01T10:00:00Z", "finished_at": "2025-07-01T10:05:00Z",
                     "status": "success"},
            {"type": "deployment", "id": "d2", "service": "pay-api"}]
    write_jsonl(tmp_path / "e.jsonl", recs)
    res = run("import", "e.jsonl", "--format", "json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["types"]["deployment"] == {"inserted": 1, "updated": 0, "unchanged": 0,
                                             "quarantined": 1, "duplicates": 0}
    res = run("import", "e.jsonl", cwd=tmp_path)
    assert "1 records quarantined" in res.stderr and "quarantine list" in res.stderr
    res = run("quarantine", "list", "--format", "json", cwd=tmp_path)
    assert json.loads(res.stdout)["total"] == 1
    res = run("metrics", "dora", "--grain", "week", "--format", "json", cwd=tmp_path)
    rows = json.loads(res.stdout)["rows"]
    assert rows[0]["team"] == "payments" and rows[0]["period"] == "2025-W27"
    res = run("metrics", "dora", "--format", "csv", cwd=tmp_path)
    assert res.stdout.splitlines()[0].startswith("team,period,dora.deployment_frequency")


def test_db_option_and_environment(tmp_path: Path) -> None:
    assert run("--db", "x/store.duckdb", "init", cwd=tmp_path).returncode == 0
    assert (tmp_path / "x" / "store.duckdb").exists()
    res = run("teams", cwd=tmp_path, env={"SHIPWISE_DB": str(tmp_path / "x" / "store.duckdb")})
    assert res.returncode == 0, res.stderr


@pytest.mark.slow
def test_demo_default_prints_dora_per_team(tmp_path: Path) -> None:
    res = run("demo", "--format", "json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    teams = {r["team"] for r in out["dora"]["rows"]}
    assert len(teams) >= 12
    assert out["events"] > 100_000
    again = run("demo", "--format", "json", cwd=tmp_path)
    counts = json.loads(again.stdout)["import"]["types"]
    assert all(c["inserted"] == 0 and c["updated"] == 0 for c in counts.values())  # same seed, same state


@pytest.mark.slow
def test_cost_and_report_from_the_command_line(tmp_path: Path) -> None:
    assert run("demo", "--scale", "0.3", cwd=tmp_path).returncode == 0
    res = run("cost", "--format", "json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["rows"] and out["organisation"] and out["currency"] == "USD"
    res = run("cost", "initiatives", "--format", "json", cwd=tmp_path)
    assert {i["kind"] for i in json.loads(res.stdout)["initiatives"]} >= {"ci-cd"}
    res = run("report", "cost", "--out", "r.html", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    html = (tmp_path / "r.html").read_text()
    assert "Cost to Serve Software" in html and "https://" not in html
    res = run("report", "cost", "--out", "r.pdf", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")
    res = run("report", "cost", "--out", "r.docx", cwd=tmp_path)
    assert res.returncode == 1 and "FILE.html or FILE.pdf" in res.stderr


def test_rca_rank_on_a_case_directory(tmp_path: Path) -> None:
    from shipwise.investigate.petshop import load_issue, write_case

    issue = (Path(__file__).resolve().parents[2] / "shared" / "datasets" / "petshop" / "dataset"
             / "temporal_traffic1" / "test" / "issue_0")
    case, truth = load_issue(issue)
    write_case(case, tmp_path / "case", root_cause=truth)
    res = run("rca", "rank", str(tmp_path / "case"), "--method", "naive", "--format", "json",
              cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["alarm"]["entity"] == "PetSite" and out["method"] == "naive"
    assert len(out["ranking"]) == 10 and all(r["evidence"] for r in out["ranking"])
    scores = [r["score"] for r in out["ranking"]]
    assert scores == sorted(scores, reverse=True)
    res = run("rca", "rank", str(tmp_path), cwd=tmp_path)  # not a case directory
    assert res.returncode == 1 and "alarm.json" in res.stderr
