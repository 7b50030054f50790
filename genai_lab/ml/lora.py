"""The fine-tuned foundation-model arm: a LoRA adapter (peft) on a pretrained encoder with a 3-class head.

The saved folder is plain peft output (`adapter_config.json`, `adapter_model.safetensors` with the
LoRA weights and the head) plus the tokenizer, so it loads with
`PeftModel.from_pretrained(AutoModelForSequenceClassification.from_pretrained(base, num_labels=3), folder)`
as well as through `load_adapter`.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from typing import Literal

from pydantic import Field

from genai_lab.config import StrictConfig
from genai_lab.ml.classifier import (
    load_base_classifier,
    load_tokenizer,
    lora_target_modules,
)
from genai_lab.ml.embeddings import DEFAULT_BASE_MODEL, resolve_base_model


class LoraSettings(StrictConfig):
    """Low-rank adapter shape. `target_modules` empty: every linear layer of the encoder, found from the architecture."""

    #: pretrained encoder: the bundled package name, a local folder or a hub id
    base_model: str = DEFAULT_BASE_MODEL
    #: LoRA rank
    r: int = 8
    #: LoRA scaling
    alpha: int = 16
    #: LoRA dropout
    dropout: float = 0.1
    #: modules to adapt; empty: every linear layer of the encoder, found from the architecture
    target_modules: list[str] = Field(default_factory=list)
    #: the encoder weights the adapter starts from: "base" (the pretrained model as shipped) or "rating_mil" (the base
    #: with the newest rating-MIL teacher's adapter merged in: it has learned polarity from the stars)
    start_from: Literal["base", "rating_mil"] = "base"


@contextlib.contextmanager
def peft_reading_a_deprecated_transformers_property():
    """peft reads `is_gradient_checkpointing`, which transformers 5 deprecates with a FutureWarning on every adapter
    built or loaded: nothing this project can act on, and it was the first thing `genai-lab run` printed."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
        yield

def build_adapter_model(settings: LoraSettings, encoder_weights: dict | None = None):
    """(peft model with only the LoRA weights and the head trainable, tokenizer, resolved base path, target modules).

    `encoder_weights`: a state dict of the base encoder (without its task head) to start from instead of the shipped
    weights, e.g. `RatingMil.encoder_weights()`; the saved adapter then holds them (`modules_to_save`), as the base
    the peft folder names does not."""
    from peft import LoraConfig, TaskType, get_peft_model

    base_path = resolve_base_model(settings.base_model)
    model = load_base_classifier(base_path)
    if encoder_weights is not None:
        missing, unexpected = model.base_model.load_state_dict(encoder_weights, strict=False)
        if unexpected or any(not key.startswith("pooler.") for key in missing):
            raise ValueError(f"encoder weights do not fit {base_path}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    targets = list(settings.target_modules) or lora_target_modules(model)
    config = LoraConfig(task_type=TaskType.SEQ_CLS, r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                        target_modules=targets)
    with peft_reading_a_deprecated_transformers_property():
        adapted = get_peft_model(model, config)
    return adapted, load_tokenizer(base_path), base_path, targets


def load_adapter(folder: str | Path, base_model: str | None = None):
    """(model in eval mode, tokenizer) from an adapter folder.

    The base is `base_model` if given, else the model store manifest's base id, else the adapter's
    config. The manifest comes first: peft records the base as the absolute folder it was loaded from
    (inside the venv of the training run), which a rebuilt or moved environment no longer has, while
    the manifest keeps the setting's name (the default package), resolved again here.
    """
    import json

    from peft import PeftModel

    from genai_lab.ml.store import MANIFEST

    folder = Path(folder)
    manifest = folder / MANIFEST
    recorded = json.loads(manifest.read_text()).get("base_model", {}).get("id") if manifest.exists() else None
    base = base_model or recorded or json.loads((folder / "adapter_config.json").read_text())["base_model_name_or_path"]
    base_classifier = load_base_classifier(resolve_base_model(base))
    started_from = json.loads(manifest.read_text()).get("start_from") if manifest.exists() else None
    if started_from:  # trained on the rating-MIL teacher's encoder, not the shipped one: the same weights again
        from genai_lab.labels.rating_mil import encoder_weights

        if not (Path(started_from["path"]) / "rating_mil.json").exists():
            raise FileNotFoundError(f"{folder} was trained from the rating_mil version at {started_from['path']}, which is gone")
        base_classifier.base_model.load_state_dict(encoder_weights(Path(started_from["path"])), strict=False)
    with peft_reading_a_deprecated_transformers_property():
        model = PeftModel.from_pretrained(base_classifier, str(folder))
    model.eval()
    return model, load_tokenizer(folder)


def load_merged_adapter(folder: str | Path, base_model: str | None = None):
    """(model, tokenizer) for inference: the LoRA update folded into the base weights.

    Same logits as the PeftModel (to float rounding), without the extra low-rank matmuls: ~1.2-1.3× the
    reviews/s on 2 CPU cores. This is how the arm is served and timed.
    """
    from genai_lab.ml.precision import for_inference

    model, tokenizer = load_adapter(folder, base_model)
    model = for_inference(model.merge_and_unload())
    model.eval()
    return model, tokenizer
