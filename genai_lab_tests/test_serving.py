"""Which model scores the corpus, and in which order `genai-lab run` runs partitioned and unpartitioned assets."""

import numpy as np
import polars as pl
import pytest

from genai_lab.ml.serving import choose_serving_model, score_distinct
from genai_lab.ml.store import ModelStore


def _stored(store: ModelStore, name: str, score: float | None):
    metrics = {} if score is None else {"heldout_pseudo_label_macro_f1": score}
    return store.save(name, lambda folder: (folder / "weights.safetensors").write_bytes(b""), {"metrics": metrics})


def test_each_distinct_input_is_scored_once_and_every_row_gets_its_own_score():
    inputs = pl.DataFrame({"text": ["Great app!", "It crashes.", "Great app!", "The sync is slow.", "The sync is slow.", "Great app!"],
                           "aspect": [None, None, None, "sync", None, "app"]})
    calls = []

    def score(texts, aspects):
        calls.append(list(zip(texts, aspects, strict=True)))
        # a score that identifies its input: text length and whether it came with an aspect
        return np.array([[len(t), a is not None] for t, a in zip(texts, aspects, strict=True)], dtype=float)

    scores, distinct = score_distinct(inputs, score)
    assert distinct == 5 and len(calls) == 1 and len(calls[0]) == len(set(calls[0])) == 5
    assert scores.tolist() == [[len(t), a is not None] for t, a in inputs.rows()]


def test_auto_serves_the_best_held_out_score_and_never_a_missing_arm(tmp_path):
    store = ModelStore(root=str(tmp_path))
    adapter, slm = _stored(store, "finetuned_adapter", 0.66), _stored(store, "slm_classifier@small", 0.71)
    assert choose_serving_model({"finetuned_adapter": adapter, "slm_classifier": slm})[0] == "slm_classifier"
    assert choose_serving_model({"finetuned_adapter": adapter, "slm_classifier": None})[0] == "finetuned_adapter"
    unscored = _stored(store, "slm_classifier@small", None)
    assert choose_serving_model({"finetuned_adapter": adapter, "slm_classifier": unscored})[0] == "finetuned_adapter"


def test_a_named_arm_is_served_even_when_worse_and_errors_are_clear(tmp_path):
    store = ModelStore(root=str(tmp_path))
    adapter, slm = _stored(store, "finetuned_adapter", 0.66), _stored(store, "slm_classifier@small", 0.5)
    assert choose_serving_model({"finetuned_adapter": adapter, "slm_classifier": slm}, "slm_classifier")[1] == slm
    with pytest.raises(ValueError, match="not one of"):
        choose_serving_model({"finetuned_adapter": adapter}, "gpt")
    with pytest.raises(FileNotFoundError, match="materialize"):
        choose_serving_model({"finetuned_adapter": None, "slm_classifier": None})


def test_run_phases_follow_the_switches_between_partitioned_and_unpartitioned():
    from genai_lab.definitions import defs
    from genai_lab.runner import execution_phases

    graph = defs.resolve_asset_graph()
    phases = [(sorted(k.to_user_string() for k in p), sorted(k.to_user_string() for k in u))
              for p, u in execution_phases(graph, graph.get_all_asset_keys())]
    assert len(phases) == 4
    assert "pseudo_labels" in phases[0][0] and "gold_labels" in phases[0][1]
    assert phases[1][0] == [] and {"finetuned_adapter", "slm_classifier", "model_evaluation"} <= set(phases[1][1])
    assert phases[2] == (["review_predictions"], [])
    assert phases[3] == ([], ["market_opportunities", "opportunity_report"])


def test_held_out_scores_compare_only_on_the_same_pseudo_labels(tmp_path):
    from genai_lab.ml.serving import scored_on_the_same_rows

    store = ModelStore(root=str(tmp_path))

    def trained_on(name: str, digest: str | None):
        return store.save(name, lambda folder: (folder / "weights.safetensors").write_bytes(b""),
                          {"metrics": {"heldout_pseudo_label_macro_f1": 0.6}, "data_version": {"holdout_digest": digest}})

    adapter, slm = trained_on("finetuned_adapter", "abc"), trained_on("slm_classifier@small", "abc")
    assert scored_on_the_same_rows({"finetuned_adapter": adapter, "slm_classifier": slm})
    assert scored_on_the_same_rows({"finetuned_adapter": adapter, "slm_classifier": None})
    retrained = trained_on("finetuned_adapter", "def")
    assert not scored_on_the_same_rows({"finetuned_adapter": retrained, "slm_classifier": slm})
    assert not scored_on_the_same_rows({"finetuned_adapter": trained_on("finetuned_adapter", None), "slm_classifier": slm})
