"""The dashboard in a real browser: sign-in, charts drawn with data, the investigation page, role
checks, sign-out; and the JSON twins and offline assets over plain HTTP."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.web.conftest import MEMBER_TEAM, Site, sign_in

pytestmark = pytest.mark.browser

PAGES = ["/", f"/teams/{MEMBER_TEAM}", "/metrics", "/metrics/dora.change_fail_rate",
         "/investigations", "/org", "/charter", "/audit", "/fairness", "/prevention"]


def test_member_signs_in_and_lands_on_their_team(site: Site, page: Any) -> None:
    sign_in(page, site.url, site.tokens["member"])
    assert page.url.endswith(f"/teams/{MEMBER_TEAM}")
    cookie = next(c for c in page.context.cookies() if c["name"] == "shipwise_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.get_by_role("heading", level=1).inner_text().startswith("Team ")
    assert "DORA 2024 level" in page.content()


def test_team_page_charts_render_with_data(site: Site, page: Any) -> None:
    sign_in(page, site.url, site.tokens["member"])
    page.wait_for_function("() => window.shipwiseCharts && "
                           "Object.keys(window.shipwiseCharts).length >= 2")
    for chart_id in ("cost-chart", "dora-chart"):
        canvas = page.locator(f"#{chart_id} canvas")
        box = canvas.bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 100
        lengths = page.evaluate(
            "id => window.shipwiseCharts[id].data.slice(1).map(s => s.filter(v => v != null).length)",
            chart_id)
        assert lengths and all(n > 0 for n in lengths), lengths
        assert page.locator(f"#{chart_id}").get_attribute("aria-label")
    # the cost chart overlays the tension metrics on the cost to serve
    series = page.evaluate("() => window.shipwiseCharts['cost-chart'].series.map(s => s.label)")
    assert "Cost to serve" in series and "Change fail rate" in series
    # every number links to its charter entry
    hrefs = page.locator("a.num").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert hrefs and all(h.startswith("/metrics/") for h in hrefs)


def test_investigation_shows_root_cause_and_topology(site: Site, page: Any) -> None:
    # the case's service belongs to no demo team: an admin's (a member sees their team's only)
    sign_in(page, site.url, site.tokens["admin"])
    page.goto(site.url + "/investigations")
    page.get_by_role("link", name=re.compile(r"\d{4}-\d\d-\d\d")).first.click()
    page.wait_for_load_state("networkidle")
    assert site.investigation_id in page.url
    assert page.get_by_test_id("root-cause").inner_text().strip() == site.root_cause
    svg = page.locator("svg.topology")
    assert svg.count() == 1 and (svg.bounding_box() or {}).get("width", 0) > 100
    assert page.locator("svg.topology .root-cause").count() == 1
    assert page.locator("svg.topology .anomalous").count() >= 1
    for part in ("Prepare", "Validate before", "Apply", "Validate after", "Roll back"):
        assert page.get_by_role("heading", name=part, level=3).count() == 1
    assert page.locator("button.copy").count() >= 1
    assert page.locator(".markdown h1, .markdown h2").count() >= 1


def _scanned(site: Site) -> dict[str, Any]:
    """The recommendations after a scan (the server's own waits for
    ``prevention.start_delay_minutes`` after its start)."""
    res = httpx.post(site.url + "/api/v1/prevention/scans", timeout=60,
                     headers={"Authorization": f"Bearer {site.tokens['admin']}"})
    assert res.status_code == 200, res.text
    return dict(_get(site, "/api/v1/prevention").json())


def test_prevention_page_decides_in_place(site: Site, page: Any) -> None:
    listed = _scanned(site)
    assert listed["last_scan"]["trigger"] == "api" and listed["recommendations"]
    first = listed["recommendations"][0]
    key = first["key"]
    sign_in(page, site.url, site.tokens["admin"])
    page.get_by_role("link", name="Prevention").click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("heading", level=1).inner_text() == "Prevention"
    card = page.locator(f'[data-key="{key}"]')
    assert first["title"] in card.inner_text()
    card.get_by_label("Reason").fill("tracked in OPS-1")
    card.get_by_role("button", name="Accept").click()  # HTMX: posts, swaps the new page in
    page.wait_for_function(
        "key => (document.querySelector(`[data-key=\"${key}\"] h3`) || {}).innerText"
        "?.includes('accepted')", arg=key)
    assert "accepted: tracked in OPS-1" in page.locator(f'[data-key="{key}"]').inner_text()
    after = _get(site, f"/api/v1/prevention/{key}").json()
    assert (after["status"], after["reason"]) == ("accepted", "tracked in OPS-1")


def test_investigation_page_takes_a_verdict(site: Site, page: Any) -> None:
    sign_in(page, site.url, site.tokens["admin"])
    page.goto(site.url + f"/investigations/{site.investigation_id}")
    box = page.get_by_test_id("verdict")
    assert "Not marked yet" in box.inner_text() or "Marked" in box.inner_text()
    box.get_by_label("Comment (optional)").fill("the deploy it named")
    box.get_by_role("button", name="Right", exact=True).click()
    page.wait_for_function("() => document.querySelector('[data-testid=verdict]')"
                           ".innerText.includes('Marked right')")
    assert "the deploy it named" in page.get_by_test_id("verdict").inner_text()
    acc = _get(site, "/api/v1/investigations/accuracy").json()
    assert acc["overall"]["right"] >= 1
def test_investigation_chat_panel_answers_and_rescopes(site: Site, page: Any) -> None:
    sign_in(page, site.url, site.tokens["admin"])
    page.goto(f"{site.url}/investigations/{site.investigation_id}")
    steps = page.get_by_test_id("steps")
    assert steps.locator("li.step-fetch").count() >= 3
    assert steps.locator("li.step-root_cause").count() == 1
    box = page.get_by_label("Question")
    box.fill("How many customers were affected?")
    page.get_by_role("button", name="Ask").click()
    first = page.get_by_test_id("answer").first
    first.wait_for()
    assert first.get_attribute("data-intent") == "impact"
    assert "distinct customers" in first.inner_text()
    assert first.locator("code.ref").count() >= 1
    assert box.input_value() == ""  # cleared for the next question, the page not reloaded
    box.fill("what's the weather in Paris?")
    page.get_by_role("button", name="Ask").click()
    page.get_by_test_id("answer").nth(1).wait_for()
    refused = page.get_by_test_id("answer").nth(1)
    assert refused.get_attribute("data-answered") == "no"
    assert "can't answer that from the record" in refused.inner_text()
    box.fill("focus on the last 30 minutes")
    page.get_by_role("button", name="Ask").click()
    page.get_by_test_id("rescoped").wait_for(timeout=60000)
    link = page.get_by_test_id("rescoped").get_by_role("link")
    child = link.inner_text().strip()
    assert child.startswith(site.investigation_id + "-s")
    link.click()
    page.wait_for_load_state("networkidle")
    assert page.url.endswith("/investigations/" + child)
    assert "Re-scoped from" in page.get_by_test_id("ask").inner_text()


def test_member_cannot_open_another_team_or_the_cfo_view(site: Site, page: Any) -> None:
    sign_in(page, site.url, site.tokens["member"])
    for path in ("/teams/payments", "/org/cost"):
        response = page.goto(site.url + path)
        assert response is not None and response.status == 403
        assert page.get_by_role("heading", name="This page is not open to you").count() == 1
        assert "Cost to serve" not in page.locator("main").inner_text().split("\n")[0]


def test_exec_opens_the_cfo_view_but_not_team_diagnostics(site: Site, page: Any) -> None:
    sign_in(page, site.url, site.tokens["exec"])
    assert page.url.endswith("/org/cost")
    page.wait_for_function("() => window.shipwiseCharts && window.shipwiseCharts['org-cost-chart']")
    n = page.evaluate("() => window.shipwiseCharts['org-cost-chart'].data[1].length")
    assert n > 0
    assert page.locator("table tbody tr").count() > 1
    response = page.goto(site.url + f"/teams/{MEMBER_TEAM}")
    assert response is not None and response.status == 403


def test_sign_out_ends_the_session(site: Site, page: Any) -> None:
    sign_in(page, site.url, site.tokens["lead"])
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/signin"))
    page.goto(site.url + f"/teams/{MEMBER_TEAM}")
    assert "/signin" in page.url
    assert not [c for c in page.context.cookies() if c["name"] == "shipwise_session"]


def test_a_cookie_kept_after_sign_out_no_longer_works(site: Site, page: Any) -> None:
    sign_in(page, site.url, site.tokens["lead"])
    kept = next(c["value"] for c in page.context.cookies() if c["name"] == "shipwise_session")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/signin"))
    # the copy someone kept (another tab, a stolen cookie) is put back into the browser
    page.context.add_cookies([{"name": "shipwise_session", "value": kept, "url": site.url,
                               "httpOnly": True, "sameSite": "Strict"}])
    page.goto(site.url + f"/teams/{MEMBER_TEAM}")
    assert "/signin" in page.url
    with httpx.Client(cookies={"shipwise_session": kept}, timeout=10) as client:
        assert client.get(site.url + f"/teams/{MEMBER_TEAM}.json").status_code == 401


def test_bad_token_and_forged_form_are_refused(site: Site, page: Any) -> None:
    sign_in(page, site.url, "sw_000000000000_not-a-real-token-value")
    assert "/signin" in page.url and page.get_by_role("alert").count() == 1
    # a cross-site form post has neither the CSRF cookie nor the field
    r = httpx.post(site.url + "/signin", data={"token": site.tokens["member"]},
                   follow_redirects=False)
    assert r.status_code == 403 and "shipwise_session" not in r.headers.get("set-cookie", "")


def test_phone_layout_has_no_horizontal_scroll(site: Site, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    p = context.new_page()
    try:
        sign_in(p, site.url, site.tokens["member"])
        p.wait_for_function("() => window.shipwiseCharts && window.shipwiseCharts['cost-chart']")
        assert p.evaluate("() => document.documentElement.scrollWidth") <= 390 + 2
    finally:
        context.close()


def _get(site: Site, path: str, role: str = "admin") -> httpx.Response:
    return httpx.get(site.url + path, headers={"Authorization": f"Bearer {site.tokens[role]}"},
                     timeout=30)


@pytest.mark.parametrize("path", [*PAGES, "/org/cost", "/investigations/{inv}"])
def test_every_page_has_a_json_twin(site: Site, path: str) -> None:
    path = path.replace("{inv}", site.investigation_id)
    twin = "/index.json" if path == "/" else path + ".json"
    for url in (twin, path + "?format=json"):
        r = _get(site, url)
        assert r.status_code == 200, (url, r.text[:200])
        assert r.headers["content-type"].startswith("application/json")
        assert isinstance(r.json(), dict)


def test_json_twin_refusals_are_json(site: Site) -> None:
    r = _get(site, "/teams/payments.json", "member")
    assert r.status_code == 403 and "error" in r.json()
    r = httpx.get(site.url + "/index.json")
    assert r.status_code == 401 and "error" in r.json()


def test_pages_load_nothing_from_other_sites(site: Site) -> None:
    for path in [*PAGES, "/signin"]:
        html = _get(site, path).text
        refs = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
        assert refs and not [u for u in refs if re.match(r"(https?:)?//", u)], (path, refs)
        for ref in refs:
            assert _get(site, ref).status_code == 200, ref


def test_no_page_names_an_individual(site: Site) -> None:
    import json

    def figures(path: str) -> str:  # the data, without the charter's prose beside it
        data = _get(site, path).json()
        data.pop("charter", None)
        return json.dumps(data)

    body = figures(f"/teams/{MEMBER_TEAM}.json") + figures("/org/cost.json") + figures("/org.json")
    assert "author" not in body and "email" not in body
