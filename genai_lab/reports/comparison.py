"""The study's comparison report: the fine-tuned adapter against the small LM trained from scratch.

Pure functions from the long `model_evaluation` table (:data:`genai_lab.evaluation.EVALUATION_SCHEMA`, optionally
``gold_synthetic`` and ``model_version``) to a Markdown report (for Dagster Markdown metadata) and a self-contained
HTML file; no Dagster, no file system, no network.

* :func:`quality_table` — accuracy and macro-F1 per (task, dataset, model) with percentile-bootstrap CIs resampled
  from the ``confusion:<gold>-><predicted>`` rows (:func:`bootstrap_interval`);
* :func:`cost_table` — training and inference cost per model with cost rows, priced by :class:`ReportSettings`;
* :func:`key_findings`, :func:`strengths_and_limitations` — sentences generated from those two tables;
* :func:`price_performance_png`, :func:`macro_f1_bars_png` — the plots, PNG bytes;
* :func:`render_markdown`, :func:`render_html`, and :func:`build_comparison_report` doing all of it.

Roles: ``finetuned_adapter`` and ``slm_classifier`` (with its size ladder ``slm_classifier@<size>``) are the arms,
``label_model`` is the teacher whose pseudo-labels both arms learn from, ``review_type_model`` is a model of its
own task, everything else is a baseline.
"""

from __future__ import annotations

import html
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import polars as pl

from genai_lab.evaluation import CONFUSION_PREFIX, EVALUATION_SCHEMA, REVIEW_TYPE_MODEL, TEACHER, bootstrap_interval, paired_bootstrap
from genai_lab.labels.gold import REVIEW_TYPE
from genai_lab.ml.cost import CostSettings
from genai_lab.ml.scoring import COST_METRICS, OPTIONAL_COST_METRICS
from genai_lab.reports.render import CSS as _CSS
from genai_lab.reports.render import data_uri as _data_uri
from genai_lab.reports.render import empty_png as _empty_png
from genai_lab.reports.render import figure as _figure
from genai_lab.reports.render import md_cell as _md
from genai_lab.reports.render import md_table as _md_table
from genai_lab.reports.render import png as _png
from genai_lab.settings import StrictConfig

__all__ = [
    "ADAPTER",
    "SLM",
    "TEACHER",
    "ComparisonReport",
    "ReportSettings",
    "bootstrap_interval",
    "build_comparison_report",
    "cost_table",
    "key_findings",
    "macro_f1_bars_png",
    "model_role",
    "paired_bootstrap",
    "price_performance_png",
    "quality_table",
    "render_html",
    "render_markdown",
    "strengths_and_limitations",
    "synthetic_gold_sets",
]

ADAPTER = "finetuned_adapter"
SLM = "slm_classifier"
LADDER_PREFIX = f"{SLM}@"
COST_TASK = "cost"
SENTIMENT_TASKS: tuple[str, ...] = ("review_sentiment", "aspect_polarity")
_TASK_ORDER: tuple[str, ...] = (*SENTIMENT_TASKS, REVIEW_TYPE)
_TASK_LABEL = {"review_sentiment": "review-level sentiment", "aspect_polarity": "aspect-level polarity", REVIEW_TYPE: "review type"}
_ROLE_ORDER = {"arm": 0, "model": 1, "teacher": 2, "baseline": 3}
_ROW_KEY = ("model", "task", "dataset", "metric")

QUALITY_SCHEMA: dict[str, pl.DataType] = {
    "task": pl.String(), "dataset": pl.String(), "model": pl.String(), "role": pl.String(),
    "coverage": pl.Float64(), "accuracy": pl.Float64(), "acc_low": pl.Float64(), "acc_high": pl.Float64(),
    "macro_f1": pl.Float64(), "f1_low": pl.Float64(), "f1_high": pl.Float64(),
    "n": pl.Int64(), "n_gold": pl.Int64(), "gold_synthetic": pl.Boolean(),
}
COST_COLUMNS: tuple[str, ...] = (
    "model", "role", "model_version", "train_seconds", "cpu_hours", "gpu_hours", "energy_kwh", "train_usd", "params_total",
    "params_trainable", "disk_mb", "reviews_per_s", "latency_p50_ms", "latency_p95_ms", "peak_rss_mb", "kwh_per_million_reviews",
    "usd_per_million_reviews",
)


class ReportSettings(StrictConfig):
    """Prices and resampling behind the comparison report."""

    #: USD for one CPU core busy for one hour (cloud on-demand vCPU-hour is roughly 0.02-0.05)
    cpu_core_hour_usd: float = 0.02
    #: USD for one GPU-hour; applied only where cost rows carry `gpu_seconds` (training on a GPU)
    gpu_hour_usd: float = 2.5
    #: USD per kWh of electricity, applied to the energy estimate
    electricity_usd_per_kwh: float = 0.30
    #: CPU cores an inference deployment occupies while scoring: prices `reviews_per_s` as core-hours where the
    #: timing rows do not say how many threads the throughput was measured with (`inference_threads`)
    cores: int = 2
    #: power of one busy core in watts for the inference energy; the default is the one training energy was estimated with
    cpu_watts_per_core: float = CostSettings().cpu_watts_per_core
    #: models labelling a smaller share of a gold set stay in the tables but are not ranked (best, leads, beats an arm):
    #: a score on the few items a model chose to label says little about the rest
    min_coverage_to_rank: float = 0.5
    #: bootstrap resamples per confidence interval
    bootstrap_samples: int = 1000
    #: coverage of the percentile intervals (0.95: 2.5th to 97.5th percentile)
    confidence: float = 0.95
    #: seed of the resampling, so a report rebuilt from the same table shows the same intervals
    seed: int = 0


# ------------------------------------------------------------------------------------------------------------------- tables


def model_role(model: str) -> str:
    """``arm`` (adapter, SLM and its size ladder), ``teacher`` (the label model), ``model`` (review types) or ``baseline``."""
    if model in (ADAPTER, SLM) or model.startswith(LADDER_PREFIX):
        return "arm"
    if model == TEACHER:
        return "teacher"
    if model == REVIEW_TYPE_MODEL:
        return "model"
    return "baseline"


def _model_rank(model: str) -> tuple[int, int, str]:
    within = 0 if model == ADAPTER else 1 if model == SLM else 2
    return _ROLE_ORDER[model_role(model)], within, model


def _validated(evaluation: pl.DataFrame) -> pl.DataFrame:
    missing = [column for column in EVALUATION_SCHEMA if column not in evaluation.columns]
    if missing:
        raise ValueError(f"the evaluation frame lacks columns {missing}; it has {evaluation.columns}, "
                         f"expected those of model_evaluation: {list(EVALUATION_SCHEMA)}")
    duplicated = evaluation.filter(pl.struct(*_ROW_KEY).is_duplicated())
    if not duplicated.is_empty():
        examples = duplicated.select(*_ROW_KEY).unique(maintain_order=True).head(3).rows()
        raise ValueError(f"the evaluation frame holds {duplicated.height} rows that repeat a (model, task, dataset, metric), "
                         f"e.g. {examples}: concatenated twice?")
    return evaluation


