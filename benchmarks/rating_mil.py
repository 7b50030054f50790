"""The rating-MIL teacher on its own: trained on a home's clean reviews' stars, scored on held-out ratings and on the
development gold (segment head on each aspect's clause, pooled head on review-level texts).

    python benchmarks/rating_mil.py --home /tmp/h [--train-reviews 6000] [--minutes 4]

Gold is only scored here, never used to fit or choose anything. The last line is JSON (also in
benchmarks/results/rating_mil.json).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import duckdb  # noqa: E402
import polars as pl  # noqa: E402

from genai_lab.evaluation.statistics import macro_f1  # noqa: E402
from genai_lab.labels.functions import LabelSettings, aspect_clauses, boundary_pattern, review_votes  # noqa: E402
from genai_lab.labels.rating_mil import RatingMilSettings, build_model, train_rating_mil, training_reviews  # noqa: E402
from genai_lab.vocabulary import ASPECT_POLARITY, SENTIMENT_LABELS  # noqa: E402

from recording import record  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--train-reviews", type=int, default=RatingMilSettings().train_reviews)
    parser.add_argument("--minutes", type=float, default=RatingMilSettings().max_train_minutes)
    parser.add_argument("--learning-rate", type=float, default=RatingMilSettings().optimizer.learning_rate)
    parser.add_argument("--save", type=Path, help="keep the trained model in this folder (as the model store holds it)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import torch

    with duckdb.connect(str(args.home / "warehouse.duckdb"), read_only=True) as db:
        reviews = db.sql("select review_id, content, rating from lab.clean_reviews").pl()
        gold = db.sql("select * from lab.gold_labels where task in ('review_sentiment', 'aspect_polarity')").pl()
    defaults = RatingMilSettings()
    settings = RatingMilSettings(train_reviews=args.train_reviews, max_train_minutes=args.minutes,
                                 optimizer=defaults.optimizer.model_copy(update={"learning_rate": args.learning_rate}))
    labels = LabelSettings()
    plain = labels.model_copy(update={"use_embeddings": False})
    boundary = boundary_pattern(labels)
    torch.manual_seed(settings.seed)
    model, tokenizer = build_model(settings)
    data = training_reviews(reviews, settings)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as work:
        result = train_rating_mil(model, tokenizer, data, settings, boundary, Path(work))
    from genai_lab.labels.rating_mil import RatingMil

    scorer = RatingMil(model, tokenizer, settings, boundary, result.neutral_bias)
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
        scorer.save(args.save)
    index = {label: i for i, label in enumerate(SENTIMENT_LABELS)}
    scores = {}
    for dataset, rows in gold.group_by("dataset"):
        dataset = dataset[0]
        truth = rows["label"].replace_strict(index, default=None, return_dtype=pl.Int64)
        keep = truth.is_not_null().to_numpy()
        rows, truth = rows.filter(keep), truth.filter(keep).to_numpy()
        if rows["task"][0] == ASPECT_POLARITY:
            texts = aspect_clauses(rows.select("item_id", "text", "aspect_term", "aspect_from", "aspect_to"), labels)["clause"]
            probabilities = scorer.segment_proba(texts)
        else:
            texts = rows["text"]
            probabilities = scorer.review_proba(texts)
        predicted = scorer.decide(probabilities)
        # lf_vader as the label model gets it: on the review, or on the aspect's clause
        vader = review_votes(pl.DataFrame({"review_id": texts.cast(pl.String), "content": texts}), plain)["lf_vader"].to_numpy()
        scores[dataset] = {"n": int(len(truth)), "rating_mil_macro_f1": round(macro_f1(truth, predicted), 4),
                           "rating_mil_accuracy": round(float((predicted == truth).mean()), 4),
                           "vader_macro_f1": round(macro_f1(truth, vader), 4)}
        print(dataset, scores[dataset], flush=True)
    summary = {"train_reviews": result.train_reviews, "steps": result.steps, "train_seconds": result.seconds,
               "seconds": round(time.monotonic() - started, 1), "neutral_bias": result.neutral_bias,
               "heldout_ratings_macro_f1": result.heldout_macro_f1, "heldout_ratings_accuracy": result.heldout_accuracy,
               "heldout_polar_accuracy": result.heldout_polar_accuracy, "learning_rate": args.learning_rate,
               "development_gold": scores}
    record("rating_mil", summary)


if __name__ == "__main__":
    main()
