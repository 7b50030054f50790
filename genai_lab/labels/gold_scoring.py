"""Every labeller's labels of the gold texts (to score them; gold never fits anything here), and the
synthetic gold used when a home holds none."""

from __future__ import annotations

import polars as pl

from genai_lab.labels.functions import LF_COLUMNS, LabelSettings, ProbeEnsemble, aspect_votes, review_votes
from genai_lab.labels.gold import gold_from_synthetic
from genai_lab.labels.rating_mil import RatingMil
from genai_lab.labels.label_model import LabelModel, combine, vote_matrix
from genai_lab.vocabulary import ASPECT_POLARITY, REVIEW_SENTIMENT, SENTIMENT_LABELS, TEACHER

# Synthetic gold: the size of a typical human-labelled set (every gold text costs an embedding pass
# in label_quality and a prediction per model), drawn by the generator with a seed of its own. Not a
# sample of the dumps: the rating probe, the label model and both arms are fitted on those reviews,
# and scoring them on their own training rows would flatter every number. The generator's world
# (apps, phrasing, how stars follow sentiment) is the same; 5% of the texts still repeat a dump's
# text verbatim, as short reviews ("Great app!") do across real stores.
SYNTHETIC_GOLD_REVIEWS = 2000
SYNTHETIC_GOLD_SEED = 20_261_203
SYNTHETIC_GOLD_DATASET = "synthetic_heldout"

LABELLER_NAMES = {column: column.removeprefix("lf_") for column in LF_COLUMNS}
MAJORITY_CLASS = "majority_class"


def synthetic_gold() -> pl.DataFrame:
    from genai_lab.synth import generate

    dump, truth = generate(SYNTHETIC_GOLD_REVIEWS, seed=SYNTHETIC_GOLD_SEED)
    return gold_from_synthetic(dump, truth, dataset=SYNTHETIC_GOLD_DATASET)


def vote_labels(votes: pl.Series) -> pl.Series:
    """Class indices (-1 = abstain) as label names (null = abstain)."""
    labels = pl.Series(list(SENTIMENT_LABELS))
    return pl.select(pl.when(votes >= 0).then(labels.gather(votes.clip(0, 2).cast(pl.UInt32)))).to_series()


def labeller_gold_predictions(gold_labels: pl.DataFrame, pseudo_labels: pl.DataFrame, settings: LabelSettings,
                              probe: ProbeEnsemble | None, rating_mil: RatingMil | None = None) -> dict[str, tuple[pl.DataFrame, dict[str, pl.Series]]]:
    """{task: (its sentiment gold rows, {labeller: its label of each row, null where it abstains})} for every labelling
    function, the majority vote, the label model and the majority-class floor.

    The label model learns its source accuracies from our own reviews' votes (`pseudo_labels` of the task's level),
    never from gold: these are the labels the arms learned from, on the gold texts.
    """
    predicted = {}
    for task, level in ((REVIEW_SENTIMENT, "review"), (ASPECT_POLARITY, "aspect")):
        gold = gold_labels.filter(pl.col("task") == task)
        # a table written before a source existed: it abstained there
        corpus = pseudo_labels.filter(pl.col("level") == level).with_columns(
            [pl.lit(-1, pl.Int8).alias(column) for column in LF_COLUMNS if column not in pseudo_labels.columns])
        if gold.height == 0 or corpus.height == 0:
            continue
        model = LabelModel.from_settings(settings, source_names=LF_COLUMNS).fit(vote_matrix(corpus, LF_COLUMNS)[0])
        if level == "review":
            votes = review_votes(gold.select(pl.col("item_id").alias("review_id"), pl.col("text").alias("content")), settings, probe=probe,
                                 rating_mil=rating_mil)
        else:
            votes = aspect_votes(gold.select("item_id", "text", "aspect_term", "aspect_from", "aspect_to"), settings, rating_mil=rating_mil)
        combined = combine(votes, model, settings.min_confidence)
        labels = {name: vote_labels(votes[column]) for column, name in LABELLER_NAMES.items()}
        labels["majority_vote"] = combined["majority_label"]
        labels[TEACHER] = combined["label"]
        # the floor every model must clear: always the class most pseudo-labels of this level carry (never gold's)
        most_common = corpus.filter(pl.col("label").is_not_null())["label"].mode().sort().first()
        labels[MAJORITY_CLASS] = pl.repeat(most_common, gold.height, dtype=pl.String, eager=True)
        predicted[task] = (gold, labels)
    return predicted
