"""Running assets from Python the way the UI does: a reconstructable job in a persistent instance.

Not `materialize()`: it keeps every step's output in memory for its result (4 GB at 1M reviews)
and its runs have no job origin, so the UI could not re-execute them.
"""

from dagster import AssetKey, DagsterInstance, JobDefinition, execute_job, reconstructable
from dagster._core.execution.execution_result import ExecutionResult
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

# One process, steps in order: the stages are single partitions' worth of polars work each, and a
# child process per step would pay the imports (~3 s) five times over.
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}
# Steps in order, each in a process of its own, which hands its memory back when the step ends. In one process the
# allocator keeps what a step freed: a 1M-review run held 7.5 GB when pseudo_labels began, after an 8.4 GB peak in
# slm_pretrained, whatever pseudo_labels itself needs.
PER_STEP = {"execution": {"config": {"multiprocess": {"max_concurrent": 1}}}}
#: above this many raw reviews `genai-lab run` starts a process per step: the ~3 s of imports each are ~1 minute on a
#: run of an hour or more, and one process grew from 3.3 GB (20k reviews) and 5.7 GB (136k) to over 8 GB (1M)
PER_STEP_ABOVE_ROWS = 250_000
EXECUTORS = {"in_process": IN_PROCESS, "per_step": PER_STEP}


def all_assets_job() -> JobDefinition:
    """The job of every asset in the code location (home and dumps from the environment, as `genai-lab` sets them)."""
    from genai_lab.definitions import defs

    return defs.resolve_job_def("all_assets")


def partition_range_tags(first: str, last: str) -> dict[str, str]:
    return {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}


def choose_executor(choice: str, rows: int) -> str:
    """`in_process` or `per_step`: the choice, or for `auto` by the corpus's raw rows (`PER_STEP_ABOVE_ROWS`)."""
    if choice == "auto":
        return "per_step" if rows > PER_STEP_ABOVE_ROWS else "in_process"
    if choice not in EXECUTORS:
        raise ValueError(f"unknown executor {choice!r}: expected auto, {', '.join(EXECUTORS)}")
    return choice


def run_assets(instance: DagsterInstance, keys: set[AssetKey], tags: dict[str, str], executor: str = "in_process") -> ExecutionResult:
    return execute_job(reconstructable(all_assets_job), instance=instance, run_config=EXECUTORS[executor], tags=tags,
                       asset_selection=sorted(keys, key=lambda key: key.to_user_string()))


def execution_phases(graph, selected) -> list[tuple[set[AssetKey], set[AssetKey]]]:
    """The selection as (partitioned, unpartitioned) key sets to run in order.

    A run is either partitioned (a range of dumps) or not, so each switch between the two along a
    dependency path starts a new phase: dumps -> models (unpartitioned) -> review_predictions
    (partitioned again) -> market_opportunities (unpartitioned) is four phases.
    """
    selected = set(selected)
    phase: dict[AssetKey, int] = {}

    def phase_of(key: AssetKey) -> int:
        if key not in phase:
            node = graph.get(key)
            partitioned = node.partitions_def is not None
            phase[key] = max((phase_of(parent) + (partitioned != (graph.get(parent).partitions_def is not None))
                              for parent in node.parent_keys if parent in selected), default=0)
        return phase[key]

    for key in selected:
        phase_of(key)
    return [({k for k in selected if phase[k] == n and graph.get(k).partitions_def is not None},
             {k for k in selected if phase[k] == n and graph.get(k).partitions_def is None}) for n in sorted(set(phase.values()))]
