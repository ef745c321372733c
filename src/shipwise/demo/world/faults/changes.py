"""Faults caused by a change someone made: a deployment, a config change, a permission change,
a manual session on a host."""

from __future__ import annotations

from typing import Any

import numpy as np

from shipwise.demo.world import diffs
from shipwise.demo.world.effects import Effects, ramp
from shipwise.demo.world.events import Event, config_change, deployment, person
from shipwise.demo.world.faults.base import Fault, instance_for, pick, services_with
from shipwise.demo.world.logtext import (
    LogLine,
    handler,
    jpkg,
    jvm_exception,
    pkg,
    py_exception,
)
from shipwise.demo.world.noise import hex_id
from shipwise.demo.world.topology import ACCOUNT, REGION, Edge


class BadDeploy(Fault):
    """A deploy changes how cache records are serialised; the strict decoder rejects them, so
    every cache hit fails while cache misses (served from the table) still succeed."""

    kind = "bad_deploy"

    @classmethod
    def candidates(cls, world: Any) -> list[str]:
        return services_with(world, "writes", ("cache",))

    def plan(self, rng: np.random.Generator) -> None:
        node = self.topo.nodes[self.target]
        self.rollout_s = float(rng.uniform(60.0, 150.0))
        self.severity = float(rng.uniform(0.35, 0.75))
        patch = diffs.serialization_change(self.target, node.runtime, rng)
        self.field = diffs.serialization_field(patch[1])
        self.cache = next(e.target for e in self.topo.deps(self.target)
                          if e.relation == "writes" and self.topo.kind(e.target) == "cache")
        self.events.append(deployment(self.world, self.target, self.start - 20.0, patch, "cause"))

    def apply(self, fx: Effects) -> None:
        fx.add_error(self.target, self.severity * ramp(fx.t, self.start, self.rollout_s))

    def error_line(self, entity: str, instance: str | None, t: float, rng: np.random.Generator,
                   dep: str | None = None) -> LogLine | None:
        if entity != self.target:
            return None
        key = f"{self.target.split('-')[0]}:{hex_id(10, 'key', t)}"
        if self.topo.nodes[entity].runtime == "python":
            p = pkg(entity)
            exc = py_exception(
                f"{p}.cache.serialize.SerializationException",
                f"unknown field {self.field!r} in cached record (schema v3, strict)", [
                    (f"/app/{p}/handlers.py", 61, "get_item", "item = await self.cache.get(key)"),
                    (f"/app/{p}/cache/client.py", 47, "get", "return decode(raw, self.schema)"),
                    (f"/app/{p}/cache/serialize.py", 58, "decode",
                     "raise SerializationException(f\"unknown field {name!r} in cached record\")")])
        else:
            j = jpkg(entity)
            exc = jvm_exception(
                f"{j}.cache.SerializationException",
                f"failed to deserialize snapshot from {self.cache} (key {key})",
                [(f"{j}.cache.SnapshotCodec.decode", "SnapshotCodec.kt", 58),
                 (f"{j}.cache.CacheClient.get", "CacheClient.kt", 41),
                 (f"{j}.web.Handlers.handle", "Handlers.kt", 73)],
                ("com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException",
                 f'Unrecognized field "{self.field}" (class com.shop.cache.schema.SnapshotV1), '
                 'not marked as ignorable (4 known properties: "id", "items", "currency", '
                 '"updatedAt"])',
                 [("com.fasterxml.jackson.databind.DeserializationContext.handleUnknownProperty",
                   "DeserializationContext.java", 1138)]))
        return LogLine(t, entity, "ERROR", f"failed to read {key} from {self.cache}",
                       instance, exception=exc)

    def extra_logs(self, start: float, end: float, rng: np.random.Generator) -> list[LogLine]:
        cause = self.cause
        assert cause is not None
        out = [LogLine(cause.time + 12.0, self.target, "INFO",
                       f"starting {self.target} (commit {cause.details['commit'][:7]})")]
        for t in np.arange(max(start, self.start + 30.0), end, 40.0):
            out.append(LogLine(float(t + rng.uniform(0, 30)), self.target, "INFO",
                               f"cache miss on {self.cache}, loaded from table in "
                               f"{rng.uniform(6, 14):.0f} ms"))
        return out

    def describe(self) -> str:
        return (f"deploy of {self.target} renamed/added the serialised field {self.field!r}; "
                f"cache hits on {self.cache} fail to decode")


