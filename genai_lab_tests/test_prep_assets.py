"""The prep assets materialized for real: a DuckDB file under tmp_path, a Dagster instance, dynamic partitions."""

import json

import duckdb
import polars as pl
import pytest
from dagster import AssetSelection, build_sensor_context, instance_for_test, materialize

from genai_lab.definitions import make_definitions
from genai_lab.partitions import review_dumps
from genai_lab.resources import PrepResource
from genai_lab.sensors import review_dump_sensor
from genai_lab.synth import write_dump
from genai_lab.warehouse import connect, read_table, write_table

PREP = ["raw_reviews", "reviews", "review_quality", "clean_reviews", "rejected_reviews", "text_quality"]


def counts(database, table):
    with duckdb.connect(str(database)) as connection:
        return dict(connection.execute(f"select dump_id, count(*) from lab.{table} group by 1 order by 1").fetchall())


def run(defs, instance, keys):
    instance.add_dynamic_partitions(review_dumps.name, [k for k in keys if k not in instance.get_dynamic_partitions(review_dumps.name)])
    tags = {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}
    return materialize(list(defs.assets), selection=AssetSelection.groups("prep"), instance=instance,
                       resources=defs.resources, tags=tags, raise_on_error=False)


@pytest.fixture()
def home(tmp_path):
    (tmp_path / "dumps").mkdir()
    return tmp_path


def test_two_dumps_in_one_run_account_for_every_row(home):
    write_dump(home / "dumps" / "first.csv", rows=1500, seed=1)
    write_dump(home / "dumps" / "second.jsonl", rows=1000, seed=2)
    defs = make_definitions(str(home))
    with instance_for_test() as instance:
        result = run(defs, instance, ["first", "second"])
        assert result.success
        database = home / "warehouse.duckdb"
        raw, clean, rejected = (counts(database, t) for t in ("raw_reviews", "clean_reviews", "rejected_reviews"))
        assert raw == {"first": 1500, "second": 1000}
        assert {k: clean[k] + rejected[k] for k in raw} == raw
        assert counts(database, "text_quality") == clean
        checks = {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
                  for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
        assert checks["raw_equals_clean_plus_rejected"] and checks["unique_review_ids"] and checks["required_columns"]
        with duckdb.connect(str(database)) as connection:
            reasons = dict(connection.execute("select reject_rule, count(*) from lab.rejected_reviews group by 1").fetchall())
        assert {"non_english", "too_short", "exact_duplicate"} <= set(reasons)


def test_rematerialising_a_partition_replaces_its_rows_only(home):
    write_dump(home / "dumps" / "first.csv", rows=800, seed=1)
    write_dump(home / "dumps" / "second.csv", rows=600, seed=2)
    defs = make_definitions(str(home))
    with instance_for_test() as instance:
        assert run(defs, instance, ["first", "second"]).success
        write_dump(home / "dumps" / "second.csv", rows=300, seed=3)
        assert run(defs, instance, ["second"]).success
        assert counts(home / "warehouse.duckdb", "raw_reviews") == {"first": 800, "second": 300}


def test_a_bad_file_fails_the_run_and_leaves_the_previous_partition_intact(home):
    dump = home / "dumps" / "first.csv"
    write_dump(dump, rows=500, seed=1)
    defs = make_definitions(str(home))
    with instance_for_test() as instance:
        assert run(defs, instance, ["first"]).success
        dump.write_bytes(b'id,content,rating\n1,"unclosed quote,5\n')
        result = run(defs, instance, ["first"])
        assert not result.success
        failure = next(e for e in result.all_events if e.is_step_failure)
        assert "first.csv, line 2: broken quoting" in failure.step_failure_data.error.message
        assert counts(home / "warehouse.duckdb", "raw_reviews") == {"first": 500}


def test_a_failed_write_rolls_back(tmp_path):
    database = tmp_path / "w.duckdb"
    with connect(database) as connection:
        write_table(connection, "lab", "t", pl.DataFrame({"dump_id": ["a", "a"], "x": [1, 2]}), ["a"])
        with pytest.raises(Exception):  # noqa: B017 - DuckDB's conversion error type is not the point
            write_table(connection, "lab", "t", pl.DataFrame({"dump_id": ["a"], "x": ["not a number"]}), ["a"])
        assert read_table(connection, "lab", "t", ["a"])["x"].to_list() == [1, 2]


def test_a_writer_waits_for_the_lock_instead_of_failing(tmp_path):
    import subprocess
    import sys
    import time

    database = tmp_path / "w.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, time; c = duckdb.connect(%r); c.execute('create table t(x int)'); "
        "print('locked', flush=True); time.sleep(3); c.close()") % str(database)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    started = time.monotonic()
    with connect(database, wait_s=30) as connection:
        assert connection.execute("select count(*) from t").fetchone() == (0,)
    assert time.monotonic() - started > 1
    holder.wait(10)


