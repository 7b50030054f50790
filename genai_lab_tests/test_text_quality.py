"""Text-quality features and score: hand-written texts with known values and orderings, a slow
per-row reference implementation the vectorised lexer must match, edge cases and settings."""

from __future__ import annotations

import functools
import math
import random
import re
import unicodedata
from pathlib import Path

import polars as pl
import pytest
from dagster import DagsterInvalidInvocationError

from genai_lab.text.text_quality import (
    DEFAULT_SUBSCORE_KNOTS,
    DEFAULT_WEIGHTS,
    FEATURE_COLUMNS,
    SCORED_FEATURES,
    STOPWORDS,
    TextQualitySettings,
    english_vocabulary,
    text_quality,
)

THOUGHTFUL = (
    "I have used this budgeting app for two years. The new update made syncing with my bank much "
    "faster, and the monthly reports are finally easy to read. I would like a dark mode, but overall "
    "it is worth the price."
)
SIMPLE = "The app is good. I like it. It is fast. My kids use it too."
CONVOLUTED = (
    "Notwithstanding considerable organizational improvements, the application's synchronization "
    "functionality demonstrates unacceptable inconsistencies, particularly regarding authentication "
    "interoperability and multidimensional categorization capabilities."
)
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "appstore_reviews_real.parquet"


def score(texts: list[str | None], settings: TextQualitySettings = TextQualitySettings()) -> pl.DataFrame:
    return text_quality(pl.DataFrame({"review_id": list(range(len(texts))), "content": texts},
                                     schema={"review_id": pl.Int64, "content": pl.String}), settings)


def one(text: str | None, settings: TextQualitySettings = TextQualitySettings()) -> dict:
    return score([text], settings).row(0, named=True)


# --- orderings and values on hand-written texts ---


def test_quality_ordering_thoughtful_repetitive_gibberish_symbols():
    texts = [THOUGHTFUL, "good good good good", "asdf qwer zxcv", "!!!!! ??? ###"]
    scores = score(texts)["text_quality_score"].to_list()
    assert scores[0] > 0.9
    assert scores[0] > scores[1] > scores[2] > scores[3] == 0.0
    out = score(texts)
    assert out["fit_for_training"].to_list() == [True, False, False, False]
    assert out["unfit_reason"].to_list() == [None, "low_score:lexical_diversity", "low_score:dictionary_word_share", "no_words"]


@pytest.mark.parametrize(("text", "chars", "words"), [
    ("the app is great", 16, 4),
    ("Don't stop—it's great!", 22, 4),  # contractions are one word, an em dash splits
    ("Wi-fi drops at 5:30pm, v2.1", 27, 8),  # wi fi drops at 5 30pm v2 1
    ("  spaced\tout \n words  ", 22, 3),
    ("Love it 😍😍 café naïve", 21, 4),
    ("users' 'quoted' rock'n'roll", 27, 3),  # outer apostrophes are punctuation, inner ones join
    ("日本語のレビュー", 8, 1),
])
def test_exact_char_and_word_counts(text, chars, words):
    row = one(text)
    assert (row["char_count"], row["word_count"]) == (chars, words)


def test_curly_apostrophe_joins_like_a_straight_one():
    assert one("I don’t know")["word_count"] == 3
    assert one("I don’t know")["dictionary_word_share"] == 1.0


def test_dictionary_share():
    assert one("the app is great")["dictionary_word_share"] == 1.0
    assert one("xqzt blorf")["dictionary_word_share"] == 0.0
    assert one("THE APP IS GREAT")["dictionary_word_share"] == 1.0  # case-insensitive
    assert one("great xqzt")["dictionary_word_share"] == 0.5
    assert one("version 2020 crashes")["dictionary_word_share"] == 1.0  # number words are left out
    assert one("12345 67890")["dictionary_word_share"] == 0.0  # ... and nothing is left


def test_shares_of_characters_and_words():
    row = one("GREAT app!! 😍")  # non-space: G R E A T a p p ! ! 😍 = 11
    assert row["punctuation_share"] == pytest.approx(2 / 11)
    assert row["special_char_share"] == pytest.approx(1 / 11)
    assert row["uppercase_share"] == pytest.approx(5 / 8)
    assert row["mean_word_length"] == pytest.approx(4.0)
    row = one("it is the best of the apps")
    assert row["stopword_share"] == pytest.approx(5 / 7)  # it is the of the


