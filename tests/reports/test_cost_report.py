"""The CFO cost-to-serve report: content, neutrality (no ranking), self-containment, and its PDF."""

from __future__ import annotations

import copy
import random
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from shipwise.errors import InputError, ShipwiseError
from shipwise.reports import cost_report, pdf, render_html, write_report
from shipwise.reports.charts import nice_ticks

GENERATED_AT = "2026-10-05 09:00 UTC"

# (team, org unit, unit of delivery, CTS a year before the first period, quarterly drift).
# Alphabetical order and performance order deliberately disagree: the steepest improver sorts
# last and the team that got dearer sorts first.
TEAMS = [
    ("accounts", "commerce", "deployments", 6100.0, +0.015),
    ("checkout", "commerce", "deployments", 7400.0, -0.06),
    ("payments", "commerce", "deployments", 9800.0, -0.09),
    ("catalogue", "discovery", "pull_requests", 2100.0, -0.02),
    ("search", "discovery", "deployments", 5200.0, -0.05),
    ("build-tools", "platform", "commits", 380.0, -0.01),
    ("identity", "platform", "deployments", 4300.0, -0.04),
    ("observability", "platform", "deployments", 3900.0, 0.0),
    ("zeta-storage", "platform", "deployments", 12500.0, -0.12),
]
PERIODS = [f"{y}-Q{q}" for y in (2024, 2025, 2026) for q in (1, 2, 3, 4)][:11]  # to 2026-Q3
LATEST = PERIODS[-1]

DEFINITIONS = [
    {"id": "cost.cost_to_serve", "title": "Cost to serve", "unit": "currency per unit",
     "definition": "What a team spent in a period (people, infrastructure, tooling, other) "
                   "divided by the units of software it delivered in that period."},
    {"id": "cost.improvement_yoy", "title": "Improvement vs a year earlier", "unit": "ratio",
     "definition": "1 − cost to serve now ÷ cost to serve in the same period a year earlier. "
                   "Positive means cheaper."},
    {"id": "cost.savings", "title": "Savings", "unit": "currency",
     "definition": "Units delivered × (cost to serve a year earlier − cost to serve now)."},
    {"id": "cost.effective_headcount", "title": "Effective headcount given back", "unit": "FTE",
     "definition": "Savings divided by the average cost of one full-time person in the period."},
    {"id": "dora.change_fail_rate", "title": "Change fail rate", "unit": "ratio",
     "definition": "Share of production deployments that caused a failure needing remediation."},
    {"id": "cost.high_severity_tickets_per_deployment",
     "title": "Human-actioned high-severity tickets per deployment",
     "unit": "tickets/deployment",
     "definition": "Sev1 and sev2 incidents a person had to act on, per deployment."},
    {"id": "cost.incident_tickets_per_deployment", "title": "Incident tickets per deployment",
     "unit": "tickets/deployment", "definition": "All incident tickets per deployment."},
    {"id": "cost.human_interventions_per_deployment",
     "title": "Human interventions per deployment", "unit": "interventions/deployment",
     "definition": "Manual steps a person took to get a deployment out."},
    {"id": "cost.deployments_per_builder_week", "title": "Deployments per builder-week",
     "unit": "deployments/FTE-week",
     "definition": "Deployments per full-time engineer per week: a guard against burnout."},
]

INITIATIVES = {"initiatives": [
    {"id": "inv-cicd", "name": "Delivery automation (CI/CD)", "amount": 900000.0,
     "currency": "USD", "teams": ["payments", "checkout", "search", "identity"],
     "effect": -0.35, "low": -0.45, "high": -0.22, "attributed_savings": 2.4e6,
     "savings_low": 1.5e6, "savings_high": 3.1e6, "roi": 1.67, "roi_low": 0.7, "roi_high": 2.4,
     "treated_teams": 4, "control_teams": 10, "warnings": []},
    {"id": "inv-platform", "name": "Shared platform team", "amount": 1250000.0,
     "currency": "USD", "teams": ["zeta-storage", "observability"],
     "effect": -0.08, "low": -0.21, "high": 0.04, "attributed_savings": 410000.0,
     "savings_low": -120000.0, "savings_high": 980000.0, "roi": -0.67, "roi_low": -1.1,
     "roi_high": -0.22, "treated_teams": 2, "control_teams": 3,
     "warnings": ["Comparison teams differ in size from the treated teams."]},
]}


