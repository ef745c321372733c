"""Strain's on-call hours from the rota (``oncall_shift``), in the team's local time, against
hand-computed figures: a weekend shift across the night summer time ends in Berlin (a 25-hour
Sunday, a 9-hour night), a working-day shift, the pages fallback of a team without a rota, an
org unit mixing both, suppression of small groups, and an incremental refresh after a shift
changed."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from shipwise.app import diagnostics
from shipwise.app.context import open_store, pseudonymiser_for
from shipwise.app.ingest import import_tables_into
from shipwise.app.owner import import_paths
from shipwise.config import Settings
from shipwise.metrics import facts, ids
from shipwise.metrics.people import people_counts
from shipwise.metrics.strain import Hours, StrainQuery, strain_sql
from shipwise.store.duckdb_store import Store
from tests.conftest import write_jsonl

W43 = (date(2025, 10, 20), date(2025, 10, 26))  # Monday .. Sunday (clocks go back on Sunday)
W44 = (date(2025, 10, 27), date(2025, 11, 2))
OUT = "strain.out_of_hours_oncall_hours"
SLEEP = "strain.sleep_hour_oncall_hours"


def _org() -> list[dict[str, Any]]:
    recs: list[dict[str, Any]] = [{"type": "org_unit", "id": "eng", "name": "Engineering"}]
    for team, tz in (("payments", "Europe/Berlin"), ("web", "UTC"), ("ops", "UTC")):
        recs.append({"type": "team", "id": team, "name": team.title(), "org_unit": "eng",
                     "delivery_unit": "deployments", "attributes": {"timezone": tz}})
    return recs


def _shift(i: str, person: str, starts: str, ends: str) -> dict[str, Any]:
    return {"type": "oncall_shift", "id": f"pd:S1:{i}", "team": "payments",
            "person": f"{person}@example.com", "starts_at": starts, "ends_at": ends,
            "schedule": "S1"}


def _page(i: int, team: str, person: str, at: str) -> dict[str, Any]:
    return {"type": "page", "id": f"pg{i}", "team": team, "person": f"{person}@example.com",
            "at": at, "urgency": "high"}


RECORDS: list[dict[str, Any]] = [
    *_org(),
    # Fri 24 Oct 18:00 CEST -> Mon 27 Oct 08:00 CET: 63 real hours
    #   Fri 18:00-24:00   6 h after hours, 1 h sleep (23-24)
    #   Sat 00:00-24:00  24 h weekend,     8 h sleep (00-07, 23-24)
    #   Sun 00:00-24:00  25 h weekend (03:00 CEST -> 02:00 CET), 9 h sleep (00-07 is 8 real h)
    #   Mon 00:00-08:00   8 h after hours, 7 h sleep
    _shift("a", "anna", "2025-10-24T16:00:00Z", "2025-10-27T07:00:00Z"),
    # Mon 27 Oct 08:00-20:00 CET: 9 h working hours, 3 h after hours (08-09, 18-20)
    _shift("b", "ben", "2025-10-27T07:00:00Z", "2025-10-27T19:00:00Z"),
    # a page to payments out of hours: its rota, not its pages, gives the on-call hours
    _page(1, "payments", "anna", "2025-10-27T20:00:00Z"),
    # web has no rota: (responder, hour) pairs with a page of the kind
    _page(2, "web", "w1", "2025-10-28T20:10:00Z"),  # Tue 20h: after hours
    _page(3, "web", "w1", "2025-10-28T20:50:00Z"),  # same person, same hour: counted once
    _page(4, "web", "w2", "2025-10-28T20:30:00Z"),  # another person: one more hour
    _page(5, "web", "w1", "2025-11-01T03:00:00Z"),  # Sat 03h: weekend and sleep
    _page(6, "web", "w2", "2025-10-28T12:00:00Z"),  # working hours: nothing
    _page(7, "web", "w3", "2025-10-28T13:00:00Z"),  # working hours: nothing
    _page(8, "payments", "cora", "2025-10-28T13:00:00Z"),  # working hours: nothing
]


@pytest.fixture
def rota(settings: Settings, tmp_path: Path) -> Settings:
    rep = import_paths(settings, [write_jsonl(tmp_path / "r.jsonl", RECORDS)])
    assert rep.quarantined == 0, rep.reasons
    return settings


def _rows(store: Store, level: str, period: tuple[date, date],
          hours: Hours | None = None) -> dict[str, dict[str, Any]]:
    cur = store.con.execute(*strain_sql(StrainQuery("week", level, *period, hours or Hours())))
    cols = [d[0] for d in cur.description or []]
    return {r[0]: dict(zip(cols, r, strict=True)) for r in cur.fetchall()}


def test_rota_hours_in_local_time_across_the_clock_change(rota: Settings) -> None:
    with open_store(rota, read_only=True) as store:
        w43, w44 = _rows(store, "team", W43), _rows(store, "team", W44)
    p = w43["payments"]
    assert p["oncall_basis"] == "rota"
    assert p["oncall_hours"] == pytest.approx(6 + 24 + 25)
    assert p["after_hours_oncall_hours"] == pytest.approx(6)
    assert p["weekend_oncall_hours"] == pytest.approx(24 + 25)
    assert p["sleep_oncall_hours"] == pytest.approx(1 + 8 + 9)
    assert p[OUT] == pytest.approx(55) and p[SLEEP] == pytest.approx(18)
    p = w44["payments"]
    assert p["oncall_hours"] == pytest.approx(8 + 12)
    assert p["after_hours_oncall_hours"] == pytest.approx(8 + 3)
    assert p["weekend_oncall_hours"] == 0
    assert p["sleep_oncall_hours"] == pytest.approx(7)
    assert (p["pages"], p["after_hours_pages"]) == (2, 1)  # pages are still pages
    assert p[OUT] == pytest.approx(11) and p[SLEEP] == pytest.approx(7)


def test_team_hours_and_sleep_window_move_the_split(rota: Settings) -> None:
    late = Hours(work_start=7 * 60, work_end=20 * 60, sleep_start=0, sleep_end=6 * 60)
    with open_store(rota, read_only=True) as store:
        p = _rows(store, "team", W44, late)["payments"]
    # Mon 00:00-08:00: 7 h after hours (00-07) and 6 h asleep; 08:00-20:00 all working hours
    assert p["after_hours_oncall_hours"] == pytest.approx(7)
    assert p["sleep_oncall_hours"] == pytest.approx(6)


def test_without_a_rota_pages_give_the_hours_and_org_units_mix(rota: Settings) -> None:
    with open_store(rota, read_only=True) as store:
        teams, units = _rows(store, "team", W44), _rows(store, "org_unit", W44)
        w43 = _rows(store, "org_unit", W43)
    web = teams["web"]
    assert web["oncall_basis"] == "pages" and web["oncall_hours"] is None
    assert (web["after_hours_oncall_hours"], web["weekend_oncall_hours"],
            web["sleep_oncall_hours"]) == (2, 1, 1)
    assert web[OUT] == 3 and web[SLEEP] == 1
    ops = teams["ops"]  # neither rota nor pages: no figure, not zero
    assert ops["oncall_basis"] is None and ops[OUT] is None and ops[SLEEP] is None
    eng = units["eng"]
    assert eng["oncall_basis"] == "mixed"
    assert eng[OUT] == pytest.approx(11 + 3) and eng[SLEEP] == pytest.approx(7 + 1)
    assert eng["oncall_hours"] == pytest.approx(20)
    assert w43["eng"]["oncall_basis"] == "rota"


def test_small_groups_are_suppressed_through_the_oncall_people(rota: Settings) -> None:
    with open_store(rota) as store:
        facts.ensure_fresh(store)
        oncall = people_counts(store.con, ids.PEOPLE_ONCALL, "week", "team", *W44)
        paged = people_counts(store.con, ids.PEOPLE_RESPONDERS, "week", "team", *W44)
        req = diagnostics.DiagnosticRequest("strain", "week", "team", ("payments",), *W44)
        row = diagnostics.diagnostic_rows(store, req, min_group_size=4)["rows"][0]
    # anna and ben were on call (anna was also paged), cora was paged: three people, where the
    # pages alone name two
    assert oncall[("payments", "2025-W44")] == 3 and paged[("payments", "2025-W44")] == 2
    assert row["suppressed"][OUT] == "fewer than 4 people" and row["metrics"][OUT] is None
    assert row["suppressed"]["oncall_hours"] == "fewer than 4 people"
    assert row["counts"]["oncall_hours"] is None and row["oncall_basis"] == "rota"


def test_a_changed_shift_is_recomputed_incrementally(rota: Settings, tmp_path: Path) -> None:
    with open_store(rota) as store:
        facts.ensure_fresh(store)
    # ben's shift now ends at 22:00 CET (2 h more after hours), and a new one on Saturday
    changed = [_shift("b", "ben", "2025-10-27T07:00:00Z", "2025-10-27T21:00:00Z"),
               _shift("c", "carl", "2025-11-01T08:00:00Z", "2025-11-01T10:00:00Z")]
    table = pa.Table.from_pylist([{k: v for k, v in r.items() if k != "type"} for r in changed])
    with open_store(rota) as store:
        import_tables_into(store, pseudonymiser_for(store, rota), {"oncall_shift": table},
                           "test", refresh=False)
        assert facts.is_stale(store)
        timings = facts.refresh(store, incremental=True)
        assert timings["incremental"] == 1.0
        p = _rows(store, "team", W44)["payments"]
        assert p["after_hours_oncall_hours"] == pytest.approx(8 + 3 + 2)
        assert p["weekend_oncall_hours"] == pytest.approx(2)
        assert p[OUT] == pytest.approx(15)
        incremental_rows = sorted(store.con.execute(
            "SELECT * FROM strain_oncall_fact").fetchall(), key=repr)
        facts.refresh(store)  # a full rebuild gives the same rows
        assert sorted(store.con.execute("SELECT * FROM strain_oncall_fact").fetchall(),
                      key=repr) == incremental_rows
        assert len(incremental_rows) == 3


def test_retention_deletes_old_shifts_and_keeps_their_hours(rota: Settings,
                                                            tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from shipwise.governance.charter import load_charter
    from shipwise.governance.retention import cutoffs, run

    assert load_charter().retention["oncall_shift"].days == 365
    as_of = datetime(2026, 10, 27, tzinfo=UTC)  # 365 days: before 2025-10-27 00:00
    with open_store(rota) as store:
        facts.ensure_fresh(store)
        before = (_rows(store, "team", W43), _rows(store, "team", W44))
        rep = run(store, cutoffs(load_charter(), {}, as_of))
        removed = {r["record_type"]: r["rows"] for r in rep["records"]}
        assert removed["oncall_shift"] == 1  # anna's weekend shift; ben's starts after the cut
        assert store.con.execute("SELECT count(*) FROM oncall_shift").fetchone() == (1,)
        old = store.con.execute("SELECT person FROM strain_oncall_fact "
                                "WHERE starts_at < TIMESTAMP '2025-10-27'").fetchall()
        assert len(old) == 1 and str(old[0][0]).startswith("gone:")  # kept, linked to no one
        assert (_rows(store, "team", W43), _rows(store, "team", W44)) == before
    # re-importing the same file brings nothing back
    import_paths(rota, [write_jsonl(tmp_path / "again.jsonl", RECORDS)])
    with open_store(rota) as store:
        assert store.con.execute("SELECT count(*) FROM oncall_shift").fetchone() == (1,)
        assert (_rows(store, "team", W43), _rows(store, "team", W44)) == before