def _group_confusions(rows: pl.DataFrame) -> dict[tuple[str, str, str], dict[tuple[str, str], int]]:
    cells = (rows.filter(pl.col("metric").str.starts_with(CONFUSION_PREFIX) & pl.col("value").is_not_null())
             .with_columns(pl.col("metric").str.strip_prefix(CONFUSION_PREFIX).str.split_exact("->", 1)
                           .struct.rename_fields(["gold", "predicted"]).alias("pair"))
             .unnest("pair"))
    if cells["predicted"].null_count():
        bad = cells.filter(pl.col("predicted").is_null())["metric"].head(3).to_list()
        raise ValueError(f"confusion metrics must read 'confusion:<gold>-><predicted>', got {bad}")
    counts = cells["value"].to_numpy()
    if (counts < 0).any() or not np.allclose(counts, np.round(counts)):
        raise ValueError("confusion counts must be non-negative whole numbers")
    grouped: dict[tuple[str, str, str], dict[tuple[str, str], int]] = {}
    for task, dataset, model, gold, predicted, value in cells.select("task", "dataset", "model", "gold", "predicted", "value").rows():
        grouped.setdefault((task, dataset, model), {})[(gold, predicted)] = round(value)
    return grouped


def quality_table(evaluation: pl.DataFrame, settings: ReportSettings | None = None) -> pl.DataFrame:
    """One row per (task, dataset, model) of every quality task (schema QUALITY_SCHEMA); within a gold set the models
    labelling at least `settings.min_coverage_to_rank` of it come first, best macro-F1 first, then the others.

    ``n`` counts the scored (covered) items, ``n_gold`` the items of the gold set. The CI columns are null where the
    evaluation carries no confusion rows for that group (tables written before they existed).
    """
    settings = settings or ReportSettings()
    rows = _validated(evaluation).filter(pl.col("task") != COST_TASK)
    if rows.is_empty():
        return pl.DataFrame(schema=QUALITY_SCHEMA)
    if "gold_synthetic" not in rows.columns:
        rows = rows.with_columns(pl.lit(False).alias("gold_synthetic"))
    keys = ("task", "dataset", "model")

    def metric(name: str, column: str = "value") -> pl.Expr:
        return pl.col(column).filter(pl.col("metric") == name).first()

    table = rows.group_by(*keys, maintain_order=True).agg(
        metric("coverage").alias("coverage"), metric("accuracy").alias("accuracy"), metric("macro_f1").alias("macro_f1"),
        metric("accuracy", "n").alias("n"), metric("coverage", "n").alias("n_gold"),
        pl.col("gold_synthetic").fill_null(False).any().alias("gold_synthetic"),
        # the f1_<class> rows list the gold classes (abstained rows included) in the order score_predictions used
        pl.col("metric").filter(pl.col("metric").str.starts_with("f1_")).str.strip_prefix("f1_").alias("classes"),
    )
    confusions = _group_confusions(rows)
    intervals = []
    for task, dataset, model, classes in table.select(*keys, "classes").rows():
        confusion = confusions.get((task, dataset, model))
        if not confusion or sum(confusion.values()) == 0:
            intervals.append((None,) * 4)
            continue
        # without f1_ rows, the gold classes seen among the covered rows are the best available
        classes = classes or list(dict.fromkeys(gold for gold, _ in confusion))
        ci = bootstrap_interval(confusion, classes, settings.bootstrap_samples, settings.confidence, settings.seed)
        intervals.append((*ci["accuracy"][1:], *ci["macro_f1"][1:]))
    interval_frame = pl.DataFrame(intervals, schema={"acc_low": pl.Float64, "acc_high": pl.Float64, "f1_low": pl.Float64,
                                                     "f1_high": pl.Float64}, orient="row")
    task_rank = {task: i for i, task in enumerate(_TASK_ORDER)}
    return (
        pl.concat([table.drop("classes"), interval_frame], how="horizontal")
        .with_columns(pl.col("model").map_elements(model_role, return_dtype=pl.String).alias("role"),
                      pl.col("task").replace_strict(task_rank, default=len(task_rank), return_dtype=pl.Int64).alias("_task_rank"),
                      (pl.col("coverage").fill_null(0.0) < settings.min_coverage_to_rank).alias("_unranked"))
        .sort("_task_rank", "task", "dataset", "_unranked", "macro_f1", "model", descending=[False, False, False, False, True, False],
              nulls_last=True)
        .select(*QUALITY_SCHEMA)
        .cast(QUALITY_SCHEMA)
    )


def cost_table(evaluation: pl.DataFrame, settings: ReportSettings | None = None) -> pl.DataFrame:
    """One row per model with cost rows (columns COST_COLUMNS), arms first.

    Training money = CPU-hours x core price + GPU-hours x GPU price + estimated kWh x electricity price. Scoring a
    million reviews takes 1e6 / reviews_per_s seconds on the `inference_threads` it was timed with (else
    `settings.cores`): those core-hours priced, plus their energy at `settings.cpu_watts_per_core`.
    """
    settings = settings or ReportSettings()
    rows = _validated(evaluation).filter(pl.col("task") == COST_TASK)
    if rows.is_empty():
        return pl.DataFrame(schema={column: pl.String if column in ("model", "role", "model_version") else pl.Float64
                                    for column in COST_COLUMNS})
    version = (pl.col("model_version").drop_nulls().first() if "model_version" in rows.columns else pl.lit(None)).cast(pl.String)
    wide = rows.group_by("model", maintain_order=True).agg(
        version.alias("model_version"),
        *(pl.col("value").filter(pl.col("metric") == name).first().cast(pl.Float64).alias(name)
          for name in (*COST_METRICS, *OPTIONAL_COST_METRICS)),
    )
    order = {model: i for i, model in enumerate(sorted(wide["model"].to_list(), key=_model_rank))}
    # a throughput of 0 (or missing) prices nothing rather than infinity
    cores = pl.coalesce(pl.col("inference_threads"), pl.lit(float(settings.cores)))
    core_seconds_per_million = pl.when(pl.col("reviews_per_s") > 0).then(1e6 / pl.col("reviews_per_s") * cores)
    kwh_per_million = core_seconds_per_million * settings.cpu_watts_per_core / 3.6e6
    return (
        wide.with_columns(
            pl.col("model").map_elements(model_role, return_dtype=pl.String).alias("role"),
            (pl.col("cpu_seconds") / 3600).alias("cpu_hours"),
            (pl.col("gpu_seconds").fill_null(0.0) / 3600).alias("gpu_hours"),
            kwh_per_million.alias("kwh_per_million_reviews"),
            (core_seconds_per_million / 3600 * settings.cpu_core_hour_usd + kwh_per_million * settings.electricity_usd_per_kwh)
            .alias("usd_per_million_reviews"),
        )
        .with_columns((pl.col("cpu_hours") * settings.cpu_core_hour_usd + pl.col("gpu_hours") * settings.gpu_hour_usd
                       + pl.col("energy_kwh") * settings.electricity_usd_per_kwh).alias("train_usd"))
        .sort(pl.col("model").replace_strict(order, return_dtype=pl.Int64))
        .select(*COST_COLUMNS)
    )


def synthetic_gold_sets(evaluation: pl.DataFrame) -> list[str]:
    """The gold sets flagged ``gold_synthetic`` (the cost pseudo-dataset only when nothing else is flagged)."""
    if "gold_synthetic" not in evaluation.columns:
        return []
    flagged = evaluation.filter(pl.col("gold_synthetic").fill_null(False))["dataset"].unique(maintain_order=True).to_list()
    return [dataset for dataset in flagged if dataset != COST_TASK] or flagged


# -------------------------------------------------------------------------------------------------------- reading the tables


