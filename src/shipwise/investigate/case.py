"""The investigation case format: what an alarm looks like with the telemetry around it.

A case is a directory:

- ``alarm.json`` — ``{"entity": E, "metric": M, "time": ISO-8601 or epoch seconds, "source": {...}}``
- ``topology.json`` — ``{"nodes": [{"id": E, "kind": K}, ...], "edges": [{"source": A, "target": B,
  "relation": "calls"}, ...]}``; for ``calls`` the edge points from caller to callee
- ``metrics.csv`` or ``metrics.parquet`` — long form: ``timestamp,entity,metric,value`` (timestamp
  in epoch seconds or ISO-8601)
- optional ``logs.jsonl``, ``traces/`` (OpenTelemetry JSON), ``events.jsonl``, ``runbooks/``
- ``truth.yaml`` — the answer, for evaluation only. The engine never reads it: only
  :func:`load_truth` does, and only evaluation calls that.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import networkx as nx
import numpy as np
import yaml

from shipwise.errors import InputError


@dataclass(frozen=True)
class Alarm:
    entity: str
    metric: str
    time: float  # epoch seconds, UTC
    source: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Series:
    timestamps: np.ndarray  # float64 epoch seconds, ascending
    values: np.ndarray  # float64


@dataclass
class Case:
    name: str
    alarm: Alarm
    topology: nx.DiGraph
    #: (entity, metric) -> series
    metrics: dict[tuple[str, str], Series]
    path: Path | None = None

    def entities(self) -> list[str]:
        names = {e for e, _ in self.metrics} | set(self.topology.nodes)
        return sorted(names)

    def metrics_of(self, entity: str) -> dict[str, Series]:
        return {m: s for (e, m), s in self.metrics.items() if e == entity}


def parse_time(value: Any) -> float:
    """Epoch seconds from a number or an ISO-8601 instant with an offset."""
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        pass
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"not a time: {value!r}", hint="use epoch seconds or ISO-8601 with an offset") from exc
    if dt.tzinfo is None:
        raise InputError(f"time without an offset: {value!r}", hint="add Z or +HH:MM")
    return dt.timestamp()


def series_from_long(ts: np.ndarray, entity: np.ndarray, metric: np.ndarray,
                     value: np.ndarray) -> dict[tuple[str, str], Series]:
    """Group long-form rows into series, sorted by time (vectorised: one sort, one split)."""
    keys = np.char.add(np.char.add(entity.astype(str), "\x1f"), metric.astype(str))
    order = np.lexsort((ts, keys))
    keys, ts, value = keys[order], ts[order], value[order]
    uniq, starts = np.unique(keys, return_index=True)
    bounds = [*starts[1:], len(keys)]
    out: dict[tuple[str, str], Series] = {}
    for k, a, b in zip(uniq, starts, bounds, strict=True):
        e, m = str(k).split("\x1f", 1)
        out[(e, m)] = Series(ts[a:b].astype(float), value[a:b].astype(float))
    return out


def load_topology(data: dict[str, Any]) -> nx.DiGraph:
    g = nx.DiGraph()
    for n in data.get("nodes", []):
        attrs = {k: v for k, v in n.items() if k != "id"}
        attrs.setdefault("kind", "service")
        g.add_node(str(n["id"]), **attrs)
    for e in data.get("edges", []):
        attrs = {k: v for k, v in e.items() if k not in ("source", "target")}
        attrs.setdefault("relation", "calls")
        g.add_edge(str(e["source"]), str(e["target"]), **attrs)
    return g


def load_alarm(path: str | Path) -> Alarm:
    """The alarm.json of a case directory."""
    p = Path(path)
    if not (p / "alarm.json").exists():
        raise InputError(f"{p}: not a case directory (no alarm.json)",
                         hint="see docs/case-format.md: a case has alarm.json, topology.json and metrics.csv")
    try:
        alarm_raw = json.loads((p / "alarm.json").read_text())
        return Alarm(str(alarm_raw["entity"]), str(alarm_raw.get("metric", "")),
                     parse_time(alarm_raw["time"]), dict(alarm_raw.get("source") or {}))
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise InputError(f"{p / 'alarm.json'}: malformed alarm ({exc})",
                         hint="it needs entity, metric and time") from exc


def load_case(path: str | Path) -> Case:
    """Read a case directory (never its truth.yaml)."""
    p = Path(path)
    alarm = load_alarm(p)
    topo = load_topology(json.loads((p / "topology.json").read_text())) if (p / "topology.json").exists() else nx.DiGraph()
    metrics = load_metrics_file(p)
    return Case(p.name, alarm, topo, metrics, p)


def case_metrics_file(p: Path) -> Path:
    """The metrics file of a case directory (Parquet preferred)."""
    for name in ("metrics.parquet", "metrics.csv"):
        if (p / name).exists():
            return p / name
    raise InputError(f"{p}: no metrics.csv or metrics.parquet")


def load_metrics_file(p: Path, start: float | None = None,
                      end: float | None = None) -> dict[tuple[str, str], Series]:
    """The long-form metrics of a case directory, optionally only within ``[start, end]``."""
    return load_metrics([case_metrics_file(p)], start, end)


def load_metrics(files: list[Path], start: float | None = None,
                 end: float | None = None) -> dict[tuple[str, str], Series]:
    """Long-form metrics (``timestamp,entity,metric,value``) from CSV and Parquet files, read
    set-based with DuckDB and optionally only within ``[start, end]``."""

    # Each file kind typed on its own (Parquet keeps its column types; CSV is read as text and
    # cast), then one filtered, sorted stream split where (entity, metric) changes.
    ts_of = ("coalesce(TRY_CAST({c} AS DOUBLE), "
             "epoch(TRY_CAST(CAST({c} AS VARCHAR) AS TIMESTAMPTZ)))")
    parts = []
    parquet = [str(f) for f in files if f.suffix == ".parquet"]
    csv = [str(f) for f in files if f.suffix != ".parquet"]
    if parquet:
        parts.append(f"SELECT {ts_of.format(c='timestamp')} AS ts, CAST(entity AS VARCHAR) AS entity, "
                     "CAST(metric AS VARCHAR) AS metric, CAST(value AS DOUBLE) AS value "
                     f"FROM read_parquet({parquet!r})")
    if csv:
        parts.append(f"SELECT {ts_of.format(c='timestamp')} AS ts, entity, metric, "
                     "TRY_CAST(value AS DOUBLE) AS value "
                     f"FROM read_csv({csv!r}, header = true, all_varchar = true)")
    if not parts:
        raise InputError("no metrics files given")
    window = ""
    if start is not None:
        window += f" AND ts >= {float(start)!r}"
    if end is not None:
        window += f" AND ts <= {float(end)!r}"
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        tbl = con.execute(
            f"SELECT entity, metric, ts, value FROM ({' UNION ALL '.join(parts)}) "
            f"WHERE value IS NOT NULL AND NOT isnan(value) AND ts IS NOT NULL{window} "
            "ORDER BY entity, metric, ts").fetchnumpy()
    finally:
        con.close()
    ent, met = np.asarray(tbl["entity"], dtype=object), np.asarray(tbl["metric"], dtype=object)
    ts, val = np.asarray(tbl["ts"], dtype=float), np.asarray(tbl["value"], dtype=float)
    if ts.size == 0:
        return {}
    cuts = np.flatnonzero((ent[1:] != ent[:-1]) | (met[1:] != met[:-1])) + 1
    bounds = zip(np.concatenate([[0], cuts]), np.concatenate([cuts, [ts.size]]), strict=True)
    return {(str(ent[a]), str(met[a])): Series(ts[a:b], val[a:b]) for a, b in bounds}


def load_truth(path: str | Path) -> dict[str, Any]:
    """The answer of a case (evaluation only)."""

    data = yaml.safe_load((Path(path) / "truth.yaml").read_text())
    return dict(data or {})
