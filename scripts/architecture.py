"""Architecture figures for the application layer: import cycles, function-level imports,
untyped ``dict[str, Any]`` returns and metric-id literals outside the metric registry.

    python scripts/architecture.py [--json] [--src DIR]

Reads ``src/shipwise`` with :mod:`ast` (nothing is imported), so it runs on any commit."""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from collections import Counter
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1] / "src"
PKG = "shipwise"
ID = re.compile(r"^(dora|flow|strain|cost|slo)\.[a-z_]+$")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def resolve(mod: str, node: ast.ImportFrom | ast.Import, is_pkg: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    if node.level:
        parts = mod.split(".")
        parts = parts if is_pkg else parts[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join(parts + ([base] if base else []))
    names = [f"{base}.{a.name}" for a in node.names]
    return [*names, base]  # `from pkg import module` imports the module (pkg's __init__ runs)


def registered_ids() -> set[str]:
    """The metric ids of the registry: the id-shaped strings of metrics/registry.py (and of
    metrics/ids.py, where the registry names them) — flag names like ``dora.low_cluster`` are not
    metric ids."""
    found: set[str] = set()
    for name in ("registry.py", "ids.py"):
        path = ROOT / PKG / "metrics" / name
        if path.exists():
            found |= {n.value for n in ast.walk(ast.parse(path.read_text()))
                      if isinstance(n, ast.Constant) and isinstance(n.value, str)
                      and ID.match(n.value)}
    return found


def scan() -> dict[str, object]:
    modules = {module_name(p): p for p in ROOT.joinpath(PKG).rglob("*.py")}
    metric_ids = registered_ids()
    graph: nx.DiGraph = nx.DiGraph()
    local: Counter[str] = Counter()
    dict_returns: Counter[str] = Counter()
    literals: Counter[str] = Counter()
    for mod, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        graph.add_node(mod)
        top_level = {id(n) for n in tree.body}
        for stmt in tree.body:  # imports under `if TYPE_CHECKING:` are not imports at run time
            if isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test):
                top_level |= {id(n) for n in ast.walk(stmt)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                if id(node) not in top_level:  # any import inside a function or class
                    local[mod.split(".")[1] if "." in mod else mod] += 1
                targets = [t for t in resolve(mod, node, path.name == "__init__.py")
                           if t in modules and t != mod]
                for t in targets:
                    if not mod.startswith(t + "."):  # a package's own __init__ runs first anyway
                        graph.add_edge(mod, t)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                ret = ast.unparse(node.returns) if node.returns else ""
                if not node.name.startswith("_") and re.search(r"dict\[str, Any\]", ret):
                    dict_returns[mod.split(".")[1]] += 1
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and node.value in metric_ids:
                package = mod.split(".")[1] if "." in mod else mod
                if package not in ("metrics", "governance", "demo"):
                    literals[mod] += 1
    cycles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    packages: nx.DiGraph = nx.DiGraph()
    for a, b in graph.edges:
        pa, pb = a.split(".")[:2], b.split(".")[:2]
        if pa != pb and len(pa) == 2 and len(pb) == 2:
            packages.add_edge(pa[1], pb[1])
    package_cycles = [sorted(c) for c in nx.strongly_connected_components(packages) if len(c) > 1]
    return {
        "modules": len(modules),
        "module_cycles": cycles,
        "modules_in_cycles": sum(len(c) for c in cycles),
        "package_cycles": package_cycles,
        "function_level_imports": sum(local.values()),
        "function_level_imports_by_package": dict(local.most_common()),
        "public_dict_any_returns": sum(dict_returns.values()),
        "public_dict_any_returns_by_package": dict(dict_returns.most_common()),
        "metric_id_literals_outside_metrics": sum(literals.values()),
        "metric_id_literals_by_module": dict(literals.most_common()),
    }


def main() -> int:
    global ROOT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--src", type=Path, default=ROOT,
                        help="the src/ directory to read (e.g. of another commit's checkout)")
    args = parser.parse_args()
    ROOT = args.src.resolve()
    figures = scan()
    if args.json:
        json.dump(figures, sys.stdout, indent=2)
        print()
        return 0
    for key, value in figures.items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
