"""DORA metrics per team or service and period, with trend and performance cluster."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from shipwise.app.dates import check_window
from shipwise.errors import InputError, NotFoundError
from shipwise.metrics import ids as metric_ids
from shipwise.metrics import quick_check, registry
from shipwise.metrics.dora import GRAINS, DoraQuery, data_span_sql, dora_sql
from shipwise.metrics.engines import DuckDBEngine, Engine, scalar_row
from shipwise.store.duckdb_store import Store

#: Counts reported beside the metrics, so every ratio shows what it was computed from.
COUNT_COLUMNS = (
    "deployments",
    "reached_production",
    "failed_deployments",
    "lead_time_commits",
    "negative_lead_time_spans",
    "recovered_failures",
    "unresolved_failures",
    "negative_recovery_spans",
)


@dataclass(frozen=True)
class DoraRequest:
    grain: str = "quarter"
    team: tuple[str, ...] = ()
    service: tuple[str, ...] = ()
    by: str = "team"  # or "service"
    since: date | None = None
    until: date | None = None


def _check(engine: Engine, req: DoraRequest) -> None:
    if req.grain not in GRAINS:
        raise InputError(f"unknown grain '{req.grain}'", hint="use week, month or quarter")
    for table, names in (("team", req.team), ("service", req.service)):
        for n in names:
            row = scalar_row(engine, f"SELECT count(*) FROM {table} WHERE id = ?", [n])
            if not row or not row[0]:
                raise NotFoundError(f"unknown {table} '{n}'", hint=f"`shipwise {table}s` lists them")
    if req.since and req.until and req.since > req.until:
        raise InputError("--since is after --until")


def dora_rows(store: Store, req: DoraRequest) -> dict[str, Any]:
    """The DORA result in the documented JSON shape (``grain`` and ``rows``)."""
    engine = DuckDBEngine(store)
    _check(engine, req)
    check_window(store, req.since, req.until)
    return _dora(engine, req)


def dora_rows_on(engine: Engine, req: DoraRequest) -> dict[str, Any]:
    """:func:`dora_rows` computed by ``engine`` (the store's, or Spark over Parquet files):
    the same definitions, the same shape."""
    _check(engine, req)
    return _dora(engine, req)


def _dora(engine: Engine, req: DoraRequest) -> dict[str, Any]:
    span = scalar_row(engine, data_span_sql())
    first, last = (span or (None, None))
    since = req.since or first
    until = req.until or last
    out: dict[str, Any] = {
        "grain": req.grain, "since": _iso(since), "until": _iso(until), "rows": [],
        "groups": {m.id: m.group for m in registry.family("dora") if m.group},
        "levels": metric_ids.DORA_2024_LEVELS}
    if since is None or until is None:
        return out
    by = "service" if (req.by == "service" or (req.service and not req.team)) else "team"
    sql, params = dora_sql(
        DoraQuery(req.grain, by, since, until, teams=req.team, services=req.service)
    )
    cols, values = engine.columns(sql, params)
    column = dict(zip(cols, values, strict=True))
    ids = [m.id for m in registry.family("dora")]
    metrics = zip(*[column[i] for i in ids], strict=True)
    changes = zip(*[column["change:" + i] for i in ids], strict=True)
    counts = zip(*[column[c] for c in COUNT_COLUMNS], strict=True)
    # Shaping only: every value was computed by the query (counts as BIGINT). The inner zips
    # need no strict check: each tuple was cut from the same columns.
    out["rows"] = [
        {
            by: entity,
            "period": period,
            "metrics": dict(zip(ids, m, strict=False)),
            "change": dict(zip(ids, d, strict=False)),
            "cluster": cluster,
            "counts": dict(zip(COUNT_COLUMNS, c, strict=False)),
            "quick_check": q,
        }
        for entity, period, cluster, m, d, c, q in zip(
            column["entity"], column["period"], column["cluster"], metrics, changes, counts,
            # the Quick Check 2025 scoring of each row's five values, column by column
            quick_check.score_columns(column, len(column["entity"])), strict=True)
    ]
    return out


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None
