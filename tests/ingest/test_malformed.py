"""Malformed input: every bad record is quarantined once with its reason, nothing is silently
altered, the good records around it are imported, and the same input twice changes nothing."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shipwise.app.ingest import FilesFailedError
from shipwise.app.owner import import_paths
from shipwise.config import IngestSettings, Settings
from tests.conftest import cli_env, org, write_jsonl
from tests.ingest.test_import import dump

COST_HEADER = "team,month,category,amount,currency\n"


def cost(month: str, amount: object = 100) -> dict[str, Any]:
    return {"type": "cost", "team": "payments", "month": month, "category": "people",
            "amount": amount, "currency": "EUR"}


def deploy(i: int, **kw: Any) -> dict[str, Any]:
    return {"type": "deployment", "id": f"d{i}", "service": "pay-api", "environment": "production",
            "started_at": "2025-07-01T10:00:00Z", "finished_at": "2025-07-01T10:20:00Z",
            "status": "success", **kw}


def quarantine(settings: Settings) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(settings.db), read_only=True)
    try:
        return con.execute("SELECT type, reason, source, line, raw FROM quarantine ORDER BY source, line").fetchall()
    finally:
        con.close()


def rows(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(settings.db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture
def orged(settings: Settings, tmp_path: Path) -> Settings:
    import_paths(settings, [write_jsonl(tmp_path / "org.jsonl", org())])
    return settings


# -- CSV -----------------------------------------------------------------------------------------

def test_csv_row_with_an_unclosed_quote_is_quarantined_and_the_rest_is_read(
        orged: Settings, tmp_path: Path) -> None:
    f = tmp_path / "costs.csv"
    f.write_text(COST_HEADER + "payments,2025-01,people,100,EUR\n"
                 'payments,2025-02,"people,100,EUR\n'
                 "payments,2025-03,people,100,EUR\n")
    rep = import_paths(orged, [f])
    assert rep.counts["cost"].inserted == 2 and rep.counts["cost"].quarantined == 1
    ((type_, reason, _, line, raw),) = quarantine(orged)
    assert type_ == "cost" and line == 3 and "unclosed quote" in reason
    assert raw == 'payments,2025-02,"people,100,EUR'
    assert rows(orged, "SELECT month FROM cost ORDER BY 1") == [("2025-01",), ("2025-03",)]
    # the last row of a file too (the quote swallowed the end of the file before)
    g = tmp_path / "more" / "costs.csv"
    g.parent.mkdir()
    g.write_text(COST_HEADER + "payments,2025-04,people,100,EUR\n"
                 'payments,2025-05,people,"100,EUR\n')
    rep = import_paths(orged, [g])
    assert rep.counts["cost"].inserted == 1 and rep.counts["cost"].quarantined == 1
    assert [r[3] for r in quarantine(orged) if r[2] == str(g)] == [3]


def test_csv_quoted_fields_may_span_lines_and_hold_quotes(orged: Settings, tmp_path: Path) -> None:
    f = tmp_path / "services.csv"
    f.write_text('id,name,team\npay-web,"Payments\nweb ""v2""",payments\npay-db,db,payments\n')
    rep = import_paths(orged, [f])
    assert rep.counts["service"].inserted == 2 and rep.quarantined == 0
    assert rows(orged, "SELECT name FROM service WHERE id = 'pay-web'") == [('Payments\nweb "v2"',)]


def test_short_and_long_csv_rows_are_quarantined_once(orged: Settings, tmp_path: Path) -> None:
    for d in ("a", "b"):  # two files in one import: each row still counted once
        (tmp_path / d).mkdir()
        (tmp_path / d / "costs.csv").write_text(
            COST_HEADER + f"payments,2025-0{1 if d == 'a' else 4},people,100,EUR\n"
            f"payments,2025-02,people,{d}\n"
            f"payments,2025-03,people,100,EUR,{d}\n")
    files = [tmp_path / "a" / "costs.csv", tmp_path / "b" / "costs.csv"]
    rep = import_paths(orged, files)
    assert rep.counts["cost"].inserted == 2 and rep.counts["cost"].quarantined == 4
    assert rep.reasons == {"cost: CSV: expected 5 columns, found 4": 2,
                           "cost: CSV: expected 5 columns, found 6": 2}
    q = quarantine(orged)
    assert sorted((Path(r[2]).parent.name, r[3]) for r in q) == [("a", 3), ("a", 4), ("b", 3), ("b", 4)]
    again = import_paths(orged, files)
    assert again.counts["cost"].unchanged == 2 and len(quarantine(orged)) == 4