@dataclass(frozen=True)
class _Score:
    model: str
    value: float
    low: float | None
    high: float | None
    coverage: float | None
    n: int | None

    @property
    def has_ci(self) -> bool:
        return self.low is not None and self.high is not None


def _scores(quality: pl.DataFrame, min_coverage: float = 0.0, metric: str = "macro_f1") -> dict[tuple[str, str], dict[str, _Score]]:
    """{(task, dataset): {model: score}} for the rows where `metric` has a value and coverage reaches `min_coverage`, best first."""
    low, high = ("f1_low", "f1_high") if metric == "macro_f1" else ("acc_low", "acc_high")
    out: dict[tuple[str, str], dict[str, _Score]] = {}
    eligible = pl.col(metric).is_not_null() & (pl.col("coverage").is_null() | (pl.col("coverage") >= min_coverage))
    ranked = quality.filter(eligible).sort(metric, descending=True, maintain_order=True)
    for task, dataset, model, value, lo, hi, coverage, n in ranked.select("task", "dataset", "model", metric, low, high, "coverage",
                                                                           "n").rows():
        out.setdefault((task, dataset), {})[model] = _Score(model, value, lo, hi, coverage, n)
    return {key: out[key] for key in sorted(out, key=lambda key: (_TASK_ORDER.index(key[0]) if key[0] in _TASK_ORDER
                                                                   else len(_TASK_ORDER), key))}


def _primary_slm(quality: pl.DataFrame, cost: pl.DataFrame) -> str | None:
    """`slm_classifier` where present, else the ladder rung with the best mean sentiment macro-F1."""
    models = set(quality["model"].to_list()) | set(cost["model"].to_list())
    if SLM in models:
        return SLM
    rungs = sorted(m for m in models if m.startswith(LADDER_PREFIX))
    if not rungs:
        return None
    means = _mean_sentiment_f1(quality, rungs)
    return max(rungs, key=lambda rung: means[rung][0] if rung in means else float("-inf"))


def _aliases(quality: pl.DataFrame, cost: pl.DataFrame) -> dict[str, str]:
    """{slm_classifier: slm_classifier@<size>} where the two carry identical figures: the chosen size evaluated under both names."""
    def figures(model: str) -> tuple:
        q = (quality.filter(pl.col("model") == model).select("task", "dataset", "coverage", "accuracy", "macro_f1", "n")
             .sort("task", "dataset"))
        c = cost.filter(pl.col("model") == model).drop("model", "role", "model_version")
        return tuple(q.rows()), tuple(c.rows())

    models = set(quality["model"].to_list()) | set(cost["model"].to_list())
    if SLM not in models:
        return {}
    mine = figures(SLM)
    for rung in sorted(m for m in models if m.startswith(LADDER_PREFIX)):
        if figures(rung) == mine:
            return {SLM: rung}
    return {}


def _mean_sentiment_f1(quality: pl.DataFrame, models: Sequence[str]) -> dict[str, tuple[float, float | None, float | None, int]]:
    """{model: (mean macro-F1, mean CI low, mean CI high, gold sets)} over the sentiment gold sets every one of `models` is scored on.

    Averaging the interval ends gives an interval wider than the mean's own (the sets are independent): a conservative band.
    Falls back to each model's own gold sets when they share none.
    """
    rows = quality.filter(pl.col("task").is_in(SENTIMENT_TASKS) & pl.col("model").is_in(list(models)) & pl.col("macro_f1").is_not_null())
    if rows.is_empty():
        return {}
    present = rows["model"].unique().to_list()
    sets_per_model = [set(rows.filter(pl.col("model") == m).select(pl.concat_str("task", "dataset", separator="/")).to_series().to_list())
                      for m in present]
    shared = set.intersection(*sets_per_model)
    if shared:
        rows = rows.filter(pl.concat_str("task", "dataset", separator="/").is_in(sorted(shared)))
    summary = rows.group_by("model").agg(
        pl.col("macro_f1").mean(), pl.col("f1_low").mean(), pl.col("f1_high").mean(),
        pl.col("f1_low").is_null().any().alias("missing_ci"), pl.len().alias("sets"))
    return {model: (f1, None if missing else low, None if missing else high, sets)
            for model, f1, low, high, missing, sets in summary.rows()}


def _cost_rows(cost: pl.DataFrame) -> dict[str, dict]:
    return {row["model"]: row for row in cost.iter_rows(named=True)}


# ------------------------------------------------------------------------------------------------------------------ wording


def _arm_name(model: str) -> str:
    if model == ADAPTER:
        return "the adapter"
    if model == SLM:
        return "the SLM"
    if model.startswith(LADDER_PREFIX):
        return f"the SLM ({model.removeprefix(LADDER_PREFIX)})"
    return model


def _ci_text(score: _Score, level: str) -> str:
    return f" ({level} CI {score.low:.2f}–{score.high:.2f})" if score.has_ci else ""


def _gap(a: float, b: float) -> str:
    difference = a - b
    if abs(difference) < 0.005:
        return "level with"
    return f"{abs(difference):.2f} {'above' if difference > 0 else 'below'}"


def _overlap(a: _Score, b: _Score) -> bool | None:
    if not (a.has_ci and b.has_ci):
        return None
    return a.low <= b.high and b.low <= a.high


def _significance(a: _Score, b: _Score, level: str) -> str:
    overlap = _overlap(a, b)
    if overlap is None:
        return ""
    # overlapping intervals do not make a difference non-significant; they only fail to show it
    return (f"their {level} CIs overlap, so this gold set does not separate them" if overlap
            else f"their {level} CIs do not overlap, so the difference is significant")


def _scored_on(score: _Score) -> str:
    """A score's value, with the share it covers where it abstained: its score is on the rows it chose."""
    if score.coverage is not None and score.coverage < 1:
        return f"{score.value:.2f} on the {_percent(score.coverage)} it labels"
    return f"{score.value:.2f}"


def _percent(share: float) -> str:
    """A share as a percentage that never rounds a sliver to 0% or a near-total to 100%."""
    if 0 < share < 0.01 or 0.99 < share < 1:
        return f"{share:.1%}"
    return f"{share:.0%}"


def _factor(a: float, b: float) -> str:
    ratio = a / b
    return f"{ratio:.1f}×" if ratio < 10 else f"{ratio:.0f}×"


def _count(value: float | None) -> str:
    if value is None:
        return "–"
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.0f}"


def _usd(value: float | None) -> str:
    if value is None:
        return "–"
    if value >= 100:
        return f"${value:,.0f}"
    if value >= 1:
        return f"${value:.2f}"
    return "$" + np.format_float_positional(value, precision=2, unique=False, fractional=False, trim="k")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _plain(value: float | None, digits: int = 3) -> str:
    """Significant digits without scientific notation, for small kWh and large throughputs alike."""
    if value is None or math.isnan(value):
        return "–"
    if abs(value) >= 10 ** digits:
        return f"{value:,.0f}"
    return np.format_float_positional(value, precision=digits, unique=False, fractional=False, trim="-")


def _level(confidence: float) -> str:
    return f"{confidence:.0%}".replace(".0%", "%")


def _join(parts: Sequence[str]) -> str:
    parts = list(parts)
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


# ----------------------------------------------------------------------------------------------------------------- findings


def _about(task: str, score: _Score) -> str:
    return _TASK_LABEL.get(task, task) + (f", n={score.n}" if score.n is not None else "")


