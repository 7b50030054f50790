"""Labels: human gold sets (`gold`), and later labelling functions, the label model and self-training selection."""

from genai_lab.labels.gold import (
    REVIEW_TYPES,
    SENTIMENT_LABELS,
    GoldError,
    gold_from_synthetic,
    load_aspect_extraction_gold,
    load_gold_folder,
)

__all__ = [
    "REVIEW_TYPES",
    "SENTIMENT_LABELS",
    "GoldError",
    "gold_from_synthetic",
    "load_aspect_extraction_gold",
    "load_gold_folder",
]
