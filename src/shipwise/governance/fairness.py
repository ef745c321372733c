"""Fairness audit statistics: pure functions over small tables, no I/O.

Three questions about the flags shipwise raises about teams (a low DORA cluster, a cost tension
warning, …) and the metrics behind them:

1. **Adverse impact** — does a flag fall more often on teams with some attribute (location, team
   type, working arrangement)? Per flag × attribute × group: the flagged and favourable
   (not flagged) rates over team-periods, the adverse impact ratio (the group's favourable rate ÷
   the best group's), the four-fifths screen (ratio < ``impact_ratio``), and Fisher's exact test
   of the group against all other teams, Holm-adjusted across every comparison of the flag.
2. **Context** — do the metrics (and flags) move with things a team does not choose: on-call
   load, migration quarters, team size? Spearman's rank correlation over team-periods.
3. **Org units** — how much of a metric's variation lies between org units (η² of a one-way
   ANOVA, Kruskal–Wallis p)?

Observations are team-periods (team-quarters), and a team's quarters are **not independent**: the
same people, services and habits carry over. p-values over team-quarters therefore overstate the
evidence; every table also carries a team-level view (share of teams ever flagged, correlations of
team means) with one observation per team. Nothing here sees or returns a person: the inputs are
teams and groups of teams.
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from scipy.stats import f_oneway, fisher_exact, kruskal, spearmanr

#: Below this many team-periods a group is inconclusive.
MIN_OBSERVATIONS = 5
#: A group of one team is that team, not a group: attribute and team cannot be told apart.
MIN_TEAMS = 2
#: |ρ| at or above this is a correlation worth acting on (a "moderate" one), when significant.
STRONG_RHO = 0.3
#: η² at or above this is a large share of variance between org units (Cohen's "large").
LARGE_ETA2 = 0.14

SEVERITY_ORDER = {"concern": 0, "watch": 1, "ok": 2}


class FlagRow(NamedTuple):
    """One team-period a flag was evaluated for (raised or not)."""

    team: str
    period: str  # a quarter label like the DORA rows use, e.g. "2026-Q3"
    raised: bool
    detail: str = ""


# --------------------------------------------------------------------------------------------
# small helpers


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the input order."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    out = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        out[i] = running
    return out


def fmt_p(p: float | None) -> str:
    if p is None or math.isnan(p):
        return "p = n/a"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.2g}" if p < 0.1 else f"p = {p:.2f}"


def _rate(k: int, n: int) -> float | None:
    return k / n if n else None


def _clean(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return None if math.isnan(f) or math.isinf(f) else f


def _lc(s: str) -> str:
    return s[:1].lower() + s[1:]


def group_phrase(attribute: str, value: str) -> str:
    """'remote teams', 'teams in Lisbon', 'teams whose region is EU'."""
    if attribute in ("working_arrangement", "team_type"):
        return f"{value} teams"
    if attribute == "location":
        return f"teams in {value}"
    if attribute == "timezone":
        return f"teams in time zone {value}"
    return f"teams whose {attribute.replace('_', ' ')} is {value}"


# --------------------------------------------------------------------------------------------
# 1. adverse impact


def impact_table(rows: Sequence[FlagRow], groups: Mapping[str, str], *,
                 min_observations: int = MIN_OBSERVATIONS,
                 min_teams: int = MIN_TEAMS) -> dict[str, Any]:
    """One flag × one attribute: a row per group (``groups`` maps team -> attribute value).

    Teams without a value for the attribute are left out (counted in ``teams_without_value``).
    p-values here are unadjusted; :func:`audit_flag` adjusts them and sets status and severity.
    A group of fewer than ``min_teams`` teams shows no counts: its flags are one team's.
    """

    obs: dict[str, list[FlagRow]] = defaultdict(list)
    missing = set()
    for r in rows:
        value = groups.get(r.team)
        if value is None:
            missing.add(r.team)
        else:
            obs[value].append(r)
    total_n = sum(len(v) for v in obs.values())
    total_k = sum(r.raised for v in obs.values() for r in v)
    stats: list[dict[str, Any]] = []
    for value in sorted(obs):
        g = obs[value]
        n, k = len(g), sum(r.raised for r in g)
        teams = sorted({r.team for r in g})
        flagged_teams = {r.team for r in g if r.raised}
        n_o, k_o = total_n - n, total_k - k
        stats.append({
            "value": value, "n": n, "k": k, "n_o": n_o, "k_o": k_o, "teams": teams,
            "teams_flagged": len(flagged_teams),
            "conclusive": n >= min_observations and len(teams) >= min_teams,
            "single_team": len(teams) < min_teams,
        })
    conclusive = [s for s in stats if s["conclusive"]]
    best = max(conclusive, key=lambda s: (1 - s["k"] / s["n"], s["n"]), default=None)
    best_fav = 1 - best["k"] / best["n"] if best else None
    team_groups = [s for s in stats if not s["single_team"]]
    best_team_fav = max((1 - s["teams_flagged"] / len(s["teams"]) for s in team_groups),
                        default=None)
    t_total, t_flagged = (sum(len(s["teams"]) for s in stats),
                          sum(s["teams_flagged"] for s in stats))
    out = []
    for s in stats:
        n, k, n_o, k_o = s["n"], s["k"], s["n_o"], s["k_o"]
        fav = 1 - k / n
        t_n, t_k = len(s["teams"]), s["teams_flagged"]
        entry: dict[str, Any] = {
            "value": s["value"], "teams": t_n, "team_ids": s["teams"],
            "observations": n, "flagged": k, "flagged_rate": k / n, "favourable_rate": fav,
            "others_observations": n_o, "others_flagged": k_o,
            "others_flagged_rate": _rate(k_o, n_o),
            "rate_vs_others": (k / n) / (k_o / n_o) if n_o and k_o else None,
            "impact_ratio": fav / best_fav if best_fav else None,
            "odds_ratio": None, "p_value": None, "p_adjusted": None,
            "teams_flagged": t_k, "teams_flagged_rate": t_k / t_n,
            "team_impact_ratio": ((1 - t_k / t_n) / best_team_fav if best_team_fav else None),
            "team_p_value": None,
            "conclusive": s["conclusive"], "suppressed": s["single_team"],
            "status": None, "severity": None,
        }
        if n_o:
            odds, p = fisher_exact([[k, n - k], [k_o, n_o - k_o]], alternative="two-sided")
            entry["odds_ratio"] = _clean(odds)
            entry["p_value"] = float(p)
        if t_total - t_n:
            _, tp = fisher_exact([[t_k, t_n - t_k],
                                  [t_flagged - t_k, t_total - t_n - (t_flagged - t_k)]])
            entry["team_p_value"] = float(tp)
        if s["single_team"]:  # one team's flag history is that team's diagnostics, not a group's
            for key in ("observations", "flagged", "flagged_rate", "favourable_rate",
                        "others_observations", "others_flagged", "others_flagged_rate", "rate_vs_others", "impact_ratio", "odds_ratio",
                        "p_value", "teams_flagged", "teams_flagged_rate", "team_impact_ratio",
                        "team_p_value"):
                entry[key] = None
        out.append(entry)
    return {"observations": total_n, "flagged": total_k, "teams_without_value": len(missing),
            "best_group": best["value"] if best else None, "groups": out}


def _table_key(g: Mapping[str, Any]) -> frozenset[tuple[int, int]]:
    """The group's 2×2 table (flagged, not flagged) × (group, others), unordered."""
    n, k, n_o, k_o = (g["observations"], g["flagged"], g["others_observations"],
                      g["others_flagged"])
    return frozenset({(k, n - k), (k_o, n_o - k_o)})


