"""The weekly team digest: one team's last week against its own past weeks (DORA, flow, strain,
SLO error budget), as Slack blocks (docs/notifications.md, "Weekly digest").

Never a ranking: the digest names one team and no person, and compares the team only with
itself. Figures the doors withheld (groups under the charter's minimum) stay withheld: the
digest says a figure is hidden and why, and a past week whose figure was hidden is left out of
the usual value.
"""

from __future__ import annotations

import statistics
from datetime import date, timedelta
from typing import Any

from shipwise.metrics import ids
from shipwise.metrics.formatting import WEB, render
from shipwise.metrics.registry import get

#: the figures each family contributes (registry ids; labels and formats come from the registry)
DIGEST_METRICS: dict[str, tuple[str, ...]] = {
    "dora": (ids.DEPLOYMENT_FREQUENCY, ids.CHANGE_LEAD_TIME, ids.CHANGE_FAIL_RATE,
             ids.FAILED_DEPLOYMENT_RECOVERY_TIME),
    "flow": (ids.CYCLE_TIME, ids.REVIEW_LATENCY, ids.WORK_IN_PROGRESS, ids.BLOCKED_RATIO),
    "strain": (ids.AFTER_HOURS_PAGES, ids.OUT_OF_HOURS_SHARE, ids.INCIDENT_BURDEN),
}
#: a week's value this close to the usual (relative) reads "as usual"
SAME = 0.10
#: fewer past weeks with a figure than this: no usual value
MIN_HISTORY = 3


def week_of(d: date) -> str:
    y, w, _ = d.isocalendar()
    return f"{y}-W{w:02d}"


def last_full_week(until: date, today: date) -> str:
    """The last ISO week that ended on or before ``min(until, today)`` (ends on a Sunday)."""
    end = min(until, today)
    sunday = end - timedelta(days=(end.isoweekday() % 7))
    return week_of(sunday)


def compare(rows: list[dict[str, Any]], metric_ids: tuple[str, ...], week: str,
            weeks: int) -> list[dict[str, Any]]:
    """Per metric: this week's value, the usual one (median of the ``weeks`` weeks before,
    leaving out weeks without a figure), and how it moved in the metric's own terms."""
    periods = sorted({str(r["period"]) for r in rows})
    by = {str(r["period"]): r for r in rows}
    past = [p for p in periods if p < week][-weeks:]
    out = []
    for mid in metric_ids:
        m = get(mid)
        row = by.get(week) or {}
        hidden = (row.get("suppressed") or {}).get(mid) or (row.get("withheld") or {}).get(mid)
        value = None if hidden else (row.get("metrics") or {}).get(mid)
        history = [float(v) for p in past
                   if not ((by[p].get("suppressed") or {}).get(mid))
                   and isinstance(v := (by[p].get("metrics") or {}).get(mid), (int, float))]
        usual = statistics.median(history) if len(history) >= MIN_HISTORY else None
        out.append({"metric": mid, "label": m.title, "value": value,
                    "shown": render(m, value, WEB) if value is not None else None,
                    "usual": usual, "usual_shown": render(m, usual, WEB) if usual is not None
                    else None, "weeks_of_history": len(history),
                    "hidden": str(hidden) if hidden else None,
                    "direction": _direction(value, usual, m.better)})
    return out


def _direction(value: Any, usual: float | None, better: str | None) -> str | None:
    if not isinstance(value, (int, float)) or usual is None:
        return None
    v = float(value)
    if abs(v - usual) <= SAME * max(abs(usual), 1e-9):
        return "as usual"
    up = v > usual
    if better is None:
        return "higher than usual" if up else "lower than usual"
    good = up == (better == "higher")
    return ("higher" if up else "lower") + " than usual, " + ("better" if good else "worse")


def line(x: dict[str, Any]) -> str:
    if x["hidden"]:
        return f"• {x['label']}: hidden ({x['hidden']})"
    if x["value"] is None:
        return f"• {x['label']}: no data this week"
    usual = (f"usual {x['usual_shown']}" if x["usual_shown"] is not None
             else f"not enough history ({x['weeks_of_history']} weeks)")
    return f"• {x['label']}: {x['shown']} ({usual}" + (
        f"; {x['direction']})" if x["direction"] else ")")


def blocks(team: str, name: str, week: str, weeks: int, sections: list[dict[str, Any]],
           budget: list[str], min_group: int) -> tuple[str, list[dict[str, Any]]]:
    """The digest as Slack's fallback text and Block Kit blocks."""
    title = f"Weekly digest: {name}, {week}"
    note = (f"{name} against its own last {weeks} weeks — not a comparison with other teams or "
            f"people. Figures from fewer than {min_group} people are not shown.")
    out: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": note}]}]
    text = [title, note]
    for s in sections:
        body = "\n".join(line(x) for x in s["lines"]) or "• no figures"
        out.append({"type": "section", "text": {"type": "mrkdwn",
                                                "text": f"*{s['title']}*\n{body}"[:3000]}})
        text += [s["title"], body]
    if budget:
        body = "\n".join(f"• {b}" for b in budget)
        out.append({"type": "section", "text": {"type": "mrkdwn",
                                                "text": f"*SLO error budget*\n{body}"[:3000]}})
        text += ["SLO error budget", body]
    out.append({"type": "context", "elements": [{"type": "mrkdwn",
                                                 "text": f"shipwise · team {team}"}]})
    return "\n".join(text), out
