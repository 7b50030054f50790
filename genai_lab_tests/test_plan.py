"""`genai-lab plan`: the projection's arithmetic with fixed rates, the settings it reads, and the cheap row counts."""

import json
from dataclasses import replace

import polars as pl
import pytest

from genai_lab.cli import build_parser
from genai_lab.planning import (
    STEPS,
    ArmBudget,
    Budgets,
    Rates,
    compare,
    count_gold_rows,
    count_rows,
    project,
    render,
    self_training_seconds,
)

RATES = Rates(
    per_raw_row={"raw_reviews": 2e-6, "reviews": 1e-6, "review_quality": 40e-6, "clean_reviews_and_rejects": 2e-6},
    per_clean_row={"text_quality": 5e-6, "aspect_mentions": 100e-6, "slm_tokenizer": 50e-6, "market_opportunities": 5e-6,
                   "opportunity_report": 0.0},
    fixed_s={"aspect_mentions": 3.0},
    label_s_per_item=50e-6, embed_s_per_text=2e-3, adapter_train_s_per_row=30e-3, adapter_infer_s_per_row=2e-3,
    slm_train_s_per_row=5e-3, slm_infer_s_per_row=0.4e-3, slm_pretrain_s_per_token=50e-6,
    clean_share=0.5, mentions_per_clean=2.0, embed_texts_per_clean=2.5, tokens_per_clean=40.0,
    warehouse_bytes_per_row=1000.0, model_store_bytes=5e7,
)
ARM = ArmBudget(rounds=3, epochs_per_round=1, min_train_rows=800, max_train_rows=3000, train_rows_share=0.02,
                pool_rows=3000, holdout_rows=800, max_train_minutes=7.0)
BUDGETS = Budgets(adapter=ARM, slm=ARM, embed_max_minutes=None, pretrain_minutes=5.0, pretrain_epochs=1.0, pretrain_steps=None,
                  pretrain_batch_blocks=32, block_tokens=128, serving_max_minutes=10.0, timing_rows=512, timing_passes=3)


def seconds(plan, step):
    return next(s.seconds for s in plan.steps if s.step == step)


def test_per_row_steps_scale_with_the_corpus_plus_their_fixed_cost():
    plan = project(100_000, RATES, BUDGETS)
    assert [s.step for s in plan.steps] == list(STEPS)
    assert plan.clean_rows == 50_000
    assert seconds(plan, "raw_reviews") == pytest.approx(0.2)
    assert seconds(plan, "review_quality") == pytest.approx(4.0)
    assert seconds(plan, "aspect_mentions") == pytest.approx(3.0 + 5.0)
    # 50k clean: 125k texts embedded at 2 ms, 150k items (reviews and mentions) labelled at 50 us
    assert seconds(plan, "pseudo_labels") == pytest.approx(250 + 7.5)
    # 2M tokens at 50 us = 100 s: under the 5-minute cap
    assert seconds(plan, "slm_pretrained") == pytest.approx(100.0)
    assert plan.total_seconds == pytest.approx(sum(s.seconds for s in plan.steps))
    assert plan.warehouse_bytes == 1e8 and plan.model_store_bytes == 5e7
    # kept passes: 125k embedded texts x (16-byte digest + 384 float32) + 150k predictions x (16 + 3 float32)
    assert plan.kept_pass_bytes == pytest.approx(125_000 * 1552 + 150_000 * 28)
    assert project(100_000, RATES, replace(BUDGETS, keep_embedding_passes=False)).kept_pass_bytes == pytest.approx(150_000 * 28)


