"""A trained classifier on the gold sets and on the clock: `model_evaluation` rows for any model arm."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import polars as pl
from pydantic import model_validator

from genai_lab.config import StrictConfig
from genai_lab.evaluation import COST_TASK, EVALUATION_SCHEMA, mark_synthetic, score_predictions
from genai_lab.ml.classifier import LABELS, predict_proba
from genai_lab.vocabulary import ASPECT_POLARITY, REVIEW_SENTIMENT

#: gold task -> whether its input is a (text, aspect term) pair
TASK_INPUTS = {REVIEW_SENTIMENT: False, ASPECT_POLARITY: True}


def gold_predictions(model, tokenizer, gold: pl.DataFrame, *, batch_size: int, max_length: int) -> pl.DataFrame:
    """The sentiment gold rows (review level and aspect level) with `model`'s label of each in ``prediction``."""
    predicted = []
    for task, pair in TASK_INPUTS.items():
        rows = gold.filter(pl.col("task") == task)
        if rows.height == 0:
            continue
        aspects = rows["aspect_term"].to_list() if pair else None
        probabilities = predict_proba(model, tokenizer, rows["text"].to_list(), aspects, batch_size=batch_size, max_length=max_length)
        labels = pl.Series("prediction", np.array(LABELS, dtype=object)[probabilities.argmax(axis=1)].tolist(), dtype=pl.String)
        predicted.append(rows.with_columns(labels))
    return pl.concat(predicted) if predicted else gold.clear().with_columns(pl.lit(None, dtype=pl.String).alias("prediction"))


def gold_quality(model, tokenizer, gold: pl.DataFrame, name: str, *, batch_size: int, max_length: int) -> pl.DataFrame:
    """Accuracy, macro-F1 and per-class F1 of `model` on every sentiment gold set (review level and aspect level)."""
    predicted = gold_predictions(model, tokenizer, gold, batch_size=batch_size, max_length=max_length)
    if predicted.height == 0:
        return pl.DataFrame(schema=EVALUATION_SCHEMA)
    return score_predictions(predicted.select("dataset", "task", "label", "prediction"), name)


class TimingSettings(StrictConfig):
    """How `inference_timing` clocks every champion: in one asset, passes alternating between the models.

    Timed minutes apart (one asset per arm), the same two trained classifiers measured 4.4x and 5.3-5.5x
    apart on one shared machine whose plain matmul drifted 84 -> 116 GFLOP/s within an hour; timed
    together, drift hits every model alike and the ratio is what the models are.
    """

    #: reviews timed for batched throughput (gold review texts, cycled where the gold set is smaller)
    throughput_rows: int = 512
    #: timed throughput passes per model (the median is kept); each pass times every model once
    passes: int = 3
    #: single-review calls timed per model for the latency percentiles
    latency_runs: int = 50

    @model_validator(mode="after")
    def _validate(self) -> TimingSettings:
        small = [name for name in ("throughput_rows", "passes", "latency_runs") if getattr(self, name) < 1]
        if small:
            raise ValueError(f"timing settings {small} must be at least 1 (a median or percentile of nothing is no figure)")
        return self


@dataclass
class Contender:
    """A trained classifier as served: its weights, tokenizer and the batch size and input length it runs with."""

    model: object
    tokenizer: object
    batch_size: int
    max_length: int

    def predict(self, texts: list[str], batch_size: int | None = None) -> np.ndarray:
        return predict_proba(self.model, self.tokenizer, texts, batch_size=batch_size or self.batch_size, max_length=self.max_length)


