"""`genai-lab`: run the lineage on a folder of dumps, open the UI, write a synthetic dump, or plan a corpus's cost."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import textwrap
import warnings
from importlib import resources as package_files
from pathlib import Path

from genai_lab import environment

DEFAULT_DUMP_NAME = "reviews_synthetic.csv"
DEFAULT_DUMP_ROWS = 20_000


class HomeError(ValueError):
    """A --home or --dumps the command cannot use; the message names the path and what was expected."""


def prepare_home(home: str | None, dumps: str | None) -> tuple[Path, Path]:
    """Resolves the home, exports it for the code location, and points Dagster at <home>/dagster.

    The dumps folder is --dumps, else env GENAI_LAB_DUMPS, else <home>/dumps: the one the code location reads.
    """
    from genai_lab.paths import LabPaths

    paths = LabPaths.from_home(home)
    if paths.home.exists() and not paths.home.is_dir():
        raise HomeError(f"home {paths.home} is a file; expected a folder (it is made when missing)")
    if dumps:
        chosen = Path(dumps).expanduser().resolve()
        # a mistyped --dumps must not quietly become a new folder holding the synthetic default
        if not chosen.is_dir():
            raise HomeError(f"--dumps {chosen} is not a folder; expected the folder the review dumps are in")
    environment.set_lab_folders(str(paths.home), str(chosen) if dumps else None, str(paths.home / "dagster"))
    paths.ensure()
    instance_yaml = Path(environment.dagster_home()) / "dagster.yaml"
    if not instance_yaml.exists():
        with package_files.as_file(package_files.files("genai_lab") / "dagster.yaml") as template:
            shutil.copyfile(template, instance_yaml)
    dumps_dir = Path(environment.dumps()).expanduser().resolve() if environment.dumps() else paths.dumps
    return paths.home, dumps_dir


def _contiguous_runs(ordered: list[str], wanted: set[str]) -> list[tuple[str, str]]:
    """Ranges [start, end] of consecutive wanted keys in the instance's partition order."""
    ranges, start, previous = [], None, None
    for key in ordered:
        if key in wanted:
            start = start or key
            previous = key
        elif start is not None:
            ranges.append((start, previous))
            start = None
    if start is not None:
        ranges.append((start, previous))
    return ranges


def _failure_paragraph(result) -> str:
    failures = [event for event in result.all_events if event.is_step_failure]
    if not failures:
        return "the run did not succeed (no step reported a failure; see the log above)."
    event = failures[0]
    error = event.step_failure_data.error
    message = re.sub(r"^[\w.]+\.Failure: ", "", error.message.strip()) if error else "unknown error"
    cause = error.cause.message.strip() if error and error.cause else ""
    return f"step '{event.step_key}' failed: {message}" + (f" Caused by: {cause}" if cause else "")


def command_run(args: argparse.Namespace) -> int:
    home, dumps_dir = prepare_home(args.home, args.dumps)
    from dagster import AssetSelection, BetaWarning, DagsterError, DagsterInstance

    from genai_lab.definitions import defs
    from genai_lab.ingest import DumpError
    from genai_lab.partitions import review_dumps
    from genai_lab.runner import choose_executor, execution_phases, partition_range_tags, run_assets
    from genai_lab.synth import write_dump

    dumps_dir.mkdir(parents=True, exist_ok=True)
    lab = defs.resources["lab"]
    try:
        files = lab.dump_files()
        if not files:
            dump, _ = write_dump(dumps_dir / DEFAULT_DUMP_NAME, rows=DEFAULT_DUMP_ROWS, seed=0)
            print(f"genai-lab: no dump in {dumps_dir}; wrote the embedded default ({DEFAULT_DUMP_ROWS:,} synthetic reviews) to {dump.name}")
            files = lab.dump_files()
    except DumpError as error:
        print(f"genai-lab run failed: {error}", file=sys.stderr)
        return 1

    instance = DagsterInstance.get()
    known = instance.get_dynamic_partitions(review_dumps.name)
    new = [key for key in files if key not in known]
    if new:
        instance.add_dynamic_partitions(review_dumps.name, new)
    ordered = instance.get_dynamic_partitions(review_dumps.name)

    graph = defs.resolve_asset_graph()
    try:
        # clean_reviews and rejected_reviews come from one computation: selecting one selects both
        with warnings.catch_warnings():
            # the selection parser passes Dagster's own beta `include_sources`: nothing a user can act on
            warnings.simplefilter("ignore", BetaWarning)
            selected = AssetSelection.from_string(args.select).required_multi_asset_neighbors().resolve(graph)
    except Exception as error:  # noqa: BLE001 - any selection error is the user's input
        print(f"genai-lab run failed: invalid --select '{args.select}': {error}", file=sys.stderr)
        return 2
    if not selected:
        print(f"genai-lab run failed: --select '{args.select}' matches no asset", file=sys.stderr)
        return 2
    batches = []
    for partitioned, unpartitioned in execution_phases(graph, selected):
        if partitioned:
            batches += [(partition_range_tags(start, end), partitioned) for start, end in _contiguous_runs(ordered, set(files))]
        if unpartitioned:
            batches.append(({}, unpartitioned))
    rows = sum(_rows_or_zero(path) for path in files.values()) if args.executor == "auto" else 0
    executor = choose_executor(args.executor, rows)
    print(f"genai-lab: home {home}; {len(files)} dump(s) in {dumps_dir}; {len(selected)} asset(s) selected; Dagster instance "
          f"{environment.dagster_home()}; {'one process per step' if executor == 'per_step' else 'steps in this process'}")
    for tags, keys in batches:
        try:
            result = run_assets(instance, keys, {**tags, "genai_lab/launched_by": "cli"}, executor)
        except DagsterError as error:
            print("\n" + textwrap.fill(f"genai-lab run failed before any step ran: {error}", width=100), file=sys.stderr)
            return 1
        if not result.success:
            print("\n" + textwrap.fill(f"genai-lab run failed (run {result.run_id}): {_failure_paragraph(result)}", width=100), file=sys.stderr)
            return 1
    print(f"genai-lab: done. Tables in {home / 'warehouse.duckdb'}; open the UI with: genai-lab ui --home {home}")
    return 0


