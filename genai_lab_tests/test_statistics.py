"""One macro-F1: the counts-based definition, and every way the project reaches it, agree."""

from __future__ import annotations

import numpy as np
import pytest

from genai_lab.evaluation import bootstrap_interval, class_counts, f1_from_counts, macro_f1, macro_f1_from_counts
from genai_lab.metrics import load_metric

GOLD = ["positive", "positive", "positive", "negative", "negative", "neutral", "positive", "negative"]
PREDICTED = ["positive", "positive", "negative", "negative", "neutral", "neutral", None, "positive"]
CLASSES = ["negative", "neutral", "positive"]


def test_counts_and_per_class_f1_by_hand() -> None:
    tp, fp, fn = class_counts(GOLD, PREDICTED, CLASSES)
    # the abstention (None) is a miss for its gold class and no false positive for any class
    assert tp.tolist() == [1, 1, 2] and fp.tolist() == [1, 1, 1] and fn.tolist() == [2, 0, 2]
    assert f1_from_counts(tp, fp, fn).tolist() == pytest.approx([2 / 5, 2 / 3, 4 / 7])
    # a class neither predicted nor in the gold labels scores 0, not nan
    assert f1_from_counts(np.array([0]), np.array([0]), np.array([0])).tolist() == [0.0]


def test_macro_f1_is_vectorised_over_leading_axes() -> None:
    rng = np.random.default_rng(1)
    tp, fp, fn = (rng.integers(0, 20, size=(5, 4, 3)) for _ in range(3))
    batched = macro_f1_from_counts(tp, fp, fn)
    assert batched.shape == (5, 4)
    for i in range(5):
        for j in range(4):
            assert batched[i, j] == pytest.approx(macro_f1_from_counts(tp[i, j], fp[i, j], fn[i, j]))
    assert np.isnan(macro_f1_from_counts(np.zeros(0), np.zeros(0), np.zeros(0)))


def test_every_route_to_macro_f1_agrees() -> None:
    covered = [(g, p) for g, p in zip(GOLD, PREDICTED) if p is not None]
    gold, predicted = [g for g, _ in covered], [p for _, p in covered]
    expected = float(macro_f1_from_counts(*class_counts(gold, predicted, CLASSES)))
    assert macro_f1(np.array(gold), np.array(predicted)) == pytest.approx(expected)
    module = load_metric("f1").compute(predictions=predicted, references=gold, labels=CLASSES, average="macro")["f1"]
    assert module == pytest.approx(expected)
    confusion: dict[tuple[str, str], int] = {}
    for cell in covered:
        confusion[cell] = confusion.get(cell, 0) + 1
    assert bootstrap_interval(confusion, CLASSES, samples=50)["macro_f1"][0] == pytest.approx(expected)
