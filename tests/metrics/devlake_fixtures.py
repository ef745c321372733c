"""Apache DevLake's DORA e2e fixtures, read and converted to shipwise's canonical records.

The fixtures live in ``<repo>/../shared/reference/devlake-dora`` (see its NOTICE.md). DevLake's
tables map onto the canonical format as follows:

- a DevLake **project** is a team (``team.id`` = project name) in one org unit ``devlake``;
- a ``cicd_deployment_commits`` row (one repo of one pipeline run) is a canonical
  ``deployment`` with id ``dc<id>``. At the ``project`` grain its service is the project and its
  ``version`` the pipeline (``cicd_deployment_id``), so shipwise's normalisation (service, version)
  rebuilds DevLake's *deployment* (a pipeline) from its rows. At the ``scope_repo`` grain its
  service is ``<cicd_scope>:<repo_url>`` without a version: one normalised deployment per row,
  chained per service exactly as DevLake chains rows per (scope, repo, environment);
- the commits a deployment row shipped are the ``commits_diffs`` rows from the previous
  successful deployment's commit (``old_commit_sha``; empty for the first) to the row's commit
  (``new_commit_sha``) — what DevLake's lead-time query joins on;
- a PR's merge commit becomes a ``commit`` with ``committed_at`` = the PR's ``merged_date`` (the
  fixture has no separate commit table); a PR's own commits become commits with authored and
  committed instants = ``commit_authored_date``;
- an ``incidents`` row becomes an ``incident`` of its project's service; the fixture has no
  resolution date, so ``resolved_at`` is its ``updated_date``; DevLake has no severity: ``sev3``.

Times without an offset are UTC (DevLake stores UTC).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "reference" / "devlake-dora"

SEVERITY = "sev3"
UNSPECIFIED_ENV = "unspecified"

Row = dict[str, str]


def read(rel: str) -> list[Row]:
    with (FIXTURES / rel).open(newline="") as fh:
        return [dict(r) for r in csv.DictReader(fh)]


def parse_time(text: str) -> datetime | None:
    """DevLake's fixture instants: ISO with an offset, or ``2023-4-11 4:51:47`` (UTC)."""
    s = text.strip()
    if not s:
        return None
    if "T" in s:
        return datetime.fromisoformat(s).astimezone(UTC)
    return datetime.strptime(s, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def devlake_minutes(start: datetime | None, end: datetime | None) -> int | None:
    """DevLake's ``computeTimeSpan``: whole minutes rounded up; None when missing or negative."""
    if start is None or end is None:
        return None
    minutes = math.ceil((end - start).total_seconds() / 60)
    return None if minutes < 0 else minutes


def minutes_int(text: str) -> int | None:
    return int(text) if text.strip() else None


def lower_median(values: Sequence[float]) -> float:
    """DevLake's median: ``max(v) WHERE percent_rank() <= 0.5`` — the lower middle value."""
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2]


# -- project mapping ----------------------------------------------------------------------------
def project_of(mapping: list[Row], table: str, row_id: str) -> str | None:
    for m in mapping:
        if m["table"] == table and m["row_id"] == row_id:
            return m["project_name"]
    return None


def projects(mapping: list[Row]) -> list[str]:
    return sorted({m["project_name"] for m in mapping})


def org_records(mapping: list[Row], services: Mapping[str, str]) -> list[dict[str, Any]]:
    """The org unit, one team per project, and the given services (id -> project)."""
    recs: list[dict[str, Any]] = [{"type": "org_unit", "id": "devlake", "name": "DevLake fixtures"}]
    for p in projects(mapping):
        recs.append({"type": "team", "id": p, "name": p, "org_unit": "devlake",
                     "delivery_unit": "pull_requests"})
    for sid, p in sorted(services.items()):
        recs.append({"type": "service", "id": sid, "name": sid, "team": p})
    return recs


# -- deployments --------------------------------------------------------------------------------
STATUS = {"SUCCESS": "success", "FAILURE": "failure"}


def service_of(row: Row, mapping: list[Row], grain: str) -> str | None:
    project = project_of(mapping, "cicd_scopes", row["cicd_scope_id"])
    if project is None:
        return None
    return project if grain == "project" else f"{row['cicd_scope_id']}:{row['repo_url']}"