# -- numbers -------------------------------------------------------------------------------------

def test_non_finite_numbers_are_rejected_in_every_format(orged: Settings, tmp_path: Path) -> None:
    (tmp_path / "inf.jsonl").write_text(
        '{"type":"cost","team":"payments","month":"2025-01","category":"people","amount":1e309,"currency":"EUR"}\n'
        '{"type":"cost","team":"payments","month":"2025-02","category":"people","amount":NaN,"currency":"EUR"}\n'
        + json.dumps(cost("2025-03", "-Infinity")) + "\n" + json.dumps(cost("2025-04", 5)) + "\n")
    (tmp_path / "costs.csv").write_text(COST_HEADER + "payments,2025-05,people,inf,EUR\n"
                                        "payments,2025-06,people,nan,EUR\n")
    pq.write_table(pa.table({"team": ["payments"] * 3, "month": ["2025-07", "2025-08", "2025-09"],
                             "category": ["people"] * 3, "amount": [math.inf, math.nan, 7.0],
                             "currency": ["EUR"] * 3}), tmp_path / "costs.parquet")
    (tmp_path / "headcount.csv").write_text("team,month,fte\npayments,2025-01,1e400\n")
    rep = import_paths(orged, [tmp_path / "inf.jsonl", tmp_path / "costs.csv",
                               tmp_path / "costs.parquet", tmp_path / "headcount.csv"])
    assert rep.counts["cost"].inserted == 2 and rep.counts["cost"].quarantined == 7
    assert rep.counts["headcount"].quarantined == 1
    assert all("not a finite number" in r[1] for r in quarantine(orged))
    assert rows(orged, "SELECT amount FROM cost ORDER BY month") == [(5.0,), (7.0,)]


# -- instants ------------------------------------------------------------------------------------

def test_impossible_offsets_and_implausible_instants_are_quarantined(
        orged: Settings, tmp_path: Path) -> None:
    recs = [
        deploy(1, started_at="2025-07-01T10:00:00+25:00"),
        deploy(2, started_at="2025-07-01T10:00:00-99:30"),
        deploy(3, started_at="0001-01-01T00:00:00Z"),
        deploy(4, finished_at="9999-12-31T23:59:59Z"),
        deploy(5, started_at="2025-07-01T10:00:00+14:00", finished_at="2025-07-01T10:00:00+05:45"),
    ]
    rep = import_paths(orged, [write_jsonl(tmp_path / "d.jsonl", recs)])
    assert rep.counts["deployment"].inserted == 1 and rep.counts["deployment"].quarantined == 4
    reasons = {r[4] and json.loads(r[4])["id"]: r[1] for r in quarantine(orged)}
    assert "impossible UTC offset" in reasons["d1"] and "impossible UTC offset" in reasons["d2"]
    assert "before 1990-01-01" in reasons["d3"] and "ingest.earliest_instant" in reasons["d3"]
    assert "year(s) ahead" in reasons["d4"] and "ingest.latest_years_ahead" in reasons["d4"]
    assert rows(orged, "SELECT min(started_at), max(finished_at) FROM deployment")[0][0].year == 2025


def test_the_plausible_range_is_a_setting(orged: Settings, tmp_path: Path) -> None:
    (tmp_path / "shipwise.yaml").write_text("ingest:\n  earliest_instant: 1960-01-01\n")
    from shipwise.config import load_settings

    wide = load_settings(db=orged.db, config_file=tmp_path / "shipwise.yaml")
    assert wide.ingest.earliest_instant.year == 1960
    rep = import_paths(wide, [write_jsonl(tmp_path / "d.jsonl", [
        deploy(1, started_at="1970-01-01T00:00:00Z")])])
    assert rep.counts["deployment"].inserted == 1


# -- shapes, encodings, sizes ---------------------------------------------------------------------

