"""Pseudo-labels without human labels, and their honest score on human gold.

clean_reviews ─ aspect_mentions ─┐
             └──────────────────── pseudo_labels ─┐
gold_labels ──────────────────────────────────────── label_quality
"""

import polars as pl
from dagster import AssetExecutionContext, ConfigurableResource, MetadataValue, Output, asset
from pydantic import Field

from genai_lab.assets.prep import DUCKDB_POOL, PARTITIONED, markdown_table
from genai_lab.evaluation import EVALUATION_SCHEMA, REVIEW_TYPE_MODEL, TEACHER, mark_synthetic, markdown_summary, score_multilabel, score_predictions
from genai_lab.labels.functions import (
    LF_COLUMNS,
    LabelSettings,
    ProbeEnsemble,
    RatingProbe,
    aspect_clauses,
    aspect_votes,
    embed_unique_together,
    embedded,
    fit_rating_probe,
    probe_training_rows,
    review_votes,
)
from genai_lab.labels.gold import ASPECT_POLARITY, REVIEW_SENTIMENT, REVIEW_TYPE, gold_from_synthetic, load_gold_folder
from genai_lab.labels.label_model import LabelModel, combine, vote_matrix
from genai_lab.labels.review_types import ReviewTypeSettings, review_type_sets
from genai_lab.ml.store import ModelStore, code_version
from genai_lab.resources import LabHome
from genai_lab.text.aspects import AspectSettings
from genai_lab.text.aspects import aspect_mentions as find_aspect_mentions

GROUP = "labels"
LABELLED = {**PARTITIONED, "group_name": GROUP}


class LabelingSettings(ConfigurableResource):
    """Settings of aspect mining and pseudo-labelling, in one place."""

    aspects: AspectSettings = Field(default_factory=AspectSettings)
    labels: LabelSettings = Field(default_factory=LabelSettings)
    review_types: ReviewTypeSettings = Field(default_factory=ReviewTypeSettings)


@asset(**LABELLED, description="Sentences of each clean review with the aspect terms found in them (mined from the corpus, "
                               "expanded by embedding similarity), their character spans and taxonomy category.")
def aspect_mentions(context: AssetExecutionContext, clean_reviews: pl.DataFrame, labeling: LabelingSettings):
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


@asset(**LABELLED, description="Review-level sentiment and aspect-level polarity from several labelling functions "
                               "combined by a label model that learns each source's accuracy; low-confidence rows abstain.")
def pseudo_labels(context: AssetExecutionContext, clean_reviews: pl.DataFrame, text_quality: pl.DataFrame,
                  aspect_mentions: pl.DataFrame, labeling: LabelingSettings, models: ModelStore):
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
    probe = _fit_and_store_probes(context, models, reviews, embeddings, settings)
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


RATING_PROBE = "rating_probe"
PROBE_FILE = "probe.safetensors"


def _probe_store_name(dump_id: str) -> str:
    return f"{RATING_PROBE}@{dump_id}"


def _fit_and_store_probes(context: AssetExecutionContext, models: ModelStore, reviews: pl.DataFrame, embeddings,
                          settings: LabelSettings) -> ProbeEnsemble | None:
    """Fits each partition's rating probe on its own star ratings (never gold) and keeps it in the model store for label_quality.

    A run over several partitions votes with all of their probes together (as label_quality does).
    """
    if embeddings is None:
        return None
    probes, weights = [], []
    for dump_id in reviews["dump_id"].unique().sort().to_list():
        rows = (reviews["dump_id"] == dump_id).to_numpy()
        probe = fit_rating_probe(embeddings[rows], reviews["rating"].filter(rows), settings)
        rated = int(probe_training_rows(embeddings[rows], reviews["rating"].filter(rows)).sum())
        if probe is None:
            context.log.info(f"{dump_id}: no rating probe, {rated:,} rated reviews (at least {settings.probe_min_rows} of two classes needed)")
            continue
        stored = models.save(_probe_store_name(dump_id), lambda folder, probe=probe: probe.save(folder / PROBE_FILE), {
            "kind": "rating_probe", "dump_id": dump_id, "rated_reviews": rated, "base_model": settings.base_model,
            "embed_max_length": settings.embed_max_length, "code_version": code_version()})
        context.log.info(f"{dump_id}: rating probe fitted on {rated:,} rated reviews ({stored.path})")
        probes.append(probe)
        weights.append(rated)
    return ProbeEnsemble(probes, weights) if probes else None


def load_probe_ensemble(models: ModelStore, dump_ids, settings: LabelSettings) -> ProbeEnsemble | None:
    """The newest rating probe of every partition, weighted by its rated reviews; None when no partition has one."""
    probes, weights = [], []
    for dump_id in sorted(set(dump_ids)):
        versions = [v for v in models.versions(_probe_store_name(dump_id))
                    if v.manifest.get("base_model") == settings.base_model and v.manifest.get("embed_max_length") == settings.embed_max_length]
        if versions:
            probes.append(RatingProbe.load(versions[-1].path / PROBE_FILE))
            weights.append(versions[-1].manifest["rated_reviews"])
    return ProbeEnsemble(probes, weights) if probes else None


