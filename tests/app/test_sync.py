"""`shipwise sync` and `shipwise doctor` over configured sources (local git repositories here;
GitHub and GitLab against their fakes in tests/connectors/)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from shipwise.app.caller import Principal, local_caller
from shipwise.app.doctor import doctor
from shipwise.app.owner import import_paths
from shipwise.app.sync import sync_sources
from shipwise.config import Settings, load_settings
from shipwise.errors import ConfigError, ForbiddenError
from shipwise.store.duckdb_store import Store
from tests.connectors.test_git_service import commit, git
from tests.fakes.github import FakeGitHub, World, org_file


def _repo(root: Path, name: str) -> Path:
    repo = root / name
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "a.txt", f"{name}\n1\n2\n")  # another repository: other commits
    commit(repo, "a.txt", f"{name}\n1\n", when="2025-03-02T10:00:00+02:00")
    return repo


def _configure(settings: Settings, sources: list[dict[str, object]]) -> Settings:
    path = settings.db.parent / "shipwise.yaml"
    path.write_text(yaml.safe_dump({"sources": sources}))
    return load_settings(db=settings.db, config_file=path)


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shipwise", *args], capture_output=True,
                          text=True, timeout=120, env=env)


def test_sync_reads_every_source_then_only_what_changed(settings: Settings, tmp_path: Path) -> None:
    pay, search = _repo(tmp_path, "payments"), _repo(tmp_path, "search")
    s = _configure(settings, [{"kind": "git", "path": str(pay)},
                              {"kind": "git", "name": "search-git", "path": str(search)}])
    events: list[str] = []
    with local_caller(s) as c:
        first = sync_sources(c, progress=lambda e: events.append(e.kind))
    assert [(r.source, r.scope, r.status, r.incremental) for r in first.scopes] == [
        ("git", "payments", "ok", False), ("search-git", "search", "ok", False)]
    assert all(r.inserted == 2 for r in first.scopes) and first.refreshed
    assert events.count("scope") == 2 and events.count("done") == 2 and "batch" in events

    commit(pay, "b.txt", "x\n", when="2025-03-03T10:00:00Z")
    with local_caller(s) as c:
        again = sync_sources(c, ["git"])  # one source by name
    assert [(r.scope, r.incremental, r.inserted) for r in again.scopes] == [("payments", True, 1)]
    with Store.open(s.db) as store:
        assert store.count("commit") == 5  # 2 + 2 + 1: nothing counted twice
        assert store.get_meta("derived_stale") != "1"  # facts rebuilt once at the end


def test_a_failing_scope_is_recorded_and_the_others_go_on(settings: Settings, tmp_path: Path) -> None:
    pay = _repo(tmp_path, "payments")
    gone = _repo(tmp_path, "gone")
    s = _configure(settings, [{"kind": "git", "name": "gone", "path": str(gone)},
                              {"kind": "git", "path": str(pay)}])
    with local_caller(s) as c:
        sync_sources(c)
    subprocess.run(["rm", "-rf", str(gone)], check=True)
    (s.db.parent / "shipwise.yaml").write_text(yaml.safe_dump({"sources": [
        {"kind": "git", "name": "gone", "path": str(gone)}, {"kind": "git", "path": str(pay)}]}))
    res = _run("--db", str(s.db), "--config", str(s.db.parent / "shipwise.yaml"), "sync",
               "--format", "json")
    assert res.returncode == 1
    report = json.loads(res.stdout)
    status = {r["source"]: r["status"] for r in report["scopes"]}
    assert status["git"] == "ok" and status["gone"] != "ok"
    assert "Error: gone gone:" in res.stderr
    doc = _run("--db", str(s.db), "--config", str(s.db.parent / "shipwise.yaml"), "doctor")
    assert doc.returncode == 1 and "FIX" in doc.stdout


def test_an_unknown_source_is_named_with_the_configured_ones(settings: Settings,
                                                             tmp_path: Path) -> None:
    s = _configure(settings, [{"kind": "git", "path": str(_repo(tmp_path, "payments"))}])
    with local_caller(s) as c, pytest.raises(ConfigError, match="no source named 'gitlab' \\(git\\)"):
        sync_sources(c, ["gitlab"])


def test_doctor_says_what_to_do_and_never_prints_a_token(settings: Settings, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    s = _configure(settings, [{"kind": "github", "repos": ["acme/pay"], "token_env": "SW_TEST_GH"},
                              {"kind": "git", "path": str(_repo(tmp_path, "payments"))}])
    monkeypatch.delenv("SW_TEST_GH", raising=False)
    with local_caller(s) as c:
        report = doctor(c)
    problems = [p.problem or "" for p in report.problems]
    assert any("export SW_TEST_GH=<token>" in p for p in problems)
    assert any("shipwise org apply" in p for p in problems)  # no services: nothing attributable
    secret = "ghp_" + "s3cr3t" * 6
    monkeypatch.setenv("SW_TEST_GH", secret)
    with local_caller(s) as c:
        text = json.dumps(doctor(c).model_dump())
    assert secret not in text and "SW_TEST_GH=<token>" not in text


def test_a_member_may_not_sync(settings: Settings, tmp_path: Path) -> None:
    s = _configure(settings, [{"kind": "git", "path": str(_repo(tmp_path, "payments"))}])
    with (local_caller(s, Principal("member", "payments", "t1", "reader")) as c,
          pytest.raises(ForbiddenError)):
        sync_sources(c)
    with Store.open(s.db) as store:
        assert store.count("commit") == 0


def test_invalid_sources_are_reported_with_the_setting(tmp_path: Path) -> None:
    path = tmp_path / "shipwise.yaml"
    path.write_text(yaml.safe_dump({"sources": [{"kind": "github", "repos": ["not a repo"]}]}))
    with pytest.raises(ConfigError, match=r"sources\.0\.github\.repos"):
        load_settings(db=tmp_path / "x.duckdb", config_file=path)


def test_a_page_that_cannot_be_read_is_quarantined_and_the_next_sync_reads_it(
        settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world = World.generate(repos=1, prs=20, seed=2)
    import_paths(settings, [org_file(world, tmp_path / "org")])
    with FakeGitHub(world) as gh:
        monkeypatch.setenv("SW_GH_PAGE", gh.token or "")
        s = _configure(settings, [{"kind": "github", "base_url": gh.base_url, "repos": world.names,
                                   "token_env": "SW_GH_PAGE", "max_attempts": 2}])
        gh.truncated(r"graphql", times=1000)  # every GraphQL answer cut short
        with local_caller(s) as c:
            (broken,) = sync_sources(c).scopes
        assert broken.status == "terminal" and broken.quarantined == 1
        with Store.open(s.db) as store:
            rows = store.query("SELECT type, reason, source, raw FROM quarantine")
        assert [r["type"] for r in rows] == ["page"] and "malformed page" in rows[0]["reason"]
        assert rows[0]["raw"].startswith('{"data"') and world.names[0] in rows[0]["source"]
        gh.faults.clear()
        with local_caller(s) as c:
            (fixed,) = sync_sources(c).scopes
        assert fixed.status == "ok" and fixed.inserted > 20
