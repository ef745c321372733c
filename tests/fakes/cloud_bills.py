"""Cloud bills in the real layouts, for tests and the bench: AWS Cost and Usage Report 2.0
(Data Exports; docs.aws.amazon.com/cur/latest/userguide/table-dictionary-cur2.html — a fixed
schema, tags in the ``resource_tags`` map, ``user_`` before user-defined keys) and FOCUS 1.0 with
AWS columns (table-dictionary-focus-1-0-aws-columns). Parquet writes the map columns as MAP;
CSV as JSON text, as the AWS CSV export does. Only the columns shipwise reads and a realistic
set beside them are written (the real CUR 2.0 has ~125)."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any

import duckdb

#: CUR 2.0 columns in export order (a subset), with their Parquet types
CUR2_COLUMNS: dict[str, str] = {
    "identity_line_item_id": "VARCHAR", "identity_time_interval": "VARCHAR",
    "bill_bill_type": "VARCHAR", "bill_billing_entity": "VARCHAR",
    "bill_billing_period_end_date": "TIMESTAMP", "bill_billing_period_start_date": "TIMESTAMP",
    "bill_invoice_id": "VARCHAR", "bill_payer_account_id": "VARCHAR",
    "bill_payer_account_name": "VARCHAR", "cost_category": "MAP(VARCHAR, VARCHAR)",
    "discount": "MAP(VARCHAR, DOUBLE)", "line_item_availability_zone": "VARCHAR",
    "line_item_blended_cost": "DOUBLE", "line_item_currency_code": "VARCHAR",
    "line_item_legal_entity": "VARCHAR", "line_item_line_item_description": "VARCHAR",
    "line_item_line_item_type": "VARCHAR", "line_item_net_unblended_cost": "DOUBLE",
    "line_item_operation": "VARCHAR", "line_item_product_code": "VARCHAR",
    "line_item_resource_id": "VARCHAR", "line_item_unblended_cost": "DOUBLE",
    "line_item_unblended_rate": "VARCHAR", "line_item_usage_account_id": "VARCHAR",
    "line_item_usage_account_name": "VARCHAR", "line_item_usage_amount": "DOUBLE",
    "line_item_usage_end_date": "TIMESTAMP", "line_item_usage_start_date": "TIMESTAMP",
    "line_item_usage_type": "VARCHAR", "pricing_public_on_demand_cost": "DOUBLE",
    "product": "MAP(VARCHAR, VARCHAR)", "product_region_code": "VARCHAR",
    "reservation_effective_cost": "DOUBLE", "reservation_reservation_a_r_n": "VARCHAR",
    "reservation_unused_amortized_upfront_fee_for_billing_period": "DOUBLE",
    "reservation_unused_recurring_fee": "DOUBLE", "resource_tags": "MAP(VARCHAR, VARCHAR)",
    "savings_plan_savings_plan_a_r_n": "VARCHAR",
    "savings_plan_savings_plan_effective_cost": "DOUBLE",
    "savings_plan_total_commitment_to_date": "DOUBLE", "savings_plan_used_commitment": "DOUBLE",
}

#: FOCUS 1.0 (AWS) columns (a subset) with their Parquet types
FOCUS_COLUMNS: dict[str, str] = {
    "AvailabilityZone": "VARCHAR", "BilledCost": "DOUBLE", "BillingAccountId": "VARCHAR",
    "BillingAccountName": "VARCHAR", "BillingCurrency": "VARCHAR",
    "BillingPeriodEnd": "TIMESTAMP", "BillingPeriodStart": "TIMESTAMP",
    "ChargeCategory": "VARCHAR", "ChargeClass": "VARCHAR", "ChargeDescription": "VARCHAR",
    "ChargeFrequency": "VARCHAR", "ChargePeriodEnd": "TIMESTAMP",
    "ChargePeriodStart": "TIMESTAMP", "CommitmentDiscountId": "VARCHAR",
    "ConsumedQuantity": "DOUBLE", "EffectiveCost": "DOUBLE", "ListCost": "DOUBLE",
    "ProviderName": "VARCHAR", "Region": "VARCHAR", "ResourceId": "VARCHAR",
    "ServiceCategory": "VARCHAR", "ServiceName": "VARCHAR", "SubAccountId": "VARCHAR",
    "SubAccountName": "VARCHAR", "Tags": "MAP(VARCHAR, VARCHAR)",
}

PAYER = "999988887777"


def cur_line(account: str, kind: str, cost: float | str | None, *, month: str = "2026-01",
             tags: dict[str, str] | None = None, service: str = "AmazonEC2",
             currency: str = "USD", payer: str = PAYER, day: int = 3,
             **extra: Any) -> dict[str, Any]:
    """One CUR 2.0 line item (the columns not given are empty, as in the export)."""
    start = f"{month}-01T00:00:00Z"
    y, m = (int(x) for x in month.split("-"))
    end = f"{y + m // 12:04d}-{m % 12 + 1:02d}-01T00:00:00Z"
    row: dict[str, Any] = {c: None for c in CUR2_COLUMNS}
    row.update({
        "identity_line_item_id": f"li-{account}-{kind}-{cost}-{day}",
        "identity_time_interval": f"{month}-{day:02d}T00:00:00Z/{month}-{day:02d}T01:00:00Z",
        "bill_bill_type": "Anniversary", "bill_billing_entity": "AWS",
        "bill_billing_period_start_date": start, "bill_billing_period_end_date": end,
        "bill_payer_account_id": payer, "bill_payer_account_name": "org-payer",
        "line_item_currency_code": currency, "line_item_line_item_type": kind,
        "line_item_product_code": service, "line_item_unblended_cost": cost,
        "line_item_net_unblended_cost": cost, "line_item_blended_cost": cost,
        "line_item_usage_account_id": account, "line_item_usage_account_name": f"acct-{account}",
        "line_item_usage_start_date": f"{month}-{day:02d}T00:00:00Z",
        "line_item_usage_end_date": f"{month}-{day:02d}T01:00:00Z",
        "line_item_usage_type": "BoxUsage:m5.large", "line_item_operation": "RunInstances",
        "product_region_code": "eu-west-1", "resource_tags": tags or {},
        "product": {"region": "eu-west-1"},
    })
    row.update(extra)
    return row


def focus_line(account: str, category: str, billed: float | str | None, effective: float | None,
               *, month: str = "2026-01", tags: dict[str, str] | None = None,
               service: str = "Amazon Elastic Compute Cloud", currency: str = "USD",
               payer: str = PAYER, **extra: Any) -> dict[str, Any]:
    y, m = (int(x) for x in month.split("-"))
    end = f"{y + m // 12:04d}-{m % 12 + 1:02d}-01T00:00:00Z"
    row: dict[str, Any] = {c: None for c in FOCUS_COLUMNS}
    row.update({
        "BilledCost": billed, "EffectiveCost": effective, "ListCost": billed,
        "BillingAccountId": payer, "BillingAccountName": "org-payer", "BillingCurrency": currency,
        "BillingPeriodStart": f"{month}-01T00:00:00Z", "BillingPeriodEnd": end,
        "ChargeCategory": category, "ChargeFrequency": "Usage-Based",
        "ChargePeriodStart": f"{month}-03T00:00:00Z", "ChargePeriodEnd": f"{month}-03T01:00:00Z",
        "ProviderName": "AWS", "ServiceName": service, "ServiceCategory": "Compute",
        "SubAccountId": account, "SubAccountName": f"acct-{account}", "Tags": tags or {},
        "Region": "eu-west-1",
    })
    row.update(extra)
    return row


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, dict):
        return json.dumps(v)
    return str(v)


def write_csv(path: Path, columns: dict[str, str], rows: list[dict[str, Any]]) -> Path:
    """CSV (gzip when the name ends in .gz): map columns as JSON text, empty for NULL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wt", newline="") as f:  # type: ignore[operator]
        w = csv.writer(f)
        w.writerow(list(columns))
        for r in rows:
            w.writerow([_cell(r[c]) for c in columns])
    return path


def write_parquet(path: Path, columns: dict[str, str], rows: list[dict[str, Any]]) -> Path:
    """Parquet with the real types (maps as MAP, dates as TIMESTAMP); written by DuckDB from a
    JSON lines file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    src = path.with_suffix(".jsonl.tmp")
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cols = ", ".join(f"'{c}': '{'JSON' if t.startswith('MAP') else 'VARCHAR'}'"
                     for c, t in columns.items())
    sel = ", ".join(
        (f"CAST(json_transform(\"{c}\", '\"{t}\"') AS {t}) AS \"{c}\"" if t.startswith("MAP")
         else f"CAST(replace(\"{c}\", 'Z', '') AS TIMESTAMP) AS \"{c}\"" if t == "TIMESTAMP"
         else f"TRY_CAST(\"{c}\" AS {t}) AS \"{c}\"")
        for c, t in columns.items())
    con = duckdb.connect()
    try:
        con.execute(f"COPY (SELECT {sel} FROM read_json('{src}', columns = {{{cols}}}, "
                    f"format = 'newline_delimited')) TO '{path}' (FORMAT parquet)")
    finally:
        con.close()
        src.unlink()
    return path
