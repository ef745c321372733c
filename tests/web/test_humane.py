"""The humane-analytics pages in a real browser: the team page's SLO, flow and strain sections
(charts drawn, numbers linked to their charter entries, suppressed figures shown as "hidden"),
the organisation page, the charter, the audit log and the fairness audit, with their roles."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.web.conftest import MEMBER_TEAM, Site, sign_in

pytestmark = pytest.mark.browser

NEW_CHARTS = ("slo-chart", "flow-phases-chart", "flow-wip-chart", "strain-chart")


def _get(site: Site, path: str, role: str = "admin") -> httpx.Response:
    return httpx.get(site.url + path, headers={"Authorization": f"Bearer {site.tokens[role]}"},
                     timeout=60)


def drawn(page: Any, chart_id: str) -> list[int]:
    """How many values each series of a drawn chart has (the canvas must be on the page)."""
    page.wait_for_function(f"() => window.shipwiseCharts && window.shipwiseCharts['{chart_id}']")
    box = page.locator(f"#{chart_id} canvas").bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 100, chart_id
    return list(page.evaluate(
        "id => window.shipwiseCharts[id].data.slice(1).map(s => s.filter(v => v != null).length)",
        chart_id))


def test_team_page_shows_slo_flow_and_strain(site: Site, page: Any) -> None:
    sign_in(page, site.url, site.tokens["member"])
    assert page.url.endswith(f"/teams/{MEMBER_TEAM}")
    for name in ("SLOs and error budgets", "Flow, ", "Strain, "):
        assert page.get_by_role("heading", name=re.compile(re.escape(name))).count() >= 1, name
    for chart_id in NEW_CHARTS:
        lengths = drawn(page, chart_id)
        assert lengths and all(n > 0 for n in lengths), (chart_id, lengths)
    # the cycle-time phases are stacked bars: one series per phase, the legend in stack order
    labels = page.evaluate("() => window.shipwiseCharts['flow-phases-chart'].series"
                           ".slice(1).map(s => s.label)")
    assert labels == ["Deploy time", "Review time", "Pickup time", "Coding time"]
    # numbers in each section, each linked to its charter entry
    for section in ("#slo", "#flow", "#strain"):
        nums = page.locator(f"{section} a.num")
        assert nums.count() >= 3, section
        assert all(h.startswith("/metrics/") for h in nums.evaluate_all(
            "els => els.map(e => e.getAttribute('href'))"))
    assert re.search(r"\d", page.locator("#flow .tile .value").first.inner_text())
    assert page.locator("#flow [data-testid=open-pr-age] li").count() == 5
    # the release appetite sits right beside deployment frequency, in plain language
    tiles = page.locator("#main .tiles").first.locator(".tile")
    assert "Deployment frequency" in tiles.nth(0).inner_text()
    appetite = tiles.nth(1)
    assert appetite.get_attribute("data-testid") == "release-appetite"
    text = appetite.inner_text()
    assert re.search(r"\b(full|reduced|fixes only)\b", text) and "release appetite" in text.lower()
    slo_rows = page.locator("#slo table tbody tr")
    assert slo_rows.count() >= 1
    assert re.search(r"\d+\.\d+%", slo_rows.first.inner_text())  # attainment
    assert page.locator("#slo .status").count() == slo_rows.count()  # burn-rate alert state


def test_a_suppressed_figure_reads_hidden_with_its_reason(site: Site, page: Any) -> None:
    data = _get(site, f"/teams/{MEMBER_TEAM}.json?grain=week", "member").json()
    hidden_rows = [r for r in data["diagnostics"]["strain"]["rows"] if r["suppressed"]]
    assert hidden_rows, "the demo has weeks with too few responders"
    sign_in(page, site.url, site.tokens["member"])
    page.goto(site.url + f"/teams/{MEMBER_TEAM}?grain=week")
    page.wait_for_load_state("networkidle")
    hidden = page.locator("#strain .hidden-figure")
    assert hidden.count() >= 1
    first = hidden.first
    assert first.inner_text() == "hidden"
    assert "fewer than" in (first.get_attribute("title") or "")
    # a hidden figure is never drawn as 0: the strain chart has gaps where the table says hidden
    shown = set(page.evaluate("() => window.shipwiseCharts['strain-chart'].data[1]"
                              ".map((v, i) => v == null ? null : i).filter(i => i != null)"))
    labels = page.evaluate("() => JSON.parse(document.getElementById('strain-chart-data')"
                           ".textContent).labels")
    for r in hidden_rows:
        if "strain.after_hours_pages" in r["suppressed"]:
            assert labels.index(r["period"]) not in shown, r["period"]
    for r in hidden_rows:
        for col in r["suppressed"]:
            if col in r["metrics"]:
                assert r["metrics"][col] is None, (r["period"], col)


def test_the_info_link_opens_the_charter_entry(site: Site, page: Any) -> None:
    sign_in(page, site.url, site.tokens["member"])
    info = page.locator("#flow .tile a.info").first
    tip = info.get_attribute("title") or ""
    assert "May inform:" in tip and "May not inform:" in tip and "individual ranking" in tip
    href = info.get_attribute("href")
    assert href and href.startswith("/metrics/flow.")
    info.click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith(href)
    assert page.get_by_role("heading", name="Charter entry").count() == 1
    entry = page.locator("dl.charter").inner_text()
    assert "May not inform" in entry and "individual ranking" in entry and "Definition" in entry


def test_member_is_refused_the_org_fairness_and_audit_pages(site: Site, page: Any) -> None:
    sign_in(page, site.url, site.tokens["member"])
    for path in ("/org", "/fairness", "/audit"):
        response = page.goto(site.url + path)
        assert response is not None and response.status == 403, path
        assert page.get_by_role("heading", name="This page is not open to you").count() == 1
    nav = page.get_by_role("navigation", name="Main").inner_text()
    assert "Org health" not in nav and "Fairness" not in nav and "Charter" in nav


def test_exec_sees_org_units_and_the_fairness_audit(site: Site, page: Any) -> None:
    sign_in(page, site.url, site.tokens["exec"])
    page.goto(site.url + "/org")
    for chart_id in ("org-cycle-chart", "org-strain-chart"):
        assert any(n > 0 for n in drawn(page, chart_id))
    tables = page.locator("main .card table")  # (uPlot's legends are tables too)
    assert tables.count() == 2 and page.locator("main .card table tbody tr").count() >= 4
    response = page.goto(site.url + f"/teams/{MEMBER_TEAM}")
    assert response is not None and response.status == 403
    page.goto(site.url + "/fairness")
    findings = page.get_by_test_id("findings")
    assert findings.count() == 1
    # findings in plain language first, each with what to do; no statistics in them
    assert findings.locator("li").count() >= 1
    plain = findings.inner_text()
    assert "What to do:" in plain
    for jargon in ("Spearman", "Holm", "η²", "Kruskal"):
        assert jargon not in plain, jargon
    # the statistics are one click away: the tables open under the findings
    stats = page.get_by_test_id("fairness-statistics")
    assert page.get_by_role("heading", name="Who the flags fall on").count() == 0
    stats.locator("summary").first.click()
    assert page.get_by_role("heading", name="Who the flags fall on").count() == 1
    first_table = stats.locator("table").first.bounding_box()
    box = findings.bounding_box()
    assert box is not None and first_table is not None and box["y"] < first_table["y"]
    assert "Spearman" in stats.inner_text()


def test_admin_sees_the_reads_just_made_in_the_audit_log(site: Site, page: Any) -> None:
    assert _get(site, f"/teams/{MEMBER_TEAM}.json", "member").status_code == 200
    assert _get(site, "/org.json", "member").status_code == 403
    sign_in(page, site.url, site.tokens["admin"])
    page.goto(site.url + "/audit?people_derived=yes")
    page.wait_for_load_state("networkidle")
    rows = page.locator("#audit-list tbody tr")
    assert rows.count() >= 2
    text = page.locator("#audit-list").inner_text()
    # the team page is one action, one row, however many views it reads
    assert f"page:/teams/{MEMBER_TEAM}" in text and "web-test-member" in text
    assert "org:flow" in text and "REFUSED" in text
    # every row shown is people-derived; switching the filter swaps the list in place (HTMX)
    assert all(c.strip() == "yes" for c in rows.locator("td:last-child").all_inner_texts())
    page.select_option("#people_derived", "no")
    page.wait_for_function("() => !document.querySelector('#audit-list').innerText"
                           ".includes('org:flow')")
    assert "people_derived=no" in page.url
    assert "admin.audit" in page.locator("#audit-list").inner_text()


def test_charter_page_shows_version_forbidden_uses_retention_and_validation(
        site: Site, page: Any) -> None:
    sign_in(page, site.url, site.tokens["member"])
    page.goto(site.url + "/charter")
    assert re.search(r"version \d+", page.locator("h1").inner_text())
    assert "sound" in page.get_by_test_id("charter-validation").inner_text()
    assert "individual ranking" in page.locator(".forbidden-list").inner_text()
    retention = page.get_by_role("heading", name="Retention of person-level inputs")
    assert retention.count() == 1
    assert "365 days" in page.locator("main").inner_text()


def test_new_pages_fit_a_phone(site: Site, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    p = context.new_page()
    try:
        sign_in(p, site.url, site.tokens["admin"])
        for path in (f"/teams/{MEMBER_TEAM}", "/org", "/charter", "/audit", "/fairness"):
            p.goto(site.url + path)
            p.wait_for_load_state("networkidle")
            width = p.evaluate("() => document.documentElement.scrollWidth")
            assert width <= 390 + 2, (path, width)
    finally:
        context.close()


@pytest.mark.parametrize(("path", "role"), [("/org", "exec"), ("/charter", "member"),
                                            ("/audit", "admin"), ("/fairness", "exec")])
def test_new_pages_have_json_twins_with_charter_entries(site: Site, path: str, role: str) -> None:
    for url in (path + ".json", path + "?format=json"):
        r = _get(site, url, role)
        assert r.status_code == 200, (url, r.text[:200])
        assert r.headers["content-type"].startswith("application/json")
        body = r.json()
        if path in ("/org", "/fairness"):
            assert body["charter"] and all(e["may_not_inform"] for e in body["charter"].values())
    team = _get(site, f"/teams/{MEMBER_TEAM}.json", "member").json()
    for key in ("flow", "strain", "slo"):
        assert team[key] and key in team["diagnostics"]
    ids = {m for r in team["diagnostics"]["flow"]["rows"] for m in r["metrics"]}
    assert ids <= set(team["charter"])
    assert _get(site, "/org.json", "member").json()["error"]
