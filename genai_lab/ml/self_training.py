"""Iterative self-training on pseudo-labels, resumable from checkpoints; shared by both model arms.

Round 0 trains on confident pseudo-labels. Each later round labels a sample of the unlabelled pool
with the current model and adds only predictions above a threshold, at most the same number per
class, and trains on them plus a replay sample of earlier rows (at most `max_train_rows` a round,
which bounds the cost) with dropout and word-dropout noise (a noisy student). After every epoch the
model is scored on held-out pseudo-labels and on held-out star ratings (never on gold); the best weights win by a
weighted mean of the two (`rating_weight`), and rounds stop when one brings no improvement. The ratings are the
independent criterion: agreement with held-out pseudo-labels alone rewards copying the teacher's errors.

Checkpoints (every `checkpoint_every_steps` and at each epoch end; `training_loop.TrainingRun`) hold the trainable
weights, the optimizer state, the best weights, the training set and the loop's state, so a killed run continues
where it stopped when it is started again with the same data and settings.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
from pydantic import Field

from genai_lab.config import StrictConfig
from genai_lab.evaluation.statistics import macro_f1
from genai_lab.hashing import stable_fraction
from genai_lab.labels.rating_mil import RatingMilSettings, rating_class
from genai_lab.ml.classifier import LABELS, encode, predict_proba, task_batches

NEGATIVE, NEUTRAL, POSITIVE = LABELS.index("negative"), LABELS.index("neutral"), LABELS.index("positive")
from genai_lab.ml.parallel import shard
from genai_lab.ml.training_loop import (
    OptimizerSettings,
    Progress,
    TrainingRun,
    adamw,
    load_trainable,
    on_devices,
    trainable_state,
    warmup_then_linear_decay,
)

log = logging.getLogger(__name__)

#: columns of the frames `self_train` takes: `aspect` null = review-level (single text) input
ITEM_COLUMNS = ("item_id", "text", "aspect")


class SelfTrainingSettings(StrictConfig):
    """The recipe and its budget. `max_train_rows` is the cap that keeps the whole graph within its time budget."""

    #: seed of sampling and initialisation
    seed: int = 0
    #: tokens per input (reviews longer than this are cut; the opening carries most of the tone)
    max_length: int = 64
    #: learning rate, weight decay, batch size, gradient clipping (as in pretraining)
    optimizer: OptimizerSettings = Field(default_factory=OptimizerSettings)
    #: share of each round's steps spent warming the learning rate up (then linear decay to zero)
    warmup_fraction: float = 0.1
    #: round 0: pseudo-labels at least this confident (label-model posterior) are training candidates
    min_confidence: float = 0.8
    #: the training budget: rows trained on per round, `train_rows_share` of the confident
    #: candidates, at least `min_train_rows` and at most `max_train_rows` (the budget grows with the
    #: data as the time caps do: 5 minutes for the 20k-review embedded default, 30 for the 136k
    #: shared reviews; 31k and 161k candidates give 800 and 3,000 rows). Round 0 takes this many
    #: candidates, split between the tasks by `aspect_share` and then evenly across classes (a class
    #: with fewer candidates leaves its share unused); later rounds train on the rows they added
    #: plus a replay sample of the earlier ones up to this many
    max_train_rows: int = 3000
    #: round budget floor (see `max_train_rows`)
    min_train_rows: int = 800
    #: round budget: this share of the confident candidates (see `max_train_rows`)
    train_rows_share: float = 0.02
    #: round 0: share of the rows taken from aspect-level pseudo-labels
    aspect_share: float = 0.5
    #: rounds in all (round 0 + self-training rounds) and epochs per round
    rounds: int = 3
    #: epochs per round
    epochs_per_round: int = 1
    #: later rounds: pool rows the model labels, the confidence a prediction needs to join, and the
    #: most rows added per round (evenly per class)
    pool_rows: int = 3000
    #: later rounds: confidence a prediction needs to join the training rows
    self_training_threshold: float = 0.9
    #: later rounds: most pool rows added per round (evenly per class)
    add_per_round: int = 900
    #: noise on the student in self-training rounds: each word dropped with this probability
    word_dropout: float = 0.1
    #: reviews whose hash falls in this share are held out (with all their aspect rows) for early stopping
    holdout_fraction: float = 0.1
    #: the held-out set is a random sample of at most this many labelled held-out rows
    holdout_rows: int = 800
    #: weight of held-out star-rating agreement in the score that picks the best weights and stops the rounds (the rest:
    #: held-out pseudo-label macro-F1). Agreement: the balanced accuracy of held-out 1-2★ reviews predicted negative and
    #: 4-5★ positive (at most `holdout_rows` of them, review level). 0: pseudo-labels alone, as before; it is also what
    #: a run without rated held-out reviews uses
    rating_weight: float = 0.5
    #: steps between checkpoints
    checkpoint_every_steps: int = 50
    #: stop starting new epochs after this many minutes of training (None: no time cap). 7 does not
    #: bind where the CPU has bf16 (three rounds on the shared reviews in ~6 min); on an AVX2-only CPU
    #: the rows cost 4 min a round and the third round, worth +0.001 held-out macro-F1 there, is skipped
    max_train_minutes: float | None = 7.0
    #: inference batch size: labelling the pool, evaluation on gold, timing
    inference_batch_size: int = 64

    def rows_per_round(self, candidates: int) -> int:
        """The round budget for this many confident candidates (see `max_train_rows`)."""
        return min(self.max_train_rows, max(self.min_train_rows, round(self.train_rows_share * candidates)))


@dataclass
class TrainingResult:
    #: held-out pseudo-label macro-F1 of the weights kept (what the champion rule compares)
    best_score: float
    best_round: int
    history: list[dict] = field(default_factory=list)
    train_rows: int = 0
    steps: int = 0
    resumed_from: dict | None = None
    #: data-parallel training processes (one per GPU); `steps` counts one process's steps
    processes: int = 1
    #: held-out star-rating agreement of the weights kept (None: no rated held-out review)
    best_rating_agreement: float | None = None
    #: the score that chose them (`rating_weight`)
    best_selection_score: float | None = None


def split_pseudo_labels(pseudo_labels: pl.DataFrame, settings: SelfTrainingSettings) -> dict[str, pl.DataFrame]:
    """Training candidates, held-out rows and the unlabelled pool from a `pseudo_labels` table.

    Only rows fit for training take part. Held-out: rows of reviews whose hash falls in
    `holdout_fraction`, labelled (not abstained). Pool: the remaining rows that are not training
    candidates. Each frame has ITEM_COLUMNS plus `label_index`, `confidence`, `level`, `app_category`.
    """
    # older tables have neither column
    rating = pl.col("rating").cast(pl.Int64) if "rating" in pseudo_labels.columns else pl.lit(None, pl.Int64)
    app_category = pl.col("app_category") if "app_category" in pseudo_labels.columns else pl.lit(None, pl.String)
    frame = pseudo_labels.filter(pl.col("fit_for_training").fill_null(False)).select(
        pl.when(pl.col("level") == "aspect").then(pl.format("{}#{}", "review_id", "mention_index")).otherwise("review_id").alias("item_id"),
        "text", pl.when(pl.col("level") == "aspect").then(pl.col("aspect_term")).alias("aspect"),
        pl.col("label_index").cast(pl.Int64), "confidence", "level", "abstained", "review_id", rating.alias("rating"),
        app_category.alias("app_category"),
    ).sort("item_id", "level", "text", "label_index", "confidence", nulls_last=True)  # a warehouse read has no row order; the splits must not depend on one
    held_out = stable_fraction(frame["review_id"]) < settings.holdout_fraction
    frame = frame.with_columns(held_out.alias("held_out"))
    labelled = ~pl.col("abstained") & (pl.col("label_index") >= 0)
    holdout = frame.filter(pl.col("held_out") & labelled).sample(fraction=1.0, shuffle=True, seed=settings.seed).head(settings.holdout_rows)
    rest = frame.filter(~pl.col("held_out"))
    candidates = rest.filter(labelled & (pl.col("confidence") >= settings.min_confidence))
    pool = rest.filter(~(labelled & (pl.col("confidence") >= settings.min_confidence)))
    reviews = frame.filter(pl.col("held_out") & (pl.col("level") == "review"))
    # the stars read as the rating-MIL teacher reads them; 3★ says nothing about a side
    star_class = rating_class(reviews["rating"], RatingMilSettings())
    rated = (reviews.with_columns(pl.when(star_class != NEUTRAL).then(star_class).alias("star_side"))
             .filter(pl.col("star_side").is_not_null()).sample(fraction=1.0, shuffle=True, seed=settings.seed).head(settings.holdout_rows))
    keep = [*ITEM_COLUMNS, "label_index", "confidence", "level", "app_category"]
    return {"candidates": candidates.select(keep), "holdout": holdout.select(keep), "pool": pool.select(keep),
            "rated_holdout": rated.select(*ITEM_COLUMNS, pl.col("star_side").alias("label_index"))}


def balanced_sample(frame: pl.DataFrame, total: int, seed: int, aspect_share: float | None = None) -> pl.DataFrame:
    """At most `total` rows, evenly per class (and, with `aspect_share`, split between the two tasks first); within a
    class, evenly over the app categories as far as each has rows (round robin: a category short of its share leaves
    the rest to the others), so the sample, and the arms' cost, stays the same size and mix however large the corpus.
    """
    if frame.height == 0 or total <= 0:
        return frame.head(0)
    if aspect_share is not None:
        aspect_total = round(total * aspect_share)
        parts = [balanced_sample(frame.filter(pl.col("level") == level), n, seed)
                 for level, n in (("review", total - aspect_total), ("aspect", aspect_total))]
        return pl.concat(parts)
    per_class = total // len(LABELS)
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=seed).with_row_index("_shuffled")
    turns = shuffled.with_columns(pl.int_range(pl.len()).over("label_index", "app_category").alias("_turn"))
    # with one category this is the shuffled rows of each class, in the order a plain per-class sample gives them
    return turns.sort("_turn", "_shuffled").group_by("label_index", maintain_order=True).head(per_class).drop("_turn", "_shuffled")


def _word_dropout(texts: list[str], p: float, rng: np.random.Generator) -> list[str]:
    if p <= 0:
        return texts
    noisy = []
    for text in texts:
        words = text.split()
        kept = [w for w, keep in zip(words, rng.random(len(words)) >= p, strict=True) if keep]
        noisy.append(" ".join(kept) if kept else text)
    return noisy


# ---- the loop ----------------------------------------------------------------------------------


def _round_rows(train_set: pl.DataFrame, round_index: int, settings: SelfTrainingSettings, budget: int) -> pl.DataFrame:
    """What a round trains on: the rows it added, plus a replay sample of earlier rows up to `budget` rows."""
    new = train_set.filter(pl.col("joined_round") == round_index)
    earlier = train_set.filter(pl.col("joined_round") < round_index)
    replay = earlier.sample(n=min(earlier.height, max(0, budget - new.height)), seed=settings.seed + round_index)
    return pl.concat([new, replay])


def _predict(model, tokenizer, frame: pl.DataFrame, settings: SelfTrainingSettings) -> np.ndarray:
    probabilities = predict_proba(model, tokenizer, frame["text"].to_list(), frame["aspect"].to_list(),
                                  batch_size=settings.inference_batch_size, max_length=settings.max_length)
    return probabilities.argmax(axis=1)


def _score(model, tokenizer, frame: pl.DataFrame, settings: SelfTrainingSettings) -> float:
    if frame.height == 0:
        return 0.0
    return macro_f1(frame["label_index"].to_numpy(), _predict(model, tokenizer, frame, settings))


def rating_agreement(star_side: np.ndarray, predicted: np.ndarray) -> float:
    """Balanced accuracy of star sides (NEGATIVE for 1-2★, POSITIVE for 4-5★): the mean over the sides present of the
    share predicted on that side (a neutral prediction of a polar review counts as wrong)."""
    recalls = [float((predicted[star_side == side] == side).mean()) for side in (NEGATIVE, POSITIVE) if (star_side == side).any()]
    return float(np.mean(recalls)) if recalls else float("nan")


def _rating_agreement(model, tokenizer, frame: pl.DataFrame | None, settings: SelfTrainingSettings) -> float | None:
    if frame is None or frame.height == 0:
        return None
    return rating_agreement(frame["label_index"].to_numpy(), _predict(model, tokenizer, frame, settings))


def held_out_scores(model, tokenizer, data: dict[str, pl.DataFrame], settings: SelfTrainingSettings) -> tuple[float, float | None]:
    """(held-out pseudo-label macro-F1, held-out star-rating agreement or None without rated held-out reviews)."""
    return (_score(model, tokenizer, data["holdout"], settings),
            _rating_agreement(model, tokenizer, data.get("rated_holdout"), settings))


def selection_score(pseudo_label_f1: float, agreement: float | None, settings: SelfTrainingSettings) -> float:
    """What picks the best weights and stops the rounds: pseudo-label macro-F1 and rating agreement, weighted."""
    if agreement is None:
        return pseudo_label_f1
    return (1 - settings.rating_weight) * pseudo_label_f1 + settings.rating_weight * agreement


def _pseudo_label_pool(model, tokenizer, pool: pl.DataFrame, settings: SelfTrainingSettings, round_index: int) -> pl.DataFrame:
    sample = pool.sample(n=min(settings.pool_rows, pool.height), shuffle=True, seed=settings.seed + round_index)
    if sample.height == 0:
        return sample
    probabilities = predict_proba(model, tokenizer, sample["text"].to_list(), sample["aspect"].to_list(),
                                  batch_size=settings.inference_batch_size, max_length=settings.max_length)
    sample = sample.with_columns(pl.Series("label_index", probabilities.argmax(axis=1), dtype=pl.Int64),
                                 pl.Series("confidence", probabilities.max(axis=1), dtype=pl.Float64))
    confident = sample.filter(pl.col("confidence") >= settings.self_training_threshold)
    per_class = settings.add_per_round // len(LABELS)
    return confident.sort("confidence", descending=True).group_by("label_index", maintain_order=True).head(per_class)


class _SelfTraining:
    """One self-training run between its steps: the prepared model and optimizer, the checkpoint's state dict
    (`state`: round, epoch, step, best score, history), the training rows and the best weights so far."""

    def __init__(self, run: TrainingRun, model, tokenizer, data: dict[str, pl.DataFrame], settings: SelfTrainingSettings) -> None:
        import torch

        self.run, self.tokenizer, self.data, self.settings = run, tokenizer, data, settings
        torch.manual_seed(settings.seed)
        self.trainable = [p for p in model.parameters() if p.requires_grad]
        self.model, self.optimizer = run.accelerator.prepare(model, adamw(self.trainable, settings.optimizer))
        self.unwrapped = run.accelerator.unwrap_model(self.model)
        self.budget = settings.rows_per_round(data["candidates"].height)
        self.best_state: dict | None = None
        self.resumed_from: dict | None = None
        resumed = run.resume(self.unwrapped, self.optimizer)
        if resumed is not None:
            self._resume(*resumed)
        else:
            self._start()

    def _start(self) -> None:
        settings = self.settings
        self.train_set = balanced_sample(self.data["candidates"], self.budget, settings.seed, settings.aspect_share).with_columns(
            pl.lit(0, pl.Int64).alias("joined_round"))
        self.state = {"round": 0, "epoch": 0, "step": 0, "best_score": -1.0, "best_selection": -1.0, "best_round": -1, "history": [], "steps_total": 0}
        if self.train_set.height == 0:
            raise ValueError(f"no training rows: no pseudo-label of a fit review reaches confidence {settings.min_confidence}")
        log.info(f"Round 0: {self.train_set.height:,} confident pseudo-labels "
                 f"({self.train_set.group_by('level', 'label_index').len().sort('level', 'label_index').rows()})")

    def _resume(self, state: dict, folder: Path) -> None:
        from safetensors.torch import load_file

        if (folder / "best.safetensors").exists():
            self.best_state = load_file(str(folder / "best.safetensors"))
        self.train_set = pl.read_parquet(folder / "train_set.parquet")
        self.resumed_from = {**{k: state[k] for k in ("round", "epoch", "step")}, **self.run.earlier}
        log.info(f"Resuming training from round {state['round']}, epoch {state['epoch']}, step {state['step']} ({folder})")
        if state.get("processes", 1) != self.run.processes:  # its step counts another number of shards: redo the epoch
            log.info(f"The checkpoint was written by {state.get('processes', 1)} training processes, this run has "
                     f"{self.run.processes}: epoch {state['epoch']} starts again")
            state["step"] = 0
        self.state = state

    def save(self) -> None:
        from safetensors.torch import save_file

        def write(folder: Path) -> None:
            if self.best_state is not None:
                save_file(self.best_state, str(folder / "best.safetensors"))
            self.train_set.write_parquet(folder / "train_set.parquet")

        self.run.save(self.unwrapped, self.optimizer, self.state, write)

    def add_pool_rows(self, round_index: int) -> None:
        """Labels a sample of the pool with the current model (main process) and adds the confident predictions."""
        unseen = lambda: self.data["pool"].filter(~pl.col("item_id").is_in(self.train_set["item_id"].implode()))
        added = self.run.agree(_pseudo_label_pool(self.unwrapped, self.tokenizer, unseen(), self.settings, round_index)
                               if self.run.main else None)
        self.train_set = pl.concat([self.train_set, added.with_columns(pl.lit(round_index, pl.Int64).alias("joined_round"))
                                    .select(self.train_set.columns)])
        self.state["pool_added"] = added.height
        log.info(f"Round {round_index}: added {added.height:,} self-labelled pool rows at confidence >= "
                 f"{self.settings.self_training_threshold} (now {self.train_set.height:,} training rows)")
        self.save()

    def train_epoch(self, round_set: pl.DataFrame, round_index: int, progress: Progress, losses: list[float]) -> None:
        """The epoch `state` is at, from its step on: this process's shard of the epoch's batches."""
        settings, state, run, batch_size = self.settings, self.state, self.run, self.settings.optimizer.batch_size
        epoch = state["epoch"]
        lengths, is_pair = round_set["text"].str.len_chars().to_numpy(), round_set["aspect"].is_not_null().to_numpy()
        steps_per_epoch = len(shard(task_batches(lengths, is_pair, batch_size, np.random.default_rng(0)), run.rank, run.processes))
        total_steps = steps_per_epoch * settings.epochs_per_round
        warmup = max(1, math.ceil(total_steps * settings.warmup_fraction))
        rng = np.random.default_rng([settings.seed, round_index, epoch])
        batches = shard(task_batches(lengths, is_pair, batch_size, rng), run.rank, run.processes)
        noise = settings.word_dropout if round_index > 0 else 0.0
        self.model.train()
        for step in range(state["step"], len(batches)):
            loss = self._loss(round_set, batches[step], is_pair, noise, rng)
            done = epoch * steps_per_epoch + step
            run.step(self.optimizer, loss, self.trainable, warmup_then_linear_decay(
                settings.optimizer.learning_rate, done, total_steps, warmup), settings.optimizer.max_grad_norm)
            losses.append(float(loss.detach()))
            progress.add(batch_size)
            state["step"] = step + 1
            state["steps_total"] += 1
            if progress.due():
                progress.log(f"round {round_index} epoch {epoch} step {step + 1}/{len(batches)}: loss {np.mean(losses[-50:]):.4f}",
                             total_steps - done - 1)
            if state["step"] % settings.checkpoint_every_steps == 0 and state["step"] < len(batches):
                self.save()

    def _loss(self, round_set: pl.DataFrame, index: np.ndarray, is_pair: np.ndarray, noise: float, rng: np.random.Generator):
        import torch

        texts = _word_dropout([round_set["text"][int(i)] or "" for i in index], noise, rng)
        aspects = [round_set["aspect"][int(i)] for i in index] if is_pair[index[0]] else None
        batch = encode(self.tokenizer, texts, aspects, self.settings.max_length)
        labels = torch.as_tensor(round_set["label_index"].to_numpy()[index], dtype=torch.long)
        device = self.run.accelerator.device
        return self.model(**{k: v.to(device) for k, v in batch.items()}, labels=labels.to(device)).loss

    def evaluate(self, round_index: int) -> None:
        """Held-out pseudo-label macro-F1 and star-rating agreement after an epoch (main process); the best weights by
        their weighted mean (`selection_score`) are kept."""
        state = self.state
        pseudo, agreement = self.run.agree(held_out_scores(self.unwrapped, self.tokenizer, self.data, self.settings) if self.run.main else None)
        score = selection_score(pseudo, agreement, self.settings)
        if score > state.get("best_selection", state["best_score"]):
            state["best_selection"], state["best_score"], state["best_round"] = score, pseudo, round_index
            state["best_rating_agreement"] = agreement
            self.best_state = trainable_state(self.unwrapped)
        log.info(f"round {round_index} epoch {state['epoch']}: held-out pseudo-label macro-F1 {pseudo:.4f}, star-rating agreement "
                 f"{'n/a' if agreement is None else f'{agreement:.4f}'} (selection {score:.4f}, best {state['best_selection']:.4f})")
        state["epoch"], state["step"], state["last_score"], state["last_rating_agreement"] = state["epoch"] + 1, 0, pseudo, agreement
        self.save()

    def round_summary(self, round_index: int, round_set: pl.DataFrame, losses: list[float], progress: Progress) -> dict:
        state = self.state
        return {"round": round_index, "train_rows": round_set.height, "labelled_rows": self.train_set.height,
                "added_rows": state.get("pool_added", 0), "steps": state["steps_total"],
                "train_loss": float(np.mean(losses)) if losses else None, "heldout_macro_f1": state.get("last_score"),
                "heldout_rating_agreement": state.get("last_rating_agreement"),
                "seconds": round(progress.seconds(), 1)}

    def finish(self) -> TrainingResult:
        """The best weights loaded, the model handed back plain, the checkpoints removed."""
        if self.best_state is not None:
            load_trainable(self.unwrapped, self.best_state)
        state = self.state
        result = TrainingResult(best_score=state["best_score"], best_round=state["best_round"], history=state["history"],
                                train_rows=self.train_set.height, steps=state["steps_total"], resumed_from=self.resumed_from,
                                processes=self.run.processes, best_rating_agreement=state.get("best_rating_agreement"),
                                best_selection_score=state.get("best_selection"))
        self.run.finish(self.model)
        return result


def self_train(model, tokenizer, data: dict[str, pl.DataFrame], settings: SelfTrainingSettings, work_dir: Path,
               accelerator=None) -> TrainingResult:
    """Trains `model` (its parameters with requires_grad) in place and leaves the best weights loaded.

    `data`: `split_pseudo_labels` output. `work_dir`: this run's checkpoint folder (its name should
    fingerprint the data and settings); removed when training completes. Run in several processes (see
    `self_train_on_devices`), each trains on its shard of the batches and the main process decides and writes.
    """
    run = TrainingRun(work_dir, accelerator)
    loop = _SelfTraining(run, model, tokenizer, data, settings)
    state = loop.state
    while state["round"] < settings.rounds:
        round_index = state["round"]
        if round_index > 0 and state["epoch"] == 0 and state["step"] == 0 and not state.get("pool_added"):
            loop.add_pool_rows(round_index)
        round_set = _round_rows(loop.train_set, round_index, settings, loop.budget)
        progress, losses = Progress("rows"), []
        while state["epoch"] < settings.epochs_per_round:
            loop.train_epoch(round_set, round_index, progress, losses)
            loop.evaluate(round_index)
            if run.out_of_time(settings.max_train_minutes):
                break
        state["history"].append(loop.round_summary(round_index, round_set, losses, progress))
        improved, out_of_time = state["best_round"] == round_index, run.out_of_time(settings.max_train_minutes)
        state.update({"round": round_index + 1, "epoch": 0, "step": 0, "pool_added": 0})
        loop.save()
        if out_of_time:
            log.info(f"Stopping after round {round_index}: the {settings.max_train_minutes} min training budget is spent")
            break
        if round_index > 0 and not improved:
            log.info(f"Stopping after round {round_index}: held-out pseudo-label macro-F1 did not improve")
            break
    return loop.finish()


def self_train_on_devices(model, tokenizer, data: dict[str, pl.DataFrame], settings: SelfTrainingSettings, work_dir: Path,
                          processes: int | None = None) -> TrainingResult:
    """`self_train` on every visible GPU, one process each, or in this process where there is one GPU or none
    (`training_loop.on_devices`); the trained weights end up in `model` either way."""
    return on_devices(self_train, model, (tokenizer, data, settings, work_dir), TrainingResult, processes)
