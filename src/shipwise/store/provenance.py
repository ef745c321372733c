"""Why a record counted: the SQL behind ``shipwise explain`` (a deployment, a pull request, an
incident).

Each function answers for one record with a few set-based queries over the canonical tables and the
derived facts of :mod:`shipwise.metrics.facts` (``dora_deploy_fact``, ``dora_change_fact``,
``pr_delivery_fact``); the caller refreshes the facts first. The definitions are those of the
facts, restated here only where a fact does not keep what explain shows:

* a production deployment is one whose environment is ``production`` (any case) and whose service
  is known; its normalised key is ``service@version`` (``#id`` without a version);
* a commit's **first production deployment** is the successful production deployment listing it
  that finished first (ties: the smaller id) — lead time counts from it (``dora_change_fact``);
* the deployment that **delivered** a merged pull request is the first production deployment of
  the last of its commits to reach production (``pr_delivery_fact.delivered_at`` is its finish);
  none while a commit of it has not reached production.

No query reads a person column (author, reviewer, tagger): explain is about records.
"""

from __future__ import annotations

from typing import Any

from shipwise.store.duckdb_store import Store

#: The repository -> team map of flow (``service.repo``, defaulting to the service id).
_REPO_TEAM = """repo_team AS (
  SELECT coalesce(repo, id) AS repo, mode(team) AS team FROM service GROUP BY coalesce(repo, id)
)"""


def _first_deploys(shas: str) -> str:
    """CTE ``first_deploy`` (sha, id, finished_at): each commit of CTE ``shas`` (column ``sha``)
    with its first successful production deployment."""
    return f"""ranked AS (
  SELECT dc.sha, d.id, d.finished_at,
         row_number() OVER (PARTITION BY dc.sha ORDER BY d.finished_at, d.id) AS n
  FROM deployment_commit dc
  JOIN (SELECT DISTINCT sha FROM {shas}) s ON s.sha = dc.sha
  JOIN deployment d ON d.id = dc.deployment_id
  JOIN service sv ON sv.id = d.service
  WHERE lower(d.environment) = 'production' AND d.status = 'success'
),
first_deploy AS (SELECT sha, id, finished_at FROM ranked WHERE n = 1)"""


def deployment(store: Store, deployment_id: str) -> dict[str, Any] | None:
    """One deployment with its owning team, normalised key and DORA fact (None if unknown)."""
    rows = store.query(
        """
        SELECT d.id, d.source, d.rule, d.service, s.team, d.environment, d.status, d.kind,
               d.version, d.region, d.remediates, d.manual_interventions, d.started_at,
               d.finished_at, lower(d.environment) = 'production' AS production,
               CASE WHEN d.version IS NOT NULL THEN d.service || '@' || d.version
                    ELSE '#' || d.id END AS nkey,
               f.first_success_at, f.reached_at, f.failed, f.rework,
               (SELECT count(*) FROM deployment g
                 WHERE g.service = d.service AND g.version = d.version
                   AND lower(g.environment) = 'production') AS group_size,
               (SELECT count(*) FROM deployment r WHERE r.remediates = d.id) AS remediated_by,
               (SELECT min(g.id) FROM deployment g
                 WHERE lower(g.environment) = 'production' AND g.status = 'success'
                   AND g.finished_at = f.first_success_at
                   AND CASE WHEN g.version IS NOT NULL THEN g.service || '@' || g.version
                            ELSE '#' || g.id END = f.nkey) AS first_success_id
        FROM deployment d
        LEFT JOIN service s ON s.id = d.service
        LEFT JOIN dora_deploy_fact f
          ON f.nkey = CASE WHEN d.version IS NOT NULL THEN d.service || '@' || d.version
                           ELSE '#' || d.id END
         AND lower(d.environment) = 'production'
        WHERE d.id = ?
        """, [deployment_id])
    return rows[0] if rows else None


def deployment_team(store: Store, deployment_id: str) -> tuple[bool, str | None]:
    """(whether the deployment exists, the team owning its service)."""
    row = store.con.execute(
        "SELECT s.team FROM deployment d LEFT JOIN service s ON s.id = d.service WHERE d.id = ?",
        [deployment_id]).fetchone()
    return (row is not None, str(row[0]) if row and row[0] is not None else None)


