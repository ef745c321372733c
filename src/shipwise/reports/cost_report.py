"""The CFO's cost-to-serve report: one self-contained HTML page, and an A4 PDF printed from it.

Built from the JSON shapes of the cost service (``cost``), the initiative-effects service
(``initiatives``) and the metric definitions. Read in five minutes, in this order:

1. the headline: the organisation's improvement in cost to serve for the latest period, what it
   saved and the capacity it gave back, in one sentence;
2. the organisation's trend by period;
3. what the initiatives did, each effect with its interval and its caveats shown prominently;
4. each team against its own history (alphabetical by org unit and team, never by performance),
   with its tension flags beside it;
5. the tension metrics beside cost to serve for the latest period;
6. the definitions.

The HTML carries all of its CSS and charts inline (SVG drawn in :mod:`shipwise.reports.charts`):
it loads nothing, so it opens the same offline, in a mail client or in an archive years later.
PDF is printed from the same HTML by headless Chromium (``chromium`` on Debian): see
:mod:`shipwise.reports.pdf`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from html import escape
from pathlib import Path
from typing import Any

from shipwise.errors import InputError
from shipwise.reports import charts
from shipwise.reports.pdf import html_to_pdf

#: Metrics shown as cost to serve itself rather than as tension metrics beside it.
CORE_METRICS = frozenset({
    "cost.cost_to_serve", "cost.improvement_qoq", "cost.improvement_yoy", "cost.savings",
    "cost.effective_headcount", "cost.improvement_median_team", "cost.cohort_teams",
})
#: Tension metrics in the order a reader meets them; any others follow alphabetically.
TENSION_ORDER = (
    "dora.change_fail_rate",
    "cost.high_severity_tickets_per_deployment",
    "cost.incident_tickets_per_deployment",
    "cost.human_interventions_per_deployment",
    "cost.deployments_per_builder_week",
)
#: Fewer comparison teams than this and an initiative's estimate carries a warning.
MIN_CONTROL_TEAMS = 5

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "AUD": "A$", "CAD": "C$"}
MINUS = "\u2212"



# --------------------------------------------------------------------------- formatting


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _num(v: Any) -> float | None:
    """A finite float, or None for a missing / non-numeric / NaN value."""
    if isinstance(v, bool) or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _signed(text: str, v: float) -> str:
    return f"{MINUS}{text}" if v < 0 else text


def fmt_money(v: Any, currency: str | None, *, decimals: int | None = None) -> str:
    """``$2,100,000``, ``−$12,500``, ``€5,802.50``; codes without a symbol go after the amount."""
    f = _num(v)
    if f is None:
        return "—"
    if decimals is None:
        decimals = 0 if abs(f) >= 100 or f == int(f) else 2
    rounded = Decimal(repr(abs(f))).quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP)
    body = f"{rounded:,.{decimals}f}"
    code = (currency or "").upper()
    sym = CURRENCY_SYMBOLS.get(code)
    text = f"{sym}{body}" if sym else (f"{body} {code}" if code else body)
    return _signed(text, f)


def fmt_pct(v: Any, *, signed: bool = False, decimals: int | None = None) -> str:
    """``15%``, ``3.6%``; signed: ``+5%``, ``−35%``; ``decimals`` fixes the precision."""
    f = _num(v)
    if f is None:
        return "—"
    p = abs(f) * 100
    if decimals is None:
        decimals = 1 if 0 < p < 10 and round(p, 1) != round(p) else 0
    body = f"{p:,.{decimals}f}%"
    if float(body[:-1].replace(",", "")) == 0:
        return body
    if f < 0:
        return f"{MINUS}{body}"
    return f"+{body}" if signed else body


def fmt_num(v: Any, *, decimals: int | None = None) -> str:
    """``1,234``, ``9.4``, ``0.12``, ``0.036``."""
    f = _num(v)
    if f is None:
        return "—"
    if decimals is None:
        a = abs(f)
        decimals = 0 if a >= 100 else 1 if a >= 10 else 2 if a >= 0.1 or a == 0 else 3
    return _signed(f"{abs(f):,.{decimals}f}", f)


def _singular(unit: str | None) -> str:
    u = (unit or "unit").strip().replace("_", " ")
    if u.endswith("ies"):
        return u[:-3] + "y"
    if u.endswith("s") and not u.endswith("ss"):
        return u[:-1]
    return u


def _humanise(metric_id: str) -> str:
    name = metric_id.split(".", 1)[-1].replace("_", " ")
    return name[:1].upper() + name[1:]


def _period_key(p: Any) -> str:
    return str(p)


def _year_before(period: str) -> str | None:
    m = re.match(r"^(\d{4})(.*)$", period)
    return f"{int(m.group(1)) - 1}{m.group(2)}" if m else None


# --------------------------------------------------------------------------- the model


class _Defs:
    """Titles, units and formats of metrics, from the definitions (heuristics as a fallback)."""

    def __init__(self, definitions: Sequence[Mapping[str, Any]], currency: str | None) -> None:
        self.by_id = {str(d.get("id")): d for d in definitions if isinstance(d, Mapping)}
        self.currency = currency

    def title(self, mid: str) -> str:
        d = self.by_id.get(mid)
        return str(d.get("title")) if d and d.get("title") else _humanise(mid)

    def kind(self, mid: str) -> str:
        unit = str((self.by_id.get(mid) or {}).get("unit") or "").lower()
        if unit in ("ratio", "%", "percent", "share") or mid.endswith("_rate") \
                or mid.startswith("cost.improvement"):
            return "percent"
        if "per unit" in unit or mid == "cost.cost_to_serve":
            return "money_per_unit"
        if unit in ("currency", (self.currency or "").lower()) or mid == "cost.savings":
            return "money"
        if unit == "fte" or mid == "cost.effective_headcount":
            return "fte"
        return "number"

    def fmt(self, mid: str, v: Any) -> str:
        kind = self.kind(mid)
        if kind == "percent":
            return fmt_pct(v)
        if kind in ("money", "money_per_unit"):
            return fmt_money(v, self.currency)
        if kind == "fte":
            return fmt_num(v, decimals=1)
        return fmt_num(v)


class _Team:
    def __init__(self, team: str) -> None:
        self.team = team
        self.org_unit: str | None = None
        self.unit: str | None = None
        self.rows: dict[str, Mapping[str, Any]] = {}

    def metric(self, period: str, mid: str) -> float | None:
        row = self.rows.get(period)
        return _num(((row or {}).get("metrics") or {}).get(mid))

    def flags(self, period: str) -> list[Mapping[str, Any]]:
        row = self.rows.get(period) or {}
        return [f for f in (row.get("flags") or []) if isinstance(f, Mapping)]


def _teams(rows: Iterable[Mapping[str, Any]]) -> list[_Team]:
    """Teams in alphabetical order of org unit, then team: never in order of any number."""
    by: dict[str, _Team] = {}
    for r in rows:
        name = str(r.get("team") or "(unnamed team)")
        t = by.setdefault(name, _Team(name))
        t.org_unit = t.org_unit or (str(r["org_unit"]) if r.get("org_unit") else None)
        t.unit = t.unit or (str(r["unit"]) if r.get("unit") else None)
        t.rows[_period_key(r.get("period"))] = r
    return sorted(by.values(), key=lambda t: ((t.org_unit or "").casefold(), t.team.casefold()))


def _org_metric(entry: Mapping[str, Any], *keys: str) -> float | None:
    metrics = entry.get("metrics") or {}
    for k in keys:
        for src in (metrics, entry):
            v = _num(src.get(k))
            if v is not None:
                return v
    return None


def _baseline_cost_words(baseline: str, grain: str) -> str:
    """Whose cost per unit the savings are measured against."""
    if baseline == "yoy":
        return "last year’s cost per unit"
    if baseline == "qoq":
        return f"the previous {grain}’s cost per unit"
    return "the baseline cost per unit"


def _baseline_words(baseline: str, grain: str) -> str:
    if baseline == "yoy":
        return "a year earlier"
    if baseline == "qoq":
        return f"the previous {grain}"
    return f"the {baseline} baseline"


def _initiative_warnings(i: Mapping[str, Any], currency: str | None) -> list[str]:
    """The service's warnings, then the caveats a reader must see before trusting the figure."""
    out: list[str] = []
    for w in i.get("warnings") or []:
        msg = w.get("message") if isinstance(w, Mapping) else w
        if msg:
            out.append(str(msg))
    effect, low, high = _num(i.get("effect")), _num(i.get("low")), _num(i.get("high"))
    if effect is None:
        out.append("No estimate of the effect could be made from the data so far.")
    elif low is not None and high is not None and low <= 0 <= high:
        out.append(f"The plausible range for the effect ({fmt_pct(low, signed=True)} to "
                   f"{fmt_pct(high, signed=True)}) includes no change at all: this initiative may "
                   "not have changed cost to serve.")
    roi_low, roi_high = _num(i.get("roi_low")), _num(i.get("roi_high"))
    if roi_low is not None and roi_low < 0:
        upper = f" to {fmt_pct(roi_high, signed=True)}" if roi_high is not None else ""
        may = "do not" if roi_high is not None and roi_high < 0 else "may not"
        out.append(f"The savings {may} cover the amount invested: the net return ranges from "
                   f"{fmt_pct(roi_low, signed=True)}{upper}.")
    controls = _num(i.get("control_teams"))
    if controls is not None and controls < MIN_CONTROL_TEAMS:
        n = int(controls)
        if n == 0:
            out.append("No comparison teams: the effect cannot be told apart from what happened "
                       "to every team anyway.")
        else:
            out.append(f"Only {n} comparison team{'s' if n != 1 else ''}: the estimate rests on "
                       "few teams and may move as more data arrives.")
    treated = _num(i.get("treated_teams"))
    if treated is not None and treated < 2:
        out.append("Only one team received this investment: its effect is hard to tell apart "
                   "from that team's own circumstances.")
    return list(dict.fromkeys(out))


