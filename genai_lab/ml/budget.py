"""Time budgets for passes whose cost scales with the CPU.

The same row counts take 3-5x longer on an AVX2-only CPU than with AVX512/AMX bf16, so a pass capped in
rows alone blows a wall-clock budget on the slow machine. Two ways to keep one: time a random sample and
project the rest (serving, which picks between models before it scores), or run the work in chunks of
random content and stop before the chunk that would pass the budget (the embedding pass).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np

T = TypeVar("T")
#: items run once, untimed, before the timed sample: lazy initialisation (model loading, first-call
#: kernels) is no throughput
WARMUP_ITEMS = 4


def seconds_per_item(count: int, run: Callable[[np.ndarray], T], sample_size: int, seed: int = 0) -> tuple[np.ndarray, T | None, float]:
    """Times `run(indices)` on a seeded random sample of `range(count)`: (the sample's indices, `run`'s output on them, seconds per item)."""
    if count == 0:
        return np.zeros(0, np.int64), None, 0.0
    sample = np.random.default_rng(seed).choice(count, size=min(sample_size, count), replace=False)
    run(sample[:WARMUP_ITEMS])
    started = time.perf_counter()
    output = run(sample)
    return sample, output, (time.perf_counter() - started) / len(sample)


def chunks_within(chunks: int, run: Callable[[int], object], max_seconds: float | None, clock: Callable[[], float] = time.monotonic) -> int:
    """Runs `run(0)`, `run(1)`, ... while the next chunk, costed like the slowest so far, still ends within `max_seconds`; returns how many ran.

    The first chunk always runs (nothing has been timed yet). Chunks of equal size and random content cost
    about the same, so the pass stops about one chunk short of the budget rather than past it.
    """
    started, slowest = clock(), 0.0
    for index in range(chunks):
        chunk_started = clock()
        if index and max_seconds is not None and chunk_started - started + slowest > max_seconds:
            return index
        run(index)
        slowest = max(slowest, clock() - chunk_started)
    return chunks
