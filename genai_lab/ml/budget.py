"""Time budgets for passes whose cost scales with the CPU.

The same row counts take 3-5x longer on an AVX2-only CPU than with AVX512/AMX bf16, so a pass capped in
rows alone blows a wall-clock budget on the slow machine. Two ways to keep one: time a random sample and
project the rest (serving, which picks between models before it scores), or run the work in chunks of
random content and stop before the chunk that would pass the budget (the embedding pass).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

#: items run once, untimed, before the timed sample: lazy initialisation (model loading, first-call
#: kernels) is no throughput
WARMUP_ITEMS = 4


def seconds_per_item(count: int, run: Callable[[np.ndarray], object], sample_size: int, seed: int = 0) -> float:
    """Seconds per item of `run(indices)`, timed on a seeded random sample of `range(count)`."""
    if count == 0:
        return 0.0
    sample = np.random.default_rng(seed).choice(count, size=min(sample_size, count), replace=False)
    run(sample[:WARMUP_ITEMS])
    started = time.perf_counter()
    run(sample)
    return (time.perf_counter() - started) / len(sample)


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