# --------------------------------------------------------------------------- rendering


CSS = """
:root { --ink:#1f2937; --muted:#6b7280; --line:#e5e7eb; --blue:#1f5fa8; --blue-bg:#eef4fb;
        --amber:#b45309; --amber-bg:#fff7e6; --amber-line:#f0b44c; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font-family: "Liberation Sans", "DejaVu Sans", Arial, Helvetica, sans-serif;
       color: var(--ink); margin: 0 auto; max-width: 960px; padding: 28px 32px 48px;
       font-size: 15px; line-height: 1.45; background: #fff; }
h1 { font-size: 28px; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 20px; margin: 30px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--ink);
     break-after: avoid; }
h3 { font-size: 15px; margin: 0; }
p { margin: 6px 0 10px; }
.sub { color: var(--muted); margin: 0 0 18px; font-size: 13px; }
.lede { font-size: 16.5px; margin: 14px 0 6px; }
.muted { color: var(--muted); }
.small { font-size: 12.5px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr)); gap: 12px;
         margin: 16px 0 8px; }
.tile { border: 1px solid var(--line); border-top: 5px solid var(--blue); border-radius: 6px;
        padding: 10px 14px 12px; background: #fff; break-inside: avoid; }
.tile .big { font-size: 30px; font-weight: 700; line-height: 1.1; color: var(--blue); }
.tile.neg { border-top-color: var(--amber); } .tile.neg .big { color: var(--amber); }
.tile .what { font-size: 12.5px; color: var(--ink); margin-top: 4px; }
figure { margin: 14px 0 6px; break-inside: avoid; }
figcaption { font-size: 12.5px; color: var(--muted); margin-top: 2px; }
svg.chart { width: 100%; height: auto; display: block; overflow: visible; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; margin: 8px 0 6px; }
thead { display: table-header-group; }
th, td { padding: 5px 7px; border-bottom: 1px solid var(--line); text-align: right;
         vertical-align: baseline; }
th { font-weight: 700; background: #f3f4f6; border-bottom: 1px solid #cbd0d6; }
th:first-child, td:first-child, th.l, td.l { text-align: left; }
td.nw, #tension td { white-space: nowrap; }
tr { break-inside: avoid; }
td.flag { background: var(--amber-bg); color: var(--amber); font-weight: 700; }
.warn { border: 1px solid var(--amber-line); border-left: 6px solid var(--amber);
        background: var(--amber-bg); border-radius: 4px; padding: 7px 10px; margin: 8px 0 2px;
        font-size: 13px; }
.warn strong { color: var(--amber); }
.warn ul { margin: 2px 0 0 18px; padding: 0; }
.note { border-left: 4px solid var(--blue); background: var(--blue-bg); padding: 7px 11px;
        font-size: 13px; margin: 10px 0; }
.initiative { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px;
              margin: 12px 0; break-inside: avoid; }
.initiative.caution { border-color: var(--amber-line); }
.figs { display: grid; grid-template-columns: 0.8fr 1fr 1.3fr 1fr; gap: 8px; margin: 8px 0 4px; }
.fig .k { font-size: 12px; color: var(--muted); }
.fig .v { font-size: 18px; font-weight: 700; }
.fig .r { font-size: 12px; color: var(--muted); }
.unit-group { margin-top: 16px; }
.unit-group > h3 { font-size: 13px; text-transform: uppercase; letter-spacing: .05em;
                   color: var(--muted); margin: 0 0 6px; break-after: avoid; }
.cards { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 9px 12px 8px;
        break-inside: avoid; background: #fff; }
.card.flagged { border-color: var(--amber-line); }
.card header { display: flex; justify-content: space-between; align-items: baseline; gap: 8px; }
.card header .muted { font-size: 12px; }
.card .facts { display: grid; grid-template-columns: 0.85fr 1.35fr 1.05fr 0.85fr; gap: 2px 6px;
               margin-top: 4px; border-top: 1px solid var(--line); padding-top: 4px; }
.card .facts .k { font-size: 11px; color: var(--muted); line-height: 1.2; }
.card .facts .v { font-size: 13px; font-weight: 700; }
.card .warn { font-size: 12px; padding: 5px 8px; }
.card .warn ul { margin-left: 14px; }
.card .info { font-size: 12px; color: var(--muted); margin: 4px 0 0; }
dl.defs { margin: 8px 0; }
dl.defs dt { font-weight: 700; margin-top: 10px; break-after: avoid; }
dl.defs dt .unit { font-weight: 400; color: var(--muted); font-size: 12.5px; }
dl.defs dd { margin: 2px 0 0 0; font-size: 13.5px; break-inside: avoid; }
footer { margin-top: 28px; font-size: 11.5px; color: var(--muted);
         border-top: 1px solid var(--line); padding-top: 6px; }
.page { break-before: page; }
@page { size: A4; margin: 14mm 13mm 16mm 13mm;
        @bottom-left { content: __FOOTER__; font-size: 8pt; color: #6b7280;
                       font-family: "Liberation Sans", "DejaVu Sans", Arial, sans-serif; }
        @bottom-right { content: "Page " counter(page) " of " counter(pages); font-size: 8pt;
                        color: #6b7280;
                        font-family: "Liberation Sans", "DejaVu Sans", Arial, sans-serif; } }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  h1 { font-size: 21pt; } h2 { font-size: 14pt; margin-top: 14pt; }
  .lede { font-size: 11.5pt; }
  .tile .big { font-size: 21pt; }
  table { font-size: 8.5pt; }
  .fig .v { font-size: 13pt; }
  .card .warn, .card .info { font-size: 8.5pt; }
  .card .facts .k { font-size: 7.5pt; } .card .facts .v { font-size: 9.5pt; }
  .tiles { grid-template-columns: repeat(4, 1fr); gap: 8px; margin: 10px 0 4px; }
  .tile { padding: 7px 10px 8px; } .tile .what { font-size: 8.5pt; }
  th, td { padding: 3px 6px; }
  figure { margin: 8px 0 4px; }
  footer { display: none; }
}
"""


