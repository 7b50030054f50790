"""The fine-tuned foundation-model arm: a LoRA adapter self-trained on the pseudo-labels.

pseudo_labels ─ finetuned_adapter (model store)

Models never pass through the IO manager: `finetuned_adapter` writes a version into the model store
and returns metadata; the evaluation group loads the champion from the store.
"""

import polars as pl
from dagster import AssetExecutionContext, MaterializeResult, asset

from genai_lab.ml.arms import base_model_identity, fingerprint, pseudo_label_data, store_classifier
from genai_lab.ml.cost import CostMeter
from genai_lab.ml.parallel import training_gpus, training_processes
from genai_lab.ml.store import ModelStore
from genai_lab.resources import AdapterResource
from genai_lab.vocabulary import ADAPTER, RATING_MIL, TRAINING_POOL


@asset(pool=TRAINING_POOL, deps=[RATING_MIL],
       description="LoRA adapter on the pretrained base model, self-trained on confident pseudo-labels of reviews fit for "
                   "training; a new version in the model store, champion only when it beats the current one on held-out pseudo-labels.")
def finetuned_adapter(context: AssetExecutionContext, pseudo_labels: pl.DataFrame, adapter: AdapterResource,
                      models: ModelStore) -> MaterializeResult:
    import torch

    from genai_lab.labels.rating_mil import encoder_weights
    from genai_lab.ml.cost import parameter_counts
    from genai_lab.ml.lora import build_adapter_model, load_adapter
    from genai_lab.ml.self_training import self_train_on_devices

    settings = adapter.training
    data, data_version = pseudo_label_data(pseudo_labels, settings)
    processes = training_processes()
    meter = CostMeter(adapter.cost, gpus=training_gpus(processes))
    start, weights = None, None
    if adapter.lora.start_from == RATING_MIL:
        versions = models.versions(RATING_MIL)
        if not versions:
            raise FileNotFoundError(f"adapter.lora.start_from is {RATING_MIL}, but {models.folder} holds none: materialize {RATING_MIL} first")
        start = {"name": RATING_MIL, "version": versions[-1].version, "path": str(versions[-1].path)}
        weights = encoder_weights(versions[-1].path)
        context.log.info(f"Starting from the rating-MIL teacher's encoder {versions[-1].path}")
    torch.manual_seed(settings.seed)  # the LoRA and head initialisation: same data and settings, same adapter
    model, tokenizer, base_path, targets = build_adapter_model(adapter.lora, weights)
    base = {"id": adapter.lora.base_model, **base_model_identity(base_path)}
    run_settings = {"lora": adapter.lora.model_dump(), "training": settings.model_dump()}
    work_dir = models.work_dir(ADAPTER) / fingerprint(data_version, run_settings, base["sha256"] or base["id"], start)
    context.log.info(f"Base model {base['id']} ({base_path}); LoRA r={adapter.lora.r} on {targets}; checkpoints in {work_dir}")
    result = self_train_on_devices(model, tokenizer, data, settings, work_dir, processes)
    cost = {**meter.stop(earlier=result.resumed_from), **parameter_counts(model)}
    metadata = store_classifier(models, ADAPTER, model, tokenizer, result, data, settings, {
        "kind": "lora_adapter", "base_model": base, "start_from": start, "target_modules": targets, "data_version": data_version,
        "settings": run_settings, "cost": cost}, load_adapter)
    return MaterializeResult(metadata=metadata)
