"""Flow and strain per team (and per org unit), with small groups suppressed.

This is the only way flow and strain figures leave the store: every interface goes through
:mod:`shipwise.app.views`, which calls these. Each period is computed for every team and
every org unit at once, then suppression runs over the whole hierarchy (so a hidden team cannot
be recovered from its org unit's total, whoever asks), and only then are rows filtered to what
was asked. People counts are used to decide and never returned.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from shipwise.errors import InputError, NotFoundError
from shipwise.governance.suppression import SHARE, AuditMemo, Equations, reason
from shipwise.governance.suppression import decide as suppressed
from shipwise.metrics import flow, ids, registry, strain
from shipwise.metrics.engines import DuckDBEngine, Engine, scalar_row
from shipwise.metrics.incremental import changes_since, team_stamp
from shipwise.metrics.people import people_counts, touch_table
from shipwise.store import calendar
from shipwise.store.duckdb_store import Store

FAMILIES = ("flow", "strain")

#: metric id -> the people source its group is counted from (None: not people-derived), as the
#: registry defines it — a people-derived metric is suppressed by its own source, never by name here
SOURCE: dict[str, str | None] = {m.id: m.people_source for f in FAMILIES
                                 for m in registry.family(f)}
#: count columns shown beside the metrics, and the people source of each
COUNTS: dict[str, dict[str, str | None]] = {
    "flow": {
        "merged_prs": ids.PEOPLE_MERGED, "merged_without_review": ids.PEOPLE_MERGED,
        "delivered_prs": ids.PEOPLE_DELIVERED, "reviewed_prs": ids.PEOPLE_REVIEWED,
        **{c: ids.PEOPLE_OPEN_END for c in ("open_prs", "open_lt_1d", "open_1d_3d", "open_3d_7d",
                                            "open_7d_14d", "open_ge_14d")},
        "week_ends": None, "tickets_done": None, "tickets_blocked": None,
    },
    "strain": {
        "pages": ids.PEOPLE_RESPONDERS, "incident_hours": ids.PEOPLE_RESPONDERS,
        "oncall_person_weeks": ids.PEOPLE_RESPONDERS, "cross_team_prs": ids.PEOPLE_STALLED_AUTHORS,
        **{c: ids.PEOPLE_ONCALL for c in ("oncall_hours", "after_hours_oncall_hours",
                                          "weekend_oncall_hours", "sleep_oncall_hours")},
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


def _span(engine: Engine, family: str) -> tuple[date | None, date | None]:
    """First and last day of the family's data (pull requests and tickets for flow)."""
    parts = {"flow": [("flow_pr_fact", "created_at"), ("ticket_status", '"at"')],
             "strain": [("strain_page_fact", '"at"'), ("flow_pr_fact", "created_at"),
                        ("strain_oncall_fact", "starts_at")]}[family]
    sql = " UNION ALL ".join(f"SELECT min({c}) AS lo, max({c}) AS hi FROM {t}" for t, c in parts)
    row = scalar_row(engine, f"SELECT CAST(min(lo) AS DATE), CAST(max(hi) AS DATE) FROM ({sql}) s")
    return (row[0], row[1]) if row else (None, None)


def _snap(engine: Engine, grain: str, since: date, until: date) -> tuple[date, date]:
    """Whole periods only: a figure of a period is the same whichever dates were asked for, so
    two overlapping requests can never be subtracted to reveal a part of a period."""
    row = scalar_row(
        engine,
        f"SELECT (SELECT min(day) FROM calendar WHERE {grain} = "
        f"(SELECT {grain} FROM calendar WHERE day = ?)), "
        f"(SELECT max(day) FROM calendar WHERE {grain} = "
        f"(SELECT {grain} FROM calendar WHERE day = ?))", [since, until])
    if not row or row[0] is None or row[1] is None:
        raise InputError("dates outside the calendar (2000–2040)")
    return row[0], row[1]


