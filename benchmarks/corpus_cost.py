"""What a corpus costs on this machine, measured and projected: the per-row rates of every step (timed here on a
sample of the dumps, as `genai-lab plan` does), the whole graph projected for the dumps and for the reference
corpus (22.2M reviews), in time and money, and, given a measured run, each step's projection against it.

    python benchmarks/corpus_cost.py --dumps ../shared/data/dumps
    python benchmarks/corpus_cost.py --dumps ../shared/data/dumps --measured-home /tmp/h   # compare with a whole-graph run there
    python benchmarks/corpus_cost.py --measured-home /tmp/h --rates earlier.json  # with rates measured earlier

Money: CPU core-hours (all cores of this machine for the whole run) at the comparison report's price, plus
the electricity of those cores at its power setting. A GPU projection needs rates measured on a GPU: this
script says so instead of guessing when none is present. Writes benchmarks/results/corpus_cost.json with the
machine and commit it was measured on (`benchmarks/recording.py`), and `--out PATH` as well; the last printed
line is the result.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from recording import record  # benchmarks/ is the script folder, so it is on sys.path

from genai_lab import planning
from genai_lab.ingest import list_dump_files
from genai_lab.resources import lab_resources

ROOT = Path(__file__).resolve().parents[1]

REFERENCE_ROWS = 22_200_000  # the reference study's corpus


def measured_step_seconds(dagster_home: Path) -> dict[str, float]:
    """Seconds of each step of the successful runs in a Dagster instance (summed over runs, as a `genai-lab run` in
    phases has several)."""
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    instance = DagsterInstance.get()
    seconds: dict[str, float] = {}
    for run in instance.get_runs(filters=RunsFilter(statuses=[DagsterRunStatus.SUCCESS])):
        for stats in instance.get_run_step_stats(run.run_id):
            if stats.end_time and stats.start_time:
                seconds[stats.step_key] = seconds.get(stats.step_key, 0.0) + stats.end_time - stats.start_time
    return seconds


def money(seconds: float, resources: dict) -> dict[str, float]:
    prices, power = resources["reporting"].comparison, resources["adapter"].cost
    cores = os.cpu_count() or 1
    core_hours = seconds / 3600 * cores
    kwh = core_hours * power.cpu_watts_per_core / 1000
    return {"cores": cores, "core_hours": round(core_hours, 2), "usd_compute": round(core_hours * prices.cpu_core_hour_usd, 2),
            "kwh": round(kwh, 2), "usd_electricity": round(kwh * prices.electricity_usd_per_kwh, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dumps", default=str(ROOT.parent / "shared" / "data" / "dumps"))
    parser.add_argument("--rows", type=int, default=REFERENCE_ROWS)
    parser.add_argument("--sample-rows", type=int, default=20000)
    parser.add_argument("--measured-home", help="home of a finished whole-graph run on the same dumps (its dagster/ instance)")
    parser.add_argument("--rates", help="reuse the rates of an earlier results JSON instead of measuring them")
    parser.add_argument("--out", help="also write the result here (benchmarks/results/corpus_cost.json is always written)")
    args = parser.parse_args()

    dumps = list_dump_files(Path(args.dumps))
    counts = {path.name: planning.count_rows(path) for path in dumps}
    resources = lab_resources()
    gold = planning.plan_gold(Path(args.measured_home) / "gold" if args.measured_home else Path(args.dumps) / "no-gold-here")
    if args.rates:  # an earlier measurement (e.g. one taken while the measured run ran, under the same load)
        earlier = json.loads(Path(args.rates).read_text())
        # recorded files wrap the result in its provenance; files written before that, and --out files, do not
        rates = planning.Rates(**earlier.get("result", earlier)["rates"])
    else:
        rates = planning.measure_rates(dumps, resources, sample_rows=args.sample_rows, counts=counts, gold=gold,
                                       log=lambda line: print(line, file=sys.stderr))
    gold_rows, gold_scored = planning.count_gold_rows(gold)
    budgets = planning.Budgets.from_resources(resources, gold_rows=gold_rows, gold_scored_rows=gold_scored)
    gpu = planning.gpu_name()
    plans = {"dumps": planning.project(sum(counts.values()), rates, budgets, gpu), "reference": planning.project(args.rows, rates, budgets, gpu)}
    result = {"rates": vars(rates), "dump_rows": counts, "cpu": {"cores": os.cpu_count(), "load_average_at_start": os.getloadavg()[0]},
              "gpu": gpu or "none present: no GPU rates measured, so no GPU projection"}
    for name, plan in plans.items():
        print(f"\n== {name}: {plan.rows:,} raw reviews ==\n{planning.render(plan)}")
        result[name] = plan.as_dict() | {"money_cpu": money(plan.total_seconds, resources)}
    if args.measured_home:
        measured = measured_step_seconds(Path(args.measured_home) / "dagster")
        rows = planning.compare(plans["dumps"], measured)
        print("\nstep | projected s | measured s | ratio | within ±30%")
        for row in rows:
            print(f"{row['step']} | {row['projected_s']} | {row['measured_s']} | {row['ratio']} | {'yes' if row['within'] else 'no'}")
        result["measured"] = {"home": args.measured_home, "steps": rows, "measured_total_s": round(sum(measured.values()), 1)}
    print(json.dumps({name: {"rows": plan.rows, "total_s": round(plan.total_seconds), **money(plan.total_seconds, resources)}
                      for name, plan in plans.items()}))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    record("corpus_cost", result)


if __name__ == "__main__":
    main()
