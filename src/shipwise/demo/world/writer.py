"""Write a planned, evaluated scenario as a case directory (``docs/case-format.md``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from shipwise.demo.world.alarm import Fired, alarm_json
from shipwise.demo.world.logtext import LogLine
from shipwise.demo.world.model import Evaluation
from shipwise.demo.world.plan import Scenario
from shipwise.demo.world.runbooks import Runbook
from shipwise.demo.world.traces import TraceSet


@dataclass
class CaseFiles:
    """Everything a case directory holds, before it is written."""

    scenario: Scenario
    evaluation: Evaluation
    window: tuple[float, float]  # first and last metric sample
    fired: Fired
    logs: list[LogLine]
    traces: TraceSet
    runbooks: list[Runbook]


def metrics_table(ev: Evaluation, start: float, end: float) -> pa.Table:
    """Long-form metrics (timestamp, entity, metric, value) in ``[start, end]``, NaNs dropped."""
    mask = (ev.t >= start) & (ev.t <= end)
    t = ev.t[mask]
    keys = sorted(ev.metrics)
    entities = sorted({e for e, _ in keys})
    metrics = sorted({m for _, m in keys})
    e_idx = {e: i for i, e in enumerate(entities)}
    m_idx = {m: i for i, m in enumerate(metrics)}
    ts, ei, mi, vals = [], [], [], []
    for entity, metric in keys:
        v = np.asarray(ev.metrics[(entity, metric)], dtype=np.float64)[mask]
        ok = ~np.isnan(v)
        n = int(ok.sum())
        if not n:
            continue
        ts.append(t[ok])
        vals.append(np.round(v[ok], 5))
        ei.append(np.full(n, e_idx[entity], dtype=np.int32))
        mi.append(np.full(n, m_idx[metric], dtype=np.int32))
    return pa.table({
        "timestamp": pa.array(np.concatenate(ts), pa.float64()),
        "entity": pa.DictionaryArray.from_arrays(np.concatenate(ei), pa.array(entities)),
        "metric": pa.DictionaryArray.from_arrays(np.concatenate(mi), pa.array(metrics)),
        "value": pa.array(np.concatenate(vals), pa.float64()),
    })


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def write_case(path: Path, files: CaseFiles) -> Path:
    """Write ``files`` into the directory ``path`` (created; existing case files replaced)."""
    scn, (start, end) = files.scenario, files.window
    path.mkdir(parents=True, exist_ok=True)
    (path / "alarm.json").write_text(json.dumps(alarm_json(scn.world, files.fired), indent=2)
                                     + "\n")
    (path / "topology.json").write_text(json.dumps(scn.topology_json(start, end), indent=1)
                                        + "\n")
    pq.write_table(metrics_table(files.evaluation, start, end), path / "metrics.parquet",
                   compression="zstd")
    _jsonl(path / "logs.jsonl", [line.to_json() for line in files.logs])
    (path / "traces").mkdir(exist_ok=True)
    (path / "traces" / "traces.json").write_text(
        json.dumps(files.traces.otlp, separators=(",", ":")) + "\n")
    _jsonl(path / "events.jsonl", [e.to_json() for e in scn.events if e.time <= end])
    books = path / "runbooks"
    books.mkdir(exist_ok=True)
    for old in books.glob("*.md"):
        old.unlink()
    for rb in files.runbooks:
        (books / f"{rb.slug}.md").write_text(rb.render())
    (path / "truth.yaml").write_text(yaml.safe_dump(scn.truth(), sort_keys=False,
                                                    allow_unicode=True))
    return path
