"""Deterministic randomness: stable hashes, seeded generators and stateless noise.

The metric model must give the same value when it evaluates the same instant twice (a live
exporter evaluates "now" on every scrape), so its noise is not drawn from a stream: it is a pure
function of ``(seed, entity, metric, time bucket)``, computed with a vectorised 64-bit mixer
(SplitMix64) and Box–Muller. Everything else (which target a fault picks, when events happen) comes
from :func:`rng_for`, a generator seeded from a stable hash of the world seed and a purpose tag,
so adding a draw in one place never shifts the draws of another.
"""

from __future__ import annotations

import hashlib

import numpy as np

_MASK = (1 << 64) - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def stable_u64(*parts: object) -> int:
    """A 64-bit hash of the parts that is the same in every process (unlike ``hash``)."""
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def rng_for(seed: int, *tags: object) -> np.random.Generator:
    """A generator for one purpose of one seeded world."""
    return np.random.default_rng(stable_u64("rng", seed, *tags))


def hex_id(n_chars: int, *parts: object) -> str:
    """A stable lowercase hex identifier derived from the parts."""
    digest = hashlib.blake2b("\x1f".join(str(p) for p in parts).encode(),
                             digest_size=max(8, (n_chars + 1) // 2)).hexdigest()
    return digest[:n_chars]


def _splitmix(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def _uniform(key: int, buckets: np.ndarray) -> np.ndarray:
    """Uniform (0, 1) per bucket, a pure function of (key, bucket)."""
    b = buckets.astype(np.int64).view(np.uint64)
    with np.errstate(over="ignore"):
        h = _splitmix(b * _GOLDEN ^ np.uint64(key & _MASK))
    return ((h >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)


def normal(key: int, buckets: np.ndarray) -> np.ndarray:
    """Standard normal per bucket (Box–Muller over two hashed uniforms)."""
    u1 = _uniform(key, buckets)
    u2 = _uniform(key ^ 0x5DEECE66D, buckets)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def smooth_normal(key: int, t: np.ndarray, bucket_seconds: float) -> np.ndarray:
    """Unit-variance noise with a little memory: the mean of two adjacent buckets' draws.

    Adjacent samples are correlated (ρ = 0.5), as scraped gauges are: a rate over a window that
    overlaps the previous one's.
    """
    b = np.floor(np.asarray(t, dtype=np.float64) / bucket_seconds).astype(np.int64)
    return (normal(key, b) + normal(key, b - 1)) / np.sqrt(2.0)


def uniform_at(key: int, t: np.ndarray, bucket_seconds: float) -> np.ndarray:
    """A uniform (0, 1) per time bucket, for rare spikes."""
    b = np.floor(np.asarray(t, dtype=np.float64) / bucket_seconds).astype(np.int64)
    return _uniform(key ^ 0xA5A5A5A5, b)
