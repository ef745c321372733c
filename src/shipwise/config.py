"""Settings: an optional ``shipwise.yaml`` plus ``SHIPWISE_*`` environment variables, validated.

Precedence, strongest first: explicit arguments (CLI flags) > environment > settings file > defaults.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from shipwise.errors import ConfigError
from shipwise.investigate.settings import InvestigateSettings
from shipwise.notify.settings import NotifySettings

DEFAULT_DB = "shipwise.duckdb"
DEFAULT_CONFIG = "shipwise.yaml"

#: the environment a command reads its settings and secrets from: the process's own, or — for a
#: command the server runs for another process (:mod:`shipwise.http.local`) — that process's
_ENVIRON: ContextVar[Mapping[str, str] | None] = ContextVar("shipwise_environ", default=None)


def environ() -> Mapping[str, str]:
    """The environment settings are read from (see :func:`environ_as`)."""
    return _ENVIRON.get() or os.environ


@contextmanager
def environ_as(env: Mapping[str, str]) -> Iterator[None]:
    """Read settings, tokens and keys from ``env`` instead of ``os.environ`` in this context."""
    token = _ENVIRON.set(dict(env))
    try:
        yield
    finally:
        _ENVIRON.reset(token)


class BotSettings(BaseModel):
    """How bots are recognised, besides ``bot: true`` records and logins ending in ``[bot]``."""

    model_config = ConfigDict(extra="forbid")
    logins: list[str] = Field(default_factory=list, description="Exact logins or emails of bots.")
    patterns: list[str] = Field(
        default_factory=lambda: ["*-bot", "*-bot@*", "noreply@*", "*-ci@*"],
        description="Shell-style patterns (fnmatch, case-insensitive) matching bot ids.",
    )


class AgentSettings(BaseModel):
    """How changes made by coding agents are recognised at ingest (docs/ai.md), before people
    are pseudonymised: an agent is not a person, and a change it made is neither a human's nor a
    plain bot's. Patterns are shell-style (fnmatch), case-insensitive; each maps to the agent's
    name as reports show it."""

    model_config = ConfigDict(extra="forbid")
    #: author logins or emails of agent accounts -> agent (a commit or pull request they author
    #: is the agent's; the account is stored readable, like a bot, never as a pseudonym)
    accounts: dict[str, str] = Field(default_factory=lambda: {
        "copilot-swe-agent*": "copilot", "copilot[bot]": "copilot", "copilot": "copilot",
        "*+copilot@users.noreply.github.com": "copilot",
        "devin-ai-integration*": "devin", "claude[bot]": "claude", "cursor[bot]": "cursor",
        "codex[bot]": "codex", "chatgpt-codex-connector*": "codex"})
    #: logins or emails of plain automation (dependency updaters, release bots): ``bot``, not an
    #: agent, whatever a trailer says (besides ``bots:``, which decides who is a person)
    bots: list[str] = Field(default_factory=lambda: [
        "dependabot*", "*+dependabot*", "renovate*", "*+renovate*", "github-actions*", "*-ci@*"])
    #: ``Co-authored-by:`` trailers of a commit message (``Name <email>``) -> agent: a commit a
    #: person made with an agent as co-author is the agent's change
    co_authors: dict[str, str] = Field(default_factory=lambda: {
        "copilot *": "copilot", "claude *": "claude", "cursor agent *": "cursor",
        "*<noreply@anthropic.com>": "claude", "aider *": "aider", "*<aider@aider.chat>": "aider",
        "codex *": "codex", "devin *": "devin"})
    #: pull request labels (exact, case-insensitive) -> agent
    labels: dict[str, str] = Field(default_factory=dict)


class PrivacySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_group_size: int = Field(5, ge=3, description="Below this, people-derived numbers are suppressed.")


class BurnAlert(BaseModel):
    """A multi-window burn-rate alert: fires when the burn rate over both windows exceeds factor."""

    model_config = ConfigDict(extra="forbid")
    long_minutes: int = Field(ge=1)
    short_minutes: int = Field(ge=1)
    factor: float = Field(gt=0)
    severity: str = Field(pattern="^(page|ticket)$")


def _workbook_alerts() -> list[BurnAlert]:
    # The SRE Workbook's recommended pairs (chapter 5, "Alerting on SLOs").
    return [BurnAlert(long_minutes=60, short_minutes=5, factor=14.4, severity="page"),
            BurnAlert(long_minutes=360, short_minutes=30, factor=6.0, severity="page"),
            BurnAlert(long_minutes=4320, short_minutes=360, factor=1.0, severity="ticket")]


class SloSettings(BaseModel):
    """SLOs and the error-budget policy that sets a team's release appetite."""

    model_config = ConfigDict(extra="forbid")
    burn_alerts: list[BurnAlert] = Field(default_factory=_workbook_alerts)
    #: Below this share of error budget remaining, release appetite is reduced; at or below
    #: zero (budget spent), only fixes and reliability work ship.
    reduced_below: float = Field(0.25, gt=0, lt=1)


