"""Small-group suppression: primary, complementary, and the minimum that cannot go below 3."""

from __future__ import annotations

import pytest

from shipwise.governance.suppression import COMPLEMENTARY, PRIMARY, suppressed_units

TREE = {"org": None, "ou:a": "org", "ou:b": "org",
        "t1": "ou:a", "t2": "ou:a", "t3": "ou:a", "t4": "ou:b", "t5": "ou:b"}


def test_one_small_team_hides_its_smallest_sibling_too() -> None:
    people = {"org": 50, "ou:a": 23, "ou:b": 27, "t1": 3, "t2": 8, "t3": 12, "t4": 13, "t5": 14}
    hidden = suppressed_units(people, TREE, 5)
    # t1 = ou:a − t2 − t3 would give t1 away: t2 (the smallest visible sibling) goes too
    assert hidden == {"t1": PRIMARY, "t2": COMPLEMENTARY}


def test_two_small_teams_protect_each_other() -> None:
    people = {"org": 50, "ou:a": 23, "ou:b": 27, "t1": 3, "t2": 4, "t3": 16, "t4": 13, "t5": 14}
    assert suppressed_units(people, TREE, 5) == {"t1": PRIMARY, "t2": PRIMARY}


def test_an_only_child_hides_its_parent_and_the_cascade_continues() -> None:
    tree = {"org": None, "ou:a": "org", "ou:b": "org", "t1": "ou:a", "t4": "ou:b", "t5": "ou:b"}
    people = {"org": 30, "ou:a": 4, "ou:b": 26, "t1": 4, "t4": 12, "t5": 14}
    hidden = suppressed_units(people, tree, 5)
    # ou:a is small itself; then org − ou:b would give it away, so ou:b goes too
    assert hidden["t1"] == PRIMARY and hidden["ou:a"] == PRIMARY
    assert hidden["ou:b"] == COMPLEMENTARY


def test_no_recovery_by_subtraction_anywhere() -> None:
    """For every visible parent, never exactly one hidden child (the rule that makes a hidden
    figure impossible to work out from a total), over many random organisations."""
    import random

    rnd = random.Random(7)
    for _ in range(300):
        tree: dict[str, str | None] = {"org": None}
        people: dict[str, int] = {}
        for u in range(rnd.randint(1, 4)):
            tree[f"ou{u}"] = "org"
            for t in range(rnd.randint(1, 5)):
                tree[f"ou{u}.t{t}"] = f"ou{u}"
                people[f"ou{u}.t{t}"] = rnd.choice([0, 1, 2, 3, 4, 5, 6, 9, 15])
        for u in [k for k, v in tree.items() if v == "org"]:
            people[u] = sum(n for k, n in people.items() if tree.get(k) == u)
        people["org"] = sum(people[k] for k, v in tree.items() if v == "org")
        hidden = suppressed_units(people, tree, 5)
        assert all(u in hidden for u, n in people.items() if 0 < n < 5)
        for parent in tree:
            kids = [k for k, v in tree.items() if v == parent]
            if parent in hidden:  # never the sum of shown parts
                filled = [k for k in kids if people.get(k, 0) > 0]
                assert not filled or any(k in hidden for k in filled), (parent, people, hidden)
                continue
            assert sum(k in hidden for k in kids) != 1, (parent, people, hidden)


def test_the_minimum_is_never_below_three() -> None:
    with pytest.raises(ValueError):
        suppressed_units({"t": 2}, {"t": None}, 2)
    from pydantic import ValidationError

    from shipwise.config import PrivacySettings

    with pytest.raises(ValidationError):
        PrivacySettings(min_group_size=2)


def test_time_is_a_total_too() -> None:
    """A month is the quarter minus its other months: one hidden month hides another."""
    parents = {"t@2025-07": ["t@2025-Q3"], "t@2025-08": ["t@2025-Q3"], "t@2025-09": ["t@2025-Q3"],
               "t@2025-Q3": []}
    people = {"t@2025-07": 6, "t@2025-08": 7, "t@2025-09": 2, "t@2025-Q3": 9}
    assert suppressed_units(people, parents, 5) == {"t@2025-09": PRIMARY,
                                                    "t@2025-07": COMPLEMENTARY}


def test_an_empty_sibling_protects_nothing() -> None:
    """Hiding a sibling known to be empty would not hide anything: the total goes instead."""
    tree = {"ou": None, "a": "ou", "b": "ou"}
    assert suppressed_units({"ou": 3, "a": 3, "b": 0}, tree, 5) == {"a": PRIMARY, "ou": PRIMARY}
    assert suppressed_units({"ou": 6, "a": 3, "b": 0, "c": 3},
                            {**tree, "c": "ou"}, 5) == {"a": PRIMARY, "c": PRIMARY}


def test_a_hidden_total_is_never_the_sum_of_shown_parts() -> None:
    """ou:b is hidden to protect ou:a; were both its teams shown, their sum would give ou:b and
    then org − ou:b would give ou:a away."""
    tree = {"org": None, "ou:a": "org", "ou:b": "org", "t1": "ou:a", "t2": "ou:b", "t3": "ou:b"}
    people = {"org": 34, "ou:a": 4, "ou:b": 30, "t1": 4, "t2": 14, "t3": 16}
    hidden = suppressed_units(people, tree, 5)
    assert hidden == {"t1": PRIMARY, "ou:a": PRIMARY, "ou:b": COMPLEMENTARY, "t2": COMPLEMENTARY}
