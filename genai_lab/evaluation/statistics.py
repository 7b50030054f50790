"""The statistics behind every score and interval: one macro-F1, bootstrap intervals."""

from __future__ import annotations

import numpy as np

__all__ = ["macro_f1"]


def macro_f1(labels: np.ndarray, predictions: np.ndarray) -> float:
    """Unweighted mean F1 over the classes present in `labels` (a class never predicted scores 0)."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    scores = []
    for k in np.unique(labels):
        tp = np.sum((predictions == k) & (labels == k))
        fp = np.sum((predictions == k) & (labels != k))
        fn = np.sum((predictions != k) & (labels == k))
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores)) if scores else 0.0
