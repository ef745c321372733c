"""People are pseudonymised at the door with a keyed hash; raw ids never reach the store.

The key lives outside the database (a file created by ``shipwise init`` with mode 0600, or the
``SHIPWISE_PSEUDONYM_KEY`` environment variable). The store keeps only a fingerprint of the key, so
opening it with a different key is refused instead of silently splitting every person in two.
Bots are not people: they keep a readable id (``bot:renovate[bot]``) and are flagged apart.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from shipwise.config import AgentSettings, BotSettings, environ
from shipwise.domain.people import BOT_PREFIX, PREFIX
from shipwise.errors import ConfigError, StoreError

KEY_ENV = "SHIPWISE_PSEUDONYM_KEY"


def normalise_id(raw: str) -> str:
    return raw.strip().lower()


@dataclass(frozen=True)
class Pseudonymiser:
    key: bytes
    bots: BotSettings
    #: how agent-authored changes are recognised (``ai.agents``): decided before people are
    #: pseudonymised, and an agent account is stored readable like a bot (docs/ai.md)
    agents: AgentSettings = field(default_factory=AgentSettings)

    @property
    def fingerprint(self) -> str:
        return hmac.new(self.key, b"shipwise-key-fingerprint", hashlib.sha256).hexdigest()[:16]

    def pseudonym(self, raw: str) -> str:
        digest = hmac.new(self.key, normalise_id(raw).encode(), hashlib.sha256).hexdigest()
        return PREFIX + digest[:20]

    def is_bot(self, raw: str) -> bool:
        ident = normalise_id(raw)
        # GitHub Apps: the login ends in "[bot]", and so does the local part of their commit
        # email (49699333+dependabot[bot]@users.noreply.github.com)
        if ident.endswith("[bot]") or "[bot]@" in ident or ident in {
                normalise_id(b) for b in self.bots.logins}:
            return True
        return any(fnmatch.fnmatchcase(ident, p.lower()) for p in self.bots.patterns)

    def map(self, raws: Iterable[str], known_bots: set[str] = frozenset()) -> dict[str, tuple[str, bool]]:  # type: ignore[assignment]
        """raw id -> (stored id, is_bot) for distinct raw ids (called once per batch, not per event)."""
        out: dict[str, tuple[str, bool]] = {}
        for raw in raws:
            ident = normalise_id(raw)
            if ident in known_bots or self.is_bot(ident):
                out[raw] = (BOT_PREFIX + ident, True)
            else:
                out[raw] = (self.pseudonym(ident), False)
        return out


def create_key_file(path: Path) -> bool:
    """Create a new random key at ``path`` (0600). Returns False if one already exists."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    return True


def load_key(path: Path) -> bytes:
    env = environ().get(KEY_ENV)
    if env:
        return env.strip().encode()
    if not path.exists():
        raise ConfigError(
            f"no pseudonymisation key at {path}",
            hint=f"run `shipwise init`, or set {KEY_ENV}",
        )
    st = path.stat()
    if st.st_mode & 0o077 and st.st_uid == os.getuid():
        os.chmod(path, 0o600)  # a copied or hand-made key file: keep it its owner's alone
    text = path.read_text().strip()
    if len(text) < 32:
        raise ConfigError(f"pseudonymisation key in {path} is too short (need ≥ 32 characters)")
    return text.encode()


def check_fingerprint(stored: str | None, pseudo: Pseudonymiser) -> None:
    if stored is not None and stored != pseudo.fingerprint:
        raise StoreError(
            "this store was created with a different pseudonymisation key",
            hint="use the key file created by `shipwise init` for this store (or its "
            f"{KEY_ENV}); a new key would split every person in two",
        )


#: a pseudonym as investigations show it: ``p_`` and 8 to 20 hex digits (a short form is a prefix)
SHOWN_PSEUDONYM = re.compile(r"^p_[0-9a-f]{8,20}$")


def directory_entries(text: str) -> list[str]:
    """The entries of an identity directory a responder supplies: one person a line (blank lines
    and ``#`` comments skipped), each line's comma- or tab-separated fields being ids of that
    person (a login, an email) and, beside them, anything the responder needs (a name, a phone
    number). Duplicate lines count once."""
    lines = (line.strip() for line in text.splitlines())
    return list(dict.fromkeys(line for line in lines if line and not line.startswith("#")))


def resolve(pseudo: Pseudonymiser, pseudonym: str, entries: Iterable[str]) -> str | None:
    """The directory entry one of whose fields the keyed hash turns into ``pseudonym`` (or whose
    pseudonym starts with it, for the short form), or None. Nothing is kept: the hashes are
    computed here and dropped."""
    target = pseudonym.strip().lower()
    if not SHOWN_PSEUDONYM.match(target):
        raise ValueError(f"not a pseudonym: {pseudonym!r}")
    for entry in entries:
        for part in re.split(r"[,\t]", entry):
            ident = normalise_id(part)
            if ident and pseudo.pseudonym(ident).startswith(target):
                return entry
    return None
