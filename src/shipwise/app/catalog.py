"""The metric catalog and the charter: what every metric means and may inform, for every role."""

from __future__ import annotations

from typing import Any

from shipwise.app.caller import Caller
from shipwise.app.guard import Access, guard
from shipwise.app.results import CharterEntry, CharterReport, CharterResult, MetricEntry, Result
from shipwise.errors import NotFoundError
from shipwise.governance.charter import CharterEntry as CharterEntryModel
from shipwise.governance.charter import load_charter, load_file, validate
from shipwise.metrics.registry import REGISTRY, Metric, get


def _entry(m: Metric) -> MetricEntry:
    charter = load_charter()
    return MetricEntry(id=m.id, title=m.title, family=m.family, unit=m.unit, better=m.better,
                       people_derived=m.people_derived, docs=f"docs/metrics/{m.id}.md",
                       charter=(charter.entries[m.id].model_dump()
                                if m.id in charter.entries else None))


@guard("metrics.catalog", "metrics")
def catalog(caller: Caller) -> list[MetricEntry]:
    """Every metric id with its charter entry (definition, allowed and forbidden uses…)."""
    return [_entry(m) for m in REGISTRY.values()]


@guard("metrics.catalog", "metric:{metric_id}")
def metric(caller: Caller, metric_id: str) -> MetricEntry:
    """One metric and its charter entry."""
    if metric_id not in REGISTRY:
        raise NotFoundError(f"unknown metric {metric_id!r}",
                            hint=f"known ids: {', '.join(sorted(REGISTRY))}")
    return _entry(REGISTRY[metric_id])


def charter_report() -> CharterReport:
    """The charter with its validation result (shipped with shipwise: no store, no caller)."""
    charter = load_charter()
    return CharterReport(
        version=charter.version, changes={str(k): v for k, v in charter.changes.items()},
        forbidden_uses=charter.forbidden_uses,
        retention={k: v.model_dump() for k, v in charter.retention.items()},
        metrics={k: v.model_dump() for k, v in charter.entries.items()},
        problems=validate(charter))


def charter_entry_of(metric_id: str) -> CharterEntry:
    charter = load_charter()
    if metric_id not in charter.entries:
        raise NotFoundError(f"no charter entry for {metric_id!r}",
                            hint="GET /api/v1/charter lists every entry")
    return CharterEntry.model_validate({"charter_version": charter.version,
                                        **charter.get(metric_id).model_dump(),
                                        "docs": f"docs/metrics/{metric_id}.md"})


@guard("metrics.catalog", "charter")
def charter(caller: Caller) -> CharterReport:
    """The charter, for anyone who may read the metric catalog; the read is logged."""
    return charter_report()


@guard("metrics.catalog", "charter:{metric_id}")
def charter_entry(caller: Caller, metric_id: str) -> CharterEntry:
    """One metric's charter entry."""
    return charter_entry_of(metric_id)


@guard("metrics.catalog", accesses=lambda c, a: [
    Access("metrics.catalog", f"charter:{a['metric_id']}" if a["metric_id"] else "charter")])
def charter_answer(caller: Caller, metric_id: str | None = None) -> CharterResult:
    """The charter, or one metric's entry, as one object (for MCP)."""
    if metric_id is not None:
        charter = load_charter()
        return CharterResult(version=charter.version, forbidden_uses=charter.forbidden_uses,
                             entry=charter_entry_of(metric_id))
    report = charter_report()
    return CharterResult(version=report.version, forbidden_uses=report.forbidden_uses,
                         metrics=report.metrics, retention=report.retention,
                         changes=report.changes, problems=report.problems)


# -- shipped with shipwise, open to every role, no store: the CLI's `metrics list|explain` and
# `charter validate`, the web's tooltips -------------------------------------------------------

class CharterCheck(Result):
    """The charter (or a proposed charter file) checked against the registry and the rules."""

    version: int
    metrics: int
    retention_rules: int
    problems: list[str]


def listing() -> list[dict[str, Any]]:
    """Every registered metric id with its title, unit, better direction, charter view and the
    engines its definition is proven on (docs/spark.md)."""
    charter = load_charter()
    return [{"id": m.id, "title": m.title, "unit": m.unit, "better": m.better or "",
             "view": charter.get(m.id).view, "engines": ",".join(sorted(m.engines))}
            for m in REGISTRY.values()]


def explanation(metric_id: str) -> tuple[Metric, CharterEntryModel]:
    """A metric and its charter entry (a clear error for an unknown id)."""
    m = get(metric_id)
    return m, load_charter().get(m.id)


def charter_summary(metric_id: str) -> dict[str, Any] | None:
    """What to show beside a number (``Charter.summary``), or None without a charter entry."""
    charter = load_charter()
    return charter.summary(metric_id) if metric_id in charter.entries else None


def check_charter(path: str | None = None) -> CharterCheck:
    """Check the charter in force, or the proposed charter file at ``path``."""
    c = load_file(path) if path else load_charter()
    return CharterCheck(version=c.version, metrics=len(c.entries),
                        retention_rules=len(c.retention), problems=validate(c))
