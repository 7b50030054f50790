"""Every quality check against the generator's truth: precision and recall >= 0.95 per check."""

import polars as pl
import pytest

from genai_lab.defects import DEFECTS
from genai_lab.ingest import read_dump
from genai_lab.prep import assess_quality, normalise_reviews
from genai_lab.synth import write_dump
from genai_lab.text.language import LanguageSettings
from genai_lab.text.rules import RuleSettings


@pytest.fixture(scope="module")
def flags_and_truth(tmp_path_factory):
    dump, truth_file = write_dump(tmp_path_factory.mktemp("dump") / "synthetic.csv", rows=20_000, seed=11)
    reviews = normalise_reviews(read_dump(dump, "synthetic", b"key"))
    quality = assess_quality(reviews, RuleSettings(), LanguageSettings())
    truth = pl.read_parquet(truth_file).rename({"review_id": "source_id"})
    return reviews.select("review_id", "source_id").join(quality, on="review_id").join(truth, on="source_id")


@pytest.mark.parametrize("defect", DEFECTS)
def test_check_precision_and_recall(flags_and_truth, defect):
    truth = flags_and_truth["defects"].list.contains(defect)
    flagged = flags_and_truth[defect]
    true_positives = int((truth & flagged).sum())
    assert truth.sum() >= 100, f"the generator planted only {truth.sum()} {defect}"
    precision = true_positives / max(int(flagged.sum()), 1)
    recall = true_positives / int(truth.sum())
    missed = flags_and_truth.filter(truth & ~flagged)["review_id"].head(3).to_list()
    assert precision >= 0.95 and recall >= 0.95, f"{defect}: precision {precision:.3f}, recall {recall:.3f}; missed e.g. {missed}"
