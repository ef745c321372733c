"""Where findings go: the ``notify:`` section of shipwise.yaml (docs/notifications.md).

```yaml
notify:
  channels:
    - kind: slack_webhook            # an incoming webhook; its URL is a secret
      url_env: SLACK_WEBHOOK_URL
    - kind: slack_api                # chat.postMessage with blocks, updates in a thread
      channel: C0123456
      token_env: SLACK_BOT_TOKEN
    - kind: teams
      url_env: TEAMS_WEBHOOK_URL
    - kind: jira                     # a comment on the incident's Jira issue
      base_url: https://acme.atlassian.net
      email: bot@acme.example
    - kind: servicenow               # a work note on the incident
      base_url: https://acme.service-now.com
      user: shipwise
    - kind: pagerduty                # a note on the incident
      from_email: oncall-bot@acme.example
    - kind: github                   # an issue holding the long-term fix spec
      repo: acme/reliability
  deliver: {max_attempts: 12, backoff_seconds: 5, max_backoff_seconds: 3600}
  digest: {channel: slack_webhook}
```

Secrets (tokens, webhook URLs) are read from the environment or a file when a row is delivered,
never written to the YAML, the outbox or a log.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from shipwise.errors import ConfigError


class ChannelBase(BaseModel):
    """What every channel has: a name (rows in the outbox keep it), where its secret comes from,
    and which investigations it wants."""

    model_config = ConfigDict(extra="forbid")
    #: default: the channel's kind; unique among channels
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    #: the environment variable holding the secret (a token, or a webhook URL)
    token_env: str | None = None
    #: a file holding the secret; used when ``token_env`` is not set or empty
    token_file: Path | None = None
    timeout_seconds: Annotated[float, Field(gt=0)] = 10.0
    #: only investigations of services of these teams (empty: every investigation)
    teams: list[str] = Field(default_factory=list)

    @property
    def id(self) -> str:
        return self.name or str(getattr(self, "kind", "channel"))

    def secret(self, env: Mapping[str, str]) -> SecretStr:
        """The secret from ``token_env`` (in ``env``) or ``token_file``; ConfigError naming
        where it looked (never the value) when there is none."""
        if self.token_env and env.get(self.token_env, "").strip():
            return SecretStr(env[self.token_env].strip())
        if self.token_file is not None:
            path = Path(os.path.expanduser(str(self.token_file)))
            if path.is_file() and path.read_text().strip():
                return SecretStr(path.read_text().strip())
        where = " or ".join(w for w in (
            f"the environment variable {self.token_env}" if self.token_env else "",
            f"the file {self.token_file}" if self.token_file is not None else "") if w)
        raise ConfigError(f"notify channel '{self.id}': no secret found in {where or 'nothing'}",
                          hint=(f"export {self.token_env}=…" if self.token_env else
                                "set token_env or token_file on the channel"))


class SlackWebhookChannel(ChannelBase):
    """A Slack incoming webhook (its URL is the secret)."""

    kind: Literal["slack_webhook"] = "slack_webhook"
    token_env: str | None = Field("SLACK_WEBHOOK_URL", alias="url_env")
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SlackApiChannel(ChannelBase):
    """Slack's Web API: ``chat.postMessage`` with blocks, then replies in the thread (thread_ts)."""

    kind: Literal["slack_api"] = "slack_api"
    base_url: str = "https://slack.com/api"
    token_env: str | None = "SLACK_BOT_TOKEN"
    #: the conversation id (``C0123456``)
    channel: str = Field(min_length=1)
    #: after an ambiguous attempt, look for the message in the conversation before posting it
    #: again (``conversations.history`` / ``conversations.replies``: needs the ``channels:history``
    #: scope, ``groups:history`` for a private channel)
    read_back: bool = False


class TeamsChannel(ChannelBase):
    """A Microsoft Teams incoming webhook (or a Workflows webhook): an Adaptive Card."""

    kind: Literal["teams"] = "teams"
    token_env: str | None = Field("TEAMS_WEBHOOK_URL", alias="url_env")
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class JiraChannel(ChannelBase):
    """A comment on the Jira issue of the incident the investigation is about."""

    kind: Literal["jira"] = "jira"
    base_url: str
    #: cloud: REST v3 with an Atlassian Document Format body (email + API token, Basic);
    #: data_center: REST v2 with a wiki-markup string (a personal access token, Bearer)
    edition: Literal["auto", "cloud", "data_center"] = "auto"
    email: str | None = None
    token_env: str | None = "JIRA_TOKEN"
    #: the ``kind: jira`` sync source whose incidents are Jira issues (its ``name``)
    source: str = "jira"

    @property
    def cloud(self) -> bool:
        if self.edition != "auto":
            return self.edition == "cloud"
        host = self.base_url.lower().split("://")[-1].split("/")[0].split(":")[0]
        return host.endswith((".atlassian.net", ".jira.com"))

    @model_validator(mode="after")
    def _email(self) -> JiraChannel:
        if self.cloud and not self.email:
            raise ValueError("Jira Cloud needs `email:` (Basic auth with the API token)")
        return self


