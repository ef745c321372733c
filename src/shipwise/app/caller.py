"""Who is asking, of which store, through which interface: the first argument of every function
of the application layer.

The CLI, the REST API, the web pages and MCP each build a :class:`Caller` once per user action
and hand it to :mod:`shipwise.app`; nothing below them needs to know which interface asked. The
local CLI user, without ``SHIPWISE_TOKEN``, is a caller like any other, with the local
administrator's principal (whoever can read the store file and its key owns it): there is no
unauthorised door beside the guarded one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from shipwise.config import Settings
from shipwise.governance.access import LOCAL_ADMIN, POLICY, ROLES, TEAM_ROLES, Principal
from shipwise.store.duckdb_store import Store

__all__ = ["LOCAL_ADMIN", "POLICY", "ROLES", "Caller", "Interface", "Principal", "Store",
           "local_caller"]

Interface = Literal["cli", "api", "web", "mcp"]


@dataclass(frozen=True)
class Caller:
    """The store the process holds, who is asking, the settings in force and the interface."""

    store: Store
    principal: Principal
    settings: Settings
    interface: Interface = "cli"

    @property
    def own_team(self) -> str | None:
        """The team a member or lead is confined to (``None``: every team, exec and admin)."""
        return self.principal.team if self.principal.role in TEAM_ROLES else None


@contextmanager
def local_caller(settings: Settings, principal: Principal = LOCAL_ADMIN, *,
                 interface: Interface = "cli") -> Iterator[Caller]:
    """A caller over a store this process opens for the duration (the CLI, MCP over stdio)."""
    store = Store.open(settings.db, memory_limit=settings.memory_limit)
    try:
        yield Caller(store, principal, settings, interface)
    finally:
        store.close()