def _css_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def render_html(cost: dict, initiatives: dict, definitions: list[dict], *,
                title: str = "Cost to Serve Software", generated_at: str) -> str:
    """The whole report as one self-contained HTML document (inline CSS and SVG, no scripts)."""
    if not isinstance(cost, Mapping) or not isinstance(cost.get("rows", []), list):
        raise InputError("the cost data is not in the cost service's shape",
                         hint="pass the JSON of `shipwise cost --json` (an object with `rows`)")
    grain = str(cost.get("grain") or "period")
    baseline = str(cost.get("baseline") or "yoy")
    currency = cost.get("currency")
    defs = _Defs(definitions or [], currency)
    improvement_id = f"cost.improvement_{baseline}"
    than = _baseline_words(baseline, grain)
    teams = _teams(r for r in cost.get("rows") or [] if isinstance(r, Mapping))
    org = sorted((o for o in cost.get("organisation") or [] if isinstance(o, Mapping)),
                 key=lambda o: _period_key(o.get("period")))
    inits = [i for i in ((initiatives or {}).get("initiatives") or []) if isinstance(i, Mapping)]

    parts: list[str] = []
    w = parts.append
    w("<!DOCTYPE html>")
    w('<html lang="en"><head><meta charset="utf-8">')
    w('<meta name="viewport" content="width=device-width, initial-scale=1">')
    w(f"<title>{_e(title)}</title>")
    footer = f"{title} · generated {generated_at}"
    w(f"<style>{CSS.replace('__FOOTER__', _css_string(footer))}</style>")
    w("</head><body>")
    w(f"<h1>{_e(title)}</h1>")
    team_count = len(teams)
    cadence = {"quarter": "Quarterly", "month": "Monthly", "week": "Weekly",
               "year": "Yearly"}.get(grain, f"Per-{grain}")
    w(f'<p class="sub">{_e(cadence)} figures, each compared with {_e(than)} · '
      f"{team_count} team{'s' if team_count != 1 else ''} · amounts in {_e(currency or 'the cost data’s currency')}"
      f" · generated {_e(generated_at)}</p>")

    w(_headline(org, improvement_id, grain, baseline, than, currency))
    w(_trend(org, improvement_id, grain, than, currency))
    w(_initiatives(inits, currency))
    w(_team_section(teams, defs, improvement_id, than, currency))
    w(_tension_section(teams, defs, improvement_id, than))
    w(_definitions(definitions or [], than, currency))
    w(f"<footer>{_e(title)} · generated {_e(generated_at)} by shipwise</footer>")
    w("</body></html>")
    return "\n".join(parts) + "\n"


