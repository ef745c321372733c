"""A server-side SVG picture of the topology around an alarm: the alarmed entity, the root cause,
the anomalous nodes and their neighbours, laid out in layers along the call direction."""

from __future__ import annotations

from html import escape
from typing import Any

import networkx as nx

NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 136, 34, 24, 30, 16


def neighbourhood(topology: dict[str, Any], alarm: str, radius: int = 1) -> nx.DiGraph:
    """The alarmed entity, the root cause, every anomalous node and their direct neighbours."""
    g = nx.DiGraph()
    for n in topology.get("nodes", []):
        g.add_node(n["id"], **n)
    for e in topology.get("edges", []):
        g.add_edge(e["source"], e["target"], relation=e.get("relation", ""))
    focus = {n for n, d in g.nodes(data=True) if d.get("anomalous") or d.get("root_cause")}
    if alarm in g:
        focus.add(alarm)
    keep = set(focus)
    und = g.to_undirected(as_view=True)
    for n in focus:
        keep |= set(nx.single_source_shortest_path_length(und, n, cutoff=radius))
    return g.subgraph(keep).copy()


def _layers(g: nx.DiGraph) -> list[list[str]]:
    if nx.is_directed_acyclic_graph(g):
        return [sorted(layer) for layer in nx.topological_generations(g)]
    depth: dict[str, int] = {}
    for comp in nx.weakly_connected_components(g):
        start = min(comp, key=lambda n: (g.in_degree(n), n))
        for n, d in nx.single_source_shortest_path_length(g.to_undirected(), start).items():
            depth[n] = d
    out: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for n, d in depth.items():
        out[d].append(n)
    return [sorted(layer) for layer in out]


def topology_svg(topology: dict[str, Any], alarm: str, root_cause: str | None) -> str:
    g = neighbourhood(topology, alarm)
    if g.number_of_nodes() == 0:
        return ""
    layers = _layers(g)
    widest = max(len(layer) for layer in layers)
    width = PAD * 2 + widest * NODE_W + (widest - 1) * GAP_X
    height = PAD * 2 + len(layers) * NODE_H + (len(layers) - 1) * GAP_Y + 18
    pos: dict[str, tuple[float, float]] = {}
    for row, layer in enumerate(layers):
        span = len(layer) * NODE_W + (len(layer) - 1) * GAP_X
        x0 = (width - span) / 2
        for i, n in enumerate(layer):
            pos[n] = (x0 + i * (NODE_W + GAP_X), PAD + row * (NODE_H + GAP_Y))
    anomalous = sorted(n for n, d in g.nodes(data=True) if d.get("anomalous"))
    label = (f"Topology around the alarm on {alarm}: {g.number_of_nodes()} components; "
             f"root cause {root_cause or 'not found'}; anomalous: {', '.join(anomalous) or 'none'}")
    out = [f'<svg class="topology" role="img" aria-labelledby="topo-title topo-desc" '
           f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
           f'xmlns="http://www.w3.org/2000/svg">',
           f'<title id="topo-title">Topology around the alarm</title>'
           f'<desc id="topo-desc">{escape(label)}</desc>',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
           'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
           'class="topo-arrow"/></marker></defs>']
    for a, b, d in g.edges(data=True):
        (xa, ya), (xb, yb) = pos[a], pos[b]
        x1, y1 = xa + NODE_W / 2, ya + (NODE_H if yb > ya else 0 if yb < ya else NODE_H / 2)
        x2, y2 = xb + NODE_W / 2, yb + (0 if yb > ya else NODE_H if yb < ya else NODE_H / 2)
        out.append(f'<line class="topo-edge" x1="{x1:.0f}" y1="{y1:.0f}" x2="{x2:.0f}" '
                   f'y2="{y2:.0f}" marker-end="url(#arrow)"><title>{escape(a)} '
                   f'{escape(d.get("relation", "→"))} {escape(b)}</title></line>')
    for n, d in g.nodes(data=True):
        x, y = pos[n]
        cls = ["topo-node"]
        state = []
        if d.get("anomalous"):
            cls.append("anomalous")
            state.append("anomalous")
        if n == root_cause or d.get("root_cause"):
            cls.append("root-cause")
            state.append("root cause")
        if n == alarm:
            cls.append("alarm")
            state.append("alarm")
        text = n if len(n) <= 20 else n[:19] + "…"
        tip = f"{n} ({d.get('kind', '')})" + (f": {', '.join(state)}" if state else "")
        out.append(f'<g class="{" ".join(cls)}" data-node="{escape(n)}"><title>{escape(tip)}'
                   f'</title><rect x="{x:.0f}" y="{y:.0f}" width="{NODE_W}" height="{NODE_H}" '
                   f'rx="6"/><text x="{x + NODE_W / 2:.0f}" y="{y + NODE_H / 2 + 4:.0f}" '
                   f'text-anchor="middle">{"⚠ " if n == root_cause else ""}{escape(text)}</text></g>')
    legend_y = height - 6
    out.append(f'<text class="topo-legend" x="{PAD}" y="{legend_y}">red: root cause · orange: '
               f'anomalous · thick border: alarmed entity · arrows: calls / depends on</text>')
    out.append("</svg>")
    return "".join(out)
