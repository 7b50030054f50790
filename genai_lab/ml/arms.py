"""The two model arms as the pipeline stores and serves them: store names, loading, the data a run
trains on, and publishing a trained classifier as a new version (champion only when it wins).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import polars as pl
from dagster import MetadataValue

from genai_lab.hashing import frame_digest
from genai_lab.ml.self_training import ITEM_COLUMNS, SelfTrainingSettings
from genai_lab.ml.slm import SlmSettings
from genai_lab.ml.store import ModelStore, StoredModel, code_version, folder_hash
from genai_lab.reports.writing import markdown_table
from genai_lab.vocabulary import ASPECT_POLARITY, REVIEW_SENTIMENT, SENTIMENT_LABELS, SLM_CLASSIFIER

log = logging.getLogger(__name__)

#: macro-F1 on held-out pseudo-labels (never gold)
PSEUDO_LABEL_METRIC = "heldout_pseudo_label_macro_f1"
#: the independent criterion beside it: held-out star-rating agreement
RATING_METRIC = "heldout_rating_agreement"
#: the score the champion rule, early stopping and serving compare: the two above weighted (`selection_score`), or
#: the pseudo-label score alone where no held-out review has stars
CHAMPION_METRIC = "heldout_selection_score"


def fingerprint(*parts) -> str:
    """A short digest of what makes a training run: the checkpoint folder a resumed run finds again."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def base_model_identity(base_path: str) -> dict:
    local = Path(base_path).exists()
    return {"path": base_path, "sha256": folder_hash(base_path) if local else None}


def store_name(base: str, size: str) -> str:
    """The model-store name of one size of the SLM ladder."""
    return f"{base}@{size}"


def evaluation_names(settings: SlmSettings, size: str) -> list[str]:
    """The `model_evaluation` names of one size: `slm_classifier@<size>`, and plain `slm_classifier` for the default size."""
    ladder = settings.ladder()
    return [store_name(SLM_CLASSIFIER, size)] + ([SLM_CLASSIFIER] if size == settings.size or len(ladder) == 1 else [])


def latest_version(models: ModelStore, name: str) -> StoredModel:
    versions = models.versions(name)
    if not versions:
        raise FileNotFoundError(f"model store {models.folder} holds no version of {name}: materialize it first")
    return versions[-1]


def training_texts(clean_reviews: pl.DataFrame, text_quality: pl.DataFrame) -> list[str]:
    """The review texts fit for training: what the SLM's tokenizer and pretraining read."""
    fit = text_quality.filter(pl.col("fit_for_training")).select("review_id")
    return clean_reviews.join(fit, on="review_id", how="semi")["content"].drop_nulls().to_list()


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


def pseudo_label_data(pseudo_labels: pl.DataFrame, settings: SelfTrainingSettings) -> tuple[dict, dict]:
    """The self-training splits of all pseudo-labels and the data version they make (partitions and counts)."""
    from genai_lab.ml.self_training import split_pseudo_labels

    data = split_pseudo_labels(pseudo_labels, settings)
    data_version = {
        "partitions": dict(sorted(pseudo_labels.group_by("dump_id").len().rows())),
        "rows": pseudo_labels.height,
        "candidates": data["candidates"].height, "holdout": data["holdout"].height, "pool": data["pool"].height,
        # the labels themselves: relabelled reviews with the same counts are other training data (and no checkpoint to resume)
        "labels_digest": frame_digest(pl.concat([split.with_columns(pl.lit(name).alias("_split")) for name, split in data.items()],
                                                how="diagonal_relaxed")),
        "rated_holdout": data["rated_holdout"].height,
        # the rows the held-out score (and so the champion rule and the serving choice) is measured on
        "holdout_digest": frame_digest(pl.concat([data["holdout"].select(*ITEM_COLUMNS, "label_index"), data["rated_holdout"]])),
    }
    log.info(f"Pseudo-labels from {len(data_version['partitions'])} dump(s): {data['candidates'].height:,} confident "
             f"candidates, {data['holdout'].height:,} held out, {data['pool'].height:,} in the unlabelled pool")
    return data, data_version


def _champion_score(models: ModelStore, name: str, data: dict[str, pl.DataFrame], settings: SelfTrainingSettings,
                    load_champion) -> float | None:
    """The current champion's selection score on this run's held-out rows, so candidate and champion compare on the same data."""
    from genai_lab.ml.self_training import held_out_scores, selection_score

    try:
        champion = models.champion(name)
        if champion is None or not data["holdout"].height:
            return None
        champion_model, champion_tokenizer = load_champion(champion.path)
        return selection_score(*held_out_scores(champion_model, champion_tokenizer, data, settings), settings)
    except Exception as error:  # noqa: BLE001 - a champion that cannot be served (deleted files, other base) is replaced, not fatal
        log.warning(f"The champion of {name} could not be scored ({error}); the new version replaces it")
        return None


def store_classifier(models: ModelStore, name: str, model, tokenizer, result, data: dict[str, pl.DataFrame],
                     settings: SelfTrainingSettings, manifest: dict, load_champion) -> dict:
    """Saves a trained classifier as a new version and moves the champion only when it wins on `data`'s held-out rows
    (pseudo-labels and star ratings, `selection_score`); returns the metadata.

    `load_champion(folder)` -> (model, tokenizer).
    """
    champion_score = _champion_score(models, name, data, settings, load_champion)
    score = result.best_selection_score if result.best_selection_score is not None else result.best_score

    def write(folder):
        model.save_pretrained(str(folder), safe_serialization=True)
        tokenizer.save_pretrained(str(folder))

    stored: StoredModel = models.save(name, write, {
        **manifest, "task_inputs": {REVIEW_SENTIMENT: "text", ASPECT_POLARITY: "text, aspect_term"},
        "labels": list(SENTIMENT_LABELS), "code_version": code_version(),
        "metrics": {PSEUDO_LABEL_METRIC: result.best_score, RATING_METRIC: result.best_rating_agreement,
                    CHAMPION_METRIC: score, "best_round": result.best_round, "rounds": result.history,
                    "train_rows": result.train_rows, "steps": result.steps},
        "resumed_from": result.resumed_from,
    })
    promoted = models.promote(stored, score, champion_score, CHAMPION_METRIC,
                              (manifest.get("data_version") or {}).get("holdout_digest"))
    serving = models.champion(name)
    agreement = "n/a" if result.best_rating_agreement is None else f"{result.best_rating_agreement:.4f}"
    log.info(f"Saved {name} {stored.version} (held-out pseudo-label macro-F1 {result.best_score:.4f}, star-rating agreement {agreement}, "
             f"selection score {score:.4f}; champion "
             f"{'moved to it' if promoted else f'stays {serving.version} at {champion_score:.4f}'})")
    return {
        "version": stored.version,
        "path": MetadataValue.path(str(stored.path)),
        "promoted": promoted,
        "champion_version": serving.version if serving else None,
        CHAMPION_METRIC: float(score),
        PSEUDO_LABEL_METRIC: float(result.best_score),
        RATING_METRIC: None if result.best_rating_agreement is None else float(result.best_rating_agreement),
        "champion_previous_score": float(champion_score) if champion_score is not None else None,
        "train_rows": result.train_rows,
        "steps": result.steps,
        "rounds": MetadataValue.md(markdown_table(pl.DataFrame(result.history)) if result.history else "(no rounds)"),
        "resumed": result.resumed_from is not None,
        **{key: float(value) for key, value in manifest["cost"].items()},
    }