def deployment_commits(store: Store, deployment_id: str) -> list[dict[str, Any]]:
    """The commits a deployment shipped: committed time, the lead time to this deployment, the
    commit's first production deployment and the lead time DORA counts (from that one)."""
    return store.query(
        f"""
        WITH mine AS (SELECT DISTINCT sha, sha_key FROM deployment_commit WHERE deployment_id = ?),
        {_first_deploys("mine")}
        SELECT m.sha, c.repo, c.committed_at,
               date_diff('second', c.committed_at, d.finished_at) AS lead_seconds,
               f.id AS first_deployment, f.finished_at AS first_deployed_at,
               cf.lead_seconds AS counted_lead_seconds
        FROM mine m
        JOIN deployment d ON d.id = ?
        LEFT JOIN "commit" c ON c.sha = m.sha
        LEFT JOIN first_deploy f ON f.sha = m.sha
        LEFT JOIN dora_change_fact cf ON cf.sha_key = m.sha_key
        ORDER BY c.committed_at NULLS LAST, m.sha
        """, [deployment_id, deployment_id])


def _delivering() -> str:
    """CTE ``delivering`` (pull_request_id, id): the deployment that delivered each pull request
    of CTE ``prs`` (column ``id``) that ``pr_delivery_fact`` says was delivered."""
    return f"""pr_shas AS (
  SELECT prc.pull_request_id, prc.sha FROM pull_request_commit prc
  JOIN prs p ON p.id = prc.pull_request_id
),
{_first_deploys("pr_shas")},
last_first AS (
  SELECT ps.pull_request_id, f.id,
         row_number() OVER (PARTITION BY ps.pull_request_id
                            ORDER BY f.finished_at DESC, f.id DESC) AS n
  FROM pr_shas ps JOIN first_deploy f ON f.sha = ps.sha
),
delivering AS (
  SELECT l.pull_request_id, l.id FROM last_first l
  JOIN pr_delivery_fact df ON df.pull_request_id = l.pull_request_id
  WHERE l.n = 1
)"""


def deployment_pull_requests(store: Store, deployment_id: str) -> list[dict[str, Any]]:
    """The pull requests the deployment's commits belong to, with the deployment that delivered
    each (None: not delivered yet)."""
    return store.query(
        f"""
        WITH prs AS (
          SELECT DISTINCT prc.pull_request_id AS id FROM pull_request_commit prc
          JOIN deployment_commit dc ON dc.sha = prc.sha WHERE dc.deployment_id = ?
        ),
        {_delivering()}
        SELECT pr.id, pr.repo, pr.number, pr.merged_at, df.delivered_at, dl.id AS delivered_by,
               (SELECT count(*) FROM pull_request_commit x
                 JOIN deployment_commit y ON y.sha = x.sha AND y.deployment_id = ?
                 WHERE x.pull_request_id = pr.id) AS commits_here,
               (SELECT count(*) FROM pull_request_commit x WHERE x.pull_request_id = pr.id)
                 AS commits
        FROM prs p JOIN pull_request pr ON pr.id = p.id
        LEFT JOIN pr_delivery_fact df ON df.pull_request_id = pr.id
        LEFT JOIN delivering dl ON dl.pull_request_id = pr.id
        ORDER BY pr.repo, pr.number
        """, [deployment_id, deployment_id])


def caused_incidents(store: Store, deployment_id: str) -> list[dict[str, Any]]:
    """The incidents linked to this deployment's normalised key (explicitly, by a label or by
    the team's window: ``incident_link``), with the basis and the deployment they name."""
    return store.query(
        """
        SELECT i.id, i.severity, i.opened_at, i.resolved_at, l.basis, l.deployment_id
        FROM incident_link l JOIN incident i ON i.id = l.incident_id
        WHERE l.nkey = (SELECT CASE WHEN d.version IS NOT NULL THEN d.service || '@' || d.version
                                    ELSE '#' || d.id END
                        FROM deployment d WHERE d.id = ? AND lower(d.environment) = 'production')
        ORDER BY i.opened_at, i.id""", [deployment_id])


