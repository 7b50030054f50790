"""Which trained classifier scores the whole corpus.

The choice never looks at gold: "auto" takes the arm whose champion scored best on held-out pseudo-labels
(the metric the champion pointer already moves on), on the newest held-out rows every champion was scored
on (`like_for_like_scores`); ties go to the first arm listed. Under a
time budget (`max_minutes`) an arm whose projected scoring time exceeds it is passed over for the next best
that fits: the arms' speed ratio depends on the CPU (4.6x with AMX bf16, 7.5x on an AVX2-only CPU in
fp32), so on a slow CPU the adapter alone would take 35 of the whole graph's 30 minutes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
from pydantic import Field

from genai_lab.config import StrictConfig
from genai_lab.ml.budget import seconds_per_item
from genai_lab.ml.resumable_pass import PassResult, run_resumable_pass
from genai_lab.ml.store import StoredModel

AUTO = "auto"
SCORE_METRIC = "heldout_selection_score"
#: what manifests written before the selection score held instead
OLDER_SCORE_METRIC = "heldout_pseudo_label_macro_f1"


class ServingSettings(StrictConfig):
    """How `review_predictions` scores every clean review and aspect mention."""

    #: "auto", or an arm by name: "finetuned_adapter" | "slm_classifier" (the default SLM size's champion)
    model: str = AUTO
    #: inference batch size
    batch_size: int = 64
    #: tokens per input; the arms train at 64, and the review-level predictions rarely need more
    max_length: int = 64
    #: "auto" only: minutes one scoring pass may take, projected from timing each arm on a sample of the
    #: inputs; an arm projected over it is passed over for the next best score that fits (none fits: the
    #: fastest). None: choose by score alone. A named arm is served whatever its speed.
    max_minutes: float | None = 10.0
    #: distinct inputs, sampled at random, each arm is timed on for the projection
    timing_inputs: int = Field(default=256, ge=8)
    #: distinct inputs per batch written to the model store as it finishes (`_passes/review_predictions`): a killed
    #: pass resumes from the last whole batch, and a re-run with the same model scores only inputs it has not seen
    pass_batch_inputs: int = Field(default=4096, ge=1)


@dataclass(frozen=True)
class ServingChoice:
    arm: str
    champion: StoredModel
    #: why this arm, in words for the run log and the metadata
    reason: str
    #: projected minutes of the arms that were timed (only those the budget had to check)
    projected_minutes: dict[str, float] = field(default_factory=dict)


def choose_serving_model(champions: dict[str, StoredModel | None], preference: str = AUTO, *,
                         scores: dict[str, float] | None = None,
                         projected_minutes: Callable[[str], float] | None = None,
                         max_minutes: float | None = None) -> ServingChoice:
    """The arm to serve: the preferred one, or under "auto" the best held-out pseudo-label score among arms that have one,
    and, given `projected_minutes(arm)` and `max_minutes`, the best of those projected to score within the budget.

    `scores`: each arm's score to rank by (`like_for_like_scores`); None ranks by each manifest's own run's score.
    Arms are timed in the order of their scores and only until one fits, so a fast machine times one arm.
    """
    if preference != AUTO and preference not in champions:
        raise ValueError(f"serving model {preference!r} is not one of {[AUTO, *champions]}")
    available = {arm: stored for arm, stored in champions.items() if stored is not None}
    if preference != AUTO:
        if available.get(preference) is None:
            raise FileNotFoundError(f"serving model {preference} has no champion in the model store: materialize it first")
        return ServingChoice(preference, available[preference], "named in insight.serving.model")
    if not available:
        raise FileNotFoundError(f"no arm has a champion in the model store ({', '.join(champions)}): materialize one first")

    def score(arm: str) -> float:
        value = scores.get(arm) if scores is not None else manifest_score(available[arm])
        return float("-inf") if value is None else float(value)

    ranked = sorted(available, key=score, reverse=True)  # a stable sort: ties keep the order the arms are listed in
    best = ranked[0]
    if projected_minutes is None or max_minutes is None or len(ranked) == 1:
        return ServingChoice(best, available[best], "the best held-out score (pseudo-labels and star ratings)")
    projections: dict[str, float] = {}
    for arm in ranked:
        projections[arm] = float(projected_minutes(arm))
        if projections[arm] <= max_minutes:
            reason = ("the best held-out score, projected within the time budget" if arm == best else
                      f"the best held-out score among the arms projected within {max_minutes:g} min "
                      f"({best} scored better but was projected at {projections[best]:.1f} min)")
            return ServingChoice(arm, available[arm], reason, projections)
    fastest = min(projections, key=projections.__getitem__)
    return ServingChoice(fastest, available[fastest], f"no arm was projected within {max_minutes:g} min: the fastest",
                         projections)


def projected_scoring_minutes(distinct_inputs: pl.DataFrame, score: Callable[[list[str], list[str | None]], np.ndarray],
                              sample_size: int, seed: int = 0) -> float:
    """Minutes `score(texts, aspects)` would take over all of `distinct_inputs` (columns text, aspect), timed on a random sample."""
    texts, aspects = distinct_inputs["text"].to_list(), distinct_inputs["aspect"].to_list()
    seconds = seconds_per_item(distinct_inputs.height, lambda rows: score([texts[i] for i in rows], [aspects[i] for i in rows]),
                               sample_size, seed)
    return distinct_inputs.height * seconds / 60


def manifest_score(stored: StoredModel) -> float | None:
    """The held-out score a version's own training run recorded."""
    metrics = stored.manifest.get("metrics", {})
    return metrics.get(SCORE_METRIC, metrics.get(OLDER_SCORE_METRIC))


