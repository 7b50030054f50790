"""The custom small language model arm: trained from scratch on our reviews, fine-tuned on the pseudo-labels.

clean_reviews, text_quality ─ slm_tokenizer ─ slm_pretrained ─ slm_classifier
pseudo_labels ───────────────────────────────────────────────┘

Every stage writes into the model store and returns metadata; nothing model-shaped goes through
the IO manager. With `slm.sizes` set, each size of the ladder is pretrained and fine-tuned
(`slm_classifier@<size>` in the store).
"""

import polars as pl
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from genai_lab.ml.arms import fingerprint, latest_version, load_classifier, pseudo_label_data, store_classifier, store_name, training_texts
from genai_lab.ml.cost import CostMeter
from genai_lab.ml.parallel import training_gpus, training_processes
from genai_lab.ml.store import ModelStore, code_version
from genai_lab.reports.writing import markdown_table
from genai_lab.resources import SlmResource
from genai_lab.vocabulary import SLM_CLASSIFIER, SLM_PRETRAINED, SLM_TOKENIZER, TRAINING_POOL


@asset(pool=TRAINING_POOL,
       description="WordPiece tokenizer trained on the clean review text fit for training (a standard tokenizer folder in the model store).")
def slm_tokenizer(context: AssetExecutionContext, clean_reviews: pl.DataFrame, text_quality: pl.DataFrame, slm: SlmResource,
                  models: ModelStore) -> MaterializeResult:
    from genai_lab.ml.slm import train_tokenizer

    texts = training_texts(clean_reviews, text_quality)
    meter = CostMeter(slm.cost)
    holder = {}

    def write(folder):
        holder["tokenizer"] = train_tokenizer(texts, slm.slm.vocab_size, folder)

    stored = models.save(SLM_TOKENIZER, write, {
        "kind": "tokenizer", "algorithm": "wordpiece", "vocab_size_setting": slm.slm.vocab_size, "texts": len(texts),
        "data_version": {"partitions": dict(sorted(clean_reviews.group_by("dump_id").len().rows()))}, "code_version": code_version(),
        "cost": meter.stop()})
    tokenizer = holder["tokenizer"]
    sample = texts[: min(len(texts), 2000)]
    tokens = sum(len(ids) for ids in tokenizer(sample, add_special_tokens=False)["input_ids"])
    words = sum(len(text.split()) for text in sample)
    context.log.info(f"Tokenizer {stored.version}: {len(tokenizer):,} tokens trained on {len(texts):,} reviews")
    return MaterializeResult(metadata={"version": stored.version, "path": MetadataValue.path(str(stored.path)),
                                       "vocab_size": len(tokenizer), "texts": len(texts),
                                       "tokens_per_word": round(tokens / max(words, 1), 3)})


@asset(pool=TRAINING_POOL, deps=[slm_tokenizer],
       description="BERT-style encoder pretrained from random weights with masked-LM on the clean reviews (no pretrained weight "
                   "anywhere); one per size of the ladder; held-out perplexity, tokens/s and achieved FLOP/s vs a matmul ceiling.")
def slm_pretrained(context: AssetExecutionContext, clean_reviews: pl.DataFrame, text_quality: pl.DataFrame, slm: SlmResource,
                   models: ModelStore) -> MaterializeResult:
    import torch
    from transformers import AutoTokenizer, BertForMaskedLM

    from genai_lab.ml.cost import parameter_counts
    from genai_lab.ml import precision
    from genai_lab.ml.slm import flops_per_token, matmul_flops, model_config, pretrain_on_devices

    settings = slm.slm
    tokenizer_version = latest_version(models, SLM_TOKENIZER)
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_version.path))
    texts = training_texts(clean_reviews, text_quality)
    processes = training_processes()
    gpus = training_gpus(processes)
    device = "cuda" if gpus else "cpu"
    # the ceiling of the run: a plain matmul on one device, times the devices training together
    ceiling = matmul_flops(device=device) * max(1, gpus)
    context.log.info(f"Plain matmul on {max(1, gpus)} × {device} in {precision.describe()}: {ceiling / 1e9:.1f} GFLOP/s")
    metadata, rows = {"matmul_gflops": round(ceiling / 1e9, 2), "precision": precision.describe(), "device": device,
                      "processes": processes, "tokenizer_version": tokenizer_version.version}, []
    for size in settings.ladder():
        torch.manual_seed(settings.seed)
        config = model_config(size, tokenizer, settings.max_length, settings.hidden_act)
        model = BertForMaskedLM(config)
        meter = CostMeter(slm.cost, gpus=gpus)
        work_dir = models.work_dir(store_name(SLM_PRETRAINED, size)) / fingerprint(
            tokenizer_version.version, settings.model_dump(), size, len(texts))
        context.log.info(f"Pretraining size '{size}' ({parameter_counts(model)['params_total']:,} parameters) on {len(texts):,} reviews")
        outcome = pretrain_on_devices(model, tokenizer, texts, settings, work_dir, processes)
        achieved = flops_per_token(config) * outcome.tokens_per_s
        cost = {**meter.stop(earlier=outcome.cost_before_resume), **parameter_counts(model)}

        def write(folder, model=model):
            model.save_pretrained(str(folder), safe_serialization=True)
            tokenizer.save_pretrained(str(folder))

        stored = models.save(store_name(SLM_PRETRAINED, size), write, {
            "kind": "masked_lm", "size": size, "config": config.to_dict(), "tokenizer_version": tokenizer_version.version,
            "settings": settings.model_dump(), "code_version": code_version(), "data_version": {"texts": len(texts), "blocks": outcome.blocks},
            "metrics": {"heldout_perplexity": outcome.heldout_perplexity, "history": outcome.history, "steps": outcome.steps,
                        "tokens": outcome.tokens, "tokens_per_s": outcome.tokens_per_s, "achieved_gflops": achieved / 1e9,
                        "matmul_gflops": ceiling / 1e9, "device": device, "processes": processes, "resumed": outcome.resumed},
            "cost": cost})
        rows.append({"size": size, "version": stored.version, "params": cost["params_total"], "steps": outcome.steps,
                     "minutes": round(outcome.seconds / 60, 2), "tokens_per_s": round(outcome.tokens_per_s),
                     "achieved_gflops": round(achieved / 1e9, 2), "share_of_matmul": round(achieved / ceiling, 3),
                     "heldout_perplexity": round(outcome.heldout_perplexity, 2)})
        if size == settings.size or len(settings.ladder()) == 1:
            metadata.update({"heldout_perplexity": float(outcome.heldout_perplexity), "tokens_per_s": float(outcome.tokens_per_s),
                             "achieved_gflops": float(achieved / 1e9), "steps": outcome.steps,
                             "perplexity_curve": MetadataValue.md(markdown_table(pl.DataFrame(outcome.history)))})
    metadata["sizes"] = MetadataValue.md(markdown_table(pl.DataFrame(rows)))
    return MaterializeResult(metadata=metadata)


