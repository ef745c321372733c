"""Readers for the folder layouts of public root-cause benchmarks, each giving ``(Case, truth)``.

``truth`` is ``{"root_cause": entity, "fault": kind, "system": dataset}`` (plus ``"accept"``: the
entities that also count, e.g. every pod of the faulty service at pod level). The truth comes from
the folder names or label files only; the :class:`Case` handed to a ranker never holds it (the
alarm, the topology and the metrics are built without looking at it).

Layouts (:data:`LAYOUTS`; :func:`detect_layout` tells them apart per folder):

- ``case`` — shipwise's own case directory (``alarm.json``, ``metrics.csv``, ``truth.yaml``).
- ``petshop`` — a PetShop issue folder (``target.json`` + ``metrics.csv``; see :mod:`petshop`).
- ``rcaeval`` — RCAEval RE1/RE2 (Pham et al., WWW 2025): ``<system>/<service>_<fault>/<n>/`` with
  a wide ``data.csv`` (``time`` + ``<service>_<metric>`` columns) and ``inject_time.txt`` (epoch
  seconds).
- ``rcd`` — the RCD Sock Shop data (Ikram et al., NeurIPS 2022, ``azamikram/rcd``):
  ``<system>/<service>-<fault>/<n>/{normal.csv,anomalous.csv}``, wide like RCAEval; the fault
  starts at the first row of ``anomalous.csv`` and the two are concatenated (the normal rows,
  recorded days earlier, shifted in time so that the last lands one sampling step before the
  first anomalous row; their spacing is kept).
- ``microirc`` — MicroIRC's Bookinfo set (``WHU-AISE/MicroIRC``, branch ``topoChange``,
  ``data/data3``): ``<service>_<fault>_<n>/{bookinfo/*.csv, node/node.csv}`` with ``label.txt``
  (the chaos start, local time) one folder up.

**Wide columns** ``<service>_<metric>`` (:func:`split_columns`): a column is split at its last
underscore, or at the one before when the part after the last is a number (``carts_lat_90`` →
``carts``/``lat_90``); ``front-end_latency-90`` → ``front-end``/``latency-90``. Then, so that
metrics holding underscores do not make services of their own, each column is given the
*shortest* prefix (ending at an underscore) that is one of the services so found
(``carts_mem_usage`` → ``carts``/``mem_usage`` when ``carts_cpu`` exists).

**Alarm** (:func:`entry_alarm`): these benchmarks have no alarm, so the alarm is put where a
monitor would fire, at the injection time, on a latency or error metric (names holding ``lat``,
``error``, ``duration``, ``response``, ``p50``/``p90``/``p99``, ``success``): of the entities
with such metrics, those with no (transitive) caller that has one too — the monitored entry
services; among several (or with no topology), the one whose metric moved most after the
injection time (median after vs before, in units of the spread before). With no such metric at
all, the same over every metric of the entities none of whose callers have metrics. Only the
metrics and the topology decide it, never the truth.

**Spans** (:func:`read_spans`): a case folder may hold ``spans.csv`` or ``traces.csv`` (one span
a row); it adds the ``calls`` edges parent service → child service and, per service and minute,
``requests``, ``errors``, ``error_rate``, ``latency_p50`` and ``latency_p90`` (ms).

**Pods** (:func:`pod_service`): ``details-v1-5f449bdbb9-abcde`` → ``details-v1`` (a Deployment's
pod: the ReplicaSet hash and the pod suffix are dropped); ``web-0`` → ``web`` (a StatefulSet's);
with ``strip_version`` also ``-v1`` → ``details``.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from shipwise.errors import InputError
from shipwise.investigate.case import Alarm, Case, Series, load_case, load_topology, load_truth
from shipwise.investigate.petshop import load_issue

LAYOUTS = ("case", "rcaeval", "rcd", "microirc", "petshop")
LEVELS = ("service", "pod")

Labelled = tuple[Case, dict[str, Any]]

_NUMBER = re.compile(r"^\d+(\.\d+)?$")
_POD = re.compile(r"^(?P<deploy>.+?)-(?P<rs>[a-z0-9]{6,10})-(?P<pod>[a-z0-9]{5})$")
_STATEFUL = re.compile(r"^(?P<set>.+?)-(?P<ordinal>\d+)$")
_VERSION = re.compile(r"-v\d+$")
_SPAN_FILES = ("spans.csv", "traces.csv")


# -- naming rules -----------------------------------------------------------------------------

def pod_service(pod: str, *, strip_version: bool = False) -> str:
    """The workload a Kubernetes pod belongs to: ``details-v1-5f449bdbb9-abcde`` →
    ``details-v1`` (Deployment: ``<name>-<replicaset hash>-<5 chars>``), ``web-0`` → ``web``
    (StatefulSet); any other name is its own workload. ``strip_version`` also drops a ``-vN``
    version suffix (``details-v1`` → ``details``)."""
    m = _POD.match(pod)
    name = m.group("deploy") if m else pod
    if not m:
        s = _STATEFUL.match(pod)
        if s and not _VERSION.search(pod):
            name = s.group("set")
    return _VERSION.sub("", name) if strip_version else name


def resolve_entity(name: str, entities: set[str] | list[str]) -> str:
    """``name`` as one of ``entities``: itself, else the only entity that equals it once a
    ``-vN`` version suffix is dropped (truth ``details`` → ``details-v1``), else ``name``."""
    if name in entities:
        return name
    same = sorted(e for e in entities if _VERSION.sub("", e) == name)
    return same[0] if len(same) == 1 else name


def split_columns(columns: list[str]) -> dict[str, tuple[str, str]]:
    """``{column: (service, metric)}`` for wide ``<service>_<metric>`` columns (rule in the module
    doc). Columns without an underscore are left out."""
    first: dict[str, tuple[str, str]] = {}
    for c in columns:
        parts = c.split("_")
        if len(parts) < 2:
            continue
        cut = len(parts) - 1
        if _NUMBER.match(parts[-1]) and len(parts) > 2:
            cut -= 1
        first[c] = ("_".join(parts[:cut]), "_".join(parts[cut:]))
    services = {s for s, _ in first.values()}
    out: dict[str, tuple[str, str]] = {}
    for c, (svc, metric) in first.items():
        parts = c.split("_")
        for i in range(1, len(parts)):
            prefix = "_".join(parts[:i])
            if prefix in services:
                svc, metric = prefix, "_".join(parts[i:])
                break
        out[c] = (svc, metric)
    return out


def split_fault(folder: str, services: set[str], sep: str) -> tuple[str, str]:
    """``(service, fault)`` from a ``<service><sep><fault>`` folder name: the longest prefix that
    is a known service (version suffix allowed), else split at the last ``sep``."""
    parts = folder.split(sep)
    for i in range(len(parts) - 1, 0, -1):
        prefix = sep.join(parts[:i])
        if prefix in services or resolve_entity(prefix, services) in services:
            return prefix, sep.join(parts[i:])
    if len(parts) < 2:
        return folder, "unknown"
    return sep.join(parts[:-1]), parts[-1]


def parse_instant(value: str, *, naive_offset_hours: float = 0.0) -> float:
    """Epoch seconds from epoch seconds/ms/µs (by magnitude) or ISO-8601; an ISO time without
    an offset is taken as UTC plus ``naive_offset_hours``."""
    v = value.strip()
    try:
        x = float(v)
    except ValueError:
        try:
            dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError as exc:
            raise InputError(f"not a time: {value!r}") from exc
        if dt.tzinfo is None:
            return dt.replace(tzinfo=UTC).timestamp() - naive_offset_hours * 3600
        return dt.timestamp()
    if x > 1e17:
        return x / 1e9  # ns
    if x > 1e14:
        return x / 1e6  # µs
    if x > 1e11:
        return x / 1e3  # ms
    return x


# -- wide CSV ---------------------------------------------------------------------------------

def read_wide_csv(path: Path, *, time_column: str | None = None,
                  missing: float | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(timestamps, {column: values})`` from a wide CSV with a time column (``time``,
    ``timestamp``; epoch or ISO), rows sorted by time; empty or unreadable cells and cells equal
    to ``missing`` are NaN."""
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise InputError(f"{path}: empty")
    header = rows[0]
    names = [time_column] if time_column else ["time", "timestamp", "Time", "Timestamp"]
    tcol = next((header.index(n) for n in names if n in header), None)
    if tcol is None:
        raise InputError(f"{path}: no time column (time or timestamp)")
    body = [r for r in rows[1:] if len(r) > tcol and r[tcol].strip()]
    ts = np.array([parse_instant(r[tcol]) for r in body], dtype=float)
    order = np.argsort(ts, kind="stable")
    cols: dict[str, np.ndarray] = {}
    for j, name in enumerate(header):
        if j == tcol or not name:
            continue
        vals = np.array([_num(r[j]) if j < len(r) else np.nan for r in body], dtype=float)[order]
        if missing is not None:
            vals[vals == missing] = np.nan
        cols[name] = vals
    return ts[order], cols