def _quality_findings(quality: pl.DataFrame, slm: str | None, level: str, min_coverage: float) -> list[str]:
    findings = []
    for (task, dataset), scores in _scores(quality).items():
        if task not in SENTIMENT_TASKS:
            continue
        adapter, small, teacher = scores.get(ADAPTER), scores.get(slm) if slm else None, scores.get(TEACHER)
        lead = adapter or small
        if lead is None:
            continue
        sentence = (f"On {dataset} ({_about(task, lead)}) {_arm_name(lead.model)} reaches macro-F1 "
                    f"{lead.value:.2f}{_ci_text(lead, level)}")
        if teacher is not None:
            sentence += f", {_gap(lead.value, teacher.value)} the label model it learned from ({_scored_on(teacher)})"
        if adapter is not None and small is not None:
            sentence += f"; {_arm_name(small.model)} reaches {small.value:.2f}{_ci_text(small, level)}"
            if adapter.value > 0:
                sentence += f", {small.value / adapter.value:.2f} of the adapter's"
            if significance := _significance(adapter, small, level):
                sentence += f" — {significance}"
        findings.append(sentence + ".")

    ranked_sets = _scores(quality, min_coverage)
    leaders = [f"{dataset} {scores_[0].model} ({_scored_on(scores_[0])})"
               for (task, dataset), scores_ in ((key, list(s.values())) for key, s in ranked_sets.items())
               if task in SENTIMENT_TASKS and len(scores_) > 1]
    if leaders:
        findings.append(f"Best macro-F1 per sentiment gold set (models labelling at least {_percent(min_coverage)} of it): "
                        f"{'; '.join(leaders)}.")

    for (task, dataset), scores in ranked_sets.items():
        if task in SENTIMENT_TASKS:
            continue
        ranked = list(scores.values())
        best = ranked[0]
        sentence = (f"On {dataset} ({_about(task, best)}) {best.model} leads with macro-F1 "
                    f"{_scored_on(best)}{_ci_text(best, level)}")
        if len(ranked) > 1:
            runner = ranked[1]
            sentence += f", {_gap(best.value, runner.value)} {runner.model} ({_scored_on(runner)})"
            if significance := _significance(best, runner, level):
                sentence += f"; {significance}"
        findings.append(sentence + ".")
    return findings


def _cost_findings(quality: pl.DataFrame, cost: pl.DataFrame, slm: str | None) -> list[str]:
    rows = _cost_rows(cost)
    adapter, small = rows.get(ADAPTER), rows.get(slm) if slm else None
    findings = []
    priced = [(m, r) for m, r in ((ADAPTER, adapter), (slm, small)) if r is not None and r["usd_per_million_reviews"] is not None]
    if len(priced) == 2:
        (cheap, cheap_row), (dear, dear_row) = sorted(priced, key=lambda item: item[1]["usd_per_million_reviews"])
        findings.append(
            f"Scoring a million reviews costs {_usd(cheap_row['usd_per_million_reviews'])} with {_arm_name(cheap)} against "
            f"{_usd(dear_row['usd_per_million_reviews'])} with {_arm_name(dear)}: {_arm_name(cheap)} is "
            f"{_factor(dear_row['usd_per_million_reviews'], cheap_row['usd_per_million_reviews'])} cheaper.")
        if adapter["reviews_per_s"] and small["reviews_per_s"]:
            fast, slow = (small, adapter) if small["reviews_per_s"] >= adapter["reviews_per_s"] else (adapter, small)
            fast_name, slow_name = (_arm_name(slm), "the adapter") if fast is small else ("the adapter", _arm_name(slm))
            sentence = (f"{fast_name[0].upper()}{fast_name[1:]} scores {_plain(fast['reviews_per_s'])} reviews/s batched, "
                        f"{_factor(fast['reviews_per_s'], slow['reviews_per_s'])} {slow_name}'s {_plain(slow['reviews_per_s'])}")
            if adapter["latency_p50_ms"] is not None and small["latency_p50_ms"] is not None:
                sentence += (f"; single-review median latency {_plain(small['latency_p50_ms'], 2)} ms ({_arm_name(slm)}) vs "
                             f"{_plain(adapter['latency_p50_ms'], 2)} ms (the adapter)")
            findings.append(sentence + ".")
        if adapter["params_total"] and small["params_total"]:
            def params(row: dict, name: str) -> str:
                total, trainable = row["params_total"], row["params_trainable"]
                if trainable is None:
                    return f"{name} {_count(total)}"
                if trainable >= total:
                    return f"{name} {_count(total)}, all trained"
                return f"{name} {_count(total)}, of which {_count(trainable)} ({trainable / total:.1%}) trained"
            bigger, smaller = sorted([adapter, small], key=lambda row: row["params_total"], reverse=True)
            findings.append(f"Parameters: {params(adapter, 'the adapter')}; {params(small, _arm_name(slm))} — "
                            f"{_factor(bigger['params_total'], smaller['params_total'])} fewer in "
                            f"{_arm_name(smaller['model'])}.")
        if adapter["train_seconds"] is not None and small["train_seconds"] is not None:
            findings.append(f"Training took {_duration(adapter['train_seconds'])} ({_plain(adapter['cpu_hours'], 2)} CPU-hours, "
                            f"{_usd(adapter['train_usd'])}) for the adapter and {_duration(small['train_seconds'])} "
                            f"({_plain(small['cpu_hours'], 2)} CPU-hours, {_usd(small['train_usd'])}) for {_arm_name(slm)}.")
        means = _mean_sentiment_f1(quality, [ADAPTER, slm])
        if ADAPTER in means and slm in means and means[ADAPTER][0] > 0 and adapter["usd_per_million_reviews"]:
            findings.append(
                f"Price-performance: {_arm_name(slm)} delivers {means[slm][0] / means[ADAPTER][0]:.2f} of the adapter's mean "
                f"sentiment macro-F1 ({means[slm][0]:.2f} vs {means[ADAPTER][0]:.2f} over {means[ADAPTER][3]} gold sets) at "
                f"{small['usd_per_million_reviews'] / adapter['usd_per_million_reviews']:.2f} of its price per million reviews.")
    else:
        for model, row in priced:
            findings.append(f"Scoring a million reviews costs {_usd(row['usd_per_million_reviews'])} with {_arm_name(model)} "
                            f"({_plain(row['reviews_per_s'])} reviews/s batched); training took {_duration(row['train_seconds'])} "
                            f"and {_usd(row['train_usd'])}.")

    rungs = [m for m in cost["model"].to_list() if m.startswith(LADDER_PREFIX)]
    rungs = sorted(rungs, key=lambda m: (rows[m]["params_total"] is None, rows[m]["params_total"] or 0, m))
    if len(rungs) > 1:
        means = _mean_sentiment_f1(quality, rungs)
        steps = [f"{m.removeprefix(LADDER_PREFIX)} ({_count(rows[m]['params_total'])} parameters) "
                 f"{means[m][0]:.2f} at {_plain(rows[m]['reviews_per_s'])} reviews/s" for m in rungs if m in means]
        if len(steps) > 1:
            findings.append(f"SLM size ladder, mean sentiment macro-F1: {'; '.join(steps)}.")
    return findings


