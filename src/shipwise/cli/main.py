"""``shipwise`` command line. Heavy modules load lazily so ``shipwise --help`` starts fast."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from shipwise import __version__
from shipwise.errors import ShipwiseError, StoreBusyError

#: command name -> "module:attribute", imported only when that command runs or --help lists it.
LAZY_COMMANDS = {
    "init": "shipwise.cli.commands:init_cmd",
    "import": "shipwise.cli.commands:import_cmd",
    "quarantine": "shipwise.cli.commands:quarantine",
    "teams": "shipwise.cli.commands:teams_cmd",
    "services": "shipwise.cli.commands:services_cmd",
    "demo": "shipwise.cli.demo:demo_cmd",
    "ingest": "shipwise.cli.ingest:ingest",
    "org": "shipwise.cli.org:org",
    "explain": "shipwise.cli.explain:explain",
    "sync": "shipwise.cli.sync:sync_cmd",
    "doctor": "shipwise.cli.sync:doctor_cmd",
    "metrics": "shipwise.cli.metrics:metrics",
    "cost": "shipwise.cli.cost:cost",
    "ai": "shipwise.cli.ai:ai",
    "slo": "shipwise.cli.slo:slo",
    "report": "shipwise.cli.report:report",
    "rca": "shipwise.cli.rca:rca",
    "serve": "shipwise.cli.serve:serve_cmd",
    "investigate": "shipwise.cli.investigate:investigate_cmd",
    "investigations": "shipwise.cli.investigate:investigations",
    "incidents": "shipwise.cli.incidents:incidents_group",
    "people": "shipwise.cli.people:people_group",
    "verify": "shipwise.cli.investigate:verify_cmd",
    "ask": "shipwise.cli.ask:ask_cmd",
    "token": "shipwise.cli.token:token",
    "session": "shipwise.cli.session:session",
    "mcp": "shipwise.cli.mcp:mcp_cmd",
    "fairness": "shipwise.cli.fairness:fairness",
    "flow": "shipwise.cli.diagnostics:flow_cmd",
    "strain": "shipwise.cli.diagnostics:strain_cmd",
    "charter": "shipwise.cli.governance:charter",
    "audit": "shipwise.cli.governance:audit",
    "retention": "shipwise.cli.governance:retention",
    "export": "shipwise.cli.export:export",
    "topology": "shipwise.cli.topology:topology",
    "prevention": "shipwise.cli.prevention:prevention_group",
    "notify": "shipwise.cli.notify:notify",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            module, attr = LAZY_COMMANDS[cmd_name].split(":")
            cmd = getattr(importlib.import_module(module), attr)
            assert isinstance(cmd, click.Command)
            return cmd
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Short help from a static table, so --help imports no command module.
        rows = [(name, HELP.get(name, "")) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


HELP = {
    "init": "Create the store and the pseudonymisation key.",
    "import": "Import canonical event files (.jsonl, .csv, .parquet).",
    "quarantine": "Show records that were rejected, with the reason.",
    "teams": "List teams with their org unit and unit of delivery.",
    "services": "List services and their owning team.",
    "demo": "Generate a synthetic organisation, import it and show DORA and cost per team.",
    "ingest": "Ingest from a connector (git).",
    "org": "The organisation file: check, apply (plan first, --dry-run, --prune), export.",
    "explain": "Why a deployment, pull request or incident counted: source, rule, links.",
    "sync": "Read the sources of shipwise.yaml (GitHub, GitLab, git): incremental, resumable.",
    "doctor": "Check settings, secrets, hosts, token scopes, rate limits and repository mapping.",
    "metrics": "List, explain and compute metrics (DORA).",
    "cost": "Cost to serve per team, what it gave back, and the tension beside it.",
    "ai": "AI-assisted development: adoption cohorts, agent-authored changes, effect of adoption.",
    "slo": "SLO status, error budgets, burn-rate alerts and each team's release appetite.",
    "report": "Reports for people (the CFO's cost report) as HTML or PDF.",
    "rca": "Rank root causes for an incident case; evaluate on labelled data.",
    "serve": "Serve alarm webhooks (Alertmanager, Grafana, Datadog, Dynatrace, CloudWatch, generic) "
             "and OTLP/HTTP traces and logs.",
    "investigate": "Investigate an alarm: root cause, evidence, ruled out, impact, mitigation plan.",
    "investigations": "Stored investigations (list, show, verdict, accuracy).",
    "incidents": "Imported incidents (list with filters, show): duration, cause, investigations.",
    "people": "Who is behind a pseudonym, for an on-call responder (governed, logged).",
    "ask": "Ask a stored investigation a follow-up question; re-scope it ('last 30 minutes').",
    "verify": "Are the series an investigation found anomalous back to their baseline? (post-validation)",
    "token": "API tokens: create (shown once), revoke, list.",
    "session": "Web dashboard sessions: rotate the secret that signs them (signs everyone out).",
    "mcp": "Serve the tools to AI assistants over MCP (stdio); HTTP is at /mcp of serve.",
    "fairness": "Fairness audit: who the flags fall on, and what context moves the metrics.",
    "flow": "Where a team's delivery is stuck: cycle time by phase, review latency, WIP, blocked time.",
    "strain": "The load a team's people carry: out-of-hours pages, incident burden, on-call spread.",
    "charter": "The metric charter: show it, validate it.",
    "audit": "The audit log of reads (admins): who read what, when.",
    "retention": "Apply the charter's retention periods: purge person-level inputs, keep aggregates.",
    "export": "Write the canonical records out as Parquet files (for Spark: docs/spark.md).",
    "prevention": "Recurring incident patterns and what would prevent them (scan, list, accept, dismiss, done).",
    "notify": "Findings where people work: the outbox (status, deliver, retry), the team digest.",
    "topology": "The kept topology: an entity's blast radius (show), learn it from the store (refresh).",
}


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="shipwise")
@click.option(
    "--db",
    "db",
    type=click.Path(dir_okay=False),
    default=None,
    help="Store file [default: $SHIPWISE_DB or ./shipwise.duckdb].",
)
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="Settings file [default: $SHIPWISE_CONFIG or ./shipwise.yaml].")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.pass_context
def cli(ctx: click.Context, db: str | None, config_file: str | None, debug: bool) -> None:
    """shipwise: what it costs to ship software, how healthy delivery is, and what broke."""
    ctx.ensure_object(dict)
    ctx.obj["db"] = db
    ctx.obj["config_file"] = config_file
    ctx.obj["debug"] = debug


def settings_from(ctx: click.Context) -> Any:
    from shipwise.config import load_settings

    root = ctx.find_root().obj or {}
    return load_settings(db=root.get("db"), config_file=root.get("config_file"))


def main(argv: list[str] | None = None) -> None:
    """Entry point: renders every ShipwiseError as one line that says what to do."""
    sys.exit(run(sys.argv[1:] if argv is None else argv))


def run(args: list[str], *, relayed: bool = False) -> int:
    """Run one command line and answer its exit code. A command whose store ``shipwise serve``
    holds is run by that server (:mod:`shipwise.cli.relay`), unless it is ``relayed`` already."""
    debug = "--debug" in args or os.environ.get("SHIPWISE_DEBUG") == "1"
    try:
        cli.main(args=args, prog_name="shipwise", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except StoreBusyError as exc:
        if not relayed:
            from shipwise.cli.relay import relay

            code = relay(cli, args, exc)
            if code is not None:
                return code
        return _shown(exc, debug)
    except ShipwiseError as exc:
        return _shown(exc, debug)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        click.echo(str(exc.code), err=True)
        return 1
    return 0


def _shown(exc: ShipwiseError, debug: bool) -> int:
    if debug:
        raise exc
    msg = f"Error: {exc}"
    if exc.hint:
        msg += f" ({exc.hint})"
    click.echo(msg, err=True)
    return 1
