"""One result model everywhere: what a door returns is the API's response model and the MCP
tool's output schema, so none can drift (MCP's explain_metric crashed on metrics with no
better direction when its own copy of the model said ``better: str``)."""

from __future__ import annotations

import asyncio
from typing import Any

from mcp.client import Client

from shipwise.app import catalog, results
from shipwise.config import Settings
from shipwise.governance.access import LOCAL_ADMIN
from shipwise.mcp.server import build_server
from shipwise.metrics.registry import REGISTRY
from shipwise.server import create_app
from shipwise.store.duckdb_store import Store

from .conftest import caller_of


def test_explain_metric_works_for_every_registered_metric(sample_settings: Settings) -> None:
    server = build_server(lambda: Store.open(sample_settings.db), lambda s, ctx: LOCAL_ADMIN,
                          settings=sample_settings)

    async def main() -> list[Any]:
        async with Client(server) as client:
            return [await client.call_tool("explain_metric", {"metric_id": m}) for m in REGISTRY]

    answers = asyncio.run(main())
    assert len(answers) == len(REGISTRY)
    for mid, answer in zip(REGISTRY, answers, strict=True):
        assert not answer.is_error, (mid, answer.content)
        assert answer.structured_content["id"] == mid
    assert any(a.structured_content["better"] is None for a in answers)


def test_api_and_mcp_publish_the_doors_result_schemas(sample_settings: Settings) -> None:
    openapi = create_app(sample_settings).openapi()["components"]["schemas"]
    for model in (results.DoraResult, results.CostResult, results.DiagnosticsResult,
                  results.SloResult, results.MetricEntry, results.Team):
        assert model.__name__ in openapi, model.__name__
    server = build_server(lambda: Store.open(sample_settings.db), lambda s, ctx: LOCAL_ADMIN,
                          settings=sample_settings)

    async def tools() -> dict[str, Any]:
        async with Client(server) as client:
            return {t.name: t.output_schema for t in (await client.list_tools()).tools}

    schemas = asyncio.run(tools())
    assert schemas["get_dora"]["properties"].keys() == \
        results.DoraResult.model_json_schema()["properties"].keys()
    assert schemas["explain_metric"]["properties"]["better"] == \
        results.MetricEntry.model_json_schema()["properties"]["better"]


def test_dump_keeps_only_what_the_door_set(sample_settings: Settings) -> None:
    with caller_of(sample_settings) as c:
        entry = results.dump(catalog.metric(c, "dora.failed_deployment_attempts"))
    assert entry["better"] is None and entry["id"] == "dora.failed_deployment_attempts"
