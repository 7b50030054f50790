"""Each quality check on hand-written cases: what it flags, what it leaves alone, and its repair."""

from datetime import UTC, datetime

import polars as pl
import pytest

from genai_lab.prep import assess_quality, clean_and_reject, normalise_reviews, parse_timestamps
from genai_lab.text.language import LanguageSettings
from genai_lab.text.rules import CHECK_BY_NAME, RuleSettings, mask_pii, repeated_words_mask

RULES = RuleSettings()
BASE = "The app works well and I like it"


def frame(contents, **columns):
    n = len(contents)
    data = {
        "review_id": [str(i) for i in range(n)], "dump_id": ["d"] * n, "source_id": [str(i) for i in range(n)],
        "app_id": ["app"] * n, "app_name": ["App"] * n, "category": ["Finance"] * n, "author": ["u"] * n,
        "rating": ["5"] * n, "title": [None] * n, "content": contents,
        "date": [f"2021-01-{i % 28 + 1:02d}T00:00:00Z" for i in range(n)], "vote_count": [None] * n, "vote_sum": [None] * n,
        "source_file": ["f.csv"] * n, "file_hash": ["h"] * n, "record_number": list(range(1, n + 1)), "parse_error": [None] * n,
    }
    data.update(columns)
    return pl.DataFrame(data, schema_overrides={"record_number": pl.Int64, "title": pl.String, "vote_count": pl.String,
                                                "vote_sum": pl.String, "parse_error": pl.String, "rating": pl.String, "date": pl.String})


def flags(contents, check, **columns):
    reviews = normalise_reviews(frame(contents, **columns))
    return assess_quality(reviews, RULES, LanguageSettings())[check].to_list()


@pytest.mark.parametrize(("check", "flagged", "clean"), [
    ("url", ["Visit https://example.com/x for more info", "see www.spam-site.net now please"], [BASE, "I paid $4.99 for v2.3.1 in 2023"]),
    ("email", ["Write to me at jane.doe@example.com please"], [BASE, "Email support never answers at all"]),
    ("phone", ["Call me at +1 415-555-0134 today", "Ring (415) 555 0134 anytime please", "Mein Telefon 030 12345678 ok"],
     [BASE, "Version 17.2.1 costs $12.99 since 2024", "I have 3 kids and 2 phones"]),
    ("html_entity", ["Tom &amp; Jerry is fun to watch", "I &lt;3 this app so much", "Don&#39;t buy this one"], [BASE, "Tom & Jerry is fun"]),
    ("control_chars", ["The app\x07 works well enough", "Bad\x00 app overall really"], [BASE, "Line one\nline two\tend"]),
    ("excess_whitespace", ["The app  works well enough", " leading space here now", "tab\there it is", "a\n\n\nb c d"],
     [BASE, "Para one here.\n\nPara two here."]),
    ("elongated_word", ["Sooooo good app really", "I loooove it a lot"], [BASE, "Visit www.example.com for more", "Good book keeper app"]),
    ("repeated_words", ["very very very good app", "love it love it so much", "best app ever best app ever"],
     [BASE, "bye bye old version of it", "I had had enough of this"]),
    ("emoji_only", ["😍😍😍", "👍 !!"], [BASE, "😍 love it so much", ""]),
    ("too_short", ["Good", "Nice app", "", "👍"], [BASE, "Works for me"]),
    ("spam", ["Free robux generator here works", "Follow me on Instagram for more", "Use my referral code ABC123 now"],
     [BASE, "Too much spam in my inbox lately", "You get 50 free gems a day only"]),
    ("excessive_special_chars", ["Great ★★★★★★★★★★★★★★ app ###!!!", "#### $$$$ %%%% app ^^^^"],
     [BASE, "Great app!!! Love it :) 10/10", "I ❤️ this app so much 😍😍"]),
    ("mojibake", ["I donâ€™t like this app much", "The cafÃ© menu is nice here"], [BASE, "Café menu is nice", "I don’t like it"]),
])
def test_text_check(check, flagged, clean):
    assert flags(flagged + clean, check) == [True] * len(flagged) + [False] * len(clean)


def test_non_english_reviews_are_flagged_whatever_their_script():
    texts = ["This app is really great and useful", "Esta aplicación es muy buena y útil", "Diese App ist wirklich sehr gut",
             "이 앱 정말 좋아요 최고입니다", "Это приложение очень хорошее", "😍😍😍"]
    assert flags(texts, "non_english") == [False, True, True, True, True, False]


