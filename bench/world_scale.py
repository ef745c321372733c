"""A multi-region demo world for benchmarks: N copies of the demo shop side by side, one faulty.

Region ``k`` is the demo world (``shipwise.demo.world``) built from its own seed, with every
entity id prefixed by the region name (``eu1-cart``, ``eu1-orders-db.orders``,
``eu1-i-0…``); a global ``edge`` gateway ``calls`` each region's ``gateway``. Exactly one region
carries a fault (``build_case``); the others are healthy (``plan_scenario(world, None, …)`` plus
the everyday background deploys and config tweaks of the 26 hours before) on the same time grid.
The result is written as one case directory (docs/case-format.md).

The prefix is applied to the written form of each region's case:

- exact ids: metrics' ``entity``, topology node ids and edge ends, logs' ``entity`` and
  ``instance``, events' ``entity`` (and ``id``: ``eu1-ev-0007``), traces' ``service.name``,
  runbook ``services:`` headers, truth's ``root_cause`` / ``instance`` / ``event``;
- derived names: pods (``eu1-cart-4416bb513-77cc7``), Kubernetes deployments, instance-group
  names, IAM roles (``role/eu1-cart-svc``), table ARNs, pipelines (``eu1-cart-deploy``);
- free text that names an entity (log messages and exceptions, event summaries and details,
  span attributes such as ``peer.service``, the alarm's summary and expression): an entity id
  standing as a word is prefixed, so ``call to cart failed: 503`` becomes
  ``call to eu1-cart failed: 503`` — the engine matches entity names in error text, and a real
  multi-region fleet names its own regional dependencies. Code (file paths, Java packages, cache
  keys such as ``cart:d71345a304``, diffs) is left alone.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from shipwise.demo.world import build_case, build_world, evaluate, plan_scenario
from shipwise.demo.world.alarm import alarm_json
from shipwise.demo.world.events import background_changes, finalise
from shipwise.demo.world.logs import generate_logs
from shipwise.demo.world.noise import rng_for, stable_u64
from shipwise.demo.world.plan import Scenario
from shipwise.demo.world.runbooks import Runbook, choose_runbooks
from shipwise.demo.world.traces import generate_traces
from shipwise.demo.world.writer import CaseFiles, metrics_table

#: Region names and the cloud region each stands for.
REGIONS: tuple[tuple[str, str], ...] = (
    ("eu1", "eu-west-1"), ("eu2", "eu-central-1"), ("us1", "us-east-1"), ("us2", "us-west-2"),
    ("ap1", "ap-southeast-1"), ("ap2", "ap-northeast-1"), ("sa1", "sa-east-1"),
    ("af1", "af-south-1"),
)
EDGE = "edge"
HOUR = 3600.0
#: Layout version of the written workload; bump when the builder's output changes.
LAYOUT = 1


def region_names(n: int) -> list[tuple[str, str]]:
    """``n`` (name, cloud region) pairs: the table above, then ``r9``, ``r10``…"""
    out = list(REGIONS[:n])
    out += [(f"r{k + 1}", "eu-west-1") for k in range(len(out), n)]
    return out


def region_seed(seed: int, k: int) -> int:
    return int(stable_u64("bench-region", seed, k) % 2**31)


class Prefixer:
    """Prefixes one region's entity ids, in exact fields and in free text."""

    #: suffixes of names derived from an entity id that are prefixed with it
    DERIVED = ("deploy", "svc", "config")
    #: contexts before an entity id in which it is still a name (ARNs, pipelines, config maps)
    LEADS = ("role/", "table/", "pipeline:", "shop/")

    def __init__(self, region: str, ids: Iterable[str]) -> None:
        self.region = region
        self.p = region + "-"
        self.ids = set(ids)
        alt = "|".join(re.escape(i) for i in sorted(self.ids, key=len, reverse=True))
        lead = "|".join(f"(?<={re.escape(x)})" for x in self.LEADS)
        derived = "|".join(self.DERIVED)
        self._word = re.compile(
            rf"(?:{lead}|(?<![\w./:-]))({alt})(?=-(?:{derived})\b|(?![\w/-]|:\w))")

    def id(self, entity: str) -> str:
        """An exact id (unknown ids, e.g. an empty one, are kept)."""
        return self.p + entity if entity in self.ids else entity

    def text(self, s: str) -> str:
        return self._word.sub(lambda m: self.p + m.group(1), s)

    def deep(self, obj: Any, skip: frozenset[str] = frozenset()) -> Any:
        """Every string inside ``obj`` rewritten with :meth:`text` (dict keys in ``skip`` kept)."""
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, list):
            return [self.deep(x, skip) for x in obj]
        if isinstance(obj, dict):
            return {k: (v if k in skip else self.deep(v, skip)) for k, v in obj.items()}
        return obj


