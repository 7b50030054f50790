"""The adapter arm materialized for real (tiny random base model, small synthetic dump), and the retrain sensor."""

import json

import duckdb
import pytest
from dagster import (
    AssetKey,
    AssetMaterialization,
    AssetSelection,
    DagsterInstance,
    asset,
    build_sensor_context,
    instance_for_test,
    materialize,
)

from genai_lab.definitions import make_definitions
from genai_lab.insight.market import OpportunitySettings
from genai_lab.ml.lora import LoraSettings
from genai_lab.ml.scoring import COST_METRICS, TimingSettings
from genai_lab.ml.self_training import SelfTrainingSettings
from genai_lab.ml.slm import SlmSettings
from genai_lab.ml.store import ModelStore
from genai_lab.ml.training_loop import OptimizerSettings
from genai_lab.partitions import review_dumps
from genai_lab.resources import AdapterResource, InsightResource, ReportingResource, SlmResource, SlmSelfTrainingSettings
from genai_lab.sensors import retrain_sensor
from genai_lab.synth import write_dump
from genai_lab.vocabulary import ADAPTER
from genai_lab.vocabulary import SLM_CLASSIFIER as CLASSIFIER

TINY_TRAINING = {"max_train_rows": 200, "rounds": 2, "pool_rows": 100, "add_per_round": 30, "self_training_threshold": 0.4,
                 "optimizer": OptimizerSettings(batch_size=16)}
# a 600-review home holds a few mentions per need: the market's evidence thresholds scaled to it, as the models are
TINY_MARKET = InsightResource(opportunities=OpportunitySettings(min_support=3, min_apps=1, stability_resamples=5))
TINY_TIMING = ReportingResource(timing=TimingSettings(throughput_rows=32, passes=2, latency_runs=5))


def tiny_adapter(base_model) -> AdapterResource:
    return AdapterResource(lora=LoraSettings(base_model=str(base_model), r=4, alpha=8), training=SelfTrainingSettings(**TINY_TRAINING))


def tiny_slm() -> SlmResource:
    return SlmResource(slm=SlmSettings(size="tiny", vocab_size=600, pretrain_steps=30, eval_every_steps=10, checkpoint_every_steps=10,
                                       heldout_blocks=5, optimizer=OptimizerSettings(batch_size=8)),
                       training=SlmSelfTrainingSettings(**TINY_TRAINING))


def test_the_slm_budget_reaches_a_real_run():
    """Dagster builds nested settings from their class defaults in a run: the SLM's own budget must survive that."""
    @asset
    def seen_budget(slm: SlmResource) -> dict:
        return slm.training.model_dump()

    seen = materialize([seen_budget], resources={"slm": SlmResource()}).output_for_node("seen_budget")
    assert seen["max_train_rows"] == SlmSelfTrainingSettings().max_train_rows > SelfTrainingSettings().max_train_rows


@pytest.fixture(scope="module")
def trained_home(tiny_base_model, tmp_path_factory):
    home = tmp_path_factory.mktemp("adapter_home")
    (home / "dumps").mkdir()
    write_dump(home / "dumps" / "small.csv", rows=600, seed=5)
    defs = make_definitions(str(home))
    resources = {**defs.resources, "adapter": tiny_adapter(tiny_base_model), "slm": tiny_slm(), "reporting": TINY_TIMING,
                 "insight": TINY_MARKET}
    with instance_for_test() as instance:
        instance.add_dynamic_partitions(review_dumps.name, ["small"])
        assert materialize(list(defs.assets), selection=AssetSelection.groups("prep", "labels"), instance=instance,
                           resources=resources, partition_key="small").success
        arms_and_reports = AssetSelection.groups("adapter", "slm", "evaluation", "reports") - AssetSelection.assets("opportunity_report")
        result = materialize(list(defs.assets), selection=arms_and_reports, instance=instance,
                             resources=resources)
        assert result.success
        metadata = result.asset_materializations_for_node(ADAPTER)[0].metadata
        assert materialize(list(defs.assets), selection=AssetSelection.assets("review_predictions"), instance=instance,
                           resources=resources, partition_key="small").success
        assert materialize(list(defs.assets), selection=AssetSelection.assets("market_opportunities", "opportunity_report"),
                           instance=instance, resources=resources).success
        yield home, {key: value.value for key, value in metadata.items()}, instance, defs


