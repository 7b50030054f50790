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


def frame_digest(frame: pl.DataFrame) -> str:
    """blake2b of a frame's columns and rows, whatever order the rows were read in (a warehouse read has none)."""
    rows = frame.sort(frame.columns, nulls_last=True) if frame.width else frame
    return hashlib.blake2b(rows.write_csv().encode(), digest_size=16).hexdigest()
