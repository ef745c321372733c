"""Costs in several currencies: kept as imported, reported in the reporting currency at the rate
of their month (``fx_rate``), the rate shown, and a cost without a rate reported — never dropped
from a sum or converted at a guessed rate."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from shipwise.app.caller import local_caller
from shipwise.app.cost import CostRequest
from shipwise.app.doctor import doctor
from shipwise.app.owner import cost, import_paths, initiatives, quarantine_list
from shipwise.config import CostSettings, Settings
from shipwise.errors import InputError
from tests.conftest import cli_env, org, write_jsonl
from tests.metrics.test_cost import Q3_2025, Q3_2026, costs, dep

EUR = CostSettings(reporting_currency="EUR")

HISTORY = [
    *org([("payments", "pay-api")]),
    *costs("payments", Q3_2025 + Q3_2026, people=20_000),  # EUR
    # infrastructure billed in dollars in 2026
    *[{"type": "cost", "team": "payments", "month": m, "category": "infrastructure",
       "amount": 1_000, "currency": "USD"} for m in Q3_2026],
    *[dep(f"a{i}", f"2025-0{7 + i}-10", f"v{i}") for i in range(3)],
    *[dep(f"b{i}", f"2026-07-{10 + i}", f"w{i}") for i in range(6)],
]
RATES = [
    {"type": "fx_rate", "month": "2026-07", "currency": "USD", "reporting_currency": "EUR",
     "rate": 0.9, "source": "ECB monthly average"},
    {"type": "fx_rate", "month": "2026-08", "currency": "USD", "reporting_currency": "EUR",
     "rate": 0.8, "source": "ECB monthly average"},
]
SEPTEMBER = {"type": "fx_rate", "month": "2026-09", "currency": "USD",
             "reporting_currency": "EUR", "rate": 1.0}


@pytest.fixture
def dollars(settings: Settings, tmp_path: Path) -> Settings:
    """Payments' 2026 infrastructure in USD; rates for July and August only."""
    rep = import_paths(settings, [write_jsonl(tmp_path / "h.jsonl", HISTORY + RATES)])
    assert rep.quarantined == 0, rep.reasons
    return settings.model_copy(update={"cost": EUR})


def rows(settings: Settings, **kw: Any) -> dict[str, Any]:
    return cost(settings, CostRequest(since=date(2025, 7, 1), until=date(2026, 9, 30), **kw))


def by_period(res: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["period"]: r for r in res["rows"] if r["team"] == "payments"}


def test_a_cost_in_another_currency_is_kept_as_imported(dollars: Settings) -> None:
    con = duckdb.connect(str(dollars.db), read_only=True)
    stored = con.execute("SELECT amount, currency FROM cost WHERE category = 'infrastructure' "
                         "ORDER BY month").fetchall()
    con.close()
    assert stored == [(1_000, "USD")] * 3
    assert quarantine_list(dollars)["records"] == []


def test_costs_are_converted_at_the_rate_of_their_month_and_the_rate_is_shown(
        dollars: Settings) -> None:
    res = rows(dollars, grain="month")
    assert res["currency"] == "EUR"
    p = by_period(res)
    assert p["2026-07"]["cost_amount"] == pytest.approx(20_000 + 900)
    assert p["2026-08"]["cost_amount"] == pytest.approx(20_000 + 800)
    assert p["2026-07"]["metrics"]["cost.cost_to_serve"] == pytest.approx(20_900 / 6)
    used = {(r["month"], r["currency"]): r for r in res["conversion"]["rates"]}
    assert set(used) == {("2026-07", "USD"), ("2026-08", "USD")}
    assert used[("2026-07", "USD")] == {
        "month": "2026-07", "currency": "USD", "rate": 0.9, "source": "ECB monthly average",
        "records": 1, "amount": 1_000, "reported_amount": pytest.approx(900)}


def test_a_cost_without_a_rate_is_reported_not_dropped(dollars: Settings) -> None:
    res = rows(dollars, grain="month")
    september = by_period(res)["2026-09"]
    # 20,000 EUR would understate the month; 21,000 would guess a rate: neither is shown
    assert september["cost_amount"] is None and september["unconverted_costs"] == 1
    assert september["metrics"]["cost.cost_to_serve"] is None
    assert [f["kind"] for f in september["flags"]] == ["unconverted"]
    assert res["conversion"]["unconverted"] == [
        {"month": "2026-09", "currency": "USD", "records": 1, "amount": 1_000,
         "teams": ["payments"]}]
    quarter = by_period(rows(dollars))["2026-Q3"]
    assert quarter["cost_amount"] is None and quarter["metrics"]["cost.improvement_yoy"] is None
    assert rows(dollars)["organisation"] == []  # no team with a known cost in both periods


def test_importing_the_missing_rate_completes_the_figures(dollars: Settings, tmp_path: Path) -> None:
    assert by_period(rows(dollars))["2026-Q3"]["cost_amount"] is None  # and remembered
    import_paths(dollars, [write_jsonl(tmp_path / "r.jsonl", [SEPTEMBER])])
    res = rows(dollars)
    q = by_period(res)["2026-Q3"]
    assert q["cost_amount"] == pytest.approx(60_000 + 900 + 800 + 1_000)
    assert q["metrics"]["cost.improvement_yoy"] == pytest.approx(1 - (62_700 / 6) / (60_000 / 3))
    assert res["conversion"]["unconverted"] == []
    assert res["organisation"][-1]["cost_amount"] == pytest.approx(62_700)


