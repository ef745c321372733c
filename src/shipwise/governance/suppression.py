"""Small-group suppression of people-derived figures, with complementary suppression.

A figure computed from fewer than ``k`` people (default 5, never below 3) says too much about
each of them: it is hidden (*primary* suppression). Hiding it is not enough when a total is
shown — the team's figure would be the org unit's minus its visible siblings, a month's the
quarter's minus the other months — so under every visible total with exactly one hidden part,
the smallest non-empty visible part is hidden too (*complementary* suppression), and a total
whose other parts are all empty is hidden itself. Conversely a hidden total must not be the sum
of its shown parts: when all of its non-empty parts are shown, the smallest is hidden. This
repeats until nothing changes. Totals are both the org hierarchy (team → org unit → parent unit)
and time (a week under the month and the quarter of its Thursday, a month under its quarter —
weeks are not exactly nested, so this is conservative); the decision is made once per people source over the whole organisation and every period,
whoever is asking, so the same figure is hidden on every interface.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

PRIMARY = "primary"
COMPLEMENTARY = "complementary"


def suppressed_units(people: Mapping[str, int],
                     parent: Mapping[str, str | Iterable[str] | None], k: int) -> dict[str, str]:
    """Which units to hide, and why (``primary`` or ``complementary``).

    ``people``: distinct people behind each unit's figure (a unit absent or with 0 people
    describes nobody and is never a primary); ``parent``: each unit's parent, or parents — a
    figure can sit under an org-unit total and under a longer period's total at once.
    """
    if k < 3:
        raise ValueError("the minimum group size is never below 3")
    hidden = {u: PRIMARY for u, n in people.items() if 0 < n < k}
    children: dict[str, list[str]] = {}
    for unit, up in parent.items():
        ups = [] if up is None else [up] if isinstance(up, str) else list(up)
        for p in ups:
            children.setdefault(p, []).append(unit)
    changed = True
    while changed:
        changed = False
        for up, kids in sorted(children.items()):
            if up in hidden:
                # a hidden total must not be the sum of visible parts: if every part with
                # something in it is shown, hide the smallest (its value stays unknown, since
                # the total is)
                filled = [c for c in kids if people.get(c, 0) > 0]
                if filled and not any(c in hidden for c in filled):
                    hidden[min(filled, key=lambda c: (people.get(c, 0), c))] = COMPLEMENTARY
                    changed = True
                continue
            hidden_kids = [c for c in kids if c in hidden]
            if len(hidden_kids) != 1:
                continue
            # hide the smallest sibling that has something to hide: an empty one is known to be
            # empty, so hiding it would protect nothing
            visible = [c for c in kids if c not in hidden and people.get(c, 0) > 0]
            if visible:
                pick = min(visible, key=lambda c: (people.get(c, 0), c))
                hidden[pick] = COMPLEMENTARY
            else:  # the total is the hidden child's own figure
                hidden[up] = COMPLEMENTARY
            changed = True
    return hidden


def reason(why: str, k: int) -> str:
    if why == PRIMARY:
        return f"fewer than {k} people"
    return f"hidden so a smaller group's figure cannot be worked out from a total (minimum {k})"
