"""The CFO report's "AI-assisted development" section: what reaching each adoption level did to
cost to serve, lead time and change fail rate (with plausible ranges and caveats in plain words),
what AI tools cost and returned, the tension check, and agent-authored changes beside human
ones across the organisation. Built from the JSON of ``shipwise ai effect`` and ``shipwise ai
agents`` (docs/ai-effect.md)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from shipwise.metrics import ids
from shipwise.reports import charts
from shipwise.reports.format import as_float, esc, fmt_money, fmt_num, fmt_pct


def _ratio(v: float | None) -> float | None:
    """A log-point effect as a relative change (−0.105 → −10 %)."""
    return None if v is None else math.expm1(v)


def _range(iv: Any, conv: Any = _ratio, *, points: bool = False) -> str:
    if not iv:
        return ""
    lo, hi = (conv(as_float(x)) for x in iv)
    if points:
        if lo is None or hi is None:
            return ""
        return f" (plausible range {_points(lo)} to {_points(hi)} points)"
    return f" (plausible range {fmt_pct(lo, signed=True)} to {fmt_pct(hi, signed=True)})"


def _points(v: float) -> str:
    return f"{v * 100:+.1f}".replace("-", "−")


def _spans_zero(iv: Any) -> bool:
    return bool(iv) and as_float(iv[0]) is not None and as_float(iv[1]) is not None \
        and float(iv[0]) <= 0.0 <= float(iv[1])


def _level_sentence(lv: Mapping[str, Any], currency: str | None) -> str:
    m, iv = lv.get("metrics") or {}, lv.get("intervals") or {}
    n = int(lv.get("adopted_teams") or 0)
    s = (f"Teams reaching {esc(lv.get('level'))} adoption ({n} team{'s' if n != 1 else ''}, the "
         f"first from {esc(lv.get('first_adopted') or '—')})")
    parts = []
    for mid, what in ((ids.AI_EFFECT_COST_TO_SERVE, "cost to serve"),
                      (ids.AI_EFFECT_LEAD_TIME, "change lead time")):
        e = as_float(m.get(mid))
        if e is None:
            continue
        verb = "may have " if _spans_zero(iv.get(mid)) else ""
        parts.append(f"{verb}{'lowered' if e < 0 else 'raised'} {what} by about "
                     f"{fmt_pct(abs(_ratio(e) or 0.0))}{_range(iv.get(mid))}")
    cfr = as_float(m.get(ids.AI_EFFECT_CHANGE_FAIL_RATE))
    if cfr is not None:
        parts.append(f"moved the change fail rate by {_points(cfr)} points"
                     f"{_range(iv.get(ids.AI_EFFECT_CHANGE_FAIL_RATE), as_float, points=True)}")
    s += " " + ("; ".join(parts) if parts else "have no estimate yet") + "."
    spend, sav = as_float(lv.get("spend_amount")), as_float(lv.get("attributed_savings"))
    roi = as_float(m.get(ids.AI_RETURN_ON_SPEND))
    if spend:
        s += f" AI spend of these teams since adopting: {fmt_money(spend, currency)}"
        if sav is not None:
            s += f"; attributed savings {fmt_money(sav, currency)}"
        if roi is not None:
            s += f", a net return of {fmt_pct(roi, signed=True)}{_range(iv.get(ids.AI_RETURN_ON_SPEND), as_float)}"
        s += "."
    return s


def ai_section(effect: Mapping[str, Any] | None, agents: Sequence[Mapping[str, Any]],
               currency: str | None) -> str:
    """The section's HTML; ``agents`` are the organisation's rows (team ``*``, grain all)."""
    out = ['<section id="ai" class="page">', "<h2>AI-assisted development</h2>"]
    levels = [lv for lv in (effect or {}).get("levels") or [] if isinstance(lv, Mapping)]
    if not levels:
        out.append("<p>No AI usage is recorded, so there is no adoption to measure. Import "
                   "<code>ai_usage</code> records (per team and day) to see what AI tools and "
                   "agents gave back.</p>")
    else:
        out.append(
            "<p>Usage counts and lines of code do not show what AI tools give back; each team's "
            "cost to serve against its own past does. Teams are compared with teams that had "
            "not (yet) reached the same adoption level, month by month. A range that crosses "
            "zero means the data cannot rule out that adoption made no difference.</p>")
        rows = []
        for lv in levels:
            iv = (lv.get("intervals") or {}).get(ids.AI_EFFECT_COST_TO_SERVE) or [None, None]
            rows.append(charts.Interval(
                f"reaching {lv.get('level')}",
                _ratio(as_float((lv.get("metrics") or {}).get(ids.AI_EFFECT_COST_TO_SERVE))),
                _ratio(as_float(iv[0])), _ratio(as_float(iv[1])),
                caution=any((lv.get("warnings") or {}).get(ids.AI_EFFECT_COST_TO_SERVE) or [])))
        svg = charts.interval_chart(
            "chart-ai", rows, title="Effect of AI adoption on cost to serve, with plausible range",
            x_label="Change in cost to serve attributed to reaching the level",
            fmt=lambda v: fmt_pct(v, signed=True), tick_fmt=lambda v: fmt_pct(v, signed=True),
            left_note="← cheaper per unit", right_note="dearer per unit →")
        out.append(f"<figure>{svg}</figure>")
        for lv in levels:
            warns = sorted({w for ws in (lv.get("warnings") or {}).values() for w in ws or []})
            out.append(f'<article class="initiative{" caution" if warns else ""}">')
            out.append(f"<p>{_level_sentence(lv, currency)}</p>")
            if warns:
                out.append('<div class="warn" role="note"><strong>⚠ Read with care</strong><ul>'
                           + "".join(f"<li>{esc(w)}</li>" for w in warns) + "</ul></div>")
            out.append("</article>")
        for t in (effect or {}).get("tensions") or []:
            out.append(f'<p class="flag"><strong>Faster and cheaper, but breaking more?</strong> '
                       f"{esc(t.get('message'))}</p>")
        for w in (effect or {}).get("warnings") or []:
            out.append(f'<p class="note">{esc(w)}</p>')
    by_kind = {r.get("kind"): r for r in agents}
    agent, human = by_kind.get("agent"), by_kind.get("human")
    if agent and human:
        def fig(r: Mapping[str, Any], mid: str) -> float | None:
            return as_float((r.get("metrics") or {}).get(mid))
        out.append(
            f"<p>Agent-authored changes: {fmt_pct(fig(agent, ids.AI_UNIT_SHARE))} of the "
            f"organisation's production deployments carried one. Their change fail rate was "
            f"{fmt_pct(fig(agent, ids.AI_CHANGE_FAIL_RATE))} against "
            f"{fmt_pct(fig(human, ids.AI_CHANGE_FAIL_RATE))} for human-authored changes, with "
            f"{fmt_num(fig(agent, ids.AI_INTERVENTIONS_PER_DEPLOYMENT))} manual interventions "
            f"per deployment against {fmt_num(fig(human, ids.AI_INTERVENTIONS_PER_DEPLOYMENT))}: "
            "agent changes are only worth scaling through a release process that needs no "
            "hands.</p>")
    out.append("</section>")
    return "\n".join(out)
