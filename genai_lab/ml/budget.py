"""Time budgets for passes whose cost scales with the CPU: time a random sample, project the rest.

The same row counts take 3-5x longer on an AVX2-only CPU than with AVX512/AMX bf16, so a pass capped in
rows alone blows a wall-clock budget on the slow machine; timing a sample first tells how much fits.
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
