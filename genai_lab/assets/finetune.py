"""The fine-tuned foundation-model arm: a LoRA adapter self-trained on the pseudo-labels, and its score.

pseudo_labels ─ finetuned_adapter (model store) ─ adapter_evaluation ─ model_evaluation
gold_labels ─────────────────────────────────────┘

Models never pass through the IO manager: `finetuned_adapter` writes a version into the model store
and returns metadata; `adapter_evaluation` loads the champion from the store.
"""

import hashlib
import json
from pathlib import Path

import polars as pl
from dagster import (
    AssetExecutionContext,
    ConfigurableResource,
    MaterializeResult,
    MetadataValue,
    Output,
    asset,
)
from pydantic import Field

from genai_lab.assets.prep import DUCKDB_POOL, markdown_table
from genai_lab.evaluation import markdown_summary
from genai_lab.hashing import frame_digest
from genai_lab.ml.cost import CostMeter, CostSettings
from genai_lab.ml.lora import LoraSettings
from genai_lab.ml.parallel import training_gpus, training_processes
from genai_lab.ml.self_training import SelfTrainingSettings
from genai_lab.ml.store import ModelStore, StoredModel, code_version, folder_hash

TRAINING_POOL = "training"  # one training step at a time (dagster.yaml: every pool's limit is 1)
ADAPTER = "finetuned_adapter"
CHAMPION_METRIC = "heldout_pseudo_label_macro_f1"


class AdapterTraining(ConfigurableResource):
    """Everything the adapter arm is trained, measured and retrained with."""

    lora: LoraSettings = Field(default_factory=LoraSettings)
    training: SelfTrainingSettings = Field(default_factory=SelfTrainingSettings)
    cost: CostSettings = Field(default_factory=CostSettings)
    #: the retrain sensor requests training once this many reviews were pseudo-labelled since the last one
    retrain_min_new_reviews: int = 5000


def _base_model_identity(base_path: str) -> dict:
    local = Path(base_path).exists()
    return {"path": base_path, "sha256": folder_hash(base_path) if local else None}


