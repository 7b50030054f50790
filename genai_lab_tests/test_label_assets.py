"""Pseudo-labels and their evaluation materialized for real on a small synthetic dump (synthetic gold)."""

import duckdb
from dagster import AssetSelection, instance_for_test, materialize

from genai_lab.definitions import make_definitions
from genai_lab.partitions import review_dumps
from genai_lab.synth import write_dump


def test_pseudo_labels_and_label_quality_on_synthetic_gold(tmp_path):
    (tmp_path / "dumps").mkdir()
    write_dump(tmp_path / "dumps" / "small.csv", rows=600, seed=3)
    defs = make_definitions(str(tmp_path))
    with instance_for_test() as instance:
        instance.add_dynamic_partitions(review_dumps.name, ["small"])
        partitioned = materialize(list(defs.assets), selection=AssetSelection.groups("prep", "labels"), instance=instance,
                                  resources=defs.resources, partition_key="small", raise_on_error=False)
        assert partitioned.success
        evaluation = materialize(list(defs.assets), selection=AssetSelection.assets("gold_labels", "label_quality"), instance=instance,
                                 resources=defs.resources, raise_on_error=False)
        assert evaluation.success
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as connection:
        clean = connection.execute("select count(*) from lab.clean_reviews").fetchone()[0]
        reviews = connection.execute("select count(*), count(label), sum(case when abstained then 1 else 0 end) "
                                     "from lab.pseudo_labels where level = 'review'").fetchone()
        mentions = connection.execute("select count(*) from lab.aspect_mentions").fetchone()[0]
        aspects = connection.execute("select count(*) from lab.pseudo_labels where level = 'aspect'").fetchone()[0]
        models = {row[0] for row in connection.execute("select distinct model from lab.label_quality").fetchall()}
        synthetic = connection.execute("select bool_and(gold_synthetic) from lab.label_quality").fetchone()[0]
        gold_sets = {row[0] for row in connection.execute("select distinct dataset from lab.label_quality").fetchall()}
        # synthetic gold is drawn apart from the dump the labellers were fitted on
        shared_texts = connection.execute("select count(*) from lab.clean_reviews where content in "
                                          "(select text from lab.gold_labels)").fetchone()[0]
        accuracy = connection.execute("select value from lab.label_quality where model = 'label_model' and "
                                      "task = 'review_sentiment' and metric = 'accuracy'").fetchone()[0]
    assert reviews[0] == clean and reviews[1] + reviews[2] == clean  # every clean review labelled or abstaining
    assert aspects == mentions > 0
    assert {"label_model", "majority_vote", "vader", "rating", "zero_shot", "majority_class"} <= models
    assert synthetic is True
    assert gold_sets == {"synthetic_heldout"}
    assert shared_texts < 0.1 * clean
    assert 0.5 < accuracy <= 1.0
    probes = list((tmp_path / "models" / "rating_probe@small").glob("v*/probe.safetensors"))
    assert len(probes) == 1  # the partition's probe, fitted on its own star ratings, kept for label_quality
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as connection:
        probe_votes = connection.execute("select count(lf_rating_probe) filter (where lf_rating_probe >= 0), "
                                         "count(*) filter (where lf_rating_probe >= 0 and level = 'aspect') from lab.pseudo_labels").fetchone()
        probe_coverage = connection.execute("select value from lab.label_quality where model = 'rating_probe' and "
                                            "task = 'review_sentiment' and metric = 'coverage'").fetchone()[0]
    assert probe_votes[0] > 0 and probe_votes[1] == 0  # votes on reviews, never on aspects
    # the rating-MIL teacher, trained on the dump's stars in the same run, votes at both levels, here and on gold
    assert len(list((tmp_path / "models" / "rating_mil").glob("v*/rating_mil.safetensors"))) == 1
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as connection:
        mil_votes = dict(connection.execute("select level, count(*) filter (where lf_rating_mil >= 0) from lab.pseudo_labels group by level").fetchall())
        mil_gold = connection.execute("select value from lab.label_quality where model = 'rating_mil' and task = 'aspect_polarity' "
                                      "and metric = 'coverage'").fetchone()[0]
        rated = connection.execute("select count(rating) from lab.pseudo_labels where level = 'review'").fetchone()[0]
    assert mil_votes["review"] > 0 and mil_votes["aspect"] > 0 and mil_gold > 0
    assert rated > 0  # the stars travel with the review rows: the students' independent held-out criterion
    assert probe_coverage > 0  # label_quality votes on gold with the stored probe
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as connection:
        floor = dict(connection.execute("select metric, value from lab.label_quality where model = 'majority_class' and "
                                        "task = 'review_sentiment' and metric in ('coverage', 'f1_positive', 'f1_negative')").fetchall())
    assert floor["coverage"] == 1.0 and floor["f1_positive"] > 0 and floor["f1_negative"] == 0  # one class, always
