"""Reading an organisation file: every problem found, each with its line (and column)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipwise.app.orgfile import check_org_file
from shipwise.orgfile import OrgFileError, parse
from tests.orgfile.conftest import ORG


def problems(text: str) -> list[tuple[int, str]]:
    with pytest.raises(OrgFileError) as err:
        parse(text)
    return [(p.line, p.message) for p in err.value.problems]


def test_the_example_is_valid() -> None:
    doc = parse(ORG)
    assert [t.id for t in doc.org.teams] == ["payments", "platform"]
    assert doc.org.teams[0].all_attributes()["timezone"] == "Europe/Lisbon"
    assert doc.org.teams[1].all_attributes() == {"cost_centre": "CC-12"}
    assert doc.line(("services", 1)) == ORG.splitlines().index("  - id: ledger") + 1
    res = check_org_file(ORG)
    assert (res.org_units, res.teams, res.people, res.services) == (2, 2, 3, 2)


def test_a_yaml_syntax_error_names_its_line() -> None:
    found = problems("version: 1\nteams:\n  - id: a\n    name: [x\n  - id: b\n")
    assert len(found) == 1 and found[0][0] in (4, 5) and "YAML syntax" in found[0][1]


def test_every_problem_is_reported_with_its_line() -> None:
    text = """\
version: 1
org_units:
  - id: eng
teams:
  - id: payments
    org_unit: eng
    timezone: Mars/Base
    working_hours: "9-5"
    tz: UTC
  - id: payments
    org_unit: nope
people:
  - emails: [ana@acme.com]
    memberships:
      - {team: payments, since: 2025-01-01, until: 2024-01-01}
  - emails: [Ana@ACME.com]
    memberships:
      - {team: payments, since: 2025-01-01}
      - {team: payments, since: 2025-06-01}
services:
  - id: pay
    owners:
      - {team: ghost}
      - {team: payments, since: 2024-01-01}
  - id: pay
    team: payments
    colour: blue
"""
    found = problems(text)
    lines = {line for line, _ in found}
    expect = {
        7: "not an IANA time zone",
        8: "not working hours",
        9: "unknown key 'tz'",
        10: "duplicate id 'payments' (first at line 5)",
        11: "org_unit 'nope' is not an org unit",
        15: "until (2024-01-01) is before since (2025-01-01)",
        16: "already claimed by another person (line 13)",
        19: "membership overlaps the one at line 18",
        23: "owner 'ghost' is not a team",
        24: "ownership overlaps the one at line 23",
        25: "duplicate id 'pay' (first at line 21)",
        27: "unknown key 'colour'",
    }
    for line, what in expect.items():
        assert any(ln == line and what in msg for ln, msg in found), (line, what, found)
    assert lines == set(expect), found


def test_columns_and_the_error_message() -> None:
    with pytest.raises(OrgFileError) as err:
        parse("version: 1\nteams:\n  - {id: a, org_unit: x, working_hours: '25:00-26:00'}\n",
              "my-org.yaml")
    first = err.value.problems[0]
    assert first.line == 3 and first.column > 1
    assert str(err.value).startswith("my-org.yaml: ") and "line 3" in str(err.value)


@pytest.mark.parametrize(("text", "what"), [
    ("version: 2\n", "version must be 1"),
    ("", "empty"),
    ("- a\n", "mapping"),
    ("version: 1\nservices:\n  - {id: s}\n", "needs an owner"),
    ("version: 1\nteams: [{id: a, org_unit: u}]\norg_units: [{id: u}]\n"
     "services:\n  - {id: s, team: a, owners: [{team: a}]}\n", "not both"),
    ("version: 1\npeople:\n  - memberships: []\n", "at least one of emails"),
    ("version: 1\norg_units:\n  - {id: a, parent: b}\n  - {id: b, parent: a}\n",
     "its own ancestor"),
    ("version: 1\norg_units: [{id: u}]\nteams:\n  - {id: a, org_unit: u, working_days: [0, 8]}\n",
     "ISO weekdays"),
    ("version: 1\norg_units: [{id: u}]\nteams:\n  - {id: a, org_unit: u, attributes: "
     "{timezone: UTC}}\n", "top level"),
    ("version: 1\nteams: []\nteams: []\n", "given twice"),
    ("version: 1\nsince: 2026-02-30\n", "cannot read this value"),
])
def test_more_problems(text: str, what: str) -> None:
    found = problems(text)
    assert any(what in msg for _, msg in found), found
    assert all(line >= 1 for line, _ in found if what in _), found


def test_a_shared_repository_is_claimed_once() -> None:
    text = ORG.replace("    repos: [acme/ledger]", "    repos: [acme/pay-api]")
    found = problems(text)
    assert any("repository acme/pay-api is already claimed by service 'pay-api'" in m
               for _, m in found), found


def test_the_package_agrees_with_the_pseudonymiser() -> None:
    from shipwise.governance import pseudonym
    from shipwise.orgfile import export, validate

    assert export.BOT_PREFIX == pseudonym.BOT_PREFIX
    assert validate.normalise_id(" Ana@ACME.com ") == pseudonym.normalise_id(" Ana@ACME.com ")


def test_the_documented_example_is_valid() -> None:
    """docs/org-file.md's full example parses: the docs fail the build when they drift."""
    doc = Path(__file__).resolve().parents[2] / "docs" / "org-file.md"
    text = doc.read_text()
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    org = parse(example, "docs/org-file.md").org
    assert {t.id for t in org.teams} == {"payments", "platform"}
    assert org.services[1].deploy_targets[0].job == "deploy-ledger*"
