"""Every model measured on gold, in quality and cost: `model_evaluation`, one long table.

gold_labels ─┬─ label_quality (the labelling functions and the label model) ─┐
             ├─ review_type_quality (the review-type detector) ──────────────┤
             ├─ adapter_evaluation (finetuned_adapter's champion) ───────────┼─ model_evaluation
             ├─ slm_evaluation (slm_classifier's champions) ─────────────────┤
             └─ inference_timing (both arms, timed together) ────────────────┘

Gold only measures here: nothing in this group trains, stops or selects a model.
"""

import polars as pl
from dagster import AssetExecutionContext, MetadataValue, Output, asset

from genai_lab.evaluation import EVALUATION_SCHEMA, mark_synthetic, markdown_cost, markdown_summary, score_multilabel, score_predictions
from genai_lab.labels.gold import load_gold_folder
from genai_lab.labels.gold_scoring import labeller_gold_predictions, synthetic_gold
from genai_lab.labels.probes import load_probe_ensemble
from genai_lab.labels.rating_mil import load_rating_mil
from genai_lab.labels.review_types import review_type_sets
from genai_lab.ml.arms import evaluation_names, load_classifier, store_name
from genai_lab.ml.store import ModelStore
from genai_lab.reports.writing import markdown_table
from genai_lab.resources import AdapterResource, HomeResource, LabelingResource, ReportingResource, SlmResource
from genai_lab.vocabulary import ADAPTER, DUCKDB_POOL, REVIEW_TYPE, REVIEW_TYPE_MODEL, SLM_CLASSIFIER


@asset(pool=DUCKDB_POOL,
       description="Human gold labels from <home>/gold (CSV/Parquet: text + polarity|label, optional aspect_term/from/to); "
                   "when the folder is empty, the generator's truth, marked synthetic. Gold never trains or tunes anything.")
def gold_labels(context: AssetExecutionContext, lab: HomeResource):
    lab.paths.gold.mkdir(parents=True, exist_ok=True)  # part of every home: an empty one means synthetic gold
    gold = load_gold_folder(lab.paths.gold)
    if gold.height == 0:
        context.log.warning(f"{lab.paths.gold} holds no gold file: using the synthetic generator's truth, marked synthetic")
        gold = synthetic_gold()
    per_set = gold.group_by("dataset", "task", "synthetic").agg(pl.len().alias("rows"), pl.col("label").n_unique().alias("classes")).sort("dataset")
    return Output(gold, metadata={
        "datasets": MetadataValue.md(markdown_table(per_set)),
        "synthetic": bool(gold["synthetic"].any()),
    })

@asset(pool=DUCKDB_POOL,
       description="Every labelling function, majority vote and the label model scored on the human gold sets: "
                   "coverage, accuracy, macro-F1 and per-class F1 on the covered rows (long format).")
def label_quality(context: AssetExecutionContext, gold_labels: pl.DataFrame, pseudo_labels: pl.DataFrame, labeling: LabelingResource,
                  models: ModelStore):
    settings = labeling.labels
    probe = load_probe_ensemble(models, pseudo_labels["dump_id"].drop_nulls().unique().to_list(), settings)
    scored = []
    teacher = load_rating_mil(models)
    for task, (gold, predictions) in labeller_gold_predictions(gold_labels, pseudo_labels, settings, probe, teacher).items():
        for name, predicted in predictions.items():
            frame = gold.select("dataset", "task", "label").with_columns(predicted.alias("prediction"))
            scored.append(score_predictions(frame, name))
        context.log.info(f"{task}: scored {len(predictions)} labellers on {gold['dataset'].n_unique()} gold set(s), {gold.height:,} rows")
    evaluation = pl.concat(scored) if scored else pl.DataFrame(schema=EVALUATION_SCHEMA)
    evaluation = mark_synthetic(evaluation, gold_labels)
    return Output(evaluation, metadata={"summary": MetadataValue.md(markdown_summary(evaluation))})


@asset(pool=DUCKDB_POOL,
       description="The rule-based review-type detector (bug report, feature request, user experience, rating) scored on the "
                   "multi-label review-type gold (Maalej-style) per type: precision, recall, F1; macro-F1; exact-set accuracy.")
def review_type_quality(context: AssetExecutionContext, gold_labels: pl.DataFrame, labeling: LabelingResource):
    gold = gold_labels.filter(pl.col("task") == REVIEW_TYPE)
    if gold.height == 0:
        context.log.warning("No review-type gold: nothing to score")
        evaluation = pl.DataFrame(schema=EVALUATION_SCHEMA)
    else:
        # the gold is multi-label (a row per (text, type)); the detector's flags are scored per type, as Maalej & Nabil did
        evaluation = score_multilabel(gold, review_type_sets(gold["text"].unique(maintain_order=True), labeling.review_types),
                                      REVIEW_TYPE_MODEL)
    evaluation = mark_synthetic(evaluation, gold_labels)
    return Output(evaluation, metadata={"summary": MetadataValue.md(markdown_summary(evaluation))})

