"""The CFO report's AI section says what adoption did in plain words, with ranges, caveats and
the tension check, and says so when there is no usage to measure."""

from __future__ import annotations

import math
from typing import Any

from shipwise.metrics import ids
from shipwise.reports.ai_section import ai_section
from shipwise.reports.cost_report import render_html


def _level(level: str, cts: float, iv: list[float], warnings: list[str]) -> dict[str, Any]:
    return {"level": level, "adopted_teams": 4, "first_adopted": "2025-06", "control_teams": 8,
            "metrics": {ids.AI_EFFECT_COST_TO_SERVE: cts, ids.AI_EFFECT_LEAD_TIME: None,
                        ids.AI_EFFECT_CHANGE_FAIL_RATE: 0.03, ids.AI_RETURN_ON_SPEND: 2.5},
            "intervals": {ids.AI_EFFECT_COST_TO_SERVE: iv, ids.AI_EFFECT_LEAD_TIME: None,
                          ids.AI_EFFECT_CHANGE_FAIL_RATE: [0.01, 0.05],
                          ids.AI_RETURN_ON_SPEND: [1.0, 4.0]},
            "spend_amount": 12000.0, "attributed_savings": 42000.0,
            "warnings": {ids.AI_EFFECT_COST_TO_SERVE: warnings}}


EFFECT = {
    "levels": [_level("heavy", math.log(0.9), [math.log(0.8), math.log(0.97)], []),
               _level("light", math.log(0.97), [math.log(0.9), math.log(1.05)],
                      ["the interval spans zero: the effect may be nothing"])],
    "tensions": [{"level": "heavy", "severity": "concern",
                  "message": "teams reaching heavy adoption became cheaper per unit, but their "
                             "change fail rate rose by +3.0 points: they are breaking more"}],
    "warnings": [],
}
AGENTS = [{"team": "*", "kind": "agent", "metrics": {
              ids.AI_UNIT_SHARE: 0.2, ids.AI_CHANGE_FAIL_RATE: 0.12,
              ids.AI_INTERVENTIONS_PER_DEPLOYMENT: 1.5}},
          {"team": "*", "kind": "human", "metrics": {
              ids.AI_UNIT_SHARE: 0.8, ids.AI_CHANGE_FAIL_RATE: 0.05,
              ids.AI_INTERVENTIONS_PER_DEPLOYMENT: 0.5}}]


def test_effects_in_plain_words_with_ranges_caveats_and_the_tension() -> None:
    html = ai_section(EFFECT, AGENTS, "EUR")
    assert "Teams reaching heavy adoption (4 teams, the first from 2025-06) lowered cost to " \
           "serve by about 10%" in html
    assert "(plausible range −20% to −3%)" in html
    assert "may have lowered cost to serve by about 3%" in html  # the range crosses zero
    assert "the interval spans zero" in html and "Read with care" in html
    assert "moved the change fail rate by +3.0 points (plausible range +1.0 to +5.0 points)" in html
    assert "breaking more" in html
    assert "net return of +250%" in html
    assert "change fail rate was 12% against 5% for human-authored changes" in html


def test_no_usage_says_what_to_import() -> None:
    html = ai_section({"levels": []}, [], "EUR")
    assert "No AI usage is recorded" in html and "ai_usage" in html
    assert "Agent-authored" not in html


def test_the_report_carries_the_section_only_when_given() -> None:
    cost = {"grain": "quarter", "baseline": "yoy", "currency": "EUR", "rows": [],
            "organisation": []}
    with_ai = render_html(cost, {}, [], generated_at="now", ai={"effect": EFFECT,
                                                                 "agents": AGENTS})
    assert 'id="ai"' in with_ai and "AI-assisted development" in with_ai
    assert 'id="ai"' not in render_html(cost, {}, [], generated_at="now")
