"""The store's canonical tables as a folder of Parquet files: what a distributed engine reads.

One ``<table>.parquet`` per canonical table (the records as stored: pseudonymised, normalised,
ownership over time applied), the ``calendar``, and ``manifest.json`` (format, store schema
version, rows per table, retention horizons). Rows of the retained facts that lie before their
retention horizon (frozen when retention purged their inputs) are written as
``retained.<fact>.parquet``, so an engine that rebuilds the facts from the records gets the same
aggregates as the store (:mod:`shipwise.metrics.spark`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipwise.store.duckdb_store import Store

FORMAT = "shipwise canonical parquet"
#: 2: the tables that hold a commit SHA carry its integer key (``sha_key``, store schema 13),
#: which the change facts join by; a folder of version 1 is refused (export it again)
VERSION = 2
MANIFEST = "manifest.json"
EPOCH = "0001-01-01 00:00:00"

#: The canonical tables (records and the organisation), and the calendar periods are cut by.
TABLES = (
    "org_unit", "team", "service", "service_owner", "service_target", "person", "commit",
    "pull_request", "pull_request_commit", "deployment", "deployment_commit", "incident", "page",
    "cost", "headcount", "investment", "investment_team", "slo", "sli", "tag", "ticket_status",
    "fx_rate", "incident_label", "oncall_shift", "incident_link_policy", "cloud_cost",
    "ai_usage", "calendar",
)
#: Tables added after format version 2 was fixed: a folder exported before them has none, which
#: is read as an empty table of these columns (Spark DDL) — such a store had none of their rows.
LATER_TABLES = {
    "fx_rate": "month STRING, currency STRING, reporting_currency STRING, rate DOUBLE, "
               "source STRING, row_hash STRING, ingested_at TIMESTAMP",
    "incident_label": "incident_id STRING, label STRING",
    # the teams' incident link rules (materialised from team attributes by the facts refresh,
    # which the export runs first)
    "incident_link_policy": "team STRING, window_hours DOUBLE, deploy_prefix STRING, "
                            "version_prefix STRING",
    "oncall_shift": "id STRING, team STRING, person STRING, person_is_bot BOOLEAN, "
                    "starts_at TIMESTAMP, ends_at TIMESTAMP, schedule STRING, source STRING, "
                    "row_hash STRING, ingested_at TIMESTAMP",
    "cloud_cost": "month STRING, billing_account STRING, account STRING, tag_value STRING, "
                  "team STRING, mapped_by STRING, service STRING, charge_category STRING, "
                  "kind STRING, basis STRING, currency STRING, amount DOUBLE, line_items BIGINT, "
                  "file STRING, format STRING, ingested_at TIMESTAMP",
    "ai_usage": "id STRING, team STRING, day DATE, tool STRING, active_users BIGINT, "
                "engaged_users BIGINT, suggestions_shown BIGINT, suggestions_accepted BIGINT, "
                "lines_suggested BIGINT, lines_accepted BIGINT, chat_sessions BIGINT, "
                "agent_sessions BIGINT, cost DOUBLE, currency STRING, source STRING, "
                "row_hash STRING, ingested_at TIMESTAMP",
}
#: Facts kept past the retention horizon (metrics/facts.py RETAINED_FACTS): (table, instant).
RETAINED = (("flow_pr_fact", "created_at"), ("strain_page_fact", "at"),
            ("strain_oncall_fact", "starts_at"))


@dataclass(frozen=True)
class Export:
    folder: Path
    rows: dict[str, int]
    retained: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        return {"folder": str(self.folder), "rows": self.rows, "retained": self.retained}


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def export(store: Store, folder: Path) -> Export:
    """Write the canonical tables of ``store`` into ``folder`` (created; files of the same names
    replaced). One read transaction, so every file is of the same moment."""
    folder.mkdir(parents=True, exist_ok=True)
    rows: dict[str, int] = {}
    retained: dict[str, str] = {}
    with store.transaction() as con:
        for table in TABLES:
            path = folder / f"{table}.parquet"
            con.execute(f'COPY (SELECT * FROM "{table}") TO {_lit(str(path))} (FORMAT parquet)')
            row = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()
            rows[table] = int(row[0]) if row else 0
        for table, column in RETAINED:
            meta = con.execute("SELECT value FROM meta WHERE key = ?",
                               [f"retention_horizon:{table}"]).fetchone()
            horizon = str(meta[0]) if meta else EPOCH
            path = folder / f"retained.{table}.parquet"
            if horizon == EPOCH:
                if path.exists():
                    path.unlink()
                continue
            con.execute(f'COPY (SELECT * FROM {table} WHERE "{column}" < CAST(? AS TIMESTAMP)) '
                        f"TO {_lit(str(path))} (FORMAT parquet)", [horizon])
            retained[table] = horizon
        version = con.execute("SELECT max(version) FROM schema_migrations").fetchone()
    manifest = {"format": FORMAT, "version": VERSION,
                "schema_version": int(version[0]) if version and version[0] else 0,
                "tables": rows, "retained": retained}
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, folder / MANIFEST)
    return Export(folder, rows, retained)


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of an exported folder; ValueError when it is not one."""
    path = folder / MANIFEST
    if not path.is_file():
        raise ValueError(f"{folder} holds no {MANIFEST}")
    data: dict[str, Any] = json.loads(path.read_text())
    if data.get("format") != FORMAT:
        raise ValueError(f"{path} is not a {FORMAT} manifest")
    if int(data.get("version", 0)) > VERSION:
        raise ValueError(f"{path} is of format version {data['version']}, newer than this "
                         f"shipwise reads ({VERSION})")
    if int(data.get("version", 0)) < VERSION:
        raise ValueError(f"{path} is of format version {data.get('version')}, written by an "
                         f"older shipwise; export the store again (`shipwise export parquet "
                         f"{folder}`)")
    return data