def key_findings(quality: pl.DataFrame, cost: pl.DataFrame, confidence: float = 0.95, min_coverage: float = 0.5) -> list[str]:
    """Sentences generated from the two tables: each arm's macro-F1 against its teacher and the other arm per gold set,
    whether the CIs separate them, the best model per set (among those labelling at least `min_coverage` of it), cost
    and speed ratios, and the size ladder. Only what the tables hold is reported; `confidence` only names the CI level."""
    slm = _primary_slm(quality, cost)
    findings = _quality_findings(quality, slm, _level(confidence), min_coverage) + _cost_findings(quality, cost, slm)
    aliases = _aliases(quality, cost)
    if aliases:
        findings.append(" ".join(f"{name} is {rung} (identical figures: the ladder's chosen size, evaluated under both names)."
                                 for name, rung in aliases.items()))
    return findings or ["The evaluation holds no adapter, SLM or scored model to report on."]


def _significant_on(sets: Sequence[tuple[tuple[str, str], dict[str, _Score]]], arm: str, rival: str) -> str:
    """", significantly on X" / " (the CIs overlap on each)" where the CIs are known; nothing where they are not."""
    overlaps = {key[1]: _overlap(s[arm], s[rival]) for key, s in sets}
    significant = [dataset for dataset, overlap in overlaps.items() if overlap is False]
    if significant:
        return f", significantly on {_join(significant)}"
    return "" if None in overlaps.values() else " (the CIs overlap on each)"


def strengths_and_limitations(quality: pl.DataFrame, cost: pl.DataFrame, confidence: float = 0.95,
                              min_coverage: float = 0.5) -> list[str]:
    """"Strength: …" and "Limitation: …" sentences generated from the tables: where each arm beats or trails its teacher
    and the baselines (those labelling at least `min_coverage` of a set), what it wins on cost, how wide the intervals
    are, and which figures are missing."""
    level = _level(confidence)
    slm = _primary_slm(quality, cost)
    scores, ranked = _scores(quality), _scores(quality, min_coverage)
    strengths: list[str] = []
    limitations: list[str] = []
    arms = [m for m in (ADAPTER, slm) if m is not None]

    for arm in arms:
        name = _arm_name(arm)
        sets = [(key, s) for key, s in scores.items() if arm in s]
        if not sets:
            continue
        above = [(key, s) for key, s in sets if TEACHER in s and s[arm].value > s[TEACHER].value]
        below = [(key, s) for key, s in sets if TEACHER in s and s[arm].value < s[TEACHER].value]
        compared = sum(1 for _, s in sets if TEACHER in s)
        if above:
            strengths.append(f"Strength: {name} beats the label model it learned from on {len(above)} of {compared} gold sets"
                             f"{_significant_on(above, arm, TEACHER)}.")
        if below:
            limitations.append(f"Limitation: {name} stays below the label model it learned from on {len(below)} of {compared} gold sets"
                               f"{_significant_on(below, arm, TEACHER)}.")
        best = [key[1] for key, _ in sets if next(iter(ranked.get(key, {})), None) == arm and len(ranked[key]) > 1]
        if best:
            strengths.append(f"Strength: {name} has the best macro-F1 of the models labelling at least {_percent(min_coverage)} "
                             f"of {_join(best)}.")
        losses = []
        for key, s in sets:
            dataset = key[1]
            rivals = [r for r in ranked.get(key, {}).values() if model_role(r.model) == "baseline" and r.value > s[arm].value]
            if rivals:
                top = rivals[0]
                mark = {False: "; significant", True: "; within the CIs", None: ""}[_overlap(top, s[arm])]
                ahead = f", {len(rivals)} baselines ahead" if len(rivals) > 1 else ""
                losses.append(f"on {dataset} {top.model} leads it by {top.value - s[arm].value:.2f} "
                              f"({_scored_on(top)} vs {s[arm].value:.2f}{mark}{ahead})")
        if losses:
            limitations.append(f"Limitation: {name} trails a baseline on {len(losses)} of {len(sets)} gold sets — {'; '.join(losses)}.")

    rows = _cost_rows(cost)
    if ADAPTER in rows and slm in rows:
        wins: dict[str, list[str]] = {ADAPTER: [], slm: []}
        lower_is_better = (("usd_per_million_reviews", "price per million reviews", _usd),
                           ("latency_p95_ms", "p95 latency", lambda v: f"{_plain(v, 2)} ms"),
                           ("train_seconds", "training time", _duration),
                           ("train_usd", "training cost", _usd),
                           ("peak_rss_mb", "peak training memory", lambda v: f"{_plain(v)} MB"),
                           ("disk_mb", "size on disk", lambda v: f"{_plain(v, 2)} MB"),
                           ("params_total", "parameter count", _count))
        for column, what, show in (("reviews_per_s", "throughput", lambda v: f"{_plain(v)} reviews/s"),):
            a, b = rows[ADAPTER][column], rows[slm][column]
            if a is not None and b is not None and a != b:
                winner, loser = (ADAPTER, slm) if a > b else (slm, ADAPTER)
                wins[winner].append(f"{what} ({show(rows[winner][column])} vs {show(rows[loser][column])})")
        for column, what, show in lower_is_better:
            a, b = rows[ADAPTER][column], rows[slm][column]
            if a is not None and b is not None and a != b:
                winner, loser = (ADAPTER, slm) if a < b else (slm, ADAPTER)
                wins[winner].append(f"{what} ({show(rows[winner][column])} vs {show(rows[loser][column])})")
        for arm in (ADAPTER, slm):
            if wins[arm]:
                strengths.append(f"Strength: {_arm_name(arm)} wins on {_join(wins[arm])}.")

    for arm, label in ((ADAPTER, "adapter"), (slm or SLM, "SLM")):
        if not quality.filter(pl.col("model") == arm).height and arm not in rows:
            other = "the SLM" if label == "adapter" else "the adapter"
            limitations.append(f"Limitation: the evaluation holds no {label} results ({arm}); only {other} and the baselines are compared.")
    if cost.is_empty():
        limitations.append("Limitation: the evaluation holds no cost rows, so nothing is priced.")

    arm_rows = quality.filter((pl.col("role") == "arm") & pl.col("f1_low").is_not_null())
    if not arm_rows.is_empty():
        widest = (arm_rows.with_columns(((pl.col("f1_high") - pl.col("f1_low")) / 2).alias("half"))
                  .sort("half", descending=True).row(0, named=True))
        limitations.append(f"Limitation: the arms' widest {level} CI is ±{widest['half']:.2f} macro-F1 ({widest['model']} on "
                           f"{widest['dataset']}, n={widest['n']}): differences below that size cannot be told from noise there.")
    no_ci = quality.filter(pl.col("macro_f1").is_not_null() & pl.col("f1_low").is_null())
    # review types are multi-label, scored per type from true/false positive counts: no confusion matrix to resample by design
    per_type = no_ci.filter(pl.col("task") == REVIEW_TYPE)
    stale = no_ci.filter(pl.col("task") != REVIEW_TYPE)
    if not stale.is_empty():
        limitations.append(f"Limitation: {stale.height} of {quality.filter(pl.col('macro_f1').is_not_null()).height} scored rows have "
                           "no confusion counts (written before model_evaluation recorded them), so they carry no CI; "
                           "re-materialize model_evaluation for intervals.")
    if not per_type.is_empty():
        limitations.append(f"Limitation: review types ({_join(per_type['dataset'].unique(maintain_order=True).to_list())}) are scored "
                           "per type, one yes/no decision per text and type as their gold's authors did, so they carry no CI: "
                           "the confusion-count bootstrap needs one label per text.")
    abstainers = (quality.filter(pl.col("coverage") < min_coverage).sort("coverage")
                  .unique("model", keep="first", maintain_order=True))
    if not abstainers.is_empty():
        examples = [f"{m} labels {_percent(c)} of {d}" for m, c, d in abstainers.select("model", "coverage", "dataset").head(4).rows()]
        limitations.append(f"Limitation: {abstainers.height} models label less than {_percent(min_coverage)} of some gold set "
                           f"({'; '.join(examples)}); scored only on the items they label, they are left out of the rankings there.")
    synthetic = quality.filter(pl.col("gold_synthetic"))["dataset"].unique(maintain_order=True).to_list()
    if synthetic:
        limitations.append(f"Limitation: the gold of {_join(synthetic)} is synthetic (the generator's truth): scores there measure "
                           "agreement with the generator, not with human judgement.")
    return strengths + limitations