def incident_team(store: Store, incident_id: str) -> tuple[bool, str | None]:
    """(whether the incident exists, the team owning its service)."""
    row = store.con.execute(
        "SELECT s.team FROM incident i LEFT JOIN service s ON s.id = i.service WHERE i.id = ?",
        [incident_id]).fetchone()
    return (row is not None, str(row[0]) if row and row[0] is not None else None)


def incident(store: Store, incident_id: str) -> dict[str, Any] | None:
    """One incident with its labels, owning team, link (``incident_link``: None when nothing
    links it), the team's link rules and the deployment its ``caused_by`` names."""
    rows = store.query(
        """
        SELECT i.id, i.service, s.team, i.severity, i.opened_at, i.resolved_at, i.caused_by,
               i.human_actioned, i.source,
               (SELECT list(label ORDER BY label) FROM incident_label
                 WHERE incident_id = i.id) AS labels,
               l.deployment_id AS link_deployment, l.nkey AS link_nkey, l.basis AS link_basis,
               l.label AS link_label, l.window_hours AS link_window_hours,
               l.seconds_before AS link_seconds_before, l.service AS link_service,
               p.window_hours, p.deploy_prefix, p.version_prefix,
               c.environment AS caused_by_environment, c.status AS caused_by_status,
               f.failed AS link_failed, r.reached_at AS link_reached_at,
               r.restored_at AS link_restored_at,
               (r.nkey IS NOT NULL) AS link_in_recovery
        FROM incident i
        LEFT JOIN service s ON s.id = i.service
        LEFT JOIN incident_link l ON l.incident_id = i.id
        LEFT JOIN incident_link_policy p ON p.team = s.team
        LEFT JOIN deployment c ON c.id = i.caused_by
        LEFT JOIN dora_deploy_fact f ON f.nkey = l.nkey
        LEFT JOIN dora_recovery_fact r ON r.nkey = l.nkey
        WHERE i.id = ?""", [incident_id])
    return rows[0] if rows else None


def incident_candidates(store: Store, service: str, opened_at: Any, hours: float,
                        limit: int = 10) -> list[dict[str, Any]]:
    """The production deployments of ``service`` that reached production in the ``hours`` before
    ``opened_at`` or the hour after, latest first: what a link could have named."""
    return store.query(
        """
        SELECT d.id, d.version, d.status, d.finished_at,
               date_diff('second', d.finished_at, CAST(? AS TIMESTAMP)) AS seconds_before
        FROM deployment d
        WHERE d.service = ? AND lower(d.environment) = 'production'
          AND d.status IN ('success', 'rolled_back')
          AND d.finished_at BETWEEN CAST(? AS TIMESTAMP) - to_seconds(CAST(? AS DOUBLE) * 3600)
                                AND CAST(? AS TIMESTAMP) + INTERVAL 1 HOUR
        ORDER BY d.finished_at DESC, d.id LIMIT ?""",
        [opened_at, service, opened_at, hours, opened_at, limit])


def incidents(store: Store, service: str | None, team: str | None,
              limit: int) -> list[dict[str, Any]]:
    """The latest incidents (of ``service``, of ``team``'s services), newest first, with the
    deployment each is linked to and on what basis."""
    return store.query(
        "SELECT i.id, i.service, i.severity, i.opened_at, l.deployment_id, l.basis "
        "FROM incident i LEFT JOIN service s ON s.id = i.service "
        "LEFT JOIN incident_link l ON l.incident_id = i.id "
        "WHERE (? IS NULL OR i.service = ?) AND (? IS NULL OR s.team = ?) "
        "ORDER BY i.opened_at DESC, i.id LIMIT ?", [service, service, team, team, limit])


def deployments(store: Store, service: str | None, team: str | None,
                limit: int) -> list[dict[str, Any]]:
    """The latest deployments (of ``service``, of ``team``'s services), newest first."""
    return store.query(
        "SELECT d.id, d.service, d.environment, d.status, d.version, d.finished_at "
        "FROM deployment d LEFT JOIN service s ON s.id = d.service "
        "WHERE (? IS NULL OR d.service = ?) AND (? IS NULL OR s.team = ?) "
        "ORDER BY d.finished_at DESC, d.id LIMIT ?", [service, service, team, team, limit])


