"""A 3-class sentiment classifier over any Hugging Face encoder: one head for both tasks.

Review sentiment is a single-text input; aspect polarity is a sentence pair (sentence, aspect term),
the BERT-SPC formulation, so the same head learns both: the second segment tells it which target
the polarity is about. Inputs are grouped by task so every batch is one kind.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from genai_lab.labels.gold import SENTIMENT_LABELS
from genai_lab.ml.batching import pad_batch, padding_of, token_lengths, tokenize_once

log = logging.getLogger(__name__)
LABELS: tuple[str, ...] = tuple(SENTIMENT_LABELS)  # negative, neutral, positive: label_index order everywhere
# Modules that are a model's task head or pooler, never a LoRA target (their weights are trained in full or not at all).
HEAD_MODULES = ("classifier", "score", "pooler", "lm_head", "qa_outputs", "pre_classifier", "cls")


def label_maps() -> tuple[dict[int, str], dict[str, int]]:
    return dict(enumerate(LABELS)), {label: i for i, label in enumerate(LABELS)}


def lora_target_modules(model) -> list[str]:
    """Leaf names of the linear layers inside the encoder (attention and feed-forward), whatever the architecture calls them.

    GPT-2-style models use `Conv1D` for their projections; those count as linear.
    """
    import torch

    try:
        from transformers.pytorch_utils import Conv1D
        linear_types: tuple[type, ...] = (torch.nn.Linear, Conv1D)
    except ImportError:
        linear_types = (torch.nn.Linear,)
    names = set()
    for full_name, module in model.named_modules():
        parts = full_name.split(".")
        if isinstance(module, linear_types) and not any(part in HEAD_MODULES for part in parts):
            names.add(parts[-1])
    if not names:
        raise ValueError(f"{type(model).__name__}: found no linear layers to adapt; set target_modules explicitly")
    return sorted(names)


def encode(tokenizer, texts: Sequence[str], aspects: Sequence[str] | None, max_length: int):
    """Tokenised batch; with aspects, (text, aspect) pairs where only the text is ever truncated."""
    texts = [t or "" for t in texts]
    if aspects is None:
        return tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    return tokenizer(texts, [a or "" for a in aspects], padding=True, truncation="only_first", max_length=max_length,
                     return_tensors="pt")


def task_batches(lengths: np.ndarray, is_pair: np.ndarray, batch_size: int, rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """Index batches of one task each. Without `rng`: length-sorted (little padding, for inference); with it: shuffled."""
    batches = []
    for pair in (False, True):
        index = np.flatnonzero(is_pair == pair)
        index = rng.permutation(index) if rng is not None else index[np.argsort(lengths[index], kind="stable")]
        batches += [index[start:start + batch_size] for start in range(0, len(index), batch_size)]
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def predict_proba(model, tokenizer, texts: Sequence[str], aspects: Sequence[str | None] | None = None, *,
                  batch_size: int = 64, max_length: int = 128, device=None) -> np.ndarray:
    """Class probabilities (rows: inputs, columns: LABELS). An aspect of None makes that row a single-text input."""
    import torch

    from genai_lab.ml.precision import autocast

    texts = list(texts)
    aspects = list(aspects) if aspects is not None else [None] * len(texts)
    out = np.zeros((len(texts), len(LABELS)), dtype=np.float32)
    if not texts:
        return out
    is_pair = np.array([a is not None for a in aspects], dtype=bool)
    features = tokenize_once(tokenizer, texts, aspects, max_length)
    lengths = token_lengths(features)
    pad_token_id, left = padding_of(tokenizer)
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    started = reported = time.monotonic()
    done = 0
    with torch.inference_mode():
        for batch_index in task_batches(lengths, is_pair, batch_size):
            if time.monotonic() - reported > 30:
                log.info(f"predicted {done:,} of {len(texts):,} inputs ({done / (time.monotonic() - started):.0f}/s)")
                reported = time.monotonic()
            batch = pad_batch(features, batch_index, pad_token_id, left)
            with autocast(device.type):
                logits = model(**{k: v.to(device) for k, v in batch.items()}).logits
            out[batch_index] = torch.softmax(logits.float(), dim=-1).cpu().numpy()
            done += len(batch_index)
    model.train(was_training)
    return out


def load_tokenizer(path: str | Path):
    from transformers import AutoTokenizer

    local = Path(path).exists()
    return AutoTokenizer.from_pretrained(str(path), local_files_only=local)


def load_base_classifier(path: str | Path):
    """The base model with a fresh 3-class head (labels named), from a local folder or a hub id."""
    from transformers import AutoModelForSequenceClassification

    id2label, label2id = label_maps()
    local = Path(path).exists()
    return AutoModelForSequenceClassification.from_pretrained(str(path), num_labels=len(LABELS), id2label=id2label,
                                                              label2id=label2id, local_files_only=local)
