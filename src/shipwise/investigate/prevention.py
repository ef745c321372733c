"""What a recurring pattern recommends (SPEC C6): its category, title, rationale and the concrete
change, written from the pattern's facts (no LLM), and its priority from the incidents' cost.

The patterns themselves are found in the store (:mod:`shipwise.store.prevention`); this module is
pure: a pattern in, the words and the priority out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

CATEGORIES = ("governance", "infrastructure", "observability", "pipeline")
PRIORITIES = ("high", "medium", "low")
STATUSES = ("open", "accepted", "dismissed", "done")


@dataclass(frozen=True)
class Rule:
    category: str
    title: Callable[[dict[str, Any]], str]
    rationale: Callable[[dict[str, Any]], str]
    change: Callable[[dict[str, Any]], str]


def _n(p: dict[str, Any]) -> str:
    n = int(p["occurrences"])
    return f"{n} incident{'s' if n != 1 else ''}"


def _span(p: dict[str, Any]) -> str:
    first, last = p.get("first_at"), p.get("last_at")
    if first is None or last is None:
        return ""
    return f" between {str(first)[:10]} and {str(last)[:10]}"


def _confirmed(p: dict[str, Any]) -> str:
    marked = [i for i in p["incidents"] if i.get("verdict")]
    right = sum(1 for i in marked if i["verdict"] == "right")
    if not marked:
        return ""
    return f" Responders confirmed the root cause in {right} of {len(marked)} marked."


RULES: dict[str, Rule] = {
    "permission": Rule(
        "governance",
        lambda p: f"Lock down {p['detail'] or 'the permission'} on {p['service']}",
        lambda p: (f"{_n(p)}{_span(p)} were caused by {p['detail'] or 'a permission'} on "
                   f"{p['service']} being revoked or changed by hand.{_confirmed(p)}"),
        lambda p: (f"Manage {p['detail'] or 'the permissions'} of {p['service']} as code (IAM "
                   "policy in the repository, changed only through review), deny manual "
                   "changes with a guardrail (SCP / admission policy), and alarm on any change "
                   "to it.")),
    "config": Rule(
        "governance",
        lambda p: f"Put {p['service']}'s configuration changes through review and validation",
        lambda p: f"{_n(p)}{_span(p)} on {p['service']} followed a configuration change.{_confirmed(p)}",
        lambda p: (f"Move {p['service']}'s runtime configuration into version control, validate "
                   "it in CI (schema and a canary), roll it out progressively, and allow "
                   "out-of-band edits only through a break-glass procedure that is logged.")),
    "manual": Rule(
        "governance",
        lambda p: f"Stop manual sessions on {p['service']}'s hosts",
        lambda p: (f"{_n(p)}{_span(p)} on {p['service']} followed an interactive session on one "
                   f"of its hosts that changed local state.{_confirmed(p)}"),
        lambda p: (f"Remove standing shell access to {p['service']}'s hosts; run operational "
                   "tasks as reviewed runbook automation (e.g. SSM documents, jobs), and grant "
                   "break-glass access time-limited and logged.")),
    "churn": Rule(
        "infrastructure",
        lambda p: f"Keep {p['service']}'s instances in service during replacement",
        lambda p: (f"{_n(p)}{_span(p)}: instances of {p['service']} kept failing health checks "
                   f"and were replaced, taking capacity with them.{_confirmed(p)}"),
        lambda p: (f"For {p['service']}: set a minimum healthy percentage of 100 % during "
                   "replacements (launch before terminate), a health-check grace period longer "
                   "than start-up, and a readiness probe separate from liveness.")),
    "capacity": Rule(
        "infrastructure",
        lambda p: f"Give {p['service']} headroom for its traffic",
        lambda p: (f"{_n(p)}{_span(p)}: {p['service']} saturated (CPU, memory or a growing backlog) under "
                   f"its load.{_confirmed(p)}"),
        lambda p: (f"Autoscale {p['service']} on its saturation signal (CPU, queue depth) with a "
                   "minimum that covers the observed peak, load-test to that peak, and shed or "
                   "queue load beyond it.")),
    "memory": Rule(
        "infrastructure",
        lambda p: f"Fix the memory growth of {p['service']}",
        lambda p: f"{_n(p)}{_span(p)}: {p['service']} ran out of memory as it grew steadily.{_confirmed(p)}",
        lambda p: (f"Set a memory limit and alarm at 80 % of it for {p['service']}, profile the "
                   "heap under production-like load, and add a soak test to the pipeline.")),
    "network": Rule(
        "infrastructure",
        lambda p: f"Detect and route around network delays at {p['service']}",
        lambda p: (f"{_n(p)}{_span(p)}: calls to and from {p['service']} were delayed on the way "
                   f"while its own work stayed fast.{_confirmed(p)}"),
        lambda p: (f"Alarm on the latency of calls to {p['service']} as their callers see them "
                   "(not only its own), monitor its nodes' drops and retransmits, cordon a node "
                   "whose network degrades, and give callers timeouts that retry on another "
                   "instance.")),
    "dependency": Rule(
        "infrastructure",
        lambda p: f"Isolate {p['service']}'s dependents from its failures",
        lambda p: (f"{_n(p)}{_span(p)} spread from {p['service']} degrading to the services "
                   f"that call it.{_confirmed(p)}"),
        lambda p: (f"Give the callers of {p['service']} timeouts below their own SLO, retries "
                   "with backoff and a budget, and a circuit breaker; run more than one "
                   f"instance of {p['service']} across zones.")),
    "deploy": Rule(
        "pipeline",
        lambda p: f"Stop bad deployments of {p['service']} reaching customers",
        lambda p: (f"{_n(p)}{_span(p)} on {p['service']} were caused by a deployment."
                   f"{_confirmed(p)}"),
        lambda p: (f"In {p['service']}'s pipeline: roll back automatically when its alarms fire "
                   "within a bake time after a deployment (e.g. 30 min), deploy progressively "
                   "(canary first), and add a regression test for each of these incidents "
                   "before closing it.")),
    "preprod": Rule(
        "pipeline",
        lambda p: f"Add a pre-production stage to {p['service']}'s pipeline",
        lambda p: (f"{_n(p)}{_span(p)} on {p['service']} were caused by deployments, and "
                   f"{p['service']} is only ever deployed to production."),
        lambda p: (f"Deploy {p['service']} to a staging environment with production-like data "
                   "and traffic first, run its integration tests there, and promote the same "
                   "artifact to production only when they pass.")),
    "gap": Rule(
        "observability",
        lambda p: f"Connect {p['detail']} for {p['service']}",
        lambda p: (f"{_n(p)}{_span(p)} on {p['service']} were investigated without "
                   f"{p['detail']}: the investigations could not see that evidence."),
        lambda p: {
            "metrics": (f"Export {p['service']}'s RED metrics (rate, errors, duration) and "
                        "saturation to Prometheus and set investigate.sources.prometheus.url in "
                        "shipwise.yaml."),
            "logs": (f"Ship {p['service']}'s logs as JSON lines and set "
                     "investigate.sources.logs.paths in shipwise.yaml."),
            "topology": (f"Instrument {p['service']} with OpenTelemetry tracing (or describe "
                         "its dependencies in a topology.json) so its callers and dependencies "
                         "are known."),
            "changes": (f"Record {p['service']}'s deployments and configuration changes "
                        "(import or sync them into the store) so changes before an incident "
                        "are seen."),
        }.get(str(p["detail"]), f"Connect {p['detail']} for {p['service']}.")),
    "no_slo": Rule(
        "observability",
        lambda p: f"Define an SLO for {p['service']}",
        lambda p: (f"{_n(p)}{_span(p)} hit {p['service']}, which has no SLO: nobody can tell how "
                   "much of its error budget they cost or when to stop releasing."),
        lambda p: (f"Define an availability (and latency) SLO for {p['service']} from its "
                   "request metrics, import its SLIs, and alert on burn rate instead of "
                   "thresholds.")),
    "silent": Rule(
        "observability",
        lambda p: f"Alarm on {p['service']} before people notice",
        lambda p: (f"{_n(p)}{_span(p)} on {p['service']} were opened with no alarm firing "
                   "from an hour before to half an hour after: its alarms never fire when it "
                   "matters, or it has none."),
        lambda p: (f"Add an alarm on {p['service']}'s customer-facing error rate and latency "
                   "(burn rate of its SLO), routed to shipwise's alarm webhook, and check it "
                   "fires by replaying one of these incidents.")),
    "flapping": Rule(
        "observability",
        lambda p: f"Stop the {p['detail'] or 'alarm'} alarm on {p['service']} flapping",
        lambda p: (f"The {p['detail'] or ''} alarm on {p['service']} fired {p['occurrences']} "
                   f"times{_span(p)}, up to {p.get('extra') or '?'} within one day: alarms "
                   "that flap get ignored."),
        lambda p: (f"Give the {p['detail'] or ''} alarm on {p['service']} a pending duration "
                   "(e.g. `for: 10m`), hysteresis between firing and resolving thresholds, or "
                   "replace it with an SLO burn-rate alert.")),
}


def priority(cost: float, *, high: float, medium: float) -> str:
    """``high`` from ``high`` customer-hours of cost up, ``medium`` from ``medium``."""
    return "high" if cost >= high else "medium" if cost >= medium else "low"


def recommend(pattern: dict[str, Any], *, high: float, medium: float) -> dict[str, Any]:
    """The recommendation a pattern makes, under its stable key."""
    rule = RULES[pattern["rule"]]
    return {**pattern, "key": f"{rule.category}:{pattern['rule']}:{pattern['subject']}",
            "category": rule.category, "title": rule.title(pattern),
            "rationale": rule.rationale(pattern), "change": rule.change(pattern),
            "cost": round(float(pattern["cost"]), 3),
            "priority": priority(float(pattern["cost"]), high=high, medium=medium)}
