"""The Dawid–Skene label model and the majority vote (genai_lab.labels.label_model)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from genai_lab.labels.functions import ABSTAIN, LabelSettings
from genai_lab.labels.label_model import LabelModel, combine, majority_vote, vote_matrix

ACCURACIES = (0.9, 0.8, 0.7, 0.6)
ABSTAIN_RATES = (0.5, 0.3, 0.2, 0.1)


def _synthetic_votes(n: int = 6000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sources with known accuracies and abstain rates; wrong votes spread evenly over the other classes."""
    rng = np.random.default_rng(seed)
    y = rng.choice(3, n, p=[0.3, 0.2, 0.5])
    votes = np.full((n, len(ACCURACIES)), ABSTAIN, np.int64)
    for j, (acc, rate) in enumerate(zip(ACCURACIES, ABSTAIN_RATES, strict=True)):
        votes_here = rng.random(n) >= rate
        right = rng.random(n) < acc
        wrong = (y + rng.integers(1, 3, n)) % 3
        votes[:, j] = np.where(votes_here, np.where(right, y, wrong), ABSTAIN)
    return votes, y


@pytest.mark.parametrize("class_conditional", [True, False])
def test_recovers_source_accuracies_and_beats_majority_vote(class_conditional):
    votes, y = _synthetic_votes()
    names = ["a", "b", "c", "d"]
    model = LabelModel(class_conditional=class_conditional, source_names=names).fit(votes)
    for name, true in zip(names, ACCURACIES, strict=True):
        assert abs(model.source_accuracies[name] - true) <= 0.05, model.source_accuracies
    np.testing.assert_allclose(model.class_balance, [0.3, 0.2, 0.5], atol=0.05)
    for name, rate in zip(names, ABSTAIN_RATES, strict=True):
        assert abs(model.source_coverage[name] - (1 - rate)) <= 0.03
    lm = model.predict(votes)
    mv = majority_vote(votes)
    # majority vote abstains on ties; count those as wrong, and compare on its covered rows too
    assert (lm == y).mean() > (mv == y).mean() + 0.05
    covered = mv >= 0
    assert (lm[covered] == y[covered]).mean() > (mv[covered] == y[covered]).mean()


def test_majority_vote_ties_and_empty_rows_abstain():
    votes = np.array([[0, 0, 1], [0, 1, ABSTAIN], [ABSTAIN, ABSTAIN, ABSTAIN], [2, ABSTAIN, ABSTAIN], [1, 1, 2]])
    assert majority_vote(votes).tolist() == [0, ABSTAIN, ABSTAIN, 2, 1]


def _frame(votes: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame(
        {"review_id": [f"r{i}" for i in range(len(votes))], **{f"lf_{j}": pl.Series(votes[:, j], dtype=pl.Int8) for j in range(votes.shape[1])}}
    )


def test_combine_abstains_below_min_confidence_and_without_votes():
    votes, _ = _synthetic_votes(3000)
    votes[:5] = ABSTAIN  # rows no source votes on
    frame = _frame(votes)
    matrix, names = vote_matrix(frame)
    model = LabelModel(source_names=names).fit(matrix)
    out = combine(frame, model, min_confidence=0.9)
    assert len(out) == len(frame)  # nothing dropped
    assert out["abstained"][:5].to_list() == [True] * 5
    low = out.filter(pl.col("confidence") < 0.9)
    assert len(low) > 0 and low["abstained"].all() and low["label"].null_count() == len(low)
    high = out.filter(pl.col("confidence") >= 0.9, pl.col("n_votes") > 0)
    assert not high["abstained"].any() and high["label"].is_in(["negative", "neutral", "positive"]).all()
    assert (out["label_index"] == ABSTAIN).to_list() == out["abstained"].to_list()
    assert {"p_negative", "p_neutral", "p_positive", "majority_label", *names} <= set(out.columns)
    np.testing.assert_allclose(out.select("p_negative", "p_neutral", "p_positive").to_numpy().sum(axis=1), 1.0, atol=1e-9)
    # a lower bar labels more rows
    assert combine(frame, model, min_confidence=0.5)["abstained"].sum() < out["abstained"].sum()


def test_settings_and_save_load(tmp_path):
    votes, _ = _synthetic_votes(2000)
    model = LabelModel.from_settings(LabelSettings(label_model_class_conditional=False), ["a", "b", "c", "d"]).fit(votes)
    again = LabelModel.load(model.save(tmp_path / "label_model.json"))
    np.testing.assert_allclose(again.predict_proba(votes), model.predict_proba(votes))
    assert again.source_accuracies == model.source_accuracies


def test_bad_input():
    model = LabelModel()
    with pytest.raises(ValueError):
        model.fit(np.array([[0, 3]]))
    with pytest.raises(RuntimeError):
        model.predict_proba(np.array([[0, 1]]))
    model.fit(np.array([[0, 1], [1, 1]]))
    with pytest.raises(ValueError):
        model.predict_proba(np.array([[0, 1, 2]]))
