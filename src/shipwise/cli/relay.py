"""A command whose store a running ``shipwise serve`` holds is run by that server (see
:mod:`shipwise.http.local`): its arguments, with every path made absolute, and the environment
it reads settings and secrets from, go to ``POST /local/run``; its output comes back as it is
written, and this process exits with the command's exit code."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from shipwise.errors import StoreBusyError

#: commands that are never relayed: the server itself, and ``mcp``, which relays its own session
NOT_RELAYED = frozenset({"serve", "mcp"})


def command_path(cli: click.Group, args: list[str]
                 ) -> tuple[list[str], dict[str, Any], list[click.Context]]:
    """(command names, root options, contexts from root to leaf) of a command line, parsed the
    way ``cli`` will parse it (never failing: an unparseable line yields what was understood)."""
    contexts: list[click.Context] = []
    names: list[str] = []
    try:
        ctx = cli.make_context("shipwise", list(args), resilient_parsing=True)
        contexts.append(ctx)
        command: click.Command = cli
        while isinstance(command, click.Group):
            rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
            if not rest:
                break
            name, sub, rest = command.resolve_command(ctx, rest)
            if sub is None or name is None:
                break
            names.append(name)
            ctx = sub.make_context(name, rest, parent=ctx, resilient_parsing=True)
            contexts.append(ctx)
            command = sub
    except (click.ClickException, click.exceptions.Exit):
        pass
    root = contexts[0].params if contexts else {}
    return names, root, contexts


def reads_stdin(contexts: list[click.Context]) -> bool:
    """Does the command read a path option or argument from standard input (``-``)?"""
    for ctx in contexts:
        for param in ctx.command.params:
            if isinstance(param.type, click.Path | click.File):
                value = ctx.params.get(param.name or "")
                if value == "-" or (isinstance(value, list | tuple) and "-" in value):
                    return True
    return False


def absolute_paths(args: list[str], contexts: list[click.Context]) -> list[str]:
    """``args`` with the value of every path option and argument made absolute (the server runs
    the command in its own working directory)."""
    relative: set[str] = set()
    for ctx in contexts:
        for param in ctx.command.params:
            if not isinstance(param.type, click.Path | click.File):
                continue
            value = ctx.params.get(param.name or "")
            for v in value if isinstance(value, list | tuple) else [value]:
                if isinstance(v, str) and v != "-" and not os.path.isabs(v):
                    relative.add(v)
    out = []
    for token in args:
        if token in relative:
            out.append(os.path.abspath(token))
            continue
        key, eq, value = token.partition("=")
        out.append(f"{key}={os.path.abspath(value)}" if eq and key.startswith("-")
                   and value in relative else token)
    return out


def relayed_environment(db: Path, root: dict[str, Any]) -> dict[str, str]:
    """What the command would read from this process's environment: ``SHIPWISE_*`` (the store,
    settings file and key file made absolute) and the tokens its sources name."""
    from shipwise.config import load_settings

    env = {k: v for k, v in os.environ.items() if k.startswith("SHIPWISE_")}
    env["SHIPWISE_DB"] = str(db.absolute())
    config = root.get("config_file") or os.environ.get("SHIPWISE_CONFIG")
    try:
        settings = load_settings(db=db, config_file=config)
    except Exception:
        settings = None  # the command itself will say what is wrong with them
    if config:
        env["SHIPWISE_CONFIG"] = os.path.abspath(config)
    elif Path("shipwise.yaml").exists():
        env["SHIPWISE_CONFIG"] = os.path.abspath("shipwise.yaml")
    if settings is not None:
        env["SHIPWISE_KEY_FILE"] = str(Path(settings.resolved_key_file).absolute())
        for source in settings.sources:
            name = getattr(source, "token_env", None)
            if name and name in os.environ:
                env[name] = os.environ[name]
    return env


def relay(cli: click.Group, args: list[str], busy: StoreBusyError) -> int | None:
    """Run ``args`` through the server holding the store; its exit code, or ``None`` when no
    live server holds it (the caller then reports ``busy``)."""
    import httpx

    from shipwise.http.local import SECRET_HEADER, running_server

    names, root, contexts = command_path(cli, args)
    if not names or names[0] in NOT_RELAYED:
        return None
    db = Path(busy.path)
    server = running_server(db)
    if server is None:
        return None
    if reads_stdin(contexts):
        click.echo(f"Error: {' '.join(names)} reads standard input, and `shipwise serve` (pid "
                   f"{server.pid}) holds the store: give the file's path instead of -", err=True)
        return 1
    body = {"argv": absolute_paths(args, contexts), "env": relayed_environment(db, root)}
    if sys.stderr.isatty():
        click.echo(f"(the store is held by `shipwise serve`, pid {server.pid}: it runs this "
                   "command)", err=True)
    code: int | None = None
    try:
        with httpx.Client(timeout=httpx.Timeout(10.0, read=None)) as client, client.stream(
                "POST", f"{server.url}/local/run", json=body,
                headers={SECRET_HEADER: server.secret}) as response:
            if response.status_code != 200:
                response.read()
                click.echo(f"Error: the server at {server.url} refused to run the command "
                           f"({response.status_code}: {response.text[:200]})", err=True)
                return 1
            for line in response.iter_lines():
                if not line:
                    continue
                msg = json.loads(line)
                if "out" in msg:
                    sys.stdout.write(msg["out"])
                    sys.stdout.flush()
                elif "err" in msg:
                    sys.stderr.write(msg["err"])
                    sys.stderr.flush()
                elif "exit" in msg:
                    code = int(msg["exit"])
    except httpx.HTTPError as exc:
        click.echo(f"Error: lost the server at {server.url} while it ran the command: {exc} "
                   "(what it wrote is committed whole or not at all; run the command again)",
                   err=True)
        return 1
    if code is None:
        click.echo("Error: the server stopped before the command finished (what it wrote is "
                   "committed whole or not at all; run the command again)", err=True)
        return 1
    return code
