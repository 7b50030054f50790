"""Labelling functions (LFs) for review-level sentiment and aspect-level polarity.

Every LF votes one of :data:`LABELS` as an int (0 negative, 1 neutral, 2 positive) or
:data:`ABSTAIN` (-1). Votes come as one ``Int8`` column per LF, named ``lf_*``:

* ``lf_rating`` — the star rating (weak): 1-2 negative, 4-5 positive, 3 neutral only where the
  text carries no clear polarity; abstains where the text clearly contradicts the stars, and where
  there is no rating (the gold sets have none).
* ``lf_vader`` — the packaged VADER lexicon (vaderSentiment) on the review, or — aspect level — on
  the clause around the aspect term (split at sentence ends and contrast words such as "but", so
  "great design but crashes constantly" scores "great design" for *design*). VADER handles
  negation ("not bad"), boosters and capitals itself.
* ``lf_app_lexicon`` — an app-review lexicon (regexes, vectorised in polars): crash / bug /
  freeze / "doesn't load" / refund / uninstall vs love / perfect / smooth / "works great", each
  flipped when a negation ("not", "never", "n't", "no", "without") stands up to two words before.
* ``lf_request`` — feature-request cues ("please add", "I wish", "would be nice if") vote neutral
  where the text has no polarity in the app lexicon.
* ``lf_zero_shot`` — cosine similarity of the base model's sentence embedding (all-MiniLM-L6-v2 by
  default) to class prototypes (the mean embedding of a few hand-written sentences per class);
  votes the closest class when it leads the runner-up by ``zero_shot_margin``.
* ``lf_rating_probe`` — distant supervision: a softmax regression on the same embeddings, fitted
  on each partition's reviews that have star ratings (no human labels; :class:`RatingProbe`), so
  it also votes where there is no rating (the gold sets). Review level only: it models the star
  rating of a whole review, and the star rating says nothing about one aspect of it (aspect rows
  leave it abstaining). Abstains without a fitted probe.
* ``lf_rating_mil`` — the rating-MIL teacher (`genai_lab.labels.rating_mil`): an encoder with a LoRA adapter
  fine-tuned on star ratings alone by multiple-instance learning, so it has learned which clause of a review carries
  its polarity. Review level: its segments' distributions pooled by attention; aspect level: the aspect's clause read
  as one segment. Abstains without a trained model, and where its top probability is below
  ``rating_mil_min_probability``.

Texts are deduplicated before every per-text Python step (VADER) and every embedding pass.
Clause extraction is done with polars string expressions; only aspect terms that are not a
verbatim substring of their text fall back to a small Python matcher.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
from pydantic import Field, model_validator

from genai_lab.ml.embeddings import DEFAULT_BASE_MODEL
from genai_lab.config import StrictConfig
from genai_lab.datafiles import read_json, read_list
from genai_lab.vocabulary import SENTIMENT_LABELS as LABELS

if TYPE_CHECKING:
    from genai_lab.labels.rating_mil import RatingMil

__all__ = [
    "ABSTAIN",
    "LABELS",
    "LF_COLUMNS",
    "NEG",
    "NEU",
    "POS",
    "LabelSettings",
    "ProbeEnsemble",
    "RatingProbe",
    "aspect_clauses",
    "aspect_votes",
    "boundary_pattern",
    "embed_unique",
    "embed_unique_together",
    "embedding_identity",
    "embedded",
    "fit_rating_probe",
    "probe_training_rows",
    "review_votes",
    "vader_compound",
]

NEG, NEU, POS = 0, 1, 2
ABSTAIN = -1
#: the vote columns of `review_votes` / `aspect_votes`, in this order
LF_COLUMNS: tuple[str, ...] = ("lf_rating", "lf_vader", "lf_app_lexicon", "lf_request", "lf_zero_shot", "lf_rating_probe",
                                "lf_rating_mil")
log = logging.getLogger(__name__)  # captured into Dagster's run log (dagster.yaml: python_logs)

# --------------------------------------------------------------------------------------------------
# default lexicons and prototypes: package data (labels/data/, each file says what it holds)
# --------------------------------------------------------------------------------------------------

_NEGATIVE_TERMS: tuple[str, ...] = read_list(__package__, "negative_terms.txt")
_POSITIVE_TERMS: tuple[str, ...] = read_list(__package__, "positive_terms.txt")
_REQUEST_TERMS: tuple[str, ...] = read_list(__package__, "request_terms.txt")
_NEGATORS: tuple[str, ...] = read_list(__package__, "negators.txt")
_CONTRAST_WORDS: tuple[str, ...] = read_list(__package__, "contrast_words.txt")
_PROTOTYPES: dict[str, list[str]] = read_json(__package__, "prototypes.json")  # class name -> sentences
_PROTOTYPES_NEGATIVE: tuple[str, ...] = tuple(_PROTOTYPES["negative"])
_PROTOTYPES_NEUTRAL: tuple[str, ...] = tuple(_PROTOTYPES["neutral"])
_PROTOTYPES_POSITIVE: tuple[str, ...] = tuple(_PROTOTYPES["positive"])


class LabelSettings(StrictConfig):
    """Every threshold, word list and prototype of the labelling functions and the label model.

    VADER compound scores lie in [-1, 1]; an app-lexicon score is (positive hits - negative hits),
    negations flipping a hit.
    """

    #: lf_vader votes positive at compound >= this, negative at <= `vader_negative`, else neutral
    vader_positive: float = 0.05
    #: `lf_vader` votes negative at compound ≤ this
    vader_negative: float = -0.05
    #: lf_rating: ratings <= this are negative, >= `rating_positive_min` positive, in between neutral
    rating_negative_max: int = 2
    #: `lf_rating`: ratings ≥ this are positive
    rating_positive_min: int = 4
    #: lf_rating abstains where the text contradicts the stars: VADER compound at least this far on
    #: the other side (e.g. 5 stars and compound <= -0.5), or the app lexicon on the other side
    #: with no hit on the stars' side
    rating_contradiction: float = 0.5
    #: lf_rating on 3 stars votes neutral only when |compound| < this and no app-lexicon hit
    rating_neutral_band: float = 0.3
    #: lf_app_lexicon: regex fragments (case-insensitive, whole words) of negative / positive cues
    app_negative_terms: list[str] = Field(default_factory=lambda: list(_NEGATIVE_TERMS))
    #: `lf_app_lexicon`: regex fragments of positive cues
    app_positive_terms: list[str] = Field(default_factory=lambda: list(_POSITIVE_TERMS))
    #: words that flip an app-lexicon hit standing up to `negation_window` words after them
    negators: list[str] = Field(default_factory=lambda: list(_NEGATORS))
    #: words after a negator within which an app-lexicon hit is flipped
    negation_window: int = 2
    #: lf_app_lexicon votes when |score| >= this (ties abstain)
    app_lexicon_min_score: int = 1
    #: lf_request: feature-request cues; votes neutral where the app-lexicon score lies within
    #: +-`request_max_polarity`
    request_terms: list[str] = Field(default_factory=lambda: list(_REQUEST_TERMS))
    #: `lf_request` votes neutral where the app-lexicon score lies within ± this
    request_max_polarity: int = 0
    #: aspect clause: the text around the aspect term up to a sentence end (. ! ? ; newline) or a
    #: contrast word; with `split_on_comma` commas end a clause as well
    contrast_words: list[str] = Field(default_factory=lambda: list(_CONTRAST_WORDS))
    #: commas also end an aspect clause
    split_on_comma: bool = False
    #: embedding LFs (zero-shot, rating probe); False: both abstain everywhere and nothing is embedded
    use_embeddings: bool = True
    #: lf_zero_shot at aspect level too: embeds every distinct aspect clause, about half the embedding pass; False
    #: leaves it abstaining on aspects (the review-level embedding sources vote as before)
    aspect_zero_shot: bool = True
    #: base model for sentence embeddings (a package name, local folder or hub id)
    base_model: str = DEFAULT_BASE_MODEL
    #: texts per embedding batch
    embed_batch_size: int = 64
    #: tokens per text for the embedding pass (longer reviews are cut; the start carries the tone).
    #: 64, not 128: the pass is the labelling stage's critical path, and the long tail of reviews
    #: costs most per text (the 89,574 real reviews: over 16 min at 128 on a shared CPU, 7.5 at 64)
    embed_max_length: int = 64
    #: minutes pseudo_labels' embedding pass may take: it embeds its texts in a random order and stops
    #: before the chunk that would pass this; the texts left out abstain on the zero-shot and probe
    #: sources (the other sources still vote). None (the default) embeds every text: the shared corpus'
    #: 187,874 distinct texts take ~8 min with bf16 and ~20 on an AVX2-only CPU, and leaving 27% of them
    #: out cost the adapter 0.04-0.07 gold macro-F1 on four of five sets (docs/decisions.md)
    embed_max_minutes: float | None = None
    #: keep each finished chunk of the embedding pass in the model store (`_passes/embeddings`, ~1.6 kB per distinct text):
    #: a killed pass resumes, and a new dump's pass embeds only texts no earlier pass embedded
    keep_embedding_passes: bool = True
    #: lf_zero_shot: prototype sentences per class (their mean embedding is the class prototype)
    prototypes_negative: list[str] = Field(default_factory=lambda: list(_PROTOTYPES_NEGATIVE))
    #: `lf_zero_shot`: neutral prototype sentences
    prototypes_neutral: list[str] = Field(default_factory=lambda: list(_PROTOTYPES_NEUTRAL))
    #: `lf_zero_shot`: positive prototype sentences
    prototypes_positive: list[str] = Field(default_factory=lambda: list(_PROTOTYPES_POSITIVE))
    #: lf_zero_shot votes the most similar class when its cosine similarity beats the runner-up's by this
    zero_shot_margin: float = 0.03
    #: lf_rating_probe votes its most probable class when that probability is at least this
    probe_min_probability: float = 0.45
    #: RatingProbe training: L2 penalty, full-batch gradient steps, learning rate
    probe_l2: float = 1e-3
    #: rating probe: full-batch gradient steps
    probe_steps: int = 300
    #: rating probe: learning rate
    probe_learning_rate: float = 0.5
    #: a partition fits its probe only with at least this many rated reviews (of two classes or more)
    probe_min_rows: int = 200
    #: label model (genai_lab.labels.label_model): EM iterations, convergence tolerance,
    #: Dirichlet pseudo-counts on each confusion row (towards `label_model_prior_accuracy`) and on
    #: the class balance, and whether each source's confusion is class-conditional (a full K x K
    #: matrix) or one accuracy per source
    label_model_iterations: int = 200
    #: label model: EM convergence tolerance
    label_model_tolerance: float = 1e-6
    #: label model: prior accuracy the Dirichlet pseudo-counts pull each confusion row towards
    label_model_prior_accuracy: float = 0.7
    #: label model: strength of that prior, in rows
    label_model_prior_strength: float = 5.0
    #: label model: a full K × K confusion matrix per source (true) or one accuracy per source (false)
    label_model_class_conditional: bool = True
    #: model P(source abstains | class): an abstention becomes evidence (a lexicon that finds no
    #: cue hints at neutral); False treats abstentions as missing at random
    label_model_abstentions: bool = False
    #: decide with a uniform class prior (True: balanced errors, as macro-F1 scores them; the learned
    #: class balance is still reported) or with the class balance EM learned (False)
    label_model_uniform_decision: bool = True
    #: rows whose label-model confidence (max posterior) is below this abstain: kept, marked, unlabelled
    min_confidence: float = 0.5
    #: lf_rating_mil abstains where the rating-MIL model's top class probability is below this
    rating_mil_min_probability: float = 0.0

    @model_validator(mode="after")
    def _validate(self) -> LabelSettings:
        if not -1.0 <= self.vader_negative < self.vader_positive <= 1.0:
            raise ValueError(f"need -1 <= vader_negative < vader_positive <= 1, got {self.vader_negative}, {self.vader_positive}")
        if not 1 <= self.rating_negative_max < self.rating_positive_min <= 5:
            raise ValueError("need 1 <= rating_negative_max < rating_positive_min <= 5")
        for name in ("rating_contradiction", "rating_neutral_band", "min_confidence", "probe_min_probability", "rating_mil_min_probability"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value}")
        # the label model's own bound, checked here so a bad value fails before the embedding pass, not after it
        if not 1.0 / len(LABELS) < self.label_model_prior_accuracy < 1.0:
            raise ValueError(f"label_model_prior_accuracy must lie in (1/{len(LABELS)}, 1), got {self.label_model_prior_accuracy}")
        if self.negation_window < 0 or self.app_lexicon_min_score < 1 or self.request_max_polarity < 0:
            raise ValueError("negation_window and request_max_polarity must be >= 0, app_lexicon_min_score >= 1")
        for name in ("prototypes_negative", "prototypes_neutral", "prototypes_positive", "app_negative_terms",
                     "app_positive_terms", "request_terms"):
            if not getattr(self, name):
                raise ValueError(f"{name} must not be empty")
        for name in ("app_negative_terms", "app_positive_terms", "request_terms", "negators"):
            for fragment in getattr(self, name):
                try:
                    re.compile(fragment)
                except re.error as exc:
                    raise ValueError(f"{name}: {fragment!r} is no regex: {exc}") from exc
        if self.embed_batch_size < 1 or self.embed_max_length < 8 or self.probe_steps < 1:
            raise ValueError("embed_batch_size >= 1, embed_max_length >= 8 and probe_steps >= 1 are required")
        if self.embed_max_minutes is not None and self.embed_max_minutes <= 0:
            raise ValueError(f"embed_max_minutes must be positive or null (no budget), got {self.embed_max_minutes}")
        if self.label_model_prior_strength < 0 or self.label_model_iterations < 1:
            raise ValueError("label_model_prior_strength >= 0 and label_model_iterations >= 1 are required")
        return self

    def prototypes(self) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        return (tuple(self.prototypes_negative), tuple(self.prototypes_neutral), tuple(self.prototypes_positive))


# --------------------------------------------------------------------------------------------------
# VADER (per text in Python: deduplicated)
# --------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _analyzer():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def _lookup(texts: pl.Series, keys: pl.Series, values: pl.Series) -> pl.Series:
    """values[keys == text] for every text, in the order of `texts` (keys unique, every text among them)."""
    return (
        pl.DataFrame({"t": texts}).with_row_index("_pos")
        .join(pl.DataFrame({"t": keys, "_v": values}), on="t", how="left")
        .sort("_pos")["_v"]
    )


def vader_compound(texts: pl.Series) -> pl.Series:
    """VADER compound score per text (Float64; 0.0 for null/empty), each distinct text scored once."""
    texts = texts.cast(pl.String).fill_null("")
    unique = texts.unique()
    scorer = _analyzer().polarity_scores
    scores = pl.Series("compound", [scorer(t)["compound"] if t.strip() else 0.0 for t in unique.to_list()], pl.Float64)
    return _lookup(texts, unique, scores).alias("compound")


def _vader_vote(compound: pl.Expr, settings: LabelSettings) -> pl.Expr:
    return (
        pl.when(compound >= settings.vader_positive).then(POS)
        .when(compound <= settings.vader_negative).then(NEG)
        .otherwise(NEU)
        .cast(pl.Int8)
    )


# --------------------------------------------------------------------------------------------------
# app lexicon and request cues (vectorised regex counts)
# --------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _lexicon_patterns(negative: tuple[str, ...], positive: tuple[str, ...], negators: tuple[str, ...], window: int,
                      request: tuple[str, ...]) -> dict[str, str]:
    neg = "|".join(f"(?:{t})" for t in negative)
    pos = "|".join(f"(?:{t})" for t in positive)
    negator = "|".join(f"(?:{t})" for t in negators)
    gap = rf"(?:\W+\w+){{0,{window}}}?\W+" if window else r"\W+"
    # a negator, up to `window` words, the cue; "\b" on both sides keeps "note" from reading "not"
    return {
        "neg": rf"(?i)\b(?:{neg})\b",
        "pos": rf"(?i)\b(?:{pos})\b",
        "neg_negated": rf"(?i)\b(?:{negator})\b{gap}(?:{neg})\b",
        "pos_negated": rf"(?i)\b(?:{negator})\b{gap}(?:{pos})\b",
        "request": rf"(?i)\b(?:{'|'.join(f'(?:{t})' for t in request)})\b",
    }


def _patterns(settings: LabelSettings) -> dict[str, str]:
    return _lexicon_patterns(tuple(settings.app_negative_terms), tuple(settings.app_positive_terms),
                             tuple(settings.negators), settings.negation_window, tuple(settings.request_terms))


def _lexicon_columns(text: pl.Expr, settings: LabelSettings) -> list[pl.Expr]:
    """app_pos / app_neg hit counts and has_request.

    A negated hit counts for the other side ("not smooth" negative, "never crashes" positive).
    Contrast: hits after the last contrast word ("... but it crashes constantly") count twice.
    """
    p = _patterns(settings)
    text = text.str.replace_all("[\u2018\u2019\u02bc`]", "'")
    words = "|".join(re.escape(w) for w in settings.contrast_words)
    tail = (
        pl.when(text.str.contains(rf"(?i)\b(?:{words})\b")).then(text.str.replace(rf"(?is)^.*\b(?:{words})\b", ""))
        .otherwise(pl.lit("")) if words else pl.lit("")
    )

    def side(t: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
        neg, pos = t.str.count_matches(p["neg"]), t.str.count_matches(p["pos"])
        neg_n, pos_n = t.str.count_matches(p["neg_negated"]), t.str.count_matches(p["pos_negated"])
        return pos - pos_n + neg_n, neg - neg_n + pos_n

    pos_all, neg_all = side(text)
    pos_tail, neg_tail = side(tail)
    return [
        (pos_all + pos_tail).cast(pl.Int32).alias("app_pos"),
        (neg_all + neg_tail).cast(pl.Int32).alias("app_neg"),
        text.str.contains(p["request"]).alias("has_request"),
    ]


def _lexicon_vote(settings: LabelSettings) -> pl.Expr:
    score = pl.col("app_pos") - pl.col("app_neg")
    return (
        pl.when(score >= settings.app_lexicon_min_score).then(POS)
        .when(score <= -settings.app_lexicon_min_score).then(NEG)
        .otherwise(ABSTAIN)
        .cast(pl.Int8)
    )


def _request_vote(settings: LabelSettings) -> pl.Expr:
    score = (pl.col("app_pos") - pl.col("app_neg")).abs()
    return pl.when(pl.col("has_request") & (score <= settings.request_max_polarity)).then(NEU).otherwise(ABSTAIN).cast(pl.Int8)


def _rating_vote(settings: LabelSettings) -> pl.Expr:
    r, c = pl.col("rating"), pl.col("compound")
    app_pos, app_neg = pl.col("app_pos"), pl.col("app_neg")
    text_negative = (c <= -settings.rating_contradiction) | ((app_neg > 0) & (app_pos == 0) & (c < settings.vader_positive))
    text_positive = (c >= settings.rating_contradiction) | ((app_pos > 0) & (app_neg == 0) & (c > settings.vader_negative))
    clear_neutral = (c.abs() < settings.rating_neutral_band) & (app_pos == 0) & (app_neg == 0)
    return (
        pl.when(r.is_null()).then(ABSTAIN)
        .when(r <= settings.rating_negative_max).then(pl.when(text_positive).then(ABSTAIN).otherwise(NEG))
        .when(r >= settings.rating_positive_min).then(pl.when(text_negative).then(ABSTAIN).otherwise(POS))
        .otherwise(pl.when(clear_neutral).then(NEU).otherwise(ABSTAIN))
        .cast(pl.Int8)
    )


# --------------------------------------------------------------------------------------------------
# embeddings: zero-shot prototypes and the rating probe
# --------------------------------------------------------------------------------------------------

def _embed(texts: list[str], settings: LabelSettings, max_minutes: float | None = None, folder: Path | None = None) -> np.ndarray:
    """Embeddings of `texts`, in chunks of `BUDGET_CHUNK_TEXTS` (see `genai_lab.ml.resumable_pass.run_resumable_pass`).

    Under `max_minutes`, of a random subset (whole chunks) and NaN rows for the rest. With `folder`, each
    finished chunk is kept there: a killed pass resumes, and a later pass embeds only texts it has not seen.
    """
    from genai_lab.ml import embeddings
    from genai_lab.ml.resumable_pass import run_resumable_pass

    def embed_rows(rows: np.ndarray) -> np.ndarray:
        return embeddings.embed([texts[i] for i in rows], model_name=settings.base_model, batch_size=settings.embed_batch_size,
                                max_length=settings.embed_max_length)

    width = embed_rows(np.empty(0, dtype=np.int64)).shape[1]
    result = run_resumable_pass(texts, embed_rows, width=width, folder=folder, batch_rows=embeddings.BUDGET_CHUNK_TEXTS,
                                max_seconds=None if max_minutes is None else max_minutes * 60, describe="texts")
    left_out = len(texts) - int(embedded(result.values).sum())
    if left_out:
        log.info(f"embedding budget {max_minutes:g} min reached: {len(texts) - left_out:,} of {len(texts):,} texts embedded, chosen at "
                 f"random; the other {left_out:,} abstain on the zero-shot and rating-probe sources")
    return result.values


@functools.lru_cache(maxsize=4)
def _prototype_matrix(prototypes: tuple[tuple[str, ...], ...], model: str, max_length: int) -> np.ndarray:
    from genai_lab.ml.embeddings import embed

    rows = []
    for texts in prototypes:
        centroid = embed(list(texts), model_name=model, max_length=max_length).mean(axis=0)
        rows.append(centroid / max(np.linalg.norm(centroid), 1e-9))
    return np.stack(rows).astype(np.float32)


def embedding_identity(settings: LabelSettings) -> tuple:
    """What makes two embedding passes' vectors the same: the base model's files, the token limit and the precision."""
    from genai_lab.ml.arms import base_model_identity
    from genai_lab.ml.embeddings import resolve_base_model
    from genai_lab.ml.precision import use_bf16

    identity = base_model_identity(resolve_base_model(settings.base_model))
    return settings.base_model, identity["sha256"], settings.embed_max_length, "bf16" if use_bf16() else "fp32"


def embedded(embeddings: np.ndarray) -> np.ndarray:
    """Rows a budgeted pass embedded (the others are NaN)."""
    return np.isfinite(embeddings).all(axis=1)


def embed_unique(texts: pl.Series, settings: LabelSettings) -> np.ndarray:
    """Embeddings for `texts` (one row each), every distinct text embedded once."""
    return embed_unique_together([texts], settings)[0]


def embed_unique_together(columns: Sequence[pl.Series], settings: LabelSettings, max_minutes: float | None = None,
                          folder: Path | None = None) -> list[np.ndarray]:
    """Embeddings for each of `columns` (row-aligned with it), every distinct text across all of them embedded once.

    Reviews and their aspect clauses share texts (a one-clause review is its own clause): one pass over the union
    embeds those once instead of twice. Under `max_minutes` the texts left out are NaN rows; `folder` keeps
    finished chunks (see `_embed`).
    """
    columns = [column.cast(pl.String).fill_null("") for column in columns]
    unique = pl.concat(columns).unique(maintain_order=True)
    vectors = _embed(unique.to_list(), settings, max_minutes, folder)
    positions = pl.int_range(len(unique), eager=True)
    return [vectors[_lookup(column, unique, positions).to_numpy()] for column in columns]


def zero_shot_scores(embeddings: np.ndarray, settings: LabelSettings) -> np.ndarray:
    """Cosine similarity (n, 3) of L2-normalised embeddings to the class prototypes."""
    protos = _prototype_matrix(settings.prototypes(), settings.base_model, settings.embed_max_length)
    return embeddings @ protos.T


def _zero_shot_vote(embeddings: np.ndarray | None, settings: LabelSettings) -> np.ndarray:
    n = 0 if embeddings is None else len(embeddings)
    if embeddings is None or n == 0:
        return np.full(n, ABSTAIN, np.int8)
    sims = np.nan_to_num(zero_shot_scores(embeddings, settings))
    top2 = np.sort(sims, axis=1)[:, -2:]
    vote = sims.argmax(axis=1).astype(np.int8)
    return np.where(embedded(embeddings) & (top2[:, 1] - top2[:, 0] >= settings.zero_shot_margin), vote, ABSTAIN).astype(np.int8)


class RatingProbe:
    """Softmax regression from sentence embeddings to the star-rating class (1-2 / 3 / 4-5).

    Distant supervision only: fitted on reviews' own star ratings, never on human labels. Classes
    are weighted to balance, so a 5-star-heavy store does not make the probe positive by default.
    """

    def __init__(self, weights: np.ndarray, bias: np.ndarray, mean: np.ndarray) -> None:
        self.weights, self.bias, self.mean = weights.astype(np.float32), bias.astype(np.float32), mean.astype(np.float32)

    @classmethod
    def fit(cls, embeddings: np.ndarray, ratings: Sequence[int] | np.ndarray, settings: LabelSettings | None = None) -> RatingProbe:
        settings = settings or LabelSettings()
        ratings = np.asarray(ratings, dtype=np.float64)
        keep = np.isfinite(ratings) & (ratings >= 1) & (ratings <= 5)
        # masked before the float64 cast, and centred in place: the same numbers with one float64 copy instead of three
        # (a 1M-review dump's 860k review rows are 2.6 GB in float64)
        x = np.asarray(np.asarray(embeddings)[keep], np.float64)
        r = ratings[keep]
        y = np.where(r <= settings.rating_negative_max, NEG, np.where(r >= settings.rating_positive_min, POS, NEU))
        if len(y) == 0:
            raise ValueError("RatingProbe.fit needs rated rows")
        mean = x.mean(axis=0)
        x -= mean
        counts = np.bincount(y, minlength=3).astype(np.float64)
        present = counts > 0
        sample_weight = np.where(present[y], len(y) / (present.sum() * np.maximum(counts[y], 1)), 0.0)
        onehot = np.eye(3)[y]
        w = np.zeros((x.shape[1], 3))
        b = np.zeros(3)
        b[~present] = -20.0  # never predict a class that had no training rows
        lr, l2 = settings.probe_learning_rate, settings.probe_l2
        total = sample_weight.sum()
        for _ in range(settings.probe_steps):
            logits = x @ w + b
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
            g = (p - onehot) * sample_weight[:, None] / total
            w -= lr * (x.T @ g + l2 * w)
            b[present] -= lr * g.sum(axis=0)[present]
        return cls(w, b, mean)

    def predict_proba(self, embeddings: np.ndarray) -> np.ndarray:
        logits = (np.asarray(embeddings, np.float32) - self.mean) @ self.weights + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def save(self, path: str | Path) -> Path:
        from safetensors.numpy import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({"weights": self.weights, "bias": self.bias, "mean": self.mean}, str(path))
        return path

    @classmethod
    def load(cls, path: str | Path) -> RatingProbe:
        from safetensors.numpy import load_file

        t = load_file(str(path))
        return cls(t["weights"], t["bias"], t["mean"])


class ProbeEnsemble:
    """Several rating probes as one (each partition fits its own): probabilities averaged, weighted by the rows each was fitted on."""

    def __init__(self, probes: Sequence[RatingProbe], weights: Sequence[float]) -> None:
        if not probes or len(probes) != len(weights) or min(weights) <= 0:
            raise ValueError("ProbeEnsemble needs at least one probe and one positive weight per probe")
        self.probes, self.weights = list(probes), np.asarray(weights, np.float64) / float(np.sum(weights))

    def predict_proba(self, embeddings: np.ndarray) -> np.ndarray:
        return sum(w * probe.predict_proba(embeddings) for probe, w in zip(self.probes, self.weights, strict=True)).astype(np.float32)


def probe_training_rows(embeddings: np.ndarray, ratings: pl.Series) -> np.ndarray:
    """Rows a rating probe learns from: rated 1-5 and embedded (a budgeted pass leaves some out)."""
    return ratings.cast(pl.Int64, strict=False).is_between(1, 5).fill_null(False).to_numpy() & embedded(embeddings)


def fit_rating_probe(embeddings: np.ndarray, ratings: pl.Series, settings: LabelSettings) -> RatingProbe | None:
    """The review-level rating probe of one partition, or None where its rated rows are too few to learn from."""
    r = ratings.cast(pl.Int64, strict=False)
    rated = probe_training_rows(embeddings, ratings)
    r = r.fill_null(0).to_numpy()
    classes = np.unique(np.where(r[rated] <= settings.rating_negative_max, NEG, np.where(r[rated] >= settings.rating_positive_min, POS, NEU)))
    if rated.sum() < settings.probe_min_rows or len(classes) < 2:
        return None
    return RatingProbe.fit(embeddings[rated], r[rated], settings)


def _probe_vote(embeddings: np.ndarray | None, probe: RatingProbe | None, settings: LabelSettings) -> np.ndarray:
    n = 0 if embeddings is None else len(embeddings)
    if embeddings is None or probe is None or n == 0:
        return np.full(n, ABSTAIN, np.int8)
    p = np.nan_to_num(probe.predict_proba(embeddings))
    return np.where(embedded(embeddings) & (p.max(axis=1) >= settings.probe_min_probability), p.argmax(axis=1), ABSTAIN).astype(np.int8)


# --------------------------------------------------------------------------------------------------
# review level
# --------------------------------------------------------------------------------------------------


def _rating_mil_vote(texts: pl.Series, rating_mil: RatingMil | None, settings: LabelSettings, segment: bool) -> pl.Series:
    if rating_mil is None or len(texts) == 0:
        return pl.Series("lf_rating_mil", np.full(len(texts), ABSTAIN), pl.Int8)
    probabilities = rating_mil.segment_proba(texts) if segment else rating_mil.review_proba(texts)
    votes = np.where(probabilities.max(axis=1) >= settings.rating_mil_min_probability, rating_mil.decide(probabilities), ABSTAIN)
    return pl.Series("lf_rating_mil", votes, pl.Int8)


def _text_votes(frame: pl.DataFrame, text_col: str, settings: LabelSettings, embeddings: np.ndarray | None,
                probe: RatingProbe | None, rating_mil: RatingMil | None = None, segment: bool = False) -> pl.DataFrame:
    """Vote columns for `frame[text_col]` (+ `rating`), in LF_COLUMNS order."""
    text = pl.col(text_col).fill_null("")
    work = frame.select(
        pl.col(text_col),
        pl.col("rating").cast(pl.Int64, strict=False) if "rating" in frame.columns else pl.lit(None, pl.Int64).alias("rating"),
        *_lexicon_columns(text, settings),
    ).with_columns(vader_compound(frame[text_col]).alias("compound"))
    if segment and not settings.aspect_zero_shot:
        embeddings = None
    elif settings.use_embeddings and embeddings is None and len(frame):
        embeddings = embed_unique(frame[text_col], settings)
    if not settings.use_embeddings:
        embeddings = None
    return work.select(
        _rating_vote(settings).alias("lf_rating"),
        _vader_vote(pl.col("compound"), settings).alias("lf_vader"),
        _lexicon_vote(settings).alias("lf_app_lexicon"),
        _request_vote(settings).alias("lf_request"),
        pl.Series("lf_zero_shot", _zero_shot_vote(embeddings, settings), pl.Int8) if embeddings is not None
        else pl.lit(ABSTAIN, pl.Int8).alias("lf_zero_shot"),
        pl.Series("lf_rating_probe", _probe_vote(embeddings, probe, settings), pl.Int8) if embeddings is not None
        else pl.lit(ABSTAIN, pl.Int8).alias("lf_rating_probe"),
        _rating_mil_vote(frame[text_col], rating_mil, settings, segment),
    )


def _require(frame: pl.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {missing}; it has {frame.columns}")


def review_votes(frame: pl.DataFrame, settings: LabelSettings | None = None, *, embeddings: np.ndarray | None = None,
                 probe: RatingProbe | None = None, rating_mil: RatingMil | None = None) -> pl.DataFrame:
    """One row per review: ``review_id`` + one Int8 vote column per LF (:data:`LF_COLUMNS`).

    ``frame``: ``review_id``, ``content``, optional ``rating`` (nullable int 1-5). ``embeddings``
    (row-aligned, L2-normalised, from `genai_lab.ml.embeddings.embed`) skip the embedding pass;
    ``probe`` enables ``lf_rating_probe``, ``rating_mil`` ``lf_rating_mil``.
    """
    settings = settings or LabelSettings()
    _require(frame, ["review_id", "content"], "review_votes")
    if embeddings is not None and len(embeddings) != len(frame):
        raise ValueError(f"embeddings has {len(embeddings)} rows, frame {len(frame)}")
    votes = _text_votes(frame, "content", settings, embeddings, probe, rating_mil)
    return pl.concat([frame.select("review_id"), votes], how="horizontal")


# --------------------------------------------------------------------------------------------------
# aspect level: the clause around the aspect term
# --------------------------------------------------------------------------------------------------


def boundary_pattern(settings: LabelSettings) -> str:
    """Where a clause ends: a sentence end (and with `split_on_comma` a comma) or a contrast word (a regex)."""
    words = "|".join(re.escape(w) for w in settings.contrast_words)
    punct = r"[.!?;\n\r]" if not settings.split_on_comma else r"[.!?;,\n\r]"
    return rf"(?:{punct}|\b(?:{words})\b)" if words else punct


def _fuzzy_span(text: str, term: str) -> tuple[int, int] | None:
    """Where a non-verbatim aspect term sits: its longest word's stem (e.g. "install" in "installing")."""
    words = sorted((w for w in re.findall(r"\w+", term.lower()) if len(w) >= 3), key=len, reverse=True)
    low = text.lower()
    for w in words:
        stem = w[: max(3, min(len(w), 5))]
        m = re.search(rf"\b{re.escape(stem)}\w*", low) or re.search(re.escape(stem), low)
        if m:
            return m.start(), m.end()
    return None