def test_training_stores_a_champion_with_a_complete_manifest(trained_home):
    home, metadata, *_ = trained_home
    store = ModelStore(root=str(home / "models"))
    champion = store.champion(ADAPTER)
    assert champion is not None and champion.version == metadata["version"] and metadata["promoted"] is True
    manifest = champion.manifest
    assert manifest["base_model"]["sha256"] and manifest["code_version"].startswith("0.")
    assert manifest["data_version"]["partitions"] == {"small": manifest["data_version"]["rows"]}
    assert manifest["metrics"]["heldout_pseudo_label_macro_f1"] == pytest.approx(metadata["heldout_pseudo_label_macro_f1"])
    assert [r["round"] for r in manifest["metrics"]["rounds"]] == list(range(len(manifest["metrics"]["rounds"])))
    assert manifest["cost"]["params_trainable"] < manifest["cost"]["params_total"]
    assert manifest["cost"]["train_seconds"] > 0 and manifest["cost"]["cpu_seconds"] > 0 and manifest["cost"]["energy_kwh"] > 0
    files = {p.name for p in champion.path.iterdir()}
    assert {"adapter_model.safetensors", "adapter_config.json", "manifest.json", "tokenizer.json"} <= files
    assert not [name for name in files if name.endswith((".bin", ".pt", ".pkl"))]
    assert json.loads((champion.path / "adapter_config.json").read_text())["peft_type"] == "LORA"
    assert not list((home / "models" / ADAPTER / "_work").iterdir())  # no checkpoint left behind


def test_model_evaluation_holds_the_adapter_quality_and_cost(trained_home):
    home, *_ = trained_home
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as connection:
        rows = connection.execute("select task, dataset, metric, value from lab.model_evaluation where model = ?", [ADAPTER]).fetchall()
        labellers = {row[0] for row in connection.execute("select distinct model from lab.model_evaluation").fetchall()}
    cost = {metric: value for task, _, metric, value in rows if task == "cost"}
    assert set(cost) == set(COST_METRICS) | {"inference_threads"}  # the threads price the throughput in core-hours
    import torch

    assert cost["inference_threads"] == torch.get_num_threads()
    assert cost["reviews_per_s"] > 0 and cost["latency_p95_ms"] >= cost["latency_p50_ms"] > 0 and cost["disk_mb"] > 0
    quality = {(task, metric): value for task, _, metric, value in rows if task != "cost"}
    assert 0 <= quality[("review_sentiment", "macro_f1")] <= 1 and 0 <= quality[("aspect_polarity", "accuracy")] <= 1
    assert {"label_model", "vader", ADAPTER, "review_type_model"} <= labellers


def _report_pseudo_labels(instance: DagsterInstance, partition: str, labelled: int) -> None:
    instance.report_runless_asset_event(AssetMaterialization("pseudo_labels", partition=partition,
                                                             metadata={"labelled_reviews": labelled}))


