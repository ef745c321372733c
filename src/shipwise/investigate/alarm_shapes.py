"""What every alarm parser returns (:class:`AlarmBatch`), and the small helpers they share
(:mod:`shipwise.investigate.alarms`, :mod:`shipwise.investigate.alarm_vendors`)."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from shipwise.errors import InputError
from shipwise.investigate.case import Alarm, parse_time

DOCS = "see docs/alarms.md for the payload shapes"
#: Numbers above this are epoch milliseconds (as seconds it would be the year 5138).
MILLIS = 1e11


@dataclass(frozen=True)
class Notice:
    """A notification that is not a firing alarm: a resolved alert, an OK alarm, a closed problem."""

    key: str
    state: str
    name: str
    entity: str | None = None


@dataclass(frozen=True)
class Subscription:
    """An SNS subscription handshake; an operator confirms it by opening ``subscribe_url``."""

    type: str  # SubscriptionConfirmation | UnsubscribeConfirmation
    topic_arn: str
    message_id: str
    subscribe_url: str | None


@dataclass(frozen=True)
class AlarmBatch:
    """Everything one payload said: firing alarms, resolved notices, or an SNS handshake."""

    kind: str
    alarms: tuple[Alarm, ...] = ()
    resolved: tuple[Notice, ...] = ()
    subscription: Subscription | None = None


def instant(value: Any, where: str, *, millis: bool = False) -> float:
    """Epoch seconds of a time field; numbers are seconds (or milliseconds with ``millis``)."""
    if isinstance(value, bool) or value is None:
        raise InputError(f"{where}: not a time: {value!r}",
                         hint="use ISO-8601 with an offset (2026-11-22T10:15:00Z) or epoch seconds")
    try:
        t = parse_time(value)
    except InputError as exc:
        raise InputError(f"{where}: {exc}", hint=exc.hint) from exc
    if not math.isfinite(t):
        raise InputError(f"{where}: not a time: {value!r}",
                         hint="use ISO-8601 with an offset (2026-11-22T10:15:00Z) or epoch seconds")
    if millis and t > MILLIS:
        t /= 1000.0
    if t > MILLIS:
        raise InputError(f"{where}: {value!r} is too large for epoch seconds",
                         hint="send epoch seconds, not milliseconds, or ISO-8601")
    if t <= 0:
        raise InputError(f"{where}: {value!r} is not a real instant", hint="send when it started")
    return t


def number(value: Any) -> float | str | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return str(value)
    return number if math.isfinite(number) else str(value)


def digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def compact(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None and v != ""}