def aspect_clauses(frame: pl.DataFrame, settings: LabelSettings | None = None) -> pl.DataFrame:
    """``item_id``, ``clause`` (the text around the aspect up to clause boundaries), ``located``.

    Aspect position: the ``aspect_from``/``aspect_to`` offsets where they match the term, else the
    first case-insensitive occurrence of the term, else its longest word's stem; an aspect that is
    not found keeps the whole text (``located`` false).
    """
    settings = settings or LabelSettings()
    has_offsets = "aspect_from" in frame.columns and "aspect_to" in frame.columns
    text = pl.col("text").fill_null("")
    term = pl.col("aspect_term").fill_null("")
    work = frame.select(
        pl.col("item_id"),
        text.alias("text"),
        term.alias("term"),
        (pl.col("aspect_from").cast(pl.Int64) if has_offsets else pl.lit(None, pl.Int64)).alias("f"),
        (pl.col("aspect_to").cast(pl.Int64) if has_offsets else pl.lit(None, pl.Int64)).alias("t"),
    ).with_row_index("_row")
    offsets_ok = (
        pl.col("f").is_not_null() & pl.col("t").is_not_null() & (pl.col("t") > pl.col("f"))
        & (pl.col("text").str.slice(pl.col("f"), pl.col("t") - pl.col("f")).str.to_lowercase() == pl.col("term").str.to_lowercase())
    )
    parts = pl.col("text").str.to_lowercase().str.split(pl.col("term").str.to_lowercase())
    lower = pl.col("text").str.to_lowercase()
    work = work.with_columns(offsets_ok.alias("_ok"), parts.alias("_parts"))
    work = work.with_columns(
        pl.when(pl.col("_ok")).then(lower.str.slice(0, pl.col("f")))
        .when((pl.col("term") != "") & (pl.col("_parts").list.len() > 1)).then(pl.col("_parts").list.first())
        .otherwise(None).alias("_left"),
        pl.when(pl.col("_ok")).then(lower.str.slice(pl.col("t")))
        .when((pl.col("term") != "") & (pl.col("_parts").list.len() > 1))
        .then(pl.col("_parts").list.slice(1).list.join(pl.col("term").str.to_lowercase()))
        .otherwise(None).alias("_right"),
        pl.col("term").str.to_lowercase().alias("_mid"),
    )
    # aspects not found verbatim: a small Python pass over those rows only
    missing = work.filter(pl.col("_left").is_null() & (pl.col("term") != ""))
    if len(missing):
        fixes = {"_row": [], "_left": [], "_mid": [], "_right": []}
        for row, txt, trm in missing.select("_row", "text", "term").iter_rows():
            span = _fuzzy_span(txt, trm)
            if span is not None:
                low = txt.lower()
                fixes["_row"].append(row)
                fixes["_left"].append(low[: span[0]])
                fixes["_mid"].append(low[span[0]: span[1]])
                fixes["_right"].append(low[span[1]:])
        if fixes["_row"]:
            fix = pl.DataFrame(fixes, schema={"_row": pl.UInt32, "_left": pl.String, "_mid": pl.String, "_right": pl.String})
            work = work.update(fix, on="_row")
    bound = boundary_pattern(settings)
    located = pl.col("_left").is_not_null()
    clause = pl.concat_str(
        pl.col("_left").str.replace(rf"(?is)^.*{bound}", ""),
        pl.col("_mid"),
        pl.col("_right").str.replace(rf"(?is){bound}.*$", ""),
    ).str.strip_chars()
    return work.select(
        "item_id",
        pl.when(located).then(clause).otherwise(pl.col("text")).alias("clause"),
        located.alias("located"),
    )