def test_retrain_sensor_fires_once_enough_new_reviews_are_labelled(tmp_path):
    defs = make_definitions(str(tmp_path))
    resources = {**defs.resources, "adapter": AdapterResource(retrain_min_new_reviews=1000)}
    with instance_for_test() as instance:
        instance.add_dynamic_partitions(review_dumps.name, ["a", "b", "c", "d"])

        def tick(cursor=None):
            context = build_sensor_context(instance=instance, cursor=cursor, resources=resources, definitions=defs)
            return retrain_sensor.evaluate_tick(context)

        # both arms retrain on the new pseudo-labels, so their champions are scored on the same held-out rows
        assert {"finetuned_adapter", "slm_classifier"} <= {k.to_user_string() for k in retrain_sensor.job.selection.resolve(
            defs.resolve_asset_graph())}
        assert isinstance(tick().skip_message, str) and "0 reviews" in tick().skip_message
        _report_pseudo_labels(instance, "a", 600)
        first = tick()
        assert first.run_requests == [] and "600" in first.skip_message and first.cursor is None  # the count accumulates
        _report_pseudo_labels(instance, "b", 500)
        fired = tick()
        assert len(fired.run_requests) == 1 and fired.run_requests[0].tags["genai_lab/new_labelled_reviews"] == "1100"
        assert fired.cursor is not None
        again = tick(fired.cursor)  # idempotent: the same data does not request a second run
        assert again.run_requests == [] and "already requested" in again.skip_message

        instance.report_runless_asset_event(AssetMaterialization(ADAPTER))  # the adapter trained: counting starts over
        _report_pseudo_labels(instance, "c", 700)
        assert tick(fired.cursor).run_requests == []
        _report_pseudo_labels(instance, "d", 400)
        assert len(tick(fired.cursor).run_requests) == 1


def test_retrain_sensor_counts_partitions_labelled_while_the_adapter_trained(tmp_path):
    """A partition labelled after the training read its inputs, but before it ended, is new data for the next training."""
    defs = make_definitions(str(tmp_path))
    resources = {**defs.resources, "adapter": AdapterResource(retrain_min_new_reviews=1000)}

    @asset(name=ADAPTER)
    def training_while_a_dump_lands(context) -> None:
        _report_pseudo_labels(context.instance, "late", 1200)

    with instance_for_test() as instance:
        instance.add_dynamic_partitions(review_dumps.name, ["early", "late"])
        _report_pseudo_labels(instance, "early", 5000)  # read by the training below
        assert materialize([training_while_a_dump_lands], instance=instance).success
        result = retrain_sensor.evaluate_tick(build_sensor_context(instance=instance, resources=resources, definitions=defs))
        assert len(result.run_requests) == 1 and result.run_requests[0].tags["genai_lab/new_labelled_reviews"] == "1200"



def test_slm_arm_trains_from_scratch_and_loads_with_plain_transformers(trained_home):
    from transformers import AutoModel, AutoModelForSequenceClassification, AutoTokenizer

    home, *_ = trained_home
    store = ModelStore(root=str(home / "models"))
    tokenizer_folder = store.versions("slm_tokenizer")[-1].path
    assert (tokenizer_folder / "tokenizer.json").exists()
    pretrained = store.versions("slm_pretrained@tiny")[-1]
    manifest = pretrained.manifest
    assert manifest["metrics"]["steps"] == 30 and manifest["metrics"]["heldout_perplexity"] > 1
    assert manifest["metrics"]["achieved_gflops"] > 0 and manifest["metrics"]["matmul_gflops"] > manifest["metrics"]["achieved_gflops"]
    champion = store.champion("slm_classifier@tiny")
    assert champion is not None and champion.manifest["pretrained_version"] == pretrained.version
    encoder = AutoModel.from_pretrained(str(champion.path))
    classifier = AutoModelForSequenceClassification.from_pretrained(str(champion.path))
    assert encoder.config.hidden_size == 64 and classifier.config.num_labels == 3
    assert AutoTokenizer.from_pretrained(str(champion.path)).vocab_size <= 600
    cost = champion.manifest["cost"]
    assert cost["train_seconds"] == pytest.approx(cost["pretrain_seconds"] + cost["fine_tune_seconds"])
    assert cost["params_trainable"] == cost["params_total"]  # full fine-tuning


