"""Customer impact of an incident: failure rates per service and distinct customers affected.

Failure rates come from the ``error_rate`` metric (mean in the hour before the onset against the
impact window) and, when there are traces, from spans: a request (trace) failed when any of its
spans failed; its customer is the ``customer.id`` on its spans. Customer ids are pseudonymous
already; only their count leaves this module.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shipwise.investigate.triage import Context


def customer_impact(ctx: Context) -> dict[str, Any]:
    start, end = ctx.onset, ctx.end
    services: list[dict[str, Any]] = []
    for (entity, metric), s in sorted(ctx.evidence.metrics.items()):
        if metric != "error_rate" or ctx.kind(entity) == "instance":
            continue
        before = s.values[(s.timestamps >= start - 3600) & (s.timestamps < start)]
        during = s.values[(s.timestamps >= start) & (s.timestamps <= end)]
        if not during.size:
            continue
        b, d = float(np.mean(before)) if before.size else 0.0, float(np.mean(during))
        peak = float(np.max(during))
        if peak >= max(0.01, 3 * b) or ctx.anomalous(entity):
            services.append({"entity": entity, "error_rate_before": round(b, 4),
                             "error_rate_during": round(d, 4), "error_rate_peak": round(peak, 4)})
    services.sort(key=lambda r: (-r["error_rate_during"], r["entity"]))
    out: dict[str, Any] = {
        "window": {"start": start, "end": end, "minutes": round((end - start) / 60, 1)},
        "services": services,
    }
    sp = ctx.evidence.spans
    if len(sp):
        w = (sp.start >= start) & (sp.start <= end)
        traces = sp.trace_id[w]
        failed_traces = set(traces[sp.error[w]].tolist())
        all_traces = set(traces.tolist())
        cust = sp.customer[w]
        has_cust = cust != ""
        failed_mask = np.isin(traces, list(failed_traces)) & has_cust
        out["traces"] = {
            "requests": len(all_traces), "failed_requests": len(failed_traces),
            "failure_rate": round(len(failed_traces) / len(all_traces), 4) if all_traces else 0.0,
            "customers_seen": len(set(cust[has_cust].tolist())),
            "customers_affected": len(set(cust[failed_mask].tolist())),
        }
        per_service: dict[str, dict[str, int]] = {}
        for svc, err in zip(sp.service[w].tolist(), sp.error[w].tolist(), strict=True):
            row = per_service.setdefault(str(svc), {"spans": 0, "failed": 0})
            row["spans"] += 1
            row["failed"] += int(err)
        out["traces"]["services"] = [
            {"service": k, "spans": v["spans"], "failed": v["failed"],
             "failure_rate": round(v["failed"] / v["spans"], 4)}
            for k, v in sorted(per_service.items(), key=lambda kv: -kv[1]["failed"]) if v["failed"]]
    return out


def impact_summary(impact: dict[str, Any]) -> str:
    parts = []
    t = impact.get("traces")
    if t:
        parts.append(f"{t['failed_requests']} of {t['requests']} sampled requests failed "
                     f"({t['failure_rate']:.1%}); {t['customers_affected']} distinct customers "
                     f"affected of {t['customers_seen']} seen")
    for s in impact["services"][:3]:
        parts.append(f"{s['entity']} error rate {s['error_rate_during']:.1%} "
                     f"(peak {s['error_rate_peak']:.1%}, normally {s['error_rate_before']:.1%})")
    if not parts:
        return "no failed requests observed"
    return "; ".join(parts) + f" over {impact['window']['minutes']:.0f} min"
