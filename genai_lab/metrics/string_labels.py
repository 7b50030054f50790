"""What the shipped metric modules share: string labels in, one check of the inputs, one `MetricInfo` shape.

The modules import this by absolute name: evaluate copies only the module script into its cache, and checks that
the libraries it imports (here `genai_lab`) are installed.
"""

from __future__ import annotations

import numpy as np


def string_label_info(description: str, inputs_description: str, citation: str = ""):
    """The `MetricInfo` of a metric over string predictions and references."""
    import datasets
    import evaluate

    return evaluate.MetricInfo(description=description, citation=citation, inputs_description=inputs_description,
                               features=datasets.Features({"predictions": datasets.Value("string"),
                                                           "references": datasets.Value("string")}))


def label_arrays(predictions, references) -> tuple[np.ndarray, np.ndarray]:
    """Predictions and references as object arrays (a null prediction stays None), one of each per item."""
    preds = np.asarray(predictions, dtype=object)
    refs = np.asarray(references, dtype=object)
    if preds.shape != refs.shape:
        raise ValueError(f"{len(preds)} predictions but {len(refs)} references")
    return preds, refs
