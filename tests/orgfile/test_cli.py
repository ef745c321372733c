"""``shipwise org``: the plan as a diff, problems compiler-style with their lines, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from shipwise.cli.main import cli
from shipwise.config import Settings
from tests.orgfile.conftest import ORG, snapshot


def run(settings: Settings, *args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, ["--db", str(settings.db), "org", *args])
    return res.exit_code, res.stdout, res.stderr


def test_apply_dry_run_apply_again_and_export(settings: Settings, tmp_path: Path) -> None:
    org = tmp_path / "org.yaml"
    org.write_text(ORG)
    before = snapshot(settings)
    code, out, _ = run(settings, "apply", str(org), "--dry-run")
    assert code == 0 and "Dry run: nothing was written" in out
    assert "+" in out and "ledger" in out and "bot:renovate[bot]" in out
    assert "acme.com" not in out  # people are shown by pseudonym
    assert snapshot(settings) == before

    code, out, _ = run(settings, "apply", str(org), "--format", "json")
    res = json.loads(out)
    assert code == 0 and res["applied"] and len(res["changes"]) == 9

    code, out, _ = run(settings, "apply", str(org))
    assert code == 0 and "no changes" in out

    changed = tmp_path / "changed.yaml"
    changed.write_text(ORG.replace("name: Pay API", "name: Payments API"))
    code, out, _ = run(settings, "apply", str(changed))
    assert code == 0 and "Pay API" in out and "→" in out and "Payments API" in out

    code, _, err = run(settings, "export", "-o", str(tmp_path / "out.yaml"))
    assert code == 0 and "2 teams" in err
    code, out, _ = run(settings, "apply", str(tmp_path / "out.yaml"))
    assert code == 0 and "no changes" in out


def test_problems_name_file_line_and_column_and_nothing_is_written(
        settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(ORG.replace("timezone: Europe/Lisbon", "timezone: Europe/Atlantis")
                   .replace("    location: Lisbon", "    locaton: Lisbon"))
    before = snapshot(settings)
    for args in (["apply", str(bad)], ["check", str(bad)]):
        code, out, err = run(settings, *args)
        lines = ORG.splitlines()
        tz = lines.index("    timezone: Europe/Lisbon") + 1
        loc = lines.index("    location: Lisbon") + 1
        assert code == 1 and out == ""
        assert f"{bad}:{tz}:15: error: timezone: 'Europe/Atlantis' is not an IANA time zone" in err
        assert f"{bad}:{loc}:5: error: unknown key 'locaton'" in err
        assert "2 problem(s); nothing was written." in err
    assert snapshot(settings) == before


def test_check_needs_no_store(tmp_path: Path) -> None:
    org = tmp_path / "org.yaml"
    org.write_text(ORG)
    res = CliRunner().invoke(cli, ["--db", str(tmp_path / "none.duckdb"), "org", "check",
                                   str(org)], env={"SHIPWISE_TOKEN": ""})
    assert res.exit_code == 0, res.output
    assert "valid — 2 org units, 2 teams, 3 people, 2 services" in res.stdout
    assert not (tmp_path / "none.duckdb").exists()
