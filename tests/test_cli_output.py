"""What the terminal shows: one format per kind of number (money with its currency, durations for
people, counts as integers, shares as percentages), tables that fit 100 and 120 columns without
breaking an identifier, raw values in JSON and CSV, and the evaluation's progress bar only on a
terminal. The commands run as a user runs them, on the sample organisation."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

from shipwise.cli.render import count, duration, emit_table, money, multiple, percent
from tests.conftest import SampleOrg, cli_env


@pytest.mark.parametrize(("value", "text"), [
    (45, "45 s"), (720, "12 min"), (8100, "2 h 15 min"), (7200, "2 h"), (3599, "1 h"),
    (86399, "24 h"), (276480, "3.2 d"), (None, None),
])
def test_durations_read_as_people_say_them(value: float | None, text: str | None) -> None:
    assert duration(value) == text


def test_money_carries_its_currency_and_counts_are_integers() -> None:
    assert money(470654.2, "USD") == "$470,654"
    assert money(-43763, "EUR") == "-€43,763"
    assert money(470654, "CHF") == "470,654 CHF"
    assert money(6275.4, "usd") == "$6,275"
    assert money(None, "USD") is None
    assert count(4.0) == "4" and count(1000) == "1,000"
    assert percent(0.1234) == "12.3%" and multiple(14.44) == "14.4×"


def test_a_table_too_wide_for_the_terminal_is_split_keyed_by_its_first_columns(
        capsys: pytest.CaptureFixture[str]) -> None:
    headers = ["team", "period", *[f"figure {i}" for i in range(12)], "flags"]
    rows = [("developer-platform", "2026-Q3", *[money(1234567 * i, "USD") for i in range(12)],
             "tension: change fail rate worse; tension: high severity tickets per deployment worse")]
    emit_table("Wide", headers, rows, key=2, width=100)
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 100
    assert out.count("developer-platform") >= 2  # the key repeated in every part
    assert "(continued)" in out
    for i in range(12):
        assert money(1234567 * i, "USD") in out  # every figure whole
    assert all(w in out.split() for w in ("tension:", "severity", "deployment"))


def _run(*args: str, cwd: Path, columns: int | None = None) -> str:
    env = cli_env(**({"COLUMNS": str(columns)} if columns else {}))
    res = subprocess.run([sys.executable, "-m", "shipwise", *args], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr
    return res.stdout


@pytest.fixture(scope="module")
def store(sample_org: SampleOrg, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the sample organisation; the folder the commands run in."""
    settings = sample_org.copy_to(tmp_path_factory.mktemp("cli-output"))
    return settings.db.parent


def _broken(out: str, identifiers: set[str]) -> list[str]:
    """Identifiers cut across lines: a table cell that holds only the start of one (checkou|t)."""
    cells = {c.strip() for line in out.splitlines() for c in re.split(r"[│┃]", line)}
    return sorted(c for c in cells for i in identifiers
                  if len(c) >= 3 and c != i and i.startswith(c) and c not in identifiers)


@pytest.mark.parametrize("width", [100, 120])
def test_cost_slo_and_initiatives_fit_the_terminal_with_one_format_per_kind(
        store: Path, sample_org: SampleOrg, width: int) -> None:
    teams = set(sample_org.teams)
    slos = {s["slo"] for s in json.loads(_run("slo", "--format", "json", cwd=store))["status"]}
    for args in (("cost",), ("slo",), ("cost", "initiatives")):
        out = _run(*args, cwd=store, columns=width)
        lines = out.splitlines()
        assert max(len(line) for line in lines) <= width, (args, out)
        assert not _broken(out, teams | slos), (args, _broken(out, teams | slos))
        # no bare number of four digits or more: money and counts have thousands separators
        assert not re.findall(r"(?<![\w,.$€£-])\d{4,}(?![\w,.:-])", out), (args, out)
    cost = _run("cost", cwd=store, columns=width)
    assert teams <= set(re.findall(r"[\w][\w-]*", cost))
    money_cells = re.findall(r"-?\$[\d,]+", cost)
    assert len(money_cells) > 100 and all(re.fullmatch(r"-?\$\d{1,3}(,\d{3})*", m)
                                          for m in money_cells)
    assert not re.search(r"\b\d+\.00\b", cost)  # counts are integers, not 4.00
    assert "Units delivered: deployments (" in cost.replace("\n", " ")
    initiatives = _run("cost", "initiatives", cwd=store, columns=width)
    assert re.search(r"\$\d{1,3},\d{3}", initiatives) and " … " in initiatives
    slo = _run("slo", cwd=store, columns=width)
    assert slos <= set(re.findall(r"[\w][\w.-]*", slo))
    assert re.search(r"\d+\.\d×", slo) and re.search(r"\d+\.\d+%", slo)


def test_durations_in_dora_read_as_people_say_them(store: Path) -> None:
    out = _run("metrics", "dora", cwd=store, columns=120)
    assert re.search(r"\d+\.\d d\b", out) or re.search(r"\d+ h( \d+ min)?\b", out)
    assert not re.search(r"\b\d+\.\dd\b|\b\d+m\b", out)  # not the terse 4.1d / 27m


def test_json_and_csv_keep_raw_values(store: Path) -> None:
    res = json.loads(_run("cost", "--format", "json", cwd=store))
    row = next(r for r in res["rows"] if r["cost_amount"] is not None)
    assert isinstance(row["cost_amount"], float | int) and isinstance(row["units"], int)
    assert res["currency"] == "USD"
    rows = list(csv.DictReader(io.StringIO(_run("cost", "--format", "csv", cwd=store))))
    assert rows and all("$" not in v for r in rows for v in r.values() if v)
    assert float(rows[0]["cost_amount"]) > 1000 and "," not in rows[0]["cost_amount"]
    slo = list(csv.DictReader(io.StringIO(_run("slo", "--format", "csv", cwd=store))))
    assert 0.9 < float(slo[0]["slo.attainment"]) <= 1  # a ratio, not "99.9%"


def _stderr_on_a_terminal(*args: str, cwd: Path) -> tuple[str, str]:
    """Run shipwise with stderr on a pseudo-terminal (stdout a pipe): (stdout, what the
    terminal received)."""
    leader, follower = pty.openpty()
    env = {**cli_env(), "COLUMNS": "100", "TERM": "xterm"}
    proc = subprocess.Popen([sys.executable, "-m", "shipwise", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=follower, text=True)
    os.close(follower)
    seen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    out = proc.stdout.read() if proc.stdout else ""
    proc.wait(timeout=300)
    os.close(leader)
    assert proc.returncode == 0, seen.decode(errors="replace")
    return out, seen.decode(errors="replace")


@pytest.mark.slow
def test_rca_eval_shows_progress_on_a_terminal_and_none_with_json(tmp_path: Path) -> None:
    args = ("rca", "eval", "scenarios", "--cases", "3", "--method", "naive")
    out, terminal = _stderr_on_a_terminal(*args, cwd=tmp_path)
    assert "overall" in out  # the table on stdout
    assert "/3" in terminal and "━" in terminal  # cases done of all, and the bar
    out, terminal = _stderr_on_a_terminal(*args, "--format", "json", cwd=tmp_path)
    assert json.loads(out)["overall"]["naive"]["n"] == 3
    assert terminal.strip() == ""