def test_lexical_diversity_and_repetition():
    assert one("good good good good")["lexical_diversity"] == 0.0
    assert one("good good good good")["repetition"] == pytest.approx(2 / 3)
    row = one("the app is great")
    assert row["lexical_diversity"] == 1.0 and row["repetition"] == 0.0
    assert one("great")["lexical_diversity"] == 1.0 and one("great")["repetition"] == 0.0
    # Herdan's C: ln(types) / ln(tokens)
    assert one("I love it I love it")["lexical_diversity"] == pytest.approx(math.log(3) / math.log(6), rel=1e-6)
    assert one("I love it I love it")["repetition"] == pytest.approx(2 / 5)
    # only the first `diversity_window_words` words count for diversity
    long_text = " ".join(f"w{i}" for i in range(150))
    settings = TextQualitySettings(diversity_window_words=100)
    assert one(long_text + " " + " ".join(["x"] * 50), settings)["lexical_diversity"] == 1.0


def test_readability_flesch_values_and_monotone():
    # "The cat sat on the mat." 6 words, 6 syllables, 1 sentence
    assert one("The cat sat on the mat.")["flesch_reading_ease"] == pytest.approx(206.835 - 1.015 * 6 - 84.6, abs=1e-3)
    # silent e and -ed endings: "make" 1, "whole" 1, "table" 2, "loved" 1, "wanted" 2
    assert one("make whole table loved wanted")["flesch_reading_ease"] == pytest.approx(
        206.835 - 1.015 * 5 - 84.6 * 7 / 5, abs=1e-3)
    simple, convoluted = score([SIMPLE, CONVOLUTED])["readability"].to_list()
    assert simple > convoluted
    assert 0.0 <= convoluted <= simple <= 1.0
    assert one(SIMPLE)["sentence_count"] == 4


@pytest.mark.parametrize(("text", "sentences"), [
    ("Great app. Love it! Really?", 3),
    ("Version 1.5 is out and it works", 1),  # a decimal point is no sentence end
    ("Great app\nLove it", 2),  # a line break ends a sentence
    ("Wow!!! Amazing...", 2),
    ("no punctuation at all", 1),
    ("", 0),
])
def test_sentence_count(text, sentences):
    assert one(text)["sentence_count"] == sentences


# --- edge cases ---


@pytest.mark.parametrize(("text", "reason"), [("", "empty"), (None, "empty"), ("   \n\t ", "empty"), ("!!! ???", "no_words"),
                                              ("😍😍😍", "no_words"), ("great app", "too_few_words")])
def test_empty_null_and_short_texts(text, reason):
    row = one(text)
    assert row["fit_for_training"] is False
    assert row["unfit_reason"] == reason
    if reason != "too_few_words":
        assert row["text_quality_score"] == 0.0
        assert row["word_count"] == 0
        assert row["lexical_diversity"] is None and row["dictionary_word_share"] is None


def test_output_schema_order_and_ids_preserved():
    ids = ["z9", "a1", "m5", "b2", "q0"]
    texts = [THOUGHTFUL, None, "good good good good", "", SIMPLE]
    out = text_quality(pl.DataFrame({"review_id": ids, "content": texts}))
    assert out["review_id"].to_list() == ids
    assert out.columns == ["review_id", *FEATURE_COLUMNS, "text_quality_score", "fit_for_training", "unfit_reason"]
    assert out.schema["text_quality_score"] == pl.Float32
    assert out.schema["fit_for_training"] == pl.Boolean
    assert out.schema["unfit_reason"] == pl.String
    assert out.schema["word_count"] == pl.Int32 and out.schema["char_count"] == pl.Int32
    assert all(out.schema[c] == pl.Float32 for c in FEATURE_COLUMNS[3:])
    assert out["text_quality_score"].is_between(0.0, 1.0).all()
    assert out["text_quality_score"].null_count() == 0
    # the same texts one by one give the same rows
    for i, text in enumerate(texts):
        assert one(text)["text_quality_score"] == out["text_quality_score"][i]


def test_batches_give_the_same_result_as_one_batch():
    texts = [THOUGHTFUL, "", None, "good good good good", SIMPLE, "Love it 😍", CONVOLUTED, "ok"] * 40
    whole = score(texts)
    batched = score(texts, TextQualitySettings(batch_bytes=1024))
    assert whole.equals(batched)


def test_empty_frame_and_other_text_column():
    empty = text_quality(pl.DataFrame({"review_id": [], "content": []}, schema={"review_id": pl.String, "content": pl.String}))
    assert empty.height == 0 and "text_quality_score" in empty.columns
    out = text_quality(pl.DataFrame({"review_id": [1], "body": ["the app is great"]}), text_col="body")
    assert out["word_count"].to_list() == [4]
    with pytest.raises(ValueError, match="content"):
        text_quality(pl.DataFrame({"review_id": [1], "body": ["x"]}))
    with pytest.raises(TypeError, match="String"):
        text_quality(pl.DataFrame({"review_id": [1], "content": [1]}))


