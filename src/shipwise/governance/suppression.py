"""Small-group suppression of people-derived figures that no linear combination can undo.

A figure computed from fewer than ``k`` people (default 5, never below 3) says too much about
each of them: it is hidden (*primary* suppression). Hiding it is not enough while other figures
are shown: a team's month is its org unit's month minus the visible sibling teams, a month is
its quarter minus the other months, a run of weeks is the months they exactly cover. Every such
identity is an *equation* — a set of figures whose signed sum is zero for every additive count
(``total − Σ parts``) — and the reader knows every equation. A hidden figure is safe only when
no linear combination of the equations isolates it from shown figures.

The decision runs in two passes until neither changes anything (*complementary* suppression):

1. **Structural**: an equation with exactly one hidden figure gives it away, so the smallest
   non-empty shown figure of that equation is hidden too (a total counts like any part: a hidden
   total whose parts are all shown is protected by hiding the smallest part).
2. **Exact audit**: the equations restricted to the hidden figures are reduced (Gauss–Jordan over
   a large prime field, one connected component at a time); a hidden figure whose reduced row
   has no other hidden figure in it is determined by shown ones. The reduction also gives the
   reader's recipe (which equations, with which weights, sum to that figure plus shown ones):
   the pass hides the smallest shown figure of the recipe, and everything repeats.

When it ends, no hidden figure lies in the span of the shown ones: that is the guarantee, and
``tests/governance/test_adversary.py`` attacks it with an independent solver. The decision is made
once per people source over every unit and period, whoever is asking, so the same figure is
hidden on every interface. Which equations exist is the caller's knowledge (org hierarchy,
calendar); this module is pure.

Cost: both passes are work lists — after the first round only the equations a newly hidden
figure is in are looked at again, and only the connected sets holding one are audited again,
their reduction kept from the round before (a newly hidden figure is a column added to it).
The equations are indexed once (:class:`Equations`, updated in place of rebuilt when a few
change) and clean audits are kept from one decision to the next (:class:`AuditMemo`). None of
this changes the decision: every choice follows the equations' content (their ``rank``), never
their numbering or what was kept, so the same figures and equations always give the same hidden
figures — ``tests/governance/test_suppression_memo.py`` checks it.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

PRIMARY = "primary"
COMPLEMENTARY = "complementary"
#: a share of a subgroup (the busiest fifth): shown only when the subgroup and the rest are both
#: at least the minimum
SHARE = "share"
#: the field the audit reduces over: a prime, so every non-zero coefficient has an inverse;
#: large, so the rank is the rational rank for any coefficients these equations can have
_P = (1 << 61) - 1

Equation = Sequence[tuple[str, int]]  # (figure, coefficient): Σ coefficient · value = 0


def decide(people: Mapping[str, int], equations: Iterable[Equation] | Equations, k: int, *,
           audit: bool = True, primary: Iterable[str] = (),
           memo: AuditMemo | None = None) -> dict[str, str]:
    """Which figures to hide, and why (``primary`` or ``complementary``).

    ``people``: distinct people behind each figure (absent or 0 = describes nobody, never a
    primary); ``equations``: the linear identities the reader knows (or :class:`Equations`
    built once and kept while they do not change); ``primary``: further figures to hide whatever
    their people count (e.g. a share that would describe too few). ``memo``: exact audits kept
    from an earlier decision (:class:`AuditMemo`) — the decision is the same with or without it,
    only faster when most connected sets of equations did not change.
    """
    if k < 3:
        raise ValueError("the minimum group size is never below 3")
    system = equations if isinstance(equations, Equations) else Equations(equations)
    state = _State(system)
    for f in [f for f, n in people.items() if 0 < n < k] + list(primary):
        state.hide(f, PRIMARY)
    work: set[int] | None = None  # the first structural pass looks at every equation
    dirty: set[str] | None = None  # so does the first audit
    kept: dict[int, _Reduction] = {}  # equation -> the reduction of its connected set, kept
    while True:
        new = _structural(state, people, work)
        if not audit:
            return state.hidden
        if dirty is not None:
            dirty |= new
        # a component with nothing newly hidden was audited clean last round: skip it
        exposed: list[tuple[str, dict[int, int]]] = []
        for eqs, rows in state.components(dirty):
            if dirty is None:  # most sets are clean: reduced (or recalled) without bookkeeping
                pinned = memo.pinned(rows) if memo is not None else frozenset(_reduce(rows))
                if not pinned:
                    continue
                red = _Reduction.of(eqs, rows)
            else:  # a set audited again: its kept reduction takes the new figures and rows
                red = _Reduction.grown(eqs, rows, kept, system)
            for j in red.eqs:
                kept[j] = red
            exposed += [(f, red.combo[f]) for f in red.pinned()]
        if not exposed:
            return state.hidden
        dirty = set()
        for f, y in sorted(exposed, key=lambda e: e[0]):
            pick = _breaking(f, y, state, people, dirty)
            if pick is not None:
                state.hide(pick, COMPLEMENTARY)
                dirty.add(pick)
        if not dirty:  # nothing left to hide: cannot happen while an equation has a shown figure
            return state.hidden
        work = {i for f in dirty for i in system.of[f]}


class Equations:
    """The equations (each figure once, non-zero integer coefficients, at least two figures)
    and the equations each figure is in: built once, and reused by every decision over the
    same identities (they change with the hierarchy and the calendar, not with the counts).

    Equations are numbered as they come, but every choice the decision makes that depends on
    an order follows ``rank`` — the equations sorted by their content — so the decision is the
    same however the equations were numbered (built at once, or :meth:`updated`)."""

    def __init__(self, equations: Iterable[Equation] = ()) -> None:
        self.eqs: list[tuple[tuple[str, int], ...]] = []  # () = an equation gone (updated)
        self.of: dict[str, list[int]] = {}
        for eq in dict.fromkeys(_merged(equations)):  # an equation twice says nothing more
            self._add(eq)
        self._rank()

    def _add(self, eq: tuple[tuple[str, int], ...]) -> None:
        i = len(self.eqs)
        self.eqs.append(eq)
        of = self.of
        for f, _ in eq:
            got = of.get(f)
            if got is None:
                of[f] = [i]
            else:
                got.append(i)

    def _rank(self) -> None:
        self.order = sorted((i for i, e in enumerate(self.eqs) if e), key=self.eqs.__getitem__)
        self.rank = [0] * len(self.eqs)
        for r, i in enumerate(self.order):
            self.rank[i] = r

    def updated(self, equations: Iterable[Equation]) -> Equations:
        """The equations ``equations`` (a new object, this one unchanged), reusing the index of
        those that stay: after a day more of data only the equations at the end of the span
        change, and rebuilding the rest costs more than the decision."""
        at = {e: i for i, e in enumerate(self.eqs) if e}
        new: set[tuple[tuple[str, int], ...]] = set()
        for e in equations:  # one already here is in its merged form: no need to merge it
            t = tuple(e)
            new.update((t,) if t in at else _merged((e,)))
        return self.replaced([e for e in at if e not in new], new)

    def replaced(self, gone: Iterable[Equation], added: Iterable[Equation]) -> Equations:
        """These equations without ``gone`` and with ``added`` (a new object, this one
        unchanged), reusing the index of those that stay."""
        at = {e: i for i, e in enumerate(self.eqs) if e}
        out_gone = {i for e in _merged(gone) if (i := at.get(e)) is not None}
        fresh = sorted({e for e in _merged(added) if e not in at or at[e] in out_gone})
        holes = sum(not e for e in self.eqs)
        if 2 * (len(out_gone) + holes) > len(self.eqs):  # mostly new: start again, no holes
            return Equations([e for i, e in enumerate(self.eqs) if e and i not in out_gone]
                             + fresh)
        out = Equations()
        out.eqs = list(self.eqs)
        out.of = dict(self.of)
        for i in out_gone:
            out.eqs[i] = ()
        for f in {f for i in out_gone for f, _ in self.eqs[i]}:
            out.of[f] = [i for i in self.of[f] if i not in out_gone]
        for f in {f for e in fresh for f, _ in e}:  # copied before appending: self keeps its own
            if f in out.of and out.of[f] is self.of.get(f):
                out.of[f] = list(out.of[f])
        first = len(out.eqs)
        for e in fresh:
            out._add(e)
        # the content order: the kept one without the holes, merged with the new equations'
        eqs = out.eqs
        out.order = list(heapq.merge((i for i in self.order if i not in out_gone),
                                     range(first, len(eqs)), key=eqs.__getitem__))
        out.rank = self.rank + [0] * (len(eqs) - first)
        for r, i in enumerate(out.order):
            out.rank[i] = r
        return out


def _merged(equations: Iterable[Equation]) -> Iterable[tuple[tuple[str, int], ...]]:
    """Each equation with each figure once (coefficients added up), zeros dropped, and only if
    at least two figures are left (one figure alone is fixed by the equations: nothing to do)."""
    for e in equations:
        merged: dict[str, int] = {}
        for f, c in e:
            merged[f] = merged.get(f, 0) + c
        eq = tuple((f, c) for f, c in merged.items() if c)
        if len(eq) > 1:
            yield eq


class _State:
    """One decision under way: what is hidden, and how many hidden figures each equation has."""

    def __init__(self, system: Equations) -> None:
        self.system = system
        self.hidden: dict[str, str] = {}
        self.hidden_in = [0] * len(system.eqs)

    def hide(self, f: str, why: str) -> None:
        if f in self.hidden:
            return
        self.hidden[f] = why
        for i in self.system.of.get(f, ()):
            self.hidden_in[i] += 1

    def components(self, touching: set[str] | None
                   ) -> list[tuple[list[int], list[dict[str, int]]]]:
        """The equations restricted to the hidden figures (equation numbers and rows), grouped
        by the figures they share — each group is reduced on its own, so each reduction stays
        small: every group, or those holding one of ``touching``."""
        hidden, eqs, of = self.hidden, self.system.eqs, self.system.of
        seen: set[str] = set()
        done: set[int] = set()
        out: list[tuple[list[int], list[dict[str, int]]]] = []
        for start in sorted(hidden if touching is None else touching):
            if start in seen or start not in hidden:
                continue
            seen.add(start)
            stack, nums, rows = [start], [], []
            while stack:
                for i in of.get(stack.pop(), ()):
                    if i in done:
                        continue
                    done.add(i)
                    row = {g: c % _P for g, c in eqs[i] if g in hidden}
                    nums.append(i)
                    rows.append(row)
                    for g in row:
                        if g not in seen:
                            seen.add(g)
                            stack.append(g)
            if rows:  # in the equations' order, whichever figure the walk started from
                rank = self.system.rank
                order = sorted(range(len(nums)), key=lambda j: rank[nums[j]])
                out.append(([nums[j] for j in order], [rows[j] for j in order]))
        return out


class AuditMemo:
    """Exact audits kept from one decision to the next: a connected set of equations (restricted
    to the hidden figures) -> the hidden figures it determines. The reduction is a function of
    the set alone (any order of rows and of figures gives the same row space), so a set met
    again — most of them, after a day more of data — is not reduced again. Holds only the sets
    the last decision used, so it does not grow."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._kept: dict[frozenset[tuple[tuple[str, int], ...]], frozenset[str]] = {}
        self._used: dict[frozenset[tuple[tuple[str, int], ...]], frozenset[str]] = {}
        self.hits = self.misses = 0

    def pinned(self, rows: list[dict[str, int]]) -> frozenset[str]:
        key = frozenset(tuple(r.items()) for r in rows)
        got = self._used.get(key)
        if got is None:
            got = self._kept.get(key)
        if got is None:
            self.misses += 1
            got = frozenset(_reduce(rows))
        else:
            self.hits += 1
        self._used[key] = got
        return got

    def done(self) -> None:
        """A decision ended: keep what it used, forget the rest."""
        self._kept, self._used = self._used, {}
        self.hits = self.misses = 0


