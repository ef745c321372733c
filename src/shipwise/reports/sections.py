"""The report's sections, each rendered as an HTML fragment.

In reading order: the headline, the organisation's trend, the initiatives with their caveats,
each team against its own history, the tension metrics beside cost to serve, the definitions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from shipwise.metrics import ids
from shipwise.metrics.registry import ids_of, metrics_of
from shipwise.reports import charts
from shipwise.reports.format import (
    as_float,
    esc,
    fmt_money,
    fmt_num,
    fmt_pct,
    humanise,
    singular,
    year_before,
)
from shipwise.reports.model import Defs, Team, baseline_cost_words, org_metric

#: Metrics shown as cost to serve itself rather than as tension metrics beside it: the cost
#: family's headline figures and the organisation roll-up's.
CORE_METRICS = frozenset({*ids_of("cost", ids.SHOWN_TILE),
                          *(m.id for m in metrics_of("cost") if m.rollup), ids.COHORT_TEAMS})
#: Tension metrics in the order a reader meets them: what a cheaper cost to serve must not be
#: bought with first, then the delivery inputs; any others follow alphabetically.
TENSION_ORDER = (ids.CHANGE_FAIL_RATE, ids.HIGH_SEVERITY_TICKETS_PER_DEPLOYMENT,
                 ids.INCIDENT_TICKETS_PER_DEPLOYMENT, ids.HUMAN_INTERVENTIONS_PER_DEPLOYMENT,
                 ids.DEPLOYMENTS_PER_BUILDER_WEEK)
#: Fewer comparison teams than this and an initiative's estimate carries a warning.
MIN_CONTROL_TEAMS = 5


def _initiative_warnings(i: Mapping[str, Any], currency: str | None) -> list[str]:
    """The service's warnings, then the caveats a reader must see before trusting the figure."""
    out: list[str] = []
    for w in i.get("warnings") or []:
        msg = w.get("message") if isinstance(w, Mapping) else w
        if msg:
            out.append(str(msg))
    effect, low, high = (as_float(i.get(x)) for x in ("effect", "low", "high"))
    if effect is None:
        out.append("No estimate of the effect could be made from the data so far.")
    elif low is not None and high is not None and low <= 0 <= high:
        out.append(f"The plausible range for the effect ({fmt_pct(low, signed=True)} to "
                   f"{fmt_pct(high, signed=True)}) includes no change at all: this initiative may "
                   "not have changed cost to serve.")
    roi_low, roi_high = as_float(i.get("roi_low")), as_float(i.get("roi_high"))
    if roi_low is not None and roi_low < 0:
        upper = f" to {fmt_pct(roi_high, signed=True)}" if roi_high is not None else ""
        may = "do not" if roi_high is not None and roi_high < 0 else "may not"
        out.append(f"The savings {may} cover the amount invested: the net return ranges from "
                   f"{fmt_pct(roi_low, signed=True)}{upper}.")
    controls = as_float(i.get("control_teams"))
    if controls is not None and controls < MIN_CONTROL_TEAMS:
        n = int(controls)
        if n == 0:
            # the estimator already said why there is no comparison (e.g. every team at once)
            if not i.get("warnings"):
                out.append("No comparison teams: the effect cannot be told apart from what "
                           "happened to every team anyway.")
        else:
            out.append(f"Only {n} comparison team{'s' if n != 1 else ''}: the estimate rests on "
                       "few teams and may move as more data arrives.")
    if adopters(i) == 1:
        out.append("Only one team received this investment: its effect is hard to tell apart "
                   "from that team's own circumstances.")
    return list(dict.fromkeys(out))


def adopters(i: Mapping[str, Any]) -> int:
    """How many teams received an initiative: the teams its records name (not the teams that
    entered the estimate, which is 0 when no comparison was possible)."""
    n = as_float(i.get("adopting_teams"))
    return int(n) if n is not None else len(i.get("teams") or [])