def pull_request_ref(store: Store, ref: str) -> str | None:
    """The id of the pull request ``ref`` names: its id, or ``REPO#N``."""
    rows = store.con.execute("SELECT id FROM pull_request WHERE id = ?", [ref]).fetchall()
    if not rows and "#" in ref:
        repo, _, number = ref.rpartition("#")
        if number.isdigit() and len(number) < 19:  # a BIGINT
            rows = store.con.execute(
                "SELECT id FROM pull_request WHERE repo = ? AND number = ? ORDER BY id",
                [repo, int(number)]).fetchall()
    return str(rows[0][0]) if rows else None


def pull_request_team(store: Store, pull_request_id: str) -> str | None:
    """The team owning the pull request's repository (as flow counts it), if any."""
    row = store.con.execute(
        f"WITH {_REPO_TEAM} SELECT rt.team FROM pull_request pr "
        "LEFT JOIN repo_team rt ON rt.repo = pr.repo WHERE pr.id = ?", [pull_request_id]).fetchone()
    return str(row[0]) if row and row[0] is not None else None


def pull_request(store: Store, pull_request_id: str) -> dict[str, Any] | None:
    """One pull request (no person column), its team, delivery and the deployment that delivered
    it."""
    rows = store.query(
        f"""
        WITH {_REPO_TEAM}, prs AS (SELECT ? AS id),
        {_delivering()}
        SELECT pr.id, pr.repo, pr.number, pr.source, rt.team, pr.created_at, pr.first_commit_at,
               pr.first_review_at, pr.merged_at, pr.closed_at, pr.additions, pr.deletions,
               df.delivered_at, dl.id AS delivered_by
        FROM pull_request pr
        LEFT JOIN repo_team rt ON rt.repo = pr.repo
        LEFT JOIN pr_delivery_fact df ON df.pull_request_id = pr.id
        LEFT JOIN delivering dl ON dl.pull_request_id = pr.id
        WHERE pr.id = ?
        """, [pull_request_id, pull_request_id])
    return rows[0] if rows else None


def pull_request_commits(store: Store, pull_request_id: str) -> list[dict[str, Any]]:
    """The pull request's commits, each with its first production deployment and the lead time
    DORA counts."""
    return store.query(
        f"""
        WITH mine AS (SELECT DISTINCT sha, sha_key FROM pull_request_commit WHERE pull_request_id = ?),
        {_first_deploys("mine")}
        SELECT m.sha, c.repo, c.committed_at, f.id AS first_deployment,
               f.finished_at AS first_deployed_at, cf.lead_seconds AS counted_lead_seconds
        FROM mine m
        LEFT JOIN "commit" c ON c.sha = m.sha
        LEFT JOIN first_deploy f ON f.sha = m.sha
        LEFT JOIN dora_change_fact cf ON cf.sha_key = m.sha_key
        ORDER BY c.committed_at NULLS LAST, m.sha
        """, [pull_request_id])


def repo_team(store: Store, repo: str) -> str | None:
    """The team owning repository ``repo`` (as flow counts it), if any."""
    row = store.con.execute(f"WITH {_REPO_TEAM} SELECT team FROM repo_team WHERE repo = ?",
                            [repo]).fetchone()
    return str(row[0]) if row and row[0] is not None else None


def pull_requests(store: Store, repo: str | None, team: str | None,
                  limit: int) -> list[dict[str, Any]]:
    """The latest pull requests (of ``repo``, of ``team``'s repositories), newest first."""
    return store.query(
        f"WITH {_REPO_TEAM} SELECT pr.id, pr.repo, pr.number, pr.created_at, pr.merged_at, "
        "rt.team "
        "FROM pull_request pr LEFT JOIN repo_team rt ON rt.repo = pr.repo "
        "WHERE (? IS NULL OR pr.repo = ?) AND (? IS NULL OR rt.team = ?) "
        "ORDER BY pr.created_at DESC, pr.id LIMIT ?", [repo, repo, team, team, limit])


def quarantined(store: Store, record_type: str, record_id: str) -> list[dict[str, Any]]:
    """Quarantined records of ``record_type`` whose raw text names ``record_id`` (why it is not
    in the store)."""
    return store.query(
        "SELECT reason, source, quarantined_at FROM quarantine WHERE type = ? "
        "AND contains(raw, ?) ORDER BY quarantined_at DESC LIMIT 5",
        [record_type, f'"{record_id}"'])