def _num(cell: str) -> float:
    try:
        return float(cell)
    except ValueError:
        return float("nan")


def _series(ts: np.ndarray, vals: np.ndarray) -> Series | None:
    ok = ~np.isnan(vals)
    return Series(ts[ok], vals[ok]) if ok.any() else None


def wide_metrics(ts: np.ndarray, cols: dict[str, np.ndarray]) -> dict[tuple[str, str], Series]:
    out: dict[tuple[str, str], Series] = {}
    for col, (svc, metric) in split_columns(list(cols)).items():
        s = _series(ts, cols[col])
        if s is not None:
            out[(svc, metric)] = s
    return out


# -- alarm ------------------------------------------------------------------------------------

_ALARM_WORDS = ("lat", "error", "err", "duration", "response", "p50", "p90", "p99", "success")


def _shift(s: Series, t: float) -> float:
    before, after = s.values[s.timestamps < t], s.values[s.timestamps >= t]
    if before.size < 2 or after.size < 1:
        return 0.0
    q1, q3 = np.percentile(before, [25, 75])
    spread = max(float(q3 - q1), float(np.std(before)), 1e-9 * max(1.0, abs(float(np.median(before)))))
    return abs(float(np.median(after)) - float(np.median(before))) / spread


def entry_alarm(metrics: dict[tuple[str, str], Series], topology: nx.DiGraph, at: float,
                source: dict[str, Any]) -> Alarm:
    """The alarm a monitor would raise at ``at`` (rule in the module doc)."""
    with_metrics = {e for e, _ in metrics}
    if not with_metrics:
        raise InputError("no metrics to put an alarm on")
    calls = nx.DiGraph()
    calls.add_edges_from((a, b) for a, b, rel in topology.edges(data="relation", default="calls")
                         if rel == "calls")

    def entries(among: set[str]) -> set[str]:
        """``among`` less those with a (transitive) caller in ``among``."""
        return {e for e in among if e not in calls or not (nx.ancestors(calls, e) & among)}

    def best(keys: list[tuple[str, str]]) -> tuple[str, str] | None:
        scored = sorted(((_shift(metrics[k], at), k) for k in keys), key=lambda x: (-x[0], x[1]))
        return scored[0][1] if scored else None

    watched = [k for k in metrics if any(w in k[1].lower() for w in _ALARM_WORDS)]
    if watched:
        top = entries({e for e, _ in watched})
        pick = best([k for k in watched if k[0] in top])
    else:
        top = entries(with_metrics)
        pick = best([k for k in metrics if k[0] in top])
    assert pick is not None
    return Alarm(pick[0], pick[1], float(at), source)


