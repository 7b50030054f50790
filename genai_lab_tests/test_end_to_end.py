"""The way a user runs it: `dagster dev` on a fresh home, a dump dropped into the watched folder, the sensor's run."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
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


def test_a_dropped_dump_is_picked_up_by_the_sensor_and_lands_in_duckdb(tmp_path):
    home, dagster_home = tmp_path / "home", tmp_path / "dagster"
    (home / "dumps").mkdir(parents=True)
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
        with duckdb.connect(str(home / "warehouse.duckdb")) as connection:
            raw = connection.execute("select count(*) from lab.raw_reviews where dump_id = 'fresh_dump'").fetchone()[0]
            clean = connection.execute("select count(*) from lab.clean_reviews where dump_id = 'fresh_dump'").fetchone()[0]
            rejected = connection.execute("select count(*) from lab.rejected_reviews where dump_id = 'fresh_dump'").fetchone()[0]
            scored = connection.execute("select count(*) from lab.text_quality where dump_id = 'fresh_dump'").fetchone()[0]
        assert raw == 400 and clean + rejected == 400 and scored == clean > 0
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
