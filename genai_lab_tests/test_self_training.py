"""LoRA targets by architecture, the self-training recipe, and resuming a killed training run."""

import numpy as np
import polars as pl
import pytest
import torch

from genai_lab.evaluation.statistics import macro_f1
from genai_lab.ml.classifier import lora_target_modules
from genai_lab.ml.lora import LoraSettings, build_adapter_model, load_adapter
from genai_lab.ml.self_training import (
    SelfTrainingSettings,
    balanced_sample,
    self_train,
    self_train_on_devices,
    rating_agreement,
    selection_score,
    split_pseudo_labels,
)
from genai_lab.ml.training_loop import OptimizerSettings
from genai_lab_tests.conftest import kill_at_checkpoint

WORDS = {0: ["awful", "crash", "hate", "broken"], 1: ["okay", "fine", "average", "alright"], 2: ["love", "great", "perfect", "amazing"]}


def toy_pseudo_labels(n: int = 900, seed: int = 0) -> pl.DataFrame:
    """Reviews and aspect rows whose words give the class away; every fifth row abstained (the pool)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        k = int(rng.integers(3))
        aspect = i % 2 == 1
        labelled = i % 5 != 0
        rows.append({"review_id": f"r{i // 2 if aspect else i}", "mention_index": 0 if aspect else None,
                     "text": " ".join(rng.choice(WORDS[k], 3)) + " app", "aspect_term": "app" if aspect else None,
                     "label_index": k if labelled else -1, "confidence": 0.95 if labelled else 0.4,
                     "level": "aspect" if aspect else "review", "abstained": not labelled, "fit_for_training": i % 11 != 0,
                     "dump_id": "toy"})
    return pl.DataFrame(rows)


def test_lora_targets_follow_the_architecture():
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        GPT2Config,
        GPT2ForSequenceClassification,
    )

    bert = BertForSequenceClassification(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                                    intermediate_size=32))
    gpt2 = GPT2ForSequenceClassification(GPT2Config(vocab_size=50, n_embd=16, n_layer=1, n_head=2, n_positions=32))
    assert lora_target_modules(bert) == ["dense", "key", "query", "value"]  # the head and the pooler are not adapted
    assert lora_target_modules(gpt2) == ["c_attn", "c_fc", "c_proj"]  # Conv1D projections count as linear


def test_held_out_star_ratings_are_an_independent_criterion():
    frame = toy_pseudo_labels().with_columns(pl.when(pl.col("level") == "review").then(pl.int_range(pl.len()) % 5 + 1).alias("rating"))
    settings = SelfTrainingSettings(holdout_fraction=0.3, holdout_rows=10_000)
    parts = split_pseudo_labels(frame, settings)
    rated = parts["rated_holdout"].join(frame.select(pl.col("review_id").alias("item_id"), "rating", "abstained"), on="item_id")
    assert rated.height > 20 and rated["aspect"].is_null().all()  # review level only
    assert set(rated.filter(pl.col("rating") <= 2)["label_index"]) == {0} and set(rated.filter(pl.col("rating") >= 4)["label_index"]) == {2}
    assert rated["abstained"].any()  # held out whatever the teacher said: stars are not the teacher's labels
    assert not set(rated["item_id"]) & set(parts["candidates"]["item_id"])
    # balanced over the two star sides; a polar review predicted neutral is wrong
    assert rating_agreement(np.array([0, 0, 2, 2, 2, 2]), np.array([0, 1, 2, 2, 2, 2])) == pytest.approx(0.75)
    assert selection_score(0.6, 0.9, SelfTrainingSettings(rating_weight=0.5)) == pytest.approx(0.75)
    assert selection_score(0.6, None, settings) == 0.6  # no rated held-out review: pseudo-labels alone


def test_split_keeps_unfit_rows_out_and_holds_out_whole_reviews():
    frame = toy_pseudo_labels()
    settings = SelfTrainingSettings(holdout_fraction=0.2, holdout_rows=10_000)
    parts = split_pseudo_labels(frame, settings)
    fit = frame.filter("fit_for_training").height
    assert sum(parts[name].height for name in ("candidates", "holdout", "pool")) <= fit
    assert parts["rated_holdout"].height == 0  # these pseudo-labels carry no star rating
    assert parts["candidates"]["label_index"].min() >= 0 and parts["holdout"]["label_index"].min() >= 0
    review_of = lambda f: set(f["item_id"].str.replace(r"#.*$", "").to_list())
    assert not review_of(parts["holdout"]) & (review_of(parts["candidates"]) | review_of(parts["pool"]))
    assert parts["pool"].height > 0 and parts["holdout"].height > 0


def test_balanced_sample_caps_each_class_and_task():
    frame = split_pseudo_labels(toy_pseudo_labels(), SelfTrainingSettings())["candidates"]
    sample = balanced_sample(frame, 120, seed=0, aspect_share=0.5)
    counts = sample.group_by("level", "label_index").len()
    assert sample.height <= 120 and counts["len"].max() <= 20
    assert set(counts["level"]) == {"review", "aspect"}


def test_balanced_sample_spreads_each_class_over_the_app_categories():
    # 300 rows of each class: 240 in Games, 50 in Finance, 10 in Health
    categories = ["Games"] * 240 + ["Finance"] * 50 + ["Health"] * 10
    frame = pl.DataFrame({"item_id": [f"{label}-{i}" for label in range(3) for i in range(300)],
                          "label_index": [label for label in range(3) for _ in range(300)],
                          "app_category": categories * 3, "level": ["review"] * 900})
    sample = balanced_sample(frame, 90, seed=0)
    counts = dict(sample.group_by("label_index", "app_category").len().select(pl.format("{}/{}", "label_index", "app_category"), "len").rows())
    # 30 per class: Health gives all 10 it has, the other two categories 10 each
    assert counts == {f"{label}/{category}": 10 for label in range(3) for category in ("Games", "Finance", "Health")}
    assert balanced_sample(frame, 900, seed=0).height == 900
    assert balanced_sample(frame, 90, seed=0)["item_id"].to_list() == sample["item_id"].to_list()  # seeded


def test_macro_f1():
    assert macro_f1(np.array([0, 1, 2]), np.array([0, 1, 2])) == 1.0
    assert macro_f1(np.array([0, 0, 1, 1]), np.array([0, 0, 0, 0])) == pytest.approx((2 / 3 + 0) / 2)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_self_training_learns_and_saves_a_plain_peft_adapter(tiny_base_model, tmp_path, seed):
    settings = SelfTrainingSettings(max_train_rows=300, rounds=3, pool_rows=200, add_per_round=60,
                                    optimizer=OptimizerSettings(learning_rate=5e-3, batch_size=16),
                                    self_training_threshold=0.5, holdout_fraction=0.2, epochs_per_round=2)
    data = split_pseudo_labels(toy_pseudo_labels(), settings)
    # the LoRA and head initialisation draw from torch's global generator: seeded, so earlier tests cannot change them
    torch.manual_seed(seed)
    model, tokenizer, _, _ = build_adapter_model(LoraSettings(base_model=str(tiny_base_model), r=4, alpha=8))
    result = self_train(model, tokenizer, data, settings, tmp_path / "work")
    assert result.best_score > 0.45  # chance is 1/3: the class words are learnable even from a random tiny model
    assert result.history[0]["round"] == 0 and result.history[0]["added_rows"] == 0
    assert any(r["added_rows"] > 0 for r in result.history[1:])  # self-training added pool rows
    assert not (tmp_path / "work").exists()  # checkpoints are gone once training completes

    model.save_pretrained(tmp_path / "adapter")
    tokenizer.save_pretrained(tmp_path / "adapter")
    assert not list((tmp_path / "adapter").glob("*.bin"))
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification

    plain = PeftModel.from_pretrained(AutoModelForSequenceClassification.from_pretrained(tiny_base_model, num_labels=3),
                                      str(tmp_path / "adapter"))
    reloaded, _ = load_adapter(tmp_path / "adapter")
    batch = tokenizer(["love great app"], return_tensors="pt")

    model.eval()
    plain.eval()
    with torch.no_grad():
        expected = model(**batch).logits
        assert torch.allclose(plain(**batch).logits, expected, atol=1e-5)
        assert torch.allclose(reloaded(**batch).logits, expected, atol=1e-5)


RESUMABLE_RUN = """
import sys
from pathlib import Path
import polars as pl
from genai_lab.ml.lora import LoraSettings, build_adapter_model
from genai_lab.ml.self_training import SelfTrainingSettings, self_train, split_pseudo_labels
settings = SelfTrainingSettings.model_validate_json(Path(sys.argv[1]).read_text())
data = split_pseudo_labels(pl.read_parquet(sys.argv[2]), settings)
model, tokenizer, _, _ = build_adapter_model(LoraSettings(base_model=sys.argv[3], r=4, alpha=8))
self_train(model, tokenizer, data, settings, Path(sys.argv[4]))
"""


def test_a_killed_training_run_resumes_from_its_checkpoint(tiny_base_model, tmp_path):
    settings = SelfTrainingSettings(max_train_rows=1500, rounds=1, optimizer=OptimizerSettings(batch_size=2), checkpoint_every_steps=5,
                                    holdout_fraction=0.1, holdout_rows=20)
    frame = toy_pseudo_labels(n=2400)
    (tmp_path / "settings.json").write_text(settings.model_dump_json())
    frame.write_parquet(tmp_path / "labels.parquet")
    work = tmp_path / "work"
    killed_at = kill_at_checkpoint(RESUMABLE_RUN, [str(tmp_path / "settings.json"), str(tmp_path / "labels.parquet"), str(tiny_base_model),
                                                   str(work)], work / "checkpoint" / "state.json", 10, tmp_path / "stderr")
    assert killed_at >= 10

    data = split_pseudo_labels(frame, settings)
    model, tokenizer, _, _ = build_adapter_model(LoraSettings(base_model=str(tiny_base_model), r=4, alpha=8))
    result = self_train(model, tokenizer, data, settings, work)
    assert result.resumed_from is not None and result.resumed_from["step"] >= killed_at
    # the killed run's time is carried forward, so a resumed model's training cost is not understated
    assert result.resumed_from["train_seconds"] > 0 and result.resumed_from["cpu_seconds"] > 0
    steps_per_epoch = -(-result.train_rows // 2) + 1  # two tasks: at most one partial batch each
    assert result.steps <= steps_per_epoch  # the steps done before the kill were not done again
    assert result.steps >= result.train_rows // 2
    assert not work.exists()


def test_two_training_processes_train_one_model_each_on_half_the_batches(tiny_base_model, tmp_path, caplog):
    """What several GPUs run, on two CPU processes (gloo): the same loop, half the steps each, gradients averaged
    (`self_train_on_devices` fails where the replicas' weights differ), the trained weights and the progress back here."""
    import copy
    import logging

    settings = SelfTrainingSettings(max_train_rows=300, rounds=2, pool_rows=200, add_per_round=60,
                                    optimizer=OptimizerSettings(learning_rate=1e-2, batch_size=8),
                                    self_training_threshold=0.5, holdout_fraction=0.2, epochs_per_round=3)
    data = split_pseudo_labels(toy_pseudo_labels(), settings)
    torch.manual_seed(0)
    model, tokenizer, _, _ = build_adapter_model(LoraSettings(base_model=str(tiny_base_model), r=4, alpha=8))
    alone = copy.deepcopy(model)
    initial = {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}

    one = self_train(alone, tokenizer, data, settings, tmp_path / "one")
    with caplog.at_level(logging.INFO, logger="genai_lab"):
        two = self_train_on_devices(model, tokenizer, data, settings, tmp_path / "two", processes=2)

    assert (one.processes, two.processes) == (1, 2)
    assert two.history[0]["steps"] == one.history[0]["steps"] // 2  # round 0: each process took every other batch
    assert two.best_score > 0.45  # chance is 1/3
    trained = {name: p.detach() for name, p in model.named_parameters() if p.requires_grad}
    assert all(not torch.equal(trained[name], initial[name]) for name in initial if "lora_B" in name)  # came back from the main process
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("Training in 2 processes") for m in messages)
    assert any(m.startswith("Round 0:") for m in messages)  # the main process's progress, relayed to this one
    assert not (tmp_path / "two").exists()