def like_for_like_scores(champions: dict[str, StoredModel | None], pointers: dict[str, dict | None]) -> dict[str, float] | None:
    """Each champion's held-out score on the newest held-out rows that every champion was scored on; None when there are none.

    A training run scores its arm's champion on its own held-out rows (the champion rule) and the store keeps
    that score on the champion pointer (`holdout_scores`, keyed by the rows' digest), whether the champion
    moved or not. An arm whose champion stayed, or was trained on older pseudo-labels, so still compares
    with the other on the rows they share. Stores written before the pointers kept scores compare only when
    the champions' own runs held out the same rows (`data_version.holdout_digest`).
    """
    available = {arm: stored for arm, stored in champions.items() if stored is not None}
    if not available:
        return None
    tables = {arm: (pointers.get(arm) or {}).get("holdout_scores") or {} for arm in available}
    shared = set.intersection(*(set(table) for table in tables.values()))
    if shared:
        newest = max(shared, key=lambda digest: min(table[digest]["at"] for table in tables.values()))
        return {arm: float(table[newest]["score"]) for arm, table in tables.items()}
    digests = {(stored.manifest.get("data_version") or {}).get("holdout_digest") for stored in available.values()}
    if len(digests) == 1 and None not in digests:
        return {arm: manifest_score(stored) for arm, stored in available.items()}
    return None


def distinct_inputs(inputs: pl.DataFrame) -> pl.DataFrame:
    """The distinct (text, aspect) rows of `inputs`, in first-seen order: what one scoring pass scores."""
    return inputs.select("text", "aspect").unique(maintain_order=True)


def input_keys(inputs: pl.DataFrame) -> list[str]:
    """One content key per (text, aspect) row: equal rows, equal keys; a review-level input differs from any aspect's."""
    return inputs.select(pl.concat_str(pl.col("aspect").fill_null(""), pl.col("aspect").is_null().cast(pl.String), pl.col("text"),
                                       separator="\x1f")).to_series().to_list()


def score_distinct(inputs: pl.DataFrame, score: Callable[[list[str], list[str | None]], np.ndarray], *, width: int,
                   folder: Path | None = None, batch_rows: int = 4096, progress: Callable[[str], None] | None = None) -> PassResult:
    """Row-aligned scores of `inputs` (columns text, aspect): `score(texts, aspects)` runs once per distinct row, in batches.

    Stores repeat short reviews ("Great app!") many times; a null aspect is a review-level input. With `folder`
    every finished batch is kept there (`run_resumable_pass`): a killed pass resumes, and a re-run scores only
    rows it has not scored before with the same model.
    """
    texts, aspects = inputs["text"].to_list(), inputs["aspect"].to_list()
    return run_resumable_pass(input_keys(inputs), lambda rows: score([texts[i] for i in rows], [aspects[i] for i in rows]),
                              width=width, folder=folder, batch_rows=batch_rows, describe="inputs", progress=progress)


def prediction_table(rows: pl.DataFrame, probabilities: np.ndarray, types: pl.DataFrame, model: str, version: str) -> pl.DataFrame:
    """`review_predictions`' rows: the scored `rows` (pseudo-label items) with their sentiment, its probabilities, and the
    review-type flags of `types` (`detect_review_types` of their texts) on review-level rows only."""
    from genai_lab.ml.classifier import LABELS

    review_only = pl.col("level") == "review"
    return rows.with_columns(
        pl.Series("sentiment", [LABELS[i] for i in probabilities.argmax(axis=1)], dtype=pl.String),
        pl.Series("confidence", probabilities.max(axis=1), dtype=pl.Float64),
        *(pl.Series(f"p_{label}", probabilities[:, i], dtype=pl.Float64) for i, label in enumerate(LABELS)),
        *(types[column] for column in ("review_type", "is_bug_report", "is_feature_request")),
        pl.lit(model).alias("model"), pl.lit(version).alias("model_version"),
    ).with_columns(*(pl.when(review_only).then(pl.col(c)) for c in ("review_type", "is_bug_report", "is_feature_request")))
