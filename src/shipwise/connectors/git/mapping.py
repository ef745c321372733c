"""Pure conversions from git's representation to the canonical event format.

Git records a time as *seconds since the Unix epoch* (an absolute instant, i.e. already UTC) plus
the *offset* of the author's clock in minutes (``+0200`` -> ``120``). The offset says which
wall-clock time the author saw; it does not move the instant. ``2025-03-01T10:00:00+02:00`` is
stored as ``time=1740816000, offset=120`` and is ``2025-03-01T08:00:00Z``. Adding the offset to
``time`` (a common mistake) would shift every commit by its author's time zone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

#: The instants representable by :class:`datetime.datetime` (years 1 to 9999), as epoch seconds.
#: Git accepts any 64-bit value; a commit dated outside this range is corrupt or forged, and
#: its instant is reported as missing (null) so the importer quarantines it.
MIN_EPOCH = -62_135_596_800  # 0001-01-01T00:00:00Z
MAX_EPOCH = 253_402_300_799  # 9999-12-31T23:59:59Z

#: Offsets outside (-24 h, +24 h) cannot be represented by :class:`datetime.timezone`; git can
#: hold them (``+9999`` is accepted by ``git commit-tree``).
_MAX_OFFSET_MINUTES = 24 * 60 - 1


def git_time_to_utc(time: int, offset: int = 0) -> datetime | None:
    """The UTC instant of a git time (``time`` epoch seconds, ``offset`` minutes east of UTC).

    The result is time-zone aware, in UTC, and does not depend on ``offset`` (see the module
    docstring). ``None`` when ``time`` lies outside years 1 to 9999.
    """
    if not MIN_EPOCH <= time <= MAX_EPOCH:
        return None
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=time)


def git_local_time(time: int, offset: int) -> datetime | None:
    """The wall-clock time the author saw: the same instant, expressed at ``offset``.

    A bogus offset (24 hours or more) is replaced by UTC. ``None`` when out of range.
    """
    instant = git_time_to_utc(time)
    if instant is None:
        return None
    if abs(offset) > _MAX_OFFSET_MINUTES:
        return instant
    try:
        return instant.astimezone(timezone(timedelta(minutes=offset)))
    except OverflowError:  # near year 1 or 9999 the local time may not exist
        return instant


def epoch_micros(time: int) -> int | None:
    """``time`` (epoch seconds) as epoch microseconds, the storage of ``timestamp("us", "UTC")``.

    ``None`` when out of the range :func:`git_time_to_utc` accepts.
    """
    if not MIN_EPOCH <= time <= MAX_EPOCH:
        return None
    return time * 1_000_000


def person_id(name: str | None, email: str | None) -> str | None:
    """A person's id as git knows it: the email, or the name when the email is empty.

    Taken raw (no case folding, no mailmap); the importer pseudonymises it. ``None`` when both
    are empty or whitespace.
    """
    if email and email.strip():
        return email
    if name and name.strip():
        return name
    return None
