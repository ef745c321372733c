"""The long-term fix, written as a markdown spec that a person or a coding agent can act on:
context, the problem, requirements with acceptance criteria, where to change, how to verify."""

from __future__ import annotations

from shipwise.investigate.hypotheses import Hypothesis
from shipwise.investigate.rank import clock

_REQUIREMENTS = {
    "bad_deploy": [
        "Changes to serialised formats stay backward and forward compatible for one release "
        "(readers accept the old and the new shape; writers keep the old shape until every reader "
        "is upgraded).",
        "A contract test reads data written by the previous release (e.g. cached entries) and fails "
        "the build when it cannot.",
        "The pipeline deploys to a pre-production stage and a canary first, and rolls back "
        "automatically when the canary's error rate exceeds the service's SLO.",
    ],
    "config_change": [
        "Configuration changes go through review and the same pipeline as code, with validation "
        "of ranges (e.g. pool sizes and timeouts) before they apply.",
        "Config rollouts are gradual (one instance, then a fraction) with automatic revert on "
        "error-rate or latency regressions.",
    ],
    "permission_revoked": [
        "Permissions on production data stores are managed as code; a manual change is detected "
        "and reverted (drift detection) or needs two-person approval.",
        "An alarm fires on any access-denied error from a service principal within one minute.",
        "Document which principals need which permissions on the resource, next to its policy.",
    ],
    "manual_host_session": [
        "Interactive sessions on production hosts are replaced by audited, pre-approved runbook "
        "automation; break-glass access is time-boxed and reviewed.",
        "Local state that can be corrupted (caches, SQLite files) is validated at start-up and "
        "rebuilt automatically when corrupt.",
        "A per-instance error-rate alarm takes an outlier instance out of service automatically.",
    ],
    "instance_churn": [
        "Health-check changes ship with a test that runs the check against a started instance "
        "in the pipeline.",
        "Instance replacement keeps a minimum in service (e.g. min healthy percentage 90 %) so a "
        "broken check cannot replace every instance at once.",
        "Post-deployment health validation rolls back automatically when new instances fail "
        "their checks.",
    ],
    "traffic_surge": [
        "Auto-scaling on CPU and request rate with enough headroom to absorb a 2× surge within "
        "the scaling delay.",
        "Rate limits and load shedding at the gateway protect the saturated service.",
        "Known traffic events (campaigns) are announced to the owning team with capacity planned.",
    ],
    "memory_leak": [
        "Find and fix the leak (heap profile of the current release against the previous one).",
        "A soak test in the pipeline fails when memory grows steadily over an hour at constant load.",
        "A memory alarm fires on a sustained climb, before the out-of-memory kills.",
    ],
    "cpu_hog": [
        "Every container has CPU requests and limits, so one process cannot starve its "
        "neighbours or itself of the node.",
        "A CPU saturation alarm (throttling or use near the limit) fires on the service before "
        "its latency does.",
        "Batch and background work runs apart from the request path (its own pool or workload).",
    ],
    "memory_hog": [
        "Every container has memory requests and limits, and the process is sized for them "
        "(heap limits below the container limit).",
        "A memory alarm fires on use near the limit, before the out-of-memory kills.",
        "Caches and buffers are bounded; a load test checks memory at peak traffic.",
    ],
    "network_delay": [
        "Per-call latency as the callers see it (a mesh's source-reported request durations) is "
        "alerted on, beside each service's own latency, so time lost on the way shows as such.",
        "Callers use timeouts below their latency budget and retry on another instance.",
        "Nodes' network health (drops, retransmits, shaping) is monitored, and a node that "
        "degrades is cordoned automatically.",
    ],
    "slow_dependency": [
        "Callers use timeouts below their own latency budget, retries with backoff and a circuit "
        "breaker around the dependency.",
        "The dependency has latency and saturation alarms of its own, owned by its team.",
        "Capacity and query plans of the dependency are reviewed (slow queries, locks).",
    ],
    "queue_backlog": [
        "The consumer scales on queue depth and age of the oldest message.",
        "Poison messages go to a dead-letter queue instead of blocking the consumer.",
    ],
}


def fix_spec(h: Hypothesis, alarm_entity: str, impact_line: str, evidence: list[str]) -> str:
    title = {
        "bad_deploy": f"Make {h.entity}'s deployments safe against incompatible changes",
        "config_change": f"Guard configuration changes of {h.entity}",
        "permission_revoked": f"Lock down and monitor permissions on {h.entity}",
        "manual_host_session": f"Remove manual changes on {h.entity}'s hosts",
        "instance_churn": f"Stop broken health checks from churning {h.entity}",
        "traffic_surge": f"Give {h.entity} headroom and protection against traffic surges",
        "memory_leak": f"Fix the memory leak in {h.entity}",
        "cpu_hog": f"Keep {h.entity} from being starved of CPU",
        "memory_hog": f"Keep {h.entity} from being starved of memory",
        "slow_dependency": f"Contain failures of {h.entity} in its callers",
        "network_delay": f"Detect and route around network delays at {h.entity}",
        "queue_backlog": f"Keep {h.entity} ahead of its queue",
    }.get(h.fault, f"Prevent a recurrence on {h.entity}")
    lines = [f"# {title}", "", "## Context", "",
             f"An alarm on `{alarm_entity}` was investigated. Root cause: {h.statement}.",
             f"Impact: {impact_line}.", ""]
    if evidence:
        lines += ["Evidence:", "", *[f"- {e}" for e in evidence], ""]
    ev = h.event
    if ev is not None:
        lines += ["## The change involved", "",
                  f"- {ev.kind.replace('_', ' ')} `{ev.id}` at {clock(ev.time)} UTC on `{ev.entity}`"
                  + (f" by `{ev.actor}`" if ev.actor else "") + f": {ev.summary}"]
        files = ev.details.get("files") or []
        if files:
            lines.append("- files: " + ", ".join(f"`{f}`" for f in files))
        if ev.details.get("key"):
            lines.append(f"- key `{ev.details['key']}`: `{ev.details.get('old')}` → `{ev.details.get('new')}`")
        diff = str(ev.details.get("diff") or "")
        if diff:
            lines += ["", "```diff", diff[:3000].rstrip(), "```"]
        lines.append("")
    lines += ["## Requirements", ""]
    lines += [f"{i}. {r}" for i, r in enumerate(_REQUIREMENTS.get(h.fault, [
        "Find why this failure was possible and add the guard that makes it impossible or "
        "self-healing."]), start=1)]
    lines += ["", "## Acceptance criteria", "",
              "- A test reproduces this failure mode and fails on the code before the fix.",
              "- The same change shipped again is stopped before production or rolled back "
              "automatically within 5 minutes, without a page.",
              f"- The alarm on `{alarm_entity}` would not fire for this cause again.", "",
              "## Out of scope", "", "- Blame: this spec is about the system, not about who made the change.",
              ""]
    return "\n".join(lines)
