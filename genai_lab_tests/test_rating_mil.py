"""The rating-MIL teacher: segments, training data, attention pooling, a real (tiny) training run, the store round
trip, resuming after a kill, and its votes as a labelling function."""


import numpy as np
import polars as pl
import pytest
import torch

from genai_lab.labels.functions import ABSTAIN, LabelSettings, aspect_votes, boundary_pattern, review_votes
from genai_lab.labels.rating_mil import (
    NEG,
    NEU,
    POS,
    RatingMil,
    RatingMilOptimizerSettings,
    RatingMilSettings,
    build_model,
    choose_neutral_bias,
    pool,
    split_segments,
    train_rating_mil,
    training_reviews,
)
from genai_lab_tests.conftest import kill_at_checkpoint

BOUNDARY = boundary_pattern(LabelSettings())
WORDS = {1: "awful broken", 2: "awful slow", 3: "okay average", 4: "lovely smooth", 5: "lovely great"}


def _reviews(n: int = 600, seed: int = 0) -> pl.DataFrame:
    """Stars follow the words; a neutral clause ("the menu is there") sits in every review, so the attention must find
    the clause that carries the rating."""
    rng = np.random.default_rng(seed)
    stars = rng.integers(1, 6, n)
    texts = [f"The menu is there. It is {WORDS[int(s)]} today" if i % 2 else f"It is {WORDS[int(s)]} now, and the menu is there"
             for i, s in enumerate(stars)]
    return pl.DataFrame({"review_id": [f"r{i}" for i in range(n)], "content": texts, "rating": stars.tolist()})


def test_reviews_split_into_clauses_at_sentence_ends_and_contrast_words():
    segments = split_segments(pl.Series(["Great design but it crashes constantly. Support is slow!", "", "ok", None]), BOUNDARY, 8)
    assert segments.filter(pl.col("row") == 0)["segment"].to_list() == ["Great design", "it crashes constantly", "Support is slow"]
    # every row keeps at least one segment, so every review gets a prediction
    assert segments.group_by("row").len().sort("row")["len"].to_list() == [3, 1, 1, 1]
    assert split_segments(pl.Series(["a. b. c. d."]), BOUNDARY, 2)["segment"].to_list() == ["a", "b"]


def test_training_reviews_are_balanced_shuffled_and_never_held_out():
    reviews = _reviews(900).vstack(pl.DataFrame({"review_id": ["x", "y"], "content": ["no stars here at all", "short"],
                                                 "rating": [None, 5]}))
    data = training_reviews(reviews, RatingMilSettings(train_reviews=300, holdout_fraction=0.2))
    counts = data["train"].group_by("target").len().sort("target")["len"].to_list()
    assert counts == [100, 100, 100]
    assert data["train"]["target"].head(30).n_unique() == 3  # shuffled, not sorted by class
    assert not set(data["train"]["review_id"]) & set(data["holdout"]["review_id"])
    assert 100 < data["holdout"].height < 260
    assert {"x", "y"}.isdisjoint(set(data["train"]["review_id"]) | set(data["holdout"]["review_id"]))  # no rating / too short
    # the held-out reviews are the same whatever else is in the frame
    again = training_reviews(reviews.head(450), RatingMilSettings(train_reviews=300, holdout_fraction=0.2))
    assert set(again["holdout"]["review_id"]) <= set(data["holdout"]["review_id"])


def test_pooling_is_the_attention_weighted_mean_of_a_reviews_segments():
    probabilities = torch.tensor([[0.8, 0.1, 0.1], [0.0, 0.2, 0.8], [0.3, 0.4, 0.3]])
    scores = torch.tensor([0.0, float(np.log(3.0)), 5.0])
    pooled = pool(probabilities, scores, torch.tensor([0, 0, 1]), torch.tensor([0, 1, 0]), reviews=2, slots=2)
    assert torch.allclose(pooled[0], 0.25 * probabilities[0] + 0.75 * probabilities[1])
    assert torch.allclose(pooled[1], probabilities[2])


