"""Evidence from files: topology, long-form metrics, JSONL logs, OTLP/JSON traces, JSONL events
(deployments, config and permission changes, host sessions, scaling) and markdown runbooks.

The formats are those of a case directory (docs/case-format.md); the same sources serve a live
installation by pointing their ``paths`` at the files the systems write. Logs are read with
DuckDB (set-based, filtered to the window and to WARN/ERROR before anything reaches Python).
"""

from __future__ import annotations

import glob
import json
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import yaml

from shipwise.investigate.case import case_metrics_file, load_metrics, load_topology, parse_time
from shipwise.investigate.evidence import Event, Evidence, LogLine, Runbook, Scope, Spans
from shipwise.investigate.sources.base import EvidenceSource


def expand_paths(patterns: list[str], suffixes: tuple[str, ...]) -> list[Path]:
    """Files matching the patterns; a directory means every file in it with one of the suffixes."""
    out: list[Path] = []
    for pat in patterns:
        p = Path(pat).expanduser()
        if p.is_dir():
            out.extend(sorted(f for f in p.iterdir() if f.is_file() and f.name.endswith(suffixes)))
        elif any(c in pat for c in "*?["):
            out.extend(Path(x) for x in sorted(glob.glob(str(p))))
        elif p.is_file():
            out.append(p)
    return out


class _PathsSource(EvidenceSource):
    suffixes: tuple[str, ...] = ()

    def __init__(self, paths: list[str]) -> None:
        self.paths = [str(p) for p in paths]

    def check(self) -> list[str]:
        if not self.paths:
            return ["no paths configured"]
        if not expand_paths(self.paths, self.suffixes):
            return [f"no {'/'.join(self.suffixes)} files at {', '.join(self.paths)}"]
        return []

    def describe(self) -> str:
        return f"{self.name}: {', '.join(self.paths)}"

    def files(self) -> list[Path]:
        return expand_paths(self.paths, self.suffixes)


class TopologyFile(EvidenceSource):
    name = "topology"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def check(self) -> list[str]:
        return [] if self.path.is_file() else [f"{self.path}: no such file"]

    def describe(self) -> str:
        return f"topology: {self.path}"

    def fetch(self, scope: Scope) -> Evidence:
        return Evidence(topology=load_topology(json.loads(self.path.read_text())))


class MetricsFiles(_PathsSource):
    """Long-form metrics files (``timestamp,entity,metric,value``; CSV or Parquet), e.g. the
    ``metrics.parquet`` of a case directory or a periodic export of a metrics system."""

    name = "metrics"
    suffixes = (".parquet", ".csv")

    def fetch(self, scope: Scope) -> Evidence:
        files = self.files()
        metrics = load_metrics(files, scope.start, scope.end)
        name = files[0].name if len(files) == 1 else "metrics"
        refs = {k: f"{name}?entity={k[0]}&metric={k[1]}" for k in metrics}
        return Evidence(metrics=metrics, metric_refs=refs)


class LogFiles(_PathsSource):
    """JSONL logs; only WARN and ERROR lines inside the window are kept."""

    name = "logs"
    suffixes = (".jsonl", ".ndjson", ".json")

    def fetch(self, scope: Scope) -> Evidence:

        files = [str(f) for f in self.files()]
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            rows = con.execute(
                """
                WITH raw AS (
                  SELECT * FROM read_json(?, format = 'newline_delimited', filename = true,
                    columns = {time: 'VARCHAR', entity: 'VARCHAR', service: 'VARCHAR',
                               instance: 'VARCHAR', pod: 'VARCHAR', host: 'VARCHAR', level: 'VARCHAR', message: 'VARCHAR',
                               trace_id: 'VARCHAR', exception: 'JSON'},
                    ignore_errors = true)),
                typed AS (
                  SELECT coalesce(TRY_CAST(time AS DOUBLE), epoch(TRY_CAST(time AS TIMESTAMPTZ))) AS t,
                         coalesce(entity, service, '') AS entity, upper(coalesce(level, '')) AS level,
                         coalesce(message, '') AS message, coalesce(instance, pod, host, '') AS instance,
                         coalesce(trace_id, '') AS trace_id,
                         coalesce(json_extract_string(exception, '$.type'), '') AS exc_type,
                         coalesce(json_extract_string(exception, '$.message'), '') AS exc_message,
                         coalesce(json_extract_string(exception, '$.stack'), '') AS stack,
                         filename
                  FROM raw)
                SELECT * FROM typed
                WHERE t BETWEEN ? AND ? AND level IN ('WARN', 'WARNING', 'ERROR', 'FATAL', 'CRITICAL')
                ORDER BY t
                """, [files, scope.start, scope.end]).fetchall()
        finally:
            con.close()
        logs = [LogLine(float(t), e, "WARN" if lvl == "WARNING" else lvl, msg, inst, tid, et, em, st,
                        f"{Path(fn).name}@{t:.3f}")
                for t, e, lvl, msg, inst, tid, et, em, st, fn in rows]
        return Evidence(logs=logs)


