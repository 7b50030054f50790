"""Pure text processing over polars frames: no Dagster in here."""
