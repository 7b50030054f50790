"""`model_evaluation`: every model's quality and cost on every gold set, in one long table.

label_quality ─────────────────┐
review_type_quality ───────────┤
adapter_evaluation ────────────┼─ model_evaluation
slm_evaluation ────────────────┤
inference_timing (both arms) ──┘
"""

import polars as pl
from dagster import AssetExecutionContext, MetadataValue, Output, asset

from genai_lab.assets.finetune import ADAPTER, AdapterTraining, finetuned_adapter
from genai_lab.assets.prep import DUCKDB_POOL, markdown_table
from genai_lab.assets.reports import Reporting
from genai_lab.assets.slm import CLASSIFIER, SlmTraining, evaluation_names, load_classifier, slm_classifier, store_name
from genai_lab.evaluation import markdown_cost, markdown_summary, mark_synthetic
from genai_lab.ml.store import ModelStore


@asset(group_name="evaluation", pool=DUCKDB_POOL, deps=[finetuned_adapter, slm_classifier],
       description="Batched throughput and single-review latency of every champion (the adapter and each SLM size), timed "
                   "together with passes alternating between them, so a drifting machine slows every model alike.")
def inference_timing(context: AssetExecutionContext, gold_labels: pl.DataFrame, adapter: AdapterTraining, slm: SlmTraining,
                     reporting: Reporting, models: ModelStore):
    from genai_lab.ml.lora import load_merged_adapter
    from genai_lab.ml.scoring import INFERENCE_COST_METRICS, Contender, cost_rows, time_together, timing_texts

    contenders, names, versions = {}, {}, {}
    candidates = [(ADAPTER, [ADAPTER], load_merged_adapter, adapter.training)] + [
        (store_name(CLASSIFIER, size), evaluation_names(slm.slm, size), load_classifier, slm.training) for size in slm.slm.ladder()]
    for stored_name, evaluated_as, load, training in candidates:
        champion = models.champion(stored_name)
        if champion is None:
            context.log.warning(f"{stored_name} has no champion in {models.folder}: not timed")
            continue
        # timed the way review_predictions serves it (the adapter merged into its base weights)
        contenders[stored_name] = Contender(*load(champion.path), batch_size=training.inference_batch_size, max_length=training.max_length)
        names[stored_name], versions[stored_name] = evaluated_as, champion.version
    if not contenders:
        raise FileNotFoundError(f"model store {models.folder} holds no champion to time: materialize {ADAPTER} or {CLASSIFIER} first")
    settings = reporting.timing
    texts = timing_texts(gold_labels, settings.throughput_rows)
    context.log.info(f"Timing {', '.join(contenders)} together: {settings.passes} passes over {len(texts)} gold reviews each, "
                     f"{settings.latency_runs} single reviews")
    timing = time_together(contenders, texts, passes=settings.passes, latency_runs=settings.latency_runs)
    frames = []
    for stored_name, figures in timing.items():
        context.log.info(f"{stored_name} {versions[stored_name]}: {figures['reviews_per_s']:.0f} reviews/s batched, "
                         f"p50 {figures['latency_p50_ms']:.1f} ms")
        rows = cost_rows(stored_name, figures, n=int(figures["inference_rows"]), metrics=INFERENCE_COST_METRICS)
        frames += [rows.with_columns(pl.lit(name).alias("model"), pl.lit(versions[stored_name]).alias("model_version"))
                   for name in names[stored_name]]
    evaluation = mark_synthetic(pl.concat(frames), gold_labels)
    table = pl.DataFrame([{"model": name, **{m: round(figures[m], 1) for m in INFERENCE_COST_METRICS}} for name, figures in timing.items()])
    return Output(evaluation, metadata={"timing": MetadataValue.md(markdown_table(table)),
                                        **{f"{name.replace('@', '_')}_reviews_per_s": float(f["reviews_per_s"]) for name, f in timing.items()}})


@asset(group_name="evaluation", pool=DUCKDB_POOL,
       description="One long table of every model's quality and cost on every gold set: model, task, dataset, metric, value, n.")
def model_evaluation(context: AssetExecutionContext, label_quality: pl.DataFrame, review_type_quality: pl.DataFrame,
                     adapter_evaluation: pl.DataFrame, slm_evaluation: pl.DataFrame, inference_timing: pl.DataFrame):
    evaluation = pl.concat([label_quality, review_type_quality, adapter_evaluation, slm_evaluation, inference_timing],
                           how="diagonal_relaxed")
    return Output(evaluation, metadata={"summary": MetadataValue.md(markdown_summary(evaluation)),
                                        "cost": MetadataValue.md(markdown_cost(evaluation)), "rows": evaluation.height})


assets = [inference_timing, model_evaluation]
