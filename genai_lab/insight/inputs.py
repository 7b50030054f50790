"""What the market assets read: the scored mentions, the feature requests and the reviews they come from."""

from __future__ import annotations

import polars as pl

from genai_lab.insight.market import REVIEW_COLUMNS, OpportunitySettings, mention_frame, request_frame


def market_inputs(review_predictions: pl.DataFrame, clean_reviews: pl.DataFrame, settings: OpportunitySettings):
    """(aspect mentions, feature requests, reviews) of the scored corpus."""
    reviews = clean_reviews.select(REVIEW_COLUMNS)
    return mention_frame(review_predictions, reviews, settings), request_frame(review_predictions, reviews, settings), reviews