def _headline(org: Sequence[Mapping[str, Any]], improvement_id: str, grain: str, baseline: str,
              than: str, currency: str | None) -> str:
    out = ['<section id="headline">']
    if not org:
        out.append('<p class="lede">There are no organisation figures yet: cost to serve can be '
                   f"compared with {_e(than)} only once there is a full baseline of data.</p>")
        out.append("</section>")
        return "\n".join(out)
    last = org[-1]
    period = str(last.get("period"))
    imp = _org_metric(last, improvement_id, "cost.improvement")
    savings = _org_metric(last, "cost.savings")
    fte = _org_metric(last, "cost.effective_headcount")
    median = _org_metric(last, "cost.improvement_median_team")
    cohort = _org_metric(last, "cost.cohort_teams", "cohort_teams")
    compared = _year_before(period) if baseline == "yoy" else None
    than_p = f"{than} ({compared})" if compared else than

    tiles = []
    if imp is not None:
        word = "lower" if imp >= 0 else "higher"
        tiles.append((imp < 0, fmt_pct(abs(imp)),
                      f"{word} cost to serve in {period} than {than_p}"))
    if savings is not None:
        tiles.append((savings < 0, fmt_money(abs(savings), currency),
                      f"{'saved' if savings >= 0 else 'extra cost'} in {period}, compared with "
                      f"doing the same work at {_baseline_cost_words(baseline, grain)}"))
    if fte is not None:
        tiles.append((fte < 0, fmt_num(fte, decimals=1),
                      "full-time people’s worth of capacity given back"
                      if fte >= 0 else "full-time people’s worth of extra capacity used"))
    window = {"quarter": 4, "month": 12}.get(grain) if baseline == "yoy" else None
    if window and len(org) >= window:
        recent = [_org_metric(o, "cost.savings") for o in org[-window:]]
        if all(v is not None for v in recent):
            total = sum(v for v in recent if v is not None)
            tiles.append((total < 0, fmt_money(abs(total), currency),
                          f"{'saved' if total >= 0 else 'extra cost'} over the last "
                          f"{window} {grain}s ({org[-window].get('period')} to {period})"))
    out.append('<div class="tiles">')
    for neg, big, what in tiles:
        out.append(f'<div class="tile{" neg" if neg else ""}"><div class="big">{_e(big)}</div>'
                   f'<div class="what">{_e(what)}</div></div>')
    out.append("</div>")

    if imp is not None:
        if imp >= 0:
            s = (f"In {period}, each unit of software the teams delivered cost "
                 f"{fmt_pct(imp)} less than {than_p}")
        else:
            s = (f"In {period}, each unit of software the teams delivered cost "
                 f"{fmt_pct(-imp)} more than {than_p}")
        if savings is not None:
            s += (f": delivering the same work at {_baseline_cost_words(baseline, grain)} would "
                  "have cost "
                  f"{fmt_money(abs(savings), currency)} {'more' if savings >= 0 else 'less'}")
            if fte is not None and fte > 0:
                s += (f", which is the work of about {fmt_num(fte, decimals=1)} full-time "
                      "people freed for other things")
        out.append(f'<p class="lede">{_e(s)}.</p>')
    extra = []
    if cohort is not None:
        n = int(cohort)
        extra.append(f"Measured across the {n} team{'s' if n != 1 else ''} with figures for both "
                     "periods, each team weighted by its cost")
    if median is not None:
        extra.append(f"the typical (median) team’s cost per unit was {fmt_pct(abs(median))} "
                     f"{'lower' if median >= 0 else 'higher'} than {than}")
    if extra:
        out.append(f'<p class="muted small">{_e("; ".join(extra))}.</p>')
    out.append("</section>")
    return "\n".join(out)


