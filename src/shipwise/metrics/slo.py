"""SLOs and error budgets, written once as set-based SQL over ``slo`` and ``sli``.

Definitions (the contract; docs/metrics/slo.*.md explain each):

- An ``sli`` row holds the good and total events of the interval **ending** at ``at``. Intervals
  may have any length, and the length may change over time (e.g. 6-hour history, 5-minute recent
  data); nothing here assumes one.
- Status at an instant ``at`` (default: the latest ``sli.at`` in the store), per SLO over its
  rolling window ``(at − window_days, at]`` (intervals whose end lies in it):
  attainment = good / total; error budget remaining = 1 − bad / ((1 − objective) · total);
  budget consumed = bad / ((1 − objective) · total).
- Burn rate over a window W: (bad / total over the intervals whose end lies in ``(at − W, at]``)
  / (1 − objective). 1 means the budget would last exactly the SLO window. One burn rate per
  distinct window length of the configured alerts.
- Resolution: the median gap between consecutive interval ends among the SLO's latest 12
  intervals ending at or before ``at``. A window shorter than the resolution has no burn rate
  ("data coarser than window"): an interval longer than the window cannot say what happened in it.
- A multi-window alert (long W₁, short W₂, factor f, severity) fires when both burn rates exceed
  f. SQL's three-valued logic decides: a pair with one window below f does not fire even when the
  other window is unknown; a pair that might fire but cannot be evaluated is unknown.
  Alert state: ``page`` if a page pair fires, else ``ticket`` if a ticket pair fires, else
  ``unknown`` if some pair is unknown, else ``ok``.
- Release appetite (the error-budget policy), per SLO and per team (the worst of its SLOs):
  ``fixes only`` when a budget is spent (remaining ≤ 0) or a page alert fires; ``reduced`` when a
  budget is below ``reduced_below`` or a ticket alert fires; ``full`` otherwise. NULL for a team
  without SLOs, or whose SLOs have no events in their window.
- History: per SLO and period (week, month or quarter of the calendar table); an interval belongs
  to the period of the UTC day its end falls on.

Only portable SQL (CTEs, window functions, ``percentile_disc … WITHIN GROUP``, ``FILTER``);
Python builds the text from the handful of configured windows and shapes the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from shipwise.config import BurnAlert
from shipwise.metrics import registry

GRAINS = ("week", "month", "quarter")
#: Appetite levels, from the most to the least permissive.
LEVELS = ("full", "reduced", "fixes only")
#: How many of the latest intervals set an SLO's resolution.
RESOLUTION_INTERVALS = 12

COARSER = "data coarser than window"
NO_EVENTS = "no events in window"
NO_RESOLUTION = "fewer than two intervals: resolution unknown"
NO_BUDGET = "objective is 100 %: no error budget"


def window_key(minutes: int) -> str:
    """The window's short key in JSON and column names: ``5m``, ``1h``, ``3d``."""
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def window_label(minutes: int) -> str:
    """The window in words: ``5 min``, ``1 h``, ``3 days``."""
    if minutes % 1440 == 0:
        d = minutes // 1440
        return f"{d} day" if d == 1 else f"{d} days"
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"


def burn_windows(alerts: Sequence[BurnAlert]) -> list[int]:
    """Every distinct window length (minutes) the alerts use, shortest first."""
    return sorted({a.long_minutes for a in alerts} | {a.short_minutes for a in alerts})


def _q(name: str) -> str:
    return '"' + name + '"'


def _values(name: str, columns: Sequence[str], rows: Sequence[Sequence[str]],
            empty: Sequence[str]) -> str:
    """A CTE of literal rows (``empty`` types the columns when there are no rows)."""
    cols = ", ".join(columns)
    if not rows:
        typed = ", ".join(f"{e} AS {c}" for e, c in zip(empty, columns, strict=True))
        return f"{name} AS (SELECT {typed} WHERE 1 = 0)"
    body = ", ".join("(" + ", ".join(r) + ")" for r in rows)
    return f"{name}({cols}) AS (VALUES {body})"


