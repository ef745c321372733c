"""``shipwise ai``: AI-assisted development — adoption cohorts, agent-authored changes beside human
ones, and the effect of adoption on cost to serve, lead time and change fail rate."""

from __future__ import annotations

from datetime import date
from typing import Any

import click

from shipwise.cli.access import caller, runs_as
from shipwise.cli.metrics import _parse_date
from shipwise.cli.render import FORMATS, cell, emit_csv, emit_json, emit_table
from shipwise.metrics import ids
from shipwise.metrics.registry import get

_ADOPTION = (ids.AI_ENGAGED_SHARE, ids.AI_ADOPTION_LEVEL, ids.AI_ACCEPTANCE_RATE)
_AGENTS = (ids.AI_UNIT_SHARE, ids.AI_CHANGE_LEAD_TIME, ids.AI_REVIEW_TIME, ids.AI_CHANGE_FAIL_RATE,
           ids.AI_REWORK_RATE, ids.AI_INTERVENTIONS_PER_DEPLOYMENT)
_EFFECTS = (ids.AI_EFFECT_COST_TO_SERVE, ids.AI_EFFECT_LEAD_TIME, ids.AI_EFFECT_CHANGE_FAIL_RATE,
            ids.AI_RETURN_ON_SPEND)
_NO_USAGE = ("No AI usage in the store: import `ai_usage` records (docs/ai-effect.md), or run "
             "`shipwise demo`.")


@click.group("ai", invoke_without_command=True)
@click.option("--team", default=None, help="One team (a member or lead: their own by default).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table")
@click.pass_context
@runs_as()
def ai(ctx: click.Context, team: str | None, fmt: str) -> None:
    """AI-assisted development: adoption levels over time, agent-authored changes against human
    ones, and (exec, admin) the effect of adoption with its intervals, spend and return. Never
    an individual's AI usage."""
    if ctx.invoked_subcommand is not None:
        return
    ctx.invoke(adoption_cmd, team=team, fmt=fmt)
    if fmt == "table":
        ctx.invoke(agents_cmd, team=team, grain="all", fmt=fmt)


@ai.command("adoption")
@click.option("--team", default=None, help="One team (a member or lead: their own by default).")
@click.option("--since", callback=_parse_date, help="First day (UTC), YYYY-MM-DD.")
@click.option("--until", callback=_parse_date, help="Last day (UTC), YYYY-MM-DD.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table")
@click.pass_context
@runs_as()
def adoption_cmd(ctx: click.Context, team: str | None, fmt: str, since: date | None = None,
                 until: date | None = None) -> None:
    """Adoption level per team and month (none, light, moderate, heavy: the engaged share
    against `ai.adoption` thresholds), each team's adoption months, and the cohorts."""
    from shipwise.app.ai import adoption
    from shipwise.app.results import dump

    with caller(ctx) as c:
        res = dump(adoption(c, team=team, since=since, until=until))
    if fmt == "json":
        emit_json(res)
        return
    rows = res["rows"]
    if fmt == "csv":
        emit_csv(["team", "period", "team_size", "spend_amount", *_ADOPTION],
                 [[r["team"], r["period"], r.get("team_size"), r.get("spend_amount"),
                   *[r["metrics"].get(m) for m in _ADOPTION]] for r in rows])
        return
    if not rows:
        click.echo(_NO_USAGE)
        return
    th = res["thresholds"]
    emit_table("Adoption by team: first month at each level (from usage data; thresholds "
               f"light {th['light']:.0%}, moderate {th['moderate']:.0%}, heavy {th['heavy']:.0%} "
               f"of the team engaged, held {res.get('sustain_months', 1)} month(s))",
               ["team", "now", "light from", "moderate from", "heavy from"],
               [(t["team"], t.get("level") or "hidden", *(t["adopted"].get(lvl) or "–" for lvl in
                                                          ("light", "moderate", "heavy")))
                for t in res["teams"]])
    last = res["cohorts"][-6:]
    levels = ("none", "light", "moderate", "heavy", "hidden")
    emit_table("Cohorts: teams at each level (last months; hidden: too small to show)",
               ["month", *levels],
               [(c["period"], *(c["teams"].get(lvl, 0) for lvl in levels)) for c in last],
               justify_right=(1, 2, 3, 4, 5))
    hidden = [t["team"] for t in res["teams"] if t.get("suppressed")]
    if hidden:
        click.echo(f"Hidden (fewer than {res['min_group_size']} people): {', '.join(hidden)}.")
    for w in res.get("warnings") or []:
        click.echo(f"⚠ {w}")