# -- spans ------------------------------------------------------------------------------------

_SPAN_HEADERS = {
    "trace": ("traceid", "trace_id", "traceID"),
    "span": ("spanid", "span_id", "spanID"),
    "parent": ("parentspanid", "parent_span_id", "parentid", "parent_id", "parentspanID"),
    "service": ("servicename", "service_name", "service", "pod", "podname", "pod_name",
                "cmdb_id", "instance"),
    "start": ("starttime", "start_time", "timestamp", "start", "time", "starttimeunixnano"),
    "duration": ("duration", "duration_ms", "durationms", "duration_us", "elapsed_time", "elapsed"),
    "status": ("status", "statuscode", "status_code", "code", "error"),
}


def _span_columns(header: list[str]) -> dict[str, int]:
    low = {h.strip().lower().replace("-", "_"): i for i, h in enumerate(header)}
    squash = {k.replace("_", ""): i for k, i in low.items()}
    out: dict[str, int] = {}
    for key, names in _SPAN_HEADERS.items():
        for n in names:
            n = n.lower()
            if n in low:
                out[key] = low[n]
                break
            if n.replace("_", "") in squash:
                out[key] = squash[n.replace("_", "")]
                break
    missing = [k for k in ("span", "parent", "service", "start", "duration") if k not in out]
    if missing:
        raise InputError(f"span table lacks columns: {', '.join(missing)} (header: {header})")
    return out


