"""Cloud bills into monthly cost per team: AWS Cost and Usage Report 2.0 (Data Exports) and
FOCUS 1.x, as Parquet, CSV or gzip CSV files or folders of their parts (docs/cloud-cost.md).

One set-based DuckDB scan per file set reads only the columns needed and sums the line items by
billing month, billing account, usage account, team tag value, service, charge category and
currency — memory holds the groups, never the file. Rows without a usable date, account,
currency or cost are grouped apart (by their text) and kept in the quarantine with the reason.
The small aggregate is then mapped to teams (tag value, else account; unmapped kept with
``team`` NULL) and replaces the months it holds for its billing accounts, so the same file twice,
or a restated month, never counts twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from shipwise.config import CloudCostSettings
from shipwise.errors import InputError
from shipwise.metrics.facts import bump_version
from shipwise.store.duckdb_store import Store

QUARANTINE_TYPE = "cloud_cost"
BASES = ("amortised", "unblended")
KINDS = ("spend", "credit", "refund", "discount", "adjustment")
_PARQUET = (".parquet",)
_CSV = (".csv", ".csv.gz", ".csv.gzip", ".csv.zst")

#: CUR 2.0 line item types that are not spend: kept apart, each its own figure.
_CUR_KINDS = {"Credit": "credit", "Refund": "refund", "BundledDiscount": "discount",
              "EdpDiscount": "discount", "PrivateRateDiscount": "discount",
              "SppDiscount": "discount", "DistributorDiscount": "discount"}
_FOCUS_KINDS = {"Credit": "credit", "Adjustment": "adjustment"}

#: The columns read from each format: name in our query -> column in the file (None: optional)
_CUR_COLUMNS = {
    "period": "bill_billing_period_start_date", "usage_start": "line_item_usage_start_date",
    "billing_account": "bill_payer_account_id", "account": "line_item_usage_account_id",
    "charge": "line_item_line_item_type", "service": "line_item_product_code",
    "currency": "line_item_currency_code", "unblended": "line_item_unblended_cost",
    "tags": "resource_tags",
    "sp_effective": "savings_plan_savings_plan_effective_cost",
    "sp_commitment": "savings_plan_total_commitment_to_date",
    "sp_used": "savings_plan_used_commitment",
    "ri_effective": "reservation_effective_cost",
    "ri_unused_upfront": "reservation_unused_amortized_upfront_fee_for_billing_period",
    "ri_unused_recurring": "reservation_unused_recurring_fee",
    "ri_arn": "reservation_reservation_a_r_n",
}
_CUR_REQUIRED = ("account", "charge", "currency", "unblended")
_FOCUS_COLUMNS = {
    "period": "BillingPeriodStart", "usage_start": "ChargePeriodStart",
    "billing_account": "BillingAccountId", "account": "SubAccountId",
    "charge": "ChargeCategory", "service": "ServiceName", "currency": "BillingCurrency",
    "unblended": "BilledCost", "effective": "EffectiveCost", "tags": "Tags",
}
_FOCUS_REQUIRED = ("charge", "currency", "unblended", "effective")


@dataclass
class CloudImportReport:
    files: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # unchanged since their last import
    line_items: int = 0
    quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    months: list[dict[str, Any]] = field(default_factory=list)  # replaced (billing account, month)
    unknown_teams: list[str] = field(default_factory=list)  # mapped in settings, not in the org

    def as_dict(self) -> dict[str, Any]:
        return {"files": self.files, "skipped": self.skipped, "line_items": self.line_items,
                "quarantined": self.quarantined, "quarantine_reasons": self.reasons,
                "months": self.months, "unknown_teams": self.unknown_teams}


@dataclass(frozen=True)
class FileSet:
    """Files read together in one scan: one reader, one format."""

    parts: tuple[Path, ...]
    reader: str  # parquet | csv
    fmt: str  # cur2 | focus
    columns: dict[str, str]  # column name in the file -> its type

    @property
    def label(self) -> str:
        return ", ".join(str(p) for p in self.parts)

    def signature(self) -> str:
        h = hashlib.md5()
        for p in self.parts:
            st = p.stat()
            h.update(f"{p.resolve()}|{st.st_size}|{st.st_mtime_ns}\n".encode())
        return h.hexdigest()


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _reader_of(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(_PARQUET):
        return "parquet"
    if name.endswith(_CSV):
        return "csv"
    return None


def parts_of(paths: Iterable[str | Path]) -> list[Path]:
    """The data files named: files as given, folders (the AWS export layout:
    ``<export>/data/BILLING_PERIOD=YYYY-MM/*.parquet`` or ``*.csv.gz``) searched whole,
    manifests and other files in them ignored."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and _reader_of(f))
            if not found:
                raise InputError(f"{p}: no Parquet or CSV files in this folder")
            out.extend(found)
        elif p.is_file():
            if _reader_of(p) is None:
                raise InputError(f"{p}: not a Parquet (.parquet) or CSV (.csv, .csv.gz) file")
            out.append(p)
        else:
            raise InputError(f"{p}: no such file or folder")
    return list(dict.fromkeys(out))


def _scan(reader: str, parts: Iterable[Path]) -> str:
    files = "[" + ", ".join(_lit(str(p)) for p in parts) + "]"
    if reader == "parquet":
        return f"read_parquet({files}, union_by_name = true)"
    # every column as text: a cost that is not a number is quarantined, not a failed import
    return f"read_csv({files}, header = true, all_varchar = true, union_by_name = true)"


def _columns(con: duckdb.DuckDBPyConnection, reader: str, path: Path) -> dict[str, str]:
    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM {_scan(reader, [path])}").fetchall()
    except duckdb.Error as exc:
        raise InputError(f"{path}: cannot be read as {reader} ({str(exc).splitlines()[0]})") from exc
    return {str(r[0]): str(r[1]) for r in rows}


def _format(path: Path, columns: dict[str, str]) -> str:
    if "line_item_line_item_type" in columns:
        return "cur2"
    if "ChargeCategory" in columns and "BilledCost" in columns:
        return "focus"
    if any("/" in c for c in columns):
        raise InputError(f"{path}: a legacy Cost and Usage Report (columns like "
                         "lineItem/LineItemType)", hint="export CUR 2.0 (AWS Data Exports) or FOCUS")
    raise InputError(f"{path}: neither a CUR 2.0 nor a FOCUS file (no line_item_line_item_type "
                     "or ChargeCategory/BilledCost column)")


def file_sets(con: duckdb.DuckDBPyConnection, paths: Iterable[str | Path]) -> list[FileSet]:
    """The parts grouped by reader and format (schema read from each part's header only)."""
    groups: dict[tuple[str, str], list[Path]] = {}
    cols: dict[tuple[str, str], dict[str, str]] = {}
    for part in parts_of(paths):
        reader = _reader_of(part) or "csv"
        columns = _columns(con, reader, part)
        key = (reader, _format(part, columns))
        groups.setdefault(key, []).append(part)
        cols.setdefault(key, {}).update(columns)
    return [FileSet(tuple(v), k[0], k[1], cols[k]) for k, v in groups.items()]


def _tag_sql(col: str, ctype: str, keys: list[str]) -> str:
    """The first non-empty value of the tag ``keys`` from a MAP column or a JSON text column."""
    if not keys:
        return "CAST(NULL AS VARCHAR)"
    c = _ident(col)
    if ctype.upper().startswith("MAP"):
        parts = [f"NULLIF(CAST({c}[{_lit(k)}] AS VARCHAR), '')" for k in keys]
    else:
        text = f"CAST({c} AS VARCHAR)"
        parts = [f"NULLIF(CASE WHEN json_valid({text}) THEN json_extract_string({text}, "
                 f"{_lit('$.' + json.dumps(k))}) END, '')" for k in keys]
    return parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})"


def _aggregate_sql(fs: FileSet, cfg: CloudCostSettings) -> str:
    """One scan of the file set: line items summed per group; bad rows grouped by their text."""
    spec, required = ((_CUR_COLUMNS, _CUR_REQUIRED) if fs.fmt == "cur2"
                      else (_FOCUS_COLUMNS, _FOCUS_REQUIRED))
    missing = [spec[k] for k in required if spec[k] not in fs.columns]
    if missing:
        raise InputError(f"{fs.label}: {fs.fmt} file without the column(s) {', '.join(missing)}")

    def col(key: str) -> str:
        name = spec.get(key)
        return _ident(name) if name and name in fs.columns else "NULL"

    def num(key: str) -> str:
        return f"TRY_CAST({col(key)} AS DOUBLE)"

    def text(key: str) -> str:
        name = spec.get(key)
        if name and fs.columns.get(name, "").upper() == "VARCHAR":
            return f"NULLIF({_ident(name)}, '')"
        return f"NULLIF(CAST({col(key)} AS VARCHAR), '')"

    tags = (_tag_sql(spec["tags"], fs.columns[spec["tags"]], cfg.tag_keys)
            if spec["tags"] in fs.columns else "CAST(NULL AS VARCHAR)")
    extra = ""
    if fs.fmt == "cur2":
        extra = "".join(f", coalesce({num(k)}, 0) AS {k}" for k in (
            "sp_effective", "sp_commitment", "sp_used", "ri_effective", "ri_unused_upfront",
            "ri_unused_recurring")) + f", coalesce({text('ri_arn')}, '') AS ri_arn"
        amortised = """CASE charge
          WHEN 'SavingsPlanCoveredUsage' THEN sp_effective
          WHEN 'SavingsPlanRecurringFee' THEN sp_commitment - sp_used
          WHEN 'SavingsPlanNegation' THEN 0
          WHEN 'SavingsPlanUpfrontFee' THEN 0
          WHEN 'DiscountedUsage' THEN ri_effective
          WHEN 'RIFee' THEN ri_unused_upfront + ri_unused_recurring
          WHEN 'Fee' THEN CASE WHEN ri_arn <> '' THEN 0 ELSE unblended END
          ELSE unblended END"""
    else:
        amortised = "effective"
    period = f"coalesce(TRY_CAST({col('period')} AS TIMESTAMP), " \
             f"TRY_CAST({col('usage_start')} AS TIMESTAMP))"
    account = text("account") if fs.fmt == "cur2" else f"coalesce({text('account')}, " \
                                                        f"{text('billing_account')})"
    read = [v for v in spec.values() if v in fs.columns]
    # the row as read, for the quarantine: built only for a bad row (CASE evaluates lazily)
    raw = "json_object(" + ", ".join(f"{_lit(v)}, CAST({_ident(v)} AS VARCHAR)" for v in read) + ")"
    # Group keys are the columns as read (no per-row formatting): a bad row's keys do not matter,
    # as it is grouped apart by its reason and text; the month is formatted per group.
    return f"""
WITH src AS (
  SELECT date_trunc('month', {period}) AS period, {text('billing_account')} AS billing_account,
         {account} AS account, {text('charge')} AS charge,
         coalesce({text('service')}, '(none)') AS service, {text('currency')} AS currency,
         {num('unblended')} AS unblended,
         {num('effective') if fs.fmt == 'focus' else 'NULL'} AS effective,
         {tags} AS tag_value, {", ".join(_ident(v) for v in read)},
         {col('unblended')} IS NOT NULL AND {num('unblended')} IS NULL AS bad_cost{extra}
  FROM {_scan(fs.reader, fs.parts)}
),
checked AS (
  SELECT *, CASE WHEN period IS NULL THEN 'no date (billing period or usage start)'
                 WHEN bad_cost THEN 'cost is not a number'
                 WHEN unblended IS NULL THEN 'no cost'
                 WHEN account IS NULL THEN 'no account id'
                 WHEN charge IS NULL THEN 'no charge type'
                 WHEN currency IS NULL THEN 'no currency' END AS reason
  FROM src
),
grouped AS (
  SELECT period, billing_account, account, tag_value, service, charge, currency, reason,
         CASE WHEN reason IS NOT NULL THEN {raw} END AS raw,
         sum({amortised}) AS amortised, sum(unblended) AS unblended, count(*) AS line_items
  FROM checked
  GROUP BY ALL
)
SELECT CASE WHEN reason IS NULL THEN strftime(period, '%Y-%m') END AS month,
       CASE WHEN reason IS NULL THEN coalesce(billing_account, account) END AS billing_account,
       CASE WHEN reason IS NULL THEN account END AS account,
       CASE WHEN reason IS NULL THEN tag_value END AS tag_value,
       CASE WHEN reason IS NULL THEN service END AS service,
       CASE WHEN reason IS NULL THEN charge END AS charge_category,
       CASE WHEN reason IS NULL THEN upper(currency) END AS currency,
       reason, raw, {_lit(fs.fmt)} AS format,
       CASE WHEN reason IS NULL THEN amortised END AS amortised,
       CASE WHEN reason IS NULL THEN unblended END AS unblended, line_items
FROM grouped"""


def _mapping_values(pairs: dict[str, str]) -> str:
    if not pairs:
        return "SELECT CAST(NULL AS VARCHAR) AS k, CAST(NULL AS VARCHAR) AS team WHERE false"
    return "SELECT * FROM (VALUES " + ", ".join(
        f"({_lit(k)}, {_lit(v)})" for k, v in pairs.items()) + ") v(k, team)"


def _kind_sql(fmt: str) -> str:
    kinds = _CUR_KINDS if fmt == "cur2" else _FOCUS_KINDS
    whens = " ".join(f"WHEN {_lit(k)} THEN {_lit(v)}" for k, v in kinds.items())
    return f"CASE s.charge_category {whens} ELSE 'spend' END"


def _signature(sets: list[FileSet]) -> str:
    h = hashlib.md5()
    for fs in sets:
        h.update(fs.signature().encode())
    return h.hexdigest()


def import_cloud_cost(store: Store, paths: Iterable[str | Path], cfg: CloudCostSettings, *,
                      force: bool = False,
                      progress: Callable[[str], None] | None = None) -> CloudImportReport:
    """Import cloud bill files into ``cloud_cost`` (docs/cloud-cost.md): all the files given are
    one import, whose months replace the same months of the same billing accounts."""
    report = CloudImportReport()
    con = store.con
    given = [str(p) for p in paths]
    label = ", ".join(given)
    sets = file_sets(con, given)
    now = datetime.now(UTC).replace(tzinfo=None)
    known = {str(r[0]) for r in con.execute("SELECT id FROM team").fetchall()}
    report.unknown_teams = sorted({*cfg.accounts.values(), *cfg.tag_values.values()} - known)
    sig = _signature(sets)
    seen = con.execute("SELECT count(*) FROM cloud_cost_file WHERE signature = ?",
                       [sig]).fetchone()
    if seen and seen[0] and not force:
        report.skipped.append(label)
        return report
    try:
        for i, fs in enumerate(sets):
            if progress:
                progress(f"reading {len(fs.parts)} {fs.fmt} {fs.reader} file(s)")
            into = ("CREATE OR REPLACE TEMP TABLE cloud_stage AS " if i == 0
                    else "INSERT INTO cloud_stage ")
            try:
                con.execute(into + _aggregate_sql(fs, cfg))
            except duckdb.Error as exc:
                raise InputError(f"{fs.label}: cannot be read "
                                 f"({str(exc).splitlines()[0]})") from exc
        _replace(store, label, sig, cfg, now, report)
    finally:
        con.execute("DROP TABLE IF EXISTS cloud_stage")
    report.files.append(label)
    return report


def _replace(store: Store, label: str, sig: str, cfg: CloudCostSettings, now: datetime,
             report: CloudImportReport) -> None:
    """Swap the months of the staged files in, whole, in one transaction."""
    mapped = f"""
SELECT s.month, s.billing_account, s.account, s.tag_value,
       CASE WHEN tt.id IS NOT NULL THEN tt.id WHEN ta.id IS NOT NULL THEN ta.id END AS team,
       CASE WHEN tt.id IS NOT NULL THEN 'tag' WHEN ta.id IS NOT NULL THEN 'account' END AS mapped_by,
       s.service, s.charge_category,
       CASE WHEN s.format = 'cur2' THEN {_kind_sql('cur2')} ELSE {_kind_sql('focus')} END AS kind,
       s.currency, s.amortised, s.unblended, s.line_items, s.format
FROM cloud_stage s
LEFT JOIN ({_mapping_values(cfg.tag_values)}) tv ON tv.k = s.tag_value
LEFT JOIN team tt ON tt.id = coalesce(tv.team, s.tag_value)
LEFT JOIN ({_mapping_values(cfg.accounts)}) av ON av.k = s.account
LEFT JOIN team ta ON ta.id = av.team
WHERE s.reason IS NULL"""
    with store.transaction() as con:
        months = con.execute(
            "SELECT billing_account, month, sum(line_items), min(format) FROM cloud_stage "
            "WHERE reason IS NULL GROUP BY ALL ORDER BY 1, 2").fetchall()
        bad = con.execute(
            "SELECT reason, sum(line_items) FROM cloud_stage WHERE reason IS NOT NULL "
            "GROUP BY reason").fetchall()
        quarantined = sum(int(n) for _, n in bad)
        con.execute(
            "DELETE FROM cloud_cost WHERE (billing_account, month) IN "
            "(SELECT DISTINCT billing_account, month FROM cloud_stage WHERE reason IS NULL)")
        for basis in BASES:
            con.execute(
                f"INSERT INTO cloud_cost SELECT month, billing_account, account, tag_value, team, "
                f"mapped_by, service, charge_category, kind, ?, currency, {basis}, line_items, "
                f"?, format, ? FROM ({mapped}) m", [basis, label, now])
        con.execute(
            "INSERT OR IGNORE INTO quarantine SELECT md5(? || '|' || reason || '|' || raw), ?, "
            "reason || CASE WHEN line_items > 1 THEN ' (' || line_items || ' identical rows)' "
            "ELSE '' END, ?, NULL, raw, ? FROM cloud_stage WHERE reason IS NOT NULL",
            [QUARANTINE_TYPE, QUARANTINE_TYPE, label, now])
        for billing_account, month, n, fmt in months:
            con.execute("INSERT OR REPLACE INTO cloud_cost_file VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [billing_account, month, label, sig, fmt, int(n), quarantined, now])
        bump_version(store)  # cost to serve reads cloud_cost: no cached answer survives
    report.line_items += sum(int(r[2]) for r in months) + quarantined
    report.quarantined += quarantined
    for reason, n in bad:
        report.reasons[str(reason)] = report.reasons.get(str(reason), 0) + int(n)
    report.months.extend({"billing_account": str(b), "month": str(m), "line_items": int(n),
                          "file": label} for b, m, n, _ in months)
