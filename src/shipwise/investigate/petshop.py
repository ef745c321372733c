"""Convert the PetShop root-cause-analysis dataset into investigation cases.

The PetShop dataset (Hardt et al., CLeaR 2024; ``/work/shared/datasets/petshop``) has four traffic
scenarios (``low_traffic``, ``high_traffic``, ``temporal_traffic1``, ``temporal_traffic2``), each
with a ``graph.csv`` call graph, ``{train,test}/issue_N/{metrics.csv,target.json}`` and, for
``low_traffic`` and ``high_traffic`` only, a ``noissue/metrics.csv`` normal period.

Mapping to a :class:`~shipwise.investigate.case.Case`:

- **entities** are the microservice names (first header row of ``metrics.csv``), plus every node
  of ``graph.csv``;
- **metrics** are named ``f"{metric}:{statistic}"`` (``latency:p90``, ``availability:Average``,
  ``requests:Sum``); empty cells are missing values and are dropped;
- **topology**: ``graph.csv`` is an adjacency matrix whose first row and first column hold the node
  names. ``graph[row][col] == 1.0`` means *row calls col*, so the edge is ``row -> col``
  (caller -> callee, ``relation="calls"``), the orientation :mod:`case` documents. Checked against
  the data: the row ``PetSite`` (the front end, where every alarm fires) has 1.0 in the columns of
  ``PetSearch``, ``payforadoption``, ``petlistadoptions``, the load balancers, SQS, ...; the row
  ``PetSearch_client`` has 1.0 in ``PetSearch_AWS::ECS::Fargate``; ``lambdastatusupdater_..._Function``
  has 1.0 in ``petInfo_AWS::DynamoDB::Table``; sinks such as ``S3_AWS::S3`` have empty rows.
  Node ``kind`` is a naming heuristic (``AWS::ECS::Fargate``, ``remote``, ``client``, ``service``).
- **alarm**: ``target.json``'s ``target``: entity ``node``, metric ``f"{metric}:{agg}"``, time
  ``timestamp`` (epoch seconds). ``alarm.source`` carries the dataset/scenario/split/issue and the
  history provenance, never the root cause nor the reproduction command (which names the fault).
- **truth**: ``{"root_cause": target["root_cause"]["node"]}``.

History: every issue window is short (5 samples, 300 s apart, 20 minutes), too short for a
detector to learn what "normal" is. When a window has fewer than ``min_points`` samples (default
30) and the scenario has a ``noissue/metrics.csv``, that normal period is prepended as history:
its rows (589 samples, about 49 h) are **shifted in time** so that its last sample lands exactly
one sampling interval (300 s) before the first issue sample. This is needed because the normal
periods were recorded months *after* the issues (August/September vs April 2023). Only
``(entity, metric)`` series that also exist in the issue window are prepended, so history never
adds entities. ``alarm.source["history"]`` records ``{"from": "noissue", "points": n,
"shift_seconds": s}`` (or ``{"from": None}``). The temporal scenarios have no ``noissue`` data:
their cases hold the 5-sample issue window only.
"""

from __future__ import annotations

import csv
import functools
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import yaml

from shipwise.errors import InputError
from shipwise.investigate.case import Alarm, Case, Series

SCENARIOS = ("low_traffic", "high_traffic", "temporal_traffic1", "temporal_traffic2")
SPLITS = ("train", "test")
SAMPLE_SECONDS = 300.0

Wide = dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]


def read_wide_metrics(path: Path) -> Wide:
    """Read a PetShop ``metrics.csv`` (4 header rows) into ``(entity, metric) -> (ts, values)``.

    Missing cells are dropped; timestamps ascend.
    """
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    if len(rows) < 4 or rows[0][:1] != ["microservice"]:
        raise InputError(f"{path}: not a PetShop metrics.csv (expected 4 header rows)")
    services, metrics, stats = rows[0], rows[1], rows[2]
    body = [r for r in rows[4:] if r and r[0].strip()]
    ts = np.array([float(r[0]) for r in body], dtype=float)
    order = np.argsort(ts, kind="stable")
    out: Wide = {}
    for col in range(1, len(services)):
        key = (services[col], f"{metrics[col]}:{stats[col]}")
        vals = np.array([_cell(r, col) for r in body], dtype=float)[order]
        t = ts[order]
        ok = ~np.isnan(vals)
        if ok.any():
            out[key] = (t[ok], vals[ok])
    return out


def _cell(row: list[str], col: int) -> float:
    if col >= len(row) or not row[col].strip():
        return math.nan
    try:
        return float(row[col])
    except ValueError:
        return math.nan


def node_kind(name: str) -> str:
    """A coarse node kind from a PetShop node name (heuristic, for display only)."""
    m = re.search(r"AWS::[A-Za-z0-9:]+", name)
    if m:
        return m.group(0)
    if name.endswith("_remote"):
        return "remote"
    if name.endswith("_client"):
        return "client"
    if name.endswith("_Database::SQL"):
        return "Database::SQL"
    return "service"


def read_graph(path: Path) -> nx.DiGraph:
    """``graph.csv`` -> call graph; ``matrix[row][col] == 1`` is the edge ``row -> col``."""
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise InputError(f"{path}: empty graph.csv")
    cols = rows[0][1:]
    g = nx.DiGraph()
    for name in cols:
        g.add_node(name, kind=node_kind(name))
    for r in rows[1:]:
        if not r:
            continue
        src = r[0]
        g.add_node(src, kind=node_kind(src))
        for j, cell in enumerate(r[1:]):
            if cell.strip() and float(cell) != 0.0 and j < len(cols):
                g.add_edge(src, cols[j], relation="calls")
    return g