def test_wrong_json_shapes_are_rejected_not_turned_into_text(orged: Settings, tmp_path: Path) -> None:
    recs = [deploy(1, commits=[1, {"a": 2}]), deploy(2, environment={"name": "prod"}),
            deploy(3, commits=["c1", None, "c2"])]
    rep = import_paths(orged, [write_jsonl(tmp_path / "d.jsonl", recs)])
    assert rep.counts["deployment"].inserted == 1 and rep.counts["deployment"].quarantined == 2
    reasons = {json.loads(r[4])["id"]: r[1] for r in quarantine(orged)}
    assert reasons["d1"] == "commits: expected a list of strings, found other values in the list"
    assert reasons["d2"] == "environment: expected text, not a JSON object"
    assert rows(orged, "SELECT sha FROM deployment_commit ORDER BY 1") == [("c1",), ("c2",)]


def test_invalid_utf8_is_quarantined_never_stored_replaced(orged: Settings, tmp_path: Path) -> None:
    f = tmp_path / "u.jsonl"
    f.write_bytes(b'{"type":"org_unit","id":"u1","name":"ok \xc3\xa9"}\n'
                  b'{"type":"org_unit","id":"u2","name":"bad \xff\xfe"}\n')
    g = tmp_path / "org_units.csv"
    g.write_bytes(b"id,name\nu3,fine\nu4,bad \xe9t\xe9\n")
    rep = import_paths(orged, [f, g])
    assert rep.reasons == {"(none): not valid UTF-8 text": 1, "org_unit: not valid UTF-8 text": 1}
    assert sorted(r[0] for r in rows(orged, "SELECT name FROM org_unit")) == [
        "Engineering", "fine", "ok é"]
    raws = sorted(r[4] for r in quarantine(orged))
    assert raws == ['u4,bad \\xe9t\\xe9', '{"type":"org_unit","id":"u2","name":"bad \\xff\\xfe"}']
    assert not any("\ufffd" in str(v) for r in rows(orged, "SELECT * FROM org_unit") for v in r)


def test_a_utf8_bom_at_the_start_is_accepted(orged: Settings, tmp_path: Path) -> None:
    f = tmp_path / "b.jsonl"
    f.write_bytes(b"\xef\xbb\xbf" + json.dumps(deploy(1)).encode() + b"\n")
    g = tmp_path / "costs.csv"
    g.write_bytes(b"\xef\xbb\xbf" + (COST_HEADER + "payments,2025-01,people,100,EUR\n").encode())
    rep = import_paths(orged, [f, g])
    assert rep.quarantined == 0
    assert rep.counts["deployment"].inserted == 1 and rep.counts["cost"].inserted == 1


def test_an_oversize_record_is_quarantined_without_reading_it_whole(
        orged: Settings, tmp_path: Path) -> None:
    small = orged.model_copy(update={"ingest": IngestSettings(max_record_bytes=4096)})
    f = tmp_path / "big.jsonl"
    with f.open("wb") as fh:
        fh.write(json.dumps(deploy(1)).encode() + b"\n")
        fh.write(b'{"type":"deployment","id":"huge","version":"' + b"x" * 30_000_000 + b'"}\n')
        fh.write(json.dumps(deploy(2)).encode() + b"\n")
    g = tmp_path / "org_units.csv"
    g.write_text("id,name\nu1," + "y" * 10_000 + "\nu2,ok\n")
    tracemalloc.start()
    try:
        rep = import_paths(small, [f, g])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10_000_000  # the 30 MB line was never held whole
    assert rep.counts["deployment"].inserted == 2 and rep.counts["org_unit"].inserted == 1
    q = quarantine(small)
    assert [(r[1], r[3]) for r in q] == [
        ("record larger than 4096 bytes (setting ingest.max_record_bytes)", 2)] * 2
    assert all(len(r[4]) < 2000 and "bytes, cut]" in r[4] for r in q)


# -- files ---------------------------------------------------------------------------------------

