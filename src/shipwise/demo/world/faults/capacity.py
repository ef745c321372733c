"""Faults of capacity: instances churning on a broken health check, a traffic surge one service
cannot absorb, and a memory leak that ends in OOM kills hours after the deploy that brought it."""

from __future__ import annotations

from typing import Any

import numpy as np

from shipwise.demo.world import diffs
from shipwise.demo.world.effects import Effects, Instance, ramp, window
from shipwise.demo.world.events import Event, config_change, deployment, pod_name
from shipwise.demo.world.faults.base import Fault, pick
from shipwise.demo.world.logtext import LogLine, jpkg, jvm_exception, pkg, py_exception
from shipwise.demo.world.topology import instance_id

HOUR = 3600.0


class InstanceChurn(Fault):
    """A change makes the health check slow or flaky; the group terminates instances that fail it
    and launches replacements that fail it too, every minute or two."""

    kind = "instance_churn"

    @classmethod
    def candidates(cls, world: Any) -> list[str]:
        return world.topology.ids("instance_group")

    def plan(self, rng: np.random.Generator) -> None:
        svc = self.topo.service_of(self.target)
        self.service = svc
        runtime = self.topo.nodes[svc].runtime
        cause_t = self.start - float(rng.uniform(30.0, 90.0))
        self.variant = "deploy" if rng.random() < 0.5 else "config"
        if self.variant == "deploy":
            patch = diffs.healthcheck_change(svc, runtime, rng)
            self.events.append(deployment(self.world, svc, cause_t, patch, "cause"))
        else:
            self.events.append(config_change(self.world, svc, cause_t,
                                             "healthcheck.timeout_seconds", 5, 2, "cause",
                                             actor=f"pipeline:{svc}-infra"))
        self.cold_error = float(rng.uniform(0.3, 0.5))
        self.terminations: list[float] = []
        t, end, n_new = self.start + float(rng.uniform(40.0, 80.0)), self.start + HOUR, 0
        while t < end:
            live = [i for i in self.fleet.of(self.target)
                    if i.launched_at + i.boot_s <= t < i.terminated_at]
            if len(live) >= 2 or (live and rng.random() < 0.3):
                victim = live[int(rng.integers(0, len(live)))]
                victim.terminated_at, victim.terminate_reason = t, "health_check_failed"
                self.terminations.append(t)
                new = Instance(instance_id(self.world.seed, self.target, 100 + n_new),
                               self.target, t + float(rng.uniform(5.0, 20.0)),
                               float(rng.uniform(90.0, 140.0)), launch_reason="replacement")
                self.fleet.instances.append(new)
                n_new += 1
                self.events.append(Event(t, "instance_terminate", self.target,
                                         "system:autoscaler", f"terminate {victim.id}",
                                         {"instance": victim.id, "reason": "health_check_failed"},
                                         "context"))
                self.events.append(Event(new.launched_at, "instance_launch", self.target,
                                         "system:autoscaler", f"launch {new.id}",
                                         {"instance": new.id, "reason": "replacement"},
                                         "context"))
            t += float(rng.uniform(60.0, 120.0))

    def apply(self, fx: Effects) -> None:
        for tt in self.terminations:
            fx.add_error(self.service, 0.35 * window(fx.t, tt, tt + 15.0))
        for inst in self.fleet.of(self.target):
            if inst.launch_reason == "replacement":
                # cold start: empty local cache and cold JIT for its first minutes in service
                ready = inst.launched_at + inst.boot_s
                cold = np.clip(1.0 - (fx.t - ready) / 180.0, 0.0, 1.0) * (fx.t >= ready)
                fx.add_instance_error(inst.id, self.cold_error * cold)

    def error_line(self, entity: str, instance: str | None, t: float, rng: np.random.Generator,
                   dep: str | None = None) -> LogLine | None:
        if entity != self.service:
            return None
        fresh = [i for i in self.fleet.of(self.target) if i.launch_reason == "replacement"
                 and 0.0 <= t - i.launched_at - i.boot_s < 180.0]
        if fresh:
            inst = fresh[int(rng.integers(0, len(fresh)))].id
            return LogLine(t, entity, "ERROR", "request failed during warm-up: local cache "
                           "cold, upstream read timed out", inst)
        return LogLine(t, entity, "ERROR", "request aborted: connection reset while instance "
                       "was draining", instance)

    def extra_logs(self, start: float, end: float, rng: np.random.Generator) -> list[LogLine]:
        out: list[LogLine] = []
        runtime = self.topo.nodes[self.service].runtime
        for inst in self.fleet.of(self.target):
            if inst.terminate_reason == "health_check_failed":
                tt = inst.terminated_at
                for dt in (75.0, 45.0, 15.0):
                    out.append(self._health_line(tt - dt + float(rng.uniform(-3, 3)), inst.id,
                                                 runtime, rng))
                out.append(LogLine(tt + 1.0, self.service, "INFO",
                                   f"received SIGTERM, draining {int(rng.integers(5, 60))} "
                                   "in-flight requests", inst.id))
            if inst.launch_reason == "replacement":
                ready = inst.launched_at + inst.boot_s
                out.append(LogLine(ready - 25.0, self.service, "INFO",
                                   f"starting {self.service} on {inst.id}", inst.id))
                out.append(LogLine(ready, self.service, "INFO", "warm-up done, serving", inst.id))
        return out

    def _health_line(self, t: float, inst: str, runtime: str, rng: np.random.Generator) -> LogLine:
        took = int(rng.uniform(2050, 3400))
        if self.variant == "config":
            return LogLine(t, self.service, "WARN", f"health check GET /ping took {took} ms "
                           "(load balancer timeout 2 s): marked unhealthy", inst)
        if runtime == "python":
            exc = py_exception("TimeoutError", "deep health check: describe_table did not finish "
                               "within 3.0 s", [(f"/app/{pkg(self.service)}/health.py", 15,
                                                 "ping", "db.describe_table(timeout=3.0)")])
        else:
            exc = jvm_exception(f"{jpkg(self.service)}.health.DependencyCheckException",
                                "dependency check exceeded PT3S",
                                [(f"{jpkg(self.service)}.web.HealthController.ping",
                                  "HealthController.kt", 19)])
        return LogLine(t, self.service, "ERROR", "health check GET /ping failed (503)", inst,
                       exception=exc)

    def describe(self) -> str:
        return (f"{self.target} churns: a health-check {self.variant} on {self.service} fails "
                "instances, which are replaced every minute or two")

    def involved(self) -> set[str]:
        return super().involved() | {self.service}


