"""Accuracy: the share of predictions equal to their reference (evaluate module, loaded by local path).

Labels are strings and pass as they are; a null prediction (abstention) is never correct. No hub, no
scikit-learn: numpy only.
"""

import datasets
import evaluate
import numpy as np

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
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references, normalize=True):
        preds = np.asarray(predictions, dtype=object)
        refs = np.asarray(references, dtype=object)
        if preds.shape != refs.shape:
            raise ValueError(f"{len(preds)} predictions but {len(refs)} references")
        correct = np.fromiter((p is not None and p == r for p, r in zip(preds, refs)), dtype=bool, count=len(preds))
        if not normalize:
            return {"accuracy": float(correct.sum())}
        return {"accuracy": float(correct.mean()) if len(correct) else float("nan")}
