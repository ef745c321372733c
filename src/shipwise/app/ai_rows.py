"""The rows behind the AI doors (app/ai.py): adoption cohorts, agent-authored changes beside
human ones, and the effect of reaching an adoption level (docs/ai-effect.md).

The effect reuses the initiatives' estimator (:mod:`shipwise.metrics.attribution`, a staggered
difference-in-differences with a team cluster bootstrap) on a team × month panel: a team has
"adopted" level L from the first month its usage reached L (from ``ai_usage``, never declared by
hand); teams not (yet) at L are the comparison. Outcomes: log cost to serve, log median change
lead time, and change fail rate (in points).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from shipwise.app.cost import CostRequest, cost_rows, reporting_currency
from shipwise.app.dates import check_window
from shipwise.app.metrics import DoraRequest, dora_rows
from shipwise.config import AiSettings, CostSettings
from shipwise.errors import InputError, NotFoundError
from shipwise.metrics import ai, ids, registry
from shipwise.metrics.attribution import Effect, Panel, estimate
from shipwise.metrics.engines import DuckDBEngine
from shipwise.store.duckdb_store import Store

#: the levels an effect is estimated for (reaching each, against teams not (yet) at it)
EFFECT_LEVELS = ai.LEVELS[1:]
#: registry metrics of the adoption rows and of the agent rows
ADOPTION_IDS = (ids.AI_ENGAGED_SHARE, ids.AI_ADOPTION_LEVEL, ids.AI_ACCEPTANCE_RATE)
AGENT_IDS = (ids.AI_UNIT_SHARE, ids.AI_CHANGE_LEAD_TIME, ids.AI_REVIEW_TIME,
             ids.AI_CHANGE_FAIL_RATE, ids.AI_REWORK_RATE, ids.AI_INTERVENTIONS_PER_DEPLOYMENT)
GRAINS = ("month", "quarter", "all")
#: fewer adopting teams than this and the effect gets a plain warning
_MIN_ADOPTERS = 3
#: what each outcome panel measures, for the warnings
_OUTCOME = {"cts": "cost to serve", "lead": "change lead time", "cfr": "change fail rate"}


def _with_metrics(sql: str, metric_ids: Sequence[str]) -> str:
    """``sql`` with one column per metric id: the registry's expression over its columns."""
    cols = ", ".join(f'{registry.get(m).sql} AS "{m}"' for m in metric_ids)
    return f"SELECT *, {cols} FROM ({sql}) base"


def _check_teams(store: Store, teams: Sequence[str]) -> None:
    for t in teams:
        if not store.query("SELECT 1 AS x FROM team WHERE id = ?", [t]):
            raise NotFoundError(f"unknown team '{t}'", hint="`shipwise teams` lists them")


def _thresholds(cfg: AiSettings) -> ai.Thresholds:
    a = cfg.adoption
    return ai.Thresholds(a.light, a.moderate, a.heavy, a.sustain_months)


def _span(store: Store, since: date | None, until: date | None) -> tuple[date, date] | None:
    row = store.query(ai.usage_span_sql())[0]
    first, last = row["first_day"], row["last_day"]
    if first is None:
        return None
    return since or first, until or last


def _currency(store: Store, cost: CostSettings | None) -> str | None:
    """The reporting currency: the cost setting, else the cost records', else the one currency
    of the AI spend (None when there is none)."""
    cur = reporting_currency(DuckDBEngine(store), cost.reporting_currency if cost else None)
    if cur:
        return cur
    found = [str(r["currency"]) for r in store.query(
        "SELECT DISTINCT currency FROM ai_usage WHERE currency IS NOT NULL AND cost IS NOT NULL "
        "ORDER BY currency")]
    if len(found) > 1:
        raise InputError(f"AI spend is in several currencies ({', '.join(found)}) and no reporting "
                         "currency is set", hint="set cost.reporting_currency in shipwise.yaml")
    return found[0] if found else None


def spend(store: Store, currency: str | None) -> tuple[dict[tuple[str, str], float], list[str]]:
    """AI tool spend per (team, month) in ``currency``, and warnings for spend left unconverted."""
    out: dict[tuple[str, str], float] = {}
    missing: set[str] = set()
    unconverted = 0.0
    if currency is None:
        return out, []
    for r in store.query(ai.spend_sql(), [currency]):
        if r["spend"]:
            out[(r["team"], r["month"])] = float(r["spend"])
        if r["unconverted"]:
            unconverted += float(r["unconverted"])
            missing.update(r["missing"] or [])
    warnings = []
    if unconverted:
        warnings.append(f"{unconverted:,.0f} of AI spend in {', '.join(sorted(missing))} has no "
                        f"exchange rate to {currency} for its month and is left out; import "
                        "`fx_rate` records for those months")
    return out, warnings


