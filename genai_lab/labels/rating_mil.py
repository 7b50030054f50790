"""Segment polarity learned from star ratings alone: multiple-instance learning (MILNET, Angelidis & Lapata 2018).

A review's star rating labels the review, not its sentences. The model reads each segment of a review (its clauses:
split at sentence ends and contrast words, as the aspect clauses are) with the base encoder plus a LoRA adapter,
gives each segment a polarity distribution over negative / neutral / positive and an attention score, and predicts the
review's rating class (1-2 negative, 3 neutral, 4-5 positive) as the attention-weighted mean of its segments'
distributions. Trained on ratings only, the segment head learns which clause carries the complaint in a 2-star review
that also praises the design; applied to one clause it is an aspect-level labelling function, pooled over a review's
segments a review-level one. Gold never fits, stops or tunes anything here: the neutral bias is chosen on held-out
*ratings*.

The trained weights (LoRA and the two heads, safetensors) and a JSON file with the settings and the neutral bias are
one model-store version (`rating_mil`); `RatingMil.load` merges the adapter into the base for inference.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
from pydantic import Field, model_validator

from genai_lab.config import StrictConfig
from genai_lab.evaluation.statistics import macro_f1
from genai_lab.hashing import stable_fraction
from genai_lab.ml.embeddings import DEFAULT_BASE_MODEL, resolve_base_model
from genai_lab.ml.training_loop import OptimizerSettings, Progress, TrainingRun, adamw, load_trainable, trainable_state, warmup_then_linear_decay
from genai_lab.vocabulary import RATING_MIL, SENTIMENT_LABELS

if TYPE_CHECKING:
    from genai_lab.ml.store import ModelStore

log = logging.getLogger(__name__)

NEG, NEU, POS = 0, 1, 2
WEIGHTS_FILE = "rating_mil.safetensors"
CONFIG_FILE = "rating_mil.json"
#: neutral biases tried on held-out ratings: added to the neutral probability before the argmax
NEUTRAL_BIAS_GRID = tuple(round(b, 2) for b in np.arange(-0.3, 0.61, 0.05))


class RatingMilOptimizerSettings(OptimizerSettings):
    """The shared optimizer fields with this model's defaults: a subclass, not `OptimizerSettings(...)` in a
    default_factory, as Dagster builds a nested Config from its class defaults and would drop the factory's arguments."""

    #: peak learning rate of the LoRA weights and both heads
    learning_rate: float = 5e-4
    #: reviews per batch (each with all its segments)
    batch_size: int = 16


class RatingMilSettings(StrictConfig):
    """The rating-MIL teacher: its data, its adapter, its budget."""

    #: seed of sampling and initialisation
    seed: int = 0
    #: pretrained encoder the adapter sits on (a package name, local folder or hub id)
    base_model: str = DEFAULT_BASE_MODEL
    #: the most rated reviews trained on, evenly per rating class (1-2, 3, 4-5 stars), so the cost does not grow with
    #: the corpus: `train_reviews_share` of the rated reviews, at least `min_train_reviews` and at most this (3,600 on
    #: the shared corpus: 228 s on a bf16 CPU, held-out ratings macro-F1 0.616 against 0.629 for 6,000 in 400 s)
    train_reviews: int = 3600
    #: the budget's share of the rated reviews (see `train_reviews`)
    train_reviews_share: float = 0.05
    #: the budget's floor (see `train_reviews`)
    min_train_reviews: int = 600
    #: a review shorter than this many characters is no training row (a two-word review has no segments to tell apart)
    min_review_chars: int = 20
    #: segments (clauses) read per review, its first ones; longer reviews are cut
    max_segments: int = 8
    #: tokens per segment
    max_length: int = 48
    #: reviews per batch, learning rate (LoRA and heads), weight decay, gradient clipping
    optimizer: RatingMilOptimizerSettings = Field(default_factory=RatingMilOptimizerSettings)
    #: passes over the training reviews
    epochs: int = 1
    #: share of the steps spent warming the learning rate up (then linear decay to zero)
    warmup_fraction: float = 0.1
    #: LoRA rank, scaling and dropout on every linear layer of the encoder
    lora_r: int = 8
    #: LoRA scaling
    lora_alpha: int = 16
    #: LoRA dropout
    lora_dropout: float = 0.1
    #: width of the attention scorer's hidden layer
    attention_size: int = 64
    #: reviews whose id hashes into this share are never trained on: the held-out ratings
    holdout_fraction: float = 0.1
    #: held-out rated reviews scored after training (and where the neutral bias is chosen), at most
    holdout_reviews: int = 1500
    #: stop after this many minutes of training (None: no cap); the held-out scoring comes after
    max_train_minutes: float | None = 5.0
    #: steps between checkpoints
    checkpoint_every_steps: int = 50
    #: segments per inference batch
    inference_batch_size: int = 128
    #: stars at most this are the negative class, at least `rating_positive_min` the positive one, between neutral
    rating_negative_max: int = 2
    #: stars at least this are the positive class
    rating_positive_min: int = 4

    def reviews_to_train(self, rated: int) -> int:
        """The training budget for this many rated reviews (see `train_reviews`)."""
        return min(self.train_reviews, max(self.min_train_reviews, round(self.train_reviews_share * rated)))

    @model_validator(mode="after")
    def _validate(self) -> RatingMilSettings:
        if self.train_reviews < 3 or self.max_segments < 1 or self.max_length < 8 or self.epochs < 1:
            raise ValueError("rating_mil needs train_reviews >= 3, max_segments >= 1, max_length >= 8 and epochs >= 1")
        if not 0.0 < self.holdout_fraction < 1.0:
            raise ValueError(f"holdout_fraction must lie in (0, 1), got {self.holdout_fraction}")
        if not 1 <= self.rating_negative_max < self.rating_positive_min <= 5:
            raise ValueError("need 1 <= rating_negative_max < rating_positive_min <= 5")
        return self