def audit_flag(rows: Sequence[FlagRow], attributes: Mapping[str, Mapping[str, str]], *,
               impact_ratio: float = 0.8, alpha: float = 0.05,
               min_observations: int = MIN_OBSERVATIONS,
               min_teams: int = MIN_TEAMS) -> dict[str, dict[str, Any]]:
    """Every attribute's :func:`impact_table` for one flag, Holm-adjusted across all the flag's
    conclusive group comparisons, with each group's status and severity:

    - ``adverse`` (concern): below the screen and significantly more often flagged than others;
    - ``below_screen`` (watch): below the screen, not significant (may be chance);
    - ``significant`` (watch): significantly more often flagged, but within the screen;
    - ``ok``; ``inconclusive`` (too few team-periods or teams; watch when below the screen).
    """
    tables = {a: impact_table(rows, g, min_observations=min_observations, min_teams=min_teams)
              for a, g in attributes.items()}
    # One test per distinct 2×2 table: with two groups, "A vs the rest" and "B vs the rest" are
    # the same test and count once in the family.
    family: dict[tuple[str, frozenset[tuple[int, int]]], float] = {}
    for a, t in tables.items():
        for g in t["groups"]:
            if g["conclusive"] and g["p_value"] is not None:
                family.setdefault((a, _table_key(g)), g["p_value"])
    adjusted = dict(zip(family, holm(list(family.values())), strict=True))
    for a, t in tables.items():
        for g in t["groups"]:
            if g["conclusive"] and g["p_value"] is not None:
                g["p_adjusted"] = adjusted[(a, _table_key(g))]
    for t in tables.values():
        for g in t["groups"]:
            ratio = g["impact_ratio"]
            below = ratio is not None and ratio < impact_ratio
            if not g["conclusive"]:
                g["status"] = "inconclusive"
                g["severity"] = "watch" if below else "ok"
                continue
            more = (g["others_flagged_rate"] is not None
                    and g["flagged_rate"] > g["others_flagged_rate"])
            significant = g["p_adjusted"] is not None and g["p_adjusted"] < alpha and more
            g["status"] = ("adverse" if below and significant else "below_screen" if below
                           else "significant" if significant else "ok")
            g["severity"] = {"adverse": "concern", "ok": "ok"}.get(g["status"], "watch")
    return tables


