"""The skeleton both training loops stand on: self-training (`self_training.self_train`) and masked-LM pretraining
(`slm.pretrain`) keep only what is their own (rounds and pseudo-labels; masking and blocks) and take the rest here.

- `TrainingRun`: one run in one process. Its checkpoint is one folder swapped in whole (`work_dir/checkpoint`): the
  trainable weights and the optimizer state (safetensors, nothing pickled), whatever the loop adds, and last the
  loop's state, one JSON dict (`state.json`); `resume` finds the latest and loads it. It carries the budget clock
  (wall and CPU seconds, continued across a resume, so a resumed model's cost is not understated), takes the
  optimizer steps at the learning rate the loop's schedule gives, and has the main process decide for all (`agree`).
- `Progress`: a log line every 30 s with the loop's own message, units per second and the time left.
- `on_devices`: a loop on every visible GPU, one spawned process each (`genai_lab.ml.parallel`); the main process's
  weights and typed result come back into this process.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from genai_lab.config import StrictConfig
from genai_lab.ml.cost import process_cpu_seconds

log = logging.getLogger(__name__)
R = TypeVar("R")

#: written last into a checkpoint: its presence marks the checkpoint whole
STATE_FILE = "state.json"
WEIGHTS_FILE = "trainable.safetensors"
RESULT_FILE = "result.json"


class OptimizerSettings(StrictConfig):
    """AdamW and its batches, as both arms set them (each arm keeps its own warm-up and time cap)."""

    #: peak learning rate
    learning_rate: float = 1e-3
    #: AdamW weight decay
    weight_decay: float = 0.01
    #: rows (self-training) or blocks (pretraining) per batch and process
    batch_size: int = 32
    #: gradient clipping norm
    max_grad_norm: float = 1.0


def adamw(parameters, settings: OptimizerSettings, **options):
    import torch

    return torch.optim.AdamW(parameters, lr=settings.learning_rate, weight_decay=settings.weight_decay, **options)


# ---- learning-rate schedules -------------------------------------------------------------------


def warmup_then_linear_decay(peak: float, step: int, total: int, warmup: int) -> float:
    """Linear warm-up over `warmup` steps, then linear decay to zero at `total` (self-training, per round)."""
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * max(0.0, (total - step) / max(1, total - warmup))


def warmup_capped_linear_decay(peak: float, step: int, total: int, warmup: int, floor: float) -> float:
    """The lower of a linear warm-up over `warmup` steps and a linear decay from the first step that stops at
    `floor` × `peak` (pretraining, whose `total` is where its time cap is projected to stop it)."""
    return peak * min(min(1.0, (step + 1) / warmup), max(floor, 1 - step / total))


# ---- checkpoints: safetensors + JSON, nothing pickled ------------------------------------------


def trainable_state(model) -> dict:
    return {name: p.detach().cpu().contiguous().clone() for name, p in model.named_parameters() if p.requires_grad}


def load_trainable(model, state: dict) -> None:
    import torch

    params = dict(model.named_parameters())
    missing = [name for name, p in params.items() if p.requires_grad and name not in state]
    if missing:
        raise ValueError(f"checkpoint lacks trainable parameters {missing[:5]}; it belongs to another model")
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


def swap_in_checkpoint(folder: Path, write: Callable[[Path], None]) -> None:
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


def latest_checkpoint(folder: Path, last_file: str = STATE_FILE) -> Path | None:
    """The checkpoint `swap_in_checkpoint` left, by the file its writer writes last; None when there is none."""
    for name in ("checkpoint", "checkpoint.old"):  # .old survives a kill between the two renames
        candidate = folder / name
        if (candidate / last_file).exists():
            return candidate
    return None


# ---- the budget clock and progress -------------------------------------------------------------


class Clock:
    """Wall and CPU seconds of a run, counting those its checkpoint carried (`elapsed_s`, `cpu_s`)."""

    def __init__(self, elapsed_s: float = 0.0, cpu_s: float = 0.0) -> None:
        self.started = time.monotonic() - elapsed_s
        self.cpu_started = process_cpu_seconds() - cpu_s

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def cpu(self) -> float:
        return process_cpu_seconds() - self.cpu_started

    def spent(self, minutes: float | None) -> bool:
        return minutes is not None and self.elapsed() / 60 >= minutes


class Progress:
    """Throughput since `reset` (units per second) and a log line every `every_s` seconds with the time left."""

    def __init__(self, unit: str, every_s: float = 30.0) -> None:
        self.unit, self.every_s = unit, every_s
        self.reported = time.monotonic()
        self.reset()

    def reset(self) -> None:
        self.started, self.units, self.steps = time.monotonic(), 0, 0

    def add(self, units: int) -> None:
        self.units += units
        self.steps += 1

    def rate(self) -> float:
        return self.units / max(time.monotonic() - self.started, 1e-9)

    def seconds(self) -> float:
        return time.monotonic() - self.started

    def due(self) -> bool:
        return time.monotonic() - self.reported > self.every_s

    def log(self, message: str, steps_left: int) -> None:
        eta = steps_left * self.seconds() / max(self.steps, 1)
        log.info(f"{message}, {self.rate():,.1f} {self.unit}/s, {eta / 60:.1f} min left")
        self.reported = time.monotonic()


# ---- one run in one process --------------------------------------------------------------------


class TrainingRun:
    """The accelerator, checkpoints, clock and optimizer step of one training run in this process (one of several
    in a data-parallel run: the main process decides and writes)."""

    def __init__(self, work_dir: Path, accelerator=None) -> None:
        from genai_lab.ml.precision import training_accelerator

        self.accelerator = accelerator or training_accelerator()
        self.processes, self.rank = self.accelerator.num_processes, self.accelerator.process_index
        self.main = self.accelerator.is_main_process
        self.work_dir = work_dir
        work_dir.mkdir(parents=True, exist_ok=True)
        self.clock = Clock()
        #: what the run resumed from had cost: carried into the model's cost (`CostMeter.stop`)
        self.earlier = {"train_seconds": 0.0, "cpu_seconds": 0.0}

    def agree(self, value: R) -> R:
        """The main process's `value` on every process."""
        from genai_lab.ml.parallel import agree

        return agree(self.accelerator, value)

    def out_of_time(self, minutes: float | None) -> bool:
        """Whether `minutes` of training are spent, by the main process's clock, for every process alike."""
        return self.agree(self.clock.spent(minutes))

    def resume(self, model, optimizer) -> tuple[dict, Path] | None:
        """The latest checkpoint's state and folder, its weights and optimizer state loaded and its clock continued;
        None when there is none. Call after `accelerator.prepare`: the moments land on the parameters' device."""
        from safetensors.torch import load_file

        folder = latest_checkpoint(self.work_dir)
        if folder is None:
            return None
        state = json.loads((folder / STATE_FILE).read_text())
        load_trainable(model, load_file(str(folder / WEIGHTS_FILE)))
        load_optimizer_state(optimizer, folder)
        self.clock = Clock(state["elapsed_s"], state.get("cpu_s", 0.0))
        self.earlier = {"train_seconds": state["elapsed_s"], "cpu_seconds": state.get("cpu_s", 0.0)}
        return state, folder

    def save(self, model, optimizer, state: dict, write: Callable[[Path], None] | None = None) -> None:
        """A checkpoint of `model`'s trainable weights, the optimizer, `write(folder)`'s files and `state` (with the
        clock's seconds), by the main process: the replicas hold the same weights and optimizer state."""
        from safetensors.torch import save_file

        state.update(elapsed_s=self.clock.elapsed(), cpu_s=self.clock.cpu(), processes=self.processes)

        def write_all(staging: Path) -> None:
            save_file(trainable_state(model), str(staging / WEIGHTS_FILE))
            save_optimizer_state(optimizer, staging)
            if write is not None:
                write(staging)
            (staging / STATE_FILE).write_text(json.dumps(state))

        if self.main:
            swap_in_checkpoint(self.work_dir, write_all)
        self.accelerator.wait_for_everyone()

    def step(self, optimizer, loss, parameters, learning_rate: float, max_grad_norm: float) -> None:
        """One optimizer step on `loss` at `learning_rate`, gradients clipped (and averaged across processes)."""
        for group in optimizer.param_groups:
            group["lr"] = learning_rate
        self.accelerator.backward(loss)
        self.accelerator.clip_grad_norm_(parameters, max_grad_norm)
        optimizer.step()
        optimizer.zero_grad()

    def finish(self, prepared) -> None:
        """Hands the model back as a plain module (no device wrapper, no mixed-precision forward), waits for every
        process and removes the checkpoints."""
        self.accelerator.unwrap_model(prepared, keep_fp32_wrapper=False)
        self.accelerator.wait_for_everyone()
        if self.main:
            shutil.rmtree(self.work_dir, ignore_errors=True)


