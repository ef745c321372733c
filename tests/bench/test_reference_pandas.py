"""The pandas reference peer of the DORA benchmark must agree with shipwise on every row.

``bench/bench_dora.py`` times shipwise against ``bench/reference_pandas.py``; the comparison only
means something if both compute the same numbers. These tests keep them agreeing on a small demo
(quarter per team, month per service) and on the hand-worked history of ``tests/metrics``.
"""

from __future__ import annotations

import importlib.util
import sys
from datetime import date
from pathlib import Path
from types import ModuleType

import pytest

from shipwise.app.context import init_store, open_store
from shipwise.app.metrics import DoraRequest, dora_rows
from shipwise.app.owner import import_paths, run_demo
from shipwise.config import Settings
from shipwise.metrics.dora import DoraQuery, data_span_sql, dora_sql
from tests.conftest import write_jsonl

pytest.importorskip("pandas")

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _reference() -> ModuleType:
    name = "reference_pandas"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, BENCH / "reference_pandas.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


ref = _reference()


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    tmp = tmp_path_factory.mktemp("demo")
    settings = Settings(db=tmp / "demo.duckdb", key_file=tmp / "demo.key")
    init_store(settings)
    run_demo(settings, scale=0.2)
    return settings


def _agree(settings: Settings, grain: str, by: str,
           since: date | None = None, until: date | None = None) -> int:
    with open_store(settings, read_only=True) as store:
        facts = ref.prepare_facts(ref.load_tables(store.con))
        frame = ref.dora_frame(facts, grain, by, since, until)
        rows = dora_rows(store, DoraRequest(grain=grain, by=by, since=since, until=until))["rows"]
        span = store.con.execute(data_span_sql()).fetchone()
        assert span is not None
        sql, params = dora_sql(DoraQuery(grain, by, since or span[0], until or span[1]))
        raw = store.con.execute(sql, params).df()
    problems = ref.compare_with_rows(frame, rows, by) + ref.compare_with_sql(frame, raw)
    assert not problems, "\n".join(problems[:30])
    return len(rows)


@pytest.mark.slow  # the demo at scale 0.2: the sample organisation has no unresolved failure
@pytest.mark.parametrize(("grain", "by"), [("quarter", "team"), ("month", "service")])
def test_reference_agrees_with_shipwise_on_the_demo(demo_store: Settings, grain: str, by: str) -> None:
    n = _agree(demo_store, grain, by)
    assert n > 0


@pytest.mark.slow
def test_the_demo_exercises_every_definition(demo_store: Settings) -> None:
    """Guard against a vacuous agreement: the compared results contain every kind of case."""
    with open_store(demo_store, read_only=True) as store:
        frame = ref.dora_frame(ref.prepare_facts(ref.load_tables(store.con)), "quarter", "team")
    for col in ("deployments", "failed_deployments", "rework_deployments", "failed_attempts",
                "lead_time_commits", "recovered_failures", "unresolved_failures"):
        assert frame[col].sum() > 0, col
    assert frame["recovery_median_seconds"].notna().any()


def test_reference_agrees_on_the_hand_worked_history(settings: Settings, tmp_path: Path) -> None:
    from tests.metrics.test_dora import HISTORY

    rep = import_paths(settings, [write_jsonl(tmp_path / "h.jsonl", HISTORY)])
    assert rep.quarantined == 0
    for by in ("team", "service"):
        assert _agree(settings, "week", by, date(2025, 6, 30), date(2025, 7, 6)) > 0
        assert _agree(settings, "month", by) > 0


def test_reference_agrees_on_regional_failures_and_early_restores(
    settings: Settings, tmp_path: Path
) -> None:
    from tests.conftest import org
    from tests.metrics.test_dora import dep

    recs = [*org(), dep("d1", "01T10:00:00Z", version="v1", region="eu"),
            dep("d1b", "01T11:00:00Z", status="rolled_back", version="v1", region="us"),
            dep("d2", "01T14:00:00Z", version="v2"),
            dep("d3", "02T10:00:00Z", version="v3"),
            {"type": "incident", "id": "i1", "service": "pay-api", "severity": "sev2",
             "opened_at": "2025-07-02T08:00:00Z", "resolved_at": "2025-07-02T09:00:00Z",
             "caused_by": "d3"}]
    import_paths(settings, [write_jsonl(tmp_path / "r.jsonl", recs)])
    assert _agree(settings, "week", "team", date(2025, 6, 30), date(2025, 7, 6)) == 1
