"""Hypotheses about what caused an alarm, each with the observations for and against it.

One generator per kind of cause (the procedure of SPEC C5): code change, config change,
permission change, manual action on a host, infrastructure churn, saturation / traffic shift,
memory leak, queue backlog and dependency failure. A generator proposes a hypothesis for every
plausible culprit and weighs it with explicit checks; every check is an :class:`Observation`
with a weight (positive: supports; negative: speaks against) and a reference to its evidence.
A hypothesis's score is the sum of its weights, so the ranking is deterministic and every point
of it can be read in the record. No LLM, no learned weights.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import numpy as np

from shipwise.investigate.case import Series
from shipwise.investigate.detect import metric_direction
from shipwise.investigate.evidence import Event
from shipwise.investigate.propagation import ANOMALOUS_Z, EXPLAIN_SHARE, WALK_FULL
from shipwise.investigate.rank import MetricScore, clock, relative
from shipwise.investigate.triage import Context, describe_anomaly

#: changes this long before the onset are still suspects
CHANGE_LOOKBACK_SECONDS = 45 * 60
#: after a change, its effect must start within this long to be blamed on it
CHANGE_EFFECT_SECONDS = 20 * 60
#: a leak: memory climbing at least this much over the window, on a straight line (r²)
MEMORY_GROWTH = 0.05
MEMORY_R2 = 0.8

_DENIED = re.compile(r"access ?denied|permission denied|not authori[sz]ed|forbidden|insufficient privilege",
                     re.I)
_TIMEOUT = re.compile(r"time(d)? ?out|deadline exceeded|connection (refused|reset)|unavailable|slow",
                      re.I)
_OOM = re.compile(r"out ?of ?memory|OutOfMemory|OOM|MemoryError|heap", re.I)
_HEALTH = re.compile(r"health ?check|/health|/ping|readiness|liveness", re.I)
_DESTRUCTIVE = re.compile(r"\brm\b|sqlite3?|truncate|chmod|chown|\bmv\b|>\s*/|dd\b|PRAGMA|vi\b|sed -i",
                          re.I)


@dataclass
class Observation:
    text: str
    weight: float
    source: str  # metrics | logs | events | traces | topology
    ref: str = ""


@dataclass
class Hypothesis:
    kind: str  # code_change, config_change, permission_change, manual_action, infrastructure_churn,
    #            saturation, traffic_shift, memory_leak, queue_backlog, dependency_failure
    fault: str  # the fault-library name it corresponds to (bad_deploy, config_change, …)
    entity: str
    statement: str
    event: Event | None = None
    instance: str = ""
    observations: list[Observation] = field(default_factory=list)
    #: what the hypothesis is about, said neutrally (for "ruled out: <subject> — <reason>")
    subject: str = ""

    @property
    def score(self) -> float:
        return float(sum(o.weight for o in self.observations))

    @property
    def support(self) -> list[Observation]:
        return [o for o in self.observations if o.weight > 0]

    @property
    def against(self) -> list[Observation]:
        return [o for o in self.observations if o.weight < 0]

    def add(self, text: str, weight: float, source: str, ref: str = "") -> None:
        self.observations.append(Observation(text, weight, source, ref))


def generate(ctx: Context) -> list[Hypothesis]:
    """Every hypothesis, best first (ties: the stronger anomaly, then the entity name)."""
    hyps: list[Hypothesis] = []
    for gen in (_changes, _permissions, _host_sessions, _churn, _saturation, _memory):
        hyps.extend(gen(ctx))
    hyps.extend(_resource_pressure(ctx, {h.entity for h in hyps
                                         if h.kind in ("saturation", "memory_leak")}))
    for gen in (_queues, _dependencies, _slow_network):
        hyps.extend(gen(ctx))
    _weigh_symptom_walk(ctx, hyps)
    for h in hyps:
        if not ctx.on_alarm_path(h.entity) and h.kind != "infrastructure_churn":
            share = _off_path_share(ctx, h.entity)
            h.add(f"{h.entity} is not a dependency of {ctx.alarm.entity} in the topology"
                  + ("" if share >= 1 else f" (but its anomaly dwarfs everything on {ctx.alarm.entity}'s "
                     "path: the topology may miss a call or a shared resource)"),
                  round(-OFF_PATH * share, 2), "topology")

    def key(h: Hypothesis) -> tuple[float, bool, float, str, str]:
        a = ctx.entities.get(h.entity)
        # on a tie, a specific mechanism beats the generic "a dependency failed"
        return (-h.score, h.kind == "dependency_failure", -(a.score if a else 0.0), h.entity, h.kind)

    return sorted(hyps, key=key)


# -- helpers ---------------------------------------------------------------------------------

def _metric_ref(ctx: Context, entity: str, metric: str) -> str:
    refs = ctx.evidence.metric_refs
    return refs.get((entity, metric)) or refs.get(("*", "*"), "")


def _anomaly_after(h: Hypothesis, ctx: Context, entity: str, since: float, what: str) -> None:
    """Weigh when ``entity``'s anomaly started against the moment ``since`` of ``what``."""
    a = ctx.entities.get(entity)
    if a is None:
        h.add(f"no metrics for {entity}", 0, "metrics")
        return
    if not a.anomalous:
        s = a.top[0]
        h.add(f"{entity} stayed within its normal range after {what} "
              f"(largest deviation {s.dev.score:.1f} robust-σ on {s.metric})", -4, "metrics",
              _metric_ref(ctx, entity, s.metric))
        return
    assert a.onset is not None
    ref = _metric_ref(ctx, entity, a.top[0].metric)
    if a.onset < since - ctx.tol():
        h.add(f"{entity} was already anomalous at {clock(a.onset)}, before {what} "
              f"at {clock(since)}", -3, "metrics", ref)
    elif a.onset <= since + CHANGE_EFFECT_SECONDS:
        h.add(f"{describe_anomaly(ctx, entity)}, {relative(a.onset, since).replace('the alarm', what)}",
              3, "metrics", ref)
        if abs(a.onset - since) <= 5 * 60:
            h.add(f"the anomaly began within 5 min of {what}", 1, "metrics", ref)
    else:
        h.add(f"{entity}'s anomaly began {(a.onset - since) / 60:.0f} min after {what}: too late "
              "to be its effect", -2, "metrics", ref)


