"""Gold macro-F1 of the SLM arm against its pretraining minutes (issue 5's curve), for the default size.

    python benchmarks/slm_pretraining_curve.py --home H [--minutes 0 1 2.5 5 10]

H is a home where `genai-lab run` already materialized the shared dumps and gold (benchmarks/whole_graph.py
leaves one): its clean reviews, pseudo-labels, gold labels and the `slm_tokenizer` in its model store are
reused. For each budget a fresh model of the default size is pretrained from random weights for that many
minutes (the epoch cap lifted; 0 = no pretraining at all: the fine-tuning starts from random weights), then fine-tuned with the
arm's default self-training recipe and scored on every sentiment gold set — exactly what `slm_pretrained`
and `slm_classifier` do, with only the minutes changed. Nothing is written to the model store.

Prints one line per budget; writes `slm_pretraining_curve.json` and `.png` to --out (default <home>/reports).
The adapter's macro-F1 from `model_evaluation` (when present) is drawn as dashed reference lines.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import duckdb
import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from genai_lab.ml.arms import training_texts  # noqa: E402
from genai_lab.resources import SlmResource  # noqa: E402
from genai_lab.vocabulary import SLM_TOKENIZER as TOKENIZER  # noqa: E402
from genai_lab.ml.store import ModelStore  # noqa: E402


def load_tables(home: Path) -> dict[str, pl.DataFrame]:
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as db:
        tables = {name: db.sql(f"select * from lab.{name}").pl() for name in ("clean_reviews", "text_quality", "pseudo_labels", "gold_labels")}
        try:
            tables["model_evaluation"] = db.sql("select * from lab.model_evaluation").pl()
        except duckdb.CatalogException:
            tables["model_evaluation"] = pl.DataFrame()
    return tables


def run_budget(minutes: float, tables: dict, tokenizer_path: Path, arm: SlmResource) -> dict:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, BertForMaskedLM

    from genai_lab.ml.classifier import LABELS, label_maps
    from genai_lab.ml.scoring import gold_quality
    from genai_lab.ml.self_training import self_train, split_pseudo_labels
    from genai_lab.ml.slm import model_config, pretrain

    # the minutes are the only limit here: the default one-epoch cap would end every budget past ~6 min at the same point
    settings = arm.slm.model_copy(update={"pretrain_minutes": minutes, "pretrain_epochs": 1000.0})
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_path))
    torch.manual_seed(settings.seed)
    model = BertForMaskedLM(model_config(settings.size, tokenizer, settings.max_length, settings.hidden_act))
    row = {"minutes_budget": minutes, "size": settings.size}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        if minutes > 0:
            texts = training_texts(tables["clean_reviews"], tables["text_quality"])
            outcome = pretrain(model, tokenizer, texts, settings, scratch / "pretrain")
            row.update(pretrain_minutes=outcome.seconds / 60, tokens=outcome.tokens, steps=outcome.steps,
                       heldout_perplexity=outcome.heldout_perplexity, tokens_per_s=outcome.tokens_per_s)
        else:
            row.update(pretrain_minutes=0.0, tokens=0, steps=0, heldout_perplexity=None, tokens_per_s=None)
        model.save_pretrained(str(scratch / "pretrained"), safe_serialization=True)
        id2label, label2id = label_maps()
        classifier = AutoModelForSequenceClassification.from_pretrained(str(scratch / "pretrained"), num_labels=len(LABELS),
                                                                        id2label=id2label, label2id=label2id)
        data = split_pseudo_labels(tables["pseudo_labels"], arm.training)
        started = time.monotonic()
        result = self_train(classifier, tokenizer, data, arm.training, scratch / "fine_tune")
        row.update(fine_tune_seconds=time.monotonic() - started, heldout_pseudo_label_macro_f1=result.best_score)
        quality = gold_quality(classifier, tokenizer, tables["gold_labels"], "slm", batch_size=arm.training.inference_batch_size,
                               max_length=arm.training.max_length)
    for dataset, value in quality.filter(pl.col("metric") == "macro_f1").select("dataset", "value").rows():
        row[f"macro_f1:{dataset}"] = value
    scores = [v for k, v in row.items() if k.startswith("macro_f1:") and v is not None]
    row["mean_macro_f1"] = sum(scores) / len(scores) if scores else None
    return row


def plot(rows: list[dict], reference: dict[str, float], path: Path) -> None:
    from genai_lab.reports.render import figure, png

    canvas = figure(8, 4.5)
    axes = canvas.add_subplot()
    datasets = sorted({k.split(":", 1)[1] for row in rows for k in row if k.startswith("macro_f1:")})
    x = [row["pretrain_minutes"] for row in rows]
    for i, dataset in enumerate(datasets):
        colour = f"C{i}"
        axes.plot(x, [row.get(f"macro_f1:{dataset}") for row in rows], marker="o", color=colour, label=dataset)
        if dataset in reference:
            axes.axhline(reference[dataset], color=colour, linestyle="--", linewidth=1)
    axes.set_xlabel("pretraining minutes (2 CPU cores)")
    axes.set_ylabel("gold macro-F1 after fine-tuning")
    axes.set_title("SLM (default size): gold macro-F1 vs pretraining time; dashed = fine-tuned adapter")
    axes.legend(fontsize=8, frameon=False)
    path.write_bytes(png(canvas))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--minutes", type=float, nargs="+", default=[0, 1, 2.5, 5, 10])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    out = args.out or args.home / "reports"
    out.mkdir(parents=True, exist_ok=True)
    tables = load_tables(args.home)
    versions = ModelStore(root=str(args.home / "models")).versions(TOKENIZER)
    if not versions:
        sys.exit(f"{args.home}/models holds no {TOKENIZER}: run genai-lab run on that home first")
    arm = SlmResource()
    reference = {}
    evaluation = tables["model_evaluation"]
    if not evaluation.is_empty():
        reference = dict(evaluation.filter((pl.col("model") == "finetuned_adapter") & (pl.col("metric") == "macro_f1"))
                         .select("dataset", "value").rows())
    rows = []
    for minutes in args.minutes:
        row = run_budget(minutes, tables, versions[-1].path, arm)
        rows.append(row)
        print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}), flush=True)
        (out / "slm_pretraining_curve.json").write_text(json.dumps({"rows": rows, "adapter_reference": reference}, indent=1))
        plot(rows, reference, out / "slm_pretraining_curve.png")
    print(f"wrote {out / 'slm_pretraining_curve.json'} and .png")


if __name__ == "__main__":
    main()
