"""Small-group suppression of people-derived figures, with complementary suppression.

A figure computed from fewer than ``k`` people (default 5, never below 3) says too much about
each of them: it is hidden (*primary* suppression). Hiding it is not enough when a parent total
is shown — the team's figure would be the org unit's minus its visible siblings — so under every
visible parent with exactly one hidden child, the next smallest sibling is hidden too
(*complementary* suppression), and a parent whose only child is hidden is hidden itself. This
repeats until nothing changes. It runs once per period and people source over the whole
organisation, whoever is asking, so the same figure is hidden on every interface.
"""

from __future__ import annotations

from collections.abc import Mapping

PRIMARY = "primary"
COMPLEMENTARY = "complementary"


def suppressed_units(people: Mapping[str, int], parent: Mapping[str, str | None],
                     k: int) -> dict[str, str]:
    """Which units to hide, and why (``primary`` or ``complementary``).

    ``people``: distinct people behind each unit's figure (a unit absent or with 0 people
    describes nobody and is never a primary); ``parent``: each unit's parent (None at the root).
    """
    if k < 3:
        raise ValueError("the minimum group size is never below 3")
    hidden = {u: PRIMARY for u, n in people.items() if 0 < n < k}
    children: dict[str, list[str]] = {}
    for unit, up in parent.items():
        if up is not None:
            children.setdefault(up, []).append(unit)
    changed = True
    while changed:
        changed = False
        for up, kids in sorted(children.items()):
            if up in hidden:
                continue  # an unknown parent total reveals nothing about its children
            hidden_kids = [c for c in kids if c in hidden]
            if len(hidden_kids) != 1:
                continue
            visible = [c for c in kids if c not in hidden]
            if visible:
                pick = min(visible, key=lambda c: (people.get(c, 0), c))
                hidden[pick] = COMPLEMENTARY
            else:
                hidden[up] = COMPLEMENTARY
            changed = True
    return hidden


def reason(why: str, k: int) -> str:
    if why == PRIMARY:
        return f"fewer than {k} people"
    return f"hidden so a smaller group's figure cannot be worked out from a total (minimum {k})"