def _earlier_dependency(ctx: Context, entity: str) -> str | None:
    """An anomalous dependency of ``entity`` whose anomaly started clearly before its own."""
    mine = ctx.entity_onset(entity)
    if mine is None:
        return None
    earlier = [(ctx.entity_onset(d), d) for d in ctx.dependencies(entity)
               if ctx.anomalous(d) and ctx.kind(d) != "instance"]
    earlier = [(t, d) for t, d in earlier if t is not None and t < mine - ctx.tol()]
    return min(earlier)[1] if earlier else None


def _top_errors(counter: Counter[str], n: int = 2) -> str:
    return ", ".join(f"{k} ×{v}" for k, v in counter.most_common(n))


def _suspect_window(ctx: Context, ev: Event) -> bool:
    return ctx.onset - CHANGE_LOOKBACK_SECONDS <= ev.time <= ctx.onset + ctx.tol() + 60


# -- generators ------------------------------------------------------------------------------

def _changes(ctx: Context) -> list[Hypothesis]:
    out = []
    for ev in ctx.events("deployment", "config_change"):
        if not _suspect_window(ctx, ev):
            continue
        code = ev.kind == "deployment"
        what = "the deployment" if code else "the config change"
        h = Hypothesis("code_change" if code else "config_change",
                       "bad_deploy" if code else "config_change", ev.entity,
                       f"{ev.summary or ev.kind} on {ev.entity} at {clock(ev.time)} broke it", ev,
                       subject=f"{ev.kind.replace('_', ' ')} on {ev.entity} at {clock(ev.time)} "
                               f"({ev.summary or ev.id})")
        h.add(f"{ev.kind.replace('_', ' ')} on {ev.entity} at {clock(ev.time)}: {ev.summary}", 1,
              "events", ev.ref)
        _anomaly_after(h, ctx, ev.entity, ev.time, what)
        _superseded(h, ctx, ev)
        new, types = ctx.new_errors(ev.entity, ev.time)
        deps_named = _names_anomalous_dependency(ctx, ev.entity, new)
        if len(new) >= 3 and not deps_named:
            h.add(f"{len(new)} new errors on {ev.entity} after {what}, none before: "
                  f"{_top_errors(types)}", 3, "logs", new[0].ref)
            touched = _touched(ev)
            hit = next((t for t in touched if any(t in x.text for x in new)), None)
            if hit:
                h.add(f"the errors point at `{hit}`, which {what} changed", 2, "logs", new[0].ref)
        elif deps_named:
            h.add(f"the new errors on {ev.entity} are failures calling {deps_named}, an anomalous "
                  "dependency", -3, "logs", new[0].ref if new else "")
        dep = _earlier_dependency(ctx, ev.entity)
        if dep:
            h.add(f"its dependency {dep} was anomalous first ({clock(ctx.entity_onset(dep) or 0)})",
                  -2, "metrics", _metric_ref(ctx, dep, ctx.entities[dep].top[0].metric))
        if _HEALTH.search(" ".join([ev.summary, *map(str, ev.details.values())])) and _churn_events(ctx):
            h.add("it changed the health check and instances are being replaced since: the "
                  "failure is the replacement loop (see the instance churn)", -3, "events", ev.ref)
        out.append(h)
    return out


def _superseded(h: Hypothesis, ctx: Context, ev: Event) -> None:
    """A later change of the same entity, after which its anomaly began, supersedes ``ev``: the
    entity ran normally on what ``ev`` shipped until then (a rolling release's earlier step, the
    previous deployment). What an SRE reads off a deploy history: the last change before it
    broke, not every change of the last half hour."""
    onset = ctx.entity_onset(ev.entity)
    if onset is None:
        return
    later = [x for x in ctx.events("deployment", "config_change")
             if x.entity == ev.entity and x.id != ev.id and x.time - ev.time > ctx.tol()
             and x.time <= onset + ctx.tol()]
    if later:
        last = max(later, key=lambda x: x.time)
        h.add(f"{ev.entity} ran normally after it until {last.kind.replace('_', ' ')} "
              f"{last.summary or last.id} at {clock(last.time)}: its anomaly followed that one",
              -3, "events", last.ref)


def _touched(ev: Event) -> list[str]:
    """Names a change touched that may appear in an error: files (and their stems), config keys."""
    names: list[str] = []
    for f in ev.details.get("files") or []:
        p = PurePosixPath(str(f))
        names += [p.name, p.stem]
    if ev.details.get("key"):
        names.append(str(ev.details["key"]))
    diff = str(ev.details.get("diff") or "")
    for line in diff.splitlines():
        if line.startswith(("+", "-")) and not line.startswith(("+++", "---")):
            names += re.findall(r"['\"]([A-Za-z_][A-Za-z0-9_]{3,})['\"]", line)
    return [n for n in dict.fromkeys(names) if len(n) >= 4]