def time_together(contenders: dict[str, Contender], texts: list[str], *, passes: int, latency_runs: int) -> dict[str, dict[str, float]]:
    """Per model: batched throughput over `texts` (reviews/s, median of `passes`) and single-review latency percentiles (ms).

    Each pass and each latency call visits every model, the starting model rotating, so none is always
    timed first or last.
    """
    names = list(contenders)
    # a whole untimed pass each: with bf16 on the CPU every new batch shape builds its kernels on first use, and a
    # warm-up of one batch left the first timed pass of the 2-layer SLM at 3,700 reviews/s against 4,200-5,000 after
    for contender in contenders.values():
        contender.predict(texts)
        contender.predict(texts[:1], batch_size=1)
    rates: dict[str, list[float]] = {name: [] for name in names}
    latencies: dict[str, list[float]] = {name: [] for name in names}

    def rotated(turn: int) -> list[str]:
        return names[turn % len(names):] + names[:turn % len(names)]

    for turn in range(passes):
        for name in rotated(turn):
            started = time.perf_counter()
            contenders[name].predict(texts)
            rates[name].append(len(texts) / (time.perf_counter() - started))
    for turn, text in enumerate((texts * (latency_runs // max(1, len(texts)) + 1))[:latency_runs]):
        for name in rotated(turn):
            started = time.perf_counter()
            contenders[name].predict([text], batch_size=1)
            latencies[name].append((time.perf_counter() - started) * 1000)
    import torch

    return {name: {"reviews_per_s": float(np.median(rates[name])), "latency_p50_ms": float(np.percentile(latencies[name], 50)),
                   "latency_p95_ms": float(np.percentile(latencies[name], 95)), "inference_rows": len(texts),
                   "inference_threads": torch.get_num_threads()} for name in names}


def timing_texts(gold: pl.DataFrame, rows: int) -> list[str]:
    """`rows` gold review texts to time inference on (any gold text where there is no review-level set)."""
    reviews = gold.filter(pl.col("task") == REVIEW_SENTIMENT)["text"].unique(maintain_order=True)
    if reviews.is_empty():
        reviews = gold["text"].unique(maintain_order=True)
    # a small gold set (Lin-2018 has 170 reviews) times in a fraction of a second: its texts are cycled up to `rows`
    texts = reviews.to_list()
    return (texts * (rows // max(1, len(texts)) + 1))[:rows]


INFERENCE_COST_METRICS = ("reviews_per_s", "latency_p50_ms", "latency_p95_ms")
TRAINING_COST_METRICS = ("train_seconds", "cpu_seconds", "peak_rss_mb", "params_total", "params_trainable", "energy_kwh", "disk_mb")
COST_METRICS = INFERENCE_COST_METRICS + TRAINING_COST_METRICS
#: written where the figures carry them: GPU seconds of training on GPUs (priced as GPU-hours), and the CPU threads
#: the throughput was measured with (so a million reviews is priced in the core-hours it took here)
OPTIONAL_COST_METRICS = ("gpu_seconds", "inference_threads")


def cost_rows(name: str, figures: dict[str, float], n: int | None = None, metrics: tuple[str, ...] = COST_METRICS) -> pl.DataFrame:
    """The task `cost` rows of `model_evaluation` (dataset `cost`): every one of `metrics`, which must be in `figures`,
    plus those of OPTIONAL_COST_METRICS that `figures` holds."""
    missing = [metric for metric in metrics if metric not in figures]
    if missing:
        raise ValueError(f"cost figures of {name} lack {missing}")
    written = list(metrics) + [metric for metric in OPTIONAL_COST_METRICS if metric in figures and metric not in metrics]
    return pl.DataFrame([{"model": name, "task": COST_TASK, "dataset": COST_TASK, "metric": metric, "value": float(figures[metric]), "n": n}
                         for metric in written], schema=EVALUATION_SCHEMA)


def evaluate_model(model, tokenizer, gold: pl.DataFrame, name: str, *, batch_size: int, max_length: int,
                   training_cost: dict[str, float]) -> pl.DataFrame:
    """Quality on every sentiment gold set plus the training cost rows (as given); inference is timed by `time_together`."""
    quality = gold_quality(model, tokenizer, gold, name, batch_size=batch_size, max_length=max_length)
    evaluation = pl.concat([quality, cost_rows(name, training_cost, metrics=TRAINING_COST_METRICS)])
    return mark_synthetic(evaluation, gold)
