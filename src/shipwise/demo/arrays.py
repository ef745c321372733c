"""Small vectorised numpy/Arrow helpers and the time units of the demo generator."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

TS = pa.timestamp("us", tz="UTC")
HOUR = 3_600.0
MINUTE = 60.0
DAY = 86_400.0
Arrays = dict[str, np.ndarray]


def _ln(rng: np.random.Generator, median: Any, sigma: float, n: int) -> np.ndarray:
    """Log-normal draws with the given median(s)."""
    return np.asarray(median) * np.exp(sigma * rng.standard_normal(n))


def _categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row of ``probs`` (rows need not be normalised); returns 0-based classes."""
    c = np.cumsum(probs, axis=1)
    c /= c[:, -1:]
    return (rng.random(int(probs.shape[0]))[:, None] > c).sum(axis=1)


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Poisson counts of shape (rows, days) -> (row, day) of every event."""
    flat = np.repeat(np.arange(counts.size), counts.ravel())
    return flat // counts.shape[1], flat % counts.shape[1]


def _smooth_counts(rng: np.random.Generator, lam: np.ndarray, burst: float = 0.2) -> np.ndarray:
    """Event counts per (row, day) that track the expected ``lam`` closely over weeks.

    Day-to-day the counts are bursty (a log-normal factor per day), but instead of independent
    Poisson draws the cumulative expectation is sampled systematically (random phase per row),
    so a team's quarterly volume stays within a few percent of its story. That keeps the trend
    of a team against itself readable at demo sizes.
    """
    noisy = lam * np.exp(burst * rng.standard_normal(lam.shape) - burst**2 / 2)
    cum = np.cumsum(noisy, axis=1) + rng.random((lam.shape[0], 1))
    cum = np.floor(cum)
    out = np.diff(cum, axis=1, prepend=np.floor(cum[:, :1] - noisy[:, :1]))
    return out.astype(np.int64)


def _segments(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For groups of the given lengths: group index and position within the group of each item."""
    group = np.repeat(np.arange(lengths.shape[0]), lengths)
    starts = np.cumsum(lengths) - lengths
    return group, np.arange(group.shape[0]) - starts[group]


def _concat(parts: list[Arrays]) -> Arrays:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _take(parts: Arrays, keep: np.ndarray) -> Arrays:
    return {k: v[keep] for k, v in parts.items()}


def _ids(prefix: str, n: int, width: int) -> pa.Array:
    nums = pa.array(np.arange(1, n + 1, dtype=np.int64)).cast(pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(nums, width=width, padding="0"), "")


_HEX_PAIRS = np.array(
    [int.from_bytes(f"{b:02x}".encode(), "little") for b in range(256)], dtype=np.uint16
)


def _shas(rng: np.random.Generator, n: int) -> pa.Array:
    """``n`` 40-hex-digit commit ids from the generator's random bytes."""
    raw = rng.integers(0, 256, size=(n, 20), dtype=np.uint8)
    data = _HEX_PAIRS[raw].tobytes()
    offsets = np.arange(0, 40 * (n + 1), 40, dtype=np.int64)
    arr = pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    return arr.cast(pa.string())


def _lists(lengths: np.ndarray, values: pa.Array, null: np.ndarray | None = None) -> pa.Array:
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    mask = None if null is None else pa.array(null)
    return pa.ListArray.from_arrays(pa.array(offsets), values, mask=mask)


def _strings(values: list[str], idx: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    arr = pa.array(values, pa.string()).take(pa.array(np.where(idx < 0, 0, idx)))
    if null is not None and null.any():
        arr = pc.if_else(pa.array(null), pa.scalar(None, pa.string()), arr)
    return arr
