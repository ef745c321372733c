"""Opening a store with its settings and pseudonymisation key: the one way every interface does it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from shipwise.config import Settings
from shipwise.governance.pseudonym import (
    Pseudonymiser,
    check_fingerprint,
    create_key_file,
    load_key,
)
from shipwise.store.duckdb_store import Store

KEY_FINGERPRINT = "pseudonym_key_fingerprint"


@dataclass
class InitResult:
    db: str
    key_file: str
    created_store: bool
    created_key: bool
    schema_version: int


def init_store(settings: Settings) -> InitResult:
    """Create the store and the pseudonymisation key if missing. Safe to run again."""
    existed = settings.db.exists()
    created_key = create_key_file(settings.resolved_key_file)
    pseudo = Pseudonymiser(load_key(settings.resolved_key_file), settings.bots,
                          settings.ai.agents)
    with Store.open(settings.db, create=True, memory_limit=settings.memory_limit) as store:
        check_fingerprint(store.get_meta(KEY_FINGERPRINT), pseudo)
        with store.transaction():
            if store.get_meta(KEY_FINGERPRINT) is None:
                store.set_meta(KEY_FINGERPRINT, pseudo.fingerprint)
        version = store.schema_version()
    return InitResult(str(settings.db), str(settings.resolved_key_file), not existed, created_key, version)


@contextmanager
def open_store(settings: Settings, *, read_only: bool = False) -> Iterator[Store]:
    store = Store.open(settings.db, read_only=read_only, memory_limit=settings.memory_limit)
    try:
        yield store
    finally:
        store.close()


def pseudonymiser_for(store: Store, settings: Settings) -> Pseudonymiser:
    """The pseudonymiser whose key matches ``store`` (refuses a different key; the first ingest
    records the key's fingerprint)."""
    return _matching(store, Pseudonymiser(load_key(settings.resolved_key_file), settings.bots,
                          settings.ai.agents))


def _matching(store: Store, pseudo: Pseudonymiser) -> Pseudonymiser:
    stored = store.get_meta(KEY_FINGERPRINT)
    check_fingerprint(stored, pseudo)
    if stored is None:
        with store.transaction():
            store.set_meta(KEY_FINGERPRINT, pseudo.fingerprint)
    return pseudo


@contextmanager
def open_for_ingest(settings: Settings) -> Iterator[tuple[Store, Pseudonymiser]]:
    """The store plus the pseudonymiser whose key matches it (refuses a different key; the key
    is read first, so a missing key is the error even where the store is missing too)."""
    pseudo = Pseudonymiser(load_key(settings.resolved_key_file), settings.bots,
                          settings.ai.agents)
    with open_store(settings) as store:
        yield store, _matching(store, pseudo)
