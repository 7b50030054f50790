"""F1 score for multi-class string labels (evaluate module, loaded by local path).

Per class c: F1 = 2 TP / (2 TP + FP + FN) (0 where the class is neither predicted nor in the
references), as scikit-learn computes it with ``zero_division=0``. ``average``:

* ``None`` — per-class F1, a list in the order of ``labels`` (returned as ``labels`` too);
* ``"macro"`` (default) — unweighted mean of the per-class F1;
* ``"micro"`` — F1 of the TP / FP / FN summed over ``labels`` (equals accuracy when ``labels`` covers
  every label seen);
* ``"weighted"`` — mean of per-class F1 weighted by each class's count in the references.

``labels`` restricts the classes scored (default: the sorted union of references and predictions).
A prediction outside ``labels`` is a miss for its reference class, and no false positive for any
listed class. A null prediction (abstention) is always a miss. numpy only, no hub. The counts and the F1
itself are `genai_lab.evaluation.statistics`', the one definition every macro-F1 of the project uses.
"""

import evaluate
import numpy as np

from genai_lab.evaluation.statistics import class_counts, f1_from_counts, macro_f1_from_counts
from genai_lab.metrics.string_labels import label_arrays, string_label_info

_DESCRIPTION = "F1 = 2 * precision * recall / (precision + recall), per class or averaged over classes."
_KWARGS_DESCRIPTION = """
Args:
    predictions (list of str): predicted labels.
    references (list of str): gold labels.
    labels (list of str, optional): the classes to score, in the order of the per-class output.
        Defaults to the sorted union of references and predictions.
    average (None | "macro" | "micro" | "weighted"): defaults to "macro".
Returns:
    f1 (float, or list of float when average is None); labels (list of str) when average is None.
Examples:
    >>> f1 = evaluate.load("genai_lab/metrics/f1")
    >>> f1.compute(predictions=["a", "b", "b"], references=["a", "a", "b"], average=None)
    {'f1': [0.6666666666666666, 0.6666666666666666], 'labels': ['a', 'b']}
"""
_CITATION = ""
_AVERAGES = (None, "macro", "micro", "weighted")


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class F1(evaluate.Metric):
    def _info(self):
        return string_label_info(_DESCRIPTION, _KWARGS_DESCRIPTION, _CITATION)

    def _compute(self, predictions, references, labels=None, average="macro"):
        if average not in _AVERAGES:
            raise ValueError(f"average must be one of {_AVERAGES}, not {average!r}")
        preds, refs = label_arrays(predictions, references)
        if labels is None:
            labels = sorted({x for x in np.concatenate([refs, preds]) if x is not None})
        labels = list(labels)
        if len(set(labels)) != len(labels):
            raise ValueError(f"labels must be distinct: {labels}")
        tp, fp, fn = class_counts(refs, preds, labels)
        if average is None:
            return {"f1": [float(x) for x in f1_from_counts(tp, fp, fn)], "labels": labels}
        if average == "macro":
            return {"f1": float(macro_f1_from_counts(tp, fp, fn))}
        if not labels:
            return {"f1": float("nan")}
        if average == "micro":
            return {"f1": float(f1_from_counts(tp.sum(), fp.sum(), fn.sum()))}
        support = tp + fn
        return {"f1": float((f1_from_counts(tp, fp, fn) * support).sum() / support.sum()) if support.sum() > 0 else 0.0}