def make_cost() -> dict[str, Any]:
    """Realistic output of the cost service: 9 teams, 11 quarters, yoy baseline, in USD."""
    rnd = random.Random(7)
    rows: list[dict[str, Any]] = []
    cts_by: dict[tuple[str, str], float] = {}
    for team, unit_org, unit, start, drift in TEAMS:
        cts = start
        for k, period in enumerate(PERIODS):
            cts = cts * (1 + drift + rnd.uniform(-0.03, 0.03))
            cts_by[team, period] = cts
            units = {"deployments": 140, "pull_requests": 420, "commits": 2600}[unit]
            units = int(units * (1 + 0.04 * k) * rnd.uniform(0.9, 1.1))
            year_ago = cts_by.get((team, PERIODS[k - 4])) if k >= 4 else None
            prev = cts_by.get((team, PERIODS[k - 1])) if k >= 1 else None
            savings = units * (year_ago - cts) if year_ago else None
            metrics = {
                "cost.cost_to_serve": round(cts, 2),
                "cost.improvement_qoq": 1 - cts / prev if prev else None,
                "cost.improvement_yoy": 1 - cts / year_ago if year_ago else None,
                "cost.savings": savings,
                "cost.effective_headcount": savings / 52000.0 if savings is not None else None,
                "cost.high_severity_tickets_per_deployment": round(rnd.uniform(0.0, 0.03), 3),
                "dora.change_fail_rate": round(rnd.uniform(0.02, 0.08), 3),
                "cost.deployments_per_builder_week": round(rnd.uniform(0.4, 1.2), 2),
                "cost.human_interventions_per_deployment": round(rnd.uniform(0.05, 0.3), 2),
                "cost.incident_tickets_per_deployment": round(rnd.uniform(0.02, 0.1), 3),
            }
            rows.append({"team": team, "org_unit": unit_org, "period": period, "unit": unit,
                         "cost_amount": round(cts * units, 2), "units": units,
                         "metrics": metrics, "flags": []})
    payments = next(r for r in rows if r["team"] == "payments" and r["period"] == LATEST)
    payments["metrics"]["dora.change_fail_rate"] = 0.12
    payments["flags"].append({
        "kind": "tension", "metric": "dora.change_fail_rate",
        "message": "cost to serve improved 41% (yoy) while change fail rate rose from 3.0% "
                   "to 12.0%"})
    zeta = next(r for r in rows if r["team"] == "zeta-storage" and r["period"] == PERIODS[-2])
    zeta["flags"].append({
        "kind": "tension", "metric": "cost.high_severity_tickets_per_deployment",
        "message": "cost to serve improved 38% (yoy) while human-actioned high-severity tickets "
                   "per deployment rose from 0.010 to 0.031"})
    organisation = []
    for k, period in enumerate(PERIODS[4:], start=4):
        organisation.append({"period": period, "metrics": {
            "cost.improvement_yoy": 0.04 + 0.022 * (k - 4),
            "cost.improvement_median_team": 0.01 + 0.012 * (k - 4),
            "cost.savings": 350000.0 + 250000.0 * (k - 4),
            "cost.effective_headcount": 1.6 + 1.3 * (k - 4),
            "cost.cohort_teams": 9}})
    organisation[-1]["metrics"].update({"cost.improvement_yoy": 0.15, "cost.savings": 2.1e6,
                                       "cost.effective_headcount": 9.4})
    rnd.shuffle(rows)  # the renderer must not depend on the service's row order
    return {"grain": "quarter", "baseline": "yoy", "currency": "USD", "since": "2024-01-01",
            "until": "2026-09-30", "rows": rows, "organisation": organisation}