def adoption_rows(store: Store, cfg: AiSettings, *, teams: Sequence[str] = (),
                  since: date | None = None, until: date | None = None,
                  min_group_size: int = 5, cost: CostSettings | None = None) -> dict[str, Any]:
    """Adoption per team and month, each team's adoption month per level, and the cohorts: how
    many teams were at each level each month. Usage figures of a team-month with fewer members
    than ``min_group_size`` are hidden with the reason, and so are that team's adoption months."""
    _check_teams(store, teams)
    check_window(store, since, until)
    th = _thresholds(cfg)
    out: dict[str, Any] = {
        "thresholds": {"light": th.light, "moderate": th.moderate, "heavy": th.heavy},
        "sustain_months": th.sustain,
        "min_group_size": min_group_size, "since": None, "until": None, "currency": None,
        "rows": [], "teams": [], "cohorts": [], "warnings": []}
    span = _span(store, since, until)
    if span is None:
        return out
    out["since"], out["until"] = span[0].isoformat(), span[1].isoformat()
    currency = _currency(store, cost)
    out["currency"] = currency
    spent, out["warnings"] = spend(store, currency)
    rows = store.query(_with_metrics(ai.adoption_sql(teams, th.sustain), ADOPTION_IDS),
                       ai.adoption_params(th, span[0], span[1]))
    by_team: dict[str, dict[str, Any]] = {}
    cohorts: dict[str, dict[str, int]] = {}
    for r in rows:
        small = r["team_size"] is None or r["team_size"] < min_group_size
        hide = small
        metrics = {m: (None if hide else r[m]) for m in ADOPTION_IDS}
        row: dict[str, Any] = {
            "team": r["team"], "period": r["month"], "metrics": metrics,
            "team_size": r["team_size"], "weekdays": int(r["weekdays"]),
            # a small team's spend is hidden too: usage-priced tools would show its usage
            "spend_amount": None if hide else spent.get((r["team"], r["month"])),
        }
        if hide:
            why = (f"a team of fewer than {min_group_size} people: its usage would show what "
                   "individuals use" if r["team_size"] is not None else
                   "team size unknown (no person or headcount records for the month)")
            row["suppressed"] = {m: why for m in ADOPTION_IDS}
        else:
            row["level"] = r["level"]
        out["rows"].append(row)
        t = by_team.setdefault(r["team"], {"team": r["team"], "hidden": False, "adopted": {}})
        t["hidden"] = t["hidden"] or hide
        t["adopted"] = {"light": r["light_from"], "moderate": r["moderate_from"],
                        "heavy": r["heavy_from"]}
        t["level"] = r["level"]
        # hidden teams are counted apart: their levels would show by difference
        c = cohorts.setdefault(r["month"], {lvl: 0 for lvl in (*ai.LEVELS, "hidden")})
        c["hidden" if hide else r["level"]] += 1
    for t in by_team.values():
        hidden = t.pop("hidden")
        if hidden:
            t["adopted"] = {}
            t["level"] = None
            t["suppressed"] = (f"fewer than {min_group_size} people in some month: the team's "
                               "adoption months are not shown")
        out["teams"].append(t)
    out["cohorts"] = [{"period": p, "teams": c} for p, c in sorted(cohorts.items())]
    return out


def _bounds(since: date | None, until: date | None) -> tuple[datetime, datetime]:
    lo = datetime.combine(since or date(1970, 1, 1), datetime.min.time())
    hi = datetime.combine((until or date(2999, 12, 30)) + timedelta(days=1), datetime.min.time())
    return lo, hi


