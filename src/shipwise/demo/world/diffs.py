"""Unified diffs for the world's deployments: the harmful ones and the everyday harmless ones.

Each function returns ``(files, diff, title)`` for a service, in the language of its runtime
(Python services under ``<package>/``, JVM services in Kotlin under ``src/main/kotlin``).
"""

from __future__ import annotations

import numpy as np

Patch = tuple[list[str], str, str]


def _pkg(service: str) -> str:
    return service.replace("-", "_")


def _kt(service: str) -> str:
    return f"src/main/kotlin/com/shop/{_pkg(service).replace('_', '')}"


def hunk(path: str, start: int, before: list[str], removed: list[str], added: list[str],
         after: list[str], where: str = "") -> str:
    """One unified-diff hunk with correct line counts."""
    old_n = len(before) + len(removed) + len(after)
    new_n = len(before) + len(added) + len(after)
    lines = [f"--- a/{path}", f"+++ b/{path}",
             f"@@ -{start},{old_n} +{start},{new_n} @@{' ' + where if where else ''}"]
    lines += [" " + x for x in before] + ["-" + x for x in removed] + ["+" + x for x in added]
    lines += [" " + x for x in after]
    return "\n".join(lines) + "\n"


def serialization_change(service: str, runtime: str, rng: np.random.Generator) -> Patch:
    """A cache record gains (or renames) a field the strict decoder does not know."""
    rename = bool(rng.random() < 0.4)
    if runtime == "python":
        path = f"{_pkg(service)}/cache/serialize.py"
        before = ["def encode(item: CatalogItem) -> bytes:", "    payload = {",
                  '        "sku": item.sku,', '        "title": item.title,']
        if rename:
            removed = ['        "price_minor": item.price_minor,']
            added = ['        "priceMinor": item.price_minor,  # align with the mobile API']
            title = "cache: camelCase price field to match the mobile API"
        else:
            removed = []
            added = ['        "cached_at": int(time.time()),  # measure cache age']
            title = "cache: record when an entry was cached"
        after = ['        "currency": item.currency,', "    }", "    return msgpack.packb(payload)"]
        return [path], hunk(path, 18, before, removed, added, after, "def encode"), title
    path = f"{_kt(service)}/cache/SnapshotCodec.kt"
    before = ["    fun encode(snapshot: Snapshot): ByteArray {",
              "        val node = mapper.createObjectNode()",
              '        node.put("id", snapshot.id)']
    if rename:
        removed = ['        node.set<JsonNode>("items", mapper.valueToTree(snapshot.items))']
        added = ['        node.set<JsonNode>("lines", mapper.valueToTree(snapshot.items))']
        title = "cache: rename items to lines in cached snapshots"
    else:
        removed = []
        added = ['        node.put("addedAt", Instant.now().toEpochMilli()) // cache age metric']
        title = "cache: add timestamp to cached snapshots"
    after = ['        node.put("currency", snapshot.currency)',
             "        return mapper.writeValueAsBytes(node)",
             "    }"]
    return [path], hunk(path, 31, before, removed, added, after, "class SnapshotCodec"), title


def serialization_field(diff: str) -> str:
    """The field name the serialisation change introduced (for the decoder's error message)."""
    for name in ("priceMinor", "cached_at", "lines", "addedAt"):
        if f'"{name}"' in diff:
            return name
    return "unknown"


