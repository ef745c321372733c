"""A mitigation plan an on-call engineer can follow, in five parts — prepare, pre-validate, apply,
post-validate, roll the mitigation back — with concrete commands for the platform of the entity
at fault (Kubernetes, an instance group, a managed table), taken from the topology and the
causing event (namespace, deployment, previous version, last good pipeline run, the permission
that was revoked, the damaged instance).

Commands are suggestions to review, never run by shipwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from shipwise.investigate.hypotheses import Hypothesis
from shipwise.investigate.triage import Context

PARTS = ("prepare", "pre_validate", "apply", "post_validate", "rollback")


@dataclass(frozen=True)
class Step:
    text: str
    command: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"text": self.text, "command": self.command} if self.command else {"text": self.text}


@dataclass(frozen=True)
class Platform:
    type: str  # kubernetes | instance_group | managed | unknown
    namespace: str = "default"
    deployment: str = ""
    group: str = ""
    engine: str = ""

    @property
    def k8s(self) -> str:
        return f"kubectl -n {self.namespace}"


def platform_of(ctx: Context, entity: str) -> Platform:
    node = ctx.node(entity)
    p = node.get("platform") or {}
    if not isinstance(p, dict):
        p = {"type": str(p)}
    kind = str(p.get("type", ""))
    if kind == "kubernetes":
        return Platform("kubernetes", str(p.get("namespace", "default")), str(p.get("deployment", entity)))
    if kind == "instance_group" or ctx.kind(entity) == "instance_group":
        return Platform("instance_group", group=str(p.get("name", entity)))
    groups = [b for a, b, rel in ctx.deps.edges(data="relation") if a == entity and rel == "runs_on"]
    if groups:
        g = ctx.node(groups[0]).get("platform") or {}
        return Platform("instance_group", group=str(g.get("name", groups[0])) if isinstance(g, dict)
                        else groups[0])
    if kind == "managed" or ctx.kind(entity) in ("table", "cache", "queue"):
        return Platform("managed", engine=str(p.get("engine", "")))
    return Platform("unknown")


def mitigation_plan(h: Hypothesis, ctx: Context, validate: str,
                    inv_id: str = "") -> dict[str, list[dict[str, str]]]:
    p = platform_of(ctx, h.entity)
    builder = _BUILDERS.get(h.fault, _generic)
    parts = builder(h, ctx, p)
    parts["pre_validate"].insert(0, Step(
        f"Confirm the alarm is still firing and note its current value: {validate}"))
    parts["post_validate"].append(Step(
        f"Watch the alarm's metric return below its threshold for 10 minutes: {validate}"))
    if inv_id:
        parts["post_validate"].append(Step(
            "Check every series this investigation found anomalous is back to its pre-incident "
            "baseline (re-read from Prometheus; nothing is stored)", f"shipwise verify {inv_id}"))
    return {k: [s.as_dict() for s in parts[k]] for k in PARTS}


def _empty() -> dict[str, list[Step]]:
    return {k: [] for k in PARTS}


def _d(h: Hypothesis, key: str, default: str = "") -> str:
    return str((h.event.details if h.event else {}).get(key) or default)


def _rollback_deploy(h: Hypothesis, ctx: Context, p: Platform) -> dict[str, list[Step]]:
    prev, ver = _d(h, "previous_version", "<previous version>"), _d(h, "version", "<bad version>")
    pipeline, good = _d(h, "pipeline"), _d(h, "last_good_run")
    out = _empty()
    out["prepare"] += [
        Step(f"Announce in the incident channel: rolling {h.entity} back from {ver} to {prev}."),
        Step("Pause further deployments of the service until the rollback is verified"
             + (f" (disable pipeline {pipeline})" if pipeline else "") + "."),
    ]
    if p.type == "kubernetes":
        out["prepare"].append(Step("Record the current revision", f"{p.k8s} rollout history deployment/{p.deployment}"))
        out["pre_validate"].append(Step(
            f"Check the previous revision runs {prev} and that its pods were healthy",
            f"{p.k8s} rollout history deployment/{p.deployment} --revision=<previous>"))
        out["apply"].append(Step(f"Roll back {h.entity} to the previous revision",
                                 f"{p.k8s} rollout undo deployment/{p.deployment}"))
        out["apply"].append(Step("Wait for the rollout", f"{p.k8s} rollout status deployment/{p.deployment} --timeout=5m"))
        out["rollback"].append(Step(f"If the rollback makes things worse, roll forward to {ver} again",
                                    f"{p.k8s} rollout undo deployment/{p.deployment}"))
    else:
        run = f"gh run rerun {good}" if good else f"re-run the last good run of pipeline {pipeline or h.entity}"
        out["pre_validate"].append(Step(f"Check the last good pipeline run deployed {prev} and passed its checks"
                                        + (f" ({good})" if good else "")))
        out["apply"].append(Step(f"Re-run the last good pipeline run to redeploy {prev}", run if good else ""))
        if p.type == "instance_group":
            out["apply"].append(Step("Or refresh the instance group onto the previous launch template",
                                     f"aws autoscaling start-instance-refresh --auto-scaling-group-name {p.group} "
                                     "--desired-configuration '{\"LaunchTemplate\":{\"Version\":\"<previous>\"}}'"))
        out["rollback"].append(Step(f"If needed, redeploy {ver} through the pipeline"
                                    + (f" {pipeline}" if pipeline else "")))
    out["post_validate"].append(Step(f"Check the errors that started with {ver} stopped on {h.entity}"))
    return out


def _config_revert(h: Hypothesis, ctx: Context, p: Platform) -> dict[str, list[Step]]:
    key, old, new = _d(h, "key", "<key>"), _d(h, "old", "<old value>"), _d(h, "new", "<new value>")
    env_key = key.upper().replace(".", "_").replace("-", "_")
    out = _empty()
    out["prepare"].append(Step(f"Announce: reverting {key} on {h.entity} from {new} to {old}."))
    out["pre_validate"].append(Step(f"Check the running value of {key} is {new}"))
    if p.type == "kubernetes":
        out["apply"].append(Step(f"Revert {key}", f"{p.k8s} set env deployment/{p.deployment} {env_key}={old}"))
        out["apply"].append(Step("Wait for the rollout", f"{p.k8s} rollout status deployment/{p.deployment}"))
        out["rollback"].append(Step("Restore the new value if the revert hurts",
                                    f"{p.k8s} set env deployment/{p.deployment} {env_key}={new}"))
    else:
        out["apply"].append(Step(f"Revert {key} to {old} in the service's configuration and redeploy the config"))
        out["rollback"].append(Step(f"Set {key} back to {new}"))
    return out


def _permission_restore(h: Hypothesis, ctx: Context, p: Platform) -> dict[str, list[Step]]:
    principal = _d(h, "principal", "<principal>")
    perm = _d(h, "permission", "SELECT")
    before = (h.event.details if h.event else {}).get("policy_before")
    out = _empty()
    out["prepare"].append(Step(f"Announce: restoring {perm} on {h.entity} for {principal}; ask who revoked it "
                               f"({h.event.actor if h.event else 'see audit log'}) and why."))
    out["pre_validate"].append(Step(f"Confirm {principal} lacks {perm} on {h.entity} now (the errors say AccessDenied)"))
    if p.engine == "dynamodb" or isinstance(before, dict):
        policy = json.dumps(before) if isinstance(before, dict) else "<policy before the change>"
        out["apply"].append(Step("Put back the policy as it was before the change",
                                 f"aws dynamodb put-resource-policy --resource-arn <arn of {h.entity}> "
                                 f"--policy '{policy}'"))
        out["rollback"].append(Step("Re-apply the changed policy (only if the grant itself causes harm)"))
    else:
        table = h.entity.split(".")[-1]
        out["apply"].append(Step(f"Grant {perm} back", f"GRANT {perm} ON {table} TO {principal};"))
        out["rollback"].append(Step("Revoke it again if it was meant to go (then change the caller first)",
                                    f"REVOKE {perm} ON {table} FROM {principal};"))
    out["post_validate"].append(Step(f"Check the access-denied errors on {h.entity} stopped"))
    return out


def _replace_instance(h: Hypothesis, ctx: Context, p: Platform) -> dict[str, list[Step]]:
    inst = h.instance or "<instance>"
    out = _empty()
    out["prepare"] += [Step(f"Announce: replacing {inst} of {h.entity}, damaged by a manual session."),
                       Step(f"Keep a copy of its local state for the post-incident review ({inst})")]
    out["pre_validate"].append(Step(f"Check the other instances of {h.entity} are healthy and can take its traffic"))
    if p.type == "kubernetes":
        out["apply"].append(Step("Delete the damaged pod; its deployment starts a fresh one",
                                 f"{p.k8s} delete pod {inst}"))
    else:
        out["apply"].append(Step("Take it out of service and let the group launch a fresh one",
                                 f"aws autoscaling terminate-instance-in-auto-scaling-group --instance-id {inst} "
                                 "--no-should-decrement-desired-capacity"))
    out["rollback"].append(Step("Nothing to undo: a fresh instance replaces the damaged one; if the new one "
                                "fails too, take it out of the load balancer and escalate"))
    out["post_validate"].append(Step(f"Check the errors were only on {inst} and stopped with it"))
    return out


def _churn_fix(h: Hypothesis, ctx: Context, p: Platform) -> dict[str, list[Step]]:
    g = p.group or h.entity
    out = _empty()
    out["prepare"].append(Step(f"Announce: stopping health-check replacements on {g} while the check is fixed."))
    out["pre_validate"].append(Step("Check the instances serve traffic even though the health check fails",
                                    f"aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names {g}"))
    out["apply"].append(Step("Stop replacing instances", f"aws autoscaling suspend-processes "
                             f"--auto-scaling-group-name {g} --scaling-processes ReplaceUnhealthy"))
    if h.event is not None:
        out["apply"].append(Step(f"Revert the change that broke the health check: {h.event.summary}"))
    out["apply"].append(Step("Resume replacements once the check passes", f"aws autoscaling resume-processes "
                             f"--auto-scaling-group-name {g} --scaling-processes ReplaceUnhealthy"))
    out["rollback"].append(Step("Resume replacements immediately if unhealthy instances keep serving errors",
                                f"aws autoscaling resume-processes --auto-scaling-group-name {g}"))
    out["post_validate"].append(Step(f"Check no more instances of {g} are terminated for failing health checks"))
    return out


def _scale_out(h: Hypothesis, ctx: Context, p: Platform) -> dict[str, list[Step]]:
    out = _empty()
    out["prepare"].append(Step(f"Announce: scaling {h.entity} out to absorb the load."))
    out["pre_validate"].append(Step(f"Check {h.entity}'s dependencies have headroom for more instances"))
    if p.type == "kubernetes":
        out["apply"].append(Step("Double the replicas", f"{p.k8s} scale deployment/{p.deployment} --replicas=<2× current>"))
        out["rollback"].append(Step("Scale back when traffic is normal",
                                    f"{p.k8s} scale deployment/{p.deployment} --replicas=<previous>"))
    else:
        g = p.group or h.entity
        out["apply"].append(Step("Raise desired capacity", f"aws autoscaling set-desired-capacity "
                                 f"--auto-scaling-group-name {g} --desired-capacity <2× current>"))
        out["rollback"].append(Step("Return to the previous capacity", f"aws autoscaling set-desired-capacity "
                                    f"--auto-scaling-group-name {g} --desired-capacity <previous>"))
    out["apply"].append(Step("If the surge is abusive, rate-limit it at the gateway"))
    out["post_validate"].append(Step(f"Check {h.entity} CPU is below 70 % and latency back to normal"))
    return out


def _restart_leak(h: Hypothesis, ctx: Context, p: Platform) -> dict[str, list[Step]]:
    out = _rollback_deploy(h, ctx, p) if h.event is not None else _empty()
    out["prepare"].insert(0, Step(f"Announce: restarting {h.entity} to release leaked memory (stop-gap)."))
    if p.type == "kubernetes":
        out["apply"].insert(0, Step("Rolling restart", f"{p.k8s} rollout restart deployment/{p.deployment}"))
    else:
        out["apply"].insert(0, Step("Replace instances one at a time",
                                    f"aws autoscaling start-instance-refresh --auto-scaling-group-name {p.group or h.entity}"))
    out["post_validate"].append(Step(f"Check {h.entity} memory stops climbing (it will if the leak came with the rollback)"))
    return out


def _relieve_hog(h: Hypothesis, ctx: Context, p: Platform) -> dict[str, list[Step]]:
    """A CPU or memory hog on the entity: find the process, stop or restart it, keep headroom."""
    what = "memory" if h.fault == "memory_hog" else "CPU"
    out = _empty()
    out["prepare"].append(Step(f"Announce: {h.entity} is starved of {what}; restarting its busiest "
                               "instance and adding headroom."))
    if p.type == "kubernetes":
        out["pre_validate"].append(Step(f"Find the pod and process using the {what}",
                                        f"{p.k8s} top pod --containers | grep {p.deployment}"))
        out["apply"].append(Step("Restart the starved pods one at a time",
                                 f"{p.k8s} rollout restart deployment/{p.deployment}"))
        out["apply"].append(Step(f"If the {what} use is real load, add replicas",
                                 f"{p.k8s} scale deployment/{p.deployment} --replicas=<current + 1>"))
        out["rollback"].append(Step("Return to the previous replica count when the use is normal",
                                    f"{p.k8s} scale deployment/{p.deployment} --replicas=<previous>"))
    else:
        out["pre_validate"].append(Step(f"Find the process using the {what} on {h.entity}'s hosts",
                                        "top -o %CPU" if what == "CPU" else "top -o %MEM"))
        if p.type == "instance_group":
            out["apply"].append(Step("Stop the runaway process, or replace the instances",
                                     f"aws autoscaling start-instance-refresh "
                                     f"--auto-scaling-group-name {p.group or h.entity}"))
            out["rollback"].append(Step("Cancel the refresh if fresh instances fail their checks",
                                        f"aws autoscaling cancel-instance-refresh "
                                        f"--auto-scaling-group-name {p.group or h.entity}"))
        else:
            out["apply"].append(Step("Stop the runaway process, or restart the service's instances "
                                     "one at a time"))
            out["rollback"].append(Step("Bring back any instance that fails its health check after "
                                        "the restart"))
    out["post_validate"].append(Step(f"Check {h.entity}'s {what} use and latency are back to normal"))
    return out

def _network_delay(h: Hypothesis, ctx: Context, p: Platform) -> dict[str, list[Step]]:
    """Calls to and from the entity are slow on the way: check its network, move it off the
    path (another node), and fail traffic over where it can."""
    out = _empty()
    out["prepare"].append(Step(f"Announce: calls to and from {h.entity} are delayed in the network; "
                               "moving its instances and checking the path."))
    if p.type == "kubernetes":
        out["pre_validate"].append(Step(f"Find the nodes {h.entity}'s pods run on",
                                        f"{p.k8s} get pods -o wide | grep {p.deployment}"))
        out["pre_validate"].append(Step("Look for shaping, drops and retransmits on those pods and nodes",
                                        f"{p.k8s} exec deploy/{p.deployment} -- sh -c 'tc qdisc show; "
                                        "cat /proc/net/snmp | grep -i retrans'"))
        out["apply"].append(Step("Cordon the suspect node and reschedule the pods onto others",
                                 f"{p.k8s} cordon <node> && {p.k8s} rollout restart deployment/{p.deployment}"))
        out["rollback"].append(Step("Uncordon the node once its network is fixed",
                                    f"{p.k8s} uncordon <node>"))
    else:
        out["pre_validate"].append(Step(f"Check {h.entity}'s hosts for traffic shaping, packet loss and "
                                        "retransmits", "tc qdisc show; ss -ti; netstat -s | grep -i retrans"))
        out["apply"].append(Step(f"Take {h.entity}'s slow instances out of the load balancer, or "
                                 "replace them"))
        out["rollback"].append(Step("Put the instances back once their network is healthy"))
    out["post_validate"].append(Step(f"Check the latency of the calls to and from {h.entity}, as "
                                     "their callers see them, is back to normal"))
    return out


def _dependency(h: Hypothesis, ctx: Context, p: Platform) -> dict[str, list[Step]]:
    out = _empty()
    callers = sorted(x for x in ctx.dependents(h.entity) if ctx.anomalous(x))
    out["prepare"].append(Step(f"Announce: {h.entity} is degraded; page its owner"
                               + (f" ({ctx.node(h.entity).get('team')})" if ctx.node(h.entity).get("team") else "")))
    out["pre_validate"].append(Step(f"Check {h.entity}'s own health (saturation, locks, throttling) and its recent changes"))
    if ctx.kind(h.entity) == "table":
        out["apply"].append(Step("Find and stop the blocking queries",
                                 "SELECT pid, state, wait_event, query FROM pg_stat_activity WHERE wait_event IS NOT NULL;"))
    out["apply"].append(Step("Shed load on the callers: open their circuit breakers / serve degraded "
                             f"responses ({', '.join(callers[:4]) or 'callers'})"))
    out["rollback"].append(Step("Close the circuit breakers once the dependency is healthy"))
    out["post_validate"].append(Step(f"Check {h.entity}'s latency and errors are back to their normal range"))
    return out


def _generic(h: Hypothesis, ctx: Context, p: Platform) -> dict[str, list[Step]]:
    out = _dependency(h, ctx, p)
    return out


_BUILDERS = {
    "bad_deploy": _rollback_deploy, "config_change": _config_revert,
    "permission_revoked": _permission_restore, "manual_host_session": _replace_instance,
    "instance_churn": _churn_fix, "traffic_surge": _scale_out, "memory_leak": _restart_leak,
    "slow_dependency": _dependency, "queue_backlog": _scale_out,
    "cpu_hog": _relieve_hog, "memory_hog": _relieve_hog, "network_delay": _network_delay,
}


def platform_summary(ctx: Context, entity: str) -> dict[str, Any]:
    p = platform_of(ctx, entity)
    return {k: v for k, v in p.__dict__.items() if v}
