"""Rendering results as a Rich table, JSON or CSV."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

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


def duration(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    s = float(seconds)
    if s < 3600:
        return f"{s / 60:.0f}m"
    if s < 86400 * 2:
        return f"{s / 3600:.1f}h"
    return f"{s / 86400:.1f}d"


def percent(x: float | None) -> str | None:
    return None if x is None else f"{100 * x:.1f}%"


def number(x: float | None, digits: int = 2) -> str | None:
    return None if x is None else f"{x:.{digits}f}"
