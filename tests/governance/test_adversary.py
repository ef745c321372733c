"""The suppression guarantee, attacked: no hidden flow or strain figure can be worked out by any
linear combination of the figures the same principal can read — on random organisations and
(slow tier) on the demo organisation over the REST API, as an admin, an exec and a member."""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path

import pytest

from shipwise.app.context import open_store
from shipwise.app.owner import import_paths
from shipwise.config import Settings
from shipwise.governance.access import LOCAL_ADMIN, Principal
from shipwise.governance.suppression import decide, determined
from tests.conftest import write_jsonl
from tests.governance import attack as attacker
from tests.governance.adversary import Figure, attack

EXEC = Principal("exec", name="cfo")


def test_the_attacker_finds_what_a_weaker_rule_leaves_open() -> None:
    """The solver is not a test that cannot fail: with only the old one-equation rule, a month
    is the quarter minus the other months even when a week of the quarter is hidden too."""
    figs = [Figure("strain", "pages", "team", "t", g, p, s, 0, v) for g, p, s, v in (
        ("month", "2025-01", datetime(2025, 1, 1).date(), 17.0),
        ("month", "2025-02", datetime(2025, 2, 1).date(), None),
        ("month", "2025-03", datetime(2025, 3, 1).date(), 17.0),
        ("quarter", "2025-Q1", datetime(2025, 1, 1).date(), 44.0))]
    got = attack(figs, {("team", "t"): ["t"]}, lambda f: 10.0)
    assert [f.period for f in got.exact] == ["2025-02"]
    # and the suppression's own audit finds it too, where the structural rule alone would not
    eqs = [[("Q1", 1), ("m1", -1), ("m2", -1), ("m3", -1)],
           [("m1", 1), ("w1", -1), ("w2", -1)], [("m2", 1), ("w3", -1), ("w4", -1)]]
    assert determined(eqs, {"m2": 1, "w3": 1, "w4": 1}) == {"m2"}
    assert "m2" in decide({"m2": 3, "m1": 9, "m3": 9, "Q1": 21, "w1": 5, "w2": 5, "w3": 1,
                           "w4": 1}, eqs, 5)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(8))
def test_random_organisations_leak_nothing(seed: int, tmp_path: Path,
                                           settings: Settings) -> None:
    rnd = random.Random(seed)
    import_paths(settings, [write_jsonl(tmp_path / "org.jsonl", attacker.random_org(rnd))])
    with open_store(settings) as store:
        team, = store.con.execute("SELECT id FROM team ORDER BY random() LIMIT 1").fetchone()
        member = Principal("member", team=team, name="m")
        for who in (LOCAL_ADMIN, EXEC, member):
            got = attacker.run(store, who)
            assert got.hidden > 0 or who is not LOCAL_ADMIN or seed, "nothing hidden to attack"
            assert not got.wrong, [f.key for f in got.wrong][:5]  # the model itself is sound
            assert not got.exact, (who.role, [f.key for f in got.exact][:10])
