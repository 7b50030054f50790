"""Which sources the label model should combine, judged on held-out star ratings — the signal none of the variants
is fitted on — with the development-gold numbers beside them (for docs/decisions.md, never to choose by alone).

    python benchmarks/teacher_variants.py --home H --rating-mil FOLDER [--reviews 20000]

H: a home the whole graph materialized (its `pseudo_labels` carry every other source's votes); FOLDER: a stored
rating_mil model (a model-store version or `benchmarks/rating_mil.py --save`). A sample of the clean reviews (all of
rating_mil's held-out reviews, then others) and their aspect mentions get the rating-MIL votes; each variant's label
model is fitted on the sample's votes (no labels), then:

* held-out ratings, review level: the label model's label of each held-out review with its own star-rating source
  masked (as on a gold text, which has no stars) against the stars: 3-class macro-F1 (3★ neutral) and the balanced
  agreement of the polar reviews (1-2★ negative, 4-5★ positive);
* held-out ratings, aspect level (a proxy: a review's stars say little about one aspect): of the aspect mentions of
  held-out polar reviews that the label model calls negative or positive, the share on the stars' side;
* development gold: the label model's macro-F1 and coverage per set, as `label_quality` computes it.

The last line is JSON (also in benchmarks/results/teacher_variants.json).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import duckdb  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from genai_lab.evaluation import score_predictions  # noqa: E402
from genai_lab.evaluation.statistics import macro_f1  # noqa: E402
from genai_lab.labels.functions import ABSTAIN, LF_COLUMNS, LabelSettings, aspect_votes, review_votes  # noqa: E402
from genai_lab.labels.gold_scoring import labeller_gold_predictions  # noqa: E402
from genai_lab.labels.label_model import LabelModel, combine, vote_matrix  # noqa: E402
from genai_lab.labels.probes import load_probe_ensemble  # noqa: E402
from genai_lab.labels.rating_mil import RatingMil, RatingMilSettings, held_out_reviews, rating_class  # noqa: E402
from genai_lab.ml.self_training import rating_agreement  # noqa: E402
from genai_lab.ml.store import ModelStore  # noqa: E402
from genai_lab.vocabulary import SENTIMENT_LABELS, TEACHER  # noqa: E402

from recording import record  # noqa: E402

EMBEDDING_SOURCES = {"lf_zero_shot", "lf_rating_probe"}
#: variant -> the sources it leaves out ("aspect:<source>": at aspect level only)
VARIANTS = {
    "before (lexicons, stars, frozen embeddings)": {"lf_rating_mil"},
    "before + rating_mil": set(),
    "before + rating_mil, zero-shot on reviews only": {"aspect:lf_zero_shot"},
    "rating_mil instead of the frozen embeddings": EMBEDDING_SOURCES,
    "lexicons and stars only": EMBEDDING_SOURCES | {"lf_rating_mil"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--rating-mil", required=True, type=Path)
    parser.add_argument("--reviews", type=int, default=20_000, help="reviews in the sample the label models are fitted on")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    with duckdb.connect(str(args.home / "warehouse.duckdb"), read_only=True) as db:
        reviews = db.sql("select review_id, dump_id, content, rating from lab.clean_reviews").pl()
        labels = db.sql("select * from lab.pseudo_labels").pl()
        gold = db.sql("select * from lab.gold_labels").pl()
    teacher = RatingMil.load(args.rating_mil)
    settings = LabelSettings()
    held_out = reviews.sort("review_id").with_columns(held_out_reviews(reviews.sort("review_id")["review_id"], teacher.settings.holdout_fraction)
                                                      .alias("held_out"))
    sample = pl.concat([held_out.filter("held_out").head(args.reviews // 2),
                        held_out.filter(~pl.col("held_out")).sample(n=args.reviews - min(args.reviews // 2, int(held_out["held_out"].sum())),
                                                                  seed=0)])
    logging.info(f"sample: {sample.height:,} reviews, {int(sample['held_out'].sum()):,} of them held out from rating_mil")
    labels = labels.join(sample.select("review_id", "held_out", pl.col("rating").alias("stars")), on="review_id", how="inner")
    quiet = LabelSettings(use_embeddings=False)
    review_rows = labels.filter(pl.col("level") == "review")
    mil_review = review_votes(review_rows.select("review_id", pl.col("text").alias("content")), quiet, rating_mil=teacher)["lf_rating_mil"]
    aspect_rows = labels.filter(pl.col("level") == "aspect")
    mil_aspect = aspect_votes(aspect_rows.select(pl.format("{}#{}", "review_id", "mention_index").alias("item_id"), "text", "aspect_term"),
                              quiet, rating_mil=teacher)["lf_rating_mil"]
    corpus = pl.concat([review_rows.with_columns(mil_review), aspect_rows.with_columns(mil_aspect)], how="diagonal_relaxed")
    probe = load_probe_ensemble(ModelStore(root=str(args.home / "models")), reviews["dump_id"].unique().to_list(), settings)

    results = {}
    for name, dropped in VARIANTS.items():
        votes = corpus.with_columns([pl.lit(ABSTAIN, pl.Int8).alias(column) for column in dropped if column in LF_COLUMNS])
        votes = votes.with_columns([pl.when(pl.col("level") == "aspect").then(pl.lit(ABSTAIN, pl.Int8)).otherwise(column.split(":")[1])
                                    .alias(column.split(":")[1]) for column in dropped if column.startswith("aspect:")])
        results[name] = {"held_out_ratings": _held_out_scores(votes, settings),
                         "development_gold": _gold_scores(gold, votes, dropped, probe, teacher)}
        logging.info(f"{name}: {results[name]}")
    record("teacher_variants", {"reviews": sample.height, "held_out_reviews": int(sample["held_out"].sum()),
                                "rating_mil": str(args.rating_mil), "variants": results})


def _held_out_scores(votes: pl.DataFrame, settings: LabelSettings) -> dict:
    scores = {}
    for level in ("review", "aspect"):
        rows = votes.filter(pl.col("level") == level)
        model = LabelModel.from_settings(settings, source_names=LF_COLUMNS).fit(vote_matrix(rows, LF_COLUMNS)[0])
        test = rows.filter("held_out").with_columns(pl.lit(ABSTAIN, pl.Int8).alias("lf_rating"))  # no stars, as on a gold text
        predicted = combine(test.select(pl.lit("x").alias("item_id"), *LF_COLUMNS), model, settings.min_confidence)["label"]
        index = predicted.replace_strict({label: i for i, label in enumerate(SENTIMENT_LABELS)}, default=-1, return_dtype=pl.Int64).to_numpy()
        stars = rating_class(test["stars"], RatingMilSettings()).to_numpy()
        polar = stars != 1
        if level == "review":
            scores["review_macro_f1"] = round(macro_f1(stars, index), 4)
            scores["review_polar_agreement"] = round(rating_agreement(stars[polar], index[polar]), 4)
            scores["review_coverage"] = round(float((index >= 0).mean()), 4)
        else:
            called = polar & np.isin(index, (0, 2))
            scores["aspect_polar_on_stars_side"] = round(float((index[called] == stars[called]).mean()), 4)
            scores["aspect_polar_called"] = round(float(called.sum() / max(polar.sum(), 1)), 4)
    return scores


def _gold_scores(gold: pl.DataFrame, votes: pl.DataFrame, dropped: set[str], probe, teacher: RatingMil) -> dict:
    settings = LabelSettings(use_embeddings=not EMBEDDING_SOURCES <= dropped, aspect_zero_shot="aspect:lf_zero_shot" not in dropped)
    predictions = labeller_gold_predictions(gold, votes, settings, None if "lf_rating_probe" in dropped else probe,
                                            None if "lf_rating_mil" in dropped else teacher)
    scores = {}
    for rows, labelled in predictions.values():  # scored as label_quality scores it: macro-F1 on the rows it labels
        scored = score_predictions(rows.select("dataset", "task", "label").with_columns(labelled[TEACHER].alias("prediction")), TEACHER)
        for dataset, metric, value in scored.filter(pl.col("metric").is_in(["macro_f1", "coverage"])).select("dataset", "metric", "value").iter_rows():
            scores.setdefault(dataset, {})[metric] = round(value, 4)
    return scores


if __name__ == "__main__":
    main()
