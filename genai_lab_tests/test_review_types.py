"""Rule-based review-type detection: behaviour on hand-written reviews, settings, and a loose sanity floor on gold."""

from __future__ import annotations

import polars as pl
import pytest

from genai_lab.labels.gold import REVIEW_TYPES, load_gold_file
from genai_lab.labels.review_types import FLAG_COLUMNS, REVIEW_TYPE_SCHEMA, ReviewTypeSettings, detect_review_types

BUG = [
    "The app crashes every time I open a photo.",
    "Won't load since the last update, just a black screen.",
    "I can't log in anymore, it says error 502. Please fix!",
    "Keeps closing on me when I try to upload a video",
    "Doesn’t work on my iPad, it freezes right after the splash screen",
]
FEATURE = [
    "Please add a dark mode.",
    "It would be great if I could export my notes to PDF.",
    "I wish it had a home screen widget",
    "You should add an option to sort by date",
    "Would give 5 stars if you bring back the old layout",
]
USER_EXPERIENCE = [
    "I use it every morning to plan my day and track my runs.",
    "I've been using this app for two years to manage my budget.",
    "My kids practice their spelling with it on the bus.",
    "It helps me keep track of my medication and reminds me when to refill.",
    "I can now track my runs offline",
    "Honestly it makes my life so much easier",
]
RATING = [
    "Great app!",
    "Love it",
    "Waste of money.",
    "5 stars",
    "Terrible, worst app ever",
    "👍👍",
]


def detect(texts: list[str | None], settings: ReviewTypeSettings | None = None) -> pl.DataFrame:
    return detect_review_types(pl.Series("text", texts, dtype=pl.String), settings)


@pytest.mark.parametrize(
    ("texts", "review_type"),
    [(BUG, "bug_report"), (FEATURE, "feature_request"), (USER_EXPERIENCE, "user_experience"), (RATING, "rating")],
)
def test_primary_type_of_hand_written_reviews(texts, review_type):
    out = detect(texts)
    assert out["review_type"].to_list() == [review_type] * len(texts), list(zip(texts, out["review_type"].to_list()))
    assert out[FLAG_COLUMNS[review_type]].all()


def test_output_schema_and_row_alignment():
    texts = ["Great app!", None, "Please add a dark mode.", "", "It crashes all the time.", "   ", "I use it every day for my work."]
    out = detect(texts)
    assert out.schema == pl.Schema(REVIEW_TYPE_SCHEMA)
    assert out.height == len(texts)
    assert out["review_type"].to_list() == ["rating", None, "feature_request", None, "bug_report", None, "user_experience"]
    # reversing the input reverses the output: every row is classified on its own
    assert detect(texts[::-1]).equals(out.reverse())


def test_null_empty_and_blank_texts_are_null_everywhere():
    out = detect([None, "", " \n\t "])
    assert out.null_count().row(0) == (3,) * out.width


def test_empty_input():
    out = detect([])
    assert out.height == 0 and out.schema == pl.Schema(REVIEW_TYPE_SCHEMA)


def test_series_of_another_dtype_is_read_as_text():
    out = detect_review_types(pl.Series(["It keeps crashing", "Love it"], dtype=pl.Categorical))
    assert out["review_type"].to_list() == ["bug_report", "rating"]


@pytest.mark.parametrize(
    "text",
    [
        "No crashes at all, love it",
        "Never had a single problem with it, great app",
        "No bugs or crashes. Five stars",
        "Bug-free and fast",
        "Haven't had any issues since I installed it, awesome",
        "They fixed the crash, works great now",
    ],
)
def test_negated_bug_cues_are_no_bug_report(text):
    row = detect([text]).row(0, named=True)
    assert row["is_bug_report"] is False
    assert row["review_type"] in ("rating", "user_experience")


@pytest.mark.parametrize(
    "text",
    [
        "It never stops crashing",  # "stops" is no negation filler
        "No ads, but it crashes every time I open it",  # the comma ends the negation's scope
        "No crashes for a week and then it froze twice today",  # "froze" is not negated
        "It doesn't work at all",  # a problem phrase that holds a negation is no negated cue
    ],
)
def test_negation_scope_is_narrow(text):
    assert detect([text])["review_type"].item() == "bug_report"


def test_multi_label_flags():
    row = detect(["Love this app, I use it every day, but it crashes when I open settings. Please add a widget."]).row(0, named=True)
    assert row["is_bug_report"] and row["is_feature_request"] and row["is_user_experience"] and row["is_rating"]
    assert row["review_type"] == "bug_report"  # default priority: bug > feature > user experience > rating


def test_scenario_cues_count_as_user_experience_only_without_a_bug():
    out = detect(["Whenever I go hiking it shows me the trails nearby", "Whenever I open the camera it crashes"])
    assert out["is_user_experience"].to_list() == [True, False]


def test_wish_phrases_are_no_rating_praise():
    # the "great" of "it would be great if" is a wish; a long request without praise is no rating
    row = detect(["It would be great if the calendar view could show the whole month and sync with my laptop"]).row(0, named=True)
    assert row["is_feature_request"] and not row["is_rating"]


def test_short_text_without_bug_or_feature_cue_is_a_rating():
    assert detect(["Meh."]).row(0, named=True)["is_rating"]
    assert detect(["Nothing special here, honestly"]).row(0, named=True)["is_rating"]  # no cue at all: fallback