def agent_rows(store: Store, *, teams: Sequence[str] = (), grain: str = "quarter",
               since: date | None = None, until: date | None = None,
               min_group_size: int = 5, organisation: bool = False) -> dict[str, Any]:
    """Agent-authored changes beside human and bot ones, per team (or the organisation), period
    and author kind. Review time of human (and bot) pull requests by fewer authors than
    ``min_group_size`` is hidden; an agent is no person, its figures are shown."""
    if grain not in GRAINS:
        raise InputError(f"unknown grain '{grain}'", hint="use month, quarter or all")
    _check_teams(store, teams)
    check_window(store, since, until)
    lo, hi = _bounds(since, until)
    sql = _with_metrics(ai.agents_sql(teams, grain, organisation=organisation), AGENT_IDS)
    out: dict[str, Any] = {"grain": grain, "since": since.isoformat() if since else None,
                           "until": until.isoformat() if until else None,
                           "min_group_size": min_group_size, "rows": []}
    for r in store.query(sql, [lo, hi]):
        metrics = {m: r[m] for m in AGENT_IDS}
        row: dict[str, Any] = {
            "team": r["team"], "period": r["period"], "kind": r["kind"],
            "delivery_unit": r["delivery_unit"], "units": int(r["units"]),
            "team_units": int(r["team_units"]), "changes": int(r["changes"]),
            "merged_prs": int(r["merged_prs"]), "deployments": int(r["reached"]),
            "metrics": metrics,
        }
        if r["kind"] != "agent" and r["merged_prs"] and r["pr_authors"] < min_group_size:
            metrics[ids.AI_REVIEW_TIME] = None
            row["suppressed"] = {ids.AI_REVIEW_TIME: (
                f"pull requests of fewer than {min_group_size} people: hidden")}
        out["rows"].append(row)
    return out


# -- the effect -------------------------------------------------------------------------------

def _month_index(label: str) -> int:
    year, month = label.split("-")
    return int(year) * 12 + int(month) - 1


def _label(index: int) -> str:
    return f"{index // 12}-{index % 12 + 1:02d}"


@dataclass(frozen=True)
class Outcomes:
    """Team × month observations of each outcome (team, month index, value, cost)."""

    cts: list[tuple[str, int, float, float]]
    lead: list[tuple[str, int, float, float]]
    cfr: list[tuple[str, int, float, float]]


def outcomes(store: Store, cost: CostSettings | None) -> Outcomes:
    """Cost to serve (with the team's cost) and change fail rate from the monthly cost rows, the
    median change lead time from the monthly DORA rows."""
    cts: list[tuple[str, int, float, float]] = []
    cfr: list[tuple[str, int, float, float]] = []
    lead: list[tuple[str, int, float, float]] = []
    base = cost_rows(store, CostRequest(grain="month", baseline="yoy"), cost)
    for r in base["rows"]:
        k = _month_index(r["period"])
        v = r["metrics"][ids.COST_TO_SERVE]
        if v and v > 0 and r["cost_amount"] is not None:
            cts.append((r["team"], k, float(np.log(v)), float(r["cost_amount"])))
    dora = dora_rows(store, DoraRequest(grain="month"))
    for r in dora["rows"]:
        if not r.get("team"):
            continue
        k = _month_index(r["period"])
        lt = r["metrics"].get(ids.CHANGE_LEAD_TIME)
        if lt and lt > 0:
            lead.append((r["team"], k, float(np.log(lt)), 0.0))
        fr = r["metrics"].get(ids.CHANGE_FAIL_RATE)
        if fr is not None:
            cfr.append((r["team"], k, float(fr), 0.0))
    return Outcomes(cts, lead, cfr)


def panel(obs: Sequence[tuple[str, int, float, float]]) -> Panel:
    return Panel(team=np.array([o[0] for o in obs], dtype=str),
                 period=np.array([o[1] for o in obs], dtype=np.int64),
                 log_cts=np.array([o[2] for o in obs], dtype=float),
                 cost=np.array([o[3] for o in obs], dtype=float))


#: months the placebo adoption is moved back (the pre-trend check)
PLACEBO_SHIFT = 6


def placebo(p: Panel, start: dict[str, int], *, shift: int = PLACEBO_SHIFT,
            replicates: int = 199, confidence: float = 0.9) -> Effect | None:
    """The pre-trend check: the same estimate on the adopting teams' months *before* they
    adopted, with adoption moved ``shift`` months earlier. Adoption cannot have caused anything
    yet, so an interval that excludes zero says the adopting teams were already moving apart
    from the others — the estimate may credit adoption with that trend. None when there are too
    few months before adoption to test."""
    keep = np.array([start.get(str(t), 1 << 62) > k for t, k in zip(p.team, p.period,
                                                                    strict=True)])
    if not keep.any():
        return None
    sub = Panel(p.team[keep], p.period[keep], p.log_cts[keep], p.cost[keep])
    first = {str(t): int(p.period[keep][p.team[keep] == t].min()) for t in set(start)
             if (p.team[keep] == t).any()}
    fake = {t: g - shift for t, g in start.items() if t in first and g - shift > first[t]}
    if not fake:
        return None
    e = estimate(sub, fake, 1.0, confidence=confidence, replicates=replicates)
    return e if e.effect is not None else None


