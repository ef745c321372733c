"""What the application layer returns: pydantic models that are also the REST API's response
models and the MCP tools' output schemas, so the three cannot drift apart.

Rows whose columns grow with the metric registry keep them in ``metrics`` (metric id -> value,
``None`` when hidden or withheld, with the reason under ``suppressed`` or ``withheld``) rather
than listing every metric twice. Models that carry figures have a ``charter`` map: the charter
entry of every metric id in the result, filled in by :mod:`shipwise.app.guard`."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

Charter = dict[str, dict[str, Any]]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: an instant: the store keeps naive UTC; every interface shows it with its offset
Instant = Annotated[datetime, AfterValidator(_utc)]


def _empty(value: object) -> bool:
    return not value


def _none(value: object) -> bool:
    return value is None


def figures(result: BaseModel) -> dict[str, Any]:
    """:func:`dump` without the result's charter map: for a page that shows several results
    under one charter map of its own."""
    out = dict(dump(result))
    out.pop("charter", None)
    return out


class Result(BaseModel):
    """A result of the application layer."""

    model_config = ConfigDict(extra="forbid")


def dump(result: BaseModel | list[Any] | None) -> Any:
    """A result as plain data, the fields the door set (so a team row has no ``service: null``):
    what the CLI prints and the API sends (its routes exclude unset fields too)."""
    if isinstance(result, BaseModel):
        return result.model_dump(exclude_unset=True)
    if isinstance(result, list):
        return [dump(r) for r in result]
    return result


class Open(BaseModel):
    """A row whose further columns follow the data (kept, never dropped)."""

    model_config = ConfigDict(extra="allow")


class MetricRow(Open):
    """Figures of one entity and period, by metric id; a metric the reader's role may not see is
    ``None`` with the reason under ``withheld`` (the charter's audience)."""

    period: str | None = None
    metrics: dict[str, float | int | str | None] = Field(default_factory=dict)
    withheld: dict[str, str] = Field(default_factory=dict, exclude_if=_empty, description=(
        "metric id -> why the reader's role may not see it (absent when nothing is withheld)"))


class Charted(Result):
    charter: Charter = Field(default_factory=dict, description=(
        "metric id -> its charter entry: definition, unit, what it may and may not inform, "
        "audience"))


# -- who, teams, services, catalog ------------------------------------------------------------

class Whoami(Result):
    role: str
    team: str | None = None
    name: str = ""
    token_id: str | None = None
    may: list[str] = Field(description="the actions this principal may take on its own team")


class Team(Result):
    team: str = Field(description="team id (use it as the team argument of other tools)")
    name: str
    org_unit: str | None = None
    delivery_unit: str | None = Field(None, description="what one unit of delivery is")
    services: int = Field(description="how many services the team owns")


class OrgUnit(Result):
    org_unit: str = Field(description="org unit id")
    name: str
    parent: str | None = Field(None, description="the unit it rolls up into (None at the top)")


class Service(Result):
    service: str
    name: str
    team: str | None = None


class MetricEntry(Result):
    """A metric of the registry with its charter entry (definition, allowed and forbidden uses)."""

    id: str
    title: str
    family: str
    unit: str
    better: str | None = Field(None, description="higher, lower, or none for a context figure")
    people_derived: bool
    docs: str
    charter: dict[str, Any] | None = None


class Overview(Result):
    """The organisation at a glance, for every role: counts only, no team's diagnostics."""

    teams: list[Team]
    period: str | None = None
    services: int
    dora_levels: dict[str, int]
    deployments_per_week: float
    investigations: int | None = None


class CharterReport(Result):
    version: int
    changes: dict[str, str] = Field(default_factory=dict)
    forbidden_uses: list[str]
    retention: dict[str, dict[str, Any]] = Field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = Field(default_factory=dict)
    problems: list[str] = Field(default_factory=list)


class CharterEntry(Open):
    """One metric's charter entry: definition, unit, what it may and may not inform…"""

    charter_version: int
    id: str
    docs: str


# -- delivery: DORA, cost, flow and strain, SLOs -----------------------------------------------

class QuickCheckScores(MetricRow):
    """The DORA Quick Check 2025 scoring of one row's measured metrics: ``metrics`` holds each
    metric's score 0–10 (higher is better), withheld like the metric itself."""

    period: str | None = Field(None, exclude_if=_none, description="(the row's period)")
    answers: dict[str, float | None] = Field(default_factory=dict, description=(
        "metric id -> the Quick Check answer the measured value gives: a bucket 1-6 (durations, "
        "deployment frequency) or a percentage 0-100 (change fail and rework rates)"))
    labels: dict[str, str | None] = Field(default_factory=dict, description=(
        "metric id -> the answer's wording (the bucket's label, or the percentage)"))
    groups: dict[str, float | None] = Field(default_factory=dict, description=(
        "DORA 2025 group (throughput, instability) -> mean score of its metrics"))
    overall: float | None = Field(None, description="mean score of the metrics with a value")


class DoraRow(MetricRow):
    team: str | None = Field(None, exclude_if=_none, description="by team: the team")
    service: str | None = Field(None, exclude_if=_none, description="by service: the service")
    change: dict[str, float | None] = Field(default_factory=dict,
                                            description="change vs the previous period")
    cluster: str | None = Field(None, description=(
        "the DORA 2024 level (elite, high, medium, low): the 2024 report's clusters, not the "
        "2025 report's model"))
    counts: dict[str, int] = Field(default_factory=dict)
    quick_check: QuickCheckScores | None = Field(None, exclude_if=_none, description=(
        "the DORA Quick Check 2025 scoring of this row's metrics (docs/metrics/dora.md)"))


class MeanSd(BaseModel):
    mean: float
    sd: float


class QuickCheckBenchmark(BaseModel):
    """One cohort of the DORA 2025 benchmark on the Quick Check's 0-10 scale (higher is better)."""

    scope: str = Field(description="all, industry or organization_size")
    key: str
    name: str
    metrics: dict[str, MeanSd] = Field(description="metric id -> mean and standard deviation")
    overall: MeanSd | None = None
    groups: dict[str, MeanSd | None] = Field(default_factory=dict)


class QuickCheck(BaseModel):
    """What the Quick Check scores are compared with, per team, and where the figures come from."""

    benchmarks: dict[str, list[QuickCheckBenchmark]] = Field(default_factory=dict, description=(
        "team -> the 2025 benchmarks beside its scores: all industries, and its industry and "
        "organisation size when its attributes name them"))
    notes: dict[str, list[str]] = Field(default_factory=dict, exclude_if=_empty, description=(
        "team -> attributes the benchmark could not use"))
    source: dict[str, Any] = Field(default_factory=dict, description=(
        "repository, commit, files and licence of the scoring and the benchmark figures"))
    profile: str = Field(description="why no DORA 2025 team profile is given")


class Appetite(Open):
    team: str
    appetite: str | None = None
    sentence: str | None = None


class DoraResult(Charted):
    """DORA per period, the same JSON as ``shipwise metrics dora --format json``."""

    grain: str
    since: str | None = None
    until: str | None = None
    rows: list[DoraRow]
    release_appetite: dict[str, Appetite] = Field(
        default_factory=dict, description="team -> release appetite (error-budget policy), to "
        "read beside deployment frequency")
    groups: dict[str, str] = Field(default_factory=dict, description=(
        "metric id -> its DORA 2025 group: throughput or instability"))
    levels: str = Field("DORA 2024 levels", description=(
        "what ``cluster`` is: the DORA 2024 report's performance levels"))
    quick_check: QuickCheck | None = Field(None, exclude_if=_none, description=(
        "the 2025 benchmarks beside each row's ``quick_check`` scores"))


class CostRow(MetricRow):
    team: str
    org_unit: str | None = None
    unit: str | None = None
    cost_amount: float | None = Field(None, description=(
        "in the reporting currency; null when a cost record of the period has no exchange rate"))
    unconverted_costs: int = Field(0, description="cost records of the period without a rate")
    units: int = 0
    flags: list[dict[str, Any]] = Field(default_factory=list, description=(
        "what to read beside the figures, each {kind, metric, message}: unconverted, undefined, "
        "tension, months_without_units, baseline_months_without_units, exceeds_spend (savings "
        "larger than the team's cost of the period), exceeds_headcount (FTE given back larger "
        "than the team's average FTE)"))
    average_fte: float | None = Field(None, description="the team's average FTE in the period")
    baseline_period: str | None = Field(None, description="the period savings compare with")
    baseline_units: int | None = Field(None, description="units delivered in the baseline period")
    baseline_cost_amount: float | None = Field(None, description="cost of the baseline period")
    same_volume_at_baseline_cost: float | None = Field(None, description=(
        "what this period's units would have cost at the baseline's cost per unit; savings = "
        "this − cost_amount"))
    months_without_units: int = Field(0, description=(
        "months of the period with cost but no unit delivered (their cost is spread over the "
        "other months' units)"))
    first_month_without_units: str | None = None
    last_month_without_units: str | None = None
    cost_to_serve_delivering_months: float | None = Field(None, description=(
        "cost of the months that delivered ÷ units: cost to serve without the empty months"))
    explanation: str | None = Field(None, description="the saving said in words, decomposed")
    missing: dict[str, str] = Field(default_factory=dict, description=(
        "metric id -> why that figure is empty (e.g. 'needs a year of history: …')"))


class RateUsed(BaseModel):
    """One exchange rate an answer used: cost records of ``month`` in ``currency``."""

    month: str
    currency: str
    rate: float = Field(description="units of the reporting currency per 1 unit of currency")
    source: str | None = None
    records: int
    amount: float = Field(description="their total in their own currency")
    reported_amount: float = Field(description="their total in the reporting currency")


class Unconverted(BaseModel):
    """Cost records an answer could not convert: no ``fx_rate`` for their month and currency."""

    month: str
    currency: str
    records: int
    amount: float = Field(description="their total in their own currency")
    teams: list[str]


class Conversion(BaseModel):
    """How amounts in other currencies became the reporting currency."""

    reporting_currency: str | None = None
    rates: list[RateUsed] = Field(default_factory=list)
    unconverted: list[Unconverted] = Field(default_factory=list)


class CostTotal(MetricRow):
    cohort_teams: int = 0
    cost_amount: float | None = None
    baseline_cost_amount: float | None = Field(None, description="the cohort's baseline cost")
    same_volume_at_baseline_cost: float | None = Field(None, description=(
        "what the cohort's units would have cost at each team's baseline cost per unit"))
    average_fte: float | None = Field(None, description="the cohort's summed average FTE")
    teams_without_headcount: int = 0
    flags: list[dict[str, Any]] = Field(default_factory=list, description=(
        "exceeds_spend, exceeds_headcount: savings larger than the cohort's spend or FTE"))
    explanation: str | None = None


class CostResult(Charted):
    """Cost to serve per period, the same JSON as ``shipwise cost --format json``."""

    grain: str
    baseline: str
    currency: str | None = None
    since: str | None = None
    until: str | None = None
    rows: list[CostRow]
    organisation: list[CostTotal] = Field(default_factory=list,
                                          description="organisation totals per period")
    data: dict[str, str | None] = Field(default_factory=dict, description="the span with data")
    conversion: Conversion = Field(default_factory=Conversion, description=(
        "the exchange rates used and the cost records left unconverted (no rate)"))


class InitiativesResult(Open):
    """Investments (initiatives) and what they cost and changed."""


class DiagnosticRow(MetricRow):
    team: str | None = Field(None, exclude_if=_none, description="team level: the team")
    org_unit: str | None = Field(None, exclude_if=_none, description="org-unit level: the unit")
    suppressed: dict[str, str] = Field(default_factory=dict,
                                       description="column -> why it is hidden")
    oncall_basis: str | None = Field(
        None, exclude_if=_none, description="strain: where the on-call hours come from — rota "
        "(on-call shifts), pages (approximated from pages) or mixed (an org unit with both)")


class DiagnosticsResult(Charted):
    """Flow or strain per period, of teams (``level`` team) or of org units (``org_unit``), the
    same JSON as ``shipwise flow|strain --format json``."""

    family: str = Field(description="flow or strain")
    grain: str
    level: str = Field(description="team or org_unit")
    since: str | None = None
    until: str | None = None
    min_group_size: int = Field(description="figures of fewer people than this are hidden")
    rows: list[DiagnosticRow] = Field(description=(
        "one per (team or org_unit, period): metrics by metric id (null when hidden), counts, "
        "suppressed {column: reason}; flow rows also carry the open pull requests' age "
        "distribution"))


class SloResult(Charted):
    """A team's SLOs, as ``shipwise slo --team T --format json``: status at ``at``, history per
    period, and the team's release appetite with its plain-language sentence."""

    model_config = ConfigDict(extra="allow")

    at: str | None = None
    team: str | list[str] | None = None
    windows: list[str] = Field(default_factory=list, description="burn-rate windows")
    status: list[dict[str, Any]] = Field(description=(
        "one per SLO: objective, window, attainment, error budget remaining, burn rates, alerts "
        "and alert_state (ok, ticket, page, unknown)"))
    appetite: dict[str, dict[str, Any]] = Field(description=(
        "team -> release appetite (full, reduced, fixes only) with reasons and a sentence: a "
        "spent budget slows releases on purpose, it is not a productivity drop"))
    history: dict[str, Any] | None = None


class FairnessResult(Charted):
    """The fairness audit (``shipwise fairness audit --format json``): findings first."""

    model_config = ConfigDict(extra="allow")

    findings: list[dict[str, Any]] = Field(
        description="severity (concern, watch, ok), text in plain language, what_to_do")
    observations: dict[str, Any] = Field(default_factory=dict)
    flags: list[dict[str, Any]]
    correlations: dict[str, Any]
    org_unit_variance: list[dict[str, Any]]
    method: list[str]


# -- incidents --------------------------------------------------------------------------------

class AlarmRow(Open):
    id: str
    status: str | None = None
    received_at: str | None = None
    alarm: dict[str, Any] | None = None


class InvestigationSummary(Open):
    id: str
    entity: str | None = None
    metric: str | None = None
    created_at: Instant | None = None
    alarm_at: Instant | None = None
    alarm_id: str | None = None
    status: str | None = None
    root_cause_entity: str | None = None
    root_cause_kind: str | None = None
    confidence: float | None = None
    summary: str | None = None
    seconds: float | None = None


class InvestigationGap(Open):
    """Something an investigation could not see, and how to connect it."""

    source: str = Field(description="metrics, topology, logs, changes, entity, candidate (a cause "
                                    "it could not tie to the alarm) or a failed source's name")
    what: str = Field(description="what it could not see")
    how: str = Field(description="how to connect it (a shipwise.yaml setting, a file)")


class InvestigationStep(Open):
    """One typed step of an investigation's work (``steps`` in the record)."""

    type: Literal["plan", "fetch", "observation", "finding", "root_cause"]
    text: str
    ref: str = ""


class Investigation(Open):
    """A full investigation record: alarm, root cause, evidence, ruled out, mitigation plan…
    ``status`` is ``inconclusive`` (and ``root_cause`` empty or a weak lead) when no candidate
    is both connected to the alarm's entity and shows an effect of its own; ``gaps`` says what
    it could not see."""

    id: str
    status: str | None = None
    gaps: list[InvestigationGap] = Field(default_factory=list)
    steps: list[InvestigationStep] = Field(default_factory=list, description=(
        "the investigation's work as typed entries: plan, fetch (query, size), observation, "
        "finding, root_cause"))


class AnswerFact(Result):
    """A fact of the record an answer rests on, with its evidence reference: a file and line,
    an event id, a PromQL or Prometheus graph link, or a pointer ``#/path`` into the record."""

    text: str
    ref: str = ""
    source: str = ""


class Rescoped(Result):
    """The investigation re-run with a narrowed window or scope, linked to the one asked."""

    id: str = Field(description="the new (child) investigation's id")
    parent_id: str
    narrowing: str = Field(description="how the scope was narrowed, in words")
    kind: Literal["window", "wave", "entities", "region"]
    status: str
    root_cause: str | None = None
    same_root_cause: bool = Field(description="the child names the parent's root-cause entity")


class RescopeLink(Result):
    """An investigation linked to another by re-scoping."""

    id: str
    relation: Literal["child", "parent"] = Field(description="child: narrowed from the one asked; "
                                                           "parent: the one it narrows")
    question: str
    narrowing: str


class Prose(Result):
    """The answer rephrased by the configured LLM, from the facts only (they are always shown
    beside it)."""

    text: str
    model: str
    open_question: bool = Field(False, description=(
        "no intent matched: the model answered the open question from the record's main facts "
        "(listed in `facts`), which the deterministic answer could not"))


class Answer(Result):
    """A follow-up question on an investigation, answered from its stored record (docs/ask.md).
    ``answered`` is false when nothing in the record answers it (then ``suggestions``)."""

    investigation_id: str
    question: str
    intent: str | None = Field(description="which part of the record answered (None: none)")
    answered: bool
    answer: str
    facts: list[AnswerFact] = Field(default_factory=list)
    suggestions: list[str] = Field(default_factory=list)
    rescoped: Rescoped | None = None
    rescope_note: str | None = Field(None, description="why a re-scoping question was answered "
                                                       "from the record without re-running")
    prose: Prose | None = None
    prose_error: str | None = Field(None, description="why the LLM's prose is missing (the "
                                                      "deterministic answer stands)")
    children: list[dict[str, Any]] = Field(default_factory=list, description=(
        "the investigation's re-scoped children (id, question, narrowing)"))


class SeriesCheck(Result):
    """One series an investigation found anomalous, re-read now and tested against its
    pre-incident baseline."""

    entity: str
    metric: str
    status: Literal["recovered", "still_anomalous", "no_data"]
    reason: str
    promql: str = Field(description="the PromQL to watch")
    graph: str = Field(description="a Prometheus graph link of that PromQL")
    samples: int
    baseline: dict[str, float | int] = Field(
        description="the investigation's pre-incident window: start, end, median, iqr, n")
    recent_median: float | None = None
    deviation: float | None = Field(None, description="robust-σ from the baseline, bad direction "
                                                      "positive")
    outside_share: float | None = None
    anomaly_score: float | None = None


class Verification(Result):
    """``shipwise verify``: is every series an investigation found anomalous back to its
    baseline? Stored in the investigation record only when asked (``recorded``)."""

    investigation_id: str
    at: Instant
    minutes: float
    status: Literal["recovered", "still_anomalous", "no_data", "partly_unknown", "nothing_to_verify"]
    test: str = Field(description="the test applied to every series")
    series: list[SeriesCheck]
    watch: list[str] = Field(description="PromQL to keep watching")
    recorded: bool = False


class InvestigationQueued(Result):
    """An investigation request stored as an alarm and queued for the investigation worker."""

    id: str = Field(description="the alarm's id; its investigation appears in /investigations")
    queued: bool
    duplicate: bool
    entity: str
    at: str
    metric: str | None = None


# -- administration ---------------------------------------------------------------------------

class TokenRow(Result):
    id: str
    name: str
    role: str
    team: str | None = None
    created_at: Instant | None = None
    revoked_at: Instant | None = None
    last_used_at: Instant | None = None
    responder: bool = Field(default=False, description=(
        "may resolve actors' pseudonyms for incident response (docs/governance.md)"))


class TokenCreated(Result):
    id: str
    name: str
    role: str
    team: str | None = None
    token: str = Field(description="the token's value, shown this once and stored nowhere")
    responder: bool = False


class ImportedType(Result):
    """What an import did with the records of one type."""

    inserted: int
    updated: int
    unchanged: int
    quarantined: int
    duplicates: int


class ImportedFile(Result):
    source: str
    reason: str


class ImportResult(Result):
    """An import: per record type what was inserted, updated, left unchanged (the same input
    twice never counts twice) or quarantined, and why records were rejected."""

    sources: list[str]
    types: dict[str, ImportedType]
    quarantine_reasons: dict[str, int]
    failed_files: list[ImportedFile] = Field(default_factory=list)


class TokenRevoked(Result):
    id: str
    revoked: Literal[True] = True


class AccessRow(Result):
    read_at: Instant
    token_id: str | None = None
    reader: str | None = None
    role: str
    interface: str | None = None
    action: str
    subject: str | None = None
    allowed: bool
    people_derived: bool


class RetentionResult(Open):
    charter_version: int
    as_of: str
    dry_run: bool = False


class RetentionRun(Result):
    run_at: Instant
    record_type: str
    cutoff: Instant | date | None = None
    action: str
    rows: int


# -- wrappers for interfaces whose answers must be objects (MCP's structured content) ----------

class TeamList(Result):
    teams: list[Team]


class InvestigationList(Result):
    investigations: list[InvestigationSummary]


class CharterResult(Result):
    """The metric charter: version, forbidden uses, and one metric's entry (``entry``) or every
    entry with the retention periods and the validation problems (empty when sound)."""

    version: int
    forbidden_uses: list[str]
    entry: CharterEntry | None = Field(default=None, description="the entry asked for")
    metrics: dict[str, dict[str, Any]] = Field(default_factory=dict)
    retention: dict[str, dict[str, Any]] = Field(default_factory=dict)
    changes: dict[str, str] = Field(default_factory=dict)
    problems: list[str] = Field(default_factory=list)


class InvestigationStarted(Result):
    """``completed``: the investigation ran here (stdio) and ``investigation`` holds its record;
    ``queued``: the server stored the alarm and investigates it in the background — poll
    ``list_investigations``."""

    outcome: Literal["completed", "queued"]
    service: str
    investigation_id: str | None = None
    alarm_ids: list[str] = Field(default_factory=list)
    status: str | None = None
    root_cause: dict[str, Any] | None = None
    gaps: list[InvestigationGap] = Field(default_factory=list,
                                         description="what it could not see (completed only)")
    message: str


# --- sync and doctor (app/sync.py, app/doctor.py) ---------------------------------------------

class ScopeSync(Result):
    """One scope (a repository, a project) of one source, synced once."""

    source: str
    kind: str
    scope: str
    #: ``ok`` | ``transient`` (try again later) | ``terminal`` (fix something first) | ``failed``
    status: str
    error: str | None = None
    #: continued from a cursor committed by an earlier sync
    incremental: bool = False
    batches: int = 0
    #: canonical records read (before validation)
    records: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    #: HTTP requests made (None for sources that make none)
    requests: int | None = None
    seconds: float = 0.0
    #: what the connector wants the operator to know (e.g. people on no mapped team)
    notes: list[str] = Field(default_factory=list)


class SyncReport(Result):
    scopes: list[ScopeSync] = Field(default_factory=list)
    #: the derived facts were rebuilt once at the end
    refreshed: bool = False
    seconds: float = 0.0

    @property
    def failed(self) -> list[ScopeSync]:
        return [s for s in self.scopes if s.status != "ok"]


class DoctorCheck(Result):
    """One check of ``shipwise doctor``: what was checked and, when it failed, what to do."""

    area: str
    what: str
    ok: bool
    #: one sentence: the problem and what to do about it
    problem: str | None = None


class DoctorReport(Result):
    checks: list[DoctorCheck] = Field(default_factory=list)

    @property
    def problems(self) -> list[DoctorCheck]:
        return [c for c in self.checks if not c.ok]


# --- explain: why a record counted (app/explain.py) -------------------------------------------

class ExplainCommit(Result):
    """A commit as explain shows it: when it was committed and its first production deployment
    (lead time counts from that one). No author: explain is about records, not people."""

    sha: str
    short_sha: str
    repo: str | None = None
    committed_at: Instant | None = Field(default=None, description="null: no commit record in the store")
    lead_seconds: float | None = Field(default=None, description=(
        "committed -> this deployment's finish (deployment explanations only)"))
    first_deployment: str | None = Field(default=None, description=(
        "its first successful production deployment (null: none yet)"))
    first_deployed_at: Instant | None = None
    first: bool | None = Field(default=None, description=(
        "this deployment is the commit's first production deployment (deployment explanations)"))
    counted_lead_seconds: float | None = Field(default=None, description=(
        "the lead time DORA counts: committed -> first production deployment"))


class ExplainPullRequestLink(Result):
    """A pull request some shipped commit belongs to, and the deployment that delivered it."""

    id: str
    ref: str = Field(description="REPO#N")
    merged_at: Instant | None = None
    delivered_at: Instant | None = None
    delivered_by: str | None = Field(default=None, description=(
        "the deployment that delivered it: the first production deployment of its last commit "
        "to reach production (null: not delivered)"))
    delivered_here: bool
    commits_here: int = Field(description="of its commits, shipped by this deployment")
    commits: int


class ExplainIncident(Result):
    id: str
    severity: str
    opened_at: Instant
    resolved_at: Instant | None = None
    basis: Literal["explicit", "label", "window"] | None = Field(default=None, description=(
        "how the incident is linked to this deployment's version (docs/incident-links.md)"))
    deployment_id: str | None = Field(default=None, description=(
        "the deployment of the version the link names"))


class DoraCounting(Result):
    """Whether and how DORA counts a deployment."""

    production: bool
    normalised_key: str | None = Field(default=None, description="service@version (#id without one)")
    counted: bool = Field(description=(
        "counts in deployment frequency: the first successful finish of its normalised key"))
    failed: bool | None = Field(default=None, description="its key counts as a failed deployment")
    rework: bool | None = None
    first_success_at: Instant | None = None
    reasons: list[str] = Field(description="plain sentences, in order")


class DeploymentExplanation(Result):
    """``shipwise explain deployment ID``: where a deployment came from and why it counted."""

    id: str
    source: str | None = Field(default=None, description="connector and raw id (null: imported from a file)")
    rule: str | None = Field(default=None, description="why a connector counted it as a deployment")
    service: str
    team: str | None = None
    environment: str
    status: str
    kind: str | None = None
    version: str | None = None
    region: str | None = None
    started_at: Instant
    finished_at: Instant
    dora: DoraCounting
    commits: list[ExplainCommit]
    pull_requests: list[ExplainPullRequestLink]
    incidents: list[ExplainIncident]
    withheld: str | None = Field(default=None, description=(
        "why commit times, lead times and pull requests' merge times are not shown (null: shown)"))


class IncidentLink(Result):
    """The production deployment an incident is linked to, and on what basis."""

    deployment_id: str
    normalised_key: str = Field(description="service@version (#id without one): what DORA counts")
    service: str
    basis: Literal["explicit", "label", "window"] = Field(description=(
        "explicit: its caused_by; label: a label naming the deployment or version; window: the "
        "latest production deployment of its service within the team's window"))
    label: str | None = Field(default=None, description="the label that linked it (basis label)")
    window_hours: float | None = Field(default=None, description="the team's window (basis window)")
    seconds_before: float | None = Field(default=None, description=(
        "from the deployment's finish to the incident's opening (negative: it finished after)"))


class IncidentRules(Result):
    """The link rules of the team owning the incident's service (its org file attributes)."""

    window_hours: float | None = Field(default=None, description=(
        "incident_window_hours (null: no window links)"))
    deployment_label_prefix: str | None = None
    version_label_prefix: str | None = None


class LinkCandidate(Result):
    """A production deployment of the incident's service near its opening."""

    id: str
    version: str | None = None
    status: str
    finished_at: Instant
    seconds_before: float
    linked: bool


class IncidentExplanation(Result):
    """``shipwise explain incident ID``: the deployment an incident is linked to and why, and
    what that link changes in DORA."""

    id: str
    source: str | None = Field(default=None, description="connector and raw id (null: imported from a file)")
    service: str
    team: str | None = None
    severity: str
    opened_at: Instant
    resolved_at: Instant | None = None
    caused_by: str | None = None
    labels: list[str] = Field(default_factory=list)
    link: IncidentLink | None = Field(default=None, description="null: linked to no deployment")
    rules: IncidentRules
    reasons: list[str] = Field(description="why it is (or is not) linked, in sentences")
    dora: list[str] = Field(description="what the link changes in DORA, in sentences")
    candidates: list[LinkCandidate] = Field(default_factory=list, description=(
        "production deployments of its service in the window before it opened (24 h without a "
        "window) and the hour after, latest first"))


class PullRequestExplanation(Result):
    """``shipwise explain pull-request REPO#N``: its times, flow phases, commits and delivery."""

    id: str
    ref: str
    team: str | None = Field(default=None, description="the team owning its repository")
    source: str | None = None
    created_at: Instant | None = Field(default=None, description="null: withheld (see withheld)")
    first_commit_at: Instant | None = None
    first_review_at: Instant | None = None
    merged_at: Instant | None = None
    closed_at: Instant | None = None
    delivered_at: Instant | None = None
    phases: dict[str, float | None] = Field(description=(
        "seconds: coding, pickup, review, deploy and cycle, as flow defines them (null: not "
        "applicable yet)"))
    commits: list[ExplainCommit]
    delivered_by: str | None = None
    delivery: str = Field(description="which deployment delivered it, or why none did")
    undeployed: list[str] = Field(default_factory=list, description=(
        "short shas of its commits no production deployment has shipped"))
    withheld: str | None = Field(default=None, description=(
        "why its times, phases and its commits' times are not shown (null: shown)"))


class ExplainListRow(Result):
    id: str = Field(description="pass it to explain")
    what: str
    at: Instant | None = None


class ExplainList(Result):
    """Ids to explain (``--list``), newest first."""

    kind: Literal["deployment", "pull_request", "incident"]
    rows: list[ExplainListRow]


# -- the organisation file (shipwise org) -----------------------------------------------------

class OrgChange(Result):
    """One entry of an organisation file's plan: an org unit, team, service or person (by its
    stored id: a pseudonym) added, changed (field -> [old, new], as text) or removed."""

    kind: Literal["org_unit", "team", "service", "person"]
    id: str
    action: Literal["added", "changed", "removed"]
    fields: dict[str, list[str | None]] = Field(default_factory=dict)
    #: the entry's line in the file (none for a removal)
    line: int | None = None
    #: for a removal: what still references it (rows by table); it is never deleted then
    referenced_by: dict[str, int] | None = None


class OrgApplyResult(Result):
    source: str
    dry_run: bool
    prune: bool
    changes: list[OrgChange] = Field(default_factory=list)
    #: stored rows naming a person by an alias, re-attributed to the canonical id (table.column)
    rewritten: dict[str, int] = Field(default_factory=dict)
    #: something was written (False for a dry run and for a file that changes nothing)
    applied: bool = False


class OrgCheckResult(Result):
    source: str
    org_units: int
    teams: int
    people: int
    services: int


class OrgExport(Result):
    yaml: str
    counts: dict[str, int] = Field(default_factory=dict)


class TopologyEdge(Result):
    """One kept edge reached from the entity asked about (docs/topology.md)."""

    entity: str = Field(description="the entity reached")
    depth: int = Field(description="steps from the entity asked about (1: direct)")
    via: str = Field(description="the entity one step nearer the one asked about")
    relation: str = Field(examples=["calls", "runs_on", "member_of"])
    origins: list[str] = Field(description="where the edge was learnt: store, traces, "
                                           "prometheus, deployments, file")
    last_seen_at: Instant
    seen: int = Field(description="distinct observations (investigations, days of store "
                                  "refresh, deployments) that saw it")


class TopologyFact(Result):
    """An owner, repository or deploy target of the entity (not walked)."""

    source: str
    target: str
    relation: str = Field(examples=["owned_by", "built_from", "deploys_to"])
    origins: list[str]
    last_seen_at: Instant
    seen: int


class BlastRadius(Result):
    """The entity's blast radius in the kept topology: who is hurt if it fails (upstream
    dependents) and what it depends on (downstream), within ``days`` and ``depth``."""

    entity: str
    kind: str | None = None
    team: str | None = None
    depth: int
    days: float | None = Field(None, description="edges last seen within this many days "
                                                 "(None: all)")
    upstream: list[TopologyEdge] = Field(default_factory=list)
    downstream: list[TopologyEdge] = Field(default_factory=list)
    facts: list[TopologyFact] = Field(default_factory=list)


class TopologyRefresh(Result):
    """What a refresh of the kept topology from the store saw (edges by relation) and how many
    observations were new (0 when the store was already learnt today)."""

    at: Instant
    edges: dict[str, int] = Field(default_factory=dict)
    new_observations: int
    #: retention: observations folded into their edges' counts, and edges not seen since
    trimmed_observations: int = 0
    forgotten_edges: int = 0


# -- notifications (docs/notifications.md) -------------------------------------------------------

class OutboxCount(BaseModel):
    channel: str
    kind: str
    status: str
    n: int


class OutboxError(BaseModel):
    id: str
    channel: str
    event: str
    subject: str
    status: str
    attempts: int
    next_at: Instant
    last_status: int | None = None
    last_error: str | None = None


class ChannelCheck(BaseModel):
    name: str
    kind: str
    #: "found", or where the secret was looked for (never its value)
    secret: str


class NotifyStatus(Result):
    """The outbox: rows per channel and status, and the latest errors of rows not delivered."""

    pending: int
    delivered: int
    failed: int
    channels: list[ChannelCheck]
    counts: list[OutboxCount]
    last_errors: list[OutboxError]


class DeliveryPass(Result):
    """One delivery pass over the rows due."""

    delivered: int
    retrying: int
    failed: int
    waiting: int
    reconciled: int
    errors: list[str]


class Requeued(Result):
    requeued: int


class DigestLine(BaseModel):
    metric: str
    label: str
    value: float | None = None
    shown: str | None = None
    usual: float | None = None
    usual_shown: str | None = None
    weeks_of_history: int
    hidden: str | None = None
    direction: str | None = None


class DigestSection(BaseModel):
    family: str
    title: str
    lines: list[DigestLine]


class Digest(Result):
    """A team's week against its own past (never other teams, never people)."""

    team: str
    week: str
    weeks: int
    min_group_size: int
    sections: list[DigestSection]
    budget: list[str]
    text: str
    blocks: list[dict[str, Any]]
    #: the outbox row written (--send), and whether it was delivered on the spot
    row_id: str | None = None
    queued: bool = False
    delivered: bool = False


class DigestRun(Result):
    """Every team's digest of one week, as the server sends them: the teams queued now, those
    already sent that week, and those whose digest could not be made (with the reason)."""

    week: str | None = None
    queued: list[str]
    already_sent: list[str]
    failed: dict[str, str]


# -- AI-assisted development (app/ai.py) --------------------------------------------------------

class AiAdoptionRow(MetricRow):
    team: str
    level: str | None = Field(None, description="none, light, moderate or heavy (null: hidden)")
    team_size: float | None = Field(None, description="members in the month (else headcount FTE)")
    weekdays: int = Field(0, description="weekdays of the month the usage data covers")
    spend_amount: float | None = Field(None, description="AI tool spend, reporting currency")
    suppressed: dict[str, str] = Field(default_factory=dict, exclude_if=_empty,
                                       description="metric id -> why it is hidden")


class AiTeamAdoption(Result):
    team: str
    level: str | None = Field(None, description="the level of the team's last month")
    adopted: dict[str, str | None] = Field(default_factory=dict, description=(
        "level -> first month the team reached it (from usage data); empty when hidden"))
    suppressed: str | None = Field(None, exclude_if=_none)


class AiCohort(Result):
    period: str
    teams: dict[str, int] = Field(description=(
        "level -> number of teams at it that month; `hidden`: teams too small to show theirs"))


class AiAdoptionResult(Charted):
    """Adoption per team and month, each team's adoption months, and the cohorts."""

    thresholds: dict[str, float] = Field(description="engaged share from which a level starts")
    sustain_months: int = Field(1, description="months a level must be held to count as adopted")
    min_group_size: int
    since: str | None = None
    until: str | None = None
    currency: str | None = None
    rows: list[AiAdoptionRow]
    teams: list[AiTeamAdoption] = Field(default_factory=list)
    cohorts: list[AiCohort] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


class AiAgentRow(MetricRow):
    team: str = Field(description="the team, or * for the organisation")
    kind: str = Field(description="agent, human, bot, or unknown (a deployment of no known commit)")
    delivery_unit: str
    units: int = Field(description="units delivered by changes of this kind")
    team_units: int = Field(description="all units the team delivered in the period")
    changes: int = 0
    merged_prs: int = 0
    deployments: int = Field(0, description="production deployments that reached production")
    suppressed: dict[str, str] = Field(default_factory=dict, exclude_if=_empty)


class AiAgentsResult(Charted):
    """Agent-authored changes beside human-authored ones, per team or organisation and period."""

    grain: str
    since: str | None = None
    until: str | None = None
    min_group_size: int
    rows: list[AiAgentRow]


class AiEffectLevel(MetricRow):
    level: str = Field(description="the level reached (against teams not yet at it)")
    adopted_teams: int
    first_adopted: str | None = None
    intervals: dict[str, list[float] | None] = Field(default_factory=dict, description=(
        "metric id -> [low, high] at the result's confidence"))
    treated_teams: int = 0
    control_teams: int = 0
    spend_amount: float = Field(0.0, description="AI spend of the adopting teams since adopting")
    attributed_savings: float | None = None
    savings_interval: list[float] | None = None
    warnings: dict[str, list[str]] = Field(default_factory=dict)


class AiEffectResult(Charted):
    """The effect of reaching each adoption level, AI spend as an investment, the tension check."""

    confidence: float
    currency: str | None = None
    thresholds: dict[str, float]
    spend_amount: float | None = Field(None, description="all AI spend (usage cost + investments)")
    levels: list[AiEffectLevel]
    tensions: list[dict[str, Any]] = Field(default_factory=list, description=(
        "faster or cheaper, but breaking more: level, severity (concern, watch), message"))
    warnings: list[str] = Field(default_factory=list)