def impact_findings(flag: str, label: str, tables: Mapping[str, Mapping[str, Any]], *,
                    impact_ratio: float = 0.8, unit: str = "team-quarters") -> list[dict[str, Any]]:
    """Plain-language findings for one flag: one per group that is not ok, and one per attribute
    where every group is ok (so a reader sees what was checked)."""
    out: list[dict[str, Any]] = []
    if not any(t["observations"] for t in tables.values()):
        return [{"kind": "adverse_impact", "flag": flag, "attribute": None, "group": None,
                 "severity": "ok", "numbers": {"observations": 0},
                 "text": f"{label} could not be evaluated in any of the {unit}: nothing to compare.",
                 "what_to_do": "Nothing to do until the data the flag needs is in."}]
    for attribute, t in tables.items():
        attr = attribute.replace("_", " ")
        raised_ever = t["flagged"] > 0
        flagged_groups = [g for g in t["groups"] if g["severity"] != "ok"]
        for g in flagged_groups:
            who = group_phrase(attribute, g["value"])
            numbers = {k: g[k] for k in ("observations", "flagged", "flagged_rate",
                                         "others_flagged_rate", "impact_ratio", "p_value",
                                         "p_adjusted", "teams", "teams_flagged")}
            how_often = (f"{g['rate_vs_others']:.1f}× as often as other teams"
                         if g["rate_vs_others"] else "and on no other team")
            base = {"kind": "adverse_impact", "flag": flag, "attribute": attribute,
                    "group": g["value"], "severity": g["severity"], "numbers": numbers}
            if g["status"] == "inconclusive":
                reason = ("one team: its flags are that team's, not the group's"
                          if g["suppressed"] else
                          f"{g['observations']} {unit} < {MIN_OBSERVATIONS}")
                out.append({**base,
                            "text": (f"{label}: too little data to judge {who} ({reason}); "
                                     f"the group's favourable rate is below {impact_ratio:.0%} of "
                                     "the best group's."),
                            "what_to_do": ("Do not read anything into it yet; look again when "
                                           "more quarters (or teams) are in, and check the "
                                           "team-level view.")})
                continue
            ratio = f"impact ratio {g['impact_ratio']:.2f}"
            ratio += (f" < {impact_ratio:g}" if g["impact_ratio"] < impact_ratio
                      else f" ≥ {impact_ratio:g}")
            teams_part = (f"{g['teams_flagged']} of {g['teams']} such teams flagged at least "
                          "once")
            detail = (f"({ratio}, {fmt_p(g['p_adjusted'])} Holm-adjusted, "
                      f"{g['observations']} {unit}; {teams_part})")
            stats = detail[1:-1]
            if g["status"] == "adverse":
                plain = f"{label} fall on {who} {how_often}."
                text = f"{label} fall on {who} {how_often} {detail}."
                todo = (f"Before acting on this flag for {who}, check whether they carry more "
                        "on-call load, went through a migration or run older platforms (see the "
                        "context correlations); review the flag's thresholds with the review "
                        "board, and do not let it inform decisions about these teams until the "
                        "difference is explained.")
            elif g["status"] == "below_screen":
                plain = (f"{label} fall on {who} {how_often}, but the difference may be chance.")
                text = (f"{label} fall on {who} {how_often} {detail}, but the difference is not "
                        "significant: it may be chance.")
                todo = ("Keep watching it in the next audits; before acting on this flag for "
                        f"{who}, look at the team-level view and at their context (on-call load, "
                        "migrations).")
            else:  # significant, within the screen
                plain = (f"{label} fall on {who} somewhat more often, {how_often}: small but "
                         "unlikely to be chance.")
                text = (f"{label} fall on {who} somewhat more often, {how_often} {detail}: "
                        "small but unlikely to be chance.")
                todo = ("Within the four-fifths screen, so not an adverse impact by that rule; "
                        "check whether the flag's thresholds suit these teams' work.")
            out.append({**base, "text": text, "plain": plain, "stats": stats,
                        "what_to_do": todo})
        if flagged_groups:
            continue
        numbers = {"observations": t["observations"], "flagged": t["flagged"],
                   "groups": len(t["groups"])}
        base = {"kind": "adverse_impact", "flag": flag, "attribute": attribute, "group": None,
                "severity": "ok", "numbers": numbers}
        if not t["observations"]:
            text = f"{label}: no team with a {attr} was evaluated."
        elif not raised_ever:
            text = (f"{label} were never raised in {t['observations']} {unit}: nothing to "
                    f"compare across {attr}.")
        else:
            judged = [g for g in t["groups"] if g["conclusive"]]
            low = min((g["impact_ratio"] for g in judged if g["impact_ratio"] is not None),
                      default=None)
            if len(judged) < 2:
                text = (f"{label}: too few {unit} per {attr} to compare groups "
                        f"({len(judged)} group(s) large enough).")
            else:
                text = (f"{label} fall evenly enough across {attr}: lowest impact ratio "
                        f"{low:.2f} ≥ {impact_ratio:g}, no significant difference "
                        f"({t['observations']} {unit}, {len(judged)} groups compared).")
        out.append({**base, "text": text, "what_to_do": "Nothing to do; audit again next quarter."})
    return out