def aspect_votes(frame: pl.DataFrame, settings: LabelSettings | None = None, *, embeddings: np.ndarray | None = None,
                 probe: RatingProbe | None = None, rating_mil: RatingMil | None = None) -> pl.DataFrame:
    """One row per (text, aspect): ``item_id`` + one Int8 vote column per LF (:data:`LF_COLUMNS`).

    ``frame``: ``item_id``, ``text``, ``aspect_term``, optional ``aspect_from``/``aspect_to``
    (character offsets, nullable) and ``rating``. Every LF reads the clause around the aspect
    (`aspect_clauses`); ``embeddings``, when given, are the clauses' (row-aligned).
    """
    settings = settings or LabelSettings()
    _require(frame, ["item_id", "text", "aspect_term"], "aspect_votes")
    if embeddings is not None and len(embeddings) != len(frame):
        raise ValueError(f"embeddings has {len(embeddings)} rows, frame {len(frame)}")
    clauses = aspect_clauses(frame, settings)
    work = clauses.with_columns(
        frame["rating"].cast(pl.Int64, strict=False) if "rating" in frame.columns else pl.lit(None, pl.Int64).alias("rating")
    )
    votes = _text_votes(work, "clause", settings, embeddings, probe, rating_mil, segment=True)
    return pl.concat([frame.select("item_id"), votes], how="horizontal")