def _is_error(status: str) -> bool:
    s = status.strip().lower()
    if not s or s in ("0", "ok", "unset", "false", "status_code_ok", "status_code_unset", "200"):
        return False
    if s.isdigit():
        return int(s) >= 500 or int(s) == 2  # HTTP 5xx, or OpenTelemetry's STATUS_CODE_ERROR = 2
    return s in ("error", "true", "status_code_error", "err", "fail", "failed") or "error" in s


def read_spans(path: Path, *, level: str = "service") -> tuple[nx.DiGraph, dict[tuple[str, str], Series]]:
    """A span table (CSV) → ``(calls topology, per-service metrics per minute)``.

    Header spellings accepted: trace ``traceId``/``trace_id``; span ``spanId``/``span_id``;
    parent ``parentSpanId``/``parent_span_id``/``ParentID``; service ``serviceName``/
    ``service``/``pod`` (a pod is rolled up to its workload with :func:`pod_service` unless
    ``level == "pod"``); start ``startTime``/``start_time``/``timestamp`` (epoch s/ms/µs/ns by
    magnitude, or ISO); duration — in ms when the column says ``ms``, µs when it says ``us``, and
    otherwise guessed: µs when the median duration exceeds 10,000 (10 s in ms is rare for a
    span, 10 ms in µs is usual), else ms; status ``status``/``statusCode`` (an error is
    5xx, OpenTelemetry's 2/``STATUS_CODE_ERROR``, ``error``/``true``)."""
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    if len(rows) < 2:
        return nx.DiGraph(), {}
    col = _span_columns(rows[0])
    dur_name = rows[0][col["duration"]].lower()
    body = [r for r in rows[1:] if len(r) == len(rows[0])]
    raw_dur = np.array([_num(r[col["duration"]]) for r in body], dtype=float)
    if "ms" in dur_name:
        scale = 1.0
    elif "us" in dur_name or "µs" in dur_name:
        scale = 1e-3
    elif "ns" in dur_name:
        scale = 1e-6
    else:
        scale = 1e-3 if raw_dur.size and float(np.nanmedian(raw_dur)) > 10_000 else 1.0
    dur_ms = raw_dur * scale

    def who(name: str) -> str:
        return name if level == "pod" else pod_service(name)

    svc_of: dict[str, str] = {}
    for r in body:
        svc_of[r[col["span"]]] = who(r[col["service"]])
    g = nx.DiGraph()
    per: dict[tuple[str, float], list[tuple[float, bool]]] = {}
    for r, d in zip(body, dur_ms.tolist(), strict=True):
        svc = who(r[col["service"]])
        g.add_node(svc, kind="service" if level != "pod" else "pod")
        parent = svc_of.get(r[col["parent"]])
        if parent is not None and parent != svc:
            g.add_edge(parent, svc, relation="calls", seen_in="spans")
        minute = float(np.floor(parse_instant(r[col["start"]]) / 60.0) * 60.0)
        err = _is_error(r[col["status"]]) if "status" in col else False
        per.setdefault((svc, minute), []).append((d, err))
    metrics: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for (svc, minute), spans in sorted(per.items()):
        durs = np.array([d for d, _ in spans if not np.isnan(d)], dtype=float)
        n, errs = len(spans), sum(1 for _, e in spans if e)
        vals = {"requests": float(n), "errors": float(errs), "error_rate": errs / n}
        if durs.size:
            vals["latency_p50"] = float(np.percentile(durs, 50))
            vals["latency_p90"] = float(np.percentile(durs, 90))
        for m, v in vals.items():
            metrics.setdefault((svc, m), []).append((minute, v))
    return g, {k: Series(np.array([t for t, _ in v]), np.array([x for _, x in v]))
               for k, v in metrics.items()}


