"""The investigation procedure (SPEC C5), deterministic and without any LLM:

1. scope the impact window around the alarm (``lookback`` before, ``after`` after);
2. gather evidence from every configured source, checked first and queried in parallel;
3. build the topology around the alarm (configured, plus calls seen in traces);
4. triage: which entities are anomalous and since when (BOCPD onset + robust scores);
5. form hypotheses of every kind and weigh the evidence for and against each;
6. rank them; name as the root cause the best one that is connected to the alarm's entity and
   shows an effect of its own (:func:`naming_problem`), else end inconclusive;
7. list the gaps: what it could not see and how to connect it (:func:`investigation_gaps`);
8. report the root cause with its evidence, what was ruled out and why, the customer impact, a
   five-part mitigation plan (validated by ``shipwise verify``), a long-term fix spec and the
   runbooks that applied; keep the anomalous series with their baselines.

The result is a plain JSON-able record (:func:`investigate`), stored by the services layer.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import numpy as np

from shipwise.investigate.calibration import calibrated, raw_confidence
from shipwise.investigate.case import Alarm
from shipwise.investigate.detect import metric_direction, robust_deviation, robust_location_scale
from shipwise.investigate.evidence import Evidence, Runbook, Scope
from shipwise.investigate.fixspec import fix_spec
from shipwise.investigate.hypotheses import Hypothesis, Observation, generate
from shipwise.investigate.impact import customer_impact, impact_summary
from shipwise.investigate.mitigation import mitigation_plan, platform_summary
from shipwise.investigate.rank import clock, iso
from shipwise.investigate.sources.base import EvidenceSource, gather
from shipwise.investigate.steps import work_steps
from shipwise.investigate.triage import Context, describe_anomaly, triage

RECORD_VERSION = 1
#: how far back changes are read (the hypotheses decide which of them are suspects)
CHANGE_HISTORY_SECONDS = 24 * 3600
#: CPU this high in its first 10 minutes is start-up load on a fresh instance
FRESH_CPU = 0.7


def investigation_id(alarm: Alarm) -> str:
    h = hashlib.sha256(f"{alarm.entity}|{alarm.metric}|{alarm.time:.3f}".encode()).hexdigest()[:8]
    return "inv-" + time.strftime("%Y%m%dT%H%M%S", time.gmtime(alarm.time)) + "-" + h


def alarm_scope(alarm: Alarm, lookback_seconds: float, after_seconds: float) -> Scope:
    """The window an investigation of ``alarm`` reads (what a worker process is handed)."""
    return Scope(alarm, alarm.time - lookback_seconds, alarm.time + after_seconds,
                 changes_start=alarm.time - CHANGE_HISTORY_SECONDS)


def investigate(alarm: Alarm, sources: list[EvidenceSource], *, lookback_seconds: float = 7200,
                after_seconds: float = 120, validate: str = "",
                in_store: bool | None = None) -> dict[str, Any]:
    t0 = time.perf_counter()
    scope = alarm_scope(alarm, lookback_seconds, after_seconds)
    evidence = gather(sources, scope)
    return analyse(alarm, evidence, scope, validate=validate, started=t0, in_store=in_store)


def analyse(alarm: Alarm, evidence: Evidence, scope: Scope, *, validate: str = "",
            started: float | None = None, in_store: bool | None = None,
            inv_id: str | None = None) -> dict[str, Any]:
    """Steps 3–8 on evidence already gathered (e.g. a labelled case held in memory).

    ``in_store``: whether the alarm's entity is a service of the store (None: not known). An
    entity neither in the store nor in the topology is unknown: the investigation ends
    inconclusive, whatever else it saw. ``inv_id``: the record's id (default: made from the
    alarm, :func:`investigation_id`; a re-scoped investigation of the same alarm gets its own)."""
    t0 = time.perf_counter() if started is None else started
    t_gather = time.perf_counter() - t0
    ctx = triage(alarm, evidence, scope.end)
    hyps = generate(ctx)
    unknown = in_store is False and alarm.entity not in ctx.deps
    root, withheld = choose_root(ctx, hyps, unknown=unknown)
    impact = customer_impact(ctx)
    impact_line = impact_summary(impact)
    key_obs = [o for o in (root.support if root else []) if o.weight > 0]
    runbooks = _matching_runbooks(evidence.runbooks, ctx, root)
    inv_id = inv_id or investigation_id(alarm)
    validate = validate or f"shipwise verify {inv_id}"
    found = root is not None and root.score > 0
    record: dict[str, Any] = {
        "version": RECORD_VERSION,
        "id": inv_id,
        "alarm": {"entity": alarm.entity, "metric": alarm.metric, "time": alarm.time,
                  "at": iso(alarm.time), "source": alarm.source},
        "window": {"start": scope.start, "end": scope.end, "onset": ctx.onset, "onset_at": iso(ctx.onset)},
        "status": "root_cause_found" if found else "inconclusive",
        "gaps": investigation_gaps(ctx, evidence, withheld if not found else {}, hyps,
                                   unknown=unknown),
        "root_cause": _root(root, hyps, ctx) if root else None,
        "key_observations": [_obs(o) for o in key_obs],
        "ruled_out": _ruled_out(ctx, hyps, root, withheld),
        "hypotheses": [_hyp(h) for h in hyps[:12]],
        "impact": {**impact, "summary": impact_line},
        "triage": [{"entity": a.entity, "kind": a.kind, "score": round(a.score, 2),
                    "anomalous": a.anomalous, "onset": a.onset,
                    "top_metric": a.top[0].metric if a.top else None}
                   for a in sorted(ctx.entities.values(), key=lambda a: (-a.score, a.entity))[:20]],
        "topology": _topology_around(ctx, root),
        "anomalous_series": anomalous_series(ctx, scope),
        "timeline": _timeline(ctx, evidence),
        "mitigation": mitigation_plan(root, ctx, validate, inv_id) if root else None,
        "long_term_fix": fix_spec(root, alarm.entity, impact_line, [o.text for o in key_obs])
        if root else None,
        "runbooks": [{"path": r.path, "title": r.title, "excerpt": r.body[:600]} for r in runbooks],
        "sources": [{"name": s.name, "ok": s.ok, "seconds": round(s.seconds, 3), "detail": s.detail,
                     "error": s.error, "size": dict(s.size), "queries": list(s.queries)}
                    for s in evidence.sources],
    }
    record["steps"] = work_steps(record, evidence.sources)
    record["seconds"] = {"gather": round(t_gather, 3), "total": round(time.perf_counter() - t0, 3)}
    return record


def own_effect(h: Hypothesis) -> Observation | None:
    """The first observation showing an effect of the candidate itself: its own anomaly, errors,
    traces or dependents — anything that supports it beyond the change event it names."""
    for o in h.support:
        if o.source == "events" and h.event is not None and o.ref == h.event.ref:
            continue  # the change itself is no evidence that it did anything
        return o
    return None


def naming_problem(ctx: Context, h: Hypothesis) -> str:
    """Why ``h`` may not be named as the cause ('' when it may): a candidate is named only when
    it is connected to the alarm's entity (the same entity, or a path of the topology to or from
    it) and shows an effect of its own."""
    a = ctx.alarm.entity
    if not (ctx.connected(h.entity) or (h.instance and ctx.connected(h.instance))):
        if a not in ctx.deps:
            return (f"{h.entity} is not connected to {a}: no topology around {a} was available, "
                    "so only a cause on it could be named")
        return f"{h.entity} is not connected to {a} in the topology (no path either way)"
    if own_effect(h) is None:
        return (f"no effect of its own was seen: {h.entity} shows no anomaly, errors or "
                "traces tying it to the alarm")
    if h.kind == "dependency_failure" and h.entity == a and (a not in ctx.deps or ctx.deps.degree(a) == 0):
        return (f"only {a}'s own anomaly was seen: with no topology around it, its dependencies "
                "could not be checked, so its anomaly is the symptom, not a cause")
    return ""


def choose_root(ctx: Context, hyps: list[Hypothesis], *,
                unknown: bool = False) -> tuple[Hypothesis | None, dict[int, str]]:
    """The best-scoring hypothesis that may be named (:func:`naming_problem`), or the fallback
    (an inconclusive lead); and the better-scoring ones withheld, by ``id``, with the reason.
    On an ``unknown`` alarm entity nothing is named."""
    withheld: dict[int, str] = {}
    for h in hyps:
        if h.score <= 0:
            break
        problem = (f"{ctx.alarm.entity} is an unknown entity (no service of the store, not in the "
                   "topology): nothing can be tied to it") if unknown else naming_problem(ctx, h)
        if not problem:
            return h, withheld
        withheld[id(h)] = problem
    return (None if unknown else _fallback(ctx)), withheld


#: how each kind of evidence is connected (shown with a gap)
_CONNECT = {
    "metrics": "set investigate.sources.prometheus.url in shipwise.yaml (or "
               "investigate.sources.metrics.paths for CSV/Parquet files; metrics.csv in a case)",
    "topology": "set investigate.sources.topology.path (a topology.json) or "
                "investigate.sources.traces.paths (calls seen in OpenTelemetry traces) in "
                "shipwise.yaml (topology.json in a case)",
    "logs": "set investigate.sources.logs.paths (JSON-lines logs) in shipwise.yaml "
            "(logs.jsonl in a case)",
    "traces": "set investigate.sources.traces.paths (OpenTelemetry trace files) in shipwise.yaml "
              "(traces/ in a case)",
    "changes": "keep investigate.sources.store enabled (deployments from the store) or set "
               "investigate.sources.events.paths (change events) in shipwise.yaml "
               "(events.jsonl in a case)",
}
_METRIC_SOURCES = ("prometheus", "metrics")


def investigation_gaps(ctx: Context, evidence: Evidence,
                       withheld: dict[int, str] | None = None,
                       hyps: list[Hypothesis] | None = None, *,
                       unknown: bool = False) -> list[dict[str, str]]:
    """What the investigation could not see, each with how to connect it: sources that failed,
    kinds of evidence no source gave, an alarm entity no source knows, no topology around it,
    and (when inconclusive) the candidates it could not tie to the alarm."""
    a = ctx.alarm.entity
    gaps: list[dict[str, str]] = []

    def gap(source: str, what: str, how: str) -> None:
        gaps.append({"source": source, "what": what, "how": how})

    for s in evidence.sources:
        if not s.ok:
            kind = "metrics" if s.name in _METRIC_SOURCES or s.name.startswith("metrics") else s.name
            gap(s.name, f"{s.name} could not be read: {s.error}",
                f"fix the source ({s.detail or s.name}); " + _CONNECT.get(kind, "see docs/investigation.md"))
    failed = {s.name for s in evidence.sources if not s.ok}
    names = {s.name for s in evidence.sources}
    entities_with_metrics = {e for e, _ in evidence.metrics}
    if not evidence.metrics:
        if not failed & set(_METRIC_SOURCES):
            gap("metrics", "no metrics: no Prometheus (or metrics files) configured, so no "
                           "anomaly could be seen anywhere", _CONNECT["metrics"])
    elif a not in entities_with_metrics:
        gap("metrics", f"no series for {a}: its own metrics were not among the "
                       f"{len(entities_with_metrics)} entities the metrics sources returned",
            "check that its series carry the entity label set in "
            "investigate.sources.prometheus.entity_label (e.g. service=\"" + a + "\")")
    known = (a in ctx.deps or a in entities_with_metrics
             or any(e.entity == a for e in evidence.events)
             or any(x.entity == a for x in evidence.logs))
    if unknown:
        gap("entity", f"unknown entity {a}: it is no service of the store and not in the topology",
            "check the alarm's entity label against `shipwise services`; add the service to the org "
            "file (owner, team) and " + _CONNECT["topology"])
    elif not known:
        gap("entity", f"unknown entity {a}: no source (topology, metrics, logs, changes) knows it",
            "check the name against `shipwise services` (the org file), or connect a source that "
            "has it: " + _CONNECT["metrics"])
    if a not in ctx.deps or ctx.deps.degree(a) == 0:
        gap("topology", f"no topology around {a}: which services it depends on (and which depend "
                        "on it) is unknown, so only a cause on it could be named", _CONNECT["topology"])
    if not evidence.logs and "logs" not in failed:
        gap("logs", "no logs: errors could not tie a candidate to the alarm", _CONNECT["logs"])
    if not len(evidence.spans) and not failed & {"traces"}:
        gap("traces", "no traces: customer impact (failed requests, distinct customers) could "
                      "not be counted and calls between services were not seen in traces",
            _CONNECT["traces"])
    if not names & {"store", "events"}:
        gap("changes", "no change events (deployments, config or permission changes)",
            _CONNECT["changes"])
    for h in hyps or []:
        reason = (withheld or {}).get(id(h))
        if reason:
            what = f"{h.subject or h.statement}: not named — {reason}"
            how = _CONNECT["topology"] if "connected" in reason else (
                f"connect metrics or logs of {h.entity}: " + _CONNECT["metrics"])
            gap("candidate", what, how)
    return gaps


def anomalous_series(ctx: Context, scope: Scope, limit: int = 40) -> list[dict[str, Any]]:
    """The series found anomalous, each with the pre-incident baseline it was judged against
    (what ``shipwise verify`` compares the recent window with)."""
    out: list[dict[str, Any]] = []
    for a in sorted(ctx.entities.values(), key=lambda a: (-a.score, a.entity)):
        if not a.anomalous:
            continue
        for s in a.top:
            if s.dev.score < ctx.cut:
                continue
            series = ctx.evidence.metrics.get((s.entity, s.metric))
            if series is None:
                continue
            keep = (series.timestamps < ctx.onset) & (series.timestamps >= scope.start)
            before = series.values[keep]
            if before.size < 2:
                continue
            med, iqr = robust_location_scale(before)
            direction = metric_direction(s.metric) or (1 if s.dev.signed >= 0 else -1)
            # the value at the peak, so a reader sees "before → during" and not only robust-σ
            peak = (None if s.dev.peak_time is None else float(series.values[int(np.argmin(
                np.abs(series.timestamps - s.dev.peak_time)))]))
            out.append({"entity": s.entity, "metric": s.metric, "score": round(s.dev.score, 2),
                        "signed": round(s.dev.signed, 2), "direction": direction,
                        "onset": s.onset, "peak_time": s.dev.peak_time, "peak_value": peak,
                        "ref": ctx.evidence.metric_refs.get((s.entity, s.metric), ""),
                        "baseline": {"start": float(series.timestamps[keep][0]),
                                     "end": float(series.timestamps[keep][-1]),
                                     "median": med, "iqr": iqr, "n": int(before.size)}})
            if len(out) >= limit:
                return out
    return out


def _fallback(ctx: Context) -> Hypothesis | None:
    """No hypothesis has support: blame the most anomalous entity, as an inconclusive finding."""
    cands = [a for a in ctx.entities.values() if a.anomalous and a.kind != "instance"
             and ctx.connected(a.entity)]
    if not cands:
        return None
    a = max(cands, key=lambda a: (a.score, a.entity))
    h = Hypothesis("dependency_failure", "unknown", a.entity,
                   f"{a.entity} is the most anomalous entity; no change, action or saturation explains it")
    h.add(describe_anomaly(ctx, a.entity), 0, "metrics")
    return h


def _obs(o: Observation) -> dict[str, Any]:
    return {"text": o.text, "weight": o.weight, "source": o.source, "ref": o.ref}


def _hyp(h: Hypothesis) -> dict[str, Any]:
    return {"kind": h.kind, "fault": h.fault, "entity": h.entity, "statement": h.statement,
            "score": h.score, "event": h.event.id if h.event else None, "instance": h.instance or None,
            "for": [_obs(o) for o in h.support], "against": [_obs(o) for o in h.against]}


def _root(h: Hypothesis, hyps: list[Hypothesis], ctx: Context) -> dict[str, Any]:
    rivals = [x.score for x in hyps if x is not h and x.entity != h.entity and x.score > 0]
    second = max(rivals, default=0.0)
    raw = raw_confidence(h.score, second)
    conf = calibrated(raw)
    return {"entity": h.entity, "kind": h.kind, "fault": h.fault, "statement": h.statement,
            "confidence": conf, "confidence_raw": round(raw, 3),
            "confidence_label": "high" if conf >= 0.7 else "medium" if conf >= 0.45 else "low",
            "score": h.score, "event": _event(h.event) if h.event else None,
            "instance": h.instance or None, "platform": platform_summary(ctx, h.entity),
            "node": {k: v for k, v in ctx.node(h.entity).items() if k in ("kind", "team")}}


def _event(e: Any) -> dict[str, Any]:
    return {"id": e.id, "time": e.time, "at": iso(e.time), "kind": e.kind, "entity": e.entity,
            "actor": e.actor, "summary": e.summary, "ref": e.ref,
            "details": {k: v for k, v in e.details.items() if k != "diff"},
            "diff": str(e.details.get("diff") or "")[:4000] or None}


def _ruled_out(ctx: Context, hyps: list[Hypothesis], root: Hypothesis | None,
               withheld: dict[int, str] | None = None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    withheld = withheld or {}
    root_event = root.event.id if root and root.event else None
    for h in hyps:
        if root is not None and (h is root or (h.entity == root.entity and h.score <= root.score
                                                and h.kind == "dependency_failure")):
            continue
        if h.event is not None and h.event.id == root_event:
            continue
        worst = min(h.against, key=lambda o: o.weight) if h.against else None
        reason = withheld.get(id(h)) or (worst.text if worst else None) or (
            f"weaker evidence than the root cause (score {h.score:.0f} against {root.score:.0f})"
            if root else "no supporting evidence")
        out.append({"observation": h.subject or h.statement, "kind": h.kind, "entity": h.entity,
                    "reason": reason, "ref": worst.ref if worst else (h.event.ref if h.event else "")})
    out += _ruled_out_anomalies(ctx, root)
    out += _fresh_instances(ctx, root, {r["entity"] for r in out})
    return out


def _fresh_instances(ctx: Context, root: Hypothesis | None, done: set[str]) -> list[dict[str, Any]]:
    """CPU spikes on instances that had just started. A new instance has no history, so the
    change-point scores cannot see them; they are found from launch events instead."""
    out = []
    for ev in ctx.events("instance_launch"):
        inst = str(ev.details.get("instance", ""))
        s = ctx.evidence.metrics.get((inst, "cpu_utilisation"))
        if not inst or inst in done or s is None or not ctx.onset - 1800 <= ev.time <= ctx.end:
            continue
        if root is not None and root.instance == inst:
            continue
        early = s.values[(s.timestamps >= ev.time) & (s.timestamps <= ev.time + 600)]
        if early.size == 0 or float(early.max()) < FRESH_CPU:
            continue
        peers = [v.values[v.timestamps <= ev.time][-20:] for (e, m), v in ctx.evidence.metrics.items()
                 if m == "cpu_utilisation" and e != inst and ctx.kind(e) == "instance"
                 and ev.entity in ctx.dependents(e)]
        usual = float(np.median(np.concatenate(peers))) if peers and any(p.size for p in peers) else 0.0
        out.append({"observation": f"{inst} CPU at {float(early.max()):.0%} "
                                   + (f"(its group usually runs at {usual:.0%}) " if usual else "")
                                   + f"from {clock(ev.time)}",
                    "kind": "instance_start", "entity": inst,
                    "reason": f"the instance was launched at {clock(ev.time)} "
                              f"({ev.details.get('reason', 'launch')}): start-up load, not the cause",
                    "ref": ev.ref})
    return out


def _ruled_out_anomalies(ctx: Context, root: Hypothesis | None) -> list[dict[str, Any]]:
    out = []
    launches = {str(e.details.get("instance", "")): e for e in ctx.events("instance_launch")}
    root_entity = root.entity if root else ""
    explained = ctx.dependents(root_entity) if root_entity else set()
    for a in sorted(ctx.entities.values(), key=lambda a: (-a.score, a.entity)):
        if not a.anomalous or a.entity == root_entity or a.onset is None:
            continue
        s = a.top[0]
        launch = launches.get(a.entity)
        if a.kind == "instance" and launch is not None and launch.time <= a.onset + ctx.tol() \
                and a.onset - launch.time <= 15 * 60 and root is not None and root.instance != a.entity:
            out.append({"observation": describe_anomaly(ctx, a.entity), "kind": "instance_start",
                        "entity": a.entity,
                        "reason": f"the instance was launched at {clock(launch.time)} "
                                  f"({launch.details.get('reason', 'launch')}): start-up load, not the cause",
                        "ref": launch.ref})
        elif a.entity in explained:
            out.append({"observation": describe_anomaly(ctx, a.entity), "kind": "symptom",
                        "entity": a.entity,
                        "reason": f"a symptom: it depends on {root_entity}, the root cause, whose "
                                  f"anomaly explains it", "ref": ctx.evidence.metric_refs.get((a.entity, s.metric), "")})
        elif _noisy(ctx, a.entity, s.metric, s.dev.score):
            out.append({"observation": describe_anomaly(ctx, a.entity), "kind": "noise",
                        "entity": a.entity,
                        "reason": "the series deviated as much in the hour before the incident: noise",
                        "ref": ctx.evidence.metric_refs.get((a.entity, s.metric), "")})
        elif root is not None and not ctx.on_alarm_path(a.entity):
            out.append({"observation": describe_anomaly(ctx, a.entity), "kind": "unrelated",
                        "entity": a.entity,
                        "reason": f"not a dependency of {ctx.alarm.entity}: cannot explain the alarm",
                        "ref": ctx.evidence.metric_refs.get((a.entity, s.metric), "")})
    return out


def _noisy(ctx: Context, entity: str, metric: str, score: float) -> bool:
    s = ctx.evidence.metrics.get((entity, metric))
    if s is None:
        return False
    keep = s.timestamps < ctx.onset - ctx.tol()
    ts, vals = s.timestamps[keep], s.values[keep]
    if ts.size < 40:
        return False
    split = ts[-1] - 3600 if ts[-1] - ts[0] > 2 * 3600 else float(np.median(ts))
    earlier = robust_deviation(ts, vals, split, 0)
    return earlier.score >= 0.6 * score


def _topology_around(ctx: Context, root: Hypothesis | None) -> dict[str, Any]:
    a = ctx.alarm.entity
    keep = {a} | (ctx.dependencies(a) if a in ctx.deps else set())
    if root is not None:
        keep |= {root.entity} | ctx.dependents(root.entity) & keep
    keep = {n for n in keep if ctx.kind(n) != "instance" or ctx.anomalous(n)
            or (root is not None and n == root.instance)}
    nodes = []
    for n in sorted(keep):
        e = ctx.entities.get(n)
        nodes.append({"id": n, "kind": ctx.kind(n), "anomalous": bool(e and e.anomalous),
                      "onset": e.onset if e and e.anomalous else None,
                      "root_cause": root is not None and n == root.entity})
    edges = [{"source": x, "target": y, "relation": rel}
             for x, y, rel in ctx.deps.edges(data="relation") if x in keep and y in keep]
    return {"nodes": nodes, "edges": edges}


def _timeline(ctx: Context, evidence: Evidence) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for e in evidence.events:
        if e.time >= ctx.onset - 3600:
            items.append({"time": e.time, "at": iso(e.time), "what": f"{e.kind}: {e.summary or e.entity}",
                          "entity": e.entity, "ref": e.ref})
    items.append({"time": ctx.onset, "at": iso(ctx.onset), "what": "anomaly onset (change point)",
                  "entity": "", "ref": ""})
    firsts: dict[str, float] = {}
    for x in ctx.errors(start=ctx.onset - ctx.tol()):
        firsts.setdefault(x.entity, x.time)
    for ent, t in firsts.items():
        items.append({"time": t, "at": iso(t), "what": f"first error on {ent}", "entity": ent, "ref": ""})
    items.append({"time": ctx.alarm.time, "at": iso(ctx.alarm.time),
                  "what": f"alarm: {ctx.alarm.entity} {ctx.alarm.metric}", "entity": ctx.alarm.entity,
                  "ref": ""})
    return sorted(items, key=lambda i: (i["time"], i["what"]))[:60]


def _matching_runbooks(runbooks: list[Runbook], ctx: Context, root: Hypothesis | None) -> list[Runbook]:
    scope = {ctx.alarm.entity} | {a.entity for a in ctx.entities.values() if a.anomalous}
    if root:
        scope.add(root.entity)
    alarm_names = {ctx.alarm.metric, str(ctx.alarm.source.get("alertname", ""))} - {""}
    out = []
    for r in runbooks:
        if r.services and "*" not in r.services and not scope & set(r.services):
            continue
        if r.alarms and not alarm_names & set(r.alarms):
            continue
        if r.faults and (root is None or root.fault not in r.faults):
            continue
        out.append(r)
    return out
