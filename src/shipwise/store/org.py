"""The organisation: ``team`` and ``service`` (who owns what)."""

from __future__ import annotations

from typing import Any, TypedDict, cast

from shipwise.domain.services import ServiceMap, ServiceTarget
from shipwise.store.duckdb_store import Store


class TeamRow(TypedDict):
    team: str
    name: str
    org_unit: str
    delivery_unit: str
    services: int


class ServiceRow(TypedDict):
    service: str
    name: str
    team: str


class OrgUnitRow(TypedDict):
    org_unit: str
    name: str
    parent: str | None


class TeamAttributes(TypedDict):
    id: str
    org_unit: str
    attributes: Any  # the team's JSON attributes as stored (text), or None


def teams(store: Store) -> list[TeamRow]:
    """Every team with its org unit, delivery unit and how many services it owns."""
    return cast(list[TeamRow], store.query(
        "SELECT t.id AS team, t.name, t.org_unit, t.delivery_unit, count(s.id) AS services "
        "FROM team t LEFT JOIN service s ON s.team = t.id GROUP BY ALL ORDER BY t.org_unit, t.id"))


def org_units(store: Store) -> list[OrgUnitRow]:
    """Every org unit with its name and parent (None at the top of the hierarchy)."""
    return cast(list[OrgUnitRow], store.query(
        "SELECT id AS org_unit, name, parent FROM org_unit ORDER BY id"))


def services(store: Store) -> list[ServiceRow]:
    """Every service with its owning team, by team."""
    return cast(list[ServiceRow], store.query(
        "SELECT id AS service, name, team FROM service ORDER BY team, id"))


def service_team(store: Store, service: str | None) -> str | None:
    """The team owning ``service`` (None: not a service of any team)."""
    row = store.con.execute("SELECT team FROM service WHERE id = ?", [service]).fetchone()
    return str(row[0]) if row and row[0] is not None else None


def service_teams(store: Store, services: list[str]) -> dict[str, str]:
    """The owning team of each of ``services`` that is known."""
    return {str(s): str(t) for s, t in store.con.execute(
        "SELECT id, team FROM service WHERE id IN (SELECT unnest(?))", [services]).fetchall()}


def service_exists(store: Store, service: str) -> bool:
    row = store.con.execute("SELECT count(*) FROM service WHERE id = ?", [service]).fetchone()
    return bool(row and row[0])


def team_ids(store: Store) -> list[str]:
    """Every team id, sorted."""
    return [str(r[0]) for r in store.con.execute("SELECT id FROM team ORDER BY id").fetchall()]


def team_name(store: Store, team: str) -> str | None:
    """The display name of ``team`` (None: no such team)."""
    row = store.con.execute("SELECT name FROM team WHERE id = ?", [team]).fetchone()
    return str(row[0]) if row else None


def team_exists(store: Store, team: str) -> bool:
    row = store.con.execute("SELECT count(*) FROM team WHERE id = ?", [team]).fetchone()
    return bool(row and row[0])


def team_org_units(store: Store) -> dict[str, str]:
    """team id -> its org unit."""
    return {str(t): str(ou) for t, ou in
            store.con.execute("SELECT id, org_unit FROM team").fetchall()}


def team_attributes(store: Store) -> list[TeamAttributes]:
    """Every team with its org unit and JSON attributes, by id."""
    return cast(list[TeamAttributes],
                store.query("SELECT id, org_unit, attributes FROM team ORDER BY id"))


def service_map(store: Store) -> ServiceMap:
    """Where each repository's deployments go, for connectors (:class:`ServiceMap`): the
    repositories and deploy targets (repository + environment/job patterns, for monorepos) the
    organisation file gives each service (``service_target``), and ``service.repo`` of services
    it gives none (a canonical file's ``service.repo``)."""
    rows = store.con.execute(
        """SELECT service, repo, environment, job FROM (
             SELECT service, repo, environment, job, position FROM service_target
             UNION ALL
             SELECT id, repo, NULL, NULL, 0 FROM service
             WHERE repo IS NOT NULL AND id NOT IN (SELECT service FROM service_target))
           ORDER BY service, position""").fetchall()
    owned = store.con.execute("SELECT id, team FROM service ORDER BY id").fetchall()
    ids = frozenset(str(r[0]) for r in owned)
    teams = frozenset(str(r[0]) for r in store.con.execute("SELECT id FROM team").fetchall())
    return ServiceMap(tuple(ServiceTarget(str(s), str(r), e, j) for s, r, e, j in rows), ids,
                      tuple((str(s), str(t)) for s, t in owned), teams)