@dataclass
class Region:
    name: str
    cloud: str
    seed: int
    scenario: Scenario
    files: CaseFiles
    px: Prefixer
    faulty: bool = False
    alarm: dict[str, Any] = field(default_factory=dict)


# -- building -----------------------------------------------------------------------------------

def _healthy(seed: int, faulty: CaseFiles, after_seconds: float,
             trace_every_s: float) -> CaseFiles:
    """A healthy region on the faulty region's grid, with its everyday background changes."""
    world = build_world(seed)
    start = faulty.scenario.start
    base = plan_scenario(world, None, start, seed)
    bg = background_changes(world, start - 26 * HOUR, start - 0.5 * HOUR, set(),
                            rng_for(seed, "background"))
    scn = Scenario(world, base.fleet, None, [], finalise(world, bg), seed)
    grid = faulty.evaluation.t
    ev = evaluate(scn, grid)
    t_start = float(grid[0])
    t_end = faulty.fired.time + after_seconds
    traces = generate_traces(scn, ev, t_start, t_end, rng_for(seed, "traces"), trace_every_s)
    logs = generate_logs(scn, ev, t_start, t_end, rng_for(seed, "logs"), traces)
    books = choose_runbooks(scn, faulty.fired.rule.name, rng_for(seed, "runbooks"))
    return CaseFiles(scn, ev, faulty.window, faulty.fired, logs, traces, books)


def build_regions(fault: str, n_regions: int, faulty_index: int, seed: int, *,
                  history_seconds: float, after_seconds: float = 120.0,
                  step_seconds: float = 15.0, trace_every_s: float = 20.0,
                  log: Callable[[str], None] = print) -> list[Region]:
    """Every region in memory, the faulty one first planned so the others share its grid."""
    names = region_names(n_regions)
    seeds = [region_seed(seed, k) for k in range(n_regions)]
    fname = names[faulty_index][0]
    log(f"  {fname}: {fault} (seed {seeds[faulty_index]})")
    ffiles = build_case(fault, seeds[faulty_index], step_seconds=step_seconds,
                        history_seconds=history_seconds, after_seconds=after_seconds,
                        trace_every_s=trace_every_s)
    regions: list[Region] = []
    for k, (name, cloud) in enumerate(names):
        if k == faulty_index:
            files = ffiles
        else:
            log(f"  {name}: healthy (seed {seeds[k]})")
            files = _healthy(seeds[k], ffiles, after_seconds, trace_every_s)
        px = Prefixer(name, files.scenario.world.topology.nodes)
        regions.append(Region(name, cloud, seeds[k], files.scenario, files, px, k == faulty_index))
    return regions


# -- writing ------------------------------------------------------------------------------------

_TOPO_KEEP = frozenset({"kind", "team", "runtime", "namespace", "type", "service", "engine",
                        "vendor", "endpoint"})
_EVENT_KEEP = frozenset({"diff", "files", "commit", "author", "title", "version",
                         "previous_version", "run", "last_good_run", "key", "old", "new"})


def _topology(regions: list[Region]) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [{
        "id": EDGE, "kind": "gateway", "team": "edge", "runtime": "go",
        "platform": {"type": "kubernetes", "namespace": "edge", "deployment": EDGE,
                     "cluster": "global"}}]
    edges: list[dict[str, Any]] = []
    for r in regions:
        start, end = r.files.window
        topo = r.scenario.topology_json(start, end)
        for raw in topo["nodes"]:
            n = r.px.deep(raw, _TOPO_KEEP)
            n["id"] = r.px.id(str(raw["id"]))
            if isinstance(n.get("platform"), dict) and n["platform"].get("type") == "kubernetes":
                n["platform"]["cluster"] = f"shop-{r.name}"
            n["region"] = r.cloud
            nodes.append(n)
        for e in topo["edges"]:
            edges.append({**e, "source": r.px.id(e["source"]), "target": r.px.id(e["target"])})
        edges.append({"source": EDGE, "target": r.px.id("gateway"), "relation": "calls"})
    return {"nodes": nodes, "edges": edges}


