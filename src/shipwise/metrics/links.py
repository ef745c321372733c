"""Linking incidents to the deployments that caused them (docs/incident-links.md).

A wrong link silently changes the change fail rate (the deployment counts as failed) and the time
to restore (measured from that deployment to the incident's resolution), so the rule is explicit
and per team, and ``shipwise explain incident ID`` shows which one linked it. In precedence:

1. **explicit**: the incident's ``caused_by`` names a production deployment;
2. **label**: a label ``<deploy prefix><deployment id>`` (default ``deploy:``) names a production
   deployment of any service, or ``<version prefix><version>`` (default ``version:``) a version of
   the incident's service that reached production (the latest such deployment before the
   incident opened, else the first after);
3. **window**: the latest production deployment of the incident's service that reached production
   within ``incident_window_hours`` before the incident opened — only for teams that set it.

The owning team of the incident's service (on the day it opened) gives the rules: its
attributes ``incident_window_hours`` (0 < N ≤ 720; unset: no window links) and ``incident_labels``
(``{deployment: "deploy:", version: "version:"}``; a null prefix turns that kind off). They are
materialised in ``incident_link_policy`` by every facts refresh (:func:`write_policy`) so the link
query is portable SQL that runs on Spark too.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import duckdb
import pyarrow as pa

DEFAULT_DEPLOY_PREFIX = "deploy:"
DEFAULT_VERSION_PREFIX = "version:"
MAX_WINDOW_HOURS = 720.0
BASES = ("explicit", "label", "window")

POLICY_SCHEMA = pa.schema([("team", pa.string()), ("window_hours", pa.float64()),
                           ("deploy_prefix", pa.string()), ("version_prefix", pa.string())])


def window_hours(value: Any) -> float | None:
    """A team's ``incident_window_hours`` when valid (0 < N ≤ 720), else None (no window)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    hours = float(value)
    return hours if math.isfinite(hours) and 0 < hours <= MAX_WINDOW_HOURS else None


def prefixes(value: Any) -> tuple[str | None, str | None]:
    """A team's (deployment, version) label prefixes from ``incident_labels``; defaults when it
    is unset, none for a kind set to null or an empty text."""
    if not isinstance(value, Mapping):
        return DEFAULT_DEPLOY_PREFIX, DEFAULT_VERSION_PREFIX

    def one(key: str, default: str) -> str | None:
        if key not in value:
            return default
        v = value[key]
        return v if isinstance(v, str) and v else None

    return one("deployment", DEFAULT_DEPLOY_PREFIX), one("version", DEFAULT_VERSION_PREFIX)


def policy(attributes: Mapping[str, Any]) -> tuple[float | None, str | None, str | None]:
    """(window hours, deployment label prefix, version label prefix) of a team's attributes."""
    deploy, version = prefixes(attributes.get("incident_labels"))
    return window_hours(attributes.get("incident_window_hours")), deploy, version


def policy_table(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """Every team's link rules, from the team attributes."""
    rows = con.execute("SELECT id, attributes FROM team ORDER BY id").fetchall()
    cols: dict[str, list[Any]] = {"team": [], "window_hours": [], "deploy_prefix": [],
                                  "version_prefix": []}
    for team, raw in rows:
        try:
            attrs = json.loads(raw) if isinstance(raw, str) else (raw or {})
        except ValueError:
            attrs = {}
        hours, deploy, version = policy(attrs if isinstance(attrs, Mapping) else {})
        for key, value in zip(cols, (team, hours, deploy, version), strict=True):
            cols[key].append(value)
    return pa.table(cols, schema=POLICY_SCHEMA)


def write_policy(con: duckdb.DuckDBPyConnection) -> None:
    """Materialise ``incident_link_policy`` (inside the caller's transaction)."""
    table = policy_table(con)
    con.register("_link_policy_rows", table)
    try:
        con.execute("DELETE FROM incident_link_policy")
        con.execute("INSERT INTO incident_link_policy SELECT * FROM _link_policy_rows")
    finally:
        con.unregister("_link_policy_rows")
