"""The registry renders (CONVENTIONS habit 12): every metric carries its label, format, display
order and — when derived from people — the people source suppression judges it by; interfaces
iterate the registry instead of naming metric ids, and suppression takes its people source from
the registry, so a new people-derived metric cannot slip through unsuppressed."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from shipwise.app.context import open_store
from shipwise.app.diagnostics import DiagnosticRequest, diagnostic_rows
from shipwise.cli.render import cell
from shipwise.config import Settings
from shipwise.metrics import ids, people, registry
from shipwise.metrics.formatting import render
from shipwise.metrics.registry import REGISTRY, Metric, metrics_of
from shipwise.store.duckdb_store import Store
from tests.metrics.test_flow_strain import W27, week  # noqa: F401  (the fixture)

SRC = Path(__file__).resolve().parents[2] / "src" / "shipwise"
#: where metric ids are defined: the registry (and ids.py beside it) and the charter. demo/ is not
#: exempt: the generator writes records, never metric ids.
HOME = ("metrics/", "governance/")
FORMATS = {"duration", "percent", "number", "count", "money", "rate", "multiple", "state"}
PEOPLE_SOURCES = {*people.SOURCES, ids.PEOPLE_CONCENTRATION, ids.PEOPLE_AI_TEAM}


def _literals(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value in REGISTRY]


def test_no_metric_id_literal_outside_the_registry_and_the_charter() -> None:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith(HOME):
            continue
        found += [f"src/shipwise/{rel}:{line}: {value!r}" for line, value in _literals(path)]
    assert not found, ("name a metric through the registry (metrics_of, ids_of) or a constant "
                       "in shipwise.metrics.ids, not a string literal:\n" + "\n".join(found))


def test_no_metric_id_literal_in_the_web_templates() -> None:
    """Templates name a metric through the ``ids`` global or the data they are given."""
    found = [f"{path.name}: {mid}" for path in sorted((SRC / "web" / "templates").glob("*.html"))
             for mid in REGISTRY if mid in path.read_text()]
    assert not found, "\n".join(found)


def test_the_check_sees_a_literal() -> None:
    src = SRC / "web" / "pages.py"
    assert not _literals(src)
    tree = ast.parse('X = "dora.change_fail_rate"\nY = ids.CHANGE_FAIL_RATE\n')
    assert [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and n.value in REGISTRY] == ["dora.change_fail_rate"]


def test_every_metric_has_a_label_a_format_and_an_order_of_its_own() -> None:
    for m in REGISTRY.values():
        assert m.label.strip(), f"{m.id}: no label"
        assert m.format in FORMATS, f"{m.id}: format {m.format!r}"
        assert m.order > 0, f"{m.id}: no display order"
        assert m.shown <= {ids.SHOWN_TABLE, ids.SHOWN_TILE, ids.SHOWN_PHASE, ids.SHOWN_ORG,
                           ids.SHOWN_CLI, ids.SHOWN_TREND}, m.id
    for family in {m.family for m in REGISTRY.values()}:
        orders = [m.order for m in registry.family(family)]
        assert len(orders) == len(set(orders)), f"{family}: two metrics share a display order"
        assert [m.order for m in metrics_of(family)] == sorted(orders)


def test_ids_names_registered_metrics_and_people_sources_only() -> None:
    for name in dir(ids):
        value = getattr(ids, name)
        if not name.isupper() or not isinstance(value, str) or "." not in value:
            continue
        if name.startswith("PEOPLE_"):
            assert value in PEOPLE_SOURCES, name
        elif name != "COHORT_TEAMS":  # a column of the cost roll-up, not a metric
            assert value in REGISTRY, f"ids.{name} = {value!r} is not a registered metric"
    for group in (ids.TENSION, ids.COST_COLUMNS, ids.COST_INPUTS, tuple(ids.TENSION_THRESHOLDS)):
        assert set(group) <= set(REGISTRY)
    assert ids.improvement("yoy") == ids.IMPROVEMENT_YOY
    assert ids.improvement("qoq") == ids.IMPROVEMENT_QOQ


def test_a_people_derived_metric_names_its_people_source() -> None:
    for m in REGISTRY.values():
        if m.people_derived:
            assert m.people_source in PEOPLE_SOURCES, f"{m.id}: people-derived, no people source"
        else:
            assert m.people_source is None, f"{m.id}: a people source but not people-derived"


def _row(store: Store, family: str, team: str, k: int) -> dict[str, Any]:
    res = diagnostic_rows(store, DiagnosticRequest(family, grain="week", entities=(team,),
                                                   since=W27[0], until=W27[1]),
                          min_group_size=k)
    (row,) = res["rows"]
    assert isinstance(row, dict)
    return row


def test_suppression_hides_every_people_derived_metric_by_its_registry_source(
        week: Settings) -> None:  # noqa: F811
    """Minimum 50: every group of the hand-made week is too small, so every people-derived
    figure of a team with people behind each source is hidden — and nothing else."""
    with open_store(week) as store:
        flow = _row(store, "flow", "payments", 50)
        strain = _row(store, "strain", "web", 50)  # web: two responders, one stalled author
    for family, row in (("flow", flow), ("strain", strain)):
        why = row["suppressed"]
        for m in registry.family(family):
            if m.people_derived:
                assert m.id in why, f"{m.id} is people-derived but was not suppressed"
            else:
                assert m.id not in why, f"{m.id} names no one but was suppressed"


def test_a_new_people_derived_metric_is_suppressed_by_the_source_it_names(
        week: Settings, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """Two metrics the code has never heard of, on one expression, differing only in their
    people source: at minimum 3, W27's merged pull requests have three authors (shown) and its
    delivered ones two (hidden) — suppression follows the registry, not the metric's name."""
    for mid, source in (("flow.new_by_merged", ids.PEOPLE_MERGED),
                        ("flow.new_by_delivered", ids.PEOPLE_DELIVERED)):
        monkeypatch.setitem(REGISTRY, mid, Metric(
            mid, "flow", mid, "seconds", "lower", "coding_median_seconds", people_derived=True,
            label=mid, format="duration", order=1000 + len(source), people_source=source))
    with open_store(week) as store:
        row = _row(store, "flow", "payments", 3)
    metrics, why = row["metrics"], row["suppressed"]
    assert "flow.new_by_merged" not in why and metrics["flow.new_by_merged"] == 2 * 3600
    assert "fewer than 3 people" in why["flow.new_by_delivered"]
    assert metrics["flow.new_by_delivered"] is None