@ai.command("agents")
@click.option("--team", default=None, help="One team (a member or lead: their own by default).")
@click.option("--grain", type=click.Choice(["month", "quarter", "all"]), default="all",
              show_default=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table")
@click.pass_context
@runs_as()
def agents_cmd(ctx: click.Context, team: str | None, grain: str, fmt: str) -> None:
    """Agent-authored changes beside human and bot ones: share of delivery units, lead time,
    review time, change fail and rework rate, manual interventions per deployment."""
    from shipwise.app.ai import agents
    from shipwise.app.results import dump

    with caller(ctx) as c:
        res = dump(agents(c, team=team, grain=grain))
    rows = res["rows"]
    if fmt == "json":
        emit_json(res)
        return
    if fmt == "csv":
        emit_csv(["team", "period", "kind", "units", "team_units", *_AGENTS],
                 [[r["team"], r["period"], r["kind"], r["units"], r["team_units"],
                   *[r["metrics"].get(m) for m in _AGENTS]] for r in rows])
        return
    if not rows:
        click.echo("No delivery data in the store: import records or run `shipwise demo`.")
        return
    emit_table("Changes by author kind (a deployment carrying an agent commit counts as agent; "
               "team * = the organisation)",
               ["team", "period", "kind", "units", *[get(m).label for m in _AGENTS]],
               [(r["team"], r["period"], r["kind"], f"{r['units']}/{r['team_units']}",
                 *[_cell(r, m) for m in _AGENTS]) for r in rows],
               justify_right=tuple(range(3, 4 + len(_AGENTS))))


def _cell(row: dict[str, Any], mid: str) -> str:
    if mid in (row.get("suppressed") or {}):
        return "hidden"
    return cell(mid, row["metrics"].get(mid)) or "–"


def _span(level: dict[str, Any], mid: str, digits: int = 2) -> str:
    v = level["metrics"].get(mid)
    if v is None:
        return "–"
    iv = (level.get("intervals") or {}).get(mid)
    return f"{v:+.{digits}f}" + (f" ({iv[0]:+.{digits}f} … {iv[1]:+.{digits}f})" if iv else "")


@ai.command("effect")
@click.option("--confidence", default=0.9, show_default=True, type=click.FloatRange(0.5, 0.99))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table")
@click.pass_context
@runs_as("org.cost")
def effect_cmd(ctx: click.Context, confidence: float, fmt: str) -> None:
    """The effect of reaching each adoption level on cost to serve, change lead time and change
    fail rate (staggered difference-in-differences against teams not yet at that level, with
    intervals and warnings), AI spend with savings and return, and the tension check."""
    from shipwise.app.ai import effect
    from shipwise.app.results import dump

    with caller(ctx) as c:
        res = dump(effect(c, confidence=confidence))
    if fmt == "json":
        emit_json(res)
        return
    levels = res["levels"]
    if fmt == "csv":
        emit_csv(["level", "adopted_teams", "first_adopted", "spend_amount", "attributed_savings",
                  *_EFFECTS, *(f"{m}_low" for m in _EFFECTS), *(f"{m}_high" for m in _EFFECTS)],
                 [[r["level"], r["adopted_teams"], r.get("first_adopted"), r.get("spend_amount"),
                   r.get("attributed_savings"), *[r["metrics"].get(m) for m in _EFFECTS],
                   *[(r["intervals"].get(m) or [None, None])[0] for m in _EFFECTS],
                   *[(r["intervals"].get(m) or [None, None])[1] for m in _EFFECTS]]
                  for r in levels])
        return
    if not levels:
        click.echo(" ".join(res["warnings"]) or _NO_USAGE)
        return
    cur = res.get("currency") or ""
    emit_table(f"Effect of reaching each adoption level ({confidence:.0%} intervals; cost and "
               "lead time in log points, −0.10 ≈ 10 % lower; change fail in ratio points)",
               ["level", "teams / comparison", "cost/unit", "lead time", "change fail",
                f"spend ({cur})", f"savings ({cur})", "return"],
               [(r["level"], f"{r['adopted_teams']} / {r['control_teams']}",
                 _span(r, ids.AI_EFFECT_COST_TO_SERVE), _span(r, ids.AI_EFFECT_LEAD_TIME),
                 _span(r, ids.AI_EFFECT_CHANGE_FAIL_RATE, 3),
                 f"{r['spend_amount']:,.0f}",
                 "–" if r.get("attributed_savings") is None else f"{r['attributed_savings']:,.0f}",
                 _span(r, ids.AI_RETURN_ON_SPEND, 1)) for r in levels])
    for t in res["tensions"]:
        click.echo(f"⚠ tension ({t['severity']}): {t['message']}")
    for r in levels:
        notes = sorted({w for ws in r["warnings"].values() for w in ws})
        for w in notes:
            click.echo(f"  {r['level']}: {w}")
    for w in res["warnings"]:
        click.echo(f"⚠ {w}")