# -------------------------------------------------------------------------------------------------------------------- plots

_ARM_COLOURS = {ADAPTER: "#1f6feb", SLM: "#d1242f"}
_TEACHER_COLOUR = "#bf8700"
# baselines get hues far from the arms' blue and red and the teacher's gold, so a bar is not mistaken for an arm
_BASELINE_COLOURS = ("#2da44e", "#8250df", "#8c6a4f", "#e16fbc", "#6e7781", "#9a9a1f", "#1b9aaa", "#b083f0", "#56d364", "#c9a98d",
                     "#afb8c1", "#4ac7d9")


def _colours(models: Sequence[str], aliases: dict[str, str] | None = None) -> dict[str, str]:
    """A colour per model; a rung drawn for an alias ({name: rung}) wears the name's colour, as it stands for it."""
    from matplotlib import colormaps

    ladder = colormaps["Reds"]
    rungs = [m for m in models if m.startswith(LADDER_PREFIX)]
    colours, other_index = {}, 0
    for model in models:
        if model in _ARM_COLOURS:
            colours[model] = _ARM_COLOURS[model]
        elif model in rungs:
            colours[model] = ladder(0.35 + 0.4 * rungs.index(model) / max(1, len(rungs) - 1))
        elif model == TEACHER:
            colours[model] = _TEACHER_COLOUR
        else:
            colours[model] = _BASELINE_COLOURS[other_index % len(_BASELINE_COLOURS)]
            other_index += 1
    for name, rung in (aliases or {}).items():
        if rung in colours and name in _ARM_COLOURS:
            colours[rung] = _ARM_COLOURS[name]
    return colours


def price_performance_png(quality: pl.DataFrame, cost: pl.DataFrame, min_coverage: float = 0.5) -> bytes:
    """Mean sentiment macro-F1 against USD per million reviews scored (log x), one labelled point per model with cost rows.

    Error bars average the per-set CI ends (conservative). Models without cost rows that score on the same gold sets (the
    teacher, the best baseline labelling at least `min_coverage` of each) are drawn as horizontal reference lines.
    """
    aliases = _aliases(quality, cost)
    priced = cost.filter(pl.col("usd_per_million_reviews").is_not_null() & ~pl.col("model").is_in(list(aliases)))
    models = priced["model"].to_list()
    means = _mean_sentiment_f1(quality, models)
    points = [(m, usd) for m, usd in priced.select("model", "usd_per_million_reviews").rows() if m in means]
    if not points:
        return _empty_png("No model has both cost rows and sentiment macro-F1 to plot.")
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    figure = _figure(7.5, 4.8)
    axes = figure.add_subplot()
    colours = _colours(models, aliases)
    renamed = {rung: f"{rung} (= {name})" for name, rung in aliases.items()}
    for model, usd in points:
        f1, low, high, _ = means[model]
        error = None if low is None else [[max(0.0, f1 - low)], [max(0.0, high - f1)]]
        axes.errorbar([usd], [f1], yerr=error, fmt="o", markersize=9, capsize=4, color=colours[model], zorder=3)
        axes.annotate(renamed.get(model, model), (usd, f1), xytext=(8, 6), textcoords="offset points", fontsize=9)
    sets = next(iter(means.values()))[3]
    shared_sets = quality.filter(pl.col("task").is_in(SENTIMENT_TASKS) & pl.col("model").is_in([m for m, _ in points])
                                 & pl.col("macro_f1").is_not_null()).select("task", "dataset").unique()
    references = (quality.join(shared_sets, on=["task", "dataset"]).filter((pl.col("role") != "arm") & pl.col("macro_f1").is_not_null())
                  .group_by("model").agg(pl.col("macro_f1").mean(), pl.col("coverage").mean(), pl.col("coverage").min().alias("least"),
                                         pl.len().alias("sets"))
                  .filter(pl.col("sets") == shared_sets.height).sort("macro_f1", descending=True))
    shown = references.filter(pl.col("model") == TEACHER)
    best_baseline = references.filter((pl.col("model") != TEACHER) & (pl.col("least") >= min_coverage)).head(1)
    for model, f1, coverage, _, _ in pl.concat([shown, best_baseline]).rows():
        colour = _TEACHER_COLOUR if model == TEACHER else "#57606a"
        # an abstaining reference scores only the items it chose: say how many
        covered = f" on {_percent(coverage)} of items" if coverage is not None and coverage < 1 else ""
        axes.axhline(f1, linestyle="--", linewidth=1, color=colour, zorder=1)
        axes.annotate(f"{model} {f1:.2f}{covered} (no inference cost measured)", (0.01, f1), xycoords=("axes fraction", "data"),
                      xytext=(0, 3), textcoords="offset points", fontsize=8, color=colour)
    axes.set_xscale("log")
    usd = [u for _, u in points]
    axes.set_xlim(min(usd) / 3, max(usd) * 3)
    # dollars at 1-2-5 steps; matplotlib's default labels minor ticks too on a short log range, where they collide
    axes.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"${value:.2g}"))
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.set_xlabel("USD per million reviews scored (log scale)")
    axes.set_ylabel(f"mean macro-F1 over {sets} sentiment gold set{'s' if sets != 1 else ''}")
    axes.set_title("Price-performance: quality against the price of scoring")
    axes.grid(True, which="both", alpha=0.3)
    return _png(figure)


def macro_f1_bars_png(quality: pl.DataFrame, aliases: dict[str, str] | None = None, min_coverage: float = 0.5) -> bytes:
    """Macro-F1 per gold set (groups) and model (bars, arms first) with CI error bars where the CIs are known.

    `aliases` ({name: same model's other name}, see key findings) are drawn once, under both names. Scores of models
    labelling less than `min_coverage` of a set are left out: a bar over a handful of items only draws the eye.
    """
    aliases = aliases or {}
    scored = quality.filter(pl.col("macro_f1").is_not_null() & ~pl.col("model").is_in(list(aliases))
                            & (pl.col("coverage").is_null() | (pl.col("coverage") >= min_coverage)))
    if scored.is_empty():
        return _empty_png("No macro-F1 to plot.")
    groups = scored.select("task", "dataset").unique(maintain_order=True).rows()
    models = sorted(scored["model"].unique().to_list(), key=_model_rank)
    colours = _colours(models, aliases)
    values = {(t, d, m): (f1, lo, hi)
              for t, d, m, f1, lo, hi in scored.select("task", "dataset", "model", "macro_f1", "f1_low", "f1_high").rows()}
    width = 0.84 / len(models)
    figure = _figure(max(8.0, 1.0 + len(groups) * (0.9 + 0.14 * len(models))), 5.0)
    axes = figure.add_subplot()
    for i, model in enumerate(models):
        xs, heights, errors = [], [], [[], []]
        for g, (task, dataset) in enumerate(groups):
            if (task, dataset, model) not in values:
                continue
            f1, low, high = values[(task, dataset, model)]
            xs.append(g - 0.42 + width * (i + 0.5))
            heights.append(f1)
            errors[0].append(0.0 if low is None else max(0.0, f1 - low))
            errors[1].append(0.0 if high is None else max(0.0, high - f1))
        arm = model_role(model) == "arm"
        label = next((f"{model} (= {name})" for name, rung in aliases.items() if rung == model), model)
        axes.bar(xs, heights, width=width, color=colours[model], label=label, edgecolor="black" if arm else "none",
                 linewidth=0.8 if arm else 0, yerr=errors if any(errors[0] + errors[1]) else None,
                 error_kw={"elinewidth": 0.8, "capsize": 1.5, "ecolor": "#24292f"})
    axes.set_xticks(range(len(groups)))
    axes.set_xticklabels([textwrap.fill(dataset.replace("_", " "), 22) + f"\n({_TASK_LABEL.get(task, task)})" for task, dataset in groups],
                         fontsize=8)
    axes.set_ylabel("macro-F1 (scored items)")
    axes.set_ylim(0, 1)
    axes.set_title("Macro-F1 per gold set and model")
    axes.grid(True, axis="y", alpha=0.3)
    figure.legend(loc="outside right upper", fontsize=8, frameon=False)
    return _png(figure)