def _trend(org: Sequence[Mapping[str, Any]], improvement_id: str, grain: str, than: str,
           currency: str | None) -> str:
    if not org:
        return ""
    periods = [str(o.get("period")) for o in org]
    imps = [_org_metric(o, improvement_id, "cost.improvement") for o in org]
    medians = [_org_metric(o, "cost.improvement_median_team") for o in org]
    series = [charts.Series("Organisation (weighted by cost)", imps, charts.BLUE)]
    if any(m is not None for m in medians):
        series.append(charts.Series("Median team", medians, charts.GREY, dashed=True,
                                    label_points=False))
    svg = charts.line_chart(
        "chart-org-trend", periods, series,
        title=f"Improvement in cost to serve compared with {than}, by {grain}",
        x_label=grain.capitalize(),
        y_label=f"Cheaper than {than} (%)",
        fmt=lambda v: fmt_pct(v, signed=True, decimals=1), tick_fmt=fmt_pct)
    out = ['<section id="trend">', "<h2>How cost to serve has moved</h2>",
           f"<figure>{svg}<figcaption>Each point compares a {_e(grain)} with {_e(than)}. Above "
           "zero means each unit of software cost less to deliver; below zero, more. The dashed "
           "line is the typical team, so a gap between the lines shows the change is driven by a "
           "few large teams.</figcaption></figure>",
           '<table><thead><tr><th>' + _e(grain.capitalize()) + "</th><th>Cheaper than "
           + _e(than) + "</th><th>Median team</th><th>Savings</th><th>Capacity given back (FTE)"
           "</th><th>Teams measured</th></tr></thead><tbody>"]
    for o, imp, med in zip(org, imps, medians, strict=True):
        cohort = _org_metric(o, "cost.cohort_teams", "cohort_teams")
        out.append(
            f"<tr><td>{_e(o.get('period'))}</td>"
            f"<td>{_e(fmt_pct(imp, signed=True, decimals=1))}</td>"
            f"<td>{_e(fmt_pct(med, signed=True, decimals=1))}</td>"
            f"<td>{_e(fmt_money(_org_metric(o, 'cost.savings'), currency))}</td>"
            f"<td>{_e(fmt_num(_org_metric(o, 'cost.effective_headcount'), decimals=1))}</td>"
            f"<td>{_e(fmt_num(cohort, decimals=0))}</td></tr>")
    out.append("</tbody></table></section>")
    return "\n".join(out)


def _range(lo: str, hi: str) -> str:
    return f"{lo} to {hi}"