def sensor_tick(defs, instance, cursor=None):
    context = build_sensor_context(instance=instance, cursor=cursor, resources={"lab": defs.resources["lab"]})
    result = review_dump_sensor(context)
    return result, context.cursor if result.cursor is None else result.cursor


def test_sensor_new_unchanged_and_changed_files(home):
    write_dump(home / "dumps" / "first.csv", rows=300, seed=1)
    defs = make_definitions(str(home))
    with instance_for_test() as instance:
        result, cursor = sensor_tick(defs, instance)
        assert [r.partition_key for r in result.run_requests] == ["first"]
        assert result.dynamic_partitions_requests[0].partition_keys == ["first"]
        first_run_key = result.run_requests[0].run_key
        instance.add_dynamic_partitions(review_dumps.name, ["first"])
        assert run(defs, instance, ["first"]).success

        unchanged, cursor = sensor_tick(defs, instance, cursor)
        assert unchanged.run_requests == []

        write_dump(home / "dumps" / "first.csv", rows=310, seed=9)
        write_dump(home / "dumps" / "second.parquet", rows=200, seed=2)
        changed, cursor = sensor_tick(defs, instance, cursor)
        requested = {r.partition_key: r.run_key for r in changed.run_requests}
        assert set(requested) == {"first", "second"}
        assert requested["first"] != first_run_key
        assert changed.dynamic_partitions_requests[0].partition_keys == ["second"]
        assert json.loads(cursor)["second"][2] == requested["second"].split(":")[1]

        # the file changed back to what was first ingested: a new request, not the first one's key again
        assert run(defs, instance, ["first"]).success
        write_dump(home / "dumps" / "first.csv", rows=300, seed=1)
        reverted, cursor = sensor_tick(defs, instance, cursor)
        keys = {r.partition_key: r.run_key for r in reverted.run_requests}
        assert "first" in keys and keys["first"] != first_run_key
        assert keys["first"].split(":")[1] == first_run_key.split(":")[1]  # the same content as then


def test_a_cp1252_export_is_read_as_such_and_its_encoding_recorded(home):
    """Excel's legacy exports: every row ingested and accounted for, the encoding in raw_reviews' metadata."""
    write_dump(home / "first.csv", rows=300, seed=3)
    frame = pl.read_csv(home / "first.csv", infer_schema=False)

    def fits_cp1252(text):
        try:
            (text or "").encode("cp1252")
        except UnicodeEncodeError:
            return False
        return True

    frame = frame.filter(pl.col("content").map_elements(fits_cp1252, return_dtype=pl.Boolean))
    frame = frame.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("Café app – great, but the “dark mode” is missing"))
                               .otherwise(pl.col("content")).alias("content"))
    (home / "dumps" / "legacy.csv").write_bytes(frame.write_csv().encode("cp1252"))
    defs = make_definitions(str(home))
    with instance_for_test() as instance:
        result = run(defs, instance, ["legacy"])
        assert result.success
        metadata = result.asset_materializations_for_node("raw_reviews")[0].metadata
        assert metadata["encodings"].value == {"legacy": "cp1252"}
        database = home / "warehouse.duckdb"
        raw, clean, rejected = (counts(database, t) for t in ("raw_reviews", "clean_reviews", "rejected_reviews"))
        assert raw == {"legacy": frame.height} and clean["legacy"] + rejected.get("legacy", 0) == frame.height
        with duckdb.connect(str(database)) as connection:
            assert connection.execute("select count(*) from lab.raw_reviews where content like 'Café app – great%'").fetchone()[0] == 1


def _tables(database) -> dict[str, pl.DataFrame]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return {table: connection.execute(f"select * from lab.{table} order by dump_id, review_id").pl() for table in PREP}


def _prep_home(root, name: str, dumps: dict[str, bytes]):
    home = root / name
    (home / "dumps").mkdir(parents=True)
    (home / ".pseudonym_key").write_text("ab" * 32)  # the same author pseudonyms in every home
    for file_name, data in dumps.items():
        (home / "dumps" / file_name).write_bytes(data)
    return home


