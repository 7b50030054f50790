"""Evaluation metrics shipped with the package as evaluate modules, loaded by local path.

``evaluate.load("accuracy")`` fetches the module from the Hugging Face Hub and fails offline. Our
modules live here, one folder per metric (``accuracy/accuracy.py``, ``f1/f1.py``), and load with
``evaluate.load(<folder>)``: evaluate copies the script into its modules cache (``HF_MODULES_CACHE``,
default ``$HF_HOME/modules``) and imports it from there, without any network access.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importing evaluate pulls in transformers (seconds): only when a metric is loaded
    import evaluate

__all__ = ["METRICS", "METRICS_DIR", "load_metric", "metric_path"]

METRICS_DIR = Path(__file__).resolve().parent
METRICS: tuple[str, ...] = tuple(sorted(p.name for p in METRICS_DIR.iterdir() if (p / f"{p.name}.py").is_file()))


def metric_path(name: str) -> Path:
    """The folder of a shipped metric module."""
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; shipped metrics: {', '.join(METRICS)}")
    return METRICS_DIR / name


def load_metric(name: str, **kwargs) -> evaluate.EvaluationModule:
    """A shipped metric (``"accuracy"``, ``"f1"``) loaded by local path; never touches the hub.

    Results are kept in memory (no Arrow cache files) unless ``keep_in_memory=False`` is passed.
    """
    import evaluate

    kwargs.setdefault("keep_in_memory", True)
    return evaluate.load(str(metric_path(name)), **kwargs)
