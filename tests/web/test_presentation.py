"""How the pages read, in a real browser (issue 18 §4): the team page opens with a summary and
folds its long tables, every tile carries its unit, a refusal says in plain words who may see the
page and why, the org page names its units and marks the parent as their total, charts read in
the tiles' units with legends that name their values, the fairness page leads with plain
findings, and an investigation reads anomalies as values before and during."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.web.conftest import MEMBER_TEAM, Site, sign_in

pytestmark = pytest.mark.browser

#: a tile value is a number with its unit, a duration, a percentage, money or a state — never a
#: bare "16.82"
BARE_NUMBER = re.compile(r"^[−+-]?[\d.,]+$")


def _get(site: Site, path: str, role: str = "admin") -> httpx.Response:
    return httpx.get(site.url + path, headers={"Authorization": f"Bearer {site.tokens[role]}"},
                     timeout=60)


def test_team_page_opens_with_its_summary(site: Site, page: Any) -> None:
    data = _get(site, f"/teams/{MEMBER_TEAM}.json", "member").json()
    summary = data["summary"]
    assert summary["period"] == data["period"] and summary["previous"]
    sign_in(page, site.url, site.tokens["member"])
    box = page.get_by_test_id("team-summary")
    assert box.count() == 1
    text = box.inner_text()
    assert f"{summary['period']} compared with {summary['previous']}" in text
    assert "Needs attention" in text and "Got better" in text
    # first on the page: above the DORA tiles and every section
    top = box.bounding_box()
    tiles = page.locator("#main .tiles").first.bounding_box()
    flow = page.locator("#flow-h").bounding_box()
    assert top is not None and tiles is not None and flow is not None
    assert top["y"] < tiles["y"] < flow["y"]
    # what it says is what the page's own figures say
    for item in summary["attention"]:
        assert item["text"] in text
        assert page.locator(f"#main {item['href']}").count() == 1  # each links to its section
    for c in summary["better"]:
        assert c["text"] in text and c["tone"] == "good"
    worse = [a for a in summary["attention"] if a.get("metric")]
    for a in worse:  # a change "worse" is one the registry says is bad in that direction
        rows = (data["dora"]["rows"] if a["metric"].startswith("dora.")
                else data["diagnostics"][a["metric"].split(".")[0]]["rows"])
        before, after = rows[-2]["metrics"][a["metric"]], rows[-1]["metrics"][a["metric"]]
        assert (after > before) == ("rose" in a["text"])
    # sections below: listed under the summary, the per-period tables folded until asked for
    toc = page.get_by_role("navigation", name="On this page")
    for anchor in ("#dora-h", "#slo-h", "#flow-h", "#strain-h", "#inputs-h"):
        assert toc.locator(f"a[href='{anchor}']").count() == 1
    table = page.locator("#flow details.more table")
    assert table.count() == 1 and not table.is_visible()
    page.locator("#flow details.more summary").click()
    assert table.is_visible()


def test_tiles_carry_their_units(site: Site, page: Any) -> None:
    sign_in(page, site.url, site.tokens["member"])
    values = page.locator("#main .tile .value").all_inner_texts()
    assert len(values) >= 15
    bare = [v for v in values if BARE_NUMBER.match(v.strip())]
    assert not bare, bare
    labels = page.locator("#main .tile .label").all_inner_texts()  # each ends in its (i) link
    tiles = {label.strip().removesuffix("i").strip(): v.strip()
             for label, v in zip(labels, values, strict=True)}
    assert re.fullmatch(r"[\d.,]+ per week", tiles["Deployment frequency"])
    assert re.fullmatch(r"[\d.,]+ open PRs", tiles["Work in progress"])
    assert re.fullmatch(r"\d+ pages", tiles["After-hours pages"])
    assert re.fullmatch(r"[\d.,]+ h", tiles["On-call hours out of hours"]), tiles
    # the table headings name the unit their cells leave out
    heads = page.locator("#strain thead").text_content() or ""  # folded: not rendered
    assert "(pages)" in heads and "(h)" in heads
    # the CFO's headcount reads in FTE, one decimal
    r = _get(site, "/org/cost", "exec")
    assert re.search(r"Effective headcount given back</span><span class=\"value\"><a[^>]*>"
                     r"−?[\d,]+\.\d FTE</a>", r.text), "effective headcount tile without FTE"


def test_a_refusal_reads_in_plain_words(site: Site, page: Any) -> None:
    sign_in(page, site.url, site.tokens["exec"])
    response = page.goto(site.url + f"/teams/{MEMBER_TEAM}")
    assert response is not None and response.status == 403
    detail = page.get_by_test_id("refusal-detail").inner_text()
    # who may see it, who you are, and why — the charter's reason — in words
    assert f"members and leads of team {MEMBER_TEAM}, and administrators" in detail
    assert "You are signed in as an executive" in detail
    assert "Why:" in detail and "charter" in detail and "comparison between teams" in detail
    visible = page.locator("main").inner_text()
    assert "may not team diagnostic" not in visible and "This role may" not in visible
    # what to do instead: the pages an exec may open
    instead = page.get_by_test_id("instead")
    hrefs = instead.locator("a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert "/org/cost" in hrefs and "/org" in hrefs and f"/teams/{MEMBER_TEAM}" not in hrefs
    instead.get_by_role("link", name="the organisation's cost to serve").click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/org/cost")
    # a member refused another team is pointed at their own team
    sign_in(page, site.url, site.tokens["member"])
    response = page.goto(site.url + "/teams/payments")
    assert response is not None and response.status == 403
    assert "a member of team catalog" in page.get_by_test_id("refusal-detail").inner_text()
    assert page.get_by_test_id("instead").locator(f"a[href='/teams/{MEMBER_TEAM}']").count() == 1


def test_api_refusal_keeps_its_machine_fields_and_adds_a_plain_detail(site: Site) -> None:
    body = _get(site, f"/api/v1/teams/{MEMBER_TEAM}/dora", "exec").json()
    assert body["error"] == "role exec may not team diagnostic"
    assert body["hint"] == "roles allowed: member, lead, admin"
    assert body["action"] == "team.diagnostic" and body["role"] == "exec"
    assert body["allowed_roles"] == ["member", "lead", "admin"]
    assert body["detail"].startswith("Who can see a team's page")
    assert "Why: the charter" in body["detail"]
    twin = _get(site, "/org/cost.json", "member")
    assert twin.status_code == 403 and "executives and administrators" in twin.json()["detail"]


def test_org_page_names_units_and_marks_the_parent_as_their_total(site: Site,
                                                                   page: Any) -> None:
    data = _get(site, "/org.json", "exec").json()
    units = data["org_units"]
    totals = [u for u, n in units.items() if n["total"]]
    assert totals, "the demo organisation has a parent unit"
    sign_in(page, site.url, site.tokens["exec"])
    page.goto(site.url + "/org")
    rows = page.locator("#strain-h ~ div table tbody tr")
    heads = [t.split("\n")[0].strip() for t in rows.locator("th").all_inner_texts()]
    names = {n["label"] for n in units.values()}
    assert heads and all(h.replace(" all units under it", "") in names for h in heads), heads
    assert not set(heads) & set(units), "a raw unit id as a row label"
    last = rows.last
    assert "(total)" in last.inner_text() and "total" in (last.get_attribute("class") or "")
    page.wait_for_function("() => window.shipwiseCharts && window.shipwiseCharts['org-cycle-chart']")
    labels = page.evaluate("() => window.shipwiseCharts['org-cycle-chart'].series.slice(1)"
                           ".map(s => s.label)")
    assert labels[-1] == units[totals[0]]["label"] and labels[-1].endswith("(total)")
    dash = page.evaluate("() => window.shipwiseCharts['org-cycle-chart'].series.slice(-1)[0].dash")
    assert dash, "the total is drawn dashed, apart from the units under it"


def test_charts_read_in_the_tiles_units_and_legends_name_their_values(site: Site,
                                                                     page: Any) -> None:
    sign_in(page, site.url, site.tokens["member"])
    page.wait_for_function("() => window.shipwiseCharts && window.shipwiseCharts['cost-chart']")
    # static view (no pointer on a chart): no legend reads a dash
    legend = page.locator(".u-legend .u-value").all_inner_texts()
    assert legend and "—" not in [v.strip() for v in legend]
    period = page.locator("#cost-chart .u-legend .u-value").first.inner_text()
    assert re.fullmatch(r"\d{4}-Q\d", period.strip())
    # the change fail rate on the cost chart reads as the tile's percentage (per 100 deployments)
    spec = page.evaluate("() => JSON.parse(document.getElementById('cost-chart-data').textContent)")
    assert spec["right_format"] == "per100" and "per 100 deployments" in spec["right"]
    # the cycle-time phases are drawn in the unit of the table beside them
    phases = page.evaluate(
        "() => JSON.parse(document.getElementById('flow-phases-chart-data').textContent)")
    cell = page.locator("#flow details.more tbody tr").first.locator("td").nth(1)
    assert (cell.text_content() or "").strip().endswith(" " + phases["left_unit"])  # folded
    sign_in(page, site.url, site.tokens["exec"])
    spec = page.evaluate(
        "() => JSON.parse(document.getElementById('org-cost-chart-data').textContent)")
    assert spec["right_format"] == "pct" and "%" in spec["right"]


def test_investigation_reads_values_before_and_during(site: Site, page: Any) -> None:
    sign_in(page, site.url, site.tokens["admin"])  # the case's service is no demo team's
    page.goto(site.url + f"/investigations/{site.investigation_id}")
    obs = page.locator("#obs-h ~ ul").inner_text()
    assert re.search(r"error rate rose from [\d.]+% to [\d.]+%", obs), obs
    assert not re.search(r"rose [\d.]+ robust-σ", obs)
    sigma = page.locator("#obs-h ~ ul .sigma").first
    assert "robust-σ" in (sigma.get_attribute("title") or "")