class ServiceNowChannel(ChannelBase):
    """A work note (``work_notes``) on the ServiceNow incident, by the Table API."""

    kind: Literal["servicenow"] = "servicenow"
    base_url: str
    auth: Literal["basic", "oauth"] = "basic"
    user: str | None = None
    token_env: str | None = "SERVICENOW_PASSWORD"
    #: the ``kind: servicenow`` sync source whose incidents these are (its ``name``)
    source: str = "servicenow"
    #: after an ambiguous attempt, look for the work note in ``sys_journal_field`` before
    #: writing it again (the integration user needs read access to that table)
    read_back: bool = False

    @model_validator(mode="after")
    def _user(self) -> ServiceNowChannel:
        if self.auth == "basic" and not self.user:
            raise ValueError("basic auth needs `user:` (or set `auth: oauth`)")
        return self


class PagerDutyChannel(ChannelBase):
    """A note on the PagerDuty incident (REST API v2, ``From`` a PagerDuty user's email)."""

    kind: Literal["pagerduty"] = "pagerduty"
    base_url: str = "https://api.pagerduty.com"
    token_env: str | None = "PAGERDUTY_TOKEN"
    from_email: str = Field(min_length=3)
    #: the ``kind: pagerduty`` sync source whose incidents these are (its ``name``)
    source: str = "pagerduty"


class GitHubChannel(ChannelBase):
    """An issue holding the investigation's long-term fix spec."""

    kind: Literal["github"] = "github"
    base_url: str = "https://api.github.com"
    token_env: str | None = "GITHUB_TOKEN"
    repo: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    labels: list[str] = Field(default_factory=lambda: ["shipwise", "incident-follow-up"])


Channel = Annotated[SlackWebhookChannel | SlackApiChannel | TeamsChannel | JiraChannel
                    | ServiceNowChannel | PagerDutyChannel | GitHubChannel,
                    Field(discriminator="kind")]


class DeliverSettings(BaseModel):
    """How pending rows are delivered: attempts and exponential backoff (with jitter)."""

    model_config = ConfigDict(extra="forbid")
    #: a row still failing after this many attempts is ``failed`` (kept; `notify retry` requeues)
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 12
    #: the wait after the first failure; it doubles after each, up to ``max_backoff_seconds``
    backoff_seconds: Annotated[float, Field(ge=0)] = 5.0
    max_backoff_seconds: Annotated[float, Field(ge=0)] = 3600.0
    #: ``shipwise serve`` looks for due rows this often
    interval_seconds: Annotated[float, Field(gt=0)] = 5.0
    #: rows delivered per pass
    batch: Annotated[int, Field(ge=1, le=10_000)] = 200


class DigestSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: the channel (a ``slack_webhook`` or ``slack_api`` channel's name) the digest goes to
    channel: str | None = None
    #: weeks of the team's own past the digest compares with
    weeks: Annotated[int, Field(ge=2, le=52)] = 8
    #: ``shipwise serve`` sends every team's digest of the last full week, checking this often
    #: (hours; each team's week is sent once, so checking again is harmless); 0: never
    check_hours: Annotated[float, Field(ge=0, le=168)] = 6.0


class NotifySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channels: list[Channel] = Field(default_factory=list)
    #: the dashboard's address people open (``https://shipwise.acme.example``): messages link
    #: to ``<base_url>/investigations/<id>``; unset, they name the CLI command instead
    base_url: str | None = Field(None, pattern=r"^https?://")
    deliver: DeliverSettings = Field(default_factory=lambda: DeliverSettings())
    digest: DigestSettings = Field(default_factory=lambda: DigestSettings())

    @field_validator("channels")
    @classmethod
    def _unique(cls, v: list[Channel]) -> list[Channel]:
        names = [c.id for c in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"two channels are named {', '.join(dup)}: give each its own `name:`")
        return v

    def link(self, inv_id: str) -> str | None:
        return f"{self.base_url.rstrip('/')}/investigations/{inv_id}" if self.base_url else None

    def channel(self, name: str) -> Channel:
        for c in self.channels:
            if c.id == name:
                return c
        known = ", ".join(c.id for c in self.channels) or "none are configured"
        raise ConfigError(f"no notify channel named '{name}' ({known})",
                          hint="add it under notify.channels in shipwise.yaml")