# ---- segments and targets ----------------------------------------------------------------------


def split_segments(texts: pl.Series, boundary: str, max_segments: int) -> pl.DataFrame:
    """One row per segment: `row` (position in `texts`), `segment_index`, `segment`. A text with no word character
    left after splitting is one segment of itself, so every row of `texts` has at least one."""
    texts = texts.cast(pl.String).fill_null("")
    split = (pl.DataFrame({"text": texts}).with_row_index("row")
             .with_columns(pl.col("text").str.replace_all(rf"(?i){boundary}", "\x1f").str.split("\x1f").alias("segment"))
             .explode("segment").with_columns(pl.col("segment").str.strip_chars())
             .filter(pl.col("segment").str.contains(r"\w")))
    split = split.with_columns(pl.int_range(pl.len(), dtype=pl.Int32).over("row").alias("segment_index")).filter(
        pl.col("segment_index") < max_segments)
    whole = pl.DataFrame({"row": pl.arange(0, len(texts), eager=True, dtype=pl.UInt32), "text": texts}).join(
        split.select("row").unique(), on="row", how="anti").select("row", pl.lit(0, pl.Int32).alias("segment_index"),
                                                                     pl.col("text").str.strip_chars().alias("segment"))
    return pl.concat([split.select("row", "segment_index", "segment"), whole]).sort("row", "segment_index")


def rating_class(ratings: pl.Series, settings: RatingMilSettings) -> pl.Series:
    """0 negative / 1 neutral / 2 positive from stars; null where there is no rating."""
    stars = ratings.cast(pl.Int64, strict=False)
    return pl.select(pl.when(stars.is_null()).then(None).when(stars <= settings.rating_negative_max).then(NEG)
                     .when(stars >= settings.rating_positive_min).then(POS).otherwise(NEU).cast(pl.Int64)).to_series()


def held_out_reviews(review_ids: pl.Series, share: float) -> pl.Series:
    """The same reviews held out on every run and machine, by the rule the students' held-out set is cut by: with the
    same share, the teacher never trains on a review the students are scored on."""
    return stable_fraction(review_ids, default=1.0) < share