def test_the_settings_caps_bind_at_scale():
    budgets = Budgets(**{**BUDGETS.__dict__, "embed_max_minutes": 60.0})
    plan = project(22_200_000, RATES, budgets)
    step = {s.step: s for s in plan.steps}
    assert step["pseudo_labels"].capped and step["pseudo_labels"].seconds == pytest.approx(3600 + 33.3e6 * 50e-6)
    assert step["slm_pretrained"].capped and step["slm_pretrained"].seconds == 300
    # 3 rounds x 3000 rows x 30 ms = 270 s: under the 7-minute cap; then 2 pool passes of 3000 and 3 holdout passes of 800
    assert not step["finetuned_adapter"].capped
    assert step["finetuned_adapter"].seconds == pytest.approx(270 + (2 * 3000 + 3 * 800) * 2e-3)
    # the adapter's pass over 33.3M inputs at 2 ms is far over the 10-minute serving budget: the SLM serves
    assert plan.served_arm == "slm_classifier"
    assert step["review_predictions"].seconds == pytest.approx(33.3e6 * 0.4e-3)
    # per-row prep grows linearly: 222x the rows of the 100k plan
    assert step["review_quality"].seconds == pytest.approx(222 * seconds(project(100_000, RATES, budgets), "review_quality"))


def test_an_arm_stops_after_the_round_in_which_its_minutes_are_spent():
    # round 0 takes 3000 rows x 200 ms = 10 min, over the 7-minute cap: it runs whole (the cap is checked after
    # each epoch), then the run stops
    total, capped, basis = self_training_seconds(1_000_000, 200e-3, 1e-3, ARM)
    assert capped and "1 of 3 rounds" in basis and "7-min cap" in basis
    assert total == pytest.approx(3000 * 0.2 + 800 * 1e-3)
    # at 60 ms a round takes 3 min: two rounds leave it at 6 min (under the cap), so the third runs too
    total, capped, _ = self_training_seconds(1_000_000, 60e-3, 1e-3, ARM)
    assert not capped and total == pytest.approx(3 * (180 + 0.8) + 2 * 3.0)
    # at 100 ms: 5 min, then 10 min after round 1 (over the cap): round 2 does not start
    total, capped, _ = self_training_seconds(1_000_000, 100e-3, 1e-3, ARM)
    assert capped and total == pytest.approx(2 * (300 + 0.8) + 3.0)
    # a small corpus: a round trains on what there is, and the pool is what there is
    total, capped, _ = self_training_seconds(500, 10e-3, 1e-3, ARM)
    assert not capped and total == pytest.approx(3 * 500 * 10e-3 + (2 * 500 + 3 * 500) * 1e-3)


def test_a_gpu_is_named_and_its_steps_marked():
    plan = project(10_000, RATES, BUDGETS, gpu="NVIDIA H100")
    text = render(plan)
    assert "a GPU (NVIDIA H100) would run the model steps" in text
    assert any(line.startswith("pseudo_labels") and " * " in line for line in text.splitlines())
    assert "no GPU" in render(project(10_000, RATES, BUDGETS))
    assert text.splitlines()[-2].startswith("total")
    json.dumps(plan.as_dict())  # the --json output serialises


def test_budgets_are_read_from_the_resources_settings():
    from genai_lab.resources import lab_resources

    resources = lab_resources(home="/tmp/genai-lab-plan-test-home")
    budgets = Budgets.from_resources(resources, gold_rows=7)
    assert budgets.adapter.max_train_minutes == resources["adapter"].training.max_train_minutes
    assert budgets.slm.max_train_rows == resources["slm"].training.max_train_rows
    assert budgets.pretrain_minutes == resources["slm"].slm.pretrain_minutes
    assert budgets.serving_max_minutes == resources["insight"].serving.max_minutes
    assert budgets.gold_rows == 7


def test_rows_are_counted_without_reading_the_dumps(tmp_path):
    csv = tmp_path / "a.csv"
    csv.write_text('id,content,rating\n1,"two\nlines",5\n2,plain,4\n3,last without newline,3')
    assert count_rows(csv) == 3
    jsonl = tmp_path / "b.jsonl"
    jsonl.write_text('{"content":"a","rating":5}\n{"content":"b","rating":4}\n')
    assert count_rows(jsonl) == 2
    parquet = tmp_path / "c.parquet"
    pl.DataFrame({"content": ["x"] * 5, "rating": [5] * 5}).write_parquet(parquet)
    assert count_rows(parquet) == 5


def test_the_plan_subcommand_sits_beside_run_ui_and_synth():
    args = build_parser().parse_args(["plan", "--rows", "22200000", "--dumps", "d", "--home", "h"])
    assert (args.command, args.rows, args.dumps, args.home, args.json) == ("plan", 22_200_000, "d", "h", False)
    assert build_parser().parse_args(["run"]).select == "*"


