"""The project's vocabulary: every name that more than one module spells — labels, tasks, models,
asset keys read as strings, pools. Each is written here once; everything else imports it.
"""

from __future__ import annotations

# --- label sets -------------------------------------------------------------------------------
#: sentiment classes in their canonical order: a class's index is its position here
SENTIMENT_LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
#: Maalej & Nabil review types, in the order reports list them
REVIEW_TYPES: tuple[str, ...] = ("bug_report", "feature_request", "user_experience", "rating")

# --- evaluation tasks -------------------------------------------------------------------------
REVIEW_SENTIMENT = "review_sentiment"
ASPECT_POLARITY = "aspect_polarity"
REVIEW_TYPE = "review_type"
TASKS: tuple[str, ...] = (REVIEW_SENTIMENT, ASPECT_POLARITY, REVIEW_TYPE)
SENTIMENT_TASKS: tuple[str, ...] = (REVIEW_SENTIMENT, ASPECT_POLARITY)
#: the gold classes of each task, in canonical order
TASK_CLASSES: dict[str, tuple[str, ...]] = {REVIEW_SENTIMENT: SENTIMENT_LABELS, ASPECT_POLARITY: SENTIMENT_LABELS,
                                            REVIEW_TYPE: REVIEW_TYPES}

# --- models, as named in the model store and in model_evaluation ----------------------------
ADAPTER = "finetuned_adapter"
SLM_TOKENIZER = "slm_tokenizer"
SLM_PRETRAINED = "slm_pretrained"
SLM_CLASSIFIER = "slm_classifier"
#: the label model, whose pseudo-labels both arms learn from
TEACHER = "label_model"
#: the rule-based review-type detector
REVIEW_TYPE_MODEL = "review_type_model"
#: the per-dump rating probes (a labelling function's weights)
RATING_PROBE = "rating_probe"
#: the rating-MIL teacher: segment polarity learned from star ratings (a labelling function's weights)
RATING_MIL = "rating_mil"

# --- asset keys read as strings (sensors, jobs, benchmarks) ---------------------------------
PSEUDO_LABELS = "pseudo_labels"
MODEL_EVALUATION = "model_evaluation"

# --- pools (dagster.yaml limits every pool to one step at a time) ----------------------------
#: one writer per DuckDB file
DUCKDB_POOL = "duckdb"
#: one training step at a time
TRAINING_POOL = "training"
