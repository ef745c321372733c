"""A deterministic synthetic software organisation, in the canonical event format v1.

``generate(seed, scale, end, quarters)`` returns every record type of
:mod:`shipwise.domain.schema` as Arrow tables (in the schema's order: every type after the types
it references), plus ``story``: machine-readable facts about what the numbers should show (who
adopted delivery automation and when, which team bought speed with quality, which quarter was the
platform migration, which SLO burns fast or slowly at the end, whose on-call rota is concentrated,
which team is too small for people-derived figures).

Everything is vectorised with numpy: loops run over teams, quarters or story waves, never over
events. Volumes are drawn as counts per (team or service, day) and expanded (work and releases
track each team's story closely, see :func:`~shipwise.demo.arrays._smooth_counts`; incidents and pages are Poisson);
times are drawn in *working hours* on each team's local calendar (see :class:`~shipwise.demo.story.Calendar`)
and mapped to UTC, which gives weekday and office-hour rhythms and a quiet late December.

Conventions the rest of shipwise can rely on:

* a service's repository is named exactly like the service id (``service.repo == service.id ==
  commit.repo``); a few pull requests of stream-aligned teams are authored in a platform team's
  repository, and their commits ship with that repository's service;
* team attributes name the team's ``timezone`` (IANA); pages are timed in it;
* an sli row counts the interval ending at ``at``: 6-hour intervals, then 5-minute intervals over
  the last 7 days (the coarse series ends where the fine one begins);
* ``ticket_status`` rows are status changes of the tickets of the teams with a tracker; a blocked
  status names the team waited on (``blocked_on``);
* every commit merged to trunk is shipped by the first successful production release of its
  service built after the merge (a release is built when its staging deployment starts; rollback
  deployments ship nothing); a production attempt that failed or was rolled
  back also lists the commits it tried to ship. Staging and rollback deployments list none;
* multi-region releases are one deployment per region with the same ``version``; every
  successful release is also a git tag ``v<version>`` on the newest commit it shipped;
* a commit that no pull request lists went straight to trunk (the release train's way);
* the data is a snapshot at the end of ``end``: nothing happens later, and spans still running
  then are open (``resolved_at``/``merged_at`` null).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shipwise.demo import story as st
from shipwise.demo.ai import agent_breakage, ai_world, investment_row
from shipwise.demo.arrays import _concat, _ids, _shas, _strings, _take
from shipwise.demo.incidents import incident_table, incidents, on_call_pages
from shipwise.demo.money import investments, money
from shipwise.demo.releases import (
    deployments,
    normal_releases,
    release_times,
    release_versions,
    ship,
)
from shipwise.demo.sim import Sim
from shipwise.demo.slos import slo_id, slos
from shipwise.demo.tickets import ticket_status
from shipwise.demo.work import bot_work, human_work, merge_work, pr_table
from shipwise.domain.schema import BY_NAME, RECORD_TYPES, Kind, RecordType


@dataclass(frozen=True)
class DemoOrg:
    """Canonical tables keyed by record type name, and the facts of the story they tell."""

    tables: dict[str, pa.Table]
    story: dict[str, object]

    def event_count(self) -> int:
        return sum(t.num_rows for t in self.tables.values())


def _run(sim: Sim) -> DemoOrg:
    o, p, end_s = sim.org, sim.plan, sim.end_s
    human = human_work(sim)
    bots = bot_work(sim)
    r0 = normal_releases(sim)
    inc, hot, r1 = incidents(sim, r0, release_times(sim, r0))
    prs, commits = merge_work([human, bots, hot])
    rel = _concat([r0, r1])
    rt = release_times(sim, rel)
    pages = on_call_pages(sim, inc)

    # the snapshot: nothing after the end of `end`; spans still running are open
    commits = _take(commits, commits["committed"] < end_s)
    kept_pr = np.flatnonzero(prs["created"] < end_s)
    pr_map = np.full(prs["created"].shape[0] + 1, -1)  # last slot: commits without a PR
    pr_map[kept_pr] = np.arange(kept_pr.shape[0])
    on_branch = commits["pr"] >= 0
    commits["pr"] = pr_map[commits["pr"]]
    # branch commits of pull requests opened after the snapshot are not in it either
    commits = _take(commits, ~on_branch | (commits["pr"] >= 0))
    prs = _take(prs, kept_pr)
    for k in ("first_review", "merged", "closed"):
        prs[k] = np.where(prs[k] >= end_s, np.nan, prs[k])
    commits["avail"] = np.where(commits["avail"] >= end_s, np.nan, commits["avail"])
    shas = _shas(sim.rng, commits["pr"].shape[0])

    # which release shipped which commit
    rel_lists, rel_len = ship(sim, rel, commits)
    # AI adoption and agent-authored changes (a random stream of its own: nothing above changes)
    bad_rel = np.isin(rel["status"], (1, 2))
    bad_rel[inc["caused"][(inc["caused"] >= 0) & (inc["caused"] < bad_rel.shape[0])]] = True
    failed_commit = np.zeros(commits["pr"].shape[0], bool)
    failed_commit[rel_lists[np.repeat(bad_rel, rel_len)]] = True
    ai = ai_world(sim, prs, commits, failed_commit)

    tables: dict[str, pa.Table] = {}
    tables["org_unit"] = pa.table({
        "id": pa.array([u[0] for u in o.org_units]),
        "name": pa.array([u[1] for u in o.org_units]),
        "parent": pa.array([u[2] for u in o.org_units], pa.string()),
    })
    tables["team"] = pa.table({
        "id": pa.array(o.team_id), "name": pa.array(o.team_name),
        "org_unit": pa.array(o.team_ou), "delivery_unit": pa.array(o.unit),
        "attributes": pa.array(o.attributes),
    })
    tables["service"] = pa.table({
        "id": pa.array(o.svc_id), "name": pa.array(o.svc_name),
        "team": _strings(o.team_id, o.svc_team), "repo": pa.array(o.svc_id),
    })
    epoch = (p.start - dt.date(1970, 1, 1)).days
    tables["person"] = pa.table({
        "id": _strings(o.person_id, o.m_person),
        "team": _strings(o.team_id, o.m_team),
        "since": pa.array((epoch + o.m_since).astype(np.int32)).cast(pa.date32()),
        "until": pa.array((epoch + o.m_until).astype(np.int32), mask=o.m_until < 0).cast(pa.date32()),
        "bot": pa.array(o.m_bot),
    })
    nc = commits["pr"].shape[0]
    tables["commit"] = pa.table({
        "sha": shas,
        "repo": _strings(o.svc_id, commits["service"]),
        "author": _strings(o.person_id, commits["author"]),
        "authored_at": sim.ts(commits["authored"]),
        "committed_at": sim.ts(commits["committed"]),
        "additions": pa.array(commits["additions"]),
        "deletions": pa.array(commits["deletions"]),
        "files_changed": pa.array(commits["files"]),
        "parents": pa.nulls(nc, pa.list_(pa.string())),
        "author_kind": ai.commit_kind, "agent": ai.commit_agent,
    })
    tables["pull_request"] = (pr_table(sim, prs, commits, shas)
                              .append_column("author_kind", ai.pr_kind)
                              .append_column("agent", ai.pr_agent))
    dep, prod0 = deployments(sim, rel, rt, rel_lists, rel_len, shas)
    # release tags on the newest commit each successful release shipped
    tagged = np.flatnonzero((rel["status"] == 0) & (prod0 >= 0) & (rel_len > 0))
    last = (np.cumsum(rel_len) - 1)[tagged]
    seq, _ = release_versions(rel)
    tables["tag"] = pa.table({
        "repo": _strings(o.svc_id, rel["service"][tagged]),
        "name": pc.binary_join_element_wise("v1.", pa.array(seq[tagged]).cast(pa.string()), ".0", ""),
        "sha": shas.take(pa.array(rel_lists[last])),
        "tagged_at": sim.ts(rel["build"][tagged]),
        "tagger": _strings(o.person_id, np.full(tagged.shape[0], o.n_humans + st.BOTS.index("deploy-bot[bot]"))),
    })
    inc_t, inc_ids, inc_new = incident_table(sim, inc, prod0, dep)
    rem = dep.column("remediates").to_numpy(zero_copy_only=False)
    rem = np.where(np.isnan(rem), -1, rem).astype(np.int64)
    dep = dep.set_column(
        dep.schema.get_field_index("remediates"), "remediates",
        _strings(inc_ids, np.where(rem >= 0, inc_new[np.maximum(rem, 0)], -1), null=rem < 0),
    )
    tables["deployment"] = dep
    tables["incident"] = inc_t
    keep = np.flatnonzero(pages["at"] < end_s)
    keep = keep[np.argsort(pages["at"][keep], kind="stable")]
    tables["page"] = pa.table({
        "id": _ids("PG-", keep.shape[0], 7),
        "team": _strings(o.team_id, pages["team"][keep]),
        "person": _strings(o.person_id, pages["person"][keep]),
        "at": sim.ts(pages["at"][keep]),
        "urgency": _strings(["low", "high"], pages["high"][keep].astype(np.int64)),
    })
    tables["cost"], tables["headcount"] = money(sim)
    tables["investment"] = investment_row(investments(sim), ai.investment)
    tables["incident"] = agent_breakage(ai, sim, tables["commit"], dep, tables["incident"])
    tables["ai_usage"] = ai.usage
    tables["ai_usage_person"] = _empty(BY_NAME["ai_usage_person"])
    tables["slo"], tables["sli"] = slos(sim, inc)
    tables["ticket_status"] = ticket_status(sim)
    # one currency (no exchange rates); people cost and FTE come as cost and headcount records
    tables["fx_rate"] = _empty(BY_NAME["fx_rate"])
    tables["people_cost"] = _empty(BY_NAME["people_cost"])
    # the demo's on-call load is its pages; rota shifts come from PagerDuty and Opsgenie
    tables["oncall_shift"] = _empty(BY_NAME["oncall_shift"])
    # the canonical order: every type after the types it references (files are written in it)
    return DemoOrg({rt.name: _complete(rt, tables[rt.name]) for rt in RECORD_TYPES},
                   {**_story(sim), **ai.story})


_ARROW = {Kind.NUMBER: pa.float64(), Kind.INT: pa.int64(), Kind.BOOL: pa.bool_(),
          Kind.INSTANT: pa.timestamp("us", tz="UTC"), Kind.DATE: pa.date32(),
          Kind.TEXT_LIST: pa.list_(pa.string())}


def _empty(rt: RecordType) -> pa.Table:
    """A type the demo has no records of, with its columns in their Arrow types."""
    return pa.table({f.name: pa.array([], _ARROW.get(f.kind, pa.string())) for f in rt.fields})


def _complete(rt: RecordType, table: pa.Table) -> pa.Table:
    """The table in the schema's column order, with the optional text fields the demo has no
    value for (``source``, ``rule``: provenance that connectors fill; incident ``labels``) as null
    columns."""
    for f in rt.fields:
        if f.name not in table.column_names:
            if f.required or f.kind not in (Kind.TEXT, Kind.TEXT_LIST):
                raise ValueError(f"demo {rt.name} lacks {f.name}")
            kind = pa.string() if f.kind is Kind.TEXT else pa.list_(pa.string())
            table = table.append_column(f.name, pa.nulls(table.num_rows, kind))
    return table.select([f.name for f in rt.fields])


def _story(sim: Sim) -> dict[str, object]:
    o, p = sim.org, sim.plan
    adopters = [o.team_id[i] for i in np.flatnonzero(o.wave >= 0)]
    wave_of = {o.team_id[i]: int(o.wave[i]) for i in np.flatnonzero(o.wave >= 0)}
    sfq = [o.team_id[i] for i in np.flatnonzero(o.sfq)]
    return {
        "start": p.start,
        "end": p.end,
        "quarters": [p.quarter_label(i) for i in range(len(p.quarter_starts))],
        "adopters": adopters,
        "adoption_quarter": {t: p.quarter_label(p.wave_quarters[w]) for t, w in wave_of.items()},
        "adoption_date": {t: p.date(p.wave_days[w]) for t, w in wave_of.items()},
        "speed_for_quality_team": sfq[0],
        "speed_for_quality_from": p.quarter_label(p.sfq_quarter),
        "migration_quarter": p.quarter_label(p.migration_quarter),
        "ai_assistant_teams": [o.team_id[i] for i in np.flatnonzero(o.ai)],
        "ai_assistant_from": p.quarter_label(p.ai_quarter),
        "release_train_teams": [o.team_id[i] for i in np.flatnonzero(sim.train)],
        "non_adopters": [o.team_id[i] for i in np.flatnonzero((o.wave < 0) & ~o.sfq)],
        "bots": list(st.BOTS),
        "repo_of_service": "service.repo, commit.repo and pull_request.repo equal the service id",
        "currency": "USD",
        "slo_fast_burn": slo_id(o.svc_id[o.svc_lo[sim.fast_team]]),
        "slo_slow_burn": slo_id(o.svc_id[o.svc_lo[sim.slow_team]]),
        "appetite_cut_team": o.team_id[sim.fast_team],
        "appetite_cut_from": p.date(sim.outage_day + 1),
        "concentrated_oncall_teams": [o.team_id[i] for i in np.flatnonzero(o.spec("rota") > 0)],
        "small_teams": [o.team_id[i] for i in np.flatnonzero((o.spec("size") > 0) & (o.spec("size") < 5))],
        "ticket_teams": [o.team_id[i] for i in np.flatnonzero(o.spec("tracker") != "")],
        "cross_team_repos_of": [o.team_id[i] for i in np.flatnonzero(np.isin(o.pos, _catalog_pos(st.CROSS_TEAM_REPOS)))],
    }


def _catalog_pos(slugs: tuple[str, ...]) -> list[int]:
    return [[c.slug for c in st.CATALOG].index(s) for s in slugs]


def generate(
    seed: int = 7, scale: float = 1.0, end: dt.date = dt.date(2026, 9, 30), quarters: int = 8
) -> DemoOrg:
    """The demo organisation: ``quarters`` calendar quarters ending with the one holding ``end``.

    ``scale`` multiplies the volume: below 1 the same organisation is less busy; above 1 the
    fifteen-team block is repeated ``round(scale)`` times (about 250 people per block) in new
    business units, so scale 50 is 750 teams and about 13.5 million events. The same arguments
    always give the same tables. Costs and headcount cover complete months only, so pick ``end``
    at the end of a quarter for whole quarters (the default). ``quarters`` must be at least 6.
    """
    return _run(Sim(seed, scale, end, quarters))
