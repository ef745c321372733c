"""``shipwise sync``: read every configured source (``sources:`` in shipwise.yaml) into the store.

Each source names its scopes (repositories, projects); each scope is synced from its own cursor
by :func:`shipwise.connectors.sync.sync_scope`, which imports a batch and only then moves the
cursor, so a sync killed half-way resumes where it stopped and never counts a record twice. A
scope that fails (a missing repository, a token without a scope, a rate limit that outlasts the
retries) is recorded with its error in ``sync_state`` and the others go on; the report lists it
and ``shipwise doctor`` shows it again. The derived facts are rebuilt once, at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from shipwise.app.caller import Caller
from shipwise.app.context import pseudonymiser_for
from shipwise.app.guard import guard
from shipwise.app.ingest import import_tables_into, refresh_facts
from shipwise.app.results import ScopeSync, SyncReport
from shipwise.config import (
    AgentSettings,
    CopilotSource,
    GitHubSource,
    GitLabSource,
    GitSource,
    JiraSource,
    OpsgenieSource,
    PagerDutySource,
    ServiceNowSource,
)
from shipwise.connectors.base import Batch, Connector, ServiceMap
from shipwise.connectors.copilot import CopilotConnector
from shipwise.connectors.git.connector import GitConnector
from shipwise.connectors.github.connector import GitHubConnector
from shipwise.connectors.gitlab.connector import GitLabConnector
from shipwise.connectors.http import MalformedPageError
from shipwise.connectors.jira.connector import JiraConnector
from shipwise.connectors.opsgenie import OpsgenieConnector
from shipwise.connectors.pagerduty import PagerDutyConnector
from shipwise.connectors.servicenow import ServiceNowConnector
from shipwise.connectors.sync import failure_status, one_line, sync_scope
from shipwise.errors import ConfigError, ShipwiseError
from shipwise.ingest.loader import ImportReport
from shipwise.store import deployments, runs, sync_state
from shipwise.store.duckdb_store import Store
from shipwise.store.org import service_map

Source = (GitHubSource | GitLabSource | GitSource | PagerDutySource | JiraSource | ServiceNowSource
          | OpsgenieSource | CopilotSource)

#: records committed together: a connector's pages are merged up to this many (an import costs
#: about 0.1-0.2 s whatever its size, so per page it would dominate a sync of small pages)
BATCH_ROWS = 20_000


@dataclass(frozen=True)
class SyncEvent:
    """What :func:`sync_sources` reports while it runs (for a progress bar).

    ``kind`` is ``scope`` (a scope starts: ``index`` of ``total`` in its source), ``batch`` (a
    batch was committed: ``rows`` read so far in the scope) or ``done`` (the scope ended with
    ``status``).
    """

    kind: str
    source: str
    scope: str
    index: int = 0
    total: int = 0
    rows: int = 0
    status: str = ""


Progress = Callable[[SyncEvent], None]


def connector_for(source: Source, services: ServiceMap, *,
                  transport: httpx.BaseTransport | None = None,
                  store: Store | None = None,
                  agents: AgentSettings | None = None) -> Connector:
    """The connector of a configured source (``store``: where connectors that link to stored
    records look them up, read only; ``agents``: how agent-authored changes are recognised,
    the ``ai.agents`` settings)."""
    if isinstance(source, GitHubSource):
        return GitHubConnector(source, services, transport=transport, agents=agents)
    if isinstance(source, GitLabSource):
        return GitLabConnector(source, services, transport=transport, agents=agents)
    if isinstance(source, PagerDutySource):
        return PagerDutyConnector(source, services, transport=transport)
    # the deployments the store has: an incident names only one of those as its cause
    known = (lambda ids: deployments.existing(store, ids)) if store is not None else None
    if isinstance(source, JiraSource):
        return JiraConnector(source, services, transport=transport, deployments=known)
    if isinstance(source, ServiceNowSource):
        return ServiceNowConnector(source, services, deployments=known, transport=transport)
    if isinstance(source, OpsgenieSource):
        return OpsgenieConnector(source, services, transport=transport)
    if isinstance(source, CopilotSource):
        return CopilotConnector(source, transport=transport)
    return GitConnector.from_source(source, services, agents=agents)


def selected(caller: Caller, names: Sequence[str]) -> list[Source]:
    """The configured sources named (all when ``names`` is empty); ConfigError for an unknown one."""
    if not names:
        return list(caller.settings.sources)
    return [caller.settings.source(n) for n in names]


@guard("admin.ingest", "sync")
def sync_sources(caller: Caller, names: Sequence[str] = (), *, scopes: Sequence[str] = (),
                 progress: Progress | None = None, restart: bool = False,
                 transport: httpx.BaseTransport | None = None) -> SyncReport:
    """Sync the named sources (all when none are named); only ``scopes`` of them when given.
    ``restart``: forget those scopes' cursors first and read everything again (after a mapping
    changed, so that records quarantined as unmapped come in; nothing is counted twice).

    Every scope is attempted even when an earlier one failed; the report says which failed and
    why. The facts are rebuilt once at the end if anything changed.
    """
    store, settings = caller.store, caller.settings
    if not settings.sources:
        raise ConfigError("no sources are configured",
                            hint="add a `sources:` list to shipwise.yaml (see docs/sync.md)")
    sources = selected(caller, names)
    services = service_map(store)
    pseudo = pseudonymiser_for(store, settings)
    report = SyncReport(scopes=[])
    started = time.perf_counter()
    for source in sources:
        connector = connector_for(source, services, transport=transport, store=store,
                                  agents=settings.ai.agents)
        try:
            chosen = [s for s in connector.scopes() if not scopes or s.key in scopes]
            for index, scope in enumerate(chosen, 1):
                if restart:
                    sync_state.forget(store, source.id, scope.key)
                if progress:
                    progress(SyncEvent("scope", source.id, scope.key, index, len(chosen)))
                report.scopes.append(_sync_one(caller, connector, source, scope, pseudo, progress))
                if progress:
                    progress(SyncEvent("done", source.id, scope.key, index, len(chosen),
                                       report.scopes[-1].records, report.scopes[-1].status))
        finally:
            close = getattr(connector, "close", None)
            if callable(close):
                close()
    refresh_facts(store)
    report.refreshed = True
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _requests(connector: Connector) -> int | None:
    stats: Any = getattr(connector, "stats", None)
    if stats is None:
        return None
    value = stats.get("requests") if isinstance(stats, dict) else getattr(stats, "requests", None)
    return int(value) if value is not None else None


def _sync_one(caller: Caller, connector: Connector, source: Source, scope: Any,
              pseudo: Any, progress: Progress | None) -> ScopeSync:
    store, limits = caller.store, caller.settings.ingest
    result = ScopeSync(source=source.id, kind=source.kind, scope=scope.key, status="ok")
    before = _requests(connector)
    t0 = time.perf_counter()

    def commit(batch: Batch) -> ImportReport:
        rep = import_tables_into(store, pseudo, batch.records, f"{source.id}:{scope.key}",
                                 kind=source.kind, limits=limits, refresh=False)
        result.batches += 1
        result.records += batch.rows
        for counts in rep.counts.values():
            result.inserted += counts.inserted
            result.updated += counts.updated
            result.unchanged += counts.unchanged
            result.quarantined += counts.quarantined
        if progress:
            progress(SyncEvent("batch", source.id, scope.key, rows=result.records))
        return rep

    try:
        run = sync_scope(store, connector, scope, commit, max_rows=BATCH_ROWS)
        result.incremental = run.incremental
    except ShipwiseError as exc:  # recorded in sync_state by sync_scope; the next scope goes on
        result.status, result.error = failure_status(exc), one_line(exc)
        if isinstance(exc, MalformedPageError):  # kept with its reason, like a bad record
            runs.quarantine_raw(store, type_name="page", reason=f"malformed page: {exc}",
                                source=f"{source.id}:{scope.key} {exc.url}", raw=exc.excerpt)
            result.quarantined += 1
    notes = getattr(connector, "sync_notes", None)  # optional: connectors that have some
    if callable(notes):
        result.notes = [str(n) for n in notes(scope.key)]
    after = _requests(connector)
    if before is not None and after is not None:
        result.requests = after - before
    result.seconds = round(time.perf_counter() - t0, 3)
    return result