class _Text(HTMLParser):
    """Text a reader sees (and SVG tooltips), without the style sheet."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    p = _Text()
    p.feed(html)
    return re.sub(r"\s+", " ", " ".join(p.parts))


@pytest.fixture(scope="module")
def cost() -> dict[str, Any]:
    return make_cost()


@pytest.fixture(scope="module")
def html(cost: dict[str, Any]) -> str:
    return render_html(cost, INITIATIVES, DEFINITIONS, generated_at=GENERATED_AT)


def test_headline_figures(html: str) -> None:
    head = html[html.index('id="headline"'):html.index('id="trend"')]
    text = visible_text(head)
    assert "15%" in text and "lower cost to serve in 2026-Q3" in text
    assert "a year earlier (2025-Q3)" in text
    assert "$2,100,000" in text
    assert "9.4" in text and "capacity given back" in text
    assert "Measured across the 9 teams" in text
    # One plain sentence explains all three figures together.
    assert re.search(r"each unit of software .* cost 15% less than a year earlier \(2025-Q3\): "
                     r"delivering the same work .* \$2,100,000 more, .* about 9\.4 full-time",
                     text)


def test_headline_when_cost_rose(cost: dict[str, Any]) -> None:
    worse = copy.deepcopy(cost)
    worse["organisation"][-1]["metrics"].update({
        "cost.improvement_yoy": -0.06, "cost.savings": -450000.0,
        "cost.effective_headcount": -2.0, "cost.improvement_median_team": -0.02})
    out = render_html(worse, INITIATIVES, DEFINITIONS, generated_at=GENERATED_AT)
    text = visible_text(out[out.index('id="headline"'):out.index('id="trend"')])
    assert "higher cost to serve in 2026-Q3" in text
    assert "cost 6% more than a year earlier (2025-Q3)" in text
    assert "$450,000 less" in text and "extra cost in 2026-Q3" in text
    assert "2% higher than a year earlier" in text
    assert "−$" not in text  # a loss is said in words, not as a negative saving


def test_trend_chart_and_table(html: str, cost: dict[str, Any]) -> None:
    assert '<svg class="chart" id="chart-org-trend"' in html
    trend = html[html.index('id="trend"'):html.index('id="initiatives"')]
    for o in cost["organisation"]:
        assert o["period"] in trend
    assert "Improvement in cost to serve compared with a year earlier, by quarter" in trend
    assert "<title" in trend and "<desc" in trend  # accessible name and description


def test_initiatives_with_intervals_and_warnings(html: str) -> None:
    section = html[html.index('id="initiatives"'):html.index('id="teams"')]
    text = visible_text(section)
    assert '<svg class="chart" id="chart-initiatives"' in section
    assert "Delivery automation (CI/CD)" in text and "Shared platform team" in text
    assert "range −45% to −22%" in text
    assert "range $1,500,000 to $3,100,000" in text
    assert "range +70% to +240%" in text and "+167%" in text
    assert "$900,000" in text
    # Warnings, prominent: the interval spans zero, ROI may be negative, controls are few, and
    # the service's own warning.
    assert "includes no change at all" in text
    assert "Only 3 comparison teams" in text
    assert "The savings do not cover the amount invested" in text
    assert "Comparison teams differ in size from the treated teams." in text
    platform = section[section.index("Shared platform team</h3>"):]
    assert 'class="warn"' in platform.split("</article>")[0]
    cicd = section[section.index("Delivery automation (CI/CD)</h3>"):].split("</article>")[0]
    assert 'class="warn"' not in cicd


def test_every_team_with_its_flags(html: str) -> None:
    section = html[html.index('id="teams"'):html.index('id="tension"')]
    for team, *_ in TEAMS:
        assert f"<h3>{team}" in section
    assert "change fail rate rose from 3.0% to 12.0%" in section
    assert "per deployment rose from 0.010 to 0.031" in section
    payments = section[section.index("<h3>payments"):].split("</article>")[0]
    assert "⚠ Tension" in payments and "2026-Q3" in payments
    assert "per pull request" in section and "per commit" in section


def _order(section: str, names: list[str], marker: str) -> list[int]:
    return [section.index(marker.format(n)) for n in names]


def test_teams_in_org_unit_then_alphabetical_order(html: str) -> None:
    expected = [t for _, t in sorted((u, t) for t, u, *_ in TEAMS)]
    teams = html[html.index('id="teams"'):html.index('id="tension"')]
    positions = _order(teams, expected, "<h3>{}")
    assert positions == sorted(positions)
    tension = html[html.index('id="tension"'):html.index('id="definitions"')]
    positions = _order(tension, expected, '<tr><td class="nw">{}</td>')
    assert positions == sorted(positions)


def test_order_ignores_the_numbers(cost: dict[str, Any]) -> None:
    """Swap every team's numbers for another's: the order of teams must not move."""
    swapped = copy.deepcopy(cost)
    by_team: dict[str, list[dict[str, Any]]] = {}
    for r in swapped["rows"]:
        by_team.setdefault(r["team"], []).append(r)
    names = sorted(by_team)
    rotated = names[3:] + names[:3]
    new_rows = []
    for src, dst in zip(names, rotated, strict=True):
        dst_unit = next(r["org_unit"] for r in by_team[dst])
        for r in by_team[src]:
            new_rows.append({**r, "team": dst, "org_unit": dst_unit})
    swapped["rows"] = new_rows
    a = render_html(cost, INITIATIVES, DEFINITIONS, generated_at=GENERATED_AT)
    b = render_html(swapped, INITIATIVES, DEFINITIONS, generated_at=GENERATED_AT)
    teams_a = re.findall(r'<article class="card[^"]*" aria-label="([^"]+)"', a)
    teams_b = re.findall(r'<article class="card[^"]*" aria-label="([^"]+)"', b)
    assert teams_a == teams_b and len(teams_a) == len(TEAMS)


def test_tension_table_beside_cost(html: str) -> None:
    section = html[html.index('id="tension"'):html.index('id="definitions"')]
    text = visible_text(section)
    header = section[section.index("<thead>"):section.index("</thead>")]
    cols = re.findall(r"<th(?:\s[^>]*)?>(.*?)</th>", header)
    assert cols[:4] == ["Team", "Org unit", "Cost to serve", "vs a year earlier"]
    assert cols[4:] == ["Change fail rate", "Human-actioned high-severity tickets per deployment",
                        "Incident tickets per deployment", "Human interventions per deployment",
                        "Deployments per builder-week"]
    row = section[section.index('<tr><td class="nw">payments</td>'):].split("</tr>")[0]
    assert '<td class="flag" title="tension flag">⚠ 12.0%</td>' in row
    assert "For 2026-Q3" in text


def test_definitions(html: str) -> None:
    section = visible_text(html[html.index('id="definitions"'):])
    for d in DEFINITIONS:
        assert d["title"] in section
        assert d["definition"] in section


def test_self_contained(html: str) -> None:
    lower = html.lower()
    for bad in ("http://", "https://", "<script", "<link", "@import", "url(", "<img", "<iframe"):
        assert bad not in lower, bad
    assert "<style>" in html and "@page" in html and "size: A4" in html


def test_no_ranking_language(html: str) -> None:
    text = visible_text(html).lower()
    found = re.findall(r"\b(rank\w*|top|bottom|best|worst|leader\w*|laggard\w*)\b", text)
    assert found == []


def test_numbers_are_formatted() -> None:
    assert cost_report.fmt_money(2.1e6, "USD") == "$2,100,000"
    assert cost_report.fmt_money(5802.5, "USD") == "$5,803"
    assert cost_report.fmt_money(58.25, "EUR") == "€58.25"
    assert cost_report.fmt_money(-120000, "USD") == "−$120,000"
    assert cost_report.fmt_money(1234, "CHF") == "1,234 CHF"
    assert cost_report.fmt_pct(0.15) == "15%"
    assert cost_report.fmt_pct(0.036) == "3.6%"
    assert cost_report.fmt_pct(-0.35, signed=True) == "−35%"
    assert cost_report.fmt_pct(1.67, signed=True) == "+167%"
    assert cost_report.fmt_pct(None) == "—"
    assert cost_report.fmt_num(float("nan")) == "—"
    assert nice_ticks(-0.05, 0.15) == [-0.05, 0.0, 0.05, 0.1, 0.15]


def test_escapes_untrusted_text(cost: dict[str, Any]) -> None:
    evil = copy.deepcopy(cost)
    evil["rows"][0]["team"] = "<script>alert(1)</script>"
    inits = {"initiatives": [{**INITIATIVES["initiatives"][0], "name": "<b>x</b> & co"}]}
    out = render_html(evil, inits, DEFINITIONS, generated_at=GENERATED_AT)
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "&lt;b&gt;x&lt;/b&gt; &amp; co" in out


def test_sparse_and_empty_inputs() -> None:
    """No organisation figures yet, a team with no units, no initiatives: still a clear report."""
    cost = {"grain": "month", "baseline": "qoq", "currency": "EUR",
            "rows": [{"team": "solo", "period": "2026-01", "unit": "deployments",
                      "cost_amount": 0.0, "units": 0,
                      "metrics": {"cost.cost_to_serve": None, "cost.improvement_qoq": None},
                      "flags": [{"kind": "undefined", "metric": "cost.cost_to_serve",
                                 "message": "no units delivered in the period: cost to serve "
                                            "is undefined"}]}],
            "organisation": []}
    out = render_html(cost, {"initiatives": []}, [], generated_at=GENERATED_AT)
    text = visible_text(out)
    assert "no organisation figures yet" in text.lower()
    assert "No initiatives are recorded" in text
    assert "no units delivered in the period" in text
    assert "solo" in text


def test_rejects_wrong_shape_and_extension(tmp_path: Path, cost: dict[str, Any]) -> None:
    with pytest.raises(InputError):
        render_html({"rows": "nope"}, INITIATIVES, DEFINITIONS, generated_at=GENERATED_AT)
    with pytest.raises(InputError) as err:
        write_report(tmp_path / "report.docx", cost, INITIATIVES, DEFINITIONS,
                     generated_at=GENERATED_AT)
    assert err.value.hint and ".pdf" in err.value.hint


def test_write_html(tmp_path: Path, cost: dict[str, Any]) -> None:
    out = write_report(tmp_path / "out" / "cost.html", cost, INITIATIVES, DEFINITIONS,
                       generated_at=GENERATED_AT)
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_missing_pdf_engine_says_what_to_install(tmp_path: Path, cost: dict[str, Any],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdf, "find_chromium", lambda: None)
    with pytest.raises(ShipwiseError) as err:
        write_report(tmp_path / "cost.pdf", cost, INITIATIVES, DEFINITIONS,
                     generated_at=GENERATED_AT)
    assert "no PDF engine" in str(err.value)
    assert err.value.hint and "apt-get install -y chromium" in err.value.hint
    assert not (tmp_path / "cost.pdf").exists()


# --------------------------------------------------------------------------- PDF


def read_pgm(path: Path) -> tuple[int, int, bytes]:
    """A binary greyscale PGM (P5) as written by ``pdftoppm -gray``: width, height, pixels."""
    data = path.read_bytes()
    fields: list[bytes] = []
    pos = 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    assert fields[0] == b"P5" and int(fields[3]) < 256
    width, height = int(fields[1]), int(fields[2])
    pixels = data[pos + 1:pos + 1 + width * height]
    assert len(pixels) == width * height
    return width, height, pixels


def ink(pixels: bytes) -> float:
    """Fraction of pixels that are not (near-)white."""
    return sum(1 for p in pixels if p < 235) / max(len(pixels), 1)


@pytest.mark.slow
def test_pdf_renders_pages_that_are_not_blank(tmp_path: Path, cost: dict[str, Any]) -> None:
    # Needs Debian's chromium and poppler-utils: scripts/test.sh installs both.
    pdf = write_report(tmp_path / "cost.pdf", cost, INITIATIVES, DEFINITIONS,
                       generated_at=GENERATED_AT)
    assert pdf.read_bytes()[:5] == b"%PDF-"
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    assert re.search(r"Page size:.*\(A4\)", info.stdout), info.stdout
    subprocess.run(["pdftoppm", "-gray", "-r", "50", str(pdf), str(tmp_path / "page")],
                   check=True, capture_output=True, timeout=120)
    pages = sorted(tmp_path.glob("page-*.pgm"))
    assert len(pages) >= 2
    fractions = []
    for page in pages:
        width, height, pixels = read_pgm(page)
        assert width > 300 and height > 400  # A4 portrait at 50 dpi is 413 × 585
        assert height > width
        fractions.append(ink(pixels))
    assert fractions[0] > 0.03, fractions  # headline tiles, sentence and trend chart
    assert all(f > 0.005 for f in fractions), fractions
    # The text layer carries the headline figures (the PDF is not a picture of text).
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "$2,100,000" in text and "Delivery automation (CI/CD)" in text
