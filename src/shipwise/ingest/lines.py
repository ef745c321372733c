"""Reading text files line by line without trusting them: bounded memory, strict UTF-8, a BOM.

:func:`physical_lines` yields every line of a file with its number. A line longer than the record
size limit is never held whole: its first KiB is kept for the quarantine and the rest is skipped
in bounded reads. :func:`csv_records` groups lines into CSV records (a quoted field may span lines)
and says why a record cannot be read — an unclosed quote, a malformed field, invalid UTF-8, the
size limit — so each bad record can be quarantined on its own and the next one read normally.
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, NamedTuple

BOM = b"\xef\xbb\xbf"
#: How much of an oversize record is kept in the quarantine.
KEEP_BYTES = 1024
_SKIP_BYTES = 1024 * 1024

NOT_UTF8 = "not valid UTF-8 text"


def too_large(limit: int) -> str:
    return f"record larger than {limit} bytes (setting ingest.max_record_bytes)"


class Line(NamedTuple):
    no: int
    #: the text (invalid bytes kept as surrogate escapes when ``utf8_ok`` is false); for an
    #: oversize line, its first :data:`KEEP_BYTES` only
    text: str
    size: int
    utf8_ok: bool = True
    oversize: bool = False


def shown(text: str) -> str:
    """Text safe to store: invalid bytes (surrogate escapes) as ``\\xNN``."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _decode(data: bytes) -> tuple[str, bool]:
    try:
        return data.decode("utf-8"), True
    except UnicodeDecodeError:
        return data.decode("utf-8", "surrogateescape"), False


def physical_lines(fh: BinaryIO, limit: int) -> Iterator[Line]:
    """Every line of ``fh`` (without its ``\\n`` / ``\\r\\n``), a UTF-8 BOM at the start removed."""
    no = 0
    while True:
        buf = fh.readline(limit + 1)
        if not buf:
            return
        no += 1
        if no == 1 and buf.startswith(BOM):
            buf = buf[len(BOM):]
            if not buf.endswith(b"\n"):  # the BOM took part of the read: read as far again
                buf += fh.readline(len(BOM))
        ended = buf.endswith(b"\n")
        if ended or len(buf) <= limit:
            data = buf[:-1] if ended else buf
            if data.endswith(b"\r"):
                data = data[:-1]
            try:
                yield Line(no, data.decode("utf-8"), len(data))
            except UnicodeDecodeError:
                yield Line(no, data.decode("utf-8", "surrogateescape"), len(data), False)
            continue
        size = len(buf)  # longer than the limit: keep the head, skip the rest of the line
        head = buf[:KEEP_BYTES]
        while True:
            more = fh.readline(_SKIP_BYTES)
            size += len(more)
            if not more or more.endswith(b"\n"):
                break
        text, _ = _decode(head)
        yield Line(no, text, size, oversize=True)


@dataclass(frozen=True)
class Record:
    """One CSV record: its fields, or why it cannot be read (and the text as read)."""

    line: int
    fields: list[str] | None
    reason: str | None = None
    raw: str = ""


class _Broken(Exception):
    """The record being read ran into a line that cannot belong to it."""


class _Feed:
    """Physical lines for :mod:`csv`, remembering which lines the current record used."""

    def __init__(self, lines: Iterator[Line], limit: int) -> None:
        self.src = lines
        self.limit = limit
        self.replay: deque[Line] = deque()
        self.taken: list[Line] = []
        self.size = 0

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        item = self.replay.popleft() if self.replay else next(self.src)
        self.taken.append(item)
        if len(self.taken) > 1:
            self.size += item.size + 1
            if item.oversize or self.size > self.limit:
                raise _Broken
        else:
            self.size = item.size
            if item.oversize:
                raise _Broken
        return item.text + "\n"

    def begin(self) -> None:
        self.taken = []
        self.size = 0


def csv_records(fh: BinaryIO, limit: int, delimiter: str = ",") -> Iterator[Record]:
    """The records of a CSV file (header first), each readable or with the reason it is not.

    RFC 4180 quoting; a quoted field may hold line breaks. A quote left open (at the end of the
    file, or before the record grows past ``limit``) makes that record's first line bad —
    "unclosed quote" — and reading goes on with the line after it.
    """
    feed = _Feed(physical_lines(fh, limit), limit)
    while True:
        reader = csv.reader(feed, delimiter=delimiter, strict=True)
        while True:
            feed.begin()
            try:
                fields = next(reader)
            except StopIteration:
                if not feed.taken:
                    return
                yield _unclosed(feed)  # end of file inside a quoted field
                break
            except _Broken:
                first = feed.taken[0]
                if len(feed.taken) == 1:  # a line too large on its own
                    yield Record(first.no, None, too_large(limit),
                                 shown(first.text) + f"… [{first.size} bytes, cut]")
                    continue
                yield _unclosed(feed)
                break  # the reader is mid-field: start a new one on the replayed lines
            except csv.Error as exc:
                if "unexpected end of data" in str(exc):
                    yield _unclosed(feed)
                    break
                yield Record(feed.taken[0].no, None, f"CSV: {exc}", _text(feed.taken))
                continue
            if any(not line.utf8_ok for line in feed.taken):
                yield Record(feed.taken[0].no, None, NOT_UTF8, _text(feed.taken))
                continue
            yield Record(feed.taken[0].no if feed.taken else 0, fields)


def _text(lines: list[Line]) -> str:
    return shown("\n".join(line.text for line in lines))


def _unclosed(feed: _Feed) -> Record:
    """The first line of the record is bad; the lines read after it are read again."""
    first, rest = feed.taken[0], feed.taken[1:]
    feed.replay.extendleft(reversed(rest))
    feed.taken = []
    return Record(first.no, None, f"CSV: unclosed quote (a quoted field opened on line {first.no} "
                  "never closes)", shown(first.text))