# ---- one process per GPU -----------------------------------------------------------------------


def _train_process(train: Callable, model, args: tuple, result_dir: Path) -> None:
    """One data-parallel process of `on_devices`: trains, checks that every replica ended with the same weights,
    and the main process writes them and the result to `result_dir`."""
    from safetensors.torch import save_file

    from genai_lab.ml.parallel import check_replicas
    from genai_lab.ml.precision import training_accelerator

    accelerator = training_accelerator()
    result = train(model, *args, accelerator=accelerator)
    state = trainable_state(model)
    check_replicas(accelerator, state)
    if accelerator.is_main_process:
        save_file(state, str(result_dir / WEIGHTS_FILE))
        (result_dir / RESULT_FILE).write_text(json.dumps(dataclasses.asdict(result)))


def on_devices(train: Callable[..., R], model, args: tuple, result_type: type[R], processes: int | None = None) -> R:
    """`train(model, *args)` on every visible GPU, one spawned process each, or in this process where there is one
    GPU or none; the trained weights end up in `model` either way. `train` is a module-level loop taking
    `accelerator=`; `processes` overrides the count (the tests run two CPU processes)."""
    import tempfile

    import torch
    from safetensors.torch import load_file

    from genai_lab.ml.parallel import run_in_processes, training_processes

    processes = processes or training_processes()
    if processes == 1:
        return train(model, *args)
    with tempfile.TemporaryDirectory(prefix="training_") as folder:
        run_in_processes(_train_process, (train, model, args, Path(folder)), processes, cpu=not torch.cuda.is_available())
        load_trainable(model, load_file(str(Path(folder) / WEIGHTS_FILE)))
        return result_type(**json.loads((Path(folder) / RESULT_FILE).read_text()))