class StrainSettings(BaseModel):
    """When an interruption counts as after hours, in the team's own time zone."""

    model_config = ConfigDict(extra="forbid")
    #: Used for teams whose attributes name no ``timezone`` (IANA name, e.g. Europe/Lisbon).
    default_timezone: str = "UTC"
    work_start: str = Field("09:00", pattern=r"^\d{2}:\d{2}$")
    work_end: str = Field("18:00", pattern=r"^\d{2}:\d{2}$")
    #: ISO weekdays that are working days (1 = Monday … 7 = Sunday).
    working_days: list[int] = Field(default_factory=lambda: [1, 2, 3, 4, 5])
    sleep_start: str = Field("23:00", pattern=r"^\d{2}:\d{2}$")
    sleep_end: str = Field("07:00", pattern=r"^\d{2}:\d{2}$")
    #: A pull request in another team's repository with no first review after this long is stalled.
    stalled_after_hours: float = Field(48.0, gt=0)


class RetentionSettings(BaseModel):
    """Overrides of the charter's retention periods (days) for person-level inputs; shorter only."""

    model_config = ConfigDict(extra="forbid")
    periods: dict[str, Annotated[int, Field(ge=1)]] = Field(default_factory=dict)


class FairnessSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: The four-fifths screen: a group's flag-free rate below this share of the best group's.
    impact_ratio: float = Field(0.8, gt=0, le=1)
    #: Significance level of the exact test beside the screen.
    alpha: float = Field(0.05, gt=0, lt=1)


class TensionThreshold(BaseModel):
    """A tension metric 'worsened' when it rose by at least both amounts against the baseline."""

    model_config = ConfigDict(extra="forbid")
    absolute: float = Field(ge=0)
    relative: float = Field(ge=0)


class CloudCostSettings(BaseModel):
    """How cloud bills (AWS CUR 2.0, FOCUS 1.x: ``shipwise cost cloud import``) map to teams and
    which cost they count (docs/cloud-cost.md). Mapping happens at import: re-import after a change."""

    model_config = ConfigDict(extra="forbid")
    #: ``amortised``: effective cost (savings plans and reserved instances spread over the usage
    #: they cover; FOCUS EffectiveCost); ``unblended``: what was billed (FOCUS BilledCost).
    basis: Literal["amortised", "unblended"] = "amortised"
    #: Cost-allocation tag keys naming the team, tried in order (CUR 2.0 writes user tags as
    #: ``user_<key>``, e.g. ``user_team``; FOCUS as the key itself, e.g. ``team``).
    tag_keys: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    #: Tag value -> team id, where the value is not the team id itself.
    tag_values: dict[str, str] = Field(default_factory=dict)
    #: Usage account id -> team id, for spend whose tags name no known team.
    accounts: dict[str, str] = Field(default_factory=dict)

    @field_validator("accounts", "tag_values", mode="before")
    @classmethod
    def _text_keys(cls, v: Any) -> Any:
        """YAML reads an unquoted account id as a number: keep it as the text it was."""
        return {str(k): str(x) for k, x in v.items()} if isinstance(v, dict) else v


class CostSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: Cloud bills (AWS CUR 2.0, FOCUS): tag and account mapping to teams, cost basis.
    cloud: CloudCostSettings = Field(default_factory=lambda: CloudCostSettings())
    #: Cost to serve must have improved at least this much for the tension guard to ask at what price.
    min_improvement: float = Field(0.05, ge=0, le=1)
    #: metric id -> threshold; shipwise flags a team whose cost to serve improved while one of
    #: these worsened beyond its threshold (the Goodhart guard). Unset: the defaults beside the
    #: metric ids (``shipwise.metrics.ids.TENSION_THRESHOLDS``: change fail rate up 5 points and
    #: 50 %, high-severity tickets per deployment up 0.02 and 50 %) — named there, not here, as
    #: settings sit below the metrics (metrics/ reads settings, never the reverse).
    tension: dict[str, TensionThreshold] | None = None
    #: The currency cost to serve, savings and investments are reported in. Cost and investment
    #: records in another currency are converted at the ``fx_rate`` of their month; one without
    #: a rate is reported as unconverted, never guessed. Unset: the one currency of the cost
    #: records (an error, saying to set this, when they are in several).
    reporting_currency: Annotated[str, Field(min_length=1, max_length=16)] | None = None


class AiAdoptionSettings(BaseModel):
    """Adoption levels (``ai.adoption`` in shipwise.yaml): the engaged share of a team (average
    weekday engaged users ÷ team members) from which a team-month is light, moderate or heavy."""

    model_config = ConfigDict(extra="forbid")
    light: float = Field(0.05, gt=0, le=1)
    moderate: float = Field(0.25, gt=0, le=1)
    heavy: float = Field(0.5, gt=0, le=1)
    #: months a team must hold a level (the month it reached it and the next ones) for that
    #: month to be its adoption month: a one-month spike is not adoption (docs/ai-effect.md)
    sustain_months: int = Field(2, ge=1, le=12)

    @model_validator(mode="after")
    def _ordered(self) -> AiAdoptionSettings:
        if not self.light <= self.moderate <= self.heavy:
            raise ValueError(f"ai.adoption thresholds must rise: light ({self.light}) <= moderate "
                             f"({self.moderate}) <= heavy ({self.heavy})")
        return self


class AiSettings(BaseModel):
    """AI-assisted development: how agent-authored changes are recognised (docs/ai.md), adoption
    levels and what counts as AI spend (docs/ai-effect.md)."""

    model_config = ConfigDict(extra="forbid")
    agents: AgentSettings = Field(default_factory=lambda: AgentSettings())
    adoption: AiAdoptionSettings = Field(
        default_factory=lambda: AiAdoptionSettings(light=0.05, moderate=0.25, heavy=0.5,
                                                   sustain_months=2))
    #: investment kinds (compared lower-cased) counted as AI tool spend beside ``ai_usage.cost``
    investment_kinds: list[str] = Field(default_factory=lambda: [
        "ai", "ai_assistant", "ai-assistant", "ai_tools", "ai-tools"])