def _smallest_shown(people: Mapping[str, int], hidden: Mapping[str, str],
                    figures: Iterable[str]) -> str | None:
    """The shown figure whose hiding loses least: non-empty ones first (an empty one is known
    to be empty), then the fewest people, then the name (a stable choice)."""
    shown = {f for f in figures if f not in hidden}
    if not shown:
        return None
    return min(shown, key=lambda f: (people.get(f, 0) <= 0, people.get(f, 0), f))


def _breaking(f: str, y: Mapping[int, int], state: _State, people: Mapping[str, int],
              picked: set[str]) -> str | None:
    """What to hide so that ``f`` is no longer worked out the way the audit found: ``y``
    weighs equations so that their sum is ``f`` plus shown figures only (the reader's
    recipe). Hiding any of those shown figures breaks the recipe; the smallest is hidden —
    nothing, if a figure hidden this round already broke it. A figure the equations fix on
    their own (no shown figure in the recipe) gets the nearest shown figure."""
    eqs = state.system.eqs
    total: dict[str, int] = {}
    for i, c in y.items():
        for g, a in eqs[i]:
            total[g] = (total.get(g, 0) + c * a) % _P
    used = {g for g, v in total.items() if v and g != f}
    if not used.isdisjoint(picked):
        return None
    return _smallest_shown(people, state.hidden, used) or _nearest_shown(f, state, people)