def test_rates_to_another_reporting_currency_are_not_used(dollars: Settings) -> None:
    usd = dollars.model_copy(update={"cost": CostSettings(reporting_currency="USD")})
    res = rows(usd, grain="month")
    assert res["currency"] == "USD"
    p = by_period(res)
    # the USD costs need no rate now, but the EUR ones have none to USD: nothing is guessed
    assert p["2026-07"]["cost_amount"] is None and p["2026-07"]["unconverted_costs"] == 1
    assert {u["currency"] for u in res["conversion"]["unconverted"]} == {"EUR"}


def test_only_the_categories_asked_for_need_rates(dollars: Settings) -> None:
    p = by_period(rows(dollars, grain="month", categories=("people",)))
    assert p["2026-09"]["cost_amount"] == 20_000 and p["2026-09"]["unconverted_costs"] == 0


def test_several_currencies_without_a_reporting_currency_is_an_error(dollars: Settings) -> None:
    unset = dollars.model_copy(update={"cost": CostSettings()})
    with pytest.raises(InputError, match="several currencies") as exc:
        rows(unset)
    assert "cost.reporting_currency" in (exc.value.hint or "")


def test_bad_rates_are_quarantined_with_a_reason(settings: Settings, tmp_path: Path) -> None:
    bad = [
        {"type": "fx_rate", "month": "2026-13", "currency": "USD", "reporting_currency": "EUR",
         "rate": 0.9},
        {"type": "fx_rate", "month": "2026-07", "currency": "USD", "reporting_currency": "EUR",
         "rate": 0},
        {"type": "fx_rate", "month": "2026-07", "currency": "GBP", "reporting_currency": "EUR",
         "rate": -1.1},
        {"type": "fx_rate", "month": "2026-07", "currency": "CHF", "rate": 1.05},
    ]
    rep = import_paths(settings, [write_jsonl(tmp_path / "r.jsonl", bad)])
    assert rep.counts["fx_rate"].quarantined == 4
    reasons = " | ".join(rep.reasons)
    for why in ("month: expected a month YYYY-MM", "rate: not above 0", "missing reporting_currency"):
        assert why in reasons


def test_the_same_rates_twice_change_nothing(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "fx_rates.csv"
    path.write_text("month,currency,reporting_currency,rate,source\n"
                    "2026-07,USD,EUR,0.9,ECB\n2026-08,USD,EUR,0.8,ECB\n")
    first = import_paths(settings, [path])
    assert first.counts["fx_rate"].inserted == 2
    again = import_paths(settings, [path])
    assert (again.counts["fx_rate"].inserted, again.counts["fx_rate"].unchanged) == (0, 2)


def test_investments_are_converted_at_the_rate_of_their_start(dollars: Settings,
                                                             tmp_path: Path) -> None:
    inv = [{"type": "investment", "id": "ci", "name": "CI", "teams": ["payments"],
            "started_at": "2026-07-01T00:00:00Z", "amount": 10_000, "currency": "USD",
            "kind": "ci-cd"},
           {"type": "investment", "id": "ai", "name": "AI", "teams": ["payments"],
            "started_at": "2026-09-15T00:00:00Z", "amount": 5_000, "currency": "USD",
            "kind": "ai-tools"}]
    rep = import_paths(dollars, [write_jsonl(tmp_path / "i.jsonl", inv)])
    assert rep.quarantined == 0, rep.reasons
    res = {i["id"]: i for i in initiatives(dollars)["initiatives"]}
    assert initiatives(dollars)["currency"] == "EUR"
    assert res["ci-cd"]["amount"] == pytest.approx(9_000)
    assert res["ci-cd"]["rates"] == [{"investment": "ci", "currency": "USD", "month": "2026-07",
                                      "rate": 0.9}]
    # September has no rate: no amount, no ROI, and a warning saying which and why
    ai = res["ai-tools"]
    assert ai["amount"] is None and ai["roi"] is None
    assert any("no exchange rate to EUR for ai (USD, 2026-09)" in w for w in ai["warnings"])


def test_doctor_names_the_months_and_currencies_without_a_rate(dollars: Settings) -> None:
    with local_caller(dollars) as c:
        checks = [ch for ch in doctor(c).checks if ch.area == "cost"]
    assert len(checks) == 1 and not checks[0].ok
    assert "no rate to EUR for 2026-09 USD (1 record)" in (checks[0].problem or "")
    assert "2026-07" not in (checks[0].problem or "")


def test_doctor_asks_for_a_reporting_currency_when_costs_mix(dollars: Settings) -> None:
    with local_caller(dollars.model_copy(update={"cost": CostSettings()})) as c:
        checks = [ch for ch in doctor(c).checks if ch.area == "cost"]
    assert "cost.reporting_currency" in (checks[0].problem or "")


def test_shipwise_cost_prints_the_rates_it_used(dollars: Settings) -> None:
    (dollars.db.parent / "shipwise.yaml").write_text("cost:\n  reporting_currency: EUR\n")
    res = subprocess.run([sys.executable, "-m", "shipwise", "cost", "--grain", "month",
                          "--since", "2026-07-01", "--until", "2026-09-30"],
                         cwd=dollars.db.parent, env=cli_env(COLUMNS="200"), capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "2026-07: 1 USD = 0.9 EUR, ECB monthly average — 1 record, $1,000 → €900" in res.stdout
    assert "⚠ 2026-09: no rate from USD to EUR — 1 record ($1,000; payments) not converted" \
        in res.stdout
