"""Data-preparation throughput: dump file -> raw_reviews -> ... -> text_quality, through Dagster into DuckDB.

    python benchmarks/prep_throughput.py --rows 1000000
    python benchmarks/prep_throughput.py --dumps ../shared/data/dumps      # the real dumps instead

The dump is generated (or copied) in a child process first, so neither generation time nor its
memory is counted. Prints per-stage seconds, then as its last line one JSON object with keys
rows, seconds, reviews_per_s, peak_rss_mb. Target on 2 cores: >= 20,000 reviews/s, <= 4,096 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", category=Warning, module="dagster")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="synthetic reviews to generate (ignored with --dumps)")
    parser.add_argument("--dumps", help="use this folder of real dumps instead of generating one")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", help="keep the home here instead of a temporary folder")
    args = parser.parse_args()

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="genai_lab_bench_"))
    home = workdir / "home"
    dumps = Path(args.dumps).resolve() if args.dumps else workdir / "dumps"
    if not args.dumps:
        dumps.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "genai_lab.cli", "synth", str(dumps / "bench.csv"), "--rows", str(args.rows),
                        "--seed", str(args.seed)], check=True)
        print(f"generated {args.rows:,} reviews in {time.perf_counter() - started:.1f}s (not counted)", flush=True)

    os.environ["DAGSTER_HOME"] = str(workdir / "dagster")
    Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
    from dagster import AssetSelection, DagsterEventType, DagsterInstance, materialize

    from genai_lab.definitions import make_definitions
    from genai_lab.partitions import review_dumps

    defs = make_definitions(str(home), str(dumps))
    keys = list(defs.resources["lab"].dump_files())
    started = time.perf_counter()
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(review_dumps.name, keys)
        result = materialize(list(defs.assets), selection=AssetSelection.groups("prep"), instance=instance, resources=defs.resources,
                             tags={"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]})
        seconds = time.perf_counter() - started
        stage_started: dict[str, float] = {}
        print("stage seconds:")
        for entry in instance.all_logs(result.run_id):
            event = entry.dagster_event
            if event is None or not event.step_key:
                continue
            if event.event_type == DagsterEventType.STEP_START:
                stage_started[event.step_key] = entry.timestamp
            elif event.event_type == DagsterEventType.STEP_SUCCESS:
                print(f"  {event.step_key:<28} {entry.timestamp - stage_started[event.step_key]:8.1f}")
    rows = instance_rows(home)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": rows, "seconds": round(seconds, 2), "reviews_per_s": round(rows / seconds), "peak_rss_mb": round(peak_rss_mb)}))


def instance_rows(home: Path) -> int:
    import duckdb

    with duckdb.connect(str(home / "warehouse.duckdb")) as connection:
        return connection.execute("select count(*) from lab.raw_reviews").fetchone()[0]


if __name__ == "__main__":
    main()