# --------------------------------------------------------------------------------------------
# 2. correlation with context


def spearman(x: Sequence[float | None], y: Sequence[float | None], *,
             min_observations: int = MIN_OBSERVATIONS) -> dict[str, Any]:
    """Spearman's ρ over the pairs where both values are present; ρ and p are None when there are
    too few pairs or either side is constant."""

    pairs = [(a, b) for a, b in zip(x, y, strict=True)
             if _clean(a) is not None and _clean(b) is not None]
    n = len(pairs)
    if n < min_observations or len({a for a, _ in pairs}) < 2 or len({b for _, b in pairs}) < 2:
        return {"n": n, "rho": None, "p_value": None}
    res = spearmanr([a for a, _ in pairs], [b for _, b in pairs])
    return {"n": n, "rho": _clean(res.statistic), "p_value": _clean(res.pvalue)}


def _team_means(values: Sequence[float | None], teams: Sequence[str]) -> dict[str, float]:
    acc: dict[str, list[float]] = defaultdict(list)
    for v, t in zip(values, teams, strict=True):
        c = _clean(v)
        if c is not None:
            acc[t].append(c)
    return {t: sum(v) / len(v) for t, v in acc.items()}


def correlation_table(series: Mapping[str, Sequence[float | None]],
                      context: Mapping[str, Sequence[float | None]], teams: Sequence[str], *,
                      alpha: float = 0.05, team_level: Sequence[str] = (),
                      within_team: Sequence[str] = (),
                      min_observations: int = MIN_OBSERVATIONS) -> list[dict[str, Any]]:
    """Every series × context variable over aligned team-periods (``teams`` names each row's
    team), Holm-adjusted across the whole table. ``team_level`` names the context variables that
    differ between teams (not only over time); for those the correlation of team means is added,
    except for the series named in ``within_team`` (already relative to each team's own level).

    Severity: ``concern`` when |ρ| ≥ 0.3 and the adjusted p < alpha; ``watch`` when only one of
    the two holds with the unadjusted p < alpha; else ``ok``.
    """
    out = []
    for sid, values in series.items():
        for cid, ctx in context.items():
            row: dict[str, Any] = {"series": sid, "context": cid,
                                   **spearman(values, ctx, min_observations=min_observations),
                                   "p_adjusted": None, "team_level": None}
            if cid in team_level and sid not in within_team:
                mv, mc = _team_means(values, teams), _team_means(ctx, teams)
                common = sorted(set(mv) & set(mc))
                row["team_level"] = spearman([mv[t] for t in common], [mc[t] for t in common],
                                             min_observations=min_observations)
            out.append(row)
    tested = [r for r in out if r["p_value"] is not None]
    for r, p in zip(tested, holm([r["p_value"] for r in tested]), strict=True):
        r["p_adjusted"] = p
    for r in out:
        if r["rho"] is None:
            r["severity"] = "ok"
            continue
        strong = abs(r["rho"]) >= STRONG_RHO
        if strong and r["p_adjusted"] < alpha:
            r["severity"] = "concern"
        elif r["p_value"] < alpha and (strong or r["p_adjusted"] < alpha):
            r["severity"] = "watch"
        else:
            r["severity"] = "ok"
    return out


