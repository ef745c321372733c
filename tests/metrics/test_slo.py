"""SLOs and error budgets on hand-built SLI series whose answers are worked out by hand.

Every instant is fixed (the status instant defaults to the latest SLI interval end in the store),
so nothing here depends on the wall clock.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from shipwise.app.caller import Caller
from shipwise.app.context import open_store
from shipwise.app.owner import import_paths
from shipwise.app.reliability import slo as slo_door
from shipwise.app.results import dump
from shipwise.app.slo import release_appetite, slo_rows
from shipwise.config import Settings, SloSettings
from shipwise.errors import ForbiddenError, InputError, NotFoundError
from shipwise.governance.access import LOCAL_ADMIN, Principal
from tests.conftest import org, write_jsonl

END = datetime(2025, 7, 8)  # the last interval of every series ends here
SLO = SloSettings.model_validate({})  # the SRE Workbook pairs, reduced below 25 %
FIVE_MIN = timedelta(minutes=5)
SIX_H = timedelta(hours=6)


def z(t: datetime) -> str:
    return t.isoformat() + "Z"


def slo(id: str, service: str, objective: float = 0.999, window_days: int = 7) -> dict[str, Any]:
    return {"type": "slo", "id": id, "service": service, "objective": objective,
            "window_days": window_days}


def series(slo_id: str, step: timedelta, n: int, total: int, bad: int,
           hot: dict[int, int] | None = None, end: datetime = END) -> list[dict[str, Any]]:
    """``n`` intervals of length ``step`` ending at ``end``; ``hot`` maps the k-th interval from
    the end (0 = the last) to its bad count instead of ``bad``."""
    hot = hot or {}
    return [{"type": "sli", "slo": slo_id, "at": z(end - k * step), "total": total,
             "good": total - hot.get(k, bad)} for k in range(n)]


def load(settings: Settings, tmp_path: Path, records: list[dict[str, Any]]) -> Settings:
    rep = import_paths(settings, [write_jsonl(tmp_path / "slo.jsonl", records)])
    assert rep.quarantined == 0
    return settings


def status(settings: Settings, team: str | None = None, **kw: Any) -> dict[str, Any]:
    with open_store(settings) as store:
        return slo_rows(store, SLO, team=team, **kw)


def one(res: dict[str, Any], slo_id: str) -> dict[str, Any]:
    (row,) = [r for r in res["status"] if r["slo"] == slo_id]
    return row


TEAMS = org([("checkout", "checkout-api"), ("search", "search-api"), ("docs", "docs-site")])
WEEK_5M = 7 * 24 * 12  # 2016 five-minute intervals in the 7-day window


def test_steady_errors_burn_half_the_budget_rate(settings: Settings, tmp_path: Path) -> None:
    # 1 bad in 2000 = 0.05 % errors on a 99.9 % SLO: burn 0.0005 / 0.001 = 0.5 in every window
    load(settings, tmp_path, [*TEAMS, slo("slo-checkout", "checkout-api"),
                              *series("slo-checkout", FIVE_MIN, WEEK_5M, 2000, 1)])
    res = status(settings, "checkout")
    assert res["at"] == "2025-07-08T00:00:00Z"
    assert res["windows"] == ["5m", "30m", "1h", "6h", "3d"]
    s = one(res, "slo-checkout")
    assert s["window_start"] == "2025-07-01T00:00:00Z"
    assert (s["good"], s["total"]) == (WEEK_5M * 1999, WEEK_5M * 2000)
    assert s["resolution_seconds"] == 300
    assert s["metrics"]["slo.attainment"] == pytest.approx(0.9995)
    assert s["metrics"]["slo.error_budget_remaining"] == pytest.approx(0.5)
    assert s["budget_consumed"] == pytest.approx(0.5)
    for window, burn in s["metrics"]["slo.burn_rate"].items():
        assert burn == pytest.approx(0.5), window
    assert all(b["reason"] is None for b in s["burn"])
    assert [a["firing"] for a in s["alerts"]] == [False, False, False]
    assert s["alert_state"] == "ok"
    app = res["appetite"]["checkout"]
    assert app["appetite"] == "full" == s["metrics"]["slo.release_appetite"]
    assert app["reasons"] == []
    assert "full release appetite" in app["sentence"]



def test_an_hour_at_2_percent_errors_pages(settings: Settings, tmp_path: Path) -> None:
    # the last 12 five-minute intervals at 40 bad in 2000 (2 %): burn 0.02 / 0.001 = 20 over both
    # 5 min and 1 h, above 14.4 -> the first Workbook pair pages. 6 h: (12·40 + 60·1) / 144 000 =
    # 0.375 % -> 3.75 (< 6); 3 days: (480 + 852) / 1 728 000 -> 0.77 (< 1).
    hour = dict.fromkeys(range(12), 40)
    load(settings, tmp_path, [*TEAMS, slo("slo-checkout", "checkout-api"),
                              *series("slo-checkout", FIVE_MIN, WEEK_5M, 2000, 1, hot=hour)])
    s = one(status(settings, "checkout"), "slo-checkout")
    burn = s["metrics"]["slo.burn_rate"]
    assert burn["5m"] == pytest.approx(20) and burn["1h"] == pytest.approx(20)
    assert burn["6h"] == pytest.approx(3.75) and burn["3d"] == pytest.approx(1332 / 1728)
    assert [a["firing"] for a in s["alerts"]] == [True, False, False]
    assert s["alert_state"] == "page"
    # budget: (480 + 2004) bad of 4032 allowed -> 38 % left, yet a page means fixes only
    assert s["metrics"]["slo.error_budget_remaining"] == pytest.approx(1 - 2484 / 4032)
    app = status(settings, "checkout")["appetite"]["checkout"]
    assert app["appetite"] == "fixes only"
    assert [(r["slo"], r["cause"]) for r in app["reasons"]] == [("slo-checkout", "page alert firing")]
    assert app["sentence"] == (
        "Checkout is shipping fixes only: slo-checkout is burning its error budget 20.0× faster "
        "than the SLO allows (page alert over 1 h and 5 min). Slower releases now protect users; "
        "this is the error-budget policy working, not a drop in productivity.")


def test_a_ten_minute_spike_alone_does_not_page(settings: Settings, tmp_path: Path) -> None:
    # 2 % errors over the last 10 minutes only: the 5 min window burns 20× (> 14.4) but the hour
    # burns (2·40 + 10·1) / 24 000 = 0.375 % -> 3.75×: the long window keeps the page quiet.
    load(settings, tmp_path, [*TEAMS, slo("slo-checkout", "checkout-api"),
                              *series("slo-checkout", FIVE_MIN, WEEK_5M, 2000, 1,
                                      hot={0: 40, 1: 40})])
    res = status(settings, "checkout")
    s = one(res, "slo-checkout")
    page = s["alerts"][0]
    assert page["short_burn"] == pytest.approx(20) and page["long_burn"] == pytest.approx(3.75)
    assert page["firing"] is False and page["evaluable"] is True
    assert s["alert_state"] == "ok"
    assert res["appetite"]["checkout"]["appetite"] == "full"  # 1 − 2094 / 4032 = 48 % left


def test_six_hour_data_cannot_say_what_happened_in_five_minutes(
        settings: Settings, tmp_path: Path) -> None:
    # 28 days of 6-hour intervals (112), 5 bad in 10 000 on 99.9 %: burn 0.5 where measurable
    load(settings, tmp_path, [*TEAMS, slo("slo-search", "search-api", window_days=28),
                              *series("slo-search", SIX_H, 112, 10_000, 5)])
    s = one(status(settings, "search"), "slo-search")
    assert s["resolution_seconds"] == 6 * 3600
    burn = {b["window"]: b for b in s["burn"]}
    for w in ("5m", "30m", "1h"):
        assert burn[w]["burn_rate"] is None
        assert burn[w]["reason"] == "data coarser than window"
    assert burn["6h"]["burn_rate"] == pytest.approx(0.5) and burn["6h"]["total"] == 10_000
    assert burn["3d"]["burn_rate"] == pytest.approx(0.5) and burn["3d"]["total"] == 120_000
    page1, page2, ticket = s["alerts"]
    assert (page1["evaluable"], page1["firing"]) == (False, None)  # neither window measurable
    assert (page2["evaluable"], page2["firing"]) == (False, False)  # 6 h at 0.5 cannot exceed 6
    assert (ticket["evaluable"], ticket["firing"]) == (True, False)  # the 3-day pair works
    assert s["alert_state"] == "unknown"
    assert s["metrics"]["slo.release_appetite"] == "full"


def test_a_ticket_at_six_hour_resolution_reduces_appetite(settings: Settings,
                                                          tmp_path: Path) -> None:
    # the last 3 days (12 intervals) at 20 bad in 10 000: burn 2 over 3 days and 6 h -> ticket.
    # Budget: (12·20 + 100·5) = 740 bad of 1 120 allowed -> 34 % left, but the ticket reduces.
    three_days = dict.fromkeys(range(12), 20)
    load(settings, tmp_path, [*TEAMS, slo("slo-search", "search-api", window_days=28),
                              *series("slo-search", SIX_H, 112, 10_000, 5, hot=three_days)])
    res = status(settings, "search")
    s = one(res, "slo-search")
    assert s["alerts"][2]["long_burn"] == pytest.approx(2) and s["alerts"][2]["firing"] is True
    assert s["alert_state"] == "ticket"  # something fires: not unknown
    assert s["metrics"]["slo.error_budget_remaining"] == pytest.approx(1 - 740 / 1120)
    app = res["appetite"]["search"]
    assert app["appetite"] == "reduced"
    assert "ticket alert over 3 days and 6 h" in app["sentence"]


def _budget_case(settings: Settings, tmp_path: Path, burst: int) -> dict[str, Any]:
    # 99 % over 28 days of 6-hour intervals of 1 000: 1 120 bad events allowed. Two bursts of
    # ``burst`` bad ten days ago; nothing else goes wrong, so no alert fires.
    load(settings, tmp_path, [
        *TEAMS, slo("slo-checkout", "checkout-api"),
        *series("slo-checkout", FIVE_MIN, WEEK_5M, 2000, 1),
        slo("slo-search", "search-api", objective=0.99, window_days=28),
        *series("slo-search", SIX_H, 112, 1000, 0, hot={40: burst, 41: burst})])
    with open_store(settings) as store:
        return release_appetite(store, SLO)


def test_a_spent_budget_means_fixes_only(settings: Settings, tmp_path: Path) -> None:
    apps = _budget_case(settings, tmp_path, 700)  # 1 400 bad of 1 120 -> −25 %
    assert set(apps) == {"checkout", "search", "docs"}
    search = apps["search"]
    assert search["appetite"] == "fixes only"
    (reason,) = search["reasons"]
    assert reason["cause"] == "budget spent"
    assert reason["budget_remaining"] == pytest.approx(-0.25)
    assert search["sentence"] == (
        "Search is shipping fixes only: the error budget of slo-search is spent (−25 %). "
        "Slower releases now protect users; this is the error-budget policy working, not a drop "
        "in productivity.")
    assert apps["checkout"]["appetite"] == "full"
    assert apps["docs"]["appetite"] is None and apps["docs"]["reason"] == "no SLO"
    assert apps["search"]["at"] == "2025-07-08T00:00:00Z"


def test_a_low_budget_reduces_appetite(settings: Settings, tmp_path: Path) -> None:
    search = _budget_case(settings, tmp_path, 450)["search"]  # 900 of 1 120 -> 19.6 % left
    assert search["appetite"] == "reduced"
    assert search["reasons"][0]["budget_remaining"] == pytest.approx(1 - 900 / 1120)
    assert "is down to 20 % (below 25 %)" in search["sentence"]


def test_status_at_an_earlier_instant(settings: Settings, tmp_path: Path) -> None:
    load(settings, tmp_path, [*TEAMS, slo("slo-checkout", "checkout-api"),
                              *series("slo-checkout", FIVE_MIN, WEEK_5M, 2000, 1,
                                      hot={0: 40, 1: 40})])
    # a day earlier (given with an offset): the spike is in the future; the window holds the
    # 6 days of data that exist, 1 728 intervals
    res = status(settings, "checkout", at="2025-07-07T02:00:00+02:00")
    assert res["at"] == "2025-07-07T00:00:00Z"
    s = one(res, "slo-checkout")
    assert s["total"] == (WEEK_5M - 288) * 2000
    assert s["metrics"]["slo.burn_rate"]["5m"] == pytest.approx(0.5)
    # before any data: nothing to measure, no appetite
    res = status(settings, "checkout", at="2025-06-01T00:00:00Z")
    s = one(res, "slo-checkout")
    assert s["total"] == 0 and s["metrics"]["slo.attainment"] is None
    assert s["alert_state"] == "unknown"
    assert res["appetite"]["checkout"]["appetite"] is None
    assert "no events" in res["appetite"]["checkout"]["reason"]


HISTORY_END = datetime(2025, 8, 31, 12)


def test_history_per_month(settings: Settings, tmp_path: Path) -> None:
    # daily intervals ending at noon, 1 Jul – 31 Aug, 1 000 events each; 10 bad on 15 Jul, 50 on
    # 15 Aug; and a 100-event interval ending at midnight 1 Aug, which counts in August.
    load(settings, tmp_path, [
        *TEAMS, slo("slo-docs", "docs-site", window_days=30),
        *series("slo-docs", timedelta(days=1), 62, 1000, 0, hot={47: 10, 16: 50},
                end=HISTORY_END),
        {"type": "sli", "slo": "slo-docs", "at": "2025-08-01T00:00:00Z", "good": 100,
         "total": 100}])
    with open_store(settings) as store:
        hist = slo_rows(store, SLO, team="docs", grain="month")["history"]
        assert (hist["since"], hist["until"]) == ("2025-07-01", "2025-08-31")
        july, aug = hist["rows"]
        assert (july["period"], july["good"], july["total"]) == ("2025-07", 30_990, 31_000)
        assert july["metrics"]["slo.attainment"] == pytest.approx(30_990 / 31_000)  # 99.968 %
        assert july["met"] is True
        assert july["budget_consumed"] == pytest.approx(10 / 31)  # 10 of 31 allowed
        assert (aug["period"], aug["good"], aug["total"]) == ("2025-08", 31_050, 31_100)
        assert aug["met"] is False  # 99.839 % < 99.9 %
        assert aug["budget_consumed"] == pytest.approx(50 / 31.1)
        assert aug["metrics"]["slo.error_budget_remaining"] == pytest.approx(1 - 50 / 31.1)
        (q3,) = slo_rows(store, SLO, team="docs", grain="quarter")["history"]["rows"]
        assert (q3["period"], q3["total"], q3["met"]) == ("2025-Q3", 62_100, True)
        only = slo_rows(store, SLO, team="docs", since="2025-08-01", until="2025-08-10")
        (part,) = only["history"]["rows"]  # 1 Aug midnight + 1–10 Aug at noon
        assert (part["period"], part["total"]) == ("2025-08", 10_100)
        assert slo_rows(store, SLO, team="checkout")["history"]["rows"] == []


def test_bad_requests(settings: Settings, tmp_path: Path) -> None:
    load(settings, tmp_path, [*TEAMS])
    with open_store(settings) as store:
        with pytest.raises(NotFoundError, match="unknown team 'nope'"):
            slo_rows(store, SLO, team="nope")
        with pytest.raises(InputError, match="grain"):
            slo_rows(store, SLO, grain="year")
        with pytest.raises(InputError, match="instant"):
            slo_rows(store, SLO, at="yesterday")
        with pytest.raises(InputError, match="after"):
            slo_rows(store, SLO, since="2025-08-01", until="2025-07-01")
        empty = slo_rows(store, SLO)
        assert empty["at"] is None and empty["status"] == []
        assert empty["appetite"]["checkout"]["reason"] == "no SLO"


def test_another_team_is_refused_and_the_refusal_logged(settings: Settings,
                                                        tmp_path: Path) -> None:
    load(settings, tmp_path, [*TEAMS, slo("slo-checkout", "checkout-api"),
                              *series("slo-checkout", FIVE_MIN, 12, 2000, 1)])
    searcher = Principal("member", "search", "tok-search", "a searcher")
    with open_store(settings) as store:
        def as_(p: Principal) -> Caller:
            return Caller(store, p, settings, "api")

        with pytest.raises(ForbiddenError, match="cannot open team checkout"):
            slo_door(as_(searcher), ("checkout",))
        own = dump(slo_door(as_(Principal("lead", "checkout", "tok-co")), ("checkout",),
                            history=False))
        assert [s["slo"] for s in own["status"]] == ["slo-checkout"]
        assert set(own["appetite"]) == {"checkout"}
        with pytest.raises(NotFoundError):
            slo_door(as_(LOCAL_ADMIN), ("nope",))
        log = store.query("SELECT token_id, role, interface, action, subject, allowed "
                          "FROM access_log WHERE action <> 'admin.ingest' ORDER BY read_at")
    assert log == [
        {"token_id": "tok-search", "role": "member", "interface": "api",
         "action": "team.diagnostic", "subject": "team:checkout:slo", "allowed": False},
        {"token_id": "tok-co", "role": "lead", "interface": "api",
         "action": "team.diagnostic", "subject": "team:checkout:slo", "allowed": True},
        {"token_id": None, "role": "admin", "interface": "api",
         "action": "team.diagnostic", "subject": "team:nope:slo", "allowed": True},
    ]


def test_several_teams_in_one_read(settings: Settings, tmp_path: Path) -> None:
    _budget_case(settings, tmp_path, 700)
    searcher = Principal("member", "search", "tok-search")
    with open_store(settings) as store:
        both = dump(slo_door(Caller(store, LOCAL_ADMIN, settings), ("checkout", "search"),
                             history=False))
        assert both["team"] == ["checkout", "search"]
        assert [s["slo"] for s in both["status"]] == ["slo-checkout", "slo-search"]
        assert set(both["appetite"]) == {"checkout", "search"}
        with pytest.raises(ForbiddenError):  # one team they may not open refuses the whole read
            slo_door(Caller(store, searcher, settings), ("search", "checkout"))
        log = store.query("SELECT role, subject, allowed FROM access_log "  # the reads, not
                          "WHERE action <> 'admin.ingest' ORDER BY read_at, subject")  # the import
    assert log == [  # one row per read: both teams in one, the refusal names the team refused
        {"role": "admin", "subject": "team:checkout:slo,team:search:slo", "allowed": True},
        {"role": "member", "subject": "team:checkout:slo", "allowed": False}]


def test_the_cli(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from shipwise.app.tokens import create_token
    from shipwise.cli.main import cli

    _budget_case(settings, tmp_path, 700)
    monkeypatch.delenv("SHIPWISE_TOKEN", raising=False)
    db = ["--db", str(settings.db)]
    runner = CliRunner()
    res = runner.invoke(cli, [*db, "slo", "--format", "json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert [s["slo"] for s in out["status"]] == ["slo-checkout", "slo-search"]
    assert {t: a["appetite"] for t, a in out["appetite"].items()} == {
        "checkout": "full", "docs": None, "search": "fixes only"}
    table = runner.invoke(cli, [*db, "slo"], catch_exceptions=False).output
    assert "fixes only" in table and "slo-search" in table
    csv = runner.invoke(cli, [*db, "slo", "history", "--team", "search", "--format", "csv"],
                        catch_exceptions=False).output.splitlines()
    assert csv[0].startswith("team,slo,period,objective,good,total")
    assert csv[1].startswith("search,slo-search,2025-06,0.99,")
    # a member's token sees their own team only; every read is logged as the CLI's
    with open_store(settings) as store:
        token = create_token(store, "searcher", "member", "search")["token"]
    mine = runner.invoke(cli, [*db, "slo", "--format", "json"], env={"SHIPWISE_TOKEN": token},
                         catch_exceptions=False)
    assert set(json.loads(mine.output)["appetite"]) == {"search"}
    refused = runner.invoke(cli, [*db, "slo", "--team", "checkout"],
                            env={"SHIPWISE_TOKEN": token})
    assert isinstance(refused.exception, ForbiddenError)
    with open_store(settings) as store:
        rows = store.query("SELECT interface, subject, allowed FROM access_log "
                           "WHERE token_id IS NOT NULL ORDER BY read_at")
    assert rows == [{"interface": "cli", "subject": "team:search:slo", "allowed": True},
                    {"interface": "cli", "subject": "team:checkout:slo", "allowed": False}]


def test_release_appetite_stands_beside_deployment_frequency(
        settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from shipwise.cli.main import cli

    _budget_case(settings, tmp_path, 700)
    load(settings, tmp_path, [{"type": "deployment", "id": "d1", "service": "search-api",
                               "environment": "production", "started_at": "2025-06-20T10:00:00Z",
                               "finished_at": "2025-06-20T10:10:00Z", "status": "success"}])
    monkeypatch.delenv("SHIPWISE_TOKEN", raising=False)
    runner = CliRunner()
    db = ["--db", str(settings.db)]
    out = json.loads(runner.invoke(cli, [*db, "metrics", "dora", "--team", "search", "--format",
                                         "json"], catch_exceptions=False).output)
    assert out["release_appetite"]["search"]["appetite"] == "fixes only"
    table = runner.invoke(cli, [*db, "metrics", "dora", "--team", "search"],
                          catch_exceptions=False).output
    assert "Release appetite now" in table and "search: fixes only" in table
    assert "not a drop in productivity" in table