def _metric(mid: str) -> str:
    return registry.get(mid).sql


@dataclass(frozen=True)
class StatusQuery:
    at: datetime | None
    alerts: tuple[BurnAlert, ...]
    reduced_below: float
    #: only these teams (None: every team)
    teams: tuple[str, ...] | None = None


def _in(column: str, teams: Sequence[str] | None, keyword: str = "WHERE") -> tuple[str, list[object]]:
    if teams is None:
        return "", []
    if not teams:
        return f"{keyword} 1 = 0", []
    return f"{keyword} {column} IN ({', '.join('?' for _ in teams)})", list(teams)


def status_sql(q: StatusQuery) -> tuple[str, list[object]]:
    """Status of every SLO at an instant, one row per (team, SLO); a team without SLOs gets one
    row with ``slo`` NULL; returns (sql, parameters)."""
    wins = burn_windows(q.alerts)
    longest = max(wins, default=0)
    for a in q.alerts:
        assert a.severity in ("page", "ticket")
    wins_cte = _values("wins", ["minutes"], [[str(int(m))] for m in wins], ["CAST(0 AS BIGINT)"])
    alerts_cte = _values(
        "alerts", ["idx", "long_minutes", "short_minutes", "factor", "severity"],
        [[str(i), str(int(a.long_minutes)), str(int(a.short_minutes)),
          f"CAST({float(a.factor)!r} AS DOUBLE)", f"'{a.severity}'"]
         for i, a in enumerate(q.alerts)],
        ["0", "CAST(0 AS BIGINT)", "CAST(0 AS BIGINT)", "CAST(0 AS DOUBLE)", "'page'"])
    team_filter, params = _in("t.id", q.teams)
    burn = _metric("slo.burn_rate")
    attainment = _metric("slo.attainment")
    remaining = _metric("slo.error_budget_remaining")
    appetite = _metric("slo.release_appetite")
    rank = ("CASE {c} WHEN 'fixes only' THEN 3 WHEN 'reduced' THEN 2 WHEN 'full' THEN 1 END")
    per_window = []
    for m in wins:
        k = window_key(m)
        for col in ("good", "total", "burn_rate", "reason"):
            per_window.append(f"max(b.{col}) FILTER (WHERE b.minutes = {int(m)}) AS {_q(col + '_' + k)}")
    per_alert = []
    for i in range(len(q.alerts)):
        for col in ("long_burn", "short_burn", "firing"):
            agg = "bool_or" if col == "firing" else "max"
            per_alert.append(f"{agg}(a.{col}) FILTER (WHERE a.idx = {i}) AS {_q(f'{col}_{i}')}")
    pivot_cols = [c.rsplit(" AS ", 1)[1] for c in (*per_window, *per_alert)]
    sql = f"""
WITH
p AS (SELECT CAST(? AS TIMESTAMP) AS at_),
{wins_cte},
{alerts_cte},
slos AS (
  SELECT o.id AS slo, o.service, s.team, o.objective, o.window_days,
         p.at_ - INTERVAL '1 day' * o.window_days AS window_start, p.at_ AS window_end
  FROM slo o JOIN service s ON s.id = o.service JOIN team t ON t.id = s.team CROSS JOIN p
  {team_filter}
),
-- the intervals read: those ending in the SLO window or in the longest alert window
rows_ AS (
  SELECT i.slo, i."at", i.good, i.total
  FROM sli i JOIN slos ON slos.slo = i.slo CROSS JOIN p
  WHERE i."at" <= p.at_
    AND i."at" > least(slos.window_start, p.at_ - INTERVAL '1 minute' * {int(longest)})
),
gaps AS (
  SELECT slo, date_diff('second', lag("at") OVER (PARTITION BY slo ORDER BY "at"), "at") AS gap_seconds,
         row_number() OVER (PARTITION BY slo ORDER BY "at" DESC) AS rn
  FROM rows_
),
res AS (
  SELECT slo, percentile_disc(0.5) WITHIN GROUP (ORDER BY gap_seconds) AS resolution_seconds
  FROM gaps WHERE rn <= {RESOLUTION_INTERVALS} AND gap_seconds IS NOT NULL GROUP BY slo
),
tot AS (
  SELECT slos.slo,
         coalesce(sum(r.good) FILTER (WHERE r."at" > slos.window_start), 0) AS good,
         coalesce(sum(r.total) FILTER (WHERE r."at" > slos.window_start), 0) AS total
  FROM slos LEFT JOIN rows_ r ON r.slo = slos.slo
  GROUP BY slos.slo
),
wagg AS (
  SELECT slos.slo, w.minutes, slos.objective,
         coalesce(sum(r.good), 0) AS good, coalesce(sum(r.total), 0) AS total
  FROM slos CROSS JOIN wins w CROSS JOIN p
  LEFT JOIN rows_ r ON r.slo = slos.slo AND r."at" > p.at_ - INTERVAL '1 minute' * w.minutes
  GROUP BY slos.slo, w.minutes, slos.objective
),
why AS (
  SELECT wagg.*,
         CASE WHEN res.resolution_seconds IS NULL THEN '{NO_RESOLUTION}'
              WHEN wagg.minutes * 60 < res.resolution_seconds THEN '{COARSER}'
              WHEN wagg.total = 0 THEN '{NO_EVENTS}'
              WHEN wagg.objective >= 1 THEN '{NO_BUDGET}' END AS reason
  FROM wagg LEFT JOIN res ON res.slo = wagg.slo
),
b AS (SELECT why.*, CASE WHEN reason IS NULL THEN {burn} END AS burn_rate FROM why),
a AS (
  SELECT al.idx, al.severity, al.factor, l.slo, l.burn_rate AS long_burn, s.burn_rate AS short_burn,
         l.burn_rate > al.factor AND s.burn_rate > al.factor AS firing
  FROM alerts al
  JOIN b l ON l.minutes = al.long_minutes
  JOIN b s ON s.slo = l.slo AND s.minutes = al.short_minutes
),
state AS (
  SELECT slo,
         coalesce(bool_or(firing AND severity = 'page'), false) AS page_firing,
         coalesce(bool_or(firing AND severity = 'ticket'), false) AS ticket_firing,
         coalesce(bool_or(firing IS NULL), false) AS alert_unknown
  FROM a GROUP BY slo
),
bw AS (SELECT b.slo, {", ".join(per_window) or "NULL AS none_"} FROM b GROUP BY b.slo),
aw AS (SELECT a.slo, {", ".join(per_alert) or "NULL AS none_"} FROM a GROUP BY a.slo),
measured AS (
  SELECT slos.*, tot.good, tot.total, tot.total - tot.good AS bad, res.resolution_seconds,
         {attainment} AS {_q("slo.attainment")},
         {remaining} AS {_q("slo.error_budget_remaining")},
         CASE WHEN tot.total > 0 AND slos.objective < 1
              THEN (tot.total - tot.good) / ((1 - slos.objective) * tot.total) END AS budget_consumed,
         coalesce(state.page_firing, false) AS page_firing,
         coalesce(state.ticket_firing, false) AS ticket_firing,
         CASE WHEN state.page_firing THEN 'page' WHEN state.ticket_firing THEN 'ticket'
              WHEN state.alert_unknown THEN 'unknown' ELSE 'ok' END AS alert_state
  FROM slos JOIN tot ON tot.slo = slos.slo
  LEFT JOIN res ON res.slo = slos.slo
  LEFT JOIN state ON state.slo = slos.slo
),
per_slo AS (
  SELECT measured.*,
         CASE WHEN {_q("slo.error_budget_remaining")} <= 0 OR page_firing THEN 'fixes only'
              WHEN {_q("slo.error_budget_remaining")} < {float(q.reduced_below)!r} OR ticket_firing
                THEN 'reduced'
              WHEN {_q("slo.error_budget_remaining")} IS NOT NULL THEN 'full' END AS appetite
  FROM measured
),
per_slo_m AS (SELECT per_slo.*, {appetite} AS {_q("slo.release_appetite")} FROM per_slo),
per_team AS (
  SELECT t.id AS team, t.name AS team_name, count(ps.slo) AS team_slos,
         CASE max({rank.format(c="ps.appetite")})
           WHEN 3 THEN 'fixes only' WHEN 2 THEN 'reduced' WHEN 1 THEN 'full' END AS appetite
  FROM team t LEFT JOIN per_slo ps ON ps.team = t.id
  {team_filter}
  GROUP BY t.id, t.name
),
per_team_m AS (SELECT per_team.*, {appetite} AS team_appetite FROM per_team)
SELECT pt.team, pt.team_name, pt.team_slos, pt.team_appetite,
       ps.slo, ps.service, ps.objective, ps.window_days, ps.window_start, ps.window_end,
       ps.good, ps.total, ps.bad, ps.resolution_seconds,
       ps.{_q("slo.attainment")}, ps.{_q("slo.error_budget_remaining")}, ps.budget_consumed,
       ps.{_q("slo.release_appetite")}, ps.alert_state, ps.page_firing, ps.ticket_firing
       {"".join(", " + c for c in pivot_cols)}
FROM per_team_m pt
LEFT JOIN per_slo_m ps ON ps.team = pt.team
LEFT JOIN bw ON bw.slo = ps.slo
LEFT JOIN aw ON aw.slo = ps.slo
ORDER BY pt.team, ps.slo
"""
    return sql, [q.at, *params, *params]