def training_reviews(reviews: pl.DataFrame, settings: RatingMilSettings) -> dict[str, pl.DataFrame]:
    """{"train": up to `train_reviews` rated reviews evenly per class, shuffled; "holdout": held-out rated reviews}.

    `reviews`: `review_id`, `content`, `rating`. Each frame: review_id, content, target.
    """
    rated = reviews.select("review_id", pl.col("content").cast(pl.String), rating_class(reviews["rating"], settings).alias("target")).filter(
        pl.col("target").is_not_null() & (pl.col("content").str.len_chars() >= settings.min_review_chars))
    rated = rated.sort("review_id").with_columns(held_out_reviews(rated.sort("review_id")["review_id"], settings.holdout_fraction).alias("held_out"))
    per_class = settings.reviews_to_train(rated.height) // 3
    train = (rated.filter(~pl.col("held_out")).sample(fraction=1.0, shuffle=True, seed=settings.seed)
             .group_by("target", maintain_order=True).head(per_class)
             .sample(fraction=1.0, shuffle=True, seed=settings.seed + 1))  # not class-sorted: a sorted set collapses to one class
    holdout = rated.filter(pl.col("held_out")).sample(fraction=1.0, shuffle=True, seed=settings.seed).head(settings.holdout_reviews)
    return {"train": train.drop("held_out"), "holdout": holdout.drop("held_out")}


# ---- the model ---------------------------------------------------------------------------------


def _module():
    import torch

    class RatingMilModel(torch.nn.Module):
        """Encoder (with LoRA) → mean-pooled segment vector → polarity distribution and attention score per segment;
        a review's distribution is the attention-weighted mean of its segments'."""

        def __init__(self, encoder, hidden: int, attention_size: int) -> None:
            super().__init__()
            self.encoder = encoder
            self.polarity = torch.nn.Linear(hidden, len(SENTIMENT_LABELS))
            self.attention = torch.nn.Sequential(torch.nn.Linear(hidden, attention_size), torch.nn.Tanh(),
                                                 torch.nn.Linear(attention_size, 1))

        def segments(self, input_ids, attention_mask, **extra):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state.float()
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.softmax(self.polarity(pooled), dim=-1), self.attention(pooled).squeeze(-1)

        def forward(self, input_ids, attention_mask, review, slot, reviews: int, slots: int, **extra):
            """Review distributions (reviews × 3): `review`/`slot` place each segment of the batch in its review."""
            probabilities, scores = self.segments(input_ids, attention_mask, **extra)
            return pool(probabilities, scores, review, slot, reviews, slots)

    return RatingMilModel


def pool(probabilities, scores, review, slot, reviews: int, slots: int):
    """Attention-weighted mean of each review's segment distributions (torch tensors)."""
    import torch

    grid = torch.full((reviews, slots), float("-inf"), dtype=scores.dtype, device=scores.device)
    grid[review, slot] = scores
    weights = torch.softmax(grid, dim=1)
    spread = torch.zeros((reviews, slots, probabilities.shape[-1]), dtype=probabilities.dtype, device=probabilities.device)
    spread[review, slot] = probabilities
    return (weights.unsqueeze(-1) * spread).sum(1)