@asset(pool=DUCKDB_POOL, deps=[ADAPTER],
       description="The champion adapter on every sentiment gold set (accuracy, macro-F1, per-class F1) and its training "
                   "cost from its manifest (inference is timed in inference_timing, beside the SLM).")
def adapter_evaluation(context: AssetExecutionContext, gold_labels: pl.DataFrame, adapter: AdapterResource, models: ModelStore):
    from genai_lab.ml.lora import load_merged_adapter
    from genai_lab.ml.scoring import evaluate_model

    champion = models.champion(ADAPTER)
    if champion is None:
        raise FileNotFoundError(f"model store {models.folder} holds no champion of {ADAPTER}: materialize {ADAPTER} first")
    # scored and timed the way review_predictions serves it: merged into the base weights
    model, tokenizer = load_merged_adapter(champion.path)
    manifest = champion.manifest
    evaluation = evaluate_model(
        model, tokenizer, gold_labels, ADAPTER, batch_size=adapter.training.inference_batch_size, max_length=adapter.training.max_length,
        training_cost={**manifest["cost"], "disk_mb": manifest["disk_mb"]})
    evaluation = evaluation.with_columns(pl.lit(champion.version).alias("model_version"))
    return Output(evaluation, metadata={"summary": MetadataValue.md(markdown_summary(evaluation)), "version": champion.version})

@asset(pool=DUCKDB_POOL, deps=[SLM_CLASSIFIER],
       description="The champion SLM classifier of every size on every sentiment gold set and its training cost, with exactly "
                   "the adapter arm's metrics (inference is timed in inference_timing, beside the adapter).")
def slm_evaluation(context: AssetExecutionContext, gold_labels: pl.DataFrame, slm: SlmResource, models: ModelStore):
    from genai_lab.ml.scoring import evaluate_model

    frames = []
    for size in slm.slm.ladder():
        champion = models.champion(store_name(SLM_CLASSIFIER, size))
        if champion is None:
            raise FileNotFoundError(f"model store {models.folder} holds no champion of {store_name(SLM_CLASSIFIER, size)}: "
                                    f"materialize {SLM_CLASSIFIER} first")
        model, tokenizer = load_classifier(champion.path)
        manifest = champion.manifest
        names = evaluation_names(slm.slm, size)
        evaluation = evaluate_model(
            model, tokenizer, gold_labels, names[0], batch_size=slm.training.inference_batch_size, max_length=slm.training.max_length,
            training_cost={**manifest["cost"], "disk_mb": manifest["disk_mb"]})
        for name in names:
            frames.append(evaluation.with_columns(pl.lit(name).alias("model"), pl.lit(champion.version).alias("model_version")))
    evaluation = pl.concat(frames)
    return Output(evaluation, metadata={"summary": MetadataValue.md(markdown_summary(evaluation))})

@asset(pool=DUCKDB_POOL, deps=[ADAPTER, SLM_CLASSIFIER],
       description="Batched throughput and single-review latency of every champion (the adapter and each SLM size), timed "
                   "together with passes alternating between them, so a drifting machine slows every model alike.")
def inference_timing(context: AssetExecutionContext, gold_labels: pl.DataFrame, adapter: AdapterResource, slm: SlmResource,
                     reporting: ReportingResource, models: ModelStore):
    from genai_lab.ml.lora import load_merged_adapter
    from genai_lab.ml.scoring import INFERENCE_COST_METRICS, Contender, cost_rows, time_together, timing_texts

    contenders, names, versions = {}, {}, {}
    candidates = [(ADAPTER, [ADAPTER], load_merged_adapter, adapter.training)] + [
        (store_name(SLM_CLASSIFIER, size), evaluation_names(slm.slm, size), load_classifier, slm.training) for size in slm.slm.ladder()]
    for stored_name, evaluated_as, load, training in candidates:
        champion = models.champion(stored_name)
        if champion is None:
            context.log.warning(f"{stored_name} has no champion in {models.folder}: not timed")
            continue
        # timed the way review_predictions serves it (the adapter merged into its base weights)
        contenders[stored_name] = Contender(*load(champion.path), batch_size=training.inference_batch_size, max_length=training.max_length)
        names[stored_name], versions[stored_name] = evaluated_as, champion.version
    if not contenders:
        raise FileNotFoundError(f"model store {models.folder} holds no champion to time: materialize {ADAPTER} or {SLM_CLASSIFIER} first")
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


@asset(pool=DUCKDB_POOL,
       description="One long table of every model's quality and cost on every gold set: model, task, dataset, metric, value, n.")
def model_evaluation(context: AssetExecutionContext, label_quality: pl.DataFrame, review_type_quality: pl.DataFrame,
                     adapter_evaluation: pl.DataFrame, slm_evaluation: pl.DataFrame, inference_timing: pl.DataFrame):
    evaluation = pl.concat([label_quality, review_type_quality, adapter_evaluation, slm_evaluation, inference_timing],
                           how="diagonal_relaxed")
    return Output(evaluation, metadata={"summary": MetadataValue.md(markdown_summary(evaluation)),
                                        "cost": MetadataValue.md(markdown_cost(evaluation)), "rows": evaluation.height})
