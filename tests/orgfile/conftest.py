"""An organisation file and helpers to apply it to a real store (the ``settings`` fixture's)."""

from __future__ import annotations

from datetime import date
from typing import Any

from shipwise.app.caller import local_caller
from shipwise.app.orgfile import apply_org, export_org
from shipwise.app.results import OrgApplyResult
from shipwise.config import Settings
from shipwise.store.duckdb_store import Store

#: the day plans are made on (ledger moved from payments to platform on 2026-04-01)
TODAY = date(2026, 9, 1)

ORG = """\
version: 1
org_units:
  - id: eng
    name: Engineering
  - id: money
    name: Money
    parent: eng
teams:
  - id: payments
    name: Payments
    org_unit: money
    delivery_unit: deployments
    timezone: Europe/Lisbon
    working_hours: "09:00-17:30"
    working_days: [1, 2, 3, 4, 5]
    team_type: stream-aligned
    location: Lisbon
    working_arrangement: hybrid
  - id: platform
    name: Platform
    org_unit: eng
    delivery_unit: pull_requests
    attributes: {cost_centre: CC-12}
people:
  - emails: [ana@acme.com, ana.old@acme.com]
    logins: [ana-gh]
    memberships:
      - {team: payments, since: 2025-01-01, until: 2026-03-31}
      - {team: platform, since: 2026-04-01}
  - emails: [bo@acme.com]
    memberships:
      - {team: payments, since: 2025-01-01}
  - logins: ["renovate[bot]"]
    bot: true
    memberships: [{team: platform, since: 2024-01-01}]
services:
  - id: pay-api
    name: Pay API
    team: payments
    repos: [acme/pay-api]
  - id: ledger
    name: Ledger
    owners:
      - {team: payments, until: 2026-03-31}
      - {team: platform, since: 2026-04-01}
    repos: [acme/ledger]
    deploy_targets:
      - {repo: acme/mono, environment: "prod*", job: "deploy-ledger*"}
"""

#: every table org apply may write, for "nothing was written" checks
TABLES = ("org_unit", "team", "service", "person", "person_alias", "service_owner",
          "service_target", "ingest_run", "quarantine")


def apply(settings: Settings, text: str = ORG, **kw: Any) -> OrgApplyResult:
    kw.setdefault("today", TODAY)
    with local_caller(settings) as c:
        return apply_org(c, text, "org.yaml", **kw)


def export(settings: Settings) -> str:
    with local_caller(settings) as c:
        return export_org(c, today=TODAY).yaml


def snapshot(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    """Every row (with its ingested_at / applied_at) of the tables org apply writes."""
    with Store.open(settings.db) as s:
        return {t: sorted(map(tuple, s.con.execute(f'SELECT * FROM "{t}"').fetchall()), key=repr)
                for t in TABLES}