def _add_spans(folder: Path, topo: nx.DiGraph, metrics: dict[tuple[str, str], Series],
               level: str) -> None:
    for name in _SPAN_FILES:
        if (folder / name).exists():
            g, m = read_spans(folder / name, level=level)
            topo.add_nodes_from(g.nodes(data=True))
            topo.add_edges_from(g.edges(data=True))
            for k, s in m.items():
                metrics.setdefault(k, s)
            return


def _topology_file(folder: Path, given: Path | None) -> nx.DiGraph:
    for p in ([given] if given else []) + [folder / "topology.json", folder.parent / "topology.json",
                                          folder.parent.parent / "topology.json"]:
        if p is not None and p.exists():
            return load_topology(json.loads(p.read_text()))
    return nx.DiGraph()


def _finish(name: str, folder: Path, topo: nx.DiGraph, metrics: dict[tuple[str, str], Series],
            inject: float, source: dict[str, Any], level: str) -> Case:
    _add_spans(folder, topo, metrics, level)
    for e, _ in metrics:
        if e not in topo:
            topo.add_node(e, kind="pod" if level == "pod" else "service")
    alarm = entry_alarm(metrics, topo, inject, source)
    return Case(name, alarm, topo, dict(sorted(metrics.items())), folder)


# -- readers ----------------------------------------------------------------------------------

def read_rcaeval(folder: str | Path, *, level: str = "service",
                 topology: Path | None = None) -> Labelled:
    """An RCAEval case folder ``<system>/<service>_<fault>/<n>/`` (``data.csv``,
    ``inject_time.txt``)."""
    d = Path(folder)
    ts, cols = read_wide_csv(d / "data.csv")
    metrics = wide_metrics(ts, cols)
    inject = parse_instant((d / "inject_time.txt").read_text().split()[0])
    services = {e for e, _ in metrics}
    svc, fault = split_fault(d.parent.name, services, "_")
    system = d.parent.parent.name
    source = {"dataset": "rcaeval", "system": system, "case": f"{d.parent.name}/{d.name}"}
    case = _finish(f"{system}/{d.parent.name}/{d.name}", d, _topology_file(d, topology), metrics,
                   inject, source, level)
    return case, {"root_cause": resolve_entity(svc, services), "fault": fault, "system": system}