def test_long_texts_are_analysed_on_a_prefix_but_counted_in_full():
    text = "The app works well and I like it a lot. " * 1000  # 40,000 chars
    row = one(text, TextQualitySettings(max_analysed_chars=4000))
    assert row["char_count"] == 40_000
    assert row["word_count"] == 1000  # 100 repetitions of 10 words fit in 4,000 chars
    assert row["repetition"] > 0.8


# --- settings ---


def test_weights_sum_to_one_and_cover_scored_features():
    assert sum(DEFAULT_WEIGHTS.values()) == pytest.approx(1.0)
    assert set(DEFAULT_WEIGHTS) == set(SCORED_FEATURES) == set(DEFAULT_SUBSCORE_KNOTS)
    assert sum(TextQualitySettings().weights.values()) == pytest.approx(1.0)


@pytest.mark.parametrize("bad", [
    {"weights": {"dictionary_word_share": 0.5}},
    {"weights": {**DEFAULT_WEIGHTS, "dictionary_word_shar": 0.0}},
    {"weights": {**DEFAULT_WEIGHTS, "word_count": -0.15, "repetition": 0.4}},
    {"subscore_knots": {"word_count": ((0, 0.0),)}},
    {"subscore_knots": {"word_count": ((5, 0.0), (1, 1.0))}},
    {"subscore_knots": {"word_count": ((0, 0.0), (1, 1.5))}},
    {"subscore_knots": {"words": ((0, 0.0), (1, 1.0))}},
    {"min_score_for_training": 1.5},
    {"max_analysed_chars": 0},
    {"max_analysed_chars": 10**7},
    {"subscore_floor": 0.0},
])
def test_invalid_settings_are_errors(bad):
    with pytest.raises(ValueError):
        TextQualitySettings(**bad)


def test_settings_are_frozen_and_tunable():
    settings = TextQualitySettings()
    with pytest.raises(DagsterInvalidInvocationError):
        settings.min_score_for_training = 0.1  # type: ignore[misc]
    with pytest.raises(Exception, match="min_score_for_trainnig"):  # a typo in a setting is an error
        TextQualitySettings(min_score_for_trainnig=0.3)
    strict = TextQualitySettings(min_words_for_training=10, min_score_for_training=0.99)
    assert one("the app is great", strict)["unfit_reason"] == "too_few_words"
    # all weight on one feature: the score is that feature's sub-score
    only_dict = TextQualitySettings(weights={"dictionary_word_share": 1.0})
    assert one("great xqzt blorf zzyzx", only_dict)["text_quality_score"] == pytest.approx(0.02)  # share .25 -> floor
    # knots from plain lists (as Dagster config gives them)
    lenient = TextQualitySettings(subscore_knots={"dictionary_word_share": [[0.0, 1.0], [1.0, 1.0]]})
    assert one("asdf qwer zxcv", lenient)["text_quality_score"] > one("asdf qwer zxcv")["text_quality_score"]


# --- the vectorised lexer against a slow per-row reference ---

_REF_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_SILENT = "[aeiouy][bcdfghjklmnpqrstvwxz]e$|[aeiouy][bcfghjklmnpqrsvwxz]ed$"  # make, whole; loved (not wanted)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _ref_class(ch: str) -> str:
    if ch.isspace():
        return "space"
    cat = unicodedata.category(ch)
    if 0x1F3FB <= ord(ch) <= 0x1F3FF:  # emoji skin-tone modifiers
        return "ignore"
    if cat in ("Lu", "Lt"):
        return "upper"
    return {"L": "letter", "N": "digit", "P": "punct", "Z": "space", "M": "ignore"}.get(cat[0], "ignore" if cat == "Cf" else "special")


@functools.cache
def _vocab() -> frozenset[str]:
    return frozenset(english_vocabulary(80_000).to_list())