def test_the_neutral_bias_is_chosen_on_held_out_ratings():
    probabilities = np.array([[0.5, 0.3, 0.2], [0.2, 0.35, 0.45], [0.1, 0.2, 0.7], [0.7, 0.2, 0.1]])
    truth = np.array([NEU, NEU, POS, NEG])
    bias, score = choose_neutral_bias(probabilities, truth)
    assert score == 1.0 and 0.2 < bias <= 0.3  # the smallest bias that makes both neutral rows neutral
    assert choose_neutral_bias(probabilities[:0], truth[:0]) == (0.0, 0.0)


def _tiny_settings(tiny_base_model, **changes) -> RatingMilSettings:
    settings = {"base_model": str(tiny_base_model), "train_reviews": 600, "epochs": 3, "holdout_fraction": 0.2, "lora_r": 4,
                "lora_alpha": 8, "max_length": 24, "optimizer": RatingMilOptimizerSettings(learning_rate=1e-2, batch_size=16)}
    return RatingMilSettings(**{**settings, **changes})


def test_a_tiny_model_learns_segment_polarity_from_ratings_alone(tiny_base_model, tmp_path):
    settings = _tiny_settings(tiny_base_model)
    torch.manual_seed(0)
    model, tokenizer = build_model(settings)
    result = train_rating_mil(model, tokenizer, training_reviews(_reviews(), settings), settings, BOUNDARY, tmp_path / "work")
    assert result.heldout_reviews > 50 and result.heldout_macro_f1 > 0.6  # chance is 1/3
    assert not (tmp_path / "work").exists()  # checkpoints removed once done
    teacher = RatingMil(model, tokenizer, settings, BOUNDARY, result.neutral_bias)
    # the segment head reads one clause: the rating's words, never the filler clause, decide
    clauses = teacher.decide(teacher.segment_proba(pl.Series(["it is awful broken", "it is lovely great"])))
    assert clauses.tolist() == [NEG, POS]
    reviews = teacher.review_proba(pl.Series(["The menu is there. It is awful slow today", "It is lovely smooth now, and the menu is there"]))
    assert np.allclose(reviews.sum(axis=1), 1.0, atol=1e-2) and teacher.decide(reviews).tolist() == [NEG, POS]

    (tmp_path / "stored").mkdir()
    teacher.save(tmp_path / "stored")
    loaded = RatingMil.load(tmp_path / "stored")  # adapter merged into the base, bf16 where this CPU computes in it
    assert loaded.neutral_bias == teacher.neutral_bias
    assert np.abs(loaded.review_proba(pl.Series(["It is awful broken"])) - teacher.review_proba(pl.Series(["It is awful broken"]))).max() < 0.03

    # as a labelling function: the review is pooled, the aspect's clause is one segment, the other clause does not leak in
    votes = review_votes(pl.DataFrame({"review_id": ["a"], "content": ["It is lovely great"]}), LabelSettings(use_embeddings=False),
                         rating_mil=loaded)
    assert votes["lf_rating_mil"].to_list() == [POS]
    aspects = pl.DataFrame({"item_id": ["a#0", "a#1"], "text": ["it is awful broken but it is lovely great"] * 2,
                            "aspect_term": ["broken", "great"]})
    assert aspect_votes(aspects, LabelSettings(use_embeddings=False), rating_mil=loaded)["lf_rating_mil"].to_list() == [NEG, POS]
    sure = LabelSettings(use_embeddings=False, rating_mil_min_probability=0.999)
    assert aspect_votes(aspects, sure, rating_mil=loaded)["lf_rating_mil"].to_list() == [ABSTAIN, ABSTAIN]
    assert aspect_votes(aspects, LabelSettings(use_embeddings=False))["lf_rating_mil"].to_list() == [ABSTAIN, ABSTAIN]  # no model


RESUMABLE_RUN = """
import sys
from pathlib import Path
import polars as pl
from genai_lab.labels.rating_mil import RatingMilSettings, build_model, train_rating_mil, training_reviews
settings = RatingMilSettings.model_validate_json(Path(sys.argv[1]).read_text())
model, tokenizer = build_model(settings)
train_rating_mil(model, tokenizer, training_reviews(pl.read_parquet(sys.argv[2]), settings), settings, sys.argv[3], Path(sys.argv[4]))
"""