def build_model(settings: RatingMilSettings):
    """(model with only the LoRA weights and both heads trainable, tokenizer)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModel, AutoTokenizer

    from genai_lab.ml.classifier import lora_target_modules
    from genai_lab.ml.lora import peft_reading_a_deprecated_transformers_property

    path = resolve_base_model(settings.base_model)
    local = Path(path).exists()
    encoder = AutoModel.from_pretrained(path, local_files_only=local)
    config = LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=settings.lora_dropout,
                        target_modules=lora_target_modules(encoder))
    with peft_reading_a_deprecated_transformers_property():
        encoder = get_peft_model(encoder, config)
    model = _module()(encoder, encoder.config.hidden_size, settings.attention_size)
    return model, AutoTokenizer.from_pretrained(path, local_files_only=local)


# ---- training ----------------------------------------------------------------------------------


@dataclass
class RatingMilResult:
    steps: int
    train_reviews: int
    seconds: float
    #: held-out ratings: macro-F1 and accuracy of the pooled review prediction with the chosen neutral bias
    heldout_macro_f1: float
    heldout_accuracy: float
    #: held-out ratings, the polar reviews only (1-2 vs 4-5 stars): the share predicted on the right side
    heldout_polar_accuracy: float
    neutral_bias: float
    heldout_reviews: int
    history: list[dict] = field(default_factory=list)
    resumed_from: dict | None = None


def _segment_features(tokenizer, texts: pl.Series, settings: RatingMilSettings, boundary: str):
    from genai_lab.ml.batching import tokenize_once

    segments = split_segments(texts, boundary, settings.max_segments)
    features = tokenize_once(tokenizer, segments["segment"].to_list(), [None] * segments.height, settings.max_length)
    starts = np.searchsorted(segments["row"].to_numpy(), np.arange(len(texts) + 1))
    return segments, features, starts


def _review_batch(features, starts: np.ndarray, rows: np.ndarray, pad_token_id: int):
    """Padded segment tensors of the reviews `rows` and where each segment sits (review, slot)."""
    import torch

    from genai_lab.ml.batching import pad_batch

    index = np.concatenate([np.arange(starts[r], starts[r + 1]) for r in rows])
    review = np.concatenate([np.full(starts[r + 1] - starts[r], i) for i, r in enumerate(rows)])
    slot = np.concatenate([np.arange(starts[r + 1] - starts[r]) for r in rows])
    batch = pad_batch(features, index, pad_token_id)
    batch.pop("token_type_ids", None)
    return batch, torch.as_tensor(review), torch.as_tensor(slot), int(np.max(np.diff(starts)[rows]))


def review_loss(model, features, starts: np.ndarray, rows: np.ndarray, targets, pad_token_id: int):
    """The MIL loss of the reviews `rows`: their pooled distributions against their star classes (`targets`, by row)."""
    import torch

    batch, review, slot, slots = _review_batch(features, starts, rows, pad_token_id)
    predicted = model(**batch, review=review, slot=slot, reviews=len(rows), slots=slots)
    return torch.nn.functional.nll_loss(torch.log(predicted.float().clamp_min(1e-7)), targets[rows])


def train_rating_mil(model, tokenizer, data: dict[str, pl.DataFrame], settings: RatingMilSettings, boundary: str,
                     work_dir: Path, accelerator=None) -> RatingMilResult:
    """Trains `model` in place on `data["train"]` (`training_reviews`), resumable from `work_dir`'s checkpoint, then
    scores it on the held-out ratings and chooses the neutral bias there."""
    import torch

    from genai_lab.ml.batching import padding_of

    run = TrainingRun(work_dir, accelerator)
    torch.manual_seed(settings.seed)
    train = data["train"]
    if train.height == 0:
        raise ValueError(f"rating_mil: no rated review of at least {settings.min_review_chars} characters to train on")
    segments, features, starts = _segment_features(tokenizer, train["content"], settings, boundary)
    targets = torch.as_tensor(train["target"].to_numpy().copy())
    opt = settings.optimizer
    trainable = [p for p in model.parameters() if p.requires_grad]
    prepared, optimizer = run.accelerator.prepare(model, adamw(trainable, opt))
    resumed = run.resume(model, optimizer)
    state = resumed[0] if resumed else {"step": 0, "history": []}
    resumed_from = {"step": state["step"], **run.earlier} if resumed else None
    if resumed:
        log.info(f"rating_mil: resuming at step {state['step']}")
    per_epoch = math.ceil(train.height / opt.batch_size)
    total = per_epoch * settings.epochs
    warmup = max(1, int(settings.warmup_fraction * total))
    pad_token_id, _ = padding_of(tokenizer)
    log.info(f"rating_mil: {train.height:,} rated reviews ({segments.height:,} segments; "
             f"{train.group_by('target').len().sort('target').rows()}), {total} steps of {opt.batch_size} reviews")
    progress, losses = Progress("reviews"), []
    prepared.train()
    while state["step"] < total and not run.out_of_time(settings.max_train_minutes):
        start = (state["step"] % per_epoch) * opt.batch_size
        rows = np.arange(start, min(start + opt.batch_size, train.height))
        loss = review_loss(prepared, features, starts, rows, targets, pad_token_id)
        run.step(optimizer, loss, trainable, warmup_then_linear_decay(opt.learning_rate, state["step"], total, warmup), opt.max_grad_norm)
        state["step"] += 1
        losses.append(float(loss.detach()))
        progress.add(len(rows))
        if progress.due():
            progress.log(f"rating_mil step {state['step']}/{total}: loss {np.mean(losses[-50:]):.3f}", total - state["step"])
        if state["step"] % settings.checkpoint_every_steps == 0:
            state["history"].append({"step": state["step"], "train_loss": float(np.mean(losses[-settings.checkpoint_every_steps:]))})
            run.save(model, optimizer, state)
    if state["step"] < total:
        log.info(f"rating_mil: stopped at step {state['step']} of {total}, the {settings.max_train_minutes} min budget spent")
    seconds = run.clock.elapsed()
    run.finish(prepared)
    model.eval()
    scorer = RatingMil(model, tokenizer, settings, boundary, neutral_bias=0.0)
    holdout = data["holdout"]
    probabilities = scorer.review_proba(holdout["content"]) if holdout.height else np.zeros((0, 3))
    bias, score = choose_neutral_bias(probabilities, holdout["target"].to_numpy())
    scorer.neutral_bias = bias
    predicted = scorer.decide(probabilities)
    truth = holdout["target"].to_numpy()
    polar = truth != NEU
    log.info(f"rating_mil: held-out ratings macro-F1 {score:.3f} at neutral bias {bias:+.2f} ({holdout.height:,} reviews)")
    return RatingMilResult(
        steps=state["step"], train_reviews=train.height, seconds=round(seconds, 1), heldout_macro_f1=round(score, 4),
        heldout_accuracy=round(float((predicted == truth).mean()) if len(truth) else 0.0, 4),
        heldout_polar_accuracy=round(float((predicted[polar] == truth[polar]).mean()) if polar.any() else 0.0, 4),
        neutral_bias=bias, heldout_reviews=holdout.height, history=state["history"], resumed_from=resumed_from)


def choose_neutral_bias(probabilities: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """The neutral bias of `NEUTRAL_BIAS_GRID` with the best macro-F1 against held-out rating classes (ties: the
    smallest |bias|); (0.0, 0.0) without held-out rows."""
    if len(truth) == 0:
        return 0.0, 0.0
    scored = [(macro_f1(truth, decide(probabilities, bias)), -abs(bias), bias) for bias in NEUTRAL_BIAS_GRID]
    best = max(scored)
    return float(best[2]), float(best[0])


def decide(probabilities: np.ndarray, neutral_bias: float) -> np.ndarray:
    """Class per row: the argmax after adding `neutral_bias` to the neutral probability."""
    shifted = probabilities.copy()
    shifted[:, NEU] += neutral_bias
    return shifted.argmax(axis=1)


# ---- inference ---------------------------------------------------------------------------------


class RatingMil:
    """A trained rating-MIL model for inference: segment and review polarity distributions of any texts."""

    def __init__(self, model, tokenizer, settings: RatingMilSettings, boundary: str, neutral_bias: float,
                 folder: Path | None = None) -> None:
        self.model, self.tokenizer, self.settings, self.boundary, self.neutral_bias = model, tokenizer, settings, boundary, neutral_bias
        #: the model-store version it was loaded from
        self.folder = folder
        #: outputs of every segment read so far, by its lowercased text (the encoder is uncased): an aspect's clause is
        #: one of its review's segments, so the aspect-level votes after the review-level ones cost next to nothing
        self._seen: dict[str, tuple[np.ndarray, float]] = {}

    def decide(self, probabilities: np.ndarray) -> np.ndarray:
        return decide(probabilities, self.neutral_bias)

    def _segment_outputs(self, segments: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(polarity distributions, attention scores) of distinct segments; those not read before in length-sorted
        batches, progress logged."""
        keys = [segment.lower() for segment in segments]
        new = list(dict.fromkeys(key for key in keys if key not in self._seen))
        if new:
            probabilities, scores = self._read(new)
            self._seen.update(zip(new, zip(probabilities, scores.tolist(), strict=True), strict=True))
        if not keys:
            return np.zeros((0, len(SENTIMENT_LABELS)), np.float32), np.zeros(0, np.float32)
        return (np.stack([self._seen[key][0] for key in keys]).astype(np.float32),
                np.array([self._seen[key][1] for key in keys], np.float32))

    def _read(self, segments: list[str]) -> tuple[np.ndarray, np.ndarray]:
        import torch

        from genai_lab.ml.batching import pad_batch, padding_of, token_lengths, tokenize_once
        from genai_lab.ml.precision import autocast

        probabilities = np.zeros((len(segments), len(SENTIMENT_LABELS)), np.float32)
        scores = np.zeros(len(segments), np.float32)
        if not segments:
            return probabilities, scores
        features = tokenize_once(self.tokenizer, segments, [None] * len(segments), self.settings.max_length)
        order = np.argsort(token_lengths(features), kind="stable")
        pad_token_id, _ = padding_of(self.tokenizer)
        started = reported = time.monotonic()
        size = self.settings.inference_batch_size
        with torch.inference_mode():
            for start in range(0, len(order), size):
                if time.monotonic() - reported > 30:
                    rate = max(start, 1) / (time.monotonic() - started)
                    log.info(f"rating_mil: {start:,} of {len(order):,} segments ({rate:.0f}/s, {(len(order) - start) / rate / 60:.1f} min left)")
                    reported = time.monotonic()
                index = order[start:start + size]
                batch = pad_batch(features, index, pad_token_id)
                batch.pop("token_type_ids", None)
                with autocast("cpu"):
                    p, s = self.model.segments(**batch)
                probabilities[index], scores[index] = p.float().numpy(), s.float().numpy()
        return probabilities, scores

    def segment_proba(self, texts: pl.Series) -> np.ndarray:
        """Each text read as one segment (an aspect's clause): its polarity distribution (rows × 3)."""
        texts = texts.cast(pl.String).fill_null("")
        distinct = texts.unique(maintain_order=True)
        probabilities, _ = self._segment_outputs(distinct.to_list())
        position = pl.DataFrame({"text": distinct}).with_row_index("i").join(pl.DataFrame({"text": texts}).with_row_index("row"),
                                                                             on="text").sort("row")["i"].to_numpy()
        return probabilities[position]

    def review_proba(self, texts: pl.Series) -> np.ndarray:
        """Each text split into segments, their distributions pooled by attention (rows × 3)."""
        texts = texts.cast(pl.String).fill_null("")
        segments = split_segments(texts, self.boundary, self.settings.max_segments)
        distinct = segments["segment"].unique(maintain_order=True)
        probabilities, scores = self._segment_outputs(distinct.to_list())
        lookup = pl.DataFrame({"segment": distinct}).with_row_index("i")
        at = segments.join(lookup, on="segment", how="left", maintain_order="left")["i"].to_numpy()
        rows = segments["row"].to_numpy()
        weights = np.exp(scores[at] - _group_max(scores[at], rows, len(texts))[rows])
        total = np.bincount(rows, weights=weights, minlength=len(texts))
        pooled = np.stack([np.bincount(rows, weights=weights * probabilities[at, k], minlength=len(texts))
                           for k in range(len(SENTIMENT_LABELS))], axis=1)
        return (pooled / np.maximum(total, 1e-12)[:, None]).astype(np.float32)

    # ---- store ----

    def save(self, folder: Path) -> None:
        from safetensors.torch import save_file

        save_file(trainable_state(self.model), str(folder / WEIGHTS_FILE))
        (folder / CONFIG_FILE).write_text(json.dumps({"settings": self.settings.model_dump(), "boundary": self.boundary,
                                                      "neutral_bias": self.neutral_bias}, indent=2))

    @classmethod
    def load(cls, folder: Path) -> RatingMil:
        """The stored model, its adapter merged into the base, in bf16 where this CPU computes in it."""
        from safetensors.torch import load_file

        from genai_lab.ml.precision import for_inference

        config = json.loads((folder / CONFIG_FILE).read_text())
        settings = RatingMilSettings(**config["settings"])
        model, tokenizer = build_model(settings)
        load_trainable(model, load_file(str(folder / WEIGHTS_FILE)))
        model.encoder = model.encoder.merge_and_unload()
        model = for_inference(model)
        model.eval()
        return cls(model, tokenizer, settings, config["boundary"], config["neutral_bias"], folder)


def _group_max(values: np.ndarray, rows: np.ndarray, groups: int) -> np.ndarray:
    """Per group the maximum of `values` (-inf for a group with none)."""
    out = np.full(groups, -np.inf, dtype=np.float64)
    np.maximum.at(out, rows, values)
    return out


def encoder_weights(folder: Path) -> dict:
    """The base encoder's weights with a stored rating-MIL adapter merged in (fp32): where the adapter arm can start
    (`LoraSettings.start_from`)."""
    from safetensors.torch import load_file

    settings = RatingMilSettings(**json.loads((folder / CONFIG_FILE).read_text())["settings"])
    model, _ = build_model(settings)
    load_trainable(model, load_file(str(folder / WEIGHTS_FILE)))
    return model.encoder.merge_and_unload().state_dict()


def load_rating_mil(models: ModelStore) -> RatingMil | None:
    """The newest stored rating-MIL model (the one `rating_mil` materialized last), or None when there is none."""
    versions = models.versions(RATING_MIL)
    if not versions:
        return None
    log.info(f"rating_mil: voting with {versions[-1].path}")
    return RatingMil.load(versions[-1].path)
