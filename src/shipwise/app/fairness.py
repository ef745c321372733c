"""The fairness audit: for every flag shipwise raises about teams, who it falls on, what context
the metrics behind it move with, and how much they vary between org units.

Flags come from :data:`FLAG_PROVIDERS`; adding a flag is one entry there (a function
``(store, settings) -> list[FlagRow]``, one row per team-quarter the flag was evaluated for, whose
docstring's first line is the flag's plain-language label). The statistics are the pure
functions of :mod:`shipwise.governance.fairness`; this module gathers their inputs and shapes the
JSON every interface shows (``shipwise fairness audit``, the API, the web page).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from shipwise.app.cost import CostRequest, cost_rows
from shipwise.app.metrics import DoraRequest, dora_rows
from shipwise.app.slo import slo_rows
from shipwise.config import Settings
from shipwise.errors import InputError
from shipwise.governance import fairness as fx
from shipwise.governance.fairness import FlagRow
from shipwise.metrics import ids, registry
from shipwise.store.duckdb_store import Store

__all__ = ["FLAG_PROVIDERS", "FlagRow", "audit_markdown", "fairness_audit"]

#: Team attributes audited by default (those that at least one team has).
DEFAULT_ATTRIBUTES = ("location", "team_type", "working_arrangement", "timezone")

#: Metrics behind today's flags, correlated with context and split by org unit.
METRICS = (ids.DEPLOYMENT_FREQUENCY, ids.CHANGE_LEAD_TIME, ids.CHANGE_FAIL_RATE, ids.COST_TO_SERVE)

CONTEXT_LABELS = {
    "on_call_load": "on-call load (pages per member-week)",
    "migration": "migration quarters",
    "team_size": "team size (average members)",
}
#: context variables that differ between teams (also correlated over team means)
TEAM_LEVEL_CONTEXT = ("on_call_load", "team_size")


# --------------------------------------------------------------------------------------------
# flag providers


def low_cluster(store: Store, settings: Settings) -> list[FlagRow]:
    """Low DORA cluster flags"""
    rows = dora_rows(store, DoraRequest(grain="quarter"))["rows"]
    return [FlagRow(r["team"], r["period"], r["cluster"] == "low", f"cluster {r['cluster']}")
            for r in rows if r["cluster"] is not None]


def cost_tension(store: Store, settings: Settings) -> list[FlagRow]:
    """Cost tension warnings"""
    rows = cost_rows(store, CostRequest(grain="quarter", baseline="yoy"), settings.cost)["rows"]
    out = []
    for r in rows:
        if r["metrics"].get(ids.IMPROVEMENT_YOY) is None:
            continue  # no year-earlier baseline: the warning could not be raised
        tension = [f["message"] for f in r["flags"] if f["kind"] == "tension"]
        out.append(FlagRow(r["team"], r["period"], bool(tension), "; ".join(tension)))
    return out


def slo_missed(store: Store, settings: Settings) -> list[FlagRow]:
    """Missed SLO quarters"""
    hist = slo_rows(store, settings.slo, grain="quarter")["history"]["rows"]
    by: dict[tuple[str, str], list[str]] = {}
    for r in hist:
        if r["met"] is None:
            continue  # no events: the objective could not be missed
        key = (str(r["team"]), str(r["period"]))
        by.setdefault(key, [])
        if not r["met"]:
            by[key].append(str(r["slo"]))
    return [FlagRow(team, period, bool(missed), ", ".join(sorted(missed)))
            for (team, period), missed in sorted(by.items())]


#: flag id -> provider. Adding a flag is one entry.
FLAG_PROVIDERS: dict[str, Callable[[Store, Settings], list[FlagRow]]] = {
    "dora.low_cluster": low_cluster,
    "cost.tension": cost_tension,
    "slo.missed": slo_missed,
}


def flag_label(flag: str) -> str:
    doc = (FLAG_PROVIDERS[flag].__doc__ or "").strip()
    return doc.splitlines()[0].rstrip(".") if doc else f"{flag} flags"


# --------------------------------------------------------------------------------------------
# inputs


def _teams(store: Store) -> dict[str, dict[str, Any]]:
    out = {}
    for r in store.query("SELECT id, org_unit, attributes FROM team ORDER BY id"):
        attrs = r["attributes"]
        if isinstance(attrs, str):
            attrs = json.loads(attrs)
        out[r["id"]] = {"org_unit": r["org_unit"], "attributes": attrs or {}}
    return out


def _context(store: Store, since: date, until: date) -> dict[tuple[str, str], dict[str, float]]:
    """(team, quarter) -> member_days, days, pages: human memberships clipped to the quarter (and
    the data span), and pages to humans."""
    rows = store.query("""
        WITH q AS (
          SELECT quarter, min(day) AS q_start, max(day) AS q_end FROM calendar
          WHERE day BETWEEN ? AND ? GROUP BY quarter),
        m AS (
          SELECT p.team, q.quarter,
                 sum(date_diff('day', greatest(p.since, q.q_start),
                               least(coalesce(p."until", q.q_end), q.q_end)) + 1) AS member_days,
                 any_value(date_diff('day', q.q_start, q.q_end) + 1) AS days
          FROM person p JOIN q ON p.since <= q.q_end AND coalesce(p."until", q.q_end) >= q.q_start
          WHERE NOT p.bot GROUP BY ALL),
        pg AS (
          SELECT pg.team, c.quarter, count(*) AS pages
          FROM page pg JOIN calendar c ON c.day = pg."at"::DATE
          WHERE NOT pg.person_is_bot AND c.day BETWEEN ? AND ? GROUP BY ALL)
        SELECT m.team, m.quarter, m.member_days, m.days, coalesce(pg.pages, 0) AS pages
        FROM m LEFT JOIN pg USING (team, quarter)""", [since, until, since, until])
    return {(r["team"], r["quarter"]): r for r in rows}


def _migrations(store: Store, context: Mapping[str, Any] | None
                ) -> tuple[set[tuple[str, str]], dict[str, Any]]:
    """Marked (team or '*', quarter) pairs and where the marks came from."""
    given = (context or {}).get("migration_quarters")
    if given:
        marks: set[tuple[str, str]] = set()
        if isinstance(given, Mapping):
            for team, quarters in given.items():
                marks |= {(str(team), str(q)) for q in quarters}
        else:
            marks = {("*", str(q)) for q in given}
        return marks, {"source": "request", "quarters": sorted({q for _, q in marks}),
                       "note": "migration quarters named in the request's context"}
    rows = store.query("""
        SELECT i.id, i.name, i.kind, c.quarter, it.team
        FROM investment i JOIN calendar c ON c.day = i.started_at::DATE
        LEFT JOIN investment_team it ON it.investment_id = i.id
        WHERE lower(i.name) LIKE '%migrat%' OR lower(i.kind) LIKE '%migrat%'
        ORDER BY i.id, it.team""")
    if not rows:
        return set(), {"source": None, "quarters": [],
                       "note": ("nothing in the data marks a migration (no investment named or "
                                "of a kind containing 'migration'); name the quarters with "
                                "--migration-quarter or context={'migration_quarters': [...]}")}
    marks = {(r["team"] or "*", r["quarter"]) for r in rows}
    invs = sorted({(r["id"], r["name"]) for r in rows})
    return marks, {
        "source": "investment", "quarters": sorted({r["quarter"] for r in rows}),
        "investments": [{"id": i, "name": n} for i, n in invs],
        "note": ("the quarter in which an investment named (or of a kind) 'migration' started "
                 "is a migration quarter for its teams; its duration is not recorded, so later "
                 "quarters are not marked"),
    }


def _quarters_of(marks: set[tuple[str, str]], team: str, quarter: str) -> bool:
    return (team, quarter) in marks or ("*", quarter) in marks


# --------------------------------------------------------------------------------------------
# the audit


def fairness_audit(store: Store, settings: Settings, *, flags: Sequence[str] | None = None,
                   attributes: Sequence[str] | None = None,
                   context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The audit as JSON-ready data: observations, per-flag per-attribute adverse-impact tables,
    correlations with context, variance between org units, findings (concerns first) and notes on
    the method. ``context`` may name migration quarters (``{"migration_quarters": ["2025-Q2"]}``
    for every team, or ``{team: [quarters]}``) when the data does not mark them."""
    cfg = settings.fairness
    flag_ids = list(flags) if flags else list(FLAG_PROVIDERS)
    unknown = [f for f in flag_ids if f not in FLAG_PROVIDERS]
    if unknown:
        raise InputError(f"unknown flag {', '.join(unknown)}",
                         hint="flags: " + ", ".join(FLAG_PROVIDERS))
    teams = _teams(store)
    present = {k for t in teams.values() for k, v in t["attributes"].items() if v is not None}
    if attributes:
        missing = [a for a in attributes if a not in present]
        if missing:
            raise InputError(f"no team has the attribute {', '.join(missing)}",
                             hint="attributes: " + (", ".join(sorted(present)) or "none"))
        attr_ids = list(attributes)
    else:
        attr_ids = [a for a in DEFAULT_ATTRIBUTES if a in present]
    groups = {a: {tid: str(t["attributes"][a]) for tid, t in teams.items()
                  if t["attributes"].get(a) is not None} for a in attr_ids}

    dora = dora_rows(store, DoraRequest(grain="quarter"))
    cost = cost_rows(store, CostRequest(grain="quarter", baseline="yoy"), settings.cost)
    flag_rows = {f: FLAG_PROVIDERS[f](store, settings) for f in flag_ids}
    labels = {f: flag_label(f) for f in flag_ids}

    # the panel: every team-quarter with DORA or cost figures, for a team the store knows
    values: dict[tuple[str, str], dict[str, float | None]] = {}
    for r in dora["rows"]:
        values.setdefault((r["team"], r["period"]), {}).update(
            {m: r["metrics"][m] for m in METRICS if m in r["metrics"]})
    cts: dict[str, list[float]] = {}
    for r in cost["rows"]:
        v = r["metrics"].get(ids.COST_TO_SERVE)
        values.setdefault((r["team"], r["period"]), {})[ids.COST_TO_SERVE] = v
        if v is not None:
            cts.setdefault(r["team"], []).append(v)
    team_median = {t: statistics.median(v) for t, v in cts.items()}
    for (team, _), vals in values.items():  # teams deliver in different units: own median = 1
        v = vals.get(ids.COST_TO_SERVE)
        med = team_median.get(team)
        vals[ids.COST_TO_SERVE] = v / med if v is not None and med else None
    keys = sorted(k for k in values if k[0] in teams)
    raised = {f: {(r.team, r.period): float(r.raised) for r in rows}
              for f, rows in flag_rows.items()}

    since = dora["since"] or cost["since"]
    until = dora["until"] or cost["until"]
    ctx_rows = (_context(store, date.fromisoformat(since), date.fromisoformat(until))
                if since and until else {})
    has_pages = store.count("page") > 0
    marks, migration_source = _migrations(store, context)

    def ctx(team: str, quarter: str) -> dict[str, float | None]:
        c = ctx_rows.get((team, quarter))
        weeks = c["member_days"] / 7 if c else 0
        return {
            "on_call_load": c["pages"] / weeks if c and weeks and has_pages else None,
            "migration": (float(_quarters_of(marks, team, quarter)) if marks else None),
            "team_size": c["member_days"] / c["days"] if c and c["days"] else None,
        }

    contexts = [ctx(t, q) for t, q in keys]
    key_teams = [t for t, _ in keys]
    series: dict[str, list[float | None]] = {m: [values[k].get(m) for k in keys] for m in METRICS}
    series.update({f: [raised[f].get(k) for k in keys] for f in flag_ids})
    series_labels = {m: registry.get(m).title for m in METRICS}
    series_labels[ids.COST_TO_SERVE] = f"{registry.get(ids.COST_TO_SERVE).title} (relative to the team's median quarter)"
    series_labels.update(labels)

    # 1. adverse impact
    flag_out, findings = [], []
    for f in flag_ids:
        rows = [r for r in flag_rows[f] if r.team in teams]
        tables = fx.audit_flag(rows, groups, impact_ratio=cfg.impact_ratio, alpha=cfg.alpha)
        findings += fx.impact_findings(f, labels[f], tables, impact_ratio=cfg.impact_ratio)
        flag_out.append({
            "id": f, "label": labels[f], "observations": len(rows),
            "raised": sum(r.raised for r in rows), "teams": len({r.team for r in rows}),
            "teams_ever_flagged": len({r.team for r in rows if r.raised}),
            "attributes": [{"attribute": a, **t} for a, t in tables.items()],
        })

    # 2. context
    ctx_series = {c: [x[c] for x in contexts] for c in CONTEXT_LABELS}
    relative = (ids.COST_TO_SERVE,)  # a team's mean of it is ~1 by construction
    corr = fx.correlation_table(series, ctx_series, key_teams, alpha=cfg.alpha,
                                team_level=TEAM_LEVEL_CONTEXT, within_team=relative)
    for r in corr:
        r["kind"] = "flag" if r["series"] in flag_ids else "metric"
        r["label"] = series_labels[r["series"]]
    findings += fx.correlation_findings(corr, series_labels, CONTEXT_LABELS, flag_series=flag_ids,
                                        binary=("migration",))

    # 3. org units
    units = [teams[t]["org_unit"] for t in key_teams]
    variance = []
    for sid, column in series.items():
        variance.append({"metric": sid, "kind": "flag" if sid in flag_ids else "metric",
                         "label": series_labels[sid],
                         **fx.org_unit_variance(column, units, key_teams)})
        if sid in relative:
            variance[-1]["team_level"] = None
    fx.grade_variance(variance, alpha=cfg.alpha)
    findings += fx.variance_findings(variance, series_labels)

    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {"impact_ratio": cfg.impact_ratio, "alpha": cfg.alpha,
                     "min_observations": fx.MIN_OBSERVATIONS, "min_teams": fx.MIN_TEAMS},
        "observations": {
            "unit": "team-quarter", "since": since, "until": until, "teams": len(teams),
            "team_quarters": len(keys),
            "quarters": sorted({q for _, q in keys}),
            "attributes": {a: sorted(set(g.values())) for a, g in groups.items()},
            "independent": False,
            "note": ("a team's quarters are not independent (same people, services and habits): "
                     "p-values over team-quarters overstate the evidence; read them beside the "
                     "team-level view"),
        },
        "flags": flag_out,
        "correlations": {"context": CONTEXT_LABELS, "migration": migration_source,
                         "on_call_load": ("pages to people ÷ member-weeks of human members"
                                          if has_pages else "no pages in the store"),
                         "rows": corr},
        "org_unit_variance": variance,
        "findings": fx.sort_findings(findings),
        "method": METHOD_NOTES,
    }