def shipped_commits(row: Row, rows: list[Row], diffs: list[Row]) -> list[str]:
    """``commits_diffs`` from the previous successful deployment's commit to this row's commit."""
    by_id = {r["id"]: r for r in rows}
    prev = by_id.get(row.get("prev_success_deployment_commit_id", ""))
    old = prev["commit_sha"] if prev else ""
    return [d["commit_sha"] for d in diffs
            if d["new_commit_sha"] == row["commit_sha"] and d["old_commit_sha"] == old]


@dataclass
class Converted:
    records: list[dict[str, Any]] = field(default_factory=list)
    #: source id -> why it has no canonical record
    skipped: dict[str, str] = field(default_factory=dict)
    #: (PR id, field) -> why an optional timestamp was left out
    dropped: dict[tuple[str, str], str] = field(default_factory=dict)
    #: service id -> project (team)
    services: dict[str, str] = field(default_factory=dict)


def deployment_records(
    rows: list[Row],
    mapping: list[Row],
    *,
    grain: str = "project",
    diffs: list[Row] | None = None,
    extra_commits: Mapping[str, list[str]] | None = None,
    failure_status: str = "failure",
    out: Converted | None = None,
) -> Converted:
    """Canonical deployments from ``cicd_deployment_commits`` rows.

    ``extra_commits`` adds commits shipped alongside a listed commit (a PR's own commits beside its
    merge commit). ``failure_status`` is the canonical status of ``FAILURE`` rows.
    """
    out = out or Converted()
    for r in rows:
        svc = service_of(r, mapping, grain)
        if svc is None:
            out.skipped[f"dc{r['id']}"] = f"cicd scope {r['cicd_scope_id']} is in no project"
            continue
        out.services[svc] = project_of(mapping, "cicd_scopes", r["cicd_scope_id"]) or ""
        commits = shipped_commits(r, rows, diffs or [])
        for sha in list(commits):
            commits.extend((extra_commits or {}).get(sha, []))
        started, finished = parse_time(r["started_date"]), parse_time(r["finished_date"])
        assert started is not None and finished is not None
        status = STATUS[r["result"]]
        out.records.append({
            "type": "deployment",
            "id": f"dc{r['id']}",
            "service": svc,
            "environment": r["environment"].lower() or UNSPECIFIED_ENV,
            "started_at": iso(started),
            "finished_at": iso(finished),
            "status": failure_status if status == "failure" else status,
            "commits": commits,
            "version": r["cicd_deployment_id"] if grain == "project" else None,
        })
    return out


# -- change_lead_time/ --------------------------------------------------------------------------
def person(account: str) -> str:
    return f"devlake-account-{account or 'unknown'}"


def first_review(pr: Row, comments: list[Row]) -> Row | None:
    """DevLake's first review: the earliest comment by anyone but the PR's author."""
    others = [c for c in comments
              if c["pull_request_id"] == pr["id"] and c["account_id"] != pr["author_id"]]
    return min(others, key=lambda c: parse_time(c["created_date"]) or datetime.min.replace(tzinfo=UTC),
               default=None)


