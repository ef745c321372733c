"""Run the differencing attacker (:mod:`tests.governance.adversary`) against a store, as a
principal: through the application layer (what every interface returns) or over HTTP."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from shipwise.app import diagnostics as diag
from shipwise.app.caller import Caller
from shipwise.app.humane import org_diagnostics, team_diagnostics
from shipwise.app.results import dump
from shipwise.config import Settings
from shipwise.governance.access import Principal
from shipwise.metrics.strain import Hours
from shipwise.store.duckdb_store import Store
from tests.governance.adversary import Attack, Fetch, Figure, attack, figures

GRAINS = ("week", "month", "quarter")
FAMILIES = ("flow", "strain")


def teams_of(store: Store) -> dict[tuple[str, str], list[str]]:
    """(level, entity) -> the teams its figures add up: the public org hierarchy."""
    parent = dict(store.con.execute("SELECT id, parent FROM org_unit").fetchall())
    out: dict[tuple[str, str], list[str]] = {}
    for team, ou in store.con.execute("SELECT id, org_unit FROM team").fetchall():
        out[("team", team)] = [team]
        while ou:
            out.setdefault(("org_unit", ou), []).append(team)
            ou = parent.get(ou)
    return out


def reads(principal: Principal, store: Store) -> list[tuple[str, str, str]]:
    """Every (family, level, grain) the principal may read (teams are fetched one by one)."""
    levels = {"member": ["team"], "lead": ["team"], "exec": ["org_unit"],
              "admin": ["team", "org_unit"]}[principal.role]
    return [(f, lvl, g) for f in FAMILIES for lvl in levels for g in GRAINS]


def app_fetch(store: Store, principal: Principal) -> Fetch:
    """Rows as the application layer hands them to every interface."""
    teams = [r[0] for r in store.con.execute("SELECT id FROM team ORDER BY id").fetchall()]
    caller = Caller(store, principal, Settings(db=store.path), "api")  # default k and hours

    def fetch(family: str, level: str, grain: str) -> list[dict[str, Any]]:
        if level == "org_unit":
            return list(dump(org_diagnostics(caller, family, grain=grain))["rows"])
        mine = [principal.team] if principal.role in ("member", "lead") else teams
        rows: list[dict[str, Any]] = []
        for t in mine:  # one team per read, as an interface would ask
            rows += dump(team_diagnostics(caller, family, (str(t),), grain=grain))["rows"]
        return rows

    return fetch


def http_fetch(client: Any, store: Store, principal: Principal) -> Fetch:
    """Rows over the REST API (``client``: an httpx client with the principal's token)."""
    teams = [r[0] for r in store.con.execute("SELECT id FROM team ORDER BY id").fetchall()]

    def fetch(family: str, level: str, grain: str) -> list[dict[str, Any]]:
        if level == "org_unit":
            r = client.get(f"/api/v1/org/{family}", params={"grain": grain})
            r.raise_for_status()
            return list(r.json()["rows"])
        mine = [principal.team] if principal.role in ("member", "lead") else teams
        rows: list[dict[str, Any]] = []
        for t in mine:
            r = client.get(f"/api/v1/teams/{t}/{family}", params={"grain": grain})
            r.raise_for_status()
            rows += r.json()["rows"]
        return rows

    return fetch


def truth(store: Store, hours: Hours | None = None) -> Callable[[Figure], float]:
    """The unsuppressed value of any figure (only to check what the attacker worked out)."""
    cache: dict[tuple[str, str, str], dict[tuple[str, str], dict[str, Any]]] = {}

    def value(f: Figure) -> float:
        key = (f.family, f.level, f.grain)
        if key not in cache:
            rows = diag._compute(store, f.family, f.grain, f.level, date(2000, 1, 1),
                                 date(2040, 12, 31), hours or Hours())
            cache[key] = {(str(r["entity"]), str(r["period"])): r for r in rows}
        return float(cache[key][(f.entity, f.period)][f.column] or 0)

    return value


def run(store: Store, principal: Principal, fetch: Fetch | None = None) -> Attack:
    fetch = fetch or app_fetch(store, principal)
    figs = figures(fetch, reads(principal, store))
    return attack(figs, teams_of(store), truth(store))


def random_org(rnd: random.Random) -> list[dict[str, Any]]:
    """Org units (sometimes nested, sometimes with teams of their own), teams of 1–9 people,
    pull requests and pages over three to seven months starting on a random day."""
    recs: list[dict[str, Any]] = [{"type": "org_unit", "id": "org", "name": "Org"}]
    units = ["org"]
    for u in range(rnd.randint(1, 3)):
        recs.append({"type": "org_unit", "id": f"u{u}", "name": f"U{u}",
                     "parent": rnd.choice(units)})
        units.append(f"u{u}")
    start = datetime(2024, 1, 1) + timedelta(days=rnd.randint(0, 400))
    span = rnd.randint(90, 210)
    n = 0
    for t in range(rnd.randint(2, 6)):
        team, repo = f"t{t}", f"r{t}"
        recs.append({"type": "team", "id": team, "name": team, "org_unit": rnd.choice(units),
                     "delivery_unit": "deployments"})
        recs.append({"type": "service", "id": repo, "name": repo, "team": team})
        people = [f"p{t}_{i}@example.com" for i in range(rnd.choice([1, 2, 3, 4, 5, 6, 9]))]
        for p in people:
            recs.append({"type": "person", "id": p, "team": team, "since": "2023-01-01"})
        for _ in range(rnd.randint(5, 25) * len(people)):
            n += 1
            created = start + timedelta(hours=rnd.uniform(0, span * 24))
            review = created + timedelta(hours=rnd.expovariate(1 / 30))
            merged = review + timedelta(hours=rnd.expovariate(1 / 40))
            done = rnd.random() < 0.9
            recs.append({"type": "pull_request", "id": f"pr{n}", "repo": rnd.choice(
                [repo] * 5 + [f"r{rnd.randint(0, t)}"]), "number": n, "author": rnd.choice(people),
                "created_at": created.isoformat() + "Z",
                "first_review_at": review.isoformat() + "Z" if rnd.random() < 0.9 else None,
                "merged_at": merged.isoformat() + "Z" if done else None,
                "closed_at": merged.isoformat() + "Z" if done else None, "commits": []})
        for _ in range(rnd.randint(0, 8) * len(people)):
            n += 1
            at = start + timedelta(hours=rnd.uniform(0, span * 24))
            recs.append({"type": "page", "id": f"pg{n}", "team": team, "at": at.isoformat() + "Z",
                         "person": rnd.choice(people), "urgency": "high"})
    return recs
