"""The terminal's output in one place: how each kind of number reads in a CLI table, and the
tables themselves (Rich), JSON and CSV.

One format per kind, in every command's table:

* money with its currency: ``$470,654``, ``-$43,763``, ``€1,200``, ``470,654 CHF``;
* durations for people: ``45 s``, ``12 min``, ``2 h 15 min``, ``3.2 d``;
* counts as integers with thousands separators: ``1,000``;
* shares as percentages: ``12.3%``; multiples of a rate: ``14.4×``; other rates as decimals.

``--format json`` and ``--format csv`` never go through these: they keep the raw values.

Tables fit the terminal (``COLUMNS``, else the terminal's width; 160 when piped): identifiers
and numbers are never broken across lines; only prose columns wrap, at spaces. A table wider
than the terminal is split into several tables that repeat its key columns (team, period).
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from shipwise.metrics.registry import REGISTRY

__all__ = ["FORMATS", "cell", "count", "duration", "emit_csv", "emit_json", "emit_note", "emit_table",
           "money", "multiple", "number", "percent", "span", "table_width"]

FORMATS = ("table", "json", "csv")

#: Currencies written with a symbol before the amount; any other code follows it ("470 CHF").
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
#: Width of a table when output is piped and COLUMNS is not set.
PIPED_WIDTH = 160
#: A prose column (flags, warnings, sentences) wraps at spaces; it is at least this wide when
#: its words allow (longer words set its width; none is ever broken).
PROSE_WIDTH = 24


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def money(x: float | None, currency: str | None = None, digits: int = 0) -> str | None:
    """``470654.2, "USD"`` -> ``$470,654``; ``-43763, "EUR"`` -> ``-€43,763``;
    ``470654, "CHF"`` -> ``470,654 CHF``; no currency: ``470,654``."""
    if x is None or _missing(x):
        return None
    v = round(float(x), digits)
    sign = "-" if v < 0 else ""
    body = f"{abs(v):,.{digits}f}"
    cur = (currency or "").upper()
    if cur in _SYMBOLS:
        return f"{sign}{_SYMBOLS[cur]}{body}"
    return f"{sign}{body} {cur}" if cur else f"{sign}{body}"


def duration(seconds: float | None) -> str | None:
    """``45`` -> ``45 s``; ``720`` -> ``12 min``; ``8100`` -> ``2 h 15 min``; ``7200`` -> ``2 h``;
    ``276480`` -> ``3.2 d`` (a day or more: days with one decimal)."""
    if seconds is None or _missing(seconds):
        return None
    s = float(seconds)
    if s < 0:
        return "-" + (duration(-s) or "")
    if s < 59.5:
        return f"{s:.0f} s"
    minutes = round(s / 60)
    if minutes < 60:
        return f"{minutes} min"
    if s < 86400:
        h, m = divmod(minutes, 60)
        return f"{h} h {m} min" if m else f"{h} h"
    return f"{s / 86400:.1f} d"


def count(x: float | None) -> str | None:
    """``1000`` -> ``1,000``; ``4.0`` -> ``4``."""
    return None if x is None or _missing(x) else f"{round(float(x)):,}"


def percent(x: float | None, digits: int = 1) -> str | None:
    """A share: ``0.1234`` -> ``12.3%``."""
    return None if x is None or _missing(x) else f"{100 * float(x):.{digits}f}%"


def number(x: float | None, digits: int = 2) -> str | None:
    """A plain decimal (a rate, a score): ``1234.5`` -> ``1,234.50``."""
    return None if x is None or _missing(x) else f"{float(x):,.{digits}f}"


def multiple(x: float | None, digits: int = 1) -> str | None:
    """A multiple of something: ``14.44`` -> ``14.4×``."""
    return None if x is None or _missing(x) else f"{float(x):,.{digits}f}×"


def span(low: str | None, high: str | None) -> str | None:
    """An interval of two formatted values: ``$4,577,733 … $5,920,478``."""
    return None if low is None or high is None else f"{low} … {high}"


def cell(metric_id: str, value: Any, currency: str | None = None) -> str | None:
    """A metric's value in a CLI table, by its registry format (None: no value). Money needs
    the answer's currency."""
    if _missing(value):
        return None
    if isinstance(value, str):  # a state (release appetite)
        return value
    m = REGISTRY.get(metric_id)
    fmt, digits = (m.format, m.cli_digits) if m else ("number", 2)
    if fmt == "duration":
        return duration(value)
    if fmt == "percent":
        return percent(value, digits)
    if fmt == "money":
        return money(value, currency, digits)
    if fmt == "count":
        return count(value)
    if fmt == "multiple":
        return multiple(value, digits)
    return number(value, digits)


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