def _nearest_shown(f: str, state: _State, people: Mapping[str, int]) -> str | None:
    """The smallest shown figure of an equation with ``f`` in it; if all of those are hidden,
    of the equations one step further out, and so on."""
    system = state.system
    seen, ring = {f}, [f]
    while ring:
        near = [g for h in ring for i in system.of.get(h, ()) for g, _ in system.eqs[i]
                if g not in seen]
        pick = _smallest_shown(people, state.hidden, near)
        if pick is not None:
            return pick
        seen.update(near)
        ring = list(dict.fromkeys(near))
    return None


def _structural(state: _State, people: Mapping[str, int], work: set[int] | None) -> set[str]:
    """No equation with exactly one hidden figure: a work list over ``work`` (None: every
    equation) and the equations each newly hidden figure is in, taken in rank order. Returns
    what it hid."""
    system = state.system
    rank, eqs, of = system.rank, system.eqs, system.of
    todo = [(rank[i], i) for i in (system.order if work is None else sorted(work, key=rank.__getitem__))]
    queued = {i for _, i in todo}
    todo.reverse()  # a stack, smallest rank on top; later pushes go on a heap
    later: list[tuple[int, int]] = []
    new: set[str] = set()
    while todo or later:
        if later and (not todo or later[0] < todo[-1]):
            _, i = heapq.heappop(later)
        else:
            _, i = todo.pop()
        queued.discard(i)
        if state.hidden_in[i] != 1:
            continue
        pick = _smallest_shown(people, state.hidden, (f for f, _ in eqs[i]))
        if pick is None:
            continue
        state.hide(pick, COMPLEMENTARY)
        new.add(pick)
        for j in of.get(pick, ()):
            if j not in queued:
                queued.add(j)
                heapq.heappush(later, (rank[j], j))
    return new