class TrafficSurge(Fault):
    """Entry traffic multiplies within minutes (a campaign); the service with the least headroom
    saturates: its latency climbs and it sheds load."""

    kind = "traffic_surge"

    @classmethod
    def candidates(cls, world: Any) -> list[str]:
        return ["auth", "catalog", "search", "cart", "inventory", "recommendations"]

    def plan(self, rng: np.random.Generator) -> None:
        self.multiplier = float(rng.uniform(2.6, 3.6))
        self.rise_s = float(rng.uniform(120.0, 300.0))
        diurnal = float(self.world.diurnal(np.array([self.start]))[0])
        u0 = self.world.load(self.target) * diurnal / self.world.capacity_rps[self.target]
        #: the target ran hot already (45–50 % before the surge): it is the one that saturates
        self.capacity_factor = u0 / float(rng.uniform(0.45, 0.50))
        if rng.random() < 0.65:
            campaign = pick(rng, ["winter-sale-email", "app-push-flash-deal", "tv-spot-prime-time",
                                  "influencer-drop"])
            self.events.append(Event(self.start - float(rng.uniform(30.0, 240.0)), "traffic",
                                     "gateway", "system:marketing-scheduler",
                                     f"campaign {campaign} sent",
                                     {"campaign": campaign,
                                      "audience": int(rng.integers(200, 2000)) * 1000},
                                     "cause"))

    def apply(self, fx: Effects) -> None:
        fx.mul_traffic(1.0 + (self.multiplier - 1.0) * ramp(fx.t, self.start, self.rise_s))
        fx.mul_capacity(self.target, np.full_like(fx.t, self.capacity_factor))

    def describe(self) -> str:
        return f"traffic ×{self.multiplier:.1f} saturates {self.target}"


