"""The doors that write (import, quarantine, git ingest, the demo, the cost report, storing an
investigation): a role that may not is refused before anything is written, and the action is one
access-log row — the same rules for a token in the CLI, a script as the store's owner, and tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shipwise.app import demo, git, incidents, ingest, reports
from shipwise.app.caller import LOCAL_ADMIN
from shipwise.app.investigate import investigate_case
from shipwise.config import Settings
from shipwise.demo.world.scenarios import write_world_case
from shipwise.errors import ForbiddenError
from shipwise.governance.access import Principal
from shipwise.store.duckdb_store import Store
from tests.conftest import org, write_jsonl
from tests.connectors.test_git_service import commit
from tests.connectors.test_git_service import git as run_git

from .conftest import caller_of, log_rows

MEMBER = Principal("member", "payments", "tok-m", "pay bot")
EXEC = Principal("exec", None, "tok-e", "cfo")


def counts(settings: Settings) -> dict[str, int]:
    with Store.open(settings.db) as store:
        return {t: store.count(t) for t in ("team", "service", "commit", "deployment")}


def test_import_is_an_admins_action_logged_once_and_never_double_counted(
        settings: Settings, tmp_path: Path) -> None:
    files = [write_jsonl(tmp_path / "org.jsonl", org((("payments", "pay-api"),
                                                      ("search", "search-api"))))]
    with caller_of(settings, MEMBER, "cli") as c, pytest.raises(ForbiddenError, match="admin"):
        ingest.import_paths(c, files)
    assert counts(settings)["team"] == 0  # refused before anything was read or written
    with caller_of(settings, LOCAL_ADMIN, "cli") as c:
        first = ingest.import_paths(c, files)
        again = ingest.import_paths(c, files)
    assert first.counts["team"].inserted == 2 and again.counts["team"].inserted == 0
    assert again.counts["team"].unchanged == 2 and counts(settings)["team"] == 2
    assert [(r["role"], r["action"], r["subject"], r["allowed"]) for r in log_rows(settings)] == [
        ("member", "admin.ingest", "import", False),
        ("admin", "admin.ingest", "import", True), ("admin", "admin.ingest", "import", True)]
    with caller_of(settings, MEMBER) as c, pytest.raises(ForbiddenError):
        ingest.quarantine_list(c)  # raw rejected lines can hold personal data
    with caller_of(settings) as c:
        assert ingest.quarantine_list(c)["total"] == 0


def test_git_ingest_and_the_demo_need_the_admin_role(settings: Settings, tmp_path: Path) -> None:
    repo = tmp_path / "pay-api"
    repo.mkdir()
    run_git(repo, "init", "-q", "-b", "main")
    commit(repo, "a.txt", "1\n")
    with caller_of(settings, EXEC, "cli") as c:
        with pytest.raises(ForbiddenError):
            git.ingest_git(c, repo)
        with pytest.raises(ForbiddenError):
            demo.run_demo(c, scale=0.05)
    assert counts(settings) == {"team": 0, "service": 0, "commit": 0, "deployment": 0}
    with caller_of(settings, LOCAL_ADMIN, "cli") as c:
        assert git.ingest_git(c, repo).commits_read == 1
    assert counts(settings)["commit"] == 1


def test_the_cost_report_is_an_org_cost_read(sample_settings: Settings, tmp_path: Path) -> None:
    with caller_of(sample_settings, MEMBER, "cli") as c, pytest.raises(ForbiddenError):
        reports.cost_report(c, tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()
    with caller_of(sample_settings, EXEC, "cli") as c:
        out = reports.cost_report(c, tmp_path / "r.html")
    assert out.exists() and "Cost to serve" in out.read_text()
    assert log_rows(sample_settings)[-1]["action"] == "org.cost"


def test_an_investigation_is_stored_only_for_whoever_may_start_one(
        sample_settings: Settings, tmp_path: Path) -> None:
    case = write_world_case(tmp_path / "case", "bad_deploy", seed=3, history_seconds=1800.0)
    record: dict[str, Any] = investigate_case(case)
    outsider = Principal("member", "nobody-team", "tok-x")
    with caller_of(sample_settings, outsider, "cli") as c, pytest.raises(ForbiddenError):
        incidents.store_investigation(c, record)  # no team owns the shop's services: admins only
    with caller_of(sample_settings, LOCAL_ADMIN, "cli") as c:
        stored = incidents.store_investigation(c, record)
        assert stored.id == record["id"]
        assert incidents.investigation(c, record["id"]).id == record["id"]
