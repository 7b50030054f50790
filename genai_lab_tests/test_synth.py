"""The synthetic default data: realistic dumps, and a truth that is exactly right.

The defect checks here are independent pure-Python readings of the definitions in
`genai_lab.synth`'s docstring, so a drift between the generator and its own regexes shows up.
"""

from __future__ import annotations

import collections
import os
import re
import unicodedata
from datetime import datetime, timezone

import polars as pl
import pytest

from genai_lab import synth
from genai_lab.defects import DEFECTS

N = 20_000

APP_STORE_CATEGORIES = set(synth.CATEGORIES) | {
    "Games", "Shopping", "Music", "News", "Sports", "Travel", "Weather", "Navigation", "Kids",
    "Magazines & Newspapers", "Graphics & Design", "Developer Tools", "Stickers",
}


@pytest.fixture(scope="module")
def data() -> tuple[pl.DataFrame, pl.DataFrame]:
    return synth.generate(N, seed=0)


@pytest.fixture(scope="module")
def rows(data) -> list[dict]:
    dump, truth = data
    return dump.hstack(truth.drop("review_id")).to_dicts()


# --- reference readings of the definitions ----------------------------------------------------------

WORD = re.compile(r"[^\W_]+")


def words(s: str) -> list[str]:
    return WORD.findall(s)


def is_emoji(c: str) -> bool:
    return 0x1F000 <= ord(c) <= 0x1FAFF


def narrow_symbol(c: str) -> bool:
    return (unicodedata.category(c).startswith("S") or c in "#%&*_[]{}\\|~^") and not is_emoji(c)


def broad_symbol(c: str) -> bool:
    return not (c.isalnum() or c.isspace() or is_emoji(c) or c in ".,;:!?'\"()-")


def share(s: str, pred) -> float:
    chars = [c for c in s if not c.isspace()]
    return sum(map(pred, chars)) / len(chars) if chars else 0.0


def repeated_words(s: str) -> bool:
    t = [w.lower() for w in words(s)]
    for i in range(len(t)):
        if t[i:i + 3] == [t[i]] * 3 and i + 3 <= len(t):
            return True
        if any(i + 2 * k <= len(t) and t[i:i + k] == t[i + k:i + 2 * k] for k in (2, 3, 4)):
            return True
    return False


def phone(s: str) -> bool:
    return any(sum(ch.isdigit() for ch in m.group(0)) >= 9 for m in re.finditer(r"[+(]?\d[\d ().-]*\d", s))


URL_OR_EMAIL = re.compile(r"(?:https?://|www\.)\S+|\S+@\S+", re.IGNORECASE)

SPAM_MARKERS = ("free gems", "coins", "robux", "promo code", "referral code", "click here", "follow me", "my channel",
                "dm me", "telegram", "link in my bio", "giveaway", "gift card", "v-bucks", "$500", "$300", "crypto",
                "make money", "followers", "diamonds hack", "sign up at", "claim it at", "iphone 15 today")

TEXT_RULES = {
    "control_chars": lambda s: any((ord(c) < 32 and c not in "\t\n\r") or ord(c) == 127 for c in s),
    "excess_whitespace": lambda s: "  " in s or "\t" in s or s != s.strip() or "\n\n\n" in s,
    "elongated_word": lambda s: re.search(r"([^\W\d_])\1\1", URL_OR_EMAIL.sub(" ", s), re.IGNORECASE) is not None,
    "repeated_words": repeated_words,
    "html_entity": lambda s: re.search(r"&(?:[A-Za-z]+|#\d+|#[xX][0-9a-fA-F]+);", s) is not None,
    "emoji_only": lambda s: not any(c.isalnum() for c in s) and any(not c.isspace() for c in s),
    "too_short": lambda s: len(words(s)) < 3,
    "excessive_special_chars": lambda s: bool(words(s)) and share(s, narrow_symbol) > 0.25,
    # injected defects: these also prove the clean base text never looks like them
    "url": lambda s: re.search(r"https?://|\bwww\.", s, re.IGNORECASE) is not None,
    "email": lambda s: re.search(r"[\w.+-]+@[\w-]+\.\w+", s) is not None,
    "phone": phone,
    "mojibake": lambda s: re.search("â€|Ã[\u0080-\u00bf]|ðŸ", s) is not None,
    "spam": lambda s: any(m in s.lower() for m in SPAM_MARKERS),
}


