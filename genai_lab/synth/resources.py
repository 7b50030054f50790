"""The generator's word material: the data files in `genai_lab/synth/data`, read once per process."""

from __future__ import annotations

from typing import Any

from genai_lab.datafiles import read_json, read_list
from genai_lab.vocabulary import REVIEW_TYPES, SENTIMENT_LABELS


def load_json(name: str) -> Any:
    return read_json(__package__, name)


def load_lines(name: str) -> list[str]:
    return list(read_list(__package__, name))


def by_sentiment(named: dict[str, Any]) -> dict[int, Any]:
    """Sentiment names -> their index in SENTIMENT_LABELS, keeping the file's order (it decides draws)."""
    return {SENTIMENT_LABELS.index(label): value for label, value in named.items()}


def by_review_type(named: dict[str, Any]) -> dict[int, Any]:
    return {REVIEW_TYPES.index(review_type): value for review_type, value in named.items()}
