"""The shop's alert rules, and which one fires first.

The rules are what a team would set up: a page on the gateway's error rate and latency, on
checkout (the business-critical path), on the age of the oldest order message; tickets on any
service's own error rate or latency far outside normal and on an instance group below its
minimum. A rule fires when its condition has held for ``for_seconds`` (as Prometheus ``for:``),
and the alarm of a case is the first rule to fire after the fault starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from shipwise.demo.world.baseline import World
from shipwise.demo.world.events import iso


@dataclass(frozen=True)
class AlertRule:
    name: str
    entity: str
    metric: str
    threshold: float
    for_seconds: float
    severity: str = "page"
    op: str = ">"

    def breached(self, values: np.ndarray) -> np.ndarray:
        v = np.nan_to_num(values, nan=-np.inf if self.op == ">" else np.inf)
        return v > self.threshold if self.op == ">" else v < self.threshold

    def expr(self) -> str:
        return f'world_{self.metric}{{entity="{self.entity}"}} {self.op} {self.threshold:g}'


@dataclass(frozen=True)
class Fired:
    rule: AlertRule
    time: float  # when it fired (the condition held for for_seconds)
    breach_started: float
    value: float


def _nice(x: float) -> float:
    """Round up to two significant digits (a threshold a person would write)."""
    if x <= 0:
        return x
    mag = 10 ** (math.floor(math.log10(x)) - 1)
    return math.ceil(x / mag) * mag


def _title(entity: str) -> str:
    return entity.replace("-", " ").title().replace(" ", "")


def alert_rules(world: World) -> list[AlertRule]:
    """The alert rules of this world, in order of precedence when two fire at once."""
    lat = world.latency_ms
    rules = [
        AlertRule("GatewayErrorRate", "gateway", "error_rate", 0.05, 60.0),
        AlertRule("GatewayLatencyP95", "gateway", "latency_p95_ms",
                  _nice(max(2.5 * lat["gateway"], lat["gateway"] + 150.0)), 120.0),
        AlertRule("CheckoutErrorRate", "checkout", "error_rate", 0.08, 60.0),
        AlertRule("CheckoutLatencyP95", "checkout", "latency_p95_ms",
                  _nice(3.0 * lat["checkout"]), 120.0),
        AlertRule("OrdersQueueOldestMessage", "orders-queue", "oldest_age_s", 300.0, 120.0),
    ]
    for svc in world.topology.services():
        if svc == "checkout":
            continue
        rules.append(AlertRule(f"{_title(svc)}ErrorRate", svc, "error_rate", 0.10, 120.0,
                               "ticket"))
    for svc in world.topology.services():
        rules.append(AlertRule(f"{_title(svc)}LatencyP95", svc, "latency_p95_ms",
                               _nice(6.0 * lat[svc]), 180.0, "ticket"))
    for g in world.topology.ids("instance_group"):
        rules.append(AlertRule(f"{_title(g)}BelowMinimum", g, "instances_in_service", 2.0,
                               60.0, "ticket", "<"))
    return rules


def calibrate(rules: list[AlertRule], t: np.ndarray, metrics: dict[tuple[str, str], np.ndarray],
              before: float) -> list[AlertRule]:
    """Raise any threshold that healthy data before ``before`` already crosses.

    A rule that would fire on a healthy day would have been tuned by its team long ago.
    """
    out = []
    pre = t < before
    for r in rules:
        v = metrics.get((r.entity, r.metric))
        if v is not None and r.op == ">" and pre.any():
            peak = float(np.nanmax(v[pre]))
            if peak >= 0.9 * r.threshold:
                r = replace(r, threshold=_nice(1.3 * peak))
        out.append(r)
    return out


def first_alarm(rules: list[AlertRule], t: np.ndarray,
                metrics: dict[tuple[str, str], np.ndarray], after: float) -> Fired | None:
    """The first rule to fire at or after ``after`` (``t`` is an evenly spaced grid)."""
    best: Fired | None = None
    step = float(t[1] - t[0]) if len(t) > 1 else 15.0
    for r in rules:
        v = metrics.get((r.entity, r.metric))
        if v is None:
            continue
        need = math.ceil(r.for_seconds / step) + 1
        ok = r.breached(v) & (t >= after)
        idx = np.arange(len(ok))
        run = idx - np.maximum.accumulate(np.where(ok, -1, idx))  # consecutive breaches up to i
        hits = np.flatnonzero(run >= need)
        if hits.size == 0:
            continue
        i = int(hits[0])
        fired = Fired(r, float(t[i]), float(t[i - need + 1]), float(v[i]))
        if best is None or fired.time < best.time:
            best = fired
    return best


def alarm_json(world: World, fired: Fired) -> dict[str, Any]:
    """alarm.json: the entity, metric and time, with the Alertmanager-style alert as source."""
    r = fired.rule
    node = world.topology.nodes[r.entity]
    labels = {"alertname": r.name, "severity": r.severity, "entity": r.entity,
              "metric": r.metric, "team": node.team or "platform", "env": "prod",
              "region": "eu-west-1"}
    unit = {"error_rate": "", "latency_p95_ms": " ms", "oldest_age_s": " s"}.get(r.metric, "")
    value = f"{fired.value:.3f}" if r.metric == "error_rate" else f"{fired.value:.0f}"
    summary = f"{r.entity} {r.metric} {r.op} {r.threshold:g}{unit}"
    source = {
        "kind": "alertmanager", "alertname": r.name, "status": "firing",
        "labels": labels,
        "annotations": {
            "summary": summary,
            "description": (f"{r.metric} of {r.entity} is {value}{unit} "
                            f"(threshold {r.op} {r.threshold:g}{unit}) for "
                            f"{r.for_seconds:.0f}s"),
            "runbook_url": f"https://runbooks.shop.example/alerts/{r.name}",
        },
        "startsAt": iso(fired.time), "threshold": r.threshold, "value": fired.value,
        "for_seconds": r.for_seconds, "expr": r.expr(),
        "generatorURL": "http://prometheus.shop.example/graph?g0.expr="
                        + r.expr().replace(" ", "%20"),
    }
    return {"entity": r.entity, "metric": r.metric, "time": iso(fired.time), "source": source}