# --------------------------------------------------------------------------------------------
# 3. variance between org units


def eta_squared(values: Sequence[float], groups: Sequence[str]) -> float | None:
    """Share of the total sum of squares that lies between groups (one-way ANOVA's η²)."""
    if not values:
        return None
    mean = sum(values) / len(values)
    total = sum((v - mean) ** 2 for v in values)
    if total == 0:
        return None
    acc: dict[str, list[float]] = defaultdict(list)
    for v, g in zip(values, groups, strict=True):
        acc[g].append(v)
    between = sum(len(vs) * (sum(vs) / len(vs) - mean) ** 2 for vs in acc.values())
    return between / total


def _anova(values: Sequence[float], groups: Sequence[str]) -> tuple[float | None, float | None]:
    """(one-way ANOVA p, Kruskal–Wallis p) over groups with at least two values."""

    acc: dict[str, list[float]] = defaultdict(list)
    for v, g in zip(values, groups, strict=True):
        acc[g].append(v)
    samples = [vs for vs in acc.values() if len(vs) >= 2]
    if len(samples) < 2 or len({v for vs in samples for v in vs}) < 2:
        return None, None

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant groups: p is still defined by the others
        f_p = _clean(f_oneway(*samples).pvalue)
    try:
        k_p = _clean(kruskal(*samples).pvalue)
    except ValueError:  # all values equal
        k_p = None
    return f_p, k_p


