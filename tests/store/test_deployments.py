from __future__ import annotations

from shipwise.store.deployments import shipped_between
from shipwise.store.duckdb_store import Store
from tests.store.conftest import NOW

T0 = NOW.timestamp()


def test_successful_deployments_with_their_commits_and_the_one_before(store: Store) -> None:
    store.con.execute(
        "INSERT INTO deployment (id, service, environment, started_at, finished_at, status, "
        "version, kind, manual_interventions, row_hash, ingested_at) VALUES "
        "('d1', 'pay-api', 'production', to_timestamp(?) - INTERVAL 1 MINUTE, to_timestamp(?), "
        " 'success', '1.0', 'deploy', 0, 'h', now()), "
        "('d2', 'pay-api', 'production', to_timestamp(?) - INTERVAL 1 MINUTE, to_timestamp(?), "
        " 'success', '1.1', 'deploy', 0, 'h', now()), "
        "('d3', 'pay-api', 'production', to_timestamp(?), to_timestamp(?), 'failure', '1.2', "
        " 'deploy', 0, 'h', now()), "
        "('d4', 'pay-api', 'staging', to_timestamp(?), to_timestamp(?), 'success', '1.3', "
        " 'deploy', 0, 'h', now())",
        [T0, T0, T0 + 600, T0 + 600, T0 + 700, T0 + 700, T0 + 800, T0 + 800])
    store.con.execute(
        "INSERT INTO \"commit\" (sha, repo, author, author_is_bot, authored_at, committed_at, "
        "additions, deletions, row_hash, ingested_at) VALUES "
        "('c1', 'pay', 'a', false, to_timestamp(?), to_timestamp(?), 5, 1, 'h', now()), "
        "('c2', 'pay', 'a', false, to_timestamp(?), to_timestamp(?), 2, 2, 'h', now()), "
        "('c3', 'pay', 'a', false, to_timestamp(?), to_timestamp(?), 1, 0, 'h', now())",
        [T0 - 900, T0 - 900, T0 - 300, T0 - 300, T0 - 200, T0 - 200])
    store.con.execute("INSERT INTO deployment_commit (deployment_id, sha) VALUES ('d1', 'c1'), ('d2', 'c3'), "
                      "('d2', 'c2')")
    got = shipped_between(store, "production", T0 - 60, T0 + 3600)
    assert [d.id for d in got] == ["d1", "d2"]  # not the failure, not staging
    d2 = got[1]
    assert (d2.version, d2.previous_version, d2.commits, d2.additions, d2.deletions,
            d2.previous_commit, d2.finished_at) == ("1.1", "1.0", ("c2", "c3"), 3, 2, "c1",
                                                     T0 + 600)
    assert got[0].previous_version is None and got[0].previous_commit is None
    assert [d.id for d in shipped_between(store, "production", T0 + 1, T0 + 3600)] == ["d2"]
    assert shipped_between(store, "staging", T0, T0 + 700) == []
