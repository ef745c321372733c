"""The team page's DORA section in a real browser: the five metrics under the DORA 2025 report's
Throughput and Instability groups with their units, the DORA 2024 level labelled as such, and the
Quick Check 2025 scores beside the 2025 benchmarks of the team's industry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from shipwise.app.context import open_store
from shipwise.server import create_app
from tests.conftest import serve_app
from tests.web.conftest import MEMBER_TEAM, Site, build_store, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The demo organisation, with the member's team saying its industry and organisation size."""
    with pytest.MonkeyPatch.context() as mp:
        for var in ("SHIPWISE_PSEUDONYM_KEY", "SHIPWISE_DB", "SHIPWISE_TOKEN"):
            mp.delenv(var, raising=False)
        settings, tokens, record = build_store(tmp_path_factory.mktemp("web-dora"))
        with open_store(settings) as store:
            (raw,) = store.con.execute("SELECT attributes FROM team WHERE id = ?",
                                       [MEMBER_TEAM]).fetchone() or (None,)
            attrs = {**json.loads(raw or "{}"), "industry": "Financial Services",
                     "organization_size": "fewer_than_1000"}
            store.con.execute("UPDATE team SET attributes = ? WHERE id = ?",
                              [json.dumps(attrs), MEMBER_TEAM])
        with serve_app(create_app(settings)) as url:
            yield Site(url, tokens, record["id"], record["root_cause"]["statement"], settings)


def test_team_page_groups_dora_as_throughput_and_instability(site: Site, page: Any) -> None:
    sign_in(page, site.url, site.tokens["member"])
    assert page.url.endswith(f"/teams/{MEMBER_TEAM}")
    throughput = page.get_by_role("group", name="Throughput")
    instability = page.get_by_role("group", name="Instability")

    def tiles(group: Any) -> dict[str, str]:
        return {t.get_attribute("data-metric"): t.inner_text()
                for t in group.locator(".tile[data-metric]").all()}

    thr, ins = tiles(throughput), tiles(instability)
    assert set(thr) == {"dora.deployment_frequency", "dora.change_lead_time",
                        "dora.failed_deployment_recovery_time"}
    assert set(ins) == {"dora.change_fail_rate", "dora.rework_rate"}
    # every value reads with its unit: deployments per week, durations, percentages
    freq = throughput.locator('.tile[data-metric="dora.deployment_frequency"] .value').inner_text()
    assert freq.strip().endswith("per week"), freq
    for m in ("dora.change_lead_time", "dora.failed_deployment_recovery_time"):
        value = throughput.locator(f'.tile[data-metric="{m}"] .value').inner_text()
        assert any(u in value for u in ("min", "h", "d", "s")), (m, value)
    for m in ("dora.change_fail_rate", "dora.rework_rate"):
        value = instability.locator(f'.tile[data-metric="{m}"] .value').inner_text()
        assert value.strip().endswith("%"), (m, value)
    # the 2024 levels stay, labelled as the 2024 report's
    level = page.get_by_test_id("dora-2024-level").inner_text()
    assert level.startswith("DORA 2024 levels: ")
    # the Quick Check 2025 scores beside all industries, the team's industry and its size
    qc = page.get_by_test_id("dora-quick-check")
    headers = qc.locator("thead th").all_inner_texts()
    assert "2025 benchmark: All industries (mean ± SD)" in headers
    assert "2025 benchmark: Financial Services (mean ± SD)" in headers
    assert "2025 benchmark: 500 to 999 employees (mean ± SD)" in headers
    body = qc.inner_text()
    assert "5.5 ± 2.4" in body  # change lead time, all industries (published)
    assert "infers no profile" in body and "dora-team/dora.dev" in body
    overall = qc.locator("tr.total td strong").inner_text()
    assert 0 <= float(overall) <= 10
