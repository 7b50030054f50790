"""Scoring: hand-computed metrics, metrics that do fail, and metric modules that load offline by path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from genai_lab.evaluation import EVALUATION_SCHEMA, markdown_summary, score_predictions
from genai_lab.metrics import METRICS, load_metric, metric_path

P, N, U = "positive", "negative", "neutral"


def _predictions(rows: list[tuple[str, str, str, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"dataset": pl.String, "task": pl.String, "label": pl.String, "prediction": pl.String}, orient="row")


def _values(evaluation: pl.DataFrame, dataset: str) -> dict[str, tuple[float | None, int]]:
    part = evaluation.filter(pl.col("dataset") == dataset)
    return {m: (v, n) for m, v, n in part.select("metric", "value", "n").rows()}


@pytest.fixture(scope="module")
def small_case() -> pl.DataFrame:
    gold = [P, P, P, N, N, U, P, N]
    pred = [P, P, N, N, None, U, None, P]
    rows = [("d", "review_sentiment", g, p) for g, p in zip(gold, pred)]
    # "e": the only negative item is abstained on; "f": nothing covered
    rows += [("e", "review_sentiment", P, P), ("e", "review_sentiment", N, None)]
    rows += [("f", "review_type", "bug_report", None)]
    return _predictions(rows)


def test_hand_computed_scores(small_case: pl.DataFrame) -> None:
    evaluation = score_predictions(small_case, model="m")
    assert evaluation.schema == pl.Schema(EVALUATION_SCHEMA)
    assert evaluation["model"].unique().to_list() == ["m"]
    d = _values(evaluation, "d")
    # 8 rows, 6 covered; covered pairs: (P,P) (P,P) (P,N) (N,N) (U,U) (N,P)
    assert d["coverage"] == (pytest.approx(6 / 8), 8)
    assert d["accuracy"] == (pytest.approx(4 / 6), 6)
    # positive: tp 2, fp 1, fn 1 -> 4/6; negative: tp 1, fp 1, fn 1 -> 2/4; neutral: tp 1 -> 1
    assert d["f1_positive"] == (pytest.approx(2 / 3), 6)
    assert d["f1_negative"] == (pytest.approx(1 / 2), 6)
    assert d["f1_neutral"] == (pytest.approx(1.0), 6)
    assert d["macro_f1"] == (pytest.approx((2 / 3 + 1 / 2 + 1) / 3), 6)
    assert list(d)[:6] == ["coverage", "accuracy", "macro_f1", "f1_negative", "f1_neutral", "f1_positive"]
    confusion = {metric: value for metric, value in d.items() if metric.startswith("confusion:")}
    assert confusion == {"confusion:negative->negative": (1.0, 1), "confusion:negative->positive": (1.0, 1),
                         "confusion:neutral->neutral": (1.0, 1), "confusion:positive->negative": (1.0, 1),
                         "confusion:positive->positive": (2.0, 2),
                         # the rest of the grid, zeros: every model scored on this set reports the same rows
                         "confusion:negative->neutral": (0.0, 0), "confusion:neutral->negative": (0.0, 0),
                         "confusion:neutral->positive": (0.0, 0), "confusion:positive->neutral": (0.0, 0)}
    # abstentions are excluded from accuracy, but a gold class seen only on abstained rows still counts in macro-F1
    e = _values(evaluation, "e")
    assert e["coverage"] == (0.5, 2) and e["accuracy"] == (1.0, 1)
    assert e["f1_negative"] == (0.0, 1) and e["macro_f1"] == (0.5, 1)
    f = _values(evaluation, "f")
    assert f["coverage"] == (0.0, 1)
    assert f["accuracy"] == (None, 0) and f["macro_f1"] == (None, 0) and f["f1_bug_report"] == (None, 0)


def test_scores_agree_with_scikit_learn(small_case: pl.DataFrame) -> None:
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    covered = small_case.filter((pl.col("dataset") == "d") & pl.col("prediction").is_not_null())
    y, p = covered["label"].to_list(), covered["prediction"].to_list()
    d = _values(score_predictions(small_case, model="m"), "d")
    assert d["accuracy"][0] == pytest.approx(sklearn_metrics.accuracy_score(y, p))
    assert d["macro_f1"][0] == pytest.approx(sklearn_metrics.f1_score(y, p, average="macro", labels=[N, U, P]))
    f1 = load_metric("f1")
    for average in ("micro", "weighted"):
        ours = f1.compute(predictions=p, references=y, labels=[N, U, P], average=average)["f1"]
        assert ours == pytest.approx(sklearn_metrics.f1_score(y, p, average=average, labels=[N, U, P]))


def test_wrong_predictions_score_low() -> None:
    gold = [P] * 6 + [N] * 3 + [U]
    shifted = {P: N, N: U, U: P}
    wrong = score_predictions(_predictions([("d", "review_sentiment", g, shifted[g]) for g in gold]), model="wrong")
    w = _values(wrong, "d")
    assert w["coverage"][0] == 1.0 and w["accuracy"][0] == 0.0 and w["macro_f1"][0] == 0.0
    majority = _values(score_predictions(_predictions([("d", "review_sentiment", g, P) for g in gold]), model="majority"), "d")
    assert majority["accuracy"][0] == pytest.approx(0.6)
    assert majority["macro_f1"][0] == pytest.approx((2 * 6 / (2 * 6 + 4)) / 3)  # only positive scores: 0.75 / 3
    perfect = _values(score_predictions(_predictions([("d", "review_sentiment", g, g) for g in gold]), model="perfect"), "d")
    assert perfect["accuracy"][0] == perfect["macro_f1"][0] == 1.0


def test_bad_predictions_frame() -> None:
    with pytest.raises(ValueError, match="prediction"):
        score_predictions(pl.DataFrame({"dataset": ["d"], "task": ["t"], "label": ["x"]}), model="m")
    assert score_predictions(_predictions([]), model="m").is_empty()


def test_markdown_summary(small_case: pl.DataFrame) -> None:
    evaluation = pl.concat([score_predictions(small_case, model="slm"), score_predictions(small_case.with_columns(prediction=pl.col("label")), model="lora")])
    md = markdown_summary(evaluation)
    lines = md.splitlines()
    table = [line for line in lines if line.startswith("|")]
    assert len(table) == 2 + 2  # header, rule, two models
    assert "d<br>review_sentiment, n=8" in table[0] and "f<br>review_type, n=1" in table[0]
    slm = next(line for line in table if line.startswith("| slm "))
    assert "75% · 0.667 · 0.722" in slm and "0% · – · –" in slm
    assert "100% · 1.000 · 1.000" in next(line for line in table if line.startswith("| lora "))
    assert markdown_summary(pl.DataFrame(schema=EVALUATION_SCHEMA)).startswith("_No")


def test_metric_modules_are_shipped() -> None:
    assert set(METRICS) == {"accuracy", "f1"}
    for name in METRICS:
        assert (metric_path(name) / f"{name}.py").is_file()
    with pytest.raises(ValueError, match="unknown metric"):
        metric_path("bleu")


_OFFLINE_SCRIPT = """
import json, os
from pathlib import Path
from genai_lab.metrics import load_metric
accuracy, f1 = load_metric("accuracy"), load_metric("f1")
out = {
    "accuracy": accuracy.compute(predictions=["a", "b", "b"], references=["a", "a", "b"])["accuracy"],
    "f1": f1.compute(predictions=["a", "b", "b"], references=["a", "a", "b"], average=None),
    "cached": sorted(p.name for p in Path(os.environ["HF_HOME"]).rglob("*.py")),
}
print(json.dumps(out))
"""


def test_metric_modules_load_offline_in_a_fresh_cache(tmp_path: Path) -> None:
    """A fresh HF_HOME, the hub marked offline and every proxy pointing at a closed port: loading by path still works."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(
        HF_HOME=str(tmp_path / "hf"),
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        HTTP_PROXY="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
        http_proxy="http://127.0.0.1:9",
        https_proxy="http://127.0.0.1:9",
        NO_PROXY="",
        no_proxy="",
        PYTHONPATH=str(Path(__file__).resolve().parents[1]),
    )
    result = subprocess.run(
        [sys.executable, "-c", _OFFLINE_SCRIPT], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["accuracy"] == pytest.approx(2 / 3)
    assert out["f1"] == {"f1": [pytest.approx(2 / 3), pytest.approx(2 / 3)], "labels": ["a", "b"]}
    assert {"accuracy.py", "f1.py"} <= set(out["cached"])  # evaluate copied the modules into the fresh cache


def test_multilabel_scoring_counts_each_type_as_a_binary_decision():
    from genai_lab.evaluation import score_multilabel

    gold = pl.DataFrame({"dataset": "types", "task": "review_type", "text": ["a", "a", "b", "c"],
                         "label": ["bug_report", "rating", "rating", "feature_request"]})
    predicted = pl.DataFrame({"text": ["a", "b", "c"], "types": [["bug_report"], ["rating", "bug_report"], []]})
    metrics = {row["metric"]: row["value"] for row in score_multilabel(gold, predicted, "m").iter_rows(named=True)}
    assert metrics["coverage"] == pytest.approx(2 / 3) and metrics["accuracy"] == 0.0
    assert metrics["precision_bug_report"] == 0.5 and metrics["recall_bug_report"] == 1.0
    assert metrics["f1_bug_report"] == pytest.approx(2 / 3)
    assert metrics["recall_rating"] == 0.5 and metrics["precision_rating"] == 1.0
    assert metrics["f1_feature_request"] == 0.0 and metrics["fn:feature_request"] == 1
    assert metrics["macro_f1"] == pytest.approx((2 / 3 + 0 + 2 / 3) / 3)


def test_multilabel_scoring_rejects_repeated_texts():
    from genai_lab.evaluation import score_multilabel

    gold = pl.DataFrame({"dataset": "t", "task": "review_type", "text": ["a"], "label": ["rating"]})
    with pytest.raises(ValueError, match="each text once"):
        score_multilabel(gold, pl.DataFrame({"text": ["a", "a"], "types": [["rating"], []]}), "m")


def test_a_small_gold_set_is_cycled_up_to_the_timed_rows():
    from genai_lab.ml.scoring import timing_texts

    gold = pl.DataFrame({"dataset": ["lin"] * 3 + ["laptop"], "task": ["review_sentiment"] * 3 + ["aspect_polarity"],
                         "text": ["great app", "it crashes", "ok I guess", "the screen"]})
    texts = timing_texts(gold, 40)
    assert len(texts) == 40 and set(texts) == {"great app", "it crashes", "ok I guess"}  # a few ms of timing would be noise
    assert set(timing_texts(gold.filter(pl.col("task") != "review_sentiment"), 5)) == {"the screen"}


def test_models_timed_together_each_get_their_own_figures(tiny_base_model):
    from genai_lab.ml.classifier import load_base_classifier, load_tokenizer
    from genai_lab.ml.scoring import Contender, time_together

    tokenizer = load_tokenizer(tiny_base_model)
    calls = []

    class Counted(Contender):
        def predict(self, texts, batch_size=None):
            calls.append((self.max_length, len(texts)))
            return super().predict(texts, batch_size)

    contenders = {"short": Counted(load_base_classifier(tiny_base_model), tokenizer, 8, 8),
                  "long": Counted(load_base_classifier(tiny_base_model), tokenizer, 8, 32)}
    timing = time_together(contenders, ["great app"] * 20, passes=3, latency_runs=4)
    assert set(timing) == {"short", "long"}
    for figures in timing.values():
        assert figures["reviews_per_s"] > 0 and figures["latency_p95_ms"] >= figures["latency_p50_ms"] > 0 and figures["inference_rows"] == 20
    passes = [length for length, n in calls if n == 20]
    assert passes == [8, 32] + [8, 32, 32, 8, 8, 32]  # an untimed warm-up pass each, then the first model rotates
    assert sum(1 for _, n in calls if n == 1) == 2 + 8


def test_timing_settings_refuse_an_empty_measurement():
    from genai_lab.ml.scoring import TimingSettings

    with pytest.raises(ValueError, match=r"\['passes', 'latency_runs'\] must be at least 1"):
        TimingSettings(passes=0, latency_runs=0)


def test_arm_evaluation_holds_quality_and_training_cost(tiny_base_model):
    from genai_lab.ml.classifier import load_base_classifier, load_tokenizer
    from genai_lab.ml.scoring import TRAINING_COST_METRICS, evaluate_model

    gold = pl.DataFrame({"dataset": ["lin"] * 3, "task": ["review_sentiment"] * 3, "text": ["great app", "it crashes", "ok I guess"],
                         "label": ["positive", "negative", "neutral"], "aspect_term": [None, None, None], "synthetic": [False] * 3},
                        schema_overrides={"aspect_term": pl.String})
    training = {m: 1.0 for m in TRAINING_COST_METRICS}
    evaluation = evaluate_model(load_base_classifier(tiny_base_model), load_tokenizer(tiny_base_model), gold, "tiny",
                                batch_size=8, max_length=16, training_cost=training)
    cost = evaluation.filter(pl.col("task") == "cost")
    assert sorted(cost["metric"]) == sorted(TRAINING_COST_METRICS) and cost["value"].to_list() == [1.0] * len(TRAINING_COST_METRICS)
    assert evaluation.filter(pl.col("dataset") == "lin", pl.col("metric") == "accuracy")["n"].to_list() == [3]
