"""On-call rota shifts from PagerDuty's ``GET /oncalls`` as canonical ``oncall_shift`` records.

PagerDuty answers ``/oncalls`` with the on-call entries of a time range (``since``/``until``, at
most 90 days) and **clips** each entry's ``start`` and ``end`` to that range: a shift read in two
ranges comes back as two fragments, and a shift that began before ``since`` comes back starting
at ``since``. A shift's id is ``<source>:<schedule id>:<start>`` (UTC), so its true start must be
known, or a re-read would store a fragment beside the whole shift. :class:`ShiftReader` makes
sure of that:

* ranges start and end on whole UTC days and are read oldest first, in :data:`WINDOW` steps; an
  entry ending at a range's ``until`` is held back and joined with its continuation (same
  schedule, same user, starting at that instant) in the next range, so a shift is emitted once,
  with its true start;
* an entry starting at the first range's ``since`` began before it: it was stored, whole, by an
  earlier sync (see the cursor below) and is left out — except at ``from``, the very first
  instant ever read, where the clipped start is the one stored before (its id does not change);
* the cursor (``until``) never passes the start of a shift still held at the end (clipped at the
  last ``until``, i.e. not over yet), so the next sync's first range, ``until`` minus
  ``oncall_overlap_days``, starts before it and reads it whole.

Only ``escalation_level`` 1 counts (who is paged first); an entry without a schedule (a user
put directly on an escalation policy) names no rota and is left out. The person is the user's
e-mail (``/users``), pseudonymised by the importer; a schedule no ``schedules:`` entry maps is
not asked for (``shipwise doctor`` lists PagerDuty schedules left unmapped).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shipwise.connectors.http import Params
from shipwise.connectors.incidents import instant
from shipwise.connectors.pagerduty.client import PagerDutyClient, iso

#: /oncalls ranges are read in steps this long (PagerDuty refuses more than 90 days).
WINDOW = timedelta(days=30)


def day_floor(t: datetime) -> datetime:
    return datetime(t.year, t.month, t.day, tzinfo=UTC)


def day_ceil(t: datetime) -> datetime:
    floor = day_floor(t)
    return floor if floor == t else floor + timedelta(days=1)


def _instant(value: Any) -> datetime | None:
    t = instant(value)
    return t.astimezone(UTC) if t is not None else None


def _ref_id(obj: Any) -> str:
    return str(obj.get("id") or "") if isinstance(obj, Mapping) else ""


@dataclass
class Entry:
    """One first-level /oncalls entry: ``start``/``end`` as PagerDuty gave them (maybe clipped);
    ``first`` is the true start once joined with what came before."""

    schedule: str
    user: str
    start: datetime
    end: datetime | None
    raw: Mapping[str, Any]
    first: datetime | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.schedule, self.user


def entry(x: Mapping[str, Any]) -> Entry | None:
    """The entry of a first-level on-call of a schedule; None for the others (other levels,
    no schedule). A missing or unreadable start/end is kept (the importer quarantines it)."""
    if x.get("escalation_level") != 1:
        return None
    schedule = _ref_id(x.get("schedule"))
    if not schedule:
        return None
    start = _instant(x.get("start"))
    if start is None:
        start = datetime.min.replace(tzinfo=UTC)  # unreadable: kept whole, quarantined
    return Entry(schedule, _ref_id(x.get("user")), start, _instant(x.get("end")), x)


class ShiftReader:
    """Reads /oncalls for ``schedule_ids`` from ``since`` to ``until`` (whole days), yielding
    ``(entries done, cursor until)`` per range: the entries are whole (true start) except those
    still held at the very end, which the cursor does not pass."""

    def __init__(self, client: PagerDutyClient, schedule_ids: list[str], *, since: datetime,
                 until: datetime, now: datetime, first_ever: datetime) -> None:
        self.client = client
        self.schedule_ids = schedule_ids
        self.since = day_floor(since)
        self.until = day_ceil(until)
        self.now = now
        self.first_ever = first_ever

    def ranges(self) -> Iterator[tuple[datetime, datetime]]:
        start = self.since
        while start < self.until:
            end = min(start + WINDOW, self.until)
            yield start, end
            start = end

    def read(self) -> Iterator[tuple[list[Entry], datetime]]:
        held: dict[tuple[str, str], Entry] = {}
        for a, b in self.ranges():
            done: list[Entry] = []
            joined: dict[tuple[str, str], Entry] = {}
            params: Params = {"schedule_ids[]": list(self.schedule_ids), "since": iso(a),
                              "until": iso(b), "time_zone": "UTC"}
            for page in self.client.pages("oncalls", "oncalls", params):
                for x in page:
                    e = entry(x)
                    if e is None:
                        continue
                    if e.start <= a:  # clipped at ``since`` (or starting exactly there)
                        before = held.pop(e.key, None)
                        if before is not None and before.end == a:
                            e.first = before.first or before.start
                        elif a == self.since and a != self.first_ever:
                            continue  # stored whole by an earlier sync
                    if e.end is not None and e.end >= b and b < self.until:
                        joined[e.key] = e  # continues in the next range
                        continue
                    done.append(e)
            # what was held but not continued ended at the range boundary after all
            done.extend(held.values())
            held = joined
            if b == self.until:  # the last range holds nothing: what reaches ``until`` is done
                yield done, cursor_until(done, b, self.now)
            else:
                yield done, min([b, self.now, *(h.first or h.start for h in held.values())])


def cursor_until(entries: list[Entry], until: datetime, now: datetime) -> datetime:
    """Where the next sync may start reading (before its overlap): not past now, nor past the
    start of a shift that was still going on at ``until`` (read clipped there)."""
    mark = min(now, until)
    for e in entries:
        if e.end is None or e.end >= until:
            mark = min(mark, e.first or e.start)
    return mark


def shift_row(source: str, e: Entry, team: str, person: Callable[[str], str | None]
              ) -> dict[str, Any]:
    """The canonical ``oncall_shift`` of an entry (a user without an e-mail keeps their
    PagerDuty id, pseudonymised like any person; no user: missing, quarantined)."""
    start = e.first or e.start
    return {"id": f"{source}:{e.schedule}:{iso(start)}", "team": team,
            "person": (person(e.user) or f"pagerduty:{e.user}") if e.user else None,
            "starts_at": start,
            "ends_at": e.end, "schedule": e.schedule,
            "source": f"pagerduty:{source} schedule {e.schedule} {iso(start)}"}