class WebhookSettings(BaseModel):
    """Alarm webhooks (``shipwise serve``): the shared secret senders present."""

    model_config = ConfigDict(extra="forbid")
    #: Shared secret (also $SHIPWISE_WEBHOOK_SECRET); without one, webhooks are refused unless
    #: the server runs with --insecure-webhooks.
    secret: SecretStr | None = None
    #: Larger bodies are answered 413 and not stored.
    max_body_bytes: Annotated[int, Field(ge=1024)] = 4 * 1024 * 1024
    #: GitHub/GitLab webhooks: wait this long after a delivery before syncing the repository it
    #: names, so a burst of events (a push, its runs, their statuses) costs one sync.
    sync_delay_seconds: Annotated[float, Field(ge=0)] = 2.0
    #: ``POST /webhooks/generic`` must then be signed: ``X-Shipwise-Signature: sha256=<hex>``,
    #: the HMAC-SHA256 of the raw body keyed with this secret (also
    #: $SHIPWISE_WEBHOOK_HMAC_SECRET). The signature stands in for the shared secret there; a
    #: missing or wrong one is refused (401) and nothing is stored.
    hmac_secret: SecretStr | None = None

    @field_validator("secret", "hmac_secret")
    @classmethod
    def _long_enough(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(v.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters (make one with: python -c "
                             "'import secrets; print(secrets.token_urlsafe(32))')")
        return v


class TelemetrySettings(BaseModel):
    """OTLP/HTTP intake (``POST /v1/traces``, ``/v1/logs`` on ``shipwise serve``; docs/otlp.md)."""

    model_config = ConfigDict(extra="forbid")
    #: Off: the endpoints answer 404 and nothing is stored.
    enabled: bool = True
    #: Spans and log lines older than this (by their own instant) are deleted.
    retention_days: Annotated[float, Field(gt=0, le=3650)] = 7.0
    #: Retention runs with the first write after this many seconds since it last ran.
    trim_every_seconds: Annotated[float, Field(ge=0)] = 300.0
    #: A gzip body inflating to more than this is refused (400) and not stored.
    max_inflated_bytes: Annotated[int, Field(ge=1024)] = 64 * 1024 * 1024


class TopologySettings(BaseModel):
    """The kept topology (docs/topology.md)."""

    model_config = ConfigDict(extra="forbid")
    #: Observations of an edge older than this are folded into its count and deleted by
    #: ``shipwise topology refresh``; an edge not seen for this long is forgotten.
    retention_days: Annotated[float, Field(gt=0, le=36500)] = 400.0


class IngestSettings(BaseModel):
    """What an import accepts (``docs/canonical-format.md``, "Limits"). Records outside these
    limits are quarantined with the reason, never stored."""

    model_config = ConfigDict(extra="forbid")
    #: Instants before this date are implausible (a year 0001 stretches every DORA span).
    earliest_instant: date = date(1990, 1, 1)
    #: Instants more than this many years after the import runs are implausible.
    latest_years_ahead: Annotated[float, Field(ge=0)] = 1.0
    #: A record (a JSONL line, a CSV row, a Parquet row's fields) larger than this is
    #: quarantined unread (its first KiB is kept) instead of being read into memory whole.
    max_record_bytes: Annotated[int, Field(ge=1024)] = 4 * 1024 * 1024


class ServerSettings(BaseModel):
    """``shipwise serve``: where it listens (flags override) and how long shutdown waits."""

    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    #: On shutdown, wait this long for queued investigations (the rest resume on the next start).
    drain_seconds: Annotated[float, Field(ge=0)] = 60.0
    #: On start, decide flow and strain suppression for the organisation in the background, so
    #: the first team page does not pay for it.
    prewarm: bool = True
    #: The largest file ``POST /api/v1/imports`` accepts (bytes); it is streamed to a private
    #: temporary file, never held in memory.
    max_upload_bytes: Annotated[int, Field(ge=1)] = 8 * 1024**3
    #: Investigations run in this many worker processes (started on the first alarm), so the
    #: engine never slows the server down; 0 runs them in a thread of the server instead.
    investigation_workers: Annotated[int, Field(ge=0, le=64)] = 1
    #: uvicorn's line per request on the console (the store's access_log table is kept either way).
    access_log: bool = True
    #: Alarm webhook intake: once the writer has taken the bodies queued for a commit, it waits up
    #: to this long for requests still on their way, so more bodies share one commit (like
    #: PostgreSQL's commit_delay). Only while other requests are known to be in flight: a lone
    #: sender never waits. 0 commits at once. The default was chosen by measurement
    #: (docs/performance.md, "Webhook intake").
    intake_commit_delay_ms: Annotated[float, Field(ge=0, le=1000)] = 5.0


class PreventionSettings(BaseModel):
    """``shipwise prevention scan`` and the server's periodic scan (docs/prevention.md)."""

    model_config = ConfigDict(extra="forbid")
    #: ``shipwise serve`` scans this often (hours; 0: never). The first scan runs once the last
    #: one is this old (when due on a store never scanned) ...
    interval_hours: Annotated[float, Field(ge=0)] = 168.0
    #: ... but not before the server has run this long (so a start, or a test, is not slowed by
    #: a scan; 0: at once when due).
    start_delay_minutes: Annotated[float, Field(ge=0)] = 10.0
    #: A pattern is recommended once it happened this many times.
    min_occurrences: Annotated[int, Field(ge=1)] = 2
    #: An alarm firing this many times within a day on the same entity and metric is flapping.
    flap_per_day: Annotated[int, Field(ge=2)] = 4
    #: Only occurrences of the last this many days (0: all).
    lookback_days: Annotated[float, Field(ge=0)] = 365.0
    #: Priority from the cost (customer impact x hours x recurrence): high from this many
    #: customer-hours, medium from ``medium_cost``.
    high_cost: Annotated[float, Field(gt=0)] = 100.0
    medium_cost: Annotated[float, Field(gt=0)] = 10.0


# -- sources: the outside systems `shipwise sync` reads (docs/sync.md) -----------------------------
#
#     sources:
#       - kind: github
#         repos: [acme/payments, acme/search]
#         token_env: GITHUB_TOKEN              # the token's *name*: never the token itself
#       - kind: gitlab
#         name: gitlab-internal
#         base_url: https://gitlab.acme.internal
#         projects: [platform/billing]
#         token_file: /run/secrets/gitlab_token
#       - kind: git
#         path: /srv/repos/legacy
#         deployments_from_tags: "v*"
#
# Secrets are read from an environment variable or a file at the moment they are needed, held as
# SecretStr and never written to the YAML, the store, a log or an error message.

#: The default pattern (a regular expression, case-insensitive, matched against the whole name)
#: of a production environment: ``production``, ``prod``, ``prod-eu``, ``production/us-east-1``.
PRODUCTION = r"(prod|production)([-_ /.].*)?"


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression ({exc})") from exc
    return value


class SourceBase(BaseModel):
    """What every source has: a name (its cursors in ``sync_state`` are kept under it) and,
    for HTTP sources, where its secret comes from."""

    model_config = ConfigDict(extra="forbid")
    #: This source's name (``shipwise sync NAME``); default: its kind. Unique among sources.
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    #: The environment variable holding the token (its name, never its value).
    token_env: str | None = None
    #: A file holding the token (e.g. a mounted secret); used when ``token_env`` is not set.
    token_file: Path | None = None
    timeout_seconds: Annotated[float, Field(gt=0)] = 30.0
    #: Attempts per request on a transient failure (timeouts, 5xx, rate limits) before giving up.
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 5
    #: The first sync reads nothing older than this (default: everything the API gives).
    since: date | None = None

    @property
    def id(self) -> str:
        return self.name or str(getattr(self, "kind", "source"))

    def token(self, *, required: bool = True) -> SecretStr | None:
        """The secret, from ``token_env`` (if that variable is set) or ``token_file``.

        Raises :class:`ConfigError` naming the variable or file — never the value — when
        ``required`` and none is found.
        """
        env = environ()
        if self.token_env and env.get(self.token_env, "").strip():
            return SecretStr(env[self.token_env].strip())
        if self.token_file is not None:
            path = Path(os.path.expanduser(str(self.token_file)))
            if path.is_file():
                text = path.read_text().strip()
                if text:
                    return SecretStr(text)
        if not required:
            return None
        where = " or ".join(w for w in (
            f"the environment variable {self.token_env}" if self.token_env else "",
            f"the file {self.token_file}" if self.token_file is not None else "") if w)
        raise ConfigError(
            f"source '{self.id}': no token found in {where or 'token_env or token_file'}",
            hint=(f"export {self.token_env}=<token>" if self.token_env else
                  "set token_env or token_file on the source in shipwise.yaml"))


class WorkflowRule(BaseModel):
    """A GitHub Actions job (or GitLab CI job) whose successful run is a deployment.

    Patterns are shell-style (fnmatch, case-insensitive). A run counts when its workflow name,
    job name and branch all match; a skipped, cancelled or failed production job is a failed
    attempt or nothing — never a deployment.
    """

    model_config = ConfigDict(extra="forbid")
    workflow: str = "*"
    job: str | None = None
    #: default: the repository's default branch
    branch: str | None = None
    environment: str = "production"


class CodeHostSource(SourceBase):
    """What GitHub and GitLab sources share: how a production deployment is recognised, and the
    webhook secret."""

    base_url: str
    #: Regular expression (case-insensitive, whole name) of production environment names.
    production_environment: str = PRODUCTION
    #: Releases as deployments: ``auto`` when a repository has no deployments and no CI rule.
    releases_as_deployments: Literal["auto", "always", "never"] = "auto"
    #: Tags matching this pattern (fnmatch) as deployments, like releases (``v*``).
    deployments_from_tags: str | None = None
    #: The environment variable holding the webhook secret.
    webhook_secret_env: str | None = None

    @field_validator("production_environment")
    @classmethod
    def _regex(cls, v: str) -> str:
        return _check_regex(v)

    @property
    def scope_keys(self) -> list[str]:
        """What this source syncs (repositories, projects), one scope each."""
        raise NotImplementedError


class GitHubSource(CodeHostSource):
    """github.com, or GitHub Enterprise Server with ``base_url: https://HOST/api/v3``."""

    kind: Literal["github"] = "github"
    base_url: str = "https://api.github.com"
    token_env: str | None = "GITHUB_TOKEN"
    #: ``owner/name`` of each repository to read.
    repos: list[str] = Field(default_factory=list)
    #: Workflow runs that are deployments (for repositories without GitHub deployments).
    workflows: list[WorkflowRule] = Field(default_factory=list)
    #: ``X-Hub-Signature-256`` is keyed with the secret in this variable.
    webhook_secret_env: str | None = "GITHUB_WEBHOOK_SECRET"

    @property
    def scope_keys(self) -> list[str]:
        """What this source syncs, one scope each (its repositories)."""
        return list(self.repos)

    @field_validator("repos")
    @classmethod
    def _full_names(cls, v: list[str]) -> list[str]:
        for repo in v:
            if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repo):
                raise ValueError(f"'{repo}' is not owner/name")
        return v


class GitLabSource(CodeHostSource):
    """gitlab.com, or a self-managed GitLab with ``base_url: https://HOST``."""

    kind: Literal["gitlab"] = "gitlab"
    base_url: str = "https://gitlab.com"
    token_env: str | None = "GITLAB_TOKEN"
    #: Full paths of the projects to read (``group/subgroup/project``).
    projects: list[str] = Field(default_factory=list)
    #: CI jobs that are deployments (for projects without GitLab deployments).
    jobs: list[WorkflowRule] = Field(default_factory=list)
    #: ``X-Gitlab-Token`` must equal the secret in this variable.
    webhook_secret_env: str | None = "GITLAB_WEBHOOK_TOKEN"

    @property
    def scope_keys(self) -> list[str]:
        """What this source syncs, one scope each (its projects)."""
        return list(self.projects)


class JiraFieldMap(BaseModel):
    """Which Jira value names a shipwise team or service (``docs/jira.md``, "Mapping").

    ``from`` is ``project`` (the project key), ``component`` (the first component's name),
    ``label`` (the first label ``map`` knows) or a field id (``customfield_10001``: its text, an
    option's ``value`` or an object's ``name``). The value is looked up in ``map`` (without case);
    a value ``map`` does not hold, or a missing one, gives ``default``, else the value itself (the
    importer quarantines a team or service the organisation does not know, with the reason)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: str = Field("project", alias="from", pattern=r"^(project|component|label|[A-Za-z0-9_.]+)$")
    map: dict[str, str] = Field(default_factory=dict)
    default: str | None = None


class JiraStatuses(BaseModel):
    """How a Jira status name becomes a ticket category. Default: its status category (To Do →
    todo, In Progress → in_progress, Done → done); ``blocked`` names are blocked; ``categories``
    overrides any name. Names compare without case."""

    model_config = ConfigDict(extra="forbid")
    blocked: list[str] = Field(default_factory=list)
    categories: dict[str, Literal["todo", "in_progress", "blocked", "done"]] = Field(
        default_factory=dict)
    #: blocked status name -> the team (or party) a ticket in it waits on (``blocked_on``)
    blocked_on: dict[str, str] = Field(default_factory=dict)


class JiraQuery(BaseModel):
    """One JQL query: its issues become tickets (``ticket_status`` events from the changelog) or
    incidents. ``name`` is its scope (``shipwise sync jira --scope NAME``) and names its cursor."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    jql: str = Field(min_length=1)
    as_: Literal["tickets", "incidents"] = Field("tickets", alias="as")
    #: overrides of the source's ``team`` / ``service`` mapping for this query
    team: JiraFieldMap | None = None
    service: JiraFieldMap | None = None

    @field_validator("jql")
    @classmethod
    def _no_order(cls, v: str) -> str:
        if re.search(r"\border\s+by\b", v, re.IGNORECASE):
            raise ValueError("leave out ORDER BY: shipwise orders by `updated` to read incrementally")
        return v


class JiraSource(SourceBase):
    """Jira Cloud (``https://x.atlassian.net``: email + API token) or Data Center (a personal
    access token): tickets and Jira Service Management incidents (``docs/jira.md``)."""

    kind: Literal["jira"] = "jira"
    base_url: str
    #: ``auto``: Cloud when the host ends in ``.atlassian.net`` or ``.jira.com``
    edition: Literal["auto", "cloud", "data_center"] = "auto"
    #: Cloud: the account's email (Basic auth with the API token); unused on Data Center
    email: str | None = None
    token_env: str | None = "JIRA_TOKEN"
    queries: list[JiraQuery] = Field(default_factory=list)
    team: JiraFieldMap = Field(default_factory=lambda: JiraFieldMap.model_validate({}))
    service: JiraFieldMap = Field(default_factory=lambda: JiraFieldMap.model_validate({}))
    statuses: JiraStatuses = Field(default_factory=lambda: JiraStatuses())
    #: priority name -> severity, over the defaults (Highest/Blocker sev1 … Lowest/Trivial sev5)
    severity: dict[str, Literal["sev1", "sev2", "sev3", "sev4", "sev5"]] = Field(
        default_factory=dict)
    #: a field id whose value is the causing deployment's id (``customfield_10070``)
    caused_by_field: str | None = None
    #: an issue link phrase (``is caused by``) whose linked issue's key is that deployment's id
    caused_by_link: str | None = None

    @property
    def cloud(self) -> bool:
        if self.edition != "auto":
            return self.edition == "cloud"
        host = re.sub(r"^[a-z]+://", "", self.base_url.lower()).split("/")[0].split(":")[0]
        return host.endswith((".atlassian.net", ".jira.com"))

    @property
    def scope_keys(self) -> list[str]:
        """What this source syncs, one scope each (its queries)."""
        return [q.name for q in self.queries]

    @field_validator("queries")
    @classmethod
    def _unique_queries(cls, v: list[JiraQuery]) -> list[JiraQuery]:
        names = [q.name for q in v]
        if len(set(names)) != len(names):
            raise ValueError("two queries share a name: give each its own `name:`")
        return v


class GitSource(SourceBase):
    """A local git repository (commits, merges, tags)."""

    kind: Literal["git"] = "git"
    path: Path
    #: The repository's id in the store (``commit.repo``); default: the folder name.
    repo: str | None = None
    #: Tags matching this pattern (fnmatch) are production deployments of the repository's service.
    deployments_from_tags: str | None = None


class PagerDutySource(SourceBase):
    """PagerDuty's REST API v2: incidents and the pages (notifications) to people.

    PagerDuty names services, escalation policies and users by its own ids; ``services`` says
    which shipwise service a PagerDuty service (id or name) is, and ``teams`` which shipwise team
    a PagerDuty service's pages go to (default: the team that owns the mapped service, per the
    organisation file); ``schedules`` which team a PagerDuty schedule's on-call shifts are. ``severity`` maps a priority name (``P1``…) to a severity; an incident
    without a mapped priority gets ``urgency_severity`` of its urgency. See docs/pagerduty.md.
    """

    kind: Literal["pagerduty"] = "pagerduty"
    base_url: str = "https://api.pagerduty.com"
    #: PagerDuty service (id or name, case-insensitive) -> shipwise service
    services: dict[str, str] = Field(default_factory=dict)
    #: PagerDuty service (id or name) -> shipwise team, for pages (default: the service's owner)
    teams: dict[str, str] = Field(default_factory=dict)
    #: priority name -> severity (sev1…sev5)
    severity: dict[str, str] = Field(default_factory=lambda: {
        "P1": "sev1", "P2": "sev2", "P3": "sev3", "P4": "sev4", "P5": "sev5"})
    #: urgency -> severity for incidents without a mapped priority
    urgency_severity: dict[str, str] = Field(default_factory=lambda: {
        "high": "sev2", "low": "sev4"})
    #: days read on a first sync when ``since`` is not set
    first_days: Annotated[int, Field(ge=1, le=3650)] = 365
    #: PagerDuty schedule (id or name, case-insensitive) -> shipwise team: the on-call rota
    #: (``/oncalls``, first escalation level) read as ``oncall_shift`` records; none: not read
    schedules: dict[str, str] = Field(default_factory=dict)
    #: each on-call sync reads again this many days before where the last one stopped (rota
    #: edits and overrides of the recent past)
    oncall_overlap_days: Annotated[int, Field(ge=0, le=90)] = 7
    #: and this many days ahead of now (the rota as planned; read again as it comes)
    oncall_horizon_days: Annotated[int, Field(ge=0, le=30)] = 1

    @field_validator("severity", "urgency_severity")
    @classmethod
    def _severities(cls, v: dict[str, str]) -> dict[str, str]:
        bad = sorted(x for x in v.values() if x not in ("sev1", "sev2", "sev3", "sev4", "sev5"))
        if bad:
            raise ValueError(f"severities are sev1…sev5, not {', '.join(bad)}")
        return v


class ServiceNowSource(SourceBase):
    """ServiceNow's Table API: incidents (``/api/now/table/incident``) and the change requests
    that caused them. Basic auth (``user`` and the password in ``token_env``) or an OAuth bearer
    token (``auth: oauth``, the token in ``token_env``). See docs/servicenow.md.
    """

    kind: Literal["servicenow"] = "servicenow"
    #: the instance, ``https://acme.service-now.com``
    base_url: str
    auth: Literal["basic", "oauth"] = "basic"
    #: the integration user (basic auth)
    user: str | None = None
    #: the password (basic) or the OAuth access token (oauth)
    token_env: str | None = "SERVICENOW_PASSWORD"
    #: an encoded query the incidents must also match (``assignment_group=…^active=true``)
    query: str = ""
    #: the incident field naming the service: ``business_service`` or ``cmdb_ci``
    service_field: Literal["business_service", "cmdb_ci"] = "business_service"
    #: ServiceNow service or CI (sys_id or name, case-insensitive) -> shipwise service
    services: dict[str, str] = Field(default_factory=dict)
    #: the incident field the severity comes from
    severity_field: Literal["priority", "impact", "urgency", "severity"] = "priority"
    #: that field's value (``1``…``5``) -> severity
    severity: dict[str, str] = Field(default_factory=lambda: {
        "1": "sev1", "2": "sev2", "3": "sev3", "4": "sev4", "5": "sev5"})
    #: a change_request field holding the id of the deployment the change shipped
    change_deployment_field: str | None = None
    #: sys_ids of automation accounts: an incident they resolved is not human-actioned
    automation_users: list[str] = Field(default_factory=list)
    #: incidents per page (ServiceNow allows up to 10,000)
    page_size: Annotated[int, Field(ge=1, le=10_000)] = 1000
    #: days read on a first sync when ``since`` is not set
    first_days: Annotated[int, Field(ge=1, le=3650)] = 365

    @field_validator("severity")
    @classmethod
    def _severities(cls, v: dict[str, str]) -> dict[str, str]:
        return PagerDutySource._severities(v)

    @field_validator("query")
    @classmethod
    def _no_order(cls, v: str) -> str:
        if re.search(r"ORDERBY", v):
            raise ValueError("leave out ORDERBY: shipwise orders by sys_updated_on to read "
                             "incrementally")
        if "^NQ" in v:
            raise ValueError("leave out ^NQ: shipwise adds conditions to the query with ^")
        return v.strip().strip("^")

    @model_validator(mode="after")
    def _user(self) -> ServiceNowSource:
        if self.auth == "basic" and not self.user:
            raise ValueError("basic auth needs `user:` (or set `auth: oauth` for a bearer token)")
        return self


class OpsgenieSource(SourceBase):
    """Opsgenie's REST API: alerts (as incidents), the notifications of their recipients (as
    pages) and on-call schedules (as on-call shifts).

    ``services`` says which shipwise service an alert belongs to, by one of its tags or an
    Opsgenie team (id or name) it is routed to; ``teams`` which shipwise team gets an Opsgenie
    team's pages (default: the owner of the alert's service); ``schedules`` which shipwise team an
    Opsgenie schedule (id or name) is the rota of. See docs/opsgenie.md.
    """

    kind: Literal["opsgenie"] = "opsgenie"
    #: https://api.opsgenie.com, or https://api.eu.opsgenie.com for an account in the EU
    base_url: str = "https://api.opsgenie.com"
    #: alert tag or Opsgenie team (id or name, case-insensitive) -> shipwise service
    services: dict[str, str] = Field(default_factory=dict)
    #: Opsgenie team (id or name) -> shipwise team, for pages (default: the service's owner)
    teams: dict[str, str] = Field(default_factory=dict)
    #: Opsgenie schedule (id or name) -> shipwise team whose on-call shifts it holds
    schedules: dict[str, str] = Field(default_factory=dict)
    #: priority (P1…P5) -> severity (sev1…sev5)
    severity: dict[str, str] = Field(default_factory=lambda: {
        "P1": "sev1", "P2": "sev2", "P3": "sev3", "P4": "sev4", "P5": "sev5"})
    #: priorities whose pages are high urgency (the others are low)
    high_urgency: list[str] = Field(default_factory=lambda: ["P1", "P2"])
    #: days read on a first sync when ``since`` is not set
    first_days: Annotated[int, Field(ge=1, le=3650)] = 365
    #: on-call shifts longer than this many days are not read whole (see docs/opsgenie.md)
    shift_days: Annotated[int, Field(ge=1, le=90)] = 14

    @field_validator("severity")
    @classmethod
    def _severities(cls, v: dict[str, str]) -> dict[str, str]:
        return PagerDutySource._severities(v)


class CopilotSource(SourceBase):
    """GitHub Copilot usage metrics of an organisation as ``ai_usage`` records of the shipwise
    teams the GitHub teams are mapped to. ``api: reports`` (the default) reads the usage metrics
    reports (``GET /orgs/{org}/copilot/metrics/reports/users-1-day`` and ``user-teams-1-day``,
    NDJSON behind signed links) and aggregates people to teams in memory; ``api: legacy`` reads
    the metrics API GitHub closed on github.com on 2026-04-02 (``GET /orgs/{org}/copilot/metrics``
    and the team variant), for GitHub Enterprise Server installs that still serve it. The token
    needs ``manage_billing:copilot``, ``read:org`` or ``read:enterprise`` (a fine-grained token:
    the "Organization Copilot metrics" permission, read). See docs/ai.md."""

    kind: Literal["github-copilot"] = "github-copilot"
    base_url: str = "https://api.github.com"
    token_env: str | None = "GITHUB_TOKEN"
    #: the GitHub organisation (login)
    org: str = Field(min_length=1)
    #: GitHub team slug -> shipwise team (one scope each)
    teams: dict[str, str] = Field(default_factory=dict)
    #: the shipwise team that gets the whole organisation's usage (none: not read)
    org_team: str | None = None
    #: days read again before the last day read (GitHub may complete a day late)
    overlap_days: Annotated[int, Field(ge=0, le=27)] = 2
    #: ``reports`` (usage metrics reports, github.com today) or ``legacy`` (the metrics API
    #: closed on github.com on 2026-04-02; some GitHub Enterprise Server installs still have it)
    api: Literal["reports", "legacy"] = "reports"
    #: days read back on a first sync of the reports (GitHub keeps up to a year, from 2025-10-10)
    backfill_days: Annotated[int, Field(ge=1, le=365)] = 28


Source = Annotated[GitHubSource | GitLabSource | GitSource | PagerDutySource | JiraSource
                   | ServiceNowSource | OpsgenieSource | CopilotSource, Field(discriminator="kind")]


def check_unique(sources: list[GitHubSource | GitLabSource | GitSource | PagerDutySource
                                | JiraSource | ServiceNowSource | OpsgenieSource
                                | CopilotSource]) -> None:
    """Raise ValueError when two sources share a name (their cursors would mix)."""
    seen: set[str] = set()
    for source in sources:
        if source.id in seen:
            raise ValueError(f"two sources are named '{source.id}': give each its own `name:`")
        seen.add(source.id)


class LlmSettings(BaseModel):
    """An optional OpenAI-compatible chat endpoint (docs/ask.md): it only rephrases answers and
    summaries from an investigation's facts, which are always shown beside its prose. Off by
    default; shipwise never needs it, and any failure falls back to the deterministic answer.

        llm:
          enabled: true
          url: http://127.0.0.1:11434/v1     # the base URL: POST {url}/chat/completions
          model: llama3.1
          api_key_env: OPENAI_API_KEY        # the key's *name* (optional for a local server)
    """

    model_config = ConfigDict(extra="forbid")
    enabled: bool = False
    url: str | None = Field(None, description="Base URL of the OpenAI-compatible API (…/v1)")
    model: str = "gpt-4o-mini"
    api_key_env: str | None = Field(None, description="Environment variable holding the key")
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10.0
    max_tokens: Annotated[int, Field(ge=16, le=4096)] = 400

    @property
    def active(self) -> bool:
        return self.enabled and bool(self.url)

    def api_key(self) -> SecretStr | None:
        """The key, from ``api_key_env`` when that variable is set (never logged)."""
        value = environ().get(self.api_key_env, "").strip() if self.api_key_env else ""
        return SecretStr(value) if value else None


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    db: Path = Path(DEFAULT_DB)
    key_file: Path | None = Field(None, description="Pseudonymisation key file; default: <db>.key")
    memory_limit: str | None = Field(
        None, pattern=r"^\s*\d+(\.\d+)?\s*([KMGT]i?B)\s*$",
        description="Most memory DuckDB may hold for the store in each process (e.g. '1GB', "
                    "'1.5GiB'); beyond it, it evicts cached pages and spills to disk. Default: "
                    "DuckDB's own (80 % of RAM), whose page cache grows with the store")
    bots: BotSettings = Field(default_factory=BotSettings)
    privacy: PrivacySettings = Field(default_factory=lambda: PrivacySettings(min_group_size=5))
    cost: CostSettings = Field(default_factory=lambda: CostSettings(min_improvement=0.05))
    investigate: InvestigateSettings = Field(
        default_factory=lambda: InvestigateSettings(lookback_minutes=120, after_minutes=2))
    webhooks: WebhookSettings = Field(default_factory=lambda: WebhookSettings())
    server: ServerSettings = Field(default_factory=lambda: ServerSettings())
    ingest: IngestSettings = Field(default_factory=lambda: IngestSettings())
    telemetry: TelemetrySettings = Field(default_factory=lambda: TelemetrySettings())
    topology: TopologySettings = Field(default_factory=lambda: TopologySettings())
    slo: SloSettings = Field(default_factory=lambda: SloSettings.model_validate({}))
    strain: StrainSettings = Field(default_factory=lambda: StrainSettings.model_validate({}))
    retention: RetentionSettings = Field(default_factory=lambda: RetentionSettings())
    fairness: FairnessSettings = Field(default_factory=lambda: FairnessSettings.model_validate({}))
    prevention: PreventionSettings = Field(default_factory=lambda: PreventionSettings())
    #: Where findings go: Slack, Teams, Jira, ServiceNow, PagerDuty, GitHub (docs/notifications.md).
    notify: NotifySettings = Field(default_factory=lambda: NotifySettings.model_validate({}))
    llm: LlmSettings = Field(default_factory=lambda: LlmSettings.model_validate({}))
    #: AI-assisted development: agent-authored changes, adoption levels, AI spend (docs/ai.md).
    ai: AiSettings = Field(default_factory=lambda: AiSettings())
    #: Outside systems ``shipwise sync`` reads (the source models above; docs/sync.md).
    sources: list[Source] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_sources(self) -> Settings:
        check_unique(list(self.sources))
        return self

    def source(self, name: str) -> Source:
        """The source named ``name`` (ConfigError listing the configured ones otherwise)."""
        for s in self.sources:
            if s.id == name:
                return s
        known = ", ".join(s.id for s in self.sources) or "none are configured"
        raise ConfigError(f"no source named '{name}' ({known})",
                          hint="add it under `sources:` in shipwise.yaml")

    @field_validator("db", "key_file", mode="before")
    @classmethod
    def _expand(cls, v: Any) -> Any:
        return Path(os.path.expanduser(str(v))) if v is not None else v

    @property
    def resolved_key_file(self) -> Path:
        return self.key_file if self.key_file is not None else self.db.with_name(self.db.name + ".key")

    @property
    def session_secret_file(self) -> Path:
        """The web session secret (0600), beside the pseudonymisation key: never in the store."""
        return self.resolved_key_file.with_name(self.db.name + ".session-secret")


def load_settings(
    *, db: str | Path | None = None, config_file: str | Path | None = None
) -> Settings:
    """Read settings from file, environment and explicit overrides, and validate them."""
    env = environ()
    path = Path(config_file or env.get("SHIPWISE_CONFIG") or DEFAULT_CONFIG)
    data: dict[str, Any] = {}
    if path.exists():

        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of settings at the top level")
        data.update(loaded)
    elif config_file is not None:
        raise ConfigError(f"settings file {path} does not exist")
    if env.get("SHIPWISE_DB"):
        data["db"] = env["SHIPWISE_DB"]
    if env.get("SHIPWISE_KEY_FILE"):
        data["key_file"] = env["SHIPWISE_KEY_FILE"]
    if env.get("SHIPWISE_WEBHOOK_SECRET"):
        webhooks = data.get("webhooks")
        webhooks = dict(webhooks) if isinstance(webhooks, dict) else {}
        data["webhooks"] = {**webhooks, "secret": env["SHIPWISE_WEBHOOK_SECRET"]}
    if env.get("SHIPWISE_WEBHOOK_HMAC_SECRET"):
        webhooks = data.get("webhooks")
        webhooks = dict(webhooks) if isinstance(webhooks, dict) else {}
        data["webhooks"] = {**webhooks, "hmac_secret": env["SHIPWISE_WEBHOOK_HMAC_SECRET"]}
    if db is not None:
        data["db"] = db
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: setting '{where}': {first['msg']}") from exc
