"""Pseudo-labels without human labels.

clean_reviews ─ aspect_mentions ─┐
             └──────────────────── pseudo_labels
"""

import polars as pl
from dagster import AssetExecutionContext, MetadataValue, Output

from genai_lab.labels.functions import LF_COLUMNS, aspect_clauses, aspect_votes, embed_unique_together, embedded, review_votes
from genai_lab.labels.label_model import LabelModel, combine, vote_matrix
from genai_lab.labels.probes import fit_and_store_probes
from genai_lab.ml.store import ModelStore
from genai_lab.partitions import by_dump
from genai_lab.reports.writing import markdown_table
from genai_lab.resources import LabelingResource
from genai_lab.text.aspects import aspect_mentions as find_aspect_mentions


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


@by_dump(description="Review-level sentiment and aspect-level polarity from several labelling functions "
                 "combined by a label model that learns each source's accuracy; low-confidence rows abstain.")
def pseudo_labels(context: AssetExecutionContext, clean_reviews: pl.DataFrame, text_quality: pl.DataFrame,
                  aspect_mentions: pl.DataFrame, labeling: LabelingResource, models: ModelStore):
    settings = labeling.labels
    reviews = clean_reviews.select("review_id", "dump_id", "content", pl.col("rating").cast(pl.Int64))
    context.log.info(f"Labelling {reviews.height:,} reviews and {aspect_mentions.height:,} aspect mentions")
    # mention_index counts within its review, so re-running one dump keeps the other dumps' keys
    mentions = aspect_mentions.sort("review_id", "sentence_index", "char_start").with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).over("review_id").alias("mention_index"))
    aspect_input = mentions.join(reviews.select("review_id", "rating"), on="review_id", how="left", maintain_order="left").select(
        pl.format("{}#{}", "review_id", "mention_index").alias("item_id"), pl.col("sentence").alias("text"),
        pl.col("term").alias("aspect_term"), pl.col("char_start").alias("aspect_from"), pl.col("char_end").alias("aspect_to"), "rating")
    embeddings = clause_embeddings = None
    if settings.use_embeddings and reviews.height:
        embeddings, clause_embeddings = embed_unique_together([reviews["content"], aspect_clauses(aspect_input, settings)["clause"]],
                                                              settings, max_minutes=settings.embed_max_minutes)
    probe = fit_and_store_probes(models, reviews, embeddings, settings)
    review_level = review_votes(reviews, settings, embeddings=embeddings, probe=probe)
    review_model = LabelModel.from_settings(settings, source_names=LF_COLUMNS).fit(vote_matrix(review_level, LF_COLUMNS)[0])
    review_rows = combine(review_level, review_model, settings.min_confidence).with_columns(
        reviews["content"].alias("text"), pl.lit("review").alias("level"), pl.lit(None, pl.Int64).alias("mention_index"),
        pl.lit(None, pl.String).alias("aspect_term"), pl.lit(None, pl.String).alias("category"))

    aspect_level = aspect_votes(aspect_input, settings, embeddings=clause_embeddings)
    aspect_model = LabelModel.from_settings(settings, source_names=LF_COLUMNS).fit(vote_matrix(aspect_level, LF_COLUMNS)[0])
    aspect_rows = combine(aspect_level, aspect_model, settings.min_confidence).drop("item_id").with_columns(
        mentions["review_id"], mentions["sentence"].alias("text"), pl.lit("aspect").alias("level"), mentions["mention_index"],
        mentions["term"].alias("aspect_term"), mentions["category"])

    labelled = pl.concat([review_rows.drop("review_id").with_columns(review_level["review_id"]), aspect_rows], how="diagonal_relaxed")
    fit = text_quality.select("review_id", "fit_for_training")
    labelled = labelled.join(fit, on="review_id", how="left").join(reviews.select("review_id", "dump_id"), on="review_id", how="left")
    summary = labelled.group_by("level", "label").len().sort("level", "label")
    yield Output(labelled, metadata={
        "labels": MetadataValue.md(markdown_table(summary)),
        "labelled_reviews": int(review_rows.filter(~pl.col("abstained")).height),
        "abstained_reviews": int(review_rows.filter(pl.col("abstained")).height),
        "rating_probe": probe is not None,
        "embedded_reviews": 0 if embeddings is None else int(embedded(embeddings).sum()),
        "embedded_aspect_mentions": 0 if clause_embeddings is None else int(embedded(clause_embeddings).sum()),
        "review_source_accuracies": MetadataValue.json(review_model.source_accuracies),
        "aspect_source_accuracies": MetadataValue.json(aspect_model.source_accuracies),
    })
