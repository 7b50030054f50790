"""Inputs tokenised once and padded per batch give exactly the tensors of a per-batch tokenizer call."""

import numpy as np
import torch

from genai_lab.ml.batching import pad_batch, padding_of, token_lengths, tokenize_once
from genai_lab.ml.classifier import encode, load_tokenizer
from genai_lab.ml.embeddings import DEFAULT_BASE_MODEL, resolve_base_model

TEXTS = ["Great app!", "The sync fails every night since the update, please fix it.", "", "Dark mode is lovely.",
         "Login takes forever and the battery drains " * 10]
ASPECTS = [None, "sync", None, "dark mode", "battery"]


def test_padded_batches_equal_a_per_batch_tokenizer_call():
    tokenizer = load_tokenizer(resolve_base_model(DEFAULT_BASE_MODEL))
    features = tokenize_once(tokenizer, TEXTS, ASPECTS, max_length=24)
    lengths = token_lengths(features)
    assert lengths.max() == 24 and lengths[2] == 2  # truncated; an empty text is [CLS] [SEP]
    pad, left = padding_of(tokenizer)
    for index in (np.array([0, 2]), np.array([1, 3, 4])):
        aspects = None if ASPECTS[index[0]] is None else [ASPECTS[i] for i in index]
        expected = encode(tokenizer, [TEXTS[i] for i in index], aspects, 24)
        got = pad_batch(features, index, pad, left)
        assert set(got) == set(expected)
        for key in expected:
            assert torch.equal(got[key], expected[key]), key


def test_left_padding_puts_the_pad_tokens_first():
    features = {"input_ids": [np.array([5, 6, 7]), np.array([8])], "attention_mask": [np.array([1, 1, 1]), np.array([1])]}
    batch = pad_batch(features, np.array([0, 1]), pad_token_id=0, left=True)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [0, 0, 8]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [0, 0, 1]]