def test_a_projection_is_compared_step_by_step_with_a_measured_run():
    plan = project(100_000, RATES, BUDGETS)
    rows = {row["step"]: row for row in compare(plan, {"pseudo_labels": 200.0, "review_quality": 2.0, "finetuned_adapter": 1000.0})}
    assert rows["pseudo_labels"]["ratio"] == pytest.approx(257.5 / 200, abs=0.01) and rows["pseudo_labels"]["within"]
    assert rows["review_quality"]["within"]  # 4 s against 2 s: both under 10 s, where per-step overhead decides
    assert not rows["finetuned_adapter"]["within"]
    assert "raw_reviews" not in rows  # not in the measured run: not compared


def test_the_rating_mil_teacher_is_projected_with_its_budget():
    from genai_lab.labels.rating_mil import RatingMilSettings

    rates = Rates(**{**RATES.__dict__, "mil_train_s_per_review": 0.06, "mil_s_per_segment": 1e-3, "segments_per_clean": 3.0})
    budgets = Budgets(**{**BUDGETS.__dict__, "rating_mil": RatingMilSettings()})
    small = {s.step: s for s in project(100_000, rates, budgets).steps}
    # 50k clean: 5% = 2,500 reviews trained at 60 ms (150 s), then 1,500 held-out reviews' 4,500 segments at 1 ms
    assert not small["rating_mil"].capped and small["rating_mil"].seconds == pytest.approx(150 + 4.5)
    # pseudo_labels reads every review's segments once more: 150k at 1 ms on top of the embeddings and the functions
    assert small["pseudo_labels"].seconds == pytest.approx(250 + 7.5 + 150)
    large = {s.step: s for s in project(22_200_000, rates, budgets).steps}
    # 3,600 reviews x 60 ms = 216 s: the cap, not the corpus, bounds the training
    assert large["rating_mil"].seconds == pytest.approx(216 + 4.5) and not large["rating_mil"].capped
    slow = Rates(**{**rates.__dict__, "mil_train_s_per_review": 0.2})
    assert {s.step: s for s in project(22_200_000, slow, budgets).steps}["rating_mil"].capped  # 720 s > the 5-minute cap


def test_the_measured_held_out_market_and_gold_rates_replace_their_stand_ins():
    from genai_lab.labels.rating_mil import RatingMilSettings

    rates = Rates(**{**RATES.__dict__, "mil_train_s_per_review": 0.06, "mil_s_per_segment": 1e-3, "segments_per_clean": 3.0,
                     "mil_held_out_s_per_review": 0.02, "requests_per_clean": 0.1, "market_embed_s_per_request": 1e-3,
                     "adapter_gold_s_per_row": 1e-3, "slm_gold_s_per_row": 0.1e-3,
                     "fixed_s": {**RATES.fixed_s, "market_opportunities": 4.0}})
    budgets = Budgets(**{**BUDGETS.__dict__, "rating_mil": RatingMilSettings(), "gold_rows": 1200, "gold_scored_rows": 1000,
                         "market_max_requests": 10_000})
    step = {s.step: s for s in project(100_000, rates, budgets).steps}
    # 50k clean: 2,500 reviews trained at 60 ms, then 1,500 held-out reviews at 20 ms each (not their segments)
    assert step["rating_mil"].seconds == pytest.approx(150 + 30)
    # 5,000 requests (10% of 50k clean) embedded at 1 ms, 50k clean at 5 us, 4 s whatever the corpus
    assert step["market_opportunities"].seconds == pytest.approx(5 + 0.25 + 4)
    # at 22.2M reviews the requests are capped: 10,000 embedded
    big = {s.step: s for s in project(22_200_000, rates, budgets).steps}
    assert big["market_opportunities"].seconds == pytest.approx(10 + 11.1e6 * 5e-6 + 4)
    # the evaluations score the 1,000 sentiment rows at the gold rates; label_quality all 1,200 rows
    assert step["adapter_evaluation"].seconds == pytest.approx(1.0) and step["slm_evaluation"].seconds == pytest.approx(0.1)
    assert step["label_quality"].seconds == pytest.approx(1200 * (2e-3 + 50e-6))


