"""The report's inline style sheet, for screen and for A4 print."""

from __future__ import annotations

CSS = """
:root { --ink:#1f2937; --muted:#6b7280; --line:#e5e7eb; --blue:#1f5fa8; --blue-bg:#eef4fb;
        --amber:#b45309; --amber-bg:#fff7e6; --amber-line:#f0b44c; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font-family: "Liberation Sans", "DejaVu Sans", Arial, Helvetica, sans-serif;
       color: var(--ink); margin: 0 auto; max-width: 960px; padding: 28px 32px 48px;
       font-size: 15px; line-height: 1.45; background: #fff; }
h1 { font-size: 28px; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 20px; margin: 30px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--ink);
     break-after: avoid; }
h3 { font-size: 15px; margin: 0; }
p { margin: 6px 0 10px; }
.sub { color: var(--muted); margin: 0 0 18px; font-size: 13px; }
.lede { font-size: 16.5px; margin: 14px 0 6px; }
.muted { color: var(--muted); }
.small { font-size: 12.5px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(180px, 1fr)); gap: 12px;
         margin: 16px 0 8px; }
.tile { border: 1px solid var(--line); border-top: 5px solid var(--blue); border-radius: 6px;
        padding: 10px 14px 12px; background: #fff; break-inside: avoid; }
.tile .big { font-size: 30px; font-weight: 700; line-height: 1.1; color: var(--blue); }
.tile.neg { border-top-color: var(--amber); } .tile.neg .big { color: var(--amber); }
.tile .what { font-size: 12.5px; color: var(--ink); margin-top: 4px; }
figure { margin: 14px 0 6px; break-inside: avoid; }
figcaption { font-size: 12.5px; color: var(--muted); margin-top: 2px; }
svg.chart { width: 100%; height: auto; display: block; overflow: visible; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; margin: 8px 0 6px; }
thead { display: table-header-group; }
th, td { padding: 5px 7px; border-bottom: 1px solid var(--line); text-align: right;
         vertical-align: baseline; }
th { font-weight: 700; background: #f3f4f6; border-bottom: 1px solid #cbd0d6; }
th:first-child, td:first-child, th.l, td.l { text-align: left; }
td.nw, #tension td { white-space: nowrap; }
tr { break-inside: avoid; }
td.flag { background: var(--amber-bg); color: var(--amber); font-weight: 700; }
.warn { border: 1px solid var(--amber-line); border-left: 6px solid var(--amber);
        background: var(--amber-bg); border-radius: 4px; padding: 7px 10px; margin: 8px 0 2px;
        font-size: 13px; }
.warn strong { color: var(--amber); }
.warn ul { margin: 2px 0 0 18px; padding: 0; }
.note { border-left: 4px solid var(--blue); background: var(--blue-bg); padding: 7px 11px;
        font-size: 13px; margin: 10px 0; }
.initiative { border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px;
              margin: 12px 0; break-inside: avoid; }
.initiative.caution { border-color: var(--amber-line); }
.figs { display: grid; grid-template-columns: 0.8fr 1fr 1.3fr 1fr; gap: 8px; margin: 8px 0 4px; }
.fig .k { font-size: 12px; color: var(--muted); }
.fig .v { font-size: 18px; font-weight: 700; }
.fig .r { font-size: 12px; color: var(--muted); }
.unit-group { margin-top: 16px; }
.unit-group > h3 { font-size: 13px; text-transform: uppercase; letter-spacing: .05em;
                   color: var(--muted); margin: 0 0 6px; break-after: avoid; }
.cards { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 9px 12px 8px;
        break-inside: avoid; background: #fff; }
.card.flagged { border-color: var(--amber-line); }
.card header { display: flex; justify-content: space-between; align-items: baseline; gap: 8px; }
.card header .muted { font-size: 12px; }
.card .facts { display: grid; grid-template-columns: 0.85fr 1.35fr 1.05fr 0.85fr; gap: 2px 6px;
               margin-top: 4px; border-top: 1px solid var(--line); padding-top: 4px; }
.card .facts .k { font-size: 11px; color: var(--muted); line-height: 1.2; }
.card .facts .v { font-size: 13px; font-weight: 700; }
.card .warn { font-size: 12px; padding: 5px 8px; }
.card .warn ul { margin-left: 14px; }
.card .info { font-size: 12px; color: var(--muted); margin: 4px 0 0; }
dl.defs { margin: 8px 0; }
dl.defs dt { font-weight: 700; margin-top: 10px; break-after: avoid; }
dl.defs dt .unit { font-weight: 400; color: var(--muted); font-size: 12.5px; }
dl.defs dd { margin: 2px 0 0 0; font-size: 13.5px; break-inside: avoid; }
footer { margin-top: 28px; font-size: 11.5px; color: var(--muted);
         border-top: 1px solid var(--line); padding-top: 6px; }
.page { break-before: page; }
@page { size: A4; margin: 14mm 13mm 16mm 13mm;
        @bottom-left { content: __FOOTER__; font-size: 8pt; color: #6b7280;
                       font-family: "Liberation Sans", "DejaVu Sans", Arial, sans-serif; }
        @bottom-right { content: "Page " counter(page) " of " counter(pages); font-size: 8pt;
                        color: #6b7280;
                        font-family: "Liberation Sans", "DejaVu Sans", Arial, sans-serif; } }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  h1 { font-size: 21pt; } h2 { font-size: 14pt; margin-top: 14pt; }
  .lede { font-size: 11.5pt; }
  .tile .big { font-size: 21pt; }
  table { font-size: 8.5pt; }
  .fig .v { font-size: 13pt; }
  .card .warn, .card .info { font-size: 8.5pt; }
  .card .facts .k { font-size: 7.5pt; } .card .facts .v { font-size: 9.5pt; }
  .tiles { grid-template-columns: repeat(4, 1fr); gap: 8px; margin: 10px 0 4px; }
  .tile { padding: 7px 10px 8px; } .tile .what { font-size: 8.5pt; }
  th, td { padding: 3px 6px; }
  figure { margin: 8px 0 4px; }
  footer { display: none; }
}
"""


def css_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'
