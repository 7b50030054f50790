"""Digests of strings that stay the same on every run, machine and library version (unlike `polars.Series.hash`)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import polars as pl


def map_distinct(values: pl.Series, digest: Callable[[str], object], dtype: pl.DataType, default=None) -> pl.Series:
    """`digest(value)` per row, computed once per distinct value; nulls get `default`."""
    distinct = values.cast(pl.String).unique()
    mapping = {value: digest(value) for value in distinct.to_list() if value is not None}
    return values.cast(pl.String).replace_strict(mapping, default=default, return_dtype=dtype)


def stable_fraction(keys: pl.Series, default: float = 0.0) -> pl.Series:
    """A number in [0, 1) per key, the same on every run, machine and library version; nulls get `default`.

    What held-out sets are cut by (`share` of the keys: `stable_fraction(keys) < share`). Not `Series.hash`: polars
    keeps that stable only within one version, and a held-out set that moves on an upgrade would hold the champion's
    own training rows when it is re-scored against a candidate.
    """
    return map_distinct(keys, lambda key: int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big")
                        % 10_000 / 10_000, pl.Float64, default=default)


def frame_digest(frame: pl.DataFrame) -> str:
    """blake2b of a frame's columns and rows, whatever order the rows were read in (a warehouse read has none)."""
    rows = frame.sort(frame.columns, nulls_last=True) if frame.width else frame
    return hashlib.blake2b(rows.write_csv().encode(), digest_size=16).hexdigest()