def invalid_rating(r: str | None) -> bool:
    if r is None or not re.fullmatch(r"-?\d+", r):
        return True
    return not 1 <= int(r) <= 5


def invalid_date(d: str | None, now: datetime = synth.DEFAULT_NOW) -> bool:
    try:
        dt = datetime.strptime(d, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except (TypeError, ValueError):
        return True
    return dt < datetime(2008, 7, 10, tzinfo=timezone.utc) or dt > now


def dup_key(s: str) -> str:
    return "".join(c for c in s.lower() if c.isalnum())


# --- API, shape, determinism ------------------------------------------------------------------------


def test_public_constants():
    assert len(synth.CATEGORIES) == 14 and len(set(synth.CATEGORIES)) == 14
    assert {"Food & Drink", "Health & Fitness", "Photo & Video", "Social Networking"} <= set(synth.CATEGORIES)
    assert synth.ASPECTS == ("stability", "speed", "design", "usability", "features", "pricing", "ads", "login",
                             "sync", "notifications", "battery", "privacy", "support", "updates")
    assert synth.TRUTH_SUFFIX == ".truth.parquet"


def test_columns_dtypes_and_alignment(data):
    dump, truth = data
    assert dump.height == truth.height == N
    assert dump.schema == pl.Schema({
        "id": pl.String, "app_id": pl.String, "app_name": pl.String, "category": pl.String, "platform": pl.String,
        "author": pl.String, "rating": pl.String, "title": pl.String, "content": pl.String, "date": pl.String,
        "vote_count": pl.Int64, "vote_sum": pl.Int64})
    assert truth.schema == pl.Schema({
        "review_id": pl.String, "defects": pl.List(pl.String), "language": pl.String, "sentiment": pl.String,
        "aspects": pl.List(pl.Struct({"aspect": pl.String, "term": pl.String, "polarity": pl.String})),
        "review_type": pl.String})
    assert truth["review_id"].to_list() == dump["id"].to_list()
    assert dump["id"].n_unique() == N
    assert set(dump["platform"].unique()) == {"ios"}
    assert dump["content"].null_count() == 0 and (dump["content"].str.len_chars() > 0).all()
    assert (dump["vote_sum"] <= dump["vote_count"]).all() and (dump["vote_sum"] >= 0).all()
    assert set(truth["sentiment"].unique()) == {"negative", "neutral", "positive"}
    assert set(truth["review_type"].unique()) == {"bug_report", "feature_request", "user_experience", "rating"}
    assert set(truth["defects"].explode().drop_nulls().unique()) == set(DEFECTS)


def test_deterministic_for_a_seed():
    a, b, c = synth.generate(2_000, seed=1), synth.generate(2_000, seed=1), synth.generate(2_000, seed=2)
    assert a[0].equals(b[0]) and a[1].equals(b[1])
    assert not a[0].equals(c[0])
    assert a[0]["content"].to_list() != c[0]["content"].to_list()


@pytest.mark.parametrize("n", [0, 1, 7, 150])
def test_small_sizes(n):
    dump, truth = synth.generate(n, seed=4)
    assert dump.height == truth.height == n
    assert dump.schema == pl.Schema(synth.DUMP_SCHEMA) and truth.schema == pl.Schema(synth.TRUTH_SCHEMA)


def test_negative_rows_rejected():
    with pytest.raises(ValueError):
        synth.generate(-1)


# --- realism ------------------------------------------------------------------------------------------


def test_ratings_are_j_shaped_and_follow_sentiment(data):
    dump, truth = data
    df = dump.select("rating").hstack(truth.select("sentiment")).filter(pl.col("rating").is_in(list("12345")))
    share_ = {r: (df["rating"] == r).mean() for r in "12345"}
    assert share_["5"] > 0.4
    assert share_["5"] > share_["1"] > max(share_["2"], share_["3"])
    assert share_["4"] > share_["3"] and share_["4"] > share_["2"]
    mean = df.group_by("sentiment").agg(pl.col("rating").cast(pl.Int64).mean()).sort("sentiment")
    m = dict(zip(mean["sentiment"], mean["rating"]))
    assert m["positive"] > 4.3 and m["negative"] < 2.0 and m["negative"] < m["neutral"] < m["positive"]
    # correlated, not identical: some positive texts carry a low rating and vice versa
    assert df.filter((pl.col("sentiment") == "positive") & (pl.col("rating").cast(pl.Int64) <= 3)).height > 50
    assert df.filter((pl.col("sentiment") == "negative") & (pl.col("rating").cast(pl.Int64) >= 3)).height > 50


def test_categories_and_apps(data):
    dump, truth = data
    flagged = truth["defects"].list.contains("invalid_category")
    valid = dump.filter(~flagged & pl.col("category").is_not_null())
    assert set(valid["category"].unique()) == set(synth.CATEGORIES)
    assert 0.005 < dump["category"].null_count() / N < 0.02  # missing is not a defect
    apps = dump.filter(~flagged & pl.col("category").is_not_null()).group_by("category").agg(
        pl.col("app_id").n_unique().alias("apps"))
    assert apps["apps"].min() >= 8 and apps["apps"].max() <= 15
    sizes = dump.group_by("app_id").len()["len"]
    assert sizes.max() >= 4 * sizes.median()  # a few apps get many reviews
    assert dump.group_by("app_id").agg(pl.col("app_name").n_unique())["app_name"].max() == 1


def test_dates_span_years_with_growth(data):
    dump, truth = data
    ok = dump.filter(~truth["defects"].list.contains("invalid_date"))
    years = ok["date"].str.slice(0, 4).cast(pl.Int64)
    assert years.min() == 2017 and years.max() == 2025
    counts = years.value_counts().sort("date")
    per_year = dict(zip(counts["date"], counts["count"]))
    assert per_year[2024] > 2 * per_year[2018]
    assert ok["date"].str.contains(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$").all()
    assert (ok["date"].str.to_datetime("%Y-%m-%dT%H:%M:%SZ", strict=True) < datetime(2026, 1, 1)).all()


def test_votes_titles_and_authors(data):
    dump, _ = data
    assert 0.6 < (dump["vote_count"] == 0).mean() < 0.9
    assert dump["vote_count"].max() > 100  # long tail
    assert 0.2 < dump["title"].null_count() / N < 0.45
    assert dump["title"].drop_nulls().str.len_chars().max() < 40
    assert dump["author"].n_unique() > 0.75 * N


def test_now_bounds_the_valid_dates():
    now = datetime(2020, 6, 1, tzinfo=timezone.utc)
    dump, truth = synth.generate(3_000, seed=3, now=now)
    flagged = truth["defects"].list.contains("invalid_date").to_list()
    future = 0
    for d, bad in zip(dump["date"].to_list(), flagged):
        assert invalid_date(d, now) == bad
        if bad and not invalid_date(d, datetime(2100, 1, 1, tzinfo=timezone.utc)):  # parseable and not too old
            assert d >= "2022-06-01"  # future dates are far in the future
            future += 1
    assert future > 5


# --- the truth is exactly right --------------------------------------------------------------------


def test_every_defect_at_a_measurable_rate(data):
    _, truth = data
    counts = collections.Counter(truth["defects"].explode().drop_nulls().to_list())
    for d in DEFECTS:
        assert 150 <= counts[d] <= 0.06 * N, (d, counts[d])
    assert 0.15 < (truth["defects"].list.len() == 0).mean() < 0.9


def test_text_defects_match_the_definitions(rows):
    mismatches = collections.defaultdict(list)
    for r in rows:
        got = set(r["defects"])
        for name, rule in TEXT_RULES.items():
            if rule(r["content"]) != (name in got):
                mismatches[name].append(r["content"])
    assert not mismatches, {k: v[:3] for k, v in mismatches.items()}


def test_field_defects_match_the_definitions(rows):
    for r in rows:
        got = set(r["defects"])
        assert invalid_rating(r["rating"]) == ("invalid_rating" in got), r["rating"]
        assert invalid_date(r["date"]) == ("invalid_date" in got), r["date"]
        bad_cat = r["category"] is not None and r["category"] not in APP_STORE_CATEGORIES
        assert bad_cat == ("invalid_category" in got), r["category"]


def test_duplicates_are_what_the_truth_says(rows):
    groups = collections.defaultdict(list)
    for i, r in enumerate(rows):
        if dup_key(r["content"]):
            groups[(r["app_id"], dup_key(r["content"]))].append(i)
    flagged = {i for i, r in enumerate(rows) if {"exact_duplicate", "near_duplicate"} & set(r["defects"])}
    pairs = [g for g in groups.values() if len(g) > 1]
    assert all(len(g) == 2 for g in pairs)  # the only duplicates are the injected pairs
    assert flagged == {g[0] for g in pairs}  # the older (earlier, by date) of each pair carries the flag
    kinds = collections.Counter()
    for old, new in pairs:
        a, b = rows[old], rows[new]
        assert a["date"] < b["date"] and not invalid_date(a["date"]) and not invalid_date(b["date"])
        assert a["author"] != b["author"] and a["id"] != b["id"]
        exact = a["content"] == b["content"]
        assert ("exact_duplicate" in a["defects"]) == exact and ("near_duplicate" in a["defects"]) != exact
        assert not {"exact_duplicate", "near_duplicate"} & set(b["defects"])
        kinds["exact" if exact else "near"] += 1
    assert kinds["exact"] >= 150 and kinds["near"] >= 150


def test_non_english_rows(rows):
    langs = collections.Counter(r["language"] for r in rows)
    assert {"es", "de", "fr", "pt", "it", "nl", "ko", "ja", "zh", "ru", "ar"} <= set(langs)
    assert langs["en"] > 0.9 * N
    short = 0
    allowed = {"non_english", "too_short", "exact_duplicate", "near_duplicate", "invalid_rating", "invalid_date",
               "invalid_category"}
    for r in rows:
        foreign = r["language"] not in ("en", None)
        assert ("non_english" in r["defects"]) == foreign
        if foreign:
            assert set(r["defects"]) <= allowed, r
            assert r["aspects"] == []
            short += len(words(r["content"])) <= 6
        if r["language"] is None:
            assert "emoji_only" in r["defects"]
    assert short > 100  # short texts are the hard case for language id


def test_symbol_share_is_far_from_the_threshold(rows):
    for r in rows:
        if not words(r["content"]):
            continue
        if "excessive_special_chars" in r["defects"]:
            assert share(r["content"], narrow_symbol) > 0.35
        else:
            assert share(r["content"], broad_symbol) < 0.2, r["content"]


def test_aspects_are_grounded_in_the_text(rows):
    with_aspects = 0
    mixed = 0
    seen = set()
    for r in rows:
        for a in r["aspects"]:
            assert a["aspect"] in synth.ASPECTS and a["polarity"] in ("negative", "neutral", "positive")
            assert a["term"] and a["term"] in r["content"], (a, r["content"])
            seen.add(a["aspect"])
        with_aspects += bool(r["aspects"])
        mixed += {"positive", "negative"} <= {a["polarity"] for a in r["aspects"]}
    assert seen == set(synth.ASPECTS)
    assert with_aspects > 0.5 * N and mixed > 300


def test_review_types_sentiment_and_phenomena(rows):
    clean = [r for r in rows if not r["defects"] and r["language"] == "en"]
    by_type = collections.defaultdict(list)
    for r in clean:
        by_type[r["review_type"]].append(r["content"].lower())

    def frac(t: str, pattern: str) -> float:
        return sum(bool(re.search(pattern, c)) for c in by_type[t]) / len(by_type[t])

    assert frac("feature_request", r"please add|would be (nice|great)|i wish|would love|why can't i|missing is|any chance|still waiting|"
                r"please let us|hoping for|should be a way|would make this app perfect") > 0.9
    assert frac("bug_report", r"crash|freez|log|sign in|password|sync|load|lag|sluggish|error|stuck|unresponsive|blank|"
                r"shuts|battery|overheat|closes|notification|export|upload|progress|bug") > 0.95
    assert frac("rating", r"stars|best|worst|recommend|average|waste") > 0.5
    assert 0.1 < len(by_type["bug_report"]) / len(clean) < 0.3
    # negation, contrast and sarcasm with the polarity the truth gives them
    negated_positive = sum(1 for r in clean if re.search(r"\b(isn't|aren't|never)\b", r["content"])
                           and any(a["polarity"] == "positive" for a in r["aspects"]))
    contrast = sum(1 for r in clean if re.search(r"\b(but|although|even if|shame about)\b", r["content"]))
    sarcasm = sum(1 for r in clean if re.search(r"^(oh great|wonderful|fantastic|just what i wanted|brilliant idea)",
                                                r["content"].lower()) and r["sentiment"] == "negative")
    assert negated_positive > 100 and contrast > 500 and sarcasm > 30


def test_clean_text_is_varied_and_well_formed(rows):
    clean = [r["content"] for r in rows if not r["defects"] and r["language"] == "en"]
    assert len(clean) > 0.6 * N
    assert len(set(clean)) > 0.97 * len(clean)
    grams = set()
    for c in clean:
        w = [x.lower() for x in words(c)]
        grams.update(tuple(w[i:i + 5]) for i in range(len(w) - 4))
    assert len(grams) > 50_000
    assert min(len(words(c)) for c in clean) >= 4
    assert all(c == c.strip() and "  " not in c and c.isascii() or not c.isascii() for c in clean)
    # not even a single word twice in a row, so stricter repeat detectors agree as well
    doubled = [c for c in clean if any(a == b for a, b in zip(*(lambda w: (w, w[1:]))([x.lower() for x in words(c)])))]
    assert len(doubled) <= len(clean) // 2000, doubled[:5]
    # prices, versions and years appear in clean text without looking like phone numbers
    assert sum("$" in c for c in clean) > 20 and sum(bool(re.search(r"\d+\.\d+", c)) for c in clean) > 50


# --- write_dump ---------------------------------------------------------------------------------------


def _read(path, fmt):
    if fmt == "csv":
        return pl.read_csv(path, schema=synth.DUMP_SCHEMA)
    if fmt == "jsonl":
        return pl.read_ndjson(path, schema=synth.DUMP_SCHEMA)
    if fmt == "json":
        return pl.read_json(path, schema=synth.DUMP_SCHEMA)
    return pl.read_parquet(path)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "json", "parquet"])