def _metrics(regions: list[Region]) -> pa.Table:
    tables = []
    for r in regions:
        start, end = r.files.window
        t = metrics_table(r.files.evaluation, start, end)
        ent = t.column("entity").combine_chunks()
        names = pa.array([r.px.id(str(x)) for x in ent.dictionary.to_pylist()])
        ent = pa.DictionaryArray.from_arrays(ent.indices, names)
        tables.append(t.set_column(t.schema.get_field_index("entity"), "entity", ent))
    tables.append(_edge_metrics(regions))
    out = pa.concat_tables([t.cast(tables[0].schema) for t in tables])
    return out.combine_chunks()


def _edge_metrics(regions: list[Region]) -> pa.Table:
    """The global edge: the sum of the regional gateways' traffic, their request-weighted error
    rate and latency (plus the edge's own hop), with a little noise of its own."""
    ev0 = regions[0].files.evaluation
    start, end = regions[0].files.window
    mask = (ev0.t >= start) & (ev0.t <= end)
    t = ev0.t[mask]
    rps = [np.asarray(r.files.evaluation.metrics[("gateway", "requests_per_s")])[mask]
           for r in regions]
    err = [np.asarray(r.files.evaluation.metrics[("gateway", "error_rate")])[mask]
           for r in regions]
    lat = [np.asarray(r.files.evaluation.metrics[("gateway", "latency_p95_ms")])[mask]
           for r in regions]
    total = np.sum(rps, axis=0)
    rng = rng_for(regions[0].seed, "edge")
    series = {
        "requests_per_s": total,
        "error_rate": np.clip(np.sum([a * b for a, b in zip(rps, err, strict=True)], axis=0)
                              / total, 0.0, 1.0),
        "latency_p95_ms": np.sum([a * b for a, b in zip(rps, lat, strict=True)], axis=0) / total
        + 4.0 + rng.normal(0.0, 0.4, t.size),
        "cpu_utilisation": np.clip(0.05 + total / 8000.0 + rng.normal(0, 0.005, t.size), 0, 1),
        "memory_mb": 310.0 + rng.normal(0.0, 3.0, t.size),
    }
    metrics = sorted(series)
    n = t.size
    return pa.table({
        "timestamp": pa.array(np.tile(t, len(metrics)), pa.float64()),
        "entity": pa.DictionaryArray.from_arrays(np.zeros(n * len(metrics), np.int32),
                                                 pa.array([EDGE])),
        "metric": pa.DictionaryArray.from_arrays(
            np.repeat(np.arange(len(metrics), dtype=np.int32), n), pa.array(metrics)),
        "value": pa.array(np.round(np.concatenate([series[m] for m in metrics]), 5),
                          pa.float64()),
    })


def _logs(regions: list[Region]) -> list[dict[str, Any]]:
    rows: list[tuple[float, int, dict[str, Any]]] = []
    for k, r in enumerate(regions):
        px = r.px
        for line in r.files.logs:
            d = line.to_json()
            d["entity"] = px.id(d["entity"])
            if "instance" in d:
                d["instance"] = px.id(d["instance"])
            if "pod" in d:
                d["pod"] = px.p + d["pod"]
            d["message"] = px.text(d["message"])
            if "exception" in d:
                d["exception"] = {**d["exception"],
                                  "message": px.text(d["exception"].get("message", "")),
                                  "stack": px.text(d["exception"].get("stack", ""))}
            rows.append((line.time, k, d))
    rows.sort(key=lambda x: (x[0], x[1]))
    return [d for _, _, d in rows]


def _events(regions: list[Region]) -> list[dict[str, Any]]:
    rows: list[tuple[float, int, dict[str, Any]]] = []
    for k, r in enumerate(regions):
        end = r.files.window[1]
        for e in r.scenario.events:
            if e.time > end:
                continue
            d = e.to_json()
            d["id"] = r.px.p + d["id"]
            d["entity"] = r.px.id(d["entity"])
            d["actor"] = r.px.text(d["actor"])
            d["summary"] = r.px.text(d["summary"])
            d["details"] = r.px.deep(d["details"], _EVENT_KEEP)
            d["region"] = r.cloud
            rows.append((e.time, k, d))
    rows.sort(key=lambda x: (x[0], x[1]))
    return [d for _, _, d in rows]


def _traces(regions: list[Region]) -> dict[str, Any]:
    spans: list[dict[str, Any]] = []
    for r in regions:
        for rs in r.files.traces.otlp["resourceSpans"]:
            rs = r.px.deep(rs)
            for a in rs["resource"]["attributes"]:
                v = a["value"]
                if a["key"] == "k8s.pod.name":
                    v["stringValue"] = r.px.p + v["stringValue"]
                elif a["key"] == "cloud.region":
                    v["stringValue"] = r.cloud
            spans.append(rs)
    return {"resourceSpans": spans}