@asset(pool=TRAINING_POOL, deps=[slm_pretrained],
       description="The pretrained SLM fully fine-tuned on the pseudo-labels with the adapter arm's self-training recipe; "
                   "champion rule as for the adapter.")
def slm_classifier(context: AssetExecutionContext, pseudo_labels: pl.DataFrame, slm: SlmResource, models: ModelStore) -> MaterializeResult:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from genai_lab.ml.classifier import LABELS, label_maps
    from genai_lab.ml.cost import parameter_counts
    from genai_lab.ml.self_training import self_train_on_devices

    settings = slm.training
    data, data_version = pseudo_label_data(pseudo_labels, settings)
    metadata = {}
    for size in slm.slm.ladder():
        pretrained = latest_version(models, store_name(SLM_PRETRAINED, size))
        processes = training_processes()
        meter = CostMeter(slm.cost, gpus=training_gpus(processes))
        id2label, label2id = label_maps()
        torch.manual_seed(settings.seed)  # the new head's initialisation: same data and settings, same classifier
        model = AutoModelForSequenceClassification.from_pretrained(str(pretrained.path), num_labels=len(LABELS), id2label=id2label,
                                                                   label2id=label2id)
        tokenizer = AutoTokenizer.from_pretrained(str(pretrained.path))
        work_dir = models.work_dir(store_name(SLM_CLASSIFIER, size)) / fingerprint(data_version, settings.model_dump(), pretrained.version)
        result = self_train_on_devices(model, tokenizer, data, settings, work_dir, processes)
        fine_tune = meter.stop(earlier=result.resumed_from)
        pretrain_cost = pretrained.manifest["cost"]
        # the arm's training cost is everything it took: pretraining from scratch plus fine-tuning
        cost = {"train_seconds": fine_tune["train_seconds"] + pretrain_cost["train_seconds"],
                "cpu_seconds": fine_tune["cpu_seconds"] + pretrain_cost["cpu_seconds"],
                "energy_kwh": fine_tune["energy_kwh"] + pretrain_cost["energy_kwh"],
                "peak_rss_mb": max(fine_tune["peak_rss_mb"], pretrain_cost["peak_rss_mb"]),
                "fine_tune_seconds": fine_tune["train_seconds"], "pretrain_seconds": pretrain_cost["train_seconds"],
                **({"gpu_seconds": fine_tune.get("gpu_seconds", 0.0) + pretrain_cost.get("gpu_seconds", 0.0)}
                   if "gpu_seconds" in fine_tune or "gpu_seconds" in pretrain_cost else {}),
                **parameter_counts(model)}
        size_metadata = store_classifier(models, store_name(SLM_CLASSIFIER, size), model, tokenizer, result, data, settings, {
            "kind": "slm_classifier", "size": size, "pretrained_version": pretrained.version, "fine_tuning": "full",
            "data_version": data_version, "settings": {"training": settings.model_dump(), "slm": slm.slm.model_dump()},
            "cost": cost}, lambda folder: load_classifier(folder, served=False))
        metadata.update(size_metadata if size == slm.slm.size else {f"{size}_{k}": v for k, v in size_metadata.items()
                                                                    if k in ("version", "heldout_pseudo_label_macro_f1", "heldout_selection_score")})
    return MaterializeResult(metadata=metadata)
