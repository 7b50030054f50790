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

    scored = score_distinct(inputs, score, width=2)
    assert scored.computed == 5 and len(calls) == 1 and len(calls[0]) == len(set(calls[0])) == 5
    assert scored.values.tolist() == [[len(t), a is not None] for t, a in inputs.rows()]


def test_a_second_pass_with_the_same_model_scores_only_new_inputs(tmp_path):
    texts = [f"review number {i}" for i in range(10)]
    first = pl.DataFrame({"text": texts[:6], "aspect": [None] * 6})
    both = pl.DataFrame({"text": texts, "aspect": [None] * 10})
    seen = []

    def score(batch_texts, aspects):
        seen.extend(batch_texts)
        return np.array([[len(t), 0.0] for t in batch_texts])

    score_distinct(first, score, width=2, folder=tmp_path, batch_rows=4)
    seen.clear()
    again = score_distinct(both, score, width=2, folder=tmp_path, batch_rows=4)
    assert sorted(seen) == sorted(texts[6:]) and (again.reused, again.computed) == (6, 4)
    assert again.values[:, 0].tolist() == [len(t) for t in texts]


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
    assert len(phases) == 6
    assert "aspect_mentions" in phases[0][0] and "gold_labels" in phases[0][1]
    # the rating-MIL teacher learns from every dump's stars before any dump is pseudo-labelled with it
    assert phases[1][0] == [] and "rating_mil" in phases[1][1]
    assert phases[2] == (["pseudo_labels"], [])
    assert phases[3][0] == [] and {"finetuned_adapter", "slm_classifier", "model_evaluation"} <= set(phases[3][1])
    assert phases[4] == (["review_predictions"], [])
    assert phases[5] == ([], ["market_opportunities", "opportunity_report"])


def test_champions_compare_on_the_newest_held_out_rows_both_were_scored_on(tmp_path):
    from genai_lab.ml.serving import like_for_like_scores

    store = ModelStore(root=str(tmp_path))
    adapter_name, slm_name = "finetuned_adapter", "slm_classifier@small"

    def train(name: str, digest: str, score: float, champion_rescored: float | None) -> bool:
        candidate = store.save(name, lambda folder: (folder / "weights.safetensors").write_bytes(b""),
                               {"metrics": {"heldout_pseudo_label_macro_f1": score}, "data_version": {"holdout_digest": digest}})
        return store.promote(candidate, score, champion_rescored, "heldout_pseudo_label_macro_f1", digest)

    def scores():
        champions = {"finetuned_adapter": store.champion(adapter_name), "slm_classifier": store.champion(slm_name)}
        pointers = {"finetuned_adapter": store.champion_pointer(adapter_name), "slm_classifier": store.champion_pointer(slm_name)}
        return like_for_like_scores(champions, pointers)

    assert train(adapter_name, "A", 0.60, None) and train(slm_name, "A", 0.65, None)
    assert scores() == {"finetuned_adapter": 0.60, "slm_classifier": 0.65}
    # both retrained on new pseudo-labels B: the adapter's candidate wins, the SLM's loses to its champion re-scored on B
    assert train(adapter_name, "B", 0.70, 0.62) and not train(slm_name, "B", 0.60, 0.72)
    assert store.champion(slm_name).manifest["data_version"]["holdout_digest"] == "A"  # its own run held out other rows...
    assert scores() == {"finetuned_adapter": 0.70, "slm_classifier": 0.72}  # ...yet both were scored on B
    champions = {"finetuned_adapter": store.champion(adapter_name), "slm_classifier": store.champion(slm_name)}
    assert choose_serving_model(champions, scores=scores()).arm == "slm_classifier"
    assert choose_serving_model(champions).arm == "finetuned_adapter"  # the runs' own scores (0.70 on B, 0.65 on A) say otherwise
    # the adapter alone on C: its champion stays and is scored on C, so the arms still meet on B
    assert not train(adapter_name, "C", 0.66, 0.69)
    assert scores() == {"finetuned_adapter": 0.70, "slm_classifier": 0.72}
    # a new adapter champion trained alone on D shares no held-out rows with the SLM's: nothing compares like for like
    assert train(adapter_name, "D", 0.72, 0.69)
    assert scores() is None
    assert like_for_like_scores({"finetuned_adapter": store.champion(adapter_name), "slm_classifier": None},
                                {"finetuned_adapter": store.champion_pointer(adapter_name)}) == {"finetuned_adapter": 0.72}


def test_stores_whose_pointers_keep_no_scores_compare_when_the_runs_held_out_the_same_rows(tmp_path):
    from genai_lab.ml.serving import like_for_like_scores

    store = ModelStore(root=str(tmp_path))

    def trained_on(name: str, digest: str | None, score: float):
        return store.save(name, lambda folder: (folder / "weights.safetensors").write_bytes(b""),
                          {"metrics": {"heldout_pseudo_label_macro_f1": score}, "data_version": {"holdout_digest": digest}})

    adapter, slm = trained_on("finetuned_adapter", "abc", 0.6), trained_on("slm_classifier@small", "abc", 0.7)
    no_pointers = {"finetuned_adapter": None, "slm_classifier": None}
    assert like_for_like_scores({"finetuned_adapter": adapter, "slm_classifier": slm}, no_pointers) == {
        "finetuned_adapter": 0.6, "slm_classifier": 0.7}
    assert like_for_like_scores({"finetuned_adapter": adapter, "slm_classifier": None}, no_pointers) == {"finetuned_adapter": 0.6}
    retrained = trained_on("finetuned_adapter", "def", 0.6)
    assert like_for_like_scores({"finetuned_adapter": retrained, "slm_classifier": slm}, no_pointers) is None
    assert like_for_like_scores({"finetuned_adapter": trained_on("finetuned_adapter", None, 0.6), "slm_classifier": slm}, no_pointers) is None