def _names_anomalous_dependency(ctx: Context, entity: str, lines: list) -> str:
    """An anomalous dependency of ``entity`` that most of the error lines name, if any — one
    whose anomaly began no later than a sample after ``entity``'s own: a dependency that went
    wrong only after ``entity`` did is more likely its effect than its cause."""
    if not lines:
        return ""
    mine = ctx.entity_onset(entity)
    deps = [d for d in ctx.dependencies(entity) if ctx.anomalous(d) and ctx.kind(d) != "instance"
            and (mine is None or (ctx.entity_onset(d) or 0.0) <= mine + ctx.step)]
    for d in sorted(deps, key=len, reverse=True):
        if sum(d in x.text for x in lines) >= 0.5 * len(lines):
            return d
    return ""


def _principal_service(ctx: Context, principal: str) -> str:
    services = [n for n in ctx.deps if ctx.kind(n) in ("service", "gateway")]
    hits = [s for s in services if s in principal]
    return max(hits, key=len) if hits else ""


def _permissions(ctx: Context) -> list[Hypothesis]:
    out = []
    for ev in ctx.events("permission_change"):
        action = str(ev.details.get("action", "")).lower()
        if not _suspect_window(ctx, ev) or action in ("grant", "allow"):
            continue
        principal = str(ev.details.get("principal", ""))
        svc = _principal_service(ctx, principal)
        h = Hypothesis("permission_change", "permission_revoked", ev.entity,
                       f"{ev.details.get('permission', 'access')} on {ev.entity} was revoked for "
                       f"{principal or 'a principal'} at {clock(ev.time)}", ev)
        h.add(f"permission change on {ev.entity} at {clock(ev.time)}: {ev.summary}", 1, "events", ev.ref)
        denied = [x for x in ctx.errors(start=ev.time) if _DENIED.search(x.text)
                  and (ev.entity in x.text or (svc and x.entity == svc))]
        if denied:
            who = Counter(x.entity for x in denied)
            h.add(f"{len(denied)} access-denied errors since {clock(denied[0].time)} "
                  f"({_top_errors(who)}) naming {ev.entity}", 5, "logs", denied[0].ref)
            before = [x for x in ctx.errors(end=ev.time) if _DENIED.search(x.text) and ev.entity in x.text]
            if before:
                h.add(f"{len(before)} access-denied errors already before the change", -2, "logs",
                      before[0].ref)
        else:
            h.add("no access-denied errors after the change", -4, "logs")
        if svc:
            _anomaly_after(h, ctx, svc, ev.time, "the permission change")
        out.append(h)
    return out


def _host_sessions(ctx: Context) -> list[Hypothesis]:
    out = []
    for ev in ctx.events("host_session"):
        if not _suspect_window(ctx, ev):
            continue
        inst = str(ev.details.get("instance") or ev.details.get("host") or "")
        commands = [str(c) for c in ev.details.get("commands") or []]
        h = Hypothesis("manual_action", "manual_host_session", ev.entity,
                       f"a manual session on {inst or 'a host'} of {ev.entity} at {clock(ev.time)} "
                       "damaged its local state", ev, inst)
        h.add(f"host session on {inst} ({ev.entity}) at {clock(ev.time)}: "
              f"{'; '.join(commands[:3]) or ev.summary}", 1, "events", ev.ref)
        if any(_DESTRUCTIVE.search(c) for c in commands):
            h.add("the session ran commands that modify local files", 1, "events", ev.ref)
        after = ctx.errors(ev.entity, start=ev.time)
        with_inst = [x for x in after if x.instance]
        if not after:
            h.add(f"no errors on {ev.entity} after the session", -4, "logs")
        elif with_inst and inst:
            share = sum(x.instance == inst for x in with_inst) / len(with_inst)
            n_inst = len({x.instance for x in ctx.errors(ev.entity)} | ctx.instances_of(ev.entity))
            if share >= 0.7 and n_inst >= 2:
                first = next(x for x in with_inst if x.instance == inst)
                h.add(f"{share:.0%} of {len(with_inst)} errors on {ev.entity} since the session come "
                      f"from {inst}, where it ran (first: {first.exc_type or first.message[:60]})", 5,
                      "logs", first.ref)
            else:
                h.add(f"errors on {ev.entity} are spread over its instances ({share:.0%} on {inst})",
                      -3, "logs", with_inst[0].ref)
        _anomaly_after(h, ctx, ev.entity, ev.time, "the session")
        out.append(h)
    return out


def _churn_events(ctx: Context, group: str | None = None) -> list[Event]:
    return [e for e in ctx.events("instance_terminate")
            if (group is None or e.entity == group) and ctx.onset - 1800 <= e.time <= ctx.end
            and re.search(r"health|unhealthy", str(e.details.get("reason", "")) + e.summary, re.I)]


