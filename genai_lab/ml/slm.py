"""The custom small language model arm: a WordPiece tokenizer and a BERT-style encoder trained from scratch.

No pretrained weight is used anywhere in this arm: the tokenizer is trained on our clean reviews,
the encoder starts from random weights and is pretrained with masked-LM on the same reviews, then
fine-tuned on the pseudo-labels with the adapter arm's self-training recipe.

Why masked-LM (not causal): the downstream tasks are classification of a whole text or a
(sentence, aspect) pair, where every token should see both sides; MLM encoders are what the
budget-pretraining work (Cramming, BabyLM's strict-small track) shows to classify best per FLOP.

Pretraining packs the reviews into blocks of `max_length` tokens (no padding is computed) and
runs for a number of minutes or steps; checkpoints every `checkpoint_every_steps` let a killed run
continue (`training_loop.TrainingRun`). Device placement and mixed precision come from accelerate, as in the adapter arm: a GPU with
bf16 (fp16 where bf16 is missing) where one is present, else the CPU (bf16 where it is fast).
Hardware efficiency: achieved FLOP/s (6 × non-embedding parameters × tokens/s, plus attention)
against a plain matmul on the same device.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import Field

from genai_lab.config import StrictConfig
from genai_lab.ml.training_loop import OptimizerSettings, Progress, TrainingRun, adamw, on_devices, warmup_capped_linear_decay

log = logging.getLogger(__name__)
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

#: named encoder sizes: tiny for tests, mini the CPU default, small its four-layer form, larger ones for GPUs.
#: At this width layers, not parameters, set CPU inference speed (benchmarks/slm_shapes.py); on the shared
#: data mini matched small's gold macro-F1 (mean of five sets 0.511 and 0.509 over two seeds, against 0.509)
#: at 1.4x its throughput, so the default dropped the two layers (docs/decisions.md)
SIZES: dict[str, dict[str, int]] = {
    "tiny": {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128},
    "mini": {"hidden_size": 192, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 768},
    "small": {"hidden_size": 192, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 768},
    "medium": {"hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 6, "intermediate_size": 1536},
    "base": {"hidden_size": 512, "num_hidden_layers": 8, "num_attention_heads": 8, "intermediate_size": 2048},
}


class SlmSettings(StrictConfig):
    """Tokenizer, model size and pretraining budget of the from-scratch arm."""

    #: WordPiece vocabulary size
    vocab_size: int = 8000
    #: the size trained by default; `sizes` runs a ladder (each lands under `slm_classifier@<size>`)
    size: str = "mini"
    #: a ladder of sizes to train, each stored as `slm_classifier@<size>`; empty: `size` alone
    sizes: list[str] = Field(default_factory=list)
    #: the encoder's feed-forward activation (a transformers ACT2FN name). GELU is a seventh of a CPU batch's
    #: time at this width, but ReLU measured no throughput gain on trained models and equal gold quality (docs/decisions.md)
    hidden_act: str = "gelu"
    #: tokens per pretraining block
    max_length: int = 128
    #: share of tokens masked (80% [MASK], 10% random, 10% kept)
    mask_probability: float = 0.15
    #: learning rate, weight decay, blocks per batch, gradient clipping (as in self-training)
    optimizer: OptimizerSettings = Field(default_factory=OptimizerSettings)
    #: learning-rate warm-up steps, then linear decay
    warmup_steps: int = 100
    #: pretraining length: passes over the corpus, capped at `pretrain_minutes` (the cap keeps the
    #: 136k shared reviews within the whole graph's 30 minutes; the embedded default ends sooner);
    #: `pretrain_steps`, when set, replaces both
    pretrain_epochs: float = 1.0
    #: pretraining cap in minutes
    pretrain_minutes: float = 5.0
    #: a fixed number of pretraining steps instead of epochs and minutes (None: by epochs, capped by the minutes)
    pretrain_steps: int | None = None
    #: blocks held out for perplexity, and how often it is measured
    heldout_blocks: int = 200
    #: steps between held-out perplexity measurements
    eval_every_steps: int = 200
    #: steps between checkpoints
    checkpoint_every_steps: int = 200
    #: seed of sampling and initialisation
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


def pack_blocks(tokenizer, texts: list[str], block: int, chunk: int = 8192) -> np.ndarray:
    """Token ids of every text ([CLS] text [SEP]) laid end to end and cut into rows of `block` tokens.

    Tokenized `chunk` texts at a time: the tokenizer's ids are Python lists (~36 bytes a token), which for the 860k
    reviews of a 1M-review dump took about 1.6 GB at once; as arrays they take 8 bytes a token."""
    pieces = []
    for start in range(0, len(texts), chunk):
        ids = tokenizer(texts[start:start + chunk], add_special_tokens=True, truncation=False)["input_ids"]
        pieces.append(np.fromiter((token for row in ids for token in row), dtype=np.int64))
    flat = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
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
        for start in range(0, len(blocks), settings.optimizer.batch_size):
            ids = torch.as_tensor(blocks[start:start + settings.optimizer.batch_size])
            inputs, labels = mask_tokens(ids, tokenizer, settings.mask_probability, generator)
            losses.append(float(mlm_loss(model, inputs.to(device), labels.to(device))))
    model.train()
    return float(np.mean(losses)) if losses else float("nan")


@dataclass
class PretrainingResult:
    """What `pretrain` did: steps, tokens (every process's), seconds and tokens/s, the held-out history."""

    steps: int
    tokens: int
    seconds: float
    history: list[dict]
    tokens_per_s: float
    heldout_perplexity: float
    resumed: bool
    resumed_at_step: int
    #: training blocks of `max_length` tokens
    blocks: int
    #: the seconds a killed run had spent up to the checkpoint this one resumed from (for `CostMeter.stop`)
    cost_before_resume: dict = field(default_factory=dict)
    processes: int = 1


def _split_blocks(tokenizer, texts: list[str], settings: SlmSettings) -> tuple[np.ndarray, np.ndarray]:
    """(training blocks, held-out blocks), a seeded permutation of the packed texts."""
    blocks = pack_blocks(tokenizer, texts, settings.max_length)
    order = np.random.default_rng(settings.seed).permutation(len(blocks))
    heldout, train = blocks[order[: settings.heldout_blocks]], blocks[order[settings.heldout_blocks:]]
    if len(train) == 0:
        raise ValueError(f"too little text to pretrain: {len(blocks)} blocks of {settings.max_length} tokens")
    return train, heldout


def _total_steps(state: dict, settings: SlmSettings, epoch_steps: int) -> int:
    """Where training will stop: `pretrain_steps`, else the epochs, else where the time cap will stop it at the pace
    so far (the learning-rate decay then ends when training does)."""
    if settings.pretrain_steps is not None:
        return settings.pretrain_steps
    done = state["step"]
    if done < 20 or state["elapsed_s"] <= 0:
        return epoch_steps
    return max(done + 1, min(epoch_steps, int(done / state["elapsed_s"] * settings.pretrain_minutes * 60)))


def _finished(state: dict, settings: SlmSettings, epoch_steps: int, elapsed_s: float) -> bool:
    if settings.pretrain_steps is not None:
        return state["step"] >= settings.pretrain_steps
    return elapsed_s >= settings.pretrain_minutes * 60 or state["step"] >= epoch_steps


def _batch_rows(train: np.ndarray, step: int, per_epoch: int, settings: SlmSettings, run: TrainingRun) -> np.ndarray:
    """This process's blocks at `step`: each epoch a seeded permutation, one batch per process and step. One process:
    the epoch's last batch may be short; several: each takes a whole batch, wrapping round the epoch."""
    epoch, within = divmod(step, per_epoch)
    permutation = np.random.default_rng([settings.seed, epoch]).permutation(len(train))
    batch_size = settings.optimizer.batch_size
    start = (within * run.processes + run.rank) * batch_size
    if run.processes == 1:
        return train[permutation[start:start + batch_size]]
    return train[permutation[np.arange(start, start + batch_size) % len(train)]]


def _evaluation(state: dict, loss: float | None, heldout_loss: float, tokens_per_s: float) -> dict:
    return {"step": state["step"], "minutes": round(state["elapsed_s"] / 60, 2), "train_loss": loss, "heldout_loss": heldout_loss,
            "heldout_perplexity": float(math.exp(min(heldout_loss, 50))), "tokens_per_s": round(tokens_per_s, 1)}


def pretrain(model, tokenizer, texts: list[str], settings: SlmSettings, work_dir: Path, accelerator=None) -> PretrainingResult:
    """Masked-LM pretraining in place on `accelerator`'s device (default `training_accelerator()`: a GPU where
    present, else the CPU); resumes from `work_dir`'s checkpoint. Returns the evaluation history and speed.

    Run in several processes (see `pretrain_on_devices`), each step trains on one batch per process (a global batch
    of `batch_size` × processes), and the main process decides when to stop, evaluates and writes. Tokens and
    tokens/s count every process.
    """
    import torch

    run = TrainingRun(work_dir, accelerator)
    device, opt = run.accelerator.device, settings.optimizer
    train, heldout = _split_blocks(tokenizer, texts, settings)
    evaluate = lambda: _heldout_loss(model, heldout, tokenizer, settings, device) if len(heldout) else float("nan")
    objective, optimizer = run.accelerator.prepare(masked_lm_objective(model), adamw(model.parameters(), opt, betas=(0.9, 0.98)))
    resumed = run.resume(model, optimizer)
    state = resumed[0] if resumed else {"step": 0, "elapsed_s": 0.0, "tokens": 0, "history": []}
    if resumed:
        log.info(f"Resuming pretraining at step {state['step']} ({state['elapsed_s']:.0f} s done)")
    log.info(f"Pretraining on {device} ({run.accelerator.mixed_precision} mixed precision)")
    resumed_at = state["step"]
    per_epoch = math.ceil(len(train) / (opt.batch_size * run.processes))
    epoch_steps = max(1, int(settings.pretrain_epochs * per_epoch))
    generator, progress = torch.Generator().manual_seed(settings.seed), Progress("tokens")
    model.train()
    while True:
        # the main process's clock decides, for every process alike: when to stop, and so the learning-rate decay
        stop, total = run.agree((_finished(state, settings, epoch_steps, run.clock.elapsed()), _total_steps(state, settings, epoch_steps)))
        if stop:
            break
        ids = torch.as_tensor(_batch_rows(train, state["step"], per_epoch, settings, run))
        generator.manual_seed(settings.seed * 1_000_003 + state["step"] * run.processes + run.rank)  # masks depend on the step alone: resumable
        inputs, labels = mask_tokens(ids, tokenizer, settings.mask_probability, generator)
        loss = objective(inputs.to(device), labels.to(device))
        run.step(optimizer, loss, model.parameters(), warmup_capped_linear_decay(
            opt.learning_rate, state["step"], total, settings.warmup_steps, floor=0.05), opt.max_grad_norm)
        state["step"] += 1
        state["tokens"] += int(ids.numel()) * run.processes
        progress.add(int(ids.numel()) * run.processes)
        state["elapsed_s"] = run.clock.elapsed()
        if state["step"] % settings.eval_every_steps == 0 and run.main:
            state["history"].append(_evaluation(state, float(loss.detach()), evaluate(), progress.rate()))
            log.info(f"pretraining step {state['step']}: held-out MLM perplexity {state['history'][-1]['heldout_perplexity']:.1f}, "
                     f"{state['history'][-1]['tokens_per_s']:,.0f} tokens/s")
            progress.reset()
        elif run.main and progress.due():
            progress.log(f"pretraining step {state['step']}/{total}: loss {float(loss.detach()):.3f}", total - state["step"])
        if state["step"] % settings.checkpoint_every_steps == 0:
            run.save(model, optimizer, state)
    final = evaluate() if run.main else float("nan")
    run.finish(objective)
    state["history"].append(_evaluation(state, None, final, state["tokens"] / max(state["elapsed_s"], 1e-9)))
    return PretrainingResult(
        steps=state["step"], tokens=state["tokens"], seconds=state["elapsed_s"], history=state["history"],
        tokens_per_s=state["tokens"] / max(state["elapsed_s"], 1e-9), heldout_perplexity=float(math.exp(min(final, 50))),
        resumed=resumed_at > 0, resumed_at_step=resumed_at, blocks=len(train), cost_before_resume=run.earlier,
        processes=run.processes)


def pretrain_on_devices(model, tokenizer, texts: list[str], settings: SlmSettings, work_dir: Path,
                        processes: int | None = None) -> PretrainingResult:
    """`pretrain` on every visible GPU, one process each, or in this process where there is one GPU or none
    (`training_loop.on_devices`); the pretrained weights end up in `model` either way."""
    return on_devices(pretrain, model, (tokenizer, texts, settings, work_dir), PretrainingResult, processes)