def test_the_round_budget_grows_with_the_candidates_between_its_bounds():
    settings = SelfTrainingSettings(min_train_rows=800, max_train_rows=3000, train_rows_share=0.02)
    assert settings.rows_per_round(31_353) == 800  # the embedded default: the floor
    assert settings.rows_per_round(100_000) == 2000
    assert settings.rows_per_round(161_691) == 3000  # the shared reviews: the cap
    assert SelfTrainingSettings(max_train_rows=300).rows_per_round(10_000) == 300  # a cap below the floor wins


def test_both_arms_take_their_optimizer_settings_from_one_nested_type():
    import pydantic

    from genai_lab.ml.slm import SlmSettings

    assert type(SelfTrainingSettings().optimizer) is type(SlmSettings().optimizer) is OptimizerSettings
    with pytest.raises(pydantic.ValidationError, match="learning_rate"):
        SelfTrainingSettings(learning_rate=1e-2)  # the field lives in `optimizer`: set flat, it is an error, not ignored


def test_the_round_schedule_warms_up_then_decays_linearly_to_zero():
    from genai_lab.ml.training_loop import warmup_then_linear_decay

    rates = [warmup_then_linear_decay(1e-3, step, 10, 2) for step in range(10)]
    assert rates[:3] == [5e-4, 1e-3, 1e-3] and rates[-1] == pytest.approx(1e-3 / 8)
    assert rates[1:] == sorted(rates[1:], reverse=True)


