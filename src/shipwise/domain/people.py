"""How people's ids look once stored: a pseudonym (``p_`` + 20 hex digits of a keyed HMAC) or,
for bots, a readable id (``bot:renovate[bot]``). The pseudonymiser
(:mod:`shipwise.governance.pseudonym`) makes them; the store recognises them."""

from __future__ import annotations

PREFIX = "p_"
BOT_PREFIX = "bot:"
#: a pseudonym as the importer makes it (a regular expression)
PSEUDONYM_RE = f"^{PREFIX}[0-9a-f]{{20}}$"


def quote_identifier(name: str) -> str:
    """An SQL identifier in double quotes (inner quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'
