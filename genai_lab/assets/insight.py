"""Market insight from the models, not from the raw pseudo-labels.

pseudo_labels ─ review_predictions (champion model; partitioned) ─ market_opportunities
finetuned_adapter, slm_classifier ──┘                      clean_reviews ──┘

Both refresh on their own (eager automation conditions, run by the automation sensor of `dagster dev`):
a new dump's pseudo-labels or a newly trained model re-scores the partitions, and the table follows.
"""


import polars as pl
from dagster import AssetExecutionContext, AutomationCondition, MetadataValue, Output, asset

from genai_lab.ml.arms import load_classifier, store_name
from genai_lab.ml.lora import load_merged_adapter
from genai_lab.ml.store import ModelStore
from genai_lab.partitions import by_dump, eager_over_materialized_partitions
from genai_lab.reports.writing import markdown_table
from genai_lab.resources import InsightResource, LabelingResource, SlmResource
from genai_lab.vocabulary import ADAPTER, DUCKDB_POOL, SLM_CLASSIFIER


@by_dump(deps=[ADAPTER, SLM_CLASSIFIER], automation_condition=AutomationCondition.eager(),
       description="Every clean review (review sentiment, review type) and aspect mention (polarity) scored by the serving model: "
                   "the champion with the best held-out pseudo-label score among those projected to score within "
                   "insight.serving.max_minutes, or the arm set in insight.serving.model.")
def review_predictions(context: AssetExecutionContext, pseudo_labels: pl.DataFrame, insight: InsightResource, slm: SlmResource,
                       labeling: LabelingResource, models: ModelStore):
    from genai_lab.labels.review_types import detect_review_types
    from genai_lab.ml.classifier import LABELS, predict_proba
    from genai_lab.ml.resumable_pass import prune_other_passes
    from genai_lab.ml.serving import (AUTO, choose_serving_model, distinct_inputs, like_for_like_scores, prediction_table,
                                      projected_scoring_minutes, score_distinct)

    serving = insight.serving
    slm_name = store_name(SLM_CLASSIFIER, slm.slm.size)
    champions = {ADAPTER: models.champion(ADAPTER), SLM_CLASSIFIER: models.champion(slm_name)}
    scores = like_for_like_scores(champions, {ADAPTER: models.champion_pointer(ADAPTER), SLM_CLASSIFIER: models.champion_pointer(slm_name)})
    comparable = scores is not None
    if serving.model == AUTO and not comparable:
        context.log.warning("Serving choice 'auto' compared held-out scores measured on different held-out rows (the champions "
                            "were never scored on the same pseudo-labels): the classifier_retraining job trains both arms together")
    rows = pseudo_labels.select("review_id", "dump_id", "level", "mention_index", "aspect_term", pl.col("category").alias("aspect_category"),
                                "text")
    inputs = rows.select("text", pl.when(pl.col("level") == "aspect").then(pl.col("aspect_term")).alias("aspect"))
    loaded: dict[str, tuple] = {}

    def scorer(arm: str):
        if arm not in loaded:
            loaded[arm] = (load_merged_adapter if arm == ADAPTER else load_classifier)(champions[arm].path)
        model, tokenizer = loaded[arm]
        return lambda texts, aspects: predict_proba(model, tokenizer, texts, aspects, batch_size=serving.batch_size,
                                                    max_length=serving.max_length)

    distinct = distinct_inputs(inputs)

    def projected_minutes(arm: str) -> float:
        minutes = projected_scoring_minutes(distinct, scorer(arm), serving.timing_inputs)
        context.log.info(f"{arm} projected to score {distinct.height:,} distinct inputs in {minutes:.1f} min "
                         f"(budget {serving.max_minutes:g} min)")
        return minutes

    choice = choose_serving_model(champions, serving.model, scores=scores, projected_minutes=projected_minutes,
                                  max_minutes=serving.max_minutes)
    arm, champion = choice.arm, choice.champion
    loaded = {arm: loaded[arm]} if arm in loaded else {}  # the arm passed over need not stay in memory
    context.log.info(f"Scoring {rows.height:,} inputs ({rows.filter(pl.col('level') == 'aspect').height:,} aspect mentions) "
                     f"with {arm} {champion.version}: {choice.reason}")
    kept_batches = models.pass_dir("review_predictions", arm, champion.version, serving.max_length)
    scored = score_distinct(inputs, scorer(arm), width=len(LABELS), folder=kept_batches, batch_rows=serving.pass_batch_inputs,
                            progress=context.log.info)
    probabilities, seconds = scored.values, scored.seconds
    distinct_count = scored.reused + scored.computed
    for stale in prune_other_passes(kept_batches):
        context.log.info(f"Removed the kept batches of an earlier serving model ({stale})")
    predictions = prediction_table(rows, probabilities, detect_review_types(rows["text"], labeling.review_types), arm, champion.version)
    summary = predictions.group_by("level", "sentiment").len().sort("level", "sentiment")
    context.log.info(f"Scored {scored.computed:,} distinct inputs in {seconds:.0f} s ({scored.computed / max(seconds, 1e-9):.0f}/s); "
                     f"{scored.reused:,} more were kept from an earlier pass with this model")
    return Output(predictions, metadata={
        "model": arm, "model_version": champion.version, "inputs": rows.height, "distinct_inputs": distinct_count,
        "inputs_scored": scored.computed, "inputs_reused": scored.reused,
        "serving_choice": choice.reason, "projected_minutes": MetadataValue.json(choice.projected_minutes),
        "serving_scores_comparable": comparable, "serving_scores": MetadataValue.json(scores or {}), "scoring_minutes": round(seconds / 60, 2),
        "inputs_per_s": float(scored.computed / max(seconds, 1e-9)),
        "sentiment": MetadataValue.md(markdown_table(summary)),
        "feature_requests": int(predictions["is_feature_request"].fill_null(False).sum()),
    })


