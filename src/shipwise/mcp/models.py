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
