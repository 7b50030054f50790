"""The whole graph against its time budget: `genai-lab run`, then per-step seconds and the model scores.

    python benchmarks/whole_graph.py --home /tmp/h --dumps ../shared/data/dumps --gold ../shared/data/gold
    python benchmarks/whole_graph.py --home /tmp/h            # the embedded default (budget: 5 minutes)
    python benchmarks/whole_graph.py --home /tmp/h --report-only   # read an earlier run's numbers

Budgets (issue 4): 30 minutes on 2 cores for the 136k shared reviews, 5 minutes for the embedded
default. The home must be fresh (or use --report-only): a second run re-materializes everything,
but the model store keeps its earlier versions and the champion rule applies.
Prints a table per step, then the sentiment scores and cost rows of `model_evaluation`; the last
line is JSON.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from recording import record  # noqa: E402  (benchmarks/ is the script folder)

def step_seconds(dagster_home: Path) -> dict[str, float]:
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    from dagster import DagsterInstance

    instance = DagsterInstance.get()
    seconds: dict[str, float] = {}
    for run in instance.get_runs():
        starts = {}
        for entry in instance.all_logs(run.run_id):
            event = entry.dagster_event
            if event is None:
                continue
            if event.event_type_value == "STEP_START":
                starts[entry.step_key] = entry.timestamp
            elif event.event_type_value == "STEP_SUCCESS" and entry.step_key in starts:
                seconds[entry.step_key] = seconds.get(entry.step_key, 0.0) + entry.timestamp - starts[entry.step_key]
    return seconds


def scores(warehouse: Path) -> list[tuple]:
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(
            "select task, dataset, model, metric, value, n from lab.model_evaluation "
            "where (metric in ('coverage', 'accuracy', 'macro_f1') and model in ('vader', 'majority_vote', 'label_model', 'finetuned_adapter', 'slm_classifier')) "
            "or task = 'cost' order by task, dataset, model, metric").fetchall()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", required=True)
    parser.add_argument("--dumps")
    parser.add_argument("--gold", help="folder of gold files copied into <home>/gold first")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    home = Path(args.home).resolve()
    wall = None
    if not args.report_only:
        if args.gold:
            (home / "gold").mkdir(parents=True, exist_ok=True)
            for path in Path(args.gold).iterdir():
                if path.suffix in (".csv", ".parquet"):
                    shutil.copy(path, home / "gold" / path.name)
        command = [sys.executable, "-m", "genai_lab.cli", "run", "--home", str(home)] + (["--dumps", args.dumps] if args.dumps else [])
        started = time.monotonic()
        subprocess.run(command, check=True)
        wall = time.monotonic() - started
    seconds = step_seconds(home / "dagster")
    print(f"\n{'step':<28}{'seconds':>10}")
    for step, value in sorted(seconds.items(), key=lambda item: -item[1]):
        print(f"{step:<28}{value:>10.1f}")
    rows = scores(home / "warehouse.duckdb")
    print(f"\n{'task':<18}{'dataset':<44}{'model':<20}{'metric':<16}{'value':>12}{'n':>8}")
    for task, dataset, model, metric, value, n in rows:
        print(f"{task:<18}{dataset:<44}{model:<20}{metric:<16}{value if value is not None else float('nan'):>12.4f}{n or 0:>8}")
    record("whole_graph", {"wall_seconds": wall, "step_seconds": seconds,
                           "scores": [dict(zip(("task", "dataset", "model", "metric", "value", "n"), row, strict=True)) for row in rows]})


if __name__ == "__main__":
    main()
