"""Rendering results as a Rich table, JSON or CSV."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from shipwise.metrics.formatting import CLI, number, percent, render
from shipwise.metrics.formatting import short_duration as duration

__all__ = ["FORMATS", "cell", "duration", "emit_csv", "emit_json", "emit_table", "number",
           "percent"]

FORMATS = ("table", "json", "csv")


def _default(o: Any) -> Any:
    if isinstance(o, datetime | date):
        return o.isoformat()
    return str(o)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=_default) + "\n")


def emit_csv(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(headers)
    for r in rows:
        w.writerow(["" if v is None else v for v in r])


def emit_table(title: str | None, headers: Sequence[str], rows: Sequence[Sequence[Any]],
               *, justify_right: Sequence[int] = ()) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title, show_lines=False, header_style="bold")
    # Piped output gets a wide table instead of Rich's 80-column default.
    for i, h in enumerate(headers):
        t.add_column(h, justify="right" if i in justify_right else "left", overflow="fold")
    for r in rows:
        t.add_row(*["–" if v is None else str(v) for v in r])
    Console(width=None if sys.stdout.isatty() else 160).print(t)


def cell(metric_id: str, value: Any) -> str | None:
    """A metric's value in a CLI table, by its registry format (None: no value)."""
    return render(metric_id, value, CLI)
