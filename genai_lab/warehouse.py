"""DuckDB tables for polars frames: the IO manager every table asset goes through.

Why not `DuckDBPolarsIOManager` as it is: it deletes a partition and inserts the new rows in two
autocommitted statements (a run that dies in between loses the partition), skips empty frames, and
fails at once when another process holds the file. Here a write is one transaction, a waiting
writer retries until the lock frees, and tables gain new columns instead of rejecting them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl
from dagster import ConfigurableIOManager, InputContext, MetadataValue, OutputContext, TableColumn, TableSchema
from pydantic import Field

from genai_lab.paths import WAREHOUSE_SCHEMA

PARTITION_COLUMN = "dump_id"


def _is_lock_error(error: Exception) -> bool:
    text = str(error).lower()
    return "lock" in text and ("conflicting" in text or "could not set" in text or "resource temporarily" in text)


@contextmanager
def connect(database: str | Path, *, read_only: bool = False, wait_s: float = 600.0, log=None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived connection; waits (up to `wait_s`) while another process holds the file's write lock."""
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    deadline, delay, told = time.monotonic() + wait_s, 0.05, 0.0
    while True:
        try:
            connection = duckdb.connect(str(database), read_only=read_only)
            break
        except duckdb.IOException as error:
            if not _is_lock_error(error) or time.monotonic() > deadline:
                raise
            if log is not None and time.monotonic() - told > 10:
                log.info(f"Waiting for the DuckDB file {database}: another run holds its lock")
                told = time.monotonic()
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
    try:
        yield connection
    finally:
        connection.close()


def table_exists(connection: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(connection.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, table]
    ).fetchone()[0])


def write_table(connection: duckdb.DuckDBPyConnection, schema: str, table: str, frame: pl.DataFrame,
                partition_keys: Sequence[str] | None = None, partition_column: str = PARTITION_COLUMN) -> None:
    """Replaces the given partitions (or the whole table) with `frame`, atomically."""
    qualified = f'"{schema}"."{table}"'
    incoming = frame.to_arrow()
    connection.register("incoming_frame", incoming)
    try:
        connection.execute("begin transaction")
        connection.execute(f'create schema if not exists "{schema}"')
        if not table_exists(connection, schema, table):
            connection.execute(f"create table {qualified} as select * from incoming_frame")
        elif partition_keys is None:
            connection.execute(f"create or replace table {qualified} as select * from incoming_frame")
        else:
            existing = {row[0] for row in connection.execute(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ?", [schema, table]
            ).fetchall()}
            for name in frame.columns:
                if name not in existing:
                    sql_type = connection.execute(f'select typeof("{name}") from incoming_frame limit 1').fetchone()
                    sql_type = sql_type[0] if sql_type else "VARCHAR"
                    connection.execute(f'alter table {qualified} add column "{name}" {sql_type}')
            placeholders = ", ".join("?" for _ in partition_keys)
            connection.execute(f'delete from {qualified} where "{partition_column}" in ({placeholders})', list(partition_keys))
            connection.execute(f"insert into {qualified} by name select * from incoming_frame")
        connection.execute("commit")
    except BaseException:
        connection.execute("rollback")
        raise
    finally:
        connection.unregister("incoming_frame")


def read_table(connection: duckdb.DuckDBPyConnection, schema: str, table: str,
               partition_keys: Sequence[str] | None = None, partition_column: str = PARTITION_COLUMN) -> pl.DataFrame:
    qualified = f'"{schema}"."{table}"'
    if not table_exists(connection, schema, table):
        raise FileNotFoundError(f"Table {schema}.{table} does not exist yet: materialize the asset '{table}' first")
    if partition_keys is None:
        return connection.execute(f"select * from {qualified}").pl()
    placeholders = ", ".join("?" for _ in partition_keys)
    return connection.execute(f'select * from {qualified} where "{partition_column}" in ({placeholders})', list(partition_keys)).pl()


class WarehouseIOManager(ConfigurableIOManager):
    """Stores each asset's polars frame as table `<schema>.<asset name>`; partitioned assets by `dump_id`."""

    database: str = Field(description="Path of the DuckDB file.")
    schema_name: str = Field(WAREHOUSE_SCHEMA, description="Schema of the tables (must differ from the file's stem).")
    lock_wait_s: float = Field(900.0, description="How long a run waits for another run's write lock before failing.")

    def _partition_keys(self, context: OutputContext | InputContext) -> list[str] | None:
        return list(context.asset_partition_keys) if context.has_asset_partitions else None

    def handle_output(self, context: OutputContext, obj: pl.DataFrame | None) -> None:
        if obj is None:
            return
        if not isinstance(obj, pl.DataFrame):
            raise TypeError(f"{context.asset_key.to_user_string()} returned {type(obj).__name__}; this IO manager stores polars DataFrames")
        table = context.asset_key.path[-1]
        keys = self._partition_keys(context)
        if keys is not None and PARTITION_COLUMN in obj.columns:
            stray = set(obj[PARTITION_COLUMN].unique().to_list()) - set(keys)
            if stray:
                raise ValueError(f"{table}: rows for partitions {sorted(stray)} outside this run's partitions {keys}")
        with connect(self.database, wait_s=self.lock_wait_s, log=context.log) as connection:
            write_table(connection, self.schema_name, table, obj, keys)
        context.add_output_metadata({
            "table": f"{self.schema_name}.{table}",
            "row_count": obj.height,
            "columns": MetadataValue.table_schema(TableSchema(columns=[TableColumn(name, str(dtype)) for name, dtype in obj.schema.items()])),
        })

    def load_input(self, context: InputContext) -> pl.DataFrame:
        table = context.upstream_output.asset_key.path[-1] if context.upstream_output else context.asset_key.path[-1]
        keys = self._partition_keys(context)
        with connect(self.database, wait_s=self.lock_wait_s, log=context.log) as connection:
            return read_table(connection, self.schema_name, table, keys)
