"""An HR/finance file of loaded cost and FTE per team and month (``people_cost``): each valid row
becomes a ``cost`` record (category people) and a ``headcount`` record; bad rows are quarantined
with their reason, file and line; the same file twice counts nothing twice."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest

from shipwise.app.cost import CostRequest
from shipwise.app.owner import cost, import_paths, quarantine_list
from shipwise.config import CostSettings, Settings
from tests.conftest import org, write_jsonl

HEADER = "team,month,loaded_cost,fte,currency\n"


@pytest.fixture
def teams(settings: Settings, tmp_path: Path) -> Settings:
    rep = import_paths(settings, [write_jsonl(tmp_path / "org.jsonl",
                                              org([("payments", "pay-api"), ("web", "web-app")]))])
    assert rep.quarantined == 0
    return settings


def stored(settings: Settings) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    con = duckdb.connect(str(settings.db), read_only=True)
    try:
        costs = con.execute("SELECT team, month, category, amount, currency FROM cost "
                            "ORDER BY team, month").fetchall()
        fte = con.execute("SELECT team, month, fte FROM headcount ORDER BY team, month").fetchall()
    finally:
        con.close()
    return costs, fte


def test_an_hr_file_becomes_people_cost_and_headcount(teams: Settings, tmp_path: Path) -> None:
    hr = tmp_path / "people_cost.csv"
    hr.write_text(HEADER + "payments,2026-07,60000,5,EUR\npayments,2026-08,61200.5,5.5,EUR\n"
                  "web,2026-07,24000,2,EUR\n")
    rep = import_paths(teams, [hr])
    assert rep.quarantined == 0, rep.reasons
    assert rep.counts["people_cost"].passed_on == 3
    assert (rep.counts["cost"].inserted, rep.counts["headcount"].inserted) == (3, 3)
    costs, fte = stored(teams)
    assert costs == [("payments", "2026-07", "people", 60000, "EUR"),
                     ("payments", "2026-08", "people", 61200.5, "EUR"),
                     ("web", "2026-07", "people", 24000, "EUR")]
    assert fte == [("payments", "2026-07", 5), ("payments", "2026-08", 5.5), ("web", "2026-07", 2)]
    # and cost to serve reads them like any people cost
    res = cost(teams, CostRequest(grain="month", since=date(2026, 7, 1), until=date(2026, 8, 31),
                                  team=("payments",)))
    assert [r["cost_amount"] for r in res["rows"]] == [60000, 61200.5]


def test_bad_rows_are_quarantined_with_their_reason_and_line(teams: Settings,
                                                             tmp_path: Path) -> None:
    hr = tmp_path / "people_costs.csv"
    hr.write_text(HEADER
                  + "payments,2026-07,60000,5,EUR\n"      # line 2: fine
                  + "platform,2026-07,50000,4,EUR\n"      # 3: no such team
                  + "payments,2026-08,-100,5,EUR\n"       # 4: negative cost
                  + "payments,2026-09,60000,-1,EUR\n"     # 5: negative FTE
                  + "payments,2026-13,60000,5,EUR\n"      # 6: no such month
                  + "payments,July 2026,60000,5,EUR\n"    # 7: not a month
                  + "web,2026-07,24000,2,\n"              # 8: no currency
                  + "web,2026-08,lots,2,EUR\n")           # 9: not a number
    rep = import_paths(teams, [hr])
    assert rep.counts["people_cost"].quarantined == 7
    assert rep.counts["people_cost"].passed_on == 1
    by_line = {r["line"]: r for r in quarantine_list(teams, limit=50)["records"]}
    assert set(by_line) == {3, 4, 5, 6, 7, 8, 9}
    assert by_line[3]["reason"] == "unknown team (team)"
    assert by_line[4]["reason"] == "loaded_cost: negative"
    assert by_line[5]["reason"] == "fte: negative"
    assert by_line[6]["reason"] == by_line[7]["reason"] == "month: expected a month YYYY-MM"
    assert by_line[8]["reason"] == "missing currency"
    assert by_line[9]["reason"] == "loaded_cost: expected a number"
    assert all(r["type"] == "people_cost" and r["source"] == str(hr) for r in by_line.values())
    assert json.loads(by_line[3]["raw"])["team"] == "platform"  # kept as read
    # nothing of a bad row was stored, neither its cost nor its FTE
    assert stored(teams) == ([("payments", "2026-07", "people", 60000, "EUR")],
                             [("payments", "2026-07", 5)])


def test_the_same_file_twice_counts_nothing_twice(teams: Settings, tmp_path: Path) -> None:
    hr = tmp_path / "people_cost.csv"
    hr.write_text(HEADER + "payments,2026-07,60000,5,EUR\nweb,2026-07,24000,2,EUR\n")
    import_paths(teams, [hr])
    before = stored(teams)
    again = import_paths(teams, [hr])
    assert (again.counts["cost"].inserted, again.counts["cost"].unchanged) == (0, 2)
    assert (again.counts["headcount"].inserted, again.counts["headcount"].unchanged) == (0, 2)
    assert stored(teams) == before
    # a corrected file replaces the month's figures, it does not add to them
    hr.write_text(HEADER + "payments,2026-07,62000,5.5,EUR\nweb,2026-07,24000,2,EUR\n")
    fixed = import_paths(teams, [hr])
    assert fixed.counts["cost"].updated == 1 and fixed.counts["headcount"].updated == 1
    costs, fte = stored(teams)
    assert costs[0][3] == 62000 and fte[0][2] == 5.5 and len(costs) == len(fte) == 2


def test_a_repeated_team_and_month_keeps_the_last_row(teams: Settings, tmp_path: Path) -> None:
    hr = tmp_path / "hr.csv"
    hr.write_text(HEADER + "payments,2026-07,60000,5,EUR\npayments,2026-07,61000,5,EUR\n")
    rep = import_paths(teams, [hr])
    assert rep.counts["people_cost"].duplicates == 1
    assert stored(teams)[0] == [("payments", "2026-07", "people", 61000, "EUR")]


def test_jsonl_people_cost_in_another_currency_is_converted(teams: Settings,
                                                            tmp_path: Path) -> None:
    recs = [{"type": "people_cost", "team": "payments", "month": "2026-07", "loaded_cost": 10000,
             "fte": 1, "currency": "GBP"},
            {"type": "fx_rate", "month": "2026-07", "currency": "GBP",
             "reporting_currency": "EUR", "rate": 1.17}]
    rep = import_paths(teams, [write_jsonl(tmp_path / "hr.jsonl", recs)])
    assert rep.quarantined == 0, rep.reasons
    eur = teams.model_copy(update={"cost": CostSettings(reporting_currency="EUR")})
    res = cost(eur, CostRequest(grain="month", since=date(2026, 7, 1), until=date(2026, 7, 31),
                                team=("payments",)))
    assert res["rows"][0]["cost_amount"] == pytest.approx(11_700)
