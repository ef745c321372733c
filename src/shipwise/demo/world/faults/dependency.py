"""Faults of a dependency with no change behind them: a dependency that turns slow, and a queue
whose consumer stalls on a poison message."""

from __future__ import annotations

from typing import Any

import numpy as np

from shipwise.demo.world.effects import Effects, ramp
from shipwise.demo.world.faults.base import Fault
from shipwise.demo.world.logtext import LogLine, pkg, py_exception
from shipwise.demo.world.noise import hex_id


class SlowDependency(Fault):
    """A dependency slows down on its own (a hot partition throttled and retried, a cache node
    swapping, the payment provider degrading): its callers hit their timeouts. No change event."""

    kind = "slow_dependency"

    @classmethod
    def candidates(cls, world: Any) -> list[str]:
        topo = world.topology
        return [*topo.ids("table"), *topo.ids("cache"), *topo.ids("external"), "inventory", "auth"]

    def plan(self, rng: np.random.Generator) -> None:
        kind = self.topo.kind(self.target)
        base = self.world.latency_ms[self.target]
        timeouts = [e.timeout_ms for e in self.topo.dependents(self.target) if e.timeout_ms]
        reach = min(timeouts) if timeouts else 1000.0
        #: p95 ends between 0.9 and 1.7 × the tightest caller timeout
        self.factor = reach * float(rng.uniform(0.9, 1.7)) / base
        self.rise_s = float(rng.uniform(45.0, 180.0))
        self.throttle = float(rng.uniform(0.15, 0.45)) if kind == "table" else 0.0

    def apply(self, fx: Effects) -> None:
        on = ramp(fx.t, self.start, self.rise_s)
        fx.mul_latency(self.target, 1.0 + (self.factor - 1.0) * on)
        if self.throttle:
            load = self.world.load(self.target) * self.world.diurnal(fx.t)
            fx.add_metric(self.target, "throttled_per_s", self.throttle * load * on)

    def extra_logs(self, start: float, end: float, rng: np.random.Generator) -> list[LogLine]:
        if self.topo.kind(self.target) != "service":
            return []
        out = []
        for t in np.arange(max(start, self.start + 20.0), end, 20.0):
            ms = self.world.latency_ms[self.target] * self.factor * float(rng.uniform(0.7, 1.3))
            out.append(LogLine(float(t + rng.uniform(0, 15)), self.target, "WARN",
                               f"slow request: POST /v1/reserve took {ms:.0f} ms "
                               f"(lock wait {0.85 * ms:.0f} ms on stock row)"))
        return out

    def describe(self) -> str:
        return f"{self.target} turned ×{self.factor:.0f} slower on its own"


class QueueBacklog(Fault):
    """A malformed message reaches the orders queue; the consumer fails on it, again and again
    (no dead-letter queue), and processes a fraction of its usual rate: the queue backs up."""

    kind = "queue_backlog"

    @classmethod
    def candidates(cls, world: Any) -> list[str]:
        topo = world.topology
        return sorted({c for q in topo.ids("queue") if (c := topo.consumer_of(q))})

    def plan(self, rng: np.random.Generator) -> None:
        self.queue = next(q for q in self.topo.ids("queue")
                          if self.topo.consumer_of(q) == self.target)
        self.keep = float(rng.uniform(0.08, 0.25))
        #: the poison message fails once per visibility timeout, among few other attempts
        self.fail_share = float(rng.uniform(0.02, 0.05))
        self.message_id = f"{hex_id(8, 'msg', self.start)}-{hex_id(4, 'msg2', self.start)}"
        self.field = str(rng.choice(["shipping_address", "currency", "lines"]))

    def apply(self, fx: Effects) -> None:
        on = ramp(fx.t, self.start, 30.0)
        fx.mul_consume(self.target, 1.0 - (1.0 - self.keep) * on)
        fx.add_error(self.target, self.fail_share * on)
        publish = self.world.load(self.queue) * self.world.diurnal(fx.t)
        behind = np.maximum(fx.t - self.start, 0.0)
        fx.add_metric(self.queue, "depth", publish * (1.0 - self.keep) * behind)
        fx.add_metric(self.queue, "oldest_age_s", behind)

    def error_line(self, entity: str, instance: str | None, t: float, rng: np.random.Generator,
                   dep: str | None = None) -> LogLine | None:
        if entity != self.target:
            return None
        receives = 1 + int((t - self.start) // 30.0)
        exc = py_exception("KeyError", repr(self.field), [
            (f"/app/{pkg(entity)}/consumer.py", 77, "handle_message", "order = parse_order(body)"),
            (f"/app/{pkg(entity)}/schema.py", 31, "parse_order",
             f'value = payload["{self.field}"]')])
        return LogLine(t, entity, "ERROR",
                       f"failed to process message {self.message_id} from {self.queue} "
                       f"(ApproximateReceiveCount={receives}); leaving it for redelivery",
                       instance, exception=exc)

    def extra_logs(self, start: float, end: float, rng: np.random.Generator) -> list[LogLine]:
        out = [LogLine(self.start + 31.0, self.target, "WARN",
                       f"{self.queue} has no redrive policy: messages that keep failing are "
                       "never moved to a dead-letter queue")]
        for t in np.arange(self.start + 60.0, end, 60.0):
            out.append(LogLine(float(t), self.target, "WARN",
                               f"consumer lag on {self.queue}: processed "
                               f"{100 * self.keep * float(rng.uniform(0.8, 1.2)):.0f}% of "
                               "published messages over the last minute"))
        return out

    def describe(self) -> str:
        return f"poison message stalls {self.target}; {self.queue} backs up"