def test_write_dump_round_trips(tmp_path, fmt):
    out = tmp_path / "nested" / f"reviews.{fmt}"
    dump_path, truth_path = synth.write_dump(out, rows=1_500, seed=9)
    assert dump_path == out and truth_path == tmp_path / "nested" / "reviews.truth.parquet"
    dump, truth = synth.generate(1_500, seed=9)
    assert _read(dump_path, fmt).equals(dump)
    assert pl.read_parquet(truth_path).equals(truth)
    assert sorted(os.listdir(out.parent)) == sorted([out.name, truth_path.name])  # no temp files left
    if fmt == "json":
        assert dump_path.read_text(encoding="utf-8").lstrip().startswith("[{")


def test_write_dump_format_override_and_errors(tmp_path):
    dump_path, truth_path = synth.write_dump(tmp_path / "reviews.data", rows=50, seed=1, fmt="jsonl")
    assert pl.read_ndjson(dump_path, schema=synth.DUMP_SCHEMA).height == 50
    assert truth_path.name == "reviews.truth.parquet"
    with pytest.raises(ValueError, match="suffix"):
        synth.write_dump(tmp_path / "reviews.txt", rows=10)
    with pytest.raises(ValueError, match="format"):
        synth.write_dump(tmp_path / "reviews.csv", rows=10, fmt="xml")
    assert not (tmp_path / "reviews.txt").exists() and not (tmp_path / "reviews.csv").exists()