METHOD_NOTES = [
    "Observations are team-quarters: a flag evaluated for a team in a quarter (raised or not). "
    "They are not independent — a team's quarters share people, services and habits — so every "
    "table also shows the team-level view (teams ever flagged; correlations of team means).",
    "Adverse impact ratio: a group's favourable (not flagged) rate ÷ the best group's. The "
    "four-fifths screen calls a ratio below the configured impact_ratio (0.8 by default) an "
    "adverse impact; it is a screen, not proof.",
    "Beside the screen: Fisher's exact test of the group against all other teams (two-sided), "
    "Holm-adjusted across every group comparison of the same flag. A concern needs both.",
    "A group with fewer than 5 team-quarters, or of one team, is inconclusive; a one-team "
    "group's counts are not shown (they would be that team's flag history).",
    "Context: Spearman's rank correlation over team-quarters of each metric (and each flag, "
    "0/1) with on-call load (pages to people per member-week), migration quarters (0/1) and "
    "team size (average human members), Holm-adjusted across the table; concern at |ρ| ≥ 0.3 "
    "with adjusted p < alpha.",
    "Cost to serve is compared as each team's ratio to its own median quarter, since teams "
    "deliver in different units (deployments, pull requests, commits).",
    "Org units: η² of a one-way ANOVA over team-quarter values (share of variance between org "
    "units) with the Kruskal–Wallis p, Holm-adjusted across metrics; concern at η² ≥ 0.14 "
    "with adjusted p < alpha. An org unit of one team shows no summary figures.",
    "Nothing here is about individuals: inputs and results are teams and groups of teams, and "
    "which teams were flagged is not shown — only how many.",
]