def test_a_stored_adapter_loads_after_its_base_folder_moved(tiny_base_model, tmp_path):
    """peft records the base as the folder it was loaded from; the store's manifest names it, so a rebuilt venv still loads it."""
    import json
    import shutil

    import torch

    from genai_lab.ml.store import MANIFEST

    moved = tmp_path / "old_venv_base"
    shutil.copytree(tiny_base_model, moved)
    torch.manual_seed(0)
    model, tokenizer, _, _ = build_adapter_model(LoraSettings(base_model=str(moved), r=4, alpha=8))
    folder = tmp_path / "stored"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    assert json.loads((folder / "adapter_config.json").read_text())["base_model_name_or_path"] == str(moved)
    shutil.rmtree(moved)
    (folder / MANIFEST).write_text(json.dumps({"base_model": {"id": str(tiny_base_model)}}))

    reloaded, _ = load_adapter(folder)
    inputs = tokenizer(["fine app"], return_tensors="pt")
    model.eval()
    with torch.no_grad():
        assert torch.allclose(reloaded(**inputs).logits, model(**inputs).logits, atol=1e-5)


def test_a_kill_between_the_checkpoint_renames_keeps_the_last_whole_checkpoint(tmp_path):
    from genai_lab.ml.training_loop import latest_checkpoint, swap_in_checkpoint

    swap_in_checkpoint(tmp_path, lambda folder: (folder / "state.json").write_text('{"step": 1}'))
    assert latest_checkpoint(tmp_path, "state.json") == tmp_path / "checkpoint"
    swap_in_checkpoint(tmp_path, lambda folder: (folder / "state.json").write_text('{"step": 2}'))
    assert (tmp_path / "checkpoint" / "state.json").read_text() == '{"step": 2}'
    assert not (tmp_path / "checkpoint.old").exists() and not (tmp_path / "checkpoint.new").exists()
    # killed after `checkpoint` became `checkpoint.old`, before the new one was renamed in
    (tmp_path / "checkpoint").rename(tmp_path / "checkpoint.old")
    (tmp_path / "checkpoint.new").mkdir()
    assert latest_checkpoint(tmp_path, "state.json") == tmp_path / "checkpoint.old"
    # killed while the new one was being written: the half-written folder is never taken
    (tmp_path / "checkpoint.old").rename(tmp_path / "checkpoint")
    (tmp_path / "checkpoint.new" / "model.safetensors").write_bytes(b"half")
    assert latest_checkpoint(tmp_path, "state.json") == tmp_path / "checkpoint"
    assert latest_checkpoint(tmp_path / "nothing", "state.json") is None


