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
