"""A later change of the same service, after which it broke, supersedes an earlier one it ran
normally on (found on a real running system: tests/e2e/test_real_deploy.py)."""

from __future__ import annotations

import networkx as nx

from shipwise.investigate.case import Alarm
from shipwise.investigate.detect import Deviation
from shipwise.investigate.evidence import Event, Evidence
from shipwise.investigate.hypotheses import generate
from shipwise.investigate.rank import MetricScore
from shipwise.investigate.triage import Context, EntityAnomaly

T0 = 100_000.0  # backend's error rate rises from here


def _ctx(*deploys: tuple[str, float]) -> Context:
    topo = nx.DiGraph([("frontend", "backend")])
    events = [Event(f"deployment:{i}", t, "deployment", "backend", "pipeline", f"backend {i}")
              for i, t in deploys]
    ctx = Context(Alarm("frontend", "error_rate", T0 + 60), Evidence(topology=topo, events=events),
                  T0, 1.0, T0 + 300, nx.DiGraph(topo), cut=8.0)
    for e, z in (("backend", 400.0), ("frontend", 300.0)):
        m = MetricScore(e, "error_rate", Deviation(z, T0, z), T0, "robust-σ")
        ctx.scores.append(m)
        ctx.entities[e] = EntityAnomaly(e, "service", z, T0, [m], anomalous=True)
    return ctx


def test_the_change_the_anomaly_followed_is_named_not_the_one_before_it() -> None:
    ctx = _ctx(("v1", T0 - 90), ("v2", T0 - 5))
    changes = [h for h in generate(ctx) if h.kind == "code_change"]
    assert changes[0].event is not None and changes[0].event.id == "deployment:v2"
    earlier = next(h for h in changes if h.event is not None and h.event.id == "deployment:v1")
    assert any("ran normally after it until" in o.text for o in earlier.against)


def test_a_change_after_the_onset_supersedes_nothing() -> None:
    # v2 came after backend already broke: v1 stays the suspect, v2 is no evidence against it
    ctx = _ctx(("v1", T0 - 30), ("v2", T0 + 120))
    v1 = next(h for h in generate(ctx) if h.event is not None and h.event.id == "deployment:v1")
    assert not any("ran normally" in o.text for o in v1.against)
