"""Fixtures of the investigation tests: a real Prometheus backfilled with the small world of
``promworld`` (started once per module that asks for it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e import servers
from tests.investigate.promworld import PromWorld, openmetrics, world_times


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PromWorld]:
    w = world_times()
    with servers.backfilled_prometheus(tmp_path_factory.mktemp("prom"), openmetrics(w)) as url:
        yield PromWorld(url, w.start, w.alarm, w.incident, w.deploy, w.end)
