"""Canonical event format v1: the contract every importer, connector and the demo speak.

The format is declared once here, as data. The importer turns these declarations into set-based
SQL (extract, validate, pseudonymise, upsert), the docs describe them, and tests check the two
agree. Extend the format by adding optional fields or types; never rename or remove.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

SCHEMA_VERSION = 1


class Kind(StrEnum):
    TEXT = "text"
    INT = "int"
    NUMBER = "number"
    BOOL = "bool"
    INSTANT = "instant"  # ISO-8601 with an offset or Z; stored as UTC TIMESTAMP
    DATE = "date"  # YYYY-MM-DD
    MONTH = "month"  # YYYY-MM
    TEXT_LIST = "text_list"  # JSON array of strings; in CSV also "a;b;c"
    OBJECT = "object"  # JSON object, stored as JSON text
    PERSON = "person"  # a person's id (email, login): pseudonymised at ingest, never stored raw


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    required: bool = True
    #: Allowed values (for enumerations), compared after lower-casing.
    choices: tuple[str, ...] = ()
    default: str | int | float | bool | None = None
    #: (type, field) this value must name, if given.
    references: tuple[str, str] | None = None
    minimum: float | None = None
    maximum: float | None = None
    #: Values must be strictly greater than this (a rate of 0 is no rate).
    above: float | None = None
    doc: str = ""


@dataclass(frozen=True)
class Span:
    """A pair of instants that must be ordered: ``start <= end`` when both are given."""

    start: str
    end: str


@dataclass(frozen=True)
class Split:
    """A record type stored as records of another type: ``fields`` maps the other type's field
    to this type's, ``constants`` gives the fields every such record has."""

    type: str
    fields: dict[str, str]
    constants: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordType:
    name: str
    table: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]
    doc: str
    spans: tuple[Span, ...] = ()
    #: list fields stored in a child table: field name -> (table, column)
    children: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: a type with no table of its own: each valid record becomes these records (of types later
    #: in :data:`RECORD_TYPES`), validated and upserted as those types
    splits: tuple[Split, ...] = ()
    #: the table's ``id`` is these fields joined by ``|`` (a type keyed by several fields whose
    #: table has a single-column key, e.g. ``ai_usage``: ``team|day|tool``)
    id_from: tuple[str, ...] = ()
    #: (a, b): when field ``a`` is given, ``b`` must be too (an amount needs its currency)
    together: tuple[tuple[str, str], ...] = ()
    #: (a, b): ``a`` may not exceed ``b`` when both are given (accepted ≤ shown)
    at_most: tuple[tuple[str, str], ...] = ()
    #: a type with no table whose valid records are summed into records of this type (later
    #: in :data:`RECORD_TYPES`) by the team of their person on their day, and never stored:
    #: person-level usage reaches the store only as team totals
    rollup: str = ""

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


def _f(name: str, kind: Kind, **kw: object) -> Field:
    return Field(name, kind, **kw)  # type: ignore[arg-type]


TXT, INT, NUM, BOOL, INST, DAY, MON, LST, OBJ, PER = (
    Kind.TEXT,
    Kind.INT,
    Kind.NUMBER,
    Kind.BOOL,
    Kind.INSTANT,
    Kind.DATE,
    Kind.MONTH,
    Kind.TEXT_LIST,
    Kind.OBJECT,
    Kind.PERSON,
)

TICKET_CATEGORIES = ("todo", "in_progress", "blocked", "done")
SEVERITIES = ("sev1", "sev2", "sev3", "sev4", "sev5")
CATEGORIES = ("people", "infrastructure", "tooling", "other")
AUTHOR_KINDS = ("human", "agent", "bot")
#: ``ai_usage`` counts: how many (a source that does not report one leaves it empty, not 0)
AI_COUNTS = (
    ("active_users", "people of the team who used the tool that day"),
    ("engaged_users", "people who engaged with it (accepted a suggestion, chatted, ran an agent)"),
    ("suggestions_shown", "code suggestions shown"),
    ("suggestions_accepted", "code suggestions accepted"),
    ("lines_suggested", "lines of code suggested"),
    ("lines_accepted", "lines of code accepted"),
    ("chat_sessions", "chat conversations (or chats) with the assistant"),
    ("agent_sessions", "agent sessions or tasks run (an agent working on its own)"),
)
AI_AT_MOST = (("suggestions_accepted", "suggestions_shown"), ("lines_accepted", "lines_suggested"))

# Order matters: a type comes after every type it references, so one import can carry both.
RECORD_TYPES: tuple[RecordType, ...] = (
    RecordType(
        "org_unit",
        "org_unit",
        (_f("id", TXT), _f("name", TXT), _f("parent", TXT, required=False)),
        key=("id",),
        doc="A unit of the organisation (division, department). `parent` names another org unit.",
    ),
    RecordType(
        "team",
        "team",
        (
            _f("id", TXT),
            _f("name", TXT),
            _f("org_unit", TXT, references=("org_unit", "id")),
            _f("delivery_unit", TXT, choices=("deployments", "pull_requests", "commits")),
            _f("attributes", OBJ, required=False),
        ),
        key=("id",),
        doc="A team, its org unit, the unit of delivery it is measured in, and attributes used by fairness audits.",
    ),
    RecordType(
        "service",
        "service",
        (
            _f("id", TXT),
            _f("name", TXT),
            _f("team", TXT, references=("team", "id")),
            _f("repo", TXT, required=False,
               doc="The repository its code lives in (commit.repo, pull_request.repo); when no "
                   "service names a repository, a repository named like a service belongs to it."),
        ),
        key=("id",),
        doc="A deployable service, the team that owns it, and the repository its code lives in.",
    ),
    RecordType(
        "person",
        "person",
        (
            _f("id", PER),
            _f("team", TXT, references=("team", "id")),
            _f("since", DAY),
            _f("until", DAY, required=False),
            _f("bot", BOOL, required=False, default=False),
        ),
        key=("id", "team", "since"),
        doc="Membership of a person (or bot) in a team over [since, until]. The id is pseudonymised at ingest.",
        spans=(Span("since", "until"),),
    ),
    RecordType(
        "commit",
        "commit",
        (
            _f("sha", TXT),
            _f("repo", TXT),
            _f("author", PER),
            _f("authored_at", INST),
            _f("committed_at", INST),
            _f("additions", INT, minimum=0),
            _f("deletions", INT, minimum=0),
            _f("files_changed", INT, required=False, minimum=0),
            _f("parents", LST, required=False),
            _f("author_kind", TXT, required=False, choices=AUTHOR_KINDS,
               doc="Who made it: `human`, `agent` (a coding agent) or `bot` (plain automation). "
                   "Empty: decided at ingest by the `ai.agents` settings (docs/ai.md)."),
            _f("agent", TXT, required=False,
               doc="The coding agent that made it (`copilot`, `claude`…), when `author_kind` is "
                   "`agent`."),
        ),
        key=("sha",),
        doc="A commit. `files_changed` and `parents` are optional extensions filled by the git connector.",
    ),
    RecordType(
        "tag",
        "tag",
        (
            _f("repo", TXT),
            _f("name", TXT),
            _f("sha", TXT),
            _f("tagged_at", INST, required=False),
            _f("tagger", PER, required=False),
        ),
        key=("repo", "name"),
        doc="A git tag (release marker) and the commit it points to. Filled by the git connector.",
    ),
    RecordType(
        "pull_request",
        "pull_request",
        (
            _f("id", TXT),
            _f("repo", TXT),
            _f("number", INT, minimum=0),
            _f("author", PER),
            _f("created_at", INST),
            _f("first_commit_at", INST, required=False),
            _f("first_review_at", INST, required=False),
            _f("merged_at", INST, required=False),
            _f("closed_at", INST, required=False),
            _f("commits", LST, required=False),
            _f("additions", INT, required=False, minimum=0),
            _f("deletions", INT, required=False, minimum=0),
            _f("source", TXT, required=False,
               doc="Where the record came from: the connector, its instance and the raw id "
                   "(`github:acme/pay pull 1234`), shown by `shipwise explain`."),
            _f("author_kind", TXT, required=False, choices=AUTHOR_KINDS,
               doc="Who made it: `human`, `agent` (a coding agent) or `bot` (plain automation). "
                   "Empty: decided at ingest by the `ai.agents` settings (docs/ai.md)."),
            _f("agent", TXT, required=False,
               doc="The coding agent that made it (`copilot`, `claude`…), when `author_kind` is "
                   "`agent`."),
        ),
        key=("id",),
        doc="A pull (merge) request and the commits it carries.",
        spans=(
            Span("first_commit_at", "merged_at"),
            Span("created_at", "merged_at"),
            Span("created_at", "closed_at"),
            Span("created_at", "first_review_at"),
        ),
        children={"commits": ("pull_request_commit", "sha")},
    ),
    RecordType(
        "deployment",
        "deployment",
        (
            _f("id", TXT),
            _f("service", TXT, references=("service", "id")),
            _f("environment", TXT),
            _f("started_at", INST),
            _f("finished_at", INST),
            _f("status", TXT, choices=("success", "failure", "rolled_back")),
            _f("commits", LST, required=False),
            _f("version", TXT, required=False),
            _f("region", TXT, required=False),
            _f("kind", TXT, required=False, default="normal", choices=("normal", "hotfix", "rollback")),
            _f("remediates", TXT, required=False),
            _f("manual_interventions", INT, required=False, default=0, minimum=0),
            _f("source", TXT, required=False,
               doc="Where the record came from: the connector, its instance and the raw id "
                   "(`github:acme/pay deployment 991 status 1204`), shown by `shipwise explain`."),
            _f("rule", TXT, required=False,
               doc="Why a connector counted it as this environment's deployment (the setting and "
                   "pattern that matched), shown by `shipwise explain`."),
        ),
        key=("id",),
        doc="A deployment of a service to an environment and the commits it shipped.",
        spans=(Span("started_at", "finished_at"),),
        children={"commits": ("deployment_commit", "sha")},
    ),
    RecordType(
        "incident",
        "incident",
        (
            _f("id", TXT),
            _f("service", TXT, references=("service", "id")),
            _f("severity", TXT, choices=SEVERITIES),
            _f("opened_at", INST),
            _f("resolved_at", INST, required=False),
            _f("caused_by", TXT, required=False, references=("deployment", "id")),
            _f("human_actioned", BOOL, required=False, default=True),
            _f("labels", LST, required=False,
               doc="Labels or tags of the incident (`deploy:<deployment id>`, `version:<v>`, any "
                   "other): a team's `incident_labels` link an incident to a deployment by them"),
            _f("source", TXT, required=False,
               doc="Where the record came from: the connector, its instance and the raw id "
                   "(`pagerduty:main incident Q1ABC`), shown by `shipwise explain incident`."),
        ),
        key=("id",),
        doc="An incident or incident ticket, the service it hit, and the deployment that caused it if known.",
        spans=(Span("opened_at", "resolved_at"),),
        children={"labels": ("incident_label", "label")},
    ),
    RecordType(
        "page",
        "page",
        (
            _f("id", TXT),
            _f("team", TXT, references=("team", "id")),
            _f("person", PER),
            _f("at", INST),
            _f("urgency", TXT, choices=("high", "low")),
        ),
        key=("id",),
        doc="An on-call page to a person of a team.",
    ),
    RecordType(
        "oncall_shift",
        "oncall_shift",
        (
            _f("id", TXT),
            _f("team", TXT, references=("team", "id")),
            _f("person", PER),
            _f("starts_at", INST),
            _f("ends_at", INST),
            _f("schedule", TXT, required=False,
               doc="the rota (schedule) the shift belongs to, as the on-call system names it"),
            _f("source", TXT, required=False,
               doc="Where the record came from: the connector, its instance and the raw id "
                   "(`pagerduty:main schedule PABC 2026-11-02T09:00:00Z`)."),
        ),
        key=("id",),
        doc="A person of a team on call (first level of a rota) from `starts_at` to `ends_at`; "
            "strain counts the rota hours that fall out of hours.",
        spans=(Span("starts_at", "ends_at"),),
    ),
    RecordType(
        "ai_usage_person",
        "",
        (
            _f("person", PER, doc="the person's email or login, as the `person` records name "
                                  "them: used to find their team that day, then dropped"),
            _f("day", DAY),
            _f("tool", TXT),
            _f("active", BOOL, required=False, default=True,
               doc="the person used the tool that day (counted in `active_users`)"),
            _f("engaged", BOOL, required=False, default=False,
               doc="the person engaged with it that day (counted in `engaged_users`)"),
            *(_f(name, INT, required=False, minimum=0, doc=doc) for name, doc in AI_COUNTS[2:]),
            _f("cost", NUM, required=False, minimum=0, doc="that day's spend on the person's use"),
            _f("currency", TXT, required=False, doc="the currency of `cost` (required with it)"),
        ),
        key=("person", "day", "tool"),
        doc="One person's use of an AI tool on one day (a per-user usage or seats export). Never "
            "stored: summed into the `ai_usage` of the person's team that day.",
        together=(("cost", "currency"),),
        at_most=AI_AT_MOST,
        rollup="ai_usage",
    ),
    RecordType(
        "ai_usage",
        "ai_usage",
        (
            _f("team", TXT, references=("team", "id")),
            _f("day", DAY),
            _f("tool", TXT, doc="the assistant or agent (`copilot`, `claude-code`, `cursor`…)"),
            *(_f(name, INT, required=False, minimum=0, doc=doc) for name, doc in AI_COUNTS),
            _f("cost", NUM, required=False, minimum=0,
               doc="that day's spend on the tool for the team (seats, usage), in `currency`"),
            _f("currency", TXT, required=False, doc="the currency of `cost` (required with it)"),
            _f("source", TXT, required=False,
               doc="Where the record came from (`github-copilot:acme team platform`, a file)."),
        ),
        key=("team", "day", "tool"),
        doc="One team's use of one AI assistant or agent on one day, aggregated to the team "
            "(never per person: a per-person file is summed to teams at the door).",
        id_from=("team", "day", "tool"),
        together=(("cost", "currency"),),
        at_most=(("engaged_users", "active_users"), *AI_AT_MOST),
    ),
    RecordType(
        "people_cost",
        "",
        (
            _f("team", TXT, references=("team", "id")),
            _f("month", MON),
            _f("loaded_cost", NUM, minimum=0,
               doc="the team's people cost of the month at loaded cost (salaries, taxes, benefits)"),
            _f("fte", NUM, minimum=0, doc="average full-time equivalents of the month"),
            _f("currency", TXT, doc="the currency of `loaded_cost`"),
        ),
        key=("team", "month"),
        doc="One row of an HR/finance file: a team's loaded people cost and FTE in a month. "
            "Stored as a `cost` record (category `people`) and a `headcount` record.",
        splits=(
            Split("cost", {"team": "team", "month": "month", "amount": "loaded_cost",
                           "currency": "currency"}, {"category": "people"}),
            Split("headcount", {"team": "team", "month": "month", "fte": "fte"}),
        ),
    ),
    RecordType(
        "fx_rate",
        "fx_rate",
        (
            _f("month", MON),
            _f("currency", TXT, doc="the currency converted from (as cost and investment records "
                                    "name it, e.g. `USD`)"),
            _f("reporting_currency", TXT, doc="the currency converted to (`cost.reporting_currency`)"),
            _f("rate", NUM, above=0, doc="units of `reporting_currency` per 1 unit of `currency`"),
            _f("source", TXT, required=False,
               doc="where the rate comes from (e.g. `ECB monthly average`), shown beside it"),
        ),
        key=("month", "currency", "reporting_currency"),
        doc="The exchange rate of a month: costs and investments of that month in `currency` are "
            "reported in `reporting_currency` at this rate.",
    ),
    RecordType(
        "cost",
        "cost",
        (
            _f("team", TXT, references=("team", "id")),
            _f("month", MON),
            _f("category", TXT, choices=CATEGORIES),
            _f("amount", NUM, minimum=0),
            _f("currency", TXT, doc="any currency: reported in the reporting currency at the "
                                    "month's `fx_rate`"),
        ),
        key=("team", "month", "category"),
        doc="What a team cost in a month, by category (people = loaded cost).",
    ),
    RecordType(
        "headcount",
        "headcount",
        (_f("team", TXT, references=("team", "id")), _f("month", MON), _f("fte", NUM, minimum=0)),
        key=("team", "month"),
        doc="Average full-time equivalents of a team in a month.",
    ),
    RecordType(
        "investment",
        "investment",
        (
            _f("id", TXT),
            _f("name", TXT),
            _f("teams", LST),
            _f("started_at", INST),
            _f("amount", NUM, minimum=0),
            _f("currency", TXT, doc="any currency: reported in the reporting currency at the "
                                    "`fx_rate` of the month of `started_at`"),
            _f("kind", TXT),
        ),
        key=("id",),
        doc="A named investment (CI/CD, managed service, AI tool) and the teams it reached.",
        children={"teams": ("investment_team", "team")},
    ),
    RecordType(
        "slo",
        "slo",
        (
            _f("id", TXT),
            _f("service", TXT, references=("service", "id")),
            _f("objective", NUM, minimum=0, maximum=1),
            _f("window_days", INT, minimum=1),
        ),
        key=("id",),
        doc="A service level objective: the share of good events over a rolling window.",
    ),
    RecordType(
        "sli",
        "sli",
        (
            _f("slo", TXT, references=("slo", "id")),
            _f("at", INST),
            _f("good", INT, minimum=0),
            _f("total", INT, minimum=0),
        ),
        key=("slo", "at"),
        doc="Good and total event counts of an SLO's indicator for the interval ending at `at`.",
    ),
    RecordType(
        "ticket_status",
        "ticket_status",
        (
            _f("ticket", TXT),
            _f("team", TXT, references=("team", "id")),
            _f("at", INST),
            _f("status", TXT, doc="The tracker's own status name (e.g. 'Waiting for Security')."),
            _f("category", TXT, choices=TICKET_CATEGORIES,
               doc="What the status means for flow: todo, in_progress, blocked or done."),
            _f("blocked_on", TXT, required=False,
               doc="For blocked statuses: the team (id) or party the ticket waits on."),
        ),
        key=("ticket", "at"),
        doc="A work ticket entering a status at an instant (Jira, Linear, Azure Boards exports): "
            "the ticket is in that status until its next status event.",
    ),
)

BY_NAME: dict[str, RecordType] = {t.name: t for t in RECORD_TYPES}

#: Plural and alternative names accepted for CSV file names (``deployments.csv``).
ALIASES: dict[str, str] = {
    **{t.name + "s": t.name for t in RECORD_TYPES},
    "org_units": "org_unit",
    "people": "person",
    "costs": "cost",
    "exchange_rates": "fx_rate",
    "people_costs": "people_cost",
    "hr": "people_cost",
    "fx_rates": "fx_rate",
    "headcount": "headcount",
    "slos": "slo",
    "slis": "sli",
    "pull_requests": "pull_request",
    "prs": "pull_request",
    "ticket_statuses": "ticket_status",
    "ticket_status": "ticket_status",
    "ai_usage": "ai_usage",
    "ai_usages": "ai_usage",
    "ai_usage_people": "ai_usage_person",
    "ai_usage_persons": "ai_usage_person",
    "ai_user_usage": "ai_usage_person",
}


def resolve_type(name: str) -> RecordType | None:
    """The record type a (file or field) name stands for, or None."""
    key = name.strip().lower().replace("-", "_")
    key = ALIASES.get(key, key)
    return BY_NAME.get(key)
