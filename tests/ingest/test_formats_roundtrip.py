"""The same organisation through every file format lands in the same store state."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipwise.app.context import init_store
from shipwise.app.owner import import_paths, run_demo
from shipwise.config import Settings
from tests.ingest.test_import import dump


@pytest.mark.slow
def test_jsonl_csv_and_parquet_files_import_to_the_direct_state(tmp_path: Path) -> None:
    key = tmp_path / "k.key"
    direct = Settings(db=tmp_path / "direct.duckdb", key_file=key)
    run_demo(direct, scale=0.1, load=True)
    expected = dump(direct)
    assert sum(len(rows) for rows in expected.values()) > 20_000
    for fmt in ("jsonl", "csv", "parquet"):
        files = tmp_path / fmt
        run_demo(direct, scale=0.1, out=files, fmt=fmt, load=False)
        s = Settings(db=tmp_path / f"{fmt}.duckdb", key_file=key)
        init_store(s)
        report = import_paths(s, [files])
        assert report.quarantined == 0, report.reasons
        got = dump(s)
        for table in expected:
            assert got[table] == expected[table], f"{fmt}: table {table} differs"