def _churn(ctx: Context) -> list[Hypothesis]:
    out = []
    for group in sorted({e.entity for e in _churn_events(ctx)}):
        terms = _churn_events(ctx, group)
        h = Hypothesis("infrastructure_churn", "instance_churn", group,
                       f"instances of {group} keep failing their health check and are replaced")
        weight = 4 if len(terms) >= 3 else 1
        h.add(f"{len(terms)} instances of {group} terminated for failing health checks between "
              f"{clock(terms[0].time)} and {clock(terms[-1].time)}", weight, "events", terms[0].ref)
        in_service = ctx.metric(group, "instances_in_service")
        if in_service and ctx.anomalous(group):
            h.add(f"instances in service dropped ({in_service.dev.score:.1f} robust-σ)", 2, "metrics",
                  _metric_ref(ctx, group, "instances_in_service"))
        services = ctx.services_on(group)
        hc = [x for s in services for x in ctx.errors(s, start=terms[0].time - 600)
              if _HEALTH.search(x.text)]
        if hc:
            h.add(f"{len(hc)} health-check failures logged by {', '.join(sorted(services))}", 1, "logs",
                  hc[0].ref)
        for s in services:
            if ctx.anomalous(s) and (onset := ctx.entity_onset(s)) is not None:
                h.add(f"{describe_anomaly(ctx, s)}, which runs on {group}", 1, "metrics",
                      _metric_ref(ctx, s, ctx.entities[s].top[0].metric))
                _explains_dependents(h, ctx, s, onset)
        cause = [e for e in ctx.events("deployment", "config_change")
                 if (e.entity in services or e.entity == group)
                 and terms[0].time - 1800 <= e.time <= terms[0].time]
        if cause:
            c = cause[-1]
            h.event = c
            h.statement += f", since {c.kind.replace('_', ' ')} {c.summary} at {clock(c.time)}"
            h.add(f"{c.kind.replace('_', ' ')} on {c.entity} at {clock(c.time)} preceded the first "
                  f"replacement: {c.summary}", 2, "events", c.ref)
        out.append(h)
    return out


def _saturation(ctx: Context) -> list[Hypothesis]:
    out = []
    gateway_rise = _traffic_rise(ctx)
    for entity, a in ctx.entities.items():
        cpu = ctx.metric(entity, "cpu_utilisation")
        if cpu is None or ctx.kind(entity) == "instance" or not a.anomalous:
            continue
        level = _level_after(ctx, entity, "cpu_utilisation")
        if cpu.dev.signed <= 0 or cpu.dev.score < 3 or level < 0.8:
            continue
        surge = gateway_rise is not None and gateway_rise[0] >= 0.3
        h = Hypothesis("traffic_shift" if surge else "saturation", "traffic_surge", entity,
                       f"{entity} is saturated (CPU {level:.0%})"
                       + (" by a surge of traffic" if surge else ""))
        h.add(f"{entity} CPU at {level:.0%} from {clock(cpu.onset or ctx.onset)} "
              f"({cpu.dev.score:.1f} robust-σ)", 3, "metrics", _metric_ref(ctx, entity, "cpu_utilisation"))
        if surge and gateway_rise is not None:
            h.add(f"requests at {gateway_rise[1]} rose {gateway_rise[0]:.0%} against the hour before",
                  2, "metrics", _metric_ref(ctx, gateway_rise[1], "requests_per_s"))
        lat = ctx.metric(entity, "latency_p95_ms")
        if lat and lat.dev.score >= 3:
            h.add(f"{entity} latency rose {lat.dev.score:.1f} robust-σ", 1, "metrics",
                  _metric_ref(ctx, entity, "latency_p95_ms"))
        traffic = [e for e in ctx.events("traffic") if abs(e.time - ctx.onset) <= 15 * 60]
        if surge and traffic:
            h.add(f"traffic event at {clock(traffic[0].time)}: {traffic[0].summary}", 1, "events",
                  traffic[0].ref)
        if a.onset is not None:
            _explains_dependents(h, ctx, entity, a.onset)
        out.append(h)
    return out


def _level_after(ctx: Context, entity: str, metric: str) -> float:
    s = ctx.evidence.metrics.get((entity, metric))
    if s is None:
        return 0.0
    after = s.values[s.timestamps >= ctx.onset]
    return float(np.median(after)) if after.size else 0.0


def _traffic_rise(ctx: Context) -> tuple[float, str] | None:
    """Relative rise of requests at the entry point (gateway or alarm entity) after the onset."""
    entries = [n for n in ctx.deps if ctx.kind(n) == "gateway"] or [ctx.alarm.entity]
    for e in entries:
        s = ctx.evidence.metrics.get((e, "requests_per_s"))
        if s is None:
            continue
        before = s.values[(s.timestamps < ctx.onset) & (s.timestamps >= ctx.onset - 3600)]
        after = s.values[s.timestamps >= ctx.onset]
        if before.size and after.size and np.median(before) > 0:
            return float(np.median(after) / np.median(before) - 1.0), e
    return None


