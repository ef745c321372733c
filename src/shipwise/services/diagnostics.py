"""Flow and strain per team (and per org unit), with small groups suppressed.

This is the only way flow and strain figures leave the store: every interface goes through
:mod:`shipwise.services.views`, which calls these. Each period is computed for every team and
every org unit at once, then suppression runs over the whole hierarchy (so a hidden team cannot
be recovered from its org unit's total, whoever asks), and only then are rows filtered to what
was asked. People counts are used to decide and never returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from shipwise.errors import InputError, NotFoundError
from shipwise.governance.suppression import reason, suppressed_units
from shipwise.metrics import flow, registry, strain
from shipwise.metrics.people import people_counts
from shipwise.store.duckdb_store import Store

FAMILIES = ("flow", "strain")

#: metric id -> the people source its group is counted from (None: not people-derived)
SOURCE: dict[str, str | None] = {
    **{m.id: ("flow.authors" if m.people_derived else None) for m in registry.family("flow")},
    **{m.id: "strain.responders" for m in registry.family("strain")},
    "strain.stalled_prs": "strain.stalled_authors",
}
#: count columns shown beside the metrics, and the people source of each
COUNTS: dict[str, dict[str, str | None]] = {
    "flow": {
        **{c: "flow.authors" for c in flow.ADDITIVE},
        "week_ends": None,
        **{c: None for c in ("tickets_done", "tickets_blocked")},
    },
    "strain": {
        "pages": "strain.responders", "incident_hours": "strain.responders",
        "oncall_person_weeks": "strain.responders", "cross_team_prs": "strain.stalled_authors",
    },
}


@dataclass(frozen=True)
class DiagnosticRequest:
    family: str  # flow | strain
    grain: str = "quarter"
    level: str = "team"  # team | org_unit
    entities: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None


def _span(store: Store, family: str) -> tuple[date | None, date | None]:
    col = {"flow": ("flow_pr_fact", "created_at"), "strain": ("strain_page_fact", '"at"')}[family]
    row = store.con.execute(f"SELECT CAST(min({col[1]}) AS DATE), CAST(max({col[1]}) AS DATE) "
                            f"FROM {col[0]}").fetchone()
    return (row[0], row[1]) if row else (None, None)


def _hierarchy(store: Store) -> dict[str, str | None]:
    """Every team and org unit -> its parent (teams under their org unit)."""
    parent: dict[str, str | None] = {}
    for uid, up in store.con.execute("SELECT id, parent FROM org_unit").fetchall():
        parent["ou:" + str(uid)] = ("ou:" + str(up)) if up else None
    for tid, ou in store.con.execute("SELECT id, org_unit FROM team").fetchall():
        parent["team:" + str(tid)] = "ou:" + str(ou)
    return parent


def _check(store: Store, req: DiagnosticRequest) -> None:
    if req.family not in FAMILIES:
        raise InputError(f"unknown family {req.family!r}", hint="flow or strain")
    if req.grain not in ("week", "month", "quarter"):
        raise InputError(f"unknown grain '{req.grain}'", hint="use week, month or quarter")
    if req.level not in ("team", "org_unit"):
        raise InputError(f"unknown level {req.level!r}", hint="team or org_unit")
    table = "team" if req.level == "team" else "org_unit"
    for e in req.entities:
        if not store.con.execute(f"SELECT 1 FROM {table} WHERE id = ?", [e]).fetchone():
            raise NotFoundError(f"unknown {table.replace('_', ' ')} '{e}'",
                                hint="`shipwise teams` lists teams and their org units")
    if req.since and req.until and req.since > req.until:
        raise InputError("--since is after --until")


def _compute(store: Store, family: str, grain: str, level: str, since: date, until: date,
             hours: strain.Hours) -> list[dict[str, Any]]:
    if family == "flow":
        sql, params = flow.flow_sql(flow.FlowQuery(grain, level, since, until))
    else:
        sql, params = strain.strain_sql(strain.StrainQuery(grain, level, since, until, hours))
    cur = store.con.execute(sql, params)
    cols = [d[0] for d in cur.description or []]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def diagnostic_rows(store: Store, req: DiagnosticRequest, *, min_group_size: int = 5,
                    hours: strain.Hours | None = None) -> dict[str, Any]:
    """The family's rows for the request, suppressed; JSON-ready."""
    _check(store, req)
    first, last = _span(store, req.family)
    since, until = req.since or first, req.until or last
    out: dict[str, Any] = {"family": req.family, "grain": req.grain, "level": req.level,
                           "since": since.isoformat() if since else None,
                           "until": until.isoformat() if until else None,
                           "min_group_size": min_group_size, "rows": []}
    if since is None or until is None:
        return out
    hours = hours or strain.Hours()
    by_level = {lvl: _compute(store, req.family, req.grain, lvl, since, until, hours)
                for lvl in ("team", "org_unit")}
    sources = sorted({s for s in SOURCE.values() if s and s.startswith(req.family + ".")})
    people = {(src, lvl): people_counts(store.con, src, req.grain, lvl, since, until)
              for src in sources for lvl in ("team", "org_unit")}
    parent = _hierarchy(store)
    periods = sorted({r["period"] for rows in by_level.values() for r in rows})
    hidden: dict[tuple[str, str], dict[str, str]] = {}  # (source, period) -> unit -> why
    for src in sources:
        for period in periods:
            n = {("team:" if lvl == "team" else "ou:") + e: c
                 for lvl in ("team", "org_unit")
                 for (e, p), c in people[(src, lvl)].items() if p == period}
            hidden[(src, period)] = suppressed_units(n, parent, min_group_size)
    prefix = "team:" if req.level == "team" else "ou:"
    key = "team" if req.level == "team" else "org_unit"
    ids = [m.id for m in registry.family(req.family)]
    counts = COUNTS[req.family]
    wanted = set(req.entities)
    for r in by_level[req.level]:
        if wanted and r["entity"] not in wanted:
            continue
        unit = prefix + str(r["entity"])
        why: dict[str, str] = {}
        cols: list[tuple[str, str | None]] = [*((i, SOURCE[i]) for i in ids), *counts.items()]
        for col, source in cols:
            if source is not None and unit in hidden[(source, r["period"])]:
                why[col] = reason(hidden[(source, r["period"])][unit], min_group_size)
        row: dict[str, Any] = {
            key: r["entity"], "period": r["period"],
            "period_start": r["period_start"].isoformat(),
            "metrics": {i: (None if i in why else r[i]) for i in ids},
            "counts": {c: (None if c in why else r[c]) for c in counts},
            "suppressed": why,
        }
        if req.family == "flow":
            dist = ("open_lt_1d", "open_1d_3d", "open_3d_7d", "open_7d_14d", "open_ge_14d")
            hide = unit in hidden.get(("flow.authors", r["period"]), {})
            row["open_pr_age_distribution"] = None if hide else {c[5:]: r[c] for c in dist}
        out["rows"].append(row)
    return out