def org_unit_variance(values: Sequence[float | None], units: Sequence[str],
                      teams: Sequence[str], *, min_teams: int = MIN_TEAMS) -> dict[str, Any]:
    """How much of one metric's variation over team-periods lies between org units.

    Per unit: teams, team-periods and the median (hidden for a unit of fewer than ``min_teams``
    teams: it would be one team's figure). The team-level view repeats η² and Kruskal–Wallis over
    team means (one value per team).
    """

    keep = [(c, u, t) for v, u, t in zip(values, units, teams, strict=True)
            if (c := _clean(v)) is not None]
    vals, us, ts = [k[0] for k in keep], [k[1] for k in keep], [k[2] for k in keep]
    anova_p, kruskal_p = _anova(vals, us)
    means = _team_means(vals, ts)
    unit_of = dict(zip(ts, us, strict=True))
    t_vals = [means[t] for t in sorted(means)]
    t_units = [unit_of[t] for t in sorted(means)]
    t_anova_p, t_kruskal_p = _anova(t_vals, t_units)
    per_unit = []
    for u in sorted(set(us)):
        v_u = [v for v, g in zip(vals, us, strict=True) if g == u]
        n_teams = len({t for t, g in zip(ts, us, strict=True) if g == u})
        shown = n_teams >= min_teams
        per_unit.append({"org_unit": u, "teams": n_teams, "observations": len(v_u),
                         "mean": statistics.fmean(v_u) if shown else None,
                         "median": statistics.median(v_u) if shown else None})
    return {"observations": len(vals), "units": len(set(us)),
            "eta_squared": eta_squared(vals, us), "anova_p": anova_p, "kruskal_p": kruskal_p,
            "p_adjusted": None, "severity": None,
            "team_level": {"teams": len(t_vals), "eta_squared": eta_squared(t_vals, t_units),
                           "anova_p": t_anova_p, "kruskal_p": t_kruskal_p},
            "groups": per_unit}


def grade_variance(rows: Sequence[dict[str, Any]], *, alpha: float = 0.05) -> None:
    """Holm-adjust the Kruskal–Wallis p across metrics and set each row's severity in place:
    ``concern`` when η² ≥ 0.14 and the adjusted p < alpha, ``watch`` when only significant."""
    tested = [r for r in rows if r["kruskal_p"] is not None]
    for r, p in zip(tested, holm([r["kruskal_p"] for r in tested]), strict=True):
        r["p_adjusted"] = p
    for r in rows:
        sig = r["p_adjusted"] is not None and r["p_adjusted"] < alpha
        eta = r["eta_squared"] or 0.0
        r["severity"] = "concern" if sig and eta >= LARGE_ETA2 else "watch" if sig else "ok"


CONTEXT_ADVICE = {
    "on_call_load": ("Flags built on this partly measure on-call load: read a team's figure beside "
                     "its on-call load before acting, and consider sharing the rota or cutting "
                     "noisy pages rather than pressing the team on the metric."),
    "migration": ("Migration quarters move this: annotate or leave out migration quarters when "
                  "comparing teams or raising flags, and do not read a migration quarter as a "
                  "team's performance."),
    "team_size": ("This scales with team size: compare teams of similar size (or per person) "
                  "before flagging smaller or larger teams."),
}