class ConfigChange(Fault):
    """A config change starves a service: a client timeout below the callee's normal latency,
    or a connection pool shrunk to a handful of connections."""

    kind = "config_change"

    @classmethod
    def candidates(cls, world: Any) -> list[str]:
        return sorted(set(cls._timeout_targets(world)) | set(cls._pool_targets(world)))

    @staticmethod
    def _timeout_edges(world: Any, service: str) -> list[Edge]:
        """Calls whose failures the service cannot hide (weight × pass-through ≥ 0.25)."""
        return [e for e in world.topology.deps(service)
                if e.relation == "calls" and e.weight * e.pass_through >= 0.25]

    @classmethod
    def _timeout_targets(cls, world: Any) -> list[str]:
        return [s for s in world.topology.services() if cls._timeout_edges(world, s)]

    @staticmethod
    def _pool_targets(world: Any) -> list[str]:
        topo = world.topology
        jvm = [s for s in services_with(world, "writes", ("table",))
               if topo.nodes[s].runtime == "jvm"]
        py = [s for s in services_with(world, "calls", ("service",))
              if topo.nodes[s].runtime == "python"]
        return sorted({*jvm, *py, "auth"})

    def plan(self, rng: np.random.Generator) -> None:
        variants = []
        if self.target in self._timeout_targets(self.world):
            variants.append("timeout")
        if self.target in self._pool_targets(self.world):
            variants.append("pool")
        self.variant = pick(rng, variants)
        self.dep: str | None = None
        runtime = self.topo.nodes[self.target].runtime
        if self.variant == "timeout":
            edges = self._timeout_edges(self.world, self.target)
            edge = edges[int(rng.integers(0, len(edges)))]
            self.dep = edge.target
            p95 = self.world.latency_ms[edge.target]
            new = max(5, round(p95 * rng.uniform(0.25, 0.45) / 5.0) * 5)
            self.new_timeout = float(new)
            key, old = f"clients.{edge.target}.timeout_ms", int(edge.timeout_ms or 2000)
        else:
            self.pool_latency = float(rng.uniform(250.0, 700.0))
            self.pool_error = float(rng.uniform(0.15, 0.4))
            old, new = int(rng.choice([50, 64, 100])), int(rng.choice([2, 4]))
            key = ("dynamodb.http.max_connections" if runtime == "jvm"
                   else "http.pool.max_connections")
            if runtime == "python":
                self.dep = next(e.target for e in self.topo.deps(self.target)
                                if e.relation == "calls")
        self.key, self.old, self.new = key, old, new
        self.events.append(config_change(self.world, self.target, self.start - 5.0, key, old, new,
                                         "cause"))

    def apply(self, fx: Effects) -> None:
        on = ramp(fx.t, self.start, 15.0)
        if self.variant == "timeout":
            assert self.dep is not None
            edge = self.topo.edge(self.target, self.dep, "calls")
            assert edge is not None
            fx.timeout_ms[(self.target, self.dep)] = np.where(
                fx.t >= self.start, self.new_timeout, edge.timeout_ms or 2000.0)
            return
        fx.add_latency(self.target, self.pool_latency * on)
        fx.add_error(self.target, self.pool_error * on)

    def error_line(self, entity: str, instance: str | None, t: float, rng: np.random.Generator,
                   dep: str | None = None) -> LogLine | None:
        if entity != self.target or self.variant != "pool":
            return None
        if self.topo.nodes[entity].runtime == "jvm":
            exc = jvm_exception(
                "software.amazon.awssdk.core.exception.SdkClientException",
                "Unable to execute HTTP request: Timeout waiting for connection from pool",
                [("org.apache.http.impl.conn.PoolingHttpClientConnectionManager.leaseConnection",
                  "PoolingHttpClientConnectionManager.java", 316),
                 (f"{jpkg(entity)}.store.Repository.save", "Repository.kt", 71)])
            msg = "DynamoDB request failed: no connection available"
        else:
            exc = py_exception("httpx.PoolTimeout", "timed out waiting for a connection (pool of "
                               f"{self.new} connections exhausted)", [
                                   (f"/app/{pkg(entity)}/clients/{pkg(self.dep or '')}.py", 33,
                                    "fetch", "resp = await self.http.get(path)"),
                                   ("/app/.venv/lib/python3.12/site-packages/httpcore/"
                                    "_async/connection_pool.py", 268, "handle_async_request",
                                    "raise PoolTimeout(msg)")])
            msg = f"call to {self.dep} failed: connection pool exhausted"
        return LogLine(t, entity, "ERROR", msg, instance, exception=exc)

    def extra_logs(self, start: float, end: float, rng: np.random.Generator) -> list[LogLine]:
        return [LogLine(self.start + 2.0, self.target, "INFO",
                        f"configuration reloaded: {self.key}={self.new}")]

    def describe(self) -> str:
        return f"config change on {self.target}: {self.key} {self.old} → {self.new}"


