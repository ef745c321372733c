"""The guard: every door authorises, writes one access-log row per user action (refusals too),
applies the charter's audience and attaches the charter entries."""

from __future__ import annotations

import inspect

import pytest

from shipwise import app
from shipwise.app import (
    admin,
    ai,
    ask,
    catalog,
    delivery,
    humane,
    incidents,
    notify,
    org,
    oversight,
    people,
    prevention,
    reliability,
    topology,
    verdicts,
)
from shipwise.app.caller import Caller
from shipwise.app.metrics import DoraRequest
from shipwise.config import Settings
from shipwise.errors import ForbiddenError
from shipwise.governance.access import Principal
from shipwise.governance.charter import load_charter
from shipwise.metrics.registry import REGISTRY

from .conftest import caller_of, log_rows

DOORS = (admin, ai, ask, catalog, delivery, humane, incidents, notify, org, oversight, people,
         prevention, reliability, topology, verdicts)


def test_every_public_door_takes_a_caller_first_and_is_guarded() -> None:
    """A public function of a door module either is guarded or only composes guarded doors
    (named here), so no read can skip the check and the log."""
    composed = {"diagnostics", "whoami", "dora_table"}  # compose doors, or read no store
    composed |= {"deliver_pending"}  # the server's background delivery: the outbox only
    composed |= {"closed_because"}  # whether an investigation a page just read is still open
    shipped = {"charter_report", "charter_entry_of", "listing", "explanation", "charter_summary",
               "check_charter"}  # the registry and the charter shipped with shipwise
    for module in DOORS:
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ != module.__name__ or name.startswith("_"):
                continue
            params = list(inspect.signature(fn).parameters.values())
            if name in composed | shipped:
                continue
            assert params and params[0].annotation in ("Caller", Caller), f"{module.__name__}.{name}"
            assert getattr(fn, "__guarded__", None), f"{module.__name__}.{name} is not guarded"
    assert app.__name__ == "shipwise.app"


def new_rows(settings: Settings, before: int) -> list[dict[str, object]]:
    return log_rows(settings)[before:]


def test_one_row_per_action_allowed_or_refused(sample_settings: Settings) -> None:
    member = Principal("member", "payments", "tok-m", "pay-bot")
    before = len(log_rows(sample_settings))
    with caller_of(sample_settings, member) as c:
        assert delivery.dora(c, DoraRequest(grain="quarter")).rows  # own team by default
        with pytest.raises(ForbiddenError, match="cannot open team checkout"):
            delivery.dora(c, DoraRequest(grain="quarter", team=("checkout",)))
        with pytest.raises(ForbiddenError):
            admin.tokens(c)
    rows = new_rows(sample_settings, before)
    assert [(r["action"], r["subject"], r["allowed"]) for r in rows] == [
        ("team.diagnostic", "team:payments:dora", True),
        ("team.diagnostic", "team:checkout:dora", False),
        ("admin.tokens", "tokens", False),
    ]
    assert {r["interface"] for r in rows} == {"api"}


def test_the_local_administrator_is_logged_like_everyone_else(sample_settings: Settings) -> None:
    before = len(log_rows(sample_settings))
    with caller_of(sample_settings, interface="cli") as c:
        humane.diagnostics(c, "flow", ("payments", "search"), grain="month")
    rows = new_rows(sample_settings, before)
    assert len(rows) == 1  # several teams: one user action, one row
    assert rows[0]["role"] == "admin" and rows[0]["interface"] == "cli"
    assert rows[0]["subject"] == "team:payments:flow,team:search:flow"
    assert rows[0]["people_derived"] is True


def test_a_door_inside_a_door_writes_no_second_row(sample_settings: Settings) -> None:
    before = len(log_rows(sample_settings))
    with caller_of(sample_settings) as c:
        org.overview(c)  # reads DORA for counts, inside its own action
    assert [r["action"] for r in new_rows(sample_settings, before)] == ["org.overview"]


def test_a_refused_team_among_several_refuses_the_read_and_names_it(sample_settings: Settings) -> None:
    lead = Principal("lead", "search", "tok-l")
    before = len(log_rows(sample_settings))
    with caller_of(sample_settings, lead) as c, pytest.raises(ForbiddenError, match="payments"):
        reliability.slo(c, ("search", "payments"))
    assert [(r["subject"], r["allowed"]) for r in new_rows(sample_settings, before)] == [
        ("team:payments:slo", False)]


def test_the_charter_audience_withholds_figures_and_the_entries_come_along(
        sample_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    charter = load_charter()
    entries = dict(charter.entries)
    entries["dora.rework_rate"] = entries["dora.rework_rate"].model_copy(
        update={"audience": ["admin"]})
    narrowed = charter.model_copy(update={"entries": entries})
    monkeypatch.setattr("shipwise.governance.charter.load_charter", lambda: narrowed)
    lead = Principal("lead", "payments", "tok-l")
    with caller_of(sample_settings, lead) as c:
        res = delivery.dora(c, DoraRequest(grain="quarter"))
    assert res.rows
    for row in res.rows:
        assert row.metrics["dora.rework_rate"] is None
        assert "not for the lead role" in row.withheld["dora.rework_rate"]
        assert row.metrics["dora.change_fail_rate"] is not None or row.counts
    assert set(res.charter) >= {m.id for m in REGISTRY.values() if m.family == "dora"}
    assert res.charter["dora.change_fail_rate"]["definition"]


def test_whoami_needs_no_store_row(sample_settings: Settings) -> None:
    before = len(log_rows(sample_settings))
    with caller_of(sample_settings, Principal("exec", None, "tok-e", "cfo")) as c:
        me = org.whoami(c)
    assert me.role == "exec" and "org.cost" in me.may and "team.diagnostic" not in me.may
    assert new_rows(sample_settings, before) == []