# --- the word material (genai_lab/synth/data) ---------------------------------------------------------


def test_word_material_is_consistent():
    from genai_lab.synth.resources import load_json
    from genai_lab.synth.templates import FAMILIES, Engine
    from genai_lab.vocabulary import REVIEW_TYPES, SENTIMENT_LABELS

    Engine()  # parses every template (an unknown slot raises) and fills every bank group (an empty one raises)
    for name in ("app_names.json", "category_features.json"):
        assert set(load_json(name)) == set(synth.CATEGORIES), name
    for slot, by_category in load_json("category_slot_words.json").items():
        assert set(by_category) == set(synth.CATEGORIES), slot
    for name in ("aspect_terms.json", "adjectives.json"):
        assert set(load_json(name)) == set(synth.ASPECTS), name
    for weights in load_json("aspect_weights.json").values():
        assert set(weights) == set(synth.ASPECTS)
    for family, by_aspect in load_json("aspect_templates.json").items():
        assert family in FAMILIES and set(by_aspect) <= set(synth.ASPECTS)
    layouts = load_json("layouts.json")
    assert {(x["sentiment"], x["review_type"]) for x in layouts} <= {(s, t) for s in SENTIMENT_LABELS for t in REVIEW_TYPES}
    assert {f for x in layouts for options in x["positions"].values() for f in options} <= set(FAMILIES)
    assert set(load_json("emoji.json")) == set(SENTIMENT_LABELS)
    for phrases in load_json("foreign.json")["phrases"].values():
        assert set(phrases) == set(SENTIMENT_LABELS)
        assert {t for lst in phrases.values() for _, t in lst} <= set(REVIEW_TYPES)
