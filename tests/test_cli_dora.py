"""`shipwise metrics dora` as a user runs it: the DORA 2025 groups, the DORA 2024 levels label and
the Quick Check 2025 view, in a real process over a real store."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.conftest import write_jsonl
from tests.metrics.test_dora import HISTORY
from tests.test_cli import run

WEEK = ["--grain", "week", "--since", "2025-06-30", "--until", "2025-07-06"]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    assert run("init", cwd=tmp_path).returncode == 0
    recs = [dict(r) for r in HISTORY]
    for r in recs:
        if r.get("type") == "team" and r["id"] == "payments":
            r["attributes"] = {"industry": "Insurance", "organization_size": "galactic"}
    write_jsonl(tmp_path / "h.jsonl", recs)
    res = run("import", "h.jsonl", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    return tmp_path


def test_table_groups_throughput_and_instability_and_labels_the_2024_levels(store: Path) -> None:
    # a terminal wide enough for one table (a narrower one splits it: tests/test_cli_output.py)
    res = run("metrics", "dora", "--team", "payments", *WEEK, cwd=store, env={"COLUMNS": "200"})
    assert res.returncode == 0, res.stderr
    header = res.stdout.splitlines()
    group_line = next(line for line in header if "Throughput" in line)
    # the group names head their columns: Throughput over deployment frequency, Instability
    # over change fail rate
    labels = next(line for line in header if "deploys/wk" in line)
    assert group_line.index("Throughput") == labels.index("deploys/wk")
    assert group_line.index("Instability") == labels.index("change fail")
    assert labels.index("recovery") < labels.index("change fail")  # recovery is throughput
    assert "DORA 2024" in group_line and "DORA 2024 levels" in res.stdout
    row = next(line for line in header if "2025-W27" in line)
    assert "50.0%" in row  # change fail rate, formatted in the table

    out = json.loads(run("metrics", "dora", "--team", "payments", *WEEK, "--format", "json",
                         cwd=store).stdout)
    assert out["groups"]["dora.change_fail_rate"] == "instability"
    assert out["rows"][0]["metrics"]["dora.change_fail_rate"] == 0.5  # raw, not formatted
    lines = run("metrics", "dora", "--team", "payments", *WEEK, "--format", "csv",
                cwd=store).stdout.splitlines()
    assert lines[0].endswith(",dora_2024_level")


def test_quick_check_view_scores_and_shows_the_benchmarks(store: Path) -> None:
    res = run("metrics", "dora", "--team", "payments", *WEEK, "--quick-check", cwd=store,
              env={"COLUMNS": "200"})
    assert res.returncode == 0, res.stderr
    out = res.stdout
    row = next(line for line in out.splitlines() if "2025-W27" in line)
    # 5/7 deployments a day -> 6.0; lead 13 h -> 8.0; recovery 3.5 h -> 8.0; 50 % -> 5.0;
    # rework 1/3 -> 6.7; overall 6.7
    cells = [c for c in row.split() if c not in ("│", "|")]
    assert cells[-6:] == ["6.0", "8.0", "8.0", "5.0", "6.7", "6.7"]
    assert "All industries" in out and "Insurance" in out
    assert "5.5 ± 2.4" in out and "4.8 ± 2.2" in out  # lead time: all industries, insurance
    assert "'galactic' is not one of the 2025 benchmark's" in out
    assert "infers no profile" in out and "dora-team/dora.dev" in out
    rows = list(csv.DictReader(io.StringIO(run(
        "metrics", "dora", "--team", "payments", *WEEK, "--quick-check", "--format", "csv",
        cwd=store).stdout)))
    cfr = next(r for r in rows if r["metric"] == "dora.change_fail_rate")
    assert (cfr["group"], float(cfr["value"]), float(cfr["answer"]), float(cfr["score"])) == (
        "instability", 0.5, 50.0, 5.0)
    assert {r["group"] for r in rows} == {"throughput", "instability"}
