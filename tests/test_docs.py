"""Docs that fail the build when they drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

import click

from shipwise.cli.main import cli
from shipwise.domain.schema import RECORD_TYPES
from shipwise.governance.charter import load_charter
from shipwise.metrics.registry import REGISTRY

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_metric_has_a_charter_entry_and_a_docs_page() -> None:
    charter = load_charter()
    for mid in REGISTRY:
        assert mid in charter.entries, f"{mid} has no charter entry in governance/charter.yaml"
        page = DOCS / "metrics" / f"{mid}.md"
        assert page.exists(), f"{mid} has no docs page {page}"
        assert f"`{mid}`" in page.read_text().splitlines()[0]


def test_charter_has_no_entry_for_a_metric_that_does_not_exist() -> None:
    assert set(load_charter().entries) <= set(REGISTRY)


def test_charter_entries_forbid_individual_use() -> None:
    for entry in load_charter().entries.values():
        assert "individual ranking" in entry.may_not_inform
        assert "compensation" in entry.may_not_inform


def _commands(cmd: click.Command, path: list[str], ctx: click.Context) -> list[str]:
    found = [" ".join(path)]
    if isinstance(cmd, click.Group):
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)
            assert sub is not None
            found += _commands(sub, [*path, name], ctx)
    return found


def test_every_cli_command_is_in_the_cli_reference() -> None:
    text = (DOCS / "cli.md").read_text()
    with click.Context(cli) as ctx:
        for command in _commands(cli, ["shipwise"], ctx):
            assert f"## `{command}`" in text, f"`{command}` missing from docs/cli.md (run scripts/gen_cli_docs.py)"


def test_canonical_format_doc_lists_every_type_and_field() -> None:
    text = (DOCS / "canonical-format.md").read_text()
    for rt in RECORD_TYPES:
        section = re.search(rf"### `{rt.name}`\n(.*?)(?=\n### |\n## |\Z)", text, re.S)
        assert section, f"type {rt.name} missing from docs/canonical-format.md"
        for f in rt.fields:
            row = re.search(rf"^\| `{f.name}` \| {f.kind.value} \| {'yes' if f.required else 'no'} \|",
                            section.group(1), re.M)
            assert row, f"{rt.name}.{f.name} missing or different in docs/canonical-format.md"
