"""Runbooks (steering files) the shop's teams wrote, with the front matter of the case format.

A case gets three or four: a generic gateway triage, usually the one that fits the fault (not
always: teams do not have a runbook for everything), and others that fit other situations.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from shipwise.demo.world.plan import Scenario


@dataclass(frozen=True)
class Runbook:
    slug: str
    title: str
    services: tuple[str, ...]
    alarms: tuple[str, ...]
    faults: tuple[str, ...]
    body: str

    def render(self) -> str:
        def seq(xs: tuple[str, ...]) -> str:
            return "[" + ", ".join(f'"{x}"' if x == "*" else x for x in xs) + "]"

        head = ["---", f"title: {json.dumps(self.title)}", f"services: {seq(self.services)}"]
        if self.alarms:
            head.append(f"alarms: {seq(self.alarms)}")
        if self.faults:
            head.append(f"faults: {seq(self.faults)}")
        return "\n".join([*head, "---", self.body.strip(), ""])


RUNBOOKS = [
    Runbook("gateway-5xx-triage", "Gateway 5xx or latency: first five minutes", ("gateway",),
            ("GatewayErrorRate", "GatewayLatencyP95"), (), """
1. Find which route and which upstream fail: gateway logs `upstream <service> returned 5xx` and
   the per-service `error_rate` panels on the *Shop overview* dashboard.
2. Follow the failing upstream down its dependencies (topology) until you reach the deepest
   entity that is unhealthy on its own; the services above it only pass its errors on.
3. Check `events.jsonl` / the change calendar for deployments, config or permission changes on
   that entity in the 30 minutes before the alarm. A change elsewhere is not evidence.
4. Post a status in #inc-shop with the impact (share of failed requests, customers affected).
"""),
    Runbook("cache-deserialisation", "Cache deserialisation errors after a deploy",
            ("catalog", "search", "cart", "checkout"), ("GatewayErrorRate", "CheckoutErrorRate"),
            ("bad_deploy",), """
1. Look for `SerializationException` / `UnrecognizedPropertyException` in the service's logs and
   note the field name in the message.
2. Compare with the last deployment's diff: a renamed or added field in the cache codec is the
   usual cause. Cache misses keep working, so the error rate is about the cache hit rate.
3. Mitigate: roll back to the pipeline's last good run. Do not flush the cache first: old entries
   are the ones the previous version can read.
"""),
    Runbook("dynamodb-access-denied", "DynamoDB AccessDeniedException",
            ("inventory", "checkout", "auth", "notifications", "recommendations", "catalog",
             "payments", "orders-worker"), (), ("permission_revoked",), """
1. The log line names the action and the table (`not authorized to perform: dynamodb:PutItem on
   resource: …table/<name>`).
2. Check the table's resource policy history (permission changes in `events.jsonl`) and the
   service role's IAM policy; compare `policy_before` and `policy_after`.
3. Mitigate: restore the previous statement for the service role; open a ticket with security
   if the change was intentional.
"""),
    Runbook("instance-churn", "Instance group churning on health checks",
            ("catalog", "cart", "payments", "orders-worker"), (), ("instance_churn",), """
1. `launches_per_min` and `terminations_per_min` both above zero for more than five minutes
   means churn, not scaling. The termination reason is in the group's activity history.
2. A recent change to the health check (its handler or its timeout) is the usual cause; new
   instances fail it too, so replacing them does not help.
3. Mitigate: revert the health-check change; suspend the `ReplaceUnhealthy` process meanwhile.
"""),
    Runbook("orders-queue-backlog", "Orders queue backlog", ("orders-worker", "checkout"),
            ("OrdersQueueOldestMessage", "OrdersWorkerErrorRate"), ("queue_backlog",), """
1. Compare publish rate and consumer throughput. A consumer that processes a fraction of its
   usual rate while logging the same message id again and again is stuck on a poison message.
2. Move the message aside (there is no dead-letter queue on orders-queue yet), then watch
   `oldest_age_s` fall.
"""),
    Runbook("dependency-timeouts", "Latency regression: dependency timeouts",
            ("checkout", "payments", "inventory", "auth", "catalog", "cart"),
            ("GatewayLatencyP95", "CheckoutLatencyP95", "CheckoutErrorRate"),
            ("slow_dependency", "config_change"), """
1. Timeouts name the dependency (`call to X timed out after N ms`). Check X's own latency: if it
   is normal, the timeout on the caller is wrong (look for a config change); if it is high, X is
   the problem.
2. For DynamoDB tables, `throttled_per_s` above zero means a hot partition or capacity limit.
"""),
    Runbook("memory-pressure", "Memory pressure and OOM kills",
            ("checkout", "cart", "payments", "auth", "catalog", "search", "recommendations"), (),
            ("memory_leak",), """
1. A saw-tooth in `memory_mb` (climbs for hours, drops at a restart) is a leak; the deploy that
   started the climb can be hours old.
2. Restarting buys time; the fix is a rollback of that deploy or a bounded cache.
"""),
    Runbook("host-local-cache", "One instance failing: damaged local cache",
            ("catalog", "cart", "payments", "orders-worker"), (), ("manual_host_session",), """
1. Errors on one instance only (`instance` field in the logs) point at the host, not the code.
2. Check host sessions on that instance; a malformed SQLite cache (`database disk image is
   malformed`) is fixed by terminating the instance and letting the group replace it.
"""),
    Runbook("traffic-surge", "Traffic surge playbook", ("gateway", "*"),
            ("GatewayLatencyP95", "GatewayErrorRate"), ("traffic_surge",), """
1. Compare `requests_per_s` at the gateway with the same hour last week; ask marketing about
   campaigns.
2. Find the first service to saturate (CPU near 1, latency up, shed requests) and scale it out;
   enable the gateway's per-route rate limit for non-critical routes.
"""),
]


def choose_runbooks(scn: Scenario, alarm_name: str, rng: np.random.Generator) -> list[Runbook]:
    """Three or four runbooks: the generic triage, usually the fitting one, and decoys."""
    kind = scn.fault.kind if scn.fault else ""
    out = [RUNBOOKS[0]]
    fitting = [r for r in RUNBOOKS[1:] if kind in r.faults]
    others = [r for r in RUNBOOKS[1:] if kind not in r.faults]
    if fitting and rng.random() < 0.75:
        out.append(fitting[int(rng.integers(0, len(fitting)))])
    k = int(rng.integers(2, 4)) if len(out) == 1 else int(rng.integers(1, 3))
    for i in rng.choice(len(others), size=min(k, len(others)), replace=False):
        out.append(others[int(i)])
    return out