def history_sql(grain: str, since: date, until: date, teams: Sequence[str] | None = None
                ) -> tuple[str, list[object]]:
    """Per SLO and period in [since, until]: good, total, attainment, whether the objective was
    met and the budget consumed. An interval belongs to the period of its end's UTC day."""
    assert grain in GRAINS
    team_filter, team_params = _in("s.team", teams)
    params: list[object] = [since, until, *team_params, since, until]
    attainment = _metric("slo.attainment")
    remaining = _metric("slo.error_budget_remaining")
    sql = f"""
WITH
cal AS (SELECT day, {grain} AS period FROM calendar WHERE day BETWEEN ? AND ?),
periods AS (SELECT period, min(day) AS period_start, max(day) AS period_end FROM cal GROUP BY period),
slos AS (
  SELECT o.id AS slo, o.service, s.team, o.objective, o.window_days
  FROM slo o JOIN service s ON s.id = o.service {team_filter}
),
agg AS (
  SELECT i.slo, cal.period, sum(i.good) AS good, sum(i.total) AS total
  FROM sli i JOIN slos ON slos.slo = i.slo JOIN cal ON cal.day = CAST(i."at" AS DATE)
  WHERE i."at" >= CAST(? AS DATE) AND i."at" < CAST(? AS DATE) + INTERVAL '1 day'
  GROUP BY i.slo, cal.period
),
x AS (
  SELECT slos.*, p.period, p.period_start, p.period_end,
         coalesce(agg.good, 0) AS good, coalesce(agg.total, 0) AS total
  FROM slos CROSS JOIN periods p
  LEFT JOIN agg ON agg.slo = slos.slo AND agg.period = p.period
),
measured AS (
  SELECT x.*, {attainment} AS {_q("slo.attainment")}, {remaining} AS {_q("slo.error_budget_remaining")},
         CASE WHEN total > 0 AND objective < 1
              THEN (total - good) / ((1 - objective) * total) END AS budget_consumed
  FROM x
)
SELECT measured.*, {_q("slo.attainment")} >= objective AS met
FROM measured ORDER BY team, slo, period_start
"""
    return sql, params


