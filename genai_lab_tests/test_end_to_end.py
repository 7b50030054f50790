"""The way a user runs it: `dagster dev` on a fresh home, a dump dropped into the watched folder, the sensor's run."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from importlib import resources as package_files

import duckdb
import pytest
from dagster_graphql import DagsterGraphQLClient

from genai_lab.synth import write_dump

pytestmark = pytest.mark.e2e

RUNS_QUERY = """
query SensorRuns($sensor: String!) {
  runsOrError(filter: {tags: [{key: "dagster/sensor_name", value: $sensor}]}) {
    ... on Runs { results { runId status tags { key value } } }
  }
}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, timeout_s: float, what: str, process: subprocess.Popen, log_path):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"dagster dev exited ({process.returncode}) while waiting for {what}:\n{log_path.read_text()[-3000:]}")
        value = condition()
        if value:
            return value
        time.sleep(2)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}:\n{log_path.read_text()[-3000:]}")


@contextmanager
def dagster_dev(tmp_path, home):
    """`dagster dev` on `home` (its dumps folder watched), as a user starts it; yields (client, process, log path)."""
    dagster_home = tmp_path / "dagster"
    (home / "dumps").mkdir(parents=True, exist_ok=True)
    dagster_home.mkdir()
    with package_files.as_file(package_files.files("genai_lab") / "dagster.yaml") as template:
        shutil.copyfile(template, dagster_home / "dagster.yaml")
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "GENAI_LAB_HOME": str(home), "GENAI_LAB_DUMPS": "",
           "HF_HUB_OFFLINE": "1", "DAGSTER_DISABLE_TELEMETRY": "1"}
    log_path = tmp_path / "dagster_dev.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "dagster", "dev", "-h", "127.0.0.1", "-p", str(port), "-m", "genai_lab.definitions"],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        client = DagsterGraphQLClient("127.0.0.1", port_number=port, timeout=30)

        def server_up():
            try:
                return client._execute("{ version }")
            except Exception:  # noqa: BLE001 - not listening yet
                return None

        wait_for(server_up, 120, "the webserver", process, log_path)
        yield client, process, log_path
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def prep_counts(home, dump_id: str) -> dict[str, int]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as connection:
        return {table: connection.execute(f"select count(*) from lab.{table} where dump_id = ?", [dump_id]).fetchone()[0]
                for table in ("raw_reviews", "clean_reviews", "rejected_reviews", "text_quality")}


def test_a_dropped_dump_is_picked_up_by_the_sensor_and_lands_in_duckdb(tmp_path):
    home = tmp_path / "home"
    with dagster_dev(tmp_path, home) as (client, process, log_path):
        write_dump(home / "dumps" / "fresh_dump.csv", rows=400, seed=5)

        def finished_run():
            runs = client._execute(RUNS_QUERY, {"sensor": "review_dump_sensor"})["runsOrError"]["results"]
            done = [run for run in runs if run["status"] in ("SUCCESS", "FAILURE", "CANCELED")]
            return done[0] if done else None

        run = wait_for(finished_run, 300, "the sensor's run", process, log_path)
        assert run["status"] == "SUCCESS", log_path.read_text()[-3000:]
        tags = {tag["key"]: tag["value"] for tag in run["tags"]}
        assert tags["dagster/partition"] == "fresh_dump"
        assert client.get_run_status(run["runId"]).value == "SUCCESS"
    counts = prep_counts(home, "fresh_dump")
    assert counts["raw_reviews"] == 400 and counts["clean_reviews"] + counts["rejected_reviews"] == 400
    assert counts["text_quality"] == counts["clean_reviews"] > 0


ALL_RUNS_QUERY = """
{ runsOrError { ... on Runs { results { runId status tags { key value } } } } }
"""
BACKFILL_MUTATION = """
mutation Backfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""
BACKFILL_QUERY = """
query Backfill($id: String!) { partitionBackfillOrError(backfillId: $id) { ... on PartitionBackfill { status } } }
"""
PREP_ASSETS = ["raw_reviews", "reviews", "review_quality", "clean_reviews", "rejected_reviews", "text_quality"]


def test_a_backfill_of_every_dump_and_a_sensor_run_for_a_new_dump_run_together_without_a_lock_failure(tmp_path):
    home = tmp_path / "home"
    sizes = {"first_dump": 300, "second_dump": 250, "late_dump": 200}
    (home / "dumps").mkdir(parents=True)
    for seed, dump_id in enumerate(("first_dump", "second_dump")):
        write_dump(home / "dumps" / f"{dump_id}.csv", rows=sizes[dump_id], seed=seed)
    with dagster_dev(tmp_path, home) as (client, process, log_path):
        def runs():
            return client._execute(ALL_RUNS_QUERY)["runsOrError"]["results"]

        def finished(run):
            return run["status"] in ("SUCCESS", "FAILURE", "CANCELED")

        # the sensor registers both dumps as partitions and ingests them
        wait_for(lambda: len(runs()) == 2 and all(map(finished, runs())), 300, "the sensor's first two runs", process, log_path)
        launched = client._execute(BACKFILL_MUTATION, {"params": {
            "assetSelection": [{"path": [name]} for name in PREP_ASSETS], "partitionNames": ["first_dump", "second_dump"]}})
        assert launched["launchPartitionBackfill"]["__typename"] == "LaunchBackfillSuccess", launched
        backfill_id = launched["launchPartitionBackfill"]["backfillId"]
        write_dump(home / "dumps" / "late_dump.csv", rows=sizes["late_dump"], seed=7)  # while the backfill runs

        def backfill_done():
            status = client._execute(BACKFILL_QUERY, {"id": backfill_id})["partitionBackfillOrError"]["status"]
            return status if status not in ("REQUESTED", "CANCELING", "FAILING") else None

        def sensor_ran_late_dump():
            return [run for run in runs() if {"key": "dagster/partition", "value": "late_dump"} in run["tags"] and finished(run)]

        status = wait_for(backfill_done, 400, "the backfill", process, log_path)
        wait_for(sensor_ran_late_dump, 400, "the sensor's run for the late dump", process, log_path)
        wait_for(lambda: all(map(finished, runs())), 120, "every run to finish", process, log_path)
        every_run = runs()
    assert status in ("COMPLETED", "COMPLETED_SUCCESS"), log_path.read_text()[-3000:]
    backfilled = [run for run in every_run if {"key": "dagster/backfill", "value": backfill_id} in run["tags"]]
    assert len(backfilled) >= 1 and len(every_run) >= 4
    failed = [run["runId"] for run in every_run if run["status"] != "SUCCESS"]
    assert not failed, f"runs that did not succeed: {failed}\n{log_path.read_text()[-3000:]}"
    for dump_id, rows in sizes.items():
        counts = prep_counts(home, dump_id)
        assert counts["raw_reviews"] == rows == counts["clean_reviews"] + counts["rejected_reviews"], (dump_id, counts)
        assert counts["text_quality"] == counts["clean_reviews"]
