"""Pseudo-labels without human labels.

clean_reviews ─ aspect_mentions ─┐
             ├── rating_mil ─────┤ (model store)
             └──────────────────── pseudo_labels

`rating_mil` is trained on the stars of every dump's reviews and stored as a model-store version; `pseudo_labels`
(per dump) votes with the newest version. The dump job and its sensor leave it out (it retrains on all dumps, minutes
of CPU): a new dump is labelled with the teacher trained so far, `genai-lab run` retrains it.
"""

import polars as pl
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, Output, asset

from genai_lab.hashing import frame_digest
from genai_lab.labels.functions import (LF_COLUMNS, aspect_clauses, aspect_votes, boundary_pattern, embed_unique_together, embedded,
                                        embedding_identity, review_votes)
from genai_lab.labels.label_model import LabelModel, combine, vote_matrix
from genai_lab.labels.probes import fit_and_store_probes
from genai_lab.labels.rating_mil import load_rating_mil
from genai_lab.ml.arms import base_model_identity, fingerprint
from genai_lab.ml.store import ModelStore
from genai_lab.partitions import by_dump
from genai_lab.reports.writing import markdown_table
from genai_lab.resources import LabelingResource
from genai_lab.text.aspects import aspect_mentions as find_aspect_mentions
from genai_lab.vocabulary import RATING_MIL, TRAINING_POOL


@by_dump(description="Sentences of each clean review with the aspect terms found in them (mined from the corpus, "
                 "expanded by embedding similarity), their character spans and taxonomy category.")
def aspect_mentions(context: AssetExecutionContext, clean_reviews: pl.DataFrame, labeling: LabelingResource):
    mentions, lexicon = find_aspect_mentions(clean_reviews.select("review_id", "dump_id", "content"), labeling.aspects)
    if "dump_id" not in mentions.columns:
        mentions = mentions.join(clean_reviews.select("review_id", "dump_id"), on="review_id", how="left", maintain_order="left")
    by_category = mentions.group_by("category").len().sort("len", descending=True)
    mined = lexicon.filter(pl.col("source") == "mined")
    context.log.info(f"{mentions.height:,} aspect mentions in {clean_reviews.height:,} reviews; lexicon {lexicon.height} terms ({mined.height} mined)")
    return Output(mentions, metadata={
        "mentions_by_category": MetadataValue.md(markdown_table(by_category)),
        "lexicon_terms": lexicon.height,
        "mined_terms": mined.height,
        "mined_examples": MetadataValue.md(markdown_table(
            mined.sort("count", descending=True).group_by("category", maintain_order=True).head(5).select("category", "term", "count"))),
    })


@asset(pool=TRAINING_POOL,
       description="Segment polarity learned from star ratings alone (multiple-instance learning): the base encoder with a "
                   "LoRA adapter reads each clause of a review, attention pools the clauses' polarities into the review's "
                   "rating class; a model-store version, a labelling function of pseudo_labels at both levels.")
def rating_mil(context: AssetExecutionContext, clean_reviews: pl.DataFrame, labeling: LabelingResource,
               models: ModelStore) -> MaterializeResult:
    import torch

    from genai_lab.labels.rating_mil import RatingMil, build_model, train_rating_mil, training_reviews
    from genai_lab.ml.embeddings import resolve_base_model

    settings = labeling.rating_mil
    boundary = boundary_pattern(labeling.labels)
    data = training_reviews(clean_reviews.select("review_id", "content", "rating"), settings)
    base = {"id": settings.base_model, **base_model_identity(resolve_base_model(settings.base_model))}
    torch.manual_seed(settings.seed)  # the LoRA and heads' initialisation: same data and settings, same model
    model, tokenizer = build_model(settings)
    work_dir = models.work_dir(RATING_MIL) / fingerprint(frame_digest(data["train"]), settings.model_dump(), boundary,
                                                         base["sha256"] or base["id"])
    context.log.info(f"rating_mil on {base['id']}: {data['train'].height:,} rated reviews to train on, "
                     f"{data['holdout'].height:,} held out; checkpoints in {work_dir}")
    result = train_rating_mil(model, tokenizer, data, settings, boundary, work_dir)
    scorer = RatingMil(model, tokenizer, settings, boundary, result.neutral_bias)
    heldout = {"heldout_ratings_macro_f1": result.heldout_macro_f1, "heldout_ratings_accuracy": result.heldout_accuracy,
               "heldout_polar_accuracy": result.heldout_polar_accuracy, "heldout_reviews": result.heldout_reviews}
    stored = models.save(RATING_MIL, scorer.save, {"kind": RATING_MIL, "base_model": base, "settings": settings.model_dump(),
                                                   "neutral_bias": result.neutral_bias, "train_reviews": result.train_reviews,
                                                   "steps": result.steps, "train_seconds": result.seconds, **heldout,
                                                   "history": result.history, "resumed_from": result.resumed_from})
    return MaterializeResult(metadata={"version": stored.version, "path": str(stored.path), "train_reviews": result.train_reviews,
                                       "steps": result.steps, "train_seconds": result.seconds, "neutral_bias": result.neutral_bias,
                                       **heldout})


