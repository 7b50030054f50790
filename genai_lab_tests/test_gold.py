"""Gold labels: the shared gold files load as they are, bad files fail with a message that helps."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from genai_lab.labels.gold import (
    EXTRACTION_SCHEMA,
    GOLD_SCHEMA,
    REVIEW_TYPES,
    SENTIMENT_LABELS,
    GoldError,
    gold_from_synthetic,
    load_aspect_extraction_gold,
    load_gold_file,
    load_gold_folder,
)
from genai_lab.synth import generate

# dataset -> (task, rows, {label: count}) for the shared gold files
EXPECTED = {
    "app_review_sentiment_lin2018_part1": ("review_sentiment", 170, {"positive": 96, "negative": 62, "neutral": 12}),
    # 2,358 aspect terms minus 45 conflict
    "semeval14_laptop_train": ("aspect_polarity", 2_313, {"positive": 987, "negative": 866, "neutral": 460}),
    # 3,693 aspect terms minus 91 conflict
    "semeval14_restaurant_train": ("aspect_polarity", 3_602, {"positive": 2_164, "negative": 805, "neutral": 633}),
    # 3,713 rows minus 195 conflict minus 2 exact duplicates (sentence 258 and 3561 list a category twice)
    "semeval14_restaurant_train_categories": ("aspect_polarity", 3_516, None),
    # 755 annotated features minus 2 exact duplicate rows
    "app_feature_sentiment_dabrowski2023_part1": ("aspect_polarity", 753, None),
    # 1,823 rows minus 48 repeated (text, label) pairs (short texts like "Cool" rated by several users)
    "app_review_type_maalej_part1": ("review_type", 1_775, None),
}


@pytest.fixture(scope="module")
def gold_dir(shared_data: Path) -> Path:
    folder = shared_data / "gold"
    if not folder.is_dir():
        pytest.skip(f"{folder} is not there")
    return folder


@pytest.fixture(scope="module")
def shared_gold(gold_dir: Path) -> pl.DataFrame:
    return load_gold_folder(gold_dir)


@pytest.mark.shared_data
def test_every_shared_gold_file_loads(shared_gold: pl.DataFrame) -> None:
    assert shared_gold.schema == pl.Schema(GOLD_SCHEMA)
    assert set(shared_gold["dataset"].unique()) == set(EXPECTED)
    assert not shared_gold["synthetic"].any()
    for dataset, (task, rows, labels) in EXPECTED.items():
        part = shared_gold.filter(pl.col("dataset") == dataset)
        assert part["task"].unique().to_list() == [task], dataset
        assert part.height == rows, dataset
        if labels is not None:
            assert dict(part["label"].value_counts().rows()) == labels, dataset
    sentiment = shared_gold.filter(pl.col("task") != "review_type")
    assert set(sentiment["label"].unique()) <= set(SENTIMENT_LABELS)
    types = shared_gold.filter(pl.col("task") == "review_type")
    assert set(types["label"].unique()) == set(REVIEW_TYPES)
    assert shared_gold.select(pl.col("text", "item_id", "label").null_count()).row(0) == (0, 0, 0)
    # aspect rows have their term; the others none
    assert (shared_gold["aspect_term"].is_null() == (shared_gold["task"] != "aspect_polarity")).all()


@pytest.mark.shared_data
def test_shared_gold_ids_and_offsets(shared_gold: pl.DataFrame) -> None:
    def part(name: str) -> pl.DataFrame:
        return shared_gold.filter(pl.col("dataset") == name)

    # one id names one text
    assert shared_gold.group_by("dataset", "item_id").agg(pl.col("text").n_unique())["text"].max() == 1
    assert part("app_review_sentiment_lin2018_part1")["item_id"].n_unique() == 170
    # Maalej is multi-label, keyed by text (its review_id repeats across labels)
    maalej = part("app_review_type_maalej_part1")
    assert maalej["item_id"].n_unique() == maalej["text"].n_unique() == 1_596
    assert maalej.group_by("item_id").len()["len"].max() > 1
    # SemEval offsets point into the text as written (9 laptop terms are off in the official file)
    laptop = part("semeval14_laptop_train")
    spans = laptop["text"].str.slice(laptop["aspect_from"], laptop["aspect_to"] - laptop["aspect_from"])
    assert (spans != laptop["aspect_term"]).sum() <= 9
    # categories: category as aspect term, no offsets
    cats = part("semeval14_restaurant_train_categories")
    assert set(cats["aspect_term"].unique()) == {"food", "service", "price", "ambience", "anecdotes/miscellaneous"}
    assert cats["aspect_from"].is_null().all()


@pytest.mark.shared_data
def test_extraction_gold_keeps_sentences_without_aspects(gold_dir: Path) -> None:
    laptop = load_aspect_extraction_gold(gold_dir / "semeval14_laptop_train.parquet")
    assert laptop.schema == pl.Schema(EXTRACTION_SCHEMA)
    assert laptop.height == 3_045
    assert (laptop["aspect_terms"].list.len() == 0).sum() == 1_557
    assert laptop["aspect_terms"].list.len().sum() == 2_358  # conflict terms are still terms
    dabrowski = load_aspect_extraction_gold(gold_dir / "app_feature_sentiment_dabrowski2023_part1.parquet")
    assert dabrowski.height == 1_036 and (dabrowski["aspect_terms"].list.len() == 0).sum() == 558
    with pytest.raises(GoldError, match="aspect_term"):
        load_aspect_extraction_gold(gold_dir / "semeval14_restaurant_train_categories.parquet")


# --- small files ---------------------------------------------------------------------------------


def test_extraction_gold_on_a_small_file(tmp_path: Path) -> None:
    path = tmp_path / "absa.csv"
    pl.DataFrame(
        {
            "sentence_id": ["1", "1", "2", "3"],
            "text": ["The screen is great but the battery dies", "The screen is great but the battery dies", "I bought it.", "Keys ok"],
            "aspect_term": ["screen", "battery", None, "Keys"],
            "from": [4, 28, None, 0],
            "to": [10, 35, None, 4],
            "polarity": ["positive", "negative", None, "conflict"],
        }
    ).write_csv(path)
    got = load_aspect_extraction_gold(path).sort("item_id")
    assert got["aspect_terms"].to_list() == [["screen", "battery"], [], ["Keys"]]
    assert got["aspects"][0].to_list() == [{"term": "screen", "from": 4, "to": 10}, {"term": "battery", "from": 28, "to": 35}]
    polarity = load_gold_folder(tmp_path)
    assert polarity.select("item_id", "aspect_term", "aspect_from", "label").rows() == [
        ("1", "screen", 4, "positive"),
        ("1", "battery", 28, "negative"),
    ]  # no-aspect sentence and conflict dropped


def test_label_spellings_are_normalised_and_conflict_ignored(tmp_path: Path) -> None:
    pl.DataFrame({"Text": ["a", "b", "c", "d", "e"], "Polarity": ["POS", "Negative", "neu", "conflict", "positive "]}).write_csv(
        tmp_path / "mine.csv"
    )
    pl.DataFrame({"text": ["x", "x", "y", "z"], "label": ["Bug", "RATING", "UserExperience", "feature"], "label_id": [1, 2, 3, 4]}).write_parquet(
        tmp_path / "types.parquet"
    )
    (tmp_path / "README.md").write_text("not gold")
    (tmp_path / "notes.txt").write_text("not gold")
    gold = load_gold_folder(tmp_path)
    sentiment = gold.filter(pl.col("dataset") == "mine")
    assert sentiment["task"].unique().to_list() == ["review_sentiment"]
    assert sentiment["label"].to_list() == ["positive", "negative", "neutral", "positive"]
    assert sentiment["source_file"].unique().to_list() == [str(tmp_path / "mine.csv")]
    types = gold.filter(pl.col("dataset") == "types")
    assert types["task"].unique().to_list() == ["review_type"]
    assert types["label"].to_list() == ["bug_report", "rating", "user_experience", "feature_request"]
    assert types.filter(pl.col("text") == "x")["item_id"].n_unique() == 1  # multi-label: same item, two rows


def test_empty_folder_gives_empty_table(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("nothing yet")
    gold = load_gold_folder(tmp_path)
    assert gold.is_empty() and gold.schema == pl.Schema(GOLD_SCHEMA)
    with pytest.raises(GoldError, match="does not exist"):
        load_gold_folder(tmp_path / "typo")
    with pytest.raises(GoldError, match="is a folder; expected one CSV or Parquet gold file"):
        load_gold_file(tmp_path)


def test_no_text_column_lists_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    pl.DataFrame({"review": ["good app"], "polarity": ["positive"]}).write_csv(path)
    with pytest.raises(GoldError) as err:
        load_gold_folder(tmp_path)
    message = str(err.value)
    assert str(path) in message and "'review'" in message and "'polarity'" in message and "text" in message


def test_no_label_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    pl.DataFrame({"text": ["good app"], "label_id": [1]}).write_parquet(path)
    with pytest.raises(GoldError, match=r"no 'polarity' or 'label' column.*'text', 'label_id'") as err:
        load_gold_folder(tmp_path)
    assert str(path) in str(err.value)


def test_unknown_labels_are_listed(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    pl.DataFrame({"text": list("abcde"), "label": ["positive", "1", "good", "good", "negative"]}).write_csv(path)
    with pytest.raises(GoldError) as err:
        load_gold_folder(tmp_path)
    message = str(err.value)
    assert str(path) in message and "'good' (2x)" in message and "'1' (1x)" in message
    assert "'positive'" not in message.split("expected")[0]


def test_aspect_file_needs_sentiment_labels(tmp_path: Path) -> None:
    pl.DataFrame({"text": ["a"], "aspect_term": ["a"], "polarity": ["Bug"]}).write_csv(tmp_path / "bad.csv")
    with pytest.raises(GoldError, match="unknown aspect_polarity labels.*'Bug'"):
        load_gold_folder(tmp_path)


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(GoldError, match="broken.parquet.*cannot be read as Parquet"):
        load_gold_folder(tmp_path)


def test_missing_text_or_label_in_rows(tmp_path: Path) -> None:
    pl.DataFrame({"text": ["a", None], "label": ["positive", "negative"]}).write_parquet(tmp_path / "t.parquet")
    with pytest.raises(GoldError, match=r"t.parquet: rows 2 have no text"):
        load_gold_folder(tmp_path)


# --- synthetic gold ------------------------------------------------------------------------------


def test_synthetic_gold_has_all_three_tasks() -> None:
    dump, truth = generate(500, seed=1)
    gold = gold_from_synthetic(dump, truth)
    assert gold.schema == pl.Schema(GOLD_SCHEMA)
    assert gold["synthetic"].all()
    assert set(gold["task"].unique()) == {"review_sentiment", "aspect_polarity", "review_type"}
    english = truth.filter(pl.col("language") == "en").height
    counts = dict(gold.group_by("task").len().rows())
    assert counts["review_sentiment"] == counts["review_type"] == english
    assert counts["aspect_polarity"] == truth.filter(pl.col("language") == "en")["aspects"].list.len().sum()
    assert set(gold.filter(pl.col("task") == "review_type")["label"].unique()) <= set(REVIEW_TYPES)
    assert set(gold.filter(pl.col("task") != "review_type")["label"].unique()) <= set(SENTIMENT_LABELS)
    aspects = gold.filter(pl.col("task") == "aspect_polarity")
    spans = aspects["text"].str.slice(aspects["aspect_from"], aspects["aspect_to"] - aspects["aspect_from"])
    assert (spans == aspects["aspect_term"]).all()
    # texts are the dump's content, ids its ids
    content = dict(zip(dump["id"], dump["content"]))
    assert all(content[i] == t for i, t in gold.select("item_id", "text").head(50).rows())


def test_synthetic_offsets_follow_repeated_terms() -> None:
    dump = pl.DataFrame({"id": ["r1"], "content": ["Sync is bad, I said sync, and sync again"]})
    truth = pl.DataFrame(
        {
            "review_id": ["r1"],
            "language": ["en"],
            "sentiment": ["negative"],
            "aspects": [[{"aspect": "sync", "term": "sync", "polarity": "negative"}, {"aspect": "sync", "term": "sync", "polarity": "neutral"}]],
            "review_type": ["user_experience"],
        }
    )
    aspects = gold_from_synthetic(dump, truth).filter(pl.col("task") == "aspect_polarity")
    assert aspects.select("aspect_from", "aspect_to", "label").rows() == [(20, 24, "negative"), (30, 34, "neutral")]


def test_a_file_without_one_usable_row_is_named(tmp_path: Path) -> None:
    header_only = tmp_path / "header_only.csv"
    header_only.write_text("text,label\n")
    with pytest.raises(GoldError, match=r"header_only.csv: no usable gold row among its 0 rows"):
        load_gold_file(header_only)
    all_conflict = tmp_path / "conflicts.csv"
    pl.DataFrame({"text": ["a", "b"], "polarity": ["conflict", "conflict"]}).write_csv(all_conflict)
    with pytest.raises(GoldError, match=r"conflicts.csv: no usable gold row among its 2 rows \(2 'conflict'\)"):
        load_gold_file(all_conflict)
    no_aspects = tmp_path / "no_aspects.csv"
    pl.DataFrame({"text": ["a", "b"], "aspect_term": [None, None], "polarity": [None, None]},
                 schema={"text": pl.String, "aspect_term": pl.String, "polarity": pl.String}).write_csv(no_aspects)
    with pytest.raises(GoldError, match=r"no_aspects.csv: .*2 without 'aspect_term'"):
        load_gold_file(no_aspects)


def test_a_nested_column_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nested.parquet"
    pl.DataFrame({"text": ["good app"], "label": [["positive", "neutral"]]}).write_parquet(path)
    with pytest.raises(GoldError, match=r"nested.parquet: column 'label' holds List\(String\); expected one text or label per row"):
        load_gold_file(path)


def test_files_that_are_not_gold_are_reported(tmp_path: Path, caplog) -> None:
    pl.DataFrame({"text": ["a"], "label": ["positive"]}).write_csv(tmp_path / "ok.csv")
    (tmp_path / "README.md").write_text("notes")
    (tmp_path / "more.tsv").write_text("text\tlabel\nb\tnegative\n")
    with caplog.at_level("WARNING"):
        gold = load_gold_folder(tmp_path)
    assert gold.height == 1
    assert "more.tsv" in caplog.text and "README.md" not in caplog.text
