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
    assert choose_serving_model({"finetuned_adapter": adapter, "slm_classifier": slm}).arm == "slm_classifier"
    assert choose_serving_model({"finetuned_adapter": adapter, "slm_classifier": None}).arm == "finetuned_adapter"
    unscored = _stored(store, "slm_classifier@small", None)
    assert choose_serving_model({"finetuned_adapter": adapter, "slm_classifier": unscored}).arm == "finetuned_adapter"


def test_auto_passes_over_an_arm_projected_past_the_time_budget(tmp_path):
    store = ModelStore(root=str(tmp_path))
    arms = {"finetuned_adapter": _stored(store, "finetuned_adapter", 0.66), "slm_classifier": _stored(store, "slm_classifier@small", 0.64)}
    timed = []

    def projected(minutes: dict[str, float]):
        def project(arm: str) -> float:
            timed.append(arm)
            return minutes[arm]
        return project

    # a fast machine: the better arm fits, and only it is timed
    fast = choose_serving_model(arms, projected_minutes=projected({"finetuned_adapter": 3.4, "slm_classifier": 0.4}), max_minutes=10)
    assert (fast.arm, timed, fast.projected_minutes) == ("finetuned_adapter", ["finetuned_adapter"], {"finetuned_adapter": 3.4})
    # a slow one: the better arm would take 35 minutes, the next best fits
    timed.clear()
    slow = choose_serving_model(arms, projected_minutes=projected({"finetuned_adapter": 35.0, "slm_classifier": 3.7}), max_minutes=10)
    assert (slow.arm, timed) == ("slm_classifier", ["finetuned_adapter", "slm_classifier"])
    assert "finetuned_adapter scored better but was projected at 35.0 min" in slow.reason
    # nothing fits: the fastest
    timed.clear()
    none_fit = choose_serving_model(arms, projected_minutes=projected({"finetuned_adapter": 35.0, "slm_classifier": 12.0}), max_minutes=10)
    assert none_fit.arm == "slm_classifier" and "no arm" in none_fit.reason
    # no budget, or an arm named: nothing is timed
    timed.clear()
    assert choose_serving_model(arms, projected_minutes=projected({}), max_minutes=None).arm == "finetuned_adapter"
    assert choose_serving_model(arms, "finetuned_adapter", projected_minutes=projected({}), max_minutes=1).arm == "finetuned_adapter"
    assert timed == []


def test_the_projection_scales_the_timed_sample_to_every_distinct_input(monkeypatch):
    import genai_lab.ml.budget as budget
    import genai_lab.ml.serving as serving

    clock = [0.0]
    monkeypatch.setattr(budget.time, "perf_counter", lambda: clock[0])
    scored = []

    def score(texts, aspects):
        scored.append(len(texts))
        clock[0] += 0.5 * len(texts)  # half a second an input
        return np.zeros((len(texts), 3))

    inputs = pl.DataFrame({"text": [f"review {i}" for i in range(1000)], "aspect": [None] * 1000})
    minutes = serving.projected_scoring_minutes(inputs, score, sample_size=40)
    assert scored == [4, 40]  # a few untimed inputs first, then the sample
    assert minutes == pytest.approx(1000 * 0.5 / 60)
    assert serving.projected_scoring_minutes(inputs.head(0), score, sample_size=40) == 0.0


def test_a_named_arm_is_served_even_when_worse_and_errors_are_clear(tmp_path):
    store = ModelStore(root=str(tmp_path))
    adapter, slm = _stored(store, "finetuned_adapter", 0.66), _stored(store, "slm_classifier@small", 0.5)
    assert choose_serving_model({"finetuned_adapter": adapter, "slm_classifier": slm}, "slm_classifier").champion == slm
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
