"""SLO status, history and release appetite per team, JSON-ready; and the authorised view.

Every figure is computed by the queries of :mod:`shipwise.metrics.slo`; this module checks the
request, runs them and shapes their rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from shipwise.app.dates import check_day, check_window
from shipwise.config import SloSettings
from shipwise.errors import InputError, NotFoundError
from shipwise.metrics import ids
from shipwise.metrics import slo as m
from shipwise.store.duckdb_store import Store


def parse_at(at: datetime | str | None) -> datetime | None:
    """The status instant as a naive UTC datetime (an offset is converted; none means UTC)."""
    if at is None or at == "":
        return None
    if isinstance(at, str):
        try:
            at = datetime.fromisoformat(at.strip())
        except ValueError:
            raise InputError(f"cannot read the instant {at!r}",
                             hint="use ISO 8601, e.g. 2025-07-08T12:00:00Z") from None
    if not isinstance(at, datetime):
        raise InputError(f"cannot read the instant {at!r}", hint="use ISO 8601")
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    return at


def _day(value: date | str | None, name: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"cannot read {name} {value!r}", hint="use a date YYYY-MM-DD") from None


def _teams(store: Store, team: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """The team filter (None: every team); raises NotFoundError for a team that does not exist."""
    if team is None:
        return None
    teams = (team,) if isinstance(team, str) else tuple(team)
    known = {r[0] for r in store.con.execute("SELECT id FROM team").fetchall()}
    for t in teams:
        if t not in known:
            raise NotFoundError(f"unknown team '{t}'", hint="`shipwise teams` lists them")
    return teams


def _iso(t: datetime | date | None) -> str | None:
    if t is None:
        return None
    return t.isoformat() + ("Z" if isinstance(t, datetime) else "")


def _status(store: Store, cfg: SloSettings, teams: tuple[str, ...] | None, at: datetime | None
            ) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """(status rows, appetite per team) at ``at``."""
    sql, params = m.status_sql(m.StatusQuery(at, tuple(cfg.burn_alerts), cfg.reduced_below, teams))
    cur = store.con.execute(sql, params)
    cols = [d[0] for d in cur.description or []]
    wins = m.burn_windows(cfg.burn_alerts)
    by_team: dict[str, dict[str, Any]] = {}
    status: list[dict[str, Any]] = []
    # Shaping only: every value was computed by the query.
    for values in cur.fetchall():
        r = dict(zip(cols, values, strict=True))
        t = by_team.setdefault(r["team"], {
            "team": r["team"], "name": r["team_name"], "appetite": r["team_appetite"],
            "slos": int(r["team_slos"]), "_rows": []})
        if r["slo"] is None:
            continue
        burn = [{"window": m.window_key(w), "minutes": w,
                 "good": r[f"good_{m.window_key(w)}"], "total": r[f"total_{m.window_key(w)}"],
                 "burn_rate": r[f"burn_rate_{m.window_key(w)}"],
                 "reason": r[f"reason_{m.window_key(w)}"]} for w in wins]
        alerts = []
        for i, a in enumerate(cfg.burn_alerts):
            long_burn, short_burn = r[f"long_burn_{i}"], r[f"short_burn_{i}"]
            alerts.append({
                "severity": a.severity, "factor": a.factor,
                "long_minutes": a.long_minutes, "short_minutes": a.short_minutes,
                "long_window": m.window_key(a.long_minutes),
                "short_window": m.window_key(a.short_minutes),
                "long_burn": long_burn, "short_burn": short_burn,
                "evaluable": long_burn is not None and short_burn is not None,
                "firing": r[f"firing_{i}"],
            })
        row = {
            "slo": r["slo"], "service": r["service"], "team": r["team"],
            "objective": r["objective"], "window_days": int(r["window_days"]),
            "window_start": _iso(r["window_start"]), "window_end": _iso(r["window_end"]),
            "good": int(r["good"]), "total": int(r["total"]), "bad": int(r["bad"]),
            "budget_consumed": r["budget_consumed"],
            "resolution_seconds": r["resolution_seconds"],
            "metrics": {
                ids.ATTAINMENT: r[ids.ATTAINMENT],
                ids.ERROR_BUDGET_REMAINING: r[ids.ERROR_BUDGET_REMAINING],
                ids.BURN_RATE: {b["window"]: b["burn_rate"] for b in burn},
                ids.RELEASE_APPETITE: r[ids.RELEASE_APPETITE],
            },
            "burn": burn, "alerts": alerts, "alert_state": r["alert_state"],
        }
        status.append(row)
        t["_rows"].append(row)
    appetite: dict[str, dict[str, Any]] = {}
    for tid, t in by_team.items():
        rows = t.pop("_rows")
        reasons = m.appetite_reasons(rows, cfg.reduced_below)
        if t["slos"] == 0:
            short = "no SLO"
        elif t["appetite"] is None:
            short = "no events in the SLO windows"
        elif t["appetite"] == "full":
            short = "every SLO within budget, no burn-rate alert firing"
        else:
            short = "; ".join(m.reason_text(x, cfg.reduced_below)
                              for x in reasons if x["level"] == t["appetite"])
        appetite[tid] = {
            **t, "at": _iso(at), "reason": short, "reasons": reasons,
            "sentence": m.appetite_sentence(t["name"], t["appetite"], reasons, t["slos"],
                                            cfg.reduced_below),
        }
    return status, appetite


def _history(store: Store, teams: tuple[str, ...] | None, grain: str, since: date | None,
             until: date | None) -> dict[str, Any]:
    sql, params = m.data_span_sql(teams)
    first, last = store.con.execute(sql, params).fetchone() or (None, None)
    since, until = since or first, until or last
    out: dict[str, Any] = {"grain": grain, "since": _iso(since), "until": _iso(until), "rows": []}
    if since is None or until is None:
        return out
    sql, params = m.history_sql(grain, since, until, teams)
    cur = store.con.execute(sql, params)
    cols = [d[0] for d in cur.description or []]
    for values in cur.fetchall():
        r = dict(zip(cols, values, strict=True))
        out["rows"].append({
            "slo": r["slo"], "service": r["service"], "team": r["team"],
            "period": r["period"], "period_start": _iso(r["period_start"]),
            "objective": r["objective"], "good": int(r["good"]), "total": int(r["total"]),
            "metrics": {ids.ATTAINMENT: r[ids.ATTAINMENT],
                        ids.ERROR_BUDGET_REMAINING: r[ids.ERROR_BUDGET_REMAINING]},
            "met": r["met"], "budget_consumed": r["budget_consumed"],
        })
    return out


def _instant(store: Store, at: datetime | str | None) -> datetime | None:
    parsed = parse_at(at)
    if parsed is not None:
        return parsed
    row = store.con.execute(m.latest_at_sql()).fetchone()
    return row[0] if row else None


def slo_rows(store: Store, settings_slo: SloSettings | None = None, *,
             team: str | Sequence[str] | None = None,
             at: datetime | str | None = None, grain: str = "month",
             since: date | str | None = None, until: date | str | None = None,
             history: bool = True) -> dict[str, Any]:
    """SLO status at ``at`` (default: the latest SLI interval end), the history per ``grain``
    and the release appetite of each team (only ``team`` — one id or several — when given), in
    the documented shape."""
    cfg = settings_slo or SloSettings.model_validate({})
    if grain not in m.GRAINS:
        raise InputError(f"unknown grain '{grain}'", hint="use week, month or quarter")
    since_d, until_d = _day(since, "--since"), _day(until, "--until")
    if since_d and until_d and since_d > until_d:
        raise InputError("--since is after --until")
    teams = _teams(store, team)
    instant = _instant(store, at)
    check_window(store, since_d, until_d)
    check_day(store, "at", instant.date() if instant is not None else None)
    status, appetite = _status(store, cfg, teams, instant)
    out: dict[str, Any] = {"at": _iso(instant), "team": team,
                           "windows": [m.window_key(w) for w in m.burn_windows(cfg.burn_alerts)],
                           "status": status, "appetite": appetite}
    if history:
        out["history"] = _history(store, teams, grain, since_d, until_d)
    return out


def release_appetite(store: Store, settings_slo: SloSettings | None = None,
                     at: datetime | str | None = None) -> dict[str, dict[str, Any]]:
    """Every team's release appetite at ``at``, for views that show it beside deployment
    frequency: ``{team: {team, name, appetite, slos, at, reason, reasons, sentence}}``."""
    cfg = settings_slo or SloSettings.model_validate({})
    return _status(store, cfg, None, _instant(store, at))[1]

