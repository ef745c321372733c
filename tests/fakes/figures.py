"""The figures an equivalence check compares: DORA per service and per team, and each team's flow,
at the grains given — what a user would read, through the application layer as the store's owner."""

from __future__ import annotations

from typing import Any

from shipwise.app import humane
from shipwise.app.caller import local_caller
from shipwise.app.metrics import DoraRequest
from shipwise.app.owner import dora
from shipwise.app.results import dump
from shipwise.config import Settings


def figures(settings: Settings, grains: tuple[str, ...] = ("week", "month")) -> dict[str, Any]:
    """``dora-<by>-<grain>`` and ``flow-<grain>`` rows of every team in the store."""
    out: dict[str, Any] = {}
    with local_caller(settings) as c:
        teams = tuple(str(r[0]) for r in c.store.con.execute(
            "SELECT id FROM team ORDER BY id").fetchall())
    for grain in grains:
        for by in ("service", "team"):
            out[f"dora-{by}-{grain}"] = dora(settings, DoraRequest(grain=grain, by=by))["rows"]
        with local_caller(settings) as c:
            out[f"flow-{grain}"] = dump(humane.team_diagnostics(c, "flow", teams,
                                                                grain=grain))["rows"]
    return out
