"""Where the adapter arm should start: the shipped base encoder or the rating-MIL teacher's, judged on held-out star
ratings (the pseudo-labels are the same for both, so agreement with them is reported but cannot decide alone), with
the development gold beside it (looked at, written into docs/decisions.md, never the decider).

    python benchmarks/adapter_start.py --home H
    python benchmarks/adapter_start.py --home H --rating-weight 0   # the base start selected as before the ratings criterion
    python benchmarks/adapter_start.py --home H --max-train-rows 1500   # the base start with another training-row cap

H: a home the whole graph materialized with `start_from: base` (its adapter champion is the base-start arm, re-scored
here on the same rows) and a stored rating_mil. The rating_mil start is trained here on the same pseudo-labels with the
same settings. The last line is JSON (also in benchmarks/results/adapter_start.json).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import duckdb  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from genai_lab.labels.rating_mil import encoder_weights  # noqa: E402
from genai_lab.ml.arms import pseudo_label_data  # noqa: E402
from genai_lab.ml.lora import build_adapter_model, load_adapter  # noqa: E402
from genai_lab.ml.scoring import gold_quality  # noqa: E402
from genai_lab.ml.self_training import held_out_scores, self_train  # noqa: E402
from genai_lab.ml.store import ModelStore  # noqa: E402
from genai_lab.resources import AdapterResource  # noqa: E402
from genai_lab.vocabulary import ADAPTER, RATING_MIL, SENTIMENT_TASKS  # noqa: E402

from recording import record  # noqa: E402


def scores(model, tokenizer, data: dict, gold: pl.DataFrame, settings) -> dict:
    model.eval()
    pseudo_label_f1, agreement = held_out_scores(model, tokenizer, data, settings)
    result = {"heldout_pseudo_label_macro_f1": round(pseudo_label_f1, 4), "heldout_rating_agreement": round(agreement, 4),
              "rated_holdout": data["rated_holdout"].height}
    scored = gold_quality(model, tokenizer, gold, ADAPTER, batch_size=settings.inference_batch_size, max_length=settings.max_length)
    for dataset, metric, value in scored.filter(pl.col("metric").is_in(["macro_f1", "accuracy"])).select("dataset", "metric", "value").iter_rows():
        result.setdefault(dataset, {})[metric] = round(value, 4)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--rating-weight", type=float, help="instead: train the base start with this rating_weight (0: early "
                                                            "stopping on held-out pseudo-labels alone, as before) against the champion")
    parser.add_argument("--max-train-rows", type=int, help="instead: train the base start with this training-row cap against the champion")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import torch

    with duckdb.connect(str(args.home / "warehouse.duckdb"), read_only=True) as db:
        pseudo_labels = db.sql("select * from lab.pseudo_labels").pl()
        if "app_category" not in pseudo_labels.columns:  # a home labelled before pseudo_labels carried it
            pseudo_labels = pseudo_labels.join(db.sql("select review_id, category as app_category from lab.clean_reviews").pl(),
                                               on="review_id", how="left")
        gold = db.execute("select * from lab.gold_labels where task in (select unnest(?))", [list(SENTIMENT_TASKS)]).pl()
    store = ModelStore(root=str(args.home / "models"))
    adapter = AdapterResource()
    settings = adapter.training
    data, _ = pseudo_label_data(pseudo_labels, settings)
    results = {}
    champion = store.champion(ADAPTER)
    if champion is None or (champion.manifest.get("start_from") or None) is not None:
        raise SystemExit(f"{store.folder}: no base-start adapter champion to compare with")
    model, tokenizer = load_adapter(champion.path)
    results["base"] = {"version": champion.version, **scores(model, tokenizer, data, gold, settings)}
    logging.info(f"base start: {results['base']}")

    torch.manual_seed(settings.seed)
    if args.max_train_rows is not None:
        name, extra = f"base, max_train_rows {args.max_train_rows}", {"sample": "per label x app category"}
        settings = settings.model_copy(update={"max_train_rows": args.max_train_rows, "min_train_rows": min(settings.min_train_rows,
                                                                                                             args.max_train_rows)})
        model, tokenizer, _, _ = build_adapter_model(adapter.lora)
    elif args.rating_weight is None:
        teacher = store.versions(RATING_MIL)[-1]
        name, extra = RATING_MIL, {"teacher": teacher.version}
        model, tokenizer, _, _ = build_adapter_model(adapter.lora.model_copy(update={"start_from": RATING_MIL}), encoder_weights(teacher.path))
    else:
        name, extra = f"base, rating_weight {args.rating_weight:g}", {}
        settings = settings.model_copy(update={"rating_weight": args.rating_weight})
        model, tokenizer, _, _ = build_adapter_model(adapter.lora)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as work:
        result = self_train(model, tokenizer, data, settings, Path(work))
    results[name] = {**extra, "train_seconds": round(time.monotonic() - started, 1), "rounds": len(result.history),
                     "best_round": result.best_round, **scores(model, tokenizer, data, gold, settings)}
    logging.info(f"{name}: {results[name]}")
    benchmark = ("adapter_train_rows" if args.max_train_rows is not None else
                 "adapter_start" if args.rating_weight is None else "adapter_rating_weight")
    record(benchmark, results, json_default=lambda value: value.item() if isinstance(value, np.generic) else str(value))


if __name__ == "__main__":
    main()
