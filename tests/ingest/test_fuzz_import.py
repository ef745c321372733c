"""Fuzzing the importers (JSONL, CSV, Parquet) with hypothesis.

Whatever the bytes or records: the import never crashes (a file it cannot read at all is a
:class:`ShipwiseError` naming it), every record is either stored or quarantined with a reason,
no non-finite number is stored, and importing the same files again changes nothing.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipwise.app.context import open_for_ingest
from shipwise.app.ingest import import_paths_into
from shipwise.app.owner import import_paths
from shipwise.config import IngestSettings, Settings
from shipwise.domain.schema import BY_NAME, RECORD_TYPES
from shipwise.governance.pseudonym import Pseudonymiser
from shipwise.ingest.lines import BOM
from shipwise.ingest.loader import ImportReport
from shipwise.store.duckdb_store import Store
from tests.conftest import org, write_jsonl

pytestmark = pytest.mark.fuzz

FUZZ = settings(max_examples=30, deadline=None, derandomize=False,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
_n = itertools.count()

# -- strategies ----------------------------------------------------------------------------------

INSTANTS = st.one_of(
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.builds(lambda d, h, m, s: f"{d.isoformat()}{s}{h:02d}:{m:02d}",
              st.datetimes(), st.integers(0, 99), st.integers(0, 99), st.sampled_from("+-")),
    st.sampled_from(["2025-07-01T10:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
                     "2025-07-01T10:00:00+25:00", "2025-02-30T10:00:00Z", "2025-07-01T10:00"]),
)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20), INSTANTS,
    st.sampled_from(["payments", "pay-api", "eng", "success", "people", "EUR", "2025-01",
                     "2025-01-01", "sev1", "high", "NaN", "inf", "-Infinity", "1e309", ""]),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=10)


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    rt = draw(st.sampled_from(RECORD_TYPES))
    rec: dict[str, Any] = {"type": draw(st.sampled_from([rt.name, rt.name.upper(), " " + rt.name,
                                                         "nope", ""]))}
    for f in rt.fields:
        if draw(st.integers(0, 9)) < 8:
            rec[f.name] = draw(VALUES)
    return rec


# -- helpers -------------------------------------------------------------------------------------

@dataclass
class Target:
    """One store kept open for a whole property (opening a store per example would dominate)."""

    store: Store
    pseudo: Pseudonymiser
    limits: IngestSettings

    def run(self, files: list[Path]) -> ImportReport:
        return import_paths_into(self.store, self.pseudo, files, limits=self.limits)

    def state(self) -> dict[str, list[tuple[Any, ...]]]:
        out = {}
        for (table,) in self.store.con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND "
                "table_name NOT IN ('ingest_run', 'schema_migrations', 'calendar', 'meta', "
                "'access_log') ORDER BY 1").fetchall():
            cols = [c for (c,) in self.store.con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND "
                "table_schema = 'main' AND column_name NOT IN ('ingested_at', 'quarantined_at') "
                "ORDER BY ordinal_position", [table]).fetchall()]
            out[table] = sorted(self.store.con.execute(
                f'SELECT {", ".join(chr(34) + c + chr(34) for c in cols)} FROM "{table}"').fetchall(),
                key=repr)
        return out

    def import_twice(self, files: list[Path]) -> ImportReport:
        """Import, then import again: the second run must change nothing."""
        first = self.run(files)
        state = self.state()
        again = self.run(files)
        assert all(c.inserted == 0 and c.updated == 0 for c in again.counts.values()), again.as_dict()
        assert self.state() == state
        self.check_store()
        return first

    def check_store(self) -> None:
        con = self.store.con
        for rt in RECORD_TYPES:
            for f in rt.fields:
                if f.kind.value == "number" and rt.table:  # people_cost: stored as cost, headcount
                    bad = con.execute(f'SELECT count(*) FROM "{rt.table}" WHERE NOT isfinite("{f.name}")'
                                      ).fetchone()
                    assert bad == (0,), (rt.table, f.name)
        empty = con.execute("SELECT count(*) FROM quarantine WHERE coalesce(reason, '') = ''").fetchone()
        assert empty == (0,)
        replaced = con.execute("SELECT count(*) FROM org_unit WHERE contains(name, '\ufffd')").fetchone()
        assert replaced == (0,)


def handled(rep: ImportReport) -> int:
    """Records the report accounts for: stored (inserted, updated, unchanged, a repeated key)
    or quarantined."""
    return sum(c.accepted + c.duplicates + c.quarantined for c in rep.counts.values())


def jsonl_lines(data: bytes) -> int:
    """Lines an importer must account for: every line but blank ones (a BOM at the start is no line)."""
    if data.startswith(BOM):
        data = data[len(BOM):]
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    n = 0
    for raw in lines:
        raw = raw[:-1] if raw.endswith(b"\r") else raw
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            n += 1
            continue
        n += bool(text.strip())
    return n


@pytest.fixture
def target(settings: Settings, tmp_path: Path) -> Iterator[Target]:
    import_paths(settings, [write_jsonl(tmp_path / "org.jsonl", org())])
    with open_for_ingest(settings) as (store, pseudo):
        yield Target(store, pseudo, IngestSettings(max_record_bytes=2048))


def fresh(tmp_path: Path) -> Path:
    d = tmp_path / f"case{next(_n)}"
    d.mkdir()
    return d


# -- properties ----------------------------------------------------------------------------------

@FUZZ
@given(data=st.binary(max_size=3000) | st.lists(
    st.sampled_from([b"{", b"}", b'"type":"cost"', b"\n", b"\r\n", b"\xef\xbb\xbf", b"\xff",
                     b'"amount":1e309', b"NaN", b"\\ud800", b'"', b",", b"[" * 50, b"x" * 900]),
    max_size=40).map(b"".join))
def test_arbitrary_bytes_as_jsonl(target: Target, tmp_path: Path, data: bytes) -> None:
    f = fresh(tmp_path) / "x.jsonl"
    f.write_bytes(data)
    rep = target.import_twice([f])
    assert handled(rep) == jsonl_lines(data)


@FUZZ
@given(recs=st.lists(records(), max_size=12))
def test_arbitrary_records_as_jsonl(target: Target, tmp_path: Path,
                                    recs: list[dict[str, Any]]) -> None:
    text = "".join(json.dumps(r) + "\n" for r in recs)  # NaN and Infinity included
    f = fresh(tmp_path) / "x.jsonl"
    f.write_text(text, encoding="utf-8", errors="surrogatepass")
    rep = target.import_twice([f])
    assert handled(rep) == len(recs)


@FUZZ
@given(type_name=st.sampled_from(["cost", "deployment", "service", "pull_request"]),
       rows=st.lists(st.lists(st.one_of(st.text(max_size=12), st.sampled_from(
           ['"', '""', "\n", "\r\n", ",", "inf", "nan", "1e309", "2025-07-01T10:00:00+25:00",
            "[1, {\"a\": 2}]", "payments", "pay-api", "2025-01", "people", "EUR"])),
           min_size=0, max_size=7), max_size=10))
def test_arbitrary_rows_as_csv(target: Target, tmp_path: Path, type_name: str,
                               rows: list[list[str]]) -> None:
    rt = BY_NAME[type_name]
    header = [f.name for f in rt.fields][:5]
    out = io.StringIO()
    # CRLF, as RFC 4180 writes: with "\n" the writer leaves a lone "\r" in a field unquoted,
    # which any CSV reader (ours too) takes as a line break, so the file would not hold ``rows``
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for r in rows:
        writer.writerow(r)
    f = fresh(tmp_path) / f"{type_name}s.csv"
    f.write_text(out.getvalue(), encoding="utf-8", errors="surrogatepass")
    rep = target.import_twice([f])
    blank = sum(1 for r in rows if not r or (len(r) == 1 and not r[0].strip()))
    assert handled(rep) == len(rows) - blank


@FUZZ
@given(data=st.binary(max_size=2000) | st.lists(st.sampled_from(
    [b"team,month,category,amount,currency\n", b"payments,2025-01,people,", b"inf", b"100",
     b",EUR\n", b'"', b"\n", b"\r", b"\xff", b"\xef\xbb\xbf", b",", b"x" * 700]), max_size=30
).map(b"".join))
def test_arbitrary_bytes_as_csv(target: Target, tmp_path: Path, data: bytes) -> None:
    f = fresh(tmp_path) / "costs.csv"
    f.write_bytes(data)
    rep = target.import_twice([f])
    for src, why in rep.failed:  # e.g. no header: a clear reason naming the file
        assert src == str(f) and why.startswith(str(f))


@FUZZ
@given(amounts=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=8),
       months=st.lists(st.sampled_from(["2025-01", "2025-02", "2025-13", "", "x"]), min_size=8,
                       max_size=8),
       garbage=st.binary(max_size=200))
def test_arbitrary_numbers_and_bytes_as_parquet(target: Target, tmp_path: Path,
                                                amounts: list[float], months: list[str],
                                                garbage: bytes) -> None:
    d = fresh(tmp_path)
    n = len(amounts)
    pq.write_table(pa.table({"team": ["payments"] * n, "month": months[:n],
                             "category": ["people"] * n, "amount": amounts,
                             "currency": ["EUR"] * n}), d / "costs.parquet")
    (d / "costs.broken.parquet").write_bytes(garbage)
    rep = target.import_twice([d / "costs.parquet", d / "costs.broken.parquet"])
    # the good file is accounted for row by row; the broken one is reported, not half-read
    broken = str(d / "costs.broken.parquet")
    assert [src for src, _ in rep.failed] in ([], [broken])
    assert handled(rep) == n + (0 if rep.failed else len(pq.read_table(broken)))
    assert rep.counts["cost"].quarantined >= sum(1 for a in amounts if not math.isfinite(a))