def test_a_loop_is_timed_by_its_slope_after_a_warm_up_run():
    from genai_lab.planning import _loop_seconds_per_unit

    calls = []

    def run(units: int) -> float:  # the first call builds kernels: 5 s more
        calls.append(units)
        return 2.0 + 0.5 * units + (5.0 if len(calls) == 1 else 0.0)

    assert _loop_seconds_per_unit(run, (8, 32)) == pytest.approx(0.5)
    assert calls == [8, 8, 32]


@pytest.mark.parametrize("suffix", ["csv", "jsonl", "parquet"])
def test_the_sample_is_spread_through_a_dump_not_its_first_rows(tmp_path, suffix):
    from genai_lab.planning import _sample_dump

    frame = pl.DataFrame({"id": [str(i) for i in range(100)], "content": [f"review {i}" for i in range(100)], "rating": [5] * 100})
    path = tmp_path / f"dump.{suffix}"
    {"csv": frame.write_csv, "jsonl": frame.write_ndjson, "parquet": frame.write_parquet}[suffix](path)
    out = tmp_path / "sample"
    out.mkdir()
    sample = _sample_dump(path, 10, out, 100)
    read = {"csv": lambda p: pl.read_csv(p, infer_schema=False), "jsonl": pl.read_ndjson, "parquet": pl.read_parquet}[suffix](sample)
    assert read["id"].to_list() == [str(i) for i in range(0, 100, 10)]


def test_a_large_corpus_runs_each_step_in_its_own_process():
    from genai_lab.runner import PER_STEP_ABOVE_ROWS, choose_executor

    assert choose_executor("auto", 20_000) == "in_process"
    assert choose_executor("auto", PER_STEP_ABOVE_ROWS + 1) == "per_step"
    assert choose_executor("in_process", 10**9) == "in_process" and choose_executor("per_step", 10) == "per_step"
    with pytest.raises(ValueError, match="unknown executor 'threads'"):
        choose_executor("threads", 10)
    assert build_parser().parse_args(["run", "--executor", "per_step"]).executor == "per_step"


def test_the_rates_are_measured_through_the_pipelines_own_code(tmp_path):
    """The measuring half end to end on a small synthetic sample: every rate is a positive number and every step gets
    a projection (the numbers themselves are the benchmark's, `benchmarks/corpus_cost.py`)."""
    from genai_lab.insight.market import OpportunitySettings
    from genai_lab.ml.self_training import SelfTrainingSettings
    from genai_lab.ml.slm import SlmSettings
    from genai_lab.planning import measure_rates, plan_gold
    from genai_lab.resources import AdapterResource, InsightResource, SlmResource, lab_resources

    resources = {**lab_resources(home=str(tmp_path / "home")),
                 "adapter": AdapterResource(training=SelfTrainingSettings(optimizer={"batch_size": 8})),
                 "slm": SlmResource(slm=SlmSettings(size="tiny", vocab_size=600, optimizer={"batch_size": 8})),
                 "insight": InsightResource(opportunities=OpportunitySettings(stability_resamples=5))}
    gold = plan_gold(tmp_path / "no-gold")
    rates = measure_rates([], resources, sample_rows=1200, gold=gold, inputs=96, log=lambda line: None)
    for name in ("label_s_per_item", "embed_s_per_text", "adapter_train_s_per_row", "adapter_infer_s_per_row", "slm_train_s_per_row",
                 "slm_infer_s_per_row", "slm_pretrain_s_per_token", "mil_train_s_per_review", "mil_held_out_s_per_review",
                 "adapter_gold_s_per_row", "slm_gold_s_per_row", "tokens_per_clean", "requests_per_clean"):
        assert getattr(rates, name) > 0, name
    assert rates.per_clean_row["market_opportunities"] > 0
    plan = project(1_000_000, rates, Budgets.from_resources(resources, *count_gold_rows(gold)))
    assert [s.step for s in plan.steps] == list(STEPS) and plan.total_seconds > 0