class MemoryLeak(Fault):
    """A deploy hours ago added an unbounded memo; memory climbs on every replica until garbage
    collection thrashes and the replicas are OOM-killed one after another."""

    kind = "memory_leak"

    @classmethod
    def candidates(cls, world: Any) -> list[str]:
        return [s for s in world.topology.services() if s != "notifications"]

    def plan(self, rng: np.random.Generator) -> None:
        node = self.topo.nodes[self.target]
        self.limit = self.world.memory_limit_mb[self.target]
        self.base = self.world.memory_mb[self.target]
        age = float(rng.uniform(3.0, 10.0)) * HOUR
        deployed = self.start - age
        self.events.append(deployment(self.world, self.target, deployed,
                                      diffs.leak_change(self.target, node.runtime, rng), "cause"))
        group = self.topo.group_of(self.target)
        self.replicas = ([i.id for i in self.fleet.of(group)] if group else
                         [pod_name(self.world.seed, self.target, deployed, i) for i in range(3)])
        self.group = group
        factors = rng.permutation([1.0, 0.965, 0.93])
        offsets = rng.uniform(0.0, 90.0, 3)
        lead = int(np.argmax(factors))
        rate = (0.95 * self.limit - self.base) / (self.start - deployed - offsets[lead])
        self.t0 = deployed + offsets
        self.rate = rate * factors
        self.period = (self.limit - self.base) / self.rate
        self.restart_s = float(rng.uniform(25.0, 45.0))

    def memory(self, i: int, t: np.ndarray) -> np.ndarray:
        age = np.mod(np.maximum(t - self.t0[i], 0.0), self.period[i])
        return np.where(t >= self.t0[i], self.base + self.rate[i] * age, self.base)

    def kills(self, i: int, start: float, end: float) -> list[float]:
        first = self.t0[i] + self.period[i]
        n0 = max(0, int(np.ceil((start - first) / self.period[i])))
        out, k = [], n0
        while first + k * self.period[i] < end:
            out.append(float(first + k * self.period[i]))
            k += 1
        return out

    def apply(self, fx: Effects) -> None:
        t = fx.t
        gc_worst, err, down = np.zeros_like(t), np.zeros_like(t), np.zeros_like(t)
        mem_sum, gc_sum = np.zeros_like(t), np.zeros_like(t)
        for i in range(3):
            mem = self.memory(i, t)
            gc = np.clip((mem / self.limit - 0.95) / 0.05, 0.0, 1.0) ** 2
            gc_worst = np.maximum(gc_worst, gc)
            err = err + (0.25 * gc) / 3.0
            age = np.mod(t - self.t0[i], self.period[i])
            killed = (t >= self.t0[i] + self.period[i]) & (age < self.restart_s)
            err = err + killed * np.where(age < 10.0, 0.9, 0.0) / 3.0
            down = down + killed
            mem = np.where(killed, self.base * 0.4, mem)
            if self.group:  # garbage collection burns CPU on the replica that thrashes
                fx.add_metric(self.replicas[i], "memory_mb", mem - self.base)
                fx.add_metric(self.replicas[i], "cpu_utilisation", 0.5 * gc)
            mem_sum = mem_sum + mem
            gc_sum = gc_sum + gc
        fx.mul_latency(self.target, 1.0 + 7.0 * gc_worst)
        fx.add_error(self.target, np.clip(err, 0.0, 1.0))
        fx.mul_capacity(self.target, 1.0 - down / 3.0)
        if not self.group:
            fx.add_metric(self.target, "memory_mb", mem_sum / 3.0 - self.base)
            fx.add_metric(self.target, "cpu_utilisation", 0.5 * gc_sum / 3.0)

    def error_line(self, entity: str, instance: str | None, t: float, rng: np.random.Generator,
                   dep: str | None = None) -> LogLine | None:
        if entity != self.target:
            return None
        inst = int(np.argmax([float(self.memory(i, np.array([t]))[0]) for i in range(3)]))
        where = self.replicas[inst]
        msg = ("request failed: GC overhead limit exceeded" if self.topo.nodes[entity].runtime
               == "jvm" else "request failed: MemoryError while pricing")
        line = LogLine(t, entity, "ERROR", msg, where if self.group else None,
                       pod=None if self.group else where)
        line.exception = self._oom(entity)
        return line

    def _oom(self, entity: str) -> dict[str, str]:
        if self.topo.nodes[entity].runtime == "jvm":
            return jvm_exception("java.lang.OutOfMemoryError", "Java heap space", [
                ("java.base/java.util.Arrays.copyOf", "Arrays.java", 3537),
                ("java.base/java.util.ArrayList.grow", "ArrayList.java", 237),
                (f"{jpkg(entity)}.session.SessionRegistry.open", "SessionRegistry.kt", 23)])
        return py_exception("MemoryError", "", [
            (f"/app/{pkg(entity)}/pricing.py", 44, "price_for",
             "_PRICE_MEMO[key] = _compute_price(sku, customer_id)")])

    def extra_logs(self, start: float, end: float, rng: np.random.Generator) -> list[LogLine]:
        out: list[LogLine] = []
        runtime = self.topo.nodes[self.target].runtime
        for i, rep in enumerate(self.replicas):
            inst, pod = (rep, None) if self.group else (None, rep)
            for tt in np.arange(start, end, 60.0):
                m = float(self.memory(i, np.array([tt]))[0])
                if m / self.limit > 0.9:
                    share = 100 * min(0.98, (m / self.limit - 0.8) * 4)
                    out.append(LogLine(float(tt), self.target, "WARN",
                                       f"GC overhead {share:.0f}% of time over the last minute "
                                       f"(heap {m:.0f}/{self.limit:.0f} MB)", inst, pod=pod))
            for tk in self.kills(i, start, end):
                if runtime == "jvm":
                    line = LogLine(tk - 1.0, self.target, "ERROR",
                                   'Exception in thread "http-nio-8080-exec-41"', inst, pod=pod)
                    line.exception = self._oom(self.target)
                else:
                    line = LogLine(tk, self.target, "ERROR",
                                   f"Worker (pid:{int(rng.integers(20, 900))}) was sent SIGKILL! "
                                   "Perhaps out of memory?", inst, pod=pod)
                out.append(line)
                out.append(LogLine(tk + self.restart_s, self.target, "INFO",
                                   f"{self.target} started (restart after OOMKilled, exit code "
                                   "137)", inst, pod=pod))
        return out

    def describe(self) -> str:
        return f"memory leak in {self.target} since a deploy hours ago: GC thrash and OOM kills"