def read_rcd(folder: str | Path, *, level: str = "service",
             topology: Path | None = None) -> Labelled:
    """An RCD case folder ``<system>/<service>-<fault>/<n>/`` (``normal.csv`` then
    ``anomalous.csv``; the fault starts at the first anomalous row)."""
    d = Path(folder)
    ts_n, cols_n = read_wide_csv(d / "normal.csv")
    ts_a, cols_a = read_wide_csv(d / "anomalous.csv")
    if ts_a.size == 0:
        raise InputError(f"{d / 'anomalous.csv'}: no rows")
    inject = float(ts_a[0])
    names = [c for c in cols_n if c in cols_a] + [c for c in cols_a if c not in cols_n]
    keep_n = ts_n < inject  # normal rows recorded at or after the fault would overlap it
    ts_n = ts_n[keep_n]
    if ts_n.size:  # close the gap (RCD's normal period ends days before): one step apart
        step = float(np.median(np.diff(ts_a))) if ts_a.size > 1 else 1.0
        ts_n = ts_n + (inject - step - float(ts_n[-1]))
    ts = np.concatenate([ts_n, ts_a])
    cols = {c: np.concatenate([cols_n[c][keep_n] if c in cols_n else np.full(int(keep_n.sum()), np.nan),
                               cols_a[c] if c in cols_a else np.full(ts_a.size, np.nan)])
            for c in names}
    metrics = wide_metrics(ts, cols)
    services = {e for e, _ in metrics}
    svc, fault = split_fault(d.parent.name, services, "-")
    system = d.parent.parent.name.removesuffix("-data")
    source = {"dataset": "rcd", "system": system, "case": f"{d.parent.name}/{d.name}"}
    case = _finish(f"{system}/{d.parent.name}/{d.name}", d, _topology_file(d, topology), metrics,
                   inject, source, level)
    return case, {"root_cause": resolve_entity(svc, services), "fault": fault, "system": system}


def microirc_label(label_file: Path, case: str) -> float:
    """The chaos start (``... start create.`` line) of ``case`` in a MicroIRC ``label.txt``, as
    written (local wall-clock time, read as if UTC; :func:`read_microirc` shifts it)."""
    current = None
    for line in label_file.read_text().splitlines():
        s = line.strip()
        if not s:
            continue
        if re.fullmatch(r"[A-Za-z0-9._-]+", s):
            current = s
        elif current == case and "start create" in s:
            return parse_instant(s[:19].replace(" ", "T"))
    raise InputError(f"{label_file}: no 'start create' line for {case}")


def _within_hours(t: float, first: float, last: float) -> float:
    """``t`` shifted by the whole number of hours (|h| ≤ 14, smallest first) that puts it
    inside ``[first, last]`` (a label written in local time, the data in UTC)."""
    for h in sorted(range(-14, 15), key=abs):
        if first <= t + 3600 * h <= last:
            return t + 3600 * h
    raise InputError("the label time is not within the data's time range at any time-zone offset")