def reference(text: str, window: int = 100) -> dict:
    """The features `text_quality` vectorises, computed the slow obvious way."""
    text = text.replace("’", "'")
    words = [w.translate(_ASCII_LOWER) for w in _REF_WORD.findall(text)]
    classes = [_ref_class(ch) for ch in text]
    nonspace = sum(c in ("upper", "letter", "digit", "punct", "special") for c in classes)
    letters = sum(c in ("upper", "letter") for c in classes)
    vocab = _vocab()
    alpha = [w for w in words if not any(ch.isdigit() and ch.isascii() for ch in w)]
    head = words[:window]
    bigrams = list(zip(words, words[1:], strict=False))
    sentences = 0
    matches = list(_REF_WORD.finditer(text))
    for i, m in enumerate(matches):
        after = text[m.end() : m.end() + 2]
        terminal = after[:1] in (".", "!", "?") and (len(after) == 1 or after[1] in ".!?\"')]} \t\n\r\x0b\x0c")
        sentences += i == len(matches) - 1 or terminal or after[:1] in ("\n", "\r")
    syllables = sum(max(1, len(re.findall("[aeiouy]+", w)) - bool(re.search(_SILENT, w))) for w in words)
    return {
        "word_count": len(words),
        "sentence_count": sentences,
        "flesch_reading_ease": 206.835 - 1.015 * len(words) / sentences - 84.6 * syllables / len(words) if words else None,
        "punctuation_share": classes.count("punct") / nonspace if nonspace else None,
        "special_char_share": classes.count("special") / nonspace if nonspace else None,
        "uppercase_share": classes.count("upper") / letters if letters else None,
        "dictionary_word_share": (sum(w in vocab for w in alpha) / len(alpha) if alpha else 0.0) if words else None,
        "stopword_share": sum(w in STOPWORDS for w in words) / len(words) if words else None,
        "lexical_diversity": (math.log(len(set(head))) / math.log(len(head)) if len(head) > 1 else 1.0) if words else None,
        "repetition": (len(bigrams) - len(set(bigrams))) / len(bigrams) if len(bigrams) else (0.0 if words else None),
    }


TRICKY = [
    THOUGHTFUL, SIMPLE, CONVOLUTED, "", "x", "I", "'", "''''", "a'b", "'tis the users' choice",
    "Café crème brûlée — très bien!", "ÉNORME APP", "Ünïcödé wörds ärë fïné", "日本語のレビュー です。",
    "Love it 😍😍😍 👍🏽 ❤️ 👨‍👩‍👧", "★★★★★ 5/5 $$$ +++ ===", "©2024 ™ ® ° ± £5 €10", "ｆｕｌｌｗｉｄｔｈ ｔｅｘｔ",
    "tab\tseparated\nlines\r\nand  spaces", "mp3 4k 1080p iOS15 v2.0.1", "can't won't shouldn't y'all",
    "good good good good good", "the the the the", "A. B. C. D.", "Wow!!!!!!! ??? ...",
    "combining e\u0301 and zero\u200bwidth", "Ωμέγα Кириллица עברית العربية", "\u00a0non-breaking\u00a0space",
]


@pytest.mark.parametrize("text", TRICKY)
def test_lexer_matches_reference_on_tricky_texts(text):
    got = one(text)
    want = reference(text)
    for key, value in want.items():
        if value is None:
            assert got[key] is None, (key, got[key])
        else:
            assert got[key] == pytest.approx(value, abs=1e-5), (key, got[key], value)


@pytest.mark.shared_data
@pytest.mark.skipif(not SHARED_DATA.exists(), reason="../shared/data is not beside the repository")
def test_lexer_matches_reference_on_real_reviews():
    texts = (pl.read_parquet(SHARED_DATA, columns=["content"]).drop_nulls()
             .sample(400, seed=7)["content"].to_list())
    out = score(texts)
    for i, text in enumerate(texts):
        want = reference(text)
        row = out.row(i, named=True)
        for key, value in want.items():
            if value is None:
                assert row[key] is None, (text, key)
            else:
                assert row[key] == pytest.approx(value, abs=1e-5), (text, key, row[key], value)


def test_lexer_matches_reference_on_random_unicode_texts():
    """Neighbouring rows must never leak into each other (apostrophes, words, sentence ends)."""
    alphabet = [*"abcdeyzABCEZ0123456789 '’.!?,-\n\t\"()#$+=~", "é", "Ü", "ß", "—", "…", "“", "😍", "👍", "🏽",
                "\u200d", "\ufe0f", "\u0301", "日", "Ω", "ж", "½", "²", "\u00a0", "\u2028", "©", "€", "\x07", "🇺", "𝓰", "\U000e0067"]
    rng = random.Random(20240917)
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(400)]
    out = score(texts, TextQualitySettings(batch_bytes=2048))
    for i, text in enumerate(texts):
        row = out.row(i, named=True)
        for key, value in reference(text).items():
            if value is None:
                assert row[key] is None, (text, key)
            else:
                assert row[key] == pytest.approx(value, abs=1e-5), (text, key, row[key], value)
