"""The custom small language model arm: trained from scratch on our reviews, fine-tuned on the pseudo-labels.

clean_reviews, text_quality ─ slm_tokenizer ─ slm_pretrained ─ slm_classifier ─ slm_evaluation ─ model_evaluation
pseudo_labels ───────────────────────────────────────────────┘                 gold_labels ┘

Every stage writes into the model store and returns metadata; nothing model-shaped goes through
the IO manager. With `slm.sizes` set, each size of the ladder is pretrained, fine-tuned and
evaluated (`slm_classifier@<size>` in the store and in `model_evaluation`).
"""

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

from genai_lab.assets.finetune import (
    TRAINING_POOL,
    fingerprint,
    pseudo_label_data,
    store_classifier,
)
from genai_lab.assets.prep import DUCKDB_POOL, markdown_table
from genai_lab.evaluation import markdown_summary
from genai_lab.ml.cost import CostMeter, CostSettings
from genai_lab.ml.parallel import training_gpus, training_processes
from genai_lab.ml.self_training import SelfTrainingSettings
from genai_lab.ml.slm import SlmSettings
from genai_lab.ml.store import ModelStore, code_version

TOKENIZER = "slm_tokenizer"
PRETRAINED = "slm_pretrained"
CLASSIFIER = "slm_classifier"


class SlmSelfTrainingSettings(SelfTrainingSettings):
    """The adapter arm's recipe with the SLM's budget: fine-tuning 3M parameters costs a fifth of a LoRA step on
    23M (3,000 rows in 20 s against 84 s), so the same minutes buy four times the rows.

    A subclass, not `SelfTrainingSettings(...)` in a default_factory: Dagster builds a nested Config
    from its class defaults when it runs a job, so a factory's arguments would be silently dropped.
    """

    max_train_rows: int = 12000
    min_train_rows: int = 3000
    train_rows_share: float = 0.08


class SlmTraining(ConfigurableResource):
    """Everything the from-scratch arm is built, trained and measured with."""

    slm: SlmSettings = Field(default_factory=SlmSettings)
    training: SlmSelfTrainingSettings = Field(default_factory=SlmSelfTrainingSettings)
    cost: CostSettings = Field(default_factory=CostSettings)


def store_name(base: str, size: str) -> str:
    return f"{base}@{size}"


def evaluation_names(settings: SlmSettings, size: str) -> list[str]:
    """The `model_evaluation` names of one size: `slm_classifier@<size>`, and plain `slm_classifier` for the default size."""
    ladder = settings.ladder()
    return [store_name(CLASSIFIER, size)] + ([CLASSIFIER] if size == settings.size or len(ladder) == 1 else [])


def _latest(models: ModelStore, name: str):
    versions = models.versions(name)
    if not versions:
        raise FileNotFoundError(f"model store {models.folder} holds no version of {name}: materialize it first")
    return versions[-1]


def training_texts(clean_reviews: pl.DataFrame, text_quality: pl.DataFrame) -> list[str]:
    fit = text_quality.filter(pl.col("fit_for_training")).select("review_id")
    return clean_reviews.join(fit, on="review_id", how="semi")["content"].drop_nulls().to_list()


@asset(group_name="slm", pool=TRAINING_POOL,
       description="WordPiece tokenizer trained on the clean review text fit for training (a standard tokenizer folder in the model store).")