class PermissionRevoked(Fault):
    """Someone tightens a table's resource policy and removes the statement a service's role
    needed: that service's calls to the table are denied (AccessDeniedException)."""

    kind = "permission_revoked"

    @classmethod
    def candidates(cls, world: Any) -> list[str]:
        return world.topology.ids("table")

    def plan(self, rng: np.random.Generator) -> None:
        accessors = sorted({e.source for e in self.topo.dependents(self.target)})
        self.principal = pick(rng, accessors)
        rels = {e.relation for e in self.topo.dependents(self.target) if e.source == self.principal}
        if rels == {"reads", "writes"} and rng.random() < 0.5:
            self.relation = "writes"
        else:
            self.relation = "*" if len(rels) > 1 else next(iter(rels))
        reads = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem"]
        writes = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
        allowed = (reads if "reads" in rels else []) + (writes if "writes" in rels else [])
        self.denied = writes if self.relation == "writes" else (
            reads if self.relation == "reads" else allowed)
        self.role = str(self.topo.nodes[self.principal].attrs["role"])
        self.actor = person(self.world.seed, "table-policy-admin")
        self.lag_s = float(rng.uniform(8.0, 30.0))
        self.events.append(self._change(self.start - self.lag_s, allowed, "revoke", "cause"))
        if rng.random() < 0.5:  # it happened before, and was put back
            past = self.start - float(rng.uniform(2.0, 6.0)) * 86_400.0
            self.events.append(self._change(past, allowed, "revoke", "context"))
            self.events.append(self._change(past + float(rng.uniform(900, 3600)), allowed,
                                            "grant", "context", actor=person(self.world.seed,
                                                                             "fulfilment-oncall")))

    def _policy(self, actions: list[str]) -> dict[str, Any]:
        arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{self.target}"
        stmt = [{"Sid": f"{self.principal.replace('-', '').title()}Access", "Effect": "Allow",
                 "Principal": {"AWS": self.role}, "Action": actions, "Resource": arn}]
        if not actions:
            stmt = []
        return {"Version": "2012-10-17", "Statement": stmt}

    def _change(self, t: float, allowed: list[str], action: str, tag: str,
                actor: str | None = None) -> Event:
        remaining = [a for a in allowed if a not in self.denied]
        before, after = self._policy(allowed), self._policy(remaining)
        if action == "grant":
            before, after = after, before
        verb = "revoke" if action == "revoke" else "grant"
        return Event(t, "permission_change", self.target, actor or self.actor,
                     f"{self.target}: {verb} {', '.join(self.denied)} for "
                     f"{self.role.split('/')[-1]}",
                     {"principal": self.role, "action": action,
                      "permission": ", ".join(self.denied), "policy_before": before,
                      "policy_after": after, "ticket": f"SEC-{int(t) % 9000 + 1000}"}, tag)

    def apply(self, fx: Effects) -> None:
        fx.add_edge_error(self.principal, self.target, ramp(fx.t, self.start, self.lag_s),
                          self.relation)

    def error_line(self, entity: str, instance: str | None, t: float, rng: np.random.Generator,
                   dep: str | None = None) -> LogLine | None:
        if entity != self.principal or dep != self.target:
            return None
        action = pick(rng, self.denied)
        op = action.split(":")[1]
        snake = "".join("_" + c.lower() if c.isupper() else c for c in op).lstrip("_")
        func = "save" if self.relation == "writes" or op in ("PutItem", "UpdateItem",
                                                               "DeleteItem") else "load"
        group = self.topo.group_of(entity)
        if instance is None and group:
            instance = instance_for(self.fleet, group, t, rng)
        who = instance or f"botocore-session-{hex_id(8, 'session', entity, int(t) // 900)}"
        arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{self.target}"
        text = (f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{self.principal}-svc/{who} is not "
                f"authorized to perform: {action} on resource: {arn} because no resource-based "
                "policy allows the " + action + " action")
        if self.topo.nodes[entity].runtime == "python":
            exc = py_exception("botocore.exceptions.ClientError",
                               f"An error occurred (AccessDeniedException) when calling the {op} "
                               f"operation: {text}", [
                                   (f"/app/{pkg(entity)}/store.py", 64, func,
                                    f"self.table.{snake}(**request)  # {self.target}"),
                                   ("/app/.venv/lib/python3.12/site-packages/botocore/client.py",
                                    1023, "_make_api_call", "raise error_class(parsed_response, "
                                    "operation_name)")])
        else:
            exc = jvm_exception(
                "software.amazon.awssdk.services.dynamodb.model.DynamoDbException",
                f"{text} (Service: DynamoDb, Status Code: 400, Request ID: "
                f"{hex_id(26, 'req', t).upper()})",
                [(f"{jpkg(entity)}.store.Repository.{func}", "Repository.kt", 71),
                 ("software.amazon.awssdk.core.internal.http.CombinedResponseHandler.handleResponse",
                  "CombinedResponseHandler.java", 125)])
        exc["type"] = "AccessDeniedException"
        return LogLine(t, entity, "ERROR", f"DynamoDB {op} on {self.target} denied", instance,
                       exception=exc)

    def describe(self) -> str:
        return (f"{', '.join(self.denied)} on {self.target} revoked for "
                f"{self.role.split('/')[-1]} ({self.principal})")

    def involved(self) -> set[str]:
        return super().involved() | {self.principal}


