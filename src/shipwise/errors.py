"""One exception root for shipwise, with transient and terminal kinds.

Every interface renders a :class:`ShipwiseError` in one place as a one-line message that says what
to do; anything else is a bug and shows a traceback under ``--debug``.
"""

from __future__ import annotations


class ShipwiseError(Exception):
    """Root of every error shipwise raises on purpose."""

    #: A short hint telling the user what to do next (rendered after the message).
    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class TransientError(ShipwiseError):
    """Retrying the same operation later may succeed (network blip, rate limit, lock).

    ``retry_after`` is how many seconds the other side asked us to wait (an HTTP ``Retry-After``
    header, a rate limit's reset time minus now), or ``None`` when it did not say.
    :func:`shipwise.connectors.retry.retry` never retries sooner than that.
    """

    retry_after: float | None = None

    def __init__(
        self, message: str, *, hint: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        if retry_after is not None:
            self.retry_after = max(0.0, float(retry_after))


class TerminalError(ShipwiseError):
    """Retrying will not help until something changes (bad input, bad settings)."""


class ConfigError(TerminalError):
    """Settings are missing or invalid."""


class StoreError(TerminalError):
    """The store is missing, from an incompatible version, or used with the wrong key."""


class StoreBusyError(StoreError):
    """Another process holds the store file read-write (``path``: the store it tried to open)."""

    def __init__(self, message: str, *, path: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.path = path


class InputError(TerminalError):
    """An input file cannot be read at all (individual bad records go to quarantine instead)."""


class NotFoundError(TerminalError):
    """A named thing (team, service, metric, repository) does not exist."""


class UnauthorizedError(TerminalError):
    """No valid credentials (missing, unknown, revoked or expired token or session)."""


class ForbiddenError(TerminalError):
    """The credentials are valid but their role may not see or do this.

    A refusal of the access policy says more than its message: the ``action`` refused, the
    ``role`` (and ``team``) asking, the roles ``allowed``, and ``detail`` — in plain words who may
    see this and why (the charter's reason), for a person reading a 403 page or API body."""

    def __init__(self, message: str, *, hint: str | None = None, action: str | None = None,
                 role: str | None = None, team: str | None = None,
                 allowed: tuple[str, ...] = (), detail: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.action = action
        self.role = role
        self.team = team
        self.allowed = allowed
        self.detail = detail


class RetriesExhaustedError(TransientError):
    """A transient failure kept happening for every attempt :func:`~shipwise.connectors.retry.retry`
    was allowed; ``last`` is the final failure (also the ``__cause__``), ``attempts`` how many."""

    def __init__(self, message: str, *, last: TransientError, attempts: int,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint, retry_after=last.retry_after)
        self.last = last
        self.attempts = attempts