def slm_tokenizer(context: AssetExecutionContext, clean_reviews: pl.DataFrame, text_quality: pl.DataFrame, slm: SlmTraining,
                  models: ModelStore) -> MaterializeResult:
    from genai_lab.ml.slm import train_tokenizer

    texts = training_texts(clean_reviews, text_quality)
    meter = CostMeter(slm.cost)
    holder = {}

    def write(folder):
        holder["tokenizer"] = train_tokenizer(texts, slm.slm.vocab_size, folder)

    stored = models.save(TOKENIZER, write, {
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


@asset(group_name="slm", pool=TRAINING_POOL, deps=[slm_tokenizer],
       description="BERT-style encoder pretrained from random weights with masked-LM on the clean reviews (no pretrained weight "
                   "anywhere); one per size of the ladder; held-out perplexity, tokens/s and achieved FLOP/s vs a matmul ceiling.")
def slm_pretrained(context: AssetExecutionContext, clean_reviews: pl.DataFrame, text_quality: pl.DataFrame, slm: SlmTraining,
                   models: ModelStore) -> MaterializeResult:
    import torch
    from transformers import AutoTokenizer, BertForMaskedLM

    from genai_lab.ml.cost import parameter_counts
    from genai_lab.ml import precision
    from genai_lab.ml.slm import flops_per_token, matmul_flops, model_config, pretrain_on_devices

    settings = slm.slm
    tokenizer_version = _latest(models, TOKENIZER)
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
        work_dir = models.work_dir(store_name(PRETRAINED, size)) / fingerprint(
            tokenizer_version.version, settings.model_dump(), size, len(texts))
        context.log.info(f"Pretraining size '{size}' ({parameter_counts(model)['params_total']:,} parameters) on {len(texts):,} reviews")
        outcome = pretrain_on_devices(model, tokenizer, texts, settings, work_dir, processes)
        achieved = flops_per_token(config) * outcome["tokens_per_s"]
        cost = {**meter.stop(earlier=outcome["cost_before_resume"]), **parameter_counts(model)}

        def write(folder, model=model):
            model.save_pretrained(str(folder), safe_serialization=True)
            tokenizer.save_pretrained(str(folder))

        stored = models.save(store_name(PRETRAINED, size), write, {
            "kind": "masked_lm", "size": size, "config": config.to_dict(), "tokenizer_version": tokenizer_version.version,
            "settings": settings.model_dump(), "code_version": code_version(), "data_version": {"texts": len(texts), "blocks": outcome["blocks"]},
            "metrics": {"heldout_perplexity": outcome["heldout_perplexity"], "history": outcome["history"], "steps": outcome["steps"],
                        "tokens": outcome["tokens"], "tokens_per_s": outcome["tokens_per_s"], "achieved_gflops": achieved / 1e9,
                        "matmul_gflops": ceiling / 1e9, "device": device, "processes": processes, "resumed": outcome["resumed"]},
            "cost": cost})
        rows.append({"size": size, "version": stored.version, "params": cost["params_total"], "steps": outcome["steps"],
                     "minutes": round(outcome["seconds"] / 60, 2), "tokens_per_s": round(outcome["tokens_per_s"]),
                     "achieved_gflops": round(achieved / 1e9, 2), "share_of_matmul": round(achieved / ceiling, 3),
                     "heldout_perplexity": round(outcome["heldout_perplexity"], 2)})
        if size == settings.size or len(settings.ladder()) == 1:
            metadata.update({"heldout_perplexity": float(outcome["heldout_perplexity"]), "tokens_per_s": float(outcome["tokens_per_s"]),
                             "achieved_gflops": float(achieved / 1e9), "steps": outcome["steps"],
                             "perplexity_curve": MetadataValue.md(markdown_table(pl.DataFrame(outcome["history"])))})
    metadata["sizes"] = MetadataValue.md(markdown_table(pl.DataFrame(rows)))
    return MaterializeResult(metadata=metadata)


def load_classifier(folder, served: bool = True):
    """(model, tokenizer) for inference from a stored SLM classifier folder.

    `served=False` keeps the fp32 weights a freshly trained candidate is scored with, so the champion
    rule compares the two in the same arithmetic (`served` casts to bf16 where models compute in it).
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from genai_lab.ml.precision import for_inference

    model = AutoModelForSequenceClassification.from_pretrained(str(folder))
    model = for_inference(model) if served else model
    model.eval()
    return model, AutoTokenizer.from_pretrained(str(folder))


@asset(group_name="slm", pool=TRAINING_POOL, deps=[slm_pretrained],
       description="The pretrained SLM fully fine-tuned on the pseudo-labels with the adapter arm's self-training recipe; "
                   "champion rule as for the adapter.")
def slm_classifier(context: AssetExecutionContext, pseudo_labels: pl.DataFrame, slm: SlmTraining, models: ModelStore) -> MaterializeResult:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from genai_lab.ml.classifier import LABELS, label_maps
    from genai_lab.ml.cost import parameter_counts
    from genai_lab.ml.self_training import self_train_on_devices

    settings = slm.training
    data, data_version = pseudo_label_data(context, pseudo_labels, settings)
    metadata = {}
    for size in slm.slm.ladder():
        pretrained = _latest(models, store_name(PRETRAINED, size))
        processes = training_processes()
        meter = CostMeter(slm.cost, gpus=training_gpus(processes))
        id2label, label2id = label_maps()
        torch.manual_seed(settings.seed)  # the new head's initialisation: same data and settings, same classifier
        model = AutoModelForSequenceClassification.from_pretrained(str(pretrained.path), num_labels=len(LABELS), id2label=id2label,
                                                                   label2id=label2id)
        tokenizer = AutoTokenizer.from_pretrained(str(pretrained.path))
        work_dir = models.work_dir(store_name(CLASSIFIER, size)) / fingerprint(data_version, settings.model_dump(), pretrained.version)
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
        size_metadata = store_classifier(context, models, store_name(CLASSIFIER, size), model, tokenizer, result, data["holdout"], settings, {
            "kind": "slm_classifier", "size": size, "pretrained_version": pretrained.version, "fine_tuning": "full",
            "data_version": data_version, "settings": {"training": settings.model_dump(), "slm": slm.slm.model_dump()},
            "cost": cost}, lambda folder: load_classifier(folder, served=False))
        metadata.update(size_metadata if size == slm.slm.size else {f"{size}_{k}": v for k, v in size_metadata.items()
                                                                    if k in ("version", "heldout_pseudo_label_macro_f1")})
    return MaterializeResult(metadata=metadata)


@asset(group_name="evaluation", pool=DUCKDB_POOL, deps=[slm_classifier],
       description="The champion SLM classifier of every size on every sentiment gold set and its training cost, with exactly "
                   "the adapter arm's metrics (inference is timed in inference_timing, beside the adapter).")
def slm_evaluation(context: AssetExecutionContext, gold_labels: pl.DataFrame, slm: SlmTraining, models: ModelStore):
    from genai_lab.ml.scoring import evaluate_model

    frames = []
    for size in slm.slm.ladder():
        champion = models.champion(store_name(CLASSIFIER, size))
        if champion is None:
            raise FileNotFoundError(f"model store {models.folder} holds no champion of {store_name(CLASSIFIER, size)}: "
                                    f"materialize {CLASSIFIER} first")
        model, tokenizer = load_classifier(champion.path)
        manifest = champion.manifest
        names = evaluation_names(slm.slm, size)
        evaluation = evaluate_model(
            model, tokenizer, gold_labels, names[0], batch_size=slm.training.inference_batch_size, max_length=slm.training.max_length,
            training_cost={**manifest["cost"], "disk_mb": manifest["disk_mb"]})
        for name in names:
            frames.append(evaluation.with_columns(pl.lit(name).alias("model"), pl.lit(champion.version).alias("model_version")))
    evaluation = pl.concat(frames)
    return Output(evaluation, metadata={"summary": MetadataValue.md(markdown_summary(evaluation))})


assets = [slm_tokenizer, slm_pretrained, slm_classifier, slm_evaluation]