class ManualHostSession(Fault):
    """Someone logs into one instance to free disk space and damages the service's local SQLite
    cache: only that instance fails, with a malformed-database error."""

    kind = "manual_host_session"

    @classmethod
    def candidates(cls, world: Any) -> list[str]:
        return world.instance_services()

    def plan(self, rng: np.random.Generator) -> None:
        group = self.topo.group_of(self.target)
        assert group is not None
        self.instance = pick(rng, [i.id for i in self.fleet.of(group)])
        cache_dir = f"/var/cache/{self.target}"
        self.share = float(rng.uniform(0.75, 0.95))
        variant = int(rng.integers(0, 3))
        damage = [
            f"truncate -s 64M {cache_dir}/local.db   # reclaim disk",
            f"rm -f {cache_dir}/local.db-wal {cache_dir}/local.db-shm",
            f"sqlite3 {cache_dir}/local.db 'PRAGMA writable_schema=1; "
            "UPDATE sqlite_master SET rootpage=2 WHERE name=\"items\"; PRAGMA writable_schema=0;'",
        ][variant]
        commands = ["sudo -i", "df -h /var", f"du -sh {cache_dir}/*", f"ls -la {cache_dir}",
                    damage, "df -h /var", "exit"]
        begun = self.start - float(rng.uniform(60.0, 240.0))
        a, b = int(rng.integers(0, 250)), int(rng.integers(1, 250))
        self.events.append(Event(begun, "host_session", self.target, person(self.world.seed,
                                                                             "sre-host"),
                                 f"interactive session on {self.instance}", {
            "instance": self.instance, "host": f"ip-10-0-{a}-{b}.{REGION}.compute.internal",
            "user": person(self.world.seed, "sre-host"), "commands": commands,
            "ended_at_offset_s": round(self.start - begun + 40.0, 1)}, "cause"))

    def apply(self, fx: Effects) -> None:
        assert self.instance is not None
        on = ramp(fx.t, self.start, 10.0)
        fx.add_instance_error(self.instance, self.share * on)
        fx.add_metric(self.instance, "cpu_utilisation", -0.04 * on)

    def error_line(self, entity: str, instance: str | None, t: float, rng: np.random.Generator,
                   dep: str | None = None) -> LogLine | None:
        if entity != self.target:
            return None
        if self.topo.nodes[entity].runtime == "python":
            exc = py_exception("sqlite3.DatabaseError", "database disk image is malformed", [
                (f"/app/{pkg(entity)}/handlers.py", 61, handler(entity),
                 "row = self.local.lookup(key)"),
                (f"/app/{pkg(entity)}/localcache.py", 38, "lookup",
                 'cur = self.db.execute("SELECT value FROM items WHERE key = ?", (key,))')])
        else:
            exc = jvm_exception("org.sqlite.SQLiteException",
                                "[SQLITE_CORRUPT] The database disk image is malformed "
                                "(database disk image is malformed)",
                                [("org.sqlite.core.DB.newSQLException", "DB.java", 1179),
                                 (f"{jpkg(entity)}.local.LocalCache.lookup", "LocalCache.kt", 44)])
        return LogLine(t, entity, "ERROR",
                       f"local cache read failed (/var/cache/{entity}/local.db)", self.instance,
                       exception=exc)

    def describe(self) -> str:
        return f"manual session on {self.instance} damaged {self.target}'s local SQLite cache"