def test_both_arms_are_timed_in_one_step(trained_home):
    home, _, instance, _ = trained_home
    event = instance.get_latest_materialization_event(AssetKey("inference_timing"))
    metadata = event.asset_materialization.metadata
    assert metadata[f"{ADAPTER}_reviews_per_s"].value > 0 and metadata["slm_classifier_tiny_reviews_per_s"].value > 0
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as connection:
        timed = connection.execute("select model, n from lab.model_evaluation where metric = 'reviews_per_s' order by model").fetchall()
    assert timed == [(ADAPTER, 32), (CLASSIFIER, 32), ("slm_classifier@tiny", 32)]  # reporting.timing.throughput_rows


def test_both_arms_report_the_same_metrics(trained_home):
    home, *_ = trained_home
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as connection:
        metrics = {model: set(connection.execute("select task || '/' || dataset || '/' || metric from lab.model_evaluation "
                                                 "where model = ?", [model]).fetchall()) for model in (ADAPTER, CLASSIFIER, "slm_classifier@tiny")}
    assert metrics[ADAPTER] == metrics[CLASSIFIER] == metrics["slm_classifier@tiny"] and len(metrics[ADAPTER]) > len(COST_METRICS)


def test_comparison_report_is_written_from_the_measured_numbers(trained_home):
    home, metadata, *_ = trained_home
    markdown = (home / "reports" / "comparison_report.md").read_text()
    html = (home / "reports" / "comparison_report.html").read_text()
    assert "SYNTHETIC" in markdown and "SYNTHETIC" in html  # the embedded generator's truth is the gold here
    assert "data:image/png;base64," in html and "http://" not in html and "https://" not in html
    assert ADAPTER in markdown and CLASSIFIER in markdown
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as connection:
        f1 = connection.execute("select value from lab.model_evaluation where model = ? and task = 'review_sentiment' "
                                "and metric = 'macro_f1'", [ADAPTER]).fetchone()[0]
    assert f"{f1:.3f}" in markdown or f"{f1:.2f}" in markdown


def test_review_predictions_score_every_pseudo_labelled_row_with_the_serving_model(trained_home):
    home, _, instance, _ = trained_home
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as db:
        labelled = db.sql("select count(*) from lab.pseudo_labels").fetchone()[0]
        predictions = db.sql("select * from lab.review_predictions").pl()
    assert predictions.height == labelled
    assert set(predictions["sentiment"]) <= {"negative", "neutral", "positive"}
    assert predictions["model"].n_unique() == 1 and predictions["model"][0] in (ADAPTER, CLASSIFIER)
    served = instance.get_latest_materialization_event(AssetKey("review_predictions")).asset_materialization.metadata
    assert served["serving_scores_comparable"].value is True  # both arms trained on the same pseudo-labels in one run
    store = ModelStore(root=str(home / "models"))
    assert served["serving_scores"].value == {ADAPTER: store.champion_score(ADAPTER), CLASSIFIER: store.champion_score(f"{CLASSIFIER}@tiny")}
    assert predictions["model_version"][0] in {store.champion(ADAPTER).version, store.champion(f"{CLASSIFIER}@tiny").version}
    aspects = predictions.filter(predictions["level"] == "aspect")
    assert aspects["review_type"].null_count() == aspects.height and aspects["aspect_term"].null_count() == 0
    assert predictions.filter(predictions["level"] == "review")["review_type"].null_count() == 0


def test_review_predictions_again_with_the_same_model_reuse_every_kept_batch(trained_home):
    home, _, instance, defs = trained_home
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as db:
        before = db.sql("select * from lab.review_predictions order by review_id, mention_index nulls first").pl()
    resources = {**defs.resources, "insight": TINY_MARKET}
    assert materialize(list(defs.assets), selection=AssetSelection.assets("review_predictions"), instance=instance,
                       resources=resources, partition_key="small").success
    served = instance.get_latest_materialization_event(AssetKey("review_predictions")).asset_materialization.metadata
    assert served["inputs_scored"].value == 0 and served["inputs_reused"].value == served["distinct_inputs"].value > 0
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as db:
        after = db.sql("select * from lab.review_predictions order by review_id, mention_index nulls first").pl()
    assert after.drop("confidence", "p_negative", "p_neutral", "p_positive").equals(before.drop("confidence", "p_negative", "p_neutral", "p_positive"))
    assert (after["p_positive"] - before["p_positive"]).abs().max() < 1e-6


