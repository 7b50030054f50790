"""What the generator writes: the dump's and the truth's columns, and the names its values come from."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from genai_lab.synth.resources import load_lines
from genai_lab.vocabulary import REVIEW_TYPES, SENTIMENT_LABELS

CATEGORIES: tuple[str, ...] = tuple(load_lines("categories.txt"))
ASPECTS: tuple[str, ...] = tuple(load_lines("aspects.txt"))
ASPECT_INDEX = {aspect: i for i, aspect in enumerate(ASPECTS)}
TRUTH_SUFFIX = ".truth.parquet"
DEFAULT_NOW = datetime(2026, 1, 1, tzinfo=UTC)

# sentiments and review types are drawn and stored as indices into the vocabulary's canonical order
NEG, NEU, POS = range(len(SENTIMENT_LABELS))
BUG, FR, UX, RATING = range(len(REVIEW_TYPES))

ASPECT_STRUCT = pl.Struct({"aspect": pl.String, "term": pl.String, "polarity": pl.String})
DUMP_SCHEMA = {
    "id": pl.String,
    "app_id": pl.String,
    "app_name": pl.String,
    "category": pl.String,
    "platform": pl.String,
    "author": pl.String,
    "rating": pl.String,
    "title": pl.String,
    "content": pl.String,
    "date": pl.String,
    "vote_count": pl.Int64,
    "vote_sum": pl.Int64,
}
TRUTH_SCHEMA = {
    "review_id": pl.String,
    "defects": pl.List(pl.String),
    "language": pl.String,
    "sentiment": pl.String,
    "aspects": pl.List(ASPECT_STRUCT),
    "review_type": pl.String,
}

DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc_ts(d: datetime) -> int:
    """Seconds since the epoch; a naive datetime is read as UTC."""
    if d.tzinfo is None:
        d = d.replace(tzinfo=UTC)
    return int(d.timestamp())


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime(DATE_FORMAT)
