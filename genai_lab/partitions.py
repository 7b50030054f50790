from dagster import AutomationCondition, DynamicPartitionsDefinition

# One partition per review dump file; the key is `settings.dump_id_for(file)`.
review_dumps = DynamicPartitionsDefinition(name="review_dumps")


def eager_over_materialized_partitions() -> AutomationCondition:
    """`eager()` for an unpartitioned asset that reads every partition of its inputs there is.

    Plain `eager()` waits while any input partition is missing, and a dump that failed to ingest stays
    a partition without rows: the market reports would then never refresh again. This runs once every
    input has at least one materialized partition, and again whenever one of them updates.
    """
    return (AutomationCondition.eager().without(~AutomationCondition.any_deps_missing())
            & AutomationCondition.all_deps_match(~AutomationCondition.missing())).with_label("eager over the materialized partitions")
