"""Results of the verdict and prevention doors (:mod:`shipwise.app.verdicts`,
:mod:`shipwise.app.prevention`): the REST API's response models and the MCP tools' output
schemas, like :mod:`shipwise.app.results` (kept beside it so that module stays readable)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shipwise.app.results import Instant, Result

VerdictValue = Literal["right", "partly", "wrong"]
Status = Literal["open", "accepted", "dismissed", "done"]
Category = Literal["governance", "infrastructure", "observability", "pipeline"]


class Verdict(Result):
    """A responder's verdict on an investigation's root cause."""

    investigation_id: str
    verdict: VerdictValue
    comment: str | None = None
    marked_at: Instant
    marked_by: str = Field(description="the role and interface that marked it (never a person)")
    root_cause_entity: str | None = None
    root_cause_kind: str | None = None


class AccuracyRow(Result):
    """Accuracy over the verdict-marked investigations of one group."""

    value: str | None = Field(None, description="the fault kind or the service (overall: null)")
    marked: int
    right: int
    partly: int
    wrong: int
    accuracy: float = Field(description="right / marked")
    accuracy_partial: float = Field(description="(right + partly / 2) / marked")


class Accuracy(Result):
    """``shipwise investigations accuracy``: how often the root cause was right, by the
    responders' verdicts, overall, by fault kind and by service."""

    investigations: int = Field(description="investigations in scope, marked or not")
    overall: AccuracyRow | None = Field(None, description="null: no verdict yet")
    by_kind: list[AccuracyRow]
    by_service: list[AccuracyRow]
    scope: str = Field(description="whose investigations: every team's, or one team's services")


class PreventionIncident(Result):
    """One occurrence behind a recommendation."""

    id: str
    source: Literal["investigation", "incident", "alarm"]
    at: str | None = None
    impact: float = Field(description="customers affected, else failing share of requests in %, "
                                      "else the severity's weight")
    minutes: float
    weight: float = Field(description="by the verdict on its root cause: right 1, unmarked 0.75, "
                                      "partly 0.5 (wrong ones are left out)")
    verdict: VerdictValue | None = None


class Recommendation(Result):
    """A change that would prevent a recurring pattern of incidents."""

    key: str = Field(description="stable across scans: <category>:<rule>:<subject>")
    category: Category
    rule: str
    subject: str
    service: str | None = None
    team: str | None = None
    title: str
    rationale: str
    change: str
    priority: Literal["high", "medium", "low"]
    cost: float = Field(description="customer-hours: Σ weight × impact × hours over the incidents")
    occurrences: int
    incidents: list[PreventionIncident]
    first_at: Instant | None = None
    last_at: Instant | None = None
    status: Status
    reason: str | None = None
    status_at: Instant | None = None
    active: bool = Field(description="seen by the latest scan")
    first_seen_at: Instant
    last_seen_at: Instant
    last_scan_id: str | None = None


class ScanInfo(Result):
    id: str
    started_at: Instant
    finished_at: Instant | None = None
    trigger: str
    investigations: int | None = None
    incidents: int | None = None
    found: int | None = None
    new: int | None = None
    reopened: int | None = None
    seconds: float | None = None


class PreventionList(Result):
    """Recommendations, highest priority and cost first, with the last scan."""

    recommendations: list[Recommendation]
    last_scan: ScanInfo | None = None


class ScanResult(Result):
    """What one prevention scan read and found."""

    scan: ScanInfo
    recommendations: list[Recommendation]
