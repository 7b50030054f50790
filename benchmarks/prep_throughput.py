"""Data-preparation throughput: dump file -> raw_reviews -> ... -> text_quality, through Dagster into DuckDB.

    python benchmarks/prep_throughput.py --rows 1000000
    python benchmarks/prep_throughput.py --dumps ../shared/data/dumps      # the real dumps instead

The dump is generated (or copied) in a child process first, so neither generation time nor its
memory is counted; above 1M rows it is written in 1M-row parts of distinct seeds and ids (the
generator cannot keep 10M reviews distinct in one piece). Prints per-stage seconds, then as its
last line one JSON object with keys rows, seconds, reviews_per_s, peak_rss_mb. Targets on 2 cores:
>= 20,000 reviews/s; peak RSS <= 6 GB at 10M rows and within 1.5x of the peak at 1M.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", category=Warning, module="dagster")

from recording import record  # noqa: E402  (benchmarks/ is the script folder)

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="synthetic reviews to generate (ignored with --dumps)")
    parser.add_argument("--dumps", help="use this folder of real dumps instead of generating one")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", help="keep the home here instead of a temporary folder")
    parser.add_argument("--write-dump", help=argparse.SUPPRESS)  # the child process that generates the dump
    args = parser.parse_args()
    if args.write_dump:
        write_one_dump(Path(args.write_dump), args.rows, args.seed)
        return

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="genai_lab_bench_"))
    home = workdir / "home"
    dumps = Path(args.dumps).resolve() if args.dumps else workdir / "dumps"
    if not args.dumps:
        dumps.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--write-dump", str(dumps / "bench.csv"), "--rows", str(args.rows),
                        "--seed", str(args.seed)], check=True)
        print(f"generated {args.rows:,} reviews in {time.perf_counter() - started:.1f}s (not counted)", flush=True)

    os.environ["DAGSTER_HOME"] = str(workdir / "dagster")
    from genai_lab.cli import prepare_home

    prepare_home(str(home), str(dumps))
    from dagster import AssetSelection, DagsterEventType, DagsterInstance

    from genai_lab.definitions import defs
    from genai_lab.partitions import review_dumps
    from genai_lab.runner import partition_range_tags, run_assets

    keys = list(defs.resources["lab"].dump_files())
    prep_assets = AssetSelection.groups("prep").resolve(defs.resolve_asset_graph())
    samples: list[tuple[float, float]] = []
    sampling = threading.Event()
    sampler = threading.Thread(target=sample_rss, args=(samples, sampling), daemon=True)
    sampler.start()
    started = time.perf_counter()
    with DagsterInstance.get() as instance:
        instance.add_dynamic_partitions(review_dumps.name, keys)
        result = run_assets(instance, prep_assets, partition_range_tags(keys[0], keys[-1]))
        assert result.success, "the benchmark run failed; see the log above"
        seconds = time.perf_counter() - started
        sampling.set()
        sampler.join()
        stage_started: dict[str, float] = {}
        print(f"  {'stage':<28} {'seconds':>8} {'peak RSS MB':>12}")
        for entry in instance.all_logs(result.run_id):
            event = entry.dagster_event
            if event is None or not event.step_key:
                continue
            if event.event_type == DagsterEventType.STEP_START:
                stage_started[event.step_key] = entry.timestamp
            elif event.event_type == DagsterEventType.STEP_SUCCESS:
                start, end = stage_started[event.step_key], entry.timestamp
                peak = max((rss for at, rss in samples if start <= at <= end), default=float("nan"))
                print(f"  {event.step_key:<28} {end - start:8.1f} {peak:12.0f}")
    rows = instance_rows(home)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    name = "prep_throughput" if args.dumps else f"prep_throughput_{rows / 1e6:g}m"
    record(name, {"rows": rows, "seconds": round(seconds, 2), "reviews_per_s": round(rows / seconds), "peak_rss_mb": round(peak_rss_mb)})


#: the generator keeps every review distinct up to about this many rows (beyond, its defect overlays start to repeat
#: texts, which it refuses): a larger dump is written in parts of distinct seeds, ids prefixed by the part
PART_ROWS = 1_000_000


def write_one_dump(path: Path, rows: int, seed: int) -> None:
    """One CSV dump of `rows` synthetic reviews, generated a part at a time so memory stays that of one part."""
    import polars as pl

    from genai_lab.synth import write_dump
    from genai_lab.synth.generation import generate

    if rows <= PART_ROWS:
        write_dump(path, rows=rows, seed=seed)
        return
    with open(path, "wb") as out:
        for part, start in enumerate(range(0, rows, PART_ROWS)):
            dump, _ = generate(rows=min(PART_ROWS, rows - start), seed=seed * 1000 + part)
            dump = dump.with_columns(pl.format("p{}-{}", pl.lit(part), pl.col(dump.columns[0])).alias(dump.columns[0]))
            dump.write_csv(out, include_header=part == 0)
            print(f"  part {part + 1}: {start + dump.height:,} of {rows:,} reviews written", flush=True)


def sample_rss(samples: list[tuple[float, float]], stop: threading.Event) -> None:
    import psutil

    process = psutil.Process()
    while not stop.is_set():
        samples.append((time.time(), process.memory_info().rss / 2**20))
        stop.wait(0.05)


def instance_rows(home: Path) -> int:
    import duckdb

    with duckdb.connect(str(home / "warehouse.duckdb")) as connection:
        return connection.execute("select count(*) from lab.raw_reviews").fetchone()[0]


if __name__ == "__main__":
    main()
