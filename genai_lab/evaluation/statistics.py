"""The statistics behind every score and interval: one macro-F1, bootstrap intervals.

Macro-F1 is defined once, by :func:`macro_f1_from_counts` over per-class true positive, false positive and false
negative counts. Everything that reports a macro-F1 reaches it: :func:`macro_f1` from label arrays, the ``f1``
evaluate module behind `score_predictions`, and the bootstrap over confusion cells.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["bootstrap_interval", "class_counts", "f1_from_counts", "macro_f1", "macro_f1_from_counts", "paired_bootstrap",
           "percentile_interval"]


def f1_from_counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """Per-class F1 = 2 TP / (2 TP + FP + FN), elementwise; 0 where TP is 0 (scikit-learn's ``zero_division=0``)."""
    tp, fp, fn = (np.asarray(count, dtype=float) for count in (tp, fp, fn))
    return np.divide(2 * tp, 2 * tp + fp + fn, out=np.zeros(np.broadcast_shapes(tp.shape, fp.shape, fn.shape)), where=tp > 0)


def macro_f1_from_counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """Macro-F1, the unweighted mean of per-class F1, over the last axis (the classes); any leading axes (bootstrap
    draws) are kept. With no classes it is nan: there is nothing to average."""
    per_class = f1_from_counts(tp, fp, fn)
    if per_class.shape[-1] == 0:
        return np.full(per_class.shape[:-1], np.nan)
    return per_class.mean(axis=-1)


def _class_indicators(labels: np.ndarray, predictions: np.ndarray, classes: Sequence) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Whether each item is a TP, FP, FN of each class: three (items, classes) 0/1 matrices."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if labels.shape != predictions.shape:
        raise ValueError(f"{len(predictions)} predictions but {len(labels)} labels")
    is_gold = np.array([labels == k for k in classes], dtype=bool).reshape(len(classes), labels.size).T
    is_predicted = np.array([predictions == k for k in classes], dtype=bool).reshape(len(classes), labels.size).T
    return tuple(indicator.astype(np.int64) for indicator in (is_gold & is_predicted, is_predicted & ~is_gold, is_gold & ~is_predicted))


def class_counts(labels: np.ndarray, predictions: np.ndarray, classes: Sequence) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(TP, FP, FN) per class of `classes`, in its order. A prediction outside `classes` (or null) is a miss for its
    gold class and no false positive for any listed class."""
    return tuple(indicator.sum(axis=0) for indicator in _class_indicators(labels, predictions, classes))


def macro_f1(labels: np.ndarray, predictions: np.ndarray) -> float:
    """Unweighted mean F1 over the classes present in `labels` (a class never predicted scores 0); 0 without labels."""
    classes = np.unique(np.asarray(labels))
    if classes.size == 0:
        return 0.0
    return float(macro_f1_from_counts(*class_counts(labels, predictions, classes)))


# --------------------------------------------------------------------------------------------------------------- bootstrap


def _check_resampling(samples: int, confidence: float, classes: Sequence[str]) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    if not classes:
        raise ValueError("classes is empty: macro-F1 needs the gold classes of the dataset")


def _cell_scorer(gold: np.ndarray, predicted: np.ndarray, classes: Sequence[str]):
    """f(tables) -> (accuracy, macro-F1) per row of `tables`, a count per cell whose gold and predicted labels are given."""
    # a table's per-class counts are linear in its cells: one matrix product scores every draw at once
    tp, fp, fn = _class_indicators(gold, predicted, classes)
    correct = (gold == predicted).astype(np.int64)

    def scores(tables: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (tables @ correct) / tables.sum(axis=1), macro_f1_from_counts(tables @ tp, tables @ fp, tables @ fn)

    return scores


def percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """The (low, high) percentiles of `values` that hold the central `confidence` share between them."""
    tail = (1 - confidence) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)


def _multinomial_draws(counts: np.ndarray, samples: int, seed: int) -> np.ndarray:
    # resampling the items with replacement is drawing their cells from a multinomial with the observed proportions
    total = int(counts.sum())
    return np.random.default_rng(seed).multinomial(total, counts / total, size=samples)


def bootstrap_interval(confusion: dict[tuple[str, str], int], classes: Sequence[str], samples: int = 1000, confidence: float = 0.95,
                       seed: int = 0) -> dict[str, tuple[float, float, float]]:
    """(point, low, high) of ``"accuracy"`` and ``"macro_f1"`` from a confusion table {(gold, predicted): count}.

    Resampling the items with replacement is drawing the confusion cells from a multinomial with the observed
    proportions and the same total, so all resamples are drawn at once. The interval is the percentile interval;
    with few items and skewed F1 it need not contain the point.
    """
    _check_resampling(samples, confidence, classes)
    if any(count < 0 for count in confusion.values()):
        raise ValueError(f"confusion counts must not be negative: {confusion}")
    cells = [cell for cell, count in confusion.items() if count > 0]
    counts = np.array([confusion[cell] for cell in cells], dtype=np.int64)
    if counts.sum() == 0:
        raise ValueError("the confusion table is empty: there is nothing to resample")
    scores = _cell_scorer(np.array([g for g, _ in cells], dtype=object), np.array([p for _, p in cells], dtype=object), classes)
    (point_accuracy,), (point_f1,) = scores(counts[None, :])
    accuracy, macro = scores(_multinomial_draws(counts, samples, seed))
    return {"accuracy": (float(point_accuracy), *percentile_interval(accuracy, confidence)),
            "macro_f1": (float(point_f1), *percentile_interval(macro, confidence))}


def paired_bootstrap(gold: Sequence[str], first: Sequence[str], second: Sequence[str], classes: Sequence[str], samples: int = 1000,
                     confidence: float = 0.95, seed: int = 0) -> dict[str, tuple[float, float, float]]:
    """Two models' predictions on the same items, resampled together: (point, low, high) of each one's macro-F1
    (``"first"``, ``"second"``), of ``"difference"`` (second − first) and of ``"ratio"`` (second / first).

    Both models are scored on every resample of the same items, so the interval of their difference is that of
    the difference, not of two independent scores: far narrower where the models err on the same items. The
    joint cells (gold, first, second) are the sufficient statistic, drawn from a multinomial as in
    `bootstrap_interval`. The ratio is null where the first model's macro-F1 is 0.
    """
    _check_resampling(samples, confidence, classes)
    if not len(gold) == len(first) == len(second):
        raise ValueError(f"paired predictions need one of each per item: {len(gold)} gold, {len(first)} and {len(second)} predicted")
    if any(label is None for label in (*first, *second)):
        raise ValueError("paired predictions must not abstain: compare two models on the items both label")
    if not gold:
        raise ValueError("no items: there is nothing to resample")
    cells: dict[tuple[str, str, str], int] = {}
    for cell in zip(gold, first, second, strict=True):
        cells[cell] = cells.get(cell, 0) + 1
    keys = list(cells)
    counts = np.array([cells[key] for key in keys], dtype=np.int64)
    gold_of, first_of, second_of = (np.array([key[i] for key in keys], dtype=object) for i in range(3))
    # row 0 is the observed table: the points come out of the same scoring as the resamples
    draws = np.vstack([counts[None, :], _multinomial_draws(counts, samples, seed)])
    f1_first = _cell_scorer(gold_of, first_of, classes)(draws)[1]
    f1_second = _cell_scorer(gold_of, second_of, classes)(draws)[1]
    ratio = np.divide(f1_second, f1_first, out=np.full(f1_first.shape, np.nan), where=f1_first > 0)
    out = {}
    for name, values in (("first", f1_first), ("second", f1_second), ("difference", f1_second - f1_first), ("ratio", ratio)):
        resampled = values[1:][~np.isnan(values[1:])]
        out[name] = (float(values[0]), *percentile_interval(resampled, confidence)) if not np.isnan(values[0]) and resampled.size else (
            float("nan"), float("nan"), float("nan"))
    return out
