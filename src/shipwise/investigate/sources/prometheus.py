"""Metrics from Prometheus over its HTTP API (``/api/v1/query_range``), one PromQL query per window.

Every series that carries the entity label (``entity_label``, e.g. ``service``) is read with one
range query ``{<label>!="", <matchers>}``; the metric name (minus ``metric_prefix``) becomes the
metric, the label value the entity. Extra queries (``queries``: PromQL whose series are one named
metric of the entity a label names, e.g. a mesh's server-side p99 per workload) and per-call
latencies (``calls``: each call's latency as its caller saw it, per caller and callee, kept on the
``calls`` edge) are one range query each. Settings are checked before any request; the evidence refers
back to the exact query (as a Prometheus graph link) so an engineer can open it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlparse

import httpx
import numpy as np

from shipwise.errors import TransientError
from shipwise.investigate.case import Series
from shipwise.investigate.evidence import Evidence, Scope
from shipwise.investigate.settings import PrometheusSettings
from shipwise.investigate.sources.base import EvidenceSource

#: Prometheus refuses range queries with more than 11,000 points per series.
MAX_POINTS = 11000


class PrometheusSource(EvidenceSource):
    name = "prometheus"

    def __init__(self, settings: PrometheusSettings) -> None:
        self.settings = settings

    def describe(self) -> str:
        return f"prometheus: {self.settings.url}"

    def check(self) -> list[str]:
        problems = []
        u = urlparse(self.settings.url)
        if u.scheme not in ("http", "https") or not u.netloc:
            problems.append(f"prometheus url {self.settings.url!r} is not an http(s) URL")
        if not self.settings.entity_label.replace("_", "").isalnum():
            problems.append(f"entity_label {self.settings.entity_label!r} is not a label name")
        return problems

    def query(self) -> str:
        matchers = [f'{self.settings.entity_label}!=""']
        if self.settings.matchers.strip():
            matchers.append(self.settings.matchers.strip())
        return "{" + ", ".join(matchers) + "}"

    def graph_link(self, expr: str) -> str:
        return f"{self.settings.url.rstrip('/')}/graph?g0.expr={quote(expr)}&g0.tab=0"

    def fetch(self, scope: Scope) -> Evidence:
        expr = self.query()
        out = self._to_evidence(self._range(expr, scope), expr)
        for q in self.settings.queries:
            for labels, series in self._series(self._range(q.expr, scope)):
                entity = str(labels.get(q.entity_label, ""))
                if entity:
                    out.metrics[(entity, q.name)] = series
                    out.metric_refs[(entity, q.name)] = self.graph_link(q.expr)
        for c in self.settings.calls:
            for labels, series in self._series(self._range(c.expr, scope)):
                a, b = str(labels.get(c.source_label, "")), str(labels.get(c.destination_label, ""))
                if a and b and a != b:
                    if not out.topology.has_edge(a, b):
                        out.topology.add_edge(a, b, relation="calls")
                    out.topology.edges[a, b].setdefault("latency", {})[c.quantile] = series
        return out

    def _range(self, expr: str, scope: Scope) -> list[dict[str, Any]]:
        """One ``query_range`` over the scope (the step kept under :data:`MAX_POINTS`)."""
        step = self.settings.step_seconds or 15.0
        step = max(step, (scope.end - scope.start) / MAX_POINTS)
        try:
            r = httpx.get(f"{self.settings.url.rstrip('/')}/api/v1/query_range",
                          params={"query": expr, "start": f"{scope.start:.3f}",
                                  "end": f"{scope.end:.3f}", "step": f"{step:g}"},
                          timeout=self.settings.timeout_seconds)
        except httpx.HTTPError as exc:
            raise TransientError(f"prometheus at {self.settings.url} unreachable: {exc}") from exc
        if r.status_code != 200:
            raise TransientError(f"prometheus answered {r.status_code}: {r.text[:200]}")
        body = r.json()
        if body.get("status") != "success":
            raise TransientError(f"prometheus query failed: {body.get('error')}")
        return list(body["data"]["result"])

    def _series(self, result: list[dict[str, Any]]) -> list[tuple[dict[str, str], Series]]:
        """Each series of a result with its labels (finite samples only; empty ones left out)."""
        out = []
        for item in result[: self.settings.max_series]:
            arr = np.asarray([(float(t), float(v)) for t, v in item.get("values", [])], dtype=float)
            if arr.size:
                ok = np.isfinite(arr[:, 1])
                out.append((dict(item.get("metric", {})), Series(arr[ok, 0], arr[ok, 1])))
        return out

    def _to_evidence(self, result: list[dict[str, Any]], expr: str) -> Evidence:
        out = Evidence()
        prefix, label = self.settings.metric_prefix, self.settings.entity_label
        for item in result[: self.settings.max_series]:
            labels = item.get("metric", {})
            name = str(labels.get("__name__", ""))
            entity = str(labels.get(label, ""))
            if not name or not entity:
                continue
            metric = name[len(prefix):] if prefix and name.startswith(prefix) else name
            vals = item.get("values", [])
            if not vals:
                continue
            arr = np.asarray([(float(t), float(v)) for t, v in vals], dtype=float)
            ok = np.isfinite(arr[:, 1])
            key = (entity, metric)
            if key in out.metrics:  # same entity+metric on several instances: keep the worst
                prev = out.metrics[key]
                if np.nanmean(arr[ok, 1]) <= np.nanmean(prev.values):
                    continue
            out.metrics[key] = Series(arr[ok, 0], arr[ok, 1])
            out.metric_refs[key] = self.graph_link(f'{name}{{{label}="{entity}"}}')
        if "kind" in {k for item in result for k in item.get("metric", {})}:
            for item in result:
                labels = item.get("metric", {})
                if labels.get(label) and labels.get("kind"):
                    out.topology.add_node(str(labels[label]), kind=str(labels["kind"]))
        out.metric_refs.setdefault(("*", "*"), self.graph_link(expr))
        return out