def _initiatives(inits: Sequence[Mapping[str, Any]], currency: str | None) -> str:
    out = ['<section id="initiatives" class="page">', "<h2>What the investments did</h2>"]
    if not inits:
        out.append("<p>No initiatives are recorded, so there are no effects to show.</p>")
        out.append("</section>")
        return "\n".join(out)
    out.append(
        "<p>Each investment is compared with what happened to similar teams that did not receive "
        "it. The dot is the central estimate of its effect on cost to serve; the whisker is "
        "the plausible range. A range that crosses the dashed zero line means the data cannot "
        "rule out that the investment made no difference.</p>")
    warnings = {str(i.get("id") or k): _initiative_warnings(i, currency)
                for k, i in enumerate(inits)}
    rows = [charts.Interval(str(i.get("name") or i.get("id") or "initiative"),
                            _num(i.get("effect")), _num(i.get("low")), _num(i.get("high")),
                            caution=bool(warnings[str(i.get("id") or k)]))
            for k, i in enumerate(inits)]
    svg = charts.interval_chart(
        "chart-initiatives", rows,
        title="Effect of each investment on cost to serve, with plausible range",
        x_label="Change in cost to serve attributed to the investment",
        fmt=lambda v: fmt_pct(v, signed=True), tick_fmt=lambda v: fmt_pct(v, signed=True),
        left_note="← cheaper per unit", right_note="dearer per unit →")
    out.append(f"<figure>{svg}<figcaption>Hollow amber marks carry a warning below: read their "
               "numbers with care.</figcaption></figure>")
    for k, i in enumerate(inits):
        cur = i.get("currency") or currency
        name = str(i.get("name") or i.get("id") or "initiative")
        warns = warnings[str(i.get("id") or k)]
        effect, low, high = _num(i.get("effect")), _num(i.get("low")), _num(i.get("high"))
        amount = _num(i.get("amount"))
        sav, sav_lo, sav_hi = (_num(i.get(x)) for x in ("attributed_savings", "savings_low",
                                                          "savings_high"))
        roi, roi_lo, roi_hi = (_num(i.get(x)) for x in ("roi", "roi_low", "roi_high"))
        team_list = [str(t) for t in i.get("teams") or []]
        treated = _num(i.get("treated_teams"))
        controls = _num(i.get("control_teams"))
        n_treated = int(treated) if treated is not None else len(team_list)

        if effect is None:
            s = f"{name}: no estimate yet."
        else:
            spans_zero = low is not None and high is not None and low <= 0 <= high
            verb = ("lowered" if effect < 0 else "raised") if effect != 0 else "did not change"
            s = f"{name} {'may have ' + verb if spans_zero and effect else verb} cost to serve"
            if effect != 0:
                s += f" by about {fmt_pct(abs(effect))}"
            if spans_zero:
                s += (f", but its plausible range ({fmt_pct(low, signed=True)} to "
                      f"{fmt_pct(high, signed=True)}) includes no change")
            elif low is not None and high is not None:
                s += (f" (plausible range {fmt_pct(low, signed=True)} to "
                      f"{fmt_pct(high, signed=True)})")
            if sav is not None:
                s += f"; attributed savings {fmt_money(sav, cur)}"
            if roi is not None and amount is not None:
                s += (f", a net return of {fmt_pct(roi, signed=True)} on the "
                      f"{fmt_money(amount, cur)} invested")
            s += "."
        out.append(f'<article class="initiative{" caution" if warns else ""}">')
        out.append(f"<h3>{_e(name)}</h3>")
        out.append(f"<p>{_e(s)}</p>")
        out.append('<div class="figs">')
        figs = [
            ("Invested", fmt_money(amount, cur), ""),
            ("Effect on cost to serve", fmt_pct(effect, signed=True),
             _range(fmt_pct(low, signed=True), fmt_pct(high, signed=True))
             if low is not None and high is not None else ""),
            ("Attributed savings", fmt_money(sav, cur),
             _range(fmt_money(sav_lo, cur), fmt_money(sav_hi, cur))
             if sav_lo is not None and sav_hi is not None else ""),
            ("Net return (ROI)", fmt_pct(roi, signed=True),
             _range(fmt_pct(roi_lo, signed=True), fmt_pct(roi_hi, signed=True))
             if roi_lo is not None and roi_hi is not None else ""),
        ]
        for label, value, rng in figs:
            out.append(f'<div class="fig"><div class="k">{_e(label)}</div>'
                       f'<div class="v">{_e(value)}</div>'
                       f'<div class="r">{_e("range " + rng) if rng else "&nbsp;"}</div></div>')
        out.append("</div>")
        evidence = f"Teams that received it: {n_treated}"
        if team_list:
            evidence += f" ({', '.join(team_list)})"
        if controls is not None:
            evidence += f" · comparison teams: {int(controls)}"
        out.append(f'<p class="muted small">{_e(evidence)}</p>')
        if warns:
            out.append('<div class="warn" role="note"><strong>⚠ Read with care</strong><ul>'
                       + "".join(f"<li>{_e(m)}</li>" for m in warns) + "</ul></div>")
        out.append("</article>")
    out.append("</section>")
    return "\n".join(out)