def _pretrend_warning(e: Effect | None, what: str) -> list[str]:
    if e is None or e.low is None or e.high is None or e.low <= 0.0 <= e.high:
        return []
    return [f"pre-trend check failed: before adopting, the adopting teams' {what} was already "
            f"moving apart from the others' ({e.effect:+.3f}, interval {e.low:+.3f} … "
            f"{e.high:+.3f}, with adoption moved {PLACEBO_SHIFT} months earlier): the estimate "
            "may credit adoption with a trend that was there before"]


def _interval(e: Effect) -> list[float] | None:
    return None if e.low is None or e.high is None else [e.low, e.high]


def _tension(level: str, cts: Effect, lead: Effect, cfr: Effect) -> dict[str, Any] | None:
    """Faster or cheaper, but breaking more? ``concern`` when the change fail rate rose with an
    interval above zero; ``watch`` when its estimate rose by the tension threshold (5 points)
    but the interval spans zero."""
    if cfr.effect is None or cfr.effect <= 0:
        return None
    gains = [name for name, e in (("cheaper per unit", cts), ("faster", lead))
             if e.effect is not None and e.effect < 0]
    rise = ids.TENSION_THRESHOLDS[ids.CHANGE_FAIL_RATE][0]
    confirmed = cfr.low is not None and cfr.low > 0
    if not confirmed and cfr.effect < rise:
        return None
    what = " and ".join(gains) if gains else "no faster or cheaper"
    return {"level": level, "severity": "concern" if confirmed else "watch",
            "message": (f"teams reaching {level} adoption became {what}, but their change fail "
                        f"rate rose by {cfr.effect * 100:+.1f} points"
                        + (f" (interval {cfr.low * 100:+.1f} … {cfr.high * 100:+.1f})"
                           if cfr.low is not None and cfr.high is not None else "")
                        + (": they are breaking more" if confirmed else
                           ": the interval spans zero, watch it"))}