def headline_section(org: Sequence[Mapping[str, Any]], improvement_id: str, grain: str,
                     baseline: str, than: str, currency: str | None,
                     why: str | None = None) -> str:
    """``why``: the reason the teams' latest improvement is empty (e.g. 'needs a year of history:
    first cost to serve 2024-Q4, …'), said when there are no organisation figures."""
    out = ['<section id="headline">']
    if not org:
        out.append('<p class="lede">There are no organisation figures yet: cost to serve can be '
                   f"compared with {esc(than)} only once there is a full baseline of data"
                   + (f" ({esc(why)})" if why else "") + ".</p>")
        out.append("</section>")
        return "\n".join(out)
    last = org[-1]
    period = str(last.get("period"))
    imp = org_metric(last, improvement_id)
    savings = org_metric(last, ids.SAVINGS)
    fte = org_metric(last, ids.EFFECTIVE_HEADCOUNT)
    median = org_metric(last, ids.IMPROVEMENT_MEDIAN_TEAM)
    cohort = org_metric(last, ids.COHORT_TEAMS, "cohort_teams")
    compared = year_before(period) if baseline == "yoy" else None
    than_p = f"{than} ({compared})" if compared else than

    tiles = []
    if imp is not None:
        word = "lower" if imp >= 0 else "higher"
        tiles.append((imp < 0, fmt_pct(abs(imp)),
                      f"{word} cost to serve in {period} than {than_p}"))
    if savings is not None:
        tiles.append((savings < 0, fmt_money(abs(savings), currency),
                      f"{'saved' if savings >= 0 else 'extra cost'} in {period}, compared with "
                      f"doing the same work at {baseline_cost_words(baseline, grain)}"))
    flagged = {str(f.get("metric")): f for f in _flags_of(last)}
    if savings is not None and ids.SAVINGS in flagged:
        tiles[-1] = (tiles[-1][0], tiles[-1][1], tiles[-1][2] + " ⚠ more than the teams spent: "
                     "see below")
    if fte is not None:
        what = ("full-time people’s worth of capacity given back"
                if fte >= 0 else "full-time people’s worth of extra capacity used")
        if ids.EFFECTIVE_HEADCOUNT in flagged:
            what += " ⚠ more than the teams’ headcount: see below"
        tiles.append((fte < 0, fmt_num(fte, decimals=1), what))
    window = {"quarter": 4, "month": 12}.get(grain) if baseline == "yoy" else None
    if window and len(org) >= window:
        recent = [org_metric(o, ids.SAVINGS) for o in org[-window:]]
        if all(v is not None for v in recent):
            total = sum(v for v in recent if v is not None)
            tiles.append((total < 0, fmt_money(abs(total), currency),
                          f"{'saved' if total >= 0 else 'extra cost'} over the last "
                          f"{window} {grain}s ({org[-window].get('period')} to {period})"))
    out.append('<div class="tiles">')
    for neg, big, what in tiles:
        out.append(f'<div class="tile{" neg" if neg else ""}"><div class="big">{esc(big)}</div>'
                   f'<div class="what">{esc(what)}</div></div>')
    out.append("</div>")

    if imp is not None:
        if imp >= 0:
            s = (f"In {period}, each unit of software the teams delivered cost "
                 f"{fmt_pct(imp)} less than {than_p}")
        else:
            s = (f"In {period}, each unit of software the teams delivered cost "
                 f"{fmt_pct(-imp)} more than {than_p}")
        if savings is not None:
            s += (f": delivering the same work at {baseline_cost_words(baseline, grain)} would "
                  "have cost "
                  f"{fmt_money(abs(savings), currency)} {'more' if savings >= 0 else 'less'}")
            if fte is not None and fte > 0 and ids.EFFECTIVE_HEADCOUNT not in flagged:
                s += (f", what about {fmt_num(fte, decimals=1)} full-time people cost in "
                      "the period (capacity given back: the people the same volume would have "
                      "needed, not people who left)")
            elif fte is not None and fte > 0:
                s += (f", what about {fmt_num(fte, decimals=1)} full-time people cost — more "
                      "than the teams have, because most of it is work done on top, not people "
                      "freed")
        out.append(f'<p class="lede">{esc(s)}.</p>')
    explanation = last.get("explanation")
    if explanation:
        out.append(f'<p class="small">{esc(explanation)}</p>')
    if flagged:
        out.append('<div class="warn" role="note"><strong>⚠ Read with care</strong><ul>'
                   + "".join(f"<li>{esc(_sentence(f.get('message')))}</li>"
                             for f in flagged.values()) + "</ul></div>")
    extra = []
    if cohort is not None:
        n = int(cohort)
        extra.append(f"Measured across the {n} team{'s' if n != 1 else ''} with figures for both "
                     "periods, each team weighted by its cost")
    if median is not None:
        extra.append(f"the typical (median) team’s cost per unit was {fmt_pct(abs(median))} "
                     f"{'lower' if median >= 0 else 'higher'} than {than}")
    if extra:
        out.append(f'<p class="muted small">{esc("; ".join(extra))}.</p>')
    out.append("</section>")
    return "\n".join(out)