def _team_section(teams: Sequence[_Team], defs: _Defs, improvement_id: str, than: str,
                  currency: str | None) -> str:
    out = ['<section id="teams" class="page">', "<h2>Each team against its own history</h2>",
           "<p>Each chart shows one team’s cost to serve over time, on its own scale. Teams "
           "deliver different kinds of work (deployments, pull requests, commits), so their "
           "costs per unit are not comparable with each other and are not compared here: read "
           "each team only against its own past. Teams are listed alphabetically by "
           "organisation unit, then by name. ⚠ marks a tension flag: cost to serve improved "
           "while a safety or workload measure got worse.</p>"]
    if not teams:
        out.append("<p>No team figures are available.</p></section>")
        return "\n".join(out)
    periods = sorted({p for t in teams for p in t.rows})
    latest = periods[-1]
    groups: dict[str | None, list[_Team]] = {}
    for t in teams:
        groups.setdefault(t.org_unit, []).append(t)
    grouped = len(groups) > 1 or None not in groups
    for unit_name, members in groups.items():
        out.append('<div class="unit-group">')
        if grouped:
            out.append(f"<h3>{_e(unit_name or 'No organisation unit')}</h3>")
        out.append('<div class="cards">')
        for k, t in enumerate(members):
            out.append(_team_card(t, periods, latest, defs, improvement_id, than, currency,
                                  f"chart-team-{len(out)}-{k}"))
        out.append("</div></div>")
    out.append("</section>")
    return "\n".join(out)


def _team_card(t: _Team, periods: Sequence[str], latest: str, defs: _Defs, improvement_id: str,
               than: str, currency: str | None, chart_id: str) -> str:
    unit = _singular(t.unit)
    values = [t.metric(p, "cost.cost_to_serve") for p in periods]
    svg = charts.sparkline(
        chart_id, periods, values,
        title=f"{t.team}: cost to serve per {unit}, by period",
        y_label=f"{currency or ''} per {unit}".strip(),
        fmt=lambda v: fmt_money(v, currency))
    tension = [(p, f) for p in reversed(periods) for f in t.flags(p)
               if f.get("kind", "tension") == "tension"]
    other = [(p, f) for p in reversed(periods) for f in t.flags(p)
             if f.get("kind", "tension") != "tension"]
    imp = t.metric(latest, improvement_id)
    out = [f'<article class="card{" flagged" if tension else ""}" '
           f'aria-label="{_e(t.team)}">',
           f"<header><h3>{_e(t.team)}{' ⚠' if tension else ''}</h3>"
           f'<span class="muted">{_e(t.org_unit or "")}{" · " if t.org_unit else ""}'
           f"cost per {_e(unit)}</span></header>",
           svg]
    change = "—" if imp is None else f"{fmt_pct(abs(imp))} {'cheaper' if imp >= 0 else 'dearer'}"
    fte = t.metric(latest, "cost.effective_headcount")
    facts = [
        (latest, fmt_money(t.metric(latest, "cost.cost_to_serve"), currency)),
        (f"vs {than}", change),
        ("Savings", fmt_money(t.metric(latest, "cost.savings"), currency)),
        ("Given back", "—" if fte is None else f"{fmt_num(fte, decimals=1)} FTE"),
    ]
    out.append('<div class="facts">' + "".join(
        f'<div><div class="k">{_e(k)}</div><div class="v">{_e(v)}</div></div>' for k, v in facts)
        + "</div>")
    if tension:
        out.append('<div class="warn" role="note"><strong>⚠ Tension</strong><ul>'
                   + "".join(f"<li>{_e(p)}: {_e(f.get('message') or defs.title(str(f.get('metric'))))}</li>"
                             for p, f in tension) + "</ul></div>")
    for p, f in other:
        out.append(f'<p class="info">ℹ {_e(p)}: {_e(f.get("message") or "")}</p>')
    out.append("</article>")
    return "\n".join(out)


def _tension_columns(teams: Sequence[_Team]) -> list[str]:
    present = {m for t in teams for r in t.rows.values() for m in (r.get("metrics") or {})}
    present -= CORE_METRICS
    ordered = [m for m in TENSION_ORDER if m in present]
    return ordered + sorted(present - set(ordered))


def _column_decimals(values: Iterable[float | None]) -> int:
    """One precision for a whole column, fine enough for its smallest non-zero value."""
    small = [abs(v) for v in values if v]
    if not small:
        return 2
    least = min(small)
    return 0 if least >= 100 else 1 if least >= 10 else 2 if least >= 0.1 else 3


