"""The portable SQL subset: every definition a metric proven on Spark depends on stays inside it,
and each engine-specific construct renders as its engine needs (exact percentiles, whole seconds,
IGNORE NULLS, recursive unions)."""

from __future__ import annotations

from datetime import date

import pytest

from shipwise.metrics import cost, dora, facts, flow, portable, registry, strain
from shipwise.metrics.portable import DUCKDB, SPARK, PortabilityError, check, render

D0, D1 = date(2025, 1, 1), date(2025, 12, 31)


def definitions(family: str) -> list[str]:
    """Every SQL text the family's figures are computed from on an engine (facts included)."""
    if family == "dora":
        return [s for _, s in facts.FACTS] + [
            dora.dora_sql(dora.DoraQuery(g, e, D0, D1, ("t",), ("s",)))[0]
            for g in dora.GRAINS for e in dora.ENTITIES] + [dora.data_span_sql()]
    if family == "cost":
        sqls = [cost.cost_sql(cost.CostQuery(g, D0, D1, b, teams=("t",)))[0]
                for g in cost.GRAINS for b in ("yoy", "qoq")]
        return [s for _, s in facts.FACTS] + sqls + [cost.organisation_sql(s) for s in sqls] + [
            cost.data_span_sql()]
    if family == "flow":
        retained = [s for t, _, s in facts.RETAINED_FACTS if t == "flow_pr_fact"]
        return [s for _, s in facts.FACTS] + retained + [
            flow.flow_sql(flow.FlowQuery(g, lv, D0, D1, ("x",)))[0]
            for g in ("week", "month", "quarter") for lv in ("team", "org_unit")]
    if family == "strain":
        retained = [s for t, _, s in facts.RETAINED_FACTS if t == "strain_page_fact"]
        return [*retained, strain.strain_sql(strain.StrainQuery(
            "quarter", "team", D0, D1, strain.Hours()))[0]]
    raise AssertionError(family)


@pytest.mark.parametrize("family", ["dora", "cost", "flow", "strain", "slo"])
def test_a_family_claims_spark_only_when_its_definitions_are_portable(family: str) -> None:
    claims = {SPARK in m.engines for m in registry.family(family)}
    assert len(claims) == 1, "a family's metrics share their definitions, so their engines"
    if claims == {True}:
        for sql in definitions(family):
            check(sql)
            render(sql, SPARK)
    elif family == "strain":  # the store's SQL: time zones and JSON, not in the subset
        with pytest.raises(PortabilityError, match=r"pg_timezone_names|json_extract_string"):
            for sql in definitions(family):
                check(sql)
    assert all(DUCKDB in m.engines for m in registry.family(family))


def test_the_families_proven_on_spark() -> None:
    on_spark = {m.family for m in registry.REGISTRY.values() if SPARK in m.engines}
    assert on_spark == {"dora", "cost", "flow"}


@pytest.mark.parametrize("sql", [
    "SELECT percentile_approx(x, 0.5) FROM t",
    "SELECT approx_quantile(x, 0.5) FROM t",
    "SELECT quantile_cont(x, 0.5) FROM t",
    "SELECT median(x) FROM t",
    "SELECT epoch(b - a) FROM t",
    "SELECT arg_max(a, b) FROM t",
    "SELECT x::DATE FROM t",
    "SELECT date_diff('day', a, b) FROM t",
    "SELECT timestampdiff(SECOND, a, b) FROM t",
    "SELECT json_extract_string(a, '$.x') FROM t",
    "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x DESC) FROM t",
])
def test_what_is_outside_the_subset_is_refused(sql: str) -> None:
    with pytest.raises(PortabilityError):
        check(sql)
        render(sql, SPARK)


def test_duckdb_reads_the_canonical_spelling_as_it_is() -> None:
    for family in ("dora", "cost", "flow"):
        for sql in definitions(family):
            assert render(sql, DUCKDB) == sql


def test_exact_percentile_renders_as_spark_exact_percentile() -> None:
    sql = ("SELECT percentile_cont(0.9) WITHIN GROUP (ORDER BY CASE WHEN x >= 0 THEN "
           "date_diff('second', a, b) END) AS p FROM t")
    out = render(sql, SPARK)
    assert out == ("SELECT percentile(CASE WHEN x >= 0 THEN (unix_timestamp(b) - "
                   "unix_timestamp(a)) END, 0.9) AS p FROM t")
    assert "approx" not in out


def test_seconds_ignore_nulls_and_recursive_union() -> None:
    assert render("SELECT date_diff('second', f(a, 'x,)'), b) FROM t", SPARK) == \
        "SELECT (unix_timestamp(b) - unix_timestamp(f(a, 'x,)'))) FROM t"
    assert render("SELECT nth_value(CASE WHEN a THEN t END, 2 IGNORE NULLS) OVER w FROM x",
                  SPARK) == "SELECT nth_value(CASE WHEN a THEN t END, 2) IGNORE NULLS OVER w FROM x"
    assert render("SELECT first_value(x IGNORE NULLS) OVER w FROM t", SPARK) == \
        "SELECT first_value(x) IGNORE NULLS OVER w FROM t"
    rec = "WITH RECURSIVE r(n) AS (SELECT 1 UNION SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r"
    assert render(rec, SPARK) == rec.replace("UNION", "UNION ALL")
    plain = "WITH a AS (SELECT 1 UNION SELECT 2) SELECT * FROM a"
    assert render(plain, SPARK) == plain  # UNION keeps its meaning outside a recursive CTE
    # strings, quoted names and comments are never rewritten
    quoted = """SELECT 'date_diff(''second'', a, b)' AS "nth_value(x)" -- percentile_cont(
FROM t"""
    assert render(quoted, SPARK) == quoted


def test_helpers_write_the_canonical_spelling() -> None:
    assert portable.seconds_between("a", "b") == "date_diff('second', a, b)"
    assert portable.percentile(0.5, "x") == "percentile_cont(0.5) WITHIN GROUP (ORDER BY x)"
