"""Why a record counted: ``shipwise explain deployment ID``, ``explain pull-request REPO#N`` and
``explain incident ID``.

DevLake's most common complaint is a lead time linked to the wrong deployment; explain shows the
links DORA and flow use: where a deployment came from (its connector, raw id and rule), whether and
how DORA counts it, the commits it shipped with their first production deployment (lead time
counts from the first), the pull requests they belong to and which deployment delivered each.

A reader needs the owning team's delivery view (``team.diagnostic``, as for ``shipwise metrics
dora --team``): a member of another team is refused; admins read all. Nothing here names a person
(no author, reviewer or pseudonym): explain is about records.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from shipwise.app.caller import Caller
from shipwise.app.diagnostics import team_hidden
from shipwise.app.guard import Access, guard
from shipwise.app.results import (
    DeploymentExplanation,
    DoraCounting,
    ExplainCommit,
    ExplainIncident,
    ExplainList,
    ExplainListRow,
    ExplainPullRequestLink,
    IncidentExplanation,
    IncidentLink,
    IncidentRules,
    LinkCandidate,
    PullRequestExplanation,
)
from shipwise.errors import NotFoundError
from shipwise.metrics import facts
from shipwise.store import org, provenance
from shipwise.store.duckdb_store import Store

__all__ = ["explain_deployment", "explain_incident", "explain_pull_request", "list_deployments",
           "list_incidents", "list_pull_requests"]

SHORT = 10


def _short(sha: str) -> str:
    return sha[:SHORT]


def _quarantine_hint(store: Store, record_type: str, record_id: str, listing: str) -> str:
    rows = provenance.quarantined(store, record_type, record_id)
    if rows:
        return (f"it was quarantined ({rows[0]['reason']}, from {rows[0]['source']}): "
                "`shipwise quarantine` shows it; fix the cause and import it again")
    return f"`{listing}` lists ids to explain"


def _deployment_access(caller: Caller, arguments: Mapping[str, Any]) -> Iterable[Access]:
    did: str = arguments["deployment_id"]
    exists, team = provenance.deployment_team(caller.store, did)
    if not exists:
        raise NotFoundError(f"no deployment '{did}' in the store", hint=_quarantine_hint(
            caller.store, "deployment", did, "shipwise explain deployment --list --service S"))
    return [Access("team.diagnostic", f"deployment:{did}:explain", team)]


def _pull_request_access(caller: Caller, arguments: Mapping[str, Any]) -> Iterable[Access]:
    ref: str = arguments["ref"]
    pid = provenance.pull_request_ref(caller.store, ref)
    if pid is None:
        raise NotFoundError(
            f"no pull request '{ref}' in the store (give REPO#N or its id)",
            hint=_quarantine_hint(caller.store, "pull_request", ref,
                                  "shipwise explain pull-request --list --repo REPO"))
    return [Access("team.diagnostic", f"pull_request:{pid}:explain",
                   provenance.pull_request_team(caller.store, pid))]


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return (end - start).total_seconds() if start is not None and end is not None else None


def _nonneg(start: datetime | None, end: datetime | None) -> float | None:
    s = _seconds(start, end)
    return s if s is not None and s >= 0 else None


def _commit(row: Mapping[str, Any], here: str | None = None) -> ExplainCommit:
    extra: dict[str, Any] = {}
    if here is not None:
        extra = {"lead_seconds": row["lead_seconds"], "first": row["first_deployment"] == here}
    return ExplainCommit(
        sha=row["sha"], short_sha=_short(row["sha"]), repo=row["repo"],
        committed_at=row["committed_at"], first_deployment=row["first_deployment"],
        first_deployed_at=row["first_deployed_at"],
        counted_lead_seconds=row["counted_lead_seconds"], **extra)


def _counting(d: Mapping[str, Any], commits: list[ExplainCommit],
              incidents: list[ExplainIncident]) -> DoraCounting:
    """Whether and how DORA counts deployment ``d`` (see ``metrics/dora.py``), in sentences."""
    reasons: list[str] = []
    key = d["nkey"]
    if not d["production"]:
        reasons.append(f"not counted by DORA: environment '{d['environment']}' is not production")
        return DoraCounting(production=False, counted=False, reasons=reasons)
    status = d["status"]
    counted = status == "success" and d["first_success_id"] == d["id"]
    if d["group_size"] and d["group_size"] > 1:
        reasons.append(f"one of {d['group_size']} production deployments of {key} (regions, "
                       "retries): DORA counts the version once")
    if status == "failure":
        reasons.append("a failed attempt that never reached production: counted in failed "
                       "deployment attempts, not in deployment frequency, change fail rate or "
                       "lead time")
    elif counted:
        reasons.append(f"counts as one deployment of {key} in deployment frequency (its first "
                       "successful production finish)")
    elif status == "success":
        reasons.append(f"adds nothing to deployment frequency: {key} first succeeded earlier, "
                       f"at {d['first_success_at']:%Y-%m-%d %H:%M} UTC")
    else:
        reasons.append(f"reached production ({status}): in the change fail rate's denominator, "
                       "not in deployment frequency")
    if status in ("success", "rolled_back"):
        if d["failed"]:
            why = [w for w in (
                "rolled back" if status == "rolled_back" else "",
                ("linked to incident " + ", ".join(f"{i.id} ({i.basis})" for i in incidents))
                if incidents else "") if w]
            reasons.append(f"{key} counts as a failed deployment in the change fail rate: "
                           + ("; ".join(why) or "another deployment of the same version was "
                              "rolled back or caused an incident"))
        else:
            reasons.append(f"{key} is not a failed deployment: not rolled back, no incident "
                           "is linked to it")
        if d["rework"]:
            reasons.append(f"{key} counts as rework (a hotfix or rollback, or remediating "
                           "another deployment)")
    first = sum(1 for c in commits if c.first)
    earlier = sorted({c.first_deployment for c in commits
                      if not c.first and c.first_deployment is not None})
    if status == "success" and commits:
        text = (f"{first} of its {len(commits)} commits count their lead time to this deployment "
                "(their first production deployment)")
        if earlier:
            text += ("; the others were first shipped by " + ", ".join(earlier[:5])
                     + (" …" if len(earlier) > 5 else "") + ", which their lead time counts to")
        reasons.append(text)
    elif status == "success":
        reasons.append("it lists no commits: no lead time counts to it")
    elif commits:
        reasons.append(f"it did not succeed, so no lead time counts to it: its {len(commits)} "
                       "commits count theirs to their first successful production deployment")
    return DoraCounting(production=True, normalised_key=key, counted=counted,
                        failed=bool(d["failed"]) if d["failed"] is not None else None,
                        rework=bool(d["rework"]) if d["rework"] is not None else None,
                        first_success_at=d["first_success_at"], reasons=reasons)


@guard("team.diagnostic", accesses=_deployment_access)
def explain_deployment(caller: Caller, deployment_id: str) -> DeploymentExplanation:
    """Where deployment ``deployment_id`` came from, how DORA counts it, the commits it shipped
    (with each one's first production deployment), their pull requests (and which deployment
    delivered each) and the incidents it caused."""
    store = caller.store
    facts.ensure_fresh(store)
    d = provenance.deployment(store, deployment_id)
    if d is None:  # removed between the check and now
        raise NotFoundError(f"no deployment '{deployment_id}' in the store")
    commits = [_commit(r, deployment_id)
               for r in provenance.deployment_commits(store, deployment_id)]
    incidents = [ExplainIncident.model_validate(r)
                 for r in provenance.caused_incidents(store, deployment_id)]
    prs = [ExplainPullRequestLink(
        id=r["id"], ref=f"{r['repo']}#{r['number']}", merged_at=r["merged_at"],
        delivered_at=r["delivered_at"], delivered_by=r["delivered_by"],
        delivered_here=r["delivered_by"] == deployment_id, commits_here=r["commits_here"],
        commits=r["commits"]) for r in provenance.deployment_pull_requests(store, deployment_id)]
    withheld = _withheld(caller, d["team"], [d["finished_at"], *(c.committed_at for c in commits),
                                             *(p.merged_at for p in prs)])
    counting = _counting(d, commits, incidents)
    if withheld:
        commits = [_timeless(c) for c in commits]
        prs = [p.model_copy(update={"merged_at": None}) for p in prs]
    return DeploymentExplanation(
        id=d["id"], source=d["source"], rule=d["rule"], service=d["service"], team=d["team"],
        environment=d["environment"], status=d["status"], kind=d["kind"], version=d["version"],
        region=d["region"], started_at=d["started_at"], finished_at=d["finished_at"],
        dora=counting, commits=commits, pull_requests=prs, incidents=incidents,
        withheld=withheld)


#: why one record's people-derived times are withheld
WITHHELD = ("team {team}'s flow figures for these days are suppressed (too few people): the "
            "times of a pull request or commit in them would let those figures be rebuilt, so "
            "they are not shown")


def _withheld(caller: Caller, team: str | None,
              instants: Iterable[datetime | None], open_ended: bool = False) -> str | None:
    """The reason the times of a record of ``team`` spanning ``instants`` are withheld, or None.

    Flow figures are people-derived and suppressed for small groups; a record's own times (when
    a pull request was opened, reviewed, merged, delivered; when its commits were made) are the
    inputs of the figures of every period they fall in, so when one of those figures is
    suppressed they are withheld too. ``open_ended``: the record is still open, so it counts in
    every week end from its start until today (open pull requests, their age)."""
    days = [t.date() for t in instants if t is not None]
    if team is None or not days:
        return None
    last = datetime.now(UTC).date() if open_ended else max(days)
    if team_hidden(caller.store, "flow", team, caller.settings.privacy.min_group_size,
                   min(days), max(last, max(days))):
        return WITHHELD.format(team=team)
    return None


def _timeless(commit: ExplainCommit) -> ExplainCommit:
    return commit.model_copy(update={"committed_at": None, "lead_seconds": None,
                                     "counted_lead_seconds": None})


def _untimed(sentence: str) -> str:
    """A delivery sentence without the instants in it."""
    return re.sub(r" at \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", "", sentence)


def _delivery(pr: Mapping[str, Any], commits: list[ExplainCommit]) -> tuple[str, list[str]]:
    """Which deployment delivered the pull request, or why none did; and its undeployed commits."""
    undeployed = [c.short_sha for c in commits if c.first_deployment is None]
    if pr["merged_at"] is None:
        state = (f"closed at {pr['closed_at']:%Y-%m-%d %H:%M} UTC without merging"
                 if pr["closed_at"] is not None else "still open")
        return f"not delivered: not merged ({state})", undeployed
    if not commits:
        return "not delivered: merged, but it lists no commits, so no deployment links to it", []
    if pr["delivered_by"] is not None:
        last = [c.short_sha for c in commits if c.first_deployment == pr["delivered_by"]]
        return (f"delivered by {pr['delivered_by']} at {pr['delivered_at']:%Y-%m-%d %H:%M} UTC: "
                "the first production deployment of its last commit to reach production"
                + (f" ({', '.join(last[:5])}{' …' if len(last) > 5 else ''})" if last else ""),
                [])
    if undeployed:
        return ("not delivered yet: no successful production deployment lists "
                + ", ".join(undeployed[:10]) + (" …" if len(undeployed) > 10 else "")
                + f" ({len(undeployed)} of its {len(commits)} commits)"), undeployed
    unknown = [c.short_sha for c in commits if c.committed_at is None]
    return ("not delivered: every commit was deployed but " + ", ".join(unknown[:10])
            + " has no commit record in the store, so its lead time and the delivery are not "
            "counted (ingest the repository)"), []


@guard("team.diagnostic", accesses=_pull_request_access)
def explain_pull_request(caller: Caller, ref: str) -> PullRequestExplanation:
    """Pull request ``ref`` (``REPO#N`` or its id): its times and flow phases, its commits with
    each one's first production deployment, and the deployment that delivered it (or why none
    did)."""
    store = caller.store
    facts.ensure_fresh(store)
    pid = provenance.pull_request_ref(store, ref)
    pr = provenance.pull_request(store, pid) if pid is not None else None
    if pr is None:
        raise NotFoundError(f"no pull request '{ref}' in the store")
    commits = [_commit(r) for r in provenance.pull_request_commits(store, pr["id"])]
    delivery, undeployed = _delivery(pr, commits)
    withheld = _withheld(caller, pr["team"], [
        pr["created_at"], pr["first_commit_at"], pr["first_review_at"], pr["merged_at"],
        pr["closed_at"], pr["delivered_at"], *(c.committed_at for c in commits)],
        open_ended=pr["merged_at"] is None and pr["closed_at"] is None)
    if withheld:
        return PullRequestExplanation(
            id=pr["id"], ref=f"{pr['repo']}#{pr['number']}", team=pr["team"],
            source=pr["source"], delivered_at=pr["delivered_at"],
            phases={k: None for k in ("coding_seconds", "pickup_seconds", "review_seconds",
                                      "deploy_seconds", "cycle_seconds")},
            commits=[_timeless(c) for c in commits], delivered_by=pr["delivered_by"],
            delivery=_untimed(delivery), undeployed=undeployed, withheld=withheld)
    created, first_commit = pr["created_at"], pr["first_commit_at"]
    coding = _seconds(first_commit, created)
    phases = {
        "coding_seconds": max(0.0, coding) if coding is not None else None,
        "pickup_seconds": _nonneg(created, pr["first_review_at"]),
        "review_seconds": _nonneg(pr["first_review_at"], pr["merged_at"]),
        "deploy_seconds": _nonneg(pr["merged_at"], pr["delivered_at"]),
        "cycle_seconds": _nonneg(first_commit or created, pr["delivered_at"]),
    }
    return PullRequestExplanation(
        id=pr["id"], ref=f"{pr['repo']}#{pr['number']}", team=pr["team"], source=pr["source"],
        created_at=created, first_commit_at=first_commit, first_review_at=pr["first_review_at"],
        merged_at=pr["merged_at"], closed_at=pr["closed_at"], delivered_at=pr["delivered_at"],
        phases=phases, commits=commits, delivered_by=pr["delivered_by"], delivery=delivery,
        undeployed=undeployed)


def _service_access(caller: Caller, arguments: Mapping[str, Any]) -> Iterable[Access]:
    service: str | None = arguments["service"]
    if service is None:  # a member or lead: their own team's; admins: every team's
        return [Access("team.diagnostic", "deployments:explain", caller.own_team)]
    if not org.service_exists(caller.store, service):
        raise NotFoundError(f"unknown service '{service}'", hint="`shipwise services` lists them")
    return [Access("team.diagnostic", f"service:{service}:deployments",
                   org.service_team(caller.store, service))]


@guard("team.diagnostic", accesses=_service_access)
def list_deployments(caller: Caller, service: str | None = None, limit: int = 20) -> ExplainList:
    """The latest deployments of ``service`` (else of the reader's team; admins: of every
    team), newest first: ids to explain."""
    rows = provenance.deployments(caller.store, service, caller.own_team, limit)
    return ExplainList(kind="deployment", rows=[ExplainListRow(
        id=r["id"], what=" ".join(str(v) for v in (r["service"], r["version"], r["environment"],
                                                   r["status"]) if v),
        at=r["finished_at"]) for r in rows])


def _repo_access(caller: Caller, arguments: Mapping[str, Any]) -> Iterable[Access]:
    repo: str | None = arguments["repo"]
    if repo is None:
        return [Access("team.diagnostic", "pull_requests:explain", caller.own_team)]
    return [Access("team.diagnostic", f"repo:{repo}:pull_requests",
                   provenance.repo_team(caller.store, repo))]


@guard("team.diagnostic", accesses=_repo_access)
def list_pull_requests(caller: Caller, repo: str | None = None, limit: int = 20) -> ExplainList:
    """The latest pull requests of ``repo`` (else of the reader's team's repositories; admins:
    all), newest first: references to explain."""
    rows = provenance.pull_requests(caller.store, repo, caller.own_team, limit)
    return ExplainList(kind="pull_request", rows=[ExplainListRow(
        id=f"{r['repo']}#{r['number']}",
        what="merged" if r["merged_at"] is not None else "not merged",
        at=None if _withheld(caller, r["team"], [r["created_at"], r["merged_at"]],
                             open_ended=r["merged_at"] is None) else r["created_at"])
        for r in rows])


# -- incidents --------------------------------------------------------------------------------

def _incident_access(caller: Caller, arguments: Mapping[str, Any]) -> Iterable[Access]:
    iid: str = arguments["incident_id"]
    exists, team = provenance.incident_team(caller.store, iid)
    if not exists:
        raise NotFoundError(f"no incident '{iid}' in the store", hint=_quarantine_hint(
            caller.store, "incident", iid, "shipwise explain incident --list --service S"))
    return [Access("team.diagnostic", f"incident:{iid}:explain", team)]


def _hours(seconds: float) -> str:
    h = abs(seconds) / 3600
    return f"{h:.1f} h" if h < 48 else f"{h / 24:.1f} days"


def _link_reasons(i: Mapping[str, Any], link: IncidentLink | None, rules: IncidentRules
                  ) -> list[str]:
    """Why the incident is linked to its deployment, or to none, in sentences."""
    reasons: list[str] = []
    if link is not None:
        when = (f"finished {_hours(link.seconds_before)} before it opened"
                if link.seconds_before is not None and link.seconds_before >= 0 else
                f"finished {_hours(link.seconds_before or 0)} after it opened")
        if link.basis == "explicit":
            reasons.append(f"linked to {link.deployment_id} by its caused_by field (explicit: "
                           f"this wins over labels and the window); it {when}")
        elif link.basis == "label":
            kind = ("names the deployment" if rules.deployment_label_prefix and link.label
                    and link.label.startswith(rules.deployment_label_prefix)
                    and link.label[len(rules.deployment_label_prefix):] == link.deployment_id
                    else f"names version {link.normalised_key}, whose production deployment "
                         f"{link.deployment_id} is taken (the latest before it opened, else the "
                         "first after)")
            reasons.append(f"linked to {link.deployment_id} by its label '{link.label}', which "
                           f"{kind}; it {when}")
        else:
            reasons.append(f"linked to {link.deployment_id} by team {i['team']}'s window: the "
                           f"latest production deployment of {i['service']} within "
                           f"{link.window_hours:g} h before it opened (incident_window_hours); "
                           f"it {when}")
    else:
        reasons.append("linked to no deployment: it counts in no deployment's change fail rate "
                       "or time to restore")
    if i["caused_by"] is not None and (link is None or link.basis != "explicit"):
        if i["caused_by_environment"] is None:
            reasons.append(f"its caused_by names '{i['caused_by']}', which is not in the store")
        else:
            reasons.append(f"its caused_by names {i['caused_by']}, a deployment to "
                           f"'{i['caused_by_environment']}', not production: DORA counts only "
                           "production")
    if link is None or link.basis == "window":
        matching = [lb for lb in i["labels"] or [] if any(
            p and lb.startswith(p) for p in (rules.deployment_label_prefix,
                                            rules.version_label_prefix))]
        if matching:
            reasons.append("its label(s) " + ", ".join(matching) + " name no production "
                           "deployment that reached production")
        elif rules.deployment_label_prefix or rules.version_label_prefix:
            wanted = " or ".join(f"'{p}…'" for p in (rules.deployment_label_prefix,
                                                     rules.version_label_prefix) if p)
            reasons.append(f"it has no label {wanted} naming a deployment or version")
    if link is None:
        if rules.window_hours is None:
            reasons.append(f"team {i['team'] or '–'} sets no incident_window_hours, so no "
                           "deployment is linked by time alone")
        else:
            reasons.append(f"no production deployment of {i['service']} reached production in "
                           f"the {rules.window_hours:g} h before it opened")
    return reasons


def _dora_effect(i: Mapping[str, Any], link: IncidentLink | None) -> list[str]:
    if link is None:
        return ["nothing: no deployment's change fail rate or time to restore counts it"]
    key = link.normalised_key
    out = [f"{key} counts as a failed deployment in the change fail rate of team "
           f"{i['link_team'] or i['team'] or '–'}" if i["link_failed"] else
           f"{key} is linked but did not reach production, so the change fail rate does not "
           "count it"]
    if i["link_in_recovery"]:
        if i["link_restored_at"] is None:
            out.append(f"its time to restore is open: an incident linked to {key} is unresolved")
        else:
            out.append(f"its time to restore runs from {key} reaching production "
                       f"({i['link_reached_at']:%Y-%m-%d %H:%M} UTC) to the resolution of its "
                       f"last linked incident ({i['link_restored_at']:%Y-%m-%d %H:%M} UTC)")
    return out


@guard("team.diagnostic", accesses=_incident_access)
def explain_incident(caller: Caller, incident_id: str) -> IncidentExplanation:
    """The production deployment incident ``incident_id`` is linked to and on what basis
    (explicit caused_by, a label, the team's time window), or why none; the production
    deployments of its service around its opening; and what the link changes in DORA."""
    store = caller.store
    facts.ensure_fresh(store)
    i = provenance.incident(store, incident_id)
    if i is None:
        raise NotFoundError(f"no incident '{incident_id}' in the store")
    i = {**i, "link_team": None}
    link = None
    if i["link_deployment"] is not None:
        link = IncidentLink(
            deployment_id=i["link_deployment"], normalised_key=i["link_nkey"],
            service=i["link_service"], basis=i["link_basis"], label=i["link_label"],
            window_hours=i["link_window_hours"], seconds_before=i["link_seconds_before"])
        _, i["link_team"] = provenance.deployment_team(store, link.deployment_id)
    rules = IncidentRules(window_hours=i["window_hours"],
                          deployment_label_prefix=i["deploy_prefix"],
                          version_label_prefix=i["version_prefix"])
    around = provenance.incident_candidates(store, i["service"], i["opened_at"],
                                            rules.window_hours or 24.0)
    candidates = [LinkCandidate(id=r["id"], version=r["version"], status=r["status"],
                                finished_at=r["finished_at"], seconds_before=r["seconds_before"],
                                linked=link is not None and r["id"] == link.deployment_id)
                  for r in around]
    return IncidentExplanation(
        id=i["id"], source=i["source"], service=i["service"], team=i["team"],
        severity=i["severity"], opened_at=i["opened_at"], resolved_at=i["resolved_at"],
        caused_by=i["caused_by"], labels=list(i["labels"] or []), link=link, rules=rules,
        reasons=_link_reasons(i, link, rules), dora=_dora_effect(i, link),
        candidates=candidates)


def _incidents_access(caller: Caller, arguments: Mapping[str, Any]) -> Iterable[Access]:
    service: str | None = arguments["service"]
    if service is None:
        return [Access("team.diagnostic", "incidents:explain", caller.own_team)]
    if not org.service_exists(caller.store, service):
        raise NotFoundError(f"unknown service '{service}'", hint="`shipwise services` lists them")
    return [Access("team.diagnostic", f"service:{service}:incidents",
                   org.service_team(caller.store, service))]


@guard("team.diagnostic", accesses=_incidents_access)
def list_incidents(caller: Caller, service: str | None = None, limit: int = 20) -> ExplainList:
    """The latest incidents of ``service`` (else of the reader's team; admins: of every team),
    newest first, with the deployment each is linked to: ids to explain."""
    facts.ensure_fresh(caller.store)
    rows = provenance.incidents(caller.store, service, caller.own_team, limit)
    return ExplainList(kind="incident", rows=[ExplainListRow(
        id=r["id"], what=f"{r['service']} {r['severity']} → " + (
            f"{r['deployment_id']} ({r['basis']})" if r["deployment_id"] else "no deployment"),
        at=r["opened_at"]) for r in rows])
