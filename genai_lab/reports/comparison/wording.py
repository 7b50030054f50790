"""The report's words for its numbers: shares, dollars, durations, counts, and how two scores compare."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from genai_lab.reports.comparison.tables import LADDER_PREFIX, SLM, Score
from genai_lab.vocabulary import ADAPTER, ASPECT_POLARITY, REVIEW_SENTIMENT, REVIEW_TYPE

TASK_LABEL = {REVIEW_SENTIMENT: "review-level sentiment", ASPECT_POLARITY: "aspect-level polarity", REVIEW_TYPE: "review type"}


def arm_name(model: str) -> str:
    if model == ADAPTER:
        return "the adapter"
    if model == SLM:
        return "the SLM"
    if model.startswith(LADDER_PREFIX):
        return f"the SLM ({model.removeprefix(LADDER_PREFIX)})"
    return model


def ci_text(score: Score, level: str) -> str:
    return f" ({level} CI {score.low:.2f}–{score.high:.2f})" if score.has_ci else ""


def gap(a: float, b: float) -> str:
    difference = a - b
    if abs(difference) < 0.005:
        return "level with"
    return f"{abs(difference):.2f} {'above' if difference > 0 else 'below'}"


def cis_overlap(a: Score, b: Score) -> bool | None:
    if not (a.has_ci and b.has_ci):
        return None
    return a.low <= b.high and b.low <= a.high


def significance_text(a: Score, b: Score, level: str) -> str:
    overlap = cis_overlap(a, b)
    if overlap is None:
        return ""
    # overlapping intervals do not make a difference non-significant; they only fail to show it
    return (f"their {level} CIs overlap, so this gold set does not separate them" if overlap
            else f"their {level} CIs do not overlap, so the difference is significant")


def scored_on(score: Score) -> str:
    """A score's value, with the share it covers where it abstained: its score is on the rows it chose."""
    if score.coverage is not None and score.coverage < 1:
        return f"{score.value:.2f} on the {percent(score.coverage)} it labels"
    return f"{score.value:.2f}"


def percent(share: float) -> str:
    """A share as a percentage that never rounds a sliver to 0% or a near-total to 100%."""
    if 0 < share < 0.01 or 0.99 < share < 1:
        return f"{share:.1%}"
    return f"{share:.0%}"


def factor(a: float, b: float) -> str:
    ratio = a / b
    return f"{ratio:.1f}×" if ratio < 10 else f"{ratio:.0f}×"


def short_count(value: float | None) -> str:
    if value is None:
        return "–"
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.0f}"


def dollars(value: float | None) -> str:
    if value is None:
        return "–"
    if value >= 100:
        return f"${value:,.0f}"
    if value >= 1:
        return f"${value:.2f}"
    return "$" + np.format_float_positional(value, precision=2, unique=False, fractional=False, trim="k")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def plain(value: float | None, digits: int = 3) -> str:
    """Significant digits without scientific notation, for small kWh and large throughputs alike."""
    if value is None or math.isnan(value):
        return "–"
    if abs(value) >= 10 ** digits:
        return f"{value:,.0f}"
    return np.format_float_positional(value, precision=digits, unique=False, fractional=False, trim="-")


def ci_level(confidence: float) -> str:
    return f"{confidence:.0%}".replace(".0%", "%")


def join_words(parts: Sequence[str]) -> str:
    parts = list(parts)
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