def _flags_of(entry: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [f for f in (entry.get("flags") or []) if isinstance(f, Mapping)]


def _sentence(message: Any) -> str:
    """A flag's message as a sentence: capitalised, with a full stop."""
    m = str(message or "").strip()
    if not m:
        return m
    return m[0].upper() + m[1:] + ("" if m.endswith(".") else ".")


CAPACITY_WORDS = ("Savings split into the unit cost change on the baseline’s volume and volume "
                  "growth (the extra units, each at the lower unit cost). Capacity given back is "
                  "the savings ÷ the loaded cost of one FTE (people cost ÷ average FTE): people "
                  "the same volume would have needed at the baseline’s cost per unit, not people "
                  "who left. ⚠: larger than the teams’ own spend or headcount.")


def trend_section(org: Sequence[Mapping[str, Any]], improvement_id: str, grain: str,
                  than: str, currency: str | None) -> str:
    if not org:
        return ""
    periods = [str(o.get("period")) for o in org]
    imps = [org_metric(o, improvement_id) for o in org]
    medians = [org_metric(o, ids.IMPROVEMENT_MEDIAN_TEAM) for o in org]
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
           f"<figure>{svg}<figcaption>Each point compares a {esc(grain)} with {esc(than)}. Above "
           "zero means each unit of software cost less to deliver; below zero, more. The dashed "
           "line is the typical team, so a gap between the lines shows the change is driven by a "
           "few large teams.</figcaption></figure>",
           '<table><thead><tr><th>' + esc(grain.capitalize()) + "</th><th>Cheaper than "
           + esc(than) + "</th><th>Median team</th><th>Savings</th><th>of which unit cost</th>"
           "<th>of which volume</th><th>Spent</th><th>Capacity given back (FTE)</th>"
           "<th>Headcount (FTE)</th><th>Teams measured</th></tr></thead><tbody>"]
    notes: list[tuple[str, str]] = []
    for o, imp, med in zip(org, imps, medians, strict=True):
        cohort = org_metric(o, ids.COHORT_TEAMS, "cohort_teams")
        flagged = {str(f.get("metric")) for f in _flags_of(o)}
        notes += [(str(o.get("period")), _sentence(f.get("message"))) for f in _flags_of(o)]

        def cell(text: str, mid: str, flagged: set[str] = flagged) -> str:
            if mid in flagged:
                return f'<td class="flag" title="larger than the teams’ own">⚠ {esc(text)}</td>'
            return f"<td>{esc(text)}</td>"

        out.append(
            f"<tr><td class=\"nw\">{esc(o.get('period'))}</td>"
            f"<td>{esc(fmt_pct(imp, signed=True, decimals=1))}</td>"
            f"<td>{esc(fmt_pct(med, signed=True, decimals=1))}</td>"
            + cell(fmt_money(org_metric(o, ids.SAVINGS), currency), ids.SAVINGS)
            + f"<td>{esc(fmt_money(org_metric(o, ids.SAVINGS_UNIT_COST), currency))}</td>"
            f"<td>{esc(fmt_money(org_metric(o, ids.SAVINGS_VOLUME), currency))}</td>"
            f"<td>{esc(fmt_money(as_float(o.get('cost_amount')), currency))}</td>"
            + cell(fmt_num(org_metric(o, ids.EFFECTIVE_HEADCOUNT), decimals=1),
                   ids.EFFECTIVE_HEADCOUNT)
            + f"<td>{esc(fmt_num(as_float(o.get('average_fte')), decimals=1))}</td>"
            f"<td>{esc(fmt_num(cohort, decimals=0))}</td></tr>")
    out.append("</tbody></table>")
    out.append(f'<p class="muted small">{esc(CAPACITY_WORDS)}</p>')
    if notes:
        out.append('<div class="warn" role="note"><strong>⚠ Figures larger than the teams’ own '
                   "spend or headcount</strong><ul>"
                   + "".join(f"<li>{esc(p)}: {esc(m)}</li>" for p, m in notes) + "</ul></div>")
    out.append("</section>")
    return "\n".join(out)


