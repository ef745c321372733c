"""The same DORA, cost and flow definitions on Spark (local[2]) over canonical Parquet files,
equal to the store's (DuckDB) on the sample organisation — the demo organisation at a tenth of its
volume: every fact row, every row and every metric (counts exactly, floats to 1e-9 relative).

One Spark session (and one export) serves the module; the tests run on one xdist worker."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from shipwise.app import spark as on_spark
from shipwise.app.context import open_store
from shipwise.app.cost import CostRequest, cost_rows
from shipwise.app.diagnostics import flow_figures_on
from shipwise.app.metrics import DoraRequest, dora_rows
from shipwise.cli.main import cli
from shipwise.config import Settings
from shipwise.metrics import facts, portable, registry
from shipwise.metrics import spark as spark_engine
from shipwise.metrics.engines import DuckDBEngine
from shipwise.store.duckdb_store import Store
from tests.conftest import SampleOrg

pytestmark = [pytest.mark.slow, pytest.mark.spark, pytest.mark.xdist_group("spark")]
REL = 1e-9


def same(a: Any, b: Any, path: str = "") -> list[str]:
    """Where ``a`` and ``b`` differ: exact, except floats (relative 1e-9)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{path}: keys {sorted(set(a) ^ set(b))}"]
        return [d for k in a for d in same(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        if len(a) != len(b):
            return [f"{path}: {len(a)} vs {len(b)} items"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True))
                for d in same(x, y, f"{path}[{i}]")]
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None or not math.isclose(a, b, rel_tol=REL, abs_tol=1e-12):
            return [] if a is None and b is None else [f"{path}: {a!r} vs {b!r}"]
        return []
    if isinstance(a, str) and isinstance(b, str) and a != b and _same_sentence(a, b):
        return []
    return [] if (a == b and type(a) is type(b)) or (a == b and isinstance(a, int)) else \
        [f"{path}: {a!r} vs {b!r}"]


_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def _same_sentence(a: str, b: str) -> bool:
    """A sentence built from floats (a cost row's explanation or flag) that differ in the 1e-9th
    place may round a printed figure the other way (3,036 vs 3,037): same words, figures within
    one unit of their last printed digit."""
    if _NUMBER.sub("#", a) != _NUMBER.sub("#", b):
        return False
    for x, y in zip(_NUMBER.findall(a), _NUMBER.findall(b), strict=True):
        step = 10.0 ** -len(x.split(".")[1]) if "." in x else 1.0
        if abs(float(x.replace(",", "")) - float(y.replace(",", ""))) > step:
            return False
    return True


class Both:
    """The store (DuckDB) and Spark over its export."""

    def __init__(self, store: Store, engine: spark_engine.SparkEngine, folder: Path,
                 db: Path) -> None:
        self.store, self.engine, self.folder, self.db = store, engine, folder, db
        self.duck = DuckDBEngine(store)