# --------------------------------------------------------------------------------------------
# a report a review board can read


def _num(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.0%}"


def _p(x: float | None) -> str:
    return "–" if x is None else "< 0.001" if x < 0.001 else f"{x:.3f}"


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def cell(v: str) -> str:
        return v.replace("|", "\\|")

    return ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers),
            *("| " + " | ".join(cell(str(v)) for v in r) + " |" for r in rows), ""]


HEADINGS = {"concern": "Concerns", "watch": "To watch", "ok": "Checked and fine"}


def audit_markdown(audit: Mapping[str, Any]) -> str:
    """The audit as a Markdown report: findings with what to do, then the tables behind them."""
    obs, st = audit["observations"], audit["settings"]
    out = [
        "# Fairness audit", "",
        f"Generated {audit['generated_at']} over {obs['since']} – {obs['until']}: "
        f"{obs['teams']} teams, {obs['team_quarters']} team-quarters. Four-fifths screen at an "
        f"impact ratio of {st['impact_ratio']:g}, significance level {st['alpha']:g}.", "",
        f"> Team-quarters are not independent: {obs['note'].split(': ', 1)[-1]}. Nothing in this "
        "report is about individuals.", "",
        "## Findings", "",
    ]
    for sev in ("concern", "watch", "ok"):
        found = [f for f in audit["findings"] if f["severity"] == sev]
        if not found:
            continue
        out += [f"### {HEADINGS[sev]} ({len(found)})", ""]
        for f in found:
            out.append(f"- {f['text']}" + ("" if sev == "ok" else f"  \n  *What to do:* "
                                                                 f"{f['what_to_do']}"))
        out.append("")
    out += ["## Who the flags fall on", ""]
    for flag in audit["flags"]:
        out += [f"### {flag['label']} (`{flag['id']}`)", "",
                f"Raised in {flag['raised']} of {flag['observations']} team-quarters; "
                f"{flag['teams_ever_flagged']} of {flag['teams']} teams flagged at least once.", ""]
        for t in flag["attributes"]:
            out += [f"**{t['attribute'].replace('_', ' ')}**"
                    + (f" ({t['teams_without_value']} teams without a value left out)"
                       if t["teams_without_value"] else ""), ""]
            out += _md_table(
                ["group", "teams", "team-quarters", "flagged", "impact ratio", "p (Holm)",
                 "teams flagged", "status"],
                [[g["value"], g["teams"], g["observations"] if g["observations"] is not None
                  else "–", _pct(g["flagged_rate"]), _num(g["impact_ratio"]), _p(g["p_adjusted"]),
                  "–" if g["teams_flagged"] is None else f"{g['teams_flagged']} of {g['teams']}",
                  g["status"] + (" (one team)" if g["suppressed"] else "")]
                 for g in t["groups"]])
    corr = audit["correlations"]
    out += ["## Metrics and context", "",
            f"Migration quarters: {', '.join(corr['migration']['quarters']) or 'none'} — "
            f"{corr['migration']['note']}. On-call load: {corr['on_call_load']}.", ""]
    out += _md_table(
        ["metric or flag", "context", "team-quarters", "ρ", "p (Holm)", "ρ of team means",
         "severity"],
        [[r["label"], r["context"].replace("_", " "), r["n"], _num(r["rho"]),
          _p(r["p_adjusted"]), _num((r["team_level"] or {}).get("rho")), r["severity"]]
         for r in corr["rows"]])
    out += ["## Variance between org units", ""]
    out += _md_table(
        ["metric or flag", "team-quarters", "org units", "η²", "Kruskal–Wallis p (Holm)",
         "η² of team means", "severity"],
        [[r["label"], r["observations"], r["units"], _num(r["eta_squared"]),
          _p(r["p_adjusted"]), _num((r["team_level"] or {}).get("eta_squared")), r["severity"]]
         for r in audit["org_unit_variance"]])
    out += ["## Method", "", *(f"- {n}" for n in audit["method"]), "",
            "See docs/fairness.md for how to read this report.", ""]
    return "\n".join(out)