def test_invalid_ratings_and_dates():
    texts = [BASE] * 7
    ratings = ["5", "0", "6", "five", None, "4.0", "3"]
    dates = ["2021-01-01T00:00:00Z", "2021-01-01", "not a date", "2005-01-01T00:00:00Z", "2099-01-01T00:00:00Z", None, "2021-03-04 05:06:07"]
    assert flags(texts, "invalid_rating", rating=ratings) == [False, True, True, True, True, False, False]
    assert flags(texts, "invalid_date", date=dates) == [False, False, True, True, True, False, False]


def test_invalid_category_but_missing_is_fine():
    texts = [BASE] * 4
    assert flags(texts, "invalid_category", category=["Finance", "Gamez", None, "Games"]) == [False, True, False, False]


def test_timestamps_from_several_formats_end_in_utc():
    parsed = parse_timestamps(pl.Series(["2021-01-02T03:04:05Z", "2021-01-02T12:04:05+09:00", "2021-01-02 03:04:05",
                                         "2021-01-02", "1609556645", "garbage", None])).to_list()
    assert parsed[0] == parsed[1] == parsed[2] == datetime(2021, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parsed[3] == datetime(2021, 1, 2, tzinfo=UTC)
    assert parsed[4] == datetime(2021, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parsed[5] is None and parsed[6] is None


def test_duplicates_keep_the_newest_copy():
    texts = ["Great budgeting app for me", "Great budgeting app for me", "great budgeting app, for me!!", "Another review here entirely"]
    dates = ["2021-01-01T00:00:00Z", "2021-06-01T00:00:00Z", "2021-03-01T00:00:00Z", "2021-01-01T00:00:00Z"]
    assert flags(texts, "exact_duplicate", date=dates) == [True, False, False, False]
    assert flags(texts, "near_duplicate", date=dates) == [False, False, True, False]
    # the same text for another app is not a duplicate
    assert flags(texts[:2], "exact_duplicate", app_id=["a", "b"]) == [False, False]


def test_repetition_mask_on_folded_texts_in_chunks():
    folded = pl.Series(["a a a", "a b a b", "a b c a b c", "a a b", "", None, "x y", "b b b"])
    expected = [True, True, True, False, False, False, False, True]
    assert repeated_words_mask(folded, RULES).to_list() == expected
    assert repeated_words_mask(folded, RULES, chunk_rows=3).to_list() == expected


def test_cleaning_repairs_text_and_accounts_for_every_row():
    texts = ["Sooooo  good, mail me at a.b@example.com &amp; call +1 415-555-0134",
             "very very very nice app overall", "Esta aplicación es muy buena y útil", "ok", "The app\x07 works fine for me"]
    reviews = normalise_reviews(frame(texts))
    quality = assess_quality(reviews, RULES, LanguageSettings())
    clean, rejected = clean_and_reject(reviews, quality, RULES)
    assert clean.height + rejected.height == len(texts)
    assert clean["content"].to_list() == ["Soo good, mail me at <EMAIL> & call <PHONE>", "very nice app overall", "The app works fine for me"]
    assert dict(zip(rejected["content"].to_list(), rejected["reject_rule"].to_list())) == {texts[2]: "non_english", "ok": "too_short"}
    assert set(clean["repairs"][0]) == {"elongated_word", "email", "phone", "html_entity", "excess_whitespace"}


def test_mask_pii_masks_spaced_and_bare_phone_numbers_and_handles_but_not_ordinary_numbers():
    texts = pl.Series(["call 555 123 4567 after 5pm", "call me 5551234567", "dm @johnsmith on twitter", "mail john.smith@example.com",
                       "version 2.3.1 crashes, 5 stars in 2019, paid $4.99", "see you @5pm"])
    assert mask_pii(texts).to_list() == ["call <PHONE> after 5pm", "call me <PHONE>", "dm <HANDLE> on twitter", "mail <EMAIL>",
                                         "version 2.3.1 crashes, 5 stars in 2019, paid $4.99", "see you @5pm"]


def test_every_dropping_check_has_a_description():
    assert all(check.description for check in CHECK_BY_NAME.values())


def test_crawler_placeholders_are_removed_and_do_not_hide_english():
    texts = ["（该条评论已经被删除）The app keeps crashing on my phone", BASE]
    reviews = normalise_reviews(frame(texts))
    quality = assess_quality(reviews, RULES, LanguageSettings())
    assert quality["crawler_placeholder"].to_list() == [True, False]
    assert quality["language"].to_list() == ["en", "en"]
    clean, _ = clean_and_reject(reviews, quality, RULES)
    assert clean["content"][0] == "The app keeps crashing on my phone"