def correlation_findings(rows: Sequence[Mapping[str, Any]], labels: Mapping[str, str],
                         context_labels: Mapping[str, str], *, flag_series: Sequence[str] = (),
                         binary: Sequence[str] = (),
                         unit: str = "team-quarters") -> list[dict[str, Any]]:
    """One finding per correlation that is not ok; one per context variable where all are ok.
    ``binary`` names 0/1 context variables (a quarter is a migration quarter or not)."""
    out: list[dict[str, Any]] = []
    for cid, clabel in context_labels.items():
        mine = [r for r in rows if r["context"] == cid]
        for r in mine:
            if r["severity"] == "ok":
                continue
            label, up = labels.get(r["series"], r["series"]), r["rho"] > 0
            more = "more" if up else "less"
            if r["series"] in flag_series:
                moves = (f"{label} are raised {more} often in {clabel}" if cid in binary
                         else f"{label} are raised {more} often as {clabel} rises")
            elif cid in binary:
                moves = f"{label} is {'higher' if up else 'lower'} in {clabel}"
            else:
                moves = f"{label} {'rises' if up else 'falls'} with {clabel}"
            tl = r.get("team_level") or {}
            team_part = (f"; across team means ρ = {tl['rho']:+.2f}, {fmt_p(tl['p_value'])} over "
                         f"{tl['n']} teams" if tl.get("rho") is not None else "")
            stats = (f"Spearman ρ = {r['rho']:+.2f}, {fmt_p(r['p_adjusted'])} "
                     f"Holm-adjusted, {r['n']} {unit}{team_part}")
            text = f"{moves} ({stats})"
            tail = "." if r["severity"] == "concern" else ": weak or uncertain, worth watching."
            text += tail
            out.append({"kind": "correlation", "series": r["series"], "context": cid,
                        "severity": r["severity"], "text": text, "plain": moves + tail,
                        "stats": stats,
                        "what_to_do": CONTEXT_ADVICE.get(cid, "Read the figures beside this "
                                                              "context before acting on them."),
                        "numbers": {k: r[k] for k in ("n", "rho", "p_value", "p_adjusted")}})
        if any(r["severity"] != "ok" for r in mine):
            continue
        checked = [r for r in mine if r["rho"] is not None]
        text = (f"No metric or flag moves clearly with {clabel} ({len(checked)} of {len(mine)} "
                f"pairs could be tested)." if checked else
                f"{clabel[:1].upper() + clabel[1:]} could not be tested (too few {unit} or no "
                "variation).")
        out.append({"kind": "correlation", "series": None, "context": cid, "severity": "ok",
                    "text": text, "what_to_do": "Nothing to do; audit again next quarter.",
                    "numbers": {"pairs": len(mine), "tested": len(checked)}})
    return out


def variance_findings(rows: Sequence[Mapping[str, Any]], labels: Mapping[str, str], *,
                      unit: str = "team-quarters") -> list[dict[str, Any]]:
    """One finding per metric whose variance between org units is not ok, one summary for the
    rest."""
    out: list[dict[str, Any]] = []
    fine, untested = [], []
    for r in rows:
        label = labels.get(r["metric"], r["metric"])
        if r["kruskal_p"] is None:
            untested.append(label)
            continue
        if r["severity"] == "ok":
            fine.append(label)
            continue
        tl = r["team_level"] or {}
        team_part = (f"; over team means η² = {tl['eta_squared']:.2f}"
                     if tl.get("eta_squared") is not None else "")
        stats = (f"η² = {r['eta_squared']:.2f}, Kruskal–Wallis {fmt_p(r['p_adjusted'])} "
                 f"Holm-adjusted, {r['observations']} {unit} in {r['units']} org units"
                 f"{team_part}")
        text = (f"{r['eta_squared']:.0%} of the variation in {_lc(label)} lies between org "
                f"units ({stats}).")
        plain = (f"{label} differs a lot between org units: about {r['eta_squared']:.0%} of "
                 "its variation lies between them rather than between teams of one unit.")
        out.append({"kind": "org_unit_variance", "metric": r["metric"],
                    "severity": r["severity"], "text": text, "plain": plain, "stats": stats,
                    "what_to_do": ("Flags on this metric will concentrate in some org units. "
                                   "Before acting on them, ask what differs between the units "
                                   "(platforms, practices, the work they own, how they are led); "
                                   "compare teams within their org unit and take the question to "
                                   "the units' leads rather than to the teams."),
                    "numbers": {k: r[k] for k in ("observations", "units", "eta_squared",
                                                  "kruskal_p", "p_adjusted")}})
    if fine:
        out.append({"kind": "org_unit_variance", "metric": None, "severity": "ok",
                    "text": "Org units differ little (or not significantly) in: "
                            + ", ".join(_lc(x) for x in fine) + ".",
                    "what_to_do": "Nothing to do; audit again next quarter.",
                    "numbers": {"metrics": len(fine)}})
    if untested:
        out.append({"kind": "org_unit_variance", "metric": None, "severity": "ok",
                    "text": f"Not enough {unit} in two or more org units to test: "
                            + ", ".join(_lc(x) for x in untested) + ".",
                    "what_to_do": "Nothing to do until more data is in.",
                    "numbers": {"metrics": len(untested)}})
    return out


def sort_findings(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Concerns first, then watches, then what was checked and is fine (stable within each)."""
    return sorted(findings, key=lambda f: SEVERITY_ORDER[f["severity"]])