def test_a_corrupt_parquet_file_is_reported_and_the_good_files_are_loaded(
        orged: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    pq.write_table(pa.table({"id": ["pay-web"], "name": ["web"], "team": ["payments"]}),
                   folder / "services.a.parquet")
    good = folder / "services.b.parquet"
    pq.write_table(pa.table({"id": ["pay-db"], "name": ["db"], "team": ["payments"]}), good)
    bad = folder / "services.c.parquet"
    data = (folder / "services.a.parquet").read_bytes()
    bad.write_bytes(data[: len(data) // 2] + b"\x00" * 64 + data[len(data) // 2:][:-12] + b"PAR1")
    (folder / "costs.z.parquet").write_bytes(b"not parquet at all")
    write_jsonl(folder / "d.jsonl", [deploy(1)])
    with pytest.raises(FilesFailedError) as err:
        import_paths(orged, [folder])
    failed = dict(err.value.report.failed)
    assert set(failed) == {str(bad), str(folder / "costs.z.parquet")}
    assert "2 of 5 file(s) could not be read" in str(err.value)
    assert str(bad) in str(err.value) and "costs.z.parquet" in str(err.value)
    assert sorted(r[0] for r in rows(orged, "SELECT id FROM service")) == ["pay-api", "pay-db", "pay-web"]
    assert rows(orged, "SELECT id FROM deployment") == [("d1",)]
    # the CLI: the same, a non-zero status and one line naming the file
    res = subprocess.run([sys.executable, "-m", "shipwise", "--db", str(orged.db), "import",
                          str(folder)], env=cli_env(), capture_output=True, text=True, timeout=120)
    assert res.returncode != 0 and "services.c.parquet" in res.stderr and "Traceback" not in res.stderr


def test_malformed_files_imported_twice_change_nothing(orged: Settings, tmp_path: Path) -> None:
    (tmp_path / "costs.csv").write_text(COST_HEADER + 'payments,2025-01,"people,1,EUR\n'
                                        "payments,2025-02,people,inf,EUR\npayments,2025-03,people,3,EUR\n")
    (tmp_path / "x.jsonl").write_bytes(b"\xef\xbb\xbf" + json.dumps(deploy(1, commits=[1])).encode()
                                       + b"\n\xff\n" + json.dumps(deploy(2)).encode() + b"\n")
    files = [tmp_path / "costs.csv", tmp_path / "x.jsonl"]
    import_paths(orged, files)
    state = dump(orged)
    again = import_paths(orged, files)
    assert all(c.inserted == c.updated == 0 for c in again.counts.values())
    assert dump(orged) == state


def test_an_oversize_parquet_row_is_quarantined(orged: Settings, tmp_path: Path) -> None:
    small = orged.model_copy(update={"ingest": IngestSettings(max_record_bytes=4096)})
    pq.write_table(pa.table({"id": ["u1", "u2"], "name": ["z" * 10_000, "ok"]}),
                   tmp_path / "org_units.parquet")
    rep = import_paths(small, [tmp_path / "org_units.parquet"])
    assert rep.counts["org_unit"].inserted == 1
    assert rep.reasons == {"org_unit: record larger than 4096 bytes (setting ingest.max_record_bytes)": 1}


def test_a_deeply_nested_object_is_rejected(orged: Settings, tmp_path: Path) -> None:
    team = {"type": "team", "name": "T", "org_unit": "eng", "delivery_unit": "deployments"}
    ok = {"timezone": "Europe/Lisbon", "site": {"city": {"name": "Lisbon"}}, "note": "{{{{[[[["}
    f = write_jsonl(tmp_path / "t.jsonl", [{**team, "id": "fine", "attributes": ok}])
    with f.open("a") as fh:  # 5,000 levels: more than Python's own json module can read back
        fh.write(json.dumps({**team, "id": "deep"})[:-1] + ', "attributes": '
                 + '{"a": ' * 5000 + "1" + "}" * 5000 + "}\n")
    rep = import_paths(orged, [f])
    assert rep.counts["team"].inserted == 1
    assert rep.reasons == {"team: attributes: nested deeper than 64 levels": 1}
    # every reader of the stored attributes (e.g. the fairness audit) can parse them
    (attrs,) = rows(orged, "SELECT CAST(attributes AS VARCHAR) FROM team WHERE id = 'fine'")[0]
    assert json.loads(attrs) == ok