def _tension_section(teams: Sequence[_Team], defs: _Defs, improvement_id: str, than: str) -> str:
    out = ['<section id="tension">',
           "<h2>Cost beside safety and workload</h2>"]
    if not teams:
        out.append("<p>No team figures are available.</p></section>")
        return "\n".join(out)
    latest = sorted({p for t in teams for p in t.rows})[-1]
    cols = _tension_columns(teams)
    out.append(
        f"<p>Cheaper delivery is only good news if it is not bought with failures, incidents or "
        f"overwork. For {_e(latest)}, this table puts each team’s cost to serve beside the "
        "measures that would show such strain. A highlighted ⚠ cell is a measure that got worse "
        "while cost to serve improved. Teams appear in the same alphabetical order as above.</p>")
    head = ("<tr><th>Team</th><th class=\"l\">Org unit</th><th>Cost to serve</th>"
            f"<th>vs {_e(than)}</th>"
            + "".join(f"<th>{_e(defs.title(c))}</th>" for c in cols) + "</tr>")
    out.append(f"<table><thead>{head}</thead><tbody>")
    decimals = {c: _column_decimals([t.metric(latest, c) for t in teams]) for c in cols}
    notes: list[tuple[str, str]] = []
    for t in teams:
        flagged = {str(f.get("metric")) for f in t.flags(latest) if f.get("kind") == "tension"}
        for f in t.flags(latest):
            if f.get("message"):
                notes.append((t.team, str(f["message"])))
        imp = t.metric(latest, improvement_id)
        cells = [f'<td class="nw">{_e(t.team)}</td>', f'<td class="l">{_e(t.org_unit or "")}</td>',
                 f"<td class=\"nw\">"
                 f"{_e(defs.fmt('cost.cost_to_serve', t.metric(latest, 'cost.cost_to_serve')))}"
                 f'<br><span class="muted">per {_e(_singular(t.unit))}</span></td>',
                 "<td>—</td>" if imp is None else
                 f"<td>{_e(fmt_pct(abs(imp)))}<br><span class=\"muted\">"
                 f"{'cheaper' if imp >= 0 else 'dearer'}</span></td>"]
        for c in cols:
            v = fmt_pct(t.metric(latest, c), decimals=1) if defs.kind(c) == "percent" \
                else fmt_num(t.metric(latest, c), decimals=decimals[c]) \
                if defs.kind(c) == "number" else defs.fmt(c, t.metric(latest, c))
            if c in flagged:
                cells.append(f'<td class="flag" title="tension flag">⚠ {_e(v)}</td>')
            else:
                cells.append(f"<td>{_e(v)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    if notes:
        out.append(f'<div class="warn" role="note"><strong>⚠ Flags for {_e(latest)}</strong><ul>'
                   + "".join(f"<li><b>{_e(team)}</b>: {_e(msg)}</li>" for team, msg in notes)
                   + "</ul></div>")
    else:
        out.append(f'<p class="muted small">No tension flags for {_e(latest)}.</p>')
    out.append("</section>")
    return "\n".join(out)


def _unit_words(unit: Any, currency: str | None) -> str | None:
    """A definition's unit as a reader says it: ``ratio`` is a percentage, currency is named."""
    if not unit:
        return None
    u = str(unit)
    cur = currency or "currency"
    return {"ratio": "percentage", "currency": cur, "currency per unit": f"{cur} per unit",
            "FTE": "full-time equivalents"}.get(u, u)


def _definitions(definitions: Sequence[Mapping[str, Any]], than: str,
                 currency: str | None) -> str:
    out = ['<section id="definitions">', "<h2>Definitions</h2>",
           '<div class="note"><b>How to read the figures.</b> Improvements and savings compare '
           f"each team with itself {_e(than)}; the organisation figure weights each team by its "
           "cost. Ranges are plausible ranges from the effect estimates: the true value is likely "
           "inside them, and a range that includes zero means no change cannot be ruled out. "
           "Net return (ROI) is attributed savings less the amount invested, as a share of the "
           "amount invested: 100% means the savings were twice the investment.</div>"]
    items = [d for d in definitions if isinstance(d, Mapping)]
    if items:
        out.append('<dl class="defs">')
        for d in items:
            unit = _unit_words(d.get("unit"), currency)
            out.append(f"<dt>{_e(d.get('title') or _humanise(str(d.get('id', ''))))}"
                       + (f' <span class="unit">({_e(unit)})</span>' if unit else "")
                       + f"</dt><dd>{_e(d.get('definition') or '')}</dd>")
        out.append("</dl>")
    out.append("</section>")
    return "\n".join(out)


# --------------------------------------------------------------------------- files and PDF


def write_report(path: Path, cost: dict, initiatives: dict, definitions: list[dict], *,
                 generated_at: str, title: str = "Cost to Serve Software") -> Path:
    """Write the report to ``path``: HTML for ``.html``/``.htm``, PDF for ``.pdf``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".html", ".htm", ".pdf"):
        raise InputError(f"cannot write a report as '{path.suffix or path.name}'",
                         hint="name the output FILE.html or FILE.pdf")
    html = render_html(cost, initiatives, definitions, title=title, generated_at=generated_at)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the folder {path.parent}: {exc.strerror}",
                         hint="choose a writable output location") from exc
    if suffix == ".pdf":
        html_to_pdf(html, path)
    else:
        try:
            path.write_text(html, encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write {path}: {exc.strerror}",
                             hint="choose a writable output location") from exc
    return path