def latest_at_sql() -> str:
    """The latest interval end in the store: the default instant of the status."""
    return 'SELECT max("at") FROM sli'


def data_span_sql(teams: Sequence[str] | None = None) -> tuple[str, list[object]]:
    """First and last UTC day an SLI interval ends on (default --since/--until of the history)."""
    if teams is None:
        return 'SELECT CAST(min("at") AS DATE), CAST(max("at") AS DATE) FROM sli', []
    where, params = _in("s.team", teams)
    return ('SELECT CAST(min(i."at") AS DATE), CAST(max(i."at") AS DATE) FROM sli i '
            f"JOIN slo o ON o.id = i.slo JOIN service s ON s.id = o.service {where}", params)


# -- the error-budget policy in words ---------------------------------------------------------

_POLICY = "this is the error-budget policy working, not a drop in productivity."
_SUFFIX = {
    "fixes only": "Slower releases now protect users; " + _POLICY,
    "reduced": "Fewer, smaller releases now protect users; " + _POLICY,
}


def pct(x: float) -> str:
    """A share as a percentage in prose: ``−12 %``, ``18 %``, ``2.5 %``."""
    v = 100 * x
    text = f"{abs(v):.0f}" if abs(v) >= 10 else f"{abs(v):.1f}".removesuffix(".0")
    return ("−" if v < 0 and text != "0" else "") + text + " %"


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def appetite_reasons(slos: Sequence[dict[str, Any]], reduced_below: float) -> list[dict[str, Any]]:
    """Why each SLO holds the team's appetite back: budget spent or low, alerts firing.

    ``slos``: status rows as shaped by the service (``metrics``, ``alerts``)."""
    out: list[dict[str, Any]] = []
    for s in slos:
        rem = s["metrics"]["slo.error_budget_remaining"]
        firing = [a for a in s["alerts"] if a["firing"]]
        if rem is not None and rem <= 0:
            out.append({"slo": s["slo"], "service": s["service"], "level": "fixes only",
                        "cause": "budget spent", "budget_remaining": rem, "alert": None})
        elif rem is not None and rem < reduced_below:
            out.append({"slo": s["slo"], "service": s["service"], "level": "reduced",
                        "cause": "budget low", "budget_remaining": rem, "alert": None})
        for a in firing:
            level = "fixes only" if a["severity"] == "page" else "reduced"
            out.append({"slo": s["slo"], "service": s["service"], "level": level,
                        "cause": f"{a['severity']} alert firing", "budget_remaining": rem,
                        "alert": a})
    return out


