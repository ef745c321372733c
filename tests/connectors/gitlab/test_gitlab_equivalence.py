"""A world synced from the fake GitLab (``sync_scope`` + ``import_tables_into``) and the same world
imported as canonical files give the same DORA and flow figures."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import copy_store
from tests.fakes.figures import figures
from tests.fakes.gitlab import FakeGitLab, generate_world, make_source

from shipwise.app.context import init_store, pseudonymiser_for
from shipwise.app.ingest import import_paths_into, import_tables_into
from shipwise.app.owner import import_paths
from shipwise.config import Settings, WorkflowRule, load_settings
from shipwise.connectors.base import Batch
from shipwise.connectors.gitlab import GitLabConnector
from shipwise.connectors.sync import sync_scope
from shipwise.store.duckdb_store import Store
from shipwise.store.org import service_map


@pytest.mark.slow
def test_synced_world_equals_imported_world(settings: Settings, tmp_path: Path,
                                            _empty_store: Path) -> None:
    world = generate_world(seed=11, projects=3, mrs=50)
    files = world.write_canonical(tmp_path / "canonical")

    # B: the canonical files
    imported = load_settings(db=copy_store(_empty_store, tmp_path / "b"))
    init_store(imported)
    import_paths(imported, [files["org"], files["delivery"], files["incidents"]])

    # A: the organisation, then a sync of every project, then the incidents (they name deployments)
    with FakeGitLab(world) as gl:
        source = make_source(gl.url, world.paths(), tmp_path / "token",
                             jobs=[WorkflowRule(job="deploy-prod")])
        store = Store.open(settings.db)
        try:
            pseudo = pseudonymiser_for(store, settings)
            import_paths_into(store, pseudo, [files["org"]])
            connector = GitLabConnector(source, service_map(store), sleep=lambda s: None)

            def commit(batch: Batch) -> None:
                import_tables_into(store, pseudo, batch.records, "gitlab", kind="sync")

            for scope in connector.scopes():
                sync_scope(store, connector, scope, commit)
            requests = connector.stats.requests
            import_paths_into(store, pseudo, [files["incidents"]])
            quarantined = store.con.execute("SELECT count(*) FROM quarantine").fetchone()
        finally:
            connector.close()
            store.close()
    assert quarantined == (0,)
    synced, expected = figures(settings, ("week", "quarter")), figures(imported, ("week", "quarter"))
    assert synced == expected
    # the figures are not trivially equal: deployments, lead times, failures and recoveries
    rows = expected["dora-service-quarter"]
    assert {r["service"] for r in rows} == {"svc-0", "svc-1", "svc-2"}
    for r in rows:
        c = r["counts"]
        assert c["deployments"] > 10 and c["lead_time_commits"] > 100, r
        assert c["failed_deployments"] >= 1 and c["recovered_failures"] >= 1, r
        assert r["metrics"]["dora.change_lead_time"] > 0
    assert sum(r["metrics"]["dora.failed_deployment_attempts"] for r in rows) > 0
    assert all(r["counts"]["delivered_prs"] > 0 and r["counts"]["reviewed_prs"] > 0
               for r in expected["flow-quarter"])
    print(f"3 projects x 50 merge requests: first sync {requests} requests")
