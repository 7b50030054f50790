"""Do the arms beat the label model they learned from, and does the SLM reach 0.9x the adapter? Paired, on the same rows.

    python benchmarks/teacher_and_students.py --home /tmp/h      # a home `genai-lab run` (or whole_graph.py) materialized
    python benchmarks/teacher_and_students.py --home /tmp/h --before /tmp/h0   # and each model against another home's

`model_evaluation` scores the label model on the gold rows it labels (it abstains on the rest) and the arms on
every row, and its confidence intervals are each model's own. Both questions of issues 4 and 5 are about two
models on the same items, so this script scores them there, with a paired bootstrap
(`genai_lab.evaluation.paired_bootstrap`: both models on every resample of the same items):

* teacher vs student — each arm against the label model, on the rows the label model labels;
* SLM vs adapter — on every row, with the interval of SLM / adapter macro-F1 (target: 0.9).

It reads `gold_labels` and `pseudo_labels` from the home's warehouse and the champions from its model store, and
recomputes the label model's gold labels the way `label_quality` does (`labeller_gold_predictions`, default
labelling settings: run it on a home materialized with those). The last line is JSON.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import duckdb  # noqa: E402
import polars as pl  # noqa: E402

from genai_lab.evaluation import paired_bootstrap  # noqa: E402
from genai_lab.labels.gold_scoring import labeller_gold_predictions  # noqa: E402
from genai_lab.labels.probes import load_probe_ensemble  # noqa: E402
from genai_lab.labels.rating_mil import load_rating_mil  # noqa: E402
from genai_lab.ml.arms import load_classifier, store_name  # noqa: E402
from genai_lab.ml.scoring import gold_predictions  # noqa: E402
from genai_lab.ml.store import ModelStore  # noqa: E402
from genai_lab.resources import AdapterResource, LabelingResource, SlmResource  # noqa: E402
from genai_lab.vocabulary import ADAPTER, SENTIMENT_LABELS, SENTIMENT_TASKS, TEACHER  # noqa: E402
from genai_lab.vocabulary import SLM_CLASSIFIER as CLASSIFIER  # noqa: E402

#: a gold row (a text has one row per aspect term, so its item_id does not name a row)
KEY = ["dataset", "task", "row"]

from recording import record  # noqa: E402  (benchmarks/ is the script folder)

def arm_predictions(store: ModelStore, gold: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """{arm: gold rows with its champion's ``prediction``}, each champion loaded as its evaluation asset loads it."""
    from genai_lab.ml.lora import load_merged_adapter

    adapter, slm = AdapterResource(), SlmResource()
    loaders = {ADAPTER: (store.champion(ADAPTER), load_merged_adapter, adapter.training),
               CLASSIFIER: (store.champion(store_name(CLASSIFIER, slm.slm.size)), load_classifier, slm.training)}
    predicted = {}
    for arm, (champion, load, training) in loaders.items():
        if champion is None:
            raise SystemExit(f"model store {store.folder} holds no champion of {arm}: materialize it first")
        model, tokenizer = load(champion.path)
        predicted[arm] = gold_predictions(model, tokenizer, gold, batch_size=training.inference_batch_size,
                                          max_length=training.max_length).select(*KEY, "label", "prediction")
    return predicted


def paired_rows(first: pl.DataFrame, second: pl.DataFrame, first_name: str, second_name: str, samples: int) -> list[dict]:
    """Per gold set: both models' macro-F1 on the items both label, and the paired intervals of their difference and ratio."""
    both = first.join(second.select(*KEY, pl.col("prediction").alias("second")), on=KEY).filter(
        pl.col("prediction").is_not_null() & pl.col("second").is_not_null())
    rows = []
    for (task, dataset), group in both.group_by("task", "dataset", maintain_order=True):
        total = first.filter((pl.col("task") == task) & (pl.col("dataset") == dataset)).height
        paired = paired_bootstrap(group["label"].to_list(), group["prediction"].to_list(), group["second"].to_list(),
                                  [c for c in SENTIMENT_LABELS if c in set(group["label"])], samples=samples)
        rows.append({"task": task, "dataset": dataset, "first": first_name, "second": second_name, "items": group.height,
                     "of": total, **{f"{key}_{part}": value for key, interval in paired.items()
                                     for part, value in zip(("point", "low", "high"), interval)}})
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| gold set | first | second | items | first macro-F1 | second macro-F1 | second − first (95% CI) | second / first (95% CI) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['first']} | {r['second']} | {r['items']:,} of {r['of']:,} | {r['first_point']:.3f} | "
                     f"{r['second_point']:.3f} | {r['difference_point']:+.3f} ({r['difference_low']:+.3f} to {r['difference_high']:+.3f}) | "
                     f"{r['ratio_point']:.2f} ({r['ratio_low']:.2f} to {r['ratio_high']:.2f}) |")
    return "\n".join(lines)


def home_predictions(home: Path) -> dict[str, pl.DataFrame]:
    """{teacher and each arm: gold rows with its ``prediction``} of one materialized home."""
    warehouse = home / "warehouse.duckdb"
    if not warehouse.exists():
        raise SystemExit(f"{warehouse} does not exist: materialize the graph into {home} first")
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        gold = connection.execute("select * from lab.gold_labels where task in (select unnest(?))", [list(SENTIMENT_TASKS)]).pl().with_row_index("row")
        pseudo_labels = connection.sql("select * from lab.pseudo_labels").pl()
    store = ModelStore(root=str(home / "models"))
    settings = LabelingResource().labels
    probe = load_probe_ensemble(store, pseudo_labels["dump_id"].drop_nulls().unique().to_list(), settings)
    teacher = pl.concat(rows.select(*KEY, "label").with_columns(labels[TEACHER].alias("prediction"))
                        for rows, labels in labeller_gold_predictions(gold, pseudo_labels, settings, probe, load_rating_mil(store)).values())
    return {TEACHER: teacher, **arm_predictions(store, gold)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="a lab home with a materialized graph")
    parser.add_argument("--before", type=Path, help="another home (e.g. materialized by an earlier commit): each model "
                                                     "of --home paired with the same model of this one")
    parser.add_argument("--samples", type=int, default=2000, help="bootstrap resamples")
    args = parser.parse_args()
    now = home_predictions(args.home)
    rows = [*paired_rows(now[TEACHER], now[ADAPTER], TEACHER, ADAPTER, args.samples),
            *paired_rows(now[TEACHER], now[CLASSIFIER], TEACHER, CLASSIFIER, args.samples),
            *paired_rows(now[ADAPTER], now[CLASSIFIER], ADAPTER, CLASSIFIER, args.samples)]
    if args.before:
        before = home_predictions(args.before)
        rows += [row for name in (TEACHER, ADAPTER, CLASSIFIER)
                 for row in paired_rows(before[name], now[name], f"{name} before", f"{name} now", args.samples)]
    print(markdown(rows))
    record("teacher_and_students", rows)


if __name__ == "__main__":
    main()
