"""What the MCP tools return: pydantic models, so the SDK publishes an output schema and sends
``structuredContent`` beside the text. Shapes follow the CLI and REST API JSON; rows whose
columns grow with the metric registry stay open (``dict``) rather than being listed twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Team(BaseModel):
    team: str = Field(description="team id (use it as the team argument of other tools)")
    name: str
    org_unit: str | None = None
    delivery_unit: str | None = Field(None, description="what one unit of delivery is")
    services: int = Field(description="how many services the team owns")


class TeamList(BaseModel):
    teams: list[Team]


class DoraResult(BaseModel):
    """DORA per period, the same JSON as ``shipwise metrics dora --format json``."""

    grain: str
    since: str | None = None
    until: str | None = None
    rows: list[dict[str, Any]] = Field(
        description="one per (team, period): metrics by metric id, change vs the previous period, "
                    "cluster, counts")


class CostResult(BaseModel):
    """Cost to serve per period, the same JSON as ``shipwise cost --format json``."""

    model_config = ConfigDict(extra="allow")

    grain: str
    baseline: str
    currency: str | None = None
    since: str | None = None
    until: str | None = None
    rows: list[dict[str, Any]] = Field(
        description="one per (team, period): cost_amount, units, metrics by metric id, flags")
    organisation: list[dict[str, Any]] = Field(
        default_factory=list, description="organisation totals per period")


class MetricEntry(BaseModel):
    """A metric of the registry with its charter entry (definition, allowed and forbidden uses)."""

    id: str
    title: str
    family: str
    unit: str
    better: str
    people_derived: bool
    docs: str
    charter: dict[str, Any]


class InvestigationSummary(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    entity: str | None = None
    metric: str | None = None
    created_at: datetime | None = None
    alarm_at: datetime | None = None
    status: str | None = None
    root_cause_entity: str | None = None
    root_cause_kind: str | None = None
    confidence: float | None = None
    summary: str | None = None
    seconds: float | None = None


class InvestigationList(BaseModel):
    investigations: list[InvestigationSummary]


class Investigation(BaseModel):
    """A full investigation record: alarm, root cause, evidence, ruled out, mitigation plan…"""

    model_config = ConfigDict(extra="allow")

    id: str
    status: str | None = None


class InvestigationStarted(BaseModel):
    """``completed``: the investigation ran here (stdio) and ``investigation`` holds its record;
    ``queued``: the server stored the alarm and investigates it in the background — poll
    ``list_investigations``."""

    outcome: Literal["completed", "queued"]
    service: str
    investigation_id: str | None = None
    alarm_ids: list[str] = Field(default_factory=list)
    status: str | None = None
    root_cause: dict[str, Any] | None = None
    message: str


class DiagnosticsResult(BaseModel):
    """Flow or strain per period, of a team (``level`` team) or of every org unit (``org_unit``),
    the same JSON as ``shipwise flow|strain --format json``, with the charter entry of every
    metric id beside the numbers."""

    family: str = Field(description="flow or strain")
    grain: str
    level: str = Field(description="team or org_unit")
    since: str | None = None
    until: str | None = None
    min_group_size: int = Field(description="figures of fewer people than this are hidden")
    rows: list[dict[str, Any]] = Field(
        description="one per (team or org_unit, period): metrics by metric id (null when "
                    "hidden), counts, suppressed {column: reason}; flow rows also carry the "
                    "open pull requests' age distribution")
    charter: dict[str, dict[str, Any]] = Field(
        description="metric id -> its charter entry: definition, unit, what it may and may not "
                    "inform, audience")


class SloResult(BaseModel):
    """A team's SLOs, as ``shipwise slo --team T --format json``: status at ``at``, history per
    period, and the team's release appetite with its plain-language sentence."""

    model_config = ConfigDict(extra="allow")

    at: str | None = None
    team: str | list[str] | None = None
    windows: list[str] = Field(default_factory=list, description="burn-rate windows")
    status: list[dict[str, Any]] = Field(
        description="one per SLO: objective, window, attainment, error budget remaining, burn "
                    "rates, alerts and alert_state (ok, ticket, page, unknown)")
    appetite: dict[str, dict[str, Any]] = Field(
        description="team -> release appetite (full, reduced, fixes only) with reasons and a "
                    "sentence: a spent budget slows releases on purpose, it is not a "
                    "productivity drop")
    history: dict[str, Any] | None = None
    charter: dict[str, dict[str, Any]] = Field(default_factory=dict)


class CharterResult(BaseModel):
    """The metric charter: version, forbidden uses, and one metric's entry (``entry``) or every
    entry with the retention periods and the validation problems (empty when sound)."""

    version: int
    forbidden_uses: list[str]
    entry: dict[str, Any] | None = Field(default=None, description="the entry asked for")
    metrics: dict[str, dict[str, Any]] = Field(default_factory=dict)
    retention: dict[str, dict[str, Any]] = Field(default_factory=dict)
    changes: dict[str, str] = Field(default_factory=dict)
    problems: list[str] = Field(default_factory=list)


class FairnessResult(BaseModel):
    """The fairness audit (``shipwise fairness audit --format json``): findings first."""

    model_config = ConfigDict(extra="allow")

    findings: list[dict[str, Any]] = Field(
        description="severity (concern, watch, ok), text in plain language, what_to_do")
    observations: dict[str, Any]
    flags: list[dict[str, Any]]
    correlations: dict[str, Any]
    org_unit_variance: list[dict[str, Any]]
    method: list[str]
    charter: dict[str, dict[str, Any]] = Field(default_factory=dict)
