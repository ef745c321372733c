from __future__ import annotations

from shipwise.config import Settings
from shipwise.store import org
from shipwise.store.duckdb_store import Store


def test_teams_with_their_units_and_service_counts(store: Store) -> None:
    assert org.teams(store) == [
        {"team": "search", "name": "Search", "org_unit": "discovery", "delivery_unit": "releases",
         "services": 1},
        {"team": "payments", "name": "Payments", "org_unit": "money",
         "delivery_unit": "deployments", "services": 2},
    ]


def test_services_and_who_owns_them(store: Store) -> None:
    assert [(s["service"], s["team"]) for s in org.services(store)] == [
        ("ledger", "payments"), ("pay-api", "payments"), ("search-api", "search")]
    assert org.service_team(store, "ledger") == "payments"
    assert org.service_team(store, "nope") is None
    assert org.service_team(store, None) is None
    assert org.service_teams(store, ["ledger", "search-api", "nope"]) == {
        "ledger": "payments", "search-api": "search"}
    assert org.service_exists(store, "pay-api") and not org.service_exists(store, "payments")


def test_team_ids_units_and_attributes(store: Store) -> None:
    assert org.team_ids(store) == ["payments", "search"]
    assert org.team_exists(store, "search") and not org.team_exists(store, "pay-api")
    assert org.team_org_units(store) == {"payments": "money", "search": "discovery"}
    attrs = org.team_attributes(store)
    assert [(a["id"], a["org_unit"]) for a in attrs] == [("payments", "money"), ("search", "discovery")]
    assert attrs[1]["attributes"] is None and "tz" in str(attrs[0]["attributes"])


def test_an_empty_organisation(settings: Settings) -> None:
    with Store.open(settings.db) as s:
        assert org.teams(s) == [] and org.services(s) == [] and org.team_ids(s) == []
        assert org.service_teams(s, []) == {}
