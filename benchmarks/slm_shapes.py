"""CPU inference throughput of encoder shapes against the adapter's base model, timed together.

    python benchmarks/slm_shapes.py                      # every named SLM size, plus the shapes given
    python benchmarks/slm_shapes.py --shape 256x2 --shape 192x3

Random weights: throughput depends on the shape, not on what the weights learned. Inputs are the
Lin-2018 gold reviews where `../shared/data/gold` exists (else generated reviews), tokenised by the
base model's tokenizer for the base model and, for the SLM shapes, by an 8k WordPiece tokenizer
trained on the embedded generator's reviews, at the arms' inference batch size and input length. A shape `HxL` is hidden size H,
L layers, 4 attention heads (as `small`), 4H feed-forward (`HxLxF`: F feed-forward). Prints one line per model and a JSON line.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

GOLD = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "gold" / "app_review_sentiment_lin2018_part1.parquet"

from recording import record  # noqa: E402  (benchmarks/ is the script folder)

def shape_config(shape: str) -> dict[str, int]:
    parts = [int(part) for part in shape.lower().split("x")]
    hidden, layers, feed_forward = parts[0], parts[1], (parts[2] if len(parts) > 2 else 4 * parts[0])
    return {"hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": 4, "intermediate_size": feed_forward}


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", action="append", default=[], help="HIDDENxLAYERS[xFEEDFORWARD], e.g. 256x2 or 192x2x384 (repeatable)")
    parser.add_argument("--rows", type=int, default=1024)
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args()

    import polars as pl
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from genai_lab.ml.classifier import LABELS, load_base_classifier, load_tokenizer
    from genai_lab.ml.embeddings import resolve_base_model
    from genai_lab.ml.precision import describe, for_inference
    from genai_lab.ml.scoring import Contender, time_together
    from genai_lab.ml.self_training import SelfTrainingSettings
    from genai_lab.ml.slm import SIZES, SlmSettings, model_config, train_tokenizer
    from genai_lab.synth import generate

    texts = (pl.read_parquet(GOLD)["text"].to_list() if GOLD.exists()
             else generate(2000, seed=0)[0]["content"].to_list())
    texts = (texts * (args.rows // len(texts) + 1))[:args.rows]
    serving = SelfTrainingSettings()
    torch.manual_seed(0)
    base = resolve_base_model()
    contenders = {"base model (adapter arm)": Contender(for_inference(load_base_classifier(base).eval()), load_tokenizer(base),
                                                        serving.inference_batch_size, serving.max_length)}
    params = {"base model (adapter arm)": sum(p.numel() for p in contenders["base model (adapter arm)"].model.parameters())}
    with tempfile.TemporaryDirectory() as folder:
        # trained on other text than the timed one, as the arm's is: a tokenizer fitted to the timed texts cuts them shorter
        tokenizer = train_tokenizer(generate(20_000, seed=0)[0]["content"].drop_nulls().to_list(), 8000, Path(folder))
        shapes = {name: sizes for name, sizes in SIZES.items() if name != "tiny"} | {s: shape_config(s) for s in args.shape}
        for name, sizes in shapes.items():
            config = model_config("small", tokenizer, 128)
            # the arm's vocabulary size, so parameter counts are the real model's (a few gold texts train a smaller one)
            config = BertConfig(**{**config.to_dict(), **sizes, "num_labels": len(LABELS), "vocab_size": SlmSettings().vocab_size})
            model = for_inference(BertForSequenceClassification(config).eval())
            contenders[name] = Contender(model, tokenizer, serving.inference_batch_size, serving.max_length)
            params[name] = sum(p.numel() for p in model.parameters())
        timing = time_together(contenders, texts, passes=args.passes, latency_runs=20)
    reference = timing["base model (adapter arm)"]["reviews_per_s"]
    print(f"precision {describe()}, {len(texts)} texts, batch {serving.inference_batch_size}, {serving.max_length} tokens")
    for name, figures in timing.items():
        print(f"{name:>26}: {params[name] / 1e6:5.1f}M params, {figures['reviews_per_s']:7.0f} reviews/s "
              f"({figures['reviews_per_s'] / reference:4.1f}x), p50 {figures['latency_p50_ms']:.1f} ms")
    record("slm_shapes", {name: {"params": params[name], **figures} for name, figures in timing.items()})


if __name__ == "__main__":
    main()