class EventFiles(_PathsSource):
    """JSONL change and audit events (docs/case-format.md, events.jsonl)."""

    name = "events"
    suffixes = (".jsonl", ".ndjson")

    def fetch(self, scope: Scope) -> Evidence:
        events = []
        for f in self.files():
            for lineno, line in enumerate(f.read_text().splitlines(), start=1):
                if not line.strip():
                    continue
                ev = event_from_json(json.loads(line), f"{f.name}:{lineno}")
                if scope.changes_from <= ev.time <= scope.end:
                    events.append(ev)
        return Evidence(events=events)


def event_from_json(raw: dict[str, Any], ref: str) -> Event:
    details = raw.get("details") or {}
    return Event(str(raw.get("id") or ref), parse_time(raw["time"]), str(raw["kind"]),
                 str(raw.get("entity", "")), str(raw.get("actor", "")), str(raw.get("summary", "")),
                 dict(details) if isinstance(details, dict) else {"value": details}, ref)


class TraceFiles(_PathsSource):
    """OTLP/JSON trace exports (``ExportTraceServiceRequest``: resourceSpans → scopeSpans → spans)."""

    name = "traces"
    suffixes = (".json",)

    def fetch(self, scope: Scope) -> Evidence:
        cols: dict[str, list[Any]] = {k: [] for k in ("trace_id", "span_id", "parent_id", "service",
                                                      "start", "error", "customer")}
        for f in self.files():
            _otlp_rows(json.loads(f.read_text()), cols)
        start = np.asarray(cols["start"], dtype=float)
        keep = (start >= scope.start) & (start <= scope.end)
        def col(k: str) -> np.ndarray:
            return np.asarray(cols[k], dtype=object)[keep]

        spans = Spans(trace_id=col("trace_id"), span_id=col("span_id"), parent_id=col("parent_id"),
                      service=col("service"), start=start[keep],
                      error=np.asarray(cols["error"], dtype=bool)[keep], customer=col("customer"),
                      refs=tuple(str(f) for f in self.files()))
        return Evidence(spans=spans)


def _attr_value(v: dict[str, Any]) -> Any:
    for key in ("stringValue", "intValue", "doubleValue", "boolValue"):
        if key in v:
            return v[key]
    return None


def _otlp_rows(doc: dict[str, Any], cols: dict[str, list[Any]]) -> None:
    for rs in doc.get("resourceSpans", []):
        res = {a["key"]: _attr_value(a.get("value", {}))
               for a in rs.get("resource", {}).get("attributes", [])}
        service = str(res.get("service.name", ""))
        for ss in rs.get("scopeSpans", rs.get("instrumentationLibrarySpans", [])):
            for sp in ss.get("spans", []):
                attrs = {a["key"]: _attr_value(a.get("value", {})) for a in sp.get("attributes", [])}
                cols["trace_id"].append(sp.get("traceId", ""))
                cols["span_id"].append(sp.get("spanId", ""))
                cols["parent_id"].append(sp.get("parentSpanId", ""))
                cols["service"].append(service)
                cols["start"].append(int(sp.get("startTimeUnixNano", 0)) / 1e9)
                code = (sp.get("status") or {}).get("code", 0)
                cols["error"].append(code in (2, "STATUS_CODE_ERROR"))
                cols["customer"].append(str(attrs.get("customer.id") or attrs.get("enduser.id") or ""))


class RunbookFiles(_PathsSource):
    """Markdown runbooks / steering files with a YAML front-matter header (services, alarms, faults)."""

    name = "runbooks"
    suffixes = (".md",)

    def fetch(self, scope: Scope) -> Evidence:
        return Evidence(runbooks=[parse_runbook(f) for f in self.files()])


def parse_runbook(path: Path) -> Runbook:

    text = path.read_text()
    header: dict[str, Any] = {}
    body = text
    if text.startswith("---"):
        _, _, rest = text.partition("---")
        head, sep, after = rest.partition("\n---")
        if sep:
            header = yaml.safe_load(head) or {}
            body = after.lstrip("\n")

    def listed(key: str) -> tuple[str, ...]:
        v = header.get(key) or ()
        return (str(v),) if isinstance(v, str) else tuple(str(x) for x in v)

    title = str(header.get("title") or next(
        (ln.lstrip("# ").strip() for ln in body.splitlines() if ln.startswith("#")), path.stem))
    return Runbook(str(path), title, listed("services"), listed("alarms"), listed("faults"), body)


def case_sources(case_dir: str | Path) -> list[EvidenceSource]:
    """Every source a case directory offers (its truth.yaml is never among them)."""
    d = Path(case_dir)
    out: list[EvidenceSource] = [MetricsFiles([str(case_metrics_file(d))])]
    if (d / "topology.json").is_file():
        out.append(TopologyFile(d / "topology.json"))
    if (d / "logs.jsonl").is_file():
        out.append(LogFiles([str(d / "logs.jsonl")]))
    if (d / "events.jsonl").is_file():
        out.append(EventFiles([str(d / "events.jsonl")]))
    if (d / "traces").is_dir():
        out.append(TraceFiles([str(d / "traces")]))
    if (d / "runbooks").is_dir():
        out.append(RunbookFiles([str(d / "runbooks")]))
    return out