def determined(equations: Iterable[Equation], hidden: Mapping[str, object], *,
               touching: set[str] | None = None) -> set[str]:
    """Hidden figures a reader can work out exactly from the shown ones and the equations.

    Restricted to the hidden figures, each equation says ``Σ c·hidden = −Σ c·shown`` (known).
    A hidden figure is determined iff its unit vector lies in the row space of that system: in
    reduced row-echelon form, a pivot row with no other entry. ``touching``: reduce only the
    connected components that hold one of these figures.
    """
    state = _State(Equations(equations))
    for f in hidden:
        state.hide(f, PRIMARY)
    out: set[str] = set()
    for _, rows in state.components(touching):
        out |= _reduce(rows)
    return out


class _Reduction:
    """The Gauss–Jordan reduction of one connected set of equations, kept from round to round
    of one decision so that a newly hidden figure is a column added to it, not a reason to
    reduce the whole set again: each reduced row (``pivots``) with the weights of the equations
    it is made of (``combo``: the reader's recipe when the row is one figure alone), and the
    weights that sum the equations to zero so far (``null``: a new column can make them a row).
    """

    def __init__(self) -> None:
        self.pivots: dict[str, dict[str, int]] = {}
        self.combo: dict[str, dict[int, int]] = {}
        self.null: list[dict[int, int]] = []
        self.holders: dict[str, set[str]] = {}
        self.eqs: set[int] = set()
        self.columns: set[str] = set()

    @classmethod
    def of(cls, eqs: list[int], rows: list[dict[str, int]]) -> _Reduction:
        red = cls()
        for j, row in zip(eqs, rows, strict=True):
            red.insert(j, row)
        return red

    @classmethod
    def grown(cls, eqs: list[int], rows: list[dict[str, int]], kept: Mapping[int, _Reduction],
              system: Equations) -> _Reduction:
        """The reduction of a connected set (``eqs``, rank order, restricted ``rows``) that
        holds the kept reductions of some of its equations: those merged, the figures hidden
        since added as columns, then the other equations' rows inserted."""
        parts = list({id(r): r for j in eqs if (r := kept.get(j)) is not None}.values())
        if not parts:
            return cls.of(eqs, rows)
        parts.sort(key=lambda r: min(system.rank[j] for j in r.eqs))
        red = parts[0]
        for other in parts[1:]:
            red.pivots.update(other.pivots)
            red.combo.update(other.combo)
            red.null += other.null
            for f, hs in other.holders.items():
                red.holders.setdefault(f, set()).update(hs)
            red.eqs |= other.eqs
            red.columns |= other.columns
        at = dict(zip(eqs, rows, strict=True))
        for g in sorted({g for row in rows for g in row} - red.columns):
            red.add_column(g, {j: at[j][g] for j in system.of[g] if j in red.eqs})
        for j, row in zip(eqs, rows, strict=True):
            if j not in red.eqs:
                red.insert(j, row)
        return red

    def insert(self, j: int, row: dict[str, int]) -> None:
        """Equation ``j`` (restricted row ``row``) reduced into the rows kept reduced."""
        pivots, combo = self.pivots, self.combo
        self.eqs.add(j)
        self.columns.update(row)
        row = dict(row)
        mix = {j: 1}
        for p in [f for f in row if f in pivots]:  # reduced rows hold no other pivot
            c = row.get(p)
            if c:
                _axpy(mix, combo[p], -c)
                _axpy(row, pivots[p], -c)
        if not row:
            self.null.append(mix)
            return
        self._pivot(row, mix)

    def _pivot(self, row: dict[str, int], mix: dict[int, int]) -> None:
        pivots, combo, holders = self.pivots, self.combo, self.holders
        p = min(row)
        inv = pow(row[p], _P - 2, _P)
        row = {f: c * inv % _P for f, c in row.items()}
        mix = {j: c * inv % _P for j, c in mix.items()}
        for q in list(holders.get(p, ())):  # keep the earlier rows reduced
            qrow = pivots[q]
            before = set(qrow)
            _axpy(combo[q], mix, -qrow[p])
            _axpy(qrow, row, -qrow[p])
            _rehold(holders, q, before, qrow)
        pivots[p] = row
        combo[p] = mix
        for f in row:
            holders.setdefault(f, set()).add(p)

    def add_column(self, g: str, col: Mapping[int, int]) -> None:
        """Figure ``g`` hidden: in equation ``j`` it has coefficient ``col[j]``. Each reduced
        row gets the column its recipe gives; a zero sum whose recipe gives it a non-zero value
        becomes a row of ``g`` alone (reduced in like any other)."""
        self.columns.add(g)
        if not col:
            return
        for p, mix in self.combo.items():
            v = sum(mix.get(j, 0) * c for j, c in col.items()) % _P
            if v:
                self.pivots[p][g] = v
                self.holders.setdefault(g, set()).add(p)
        rows, null = [], []
        for mix in self.null:
            v = sum(mix.get(j, 0) * c for j, c in col.items()) % _P
            (rows.append(({g: v}, mix)) if v else null.append(mix))
        self.null = null
        if rows:
            (row, mix), *rest = rows
            inv = pow(row[g], _P - 2, _P)
            for other, omix in rest:  # the others are that row again: zero sums still
                a = other[g] * inv % _P
                z = dict(omix)
                _axpy(z, mix, -a)
                if z:
                    self.null.append(z)
            self._pivot(row, dict(mix))

    def pinned(self) -> list[str]:
        return sorted(p for p, row in self.pivots.items() if len(row) == 1)


