"""Regenerate docs/cli.md from the commands' --help (run after changing the CLI)."""

from __future__ import annotations

from pathlib import Path

import click
from click.testing import CliRunner

from shipwise.cli.main import cli

HEADER = [
    "# CLI reference",
    "",
    "Every command, with its `--help`. Global options come before the command:",
    "`shipwise [--db PATH] [--config FILE] [--debug] COMMAND …`. Errors print one line",
    "`Error: … (what to do)`; `--debug` shows the traceback. `tests/test_docs.py` fails when a",
    "command is missing here.",
    "",
    "## Who a command runs as",
    "",
    "Every command runs as a principal: the owner of `SHIPWISE_TOKEN` when it is set (the roles of",
    "[api.md](api.md#roles), the same for the API, the web pages and MCP), else the store's owner,",
    "its administrator (whoever can read the store file and its key). Reads go through the same",
    "checks and the same access log as the API. With a token, admin commands (`token`, `import`,",
    "`ingest git`, `cost cloud import`, `demo`, `quarantine list` — rejected lines are kept verbatim and can hold",
    "personal data —, `serve`, `audit list`, `retention`, `session rotate`) refuse other roles",
    "with one line;",
    "`cost` of the whole organisation, `cost initiatives`, `cost cloud` and `report cost` need exec",
    "or admin;",
    "`investigations` and `investigate` see a member's or lead's own team's services only. A few",
    "commands open no store and run as nobody in particular (`init`, `metrics list`, `metrics",
    "explain`, `charter`, `rca`, `demo world`): the reasons are in `shipwise.cli.access.EXEMPT`,",
    "and `tests/test_cli_access.py` fails on a command that neither runs as its principal nor is",
    "exempt.",
    "",
    "## Reading the tables",
    "",
    "Every table prints one format per kind of number (`shipwise/cli/render.py`, the one place):",
    "money with the store's reporting currency (`$470,654`, `-$43,763`, `470,654 CHF`), durations",
    "as people say them (`45 s`, `12 min`, `2 h 15 min`, `3.2 d`), counts as integers with",
    "thousands separators (`1,000`), shares as percentages (`12.3%`), multiples of a rate (`14.4×`),",
    "other rates as decimals. `--format json` and `--format csv` keep the raw values (amounts,",
    "seconds, ratios), for programs and spreadsheets.",
    "",
    "Tables are laid out for the terminal's width (`COLUMNS` when set; 160 columns when the output",
    "is piped). Identifiers (teams, periods, SLOs) and numbers are never broken across lines; only",
    "prose (flags, warnings, sentences) wraps, at spaces. A table wider than the terminal is split",
    "into tables that repeat its key columns (team and period in `cost`; the SLO in `slo`, where",
    "each team is a heading row above its SLOs). Long-running commands (`rca eval`, `sync`) show a",
    "progress bar on stderr when it is a terminal, never with `--format json`.",
    "",
]


def main() -> None:
    out = list(HEADER)
    runner = CliRunner()

    def walk(cmd: click.Command, path: list[str], ctx: click.Context) -> None:
        res = runner.invoke(cli, [*path[1:], "--help"], prog_name="shipwise", terminal_width=100)
        out.append(f"## `{' '.join(path)}`\n")
        out.append("```text\n" + res.output.rstrip() + "\n```\n")
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                assert sub is not None
                walk(sub, [*path, name], ctx)

    with click.Context(cli) as ctx:
        walk(cli, ["shipwise"], ctx)
    (Path(__file__).resolve().parents[1] / "docs" / "cli.md").write_text("\n".join(out))


if __name__ == "__main__":
    main()
