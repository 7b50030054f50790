"""Scoring predictions against gold labels, with the evaluate modules shipped in `genai_lab.metrics`.

`score_predictions(predictions, model)` takes one row per gold item (``dataset, task, label`` = gold,
``prediction`` = the model's label or null where it abstained) and returns long-format rows of
:data:`EVALUATION_SCHEMA`, per (task, dataset):

* ``coverage`` — share of rows with a prediction; ``n`` = all rows;
* ``accuracy``, ``macro_f1`` and ``f1_<class>`` per class — on the covered rows only; ``n`` = covered
  rows (value null where nothing is covered). The classes are those present in the gold labels of that
  (task, dataset), abstained rows included, in the canonical order of the task's label set; macro-F1 is
  their unweighted mean. A predicted label outside them is a miss for the gold class.
* ``confusion:<gold>-><predicted>`` — the count of covered rows with that pair, for every gold class
  and predicted label (zeros included, so models scored on one set report the same rows); the
  sufficient statistics from which reports bootstrap confidence intervals.

Rows are scored one by one: in a multi-label set (Maalej review types: one row per (text, label)) a
single prediction per text can match only one of that text's rows. `score_multilabel` scores such a
set the way its authors did (Maalej & Nabil: one binary classifier per type): per text, the set of
predicted types against the set of gold types —

* ``precision_<type>``, ``recall_<type>``, ``f1_<type>`` — binary, per type present in the gold set;
* ``macro_f1`` — their unweighted mean; ``accuracy`` — the share of texts whose predicted set equals
  the gold set exactly (subset accuracy); ``coverage`` — share of texts with at least one type;
* ``tp:<type>``, ``fp:<type>``, ``fn:<type>`` — the counts behind them; ``n`` = texts.

`markdown_summary(evaluation)` renders the table for Dagster Markdown metadata.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import polars as pl

from genai_lab.evaluation.statistics import f1_from_counts, macro_f1_from_counts
from genai_lab.reports.render import md_table
from genai_lab.vocabulary import REVIEW_TYPE_MODEL, TASK_CLASSES, TEACHER

# TEACHER and REVIEW_TYPE_MODEL are the vocabulary's, re-exported: model_evaluation's readers import them from here
__all__ = ["CONFUSION_PREFIX", "COST_TASK", "EVALUATION_SCHEMA", "PREDICTION_COLUMNS", "REVIEW_TYPE_MODEL", "TEACHER", "confusion_metric",
           "mark_synthetic", "markdown_cost", "markdown_summary", "score_multilabel", "score_predictions"]

EVALUATION_SCHEMA: dict[str, pl.DataType] = {
    "model": pl.String(),
    "task": pl.String(),
    "dataset": pl.String(),
    "metric": pl.String(),
    "value": pl.Float64(),
    "n": pl.Int64(),
}
PREDICTION_COLUMNS: tuple[str, ...] = ("dataset", "task", "label", "prediction")
#: the task (and dataset) of model_evaluation's cost rows: training and inference figures, no gold
COST_TASK = "cost"


@cache
def _metric(name: str):
    from genai_lab.metrics import load_metric  # imports evaluate (and with it transformers): only when scoring

    return load_metric(name)


def _classes(task: str, gold: list[str]) -> list[str]:
    present = set(gold)
    order = TASK_CLASSES.get(task, ())
    return [c for c in order if c in present] + sorted(present - set(order))


CONFUSION_PREFIX = "confusion:"


def confusion_metric(gold: str, predicted: str) -> str:
    """The metric name of a confusion count: `confusion:<gold>-><predicted>`."""
    return f"{CONFUSION_PREFIX}{gold}->{predicted}"


def score_predictions(predictions: pl.DataFrame, model: str) -> pl.DataFrame:
    """Coverage, accuracy, macro-F1 and per-class F1 of one model, per (task, dataset); see the module docstring."""
    missing = [c for c in PREDICTION_COLUMNS if c not in predictions.columns]
    if missing:
        raise ValueError(
            f"predictions lack columns {missing}; they have {predictions.columns}, expected {list(PREDICTION_COLUMNS)}"
        )
    frame = predictions.select(pl.col(c).cast(pl.String) for c in PREDICTION_COLUMNS)
    if (no_gold := frame["label"].null_count()) > 0:
        raise ValueError(f"{no_gold} prediction rows have no gold label")

    rows: list[dict] = []
    for (task, dataset), group in frame.group_by("task", "dataset", maintain_order=True):
        n_all = group.height
        covered = group.filter(pl.col("prediction").is_not_null())
        n_cov = covered.height
        classes = _classes(task, group["label"].to_list())
        base = {"model": model, "task": task, "dataset": dataset}
        rows.append({**base, "metric": "coverage", "value": n_cov / n_all, "n": n_all})
        if n_cov:
            preds, refs = covered["prediction"].to_list(), covered["label"].to_list()
            accuracy = _metric("accuracy").compute(predictions=preds, references=refs)["accuracy"]
            macro = _metric("f1").compute(predictions=preds, references=refs, labels=classes, average="macro")["f1"]
            per_class = _metric("f1").compute(predictions=preds, references=refs, labels=classes, average=None)["f1"]
        else:
            accuracy = macro = None
            per_class = [None] * len(classes)
        rows.append({**base, "metric": "accuracy", "value": accuracy, "n": n_cov})
        rows.append({**base, "metric": "macro_f1", "value": macro, "n": n_cov})
        rows.extend({**base, "metric": f"f1_{c}", "value": v, "n": n_cov} for c, v in zip(classes, per_class))
        # the confusion counts are the sufficient statistics of accuracy and F1: reports bootstrap from them
        # every cell of the gold classes x predicted labels grid, zeros included: two models on one set report the same rows
        counts = {(gold, predicted): count for gold, predicted, count in covered.group_by("label", "prediction").len().rows()}
        predicted_labels = classes + sorted({p for _, p in counts} - set(classes))
        rows.extend({**base, "metric": confusion_metric(gold, predicted), "value": float(counts.get((gold, predicted), 0)),
                     "n": counts.get((gold, predicted), 0)}
                    for gold in classes for predicted in predicted_labels)
    return pl.DataFrame(rows, schema=EVALUATION_SCHEMA).sort("task", "dataset", maintain_order=True)


def score_multilabel(gold: pl.DataFrame, predicted: pl.DataFrame, model: str) -> pl.DataFrame:
    """Per-type binary and subset scores of a multi-label prediction (see the module docstring).

    `gold`: rows ``dataset, task, text, label`` (one per gold label of a text); `predicted`: rows ``text, types``
    (list of predicted types, each text once).
    """
    for frame, needed in ((gold, ("dataset", "task", "text", "label")), (predicted, ("text", "types"))):
        if missing := [c for c in needed if c not in frame.columns]:
            raise ValueError(f"multi-label scoring needs columns {list(needed)}; missing {missing} of {frame.columns}")
    if predicted["text"].is_duplicated().any():
        raise ValueError("multi-label predictions must hold each text once")
    rows: list[dict] = []
    for (task, dataset), group in gold.group_by("task", "dataset", maintain_order=True):
        sets = group.group_by("text", maintain_order=True).agg(pl.col("label").unique().alias("gold")).join(
            predicted, on="text", how="left").with_columns(pl.col("types").fill_null([]))
        n = sets.height
        base = {"model": model, "task": task, "dataset": dataset}
        exact = sets.select((pl.col("gold").list.sort() == pl.col("types").list.unique().list.sort()).mean()).item()
        rows.append({**base, "metric": "coverage", "value": float((sets["types"].list.len() > 0).mean()), "n": n})
        rows.append({**base, "metric": "accuracy", "value": float(exact), "n": n})
        classes = _classes(task, group["label"].to_list())
        truth = np.array([sets["gold"].list.contains(label).to_numpy() for label in classes], dtype=bool).reshape(len(classes), n)
        guess = np.array([sets["types"].list.contains(label).to_numpy() for label in classes], dtype=bool).reshape(len(classes), n)
        # per type a binary decision: the type's own TP, FP, FN over the texts
        tp, fp, fn = ((truth & guess).sum(axis=1), (guess & ~truth).sum(axis=1), (truth & ~guess).sum(axis=1))
        for label, f1, t, f, m in zip(classes, f1_from_counts(tp, fp, fn), tp.tolist(), fp.tolist(), fn.tolist(), strict=True):
            rows += [{**base, "metric": f"precision_{label}", "value": t / (t + f) if t + f else 0.0, "n": n},
                     {**base, "metric": f"recall_{label}", "value": t / (t + m) if t + m else 0.0, "n": n},
                     {**base, "metric": f"f1_{label}", "value": float(f1), "n": n},
                     *({**base, "metric": f"{kind}:{label}", "value": float(count), "n": count}
                       for kind, count in (("tp", t), ("fp", f), ("fn", m)))]
        rows.append({**base, "metric": "macro_f1", "value": float(macro_f1_from_counts(tp, fp, fn)) if classes else None, "n": n})
    return pl.DataFrame(rows, schema=EVALUATION_SCHEMA).sort("task", "dataset", maintain_order=True)


def mark_synthetic(evaluation: pl.DataFrame, gold: pl.DataFrame) -> pl.DataFrame:
    """Adds `gold_synthetic`: whether the row's gold set is the generator's truth (false for cost rows, which have no gold)."""
    synthetic = gold.group_by("dataset").agg(pl.col("synthetic").any().alias("gold_synthetic"))
    return evaluation.join(synthetic, on="dataset", how="left", maintain_order="left").with_columns(
        pl.col("gold_synthetic").fill_null(False))


def _cell(value: float | None, percent: bool = False) -> str:
    if value is None or math.isnan(value):
        return "–"
    return f"{value:.0%}" if percent else f"{value:.3f}"


def markdown_summary(evaluation: pl.DataFrame) -> str:
    """A Markdown table: one row per model, one column per (task, dataset), cells "coverage · accuracy · macro-F1"."""
    if evaluation.is_empty():
        return "_No evaluation results._"
    synthetic = "gold_synthetic" in evaluation.columns and bool(evaluation["gold_synthetic"].any())
    banner = ["**Gold is SYNTHETIC (the generator's truth), not human-labelled.**", ""] if synthetic else []
    wide = (
        evaluation.filter(pl.col("metric").is_in(["coverage", "accuracy", "macro_f1"]))
        .select("model", "task", "dataset", "metric", "value", "n")
    )
    columns = wide.select("task", "dataset").unique().sort("task", "dataset").rows()
    sizes = {
        (t, d): n
        for t, d, n in wide.filter(pl.col("metric") == "coverage").group_by("task", "dataset").agg(pl.col("n").max()).rows()
    }
    values = {(m, t, d, k): v for m, t, d, k, v, _ in wide.rows()}
    models = wide["model"].unique(maintain_order=True).to_list()
    header = ["model"] + [f"{d}<br>{t}, n={sizes.get((t, d), '?')}" for t, d in columns]

    def cell(model: str, task: str, dataset: str) -> str:
        if (model, task, dataset, "coverage") not in values:
            return "–"
        return " · ".join((_cell(values.get((model, task, dataset, "coverage")), percent=True),
                           _cell(values.get((model, task, dataset, "accuracy"))), _cell(values.get((model, task, dataset, "macro_f1")))))

    rows = [[model, *(cell(model, t, d) for t, d in columns)] for model in models]
    lines = [*banner, "Cells: coverage · accuracy · macro-F1 (accuracy and F1 on the covered rows).", "", *md_table(header, rows)]
    return "\n".join(lines)


def markdown_cost(evaluation: pl.DataFrame) -> str:
    """A Markdown table of the task `cost` rows: one row per model, one column per cost metric."""
    cost = evaluation.filter(pl.col("task") == COST_TASK)
    if cost.is_empty():
        return "_No cost figures._"
    metrics = cost["metric"].unique(maintain_order=True).to_list()
    values = {(m, k): v for m, k, v in cost.select("model", "metric", "value").rows()}
    rows = [[model, *(f"{values[(model, k)]:.4g}" if values.get((model, k)) is not None else "–" for k in metrics)]
            for model in cost["model"].unique(maintain_order=True).to_list()]
    return "\n".join(md_table(["model", *metrics], rows))
