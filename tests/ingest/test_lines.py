"""Reading lines without trusting them: a BOM at the start never splits a long first line."""

from __future__ import annotations

import io

import pytest

from shipwise.ingest.lines import BOM, physical_lines


@pytest.mark.parametrize("n", [1, 2045, 2048, 2049, 2050, 5000])
def test_a_bom_does_not_split_the_first_line(n: int) -> None:
    # found by tests/ingest/test_fuzz_import.py: the BOM took three bytes of the first bounded
    # read, so a first line just over the limit was read as a line and the rest as another
    lines = list(physical_lines(io.BytesIO(BOM + b"x" * n + b"\nyy\n"), 2048))
    assert [(line.no, line.oversize) for line in lines] == [(1, n > 2048), (2, False)]
    assert lines[1].text == "yy"
    if n <= 2048:
        assert lines[0].text == "x" * n