def _range(lo: str, hi: str) -> str:
    return f"{lo} to {hi}"


def initiatives_section(inits: Sequence[Mapping[str, Any]], currency: str | None) -> str:
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
                            as_float(i.get("effect")), as_float(i.get("low")),
                            as_float(i.get("high")),
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
        effect, low, high = (as_float(i.get(x)) for x in ("effect", "low", "high"))
        amount = as_float(i.get("amount"))
        sav, sav_lo, sav_hi = (as_float(i.get(x)) for x in ("attributed_savings", "savings_low",
                                                          "savings_high"))
        roi, roi_lo, roi_hi = (as_float(i.get(x)) for x in ("roi", "roi_low", "roi_high"))
        team_list = [str(t) for t in i.get("teams") or []]
        treated = as_float(i.get("treated_teams"))
        controls = as_float(i.get("control_teams"))
        n_treated = adopters(i)

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
        out.append(f"<h3>{esc(name)}</h3>")
        out.append(f"<p>{esc(s)}</p>")
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
            out.append(f'<div class="fig"><div class="k">{esc(label)}</div>'
                       f'<div class="v">{esc(value)}</div>'
                       f'<div class="r">{esc("range " + rng) if rng else "&nbsp;"}</div></div>')
        out.append("</div>")
        evidence = f"Teams that received it: {n_treated}"
        if team_list:
            evidence += f" ({', '.join(team_list)})"
        if controls is not None:
            evidence += f" · comparison teams: {int(controls)}"
        if treated is not None and effect is not None and int(treated) != n_treated:
            evidence += f" · adopting teams in the estimate: {int(treated)}"
        out.append(f'<p class="muted small">{esc(evidence)}</p>')
        if warns:
            out.append('<div class="warn" role="note"><strong>⚠ Read with care</strong><ul>'
                       + "".join(f"<li>{esc(m)}</li>" for m in warns) + "</ul></div>")
        out.append("</article>")
    out.append("</section>")
    return "\n".join(out)


