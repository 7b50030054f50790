"""`model_evaluation`: every model's quality and cost on every gold set, in one long table.

label_quality ───────┐
review_type_quality ─┤
adapter_evaluation ──┼─ model_evaluation
slm_evaluation ──────┘
"""

import polars as pl
from dagster import AssetExecutionContext, MetadataValue, Output, asset

from genai_lab.assets.prep import DUCKDB_POOL
from genai_lab.evaluation import markdown_cost, markdown_summary


@asset(group_name="evaluation", pool=DUCKDB_POOL,
       description="One long table of every model's quality and cost on every gold set: model, task, dataset, metric, value, n.")
def model_evaluation(context: AssetExecutionContext, label_quality: pl.DataFrame, review_type_quality: pl.DataFrame,
                     adapter_evaluation: pl.DataFrame, slm_evaluation: pl.DataFrame):
    evaluation = pl.concat([label_quality, review_type_quality, adapter_evaluation, slm_evaluation], how="diagonal_relaxed")
    return Output(evaluation, metadata={"summary": MetadataValue.md(markdown_summary(evaluation)),
                                        "cost": MetadataValue.md(markdown_cost(evaluation)), "rows": evaluation.height})


assets = [model_evaluation]
