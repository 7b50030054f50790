"""Model passes over a corpus that keep every batch they finish.

A pass over millions of texts runs for hours on a CPU; a run that dies half-way must not start again from
nothing, and a re-run after a new dump must not score again what it scored before. Each finished batch is
written at once to its own file (written aside, then renamed: a killed run leaves whole files or none),
holding the batch's rows keyed by the digest of their content. A run first loads what the folder holds
and computes only the rows whose digest is not there, so it resumes a killed run and skips what an earlier
run did, whatever the order or the mix of the inputs. The folder is per model and setting that shapes the
output (see `ModelStore.pass_dir`): a new model version starts a new one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genai_lab.ml.budget import chunks_within

log = logging.getLogger(__name__)  # captured into Dagster's run log (dagster.yaml: python_logs)
DIGEST_BYTES = 16
PART_SUFFIX = ".npz"
#: seconds between progress lines of a long pass
PROGRESS_EVERY_S = 30.0


def content_digests(keys: Sequence[str]) -> np.ndarray:
    """One 16-byte blake2b digest per key (numpy `S16`): what identifies a row's content across runs."""
    return np.array([hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=DIGEST_BYTES).digest() for key in keys],
                    dtype=f"S{DIGEST_BYTES}")


def fill_finished(folder: Path | None, unique: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Copies into `values` the rows of the sorted digests `unique` that a batch file in `folder` holds; returns which were found.

    One file in memory at a time, so a folder larger than memory still resumes."""
    found = np.zeros(len(unique), dtype=bool)
    parts = sorted(folder.glob(f"part-*{PART_SUFFIX}")) if folder is not None and folder.exists() else []
    for part in parts:
        try:
            with np.load(part) as stored:
                digests, stored_values = stored["digests"], stored["values"]
        except FileNotFoundError:  # pruned by a concurrent run between the listing and the read
            continue
        if stored_values.shape[1:] != values.shape[1:]:
            raise ValueError(f"{part} holds rows of width {stored_values.shape[1:]}, this pass computes {values.shape[1:]}: "
                             f"remove the folder {folder}")
        position = np.searchsorted(unique, digests)
        hit = position < len(unique)
        hit[hit] = unique[position[hit]] == digests[hit]
        values[position[hit]] = stored_values[hit]
        found[position[hit]] = True
    return found


def write_part(folder: Path, digests: np.ndarray, values: np.ndarray) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    name = f"part-{time.time_ns()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    temporary = folder / f".{name}.tmp{PART_SUFFIX}"
    np.savez(temporary, digests=digests, values=values.astype(np.float32))
    path = folder / f"{name}{PART_SUFFIX}"
    os.replace(temporary, path)  # readers see the whole batch or nothing
    return path


@dataclass(frozen=True)
class PassResult:
    #: one row per key; NaN rows where a time budget stopped the pass first
    values: np.ndarray
    #: rows found in the folder (done by an earlier or a killed run)
    reused: int
    #: rows computed by this run
    computed: int
    seconds: float


def run_resumable_pass(keys: Sequence[str], compute: Callable[[np.ndarray], np.ndarray], *, width: int, folder: Path | None,
                       batch_rows: int = 4096, max_seconds: float | None = None, seed: int = 0, describe: str = "rows",
                       progress: Callable[[str], None] | None = None) -> PassResult:
    """`compute(indices)` (rows of `keys`, an array (len(indices), width)) over every row not already in `folder`.

    Equal keys are computed once. Batches of `batch_rows` go in the keys' order; under `max_seconds` in a
    seeded random order, stopping before the batch that would end past the budget (see `chunks_within`), so
    the rows done are a random subset. `folder` None: nothing is read or kept (one pass in memory).
    `progress` receives a line every `PROGRESS_EVERY_S` seconds with the rate and the time left.
    """
    say = progress or log.info
    started = time.monotonic()
    out = np.full((len(keys), width), np.nan, dtype=np.float32)
    if not len(keys):
        return PassResult(out, 0, 0, 0.0)
    digests = content_digests(keys)
    unique, first, inverse = np.unique(digests, return_index=True, return_inverse=True)
    unique_values = np.full((len(unique), width), np.nan, dtype=np.float32)
    found = fill_finished(folder, unique, unique_values)
    pending = np.flatnonzero(~found)
    pending = pending[np.argsort(first[pending], kind="stable")]  # the keys' own order
    if max_seconds is not None:
        pending = np.random.default_rng(seed).permutation(pending)
    batches = [pending[start:start + batch_rows] for start in range(0, len(pending), batch_rows)]
    if found.any():
        say(f"{int(found.sum()):,} of {len(unique):,} distinct {describe} already done (kept from an earlier run); "
            f"{len(pending):,} to go")
    computed, reported = 0, time.monotonic()

    def run_batch(number: int) -> None:
        nonlocal computed, reported
        batch = batches[number]
        values = np.asarray(compute(first[batch]), dtype=np.float32)
        if values.shape != (len(batch), width):
            raise ValueError(f"the pass computed shape {values.shape} for {len(batch)} {describe}; expected ({len(batch)}, {width})")
        if folder is not None:
            write_part(folder, unique[batch], values)
        unique_values[batch] = values
        computed += len(batch)
        now = time.monotonic()
        if now - reported >= PROGRESS_EVERY_S or number == len(batches) - 1:
            rate = computed / max(now - started, 1e-9)
            left = len(pending) - computed
            say(f"{computed:,} of {len(pending):,} {describe} done ({rate:,.0f}/s, about {left / max(rate, 1e-9) / 60:.1f} min left)")
            reported = now

    chunks_within(len(batches), run_batch, max_seconds)
    out[:] = unique_values[inverse.reshape(-1)]
    return PassResult(out, int(found.sum()), computed, time.monotonic() - started)


def prune_other_passes(folder: Path, older_than_s: float = 3600.0) -> list[Path]:
    """Removes the sibling folders of `folder` (other models' passes) untouched for `older_than_s`; returns them.

    A sibling still in use by a concurrent run has been written to recently and stays."""
    import shutil

    removed = []
    if not folder.parent.exists():
        return removed
    now = time.time()
    for sibling in folder.parent.iterdir():
        if sibling == folder or not sibling.is_dir():
            continue
        touched = max((p.stat().st_mtime for p in sibling.iterdir()), default=sibling.stat().st_mtime)
        if now - touched > older_than_s:
            shutil.rmtree(sibling, ignore_errors=True)
            removed.append(sibling)
    return removed