def read_microirc(folder: str | Path, *, level: str = "service",
                  topology: Path | None = None) -> Labelled:
    """A MicroIRC case folder ``<service>_<fault>_<n>/`` (``<app>/latency.csv``,
    ``success_rate.csv``, ``svc_qps.csv``, ``svc_metric.csv``, ``instance.csv``, ``graph.csv``;
    ``label.txt`` one folder up).

    Entities: at service level the Deployments (``details-v1``, ``reviews-v2``): latency
    ``latency_p50/p90/p99``, ``success_rate``, ``qps``, the container metrics of
    ``svc_metric.csv`` (``cpu_usage``, ``mem_usage``, ...; the ``*-edge*`` copies, which the
    Bookinfo set leaves at 0, are dropped) and each pod's ``cpu``/``memory``/``network`` from
    ``instance.csv`` as ``cpu@<pod>`` (``-1`` means no such pod then: missing). At pod level the
    pods, each with its own metrics and a copy of its Deployment's. Topology: ``graph.csv``'s
    Deployment → Deployment rows are ``calls`` edges (at pod level every pod of the caller calls
    every pod of the callee); its pod → host rows are not used (no host metrics are read).
    ``call.csv`` (``<caller>_<callee>&p50``…, the latency of each call as its caller saw it) is
    kept on the ``calls`` edge as ``latency`` (quantile → series), at service level.
    Truth: the case name's service (``details``, ``reviews-v1``) as a Deployment
    (:func:`resolve_entity`: ``details`` → ``details-v1``); at pod level every pod of it counts.
    Injection time: ``label.txt``'s ``start create`` time of the case, in local time: shifted by
    the whole hours that put it within the data (:func:`_within_hours`)."""
    d = Path(folder)
    app = next((p for p in sorted(d.iterdir()) if p.is_dir() and (p / "latency.csv").exists()), None)
    if app is None:
        raise InputError(f"{d}: not a MicroIRC case (no <app>/latency.csv)")
    svc_metrics: dict[tuple[str, str], Series] = {}
    first, last = np.inf, -np.inf

    def amp(name: str) -> tuple[str, str]:
        e, _, m = name.partition("&")
        return e, m

    if (app / "latency.csv").exists():
        ts, cols = read_wide_csv(app / "latency.csv")
        first, last = float(ts[0]), float(ts[-1])
        for c, v in cols.items():
            e, m = amp(c)
            s = _series(ts, v)
            if s is not None:
                svc_metrics[(e, f"latency_{m}")] = s
    for fname, metric in (("success_rate.csv", "success_rate"), ("svc_qps.csv", "qps")):
        if (app / fname).exists():
            ts, cols = read_wide_csv(app / fname)
            for c, v in cols.items():
                s = _series(ts, v)
                if s is not None:
                    svc_metrics[(c, metric)] = s
    deployments = {e for e, _ in svc_metrics}
    if (app / "svc_metric.csv").exists():
        ts_src = app / "latency.csv"
        ts, _ = read_wide_csv(ts_src)
        with (app / "svc_metric.csv").open(newline="") as fh:
            rows = list(csv.reader(fh))
        if rows and len(rows) - 1 == ts.size:  # no time column: one row per latency.csv row
            for j, c in enumerate(rows[0]):
                e, m = amp(c)
                if e not in deployments or m.endswith("_limit"):
                    continue
                s = _series(ts, np.array([_num(r[j]) if j < len(r) else np.nan for r in rows[1:]]))
                if s is not None:
                    svc_metrics[(e, m)] = s
    pod_metrics: dict[tuple[str, str], Series] = {}
    if (app / "instance.csv").exists():
        ts, cols = read_wide_csv(app / "instance.csv", missing=-1.0)
        for c, v in cols.items():
            pod, _, m = c.rpartition("_")
            s = _series(ts, v)
            if s is not None and pod:
                pod_metrics[(pod, m)] = s
    pods_of: dict[str, set[str]] = {}
    for pod, _ in pod_metrics:
        pods_of.setdefault(pod_service(pod), set()).add(pod)

    svc_topo = nx.DiGraph()
    if (app / "graph.csv").exists():
        with (app / "graph.csv").open(newline="") as fh:
            for row in csv.DictReader(fh):
                a, b = row.get("source", ""), row.get("destination", "")
                # Deployment -> Deployment (and ingress -> Deployment) rows are calls; the
                # pod -> host rows are placement, not calls
                if a and b and a != b and "unknown" not in (a, b) \
                        and pod_service(a) == a and pod_service(b) == b:
                    svc_topo.add_edge(a, b, relation="calls")
    if (app / "call.csv").exists():  # the callers' view of each call: latency per quantile
        ts, cols = read_wide_csv(app / "call.csv")
        for c, v in cols.items():
            pair, _, q = c.partition("&")
            caller, _, callee = pair.partition("_")
            s = _series(ts, v)
            if s is not None and svc_topo.has_edge(caller, callee):
                svc_topo.edges[caller, callee].setdefault("latency", {})[q] = s
    if topology is not None:
        svc_topo = nx.compose(svc_topo, _topology_file(d, topology))

    if level == "pod":
        metrics: dict[tuple[str, str], Series] = dict(pod_metrics)
        for (e, m), s in svc_metrics.items():
            for pod in pods_of.get(e, ()):
                metrics[(pod, f"svc_{m}")] = s
        topo = nx.DiGraph()
        for a, b in svc_topo.edges():
            for pa in pods_of.get(a, {a}):
                for pb in pods_of.get(b, {b}):
                    topo.add_edge(pa, pb, relation="calls")
    else:
        metrics = dict(svc_metrics)
        for (pod, m), s in pod_metrics.items():
            metrics[(pod_service(pod), f"{m}@{pod}")] = s
        topo = svc_topo

    label = d.parent / "label.txt"
    inject = _within_hours(microirc_label(label, d.name), first, last)
    base = re.sub(r"_\d+$", "", d.name)
    svc, fault = split_fault(base, deployments, "_")
    if svc == base.split("_")[-1] or resolve_entity(svc, deployments) not in deployments:
        svc, _, fault = base.partition("_")  # MicroIRC's own rule: the service ends at the first _
    root = resolve_entity(svc, deployments)
    truth: dict[str, Any] = {"root_cause": root, "fault": fault, "system": app.name}
    if level == "pod":
        truth["accept"] = sorted(pods_of.get(root, ()))
    source = {"dataset": "microirc", "system": app.name, "case": d.name}
    case = _finish(f"{app.name}/{d.name}", d, topo, metrics, inject, source, level)
    return case, truth


