"""The application layer's tests run on one small sample organisation per test session (the demo
at scale 0.05: 15 teams, 45 services, two years of events; built in about 5 s), copied for a
test that writes."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from shipwise.app.caller import Caller
from shipwise.app.context import init_store
from shipwise.app.demo import run_demo
from shipwise.config import Settings, load_settings
from shipwise.governance.access import LOCAL_ADMIN, Principal
from shipwise.store.duckdb_store import Store


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The sample organisation's settings (read it through :func:`caller_of`)."""
    root = tmp_path_factory.mktemp("sample")
    settings = load_settings(db=root / "sample.duckdb")
    init_store(settings)
    run_demo(settings, scale=0.05)
    return settings


@pytest.fixture
def writable(sample: Settings, tmp_path: Path) -> Settings:
    """A copy of the sample organisation this test may change."""
    for f in sample.db.parent.iterdir():
        shutil.copy2(f, tmp_path / f.name)
    return load_settings(db=tmp_path / sample.db.name)  # the key file is <db>.key beside it


@contextmanager
def caller_of(settings: Settings, principal: Principal = LOCAL_ADMIN,
              interface: str = "api") -> Iterator[Caller]:
    store = Store.open(settings.db)
    try:
        yield Caller(store, principal, settings, interface)  # type: ignore[arg-type]
    finally:
        store.close()


def log_rows(settings: Settings) -> list[dict[str, object]]:
    with Store.open(settings.db) as store:
        return store.query("SELECT role, interface, action, subject, allowed, people_derived "
                           "FROM access_log ORDER BY read_at, rowid")