def change_lead_time(*, ship_pr_commits: bool = False) -> Converted:
    """The ``change_lead_time/`` fixture as canonical records (project grain).

    With ``ship_pr_commits`` a deployment that ships a merge commit also lists the PR's own
    commits, as a git range would; the fixture's ``commits_diffs`` lists merge commits only.
    """
    d = "change_lead_time/"
    mapping = read(d + "project_mapping.csv")
    prs = read(d + "pull_requests.csv")
    pr_commits = read(d + "pull_request_commits.csv")
    comments = read(d + "pull_request_comments.csv")
    out = Converted()
    recs = out.records

    commits_of: dict[str, list[Row]] = {}
    for c in pr_commits:
        commits_of.setdefault(c["pull_request_id"], []).append(c)
    extra: dict[str, list[str]] = {}
    commit_recs: list[dict[str, Any]] = []
    pr_recs: list[dict[str, Any]] = []
    for pr in prs:
        repo = pr["base_repo_id"]
        created, merged = parse_time(pr["created_date"]), parse_time(pr["merged_date"])
        assert created is not None
        own = commits_of.get(pr["id"], [])
        for c in own:
            t = parse_time(c["commit_authored_date"])
            assert t is not None
            commit_recs.append({"type": "commit", "sha": c["commit_sha"], "repo": repo,
                                "author": person(pr["author_id"]), "authored_at": iso(t),
                                "committed_at": iso(t), "additions": 0, "deletions": 0})
        if merged is not None:
            commit_recs.append({"type": "commit", "sha": pr["merge_commit_sha"], "repo": repo,
                                "author": person(pr["author_id"]), "authored_at": iso(merged),
                                "committed_at": iso(merged), "additions": 0, "deletions": 0})
            if ship_pr_commits:
                extra[pr["merge_commit_sha"]] = [c["commit_sha"] for c in own]
        else:
            out.skipped[pr["merge_commit_sha"]] = f"{pr['id']} is not merged: no merge commit"
        rec: dict[str, Any] = {
            "type": "pull_request", "id": pr["id"], "repo": repo,
            "number": int(re.sub(r"\D", "", pr["id"])), "author": person(pr["author_id"]),
            "created_at": iso(created), "merged_at": iso(merged) if merged else None,
            "commits": [c["commit_sha"] for c in own],
        }
        # Optional instants that would invert a canonical span are left out (the importer would
        # quarantine the whole PR); DevLake keeps them and blanks the negative span instead.
        first_commit = min((t for c in own if (t := parse_time(c["commit_authored_date"]))),
                           default=None)
        if first_commit is not None:
            if merged is not None and first_commit > merged:
                out.dropped[(pr["id"], "first_commit_at")] = "first commit after the merge"
            else:
                rec["first_commit_at"] = iso(first_commit)
        review = first_review(pr, comments)
        if review is not None:
            t = parse_time(review["created_date"])
            assert t is not None
            if t < created:
                out.dropped[(pr["id"], "first_review_at")] = "first review before the PR was opened"
            else:
                rec["first_review_at"] = iso(t)
        pr_recs.append(rec)

    deps = deployment_records(read(d + "cicd_deployment_commits.csv"), mapping,
                              diffs=read(d + "commits_diffs.csv"), extra_commits=extra)
    out.services.update(deps.services)
    out.skipped.update(deps.skipped)
    recs.extend(org_records(mapping, {p: p for p in projects(mapping)}))
    recs.extend(commit_recs)
    recs.extend(pr_recs)
    recs.extend(deps.records)
    return out


# -- prev_success_deployment_commit/ and connect_incident_to_deployment/ -----------------------
def deployments_only(rows_file: str, mapping_file: str, *, grain: str,
                     failure_status: str = "failure") -> Converted:
    mapping = read(mapping_file)
    deps = deployment_records(read(rows_file), mapping, grain=grain, failure_status=failure_status)
    services = {p: p for p in projects(mapping)} if grain == "project" else deps.services
    deps.records[:0] = org_records(mapping, services)
    return deps


def incident_records(caused_by: Mapping[str, str] | None = None) -> Converted:
    """``connect_incident_to_deployment/raw_tables/incidents.csv`` as canonical incidents.

    An incident is attributed to its project's service (the project grain); one whose scope is in
    no project has no service and is skipped, as DevLake skips it.
    """
    d = "connect_incident_to_deployment/raw_tables/"
    mapping = read(d + "project_mapping.csv")
    out = Converted()
    for i in read(d + "incidents.csv"):
        project = project_of(mapping, i["table"], i["scope_id"])
        if project is None:
            out.skipped[i["id"]] = f"{i['table']} {i['scope_id']} is in no project"
            continue
        opened, updated = parse_time(i["created_date"]), parse_time(i["updated_date"])
        assert opened is not None and updated is not None
        out.records.append({
            "type": "incident", "id": i["id"], "service": project, "severity": SEVERITY,
            "opened_at": iso(opened), "resolved_at": iso(updated),
            "caused_by": (caused_by or {}).get(i["id"]),
        })
    return out
