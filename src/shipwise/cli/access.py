"""Who a command runs as — the one place the CLI decides it.

Every command either runs as the principal it is given (:func:`runs_as`) or is listed in
:data:`EXEMPT` with the reason it needs none; ``tests/test_cli_access.py`` walks the whole click
tree and fails on a command that is neither, so a new command cannot silently skip the check.

The principal is the owner of ``SHIPWISE_TOKEN`` when it is set (the same roles as the API, the
web pages and MCP), else the local administrator: whoever can read the store file and its key
owns it: a :class:`~shipwise.app.caller.Caller` like any other (:func:`caller`), whose reads the
doors of :mod:`shipwise.app` authorise and log. A command with no door of its own names a policy
action (``runs_as("admin.ingest")``) that is checked, and logged, before it starts.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from shipwise.app.caller import Caller, Principal

F = TypeVar("F", bound=Callable[..., Any])

#: the attribute :func:`runs_as` sets on a command's callback (the action, "" for none)
MARK = "__shipwise_runs_as__"

#: commands (space-separated path) that run as nobody in particular, and why
EXEMPT: dict[str, str] = {
    "init": "creates the store and its key file: no token can exist before the store does, and "
            "whoever can write those files owns them",
    "metrics list": "the metric registry, shipped with shipwise and open to every role; opens "
                    "no store",
    "metrics explain": "one charter entry, shipped with shipwise and open to every role; opens "
                       "no store",
    "charter show": "the charter, shipped with shipwise and open to every role; opens no store",
    "charter validate": "checks the charter (or a proposed charter file); opens no store",
    "rca rank": "ranks the files of a case directory; opens no store",
    "rca eval petshop": "evaluates on a dataset directory; opens no store",
    "rca eval dir": "evaluates on a dataset directory; opens no store",
    "rca eval scenarios": "generates synthetic cases and evaluates on them; opens no store",
    "demo world": "writes the demo shop's incident cases as files; opens no store",
}


def principal_of(ctx: click.Context) -> Principal:
    """The principal this invocation runs as (resolved once per invocation)."""
    from shipwise.app.caller import LOCAL_ADMIN

    root = ctx.find_root().ensure_object(dict)
    if "principal" not in root:
        from shipwise.config import environ

        token = environ().get("SHIPWISE_TOKEN", "").strip()
        if not token:
            root["principal"] = LOCAL_ADMIN
        else:
            from shipwise.app.context import open_store
            from shipwise.app.tokens import authenticate_local
            from shipwise.cli.main import settings_from

            with open_store(settings_from(ctx)) as store:
                root["principal"] = authenticate_local(store, token, "cli")
    principal: Principal = root["principal"]
    return principal


def is_local(principal: Principal) -> bool:
    """The store's owner, without a token (no check can refuse them)."""
    return principal.token_id is None and principal.role == "admin"


@contextmanager
def caller(ctx: click.Context) -> Iterator[Caller]:
    """The :class:`~shipwise.app.caller.Caller` this command acts as: the store (writable: every
    read goes to the access log), who is asking, the settings — for the doors of ``shipwise.app``."""
    from shipwise.app.caller import local_caller
    from shipwise.cli.main import settings_from

    with local_caller(settings_from(ctx), principal_of(ctx), interface="cli") as c:
        yield c


def _require(ctx: click.Context, principal: Principal, action: str) -> None:
    """``action`` for ``principal``, logged; a one-line refusal that names the command."""
    from shipwise.app.caller import POLICY
    from shipwise.app.guard import Access, authorize
    from shipwise.errors import ForbiddenError

    if is_local(principal):
        return
    path = ctx.command_path.split(" ", 1)[-1]
    with caller(ctx) as c:
        try:
            # the command's door logs the action; this refuses early, before any work
            authorize(c, [Access(action, f"cli:{path}", principal.team)], log_allowed=False)
        except ForbiddenError:
            raise ForbiddenError(
                f"`shipwise {path}` needs the {' or '.join(POLICY[action])} role; SHIPWISE_TOKEN "
                f"is a {principal.role} token",
                hint="use a token with that role, or unset SHIPWISE_TOKEN to act as the "
                     "store's owner") from None


def runs_as(action: str | None = None) -> Callable[[F], F]:
    """Run the command as :func:`principal_of` (a bad or revoked token stops it before it
    starts); with ``action``, a principal who may not do it is refused first. Put it right
    above the function (below ``click.pass_context``)."""

    def wrap(f: F) -> F:
        @functools.wraps(f)
        def inner(*args: Any, **kwargs: Any) -> Any:
            ctx = click.get_current_context()
            if not (isinstance(ctx.command, click.Group) and ctx.invoked_subcommand):
                principal = principal_of(ctx)
                if action:
                    _require(ctx, principal, action)
            return f(*args, **kwargs)

        setattr(inner, MARK, action or "")
        return inner  # type: ignore[return-value]

    return wrap
