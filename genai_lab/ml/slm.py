"""The custom small language model arm: a WordPiece tokenizer and a BERT-style encoder trained from scratch.

No pretrained weight is used anywhere in this arm: the tokenizer is trained on our clean reviews,
the encoder starts from random weights and is pretrained with masked-LM on the same reviews, then
fine-tuned on the pseudo-labels with the adapter arm's self-training recipe.

Why masked-LM (not causal): the downstream tasks are classification of a whole text or a
(sentence, aspect) pair, where every token should see both sides; MLM encoders are what the
budget-pretraining work (Cramming, BabyLM's strict-small track) shows to classify best per FLOP.

Pretraining packs the reviews into blocks of `max_length` tokens (no padding is computed) and
runs for a number of minutes or steps; checkpoints every `checkpoint_every_steps` let a killed run
continue. Device placement and mixed precision come from accelerate, as in the adapter arm: a GPU with
bf16 (fp16 where bf16 is missing) where one is present, else the CPU (bf16 where it is fast).
Hardware efficiency: achieved FLOP/s (6 × non-embedding parameters × tokens/s, plus attention)
against a plain matmul on the same device.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from pathlib import Path

import numpy as np
from pydantic import Field

from genai_lab.settings import StrictConfig

log = logging.getLogger(__name__)
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

#: named encoder sizes: tiny for tests, mini the CPU default, small its four-layer form, larger ones for GPUs.
#: At this width layers, not parameters, set CPU inference speed (benchmarks/slm_shapes.py); on the shared
#: data mini matched small's gold macro-F1 (mean of five sets 0.511 and 0.509 over two seeds, against 0.509)
#: at 1.4x its throughput, so the default dropped the two layers (README, Performance)
SIZES: dict[str, dict[str, int]] = {
    "tiny": {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128},
    "mini": {"hidden_size": 192, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 768},
    "small": {"hidden_size": 192, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 768},
    "medium": {"hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 6, "intermediate_size": 1536},
    "base": {"hidden_size": 512, "num_hidden_layers": 8, "num_attention_heads": 8, "intermediate_size": 2048},
}


#: written last into a pretraining checkpoint: its presence marks the checkpoint whole
STATE_FILE = "state.json"


class SlmSettings(StrictConfig):
    """Tokenizer, model size and pretraining budget of the from-scratch arm."""

    vocab_size: int = 8000
    #: the size trained by default; `sizes` runs a ladder (each lands under `slm_classifier@<size>`)
    size: str = "mini"
    sizes: list[str] = Field(default_factory=list)
    #: the encoder's feed-forward activation (a transformers ACT2FN name). GELU is a seventh of a CPU batch's
    #: time at this width, but ReLU measured no throughput gain on trained models and equal gold quality (README)
    hidden_act: str = "gelu"
    max_length: int = 128
    mask_probability: float = 0.15
    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 100
    max_grad_norm: float = 1.0
    #: pretraining length: passes over the corpus, capped at `pretrain_minutes` (the cap keeps the
    #: 136k shared reviews within the whole graph's 30 minutes; the embedded default ends sooner);
    #: `pretrain_steps`, when set, replaces both
    pretrain_epochs: float = 1.0
    pretrain_minutes: float = 5.0
    pretrain_steps: int | None = None
    #: blocks held out for perplexity, and how often it is measured
    heldout_blocks: int = 200
    eval_every_steps: int = 200
    checkpoint_every_steps: int = 200
    seed: int = 0

    def ladder(self) -> list[str]:
        sizes = list(self.sizes) or [self.size]
        unknown = [s for s in sizes if s not in SIZES]
        if unknown:
            raise ValueError(f"unknown SLM size(s) {unknown}; known: {list(SIZES)}")
        return sizes


def train_tokenizer(texts, vocab_size: int, folder: Path):
    """A lower-casing WordPiece tokenizer trained on `texts`, saved as a standard tokenizer folder; returns it loaded."""
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import BertTokenizerFast

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS))
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tokenizer.decoder = decoders.WordPiece()
    fast = BertTokenizerFast(tokenizer_object=tokenizer)
    fast.save_pretrained(str(folder))
    return fast


def model_config(size: str, tokenizer, max_length: int, hidden_act: str | None = None):
    from transformers import BertConfig
    from transformers.activations import ACT2FN

    hidden_act = hidden_act or SlmSettings.model_fields["hidden_act"].default
    if size not in SIZES:
        raise ValueError(f"unknown SLM size '{size}'; known: {list(SIZES)}")
    if hidden_act not in ACT2FN:
        raise ValueError(f"unknown SLM activation '{hidden_act}'; known: {sorted(ACT2FN)}")
    return BertConfig(vocab_size=len(tokenizer), max_position_embeddings=max_length, pad_token_id=tokenizer.pad_token_id,
                      type_vocab_size=2, hidden_act=hidden_act, **SIZES[size])


def pack_blocks(tokenizer, texts: list[str], block: int) -> np.ndarray:
    """Token ids of every text ([CLS] text [SEP]) laid end to end and cut into rows of `block` tokens."""
    ids = tokenizer(texts, add_special_tokens=True, truncation=False)["input_ids"]
    flat = np.fromiter((token for row in ids for token in row), dtype=np.int64)
    rows = len(flat) // block
    return flat[: rows * block].reshape(rows, block)


def mask_tokens(ids, tokenizer, probability: float, generator):
    """BERT masking: of the chosen tokens 80% become [MASK], 10% a random token, 10% stay; labels -100 elsewhere."""
    import torch

    labels = ids.clone()
    special = ids <= max(tokenizer.convert_tokens_to_ids(SPECIAL_TOKENS))
    chosen = (torch.rand(ids.shape, generator=generator) < probability) & ~special
    labels[~chosen] = -100
    inputs = ids.clone()
    to_mask = chosen & (torch.rand(ids.shape, generator=generator) < 0.8)
    inputs[to_mask] = tokenizer.mask_token_id
    to_random = chosen & ~to_mask & (torch.rand(ids.shape, generator=generator) < 0.5)
    inputs[to_random] = torch.randint(len(SPECIAL_TOKENS), len(tokenizer), ids.shape, generator=generator)[to_random]
    return inputs, labels


def matmul_flops(size: int = 1024, seconds: float = 2.0, device: str = "cpu") -> float:
    """FLOP/s of a plain matmul on `device`, in the precision training computes in there: the ceiling tokens/s is measured against."""
    import torch

    from genai_lab.ml.precision import training_dtype

    device_type = torch.device(device).type
    dtype = training_dtype(device_type)
    a, b = torch.randn(size, size, dtype=dtype, device=device), torch.randn(size, size, dtype=dtype, device=device)

    def wait() -> None:  # GPU kernels return before they finish
        if device_type == "cuda":
            torch.cuda.synchronize(device)

    torch.matmul(a, b)
    wait()
    runs, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        torch.matmul(a, b)
        runs += 1
        if runs % 16 == 0:
            wait()
    wait()
    return 2 * size**3 * runs / (time.perf_counter() - started)


def flops_per_token(config) -> float:
    """Training FLOPs per token: 6 × non-embedding parameters plus attention scores (Kaplan et al. 2020)."""
    hidden, layers, ffn = config.hidden_size, config.num_hidden_layers, config.intermediate_size
    non_embedding = layers * (4 * hidden * hidden + 2 * hidden * ffn)
    return 6 * non_embedding + 6 * layers * config.max_position_embeddings * hidden


def masked_lm_objective(model):
    """`model` (a `BertForMaskedLM`) inside a module whose forward is `mlm_loss`: what accelerate prepares. `mlm_loss`
    calls the encoder and the head directly, past the model's own forward, where accelerate puts its autocast."""
    import torch

    class MaskedLmObjective(torch.nn.Module):
        def __init__(self, masked_lm) -> None:
            super().__init__()
            self.masked_lm = masked_lm

        def forward(self, inputs, labels):
            return mlm_loss(self.masked_lm, inputs, labels)

    return MaskedLmObjective(model)