# Synthetic gold: the size of a typical human-labelled set (every gold text costs an embedding pass
# in label_quality and a prediction per model), drawn by the generator with a seed of its own. Not a
# sample of the dumps: the rating probe, the label model and both arms are fitted on those reviews,
# and scoring them on their own training rows would flatter every number. The generator's world
# (apps, phrasing, how stars follow sentiment) is the same; 5% of the texts still repeat a dump's
# text verbatim, as short reviews ("Great app!") do across real stores.
SYNTHETIC_GOLD_REVIEWS = 2000
SYNTHETIC_GOLD_SEED = 20_261_203
SYNTHETIC_GOLD_DATASET = "synthetic_heldout"


def synthetic_gold() -> pl.DataFrame:
    from genai_lab.synth import generate

    dump, truth = generate(SYNTHETIC_GOLD_REVIEWS, seed=SYNTHETIC_GOLD_SEED)
    return gold_from_synthetic(dump, truth, dataset=SYNTHETIC_GOLD_DATASET)


@asset(group_name="evaluation", pool=DUCKDB_POOL,
       description="Human gold labels from <home>/gold (CSV/Parquet: text + polarity|label, optional aspect_term/from/to); "
                   "when the folder is empty, the generator's truth, marked synthetic. Gold never trains or tunes anything.")
def gold_labels(context: AssetExecutionContext, lab: LabHome):
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


def _vote_labels(votes: pl.Series) -> pl.Series:
    labels = pl.Series(["negative", "neutral", "positive"])
    return pl.select(pl.when(votes >= 0).then(labels.gather(votes.clip(0, 2).cast(pl.UInt32)))).to_series()


LABELLER_NAMES = {column: column.removeprefix("lf_") for column in LF_COLUMNS}
MAJORITY_CLASS = "majority_class"


def labeller_gold_predictions(gold_labels: pl.DataFrame, pseudo_labels: pl.DataFrame, settings: LabelSettings,
                              probe: ProbeEnsemble | None) -> dict[str, tuple[pl.DataFrame, dict[str, pl.Series]]]:
    """{task: (its sentiment gold rows, {labeller: its label of each row, null where it abstains})} for every labelling
    function, the majority vote, the label model and the majority-class floor.

    The label model learns its source accuracies from our own reviews' votes (`pseudo_labels` of the task's level),
    never from gold: these are the labels the arms learned from, on the gold texts.
    """
    predicted = {}
    for task, level in ((REVIEW_SENTIMENT, "review"), (ASPECT_POLARITY, "aspect")):
        gold = gold_labels.filter(pl.col("task") == task)
        corpus = pseudo_labels.filter(pl.col("level") == level)
        if gold.height == 0 or corpus.height == 0:
            continue
        model = LabelModel.from_settings(settings, source_names=LF_COLUMNS).fit(vote_matrix(corpus, LF_COLUMNS)[0])
        if level == "review":
            votes = review_votes(gold.select(pl.col("item_id").alias("review_id"), pl.col("text").alias("content")), settings, probe=probe)
        else:
            votes = aspect_votes(gold.select("item_id", "text", "aspect_term", "aspect_from", "aspect_to"), settings)
        combined = combine(votes, model, settings.min_confidence)
        labels = {name: _vote_labels(votes[column]) for column, name in LABELLER_NAMES.items()}
        labels["majority_vote"] = combined["majority_label"]
        labels[TEACHER] = combined["label"]
        # the floor every model must clear: always the class most pseudo-labels of this level carry (never gold's)
        most_common = corpus.filter(pl.col("label").is_not_null())["label"].mode().sort().first()
        labels[MAJORITY_CLASS] = pl.repeat(most_common, gold.height, dtype=pl.String, eager=True)
        predicted[task] = (gold, labels)
    return predicted


@asset(group_name="evaluation", pool=DUCKDB_POOL,
       description="Every labelling function, majority vote and the label model scored on the human gold sets: "
                   "coverage, accuracy, macro-F1 and per-class F1 on the covered rows (long format).")
def label_quality(context: AssetExecutionContext, gold_labels: pl.DataFrame, pseudo_labels: pl.DataFrame, labeling: LabelingSettings,
                  models: ModelStore):
    settings = labeling.labels
    probe = load_probe_ensemble(models, pseudo_labels["dump_id"].drop_nulls().unique().to_list(), settings)
    scored = []
    for task, (gold, predictions) in labeller_gold_predictions(gold_labels, pseudo_labels, settings, probe).items():
        for name, predicted in predictions.items():
            frame = gold.select("dataset", "task", "label").with_columns(predicted.alias("prediction"))
            scored.append(score_predictions(frame, name))
        context.log.info(f"{task}: scored {len(predictions)} labellers on {gold['dataset'].n_unique()} gold set(s), {gold.height:,} rows")
    evaluation = pl.concat(scored) if scored else pl.DataFrame(schema=EVALUATION_SCHEMA)
    evaluation = mark_synthetic(evaluation, gold_labels)
    return Output(evaluation, metadata={"summary": MetadataValue.md(markdown_summary(evaluation))})


@asset(group_name="evaluation", pool=DUCKDB_POOL,
       description="The rule-based review-type detector (bug report, feature request, user experience, rating) scored on the "
                   "multi-label review-type gold (Maalej-style) per type: precision, recall, F1; macro-F1; exact-set accuracy.")
def review_type_quality(context: AssetExecutionContext, gold_labels: pl.DataFrame, labeling: LabelingSettings):
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


assets = [aspect_mentions, pseudo_labels, gold_labels, label_quality, review_type_quality]
