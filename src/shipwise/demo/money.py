"""Monthly costs and headcount per team, and the investments the story is about."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from shipwise.demo import story as st
from shipwise.demo.arrays import TS, _ln, _strings
from shipwise.demo.sim import Sim


def months(sim: Sim) -> tuple[list[str], np.ndarray, np.ndarray]:
    p = sim.plan
    labels, lo, hi = [], [], []
    m = st.add_months(p.start, 0)
    while (nxt := st.add_months(m, 1)) <= p.end + dt.timedelta(days=1):  # complete months only
        labels.append(f"{m.year:04d}-{m.month:02d}")
        lo.append((m - p.start).days)
        hi.append((nxt - p.start).days)
        m = nxt
    return labels, np.array(lo), np.array(hi)


def money(sim: Sim) -> tuple[pa.Table, pa.Table]:
    rng, o = sim.rng, sim.org
    labels, lo, hi = months(sim)
    n_teams, n_m = len(o.team_id), len(labels)

    def monthly(x: np.ndarray) -> np.ndarray:
        c = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(x, axis=1)], axis=1)
        return (c[:, hi] - c[:, lo]) / (hi - lo)

    fte = monthly(sim.fte)
    adopt, ai = monthly(sim.adopt), monthly(sim.ai)
    mig = monthly(sim.mig[None, :])[0]
    after = monthly(sim.plan.after_migration()[None, :])[0]
    year = np.array([int(x[:4]) for x in labels])
    raise_ = 1.03 ** (year - sim.plan.start.year)
    people = fte * o.loaded[:, None] * raise_[None, :] * _ln(rng, 1.0, 0.01, n_teams * n_m).reshape(n_teams, n_m)
    n_svc = len(o.svc_id)
    base = _ln(rng, 7_000.0, 0.7, n_svc)
    drift = (1 + 0.004 * np.arange(n_m)) * (1 + 0.25 * mig) * (1 - 0.07 * after)
    svc_cost = base[:, None] * drift[None, :] * _ln(rng, 1.0, 0.03, n_svc * n_m).reshape(n_svc, n_m)
    infra = np.add.reduceat(svc_cost, o.svc_lo, axis=0)
    tooling = (1_200 + fte * (260 + 160 * adopt + 39 * ai)) * _ln(rng, 1.0, 0.02, n_teams * n_m).reshape(n_teams, n_m)
    amounts = np.stack([people, infra, tooling], axis=2)  # team, month, category
    cats = ["people", "infrastructure", "tooling"]
    team_idx = np.repeat(np.arange(n_teams), n_m * 3)
    month_idx = np.tile(np.repeat(np.arange(n_m), 3), n_teams)
    cat_idx = np.tile(np.arange(3), n_teams * n_m)
    cost = pa.table({
        "team": _strings(o.team_id, team_idx),
        "month": _strings(labels, month_idx),
        "category": _strings(cats, cat_idx),
        "amount": pa.array(np.round(amounts.ravel(), 2)),
        "currency": pa.array(np.full(team_idx.shape[0], "USD")),
    })
    headcount = pa.table({
        "team": _strings(o.team_id, np.repeat(np.arange(n_teams), n_m)),
        "month": _strings(labels, np.tile(np.arange(n_m), n_teams)),
        "fte": pa.array(np.round(fte.ravel(), 3)),
    })
    return cost, headcount


def investments(sim: Sim) -> pa.Table:
    o, p = sim.org, sim.plan
    ids, names, teams, started, amounts, kinds = [], [], [], [], [], []
    t0 = dt.datetime.combine(p.start, dt.time(9), tzinfo=dt.UTC)
    for w, wd in enumerate(p.wave_days):
        members = [o.team_id[i] for i in np.flatnonzero(o.wave == w)]
        ids.append(f"inv-cicd-wave-{w + 1}")
        names.append(f"Delivery automation (CI/CD), wave {w + 1}")
        teams.append(members)
        started.append(t0 + dt.timedelta(days=wd))
        amounts.append(150_000.0 * len(members))
        kinds.append("ci-cd")
    lo, _ = p.quarter_bounds(p.migration_quarter)
    ids.append("inv-managed-platform")
    names.append("Platform migration to managed Kubernetes")
    teams.append(list(o.team_id))
    started.append(t0 + dt.timedelta(days=lo))
    amounts.append(1_200_000.0 * int(o.block.max() + 1))
    kinds.append("managed-services")
    ids.append("inv-ai-assistant")
    names.append("AI coding assistant")
    ai_teams = [o.team_id[i] for i in np.flatnonzero(o.ai)]
    teams.append(ai_teams)
    started.append(t0 + dt.timedelta(days=p.ai_day))
    amounts.append(60_000.0 * len(ai_teams))
    kinds.append("ai-tools")
    return pa.table({
        "id": pa.array(ids), "name": pa.array(names),
        "teams": pa.array(teams, pa.list_(pa.string())),
        "started_at": pa.array(started, TS), "amount": pa.array(amounts),
        "currency": pa.array(["USD"] * len(ids)), "kind": pa.array(kinds),
    })