def _hierarchy(store: Store) -> dict[str, str | None]:
    """Every team and org unit -> its parent (teams under their org unit)."""
    parent: dict[str, str | None] = {}
    for uid, up in store.con.execute("SELECT id, parent FROM org_unit ORDER BY id").fetchall():
        parent["ou:" + str(uid)] = ("ou:" + str(up)) if up else None
    for tid, ou in store.con.execute("SELECT id, org_unit FROM team ORDER BY id").fetchall():
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


def _compute(engine: Engine, family: str, grain: str, level: str, since: date, until: date,
             hours: strain.Hours, entities: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    if family == "flow":
        sql, params = flow.flow_sql(flow.FlowQuery(grain, level, since, until, entities))
    else:
        sql, params = strain.strain_sql(strain.StrainQuery(grain, level, since, until, hours,
                                                           entities))
    cols, rows = engine.rows(sql, params)
    return [dict(zip(cols, r, strict=True)) for r in rows]


def flow_figures_on(engine: Engine, grain: str = "quarter", level: str = "team",
                    since: date | None = None, until: date | None = None,
                    entities: tuple[str, ...] = ()) -> dict[str, Any]:
    """Flow per team (or org unit) and period computed by ``engine`` over whole periods, as the
    query returns them: **before suppression** (which needs the store's people counts), so only
    for whoever holds the records themselves (a canonical Parquet export)."""
    first, last = _span(engine, "flow")
    since, until = since or first, until or last
    out: dict[str, Any] = {"family": "flow", "grain": grain, "level": level, "since": None,
                           "until": None, "rows": []}
    if since is None or until is None:
        return out
    since, until = _snap(engine, grain, since, until)
    out["since"], out["until"] = since.isoformat(), until.isoformat()
    out["rows"] = _compute(engine, "flow", grain, level, since, until, strain.Hours(), entities)
    return out


_HIDDEN: dict[tuple[str, str, str, int], Hidden] = {}
#: what a family's decision reads (besides the hierarchy): it is made again only when a refresh
#: changed one of these (:func:`~shipwise.metrics.incremental.team_stamp`)
READS = {"flow": ("flow_pr_fact", "ticket_status"),
         "strain": ("strain_page_fact", "flow_pr_fact", "strain_oncall_fact")}
_HIDDEN_LOCK = threading.Lock()
GRAINS = ("week", "month", "quarter")
#: the decision behind each people source: the open pull requests of a period's last week end are
#: the figures of the week that week end closes (one decision for equal figures)
_DECISION = {ids.PEOPLE_OPEN_END: ids.PEOPLE_OPEN}
#: what the busiest-fifth share needs: the busiest fifth and the rest both at least k people
CONCENTRATION = ids.PEOPLE_CONCENTRATION


@dataclass(frozen=True)
class Hidden:
    """What is hidden for one family: decision source -> figure node -> why, and for the open
    pull requests of a longer period, the week whose figures they are (``(grain, period)`` →
    week id)."""

    nodes: dict[str, dict[str, str]]
    last_week: dict[tuple[str, str], str]


def _hidden(store: Store, family: str, k: int) -> Hidden:
    """What is hidden — every grain at once, over the family's whole data span: decided once
    per version of the facts it reads and reused by every request (a period's figure does not depend on
    the dates asked for, and week, month and quarter figures are judged together)."""
    key = (str(store.path), team_stamp(store, READS[family]), family, k)
    with _HIDDEN_LOCK:
        if key in _HIDDEN:
            return _HIDDEN[key]
    first, last = _span(DuckDBEngine(store), family)
    if first is None or last is None:
        result = Hidden({s: {} for s in (*SOURCE.values(), CONCENTRATION) if s}, {})
    else:
        since = min(_snap(DuckDBEngine(store), g, first, last)[0] for g in GRAINS)
        until = max(_snap(DuckDBEngine(store), g, first, last)[1] for g in GRAINS)
        result = _suppression(store, family, since, until, k)
    with _HIDDEN_LOCK:
        if len(_HIDDEN) > 64:
            _HIDDEN.clear()
        _HIDDEN[key] = result
    return result


@dataclass
class _Counted:
    """People counts of a family as of one incremental refresh, to recount from a day on."""

    generation: str
    seq: int
    since: date
    reach: date | None  # the last day the flow facts reached
    #: source -> (grain, period) -> figure node -> distinct people
    people: dict[str, dict[tuple[str, str], dict[str, int]]]


_COUNTED: dict[tuple[str, str], _Counted] = {}


def _reach(store: Store) -> date | None:
    row = store.con.execute(
        """SELECT CAST(max(greatest(created_at, coalesce(first_review_at, created_at),
                   coalesce(merged_at, created_at), coalesce(closed_at, created_at),
                   coalesce(delivered_at, created_at))) AS DATE) FROM flow_pr_fact""").fetchone()
    return row[0] if row else None


def _people(store: Store, family: str, sources: list[str], since: date, until: date
            ) -> dict[str, dict[str, int]]:
    """source -> figure node -> distinct people, over [since, until]. After an incremental
    refresh, only the periods from the earliest changed instant on (or from where the data
    reached before, whichever is earlier) are counted again; the rest is kept."""
    gen, seq, org, changed = changes_since(store, READS[family], 0)
    ckey = (str(store.path), family)
    with _HIDDEN_LOCK:
        before = _COUNTED.get(ckey)
    start: date | None = None
    if before is not None and before.generation == gen and before.since == since:
        gen, seq, org, changed = changes_since(store, READS[family], before.seq)
        if not org:
            start = min((d for d in (changed.date() if changed else None, before.reach)
                         if d is not None), default=until)
    reach = _reach(store)
    people_of: dict[str, dict[tuple[str, str], dict[str, int]]] = {}
    touch = f"_people_touch_{uuid.uuid4().hex}"
    for src in sources:
        people: dict[tuple[str, str], dict[str, int]] = {}
        cut: dict[str, str] = {}
        if start is not None and before is not None and src in before.people:
            for grain in GRAINS:  # the period holding the first day recounted, and later ones
                row = store.con.execute(f"SELECT {grain} FROM calendar WHERE day = ?",
                                        [start]).fetchone()
                cut[grain] = str(row[0]) if row else ""
            people = {gp: nodes for gp, nodes in before.people[src].items()
                      if gp[1] < cut[gp[0]]}  # kept as they are: nothing changes them later
        touch_table(store.con, src, touch,  # once per source, for its six grains and levels
                    min(_first_day(store, g, cut[g]) for g in GRAINS) if cut else None)
        try:
            for grain in GRAINS:
                for lvl in ("team", "org_unit"):
                    prefix = "team:" if lvl == "team" else "ou:"
                    lo = _first_day(store, grain, cut[grain]) if cut else since
                    for (e, p), n in people_counts(store.con, src, grain, lvl, lo, until,
                                                   touch).items():
                        if not cut or p >= cut[grain]:
                            people.setdefault((grain, p), {})[f"{prefix}{e}@{grain}:{p}"] = n
        finally:
            store.con.execute(f"DROP TABLE IF EXISTS {touch}")
        people_of[src] = people
    with _HIDDEN_LOCK:
        _COUNTED[ckey] = _Counted(gen, seq, since, reach, people_of)
    out: dict[str, dict[str, int]] = {}
    for src, by_period in people_of.items():
        flat = out[src] = {}
        for nodes in by_period.values():
            flat.update(nodes)
    return out


def _first_day(store: Store, grain: str, period: str) -> date:
    row = store.con.execute(f"SELECT min(day) FROM calendar WHERE {grain} = ?", [period]).fetchone()
    if not row or row[0] is None:
        raise InputError("dates outside the calendar (2000–2040)")
    return row[0]


def team_hidden(store: Store, family: str, team: str | None, k: int,
                first: date, last: date) -> bool:
    """Is a figure of ``team`` in ``family`` hidden for a period (of any grain, any people
    source) with a day in [first, last]? Then the records whose times fall there (a pull
    request's, its commits') would let a reader rebuild it, and are withheld too
    (:mod:`shipwise.app.explain`)."""
    if team is None:
        return False
    nodes = {f"team:{team}@{p}" for p in calendar.periods(store, first, last)}
    return any(not nodes.isdisjoint(hidden) for hidden in _hidden(store, family, k).nodes.values())


def _suppression(store: Store, family: str, since: date, until: date, k: int) -> Hidden:
    """Decision source -> hidden node -> why, over every team and org unit and every period of
    every grain (node = ``team:payments@month:2025-07``), against every linear identity a reader
    knows: an org unit's period is the sum of its children's (per period), and each unit's
    periods obey the calendar's identities (:func:`time_equations`)."""
    parent = _hierarchy(store)
    sources = sorted({_DECISION.get(s, s) for m in registry.family(family)
                      if (s := m.people_source) and s != CONCENTRATION})
    days = store.con.execute(
        "SELECT day, week, month, quarter, weekday FROM calendar WHERE day BETWEEN ? AND ? "
        "ORDER BY day", [since, until]).fetchall()
    snaps = _week_ends(store, since, until) if family == "flow" else set()
    last_week: dict[tuple[str, str], str] = {}
    for day, week, month, quarter, _ in days:
        if day in snaps:
            for g, p in (("week", week), ("month", month), ("quarter", quarter)):
                last_week[(g, str(p))] = str(week)  # days ascend: the last one stays
    out: dict[str, dict[str, str]] = {}
    people_of = _people(store, family, sources, since, until)
    for src in sources:
        system = _equations(store, parent, days, snaps if src == ids.PEOPLE_OPEN else None)
        with _HIDDEN_LOCK:
            memo = _MEMOS.setdefault((str(store.path), family, src, k), AuditMemo())
        with memo.lock:  # one decision at a time per memo: it keeps what the last one used
            out[src] = suppressed(people_of[src], system, k, memo=memo)
            memo.done()
    if any(m.people_source == CONCENTRATION for m in registry.family(family)):
        resp = people_of[ids.PEOPLE_RESPONDERS]
        out[CONCENTRATION] = {
            node: (out[ids.PEOPLE_RESPONDERS].get(node) or SHARE) for node, m in resp.items()
            if node in out[ids.PEOPLE_RESPONDERS] or not _fifth_ok(m, k)}
    return Hidden(out, last_week)


#: per store and kind of figure (summed over days, or at week ends): the equations of one
#: hierarchy over one run of days (and week ends) — a day more of data within the same quarter
#: changes the counts, not the identities; one in a new quarter or week adds a few
_EQUATIONS: dict[tuple[str, bool], _Kept] = {}
#: exact audits kept from the last decision per store, family, people source and minimum
_MEMOS: dict[tuple[str, str, str, int], AuditMemo] = {}


def _equations(store: Store, parent: dict[str, str | None], days: list[tuple[Any, ...]],
               snaps: set[date] | None) -> Equations:
    """Every linear identity a reader knows between the figures of one people source: each org
    unit's period is the sum of its children's; each unit's periods obey the calendar's
    identities (:func:`time_equations`) — built once per hierarchy, span and week ends, and
    when only the span or the week ends moved, from the kept ones: the equations of a period
    (or of a calendar identity) that was there before are the same, only the others change."""
    kind = (str(store.path), snaps is None)
    hierarchy = tuple(parent.items())
    key = (days[0][0] if days else None, days[-1][0] if days else None,
           None if snaps is None else frozenset(snaps))
    with _HIDDEN_LOCK:
        kept = _EQUATIONS.get(kind)
    if kept is not None and kept.hierarchy == hierarchy and kept.key == key:
        return kept.equations
    old = kept.blocks if kept is not None and kept.hierarchy == hierarchy else {}
    kids: dict[str, list[str]] = {}
    for unit, up in parent.items():
        if up:
            kids.setdefault(up, []).append(unit)
    periods, time_eqs = time_equations(days, snaps)
    blocks: dict[object, list[tuple[tuple[str, int], ...]]] = {}
    for gp in periods:  # a period's hierarchy: each org unit = Σ its children
        blocks[gp] = old.get(gp) or [((f"{up}@{gp}", 1), *((f"{c}@{gp}", -1) for c in parts))
                                     for up, parts in kids.items()]
    for te in time_eqs:  # one calendar identity, for every unit
        tkey = tuple(te)
        blocks[tkey] = old.get(tkey) or [tuple((f"{unit}@{gp}", c) for gp, c in te)
                                         for unit in parent]
    if kept is not None and old:  # the blocks that went and came: most stay as they were
        got = kept.equations.replaced(
            [e for b, eqs in old.items() if b not in blocks for e in eqs],
            [e for b, eqs in blocks.items() if b not in old for e in eqs])
    else:
        got = Equations(e for eqs in blocks.values() for e in eqs)
    with _HIDDEN_LOCK:
        if len(_EQUATIONS) > 16:
            _EQUATIONS.clear()
        if len(_MEMOS) > 64:
            _MEMOS.clear()
        _EQUATIONS[kind] = _Kept(hierarchy, key, blocks, got)
    return got


@dataclass(frozen=True)
class _Kept:
    """The equations of one store and kind of figure, and what they were built from."""

    hierarchy: tuple[tuple[str, str | None], ...]
    key: tuple[object, ...]
    #: a period (``grain:period``) or a calendar identity -> its equations
    blocks: dict[object, list[tuple[tuple[str, int], ...]]]
    equations: Equations


def _fifth_ok(n: int, k: int) -> bool:
    """The busiest fifth of n responders (⌈n/5⌉, at least one) and the rest are each at least
    k people — else the share describes a group smaller than the minimum (with n ≤ 9 and pages
    shown, one person's own page count). No responders: nothing to describe."""
    top = max(1, -(-n // 5))
    return n == 0 or (top >= k and n - top >= k)


def time_equations(days: list[tuple[Any, ...]], snaps: set[date] | None
                   ) -> tuple[list[str], list[list[tuple[str, int]]]]:
    """The calendar's identities between one unit's period figures, over ``days`` (day, week,
    month, quarter, weekday; ascending): the periods (``grain:period``) and the equations.

    Figures summed over days (``snaps`` None): a quarter is the sum of its months; weeks are not
    nested in months, but wherever a week starts on the first of a month (and at the ends of the
    data span) the weeks and months in between cover exactly the same days — each such *block*
    gives Σ weeks = Σ months. These are all the identities there are: weeks and months sharing
    days form a chain whose connected pieces are the blocks.
    Figures at week ends (``snaps``: the Sundays counted): a week is its one Sunday, a month the
    sum of its weeks' Sundays, a quarter of its months'."""
    eqs: list[list[tuple[str, int]]] = []
    months_of: dict[str, list[str]] = {}
    periods: list[str] = []
    seen: set[str] = set()

    def add(gp: str) -> None:
        if gp not in seen:
            seen.add(gp)
            periods.append(gp)

    if snaps is None:
        block: list[str] = []
        for i, (day, week, month, quarter, weekday) in enumerate(days):
            if i and weekday == 1 and day.day == 1 and block:
                eqs.append([(gp, 1 if gp.startswith("week:") else -1) for gp in block])
                block = []
            for gp in (f"week:{week}", f"month:{month}"):
                if gp not in seen:
                    block.append(gp)
            add(f"week:{week}")
            add(f"month:{month}")
            add(f"quarter:{quarter}")
            if f"month:{month}" not in months_of.setdefault(str(quarter), []):
                months_of[str(quarter)].append(f"month:{month}")
        if block:
            eqs.append([(gp, 1 if gp.startswith("week:") else -1) for gp in block])
    else:
        weeks_of: dict[str, list[str]] = {}
        for day, week, month, quarter, _ in days:
            if day not in snaps:
                continue
            for gp in (f"week:{week}", f"month:{month}", f"quarter:{quarter}"):
                add(gp)
            weeks_of.setdefault(str(month), []).append(f"week:{week}")
            if f"month:{month}" not in months_of.setdefault(str(quarter), []):
                months_of[str(quarter)].append(f"month:{month}")
        for month, weeks in weeks_of.items():
            eqs.append([(f"month:{month}", 1), *((w, -1) for w in weeks)])
    for quarter, months in months_of.items():
        eqs.append([(f"quarter:{quarter}", 1), *((m, -1) for m in months)])
    return periods, eqs


def _week_ends(store: Store, since: date, until: date) -> set[date]:
    """The Sundays whose end (24:00 UTC) the pull-request data reaches: flow's week ends."""
    rows = store.con.execute(
        """SELECT c.day FROM calendar c,
             (SELECT max(greatest(created_at, coalesce(first_review_at, created_at),
                                  coalesce(merged_at, created_at), coalesce(closed_at, created_at),
                                  coalesce(delivered_at, created_at))) AS t FROM flow_pr_fact) e
           WHERE c.weekday = 7 AND c.day BETWEEN ? AND ?
             AND CAST(c.day + INTERVAL 1 DAY AS TIMESTAMP) <= e.t""", [since, until]).fetchall()
    return {r[0] for r in rows}


def diagnostic_rows(store: Store, req: DiagnosticRequest, *, min_group_size: int = 5,
                    hours: strain.Hours | None = None) -> dict[str, Any]:
    """The family's rows for the request, suppressed; JSON-ready."""
    _check(store, req)
    engine = DuckDBEngine(store)
    first, last = _span(engine, req.family)
    since, until = req.since or first, req.until or last
    out: dict[str, Any] = {"family": req.family, "grain": req.grain, "level": req.level,
                           "since": since.isoformat() if since else None,
                           "until": until.isoformat() if until else None,
                           "min_group_size": min_group_size, "rows": []}
    if since is None or until is None:
        return out
    hours = hours or strain.Hours()
    since, until = _snap(engine, req.grain, since, until)
    out["since"], out["until"] = since.isoformat(), until.isoformat()
    rows = _compute(engine, req.family, req.grain, req.level, since, until, hours, req.entities)
    hidden = _hidden(store, req.family, min_group_size)
    parent_of = _hierarchy(store)
    prefix = "team:" if req.level == "team" else "ou:"
    key = "team" if req.level == "team" else "org_unit"
    metrics = registry.family(req.family)
    metric_ids = [m.id for m in metrics]
    counts = COUNTS[req.family]
    #: each column and the people source it is judged by: a metric's own, from the registry
    cols: list[tuple[str, str | None]] = [*((m.id, m.people_source) for m in metrics),
                                          *counts.items()]
    wanted = set(req.entities)
    for r in rows:
        if wanted and r["entity"] not in wanted:
            continue
        unit = prefix + str(r["entity"])
        why: dict[str, str] = {}
        for col, source in cols:
            if source is None:
                continue
            node, decision = _node(hidden, unit, req.grain, str(r["period"]), source)
            if node is not None and node in hidden.nodes.get(decision, {}):
                why[col] = reason(hidden.nodes[decision][node], min_group_size)
        row: dict[str, Any] = {
            key: r["entity"], "period": r["period"],
            **({"parent": (parent_of.get(unit) or "")[3:] or None} if req.level == "org_unit" else {}),
            "period_start": r["period_start"].isoformat(),
            "metrics": {i: (None if i in why else r[i]) for i in metric_ids},
            "counts": {c: (None if c in why else r[c]) for c in counts},
            "suppressed": why,
        }
        if req.family == "strain":  # which on-call figures are from the rota, which from pages
            row["oncall_basis"] = r["oncall_basis"]
        if req.family == "flow":
            dist = ("open_lt_1d", "open_1d_3d", "open_3d_7d", "open_7d_14d", "open_ge_14d")
            hide = "open_prs" in why
            row["open_pr_age_distribution"] = None if hide else {c[5:]: r[c] for c in dist}
        out["rows"].append(row)
    return out


def _node(hidden: Hidden, unit: str, grain: str, period: str,
          source: str) -> tuple[str | None, str]:
    """The figure node a column's decision is kept under, and its decision source: the open pull
    requests of a period's last week end are that week's own figures."""
    if source == ids.PEOPLE_OPEN_END:
        week = hidden.last_week.get((grain, period))
        return (f"{unit}@week:{week}" if week else None), ids.PEOPLE_OPEN
    return f"{unit}@{grain}:{period}", source