def table_width() -> int:
    """The width tables are laid out for: ``COLUMNS`` when set, else the terminal's width, else
    (output piped to a file or program) ``PIPED_WIDTH``."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if sys.stdout.isatty():
        return os.get_terminal_size(sys.stdout.fileno()).columns
    return PIPED_WIDTH


def _plain(v: Any) -> str:
    from rich.text import Text

    return Text.from_markup(str(v)).plain if "[" in str(v) else str(v)


def _cells(s: str) -> int:
    from rich.cells import cell_len

    return cell_len(s)


def emit_table(title: str | None, headers: Sequence[str], rows: Sequence[Sequence[Any]],
               *, justify_right: Sequence[int] = (), key: int = 1,
               groups: Sequence[int] = (), wrap: Sequence[int] | None = None,
               width: int | None = None) -> None:
    """Print a table that fits ``width`` (default :func:`table_width`).

    ``key``: how many leading columns identify a row (repeated when the table is split);
    ``groups``: indices where a group of columns starts that a split keeps together [default:
    every column on its own];
    ``wrap``: the prose columns, which wrap at spaces [default: those with a cell longer than
    30 characters that has spaces]. Every other column is never wrapped."""
    from rich.console import Console

    width = width or table_width()
    text = [["–" if v is None else str(v) for v in r] for r in rows]
    plain = [[_plain(v) for v in r] for r in text]
    n = len(headers)
    columns = [[str(headers[i]), *(r[i] for r in plain)] for i in range(n)]
    if wrap is None:
        wrap = [i for i in range(n) if any(len(v) > 30 and " " in v.strip() for v in columns[i][1:])]
    natural, least = [], []
    for i, col in enumerate(columns):
        lines = [line for v in col for line in v.split("\n")]
        natural.append(max((_cells(line) for line in lines), default=1))
        words = [w for line in lines for w in line.split()]
        longest = max((_cells(w) for w in words), default=1)
        least.append(max(longest, min(natural[-1], PROSE_WIDTH)) if i in wrap else natural[-1])

    def fits(cols: Sequence[int]) -> bool:  # 1 space of padding each side, a rule between
        return sum(least[i] + 3 for i in cols) - 3 <= width

    key = min(key, n)
    starts = sorted({*(g for g in groups or range(n) if key < g < n), key})
    blocks = [list(range(a, b)) for a, b in zip(starts, [*starts[1:], n], strict=True) if a < b]
    chunks: list[list[int]] = []
    for block in blocks:
        if chunks and fits([*range(key), *chunks[-1], *block]):
            chunks[-1].extend(block)
        else:
            chunks.append(list(block))
    parts = [[*range(key), *c] for c in chunks] or [list(range(n))]
    console = Console(width=width, highlight=False)
    for p, cols in enumerate(parts):
        t = _table(title if p == 0 else (f"{title} (continued)" if title else None), headers,
                   text, cols, justify_right, wrap, least if fits(cols) else None)
        console.print(t)


def emit_note(text: str, *, width: int | None = None) -> None:
    """A sentence under a table, wrapped at spaces to the table's width."""
    from rich.console import Console

    Console(width=width or table_width(), highlight=False).print(text, markup=False)


def _table(title: str | None, headers: Sequence[str], text: Sequence[Sequence[str]],
           cols: Sequence[int], justify_right: Sequence[int], wrap: Sequence[int],
           least: Sequence[int] | None) -> Any:
    from rich.table import Table

    t = Table(title=title, show_lines=False, header_style="bold", show_edge=False,
              pad_edge=False)
    for i in cols:
        # the least width keeps words whole; without it (a column wider than the terminal on its
        # own) Rich folds rather than crops
        t.add_column(headers[i], justify="right" if i in justify_right else "left",
                     no_wrap=i not in wrap and least is not None, overflow="fold",
                     min_width=least[i] if least is not None else None)
    for r in text:
        t.add_row(*[r[i] for i in cols])
    return t