def mlm_loss(model, inputs, labels):
    """Masked-LM loss with the vocabulary projection applied to the masked positions only.

    `BertForMaskedLM` projects every position onto the vocabulary; with 15% masked, 85% of that
    work (more than the whole encoder of the mini size, at an 8k vocabulary) is thrown away.
    """
    import torch

    hidden = model.bert(input_ids=inputs).last_hidden_state
    chosen = labels != -100
    logits = model.cls(hidden[chosen])
    return torch.nn.functional.cross_entropy(logits, labels[chosen])


def _heldout_loss(model, blocks: np.ndarray, tokenizer, settings: SlmSettings, device="cpu") -> float:
    import torch

    model.eval()
    generator = torch.Generator().manual_seed(settings.seed + 1)  # the same masks every evaluation
    losses = []
    with torch.inference_mode():
        for start in range(0, len(blocks), settings.batch_size):
            ids = torch.as_tensor(blocks[start:start + settings.batch_size])
            inputs, labels = mask_tokens(ids, tokenizer, settings.mask_probability, generator)
            losses.append(float(mlm_loss(model, inputs.to(device), labels.to(device))))
    model.train()
    return float(np.mean(losses)) if losses else float("nan")


def pretrain(model, tokenizer, texts: list[str], settings: SlmSettings, work_dir: Path, accelerator=None) -> dict:
    """Masked-LM pretraining in place on `accelerator`'s device (default `training_accelerator()`: a GPU where
    present, else the CPU); resumes from `work_dir`'s checkpoint. Returns the evaluation history and speed.

    Run in several processes (see `pretrain_on_devices`), each step trains on one batch per process (a global batch
    of `batch_size` × processes), and the main process decides when to stop, evaluates and writes. Tokens and
    tokens/s count every process.
    """
    import torch
    from safetensors.torch import load_model, save_model

    from genai_lab.ml.cost import process_cpu_seconds
    from genai_lab.ml.parallel import agree
    from genai_lab.ml.precision import training_accelerator
    from genai_lab.ml.self_training import latest_checkpoint, load_optimizer_state, save_optimizer_state, swap_in_checkpoint

    accelerator = accelerator or training_accelerator()
    device = accelerator.device
    processes, rank, main = accelerator.num_processes, accelerator.process_index, accelerator.is_main_process

    blocks = pack_blocks(tokenizer, texts, settings.max_length)
    rng = np.random.default_rng(settings.seed)
    order = rng.permutation(len(blocks))
    heldout = blocks[order[: settings.heldout_blocks]]
    train = blocks[order[settings.heldout_blocks:]]
    if len(train) == 0:
        raise ValueError(f"too little text to pretrain: {len(blocks)} blocks of {settings.max_length} tokens")
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay, betas=(0.9, 0.98))
    work_dir.mkdir(parents=True, exist_ok=True)
    state = {"step": 0, "elapsed_s": 0.0, "tokens": 0, "history": []}
    checkpoint = latest_checkpoint(work_dir, STATE_FILE)
    if checkpoint is not None:
        state = json.loads((checkpoint / STATE_FILE).read_text())
        load_model(model, str(checkpoint / "model.safetensors"))  # save_model/load_model keep tied weights tied
    objective, optimizer = accelerator.prepare(masked_lm_objective(model), optimizer)
    if checkpoint is not None:
        load_optimizer_state(optimizer, checkpoint)  # after prepare: the moments land on the parameters' device
        log.info(f"Resuming pretraining at step {state['step']} ({state['elapsed_s']:.0f} s done)")
    log.info(f"Pretraining on {device} ({accelerator.mixed_precision} mixed precision)")
    resumed_at = state["step"]
    earlier = {"train_seconds": state["elapsed_s"], "cpu_seconds": state.get("cpu_s", 0.0)}
    budget_s = settings.pretrain_minutes * 60
    per_epoch = math.ceil(len(train) / (settings.batch_size * processes))
    generator = torch.Generator().manual_seed(settings.seed)

    epoch_steps = max(1, int(settings.pretrain_epochs * per_epoch))

    def total_steps() -> int:
        if settings.pretrain_steps is not None:
            return settings.pretrain_steps
        done = state["step"]
        if done < 20 or state["elapsed_s"] <= 0:
            return epoch_steps
        # where the time cap will stop us, at the pace so far: the decay then ends when training does
        return max(done + 1, min(epoch_steps, int(done / state["elapsed_s"] * budget_s)))

    def save() -> None:
        state["cpu_s"] = process_cpu_seconds() - cpu_started

        def write(staging: Path) -> None:
            save_model(model, str(staging / "model.safetensors"))
            save_optimizer_state(optimizer, staging)
            (staging / STATE_FILE).write_text(json.dumps(state))

        if main:  # the replicas hold the same weights and optimizer state
            swap_in_checkpoint(work_dir, write)
        accelerator.wait_for_everyone()

    model.train()
    started = time.monotonic() - state["elapsed_s"]
    cpu_started = process_cpu_seconds() - state.get("cpu_s", 0.0)
    reported = time.monotonic()
    window_tokens, window_started = 0, time.monotonic()
    while True:
        elapsed = time.monotonic() - started
        if settings.pretrain_steps is not None:
            stop = state["step"] >= settings.pretrain_steps
        else:
            stop = elapsed >= budget_s or state["step"] >= epoch_steps
        # the main process's clock decides, for every process alike: when to stop, and so the learning-rate decay
        stop, total = agree(accelerator, (stop, total_steps()))
        if stop:
            break
        epoch, within = divmod(state["step"], per_epoch)
        permutation = np.random.default_rng([settings.seed, epoch]).permutation(len(train))
        start = (within * processes + rank) * settings.batch_size
        # one process: the epoch's last batch may be short; several: each takes a whole batch, wrapping round the epoch
        index = (permutation[start:start + settings.batch_size] if processes == 1
                 else permutation[np.arange(start, start + settings.batch_size) % len(train)])
        ids = torch.as_tensor(train[index])
        generator.manual_seed(settings.seed * 1_000_003 + state["step"] * processes + rank)  # masks depend on the step alone: resumable
        inputs, labels = mask_tokens(ids, tokenizer, settings.mask_probability, generator)
        step = state["step"]
        warm = min(1.0, (step + 1) / settings.warmup_steps)
        decay = max(0.05, 1 - step / total)
        for group in optimizer.param_groups:
            group["lr"] = settings.learning_rate * min(warm, decay)
        loss = objective(inputs.to(device), labels.to(device))
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(model.parameters(), settings.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad()
        state["step"] += 1
        state["tokens"] += int(ids.numel()) * processes
        window_tokens += int(ids.numel()) * processes
        state["elapsed_s"] = time.monotonic() - started
        if state["step"] % settings.eval_every_steps == 0 and main:
            tokens_per_s = window_tokens / (time.monotonic() - window_started)
            heldout_loss = _heldout_loss(model, heldout, tokenizer, settings, device) if len(heldout) else float("nan")
            state["history"].append({"step": state["step"], "minutes": round(state["elapsed_s"] / 60, 2), "train_loss": float(loss.detach()),
                                     "heldout_loss": heldout_loss, "heldout_perplexity": float(math.exp(min(heldout_loss, 50))),
                                     "tokens_per_s": round(tokens_per_s, 1)})
            log.info(f"pretraining step {state['step']}: held-out MLM perplexity {math.exp(min(heldout_loss, 50)):.1f}, "
                     f"{tokens_per_s:,.0f} tokens/s")
            window_tokens, window_started = 0, time.monotonic()
        elif main and time.monotonic() - reported > 30:
            log.info(f"pretraining step {state['step']}: loss {float(loss.detach()):.3f}, {state['elapsed_s'] / 60:.1f} min")
            reported = time.monotonic()
        if state["step"] % settings.checkpoint_every_steps == 0:
            save()
    final = _heldout_loss(model, heldout, tokenizer, settings, device) if len(heldout) and main else float("nan")
    # the caller gets its model back as a plain module: no device wrapper, no mixed-precision forward
    accelerator.unwrap_model(objective, keep_fp32_wrapper=False)
    state["history"].append({"step": state["step"], "minutes": round(state["elapsed_s"] / 60, 2), "train_loss": None,
                             "heldout_loss": final, "heldout_perplexity": float(math.exp(min(final, 50))),
                             "tokens_per_s": round(state["tokens"] / max(state["elapsed_s"], 1e-9), 1)})
    accelerator.wait_for_everyone()
    if main:
        shutil.rmtree(work_dir, ignore_errors=True)
    return {"steps": state["step"], "tokens": state["tokens"], "seconds": state["elapsed_s"], "history": state["history"],
            "tokens_per_s": state["tokens"] / max(state["elapsed_s"], 1e-9), "heldout_perplexity": float(math.exp(min(final, 50))),
            "resumed": resumed_at > 0, "resumed_at_step": resumed_at, "blocks": int(len(train)),
            "cost_before_resume": earlier, "processes": processes}


def _pretrain_process(model, tokenizer, texts: list[str], settings: SlmSettings, work_dir: Path, result_dir: Path) -> None:
    """One data-parallel process of `pretrain_on_devices`: pretrains, checks that the replicas agree, and the main
    process writes the weights and the outcome to `result_dir`."""
    from safetensors.torch import save_model

    from genai_lab.ml.parallel import check_replicas
    from genai_lab.ml.precision import training_accelerator

    accelerator = training_accelerator()
    outcome = pretrain(model, tokenizer, texts, settings, work_dir, accelerator=accelerator)
    check_replicas(accelerator, dict(model.named_parameters()))
    if accelerator.is_main_process:
        save_model(model, str(result_dir / "model.safetensors"))
        (result_dir / "outcome.json").write_text(json.dumps(outcome))


def pretrain_on_devices(model, tokenizer, texts: list[str], settings: SlmSettings, work_dir: Path, processes: int | None = None) -> dict:
    """`pretrain` on every visible GPU, one process each, or in this process where there is one GPU or none
    (`genai_lab.ml.parallel.on_devices`); the pretrained weights end up in `model` either way."""
    from safetensors.torch import load_model

    from genai_lab.ml.parallel import on_devices

    def collect(result_dir: Path) -> dict:
        load_model(model, str(result_dir / "model.safetensors"))
        return json.loads((result_dir / "outcome.json").read_text())

    return on_devices(lambda: pretrain(model, tokenizer, texts, settings, work_dir), _pretrain_process,
                      (model, tokenizer, texts, settings, work_dir), collect, processes)
