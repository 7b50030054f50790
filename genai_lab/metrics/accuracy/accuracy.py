"""Accuracy: the share of predictions equal to their reference (evaluate module, loaded by local path).

Labels are strings and pass as they are; a null prediction (abstention) is never correct. No hub, no
scikit-learn: numpy only.
"""

import evaluate
import numpy as np

from genai_lab.metrics.string_labels import label_arrays, string_label_info

_DESCRIPTION = "Accuracy = (number of predictions equal to their reference) / (number of predictions)."
_KWARGS_DESCRIPTION = """
Args:
    predictions (list of str): predicted labels.
    references (list of str): gold labels.
    normalize (bool): if False, return the number of correct predictions instead of the share. Defaults to True.
Returns:
    accuracy (float): share (or count) of correct predictions; nan for no predictions.
Examples:
    >>> accuracy = evaluate.load("genai_lab/metrics/accuracy")
    >>> accuracy.compute(predictions=["pos", "neg"], references=["pos", "pos"])
    {'accuracy': 0.5}
"""
_CITATION = ""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Accuracy(evaluate.Metric):
    def _info(self):
        return string_label_info(_DESCRIPTION, _KWARGS_DESCRIPTION, _CITATION)

    def _compute(self, predictions, references, normalize=True):
        preds, refs = label_arrays(predictions, references)
        correct = np.fromiter((p is not None and p == r for p, r in zip(preds, refs)), dtype=bool, count=len(preds))
        if not normalize:
            return {"accuracy": float(correct.sum())}
        return {"accuracy": float(correct.mean()) if len(correct) else float("nan")}