def leak_change(service: str, runtime: str, rng: np.random.Generator) -> Patch:
    """A memo without eviction, keyed by something unbounded."""
    if runtime == "python":
        path = f"{_pkg(service)}/pricing.py"
        before = ["", "def price_for(sku: str, customer_id: str) -> Price:"]
        removed = ["    return _compute_price(sku, customer_id)"]
        added = ["    key = (sku, customer_id)", "    if key not in _PRICE_MEMO:",
                 "        _PRICE_MEMO[key] = _compute_price(sku, customer_id)",
                 "    return _PRICE_MEMO[key]"]
        head = hunk(path, 9, ["from .models import Price"], [],
                    ["", "_PRICE_MEMO: dict[tuple[str, str], Price] = {}"], [""])
        body = hunk(path, 40, before, removed, added, [""], "def price_for")
        body = body.split("\n", 2)[2]
        return [path], head + body, "pricing: memoise per-customer prices"
    path = f"{_kt(service)}/session/SessionRegistry.kt"
    before = ["    fun open(request: Request): Session {",
              "        val session = Session(request.id, request.customerId)"]
    added = ["        listeners.add(SessionListener(session)) // audit trail"]
    after = ["        return session", "    }"]
    title = "session: register an audit listener per session"
    return [path], hunk(path, 22, before, [], added, after, "class SessionRegistry"), title


def healthcheck_change(service: str, runtime: str, rng: np.random.Generator) -> Patch:
    """The health check starts checking a dependency synchronously, with a slow timeout."""
    if runtime == "python":
        path = f"{_pkg(service)}/health.py"
        before = ['@app.get("/ping")', "def ping() -> dict[str, str]:"]
        removed = ['    return {"status": "ok"}']
        added = ["    # deep check: fail fast if the table is unreachable",
                 "    db.describe_table(timeout=3.0)", '    return {"status": "ok"}']
        title = "health: deep check"
        return [path], hunk(path, 12, before, removed, added, [""], "def ping"), title
    path = f"{_kt(service)}/web/HealthController.kt"
    before = ['    @GetMapping("/ping")', "    fun ping(): ResponseEntity<String> {"]
    added = ["        dependencies.forEach { it.check(Duration.ofSeconds(3)) } // deep check"]
    after = ['        return ResponseEntity.ok("pong")', "    }"]
    return [path], hunk(path, 17, before, [], added, after, "class HealthController"), \
        "health: check dependencies in /ping"


def benign_change(service: str, runtime: str, rng: np.random.Generator) -> Patch:
    """An everyday harmless change (wording, a dependency bump, a dashboard label)."""
    choice = int(rng.integers(0, 4))
    if choice == 0:
        path = "requirements.txt" if runtime == "python" else "build.gradle.kts"
        if runtime == "python":
            d = hunk(path, 3, ["click==8.1.7"], ["requests==2.31.0"], ["requests==2.32.3"],
                     ["urllib3==2.2.2"])
        else:
            d = hunk(path, 21, ['    implementation("io.micrometer:micrometer-core:1.13.0")'],
                     ['    implementation("org.slf4j:slf4j-api:2.0.12")'],
                     ['    implementation("org.slf4j:slf4j-api:2.0.13")'], ["}"])
        return [path], d, "deps: patch-level bump"
    if choice == 1:
        path = "README.md"
        d = hunk(path, 14, ["## Running locally"], ["Run `make dev` and open http://localhost:8080."],
                 ["Run `make dev`, then open http://localhost:8080 (see docs/dev.md for seeds)."],
                 [""])
        return [path], d, "docs: local setup"
    if choice == 2:
        path = (f"{_pkg(service)}/handlers.py" if runtime == "python"
                else f"{_kt(service)}/web/Handlers.kt")
        old = '    log.info("request served", extra={"route": route})'
        new = '    log.info("request served", extra={"route": route, "status": status})'
        if runtime != "python":
            old = '        log.info("request served route={}", route)'
            new = '        log.info("request served route={} status={}", route, status)'
        return [path], hunk(path, 57, [""], [old], [new], [""]), "logging: include status"
    path = "deploy/dashboards.yaml"
    d = hunk(path, 8, ["  - title: Latency"],
             ["    expr: histogram_quantile(0.95, rate(http_ms[5m]))"],
             ["    expr: histogram_quantile(0.95, sum by (le, route) (rate(http_ms[5m])))"], [""])
    return [path], d, "dashboards: latency per route"
