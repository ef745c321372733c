from __future__ import annotations

from pathlib import Path

import pytest

from shipwise.errors import StoreError
from shipwise.store import Store
from shipwise.store.duckdb_store import migrations


def test_migrations_are_numbered_and_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    with Store.open(path, create=True) as store:
        assert store.schema_version() == migrations()[-1][0]
        assert store.migrate() == []  # nothing left to apply
        n = store.count("calendar")
    with Store.open(path) as store:
        assert store.count("calendar") == n  # reopening applies nothing twice


def test_a_migration_merged_below_the_applied_ones_is_applied(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two branches adding migrations in parallel: a store that already has the later one gets
    the earlier one too, when it is next opened (by a reader as well), and only once."""
    from shipwise.store import duckdb_store

    packaged = duckdb_store.migrations()
    last = packaged[-1][0]
    later = (last + 2, "later", "CREATE TABLE later_t (a INTEGER)")
    middle = (last + 1, "middle", "CREATE TABLE middle_t (a INTEGER)")
    path = tmp_path / "s.duckdb"
    monkeypatch.setattr(duckdb_store, "migrations", lambda: [*packaged, later])
    with Store.open(path, create=True) as store:
        assert store.schema_version() == last + 2
    monkeypatch.setattr(duckdb_store, "migrations", lambda: [*packaged, middle, later])
    with Store.open(path, read_only=True) as store:
        assert store.count("middle_t") == 0
        assert store.pending_migrations() == []
    with Store.open(path) as store:
        assert store.migrate() == []


def test_missing_store_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as err:
        Store.open(tmp_path / "nope.duckdb")
    assert "shipwise init" in (err.value.hint or "")


def test_calendar_labels_iso_weeks_months_quarters() -> None:
    store = Store.memory()
    rows = store.query(
        "SELECT day, week, month, quarter, week_start FROM calendar "
        "WHERE day IN (DATE '2024-12-30', DATE '2025-07-01', DATE '2021-01-03') ORDER BY day"
    )
    assert [(r["week"], r["month"], r["quarter"]) for r in rows] == [
        ("2020-W53", "2021-01", "2021-Q1"),  # ISO year differs from calendar year
        ("2025-W01", "2024-12", "2024-Q4"),
        ("2025-W27", "2025-07", "2025-Q3"),
    ]
    assert str(rows[2]["week_start"]) == "2025-06-30"


def test_transaction_rolls_back_whole_unit_of_work() -> None:
    store = Store.memory()
    with pytest.raises(RuntimeError), store.transaction():
        store.con.execute("INSERT INTO meta VALUES ('a', '1')")
        raise RuntimeError("crash mid-way")
    assert store.get_meta("a") is None


def test_store_refuses_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    with Store.open(path, create=True) as store:
        store.con.execute("INSERT INTO schema_migrations (version, name) VALUES (9999, 'future')")
    with pytest.raises(StoreError, match="newer"):
        Store.open(path)


def test_an_older_store_is_upgraded_and_its_facts_rebuilt_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shipwise.app.context import init_store
    from shipwise.app.metrics import DoraRequest
    from shipwise.app.owner import dora
    from shipwise.config import Settings
    from shipwise.store import duckdb_store

    v1_only = [m for m in duckdb_store.migrations() if m[0] == 1]
    settings = Settings(db=tmp_path / "old.duckdb", key_file=tmp_path / "k")
    monkeypatch.setattr(duckdb_store, "migrations", lambda: v1_only)
    init_store(settings)
    with Store.open(settings.db) as store:  # an old shipwise wrote events directly
        store.con.execute("INSERT INTO org_unit VALUES ('eng', 'E', NULL, 'h', now()::TIMESTAMP)")
        store.con.execute("INSERT INTO team VALUES ('t', 'T', 'eng', 'deployments', NULL, 'h', now()::TIMESTAMP)")
        store.con.execute("INSERT INTO service VALUES ('s', 'S', 't', 'h', now()::TIMESTAMP)")
        store.con.execute(
            "INSERT INTO deployment VALUES ('d', 's', 'production', TIMESTAMP '2025-07-01 10:00', "
            "TIMESTAMP '2025-07-01 10:05', 'success', NULL, NULL, 'normal', NULL, 0, 'h', now()::TIMESTAMP)"
        )
        assert store.schema_version() == 1
    monkeypatch.undo()
    (row,) = dora(settings, DoraRequest(grain="week"))["rows"]  # a read on the upgraded store
    assert row["counts"]["deployments"] == 1


def test_no_progress_bar_is_drawn_on_standard_output(tmp_path: Path) -> None:
    """Output such as `metrics dora --format csv > file` holds the result only: DuckDB's
    progress bar, which it draws on standard output for any query slower than two seconds (a
    refresh of a large store), is off for the store's connection."""
    with Store.open(tmp_path / "s.duckdb", create=True) as store:
        row = store.con.execute("SELECT current_setting('enable_progress_bar')").fetchone()
        assert row == (False,)


def test_the_memory_limit_setting_bounds_duckdb_in_every_process_that_opens_the_store(
        tmp_path: Path) -> None:
    """`memory_limit: 1GB` in the settings caps DuckDB's memory (its page cache would otherwise
    grow towards 80 % of RAM with the store); a value that is not a size is refused when the
    settings are read, before any store is opened."""
    from pydantic import ValidationError

    from shipwise.app.context import init_store, open_store
    from shipwise.config import Settings

    settings = Settings(db=tmp_path / "s.duckdb", memory_limit="1GB")
    init_store(settings)
    with open_store(settings) as store:
        row = store.con.execute("SELECT current_setting('memory_limit')").fetchone()
    assert row is not None and str(row[0]).replace(" ", "") in ("953.6MiB", "1.0GB", "1000.0MB")
    with open_store(Settings(db=tmp_path / "s.duckdb")) as store:  # DuckDB's default otherwise
        other = store.con.execute("SELECT current_setting('memory_limit')").fetchone()
    assert other != row
    for bad in ("lots", "1GB'; DROP TABLE meta; --", "-1GB"):
        with pytest.raises(ValidationError):
            Settings(db=tmp_path / "s.duckdb", memory_limit=bad)
