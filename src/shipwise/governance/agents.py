"""Who made a change: a person (``human``), a coding agent (``agent``) or plain automation
(``bot``), decided at ingest from the settings ``ai.agents`` (docs/ai.md) — before people are
pseudonymised, since the rules name accounts and trailers as the source writes them.

The order, first match wins:

1. the author is a configured agent account -> ``agent`` (that agent);
2. the author is a configured plain bot, or a GitHub App (a login, or the local part of an
   email, ending in ``[bot]``) that is not an agent account -> ``bot`` (a dependency updater that
   quotes a ``Co-authored-by`` is still a bot);
3. a ``Co-authored-by:`` trailer of the commit message, or a label of the pull request, names an
   agent -> ``agent`` (a person who worked with an agent: the change is the agent's);
4. nothing matched -> no decision here: the importer reads ``bot`` when the author is a bot
   (``bots:`` settings, a ``[bot]`` login) and ``human`` otherwise.

An agent account is not a person: it is stored readable (``bot:<login>``), like a bot, and never
counted among a team's people. A person who co-authored with an agent stays a pseudonym.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass

from shipwise.config import AgentSettings

HUMAN, AGENT, BOT = "human", "agent", "bot"
KINDS = (HUMAN, AGENT, BOT)

#: ``Co-authored-by: Name <email>`` (git's trailer, any case), one per line
_TRAILER = re.compile(r"^\s*co-authored-by\s*:\s*(.+?)\s*$", re.IGNORECASE | re.MULTILINE)


def co_authors(message: str | None) -> list[str]:
    """The ``Co-authored-by`` values of a commit message (``Name <email>``), as written."""
    return _TRAILER.findall(message) if message else []


def _pattern(text: str) -> str:
    """A setting's pattern for :func:`fnmatch.fnmatchcase`: lower-cased, ``*`` and ``?`` the only
    wildcards (``[bot]`` in a login is literal, not a character class)."""
    return text.strip().lower().replace("[", "[[]")


@dataclass(frozen=True)
class AgentRules:
    """The compiled ``ai.agents`` settings (patterns lower-cased once)."""

    accounts: tuple[tuple[str, str], ...] = ()
    bots: tuple[str, ...] = ()
    co_authors: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, settings: AgentSettings) -> AgentRules:
        return cls(
            tuple((_pattern(p), a) for p, a in settings.accounts.items()),
            tuple(_pattern(p) for p in settings.bots),
            tuple((_pattern(p), a) for p, a in settings.co_authors.items()),
            tuple((label.strip().lower(), a) for label, a in settings.labels.items()))

    def account(self, author: str | None) -> str | None:
        """The agent an author login or email is the account of, or None."""
        ident = (author or "").strip().lower()
        if not ident:
            return None
        return next((a for p, a in self.accounts if fnmatch.fnmatchcase(ident, p)), None)

    def plain_bot(self, author: str | None) -> bool:
        ident = (author or "").strip().lower()
        if ident.endswith("[bot]") or "[bot]@" in ident:  # a GitHub App, not an agent account
            return True
        return bool(ident) and any(fnmatch.fnmatchcase(ident, p) for p in self.bots)

    def classify(self, author: str | None, *, message: str | None = None,
                 labels: Iterable[str] = ()) -> tuple[str | None, str | None]:
        """``(author_kind, agent)`` of a change, or ``(None, None)`` when no rule decides (see
        the module docstring)."""
        agent = self.account(author)
        if agent is not None:
            return AGENT, agent
        if self.plain_bot(author):
            return BOT, None
        for trailer in co_authors(message):
            value = trailer.strip().lower()
            found = next((a for p, a in self.co_authors if fnmatch.fnmatchcase(value, p)), None)
            if found is not None:
                return AGENT, found
        for label in labels:
            value = label.strip().lower()
            found = next((a for lab, a in self.labels if lab == value), None)
            if found is not None:
                return AGENT, found
        return None, None
