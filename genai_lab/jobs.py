from dagster import AssetSelection, define_asset_job

from genai_lab.partitions import review_dumps

# Everything partitioned by dump: what a new or changed dump file has to refresh.
review_dump_job = define_asset_job(
    "review_dump_job",
    selection=AssetSelection.groups("prep"),
    partitions_def=review_dumps,
    description="Ingest, check and clean the selected review dumps.",
)
