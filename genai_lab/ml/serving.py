"""Which trained classifier scores the whole corpus.

The choice never looks at gold: "auto" takes the arm whose champion scored best on its own run's held-out
pseudo-labels (the metric the champion pointer already moves on); ties go to the first arm listed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from genai_lab.ml.store import StoredModel
from genai_lab.settings import StrictConfig

AUTO = "auto"
SCORE_METRIC = "heldout_pseudo_label_macro_f1"


class ServingSettings(StrictConfig):
    """How `review_predictions` scores every clean review and aspect mention."""

    #: "auto", or an arm by name: "finetuned_adapter" | "slm_classifier" (the default SLM size's champion)
    model: str = AUTO
    batch_size: int = 64
    #: tokens per input; the arms train at 64, and the review-level predictions rarely need more
    max_length: int = 64


def choose_serving_model(champions: dict[str, StoredModel | None], preference: str = AUTO) -> tuple[str, StoredModel]:
    """(arm, champion) to serve: the preferred arm, or under "auto" the best held-out pseudo-label score among arms that have one."""
    if preference != AUTO and preference not in champions:
        raise ValueError(f"serving model {preference!r} is not one of {[AUTO, *champions]}")
    available = {arm: stored for arm, stored in champions.items() if stored is not None}
    if preference != AUTO:
        if available.get(preference) is None:
            raise FileNotFoundError(f"serving model {preference} has no champion in the model store: materialize it first")
        return preference, available[preference]
    if not available:
        raise FileNotFoundError(f"no arm has a champion in the model store ({', '.join(champions)}): materialize one first")

    def score(arm: str) -> float:
        value = available[arm].manifest.get("metrics", {}).get(SCORE_METRIC)
        return float("-inf") if value is None else float(value)

    best = max(available, key=score)  # max keeps the first of equals
    return best, available[best]


def scored_on_the_same_rows(champions: dict[str, StoredModel | None]) -> bool:
    """Whether the champions' held-out scores compare: measured on the same held-out rows (`data_version.holdout_digest`).

    An arm retrained alone (the retrain sensor trains the adapter only) is scored on newer pseudo-labels
    than the other arm's champion was; "auto" still picks by the scores, and says it compared unlike ones.
    """
    digests = {(stored.manifest.get("data_version") or {}).get("holdout_digest") for stored in champions.values() if stored is not None}
    return len(digests) == 1 and None not in digests


def score_distinct(inputs: pl.DataFrame, score: Callable[[list[str], list[str | None]], np.ndarray]) -> tuple[np.ndarray, int]:
    """(row-aligned scores, distinct inputs): `score(texts, aspects)` runs once per distinct (text, aspect) row of `inputs`.

    Stores repeat short reviews ("Great app!") many times; a null aspect is a review-level input.
    """
    distinct = inputs.select("text", "aspect").unique(maintain_order=True)
    scores = score(distinct["text"].to_list(), distinct["aspect"].to_list())
    position = inputs.select("text", "aspect").join(distinct.with_row_index("_distinct"), on=["text", "aspect"], how="left",
                                                     nulls_equal=True, maintain_order="left")["_distinct"].to_numpy()
    return scores[position], distinct.height