def reason_text(r: dict[str, Any], reduced_below: float) -> str:
    if r["cause"] == "budget spent":
        return f"the error budget of {r['slo']} is spent ({pct(r['budget_remaining'])})"
    if r["cause"] == "budget low":
        return (f"the error budget of {r['slo']} is down to {pct(r['budget_remaining'])} "
                f"(below {pct(reduced_below)})")
    a = r["alert"]
    burn = min(a["long_burn"], a["short_burn"])
    return (f"{r['slo']} is burning its error budget {burn:.1f}× faster than the SLO allows "
            f"({a['severity']} alert over {window_label(a['long_minutes'])} and "
            f"{window_label(a['short_minutes'])})")


def appetite_sentence(name: str, appetite: str | None, reasons: Sequence[dict[str, Any]],
                      slos: int, reduced_below: float) -> str:
    """The team's release appetite in plain language, framed as risk management."""
    if slos == 0:
        return f"{name} has no SLO, so no error-budget policy sets its release appetite."
    if appetite is None:
        return (f"{name} has SLOs but no events in their windows yet, so the error-budget policy "
                "cannot set a release appetite.")
    if appetite == "full":
        return (f"{name} has full release appetite: every SLO is within its error budget and no "
                "burn-rate alert is firing.")
    texts = [reason_text(r, reduced_below) for r in reasons if r["level"] == appetite]
    lead = ("is shipping fixes only" if appetite == "fixes only"
            else "is releasing with reduced appetite")
    return f"{name} {lead}: {_join(texts)}. {_SUFFIX[appetite]}"