def load_issue(issue_dir: str | Path, *, with_history: bool = True,
               min_points: int = 30) -> tuple[Case, str]:
    """One PetShop issue folder -> ``(case, root_cause_node)``.

    The scenario folder (two levels up) supplies ``graph.csv`` and, as history, ``noissue``.
    """
    d = Path(issue_dir)
    split_dir = d.parent
    scen_dir = split_dir.parent
    try:
        target = json.loads((d / "target.json").read_text())
        t = target["target"]
        truth = str(target["root_cause"]["node"])
        alarm_entity, alarm_metric = str(t["node"]), f"{t['metric']}:{t['agg']}"
        alarm_time = float(t["timestamp"])
    except (OSError, KeyError, TypeError, json.JSONDecodeError) as exc:
        raise InputError(f"{d / 'target.json'}: malformed PetShop target ({exc})") from exc
    wide = read_wide_metrics(d / "metrics.csv")
    topo = read_graph(scen_dir / "graph.csv") if (scen_dir / "graph.csv").exists() else nx.DiGraph()

    history: dict[str, Any] = {"from": None}
    n_points = len({float(x) for ts, _ in wide.values() for x in ts})
    noissue = scen_dir / "noissue" / "metrics.csv"
    if with_history and n_points < min_points and noissue.exists() and wide:
        wide, history = _prepend_history(wide, _read_normal(str(noissue), noissue.stat().st_mtime))

    metrics = {k: Series(ts.astype(float), v.astype(float)) for k, (ts, v) in sorted(wide.items())}
    for e, _ in metrics:
        if e not in topo:
            topo.add_node(e, kind=node_kind(e))
    source = {"dataset": "petshop", "scenario": scen_dir.name, "split": split_dir.name,
              "issue": d.name, "history": history}
    name = f"petshop-{scen_dir.name}-{split_dir.name}-{d.name}"
    case = Case(name, Alarm(alarm_entity, alarm_metric, alarm_time, source), topo, metrics, d)
    return case, truth


@functools.lru_cache(maxsize=8)
def _read_normal(path: str, mtime: float) -> Wide:
    """``noissue/metrics.csv``, cached per scenario (callers never mutate the arrays)."""
    return read_wide_metrics(Path(path))


def _prepend_history(issue: Wide, normal: Wide) -> tuple[Wide, dict[str, Any]]:
    first_issue = min(float(ts[0]) for ts, _ in issue.values() if len(ts))
    normal = {k: v for k, v in normal.items() if k in issue and len(v[0])}
    if not normal:
        return issue, {"from": None}
    last_normal = max(float(ts[-1]) for ts, _ in normal.values())
    shift = (first_issue - SAMPLE_SECONDS) - last_normal
    out: Wide = {}
    for k, (ts, v) in issue.items():
        if k in normal:
            hts, hv = normal[k]
            out[k] = (np.concatenate([hts + shift, ts]), np.concatenate([hv, v]))
        else:
            out[k] = (ts, v)
    n_hist = len({float(x) for ts, _ in normal.values() for x in ts})
    return out, {"from": "noissue", "points": n_hist, "shift_seconds": shift}


def _issue_key(p: Path) -> tuple[int, str]:
    m = re.search(r"(\d+)$", p.name)
    return (int(m.group(1)) if m else -1, p.name)


def iter_cases(root: str | Path, scenario: str | None = None, split: str | None = None, *,
               with_history: bool = True, min_points: int = 30) -> Iterator[tuple[Case, str]]:
    """Yield ``(case, root_cause_node)`` for every issue under the dataset ``root``.

    Order: scenario name, split (train, test), issue number. ``scenario``/``split`` filter.
    """
    r = Path(root)
    if not r.is_dir():
        raise InputError(f"{r}: PetShop dataset folder not found")
    scen_dirs = sorted(p for p in r.iterdir() if p.is_dir() and (p / "graph.csv").exists())
    for sd in scen_dirs:
        if scenario is not None and sd.name != scenario:
            continue
        for sp in SPLITS:
            if split is not None and sp != split:
                continue
            if not (sd / sp).is_dir():
                continue
            issues = sorted((p for p in (sd / sp).iterdir() if (p / "target.json").exists()),
                            key=_issue_key)
            for issue in issues:
                yield load_issue(issue, with_history=with_history, min_points=min_points)


def write_case(case: Case, out_dir: str | Path, root_cause: str | None = None) -> Path:
    """Write ``case`` as a case directory (alarm.json, topology.json, metrics.csv, truth.yaml).

    ``truth.yaml`` is written only when ``root_cause`` is given. Values are written with ``repr``
    so that :func:`~shipwise.investigate.case.load_case` reads back the same floats.
    """

    p = Path(out_dir)
    p.mkdir(parents=True, exist_ok=True)
    a = case.alarm
    (p / "alarm.json").write_text(json.dumps(
        {"entity": a.entity, "metric": a.metric, "time": a.time, "source": a.source}, indent=2))
    topo = {
        "nodes": [{"id": n, "kind": case.topology.nodes[n].get("kind", "service")}
                  for n in case.topology.nodes],
        "edges": [{"source": u, "target": v, "relation": d.get("relation", "calls")}
                  for u, v, d in case.topology.edges(data=True)],
    }
    (p / "topology.json").write_text(json.dumps(topo, indent=2))
    with (p / "metrics.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "entity", "metric", "value"])
        for (e, m), s in case.metrics.items():
            for t, v in zip(s.timestamps.tolist(), s.values.tolist(), strict=True):
                w.writerow([repr(float(t)), e, m, repr(float(v))])
    if root_cause is not None:
        (p / "truth.yaml").write_text(yaml.safe_dump({"root_cause": root_cause}, sort_keys=False))
    return p