def test_a_killed_run_resumes_from_its_checkpoint(tiny_base_model, tmp_path):
    settings = _tiny_settings(tiny_base_model, checkpoint_every_steps=5, epochs=6,
                              optimizer=RatingMilOptimizerSettings(learning_rate=1e-2, batch_size=4))
    (tmp_path / "settings.json").write_text(settings.model_dump_json())
    _reviews().write_parquet(tmp_path / "reviews.parquet")
    work = tmp_path / "work"
    killed_at = kill_at_checkpoint(RESUMABLE_RUN, [str(tmp_path / "settings.json"), str(tmp_path / "reviews.parquet"), BOUNDARY, str(work)],
                                   work / "checkpoint" / "state.json", 10, tmp_path / "stderr")
    model, tokenizer = build_model(settings)
    result = train_rating_mil(model, tokenizer, training_reviews(_reviews(), settings), settings, BOUNDARY, work)
    assert result.resumed_from is not None and result.resumed_from["step"] >= killed_at >= 10
    assert result.resumed_from["train_seconds"] > 0  # the killed run's time counts in the model's cost
    assert result.steps == settings.epochs * -(-result.train_reviews // 4)  # every step once: none redone, none skipped
    assert not work.exists()


def test_bad_settings_fail_before_any_training():
    with pytest.raises(ValueError, match="holdout_fraction"):
        RatingMilSettings(holdout_fraction=1.0)
    with pytest.raises(ValueError, match="rating_negative_max"):
        RatingMilSettings(rating_negative_max=4, rating_positive_min=4)


def test_the_adapter_arm_can_start_from_the_teachers_encoder_and_loads_again(tiny_base_model, tmp_path):
    import json

    from genai_lab.labels.rating_mil import encoder_weights
    from genai_lab.ml.lora import LoraSettings, build_adapter_model, load_adapter
    from genai_lab.ml.store import MANIFEST

    settings = _tiny_settings(tiny_base_model)
    torch.manual_seed(0)
    teacher, tokenizer = build_model(settings)
    with torch.no_grad():  # as if trained: LoRA's B matrices start at zero, which would merge into nothing
        for name, parameter in teacher.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.5)
    (tmp_path / "teacher").mkdir()
    RatingMil(teacher, tokenizer, settings, BOUNDARY, 0.0).save(tmp_path / "teacher")
    weights = encoder_weights(tmp_path / "teacher")
    lora = LoraSettings(base_model=str(tiny_base_model), r=4, alpha=8)
    shipped, _, _, _ = build_adapter_model(lora)
    started, tokenizer, _, _ = build_adapter_model(lora, weights)
    query = "encoder.layer.0.attention.self.query.weight"
    in_model = lambda model: dict(model.base_model.model.base_model.named_parameters())[query.replace("weight", "base_layer.weight")]
    assert torch.equal(in_model(started), weights[query]) and not torch.equal(in_model(shipped), weights[query])

    started.save_pretrained(tmp_path / "adapter")
    tokenizer.save_pretrained(tmp_path / "adapter")
    (tmp_path / "adapter" / MANIFEST).write_text(json.dumps({"base_model": {"id": str(tiny_base_model)},
                                                             "start_from": {"name": "rating_mil", "path": str(tmp_path / "teacher")}}))
    reloaded, _ = load_adapter(tmp_path / "adapter")
    batch = tokenizer(["it is lovely great"], return_tensors="pt")
    started.eval()
    with torch.no_grad():
        assert torch.allclose(reloaded(**batch).logits, started(**batch).logits, atol=1e-5)
    (tmp_path / "teacher" / "rating_mil.json").unlink()
    with pytest.raises(FileNotFoundError, match="which is gone"):
        load_adapter(tmp_path / "adapter")


def test_the_training_budget_grows_with_the_rated_reviews_between_a_floor_and_a_cap():
    settings = RatingMilSettings()
    assert settings.reviews_to_train(1_000) == settings.min_train_reviews == 600
    assert settings.reviews_to_train(20_000) == 1_000
    assert settings.reviews_to_train(22_000_000) == settings.train_reviews == 3_600
