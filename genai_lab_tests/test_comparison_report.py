"""The comparison report: bootstrap intervals, the quality and cost tables, generated findings, banner and self-contained HTML."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime

import polars as pl
import pytest

from genai_lab.evaluation import bootstrap_interval, paired_bootstrap, score_predictions
from genai_lab.ml.cost import CostSettings
from genai_lab.ml.scoring import cost_rows
from genai_lab.reports.comparison import (
    ADAPTER,
    SLM,
    TEACHER,
    ReportSettings,
    build_comparison_report,
    cost_table,
    key_findings,
    price_performance_png,
    quality_table,
    strengths_and_limitations,
)

CLASSES = ["negative", "neutral", "positive"]
REVIEWS, ASPECTS = "app_reviews_gold", "aspect_gold"
WHEN = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _gold(size: int, shift: int = 0) -> list[str]:
    # positives dominate, as in app reviews
    pattern = ["negative", "positive", "neutral", "positive", "positive"]
    return [pattern[(i + shift) % len(pattern)] for i in range(size)]


def _predicted(gold: list[str], wrong_every: int, abstain_every: int = 0, offset: int = 0) -> list[str | None]:
    """Right except every `wrong_every`-th item (the next class) and every `abstain_every`-th (None)."""
    out: list[str | None] = []
    for i, label in enumerate(gold):
        if abstain_every and (i + offset) % abstain_every == 0:
            out.append(None)
        elif (i + offset) % wrong_every == 0:
            out.append(CLASSES[(CLASSES.index(label) + 1) % 3])
        else:
            out.append(label)
    return out


def _scored(model: str, wrong_every: int, abstain_every: int = 0) -> pl.DataFrame:
    frames = []
    for dataset, task, gold in ((REVIEWS, "review_sentiment", _gold(150)), (ASPECTS, "aspect_polarity", _gold(240, shift=2))):
        frames.append(pl.DataFrame({"dataset": dataset, "task": task, "label": gold,
                                    "prediction": _predicted(gold, wrong_every, abstain_every, offset=len(model))},
                                   schema={"dataset": pl.String, "task": pl.String, "label": pl.String, "prediction": pl.String}))
    return score_predictions(pl.concat(frames), model)


def _cost(model: str, reviews_per_s: float, params: float, trainable: float) -> pl.DataFrame:
    return cost_rows(model, {"reviews_per_s": reviews_per_s, "latency_p50_ms": 3000 / reviews_per_s, "latency_p95_ms": 4000 / reviews_per_s,
                             "train_seconds": 300.0, "cpu_seconds": 540.0, "peak_rss_mb": 3000.0, "params_total": params,
                             "params_trainable": trainable, "energy_kwh": 0.0015, "disk_mb": 5.0}, n=150)


@pytest.fixture(scope="module")
def evaluation() -> pl.DataFrame:
    frames = [_scored(ADAPTER, wrong_every=5), _scored(SLM, wrong_every=3), _scored(TEACHER, wrong_every=4, abstain_every=9),
              _scored("vader", wrong_every=2), _scored("request", wrong_every=2, abstain_every=1),
              _cost(ADAPTER, 160.0, 23e6, 3.4e5), _cost(SLM, 800.0, 3.4e6, 3.4e6)]
    return pl.concat(frames).with_columns(pl.lit(False).alias("gold_synthetic"))


def _confusion(evaluation: pl.DataFrame, model: str, dataset: str) -> tuple[dict[tuple[str, str], int], list[str], dict[str, float]]:
    rows = evaluation.filter((pl.col("model") == model) & (pl.col("dataset") == dataset))
    confusion = {tuple(m.removeprefix("confusion:").split("->")): int(v) for m, v in rows.select("metric", "value").rows()
                 if m.startswith("confusion:")}
    classes = [m.removeprefix("f1_") for m in rows["metric"] if m.startswith("f1_")]
    return confusion, classes, dict(rows.select("metric", "value").rows())


def test_bootstrap_contains_the_point_and_narrows_with_more_data() -> None:
    small = {("negative", "negative"): 8, ("negative", "positive"): 2, ("neutral", "neutral"): 5, ("neutral", "positive"): 5,
             ("positive", "positive"): 25, ("positive", "negative"): 5}
    large = {cell: count * 20 for cell, count in small.items()}
    few, many = bootstrap_interval(small, CLASSES, 1000, 0.95, 0), bootstrap_interval(large, CLASSES, 1000, 0.95, 0)
    for metric in ("accuracy", "macro_f1"):
        for interval in (few[metric], many[metric]):
            point, low, high = interval
            assert low <= point <= high
        # same proportions, twenty times the items: the point stays, the interval shrinks (about sqrt(20) times)
        assert many[metric][0] == pytest.approx(few[metric][0])
        assert (many[metric][2] - many[metric][1]) < 0.5 * (few[metric][2] - few[metric][1])
    assert few["accuracy"][0] == pytest.approx(38 / 50)
    assert bootstrap_interval(small, CLASSES, 1000, 0.95, 0) == few  # seeded
    assert bootstrap_interval(small, CLASSES, 1000, 0.8, 0)["accuracy"][1] > few["accuracy"][1]  # narrower at 80%


def test_bootstrap_point_equals_score_predictions(evaluation: pl.DataFrame) -> None:
    for model in (ADAPTER, SLM, TEACHER, "vader"):
        for dataset in (REVIEWS, ASPECTS):
            confusion, classes, values = _confusion(evaluation, model, dataset)
            interval = bootstrap_interval(confusion, classes, samples=200)
            assert interval["accuracy"][0] == pytest.approx(values["accuracy"], abs=1e-12)
            assert interval["macro_f1"][0] == pytest.approx(values["macro_f1"], abs=1e-12)
    # a gold class seen only on abstained rows scores F1 0; a predicted label outside the gold classes is a miss
    gold = ["positive", "positive", "negative", "neutral"]
    scored = score_predictions(pl.DataFrame({"dataset": "x", "task": "review_sentiment", "label": gold,
                                             "prediction": ["positive", "neutral", "negative", None]}), "m")
    confusion, classes, values = _confusion(scored, "m", "x")
    assert classes == CLASSES
    interval = bootstrap_interval(confusion, classes, samples=50)
    assert interval["macro_f1"][0] == pytest.approx(values["macro_f1"], abs=1e-12)
    assert interval["accuracy"][0] == pytest.approx(values["accuracy"], abs=1e-12)


def test_bootstrap_rejects_what_it_cannot_resample() -> None:
    with pytest.raises(ValueError, match="empty"):
        bootstrap_interval({}, CLASSES)
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_interval({("positive", "positive"): 3}, CLASSES, confidence=1.0)
    with pytest.raises(ValueError, match="classes"):
        bootstrap_interval({("positive", "positive"): 3}, [])


def _macro_f1(gold: list[str], predicted: list[str]) -> float:
    frame = pl.DataFrame({"dataset": "x", "task": "review_sentiment", "label": gold, "prediction": predicted})
    return score_predictions(frame, "m").filter(pl.col("metric") == "macro_f1")["value"].item()


def test_paired_bootstrap_scores_both_models_on_the_same_resamples() -> None:
    gold = _gold(300)
    # the second model is the first with 8 of its 40 errors mended: every resample favours it
    first = ["positive" if i % 3 == 0 else label for i, label in enumerate(gold)]
    mended = 0
    second = list(first)
    for i, (g, p) in enumerate(zip(gold, first)):
        if g != p and mended < 8:
            second[i], mended = g, mended + 1
    paired = paired_bootstrap(gold, first, second, CLASSES, samples=500)
    assert paired["first"][0] == pytest.approx(_macro_f1(gold, first), abs=1e-12)
    assert paired["second"][0] == pytest.approx(_macro_f1(gold, second), abs=1e-12)
    assert paired["difference"][0] == pytest.approx(paired["second"][0] - paired["first"][0], abs=1e-12)
    assert paired["ratio"][0] == pytest.approx(paired["second"][0] / paired["first"][0], abs=1e-12)
    assert paired["difference"][1] > 0  # paired: the interval of the difference excludes 0 ...
    unpaired_first = bootstrap_interval(_counts(gold, first), CLASSES, 500)["macro_f1"]
    unpaired_second = bootstrap_interval(_counts(gold, second), CLASSES, 500)["macro_f1"]
    assert unpaired_second[1] < unpaired_first[2]  # ... where the two separate intervals overlap
    assert paired_bootstrap(gold, first, second, CLASSES, samples=500) == paired  # seeded
    same = paired_bootstrap(gold, first, first, CLASSES, samples=200)
    assert same["difference"] == (0.0, 0.0, 0.0) and same["ratio"] == (1.0, 1.0, 1.0)


def _counts(gold: list[str], predicted: list[str]) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    for cell in zip(gold, predicted):
        counts[cell] = counts.get(cell, 0) + 1
    return counts


def test_paired_bootstrap_rejects_unpaired_or_abstaining_predictions() -> None:
    with pytest.raises(ValueError, match="one of each per item"):
        paired_bootstrap(["positive", "negative"], ["positive"], ["positive", "negative"], CLASSES)
    with pytest.raises(ValueError, match="must not abstain"):
        paired_bootstrap(["positive"], [None], ["positive"], CLASSES)
    with pytest.raises(ValueError, match="no items"):
        paired_bootstrap([], [], [], CLASSES)


def test_quality_table(evaluation: pl.DataFrame) -> None:
    quality = quality_table(evaluation, ReportSettings(bootstrap_samples=300))
    assert quality.select("task", "dataset", "model").is_duplicated().sum() == 0
    assert quality.height == 5 * 2
    row = quality.filter((pl.col("model") == ADAPTER) & (pl.col("dataset") == REVIEWS)).row(0, named=True)
    _, _, values = _confusion(evaluation, ADAPTER, REVIEWS)
    assert row["role"] == "arm" and row["n"] == row["n_gold"] == 150 and row["coverage"] == 1.0
    assert row["accuracy"] == pytest.approx(values["accuracy"]) and row["macro_f1"] == pytest.approx(values["macro_f1"])
    assert row["acc_low"] <= row["accuracy"] <= row["acc_high"] and row["f1_low"] <= row["macro_f1"] <= row["f1_high"]
    teacher = quality.filter((pl.col("model") == TEACHER) & (pl.col("dataset") == REVIEWS)).row(0, named=True)
    assert teacher["role"] == "teacher" and teacher["n"] < teacher["n_gold"] == 150
    # best first within a gold set
    reviews = quality.filter(pl.col("dataset") == REVIEWS)["macro_f1"].drop_nulls().to_list()
    assert reviews == sorted(reviews, reverse=True)
    # a model that labels nothing: a row without scores or intervals
    silent = quality.filter(pl.col("model") == "request").row(0, named=True)
    assert silent["coverage"] == 0 and silent["macro_f1"] is None and silent["f1_low"] is None
    # tables written before confusion rows existed: values, no intervals
    old = quality_table(evaluation.filter(~pl.col("metric").str.starts_with("confusion:")))
    assert old["f1_low"].null_count() == old.height and old["macro_f1"].drop_nulls().len() == 8


def test_cost_table(evaluation: pl.DataFrame) -> None:
    settings = ReportSettings(cpu_core_hour_usd=0.04, electricity_usd_per_kwh=0.5, cores=4)
    cost = cost_table(evaluation, settings)
    assert cost["model"].to_list() == [ADAPTER, SLM]
    adapter = cost.row(0, named=True)
    watts = CostSettings().cpu_watts_per_core
    core_seconds = 1e6 / 160.0 * 4
    assert adapter["usd_per_million_reviews"] == pytest.approx(core_seconds / 3600 * 0.04 + core_seconds * watts / 3.6e6 * 0.5)
    assert adapter["kwh_per_million_reviews"] == pytest.approx(core_seconds * watts / 3.6e6)
    assert adapter["cpu_hours"] == pytest.approx(540 / 3600)
    assert adapter["train_usd"] == pytest.approx(540 / 3600 * 0.04 + 0.0015 * 0.5)
    assert adapter["params_total"] == 23e6 and adapter["reviews_per_s"] == 160.0 and adapter["disk_mb"] == 5.0
    # a GPU-hour is priced where a cost row records it
    with_gpu = pl.concat([evaluation, pl.DataFrame({"model": ADAPTER, "task": "cost", "dataset": "cost", "metric": "gpu_seconds",
                                                    "value": 1800.0, "n": None, "gold_synthetic": False})], how="diagonal_relaxed")
    assert cost_table(with_gpu, settings).row(0, named=True)["train_usd"] == pytest.approx(adapter["train_usd"] + 0.5 * 2.5)
    # a throughput timed on 8 threads is priced in 8 cores' hours, whatever `cores` says
    threads = pl.concat([evaluation, pl.DataFrame({"model": ADAPTER, "task": "cost", "dataset": "cost", "metric": "inference_threads",
                                                   "value": 8.0, "n": None, "gold_synthetic": False})], how="diagonal_relaxed")
    assert cost_table(threads, settings).row(0, named=True)["kwh_per_million_reviews"] == pytest.approx(2 * adapter["kwh_per_million_reviews"])
    assert cost_table(evaluation.filter(pl.col("task") != "cost")).is_empty()


def test_findings_are_generated_from_the_numbers(evaluation: pl.DataFrame) -> None:
    settings = ReportSettings(bootstrap_samples=200)
    quality, cost = quality_table(evaluation, settings), cost_table(evaluation, settings)
    findings = " ".join(key_findings(quality, cost))
    adapter = quality.filter((pl.col("model") == ADAPTER) & (pl.col("dataset") == REVIEWS)).row(0, named=True)
    assert f"the adapter reaches macro-F1 {adapter['macro_f1']:.2f} (95% CI {adapter['f1_low']:.2f}–{adapter['f1_high']:.2f})" in findings
    assert "the SLM is 5.0× cheaper" in findings and "the label model it learned from" in findings
    assert "6.8× fewer" in findings

    # a different number in the input gives a different text
    adapter_speed = (pl.col("model") == ADAPTER) & (pl.col("metric") == "reviews_per_s")
    faster = evaluation.with_columns(pl.when(adapter_speed).then(4000.0).otherwise(pl.col("value")).alias("value"))
    flipped = " ".join(key_findings(quality, cost_table(faster, settings)))
    assert "the adapter is 5.0× cheaper" in flipped and flipped != findings
    better = evaluation.with_columns(
        pl.when((pl.col("model") == SLM) & (pl.col("metric") == "macro_f1") & (pl.col("dataset") == REVIEWS)).then(0.9123)
        .otherwise(pl.col("value")).alias("value"))
    assert "the SLM reaches 0.91" in " ".join(key_findings(quality_table(better, settings), cost))
    notes = strengths_and_limitations(quality, cost)
    assert any(n.startswith("Strength: the SLM wins on throughput (800 reviews/s vs 160 reviews/s)") for n in notes)


def test_overlapping_cis_are_not_read_as_no_difference(evaluation: pl.DataFrame) -> None:
    settings = ReportSettings(bootstrap_samples=200)
    quality, cost = quality_table(evaluation, settings), cost_table(evaluation, settings)
    rows = {r["model"]: r for r in quality.filter(pl.col("dataset") == REVIEWS).iter_rows(named=True)}
    adapter, slm = rows[ADAPTER], rows[SLM]
    overlap = adapter["f1_low"] <= slm["f1_high"] and slm["f1_low"] <= adapter["f1_high"]
    sentence = next(f for f in key_findings(quality, cost) if f.startswith(f"On {REVIEWS}"))
    expected = "their 95% CIs overlap, so this gold set does not separate them" if overlap else \
        "their 95% CIs do not overlap, so the difference is significant"
    assert expected in sentence
    # widen the SLM's interval over the adapter's: the sentence follows, and never calls the difference "not significant"
    wide = quality.with_columns(pl.when((pl.col("model") == SLM) & (pl.col("dataset") == REVIEWS)).then(1.0)
                                .otherwise(pl.col("f1_high")).alias("f1_high"),
                                pl.when((pl.col("model") == SLM) & (pl.col("dataset") == REVIEWS)).then(0.0)
                                .otherwise(pl.col("f1_low")).alias("f1_low"))
    text = " ".join(key_findings(wide, cost) + strengths_and_limitations(wide, cost))
    assert "their 95% CIs overlap, so this gold set does not separate them" in text and "not significant" not in text


def test_a_baseline_that_labels_few_items_is_listed_but_not_ranked(evaluation: pl.DataFrame) -> None:
    gold = _gold(150)
    # perfect on the 30% of items it labels (every class among them): the top macro-F1, on a part of the set
    sniper = score_predictions(pl.DataFrame({"dataset": REVIEWS, "task": "review_sentiment", "label": gold,
                                             "prediction": [g if i % 10 < 3 else None for i, g in enumerate(gold)]}), "sniper")
    frame = pl.concat([evaluation, sniper.with_columns(pl.lit(False).alias("gold_synthetic"))])
    settings = ReportSettings(bootstrap_samples=100)
    quality = quality_table(frame, settings)
    reviews = quality.filter(pl.col("dataset") == REVIEWS)
    assert reviews.filter(pl.col("model") == "sniper")["macro_f1"].item() == 1.0
    assert reviews["model"].to_list().index("sniper") > reviews["model"].to_list().index("vader")  # after every ranked model
    cost = cost_table(frame, settings)
    text = " ".join(key_findings(quality, cost) + strengths_and_limitations(quality, cost))
    assert f"{REVIEWS} {ADAPTER}" in text and "sniper leads" not in text and "sniper labels 30% of" in text
    loose = " ".join(key_findings(quality, cost, min_coverage=0.25))
    assert f"{REVIEWS} sniper (1.00 on the 30% it labels)" in loose


def test_synthetic_banner_only_for_synthetic_gold(evaluation: pl.DataFrame) -> None:
    settings = ReportSettings(bootstrap_samples=100)
    human = build_comparison_report(evaluation, settings, generated_at=WHEN)
    assert "SYNTHETIC" not in human.markdown and "SYNTHETIC" not in human.html and human.synthetic_gold == []
    assert "2026-01-02 03:04" in human.markdown
    flagged = evaluation.with_columns((pl.col("dataset") == ASPECTS).alias("gold_synthetic"))
    synthetic = build_comparison_report(flagged, settings, generated_at=WHEN)
    assert synthetic.synthetic_gold == [ASPECTS]
    for text in (synthetic.markdown, synthetic.html):
        assert f"Gold is SYNTHETIC for {ASPECTS}" in text
    assert '<div class="banner"' in synthetic.html
    assert any("is synthetic" in n for n in synthetic.strengths_and_limitations)
    no_column = build_comparison_report(evaluation.drop("gold_synthetic"), settings, generated_at=WHEN)
    assert "SYNTHETIC" not in no_column.html


def test_html_is_self_contained_with_the_plots(evaluation: pl.DataFrame) -> None:
    report = build_comparison_report(evaluation, ReportSettings(bootstrap_samples=100), generated_at=WHEN)
    references = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", report.html)
    assert references and all(r.startswith("data:image/png;base64,") for r in references)
    assert "<script" not in report.html and "<link" not in report.html and "@import" not in report.html
    for text in (report.html, report.markdown):
        images = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", text)
        assert len(images) == 2
        assert all(base64.b64decode(image).startswith(PNG_SIGNATURE) for image in images)
    for heading in ("Key findings", "Quality per gold dataset and task", "Cost", "Price-performance", "Strengths and limitations",
                    "How measured"):
        assert f"<h2>{heading}</h2>" in report.html and f"## {heading}" in report.markdown
    assert report.plots["price_performance"].startswith(PNG_SIGNATURE)


def test_missing_arms_and_cost_are_reported_as_missing(evaluation: pl.DataFrame) -> None:
    settings = ReportSettings(bootstrap_samples=100)
    without_slm = build_comparison_report(evaluation.filter(pl.col("model") != SLM), settings, generated_at=WHEN)
    assert without_slm.cost["model"].to_list() == [ADAPTER]
    text = " ".join(without_slm.findings)
    assert "the adapter reaches macro-F1" in text and "SLM" not in text
    assert any("no SLM results" in n for n in without_slm.strengths_and_limitations)
    without_arms = build_comparison_report(evaluation.filter(pl.col("model").is_in(["vader", TEACHER])), settings)
    assert without_arms.cost.is_empty() and "No cost rows" in without_arms.markdown
    assert any("no cost rows" in n for n in without_arms.strengths_and_limitations)
    assert price_performance_png(without_arms.quality, without_arms.cost).startswith(PNG_SIGNATURE)
    # the ladder's chosen size evaluated under both names is said once, not compared with itself
    ladder = pl.concat([evaluation, evaluation.filter(pl.col("model") == SLM).with_columns(pl.lit(f"{SLM}@small").alias("model"))])
    laddered = build_comparison_report(ladder, settings)
    assert any(f"{SLM} is {SLM}@small" in f for f in laddered.findings)


def test_bad_frames_fail_clearly(evaluation: pl.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"lacks columns \['metric'\]; it has \['model', 'task', 'dataset', 'value', 'n'"):
        quality_table(evaluation.drop("metric"))
    with pytest.raises(ValueError, match="repeat a"):
        cost_table(pl.concat([evaluation, evaluation.head(1)]))
    with pytest.raises(Exception, match="bootstrap_sampels"):
        ReportSettings(bootstrap_sampels=10)


def test_rows_without_intervals_are_explained_by_why_they_have_none(evaluation: pl.DataFrame) -> None:
    from genai_lab.evaluation import score_multilabel

    gold = pl.DataFrame({"dataset": "review_types_gold", "task": "review_type", "text": ["a", "a", "b", "c"],
                         "label": ["bug_report", "feature_request", "rating", "user_experience"]})
    predicted = pl.DataFrame({"text": ["a", "b", "c"], "types": [["bug_report"], ["rating"], ["rating"]]})
    with_types = pl.concat([evaluation, score_multilabel(gold, predicted, "review_type_model").with_columns(
        pl.lit(False).alias("gold_synthetic"))], how="diagonal_relaxed")
    settings = ReportSettings(bootstrap_samples=100)
    notes = " ".join(build_comparison_report(with_types, settings).strengths_and_limitations)
    # per-type scores have no confusion matrix by design: not a table to re-materialize
    assert "review types (review_types_gold) are scored per type" in notes and "written before" not in notes
    stale = with_types.filter(~((pl.col("model") == ADAPTER) & pl.col("metric").str.starts_with("confusion:")))
    notes = " ".join(build_comparison_report(stale, settings).strengths_and_limitations)
    assert "2 of " in notes and "written before model_evaluation recorded them" in notes  # the adapter's two sets
