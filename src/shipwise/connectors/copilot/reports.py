"""Pure aggregation of GitHub's Copilot usage metrics reports (per person) to ``ai_usage`` rows
(per team): the only place the per-person rows exist, in memory, for one day.

Two NDJSON reports of one day are read (docs.github.com, "Copilot usage metrics API and export
fields" and "Team-level Copilot usage metrics"):

* ``users-1-day``: one record per person active that day — ``user_id``, ``user_login``, ``day``,
  ``code_generation_activity_count``, ``code_acceptance_activity_count``,
  ``loc_suggested_to_add_sum``, ``loc_added_sum``, ``user_initiated_interaction_count``, the
  ``used_agent`` / ``used_chat`` / ``used_cli`` indicators, ``totals_by_feature[]`` (``feature``
  with the same counts per feature: ``code_completion``, ``chat_panel_agent_mode`` …) and
  ``totals_by_cli`` (``session_count`` …);
* ``user-teams-1-day``: one record per (person, team) — ``user_id``, ``user_login``, ``day``,
  ``organization_id``, ``team_id``, ``slug``. A person on several teams has several records.

Only the columns below are parsed (``user_login`` never is); the join and the sums are Arrow
compute kernels (hash join, hash group-by), not a Python loop over people. A person counts once
in each shipwise team they belong to through any mapped GitHub team (two GitHub teams mapped to
the same shipwise team count them once); a person on two shipwise teams counts in both.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from shipwise.connectors.copilot.mapping import SCHEMA, TOOL

_COUNTS = [("code_generation_activity_count", pa.int64()),
           ("code_acceptance_activity_count", pa.int64()),
           ("user_initiated_interaction_count", pa.int64())]

USERS = pa.schema([
    ("user_id", pa.int64()),
    *_COUNTS,
    ("loc_suggested_to_add_sum", pa.int64()), ("loc_added_sum", pa.int64()),
    ("used_agent", pa.bool_()), ("used_chat", pa.bool_()), ("used_cli", pa.bool_()),
    ("totals_by_feature", pa.list_(pa.struct([("feature", pa.string()), *_COUNTS]))),
    ("totals_by_cli", pa.struct([("session_count", pa.int64())])),
])

USER_TEAMS = pa.schema([("user_id", pa.int64()), ("slug", pa.string())])

#: the feature of inline code completions in ``totals_by_feature``
COMPLETION = "code_completion"
#: the feature of agent mode in the IDE's chat panel
AGENT_MODE = "chat_panel_agent_mode"


@dataclass(frozen=True)
class DayUsage:
    """One day aggregated: the ``ai_usage`` rows, and how many people were on no mapped team
    (counted, never stored)."""

    table: pa.Table
    people: int
    unmapped: int


def read_ndjson(parts: list[bytes], schema: pa.Schema) -> pa.Table:
    """The records of the NDJSON files ``parts`` in ``schema``'s columns (other fields are
    skipped, absent ones are null)."""
    options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    tables = [pj.read_json(io.BytesIO(p), parse_options=options) for p in parts if p.strip()]
    if not tables:
        return schema.empty_table()
    return pa.concat_tables([t.select(schema.names).cast(schema) for t in tables])


def _per_user(users: pa.Table) -> pa.Table:
    """One row per person with the counts used (people listed twice are summed once each)."""
    features = users.column("totals_by_feature")
    flat = pc.list_flatten(features)
    parent = pc.list_parent_indices(features)
    feature = pc.struct_field(flat, "feature") if len(flat) else pa.array([], pa.string())

    def by_feature(name: str, field: str) -> pa.Array:
        if not len(flat):
            return pa.nulls(users.num_rows, pa.int64())
        picked = pa.table({"i": parent, "v": pc.struct_field(flat, field)}).filter(
            pc.equal(feature, name))
        summed = picked.group_by("i").aggregate([("v", "sum")])
        return pa.table({"i": pa.array(range(users.num_rows), pa.int64())}).join(
            summed, "i", join_type="left outer").sort_by("i").column("v_sum").combine_chunks()

    cli = users.column("totals_by_cli")
    sessions = pc.struct_field(cli, "session_count") if users.num_rows else pa.array([], pa.int64())
    engaged = pc.or_kleene(
        pc.or_kleene(pc.greater(users.column("code_acceptance_activity_count"), 0),
                     pc.greater(users.column("user_initiated_interaction_count"), 0)),
        pc.or_kleene(pc.or_kleene(users.column("used_agent"), users.column("used_chat")),
                     users.column("used_cli")))
    return pa.table({
        "user_id": users.column("user_id"),
        "engaged": pc.cast(pc.fill_null(engaged, False), pa.int64()),
        "suggestions_shown": by_feature(COMPLETION, "code_generation_activity_count"),
        "suggestions_accepted": by_feature(COMPLETION, "code_acceptance_activity_count"),
        "lines_suggested": users.column("loc_suggested_to_add_sum"),
        "lines_accepted": users.column("loc_added_sum"),
        "chat_sessions": users.column("user_initiated_interaction_count"),
        "agent_prompts": by_feature(AGENT_MODE, "user_initiated_interaction_count"),
        "cli_sessions": sessions,
    })


_SUMS = ["suggestions_shown", "suggestions_accepted", "lines_suggested", "lines_accepted",
         "chat_sessions", "agent_prompts", "cli_sessions"]


def aggregate(users: pa.Table, user_teams: pa.Table, teams: Mapping[str, str], day: date,
              source: str, org_team: str | None = None) -> DayUsage:
    """The ``ai_usage`` rows of one day, one per shipwise team of ``teams`` (GitHub team slug
    -> shipwise team) and ``org_team`` (optional: everyone in the report); a team nobody of was
    active has 0 active and engaged users and empty counts."""
    people = _per_user(users.filter(pc.is_valid(users.column("user_id"))))
    grouped = people.group_by("user_id").aggregate(
        [("engaged", "max"), *((c, "sum") for c in _SUMS)])
    people = pa.table({"user_id": grouped.column("user_id"),
                       "engaged": grouped.column("engaged_max"),
                       **{c: grouped.column(f"{c}_sum") for c in _SUMS}})
    mapping = pa.table({"slug": pa.array(list(teams), pa.string()),
                        "team": pa.array(list(teams.values()), pa.string())})
    members = user_teams.join(mapping, "slug", join_type="inner").select(["user_id", "team"])
    members = members.group_by(["user_id", "team"]).aggregate([])  # once per shipwise team
    if org_team:
        everyone = pa.table({"user_id": people.column("user_id"),
                             "team": pa.array([org_team] * people.num_rows, pa.string())})
        members = pa.concat_tables([members, everyone]).group_by(["user_id", "team"]).aggregate([])
    joined = people.join(members, "user_id", join_type="inner")
    mapped = pc.count_distinct(joined.column("user_id")).as_py() if joined.num_rows else 0
    per_team = joined.group_by("team").aggregate(
        [("user_id", "count"), ("engaged", "sum"), *((c, "sum") for c in _SUMS)])
    # every mapped team has its day, 0 active when nobody was: a corrected day replaces it
    targets = sorted({*teams.values(), *([org_team] if org_team else [])})
    per_team = pa.table({"team": pa.array(targets, pa.string())}).join(
        per_team, "team", join_type="left outer").sort_by("team")
    n = per_team.num_rows

    def col(name: str) -> pa.Array:
        return per_team.column(name).combine_chunks()

    agent = pc.add_checked(pc.fill_null(col("agent_prompts_sum"), 0),
                           pc.fill_null(col("cli_sessions_sum"), 0))
    no_agent = pc.and_(pc.is_null(col("agent_prompts_sum")), pc.is_null(col("cli_sessions_sum")))
    table = pa.table({
        "team": col("team"),
        "day": pa.array([day] * n, pa.date32()),
        "tool": pa.array([TOOL] * n, pa.string()),
        "active_users": pc.fill_null(col("user_id_count"), 0),
        "engaged_users": pc.fill_null(col("engaged_sum"), 0),
        "suggestions_shown": col("suggestions_shown_sum"),
        "suggestions_accepted": col("suggestions_accepted_sum"),
        "lines_suggested": col("lines_suggested_sum"),
        "lines_accepted": col("lines_accepted_sum"),
        "chat_sessions": col("chat_sessions_sum"),
        "agent_sessions": pc.if_else(no_agent, pa.scalar(None, pa.int64()), agent),
        "source": pa.array([source] * n, pa.string()),
    }, schema=SCHEMA)
    return DayUsage(table, people.num_rows, people.num_rows - mapped)

