"""Verdicts on investigations and the accuracy they measure (shipwise.app.verdicts), on a real
store file: marking, replacing, bad input, accuracy overall / by fault kind / by service, and the
team access rules of the investigations."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipwise.app import verdicts
from shipwise.config import Settings
from shipwise.errors import ForbiddenError, InputError, NotFoundError
from shipwise.governance.access import Principal
from tests.app.conftest import caller_of, log_rows
from tests.prevention_world import build

MEMBER_PAY = Principal("member", "payments", "tok-pay", "pay-bot")
EXEC = Principal("exec", None, "tok-exec", "cfo")


@pytest.fixture
def world(settings: Settings, tmp_path: Path) -> Settings:
    return build(settings, tmp_path)


def test_a_verdict_is_kept_and_marking_again_replaces_it(world: Settings) -> None:
    with caller_of(world, interface="web") as c:
        v = verdicts.mark_verdict(c, "inv-perm-1", "partly", comment="  the role, not the key  ")
        assert (v.verdict, v.comment, v.marked_by) == ("partly", "the role, not the key",
                                                       "admin/web")
        assert (v.root_cause_kind, v.root_cause_entity) == ("permission_revoked", "pay-api")
        verdicts.mark_verdict(c, "inv-perm-1", "right")
        again = verdicts.verdict_of(c, "inv-perm-1")
        assert again is not None and (again.verdict, again.comment) == ("right", None)
        assert verdicts.verdict_of(c, "inv-perm-2") is None
        n = c.store.query("SELECT count(*) AS n FROM investigation_verdict")[0]["n"]
    assert n == 1


def test_bad_verdicts_are_refused_with_a_hint_and_nothing_is_written(world: Settings) -> None:
    with caller_of(world) as c:
        with pytest.raises(InputError, match="right, partly, wrong") as bad:
            verdicts.mark_verdict(c, "inv-perm-1", "maybe")
        assert bad.value.hint
        with pytest.raises(InputError, match="at most 2000"):
            verdicts.mark_verdict(c, "inv-perm-1", "wrong", comment="x" * 2001)
        with pytest.raises(NotFoundError):
            verdicts.mark_verdict(c, "inv-nope", "right")
        with pytest.raises(NotFoundError):
            verdicts.verdict_of(c, "inv-nope")
        assert c.store.query("SELECT count(*) AS n FROM investigation_verdict")[0]["n"] == 0


def test_accuracy_overall_by_fault_kind_and_by_service(world: Settings) -> None:
    with caller_of(world) as c:
        assert verdicts.accuracy(c).overall is None  # nothing marked yet
        for inv, v in (("inv-perm-1", "right"), ("inv-perm-2", "right"),
                       ("inv-churn-1", "partly"), ("inv-wrong-1", "wrong"),
                       ("inv-deploy-1", "right")):
            verdicts.mark_verdict(c, inv, v)
        acc = verdicts.accuracy(c)
    assert acc.investigations == 8
    assert acc.overall is not None
    assert (acc.overall.marked, acc.overall.right, acc.overall.partly, acc.overall.wrong) == (
        5, 3, 1, 1)
    assert acc.overall.accuracy == pytest.approx(3 / 5)
    assert acc.overall.accuracy_partial == pytest.approx(3.5 / 5)
    kinds = {r.value: (r.marked, r.accuracy) for r in acc.by_kind}
    assert kinds == {"permission_revoked": (2, 1.0), "instance_churn": (1, 0.0),
                     "memory_leak": (1, 0.0), "bad_deploy": (1, 1.0)}
    services = {r.value: (r.marked, r.right) for r in acc.by_service}
    assert services == {"pay-api": (3, 3), "search-api": (2, 0)}


def test_members_mark_and_measure_their_own_team_s_investigations_only(
        world: Settings) -> None:
    with caller_of(world) as c:
        verdicts.mark_verdict(c, "inv-churn-1", "wrong")  # search's
    with caller_of(world, MEMBER_PAY) as c:
        verdicts.mark_verdict(c, "inv-perm-1", "right")
        with pytest.raises(ForbiddenError, match="team search"):
            verdicts.mark_verdict(c, "inv-churn-2", "right")
        with pytest.raises(ForbiddenError):
            verdicts.verdict_of(c, "inv-churn-1")
        acc = verdicts.accuracy(c)
    assert acc.investigations == 4 and "payments" in acc.scope
    assert acc.overall is not None and (acc.overall.marked, acc.overall.right) == (1, 1)
    assert [r.value for r in acc.by_service] == ["pay-api"]
    with caller_of(world, EXEC) as c, pytest.raises(ForbiddenError):
        verdicts.accuracy(c)
    rows = [(r["action"], r["subject"], r["allowed"]) for r in log_rows(world)
            if r["role"] == "member"]
    assert ("investigations.start", "investigation:inv-perm-1:verdict", True) in rows
    assert ("investigations.start", "investigation:inv-churn-2:verdict", False) in rows
