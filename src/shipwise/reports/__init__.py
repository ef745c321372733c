"""Reports for people who do not read dashboards: self-contained HTML, and PDF from it."""

from __future__ import annotations

from shipwise.reports.cost_report import render_html, write_report

__all__ = ["render_html", "write_report"]
