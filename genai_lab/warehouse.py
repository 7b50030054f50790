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
from typing import Self

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
            _add_missing_columns(connection, schema, table, frame.columns, "incoming_frame")
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


STAGING_SCHEMA_SUFFIX = "_staging"


class PartitionRewrite:
    """Replaces the rows of one partition in several tables, written a batch at a time, in one transaction.

    For the steps that must not hold a whole dump in memory: they read their input in batches of records
    (`record_batches`) and `append` their output as they go. The batches go to staging tables (schema
    `<schema>_staging`, committed as they come, so DuckDB keeps them on disk: rows appended inside one open
    transaction stay in memory until it commits). On a clean exit one short transaction replaces the
    partition's rows in each table with its staging table's; other connections never see a partial dump, and
    a step that fails or is killed leaves every table as it was (a killed one's staging tables are dropped by
    the next rewrite of the same partition). Use as a context manager around a connection from `connect`.
    """

    def __init__(self, connection: duckdb.DuckDBPyConnection, schema: str, tables: Sequence[str], partition_key: str,
                 partition_column: str = PARTITION_COLUMN):
        self.connection, self.schema, self.tables = connection, schema, list(tables)
        self.partition_key, self.partition_column = partition_key, partition_column
        self.staging_schema = schema + STAGING_SCHEMA_SUFFIX
        self.rows = dict.fromkeys(self.tables, 0)
        self.created: set[str] = set()

    def staged(self, table: str) -> str:
        """Where this rewrite's rows of `table` are until the commit (qualified)."""
        return f'"{self.staging_schema}"."{table}__{self.partition_key}"'

    def qualified(self, table: str) -> str:
        return f'"{self.schema}"."{table}"'

    def _drop_staging(self) -> None:
        for table in self.tables:
            self.connection.execute(f"drop table if exists {self.staged(table)}")

    def __enter__(self) -> Self:
        self.connection.execute(f'create schema if not exists "{self.schema}"')
        self.connection.execute(f'create schema if not exists "{self.staging_schema}"')
        self._drop_staging()  # a killed earlier attempt's
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is not None:
            self._drop_staging()
            return
        self.connection.execute("begin transaction")
        try:
            for table in self.tables:
                if table not in self.created:  # nothing was appended: the partition keeps no rows of it
                    if table_exists(self.connection, self.schema, table):
                        self.connection.execute(f'delete from {self.qualified(table)} where "{self.partition_column}" = ?',
                                                [self.partition_key])
                    continue
                if not table_exists(self.connection, self.schema, table):
                    self.connection.execute(f"create table {self.qualified(table)} as select * from {self.staged(table)} where false")
                columns = [row[0] for row in self.connection.execute(f"describe {self.staged(table)}").fetchall()]
                _add_missing_columns(self.connection, self.schema, table, columns, self.staged(table))
                self.connection.execute(f'delete from {self.qualified(table)} where "{self.partition_column}" = ?', [self.partition_key])
                self.connection.execute(f"insert into {self.qualified(table)} by name select * from {self.staged(table)}")
                self.connection.execute(f"drop table {self.staged(table)}")
            self.connection.execute("commit")
        except BaseException:
            self.connection.execute("rollback")
            self._drop_staging()
            raise

    def append(self, table: str, frame: pl.DataFrame) -> None:
        if table not in self.rows:
            raise ValueError(f"{table} is not one of the tables this rewrite replaces ({', '.join(self.tables)})")
        stray = frame.filter(pl.col(self.partition_column) != self.partition_key).height if frame.height else 0
        if stray:
            raise ValueError(f"{table}: {stray} rows outside partition {self.partition_key}")
        self.connection.register("incoming_batch", frame.to_arrow())
        try:
            if table not in self.created:
                self.connection.execute(f"create or replace table {self.staged(table)} as select * from incoming_batch")
                self.created.add(table)
            else:
                self.connection.execute(f"insert into {self.staged(table)} by name select * from incoming_batch")
        finally:
            self.connection.unregister("incoming_batch")
        self.rows[table] += frame.height

    def discard(self, table: str) -> None:
        """Forgets the rows appended to `table` so far."""
        self.connection.execute(f"drop table if exists {self.staged(table)}")
        self.rows[table] = 0
        self.created.discard(table)

    def record_batches(self, table: str, batch_rows: int, columns: str = "*") -> Iterator[pl.DataFrame]:
        """The partition's committed rows of `table` in order of `record_number`, `batch_rows` records at a time (the
        rows of a range of record numbers: a filtered table gives smaller batches)."""
        qualified = self.qualified(table)
        where = f'"{self.partition_column}" = ?'
        last = self.connection.execute(f"select max(record_number) from {qualified} where {where}", [self.partition_key]).fetchone()[0]
        for start in range(1, (last or 0) + 1, batch_rows):
            yield self.connection.execute(
                f"select {columns} from {qualified} where {where} and record_number >= ? and record_number < ? order by record_number",
                [self.partition_key, start, start + batch_rows]).pl()

    def sql(self, query: str, parameters: Sequence | None = None) -> pl.DataFrame:
        """A query's result as a frame."""
        return self.connection.execute(query, list(parameters or [])).pl()


def _add_missing_columns(connection: duckdb.DuckDBPyConnection, schema: str, table: str, columns: Sequence[str], source: str) -> None:
    existing = {row[0] for row in connection.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ?", [schema, table]).fetchall()}
    for name in columns:
        if name not in existing:
            sql_type = connection.execute(f'select typeof("{name}") from {source} limit 1').fetchone()
            sql_type = sql_type[0] if sql_type else "VARCHAR"
            connection.execute(f'alter table "{schema}"."{table}" add column "{name}" {sql_type}')


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
