"""Digests of strings that stay the same on every run, machine and library version (unlike `polars.Series.hash`)."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl


def map_distinct(values: pl.Series, digest: Callable[[str], object], dtype: pl.DataType, default=None) -> pl.Series:
    """`digest(value)` per row, computed once per distinct value; nulls get `default`."""
    distinct = values.cast(pl.String).unique()
    mapping = {value: digest(value) for value in distinct.to_list() if value is not None}
    return values.cast(pl.String).replace_strict(mapping, default=default, return_dtype=dtype)
