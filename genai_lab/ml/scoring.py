"""A trained classifier on the gold sets and on the clock: `model_evaluation` rows for any model arm."""

from __future__ import annotations

import time

import numpy as np
import polars as pl

from genai_lab.evaluation import EVALUATION_SCHEMA, mark_synthetic, score_predictions
from genai_lab.ml.classifier import LABELS, predict_proba

#: gold task -> whether its input is a (text, aspect term) pair
TASK_INPUTS = {"review_sentiment": False, "aspect_polarity": True}


def gold_quality(model, tokenizer, gold: pl.DataFrame, name: str, *, batch_size: int, max_length: int) -> pl.DataFrame:
    """Accuracy, macro-F1 and per-class F1 of `model` on every sentiment gold set (review level and aspect level)."""
    scored = []
    for task, pair in TASK_INPUTS.items():
        rows = gold.filter(pl.col("task") == task)
        if rows.height == 0:
            continue
        aspects = rows["aspect_term"].to_list() if pair else None
        probabilities = predict_proba(model, tokenizer, rows["text"].to_list(), aspects, batch_size=batch_size, max_length=max_length)
        predicted = pl.Series("prediction", np.array(LABELS, dtype=object)[probabilities.argmax(axis=1)].tolist(), dtype=pl.String)
        scored.append(score_predictions(rows.select("dataset", "task", "label").with_columns(predicted), name))
    return pl.concat(scored) if scored else pl.DataFrame(schema=EVALUATION_SCHEMA)


def inference_cost(model, tokenizer, texts: list[str], *, batch_size: int, max_length: int, latency_runs: int = 50,
                   passes: int = 3) -> dict[str, float]:
    """Batched throughput over `texts` (reviews/s, the median of `passes` timed passes) and single-review latency percentiles (ms)."""
    predict_proba(model, tokenizer, texts[:batch_size], batch_size=batch_size, max_length=max_length)  # warm up
    rates = []
    for _ in range(passes):
        started = time.perf_counter()
        predict_proba(model, tokenizer, texts, batch_size=batch_size, max_length=max_length)
        rates.append(len(texts) / (time.perf_counter() - started))
    throughput = float(np.median(rates))
    latencies = []
    for text in (texts * (latency_runs // max(1, len(texts)) + 1))[:latency_runs]:
        started = time.perf_counter()
        predict_proba(model, tokenizer, [text], batch_size=1, max_length=max_length)
        latencies.append((time.perf_counter() - started) * 1000)
    return {"reviews_per_s": throughput, "latency_p50_ms": float(np.percentile(latencies, 50)),
            "latency_p95_ms": float(np.percentile(latencies, 95)), "inference_rows": len(texts)}


COST_METRICS = ("reviews_per_s", "latency_p50_ms", "latency_p95_ms", "train_seconds", "cpu_seconds", "peak_rss_mb",
                "params_total", "params_trainable", "energy_kwh", "disk_mb")


def cost_rows(name: str, figures: dict[str, float], n: int | None = None) -> pl.DataFrame:
    """The task `cost` rows of `model_evaluation` (dataset `cost`); every metric of COST_METRICS must be present."""
    missing = [metric for metric in COST_METRICS if metric not in figures]
    if missing:
        raise ValueError(f"cost figures of {name} lack {missing}")
    return pl.DataFrame([{"model": name, "task": "cost", "dataset": "cost", "metric": metric, "value": float(figures[metric]), "n": n}
                         for metric in COST_METRICS], schema=EVALUATION_SCHEMA)


def evaluate_model(model, tokenizer, gold: pl.DataFrame, name: str, *, batch_size: int, max_length: int, throughput_rows: int,
                   latency_runs: int, training_cost: dict[str, float]) -> tuple[pl.DataFrame, dict[str, float]]:
    """Quality on every sentiment gold set plus the cost rows (training figures as given, inference timed here on gold review texts)."""
    quality = gold_quality(model, tokenizer, gold, name, batch_size=batch_size, max_length=max_length)
    reviews = gold.filter(pl.col("task") == "review_sentiment")["text"].unique(maintain_order=True)
    if reviews.is_empty():
        reviews = gold["text"].unique(maintain_order=True)
    # a small gold set (Lin-2018 has 170 reviews) times in a fraction of a second: its texts are cycled up to throughput_rows
    texts = reviews.to_list()
    texts = (texts * (throughput_rows // max(1, len(texts)) + 1))[:throughput_rows]
    timing = inference_cost(model, tokenizer, texts, batch_size=batch_size, max_length=max_length, latency_runs=latency_runs)
    evaluation = pl.concat([quality, cost_rows(name, {**training_cost, **timing}, n=int(timing["inference_rows"]))])
    return mark_synthetic(evaluation, gold), timing
