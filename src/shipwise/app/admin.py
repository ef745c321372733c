"""Administration (admins only): API tokens, the access log and retention runs."""

from __future__ import annotations

from datetime import UTC, date, datetime

from shipwise.app import tokens as token_actions
from shipwise.app.caller import Caller
from shipwise.app.guard import Access, guard
from shipwise.app.results import (
    AccessRow,
    RetentionResult,
    RetentionRun,
    TokenCreated,
    TokenRevoked,
    TokenRow,
)
from shipwise.errors import InputError
from shipwise.governance.charter import load_charter
from shipwise.governance.retention import cutoffs, run
from shipwise.store import access_log as log_table
from shipwise.store import runs as run_table

#: the days a retention run may be applied as of (the API's bounds): periods are subtracted
AS_OF = (date(1970, 1, 1), date(9999, 1, 1))


@guard("admin.tokens", "tokens")
def tokens(caller: Caller) -> list[TokenRow]:
    """Every API token (never their values)."""
    return [TokenRow.model_validate(r) for r in token_actions.list_tokens(caller.store)]


@guard("admin.tokens", "token:new:{role}")
def create_token(caller: Caller, name: str, role: str, team: str | None = None, *,
                 responder: bool = False) -> TokenCreated:
    """A new token; its value is in the result and nowhere else (it is not stored).
    ``responder``: a member or lead token that may resolve actors' pseudonyms for incident
    response."""
    return TokenCreated.model_validate(token_actions.create_token(caller.store, name, role, team,
                                                                  responder=responder))


@guard("admin.tokens", "token:{token_id}")
def revoke_token(caller: Caller, token_id: str) -> TokenRevoked:
    """Revoke a token: its sessions end at once."""
    return TokenRevoked.model_validate(token_actions.revoke_token(caller.store, token_id))


@guard("admin.audit", "access_log")
def access_log(caller: Caller, *, limit: int = 100, people_derived: bool | None = None,
               since: datetime | None = None) -> list[AccessRow]:
    """The audit log, newest first: who (token, its name, role), what, when, through which
    interface, allowed or refused, and whether the figures read were people-derived."""
    return [AccessRow.model_validate(r) for r in log_table.read(
        caller.store, limit=limit, people_derived=people_derived, since=since)]


@guard("admin.retention", accesses=lambda c, a: [
    Access("admin.retention", "retention:dry-run" if a["dry_run"] else "retention")])
def retention_apply(caller: Caller, *, as_of: datetime | None = None,
                    dry_run: bool = False) -> RetentionResult:
    """Apply the charter's retention periods; what was (or, dry run, would be) removed."""
    if as_of is not None and not AS_OF[0] <= as_of.date() <= AS_OF[1]:
        raise InputError(f"as of {as_of.date().isoformat()} is out of range",
                         hint=f"use a day from {AS_OF[0].isoformat()} to {AS_OF[1].isoformat()}")
    charter = load_charter()
    when = as_of or datetime.now(UTC)
    plan = cutoffs(charter, caller.settings.retention.periods, when)
    report = run(caller.store, plan, dry_run=dry_run)
    return RetentionResult.model_validate(
        {**report, "charter_version": charter.version, "as_of": when.isoformat()})


@guard("admin.audit", "retention_runs")
def retention_runs(caller: Caller) -> list[RetentionRun]:
    """Earlier retention runs and what each removed, newest first."""
    return [RetentionRun.model_validate(r) for r in run_table.retention_runs(caller.store)]
