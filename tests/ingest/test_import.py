"""The canonical importer: formats, idempotency, quarantine, privacy, resumability."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shipwise.app.context import open_for_ingest
from shipwise.app.owner import import_paths, quarantine_list
from shipwise.config import Settings, load_settings
from shipwise.errors import InputError, StoreError
from shipwise.ingest import loader as loader_mod
from tests.conftest import org, write_jsonl

DEPLOY = {
    "type": "deployment", "id": "d1", "service": "pay-api", "environment": "production",
    "started_at": "2025-07-01T10:00:00+02:00", "finished_at": "2025-07-01T08:20:00Z",
    "status": "success", "commits": ["c1", "c2"], "version": "1.2", "region": "eu-west-1",
}
COMMIT = {
    "type": "commit", "sha": "c1", "repo": "pay", "author": "Ana.Silva@example.com",
    "authored_at": "2025-06-30T09:00:00-03:00", "committed_at": "2025-06-30T12:30:00Z",
    "additions": 10, "deletions": 2,
}


def dump(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    """Every data table's rows without ingest timestamps: the store's observable state (the
    access log records who imported, not what: every import is one more row; the facts' team
    versions are random tokens a cache compares, set by whichever refresh changed a team's rows
    — an import resumed after a crash refreshes more often than one that was not stopped)."""
    con = duckdb.connect(str(settings.db), read_only=True)
    out = {}
    for (table,) in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_name NOT IN "
        "('ingest_run', 'schema_migrations', 'calendar', 'meta', 'access_log', "
        "'facts_team_version') ORDER BY 1"
    ).fetchall():
        cols = [c for (c,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "AND column_name NOT IN ('ingested_at', 'quarantined_at') ORDER BY ordinal_position",
            [table]).fetchall()]
        out[table] = sorted(con.execute(
            f'SELECT {", ".join(chr(34) + c + chr(34) for c in cols)} FROM "{table}"'
        ).fetchall(), key=repr)
    con.close()
    return out


def test_jsonl_import_counts_and_same_input_twice_is_unchanged(settings: Settings, tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "e.jsonl", [*org(), COMMIT, DEPLOY])
    first = import_paths(settings, [f])
    assert {t: c.inserted for t, c in first.counts.items()} == {
        "org_unit": 1, "team": 1, "service": 1, "commit": 1, "deployment": 1}
    state = dump(settings)
    second = import_paths(settings, [f])
    assert all(c.inserted == c.updated == 0 for c in second.counts.values())
    assert sum(c.unchanged for c in second.counts.values()) == 5
    assert dump(settings) == state


def test_changed_record_is_updated_in_place(settings: Settings, tmp_path: Path) -> None:
    import_paths(settings, [write_jsonl(tmp_path / "a.jsonl", [*org(), DEPLOY])])
    changed = {**DEPLOY, "status": "rolled_back", "commits": ["c1"]}
    rep = import_paths(settings, [write_jsonl(tmp_path / "b.jsonl", [changed])])
    assert rep.counts["deployment"].updated == 1
    con = duckdb.connect(str(settings.db), read_only=True)
    assert con.execute("SELECT status FROM deployment").fetchall() == [("rolled_back",)]
    assert con.execute("SELECT sha FROM deployment_commit").fetchall() == [("c1",)]


def test_instants_are_stored_in_utc(settings: Settings, tmp_path: Path) -> None:
    import_paths(settings, [write_jsonl(tmp_path / "a.jsonl", [*org(), COMMIT, DEPLOY])])
    con = duckdb.connect(str(settings.db), read_only=True)
    (authored, committed), = con.execute('SELECT authored_at, committed_at FROM "commit"').fetchall()
    assert str(authored) == "2025-06-30 12:00:00" and str(committed) == "2025-06-30 12:30:00"
    (started,), = con.execute("SELECT started_at FROM deployment").fetchall()
    assert str(started) == "2025-07-01 08:00:00"


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({**DEPLOY, "finished_at": None}, "missing finished_at"),
        ({**DEPLOY, "finished_at": "2025-07-01T08:20:00"}, "finished_at: expected an ISO-8601 instant"),
        ({**DEPLOY, "finished_at": "yesterday"}, "finished_at: expected an ISO-8601 instant"),
        ({**DEPLOY, "finished_at": "2025-07-01T07:00:00Z"}, "negative span: finished_at before started_at"),
        ({**DEPLOY, "service": "ghost"}, "unknown service (service)"),
        ({**DEPLOY, "status": "exploded"}, "status: not one of success|failure|rolled_back"),
        ({**DEPLOY, "manual_interventions": -2}, "manual_interventions: negative"),
        ({**DEPLOY, "manual_interventions": 1.5}, "manual_interventions: expected an integer"),
        ({**COMMIT, "additions": "many"}, "additions: expected an integer"),
        ({"type": "incident", "id": "i", "service": "pay-api", "severity": "sev9",
          "opened_at": "2025-01-01T00:00:00Z", "caused_by": "nope"}, "unknown deployment (caused_by)"),
        ({"type": "cost", "team": "payments", "month": "2025-13", "category": "people",
          "amount": 1, "currency": "EUR"}, "month: expected a month YYYY-MM"),
        ({"type": "cost", "team": "payments", "month": "2025-01", "category": "people",
          "amount": -5, "currency": "EUR"}, "amount: negative"),
        ({"type": "cost", "team": "ghosts", "month": "2025-01", "category": "people",
          "amount": 5, "currency": "EUR"}, "unknown team (team)"),
        ({"type": "cost", "team": "payments", "month": "2025-01", "category": "snacks",
          "amount": 5, "currency": "EUR"}, "category: not one of people|infrastructure|tooling|other"),
    ],
)
def test_bad_records_are_quarantined_with_reason_and_the_rest_imported(
    settings: Settings, tmp_path: Path, record: dict[str, Any], reason: str
) -> None:
    good = {**DEPLOY, "id": "d-good"}
    rep = import_paths(settings, [write_jsonl(tmp_path / "e.jsonl", [*org(), record, good])])
    q = quarantine_list(settings)
    assert q["total"] == 1
    assert reason in q["records"][0]["reason"]
    assert json.loads(q["records"][0]["raw"])["type"] == record["type"]  # the record as read
    assert rep.counts["deployment"].inserted == 1  # the bad one never aborts the rest
    again = import_paths(settings, [tmp_path / "e.jsonl"])
    assert quarantine_list(settings)["total"] == 1  # the same bad record is kept once
    assert again.quarantined == 1


def test_unparseable_lines_and_unknown_types_are_kept(settings: Settings, tmp_path: Path) -> None:
    f = tmp_path / "e.jsonl"
    f.write_text('{"type":"org_unit","id":"eng","name":"E"}\n{oops\n\n[1,2]\n{"id":"x"}\n{"type":"rocket"}\n')
    rep = import_paths(settings, [f])
    reasons = {r["reason"]: r["line"] for r in quarantine_list(settings)["records"]}
    assert reasons == {"not valid JSON": 2, "not a JSON object": 4, "missing type": 5, "unknown type": 6}
    assert rep.counts["org_unit"].inserted == 1


def test_csv_one_type_per_file_with_lists_and_bad_rows(settings: Settings, tmp_path: Path) -> None:
    import_paths(settings, [write_jsonl(tmp_path / "o.jsonl", org())])
    f = tmp_path / "deployments.csv"
    f.write_text(
        "id,service,environment,started_at,finished_at,status,commits,version\n"
        "d1,pay-api,production,2025-07-01T08:00:00Z,2025-07-01T08:20:00Z,success,c1;c2,1.0\n"
        "d2,pay-api,production,2025-07-02T08:00:00Z,2025-07-02T08:20:00Z,success,,\n"
        "d3,pay-api,production,2025-07-03T08:00:00Z,2025-07-03T08:20:00Z,success,c3,2.0,EXTRA\n"
    )
    rep = import_paths(settings, [f])
    assert rep.counts["deployment"].inserted == 2
    q = quarantine_list(settings)
    assert q["total"] == 1 and q["records"][0]["reason"].startswith("CSV:")
    con = duckdb.connect(str(settings.db), read_only=True)
    assert con.execute("SELECT deployment_id, sha FROM deployment_commit ORDER BY 2").fetchall() == [
        ("d1", "c1"), ("d1", "c2")]


def test_csv_with_type_column_and_parquet(settings: Settings, tmp_path: Path) -> None:
    f = tmp_path / "mixed.csv"
    f.write_text("type,id,name,parent\norg_unit,eng,Engineering,\norg_unit,pay,Payments,eng\n")
    assert import_paths(settings, [f]).counts["org_unit"].inserted == 2
    t = pa.table({
        "id": ["payments"], "name": ["Payments"], "org_unit": ["pay"],
        "delivery_unit": ["pull_requests"], "attributes": ['{"location": "Lisbon"}'],
    })
    pq.write_table(t, tmp_path / "teams.parquet")
    assert import_paths(settings, [tmp_path / "teams.parquet"]).counts["team"].inserted == 1


def test_parquet_naive_timestamps_are_read_as_utc(settings: Settings, tmp_path: Path) -> None:
    import datetime as dt

    import_paths(settings, [write_jsonl(tmp_path / "o.jsonl", org())])
    t = pa.table({
        "id": ["d1"], "service": ["pay-api"], "environment": ["production"],
        "started_at": pa.array([dt.datetime(2025, 7, 1, 8)], pa.timestamp("us")),
        "finished_at": pa.array([dt.datetime(2025, 7, 1, 9)], pa.timestamp("us")),
        "status": ["success"], "commits": pa.array([["a", "b"]], pa.list_(pa.string())),
    })
    pq.write_table(t, tmp_path / "deployment.parquet")
    assert import_paths(settings, [tmp_path / "deployment.parquet"]).counts["deployment"].inserted == 1
    con = duckdb.connect(str(settings.db), read_only=True)
    assert str(con.execute("SELECT finished_at FROM deployment").fetchone()[0]) == "2025-07-01 09:00:00"  # type: ignore[index]


def test_duplicate_keys_in_one_input_keep_the_last(settings: Settings, tmp_path: Path) -> None:
    recs = [*org(), {**DEPLOY, "status": "failure"}, DEPLOY]
    rep = import_paths(settings, [write_jsonl(tmp_path / "e.jsonl", recs)])
    assert rep.counts["deployment"].inserted == 1 and rep.counts["deployment"].duplicates == 1
    con = duckdb.connect(str(settings.db), read_only=True)
    assert con.execute("SELECT status FROM deployment").fetchall() == [("success",)]


def test_people_are_pseudonymised_and_raw_ids_never_stored(settings: Settings, tmp_path: Path) -> None:
    recs = [*org(),
            {"type": "person", "id": "ana.silva@example.com", "team": "payments", "since": "2024-01-01"},
            {"type": "person", "id": "deploy-helper", "team": "payments", "since": "2024-01-01", "bot": True},
            COMMIT,
            {**COMMIT, "sha": "c2", "author": "renovate[bot]"},
            {**COMMIT, "sha": "c3", "author": "deploy-helper"},
            # a GitHub App's commit email: its local part ends in [bot]
            {**COMMIT, "sha": "c4", "author": "49699333+dependabot[bot]@users.noreply.github.com"},
            {"type": "page", "id": "pg1", "team": "payments", "person": "ANA.SILVA@example.com ",
             "at": "2025-07-01T03:00:00Z", "urgency": "high"}]
    import_paths(settings, [write_jsonl(tmp_path / "e.jsonl", recs)])
    con = duckdb.connect(str(settings.db), read_only=True)
    people = dict(con.execute("SELECT id, bot FROM person").fetchall())
    authors = dict(con.execute('SELECT sha, author FROM "commit"').fetchall())
    bots = dict(con.execute('SELECT sha, author_is_bot FROM "commit"').fetchall())
    human = next(p for p, bot in people.items() if not bot)
    assert human.startswith("p_") and authors["c1"] == human  # same person, same pseudonym
    assert con.execute("SELECT person FROM page").fetchone() == (human,)  # case/space-insensitive
    assert bots == {"c1": False, "c2": True, "c3": True, "c4": True}  # [bot]; declared bot
    assert authors["c2"] == "bot:renovate[bot]"
    con.close()
    raw = settings.db.read_bytes()
    assert b"ana.silva" not in raw.lower()  # nowhere in the database file


def test_a_different_key_is_refused(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPWISE_PSEUDONYM_KEY", "x" * 64)
    with pytest.raises(StoreError, match="different pseudonymisation key"):
        import_paths(settings, [write_jsonl(tmp_path / "e.jsonl", org())])


def test_unsupported_or_untyped_files_get_a_clear_error(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match="unsupported file type"):
        import_paths(settings, [tmp_path / "notes.txt"])
    (tmp_path / "stuff.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="cannot tell the record type"):
        import_paths(settings, [tmp_path / "stuff.csv"])


def test_crash_mid_import_then_rerun_equals_uninterrupted(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recs = [*org(), COMMIT, DEPLOY,
            {"type": "incident", "id": "i1", "service": "pay-api", "severity": "sev2",
             "opened_at": "2025-07-01T09:00:00Z", "caused_by": "d1"}]
    f = write_jsonl(tmp_path / "e.jsonl", recs)
    real = loader_mod.Loader._load_type

    def crash_on_deployment(self: loader_mod.Loader, rt: Any, report: Any) -> Any:
        if rt.name == "deployment":
            real(self, rt, report)  # the work is done inside the transaction …
            raise KeyboardInterrupt  # … and the process dies before it commits
        return real(self, rt, report)

    monkeypatch.setattr(loader_mod.Loader, "_load_type", crash_on_deployment)
    with pytest.raises(KeyboardInterrupt):
        import_paths(settings, [f])
    con = duckdb.connect(str(settings.db), read_only=True)
    assert con.execute("SELECT count(*) FROM deployment").fetchone() == (0,)  # nothing half-written
    assert con.execute('SELECT count(*) FROM "commit"').fetchone() == (1,)  # earlier types kept
    con.close()
    monkeypatch.setattr(loader_mod.Loader, "_load_type", real)
    import_paths(settings, [f])

    other = Settings(db=tmp_path / "clean.duckdb", key_file=settings.resolved_key_file)
    from shipwise.app.context import init_store
    init_store(other)
    import_paths(other, [f])
    assert dump(settings) == dump(other)


def test_ingest_refuses_without_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHIPWISE_PSEUDONYM_KEY", raising=False)
    s = load_settings(db=tmp_path / "x.duckdb")
    from shipwise.errors import ConfigError

    with pytest.raises(ConfigError, match=r"no pseudonymisation key"), open_for_ingest(s):
        pass


def test_quarantined_records_keep_their_reason_but_not_the_persons_identity(
        settings: Settings, tmp_path: Path) -> None:
    recs = [*org(),
            {**COMMIT, "sha": "bad1", "author": "zoe.quarantined@example.com", "additions": -5},
            {"type": "page", "id": "pg9", "team": "no-such-team",
             "person": "zoe.quarantined@example.com", "at": "2025-07-01T03:00:00Z", "urgency": "high"}]
    rep = import_paths(settings, [write_jsonl(tmp_path / "q.jsonl", recs)])
    assert rep.quarantined == 2
    con = duckdb.connect(str(settings.db), read_only=True)
    raws = [json.loads(r[0]) for r in con.execute("SELECT raw FROM quarantine ORDER BY type").fetchall()]
    con.close()
    assert raws[0]["additions"] == -5 and raws[0]["author"].startswith("p_")  # the fault is kept
    assert raws[1]["person"] == raws[0]["author"]  # the same pseudonym as everywhere
    assert b"zoe.quarantined" not in settings.db.read_bytes().lower()
    again = import_paths(settings, [write_jsonl(tmp_path / "q.jsonl", recs)])
    con = duckdb.connect(str(settings.db), read_only=True)
    assert con.execute("SELECT count(*) FROM quarantine").fetchone() == (2,)  # not twice
    con.close()
    assert again.quarantined == 2


def test_a_commit_named_before_it_is_imported_keeps_one_key_and_counts_once(
        settings: Settings, tmp_path: Path) -> None:
    """A deployment (and a pull request) may name a commit the store has not seen yet: the SHA
    gets its integer key then, the commit imported later gets the same one, and the change facts
    (which join by key) find it — once, whatever is imported again."""
    pr = {"type": "pull_request", "id": "pr1", "repo": "pay", "number": 1,
          "author": "Ana.Silva@example.com", "created_at": "2025-06-30T13:00:00Z",
          "merged_at": "2025-06-30T15:00:00Z", "commits": ["c2"]}
    import_paths(settings, [write_jsonl(tmp_path / "a.jsonl", [*org(), DEPLOY, pr])])
    c2 = {**COMMIT, "sha": "c2", "committed_at": "2025-06-30T14:00:00Z"}
    for name in ("b.jsonl", "c.jsonl"):  # the second time changes nothing
        import_paths(settings, [write_jsonl(tmp_path / name, [COMMIT, c2, DEPLOY, pr])])
    con = duckdb.connect(str(settings.db), read_only=True)
    assert con.execute("SELECT sha, count(*) FROM sha_key GROUP BY sha ORDER BY sha").fetchall() \
        == [("c1", 1), ("c2", 1)]
    keyed = con.execute("""
        SELECT t, x.sha FROM (
          SELECT 'commit' AS t, sha, sha_key FROM "commit"
          UNION ALL SELECT 'deployment_commit', sha, sha_key FROM deployment_commit
          UNION ALL SELECT 'pull_request_commit', sha, sha_key FROM pull_request_commit) x
        LEFT JOIN sha_key k ON k.sha = x.sha
        WHERE x.sha_key IS DISTINCT FROM k."key" """).fetchall()
    assert keyed == []  # every row carries its SHA's key
    facts = con.execute("""SELECT k.sha, f.lead_seconds FROM dora_change_fact f
        JOIN sha_key k ON k."key" = f.sha_key ORDER BY 1""").fetchall()
    # deployed 2025-07-01T08:20Z: c1 committed 06-30 12:30Z, c2 14:00Z
    assert facts == [("c1", 71400), ("c2", 66000)]
    assert con.execute("SELECT pull_request_id FROM pr_delivery_fact").fetchall() == [("pr1",)]
