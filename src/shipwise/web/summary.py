"""The team page's summary, shown first: what changed since the previous period and what needs
attention — derived only from the figures the page already read (DORA, flow, strain, SLOs, the
release appetite, the cost flags), so it can never say more than the sections below it.

A change is *noticeable* when it is large enough to read as more than noise on one period:
a percentage moved by at least :data:`PP` percentage points, a count by at least
:data:`COUNT_STEP` and :data:`RELATIVE`, anything else by at least :data:`RELATIVE` of its
previous value. Hidden figures (too few people, or not for the role) are never compared."""

from __future__ import annotations

from typing import Any

from shipwise.metrics import ids
from shipwise.metrics.registry import REGISTRY
from shipwise.web.render import duration_in, fmt, title

#: thresholds of a noticeable change between two periods
RELATIVE = 0.15
PP = 0.02
COUNT_STEP = 2
#: where each family's figures are on the page
ANCHOR = {"dora": "#dora-h", "flow": "#flow-h", "strain": "#strain-h", "slo": "#slo-h",
          "cost": "#flags-h"}


def _hidden(row: dict[str, Any], metric_id: str) -> bool:
    return bool((row.get("suppressed") or {}).get(metric_id)
                or (row.get("withheld") or {}).get(metric_id))


def _value(row: dict[str, Any], metric_id: str) -> float | None:
    v = (row.get("metrics") or {}).get(metric_id)
    if v is None or isinstance(v, str) or _hidden(row, metric_id):
        return None
    return float(v)


def change(metric_id: str, before: float, after: float) -> dict[str, Any] | None:
    """A noticeable change of one metric between two periods, worded; None when it is not."""
    m = REGISTRY[metric_id]
    delta = after - before
    if delta == 0:
        return None
    if m.format == "percent":
        if abs(delta) < PP:
            return None
        size = f"{'+' if delta > 0 else '−'}{abs(delta) * 100:.1f} pp"
    else:
        if before == 0 or abs(delta) / abs(before) < RELATIVE:
            return None
        if m.format == "count" and abs(delta) < COUNT_STEP:
            return None
        size = f"{'+' if delta > 0 else '−'}{abs(delta) / abs(before):.0%}"
    tone = "flat" if m.better is None else (
        "good" if (delta > 0) == (m.better == "higher") else "bad")
    verb = "rose" if delta > 0 else "fell"
    if m.format == "duration":  # both in one unit: "from 23.6 h to 36.0 h", not "to 1.5 d"
        unit = "d" if max(before, after) >= 1.5 * 86400 else "h"
        was, now = duration_in(before, unit), duration_in(after, unit)
    else:
        was, now = fmt(before, metric_id), fmt(after, metric_id)
    return {"metric": metric_id, "family": m.family, "tone": tone,
            "before": before, "after": after, "size": size,
            "text": f"{title(metric_id)} {verb} from {was} to {now} ({size})",
            "weight": abs(delta) * 10 if m.format == "percent" else abs(delta) / abs(before)}


def _changes(rows: list[dict[str, Any]], metric_ids: tuple[str, ...]) -> list[dict[str, Any]]:
    if len(rows) < 2:
        return []
    now, then = rows[-1], rows[-2]
    out = []
    for m in metric_ids:
        a, b = _value(now, m), _value(then, m)
        if a is None or b is None:
            continue
        c = change(m, b, a)
        if c is not None:
            out.append({**c, "period": now["period"], "previous": then["period"]})
    return out


def _attention(page: dict[str, Any], worse: list[dict[str, Any]]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for s in page["slo"]["slos"]:
        budget = s["budget_remaining"]
        if budget["value"] is not None and not budget["hidden"] and budget["value"] <= 0:
            items.append({"text": f"SLO {s['slo']} has spent its error budget "
                                  f"({fmt(budget['value'], ids.ERROR_BUDGET_REMAINING)} left): "
                                  "the error-budget policy slows releases to protect users.",
                          "href": ANCHOR["slo"], "tone": "bad"})
        if s["alert_state"] in ("page", "ticket"):
            items.append({"text": f"SLO {s['slo']}: {s['alert_text']} — the error budget is "
                                  "burning faster than the objective allows.",
                          "href": ANCHOR["slo"], "tone": "bad"})
    appetite = page["slo"].get("appetite") or {}
    if appetite.get("appetite") not in (None, "full"):
        items.append({"text": appetite.get("sentence") or
                      f"Release appetite: {appetite.get('appetite')}.",
                      "href": ANCHOR["slo"], "tone": "warn"})
    period = page["cost"]["rows"][-1]["period"] if page["cost"]["rows"] else None
    for f in page["flags"]:
        if f["period"] == period:
            items.append({"text": f"Cost, {f['period']}: {f['message']}", "href": ANCHOR["cost"],
                          "tone": "warn"})
    age = page["flow"]["open_pr_age"]
    old = next((b["count"] for b in age.get("buckets") or [] if b["key"] == "ge_14d"), 0)
    if old:
        items.append({"text": f"{old} open pull request{'s are' if old != 1 else ' is'} 14 days "
                              f"old or more at the end of {age['period']}.",
                      "href": ANCHOR["flow"], "tone": "warn"})
    items += [{"text": c["text"] + f" since {c['previous']}.", "href": ANCHOR[c["family"]],
               "tone": "bad", "metric": c["metric"]} for c in worse]
    return items


def team_summary(page: dict[str, Any], dora_ids: tuple[str, ...], flow_ids: tuple[str, ...],
                 strain_ids: tuple[str, ...]) -> dict[str, Any]:
    """The summary of a team page (the dict :func:`shipwise.web.pages.team` builds): the
    noticeable changes since the previous period, worse first, and what needs attention."""
    diag = page["diagnostics"]
    found = (_changes(page["dora"]["rows"], dora_ids)
             + _changes(diag["flow"]["rows"], flow_ids)
             + _changes(diag["strain"]["rows"], strain_ids))
    found.sort(key=lambda c: -c["weight"])
    worse = [c for c in found if c["tone"] == "bad"]
    better = [c for c in found if c["tone"] == "good"]
    other = [c for c in found if c["tone"] == "flat"]
    rows = page["dora"]["rows"]
    compared = len(dora_ids) + len(flow_ids) + len(strain_ids)
    return {"period": page["period"], "previous": rows[-2]["period"] if len(rows) > 1 else None,
            "attention": _attention(page, worse), "better": better, "other": other,
            "compared": compared, "steady": compared - len(found),
            "thresholds": {"relative": RELATIVE, "pp": PP, "count": COUNT_STEP}}
