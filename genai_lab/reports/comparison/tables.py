"""The two tables the report reads, and the questions findings and plots ask of them.

* :func:`quality_table` — accuracy and macro-F1 per (task, dataset, model) with percentile-bootstrap CIs resampled
  from the ``confusion:<gold>-><predicted>`` rows (:func:`genai_lab.evaluation.bootstrap_interval`);
* :func:`cost_table` — training and inference cost per model with cost rows, priced by :class:`ReportSettings`;
* :func:`scores_by_set`, :func:`mean_sentiment_f1`, :func:`primary_slm`, :func:`slm_aliases` — reading them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from genai_lab.config import StrictConfig
from genai_lab.evaluation import CONFUSION_PREFIX, COST_TASK, EVALUATION_SCHEMA, bootstrap_interval
from genai_lab.ml.cost import CostSettings
from genai_lab.ml.scoring import COST_METRICS, OPTIONAL_COST_METRICS
from genai_lab.vocabulary import ADAPTER, REVIEW_TYPE, REVIEW_TYPE_MODEL, SENTIMENT_TASKS, TEACHER
from genai_lab.vocabulary import SLM_CLASSIFIER as SLM

#: the SLM's size ladder is evaluated as slm_classifier@<size>
LADDER_PREFIX = f"{SLM}@"
TASK_ORDER: tuple[str, ...] = (*SENTIMENT_TASKS, REVIEW_TYPE)
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


def model_role(model: str) -> str:
    """``arm`` (adapter, SLM and its size ladder), ``teacher`` (the label model), ``model`` (review types) or ``baseline``."""
    if model in (ADAPTER, SLM) or model.startswith(LADDER_PREFIX):
        return "arm"
    if model == TEACHER:
        return "teacher"
    if model == REVIEW_TYPE_MODEL:
        return "model"
    return "baseline"


def model_rank(model: str) -> tuple[int, int, str]:
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
    task_rank = {task: i for i, task in enumerate(TASK_ORDER)}
    return (
        pl.concat([table.drop("classes"), interval_frame], how="horizontal")
        .with_columns(pl.col("model").map_elements(model_role, return_dtype=pl.String).alias("role"),
                      pl.col("task").replace_strict(task_rank, default=len(task_rank), return_dtype=pl.Int64).alias("_task_rank"),
                      (pl.col("coverage").fill_null(0.0) < settings.min_coverage_to_rank).alias("unranked"))
        .sort("_task_rank", "task", "dataset", "unranked", "macro_f1", "model", descending=[False, False, False, False, True, False],
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
    order = {model: i for i, model in enumerate(sorted(wide["model"].to_list(), key=model_rank))}
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


@dataclass(frozen=True)
class Score:
    model: str
    value: float
    low: float | None
    high: float | None
    coverage: float | None
    n: int | None

    @property
    def has_ci(self) -> bool:
        return self.low is not None and self.high is not None


def scores_by_set(quality: pl.DataFrame, min_coverage: float = 0.0, metric: str = "macro_f1") -> dict[tuple[str, str], dict[str, Score]]:
    """{(task, dataset): {model: score}} for the rows where `metric` has a value and coverage reaches `min_coverage`, best first."""
    low, high = ("f1_low", "f1_high") if metric == "macro_f1" else ("acc_low", "acc_high")
    out: dict[tuple[str, str], dict[str, Score]] = {}
    eligible = pl.col(metric).is_not_null() & (pl.col("coverage").is_null() | (pl.col("coverage") >= min_coverage))
    ranked = quality.filter(eligible).sort(metric, descending=True, maintain_order=True)
    for task, dataset, model, value, lo, hi, coverage, n in ranked.select("task", "dataset", "model", metric, low, high, "coverage",
                                                                           "n").rows():
        out.setdefault((task, dataset), {})[model] = Score(model, value, lo, hi, coverage, n)
    return {key: out[key] for key in sorted(out, key=lambda key: (TASK_ORDER.index(key[0]) if key[0] in TASK_ORDER
                                                                   else len(TASK_ORDER), key))}


def primary_slm(quality: pl.DataFrame, cost: pl.DataFrame) -> str | None:
    """`slm_classifier` where present, else the ladder rung with the best mean sentiment macro-F1."""
    models = set(quality["model"].to_list()) | set(cost["model"].to_list())
    if SLM in models:
        return SLM
    rungs = sorted(m for m in models if m.startswith(LADDER_PREFIX))
    if not rungs:
        return None
    means = mean_sentiment_f1(quality, rungs)
    return max(rungs, key=lambda rung: means[rung][0] if rung in means else float("-inf"))


def slm_aliases(quality: pl.DataFrame, cost: pl.DataFrame) -> dict[str, str]:
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


def mean_sentiment_f1(quality: pl.DataFrame, models: Sequence[str]) -> dict[str, tuple[float, float | None, float | None, int]]:
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


def cost_by_model(cost: pl.DataFrame) -> dict[str, dict]:
    return {row["model"]: row for row in cost.iter_rows(named=True)}