def fingerprint(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _round_table(history: list[dict]) -> str:
    return markdown_table(pl.DataFrame(history)) if history else "(no rounds)"


def pseudo_label_data(context: AssetExecutionContext, pseudo_labels: pl.DataFrame, settings: SelfTrainingSettings) -> tuple[dict, dict]:
    """The self-training splits of all pseudo-labels and the data version they make (partitions and counts)."""
    from genai_lab.ml.self_training import split_pseudo_labels

    data = split_pseudo_labels(pseudo_labels, settings)
    data_version = {
        "partitions": dict(sorted(pseudo_labels.group_by("dump_id").len().rows())),
        "rows": pseudo_labels.height,
        "candidates": data["candidates"].height, "holdout": data["holdout"].height, "pool": data["pool"].height,
        # the labels themselves: relabelled reviews with the same counts are other training data (and no checkpoint to resume)
        "labels_digest": frame_digest(pl.concat([split.with_columns(pl.lit(name).alias("_split")) for name, split in data.items()])),
        # the rows the held-out score (and so the champion rule and the serving choice) is measured on
        "holdout_digest": frame_digest(data["holdout"]),
    }
    context.log.info(f"Pseudo-labels from {len(data_version['partitions'])} dump(s): {data['candidates'].height:,} confident "
                     f"candidates, {data['holdout'].height:,} held out, {data['pool'].height:,} in the unlabelled pool")
    return data, data_version


def store_classifier(context: AssetExecutionContext, models: ModelStore, name: str, model, tokenizer, result, holdout: pl.DataFrame,
                     settings: SelfTrainingSettings, manifest: dict, load_champion) -> dict:
    """Saves a trained classifier as a new version and moves the champion only when it wins on `holdout`; returns the metadata.

    `load_champion(folder)` -> (model, tokenizer): the champion is scored on this run's held-out rows,
    so the two compare on the same data.
    """
    from genai_lab.ml.classifier import predict_proba
    from genai_lab.evaluation.statistics import macro_f1

    champion_score = None
    try:
        champion = models.champion(name)
        if champion is not None and holdout.height:
            champion_model, champion_tokenizer = load_champion(champion.path)
            probabilities = predict_proba(champion_model, champion_tokenizer, holdout["text"].to_list(), holdout["aspect"].to_list(),
                                          batch_size=settings.inference_batch_size, max_length=settings.max_length)
            champion_score = macro_f1(holdout["label_index"].to_numpy(), probabilities.argmax(axis=1))
    except Exception as error:  # noqa: BLE001 - a champion that cannot be served (deleted files, other base) is replaced, not fatal
        context.log.warning(f"The champion of {name} could not be scored ({error}); the new version replaces it")

    def write(folder):
        model.save_pretrained(str(folder), safe_serialization=True)
        tokenizer.save_pretrained(str(folder))

    stored: StoredModel = models.save(name, write, {
        **manifest, "task_inputs": {"review_sentiment": "text", "aspect_polarity": "text, aspect_term"},
        "labels": ["negative", "neutral", "positive"], "code_version": code_version(),
        "metrics": {CHAMPION_METRIC: result.best_score, "best_round": result.best_round, "rounds": result.history,
                    "train_rows": result.train_rows, "steps": result.steps},
        "resumed_from": result.resumed_from,
    })
    promoted = models.promote(stored, result.best_score, champion_score, CHAMPION_METRIC,
                              (manifest.get("data_version") or {}).get("holdout_digest"))
    serving = models.champion(name)
    context.log.info(f"Saved {name} {stored.version} (held-out pseudo-label macro-F1 {result.best_score:.4f}; champion "
                     f"{'moved to it' if promoted else f'stays {serving.version} at {champion_score:.4f}'})")
    return {
        "version": stored.version,
        "path": MetadataValue.path(str(stored.path)),
        "promoted": promoted,
        "champion_version": serving.version if serving else None,
        CHAMPION_METRIC: float(result.best_score),
        "champion_previous_score": float(champion_score) if champion_score is not None else None,
        "train_rows": result.train_rows,
        "steps": result.steps,
        "rounds": MetadataValue.md(_round_table(result.history)),
        "resumed": result.resumed_from is not None,
        **{key: float(value) for key, value in manifest["cost"].items()},
    }


@asset(group_name="models", pool=TRAINING_POOL,
       description="LoRA adapter on the pretrained base model, self-trained on confident pseudo-labels of reviews fit for "
                   "training; a new version in the model store, champion only when it beats the current one on held-out pseudo-labels.")
def finetuned_adapter(context: AssetExecutionContext, pseudo_labels: pl.DataFrame, adapter: AdapterTraining,
                      models: ModelStore) -> MaterializeResult:
    import torch

    from genai_lab.ml.cost import parameter_counts
    from genai_lab.ml.lora import build_adapter_model, load_adapter
    from genai_lab.ml.self_training import self_train_on_devices

    settings = adapter.training
    data, data_version = pseudo_label_data(context, pseudo_labels, settings)
    processes = training_processes()
    meter = CostMeter(adapter.cost, gpus=training_gpus(processes))
    torch.manual_seed(settings.seed)  # the LoRA and head initialisation: same data and settings, same adapter
    model, tokenizer, base_path, targets = build_adapter_model(adapter.lora)
    base = {"id": adapter.lora.base_model, **_base_model_identity(base_path)}
    run_settings = {"lora": adapter.lora.model_dump(), "training": settings.model_dump()}
    work_dir = models.work_dir(ADAPTER) / fingerprint(data_version, run_settings, base["sha256"] or base["id"])
    context.log.info(f"Base model {base['id']} ({base_path}); LoRA r={adapter.lora.r} on {targets}; checkpoints in {work_dir}")
    result = self_train_on_devices(model, tokenizer, data, settings, work_dir, processes)
    cost = {**meter.stop(earlier=result.resumed_from), **parameter_counts(model)}
    metadata = store_classifier(context, models, ADAPTER, model, tokenizer, result, data["holdout"], settings, {
        "kind": "lora_adapter", "base_model": base, "target_modules": targets, "data_version": data_version,
        "settings": run_settings, "cost": cost}, load_adapter)
    return MaterializeResult(metadata=metadata)


@asset(group_name="evaluation", pool=DUCKDB_POOL, deps=[finetuned_adapter],
       description="The champion adapter on every sentiment gold set (accuracy, macro-F1, per-class F1) and its training "
                   "cost from its manifest (inference is timed in inference_timing, beside the SLM).")
def adapter_evaluation(context: AssetExecutionContext, gold_labels: pl.DataFrame, adapter: AdapterTraining, models: ModelStore):
    from genai_lab.ml.lora import load_merged_adapter
    from genai_lab.ml.scoring import evaluate_model

    champion = models.champion(ADAPTER)
    if champion is None:
        raise FileNotFoundError(f"model store {models.folder} holds no champion of {ADAPTER}: materialize {ADAPTER} first")
    # scored and timed the way review_predictions serves it: merged into the base weights
    model, tokenizer = load_merged_adapter(champion.path)
    manifest = champion.manifest
    evaluation = evaluate_model(
        model, tokenizer, gold_labels, ADAPTER, batch_size=adapter.training.inference_batch_size, max_length=adapter.training.max_length,
        training_cost={**manifest["cost"], "disk_mb": manifest["disk_mb"]})
    evaluation = evaluation.with_columns(pl.lit(champion.version).alias("model_version"))
    return Output(evaluation, metadata={"summary": MetadataValue.md(markdown_summary(evaluation)), "version": champion.version})

assets = [finetuned_adapter, adapter_evaluation]