def effect_rows(store: Store, cfg: AiSettings, *, cost: CostSettings | None = None,
                confidence: float = 0.9, replicates: int = 999,
                min_group_size: int = 5) -> dict[str, Any]:
    """The effect of reaching each adoption level on cost to serve, lead time and change fail
    rate, with intervals and warnings; AI spend as an investment with savings and its return;
    the tension check."""
    adoption = adoption_rows(store, cfg, cost=cost, min_group_size=min_group_size)
    currency = adoption["currency"]
    out: dict[str, Any] = {"confidence": confidence, "currency": currency,
                           "thresholds": adoption["thresholds"], "levels": [], "tensions": [],
                           "warnings": list(adoption["warnings"]), "spend_amount": None}
    if not adoption["rows"]:
        out["warnings"].append("no AI usage in the store: import `ai_usage` records to see "
                               "adoption and its effect")
        return out
    spent, _ = spend(store, currency)
    invest, invest_warnings = _investments(store, cfg, currency)
    out["warnings"] += invest_warnings
    out["spend_amount"] = sum(spent.values()) + sum(a for a, _ in invest.values())
    # a team too small to show its usage is left out of the estimate altogether: neither an
    # adopter (its adoption months would show through the cohort's) nor a comparison team
    small = {t["team"] for t in adoption["teams"] if t.get("suppressed")}
    if small:
        out["warnings"].append(
            f"{len(small)} team(s) smaller than {adoption['min_group_size']} people are left out "
            "of the estimate: their usage is not shown, so neither is its effect")
    obs = outcomes(store, cost)
    panels = {key: panel(kept) if (kept := [o for o in rows if o[0] not in small]) else None
              for key, rows in (("cts", obs.cts), ("lead", obs.lead), ("cfr", obs.cfr))}
    teams_of = [t for t in adoption["teams"] if t["team"] not in small]
    everyone = sorted(({t["team"] for t in teams_of} | {o[0] for o in obs.cts}) - small)
    no_data = sorted(set(everyone) - {t["team"] for t in teams_of})
    if no_data:
        out["warnings"].append(
            f"{len(no_data)} team(s) have no usage data ({', '.join(no_data[:5])}"
            f"{', …' if len(no_data) > 5 else ''}) and are read as never adopting: if their "
            "assistants are not in the usage data, import it, or the comparison is off")
    for level in EFFECT_LEVELS:
        start = {t["team"]: _month_index(t["adopted"][level]) for t in teams_of
                 if t["adopted"].get(level)}
        amount = sum(v for (team, month), v in spent.items()
                     if team in start and _month_index(month) >= start[team])
        # an AI investment counts for its adopting teams' share of it (no teams: every team's)
        amount += sum(a * len(set(teams or everyone) & set(start)) / len(set(teams or everyone))
                      for a, teams in invest.values() if teams or everyone)
        effects = {}
        pretrend: dict[str, list[str]] = {}
        for key, p in panels.items():
            if p is None:
                effects[key] = Effect(None, None, None, 0, 0, 0, None, None, None, None, None,
                                      None, ("no observations of this outcome",))
                pretrend[key] = []
            else:
                effects[key] = estimate(p, start, amount, confidence=confidence,
                                        replicates=replicates)
                pretrend[key] = _pretrend_warning(
                    placebo(p, start, confidence=confidence) if start else None, _OUTCOME[key])
        cts, lead, cfr = effects["cts"], effects["lead"], effects["cfr"]
        few = [] if len(start) >= _MIN_ADOPTERS or not start else [
            f"only {len(start)} team(s) reached {level} adoption: an estimate resting on so few "
            "teams says more about them than about adoption"]
        no_spend = amount <= 0
        out["levels"].append({
            "level": level, "period": None,
            "adopted_teams": len(start),
            "first_adopted": _label(min(start.values())) if start else None,
            "metrics": {ids.AI_EFFECT_COST_TO_SERVE: cts.effect,
                        ids.AI_EFFECT_LEAD_TIME: lead.effect,
                        ids.AI_EFFECT_CHANGE_FAIL_RATE: cfr.effect,
                        ids.AI_RETURN_ON_SPEND: None if no_spend else cts.roi},
            "intervals": {ids.AI_EFFECT_COST_TO_SERVE: _interval(cts),
                          ids.AI_EFFECT_LEAD_TIME: _interval(lead),
                          ids.AI_EFFECT_CHANGE_FAIL_RATE: _interval(cfr),
                          ids.AI_RETURN_ON_SPEND: None if no_spend or cts.roi_low is None
                          or cts.roi_high is None else [cts.roi_low, cts.roi_high]},
            "treated_teams": cts.treated_teams, "control_teams": cts.control_teams,
            "spend_amount": amount,
            "attributed_savings": cts.attributed_savings,
            "savings_interval": None if cts.savings_low is None or cts.savings_high is None
            else [cts.savings_low, cts.savings_high],
            "warnings": {ids.AI_EFFECT_COST_TO_SERVE: few + pretrend["cts"] + list(cts.warnings),
                         ids.AI_EFFECT_LEAD_TIME: few + pretrend["lead"] + list(lead.warnings),
                         ids.AI_EFFECT_CHANGE_FAIL_RATE: few + pretrend["cfr"]
                         + list(cfr.warnings),
                         ids.AI_RETURN_ON_SPEND: (["no AI spend recorded for the adopting teams "
                                                   "(ai_usage.cost or AI investments): no return "
                                                   "can be computed"] if no_spend else [])},
        })
        tension = _tension(level, cts, lead, cfr)
        if tension:
            out["tensions"].append(tension)
    return out


def _investments(store: Store, cfg: AiSettings, currency: str | None
                 ) -> tuple[dict[str, tuple[float, list[str]]], list[str]]:
    """AI investments (kinds of ``ai.investment_kinds``) in ``currency``: id -> (amount, teams)."""
    out: dict[str, tuple[float, list[str]]] = {}
    warnings: list[str] = []
    if currency is None or not cfg.investment_kinds:
        return out, warnings
    for inv in store.query(ai.ai_investments_sql(cfg.investment_kinds), [currency, currency]):
        if inv["rate"] is None:
            warnings.append(f"AI investment {inv['id']} ({inv['currency']}, "
                            f"{inv['started_at']:%Y-%m}) has no exchange rate to {currency}: "
                            "left out of the spend")
            continue
        out[inv["id"]] = (float(inv["amount"]) * float(inv["rate"]),
                          [t for t in inv["teams"] or [] if t is not None])
    return out, warnings