def team_section(teams: Sequence[Team], defs: Defs, improvement_id: str, than: str,
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
    groups: dict[str | None, list[Team]] = {}
    for t in teams:
        groups.setdefault(t.org_unit, []).append(t)
    grouped = len(groups) > 1 or None not in groups
    for unit_name, members in groups.items():
        out.append('<div class="unit-group">')
        if grouped:
            out.append(f"<h3>{esc(unit_name or 'No organisation unit')}</h3>")
        out.append('<div class="cards">')
        for k, t in enumerate(members):
            out.append(_team_card(t, periods, latest, defs, improvement_id, than, currency,
                                  f"chart-team-{len(out)}-{k}"))
        out.append("</div></div>")
    out.append("</section>")
    return "\n".join(out)


def _team_card(t: Team, periods: Sequence[str], latest: str, defs: Defs, improvement_id: str,
               than: str, currency: str | None, chart_id: str) -> str:
    unit = singular(t.unit)
    values = [t.metric(p, ids.COST_TO_SERVE) for p in periods]
    svg = charts.sparkline(
        chart_id, periods, values,
        title=f"{t.team}: cost to serve per {unit}, by period",
        y_label=f"{currency or ''} per {unit}".strip(),
        fmt=lambda v: fmt_money(v, currency))
    tension = [(p, f) for p in reversed(periods) for f in t.flags(p)
               if f.get("kind", "tension") == "tension"]
    # savings and FTE are shown for the latest period only, so are their size flags; the
    # other flags (months without units, unconverted costs) read on the chart's every period
    other = [(p, f) for p in reversed(periods) for f in t.flags(p)
             if f.get("kind", "tension") != "tension"
             and (p == latest or f.get("kind") not in ("exceeds_spend", "exceeds_headcount"))]
    imp = t.metric(latest, improvement_id)
    out = [f'<article class="card{" flagged" if tension else ""}" '
           f'aria-label="{esc(t.team)}">',
           f"<header><h3>{esc(t.team)}{' ⚠' if tension else ''}</h3>"
           f'<span class="muted">{esc(t.org_unit or "")}{" · " if t.org_unit else ""}'
           f"cost per {esc(unit)}</span></header>",
           svg]
    change = "—" if imp is None else f"{fmt_pct(abs(imp))} {'cheaper' if imp >= 0 else 'dearer'}"
    fte = t.metric(latest, ids.EFFECTIVE_HEADCOUNT)
    row = t.rows.get(latest) or {}
    big = {str(f.get("metric")) for f in t.flags(latest)
           if f.get("kind") in ("exceeds_spend", "exceeds_headcount")}
    savings = fmt_money(t.metric(latest, ids.SAVINGS), currency)
    given = "—" if fte is None else f"{fmt_num(fte, decimals=1)} FTE"
    facts = [
        (latest, fmt_money(t.metric(latest, ids.COST_TO_SERVE), currency)),
        (f"vs {than}", change),
        ("Savings", ("⚠ " if ids.SAVINGS in big else "") + savings),
        ("Given back", ("⚠ " if ids.EFFECTIVE_HEADCOUNT in big else "") + given),
    ]
    out.append('<div class="facts">' + "".join(
        f'<div><div class="k">{esc(k)}</div><div class="v">{esc(v)}</div></div>' for k, v in facts)
        + "</div>")
    missing = row.get("missing") or {}
    why = missing.get(improvement_id) or missing.get(ids.SAVINGS)
    if why:
        out.append(f'<p class="muted small">— {esc(why)}.</p>')
    elif row.get("explanation"):
        out.append(f'<p class="muted small">{esc(row.get("explanation"))}</p>')
    if tension:
        out.append('<div class="warn" role="note"><strong>⚠ Tension</strong><ul>'
                   + "".join(f"<li>{esc(p)}: {esc(f.get('message') or defs.title(str(f.get('metric'))))}</li>"
                             for p, f in tension) + "</ul></div>")
    for p, f in other:
        out.append(f'<p class="info">ℹ {esc(p)}: {esc(f.get("message") or "")}</p>')
    out.append("</article>")
    return "\n".join(out)


def _tension_columns(teams: Sequence[Team]) -> list[str]:
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


def tension_section(teams: Sequence[Team], defs: Defs, improvement_id: str, than: str) -> str:
    out = ['<section id="tension">',
           "<h2>Cost beside safety and workload</h2>"]
    if not teams:
        out.append("<p>No team figures are available.</p></section>")
        return "\n".join(out)
    latest = sorted({p for t in teams for p in t.rows})[-1]
    cols = _tension_columns(teams)
    out.append(
        f"<p>Cheaper delivery is only good news if it is not bought with failures, incidents or "
        f"overwork. For {esc(latest)}, this table puts each team’s cost to serve beside the "
        "measures that would show such strain. A highlighted ⚠ cell is a measure that got worse "
        "while cost to serve improved. Teams appear in the same alphabetical order as above.</p>")
    head = ("<tr><th>Team</th><th class=\"l\">Org unit</th><th>Cost to serve</th>"
            f"<th>vs {esc(than)}</th>"
            + "".join(f"<th>{esc(defs.title(c))}</th>" for c in cols) + "</tr>")
    out.append(f"<table><thead>{head}</thead><tbody>")
    decimals = {c: _column_decimals([t.metric(latest, c) for t in teams]) for c in cols}
    notes: list[tuple[str, str]] = []
    for t in teams:
        flagged = {str(f.get("metric")) for f in t.flags(latest) if f.get("kind") == "tension"}
        for f in t.flags(latest):
            if f.get("message"):
                notes.append((t.team, str(f["message"])))
        imp = t.metric(latest, improvement_id)
        cells = [f'<td class="nw">{esc(t.team)}</td>',
                 f'<td class="l">{esc(t.org_unit or "")}</td>',
                 f"<td class=\"nw\">"
                 f"{esc(defs.fmt(ids.COST_TO_SERVE, t.metric(latest, ids.COST_TO_SERVE)))}"
                 f'<br><span class="muted">per {esc(singular(t.unit))}</span></td>',
                 "<td>—</td>" if imp is None else
                 f"<td>{esc(fmt_pct(abs(imp)))}<br><span class=\"muted\">"
                 f"{'cheaper' if imp >= 0 else 'dearer'}</span></td>"]
        for c in cols:
            v = fmt_pct(t.metric(latest, c), decimals=1) if defs.kind(c) == "percent" \
                else fmt_num(t.metric(latest, c), decimals=decimals[c]) \
                if defs.kind(c) == "number" else defs.fmt(c, t.metric(latest, c))
            if c in flagged:
                cells.append(f'<td class="flag" title="tension flag">⚠ {esc(v)}</td>')
            else:
                cells.append(f"<td>{esc(v)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    if notes:
        out.append(f'<div class="warn" role="note"><strong>⚠ Flags for {esc(latest)}</strong><ul>'
                   + "".join(f"<li><b>{esc(team)}</b>: {esc(msg)}</li>" for team, msg in notes)
                   + "</ul></div>")
    else:
        out.append(f'<p class="muted small">No tension flags for {esc(latest)}.</p>')
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


def definitions_section(definitions: Sequence[Mapping[str, Any]], than: str,
                        currency: str | None) -> str:
    out = ['<section id="definitions">', "<h2>Definitions</h2>",
           '<div class="note"><b>How to read the figures.</b> Improvements and savings compare '
           f"each team with itself {esc(than)}; the organisation figure weights each team by its "
           "cost. Ranges are plausible ranges from the effect estimates: the true value is likely "
           "inside them, and a range that includes zero means no change cannot be ruled out. "
           "Net return (ROI) is attributed savings less the amount invested, as a share of the "
           "amount invested: 100% means the savings were twice the investment.</div>"]
    items = [d for d in definitions if isinstance(d, Mapping)]
    if items:
        out.append('<dl class="defs">')
        for d in items:
            unit = _unit_words(d.get("unit"), currency)
            out.append(f"<dt>{esc(d.get('title') or humanise(str(d.get('id', ''))))}"
                       + (f' <span class="unit">({esc(unit)})</span>' if unit else "")
                       + f"</dt><dd>{esc(d.get('definition') or '')}</dd>")
        out.append("</dl>")
    out.append("</section>")
    return "\n".join(out)
