from dagster import AssetSelection, define_asset_job

from genai_lab.vocabulary import ADAPTER, MODEL_EVALUATION, RATING_MIL, SLM_CLASSIFIER

# Everything partitioned by dump: what a new or changed dump file has to refresh. Not the rating-MIL teacher: it
# trains on every dump's stars for minutes; a new dump is labelled with the one stored.
review_dump_job = define_asset_job(
    "review_dump_job",
    selection=AssetSelection.groups("prep", "labels") - AssetSelection.assets(RATING_MIL),
    description="Ingest, check and clean the selected review dumps.",
)

# Every asset: what `genai-lab run` executes (a selection of it) for a range of dump partitions.
all_assets_job = define_asset_job("all_assets", selection=AssetSelection.all(), description="Every asset of GenAI Lab.")

# What the retrain sensor launches: both arms' classifiers on the new pseudo-labels (the SLM keeps its pretrained
# encoder), so their champions are scored on the same held-out rows and serving compares them like for like.
classifier_retraining_job = define_asset_job(
    "classifier_retraining",
    selection=AssetSelection.assets(ADAPTER, "adapter_evaluation", SLM_CLASSIFIER, "slm_evaluation", "inference_timing",
                                    MODEL_EVALUATION),
    description="Self-train new versions of the LoRA adapter and the SLM classifier on all pseudo-labels and evaluate the champions.",
)

JOBS = [review_dump_job, all_assets_job, classifier_retraining_job]