@by_dump(deps=[RATING_MIL],
         description="Review-level sentiment and aspect-level polarity from several labelling functions "
                     "combined by a label model that learns each source's accuracy; low-confidence rows abstain.")
def pseudo_labels(context: AssetExecutionContext, clean_reviews: pl.DataFrame, text_quality: pl.DataFrame,
                  aspect_mentions: pl.DataFrame, labeling: LabelingResource, models: ModelStore):
    settings = labeling.labels
    reviews = clean_reviews.select("review_id", "dump_id", "content", pl.col("rating").cast(pl.Int64))
    teacher = load_rating_mil(models)
    if teacher is None:
        context.log.warning("No rating_mil model in the store yet: lf_rating_mil abstains (materialize rating_mil first)")
    context.log.info(f"Labelling {reviews.height:,} reviews and {aspect_mentions.height:,} aspect mentions")
    # mention_index counts within its review, so re-running one dump keeps the other dumps' keys
    mentions = aspect_mentions.sort("review_id", "sentence_index", "char_start").with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).over("review_id").alias("mention_index"))
    aspect_input = mentions.join(reviews.select("review_id", "rating"), on="review_id", how="left", maintain_order="left").select(
        pl.format("{}#{}", "review_id", "mention_index").alias("item_id"), pl.col("sentence").alias("text"),
        pl.col("term").alias("aspect_term"), pl.col("char_start").alias("aspect_from"), pl.col("char_end").alias("aspect_to"), "rating")
    embeddings = clause_embeddings = None
    if settings.use_embeddings and reviews.height:
        texts = [reviews["content"], *([aspect_clauses(aspect_input, settings)["clause"]] if settings.aspect_zero_shot else [])]
        kept_chunks = models.pass_dir("embeddings", *embedding_identity(settings)) if settings.keep_embedding_passes else None
        embeddings, *clause_embeddings = embed_unique_together(texts, settings, max_minutes=settings.embed_max_minutes, folder=kept_chunks)
        clause_embeddings = clause_embeddings[0] if clause_embeddings else None
    probe = fit_and_store_probes(models, reviews, embeddings, settings)
    review_level = review_votes(reviews, settings, embeddings=embeddings, probe=probe, rating_mil=teacher)
    review_model = LabelModel.from_settings(settings, source_names=LF_COLUMNS).fit(vote_matrix(review_level, LF_COLUMNS)[0])
    review_rows = combine(review_level, review_model, settings.min_confidence).with_columns(
        reviews["content"].alias("text"), reviews["rating"], pl.lit("review").alias("level"), pl.lit(None, pl.Int64).alias("mention_index"),
        pl.lit(None, pl.String).alias("aspect_term"), pl.lit(None, pl.String).alias("category"))

    aspect_level = aspect_votes(aspect_input, settings, embeddings=clause_embeddings, rating_mil=teacher)
    aspect_model = LabelModel.from_settings(settings, source_names=LF_COLUMNS).fit(vote_matrix(aspect_level, LF_COLUMNS)[0])
    aspect_rows = combine(aspect_level, aspect_model, settings.min_confidence).drop("item_id").with_columns(
        mentions["review_id"], mentions["sentence"].alias("text"), pl.lit("aspect").alias("level"), mentions["mention_index"],
        mentions["term"].alias("aspect_term"), mentions["category"])

    labelled = pl.concat([review_rows.drop("review_id").with_columns(review_level["review_id"]), aspect_rows], how="diagonal_relaxed")
    fit = text_quality.select("review_id", "fit_for_training")
    # the app's category: the arms' training sample is spread over the categories (balanced_sample)
    origin = clean_reviews.select("review_id", "dump_id", pl.col("category").alias("app_category"))
    labelled = labelled.join(fit, on="review_id", how="left").join(origin, on="review_id", how="left")
    summary = labelled.group_by("level", "label").len().sort("level", "label")
    yield Output(labelled, metadata={
        "labels": MetadataValue.md(markdown_table(summary)),
        "labelled_reviews": int(review_rows.filter(~pl.col("abstained")).height),
        "abstained_reviews": int(review_rows.filter(pl.col("abstained")).height),
        "rating_probe": probe is not None,
        "rating_mil": None if teacher is None else str(teacher.folder),
        "embedded_reviews": 0 if embeddings is None else int(embedded(embeddings).sum()),
        "embedded_aspect_mentions": 0 if clause_embeddings is None else int(embedded(clause_embeddings).sum()),
        "review_source_accuracies": MetadataValue.json(review_model.source_accuracies),
        "aspect_source_accuracies": MetadataValue.json(aspect_model.source_accuracies),
    })