def test_market_opportunities_and_report_are_written(trained_home):
    home, *_ = trained_home
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as db:
        table = db.sql("select * from lab.market_opportunities").pl()
    ranked = table.filter(table["rank"].is_not_null()).sort("rank")
    assert ranked.height > 0 and ranked["rank"].to_list() == list(range(1, ranked.height + 1))
    assert ranked["score"].is_sorted(descending=True)
    html = (home / "reports" / "opportunity_report.html").read_text()
    markdown = (home / "reports" / "opportunity_report.md").read_text()
    assert "Top unmet needs" in html and "data:image/png;base64," in html
    assert ranked["need"][0] in markdown


def test_reports_and_predictions_refresh_themselves_when_their_inputs_change(trained_home):
    from dagster import AssetKey, evaluate_automation_conditions

    _, _, instance, defs = trained_home
    # a dump file that never ingests stays a partition without rows; it must not hold the market reports back
    instance.add_dynamic_partitions(review_dumps.name, ["broken"])
    cursor = evaluate_automation_conditions(defs=defs, instance=instance).cursor  # the baseline tick
    quiet = evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
    assert quiet.total_requested == 0

    # a dump re-labelled: its predictions are re-scored and the market table and report follow
    instance.report_runless_asset_event(AssetMaterialization("pseudo_labels", partition="small"))
    result = evaluate_automation_conditions(defs=defs, instance=instance, cursor=quiet.cursor)
    assert result.get_requested_partitions(AssetKey("review_predictions")) == {"small"}
    assert result.get_num_requested(AssetKey("comparison_report")) == 0
    instance.report_runless_asset_event(AssetMaterialization("review_predictions", partition="small"))
    result = evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    assert result.get_num_requested(AssetKey("market_opportunities")) == 1
    assert result.get_num_requested(AssetKey("opportunity_report")) == 1
    assert result.get_num_requested(AssetKey("review_predictions")) == 0

    # a newly trained adapter: every partition is re-scored
    instance.report_runless_asset_event(AssetMaterialization(ADAPTER))
    result = evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    assert result.get_requested_partitions(AssetKey("review_predictions")) == {"small"}

    # a new evaluation: the comparison report refreshes
    instance.report_runless_asset_event(AssetMaterialization("model_evaluation"))
    result = evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    assert result.get_num_requested(AssetKey("comparison_report")) == 1


def test_a_training_step_runs_its_loop_in_one_process_per_gpu(trained_home, tiny_base_model, monkeypatch, caplog):
    """The step as it runs on a two-GPU machine, on two CPU processes: the adapter is stored and its cost counts the
    processes' CPU time; the main process's progress reaches this process's genai_lab loggers (which the home's
    dagster.yaml hands to the run log)."""
    import logging

    import genai_lab.assets.adapter as adapter_assets

    home, _, instance, defs = trained_home
    monkeypatch.setattr(adapter_assets, "training_processes", lambda: 2)
    store = ModelStore(root=str(home / "models"))
    before = {v.version for v in store.versions(ADAPTER)}
    with caplog.at_level(logging.INFO, logger="genai_lab"):
        result = materialize(list(defs.assets), selection=AssetSelection.assets(ADAPTER), instance=instance,
                             resources={**defs.resources, "adapter": tiny_adapter(tiny_base_model), "slm": tiny_slm(),
                                        "reporting": TINY_TIMING})
    assert result.success
    new = [v for v in store.versions(ADAPTER) if v.version not in before]
    assert len(new) == 1 and new[0].manifest["cost"]["cpu_seconds"] > 0
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("Training in 2 processes") for m in messages)
    assert any(m.startswith("Round 0:") for m in messages)  # relayed from the main training process