# ---------------------------------------------------------------------------------------------------------------- rendering

_TITLE = "Fine-tuned adapter vs small LM from scratch: app-review sentiment"


def _quality_cells(row: dict) -> list[str]:
    def with_ci(value, low, high) -> str:
        if value is None:
            return "–"
        return f"{value:.3f}" + (f" ({low:.3f}–{high:.3f})" if low is not None and high is not None else "")

    coverage = "–" if row["coverage"] is None else _percent(row["coverage"])
    return [row["model"], row["role"], coverage, with_ci(row["accuracy"], row["acc_low"], row["acc_high"]),
            with_ci(row["macro_f1"], row["f1_low"], row["f1_high"]), "–" if row["n"] is None else str(row["n"])]


def _quality_header(level: str) -> list[str]:
    return ["model", "role", "coverage", f"accuracy ({level} CI)", f"macro-F1 ({level} CI)", "n scored"]


_COST_HEADER = ["model", "training wall", "CPU-hours", "energy kWh", "training $", "params (trainable)", "disk MB", "reviews/s",
                "latency p50 / p95 ms", "peak RSS MB (training)", "$ per 1M reviews"]


def _cost_cells(row: dict) -> list[str]:
    params = _count(row["params_total"]) + (f" ({_count(row['params_trainable'])})" if row["params_trainable"] is not None else "")
    latency = f"{_plain(row['latency_p50_ms'], 2)} / {_plain(row['latency_p95_ms'], 2)}"
    return [row["model"], _duration(row["train_seconds"]), _plain(row["cpu_hours"], 2), _plain(row["energy_kwh"], 2),
            _usd(row["train_usd"]), params, _plain(row["disk_mb"], 3), _plain(row["reviews_per_s"]), latency,
            _plain(row["peak_rss_mb"], 4), _usd(row["usd_per_million_reviews"])]


def _how_measured(settings: ReportSettings) -> list[str]:
    level = _level(settings.confidence)
    return [
        ("Quality: accuracy and macro-F1 on the items a model labels (coverage = the share it labels; baselines may abstain). "
         "Macro-F1 is the unweighted mean of per-class F1 over the gold classes present in the set. Models labelling less than "
         f"{_percent(settings.min_coverage_to_rank)} of a set are listed but not ranked there."),
        (f"{level} CIs: percentile bootstrap, {settings.bootstrap_samples} resamples of the scored items (a multinomial over the "
         f"confusion cells), seed {settings.seed}. Non-overlapping CIs mark a difference as significant (a conservative check); "
         "overlapping CIs leave it unresolved, not shown to be zero. '–' where the evaluation carries no confusion counts."),
        (f"Training cost: wall time, CPU-seconds over all cores and peak RSS measured around training; energy is an estimate "
         f"(CPU-seconds × {_plain(settings.cpu_watts_per_core)} W per busy core, plus GPU time × GPU power), not metered. Training $ = "
         f"CPU-hours × {_usd(settings.cpu_core_hour_usd)} per core-hour + GPU-hours × {_usd(settings.gpu_hour_usd)} (where recorded) "
         f"+ kWh × {_usd(settings.electricity_usd_per_kwh)}."),
        (f"Inference: reviews/s from batched scoring of gold review texts, latency from single-review calls. $ per 1M reviews = "
         f"10⁶ / (reviews/s) seconds on {settings.cores} cores at {_usd(settings.cpu_core_hour_usd)} per core-hour, plus that time's "
         f"energy at {_plain(settings.cpu_watts_per_core)} W per core and {_usd(settings.electricity_usd_per_kwh)}/kWh."),
        ("Price-performance: mean macro-F1 over the sentiment gold sets all plotted models share; error bars average the per-set "
         "CI ends, wider than the mean's own interval."),
    ]


def _banner_text(synthetic_gold: Sequence[str]) -> str:
    return (f"Gold is SYNTHETIC for {_join(list(synthetic_gold))}: labels are the generator's truth, not human judgement. "
            "Read the scores as agreement with the generator.")


def _quality_sections(quality: pl.DataFrame) -> list[tuple[str, str, bool, list[dict]]]:
    sections = []
    for (task, dataset), part in quality.group_by("task", "dataset", maintain_order=True):
        rows = part.to_dicts()
        sections.append((task, dataset, bool(part["gold_synthetic"].any()), rows))
    return sections


def _section_title(task: str, dataset: str, synthetic: bool, rows: list[dict]) -> str:
    n_gold = max((r["n_gold"] for r in rows if r["n_gold"] is not None), default=None)
    size = f", {n_gold} gold items" if n_gold is not None else ""
    return f"{dataset} — {_TASK_LABEL.get(task, task)}{size}{' (synthetic gold)' if synthetic else ''}"


def render_markdown(quality: pl.DataFrame, cost: pl.DataFrame, findings: Sequence[str], notes: Sequence[str], *,
                    settings: ReportSettings, plots: dict[str, bytes], synthetic_gold: Sequence[str] = (),
                    generated_at: datetime | None = None) -> str:
    """The report as Markdown with the plots embedded as base64 PNG data URIs (Dagster shows them in Markdown metadata).

    `plots`: ``price_performance`` and ``macro_f1`` PNG bytes (either may be absent); `synthetic_gold`: gold sets flagged
    synthetic, which raise the banner.
    """
    level = _level(settings.confidence)
    stamp = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M %Z").strip()
    lines = [f"# {_TITLE}", "", f"_Generated {stamp}._", ""]
    if synthetic_gold:
        lines += [f"> **⚠ {_banner_text(synthetic_gold)}**", ""]
    lines += ["## Key findings", "", *(f"- {_md(f)}" for f in findings), ""]
    lines += ["## Quality per gold dataset and task", "",
              f"Arms in bold; models in italics label less than {_percent(settings.min_coverage_to_rank)} of the set and are not "
              "ranked.", ""]
    if "macro_f1" in plots:
        lines += [f"![macro-F1 per gold set and model]({_data_uri(plots['macro_f1'])})", ""]
    for task, dataset, synthetic, rows in _quality_sections(quality):
        lines += [f"### {_md(_section_title(task, dataset, synthetic, rows))}", ""]
        cells = [_quality_cells(r) for r in rows]
        for row, row_cells in zip(rows, cells, strict=True):
            if _unranked(row, settings):
                row_cells[0] = f"_{row_cells[0]}_"
        lines += _md_table(_quality_header(level), cells, [r["role"] == "arm" for r in rows]) + [""]
    if quality.is_empty():
        lines += ["_No quality rows._", ""]
    lines += ["## Cost", ""]
    lines += (_md_table(_COST_HEADER, [_cost_cells(r) for r in cost.iter_rows(named=True)]) if not cost.is_empty() else ["_No cost rows._"])
    lines += ["", "## Price-performance", ""]
    if "price_performance" in plots:
        lines += [f"![macro-F1 against USD per million reviews]({_data_uri(plots['price_performance'])})", ""]
    lines += ["## Strengths and limitations", "", *(f"- {_md(n)}" for n in notes), ""]
    lines += ["## How measured", "", *(f"- {_md(n)}" for n in _how_measured(settings)), ""]
    return "\n".join(lines)