def test_apostrophes_and_case_do_not_matter():
    out = detect(["DOESN'T WORK", "doesnt work", "Doesn’t work", "does not work"])
    assert out["is_bug_report"].all()


def test_settings_override_extra_bug_cue():
    text = ["The app shows gibberish on the map screen"]
    assert detect(text)["review_type"].item() != "bug_report"
    settings = ReviewTypeSettings(bug_cues=[*ReviewTypeSettings().bug_cues, "gibberish"])
    assert detect(text, settings)["review_type"].item() == "bug_report"


def test_settings_override_priority_and_short_rule():
    text = ["Love it, but please add a widget"]
    assert detect(text)["review_type"].item() == "feature_request"
    rating_first = ReviewTypeSettings(priority=["rating", "bug_report", "feature_request", "user_experience"])
    assert detect(text, rating_first)["review_type"].item() == "rating"
    no_short_rule = ReviewTypeSettings(short_max_words=0, rating_cues=["great"])
    row = detect(["I use it daily"], no_short_rule).row(0, named=True)
    assert row["is_user_experience"] and not row["is_rating"]


def test_an_empty_cue_list_never_matches():
    settings = ReviewTypeSettings(feature_cues=[])
    assert not detect(["Please add a dark mode", "I wish it had widgets"], settings)["is_feature_request"].any()


def test_unknown_or_invalid_settings_raise():
    with pytest.raises(Exception, match="bug_cuez"):
        ReviewTypeSettings(bug_cuez=["oops"])
    with pytest.raises(Exception, match="no regex"):
        ReviewTypeSettings(bug_cues=["crash(es"])
    with pytest.raises(Exception, match="priority"):
        ReviewTypeSettings(priority=["bug_report", "rating"])
    with pytest.raises(Exception, match="negation_window"):
        ReviewTypeSettings(negation_window=-1)


def test_loose_sanity_floor_on_the_maalej_gold(shared_data):
    """Only a loose floor (the measured numbers live in benchmarks/review_types.py); the gold never tunes the rules."""
    path = shared_data / "gold" / "app_review_type_maalej_part1.parquet"
    if not path.exists():
        pytest.skip(f"{path} is not there")
    gold = load_gold_file(path)
    assert set(gold["task"].unique()) == {"review_type"}
    texts = gold.group_by("item_id", maintain_order=True).agg(pl.col("text").first())
    predicted = pl.concat([texts, detect_review_types(texts["text"])], how="horizontal")
    rows = gold.join(predicted.select("item_id", pl.col("review_type").alias("prediction")), on="item_id", how="left")
    assert rows["prediction"].null_count() == 0

    f1 = {}
    for t in REVIEW_TYPES:
        tp = ((rows["prediction"] == t) & (rows["label"] == t)).sum()
        fp = ((rows["prediction"] == t) & (rows["label"] != t)).sum()
        fn = ((rows["prediction"] != t) & (rows["label"] == t)).sum()
        f1[t] = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    macro = sum(f1.values()) / len(f1)
    majority_baseline = (2 * (rows["label"] == "rating").mean() / (1 + (rows["label"] == "rating").mean())) / len(f1)
    assert all(v > 0 for v in f1.values()), f1
    assert macro > max(0.4, majority_baseline), f1


@pytest.mark.parametrize(
    "text",
    [
        "The app hangs on the splash screen for a minute",
        "Having trouble syncing my calendar lately",
        "Since the last update the widget shows the wrong date",
        "I used to be able to zoom into the map, now nothing happens",
        "It won't open anymore on my phone",
        "My saved notes were lost after I restarted it",
    ],
)
def test_new_bug_cues(text):
    assert detect([text])["is_bug_report"].item()


def test_weak_bug_cues_make_a_bug_only_without_a_request():
    out = detect([
        "The only issue is that I can't change the font size, please add an option for it",
        "Big issue: I can't change my password at all",
    ])
    assert out["is_bug_report"].to_list() == [False, True]
    assert out["is_feature_request"].to_list() == [True, False]


@pytest.mark.parametrize(
    "text",
    [
        "I wish I could give it zero stars, what a waste",
        "It would be a great app if it actually worked",
        "Would give 5 stars if they fixed the login crash",
        "This app needs a lot of work",
    ],
)
def test_request_shaped_verdicts_and_bug_conditions_are_no_feature_request(text):
    assert not detect([text])["is_feature_request"].item()


def test_descriptions_of_use_are_user_experience():
    out = detect(["You can set a reminder for each plant and it tells you when to water", "Really handy for tracking my runs and rides"])
    assert out["is_user_experience"].all()


def test_rating_needs_a_verdict_beside_another_type():
    out = detect([
        "Nice design but it crashes whenever I open the settings page",  # a mild aside in a bug report
        "Great app but it crashes whenever I open the settings page",  # a verdict on the app
        "Terrible, it crashes whenever I open the settings page",
    ])
    assert out["is_bug_report"].all()
    assert out["is_rating"].to_list() == [False, True, True]


def test_settings_override_weak_and_false_cues():
    text = ["The only problem is there is no dark mode, please add it"]
    assert not detect(text)["is_bug_report"].item()
    assert detect(text, ReviewTypeSettings(bug_weak_cues=[], bug_cues=["problem"]))["is_bug_report"].item()
    wish = ["I wish I could give it zero stars"]
    assert detect(wish, ReviewTypeSettings(feature_false_cues=[]))["is_feature_request"].item()
