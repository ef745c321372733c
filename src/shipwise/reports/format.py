"""Number, money, percentage and period formatting for the reports, and HTML escaping.

Missing, non-numeric and NaN values print as an em dash; negative numbers use a true minus sign.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Decimal
from html import escape
from typing import Any

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "AUD": "A$", "CAD": "C$"}
MINUS = "\u2212"


def esc(text: object) -> str:
    return escape(str(text), quote=True)


def as_float(v: Any) -> float | None:
    """A finite float, or None for a missing / non-numeric / NaN value."""
    if isinstance(v, bool) or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _signed(text: str, v: float) -> str:
    return f"{MINUS}{text}" if v < 0 else text


def fmt_money(v: Any, currency: str | None, *, decimals: int | None = None) -> str:
    """``$2,100,000``, ``−$12,500``, ``€5,802.50``; codes without a symbol go after the amount."""
    f = as_float(v)
    if f is None:
        return "—"
    if decimals is None:
        decimals = 0 if abs(f) >= 100 or f == int(f) else 2
    rounded = Decimal(repr(abs(f))).quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP)
    body = f"{rounded:,.{decimals}f}"
    code = (currency or "").upper()
    sym = CURRENCY_SYMBOLS.get(code)
    text = f"{sym}{body}" if sym else (f"{body} {code}" if code else body)
    return _signed(text, f)


def fmt_pct(v: Any, *, signed: bool = False, decimals: int | None = None) -> str:
    """``15%``, ``3.6%``; signed: ``+5%``, ``−35%``; ``decimals`` fixes the precision."""
    f = as_float(v)
    if f is None:
        return "—"
    p = abs(f) * 100
    if decimals is None:
        decimals = 1 if 0 < p < 10 and round(p, 1) != round(p) else 0
    body = f"{p:,.{decimals}f}%"
    if float(body[:-1].replace(",", "")) == 0:
        return body
    if f < 0:
        return f"{MINUS}{body}"
    return f"+{body}" if signed else body


def fmt_num(v: Any, *, decimals: int | None = None) -> str:
    """``1,234``, ``9.4``, ``0.12``, ``0.036``."""
    f = as_float(v)
    if f is None:
        return "—"
    if decimals is None:
        a = abs(f)
        decimals = 0 if a >= 100 else 1 if a >= 10 else 2 if a >= 0.1 or a == 0 else 3
    return _signed(f"{abs(f):,.{decimals}f}", f)


def singular(unit: str | None) -> str:
    u = (unit or "unit").strip().replace("_", " ")
    if u.endswith("ies"):
        return u[:-3] + "y"
    if u.endswith("s") and not u.endswith("ss"):
        return u[:-1]
    return u


def humanise(metric_id: str) -> str:
    name = metric_id.split(".", 1)[-1].replace("_", " ")
    return name[:1].upper() + name[1:]


def period_key(p: Any) -> str:
    return str(p)


def year_before(period: str) -> str | None:
    m = re.match(r"^(\d{4})(.*)$", period)
    return f"{int(m.group(1)) - 1}{m.group(2)}" if m else None