def _rows_or_zero(path: Path) -> int:
    """A dump's records for choosing the executor; a file that cannot be counted counts none (prep says why)."""
    from genai_lab.ingest import DumpError
    from genai_lab.planning import count_rows

    try:
        return count_rows(path)
    except DumpError:
        return 0


def command_ui(args: argparse.Namespace) -> int:
    prepare_home(args.home, args.dumps)
    command = [sys.executable, "-m", "dagster", "dev", "-h", "127.0.0.1", "-p", str(args.port), "-m", "genai_lab.definitions"]
    print(f"genai-lab: starting the Dagster UI on http://127.0.0.1:{args.port} (DAGSTER_HOME={environment.dagster_home()})")
    os.execve(sys.executable, command, os.environ.copy())
    return 0  # not reached


def command_synth(args: argparse.Namespace) -> int:
    from genai_lab.synth import write_dump

    dump, truth = write_dump(args.out, rows=args.rows, seed=args.seed)
    print(f"genai-lab: wrote {args.rows:,} synthetic reviews to {dump} and their truth to {truth}")
    return 0


def command_plan(args: argparse.Namespace) -> int:
    """Counts the dumps' rows, measures the per-row rates on a sample here, and prints each step's projected cost."""
    import json

    from genai_lab import planning

    dumps: list[Path] = []
    if args.rows is None or args.dumps:
        from genai_lab.ingest import DumpError, list_dump_files

        home, dumps_dir = prepare_home(args.home, args.dumps)
        dumps = list_dump_files(dumps_dir)
        if not dumps and args.rows is None:
            print(f"genai-lab plan failed: no dump in {dumps_dir}; give --dumps DIR or --rows N", file=sys.stderr)
            return 1
        try:
            counts = {path.name: planning.count_rows(path) for path in dumps}
        except DumpError as error:
            print(f"genai-lab plan failed: {error}", file=sys.stderr)
            return 1
        for name, count in counts.items():
            print(f"genai-lab plan: {name}: {count:,} rows")
        gold = planning.plan_gold(home / "gold")
    else:
        from genai_lab.paths import LabPaths

        counts, gold = {}, planning.plan_gold(LabPaths.from_home(args.home).home / "gold")
    rows = args.rows if args.rows is not None else sum(counts.values())
    from genai_lab.resources import lab_resources

    resources = lab_resources()
    rates = planning.measure_rates(dumps, resources, sample_rows=args.sample_rows, counts=counts, gold=gold,
                                   log=lambda line: print(f"genai-lab plan: {line}", file=sys.stderr))
    gold_rows, gold_scored = planning.count_gold_rows(gold)
    budgets = planning.Budgets.from_resources(resources, gold_rows=gold_rows, gold_scored_rows=gold_scored)
    plan = planning.project(rows, rates, budgets, gpu=planning.gpu_name())
    print(json.dumps(plan.as_dict() | {"rates": vars(rates)}) if args.json else planning.render(plan))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genai-lab", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    home_help = "home folder (default: env GENAI_LAB_HOME, else ./data)"

    run = commands.add_parser("run", help="register the dumps as partitions and materialize the selected assets")
    run.add_argument("--home", help=home_help)
    run.add_argument("--dumps", help="folder of review dumps (default: <home>/dumps; the embedded default is written there when empty)")
    run.add_argument("--select", default="*", help="Dagster asset selection, e.g. '*text_quality' (default: all assets)")
    run.add_argument("--executor", choices=("auto", "in_process", "per_step"), default="auto",
                     help="run the steps in this process, or each in its own, which hands its memory back when it ends "
                          "(default auto: its own for a corpus too large for one process; see docs/configuration.md)")
    run.set_defaults(handler=command_run)

    ui = commands.add_parser("ui", help="start the Dagster UI (dagster dev) on 127.0.0.1 for this home")
    ui.add_argument("--home", help=home_help)
    ui.add_argument("--dumps", help="folder the sensor watches (default: <home>/dumps)")
    ui.add_argument("--port", type=int, default=3000)
    ui.set_defaults(handler=command_ui)

    synth = commands.add_parser("synth", help="write a synthetic review dump and its truth file")
    synth.add_argument("out", help="output file (.csv, .jsonl, .json or .parquet)")
    synth.add_argument("--rows", type=int, default=DEFAULT_DUMP_ROWS)
    synth.add_argument("--seed", type=int, default=0)
    synth.set_defaults(handler=command_synth)

    plan = commands.add_parser("plan", help="project each step's time, the disk and the device for the dumps (or --rows N)")
    plan.add_argument("--home", help=home_help)
    plan.add_argument("--dumps", help="folder of review dumps whose rows are counted (default: <home>/dumps)")
    plan.add_argument("--rows", type=int, help="project a corpus of this many raw reviews instead (e.g. 22200000)")
    plan.add_argument("--sample-rows", type=int, default=20000, help="rows the prep rates are measured on (default: 20000)")
    plan.add_argument("--json", action="store_true", help="print the plan and the rates as one JSON object")
    plan.set_defaults(handler=command_plan)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except HomeError as error:
        print(f"genai-lab {args.command} failed: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
