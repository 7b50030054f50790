"""The dump partitions, and how a partitioned asset and the reports downstream of it are declared."""

import warnings

from dagster import AutomationCondition, BackfillPolicy, BetaWarning, DynamicPartitionsDefinition, asset, multi_asset

from genai_lab.vocabulary import DUCKDB_POOL

# One partition per review dump file; the key is `paths.dump_id_for(file)`.
review_dumps = DynamicPartitionsDefinition(name="review_dumps")

#: where a partitioned table's rows say which partition they belong to (the IO manager replaces a partition's rows)
PARTITION_METADATA = {"partition_expr": "dump_id"}


def by_dump(*, multi: bool = False, **kwargs):
    """`@asset` (or `@multi_asset`) partitioned by dump: a backfill of many dumps runs as one run, one DuckDB writer at a time."""
    decorator = multi_asset if multi else asset
    if not multi:
        kwargs = {"metadata": PARTITION_METADATA, **kwargs}
    with warnings.catch_warnings():
        # backfill_policy is beta in Dagster 1.13; it is what makes a backfill one run instead of one per dump
        warnings.simplefilter("ignore", BetaWarning)
        return decorator(partitions_def=review_dumps, backfill_policy=BackfillPolicy.single_run(), pool=DUCKDB_POOL, **kwargs)


def eager_over_materialized_partitions() -> AutomationCondition:
    """`eager()` for an unpartitioned asset that reads every partition of its inputs there is.

    Plain `eager()` waits while any input partition is missing, and a dump that failed to ingest stays
    a partition without rows: the market reports would then never refresh again. This runs once every
    input has at least one materialized partition, and again whenever one of them updates.
    """
    return (AutomationCondition.eager().without(~AutomationCondition.any_deps_missing())
            & AutomationCondition.all_deps_match(~AutomationCondition.missing())).with_label("eager over the materialized partitions")