def read_case_dir(folder: str | Path, *, level: str = "service",
                  topology: Path | None = None) -> Labelled:
    """A shipwise case directory with ``truth.yaml``."""
    d = Path(folder)
    case = load_case(d)
    if topology is not None:
        case.topology = nx.compose(case.topology, _topology_file(d, topology))
    _add_spans(d, case.topology, case.metrics, level)
    raw = load_truth(d)
    truth = {"root_cause": str(raw["root_cause"]), "fault": str(raw.get("fault") or "unknown"),
             "system": str(raw.get("system") or case.alarm.source.get("dataset") or d.parent.name)}
    return case, truth


def read_petshop(folder: str | Path, *, level: str = "service",
                 topology: Path | None = None) -> Labelled:
    """A PetShop issue folder (see :mod:`shipwise.investigate.petshop`)."""
    case, root = load_issue(folder)
    return case, {"root_cause": root, "fault": "unknown",
                  "system": f"petshop/{case.alarm.source.get('scenario')}"}


READERS = {"case": read_case_dir, "rcaeval": read_rcaeval, "rcd": read_rcd,
           "microirc": read_microirc, "petshop": read_petshop}


def detect_layout(folder: Path) -> str | None:
    """Which layout a case folder has (``None``: not a case folder)."""
    if (folder / "alarm.json").exists() and (folder / "truth.yaml").exists():
        return "case"
    if (folder / "target.json").exists() and (folder / "metrics.csv").exists():
        return "petshop"
    if (folder / "data.csv").exists() and (folder / "inject_time.txt").exists():
        return "rcaeval"
    if (folder / "normal.csv").exists() and (folder / "anomalous.csv").exists():
        return "rcd"
    if (folder.parent / "label.txt").exists() and any(
            (p / "latency.csv").exists() for p in folder.iterdir() if p.is_dir()):
        return "microirc"
    return None


def find_cases(root: str | Path, layout: str = "auto") -> list[tuple[Path, str]]:
    """Every case folder under ``root`` (``root`` itself included) as ``(folder, layout)``,
    sorted by path (numbers in names compared as numbers). ``layout`` other than ``auto`` keeps
    only folders of that layout."""
    r = Path(root)
    if not r.is_dir():
        raise InputError(f"{r}: not a directory")
    if layout != "auto" and layout not in LAYOUTS:
        raise InputError(f"unknown layout {layout!r}", hint=f"one of auto, {', '.join(LAYOUTS)}")
    found: list[tuple[Path, str]] = []

    def walk(d: Path) -> None:
        kind = detect_layout(d)
        if kind is not None:
            if layout in ("auto", kind):
                found.append((d, kind))
            return
        for p in sorted(d.iterdir()):
            if p.is_dir() and not p.name.startswith("."):
                walk(p)

    walk(r)

    def key(item: tuple[Path, str]) -> list[Any]:
        return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", str(item[0]))]

    return sorted(found, key=key)


def iter_labelled(root: str | Path, layout: str = "auto", level: str = "service",
                  topology: str | Path | None = None) -> Iterator[Labelled]:
    """``(case, truth)`` for every case folder under ``root``."""
    if level not in LEVELS:
        raise InputError(f"unknown level {level!r}", hint="service or pod")
    topo = Path(topology) if topology else None
    for folder, kind in find_cases(root, layout):
        yield READERS[kind](folder, level=level, topology=topo)