@asset(pool=DUCKDB_POOL, automation_condition=eager_over_materialized_partitions(),
       description="Unmet needs per category and app, on evidence: negative share by aspect with its 95% interval and its lift over "
                   "the aspect's share in the rest of the corpus, growth with a Poisson interval, a bounded helpful-vote weight, "
                   "quotes that say the need, feature requests clustered into themes named by a request phrase; needs with enough "
                   "support ranked by a documented opportunity score, each with its bootstrap stability.")
def market_opportunities(context: AssetExecutionContext, review_predictions: pl.DataFrame, clean_reviews: pl.DataFrame,
                         insight: InsightResource, labeling: LabelingResource):
    import numpy as np

    from genai_lab.insight.market import CATEGORY_LEVEL, build_market
    from genai_lab.ml.embeddings import embed
    from genai_lab.text.text_quality import STOPWORDS

    settings = insight.opportunities

    def embed_requests(texts: list[str]):
        return embed(texts, model_name=labeling.labels.base_model, max_length=settings.embed_max_length)

    market = build_market(review_predictions, clean_reviews, embed_requests, set(STOPWORDS), settings)
    table = market.table
    ranked = table.filter(pl.col("rank").is_not_null()).sort("rank")
    context.log.info(f"{market.mentions.height:,} scored aspect mentions and {market.requests.height:,} feature requests in "
                     f"{market.reviews.height:,} reviews: {ranked.height} needs ranked")
    return Output(table, metadata={
        "top_needs": MetadataValue.md(markdown_table(ranked.head(settings.top_needs).select(
            "rank", "category", "kind", "need", "mentions", "apps", "negative_share_estimate", "negative_share_low",
            "negative_share_high", "lift_low", "growth", "growth_low", "growth_high", "score", "stability"))),
        "needs": ranked.height,
        "thin_needs": table.filter((pl.col("level") == CATEGORY_LEVEL) & pl.col("thin")).height,
        "feature_requests": market.requests.height,
        "feature_requests_embedded": min(market.requests.height, settings.max_requests),
        "stability_resamples": settings.stability_resamples,
        "top10_overlap_median": float(np.median(market.overlaps)) if market.overlaps else None,
    })