def test_batches_of_a_few_records_give_every_table_exactly_as_one_batch_does(tmp_path):
    """Duplicates across batch boundaries, ids repeated across batches, every format that streams."""
    sources = tmp_path / "sources"
    sources.mkdir()
    dumps = {}
    for name, rows, seed in (("first.csv", 2500, 1), ("second.parquet", 1200, 2), ("third.jsonl", 900, 3)):
        write_dump(sources / name, rows=rows, seed=seed)
        dumps[name] = (sources / name).read_bytes()
    frame = pl.read_csv(sources / "first.csv", infer_schema=False)
    # a source id repeated far apart, and one missing: both get the record number, whatever the batch
    frame = frame.with_columns(pl.when(pl.int_range(pl.len()).is_in([3, 2400])).then(pl.lit("same-id"))
                               .when(pl.int_range(pl.len()) == 7).then(pl.lit(None)).otherwise(pl.col(frame.columns[0]))
                               .alias(frame.columns[0]))
    dumps["first.csv"] = frame.write_csv().encode()
    keys = ["first", "second", "third"]
    results = {}
    for name, batch_rows in (("one_batch", 100_000), ("small_batches", 1000)):
        home = _prep_home(tmp_path, name, dumps)
        defs = make_definitions(str(home))
        resources = {**defs.resources, "prep": PrepResource(batch_rows=batch_rows)}
        with instance_for_test() as instance:
            instance.add_dynamic_partitions(review_dumps.name, keys)
            for key in keys:
                assert materialize(list(defs.assets), selection=AssetSelection.groups("prep"), instance=instance,
                                   resources=resources, partition_key=key).success
        results[name] = _tables(home / "warehouse.duckdb")
    for table in PREP:
        assert results["small_batches"][table].equals(results["one_batch"][table]), table
    raw = results["small_batches"]["raw_reviews"]
    assert raw.filter(pl.col("source_id") == "same-id")["review_id"].sort().to_list() == ["same-id~r2401", "same-id~r4"]
    assert raw.filter(pl.col("source_id").is_null() & (pl.col("dump_id") == "first"))["review_id"].to_list() == ["first~r8"]
    quality = results["small_batches"]["review_quality"]
    assert quality.filter(pl.col("exact_duplicate"))["record_number"].max() > 1000  # found across batches


def test_a_broken_record_after_the_first_batches_is_rejected_and_nothing_counted_twice(home):
    write_dump(home / "first.csv", rows=3000, seed=4)
    lines = (home / "first.csv").read_bytes().split(b"\n")
    lines[2500] = b'broken-1,"an unclosed quote' + lines[2500][:0]
    (home / "dumps" / "first.csv").write_bytes(b"\n".join(lines))
    defs = make_definitions(str(home))
    resources = {**defs.resources, "prep": PrepResource(batch_rows=1000)}
    with instance_for_test() as instance:
        instance.add_dynamic_partitions(review_dumps.name, ["first"])
        result = materialize(list(defs.assets), selection=AssetSelection.groups("prep"), instance=instance, resources=resources,
                             partition_key="first")
        assert result.success
        assert result.asset_materializations_for_node("raw_reviews")[0].metadata["streamed"].value == {"first": False}
    database = home / "warehouse.duckdb"
    raw, clean, rejected = (counts(database, t) for t in ("raw_reviews", "clean_reviews", "rejected_reviews"))
    assert raw["first"] == clean["first"] + rejected["first"]
    with duckdb.connect(str(database)) as connection:
        errors = connection.execute("select parse_error from lab.rejected_reviews where reject_rule = 'parse_error'").fetchall()
        assert len(errors) == 1 and "line 2501: broken quoting" in errors[0][0]
        assert connection.execute("select count(*) - count(distinct record_number) from lab.raw_reviews").fetchone()[0] == 0


def test_a_partition_rewrite_replaces_whole_partitions_or_nothing(tmp_path):
    from genai_lab.warehouse import PartitionRewrite

    def rows(connection):
        return connection.execute("select dump_id, record_number from lab.t order by 1, 2").fetchall()

    def batch(dump_id, numbers):
        return pl.DataFrame({"dump_id": [dump_id] * len(numbers), "record_number": numbers})

    with connect(tmp_path / "w.duckdb") as connection:
        for dump_id in ("a", "b"):
            with PartitionRewrite(connection, "lab", ["t"], dump_id) as rewrite:
                rewrite.append("t", batch(dump_id, [1, 2]))
                rewrite.append("t", batch(dump_id, [3]))
        assert rows(connection) == [("a", 1), ("a", 2), ("a", 3), ("b", 1), ("b", 2), ("b", 3)]
        with pytest.raises(RuntimeError), PartitionRewrite(connection, "lab", ["t"], "a") as rewrite:
            rewrite.append("t", batch("a", [9]))
            raise RuntimeError("killed half-way")
        assert rows(connection)[:3] == [("a", 1), ("a", 2), ("a", 3)]  # as it was
        with PartitionRewrite(connection, "lab", ["t"], "a"):
            pass  # the dump now has no rows of t
        assert rows(connection) == [("b", 1), ("b", 2), ("b", 3)]
        assert connection.execute("select count(*) from information_schema.tables where table_schema = 'lab_staging'").fetchone()[0] == 0
        with pytest.raises(ValueError, match="outside partition"), PartitionRewrite(connection, "lab", ["t"], "a") as rewrite:
            rewrite.append("t", batch("b", [4]))
