"""The suppression decision made with kept audits (``AuditMemo``) and prebuilt ``Equations`` is
the decision made from scratch, and both keep the guarantee — on random equation systems and
random changes between two decisions (people counts moved, equations added or dropped), checked
against an independent solver (numpy's rank: a hidden figure is determined iff adding its unit
vector to the equations restricted to the hidden figures leaves their rank unchanged)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipwise.governance.suppression import (
    _P,
    PRIMARY,
    AuditMemo,
    Equations,
    _reduce,
    _Reduction,
    _State,
    decide,
)

K = 5
FIGURES = [f"f{i}" for i in range(12)]

equation = st.lists(st.tuples(st.sampled_from(FIGURES), st.sampled_from([1, -1, 2, -2, 3])),
                    min_size=2, max_size=6, unique_by=lambda t: t[0])
people = st.dictionaries(st.sampled_from(FIGURES), st.sampled_from([0, 1, 2, 4, 5, 6, 9, 20]))


def exposed(eqs: list[list[tuple[str, int]]], hidden: set[str]) -> set[str]:
    """Hidden figures the equations give away (independent of the module's own audit)."""
    cols = sorted(hidden)
    if not cols:
        return set()
    A = np.array([[dict(e).get(f, 0) for f in cols] for e in eqs] or [[0] * len(cols)],
                 dtype=float)
    r = np.linalg.matrix_rank(A)
    out = set()
    for j, f in enumerate(cols):
        unit = np.zeros((1, len(cols)))
        unit[0, j] = 1.0
        if np.linalg.matrix_rank(np.vstack([A, unit])) == r:
            out.add(f)
    return out


def check(people: dict[str, int], eqs: list[list[tuple[str, int]]],
          hidden: dict[str, str]) -> None:
    assert {f for f, n in people.items() if 0 < n < K} <= {f for f, w in hidden.items()
                                                          if w == PRIMARY}
    leaked = exposed(eqs, set(hidden))
    # only a figure the equations fix on their own (whatever is hidden) may stay exposed
    assert leaked <= exposed(eqs, set(FIGURES)), (leaked, hidden)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(eqs=st.lists(equation, max_size=10), first=people, second=people,
       more=st.lists(equation, max_size=3), drop=st.sets(st.integers(0, 9), max_size=3))
def test_kept_audits_decide_as_from_scratch(eqs: list[list[tuple[str, int]]],
                                            first: dict[str, int], second: dict[str, int],
                                            more: list[list[tuple[str, int]]],
                                            drop: set[int]) -> None:
    memo, system = AuditMemo(), Equations(eqs)
    before = decide(first, system, K, memo=memo)
    memo.done()
    assert before == decide(first, eqs, K)
    check(first, eqs, before)
    # a change: counts move, equations come and go; the kept audits and the reused index must
    # not leak into it, and the equations' order does not matter
    changed = [e for i, e in enumerate(eqs) if i not in drop] + more
    updated = system.updated(changed)
    after = decide(second, updated, K, memo=memo)
    memo.done()
    assert after == decide(second, changed, K) == decide(second, changed[::-1], K)
    check(second, changed, after)
    assert decide(first, system, K) == before  # updating left the old equations as they were
    # the same decision again, everything served from the memo
    assert decide(second, updated, K, memo=memo) == after
    assert not memo.misses


def test_a_kept_audit_is_not_used_for_another_set_of_equations() -> None:
    """Same hidden figures, other coefficients: m2 is determined by one system, not the other."""
    determined = [[("q", 1), ("m1", -1), ("m2", -1)], [("m1", 1), ("w1", -1), ("w2", -1)],
                  [("m2", 1), ("w3", -1)], [("w3", 1), ("x", -1)]]
    free = [[("q", 1), ("m1", -1), ("m2", -1)], [("m1", 1), ("w1", -1), ("w2", -1)],
            [("m2", 1), ("w3", -1), ("w4", -1)], [("w3", 1), ("x", -1)]]
    people = {"q": 20, "m1": 10, "m2": 3, "w1": 6, "w2": 6, "w3": 3, "w4": 0, "x": 9}
    memo = AuditMemo()
    a = decide(people, free, K, memo=memo)
    memo.done()
    b = decide(people, determined, K, memo=memo)
    assert b == decide(people, determined, K) and not exposed(determined, set(b))
    assert not exposed(free, set(a))


@settings(max_examples=400, deadline=None)
@given(eqs=st.lists(equation, min_size=1, max_size=10), first=st.sets(st.sampled_from(FIGURES)),
       more=st.sets(st.sampled_from(FIGURES), min_size=1))
def test_a_kept_reduction_grown_by_new_figures_is_the_reduction_from_scratch(
        eqs: list[list[tuple[str, int]]], first: set[str], more: set[str]) -> None:
    """The reduction kept between rounds (connected sets merged, newly hidden figures added as
    columns, new rows inserted) determines exactly what a reduction from scratch does."""
    system = Equations(eqs)
    kept: dict[int, _Reduction] = {}
    state = _State(system)
    for f in sorted(first):
        state.hide(f, PRIMARY)
    for nums, rows in state.components(None):
        red = _Reduction.of(nums, rows)
        kept.update((j, red) for j in red.eqs)
    for f in sorted(more):
        state.hide(f, PRIMARY)
    for nums, rows in state.components(more):
        red = _Reduction.grown(nums, rows, kept, system)
        assert set(red.pinned()) == _reduce(rows) == exposed(
            [list(system.eqs[j]) for j in nums], {f for r in rows for f in r})
        for f in red.pinned():  # the recipe sums the equations to the figure and shown ones
            total: dict[str, int] = {}
            for j, y in red.combo[f].items():
                for g, c in system.eqs[j]:
                    total[g] = (total.get(g, 0) + y * c) % _P
            assert {g for g, v in total.items() if v and g in state.hidden} == {f}


def test_a_zero_sum_of_a_merged_set_becomes_a_row() -> None:
    """c + d and c − d with d shown say c twice (a zero sum of the two rows); once d is hidden
    too, through a + d joining c's set to a's, that zero sum is a row of d alone."""
    eqs = [[("a", 1), ("b", 1)], [("c", 1), ("d", 1)], [("c", 1), ("d", -1)], [("a", 1), ("d", 1)]]
    system, kept = Equations(eqs), {}
    state = _State(system)
    for f in ("a", "c"):
        state.hide(f, PRIMARY)
    for nums, rows in state.components(None):
        red = _Reduction.of(nums, rows)
        kept.update((j, red) for j in red.eqs)
    state.hide("d", PRIMARY)
    (nums, rows), = state.components({"d"})
    assert _Reduction.grown(nums, rows, kept, system).pinned() == ["a", "c", "d"]
