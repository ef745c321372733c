"""The CFO's cost-to-serve report: one self-contained HTML page, and an A4 PDF printed from it.

Built from the JSON shapes of the cost service (``cost``), the initiative-effects service
(``initiatives``) and the metric definitions. Read in five minutes, in this order:

1. the headline: the organisation's improvement in cost to serve for the latest period, what it
   saved and the capacity it gave back, in one sentence;
2. the organisation's trend by period;
3. what the initiatives did, each effect with its interval and its caveats shown prominently;
   then what AI-assisted development did (adoption's effect, AI spend and return, agent changes);
4. each team against its own history (alphabetical by org unit and team, never by performance),
   with its tension flags beside it;
5. the tension metrics beside cost to serve for the latest period;
6. the definitions.

The HTML carries all of its CSS and charts inline (SVG drawn in :mod:`shipwise.reports.charts`):
it loads nothing, so it opens the same offline, in a mail client or in an archive years later.
PDF is printed from the same HTML by headless Chromium (``chromium`` on Debian): see
:mod:`shipwise.reports.pdf`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from shipwise.errors import InputError
from shipwise.metrics import ids
from shipwise.reports.ai_section import ai_section
from shipwise.reports.format import esc, fmt_money, fmt_num, fmt_pct, period_key
from shipwise.reports.model import Defs, baseline_words, collect_teams
from shipwise.reports.pdf import html_to_pdf
from shipwise.reports.sections import (
    definitions_section,
    headline_section,
    initiatives_section,
    team_section,
    tension_section,
    trend_section,
)
from shipwise.reports.style import CSS, css_string

__all__ = ["fmt_money", "fmt_num", "fmt_pct", "render_html", "write_report"]


def render_html(cost: dict, initiatives: dict, definitions: list[dict], *,
                title: str = "Cost to Serve Software", generated_at: str,
                ai: Mapping | None = None) -> str:
    """The whole report as one self-contained HTML document (inline CSS and SVG, no scripts)."""
    if not isinstance(cost, Mapping) or not isinstance(cost.get("rows", []), list):
        raise InputError("the cost data is not in the cost service's shape",
                         hint="pass the JSON of `shipwise cost --json` (an object with `rows`)")
    grain = str(cost.get("grain") or "period")
    baseline = str(cost.get("baseline") or "yoy")
    currency = cost.get("currency")
    defs = Defs(definitions or [], currency)
    improvement_id = ids.improvement(baseline)
    than = baseline_words(baseline, grain)
    teams = collect_teams(r for r in cost.get("rows") or [] if isinstance(r, Mapping))
    org = sorted((o for o in cost.get("organisation") or [] if isinstance(o, Mapping)),
                 key=lambda o: period_key(o.get("period")))
    inits = [i for i in ((initiatives or {}).get("initiatives") or []) if isinstance(i, Mapping)]

    parts: list[str] = []
    w = parts.append
    w("<!DOCTYPE html>")
    w('<html lang="en"><head><meta charset="utf-8">')
    w('<meta name="viewport" content="width=device-width, initial-scale=1">')
    w(f"<title>{esc(title)}</title>")
    footer = f"{title} · generated {generated_at}"
    w(f"<style>{CSS.replace('__FOOTER__', css_string(footer))}</style>")
    w("</head><body>")
    w(f"<h1>{esc(title)}</h1>")
    team_count = len(teams)
    cadence = {"quarter": "Quarterly", "month": "Monthly", "week": "Weekly",
               "year": "Yearly"}.get(grain, f"Per-{grain}")
    w(f'<p class="sub">{esc(cadence)} figures, each compared with {esc(than)} · '
      f"{team_count} team{'s' if team_count != 1 else ''} · amounts in {esc(currency or 'the cost data’s currency')}"
      f" · generated {esc(generated_at)}</p>")

    latest = max((period_key(r.get("period")) for t in teams for r in t.rows.values()),
                 default=None)
    whys = [str((r.get("missing") or {}).get(improvement_id)) for t in teams
            for p, r in t.rows.items() if p == latest and (r.get("missing") or {}).get(improvement_id)]
    w(headline_section(org, improvement_id, grain, baseline, than, currency,
                       why=whys[0] if whys and len(set(whys)) == 1 else None))
    w(trend_section(org, improvement_id, grain, than, currency))
    w(initiatives_section(inits, currency))
    if ai is not None:  # AI-assisted development: {"effect": …, "agents": organisation rows}
        w(ai_section(ai.get("effect"), ai.get("agents") or [], currency))
    w(team_section(teams, defs, improvement_id, than, currency))
    w(tension_section(teams, defs, improvement_id, than))
    w(definitions_section(definitions or [], than, currency))
    w(f"<footer>{esc(title)} · generated {esc(generated_at)} by shipwise</footer>")
    w("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(path: Path, cost: dict, initiatives: dict, definitions: list[dict], *,
                 generated_at: str, title: str = "Cost to Serve Software",
                 ai: Mapping | None = None) -> Path:
    """Write the report to ``path``: HTML for ``.html``/``.htm``, PDF for ``.pdf``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".html", ".htm", ".pdf"):
        raise InputError(f"cannot write a report as '{path.suffix or path.name}'",
                         hint="name the output FILE.html or FILE.pdf")
    html = render_html(cost, initiatives, definitions, title=title, generated_at=generated_at,
                       ai=ai)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the folder {path.parent}: {exc.strerror}",
                         hint="choose a writable output location") from exc
    if suffix == ".pdf":
        html_to_pdf(html, path)
    else:
        try:
            path.write_text(html, encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write {path}: {exc.strerror}",
                             hint="choose a writable output location") from exc
    return path