def _reduce(rows: list[dict[str, int]]) -> set[str]:
    """Gauss–Jordan over GF(_P) on sparse rows: the pivots whose row is a unit vector."""
    pivots: dict[str, dict[str, int]] = {}  # pivot figure -> its row (coefficient 1 there)
    holders: dict[str, set[str]] = {}  # figure -> the pivots whose rows have it
    for row in rows:
        row = dict(row)
        for p in [f for f in row if f in pivots]:  # reduced rows hold no other pivot
            c = row.get(p)
            if c:
                _axpy(row, pivots[p], -c)
        if not row:
            continue
        p = min(row)
        inv = pow(row[p], _P - 2, _P)
        row = {f: c * inv % _P for f, c in row.items()}
        for q in list(holders.get(p, ())):  # keep the earlier rows reduced
            qrow = pivots[q]
            before = set(qrow)
            _axpy(qrow, row, -qrow[p])
            _rehold(holders, q, before, qrow)
        pivots[p] = row
        for f in row:
            holders.setdefault(f, set()).add(p)
    return {p for p, row in pivots.items() if len(row) == 1}


def _rehold(holders: dict[str, set[Any]], q: Any, before: set[str], row: Mapping[str, int]
            ) -> None:
    """Row ``q`` had the figures ``before`` and now has those of ``row``: keep ``holders``
    (figure -> the rows that have it) true."""
    for f in before - set(row):
        holders[f].discard(q)
    for f in set(row) - before:
        holders.setdefault(f, set()).add(q)


def _axpy(row: dict[Any, int], other: Mapping[Any, int], a: int) -> None:
    """row += a · other (mod _P), dropping zeros."""
    for f, c in other.items():
        v = (row.get(f, 0) + a * c) % _P
        if v:
            row[f] = v
        else:
            row.pop(f, None)


def suppressed_units(people: Mapping[str, int],
                     parent: Mapping[str, str | Iterable[str] | None], k: int) -> dict[str, str]:
    """The same decision for figures given as a hierarchy: each total with the parts that name
    it as their parent is one equation (a part may name several totals — each its own equation)."""
    children: dict[str, list[str]] = {}
    for unit, up in parent.items():
        ups = [] if up is None else [up] if isinstance(up, str) else list(up)
        for p in ups:
            children.setdefault(p, []).append(unit)
    eqs = [[(up, 1), *((c, -1) for c in kids)] for up, kids in sorted(children.items())]
    return decide(people, eqs, k)


def reason(why: str, k: int) -> str:
    if why == PRIMARY:
        return f"fewer than {k} people"
    if why == SHARE:
        return f"the busiest fifth or the rest would be fewer than {k} people"
    return f"hidden so a smaller group's figure cannot be worked out from other figures (minimum {k})"
