"""``shipwise investigate`` (one alarm, case or question) and ``shipwise investigations`` (stored)."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

from shipwise.app import incidents, verdicts
from shipwise.app import investigate as svc
from shipwise.app.results import dump
from shipwise.cli.access import caller, runs_as
from shipwise.cli.main import settings_from
from shipwise.cli.render import emit_json, emit_table


@click.command("investigate")
@click.option("--alarm", "alarm_file", type=click.Path(exists=True, dir_okay=False),
              help="An alarm payload (Alertmanager, Dynatrace, CloudWatch/SNS or generic JSON).")
@click.option("--case", "case_dir", type=click.Path(exists=True, file_okay=False),
              help="A case directory (docs/case-format.md): investigate from its files.")
@click.option("--service", help="The service (or entity) to look at, with --at.")
@click.option("--at", "at", help="When: ISO-8601 with an offset, epoch seconds, or 'now'.")
@click.option("--metric", default="", help="With --service: the metric that looked wrong.")
@click.option("--store/--no-store", "store", default=None,
              help="Store the record [default: yes, except for --case].")
@click.option("--fix-spec", "fix_spec", type=click.Path(dir_okay=False),
              help="Also write the long-term fix spec (markdown) to this file.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
@runs_as()
def investigate_cmd(ctx: click.Context, alarm_file: str | None, case_dir: str | None,
                    service: str | None, at: str | None, metric: str, store: bool | None,
                    fix_spec: str | None, fmt: str) -> None:
    """Investigate an alarm: scope the impact window, survey the topology, triage the anomalous
    entities, weigh hypotheses (change, config, permission, manual action, saturation, dependency,
    traffic, churn) against the evidence, and give the root cause, what was ruled out and why, the
    customer impact, a five-part mitigation plan and a long-term fix spec. No LLM.

    Evidence comes from the case directory (--case) or from the sources in shipwise.yaml
    (investigate.sources: prometheus, logs, traces, events, runbooks, the store)."""
    chosen = [x for x in (alarm_file, case_dir, service) if x]
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --alarm FILE, --case DIR or --service S --at T")
    if service and not at:
        raise click.UsageError("--service needs --at (an instant, or 'now')")
    if case_dir and not store:  # the case directory's own evidence: no store, no principal
        record = svc.investigate_case(str(case_dir), settings_from(ctx))
    else:
        with caller(ctx) as c:  # one store: the evidence it holds and the record stored in it
            if case_dir:
                record = dump(incidents.store_investigation(
                    c, svc.investigate_case(str(case_dir), c.settings)))
            else:
                record = dump(incidents.investigate(c, alarm_file=alarm_file, service=service,
                                                    at=str(at), metric=metric))
    if fix_spec and record.get("long_term_fix"):
        with open(fix_spec, "w", encoding="utf-8") as f:
            f.write(record["long_term_fix"])
    if fmt == "json":
        emit_json(record)
    else:
        print_record(record)
        if case_dir and not store:
            click.echo("Not stored (a case is investigated from its own files): add --store to "
                       "keep it in the store, where `shipwise investigations list` shows it.",
                       err=True)


def print_record(rec: dict[str, Any]) -> None:
    con = Console(width=None if sys.stdout.isatty() else 140, highlight=False)
    a = rec["alarm"]
    con.print(f"[bold]Investigation {rec['id']}[/] — alarm on [bold]{a['entity']}[/] "
              f"{a['metric']} at {a['at']} (onset {rec['window']['onset_at']}, "
              f"{rec['seconds']['total']:.1f} s)")
    root = rec.get("root_cause")
    if root:
        body = f"{root['statement']}\nentity: {root['entity']} · kind: {root['kind']} · " \
               f"confidence: {root['confidence_label']} ({root['confidence']:.2f})"
        if root.get("event"):
            e = root["event"]
            body += f"\nchange: {e['kind']} {e['id']} at {e['at']} by {e['actor'] or '?'} — {e['summary']}"
        con.print(Panel(body, title="Root cause", border_style="red"))
    else:
        con.print(Panel("Inconclusive: no candidate is both connected to the alarm's entity and "
                        "shows an effect of its own.", title="Root cause"))
    if rec.get("parent"):
        con.print(f"[dim]Re-scoped from {rec['parent']['id']}: "
                  f"{escape(rec['parent']['narrowing'].get('text', ''))}[/]")
    steps = rec.get("steps") or []
    if steps:
        con.print("[bold]How it was investigated[/]")
        for st in steps:
            con.print(f"  \\[{st['type']}] {escape(st['text'])}"
                      + (f"  [dim]({escape(st['ref'])})[/]" if st.get("ref") else ""))
    if rec.get("gaps"):
        con.print("[bold]Gaps[/] (what this investigation could not see)")
        for g in rec["gaps"]:
            con.print(f"  ? {g['what']}\n      [dim]→ {g['how']}[/]")
    if rec["key_observations"]:
        con.print("[bold]Key observations[/]")
        for o in rec["key_observations"]:
            con.print(f"  • {o['text']}" + (f"  [dim]({o['ref']})[/]" if o["ref"] else ""))
    if rec["ruled_out"]:
        con.print("[bold]Ruled out[/]")
        for r in rec["ruled_out"][:10]:
            con.print(f"  ✗ {r['observation']} — {r['reason']}")
    con.print(f"[bold]Customer impact[/]  {rec['impact']['summary']}")
    plan = rec.get("mitigation")
    if plan:
        con.print("[bold]Mitigation plan[/]")
        for part, label in (("prepare", "Prepare"), ("pre_validate", "Pre-validate"), ("apply", "Apply"),
                            ("post_validate", "Post-validate"), ("rollback", "Roll back the mitigation")):
            con.print(f"  [bold]{label}[/]")
            for i, step in enumerate(plan[part], start=1):
                con.print(f"    {i}. {step['text']}")
                if step.get("command"):
                    con.print(f"       [cyan]$ {step['command']}[/]")
    if rec["runbooks"]:
        con.print("[bold]Runbooks used[/]  " + "; ".join(f"{r['title']} ({r['path']})" for r in rec["runbooks"]))
    bad = [s for s in rec["sources"] if not s["ok"]]
    con.print("[dim]Sources: " + ", ".join(f"{s['name']} {'ok' if s['ok'] else 'FAILED'} {s['seconds']:.2f}s"
                                            for s in rec["sources"]) + "[/]")
    for s in bad:
        con.print(f"[yellow]  {s['name']}: {s['error']}[/]")
    con.print("[dim]Long-term fix spec: --fix-spec FILE, or --format json (long_term_fix).[/]")


@click.group("investigations")
def investigations() -> None:
    """Stored investigations."""


@investigations.command("list")
@click.option("--limit", default=20, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
@runs_as()
def list_cmd(ctx: click.Context, limit: int, fmt: str) -> None:
    """Most recent investigations first (a member's or lead's token: their team's services)."""
    with caller(ctx) as c:
        rows = dump(incidents.investigations(c, limit=limit))
    if fmt == "json":
        emit_json(rows)
        return
    emit_table("Investigations", ["id", "alarm at", "alarm", "root cause", "kind", "confidence"],
               [(r["id"], r["alarm_at"], f"{r['entity']} {r['metric'] or ''}", r["root_cause_entity"],
                 r["root_cause_kind"], r["confidence"]) for r in rows])


@investigations.command("show")
@click.argument("inv_id")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
@runs_as()
def show_cmd(ctx: click.Context, inv_id: str, fmt: str) -> None:
    """One stored investigation record."""
    with caller(ctx) as c:
        rec = dump(incidents.investigation(c, inv_id))
    if fmt == "json":
        emit_json(rec)
    else:
        print_record(rec)


@investigations.command("verdict")
@click.argument("inv_id")
@click.argument("verdict", type=click.Choice(list(verdicts.VERDICTS)))
@click.option("--comment", default=None, help="What was right or wrong about it.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
@runs_as()
def verdict_cmd(ctx: click.Context, inv_id: str, verdict: str, comment: str | None,
                fmt: str) -> None:
    """Mark INV_ID's root cause right, partly (right) or wrong; marking again replaces it.
    Accuracy and prevention read the verdicts (a root cause marked wrong backs no pattern)."""
    with caller(ctx) as c:
        res = dump(verdicts.mark_verdict(c, inv_id, verdict, comment=comment))
    if fmt == "json":
        emit_json(res)
        return
    click.echo(f"{res['investigation_id']}: root cause {res['root_cause_kind'] or '—'} on "
               f"{res['root_cause_entity'] or '—'} marked {res['verdict']}"
               + (f" ({res['comment']})" if res.get("comment") else ""))


@investigations.command("accuracy")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
@runs_as()
def accuracy_cmd(ctx: click.Context, fmt: str) -> None:
    """How often the root cause was right, by the responders' verdicts: overall, by fault
    kind and by service (a member's or lead's token: their team's services)."""
    with caller(ctx) as c:
        res = dump(verdicts.accuracy(c))
    if fmt == "json":
        emit_json(res)
        return
    o = res.get("overall")
    if not o:
        click.echo(f"No verdicts yet over {res['investigations']} investigations "
                   f"({res['scope']}): `shipwise investigations verdict INV right|partly|wrong`.")
        return
    click.echo(f"Root cause right in {o['accuracy']:.0%} of {o['marked']} marked investigations "
               f"({o['accuracy_partial']:.0%} counting partly as half; "
               f"{res['investigations']} investigations, {res['scope']}).")
    for title, key in (("By fault kind", "by_kind"), ("By service", "by_service")):
        emit_table(title, ["", "marked", "right", "partly", "wrong", "accuracy"],
                   [(r["value"], r["marked"], r["right"], r["partly"], r["wrong"],
                     f"{r['accuracy']:.0%}") for r in res[key]], justify_right=(1, 2, 3, 4, 5))


@click.command("verify")
@click.argument("inv_id")
@click.option("--at", "at", default="now", show_default=True,
              help="The end of the window: ISO-8601 with an offset, epoch seconds, or 'now'.")
@click.option("--minutes", default=10.0, show_default=True, type=click.FloatRange(min=0.5, max=1440),
              help="How many minutes before --at are tested.")
@click.option("--record", is_flag=True, help="Add the verification to the investigation's record "
                                             "(otherwise nothing is stored).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
@runs_as()
def verify_cmd(ctx: click.Context, inv_id: str, at: str, minutes: float, record: bool, fmt: str) -> None:
    """Post-validation of investigation INV_ID: re-read from Prometheus every series it found
    anomalous and say, per series, whether it is back to the pre-incident baseline the
    investigation used (median of the last --minutes against the baseline median, in baseline
    IQRs), with the PromQL to watch. Nothing is stored unless --record. Exits 3 while a series
    is still anomalous."""
    with caller(ctx) as c:
        res = dump(incidents.verify_investigation(c, inv_id, at=at, minutes=minutes, record=record))
    if fmt == "json":
        emit_json(res)
    else:
        print_verification(res)
    if res["status"] == "still_anomalous":
        raise SystemExit(3)


def print_verification(res: dict[str, Any]) -> None:
    con = Console(width=None if sys.stdout.isatty() else 140, highlight=False)
    mark = {"recovered": "[green]✓ recovered[/]", "still_anomalous": "[red]✗ still anomalous[/]",
            "no_data": "[yellow]? no data[/]"}
    con.print(f"[bold]Verification of {res['investigation_id']}[/] — last {res['minutes']:g} min "
              f"to {res['at']}: [bold]{res['status'].replace('_', ' ')}[/]")
    if not res["series"]:
        con.print("  The investigation found no anomalous series to verify.")
    for s in res["series"]:
        con.print(f"  {mark[s['status']]}  {s['entity']} {s['metric']} — {s['reason']}")
        con.print(f"      [cyan]{s['promql']}[/]")
    con.print(f"[dim]Test: {res['test']}.[/]")
    con.print("[dim]" + ("Recorded in the investigation." if res.get("recorded")
                         else "Nothing stored (--record to keep it).") + "[/]")
