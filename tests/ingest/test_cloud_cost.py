"""Cloud bills (AWS CUR 2.0 and FOCUS 1.0, tests/fakes/cloud_bills.py) into monthly cost per
team: mapping by tag and by account, amortised vs unblended, credits and refunds apart, unmapped
spend reported, gzip CSV / Parquet / export folders, the same file twice, a restated month, and
bad rows quarantined."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from shipwise.app.caller import local_caller
from shipwise.app.cloud_cost import cloud_report, import_cloud
from shipwise.app.cost import CostRequest
from shipwise.app.owner import cost, import_paths, quarantine_list
from shipwise.config import CloudCostSettings, CostSettings, Settings
from shipwise.ingest.cloud_cost import CloudImportReport
from tests.conftest import org, write_jsonl
from tests.fakes.cloud_bills import (
    CUR2_COLUMNS,
    FOCUS_COLUMNS,
    cur_line,
    focus_line,
    write_csv,
    write_parquet,
)

PAY, WEB, SHARED = "111122223333", "222233334444", "333344445555"


@pytest.fixture
def teams(settings: Settings, tmp_path: Path) -> Settings:
    rep = import_paths(settings, [write_jsonl(tmp_path / "org.jsonl",
                                              org([("payments", "pay-api"), ("web", "web-app")]))])
    assert rep.quarantined == 0
    settings.cost = CostSettings(cloud=CloudCostSettings(
        tag_keys=["user_team", "team"], tag_values={"pay": "payments"}, accounts={WEB: "web"}))
    return settings


def run_import(settings: Settings, *paths: Path, force: bool = False) -> CloudImportReport:
    with local_caller(settings) as c:
        return import_cloud(c, list(paths), force=force)


def report(settings: Settings, **kw: Any) -> dict[str, Any]:
    with local_caller(settings) as c:
        return cloud_report(c, **kw)


def spend(settings: Settings) -> dict[tuple[str, str], dict[str, float]]:
    return {(r["team"], r["month"]): {k: round(r[k], 6) for k in
                                      ("spend", "credits", "refunds", "discounts")}
            for r in report(settings)["teams"]}


def january() -> list[dict[str, Any]]:
    """A month of one payer: usage tagged for payments (user_team=payments, and the value
    'pay' mapped to payments), an untagged account mapped to web, an unmapped shared account,
    savings plan and reserved instance lines, a credit, a refund, tax and an EDP discount."""
    return [
        cur_line(PAY, "Usage", 100.0, tags={"user_team": "payments"}),
        cur_line(SHARED, "Usage", 40.0, tags={"user_team": "pay"}, day=4),  # by tag, not account
        cur_line(WEB, "Usage", 30.0),  # by account
        cur_line(WEB, "Usage", 5.0, tags={"user_team": "marketing"}),  # unknown tag: account
        cur_line(SHARED, "Usage", 7.0),  # unmapped
        cur_line(SHARED, "Usage", 3.0, tags={"user_team": "ghost"}, day=5),  # unmapped, tag shown
        # a savings plan: covered usage at 60 on demand, 45 effective; its negation; the fee
        cur_line(PAY, "SavingsPlanCoveredUsage", 60.0, tags={"user_team": "payments"}, day=6,
                 savings_plan_savings_plan_effective_cost=45.0),
        cur_line(PAY, "SavingsPlanNegation", -60.0, tags={"user_team": "payments"}, day=6),
        cur_line(PAY, "SavingsPlanRecurringFee", 50.0, day=1,
                 savings_plan_total_commitment_to_date=50.0, savings_plan_used_commitment=45.0),
        # a reserved instance: usage at 0 unblended, 20 effective; the RI fee with 4 unused
        cur_line(WEB, "DiscountedUsage", 0.0, day=7, reservation_effective_cost=20.0),
        cur_line(WEB, "RIFee", 24.0, day=1, reservation_unused_recurring_fee=4.0,
                 reservation_unused_amortized_upfront_fee_for_billing_period=0.0),
        cur_line(PAY, "Credit", -25.0, tags={"user_team": "payments"}, day=8),
        cur_line(PAY, "Refund", -10.0, tags={"user_team": "payments"}, day=9),
        cur_line(PAY, "Tax", 8.0, tags={"user_team": "payments"}, day=10),
        cur_line(PAY, "EdpDiscount", -2.0, tags={"user_team": "payments"}, day=11),
    ]


def test_cur2_parquet_maps_by_tag_then_account_and_keeps_credits_apart(teams: Settings,
                                                                      tmp_path: Path) -> None:
    f = write_parquet(tmp_path / "cur.parquet", CUR2_COLUMNS, january())
    rep = run_import(teams, f)
    assert rep.quarantined == 0 and rep.line_items == 15
    assert rep.months == [{"billing_account": "999988887777", "month": "2026-01",
                           "line_items": 15, "file": str(f)}]
    # amortised (the default): covered usage at its effective cost, negation 0, unused SP
    # commitment 5 (to the payer's account: unmapped), RI usage 20 and its unused fee 4
    assert spend(teams) == {
        ("payments", "2026-01"): {"spend": 100 + 40 + 45 + 0 + 8, "credits": -25, "refunds": -10,
                                  "discounts": -2},
        ("web", "2026-01"): {"spend": 30 + 5 + 20 + 4, "credits": 0, "refunds": 0,
                             "discounts": 0},
    }
    unmapped = {(r["account"], r["tag_value"]): r["spend"] for r in report(teams)["unmapped"]}
    assert unmapped == {(SHARED, None): 7.0, (SHARED, "ghost"): 3.0, (PAY, None): 5.0}
    totals = report(teams)["totals"]
    assert [(t["month"], t["currency"], t["spend"], t["unmapped_spend"]) for t in totals] == [
        ("2026-01", "USD", 193 + 59 + 15, 15)]
    # cost to serve reads the spend as the team's cloud cost: gross, credits not netted in
    res = cost(teams, CostRequest(grain="month", since=date(2026, 1, 1), until=date(2026, 1, 31),
                                  categories=("cloud",)))
    assert {r["team"]: r["cost_amount"] for r in res["rows"]} == {"payments": 193, "web": 59}


def test_unblended_basis_counts_what_was_billed(teams: Settings, tmp_path: Path) -> None:
    teams.cost.cloud.basis = "unblended"
    people = [{"type": "cost", "team": "payments", "month": "2026-01", "category": "people",
               "amount": 1000, "currency": "USD"}]
    import_paths(teams, [write_jsonl(tmp_path / "people.jsonl", people)])
    req = CostRequest(grain="month", since=date(2026, 1, 1), until=date(2026, 1, 31))
    before = {r["team"]: r["cost_amount"] for r in cost(teams, req)["rows"]}
    assert before == {"payments": 1000, "web": 0}
    run_import(teams, write_parquet(tmp_path / "cur.parquet", CUR2_COLUMNS, january()))
    # a cached answer does not survive the import; cloud adds to the other categories
    after = {r["team"]: r["cost_amount"] for r in cost(teams, req)["rows"]}
    assert after == {"payments": 1000 + 148, "web": 59}
    got = spend(teams)
    # payments: 100 + 40 + 60 - 60 + 8 ; web: 30 + 5 + 0 + 24 (the fee as billed)
    assert got[("payments", "2026-01")]["spend"] == 148
    assert got[("web", "2026-01")]["spend"] == 59
    assert got[("payments", "2026-01")]["credits"] == -25  # credits the same on both bases
    res = cost(teams, CostRequest(grain="month", since=date(2026, 1, 1), until=date(2026, 1, 31),
                                  categories=("cloud",)))
    assert {r["team"]: r["cost_amount"] for r in res["rows"]} == {"payments": 148, "web": 59}


def test_gzip_csv_reads_tags_as_json_and_equals_parquet(teams: Settings, tmp_path: Path) -> None:
    run_import(teams, write_csv(tmp_path / "cur.csv.gz", CUR2_COLUMNS, january()))
    from_csv = report(teams)
    run_import(teams, write_parquet(tmp_path / "cur.parquet", CUR2_COLUMNS, january()))
    from_parquet = report(teams)
    for key in ("teams", "unmapped", "totals"):
        assert from_csv[key] == from_parquet[key], key
    assert from_csv["teams"], "nothing read"


def test_an_export_folder_of_parts_is_read_whole(teams: Settings, tmp_path: Path) -> None:
    rows = january()
    export = tmp_path / "exports" / "cur2"
    data = export / "data" / "BILLING_PERIOD=2026-01"
    write_parquet(data / "cur2-00001.snappy.parquet", CUR2_COLUMNS, rows[:7])
    write_parquet(data / "cur2-00002.snappy.parquet", CUR2_COLUMNS, rows[7:12])
    write_csv(data / "cur2-00003.csv.gz", CUR2_COLUMNS, rows[12:])  # a part of another reader
    (export / "metadata" / "BILLING_PERIOD=2026-01").mkdir(parents=True)
    (export / "metadata" / "BILLING_PERIOD=2026-01" / "cur2-Manifest.json").write_text("{}")
    rep = run_import(teams, export)
    assert rep.line_items == 15 and rep.files == [str(export)]
    assert spend(teams)[("payments", "2026-01")] == {"spend": 193, "credits": -25,
                                                     "refunds": -10, "discounts": -2}


def test_the_same_file_twice_counts_once(teams: Settings, tmp_path: Path) -> None:
    f = write_parquet(tmp_path / "cur.parquet", CUR2_COLUMNS, january())
    run_import(teams, f)
    first = report(teams)
    again = run_import(teams, f)
    assert again.skipped == [str(f)] and again.line_items == 0
    forced = run_import(teams, f, force=True)
    assert forced.line_items == 15
    assert report(teams)["teams"] == first["teams"]
    assert report(teams)["totals"] == first["totals"]


def test_a_restated_month_replaces_the_old_one_and_leaves_other_months(teams: Settings,
                                                                       tmp_path: Path) -> None:
    december = [cur_line(PAY, "Usage", 70.0, month="2025-12", tags={"user_team": "payments"})]
    run_import(teams, write_csv(tmp_path / "dec.csv.gz", CUR2_COLUMNS, december))
    f = write_csv(tmp_path / "jan.csv.gz", CUR2_COLUMNS, january())
    run_import(teams, f)
    # AWS restates January: one more usage line; the file is written again at the same path
    restated = [*january(), cur_line(PAY, "Usage", 11.0, tags={"user_team": "payments"}, day=20)]
    write_csv(f, CUR2_COLUMNS, restated)
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))
    rep = run_import(teams, f)
    assert rep.line_items == 16
    got = spend(teams)
    assert got[("payments", "2026-01")]["spend"] == 193 + 11
    assert got[("payments", "2025-12")]["spend"] == 70  # December untouched
    # another payer's January is its own: it does not replace this one
    other = [cur_line(PAY, "Usage", 1.0, payer="555566667777", tags={"user_team": "payments"})]
    run_import(teams, write_parquet(tmp_path / "other.parquet", CUR2_COLUMNS, other))
    assert spend(teams)[("payments", "2026-01")]["spend"] == 193 + 11 + 1
    files = report(teams)["files"]
    assert [(r["billing_account"], r["month"], r["file"]) for r in files] == [
        ("999988887777", "2025-12", str(tmp_path / "dec.csv.gz")),
        ("555566667777", "2026-01", str(tmp_path / "other.parquet")),
        ("999988887777", "2026-01", str(f))]


def test_bad_rows_are_quarantined_with_their_reason(teams: Settings, tmp_path: Path) -> None:
    rows = [*january(),
            cur_line(PAY, "Usage", "12,50", tags={"user_team": "payments"}, day=21),
            cur_line(PAY, "Usage", 9.0, day=22, bill_billing_period_start_date=None,
                     line_item_usage_start_date=None),
            cur_line(PAY, "Usage", None, day=23)]
    rep = run_import(teams, write_csv(tmp_path / "cur.csv", CUR2_COLUMNS, rows))
    assert rep.quarantined == 3
    assert rep.reasons == {"cost is not a number": 1,
                           "no date (billing period or usage start)": 1, "no cost": 1}
    q = quarantine_list(teams, type_name="cloud_cost")
    assert q["total"] == 3
    assert any('"12,50"' in r["raw"] for r in q["records"])
    assert spend(teams)[("payments", "2026-01")]["spend"] == 193  # the good rows all in
    # the same bad rows again are kept once
    run_import(teams, tmp_path / "cur.csv", force=True)
    assert quarantine_list(teams, type_name="cloud_cost")["total"] == 3


def test_focus_files_billed_and_effective_cost(teams: Settings, tmp_path: Path) -> None:
    rows = [
        focus_line(PAY, "Usage", 100.0, 80.0, tags={"team": "payments"}),
        focus_line(WEB, "Usage", 30.0, 30.0),
        focus_line(PAY, "Purchase", 120.0, 0.0),  # an upfront commitment: amortised away
        focus_line(SHARED, "Usage", 6.0, 6.0),
        focus_line(PAY, "Credit", -15.0, -15.0, tags={"team": "payments"}),
        focus_line(PAY, "Adjustment", -4.0, -4.0, tags={"team": "payments"}),
        focus_line(PAY, "Tax", 9.0, 9.0, tags={"team": "payments"}),
        focus_line(WEB, "Usage", 2.0, 2.0, currency="EUR", month="2026-02"),
    ]
    run_import(teams, write_parquet(tmp_path / "focus.parquet", FOCUS_COLUMNS, rows))
    r = report(teams)
    by = {(x["team"], x["month"], x["currency"]): x for x in r["teams"]}
    assert by[("payments", "2026-01", "USD")]["spend"] == 89
    assert by[("payments", "2026-01", "USD")]["credits"] == -15
    assert by[("payments", "2026-01", "USD")]["adjustments"] == -4
    assert by[("web", "2026-02", "EUR")]["spend"] == 2  # its currency kept
    # the Purchase (billed to the payer's own sub-account, untagged) is unmapped, 0 amortised
    assert {(u["account"], u["spend"]) for u in r["unmapped"]} == {(PAY, 0.0), (SHARED, 6.0)}
    teams.cost.cloud.basis = "unblended"
    r = report(teams)
    by = {(x["team"], x["month"], x["currency"]): x for x in r["teams"]}
    assert by[("payments", "2026-01", "USD")]["spend"] == 109
    # and a CSV FOCUS file with JSON tags reads the same
    run_import(teams, write_csv(tmp_path / "focus.csv", FOCUS_COLUMNS, rows))
    assert report(teams)["teams"] == r["teams"]


def test_legacy_cur_and_unknown_files_are_refused_whole(teams: Settings, tmp_path: Path) -> None:
    from shipwise.errors import InputError

    legacy = tmp_path / "legacy.csv"
    legacy.write_text("identity/LineItemId,lineItem/LineItemType,lineItem/UnblendedCost\n"
                      "a,Usage,1\n")
    with pytest.raises(InputError, match="legacy"):
        run_import(teams, legacy)
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="neither"):
        run_import(teams, other)
    con = duckdb.connect(str(teams.db), read_only=True)
    try:
        row = con.execute("SELECT count(*) FROM cloud_cost").fetchone()
        assert row is not None and row[0] == 0
    finally:
        con.close()


def test_the_cli_imports_and_reports(teams: Settings, tmp_path: Path) -> None:
    import json

    import yaml
    from click.testing import CliRunner

    from shipwise.cli.main import cli

    config = tmp_path / "shipwise.yaml"
    config.write_text(yaml.safe_dump({"cost": {"cloud": {
        "basis": "amortised", "tag_keys": ["user_team"], "tag_values": {"pay": "payments"},
        "accounts": {int(WEB): "web"}}}}))  # an unquoted account id reads as a number
    base = ["--db", str(teams.db), "--config", str(config)]
    f = write_csv(tmp_path / "cur.csv.gz", CUR2_COLUMNS, january())
    runner = CliRunner()
    res = runner.invoke(cli, [*base, "cost", "cloud", "import", str(f), "--format", "json"],
                        catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["line_items"] == 15
    res = runner.invoke(cli, [*base, "cost", "cloud", "import", str(f)], catch_exceptions=False)
    assert "unchanged since its last import" in res.output
    res = runner.invoke(cli, [*base, "cost", "cloud", "--format", "json"], catch_exceptions=False)
    out = json.loads(res.output)
    assert {(r["team"], r["spend"]) for r in out["teams"]} == {("payments", 193.0),
                                                               ("web", 59.0)}
    res = runner.invoke(cli, [*base, "cost", "cloud"], catch_exceptions=False)
    assert res.exit_code == 0 and "Unmapped" in res.output and "333344445555" in res.output
    assert "$193.00" in res.output  # money with its currency, as in every CLI table