@pytest.mark.parametrize(("metric_id", "value", "web", "cli"), [
    (ids.CHANGE_FAIL_RATE, 0.1234, "12.3%", "12.3%"),
    (ids.ATTAINMENT, 0.99951, "99.95%", "99.951%"),
    (ids.CHANGE_LEAD_TIME, 354447, "4.1 d", "4.1 d"),
    (ids.CYCLE_TIME, 5400, "1.5 h", "1 h 30 min"),
    (ids.COST_TO_SERVE, 12345.6, "12.3k", "$12,346"),
    (ids.WORK_IN_PROGRESS, 5.3077, "5.3", "5.31"),
    (ids.AFTER_HOURS_PAGES, 3.0, "3", "3"),
    (ids.BURN_RATE, 14.44, "14.4×", "14.4×"),
    (ids.HIGH_SEVERITY_TICKETS_PER_DEPLOYMENT, 0.0123, "0.01", "0.012"),
    (ids.RELEASE_APPETITE, "reduced", "reduced", "reduced"),
    (ids.DEPLOYMENT_FREQUENCY, None, None, None),
])
def test_one_formatter_per_interface(metric_id: str, value: object, web: str | None,
                                     cli: str | None) -> None:
    """The web's style (metrics/formatting.py) and the terminal's (cli/render.py), each one
    place, both by the registry's format: money with the currency, counts as integers."""
    assert render(metric_id, value) == web
    assert cell(metric_id, value, "USD") == cli