def _unranked(row: dict, settings: ReportSettings) -> bool:
    return row["coverage"] is None or row["coverage"] < settings.min_coverage_to_rank


def _html_quality_row(row: dict, settings: ReportSettings) -> str:
    esc = html.escape

    def with_ci(value, low, high) -> str:
        if value is None:
            return "–"
        ci = f' <span class="ci">({low:.3f}–{high:.3f})</span>' if low is not None and high is not None else ""
        return f"{value:.3f}{ci}"

    coverage = "–" if row["coverage"] is None else _percent(row["coverage"])
    cells = [f"<td>{esc(row['model'])}</td>", f'<td class="role">{esc(row["role"])}</td>', f"<td>{coverage}</td>",
             f"<td>{with_ci(row['accuracy'], row['acc_low'], row['acc_high'])}</td>",
             f"<td>{with_ci(row['macro_f1'], row['f1_low'], row['f1_high'])}</td>",
             f"<td>{'–' if row['n'] is None else row['n']}</td>"]
    classes = row["role"] + (" unranked" if _unranked(row, settings) else "")
    return f'<tr class="{esc(classes)}">' + "".join(cells) + "</tr>"


def _html_table(header: Sequence[str], body: Sequence[str]) -> str:
    head = "".join(f'<th class="{html.escape(h)}">{html.escape(h)}</th>' if h == "role" else f"<th>{html.escape(h)}</th>" for h in header)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def _html_note(text: str) -> str:
    for tag, css in (("Strength:", "strength"), ("Limitation:", "limitation")):
        if text.startswith(tag):
            return f'<li class="{css}"><span class="tag">{tag}</span>{html.escape(text[len(tag):])}</li>'
    return f"<li>{html.escape(text)}</li>"


def render_html(quality: pl.DataFrame, cost: pl.DataFrame, findings: Sequence[str], notes: Sequence[str], *,
                settings: ReportSettings, plots: dict[str, bytes], synthetic_gold: Sequence[str] = (),
                generated_at: datetime | None = None) -> str:
    """The report as one self-contained HTML page: inline CSS, plots as base64 data URIs, no external reference."""
    esc = html.escape
    level = _level(settings.confidence)
    stamp = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M %Z").strip()
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">', f"<title>{esc(_TITLE)}</title>",
             f"<style>{_CSS}</style></head><body>", f"<h1>{esc(_TITLE)}</h1>", f'<p class="meta">Generated {esc(stamp)}.</p>']
    if synthetic_gold:
        parts.append(f'<div class="banner" role="alert">⚠ {esc(_banner_text(synthetic_gold))}</div>')
    parts += ["<h2>Key findings</h2>", "<ul>", *(f"<li>{esc(f)}</li>" for f in findings), "</ul>"]
    parts.append("<h2>Quality per gold dataset and task</h2>")
    if "macro_f1" in plots:
        parts.append(f'<figure><img src="{_data_uri(plots["macro_f1"])}" alt="macro-F1 per gold set and model">'
                     f"<figcaption>Macro-F1 per gold set; error bars are {level} bootstrap CIs (where confusion counts exist); "
                     f"outlined bars are the arms; models labelling less than {_percent(settings.min_coverage_to_rank)} of a set "
                     "are left out (greyed in the tables).</figcaption></figure>")
    for task, dataset, synthetic, rows in _quality_sections(quality):
        parts.append(f"<h3>{esc(_section_title(task, dataset, synthetic, rows))}</h3>")
        parts.append(_html_table(_quality_header(level), [_html_quality_row(r, settings) for r in rows]))
    if quality.is_empty():
        parts.append("<p><em>No quality rows.</em></p>")
    parts.append("<h2>Cost</h2>")
    if cost.is_empty():
        parts.append("<p><em>No cost rows.</em></p>")
    else:
        body = [f'<tr class="{esc(r["role"])}">' + "".join(f"<td>{esc(c)}</td>" for c in _cost_cells(r)) + "</tr>"
                for r in cost.iter_rows(named=True)]
        parts.append(_html_table(_COST_HEADER, body))
    parts.append("<h2>Price-performance</h2>")
    if "price_performance" in plots:
        parts.append(f'<figure><img src="{_data_uri(plots["price_performance"])}" alt="macro-F1 against USD per million reviews">'
                     "<figcaption>Mean sentiment macro-F1 against the price of scoring a million reviews (log scale)."
                     "</figcaption></figure>")
    parts += ["<h2>Strengths and limitations</h2>", "<ul>", *(_html_note(n) for n in notes), "</ul>"]
    parts += ["<h2>How measured</h2>", "<ul>", *(f"<li>{esc(n)}</li>" for n in _how_measured(settings)), "</ul>", "</body></html>"]
    return "\n".join(parts)


# -------------------------------------------------------------------------------------------------------------------- build


@dataclass
class ComparisonReport:
    markdown: str
    html: str
    quality: pl.DataFrame
    cost: pl.DataFrame
    findings: list[str]
    strengths_and_limitations: list[str] = field(default_factory=list)
    #: gold sets flagged synthetic (the banner shows when non-empty)
    synthetic_gold: list[str] = field(default_factory=list)
    #: PNG bytes by name: price_performance, macro_f1
    plots: dict[str, bytes] = field(default_factory=dict)


def build_comparison_report(evaluation: pl.DataFrame, settings: ReportSettings | None = None,
                            generated_at: datetime | None = None) -> ComparisonReport:
    """Tables, findings, plots, Markdown and HTML from a `model_evaluation` frame."""
    settings = settings or ReportSettings()
    quality = quality_table(evaluation, settings)
    cost = cost_table(evaluation, settings)
    findings = key_findings(quality, cost, settings.confidence, settings.min_coverage_to_rank)
    notes = strengths_and_limitations(quality, cost, settings.confidence, settings.min_coverage_to_rank)
    synthetic = synthetic_gold_sets(evaluation)
    plots = {"macro_f1": macro_f1_bars_png(quality, _aliases(quality, cost), settings.min_coverage_to_rank),
             "price_performance": price_performance_png(quality, cost, settings.min_coverage_to_rank)}
    generated_at = generated_at or datetime.now(UTC)
    common = {"settings": settings, "plots": plots, "synthetic_gold": synthetic, "generated_at": generated_at}
    return ComparisonReport(
        markdown=render_markdown(quality, cost, findings, notes, **common),
        html=render_html(quality, cost, findings, notes, **common),
        quality=quality, cost=cost, findings=findings, strengths_and_limitations=notes, synthetic_gold=synthetic, plots=plots,
    )
