"""Syncing a world through the fake GitHub gives the same DORA and flow figures as importing the
world's own canonical files (computed from its truth, not by the connector's mapping)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import copy_store
from tests.fakes.figures import figures
from tests.fakes.github import FakeGitHub, World, org_file, sync_into

from shipwise.app.owner import import_paths
from shipwise.config import GitHubSource, Settings, WorkflowRule, load_settings

TOKEN = "ghp_fake_token"


def incidents_file(world: World, folder: Path) -> Path:
    path = folder / "incidents.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in world.canonical_incidents()))
    return path


def github_source(gh: FakeGitHub, world: World, **kw: Any) -> GitHubSource:
    return GitHubSource(base_url=gh.base_url, repos=world.names, token_env="SHIPWISE_TEST_GH",
                        workflows=[WorkflowRule(workflow="deploy", job="ship-*")], **kw)


@pytest.mark.slow
def test_sync_equals_import_of_the_truth(settings: Settings, _empty_store: Path,
                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPWISE_TEST_GH", TOKEN)
    world = World.generate(repos=3, prs=60, seed=5)
    other = load_settings(db=copy_store(_empty_store, tmp_path / "files"))

    import_paths(other, [world.write_canonical(tmp_path / "truth")])
    import_paths(settings, [org_file(world, tmp_path / "org")])
    with FakeGitHub(world, token=TOKEN) as gh:
        sync_into(settings, github_source(gh, world))
    # incidents come from another source: the same file into the synced store
    report = import_paths(settings, [incidents_file(world, tmp_path / "org")])
    assert report.counts["incident"].inserted > 5 and not report.quarantined

    synced, imported = figures(settings), figures(other)
    assert synced["dora-service-month"], "no DORA rows: the comparison would prove nothing"
    counts = [r["counts"] for r in synced["dora-service-month"]]
    assert sum(c["deployments"] for c in counts) > 30
    assert sum(c["failed_deployments"] for c in counts) > 3
    assert sum(c["recovered_failures"] for c in counts) > 3
    flow = [r for r in synced["flow-month"] if r["counts"]["merged_prs"] and r["counts"]["delivered_prs"]
            and r["metrics"]["flow.cycle_time"] is not None]
    assert flow, f"no flow figures shown: {synced['flow-month']}"
    for name in imported:
        assert synced[name] == imported[name], name
