"""A new or changed file in the dumps folder becomes a partition and a run."""


import json

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    AssetSelection,
    AutomationConditionSensorDefinition,
    DagsterEventType,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from genai_lab.ingest import DumpError, file_sha256
from genai_lab.jobs import classifier_retraining_job, review_dump_job
from genai_lab.partitions import review_dumps
from genai_lab.resources import AdapterResource, HomeResource
from genai_lab.vocabulary import ADAPTER, PSEUDO_LABELS


def _last_ingested_hash(context: SensorEvaluationContext, dump_id: str) -> str | None:
    """The file hash the latest raw_reviews materialization of this partition read (from the event log, not DuckDB)."""
    records = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey("raw_reviews"), asset_partitions=[dump_id]), limit=1
    ).records
    if not records:
        return None
    metadata = records[0].asset_materialization.metadata if records[0].asset_materialization else {}
    hashes = metadata.get("file_hashes")
    return json.loads(hashes.value).get(dump_id) if hashes is not None else None


@sensor(job=review_dump_job, minimum_interval_seconds=15, default_status=DefaultSensorStatus.RUNNING,
        description="Registers each dump file as a partition and runs it when it is new or its content changed.")
def review_dump_sensor(context: SensorEvaluationContext, lab: HomeResource):
    # cursor: dump_id -> [size, mtime_ns, sha256], so unchanged files are not hashed again every tick
    seen: dict[str, list] = json.loads(context.cursor) if context.cursor else {}
    try:
        files = lab.dump_files()
    except DumpError as error:
        return SkipReason(f"Cannot map the dumps folder onto partitions: {error}")
    known = set(context.instance.get_dynamic_partitions(review_dumps.name))
    run_requests, new_partitions = [], []
    for dump_id, path in files.items():
        stat = path.stat()
        fingerprint = seen.get(dump_id)
        if fingerprint and fingerprint[:2] == [stat.st_size, stat.st_mtime_ns]:
            content_hash = fingerprint[2]
        else:
            content_hash = file_sha256(path)
            seen[dump_id] = [stat.st_size, stat.st_mtime_ns, content_hash]
        ingested = None
        if dump_id not in known:
            new_partitions.append(dump_id)
        elif (ingested := _last_ingested_hash(context, dump_id)) == content_hash:
            continue
        # the hash it replaces is part of the key: a file changed back (A, B, A) is a new request, which
        # Dagster would otherwise drop as a repeat of the first A's run key
        run_requests.append(RunRequest(partition_key=dump_id, run_key=f"{dump_id}:{content_hash}:{ingested}",
                                       tags={"genai_lab/dump_file": path.name}))
    return SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[review_dumps.build_add_request(new_partitions)] if new_partitions else [],
        cursor=json.dumps(seen, sort_keys=True),
    )


def _training_read_point(context: SensorEvaluationContext, training) -> float:
    """When the training step started (its inputs were read after it): pseudo-labels materialized later are new to it.

    The materialization itself comes only when the training ends, often many minutes on; partitions
    labelled in between were not read and must count towards the next training. Timestamps, not
    storage ids: the default SQLite storage numbers each run's events apart from the asset index. A
    materialization without a run step (reported from outside a run) is its own read point.
    """
    entry = training.event_log_entry
    if not entry.run_id or not entry.step_key:
        return entry.timestamp
    starts = [record.event_log_entry.timestamp
              for record in context.instance.get_records_for_run(entry.run_id, of_type=DagsterEventType.STEP_START).records
              if record.event_log_entry.step_key == entry.step_key and record.event_log_entry.timestamp <= entry.timestamp]
    return max(starts, default=entry.timestamp)


def _new_labelled_reviews(context: SensorEvaluationContext) -> tuple[int, int | None]:
    """(reviews pseudo-labelled since the adapter's last training read its inputs, storage id of the newest pseudo_labels materialization)."""
    last_training = context.instance.fetch_materializations(AssetKey(ADAPTER), limit=1).records
    after = _training_read_point(context, last_training[0]) if last_training else None
    count, newest, cursor = 0, None, None
    while True:
        page = context.instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey(PSEUDO_LABELS), after_timestamp=after), limit=1000, cursor=cursor, ascending=True)
        for record in page.records:
            metadata = record.asset_materialization.metadata if record.asset_materialization else {}
            labelled = metadata.get("labelled_reviews")
            count += int(labelled.value) if labelled is not None else 0
            newest = record.storage_id
        if not page.has_more:
            return count, newest
        cursor = page.cursor


@sensor(job=classifier_retraining_job, minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING,
        description="Requests both arms' classifier training once enough reviews were pseudo-labelled since the adapter's last training.")
def retrain_sensor(context: SensorEvaluationContext, adapter: AdapterResource):
    # Counted from the event log's materialization metadata (labelled_reviews per pseudo_labels
    # partition), not from DuckDB, which a running job may hold locked.
    count, newest = _new_labelled_reviews(context)
    threshold = adapter.retrain_min_new_reviews
    if count < threshold or newest is None:
        # the cursor stays put: the count accumulates over ticks until it reaches the threshold
        return SkipReason(f"{count:,} reviews pseudo-labelled since the last adapter training; retraining at {threshold:,}")
    if context.cursor == str(newest):
        return SkipReason(f"Training for pseudo-labels up to storage id {newest} was already requested")
    return SensorResult(
        run_requests=[RunRequest(run_key=f"retrain:{newest}", tags={"genai_lab/new_labelled_reviews": str(count)})],
        cursor=str(newest),
    )


# Dagster's default automation sensor starts switched off; this one runs from the start, so a new dump
# or a new champion refreshes the predictions and both reports without anyone clicking.
automation_sensor = AutomationConditionSensorDefinition(
    "refresh_insight_and_reports", target=AssetSelection.all(), default_status=DefaultSensorStatus.RUNNING, minimum_interval_seconds=30,
    description="Evaluates the eager automation conditions of review_predictions, market_opportunities and both reports.")

SENSORS = [review_dump_sensor, retrain_sensor, automation_sensor]
