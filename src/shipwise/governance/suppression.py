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
   has no other hidden figure in it is determined by shown ones — the pass hides the smallest
   shown figure of an equation it is in, and everything repeats.

When it ends, no hidden figure lies in the span of the shown ones: that is the guarantee, and
``tests/governance/test_adversary.py`` attacks it with an independent solver. The decision is made
once per people source over every unit and period, whoever is asking, so the same figure is
hidden on every interface. Which equations exist is the caller's knowledge (org hierarchy,
calendar); this module is pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

PRIMARY = "primary"
COMPLEMENTARY = "complementary"
#: a share of a subgroup (the busiest fifth): shown only when the subgroup and the rest are both
#: at least the minimum
SHARE = "share"
#: the field the audit reduces over: a prime, so every non-zero coefficient has an inverse;
#: large, so the rank is the rational rank for any coefficients these equations can have
_P = (1 << 61) - 1

Equation = Sequence[tuple[str, int]]  # (figure, coefficient): Σ coefficient · value = 0


def decide(people: Mapping[str, int], equations: Iterable[Equation], k: int, *,
           audit: bool = True, primary: Iterable[str] = ()) -> dict[str, str]:
    """Which figures to hide, and why (``primary`` or ``complementary``).

    ``people``: distinct people behind each figure (absent or 0 = describes nobody, never a
    primary); ``equations``: the linear identities the reader knows; ``primary``: further
    figures to hide whatever their people count (e.g. a share that would describe too few).
    """
    if k < 3:
        raise ValueError("the minimum group size is never below 3")
    eqs = [tuple((f, c) for f, c in e if c) for e in equations]
    eqs = [e for e in eqs if len(e) > 1]
    hidden = {f: PRIMARY for f, n in people.items() if 0 < n < k}
    hidden.update({f: PRIMARY for f in primary})
    of: dict[str, list[int]] = {}
    for i, e in enumerate(eqs):
        for f, _ in e:
            of.setdefault(f, []).append(i)
    dirty: set[str] | None = None  # the first audit looks at everything
    while True:
        before = set(hidden)
        _structural(eqs, of, people, hidden)
        if not audit:
            return hidden
        if dirty is not None:
            dirty |= set(hidden) - before
        # a component with nothing newly hidden was audited clean last round: skip it
        exposed = determined(eqs, hidden, touching=dirty)
        if not exposed:
            return hidden
        before = set(hidden)
        for f in sorted(exposed):
            pick = _nearest_shown(f, eqs, of, people, hidden)
            if pick is not None:
                hidden[pick] = COMPLEMENTARY
        dirty = set(hidden) - before
        if not dirty:  # nothing left to hide: cannot happen while an equation has a shown figure
            return hidden


def _smallest_shown(people: Mapping[str, int], hidden: Mapping[str, str],
                    figures: Iterable[str]) -> str | None:
    """The shown figure whose hiding loses least: non-empty ones first (an empty one is known
    to be empty), then the fewest people, then the name (a stable choice)."""
    shown = {f for f in figures if f not in hidden}
    if not shown:
        return None
    return min(shown, key=lambda f: (people.get(f, 0) <= 0, people.get(f, 0), f))


def _nearest_shown(f: str, eqs: Sequence[Equation], of: Mapping[str, list[int]],
                   people: Mapping[str, int], hidden: Mapping[str, str]) -> str | None:
    """The smallest shown figure of an equation with ``f`` in it; if all of those are hidden,
    of the equations one step further out, and so on."""
    seen, ring = {f}, [f]
    while ring:
        near = [g for h in ring for i in of.get(h, ()) for g, _ in eqs[i] if g not in seen]
        pick = _smallest_shown(people, hidden, near)
        if pick is not None:
            return pick
        seen.update(near)
        ring = list(dict.fromkeys(near))
    return None


def _structural(eqs: Sequence[Equation], of: Mapping[str, list[int]],
                people: Mapping[str, int], hidden: dict[str, str]) -> None:
    """No equation with exactly one hidden figure (a work list over the equations touched)."""
    todo = set(range(len(eqs)))
    while todo:
        i = todo.pop()
        if sum(f in hidden for f, _ in eqs[i]) != 1:
            continue
        pick = _smallest_shown(people, hidden, (f for f, _ in eqs[i]))
        if pick is None:
            continue
        hidden[pick] = COMPLEMENTARY
        todo.update(of.get(pick, ()))


def determined(equations: Iterable[Equation], hidden: Mapping[str, object], *,
               touching: set[str] | None = None) -> set[str]:
    """Hidden figures a reader can work out exactly from the shown ones and the equations.

    Restricted to the hidden figures, each equation says ``Σ c·hidden = −Σ c·shown`` (known).
    A hidden figure is determined iff its unit vector lies in the row space of that system: in
    reduced row-echelon form, a pivot row with no other entry. ``touching``: reduce only the
    connected components that hold one of these figures.
    """
    rows: list[dict[str, int]] = []
    for e in equations:
        row: dict[str, int] = {}
        for f, c in e:
            if f in hidden and c:
                row[f] = (row.get(f, 0) + c) % _P
        row = {f: c for f, c in row.items() if c}
        if row:
            rows.append(row)
    out: set[str] = set()
    for comp in _components(rows):
        if touching is None or any(f in touching for row in comp for f in row):
            out |= _pinned(comp)
    return out


def _components(rows: list[dict[str, int]]) -> list[list[dict[str, int]]]:
    """Rows grouped by the figures they share (union–find), so each reduction stays small."""
    up: dict[str, str] = {}

    def find(x: str) -> str:
        while up.setdefault(x, x) != x:
            up[x] = up[up[x]]
            x = up[x]
        return x

    for r in rows:
        it = iter(r)
        a = find(next(it))
        for f in it:
            b = find(f)
            if a != b:
                up[b] = a
    groups: dict[str, list[dict[str, int]]] = {}
    for r in rows:
        groups.setdefault(find(next(iter(r))), []).append(r)
    return list(groups.values())


def _pinned(rows: list[dict[str, int]]) -> set[str]:
    """Gauss–Jordan over GF(_P) on sparse rows; the pivots whose row is a unit vector."""
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
            for f in before - set(qrow):
                holders[f].discard(q)
            for f in set(qrow) - before:
                holders.setdefault(f, set()).add(q)
        pivots[p] = row
        for f in row:
            holders.setdefault(f, set()).add(p)
    return {p for p, row in pivots.items() if len(row) == 1}


def _axpy(row: dict[str, int], other: Mapping[str, int], a: int) -> None:
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