def _runbooks(regions: list[Region]) -> list[Runbook]:
    out = []
    for r in regions:
        for rb in r.files.runbooks:
            out.append(replace(rb, slug=f"{r.name}-{rb.slug}",
                               title=f"{rb.title} ({r.name})",
                               services=tuple(s if s == "*" else r.px.id(s) for s in rb.services)))
    return out


def _truth(r: Region) -> dict[str, Any]:
    truth = r.scenario.truth()
    out: dict[str, Any] = r.px.deep(truth, frozenset({"fault", "red_herrings", "fault_start",
                                                      "event"}))
    if truth.get("event"):
        out["event"] = r.px.p + str(truth["event"])
    for d in out.get("red_herring_details", []):
        if d.get("event"):
            d["event"] = r.px.p + str(d["event"])
    out["region"] = r.name
    return out


def _alarm(r: Region) -> dict[str, Any]:
    alarm: dict[str, Any] = r.px.deep(alarm_json(r.scenario.world, r.files.fired),
                                      frozenset({"team", "alertname"}))
    alarm["source"]["labels"]["region"] = r.cloud
    return alarm


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_workload(path: Path, regions: list[Region]) -> None:
    """Write the regions as one case directory (replacing what was there)."""
    if path.exists():
        shutil.rmtree(path)
    (path / "traces").mkdir(parents=True)
    (path / "runbooks").mkdir()
    faulty = next(r for r in regions if r.faulty)
    (path / "alarm.json").write_text(json.dumps(_alarm(faulty), indent=2) + "\n")
    (path / "topology.json").write_text(json.dumps(_topology(regions), indent=1) + "\n")
    pq.write_table(_metrics(regions), path / "metrics.parquet", compression="zstd")
    _jsonl(path / "logs.jsonl", _logs(regions))
    _jsonl(path / "events.jsonl", _events(regions))
    (path / "traces" / "traces.json").write_text(
        json.dumps(_traces(regions), separators=(",", ":")) + "\n")
    for rb in _runbooks(regions):
        (path / "runbooks" / f"{rb.slug}.md").write_text(rb.render())
    (path / "truth.yaml").write_text(yaml.safe_dump(_truth(faulty), sort_keys=False,
                                                    allow_unicode=True))


# -- size ---------------------------------------------------------------------------------------

def workload_size(path: Path) -> dict[str, Any]:
    """What the case directory holds: services, entities, series, rows, lines, spans, events."""
    import duckdb

    topo = json.loads((path / "topology.json").read_text())
    kinds: dict[str, int] = {}
    for n in topo["nodes"]:
        kinds[n["kind"]] = kinds.get(n["kind"], 0) + 1
    con = duckdb.connect()
    rows, entities, series, t0, t1 = con.execute(
        "SELECT count(*), count(DISTINCT entity), count(DISTINCT (entity, metric)), "
        "min(timestamp), max(timestamp) FROM read_parquet(?)",
        [str(path / "metrics.parquet")]).fetchone() or (0, 0, 0, 0, 0)
    log_lines, warn_error = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE level IN ('WARN', 'ERROR')) "
        "FROM read_json(?, format = 'newline_delimited', "
        "columns = {level: 'VARCHAR'})", [str(path / "logs.jsonl")]).fetchone() or (0, 0)
    con.close()
    doc = json.loads((path / "traces" / "traces.json").read_text())
    spans = sum(len(ss["spans"]) for rs in doc["resourceSpans"] for ss in rs["scopeSpans"])
    files = [f for f in path.rglob("*") if f.is_file()]
    return {
        "services": kinds.get("service", 0) + kinds.get("gateway", 0),
        "services_excluding_gateways": kinds.get("service", 0),
        "gateways": kinds.get("gateway", 0),
        "topology_nodes": len(topo["nodes"]),
        "topology_edges": len(topo["edges"]),
        "node_kinds": dict(sorted(kinds.items())),
        "metric_entities": int(entities),
        "series": int(series),
        "metric_rows": int(rows),
        "metrics_hours": round((float(t1) - float(t0)) / 3600.0, 3),
        "log_lines": int(log_lines),
        "log_lines_warn_error": int(warn_error),
        "spans": spans,
        "events": sum(1 for _ in (path / "events.jsonl").open()),
        "runbooks": len(list((path / "runbooks").glob("*.md"))),
        "bytes": sum(f.stat().st_size for f in files),
        "bytes_by_file": {str(f.relative_to(path)): f.stat().st_size
                          for f in sorted(files) if f.stat().st_size > 100_000},
    }