def _memory(ctx: Context) -> list[Hypothesis]:
    out = []
    for (entity, metric), s in ctx.evidence.metrics.items():
        if metric != "memory_mb" or ctx.kind(entity) == "instance":
            continue
        w = s.timestamps <= ctx.end
        t, v = s.timestamps[w], s.values[w]
        if t.size < 20 or float(np.median(v[: max(3, t.size // 10)])) <= 0:
            continue
        # A leak ends in out-of-memory kills and restarts (a sawtooth): fit the climb up to the peak.
        peak = int(np.argmax(v))
        dropped = peak < t.size - 1 and float(v[peak:].min()) < 0.8 * float(v[peak])
        if dropped and peak >= 20:
            t, v = t[: peak + 1], v[: peak + 1]
        slope, intercept = np.polyfit(t - t[0], v, 1)
        fit = slope * (t - t[0]) + intercept
        r2 = 1 - float(np.sum((v - fit) ** 2)) / max(float(np.sum((v - v.mean()) ** 2)), 1e-12)
        growth = float(fit[-1] / max(fit[0], 1e-9) - 1)
        if growth < MEMORY_GROWTH or r2 < MEMORY_R2:
            continue
        h = Hypothesis("memory_leak", "memory_leak", entity,
                       f"{entity} leaks memory (+{growth:.0%} in {(t[-1] - t[0]) / 60:.0f} min)")
        h.add(f"{entity} memory climbed steadily by {growth:.0%} over {(t[-1] - t[0]) / 60:.0f} min "
              f"(linear fit r²={r2:.2f})", 4, "metrics", _metric_ref(ctx, entity, metric))
        if dropped:
            h.add(f"then it fell sharply after {clock(float(t[-1]))}: restarts or out-of-memory kills",
                  1, "metrics", _metric_ref(ctx, entity, metric))
        oom = [x for x in ctx.errors(entity, start=ctx.onset - 3600) if _OOM.search(x.text)]
        if oom:
            h.add(f"{len(oom)} out-of-memory errors on {entity}", 3, "logs", oom[0].ref)
        deps = [e for e in ctx.events("deployment") if e.entity == entity and e.time <= t[-1]]
        if deps:
            h.event = deps[-1]
            h.add(f"the climb follows deployment {deps[-1].summary} at {clock(deps[-1].time)}", 1,
                  "events", deps[-1].ref)
        if (onset := ctx.entity_onset(entity)) is not None:
            _explains_dependents(h, ctx, entity, onset)
        out.append(h)
    return out


#: CPU or memory use of a service, a container or a pod, whatever the source calls it
#: (``cpu_usage``, ``container_cpu``, ``cpu@pod-1``, ``mem_usage``, ``memory_mb``)
_RESOURCE = re.compile(r"(?:^|[^a-z])(cpu|mem|memory)(?:[^a-z]|$)", re.I)
#: configured bounds, not use
_BOUND = re.compile(r"limit|request|quota|capacity|total|available|free", re.I)
#: a share of capacity (``cpu_utilisation``, ``mem_percent``): judged by its level, not its jump
_UTILISATION = re.compile(r"util|percent|pct|ratio", re.I)
#: the level of a share of capacity from which a process is starved (80 %)
SATURATED = 0.8


def _near_capacity(ctx: Context, entity: str, metric: str) -> bool:
    """Is a share of capacity at or above :data:`SATURATED` after the onset (as a ratio, or in
    percent when its values go past 1)?"""
    s = ctx.evidence.metrics.get((entity, metric))
    level = _level_after(ctx, entity, metric)
    scale = 100.0 if s is not None and s.values.size and float(np.nanmax(s.values)) > 1.0 else 1.0
    return level >= SATURATED * scale


#: weight of the largest resource jump of the system (the others get their share of it)
RESOURCE_WEIGHT = 3.0
#: a jump smaller than this share of the largest (in log robust σ) is a neighbour working harder
RESOURCE_SHARE = 0.9
#: ... and smaller than this share of the incident's largest anomaly of any kind (in log robust σ:
#: under the square root of it) it is small beside what the incident did: load passed on
RESOURCE_OF_WORST = 0.5
#: a jump that began this long after the alarm fired came after it: it did not set it off (five
#: minutes, the evaluation window of a typical alert rule)
RESOURCE_AFTER_ALARM = 300.0


def _resource_pressure(ctx: Context, owned: set[str]) -> list[Hypothesis]:
    """A process hogging or starved of CPU or memory: an entity's own CPU or memory use jumping far
    past its normal, not before the incident's onset. What an SRE checks first on a slow
    service (``top``, the container dashboards): which process is eating the machine. Of several
    such jumps the largest is the likelier origin — a neighbour working harder because its caller
    or callee struggles moves its resources far less than a hog does — so the support is the
    jump's size against the largest of the system, in log robust σ, squared, and a jump under
    :data:`RESOURCE_SHARE` of the largest is no hypothesis at all (a 20 σ wobble beside a
    2,000 σ hog is load passed on, not a cause), nor one small beside the incident's largest
    anomaly (:data:`RESOURCE_OF_WORST`), nor one off the alarm's path (a hog reaches the alarm
    through the calls), nor one that began more than :data:`RESOURCE_AFTER_ALARM` after the alarm
    fired or before the incident's onset. A saturation or leak hypothesis already on the entity (from
    ``cpu_utilisation`` levels or a memory climb: ``owned``) is not repeated."""
    best: dict[str, MetricScore] = {}
    for sc in ctx.scores:
        if (not _RESOURCE.search(sc.metric) or _BOUND.search(sc.metric) or sc.dev.signed <= 0
                or sc.dev.score < ctx.cut or sc.onset is None or sc.entity in owned
                or ctx.kind(sc.entity) == "instance" or not ctx.on_alarm_path(sc.entity)):
            continue
        if not ctx.onset - ctx.tol() <= sc.onset <= ctx.alarm.time + RESOURCE_AFTER_ALARM:
            continue
        if _UTILISATION.search(sc.metric) and not _near_capacity(ctx, sc.entity, sc.metric):
            continue  # a share of capacity that stays well below it starves nothing
        if sc.entity not in best or sc.dev.score > best[sc.entity].dev.score:
            best[sc.entity] = sc
    top = max((sc.dev.score for sc in best.values()), default=0.0)
    # the incident's largest anomaly of any kind: a hog is of its order of magnitude
    worst = max((a.score for a in ctx.entities.values()), default=0.0)
    out = []
    for entity, sc in sorted(best.items()):
        share = math.log1p(sc.dev.score) / math.log1p(top)
        if share < RESOURCE_SHARE or math.log1p(sc.dev.score) < RESOURCE_OF_WORST * math.log1p(worst):
            continue
        found = _RESOURCE.search(sc.metric)
        what = "memory" if found and found.group(1).lower().startswith("mem") else "CPU"
        h = Hypothesis("saturation", "cpu_hog" if what == "CPU" else "memory_hog", entity,
                       f"{entity} is starved of {what}: its {what} use jumped far past normal")
        h.add(f"{entity} {sc.metric} rose {sc.dev.score:.1f} robust-σ from {clock(sc.onset or ctx.onset)}"
              + (" — the largest CPU or memory jump of the system" if share >= 1 else ""),
              round(RESOURCE_WEIGHT * share * share, 2), "metrics", _metric_ref(ctx, entity, sc.metric))
        if (onset := ctx.entity_onset(entity)) is not None:
            _explains_dependents(h, ctx, entity, onset)
        out.append(h)
    return out

#: a call is slow when its latency, as its caller saw it, at least doubled from its normal...
SLOW_CALL_RATIO = 5.0
#: ... and the callee's own (server-side) latency accounts for less than this share of what
#: the call gained: the rest of the time was spent on the way, in the network
NETWORK_SHARE = 0.5
#: ... and what the call gained is material: at least this share of what the alarm's entity
#: gained on its worst quantile (a 10 ms blip beside a 2 s incident is not where the time went)
NETWORK_MATERIAL = 0.25
#: support for the one entity every call slowed in the network has in common
NETWORK_WEIGHT = 4.0
#: normal is the median of this long before the onset; slow, the highest two-minute median
#: from the onset to this long after the alarm
NETWORK_BEFORE, NETWORK_AFTER, NETWORK_SUSTAINED = 600.0, 240.0, 120.0


def _window_median(s: Series, lo: float, hi: float) -> float:
    m = (s.timestamps >= lo) & (s.timestamps < hi) & np.isfinite(s.values) & (s.values >= 0)
    return float(np.median(s.values[m])) if int(m.sum()) >= 3 else float("nan")


def _sustained_peak(s: Series, lo: float, hi: float, width: float) -> float:
    """The highest median of ``width`` seconds of ``s`` between ``lo`` and ``hi`` (NaN: too few
    samples): how high it stayed, not its one worst sample."""
    m = (s.timestamps >= lo) & (s.timestamps < hi) & np.isfinite(s.values) & (s.values >= 0)
    t, v = s.timestamps[m], s.values[m]
    if t.size < 3:
        return float("nan")
    # samples per window, from the typical sampling step (the windows slide sample by sample)
    k = int(max(3, min(t.size, round(width / max(float(np.median(np.diff(t))), 1e-9)))))
    return float(np.median(np.lib.stride_tricks.sliding_window_view(v, k), axis=1).max())


def _slowed_in_network(ctx: Context, caller: str, callee: str, latency: dict[str, Series]) -> str:
    """How the call ``caller`` → ``callee`` slowed on the way, as a sentence ("" when it did not):
    its latency as the caller saw it at least :data:`SLOW_CALL_RATIO` × its normal on some
    quantile, by a material share of what the alarm's entity gained on its worst quantile
    (:data:`NETWORK_MATERIAL`),
    and on every quantile where it did, the callee's own latency of that quantile gained less
    than :data:`NETWORK_SHARE` of what the call gained (a quantile on which the callee's own work
    accounts for the call's slowing says the time went there, not on the way). A callee whose
    own latency is unknown says nothing: nothing tells the network from its work."""
    lo, at = ctx.onset - NETWORK_BEFORE, ctx.onset - ctx.tol() / 2
    hi = max(ctx.onset, ctx.alarm.time) + NETWORK_AFTER
    found = ""

    def gain(x: Series | None) -> tuple[float, float]:
        if x is None:
            return float("nan"), float("nan")
        return _window_median(x, lo, at), _sustained_peak(x, at, hi, NETWORK_SUSTAINED)

    # what the alarm's entity gained on the quantile where it gained most (0: unknown)
    alarm_gain = max((float(np.nan_to_num(a - b)) for b, a in
                      (gain(ctx.evidence.metrics.get((ctx.alarm.entity, f"latency_{q}")))
                       for q in latency)), default=0.0)
    for q, s in sorted(latency.items()):
        own = ctx.evidence.metrics.get((callee, f"latency_{q}"))
        if own is None:
            continue
        (before, after), (own_before, own_after) = gain(s), gain(own)
        if not all(np.isfinite([before, after, own_before, own_after])) or before <= 0:
            continue
        if after < SLOW_CALL_RATIO * before:
            continue
        if after - before < NETWORK_MATERIAL * alarm_gain:
            continue
        if own_after - own_before >= NETWORK_SHARE * (after - before):
            return ""
        found = found or (f"{caller} → {callee} {q} {before:.3g} → {after:.3g} while {callee}'s "
                          f"own {q} went {own_before:.3g} → {own_after:.3g}")
    return found


def _slow_network(ctx: Context) -> list[Hypothesis]:
    """The network of one entity slowed: the calls that slowed on the way — as their callers saw
    them, not as the callees' own latency shows (:func:`_slowed_in_network`) — all have that
    entity at one end. What an SRE reads off a service mesh's per-call latencies: a delay only
    the callers see is spent between the two, and the one endpoint all such calls share is
    where it is (all calls out of a service slow: its network; all calls into one: the
    callee's). With one such call both ends share it: the end whose calls mostly slowed is
    named (the callee with one caller, not the caller of five healthy others); a tie names
    neither. Needs per-call latencies (``latency`` on the ``calls`` edges: a mesh's
    source-reported request durations, a MicroIRC ``call.csv``)."""
    topo = ctx.evidence.topology
    calls = [(a, b, lat) for a, b, lat in topo.edges(data="latency") if lat]
    if not calls:
        return []
    slow = {(a, b): why for a, b, lat in calls if (why := _slowed_in_network(ctx, a, b, lat))}
    if not slow:
        return []
    ends = set.intersection(*({a, b} for a, b in slow))

    def share(v: str) -> float:
        mine = [e for e in topo.in_edges(v) if topo.edges[e].get("relation", "calls") == "calls"] + \
               [e for e in topo.out_edges(v) if topo.edges[e].get("relation", "calls") == "calls"]
        return sum(1 for e in mine if e in slow) / max(1, len(mine))

    if len(ends) > 1:
        ranked = sorted(ends, key=share, reverse=True)
        if share(ranked[0]) <= share(ranked[1]):
            return []
        ends = {ranked[0]}
    if not ends:
        return []
    v = next(iter(ends))
    h = Hypothesis("network", "network_delay", v,
                   f"{v}'s network is slow: calls to and from it are delayed on the way",
                   subject=f"a network delay at {v}")
    whys = [why for _, why in sorted(slow.items())]
    h.add(f"every call that slowed on the way ({len(slow)}) has {v} at one end: "
          + "; ".join(whys[:3]) + ("…" if len(whys) > 3 else ""), NETWORK_WEIGHT, "metrics")
    return [h]


def _queues(ctx: Context) -> list[Hypothesis]:
    out = []
    for q in ctx.entities:
        depth = ctx.metric(q, "depth")
        if ctx.kind(q) != "queue" or depth is None or depth.dev.signed <= 0 or depth.dev.score < 3:
            continue
        consumers = sorted(x for x, y, rel in ctx.deps.edges(data="relation") if y == q and rel == "consumes")
        for c in consumers or [q]:
            h = Hypothesis("queue_backlog", "queue_backlog", c,
                           f"{c} stopped keeping up with {q}: the backlog grows")
            h.add(f"{q} depth rose {depth.dev.score:.1f} robust-σ from {clock(depth.onset or ctx.onset)}",
                  3, "metrics", _metric_ref(ctx, q, "depth"))
            errs = ctx.errors(c, start=ctx.onset - ctx.tol()) if c != q else []
            if errs:
                h.add(f"{len(errs)} errors on the consumer {c}", 2, "logs", errs[0].ref)
            if c != q and ctx.anomalous(c):
                h.add(describe_anomaly(ctx, c), 1, "metrics")
            out.append(h)
    return out


def _dependencies(ctx: Context) -> list[Hypothesis]:
    """The deepest anomalous dependencies: anomalous, with no dependency of their own whose
    anomaly accounts for theirs (:func:`_accounts_for`: as early, and comparably large), and
    explaining anomalous dependents. The support scales with the size of the anomaly
    (:func:`_magnitude`)."""
    out = []
    for d, a in ctx.entities.items():
        if not a.anomalous or ctx.kind(d) in ("instance", "gateway") or a.onset is None:
            continue
        if any(_accounts_for(ctx, x, d) for x in ctx.dependencies(d)):
            continue
        h = Hypothesis("dependency_failure", "slow_dependency", d,
                       f"{d} degraded and its dependents failed with it")
        if walked(ctx, d):
            # the walk of the alarm's own signal answers "the deepest anomalous dependency that
            # explains its dependents" for d (:func:`_weigh_symptom_walk`); only the logs add
            _named_in_timeouts(h, ctx, d, a.onset)
        else:
            h.add(f"{describe_anomaly(ctx, d)}: the deepest anomalous dependency",
                  round(2 * _magnitude(ctx, d), 2), "metrics", _metric_ref(ctx, d, a.top[0].metric))
            _explains_dependents(h, ctx, d, a.onset)
        out.append(h)
    return out


def _accounts_for(ctx: Context, x: str, d: str) -> bool:
    """Can the anomaly of ``x``, a dependency of ``d``, account for ``d``'s? It must be anomalous,
    start no later than ``d``'s (within the tolerance) and be of a comparable size: at least
    :data:`~shipwise.investigate.propagation.EXPLAIN_SHARE` of ``d``'s deviation in robust σ (the
    rule the walk of the alarm's signal applies in the metric's units). A dependency 100 σ off its
    normal does not explain a service 10,000 σ off its own: in a noisy system something always
    passes the anomaly cut, and without this every entity that calls anything is "explained"."""
    ax, ad = ctx.entities.get(x), ctx.entities.get(d)
    if (x == d or ax is None or ad is None or not ax.anomalous or ax.onset is None
            or ad.onset is None or ctx.kind(x) == "instance"):
        return False
    return ax.onset <= ad.onset + ctx.tol() and ax.score >= EXPLAIN_SHARE * ad.score


#: weight against a hypothesis on an entity that is not a dependency of the alarm's entity
OFF_PATH = 3.0


def _off_path_share(ctx: Context, entity: str) -> float:
    """How much being off the alarm's path counts against ``entity``, 0..1: fully when something
    on the path (the alarm's entity or one of its dependencies) moved as much as ``entity``;
    less when ``entity``'s anomaly dwarfs everything on the path (in log robust σ): then the
    path does not account for the alarm and the topology is likely incomplete (an untraced call,
    a shared host or network), so "not connected" is weak evidence against the biggest anomaly."""
    a = ctx.entities.get(entity)
    if a is None or a.score <= 0:
        return 1.0
    path = [ctx.alarm.entity, *ctx.dependencies(ctx.alarm.entity)]
    on = max((ctx.entities[e].score for e in path if e in ctx.entities), default=0.0)
    return min(1.0, math.log1p(on) / math.log1p(a.score))


def _magnitude(ctx: Context, d: str) -> float:
    """``d``'s anomaly against the strongest of the system, 0..1 in log robust σ: of the entities
    that are each "the deepest anomalous dependency", the one that moved most is the likelier
    origin (deviations of different metrics compare in order of magnitude, hence the log)."""
    top = max((a.score for a in ctx.entities.values() if a.anomalous), default=0.0)
    a = ctx.entities.get(d)
    if a is None or top <= 0:
        return 1.0
    return min(1.0, math.log1p(a.score) / math.log1p(top))


#: weight of the walk's best root candidate; the others get their share of it by score
WALK_WEIGHT = 6.0
#: an anomalous entity whose deviations track the alarm's less than this did not move with it
WALK_UNTRACKED = 0.3


def _weigh_symptom_walk(ctx: Context, hyps: list[Hypothesis]) -> None:
    """The alarm's own signal followed down the calls (:mod:`shipwise.investigate.propagation`):
    every hypothesis on one of its root candidates gains support (a dependency-failure
    hypothesis is added where none names it); an entity whose change a dependency accounts for, or that did not move with the alarm,
    loses it."""
    walk = ctx.walk
    if walk is None:
        return
    deps = {h.entity: h for h in hyps if h.kind == "dependency_failure"}
    best = walk.best(beside=ctx.alarm.entity)
    # a weak walk (its best root barely anomalous, or hardly tracking the alarm) says little
    strength = walk.strength(beside=ctx.alarm.entity)
    # the alarm's own entity as a root says only that nothing it waits on explains it: no
    # support for any mechanism on it
    roots = [c for c in walk.roots if c.score > 0 and c.entity != ctx.alarm.entity]
    for c in roots:
        if c.entity not in deps:
            drop = metric_direction(walk.metric) < 0
            h = Hypothesis("dependency_failure", "dependency_errors" if drop else "slow_dependency",
                           c.entity, f"{c.entity} degraded and the alarm's {walk.metric} followed it")
            hyps.append(h)
            deps[c.entity] = h
        # every mechanism proposed for that entity (a change, a saturation…) gains the same
        # support: the walk says where the cause is, the other evidence says what it was
        for h in hyps:
            if h.entity == c.entity:
                h.add(walk.describe(c), round(WALK_WEIGHT * strength * c.score / best, 2), "topology",
                      _metric_ref(ctx, c.entity, walk.metric))
    # ... but where the walk ends on the alarm's own entity (nothing it waits on accounts for
    # its signal), a mechanism found on that entity itself (a hog, a change) is what it points to
    # (unless a dependency off the calls, e.g. the group it runs on, went wrong before it)
    own = next((c for c in walk.roots if c.entity == ctx.alarm.entity and c.score > 0), None)
    began = ctx.entity_onset(ctx.alarm.entity)
    first = [x for x in ctx.dependencies(ctx.alarm.entity)
             if began is not None and (ctx.entity_onset(x) or began) < began - ctx.tol()]
    if own is not None and own.score >= best and not first:
        for h in hyps:
            if h.entity == own.entity and h.kind != "dependency_failure":
                h.add(f"following the alarm's {walk.metric} down the calls from {own.entity} finds "
                      "no dependency that accounts for it: the cause is in the service itself",
                      round(WALK_WEIGHT * min(1.0, own.score / WALK_FULL), 2), "topology",
                      _metric_ref(ctx, own.entity, walk.metric))
    named = {c.entity for c in roots}
    for e, h in deps.items():
        # the walk rules out only what it saw: entities with the alarm's signal
        if named and e not in named and e != ctx.alarm.entity and e in walk.signals:
            h.add(f"following the alarm's {walk.metric} down the calls from {ctx.alarm.entity} "
                  f"does not lead to {e}", round(-2 * strength, 2), "topology")
    for e, c in walk.explained.items():
        if e in deps:
            sig, by = c.signal, walk.signals.get(c.explained_by)
            if by is None or by.z < ANOMALOUS_Z:
                text = (f"other callers of {c.explained_by}, which {e} waits on, changed alike: "
                        f"the delay is on the way to {c.explained_by}, not in {e}")
            else:
                text = (f"{c.explained_by}, which {e} waits on, changed as much on {walk.metric} "
                        f"({by.delta:+.3g} against {sig.delta:+.3g}) and accounts for it")
            deps[e].add(text, round(-2 * strength, 2), "topology")
    for e, sig in walk.signals.items():
        if (named and e in deps and e not in named and sig.z >= ANOMALOUS_Z
                and sig.tracks < WALK_UNTRACKED):
            deps[e].add(f"{e}'s {walk.metric} did not move with the alarm's (r={sig.tracks:.2f}): it was "
                        "already off, or changed on its own", round(-2 * strength, 2), "metrics")


def _explains_dependents(h: Hypothesis, ctx: Context, d: str, onset: float) -> None:
    """Support for ``d`` as the origin: anomalous dependents that started after it, and their
    timeout/unavailable errors naming it."""
    callers = sorted(x for x in ctx.dependents(d)
                     if ctx.anomalous(x) and (ctx.entity_onset(x) or 0) >= onset - ctx.tol()
                     and _accounts_for(ctx, d, x))
    if callers:
        h.add(f"it explains {len(callers)} anomalous dependent(s) whose anomaly started at or "
              f"after its own: {', '.join(callers[:5])}", min(3, len(callers)), "topology")
    _named_in_timeouts(h, ctx, d, onset)


def walked(ctx: Context, entity: str) -> bool:
    """Did the walk of the alarm's signal see ``entity`` and find a convincing root (strength
    at least one half)?"""
    w = ctx.walk
    return w is not None and entity in w.signals and w.strength(beside=ctx.alarm.entity) >= 0.5


def _named_in_timeouts(h: Hypothesis, ctx: Context, d: str, onset: float) -> None:
    named = [x for x in ctx.errors(start=onset - ctx.tol()) if x.entity != d and d in x.text
             and _TIMEOUT.search(x.text)]
    if named:
        h.add(f"{len(named)} timeout/unavailable errors naming {d} "
              f"({_top_errors(Counter(x.entity for x in named))})", 3, "logs", named[0].ref)