@pytest.fixture(scope="module")
def both(sample_org: SampleOrg, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Both]:
    root = tmp_path_factory.mktemp("spark")
    settings = sample_org.copy_to(root / "store")
    with open_store(settings) as store:
        # ownership over time (the demo has none): a service lent to another team twice, so
        # every branch of the facts' owner periods (before, between, after) is exercised
        service, team = store.con.execute(
            "SELECT id, team FROM service ORDER BY id LIMIT 1").fetchone() or ("", "")
        other = store.con.execute("SELECT min(id) FROM team WHERE id <> ?", [team]).fetchone()
        store.con.execute(
            "INSERT INTO service_owner VALUES (?, ?, DATE '2025-01-01', DATE '2025-06-30', now()), "
            "(?, ?, DATE '2025-10-01', DATE '2025-12-31', now())",
            [service, other[0] if other else team, service, other[0] if other else team])
        # cloud cost (docs/cloud-cost.md): spend on both bases, a credit and unmapped spend,
        # so cost to serve on Spark reads cloud_cost as the store does
        currency, month = store.con.execute(
            "SELECT min(currency), max(month) FROM cost").fetchone() or ("EUR", "2025-01")
        for basis, amount in (("amortised", 1234.5), ("unblended", 1500.0)):
            for t, kind, value in ((team, "spend", amount), (team, "credit", -99.0),
                                   (None, "spend", 77.0)):
                store.con.execute(
                    "INSERT INTO cloud_cost VALUES (?, 'payer', 'acct', NULL, ?, 'account', "
                    "'AmazonEC2', 'Usage', ?, ?, ?, ?, 3, 'cur.parquet', 'cur2', now())",
                    [month, t, kind, basis, currency, value])
        # incident links of every basis (the demo has explicit ones only): labels naming a
        # deployment or a version, and a team's window (docs/incident-links.md)
        store.con.execute("""INSERT INTO incident_label
            SELECT i.id, 'deploy:' || d.id FROM incident i JOIN deployment d ON d.service = i.service
            WHERE i.caused_by IS NULL AND d.environment = 'production' AND d.status = 'success'
              AND d.finished_at < i.opened_at AND hash(i.id) % 4 = 0
            QUALIFY row_number() OVER (PARTITION BY i.id ORDER BY d.finished_at DESC) = 1
            UNION ALL
            SELECT i.id, 'version:' || d.version FROM incident i JOIN deployment d
              ON d.service = i.service
            WHERE i.caused_by IS NULL AND d.environment = 'production' AND d.version IS NOT NULL
              AND d.finished_at < i.opened_at AND hash(i.id) % 4 = 1
            QUALIFY row_number() OVER (PARTITION BY i.id ORDER BY d.finished_at DESC) = 1""")
        store.con.execute("""UPDATE team SET attributes = json_merge_patch(
            coalesce(attributes, '{}'), '{"incident_window_hours": 72}')
            WHERE id IN (SELECT s.team FROM incident i JOIN service s ON s.id = i.service
                         WHERE i.caused_by IS NULL AND hash(i.id) % 4 >= 2)""")
        facts.mark_stale(store, everything="test: labels and a window")
        facts.ensure_fresh(store)
        bases = dict(store.con.execute(
            "SELECT basis, count(*) FROM incident_link GROUP BY basis").fetchall())
        assert set(bases) == {"explicit", "label", "window"}, bases
        lent = store.con.execute("SELECT count(*) FROM dora_deploy_fact WHERE service = ? "
                                 "AND team <> ?", [service, team]).fetchone()
        assert lent and lent[0] > 0
    folder = root / "parquet"
    res = CliRunner().invoke(cli, ["--db", str(settings.db), "export", "parquet", str(folder),
                                   "--format", "json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["rows"]["deployment"] > 1000
    engine = on_spark.open_engine(folder)
    with open_store(Settings(db=settings.db)) as store:
        yield Both(store, engine, folder, settings.db)


def _spark_ids(family: str) -> set[str]:
    return {m.id for m in registry.family(family) if portable.SPARK in m.engines}


@pytest.mark.parametrize("table", [t for t, _ in facts.FACTS] + ["flow_pr_fact"])
def test_the_facts_are_the_same_rows(both: Both, table: str) -> None:
    cols, ours = both.duck.rows(f"SELECT * FROM {table}")
    scols, theirs = both.engine.rows(f"SELECT * FROM {table}")
    assert cols == scols

    def key(r: tuple[Any, ...]) -> tuple[tuple[bool, str], ...]:
        return tuple((v is None, str(v)) for v in r)

    assert len(ours) > 20
    assert same(sorted(ours, key=key), sorted(theirs, key=key)) == []


@pytest.mark.parametrize(("grain", "by"), [("week", "team"), ("month", "service"),
                                           ("quarter", "team"), ("quarter", "service")])
def test_dora_is_the_same_on_spark(both: Both, grain: str, by: str) -> None:
    req = DoraRequest(grain=grain, by=by)
    ours = dora_rows(both.store, req)
    theirs = on_spark.dora(both.engine, req).model_dump()
    assert len(ours["rows"]) > 50
    shaped = {k: theirs[k] for k in ours}
    assert same(ours, shaped) == []
    seen = set(ours["rows"][0]["metrics"])
    assert _spark_ids("dora") <= seen
    assert any(r["metrics"]["dora.change_lead_time_p90"] for r in ours["rows"])


@pytest.mark.parametrize(("grain", "baseline"), [("quarter", "yoy"), ("month", "qoq")])
def test_cost_is_the_same_on_spark(both: Both, grain: str, baseline: str) -> None:
    req = CostRequest(grain=grain, baseline=baseline)
    ours = cost_rows(both.store, req)
    theirs = on_spark.cost(both.engine, req).model_dump()
    assert ours["rows"] and ours["organisation"]
    cloud = cost_rows(both.store, CostRequest(grain=grain, baseline=baseline,
                                              categories=("cloud",)))
    assert sorted(r["cost_amount"] for r in cloud["rows"] if r["cost_amount"])[-1:] == [1234.5]
    assert same(cloud, {k: v for k, v in on_spark.cost(
        both.engine, CostRequest(grain=grain, baseline=baseline, categories=("cloud",))
    ).model_dump().items() if k in cloud}) == []
    assert same(ours, {k: theirs[k] for k in ours}) == []
    seen = set(ours["rows"][0]["metrics"]) | set(ours["organisation"][0]["metrics"])
    assert _spark_ids("cost") - {"cost.improvement_qoq", "cost.improvement_yoy"} <= seen


@pytest.mark.parametrize(("grain", "level"), [("week", "team"), ("month", "team"),
                                              ("quarter", "org_unit")])
def test_flow_is_the_same_on_spark(both: Both, grain: str, level: str) -> None:
    ours = flow_figures_on(both.duck, grain, level)
    theirs = on_spark.flow(both.engine, grain=grain, level=level).model_dump()
    assert len(ours["rows"]) >= 20
    assert same(ours, theirs) == []
    assert _spark_ids("flow") <= set(ours["rows"][0])


def test_an_approximate_percentile_would_be_caught(both: Both,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The regression the dialect layer exists for: Spark's approximate percentile (what a SQL
    transpiler emits for percentile_cont) differs from the exact one, and the comparison sees it."""
    req = DoraRequest(grain="month")
    ours = dora_rows(both.store, req)
    approx = portable.Dialect(portable.SPARK, "percentile_approx({x}, {p})",
                              portable.DIALECTS[portable.SPARK].seconds, True, "UNION ALL")
    monkeypatch.setitem(portable.DIALECTS, portable.SPARK, approx)
    theirs = on_spark.dora(both.engine, req).model_dump()
    diffs = same(ours, {k: theirs[k] for k in ours})
    assert any("lead_time" in d or "recovery" in d for d in diffs), diffs[:5]


def test_whole_seconds_between_instants_match(both: Both) -> None:
    """``date_diff('second', a, b)`` counts second boundaries crossed; Spark's rendering does the
    same, sub-second parts and instants before 1970 included (``timestampdiff`` would not)."""
    pairs = [("2025-01-01 00:00:00.9", "2025-01-01 00:00:01.1"),
             ("1960-06-01 12:00:00.25", "1960-06-01 11:59:58.75"),
             ("2024-02-28 23:59:59.999999", "2024-03-01 00:00:00")]
    sql = " UNION ALL ".join(
        f"SELECT {i} AS i, " + portable.seconds_between(f"CAST('{a}' AS TIMESTAMP)",
                                                        f"CAST('{b}' AS TIMESTAMP)") + " AS s"
        for i, (a, b) in enumerate(pairs))
    ours = sorted(both.duck.rows(sql)[1])
    theirs = sorted(both.engine.rows(sql)[1])
    assert ours == theirs
    assert ours[0][1] == 1


def test_the_cli_runs_dora_and_cost_on_spark(both: Both) -> None:
    runner = CliRunner()
    db = ["--db", str(both.db)]
    for args in (["metrics", "dora", "--grain", "quarter"], ["cost", "--grain", "quarter"]):
        duck = json.loads(runner.invoke(cli, [*db, *args, "--format", "json"],
                                        catch_exceptions=False).output)
        res = runner.invoke(cli, [*args, "--format", "json", "--engine", "spark", "--data",
                                  str(both.folder)], catch_exceptions=False)
        assert res.exit_code == 0, res.output
        sparked = json.loads(res.output)
        assert sparked["rows"] and same(duck["rows"], sparked["rows"]) == []
