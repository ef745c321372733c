"""The demo world's production system: a web shop behind a gateway.

```
gateway ─calls→ auth, catalog, search, cart, checkout, recommendations
catalog ─calls→ inventory;  ─reads/writes→ catalog-cache;  ─reads→ catalog-db.products
search ─calls→ catalog               search ─reads/writes→ catalog-cache
cart ─calls→ inventory               cart ─reads/writes→ cart-cache
checkout ─calls→ auth, cart, inventory, payments; ─reads/writes→ cart-cache;
         ─writes→ orders-db.orders; ─publishes→ orders-queue
payments ─calls→ payment-provider (external); ─writes→ payments-db.transactions
inventory ─reads/writes→ orders-db.inventory      auth ─reads→ users-db.accounts
recommendations ─calls→ catalog; ─reads→ orders-db.orders
orders-worker ─consumes→ orders-queue; ─writes→ orders-db.orders; ─calls→ notifications
notifications ─reads→ users-db.accounts
```

Edges point from the dependent to its dependency (``docs/case-format.md``). ``catalog``, ``cart``,
``payments`` and ``orders-worker`` run on instance groups of three EC2-style instances
(``runs_on`` the group, instances ``member_of`` it); the others run on Kubernetes. Each edge also
carries what the metric model needs and a topology file does not show: the share of the
dependent's requests that make the call (``weight``), the share of the dependency's failures that
fail the dependent's request (``pass_through``: a missing recommendation block is not an error
page) and the client timeout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from shipwise.demo.world.noise import hex_id

#: Relations along which requests (and therefore failures and latency) flow.
REQUEST_RELATIONS = ("calls", "reads", "writes", "publishes")
ACCOUNT = "123456789012"
REGION = "eu-west-1"


@dataclass(frozen=True)
class Node:
    id: str
    kind: str
    team: str | None = None
    platform: dict[str, Any] | None = None
    #: Kept in topology.json and used by the generators (runtime, engine, vendor, role…).
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def runtime(self) -> str:
        return str(self.attrs.get("runtime", "python"))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "kind": self.kind}
        if self.platform is not None:
            out["platform"] = dict(self.platform)
        if self.team is not None:
            out["team"] = self.team
        out.update(self.attrs)
        return out


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    relation: str
    weight: float = 1.0
    pass_through: float = 0.85
    timeout_ms: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "relation": self.relation}


@dataclass
class Topology:
    nodes: dict[str, Node]
    edges: list[Edge]
    _order: list[str] | None = field(default=None, repr=False)
    _deps: dict[str, list[Edge]] | None = field(default=None, repr=False)
    _dependents: dict[str, list[Edge]] | None = field(default=None, repr=False)
    _groups: dict[str, str] | None = field(default=None, repr=False)

    def kind(self, entity: str) -> str:
        return self.nodes[entity].kind

    def ids(self, *kinds: str) -> list[str]:
        return [n.id for n in self.nodes.values() if n.kind in kinds]

    def services(self) -> list[str]:
        return self.ids("service")

    def deps(self, entity: str) -> list[Edge]:
        """Request edges out of ``entity`` (what it calls, reads, writes or publishes to)."""
        if self._deps is None:
            self._deps, self._dependents = {}, {}
            for e in self.edges:
                if e.relation in REQUEST_RELATIONS:
                    self._deps.setdefault(e.source, []).append(e)
                    self._dependents.setdefault(e.target, []).append(e)
        return self._deps.get(entity, [])

    def dependents(self, entity: str) -> list[Edge]:
        """Request edges into ``entity``."""
        self.deps(entity)
        assert self._dependents is not None
        return self._dependents.get(entity, [])

    def edge(self, source: str, target: str, relation: str | None = None) -> Edge | None:
        for e in self.edges:
            if e.source == source and e.target == target and relation in (None, e.relation):
                return e
        return None

    def group_of(self, service: str) -> str | None:
        if self._groups is None:
            self._groups = {e.source: e.target for e in self.edges if e.relation == "runs_on"}
        return self._groups.get(service)

    def service_of(self, group: str) -> str:
        for e in self.edges:
            if e.target == group and e.relation == "runs_on":
                return e.source
        raise KeyError(group)

    def members(self, group: str) -> list[str]:
        return [e.source for e in self.edges if e.target == group and e.relation == "member_of"]

    def consumer_of(self, queue: str) -> str | None:
        for e in self.edges:
            if e.target == queue and e.relation == "consumes":
                return e.source
        return None

    def producers_of(self, queue: str) -> list[Edge]:
        return [e for e in self.edges if e.target == queue and e.relation == "publishes"]

    def request_order(self) -> list[str]:
        """Entities so that every dependent comes before its dependencies (callers first)."""

        if self._order is None:
            g = nx.DiGraph()
            g.add_nodes_from(self.nodes)
            for e in self.edges:
                if e.relation in REQUEST_RELATIONS:
                    g.add_edge(e.source, e.target)
                elif e.relation == "consumes":  # work flows from the queue to its consumer
                    g.add_edge(e.target, e.source)
            self._order = [str(n) for n in nx.lexicographical_topological_sort(g)]
        return self._order

    def to_json(self) -> dict[str, Any]:
        return {"nodes": [n.to_json() for n in self.nodes.values()],
                "edges": [e.to_json() for e in self.edges]}


#: service -> (team, runtime, platform type)
SERVICES: dict[str, tuple[str, str, str]] = {
    "auth": ("identity", "jvm", "kubernetes"),
    "catalog": ("discovery", "python", "instance_group"),
    "search": ("discovery", "python", "kubernetes"),
    "cart": ("basket", "jvm", "instance_group"),
    "checkout": ("checkout", "jvm", "kubernetes"),
    "payments": ("payments", "jvm", "instance_group"),
    "inventory": ("fulfilment", "python", "kubernetes"),
    "recommendations": ("discovery", "python", "kubernetes"),
    "orders-worker": ("fulfilment", "python", "instance_group"),
    "notifications": ("messaging", "python", "kubernetes"),
}
CACHES = {"cart-cache": "basket", "catalog-cache": "discovery"}
TABLES = {"orders-db.orders": "fulfilment", "orders-db.inventory": "fulfilment",
          "users-db.accounts": "identity", "catalog-db.products": "discovery",
          "payments-db.transactions": "payments"}
QUEUES = {"orders-queue": "fulfilment"}

#: (source, target, relation, weight, pass_through, timeout_ms)
_EDGES: list[tuple[str, str, str, float, float, float | None]] = [
    ("gateway", "auth", "calls", 0.30, 0.9, 2000),
    ("gateway", "catalog", "calls", 0.34, 0.9, 2000),
    ("gateway", "search", "calls", 0.14, 0.9, 2000),
    ("gateway", "cart", "calls", 0.14, 0.9, 2000),
    ("gateway", "checkout", "calls", 0.05, 0.95, 5000),
    ("gateway", "recommendations", "calls", 0.20, 0.12, 800),
    ("catalog", "inventory", "calls", 0.45, 0.3, 1000),
    ("catalog", "catalog-cache", "reads", 0.95, 0.8, 250),
    ("catalog", "catalog-cache", "writes", 0.10, 0.2, 250),
    ("catalog", "catalog-db.products", "reads", 0.12, 0.9, 1000),
    ("search", "catalog", "calls", 0.60, 0.8, 1500),
    ("search", "catalog-cache", "reads", 0.50, 0.5, 250),
    ("search", "catalog-cache", "writes", 0.15, 0.2, 250),
    ("cart", "inventory", "calls", 0.40, 0.7, 1000),
    ("cart", "cart-cache", "reads", 0.95, 0.9, 250),
    ("cart", "cart-cache", "writes", 0.35, 0.9, 250),
    ("checkout", "auth", "calls", 1.0, 0.95, 1500),
    ("checkout", "cart", "calls", 1.0, 0.95, 1500),
    ("checkout", "inventory", "calls", 1.0, 0.95, 1500),
    ("checkout", "payments", "calls", 0.92, 0.95, 3000),
    ("checkout", "cart-cache", "reads", 0.80, 0.9, 250),
    ("checkout", "cart-cache", "writes", 0.30, 0.5, 250),
    ("checkout", "orders-db.orders", "writes", 0.92, 0.95, 1000),
    ("checkout", "orders-queue", "publishes", 0.92, 0.9, 1000),
    ("payments", "payment-provider", "calls", 1.0, 0.95, 3000),
    ("payments", "payments-db.transactions", "writes", 1.0, 0.95, 1000),
    ("inventory", "orders-db.inventory", "reads", 0.95, 0.95, 1000),
    ("inventory", "orders-db.inventory", "writes", 0.25, 0.95, 1000),
    ("auth", "users-db.accounts", "reads", 0.60, 0.95, 1000),
    ("recommendations", "catalog", "calls", 0.70, 0.6, 1000),
    ("recommendations", "orders-db.orders", "reads", 0.50, 0.6, 1000),
    ("orders-worker", "orders-db.orders", "writes", 1.0, 0.95, 1000),
    ("orders-worker", "notifications", "calls", 1.0, 0.2, 2000),
    ("notifications", "users-db.accounts", "reads", 1.0, 0.9, 1000),
]


def instance_id(seed: int, group: str, n: int) -> str:
    """An EC2-style instance id (``i-`` and 17 hex digits), stable for (seed, group, n)."""
    return "i-0" + hex_id(16, "instance", seed, group, n)


def build_topology(seed: int) -> Topology:
    """The shop for a seed: the same shape for every seed, seeded instance ids."""
    nodes: dict[str, Node] = {
        "gateway": Node("gateway", "gateway", "edge",
                        {"type": "kubernetes", "namespace": "edge", "deployment": "gateway"},
                        {"runtime": "go"}),
    }
    edges: list[Edge] = []
    for svc, (team, runtime, platform) in SERVICES.items():
        role = f"arn:aws:iam::{ACCOUNT}:role/{svc}-svc"
        if platform == "kubernetes":
            plat: dict[str, Any] = {"type": "kubernetes", "namespace": "shop", "deployment": svc}
        else:
            plat = {"type": "instance_group", "name": f"{svc}-asg"}
        nodes[svc] = Node(svc, "service", team, plat, {"runtime": runtime, "role": role,
                                                       "pipeline": f"{svc}-deploy"})
    for cache, team in CACHES.items():
        nodes[cache] = Node(cache, "cache", team,
                            {"type": "managed", "service": "elasticache", "engine": "redis"})
    for table, team in TABLES.items():
        nodes[table] = Node(table, "table", team, {
            "type": "managed", "service": "dynamodb",
            "arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}"})
    for queue, team in QUEUES.items():
        nodes[queue] = Node(queue, "queue", team, {"type": "managed", "service": "sqs"})
    nodes["payment-provider"] = Node("payment-provider", "external", "payments", None,
                                     {"vendor": "acme-payments",
                                      "endpoint": "api.acme-pay.example"})
    for s, t, rel, w, p, tmo in _EDGES:
        edges.append(Edge(s, t, rel, w, p, tmo))
    edges.append(Edge("orders-worker", "orders-queue", "consumes", 1.0, 0.0, None))
    for svc, (team, _, platform) in SERVICES.items():
        if platform != "instance_group":
            continue
        group = f"{svc}-asg"
        nodes[group] = Node(group, "instance_group", team, {
            "type": "instance_group", "name": group, "min_in_service": 2, "desired": 3,
            "max_size": 6})
        edges.append(Edge(svc, group, "runs_on"))
        for i in range(3):
            inst = instance_id(seed, group, i)
            nodes[inst] = Node(inst, "instance", team, None, {"group": group})
            edges.append(Edge(inst, group, "member_of"))
    return Topology(nodes, edges)
