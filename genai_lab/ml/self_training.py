"""Iterative self-training on pseudo-labels, resumable from checkpoints; shared by both model arms.

Round 0 trains on confident pseudo-labels. Each later round labels a sample of the unlabelled pool
with the current model and adds only predictions above a threshold, at most the same number per
class, and trains on them plus a replay sample of earlier rows (at most `max_train_rows` a round,
which bounds the cost) with dropout and word-dropout noise (a noisy student). After every epoch the
model is scored on held-out pseudo-labels (never on gold); the best weights win, and rounds stop
when one brings no improvement.

Checkpoints (every `checkpoint_every_steps` and at each epoch end) hold the trainable weights, the
optimizer state (safetensors, nothing pickled), the training set and the loop position, so a killed
run continues where it stopped when it is started again with the same data and settings.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from genai_lab.evaluation.statistics import macro_f1
from genai_lab.hashing import map_distinct
from genai_lab.ml.classifier import LABELS, encode, predict_proba, task_batches
from genai_lab.ml.cost import process_cpu_seconds
from genai_lab.settings import StrictConfig

log = logging.getLogger(__name__)

#: columns of the frames `self_train` takes: `aspect` null = review-level (single text) input
ITEM_COLUMNS = ("item_id", "text", "aspect")


class SelfTrainingSettings(StrictConfig):
    """The recipe and its budget. `max_train_rows` is the cap that keeps the whole graph within its time budget."""

    seed: int = 0
    #: tokens per input (reviews longer than this are cut; the opening carries most of the tone)
    max_length: int = 64
    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    #: share of each round's steps spent warming the learning rate up (then linear decay to zero)
    warmup_fraction: float = 0.1
    max_grad_norm: float = 1.0
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
    min_train_rows: int = 800
    train_rows_share: float = 0.02
    aspect_share: float = 0.5
    #: rounds in all (round 0 + self-training rounds) and epochs per round
    rounds: int = 3
    epochs_per_round: int = 1
    #: later rounds: pool rows the model labels, the confidence a prediction needs to join, and the
    #: most rows added per round (evenly per class)
    pool_rows: int = 3000
    self_training_threshold: float = 0.9
    add_per_round: int = 900
    #: noise on the student in self-training rounds: each word dropped with this probability
    word_dropout: float = 0.1
    #: reviews whose hash falls in this share are held out (with all their aspect rows) for early stopping
    holdout_fraction: float = 0.1
    holdout_rows: int = 800
    checkpoint_every_steps: int = 50
    #: stop starting new epochs after this many minutes of training (None: no time cap). 7 does not
    #: bind where the CPU has bf16 (three rounds on the shared reviews in ~6 min); on an AVX2-only CPU
    #: the rows cost 4 min a round and the third round, worth +0.001 held-out macro-F1 there, is skipped
    max_train_minutes: float | None = 7.0
    inference_batch_size: int = 64

    def rows_per_round(self, candidates: int) -> int:
        """The round budget for this many confident candidates (see `max_train_rows`)."""
        return min(self.max_train_rows, max(self.min_train_rows, round(self.train_rows_share * candidates)))


@dataclass
class TrainingResult:
    best_score: float
    best_round: int
    history: list[dict] = field(default_factory=list)
    train_rows: int = 0
    steps: int = 0
    resumed_from: dict | None = None
    #: data-parallel training processes (one per GPU); `steps` counts one process's steps
    processes: int = 1


def _stable_fraction(keys: pl.Series) -> pl.Series:
    """A number in [0, 1) per key, the same on every run, machine and library version.

    Not `Series.hash`: polars keeps that stable only within one version, and a held-out set that moves
    on an upgrade would hold the champion's own training rows when it is re-scored against a candidate.
    """
    return map_distinct(keys, lambda key: int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big")
                        % 10_000 / 10_000, pl.Float64, default=0.0)


def split_pseudo_labels(pseudo_labels: pl.DataFrame, settings: SelfTrainingSettings) -> dict[str, pl.DataFrame]:
    """Training candidates, held-out rows and the unlabelled pool from a `pseudo_labels` table.

    Only rows fit for training take part. Held-out: rows of reviews whose hash falls in
    `holdout_fraction`, labelled (not abstained). Pool: the remaining rows that are not training
    candidates. Each frame has ITEM_COLUMNS plus `label_index`, `confidence`, `level`.
    """
    frame = pseudo_labels.filter(pl.col("fit_for_training").fill_null(False)).select(
        pl.when(pl.col("level") == "aspect").then(pl.format("{}#{}", "review_id", "mention_index")).otherwise("review_id").alias("item_id"),
        "text", pl.when(pl.col("level") == "aspect").then(pl.col("aspect_term")).alias("aspect"),
        pl.col("label_index").cast(pl.Int64), "confidence", "level", "abstained", "review_id",
    ).sort("item_id", "level", "text", "label_index", "confidence", nulls_last=True)  # a warehouse read has no row order; the splits must not depend on one
    held_out = _stable_fraction(frame["review_id"]) < settings.holdout_fraction
    frame = frame.with_columns(held_out.alias("held_out"))
    labelled = ~pl.col("abstained") & (pl.col("label_index") >= 0)
    holdout = frame.filter(pl.col("held_out") & labelled).sample(fraction=1.0, shuffle=True, seed=settings.seed).head(settings.holdout_rows)
    rest = frame.filter(~pl.col("held_out"))
    candidates = rest.filter(labelled & (pl.col("confidence") >= settings.min_confidence))
    pool = rest.filter(~(labelled & (pl.col("confidence") >= settings.min_confidence)))
    keep = [*ITEM_COLUMNS, "label_index", "confidence", "level"]
    return {"candidates": candidates.select(keep), "holdout": holdout.select(keep), "pool": pool.select(keep)}


def balanced_sample(frame: pl.DataFrame, total: int, seed: int, aspect_share: float | None = None) -> pl.DataFrame:
    """At most `total` rows, evenly per class (and, with `aspect_share`, split between the two tasks first)."""
    if frame.height == 0 or total <= 0:
        return frame.head(0)
    if aspect_share is not None:
        aspect_total = round(total * aspect_share)
        parts = [balanced_sample(frame.filter(pl.col("level") == level), n, seed)
                 for level, n in (("review", total - aspect_total), ("aspect", aspect_total))]
        return pl.concat(parts)
    per_class = total // len(LABELS)
    return frame.sample(fraction=1.0, shuffle=True, seed=seed).group_by("label_index", maintain_order=True).head(per_class)


def _word_dropout(texts: list[str], p: float, rng: np.random.Generator) -> list[str]:
    if p <= 0:
        return texts
    noisy = []
    for text in texts:
        words = text.split()
        kept = [w for w, keep in zip(words, rng.random(len(words)) >= p, strict=True) if keep]
        noisy.append(" ".join(kept) if kept else text)
    return noisy


# ---- checkpoints: safetensors + JSON + parquet, nothing pickled --------------------------------


def _trainable_state(model) -> dict:
    return {name: p.detach().cpu().contiguous().clone() for name, p in model.named_parameters() if p.requires_grad}


def _load_trainable(model, state: dict) -> None:
    params = dict(model.named_parameters())
    missing = [name for name, p in params.items() if p.requires_grad and name not in state]
    if missing:
        raise ValueError(f"checkpoint lacks trainable parameters {missing[:5]}; it belongs to another model")
    import torch

    with torch.no_grad():
        for name, tensor in state.items():
            params[name].copy_(tensor.to(params[name].device))


def save_optimizer_state(optimizer, path: Path) -> None:
    from safetensors.torch import save_file

    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, slots in state["state"].items():
        for key, value in slots.items():
            if hasattr(value, "shape"):
                tensors[f"{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{index}.{key}"] = value
    save_file(tensors, str(path / "optimizer.safetensors"))
    (path / "optimizer.json").write_text(json.dumps({"param_groups": state["param_groups"], "scalars": scalars}))


def load_optimizer_state(optimizer, path: Path) -> None:
    from safetensors.torch import load_file

    meta = json.loads((path / "optimizer.json").read_text())
    slots: dict[int, dict] = {}
    for name, tensor in load_file(str(path / "optimizer.safetensors")).items():
        index, key = name.split(".", 1)
        slots.setdefault(int(index), {})[key] = tensor
    for name, value in meta["scalars"].items():
        index, key = name.split(".", 1)
        slots.setdefault(int(index), {})[key] = value
    optimizer.load_state_dict({"state": slots, "param_groups": meta["param_groups"]})


def swap_in_checkpoint(folder: Path, write) -> None:
    """`write(staging)` fills a new checkpoint beside the last one, then it is swapped in: a kill at any point
    leaves a whole checkpoint as `checkpoint` or `checkpoint.old` (see `latest_checkpoint`)."""
    staging = folder / "checkpoint.new"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    write(staging)
    current, old = folder / "checkpoint", folder / "checkpoint.old"
    shutil.rmtree(old, ignore_errors=True)
    if current.exists():
        current.rename(old)
    staging.rename(current)
    shutil.rmtree(old, ignore_errors=True)


def latest_checkpoint(folder: Path, last_file: str) -> Path | None:
    """The checkpoint `swap_in_checkpoint` left, by the file its writer writes last; None when there is none."""
    for name in ("checkpoint", "checkpoint.old"):  # .old survives a kill between the two renames
        candidate = folder / name
        if (candidate / last_file).exists():
            return candidate
    return None


POSITION_FILE = "position.json"


def _write_checkpoint(folder: Path, model, optimizer, best_state: dict | None, train_set: pl.DataFrame, position: dict) -> None:
    from safetensors.torch import save_file

    def write(staging: Path) -> None:
        save_file(_trainable_state(model), str(staging / "trainable.safetensors"))
        if best_state is not None:
            save_file(best_state, str(staging / "best.safetensors"))
        save_optimizer_state(optimizer, staging)
        train_set.write_parquet(staging / "train_set.parquet")
        (staging / POSITION_FILE).write_text(json.dumps(position))

    swap_in_checkpoint(folder, write)


# ---- the loop ----------------------------------------------------------------------------------


def _learning_rate(settings: SelfTrainingSettings, step: int, total: int) -> float:
    warmup = max(1, math.ceil(total * settings.warmup_fraction))
    if step < warmup:
        return settings.learning_rate * (step + 1) / warmup
    return settings.learning_rate * max(0.0, (total - step) / max(1, total - warmup))


def _round_rows(train_set: pl.DataFrame, round_index: int, settings: SelfTrainingSettings, budget: int) -> pl.DataFrame:
    """What a round trains on: the rows it added, plus a replay sample of earlier rows up to `budget` rows."""
    new = train_set.filter(pl.col("joined_round") == round_index)
    earlier = train_set.filter(pl.col("joined_round") < round_index)
    replay = earlier.sample(n=min(earlier.height, max(0, budget - new.height)), seed=settings.seed + round_index)
    return pl.concat([new, replay])


def _score(model, tokenizer, frame: pl.DataFrame, settings: SelfTrainingSettings) -> float:
    if frame.height == 0:
        return 0.0
    probabilities = predict_proba(model, tokenizer, frame["text"].to_list(), frame["aspect"].to_list(),
                                  batch_size=settings.inference_batch_size, max_length=settings.max_length)
    return macro_f1(frame["label_index"].to_numpy(), probabilities.argmax(axis=1))


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


def self_train(model, tokenizer, data: dict[str, pl.DataFrame], settings: SelfTrainingSettings, work_dir: Path,
               accelerator=None) -> TrainingResult:
    """Trains `model` (its parameters with requires_grad) in place and leaves the best weights loaded.

    `data`: `split_pseudo_labels` output. `work_dir`: this run's checkpoint folder (its name should
    fingerprint the data and settings); removed when training completes. Run in several processes (see
    `self_train_on_devices`), each trains on its shard of the batches and the main process decides and writes.
    """
    import torch

    from genai_lab.ml.parallel import agree, shard
    from genai_lab.ml.precision import training_accelerator

    accelerator = accelerator or training_accelerator()
    processes, rank, main = accelerator.num_processes, accelerator.process_index, accelerator.is_main_process
    work_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(settings.seed)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=settings.learning_rate, weight_decay=settings.weight_decay)
    model, optimizer = accelerator.prepare(model, optimizer)

    budget = settings.rows_per_round(data["candidates"].height)
    checkpoint = latest_checkpoint(work_dir, POSITION_FILE)
    best_state: dict | None = None
    if checkpoint is not None:
        from safetensors.torch import load_file

        position = json.loads((checkpoint / "position.json").read_text())
        _load_trainable(accelerator.unwrap_model(model), load_file(str(checkpoint / "trainable.safetensors")))
        load_optimizer_state(optimizer, checkpoint)
        if (checkpoint / "best.safetensors").exists():
            best_state = load_file(str(checkpoint / "best.safetensors"))
        train_set = pl.read_parquet(checkpoint / "train_set.parquet")
        resumed_from = {**{k: position[k] for k in ("round", "epoch", "step")},
                        "train_seconds": position["elapsed_s"], "cpu_seconds": position.get("cpu_s", 0.0)}
        log.info(f"Resuming training from round {position['round']}, epoch {position['epoch']}, step {position['step']} ({checkpoint})")
        if position.get("processes", 1) != processes:  # its step counts another number of shards: redo the epoch
            log.info(f"The checkpoint was written by {position.get('processes', 1)} training processes, this run has "
                     f"{processes}: epoch {position['epoch']} starts again")
            position["step"] = 0
    else:
        train_set = balanced_sample(data["candidates"], budget, settings.seed, settings.aspect_share).with_columns(
            pl.lit(0, pl.Int64).alias("joined_round"))
        position = {"round": 0, "epoch": 0, "step": 0, "best_score": -1.0, "best_round": -1, "history": [],
                    "rounds_done": 0, "steps_total": 0, "elapsed_s": 0.0}
        resumed_from = None
        if train_set.height == 0:
            raise ValueError(f"no training rows: no pseudo-label of a fit review reaches confidence {settings.min_confidence}")
        log.info(f"Round 0: {train_set.height:,} confident pseudo-labels "
                 f"({train_set.group_by('level', 'label_index').len().sort('level', 'label_index').rows()})")

    started = time.monotonic() - position["elapsed_s"]
    cpu_started = process_cpu_seconds() - position.get("cpu_s", 0.0)
    unwrapped = accelerator.unwrap_model(model)

    def save(pos: dict) -> None:
        pos["elapsed_s"] = time.monotonic() - started
        pos["cpu_s"] = process_cpu_seconds() - cpu_started  # with elapsed_s, the cost a resumed run carries forward
        pos["processes"] = processes
        if main:  # the replicas hold the same weights and optimizer state
            _write_checkpoint(work_dir, unwrapped, optimizer, best_state, train_set, pos)
        accelerator.wait_for_everyone()

    def budget_spent() -> bool:  # by the main process's clock, for every process alike
        return agree(accelerator, settings.max_train_minutes is not None
                     and (time.monotonic() - started) / 60 >= settings.max_train_minutes)

    while position["round"] < settings.rounds:
        round_index = position["round"]
        if round_index > 0 and position["epoch"] == 0 and position["step"] == 0 and not position.get("pool_added"):
            added = agree(accelerator, _pseudo_label_pool(
                unwrapped, tokenizer, data["pool"].filter(~pl.col("item_id").is_in(train_set["item_id"].implode())), settings,
                round_index) if main else None)
            train_set = pl.concat([train_set, added.with_columns(pl.lit(round_index, pl.Int64).alias("joined_round")).select(train_set.columns)])
            position["pool_added"] = added.height
            log.info(f"Round {round_index}: added {added.height:,} self-labelled pool rows at confidence >= "
                     f"{settings.self_training_threshold} (now {train_set.height:,} training rows)")
            save(position)
        round_set = _round_rows(train_set, round_index, settings, budget)
        lengths = round_set["text"].str.len_chars().to_numpy()
        is_pair = round_set["aspect"].is_not_null().to_numpy()
        noise = settings.word_dropout if round_index > 0 else 0.0
        steps_per_epoch = len(shard(task_batches(lengths, is_pair, settings.batch_size, np.random.default_rng(0)), rank, processes))
        total_steps = steps_per_epoch * settings.epochs_per_round
        round_started, losses = time.monotonic(), []
        while position["epoch"] < settings.epochs_per_round:
            epoch = position["epoch"]
            rng = np.random.default_rng([settings.seed, round_index, epoch])
            batches = shard(task_batches(lengths, is_pair, settings.batch_size, rng), rank, processes)
            model.train()
            reported = time.monotonic()
            for step in range(position["step"], len(batches)):
                index = batches[step]
                texts = _word_dropout([round_set["text"][int(i)] or "" for i in index], noise, rng)
                aspects = [round_set["aspect"][int(i)] for i in index] if is_pair[index[0]] else None
                batch = encode(tokenizer, texts, aspects, settings.max_length)
                labels = torch.as_tensor(round_set["label_index"].to_numpy()[index], dtype=torch.long)
                batch = {k: v.to(accelerator.device) for k, v in batch.items()}
                for group in optimizer.param_groups:
                    group["lr"] = _learning_rate(settings, epoch * steps_per_epoch + step, total_steps)
                loss = model(**batch, labels=labels.to(accelerator.device)).loss
                accelerator.backward(loss)
                accelerator.clip_grad_norm_(trainable, settings.max_grad_norm)
                optimizer.step()
                optimizer.zero_grad()
                losses.append(float(loss.detach()))
                position["step"] = step + 1
                position["steps_total"] += 1
                if time.monotonic() - reported > 30:
                    log.info(f"round {round_index} epoch {epoch} step {step + 1}/{len(batches)}: loss "
                             f"{np.mean(losses[-50:]):.4f}, {settings.batch_size * len(losses) / (time.monotonic() - round_started):.1f} rows/s")
                    reported = time.monotonic()
                if position["step"] % settings.checkpoint_every_steps == 0 and position["step"] < len(batches):
                    save(position)
            score = agree(accelerator, _score(unwrapped, tokenizer, data["holdout"], settings) if main else None)
            if score > position["best_score"]:
                position["best_score"], position["best_round"] = score, round_index
                best_state = _trainable_state(unwrapped)
            log.info(f"round {round_index} epoch {epoch}: held-out pseudo-label macro-F1 {score:.4f} (best {position['best_score']:.4f})")
            position["epoch"], position["step"] = epoch + 1, 0
            position["last_score"] = score
            save(position)
            if budget_spent():
                break
        position["history"].append({
            "round": round_index, "train_rows": round_set.height, "labelled_rows": train_set.height, "added_rows": position.get("pool_added", 0),
            "steps": position["steps_total"], "train_loss": float(np.mean(losses)) if losses else None,
            "heldout_macro_f1": position.get("last_score"), "seconds": round(time.monotonic() - round_started, 1)})
        improved = position["best_round"] == round_index
        out_of_time = budget_spent()
        position.update({"round": round_index + 1, "epoch": 0, "step": 0, "pool_added": 0})
        save(position)
        if out_of_time:
            log.info(f"Stopping after round {round_index}: the {settings.max_train_minutes} min training budget is spent")
            break
        if round_index > 0 and not improved:
            log.info(f"Stopping after round {round_index}: held-out pseudo-label macro-F1 did not improve")
            break

    if best_state is not None:
        _load_trainable(unwrapped, best_state)
    # the caller gets its model back as a plain module: no device wrapper, no mixed-precision forward
    accelerator.unwrap_model(model, keep_fp32_wrapper=False)
    result = TrainingResult(best_score=position["best_score"], best_round=position["best_round"], history=position["history"],
                            train_rows=train_set.height, steps=position["steps_total"], resumed_from=resumed_from, processes=processes)
    accelerator.wait_for_everyone()
    if main:
        shutil.rmtree(work_dir, ignore_errors=True)
    return result


def _self_train_process(model, tokenizer, data: dict[str, pl.DataFrame], settings: SelfTrainingSettings, work_dir: Path,
                        result_dir: Path) -> None:
    """One data-parallel process of `self_train_on_devices`: trains, checks that every replica ended with the same
    weights, and the main process writes them and the result to `result_dir`."""
    from safetensors.torch import save_file

    from genai_lab.ml.parallel import check_replicas
    from genai_lab.ml.precision import training_accelerator

    accelerator = training_accelerator()
    result = self_train(model, tokenizer, data, settings, work_dir, accelerator=accelerator)
    state = _trainable_state(model)
    check_replicas(accelerator, state)
    if accelerator.is_main_process:
        save_file(state, str(result_dir / "trainable.safetensors"))
        (result_dir / "result.json").write_text(json.dumps(result.__dict__))


def self_train_on_devices(model, tokenizer, data: dict[str, pl.DataFrame], settings: SelfTrainingSettings, work_dir: Path,
                          processes: int | None = None) -> TrainingResult:
    """`self_train` on every visible GPU, one process each, or in this process where there is one GPU or none
    (`genai_lab.ml.parallel.on_devices`); the trained weights end up in `model` either way."""
    from safetensors.torch import load_file

    from genai_lab.ml.parallel import on_devices

    def collect(result_dir: Path) -> TrainingResult:
        _load_trainable(model, load_file(str(result_dir / "trainable.safetensors")))
        return TrainingResult(**json.loads((result_dir / "result.json").read_text()))

    return on_devices(lambda: self_train(model, tokenizer, data, settings, work_dir), _self_train_process,
                      (model, tokenizer, data, settings, work_dir), collect, processes)
