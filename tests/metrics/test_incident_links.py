"""Linking incidents to deployments (docs/incident-links.md): explicit ``caused_by`` beats a
deployment label, which beats a version label, which beats the team's time window; what each link
changes in the change fail rate and the time to restore; ``shipwise explain incident``; and an
incremental refresh that equals a full rebuild when a link moves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from shipwise.app.caller import Principal
from shipwise.app.explain import explain_deployment, explain_incident, list_incidents
from shipwise.app.owner import import_paths
from shipwise.cli.main import cli
from shipwise.config import Settings
from shipwise.errors import ForbiddenError, NotFoundError
from shipwise.metrics import facts, incremental
from shipwise.store.duckdb_store import Store
from tests.app.conftest import caller_of
from tests.conftest import org, write_jsonl

OTHER = Principal("member", "search", "tok-search", "search member")


def _dep(id_: str, version: str, finished: str, *, status: str = "success",
         env: str = "production", service: str = "pay-api") -> dict[str, Any]:
    return {"type": "deployment", "id": id_, "service": service, "environment": env,
            "status": status, "version": version, "started_at": finished,
            "finished_at": finished}


def _inc(id_: str, opened: str, resolved: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"type": "incident", "id": id_, "service": "pay-api", "severity": "sev2",
            "opened_at": opened, "resolved_at": resolved, **extra}


def records(window: float | None = None) -> list[dict[str, Any]]:
    recs = org((("payments", "pay-api"), ("search", "search-api")))
    if window is not None:
        for r in recs:
            if r.get("type") == "team" and r["id"] == "payments":
                r["attributes"] = {"incident_window_hours": window}
    recs += [
        _dep("d1", "1.0", "2025-03-01T10:00:00Z"),
        _dep("d2", "2.0", "2025-03-02T10:00:00Z"),
        _dep("d3", "3.0", "2025-03-03T10:00:00Z"),
        _dep("d3-retry", "3.0", "2025-03-03T11:00:00Z"),
        _dep("d4", "4.0", "2025-03-04T10:00:00Z", status="failure"),  # never reached production
        _dep("d-stg", "5.0", "2025-03-05T09:00:00Z", env="staging"),
        _dep("s1", "9.0", "2025-03-05T09:00:00Z", service="search-api"),
        # explicit wins over the label naming d2
        _inc("INC-E", "2025-03-01T12:00:00Z", "2025-03-01T14:00:00Z", caused_by="d1",
             labels=["deploy:d2"]),
        _inc("INC-L", "2025-03-02T11:00:00Z", "2025-03-02T13:00:00Z", labels=["deploy:d2"]),
        # a version label: the version's production deployment before the incident opened
        _inc("INC-V", "2025-03-03T12:00:00Z", "2025-03-03T18:00:00Z",
             labels=["team:pay", "version:3.0"]),
        # nothing but time: linked only when payments sets a window (d3-retry, 2 h before)
        _inc("INC-W", "2025-03-03T13:00:00Z", "2025-03-03T20:00:00Z"),
        # caused_by names a staging deployment; a label names a deployment that never reached
        # production: linked to nothing
        _inc("INC-N", "2025-03-05T10:00:00Z", "2025-03-05T11:00:00Z", caused_by="d-stg",
             labels=["deploy:d4"]),
    ]
    return recs


@pytest.fixture
def store(settings: Settings, tmp_path: Path) -> Settings:
    report = import_paths(settings, [write_jsonl(tmp_path / "records.jsonl", records())])
    assert not any(c.quarantined for c in report.counts.values())
    return settings


def _links(settings: Settings) -> dict[str, tuple[str, str, str | None]]:
    with Store.open(settings.db) as s:
        facts.ensure_fresh(s)
        rows = s.con.execute("SELECT incident_id, deployment_id, basis, label "
                             "FROM incident_link").fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def _dora(settings: Settings) -> tuple[dict[str, int], dict[str, Any]]:
    with Store.open(settings.db) as s:
        facts.ensure_fresh(s)
        failed = dict(s.con.execute("SELECT nkey, failed FROM dora_deploy_fact").fetchall())
        restored = {k: (str(a), str(b)) for k, a, b in s.con.execute(
            "SELECT nkey, reached_at, restored_at FROM dora_recovery_fact").fetchall()}
    return failed, restored


def test_precedence_explicit_then_labels_then_nothing_without_a_window(store: Settings) -> None:
    assert _links(store) == {
        "INC-E": ("d1", "explicit", None),
        "INC-L": ("d2", "label", "deploy:d2"),
        "INC-V": ("d3-retry", "label", "version:3.0"),
    }
    failed, restored = _dora(store)
    assert failed == {"pay-api@1.0": 1, "pay-api@2.0": 1, "pay-api@3.0": 1, "pay-api@4.0": 0,
                      "search-api@9.0": 0} | {k: v for k, v in failed.items() if k == "pay-api@4.0"}
    # restored when the last incident linked to the version was resolved
    assert restored["pay-api@2.0"] == ("2025-03-02 10:00:00", "2025-03-02 13:00:00")
    assert restored["pay-api@3.0"] == ("2025-03-03 10:00:00", "2025-03-03 18:00:00")


def test_a_team_window_links_the_latest_production_deployment_before(settings: Settings,
                                                                     tmp_path: Path) -> None:
    import_paths(settings, [write_jsonl(tmp_path / "r.jsonl", records(window=6))])
    links = _links(settings)
    # INC-W: the latest deployment of pay-api that reached production within 6 h: d3-retry
    assert links["INC-W"] == ("d3-retry", "window", None)
    assert "INC-N" not in links  # d-stg is staging, d4 never reached production, window empty
    _, restored = _dora(settings)
    assert restored["pay-api@3.0"] == ("2025-03-03 10:00:00", "2025-03-03 20:00:00")
    # a window too short reaches nothing
    import_paths(settings, [write_jsonl(tmp_path / "r2.jsonl", records(window=1.5))])
    assert "INC-W" not in _links(settings)


def test_incremental_refresh_moves_links_as_a_full_rebuild_would(store: Settings,
                                                                 tmp_path: Path) -> None:
    def snapshot() -> dict[str, list[tuple[Any, ...]]]:
        with Store.open(store.db) as s:
            return {t: sorted(s.con.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
                    for t, _ in facts.FACTS}

    def rebuilt() -> dict[str, list[tuple[Any, ...]]]:
        with Store.open(store.db) as s:
            facts.refresh(s)
        return snapshot()

    steps: list[list[dict[str, Any]]] = [
        # the team sets a window: INC-W is linked, pay-api@3.0 restores later
        [r for r in records(window=6) if r.get("type") == "team"],
        # INC-L's resolution moves (its link does not): the recovery of 2.0 moves with it
        [_inc("INC-L", "2025-03-02T11:00:00Z", "2025-03-02T23:00:00Z", labels=["deploy:d2"])],
        # INC-V loses its label: now the window links it (to d3-retry)
        [_inc("INC-V", "2025-03-03T12:00:00Z", "2025-03-03T18:00:00Z", labels=["team:pay"])],
        # a new deployment inside INC-W's window (after INC-V opened) takes INC-W over
        [_dep("d5", "3.1", "2025-03-03T12:30:00Z")],
    ]
    for i, step in enumerate(steps):
        with Store.open(store.db) as s:
            assert not facts.is_stale(s)
            generation = s.get_meta("facts_generation")
        import_paths(store, [write_jsonl(tmp_path / f"s{i}.jsonl", step)])  # refreshes
        with Store.open(store.db) as s:
            assert not facts.is_stale(s) and not incremental.pending(s)
            assert s.get_meta("facts_generation") == generation  # no full rebuild ran
        got = snapshot()
        assert got == rebuilt(), f"step {i}"
    links = _links(store)
    assert links["INC-W"] == ("d5", "window", None)
    assert links["INC-V"] == ("d3-retry", "window", None)
    failed, restored = _dora(store)
    assert failed["pay-api@3.1"] == 1 and failed["pay-api@3.0"] == 1  # by INC-V alone now
    assert restored["pay-api@3.0"][1] == "2025-03-03 18:00:00"
    assert restored["pay-api@2.0"][1] == "2025-03-02 23:00:00"


def test_explain_incident_says_why_and_what_it_changes(store: Settings) -> None:
    with caller_of(store) as c:
        e = explain_incident(c, "INC-E")
        v = explain_incident(c, "INC-V")
        n = explain_incident(c, "INC-N")
        w = explain_incident(c, "INC-W")
        d2 = explain_deployment(c, "d2")
        listed = list_incidents(c, "pay-api")
    assert e.link is not None and (e.link.deployment_id, e.link.basis) == ("d1", "explicit")
    assert e.reasons[0].startswith("linked to d1 by its caused_by field")
    assert e.link.seconds_before == 2 * 3600
    assert any("pay-api@1.0 counts as a failed deployment" in x for x in e.dora)
    assert v.link is not None and v.link.label == "version:3.0" and v.link.deployment_id == "d3-retry"
    assert "names version pay-api@3.0" in v.reasons[0]
    assert n.link is None
    assert any("'staging', not production" in x for x in n.reasons)
    assert any("deploy:d4" in x and "name no production deployment" in x for x in n.reasons)
    assert n.dora == ["nothing: no deployment's change fail rate or time to restore counts it"]
    assert w.link is None and any("sets no incident_window_hours" in x for x in w.reasons)
    # the deployments around it, latest first, none linked
    assert [x.id for x in w.candidates] == ["d3-retry", "d3"]  # 24 h before, without a window
    assert not any(x.linked for x in w.candidates)
    assert w.rules.deployment_label_prefix == "deploy:" and w.rules.window_hours is None
    assert [(i.id, i.basis) for i in d2.incidents] == [("INC-L", "label")]
    assert "d2 (label)" in " ".join(r.what for r in listed.rows)
    assert [r.id for r in listed.rows] == ["INC-N", "INC-W", "INC-V", "INC-L", "INC-E"]


def test_explain_incident_refuses_another_team_and_an_unknown_id(store: Settings) -> None:
    with caller_of(store, OTHER) as c, pytest.raises(ForbiddenError):
        explain_incident(c, "INC-E")
    with caller_of(store) as c, pytest.raises(NotFoundError, match="no incident 'nope'"):
        explain_incident(c, "nope")


def test_cli_explain_incident(store: Settings) -> None:
    runner = CliRunner()
    base = ["--db", str(store.db), "explain", "incident"]
    res = runner.invoke(cli, [*base, "INC-L"])
    assert res.exit_code == 0, res.output
    assert "linked to d2 by its label 'deploy:d2'" in res.output
    assert "d2 (pay-api@2.0, label)" in res.output
    res = runner.invoke(cli, [*base, "INC-W", "--format", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["link"] is None and data["candidates"][0]["id"] == "d3-retry"
    res = runner.invoke(cli, [*base, "--list"])
    assert res.exit_code == 0 and "INC-E" in res.output


def test_org_file_rules_are_validated(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from shipwise.orgfile.model import TeamSpec

    t = TeamSpec(id="pay", org_unit="eng", incident_window_hours=24,
                 incident_labels={"deployment": "deploy=", "version": None})
    assert t.all_attributes() == {"incident_window_hours": 24,
                                  "incident_labels": {"deployment": "deploy=", "version": None}}
    for bad in (0, -1, 721):
        with pytest.raises(ValidationError):
            TeamSpec(id="pay", org_unit="eng", incident_window_hours=bad)
    with pytest.raises(ValidationError):
        TeamSpec(id="pay", org_unit="eng", incident_labels={"deploy": "x"})