def test_the_held_out_split_is_pinned_to_the_review_id_alone():
    from genai_lab.hashing import stable_fraction

    # fixed numbers: a library upgrade that moved them would move the held-out set under the champion
    assert stable_fraction(pl.Series(["r1", "1718293", "app-review-é", "r1"])).to_list() == [0.16, 0.1563, 0.9759, 0.16]


def test_the_data_version_changes_with_the_labels_not_with_the_row_order():
    """A killed run resumes only on the labels it trained on: its checkpoint folder is keyed by this data version."""
    from genai_lab.ml.arms import pseudo_label_data

    frame, settings = toy_pseudo_labels(), SelfTrainingSettings(holdout_rows=20)  # a sample of the held-out rows
    version = pseudo_label_data(frame, settings)[1]
    assert pseudo_label_data(frame.sample(fraction=1.0, shuffle=True, seed=3), settings)[1] == version
    labelled = frame["label_index"] >= 0
    relabelled = frame.with_columns(pl.when(labelled).then((pl.col("label_index") + 1) % 3).otherwise(pl.col("label_index")))
    changed = pseudo_label_data(relabelled, settings)[1]
    assert {key: value for key, value in changed.items() if not key.endswith("_digest")} == {
        key: value for key, value in version.items() if not key.endswith("_digest")}  # same counts ...
    assert changed["labels_digest"] != version["labels_digest"]  # ... other labels
