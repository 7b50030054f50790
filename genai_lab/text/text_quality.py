"""Per-review text-quality features and a 0..1 text-quality score, computed over whole columns.

`text_quality(df)` takes a frame with `review_id` and a clean English text column (default
`content`) and returns one row per input row, in input order:

    review_id, char_count, word_count, sentence_count, mean_word_length, lexical_diversity,
    dictionary_word_share, stopword_share, punctuation_share, special_char_share,
    uppercase_share, flesch_reading_ease, readability, repetition,
    text_quality_score (Float32, 0..1), fit_for_training (Boolean), unfit_reason (String or null)

Definitions
-----------
Characters are classified by Unicode general category of their code point: letters (L*; upper
case = Lu/Lt), digits (N*), punctuation (P*), special characters (S* symbols -- emoji, ★, $, +,
=, ^, |, ~ ... -- plus controls, private-use and unassigned code points), space (Z* and
whitespace) and ignored (combining marks M*, format characters Cf such as the zero-width joiner,
emoji variation selectors and tags, and the emoji skin-tone modifiers). "Non-space characters"
are letters + digits + punctuation + special characters.

A *word* is a maximal run of letters and digits; an apostrophe (' or the typographic ’) between
two such characters joins them ("don't" is one word, "wi-fi" is two). Words are lowercased
(ASCII letters) for the lexical features. A word that contains a digit is a *number word*.

Features (raw values) and how each maps to a 0..1 sub-score
-----------------------------------------------------------
Sub-scores are piecewise-linear in the raw value through the knots ``(x, y)`` listed here (flat
beyond the first and last knot); the defaults live in `DEFAULT_SUBSCORE_KNOTS` and can be
overridden through `TextQualitySettings.subscore_knots`.

==================== =========================================== ============================== ======
feature              raw value                                   sub-score knots (x -> y)       weight
==================== =========================================== ============================== ======
word_count           number of words                             0->0, 1->.15, 3->.45, 6->.8,    0.15
                     (short texts and very long rambles lose)    10->1, 300->1, 800->.6
mean_word_length     (letters + digits) / words                  1->0, 2.5->.5, 3.2->1, 7->1,    0.06
                                                                 10->.3, 15->0
lexical_diversity    Herdan's C = ln(types) / ln(tokens) over    .55->0, .85->1                  0.12
                     the first `diversity_window_words` (100)
                     words; 1.0 for a one-word text. Length-
                     corrected (plain type/token ratio falls
                     with length; the log ratio barely does and
                     the window caps what is left).
dictionary_word_share share of non-number words found in the     .3->0, .9->1                    0.25
                     `vocabulary_size` (80,000) most frequent
                     English words of `wordfreq`; 0.0 when the
                     text has only number words
stopword_share       share of words in `STOPWORDS` (183 function  0->.4, .12->1, .7->1, 1->.3     0.07
                     words); keyword salad has none, natural
                     prose 25-60 %
punctuation_share    punctuation / non-space characters          .08->1, .3->0                   0.06
special_char_share   special characters / non-space characters   .02->1, .25->0                  0.06
uppercase_share      upper-case letters / letters                .35->1, .95->.3                 0.05
flesch_reading_ease  206.835 - 1.015 words/sentences - 84.6      (not scored itself; see
                     syllables/words (unclipped)                 readability)
readability          Flesch reading ease clipped to 0..100,      0->.3, .3->.7, .5->1            0.08
                     divided by 100
repetition           share of word bigrams that repeat an        .1->1, .5->0                    0.10
                     earlier bigram of the same text ("good
                     good good good": 2 of 3); 0.0 under 2 words
char_count           characters in the text (informational, not scored; length is scored by word_count)
sentence_count       sentences (informational, feeds flesch_reading_ease)
==================== =========================================== ============================== ======

Syllables are estimated per word, vectorised: the number of vowel groups (a, e, i, o, u, y),
minus one for a silent final "e" after vowel + consonant ("make", "whole"; not "table") and for
an "-ed" ending after a consonant other than t/d ("loved"; not "wanted"), at least one per word.
Sentences are counted by their ends: a word followed directly by ``.``, ``!`` or ``?`` (itself
followed by a space, a closing quote/bracket, more terminal punctuation or the end of the text)
or by a line break, and the last word of the text. Against textstat 0.7.13's Flesch reading
ease (CMU dictionary, pyphen for unknown words) on three seeded samples of 200 real English App
Store reviews (3+ words, 90 % dictionary words): Pearson r 0.88 / 0.95 / 0.94, Spearman 0.92 /
0.93 / 0.92, means 74.3 vs 74.7; word counts agree at r 0.999 and syllable totals within 1.5 %. (textstat itself downloads nltk's cmudict on first use,
so it cannot run offline; this module needs no data beyond wordfreq's bundled word list.)

Score
-----
``text_quality_score`` is the weighted geometric mean of the sub-scores,
``exp(sum_i w_i * ln(max(s_i, subscore_floor)))``: a text that fails badly on one heavy feature
(gibberish: no dictionary words) cannot buy it back with perfect punctuation, as it could with a
weighted arithmetic mean. Weights sum to 1, so a text with every sub-score 1 scores 1. A feature
that is undefined for a text (upper-case share of a text without letters) counts as sub-score 1.
Texts with no words score 0.

``fit_for_training`` = score >= `min_score_for_training` and word_count >=
`min_words_for_training`. ``unfit_reason`` is null for fit rows, otherwise the first that applies
of ``empty`` (null or blank text), ``no_words`` (characters but no word), ``too_few_words``, and
``low_score:<feature>`` naming the feature that cost the most (largest ``-w_i ln s_i``).

Implementation
--------------
Polars regex functions cost ~40 ns per match, and the counts above need about ten passes with a
match per character or word: those passes alone took ~1.5 s per 86,000 reviews (under 60,000
reviews/s on one core). So the character level runs as numpy array operations over the UTF-8
bytes of the Arrow string column: a class lookup table per byte (code points decoded only for the
few non-ASCII lead bytes, classified once per distinct code point), word boundaries from shifted
masks, per-review and per-word sums with ``np.add.reduceat`` over the offsets. The words become
one flat polars string column (the word bytes filtered out of the text buffer, no Python loop),
hashed once; vocabulary and stopword membership is ``is_in`` on the hashes (64-bit, so a false
match is ~1e-14 per word), and per-review distinct counts for diversity and repetition are
``list.n_unique`` over the hashes. Rows are processed in batches of about `batch_bytes` bytes of
text (1 MiB keeps the working arrays in cache). No per-row Python code runs.

Measured on the 86,322 roughly-English rows of the real App Store reviews (mean 200 characters),
one polars thread: ~130,000 reviews/s (120,000-140,000 over runs), peak memory ~70 MB above the
input frame.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType

import numpy as np
import polars as pl
import pyarrow as pa
from pydantic import Field, model_validator

from genai_lab.config import StrictConfig
from genai_lab.datafiles import read_list

__all__ = [
    "DEFAULT_SUBSCORE_KNOTS",
    "DEFAULT_WEIGHTS",
    "FEATURE_COLUMNS",
    "SCORED_FEATURES",
    "STOPWORDS",
    "TextQualitySettings",
    "english_vocabulary",
    "subscores",
    "text_quality",
]

#: Feature -> weight in the geometric mean. Sums to 1.
DEFAULT_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "dictionary_word_share": 0.25,
        "word_count": 0.15,
        "lexical_diversity": 0.12,
        "repetition": 0.10,
        "readability": 0.08,
        "stopword_share": 0.07,
        "mean_word_length": 0.06,
        "punctuation_share": 0.06,
        "special_char_share": 0.06,
        "uppercase_share": 0.05,
    }
)

#: Feature -> piecewise-linear knots ((x, sub-score), ...), x increasing; flat outside.
DEFAULT_SUBSCORE_KNOTS: Mapping[str, tuple[tuple[float, float], ...]] = MappingProxyType(
    {
        "word_count": ((0, 0.0), (1, 0.15), (3, 0.45), (6, 0.8), (10, 1.0), (300, 1.0), (800, 0.6)),
        "mean_word_length": ((1.0, 0.0), (2.5, 0.5), (3.2, 1.0), (7.0, 1.0), (10.0, 0.3), (15.0, 0.0)),
        "lexical_diversity": ((0.55, 0.0), (0.85, 1.0)),
        "dictionary_word_share": ((0.3, 0.0), (0.9, 1.0)),
        "stopword_share": ((0.0, 0.4), (0.12, 1.0), (0.7, 1.0), (1.0, 0.3)),
        "punctuation_share": ((0.08, 1.0), (0.3, 0.0)),
        "special_char_share": ((0.02, 1.0), (0.25, 0.0)),
        "uppercase_share": ((0.35, 1.0), (0.95, 0.3)),
        "readability": ((0.0, 0.3), (0.3, 0.7), (0.5, 1.0)),
        "repetition": ((0.1, 1.0), (0.5, 0.0)),
    }
)

SCORED_FEATURES: tuple[str, ...] = tuple(DEFAULT_SUBSCORE_KNOTS)

#: Output feature columns, in order (between review_id and the score).
FEATURE_COLUMNS: tuple[str, ...] = (
    "char_count",
    "word_count",
    "sentence_count",
    "mean_word_length",
    "lexical_diversity",
    "dictionary_word_share",
    "stopword_share",
    "punctuation_share",
    "special_char_share",
    "uppercase_share",
    "flesch_reading_ease",
    "readability",
    "repetition",
)

#: English function words (lowercase, straight apostrophes) for `stopword_share`
STOPWORDS: frozenset[str] = frozenset(read_list(__package__, "text_quality/stopwords.txt"))

_MAX_ANALYSED_CHARS_LIMIT = 1_000_000  # keeps every per-text byte count far inside int32


def _validate_knots(name: str, knots: tuple[tuple[float, float], ...]) -> None:
    if len(knots) < 2:
        raise ValueError(f"subscore_knots[{name!r}] needs at least two (x, y) knots, got {knots!r}")
    xs = [float(k[0]) for k in knots]
    ys = [float(k[1]) for k in knots]
    if any(b <= a for a, b in zip(xs, xs[1:], strict=False)):
        raise ValueError(f"subscore_knots[{name!r}]: x must increase strictly, got {xs}")
    if any(not 0.0 <= y <= 1.0 for y in ys):
        raise ValueError(f"subscore_knots[{name!r}]: sub-scores must lie in 0..1, got {ys}")


class TextQualitySettings(StrictConfig):
    """Settings of `text_quality`; every field is validated on construction.

    weights: feature -> weight in the geometric mean of sub-scores; keys from `SCORED_FEATURES`
        (a feature left out has weight 0), weights >= 0 summing to 1 (+-1e-6).
    subscore_knots: feature -> piecewise-linear knots ((x, sub-score), ...); overrides the
        defaults in `DEFAULT_SUBSCORE_KNOTS` feature by feature.
    min_score_for_training: rows scoring below are unfit for training.
    min_words_for_training: rows with fewer words are unfit for training.
    subscore_floor: sub-scores are raised to at least this before the geometric mean, so one
        zero sub-score lowers the score (by a factor floor**weight) instead of zeroing it.
    vocabulary_size: how many of wordfreq's most frequent English words count as dictionary words.
    diversity_window_words: lexical diversity looks at the first this-many words of a text.
    max_analysed_chars: features are computed on the first this-many characters (char_count
        reports the full length), bounding the work a pathological text costs; at most 1,000,000.
        App Store reviews stop near 6,000 characters.
    batch_bytes: rows are processed in batches of about this many UTF-8 bytes of text (working
        memory: a few tens of bytes per text byte of one batch).
    """

    weights: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    subscore_knots: dict[str, list[list[float]]] = Field(default_factory=dict)
    min_score_for_training: float = 0.5
    min_words_for_training: int = 3
    subscore_floor: float = 0.02
    vocabulary_size: int = 80_000
    diversity_window_words: int = 100
    max_analysed_chars: int = 10_000
    batch_bytes: int = 1 << 20

    @model_validator(mode="after")
    def _validate(self) -> TextQualitySettings:
        unknown = sorted(set(self.weights) - set(SCORED_FEATURES))
        if unknown:
            raise ValueError(f"unknown text-quality weight(s) {unknown}; known: {list(SCORED_FEATURES)}")
        if any(not (isinstance(w, int | float) and w >= 0 and math.isfinite(w)) for w in self.weights.values()):
            raise ValueError(f"text-quality weights must be finite numbers >= 0, got {dict(self.weights)}")
        total = float(sum(self.weights.values()))
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"text-quality weights must sum to 1, they sum to {total:.6f}")
        unknown = sorted(set(self.subscore_knots) - set(SCORED_FEATURES))
        if unknown:
            raise ValueError(f"unknown feature(s) in subscore_knots {unknown}; known: {list(SCORED_FEATURES)}")
        for name, knots in self.knots().items():
            _validate_knots(name, knots)
        if not 0.0 <= self.min_score_for_training <= 1.0:
            raise ValueError(f"min_score_for_training must lie in 0..1, got {self.min_score_for_training}")
        if self.min_words_for_training < 0:
            raise ValueError(f"min_words_for_training must be >= 0, got {self.min_words_for_training}")
        if not 0.0 < self.subscore_floor <= 1.0:
            raise ValueError(f"subscore_floor must lie in (0, 1], got {self.subscore_floor}")
        if self.vocabulary_size < 1:
            raise ValueError(f"vocabulary_size must be >= 1, got {self.vocabulary_size}")
        if self.diversity_window_words < 2:
            raise ValueError(f"diversity_window_words must be >= 2, got {self.diversity_window_words}")
        if not 1 <= self.max_analysed_chars <= _MAX_ANALYSED_CHARS_LIMIT:
            raise ValueError(
                f"max_analysed_chars must lie in 1..{_MAX_ANALYSED_CHARS_LIMIT}, got {self.max_analysed_chars}"
            )
        if self.batch_bytes < 1024:
            raise ValueError(f"batch_bytes must be >= 1024, got {self.batch_bytes}")
        return self

    def knots(self) -> dict[str, tuple[tuple[float, float], ...]]:
        """The effective knots: defaults overridden by `subscore_knots`."""
        return {**DEFAULT_SUBSCORE_KNOTS, **{k: tuple(tuple(p) for p in v) for k, v in self.subscore_knots.items()}}


# --------------------------------------------------------------------------------------------
# vocabulary


_HASH_SEED = 0x7E57_C0DE  # polars hashes are stable within a process, which is all we need


@lru_cache(maxsize=4)
def english_vocabulary(size: int = 80_000) -> pl.Series:
    """The `size` most frequent English words of wordfreq (lowercase), as a polars Series."""
    import wordfreq

    return pl.Series("word", wordfreq.top_n_list("en", size), dtype=pl.String)


@lru_cache(maxsize=8)
def _word_hashes(kind: str, size: int = 0) -> pl.Series:
    """64-bit hashes of the vocabulary (kind "vocabulary") or of `STOPWORDS` (kind "stopwords")."""
    words = english_vocabulary(size) if kind == "vocabulary" else pl.Series("word", sorted(STOPWORDS))
    return words.hash(seed=_HASH_SEED).unique()


# --------------------------------------------------------------------------------------------
# character classes

_IGNORE, _SPACE, _UPPER, _LOWER, _DIGIT, _PUNCT, _SYMBOL = range(7)


def _category_class(ch: str) -> int:
    if ch.isspace():
        return _SPACE
    cat = unicodedata.category(ch)
    major = cat[0]
    if cat in ("Lu", "Lt"):
        return _UPPER
    if major == "L":
        return _LOWER
    if major == "N":
        return _DIGIT
    if major == "P":
        return _PUNCT
    if major == "Z":
        return _SPACE
    if major == "M" or cat == "Cf":
        return _IGNORE
    return _SYMBOL  # S*, Cc, Co, Cn, Cs


@lru_cache(maxsize=1)
def _bmp_classes() -> np.ndarray:
    """Class of every code point U+0000..U+FFFF (uint8)."""
    return np.fromiter((_category_class(chr(cp)) for cp in range(0x10000)), dtype=np.uint8, count=0x10000)


@lru_cache(maxsize=8192)
def _astral_class(cp: int) -> int:
    """Class of a code point above U+FFFF (looked up once per distinct code point)."""
    if 0x1F3FB <= cp <= 0x1F3FF:  # skin-tone modifiers belong to the emoji before them
        return _IGNORE
    return _category_class(chr(cp))


def _byte_set(chars: str) -> np.ndarray:
    out = np.zeros(256, bool)
    out[[ord(c) for c in chars]] = True
    return out


@lru_cache(maxsize=1)
def _tables() -> dict[str, np.ndarray]:
    byte_class = np.zeros(256, np.uint8)
    byte_class[:128] = _bmp_classes()[:128]  # continuation and lead bytes stay _IGNORE until decoded
    return {
        "byte_class": byte_class,
        "vowel": _byte_set("aeiouy"),
        "consonant": _byte_set("bcdfghjklmnpqrstvwxz"),
        "terminal": _byte_set(".!?"),
        "after_terminal": _byte_set(".!?\"')]} \t\n\r\x0b\x0c"),
        "newline": _byte_set("\n\r"),
        # case-insensitive sets for the silent-ending patterns, read from the original text
        "vowel_ci": _byte_set("aeiouyAEIOUY"),
        "consonant_ci": _byte_set("bcdfghjklmnpqrstvwxzBCDFGHJKLMNPQRSTVWXZ"),
        "consonant_not_td_ci": _byte_set("bcfghjklmnpqrsvwxzBCFGHJKLMNPQRSVWXZ"),
        "e_ci": _byte_set("eE"),
        "d_ci": _byte_set("dD"),
    }


def _segment_sum(values: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Sums of consecutive segments of `values`: segment i starts at `starts[i]` (non-decreasing,
    segments contiguous and covering `values`) and holds `counts[i]` elements; empty ones sum to 0."""
    if values.dtype == bool:
        values = values.view(np.uint8)
    dtype = np.int32 if values.dtype == np.uint8 else np.int64  # segments here hold < 2**31 items
    out = np.zeros(len(starts), dtype=dtype)
    inside = starts < values.size  # only trailing empty segments start at the end
    if inside.any():
        out[inside] = np.add.reduceat(values, starts[inside], dtype=dtype)
    out[counts == 0] = 0
    return out.astype(np.int64, copy=False)


# --------------------------------------------------------------------------------------------
# the lexer: one batch of rows


def _arrow_buffers(texts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 bytes and row offsets (n + 1, starting at 0) of a null-free string Series."""
    arr = texts.rechunk().to_arrow(compat_level=pl.CompatLevel.oldest())
    if isinstance(arr, pa.ChunkedArray):  # pragma: no cover - rechunk gives one chunk
        arr = arr.combine_chunks()
    if arr.type != pa.large_string():  # pragma: no cover - the oldest compat level is large_string
        arr = arr.cast(pa.large_string())
    _, off_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(off_buf, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    if data_buf is None or offsets[-1] == offsets[0]:
        return np.zeros(0, np.uint8), np.zeros(len(arr) + 1, np.int64)
    data = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0] : offsets[-1]]
    return data, offsets - offsets[0]


def _decode_classes(data: np.ndarray, t: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-byte character class (continuation bytes _IGNORE) and the word-byte mask."""
    cls = np.take(t["byte_class"], data)
    leads = np.flatnonzero(data >= 0xC0)
    word_continuations: list[np.ndarray] = []
    if leads.size:  # decode the (few) non-ASCII code points and classify them
        n = data.size
        b0 = data[leads].astype(np.int64)
        nbytes = np.where(b0 < 0xE0, 2, np.where(b0 < 0xF0, 3, 4))
        c1, c2, c3 = (data[np.minimum(leads + k, n - 1)].astype(np.int64) & 0x3F for k in (1, 2, 3))
        cp = np.where(
            nbytes == 2,
            ((b0 & 0x1F) << 6) | c1,
            np.where(
                nbytes == 3,
                ((b0 & 0x0F) << 12) | (c1 << 6) | c2,
                ((b0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3,
            ),
        )
        lead_cls = np.empty(leads.size, np.uint8)
        bmp = cp < 0x10000
        lead_cls[bmp] = _bmp_classes()[cp[bmp]]
        if not bmp.all():
            uniq, inv = np.unique(cp[~bmp], return_inverse=True)
            lead_cls[~bmp] = np.array([_astral_class(int(u)) for u in uniq], np.uint8)[inv]
        cls[leads] = lead_cls
        wordy = (lead_cls >= _UPPER) & (lead_cls <= _DIGIT)
        for k in (1, 2, 3):
            word_continuations.append(leads[wordy & (nbytes > k)] + k)
    word = (cls >= _UPPER) & (cls <= _DIGIT)
    for pos in word_continuations:  # continuation bytes of letters and digits belong to the word
        word[pos] = True
    return cls, word


def _join_apostrophes(data: np.ndarray, word: np.ndarray, offsets: np.ndarray) -> None:
    """Mark an apostrophe between two word characters of the same text as a word byte ("don't")."""
    apos = np.flatnonzero(data == ord("'"))
    if not apos.size:
        return
    row_edge = np.zeros(data.size, bool)
    nonempty = offsets[1:] > offsets[:-1]
    row_edge[offsets[:-1][nonempty]] = True
    row_edge[offsets[1:][nonempty] - 1] = True
    inner = apos[~row_edge[apos]]  # never at a text's first or last byte, so both neighbours exist
    word[inner[word[inner - 1] & word[inner + 1]]] = True


@dataclass(frozen=True)
class _Words:
    """The words of a batch: byte spans in its text buffer, and per row where its words begin."""

    start: np.ndarray  # first byte of each word
    end: np.ndarray  # one past its last byte
    per_row: np.ndarray  # words per row
    row_first: np.ndarray  # index of each row's first word
    last: np.ndarray  # index of the last word of each row that has words

    def row_sum(self, per_word: np.ndarray) -> np.ndarray:
        return _segment_sum(per_word, self.row_first, self.per_row)


def _lex_batch(texts: pl.Series, settings: TextQualitySettings) -> dict[str, np.ndarray]:
    """Raw per-row counts for one batch of null-free texts."""
    t = _tables()
    data, offsets = _arrow_buffers(texts)
    row_starts, row_bytes = offsets[:-1], offsets[1:] - offsets[:-1]
    cls, word = _decode_classes(data, t)
    _join_apostrophes(data, word, offsets)
    count = {c: _segment_sum(cls == c, row_starts, row_bytes) for c in (_UPPER, _LOWER, _DIGIT, _PUNCT, _SYMBOL)}
    words = _find_words(word, offsets)
    low, tok_off = _lowercase_words(data, word, words)
    h = pl.Series("w", pa.LargeStringArray.from_buffers(words.start.size, pa.py_buffer(tok_off), pa.py_buffer(low)))
    h = h.hash(seed=_HASH_SEED).to_numpy()
    upper, lower, digits = count[_UPPER], count[_LOWER], count[_DIGIT]
    return {
        "word_count": words.per_row,
        "sentence_count": words.row_sum(_sentence_ends(data, t, words, offsets[1:])),
        "syllable_count": words.row_sum(_syllables(data, t, low, tok_off, words)),
        "nonspace": upper + lower + digits + count[_PUNCT] + count[_SYMBOL],
        "letters": upper + lower,
        "upper": upper,
        "punct": count[_PUNCT],
        "special": count[_SYMBOL],
        "digits": digits,
        **_vocabulary_counts(low, tok_off, h, words, settings),
        **_distinct_counts(h, words, settings),
    }


def _find_words(word: np.ndarray, offsets: np.ndarray) -> _Words:
    """Runs of word bytes, never across rows."""
    row_starts, row_ends = offsets[:-1], offsets[1:]
    row_bytes = row_ends - row_starts
    starts_mask = word.copy()
    ends_mask = word.copy()
    if word.size > 1:
        starts_mask[1:] &= ~word[:-1]
        ends_mask[:-1] &= ~word[1:]
    nonempty = row_bytes > 0
    starts_mask[row_starts[nonempty]] = word[row_starts[nonempty]]
    ends_mask[row_ends[nonempty] - 1] = word[row_ends[nonempty] - 1]
    word_count = _segment_sum(starts_mask, row_starts, row_bytes)
    row_first = np.zeros(len(row_starts) + 1, np.int64)
    np.cumsum(word_count, out=row_first[1:])
    row_first = row_first[:-1]
    has_words = word_count > 0
    return _Words(
        start=np.flatnonzero(starts_mask),
        end=np.flatnonzero(ends_mask) + 1,
        per_row=word_count,
        row_first=row_first,
        last=row_first[has_words] + word_count[has_words] - 1,
    )


def _sentence_ends(data: np.ndarray, t: dict[str, np.ndarray], words: _Words, row_ends: np.ndarray) -> np.ndarray:
    """Per word: does a sentence end after it? A word followed by terminal punctuation (itself followed
    by a space, a closer, more terminal punctuation or the end of the text) or by a line break; and
    each row's last word."""
    n = data.size
    w_end = words.end
    row_end = row_ends[np.repeat(np.arange(len(words.per_row), dtype=np.int64), words.per_row)]
    nxt = np.take(data, np.minimum(w_end, max(n - 1, 0))) if n else np.zeros(0, np.uint8)
    nxt2 = np.take(data, np.minimum(w_end + 1, max(n - 1, 0))) if n else np.zeros(0, np.uint8)
    sentence_end = (w_end < row_end) & (
        (np.take(t["terminal"], nxt) & ((w_end + 1 >= row_end) | np.take(t["after_terminal"], nxt2)))
        | np.take(t["newline"], nxt)
    )
    sentence_end[words.last] = True
    return sentence_end


def _lowercase_words(data: np.ndarray, word: np.ndarray, words: _Words) -> tuple[np.ndarray, np.ndarray]:
    """The word bytes, ASCII-lowercased, and each word's offset into them (one more: the end)."""
    low = pl.Series(data, dtype=pl.UInt8).filter(pl.Series(word)).to_numpy()
    low = low | (((low - np.uint8(65)) < np.uint8(26)).view(np.uint8) << np.uint8(5))
    tok_off = np.zeros(words.start.size + 1, np.int64)
    np.cumsum(words.end - words.start, out=tok_off[1:])
    return low, tok_off


def _syllables(data: np.ndarray, t: dict[str, np.ndarray], low: np.ndarray, tok_off: np.ndarray, words: _Words) -> np.ndarray:
    """Syllables per word: vowel groups less a silent ending, at least 1."""
    vowel = np.take(t["vowel"], low)
    group_start = vowel.copy()
    if low.size > 1:
        group_start[1:] &= ~vowel[:-1]
    group_start[tok_off[:-1]] = vowel[tok_off[:-1]]
    groups = _segment_sum(group_start, tok_off[:-1], words.end - words.start)
    # the last four bytes of each word, read from the text itself. A pattern that reaches past a
    # short word's start (into a separator, the previous text or, clipped, the batch's first byte)
    # can only match a word of one vowel group, which keeps its one syllable either way.
    c1, c2, c3, c4 = (np.take(data, np.maximum(words.end - k, 0)) for k in (1, 2, 3, 4))
    is_vowel, is_consonant = t["vowel_ci"], t["consonant_ci"]
    silent_e = np.take(t["e_ci"], c1) & np.take(is_consonant, c2) & np.take(is_vowel, c3)
    silent_ed = (
        np.take(t["d_ci"], c1)
        & np.take(t["e_ci"], c2)
        & np.take(t["consonant_not_td_ci"], c3)
        & np.take(is_vowel, c4)
    )
    return np.maximum(groups - (silent_e | silent_ed), 1)


def _vocabulary_counts(low: np.ndarray, tok_off: np.ndarray, h: np.ndarray, words: _Words,
                       settings: TextQualitySettings) -> dict[str, np.ndarray]:
    """Per row: words without a digit, dictionary words among them, and stopwords, by 64-bit hash
    (false-positive rate ~1e-14)."""
    has_digit = np.zeros(words.start.size, bool)
    digit_pos = np.flatnonzero((low - np.uint8(48)) < np.uint8(10))
    has_digit[np.searchsorted(tok_off, digit_pos, side="right") - 1] = True
    hashes = pl.Series(h)
    vocab = _word_hashes("vocabulary", settings.vocabulary_size).implode()
    known = hashes.is_in(vocab).to_numpy() & ~has_digit
    stop = hashes.is_in(_word_hashes("stopwords").implode()).to_numpy()
    return {
        "alpha_words": words.row_sum(~has_digit),
        "known_words": words.row_sum(known),
        "stop_words": words.row_sum(stop),
    }


def _distinct_counts(h: np.ndarray, words: _Words, settings: TextQualitySettings) -> dict[str, np.ndarray]:
    """Per row: distinct words in the diversity window, and bigrams that repeat an earlier one."""
    n_words = words.start.size
    list_off = np.append(words.row_first, n_words)
    per_row = pl.Series(pa.LargeListArray.from_arrays(pa.array(list_off), pa.array(h)))
    window_types = per_row.list.head(settings.diversity_window_words).list.n_unique().to_numpy()
    bigram = np.zeros(n_words, np.uint64)  # bigram starting at each word; 0 for each row's last word
    if n_words > 1:
        bigram[:-1] = (h[:-1] * np.uint64(0xC2B2AE3D27D4EB4F)) ^ h[1:]
    bigram[words.last] = 0
    distinct = pl.Series(pa.LargeListArray.from_arrays(pa.array(list_off), pa.array(bigram))).list.n_unique()
    repeated_bigrams = np.maximum(words.per_row - distinct.to_numpy().astype(np.int64), 0)  # (wc-1) - (distinct-1)
    return {"window_types": window_types.astype(np.int64), "repeated_bigrams": repeated_bigrams}


def _lex(texts: pl.Series, settings: TextQualitySettings) -> dict[str, np.ndarray]:
    """`_lex_batch` over batches of about `settings.batch_bytes` bytes each."""
    n = len(texts)
    if n == 0:
        return _lex_batch(texts, settings)
    cum = np.cumsum(texts.str.len_bytes().to_numpy().astype(np.int64))
    cuts = np.searchsorted(cum, np.arange(settings.batch_bytes, int(cum[-1]), settings.batch_bytes), side="left")
    bounds = np.unique(np.concatenate([[0], cuts + 1, [n]]).clip(0, n))
    parts = [_lex_batch(texts.slice(int(a), int(b - a)), settings) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    if len(parts) == 1:
        return parts[0]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


# --------------------------------------------------------------------------------------------
# features, sub-scores and the score


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(num.shape, np.nan)
    ok = den > 0
    out[ok] = num[ok] / den[ok]
    return out


def _features(raw: dict[str, np.ndarray], settings: TextQualitySettings) -> dict[str, np.ndarray]:
    wc = raw["word_count"].astype(np.float64)
    window = np.minimum(wc, settings.diversity_window_words)
    with np.errstate(divide="ignore", invalid="ignore"):
        herdan = np.where(window > 1, np.log(np.maximum(raw["window_types"], 1)) / np.log(window), 1.0)
    herdan[wc == 0] = np.nan
    sentences = np.maximum(raw["sentence_count"], 1)
    fre = np.where(
        wc > 0,
        206.835 - 1.015 * _ratio(wc, sentences) - 84.6 * _ratio(raw["syllable_count"].astype(np.float64), wc),
        np.nan,
    )
    dictionary = _ratio(raw["known_words"].astype(np.float64), raw["alpha_words"].astype(np.float64))
    dictionary[(wc > 0) & (raw["alpha_words"] == 0)] = 0.0
    repetition = np.where(wc > 1, _ratio(raw["repeated_bigrams"].astype(np.float64), wc - 1), 0.0)
    repetition[wc == 0] = np.nan
    return {
        "word_count": wc,
        "sentence_count": raw["sentence_count"].astype(np.float64),
        "mean_word_length": _ratio((raw["letters"] + raw["digits"]).astype(np.float64), wc),
        "lexical_diversity": herdan,
        "dictionary_word_share": dictionary,
        "stopword_share": _ratio(raw["stop_words"].astype(np.float64), wc),
        "punctuation_share": _ratio(raw["punct"].astype(np.float64), raw["nonspace"].astype(np.float64)),
        "special_char_share": _ratio(raw["special"].astype(np.float64), raw["nonspace"].astype(np.float64)),
        "uppercase_share": _ratio(raw["upper"].astype(np.float64), raw["letters"].astype(np.float64)),
        "flesch_reading_ease": fre,
        "readability": np.clip(fre, 0.0, 100.0) / 100.0,
        "repetition": repetition,
    }


def subscores(features: Mapping[str, np.ndarray], settings: TextQualitySettings) -> dict[str, np.ndarray]:
    """Feature -> 0..1 sub-score (NaN where the feature is undefined), for the weighted features."""
    out = {}
    for name, knots in settings.knots().items():
        xs = np.array([k[0] for k in knots], np.float64)
        ys = np.array([k[1] for k in knots], np.float64)
        out[name] = np.interp(features[name], xs, ys)  # NaN in, NaN out
    return out


def text_quality(
    df: pl.DataFrame,
    settings: TextQualitySettings = TextQualitySettings(),  # noqa: B008 - frozen, safe to share
    text_col: str = "content",
) -> pl.DataFrame:
    """Text-quality features, score and training fitness per review (see the module docstring).

    Input: a frame with `review_id` and the clean English text column `text_col` (nulls allowed).
    Output: one row per input row, same order: review_id, the features (`FEATURE_COLUMNS`),
    `text_quality_score` (Float32 0..1), `fit_for_training` (Boolean) and `unfit_reason` (null
    when fit, else ``empty`` | ``no_words`` | ``too_few_words`` | ``low_score:<feature>``).
    """
    missing = [c for c in ("review_id", text_col) if c not in df.columns]
    if missing:
        raise ValueError(f"text_quality needs column(s) {missing}; the frame has {df.columns}")
    if df.schema[text_col] != pl.String:
        raise TypeError(f"text_quality: column {text_col!r} must be String, got {df.schema[text_col]}")

    raw_text = df.get_column(text_col)
    char_count = raw_text.str.len_chars().fill_null(0).cast(pl.Int32)
    texts = raw_text.fill_null("").str.replace_all("’", "'", literal=True)
    if len(texts) and (texts.str.len_chars().max() or 0) > settings.max_analysed_chars:
        texts = texts.str.slice(0, settings.max_analysed_chars)
    raw = _lex(texts, settings)
    feats = _features(raw, settings)

    # score: weighted geometric mean of floored sub-scores
    subs = subscores(feats, settings)
    names = [f for f, w in settings.weights.items() if w > 0]
    weights = np.array([settings.weights[f] for f in names], np.float64)
    if names:
        s = np.column_stack([subs[f] for f in names])
        s = np.where(np.isnan(s), 1.0, np.maximum(s, settings.subscore_floor))
        penalty = -np.log(s) * weights  # (rows, features)
        score = np.exp(-penalty.sum(axis=1))
        worst = np.array(names, dtype=object)[penalty.argmax(axis=1)] if len(s) else np.array([], dtype=object)
    else:  # pragma: no cover - weights sum to 1, so some weight is > 0
        score = np.ones(len(texts))
        worst = np.full(len(texts), "", dtype=object)
    wc = raw["word_count"]
    score = np.where(wc > 0, np.clip(score, 0.0, 1.0), 0.0)
    fit = (score >= settings.min_score_for_training) & (wc >= settings.min_words_for_training)

    blank = raw["nonspace"] == 0
    reason = np.full(len(texts), None, dtype=object)
    low = ~fit
    reason[low] = np.char.add("low_score:", worst[low].astype(str)) if low.any() else None
    reason[low & (wc < settings.min_words_for_training)] = "too_few_words"
    reason[low & (wc == 0)] = "no_words"
    reason[low & blank] = "empty"

    def f32(a: np.ndarray) -> pl.Series:
        return pl.Series(a, dtype=pl.Float64, nan_to_null=True).cast(pl.Float32)

    columns: dict[str, pl.Series] = {
        "review_id": df.get_column("review_id"),
        "char_count": char_count,
        "word_count": pl.Series(wc, dtype=pl.Int32),
        "sentence_count": pl.Series(np.where(wc > 0, raw["sentence_count"], 0), dtype=pl.Int32),
    }
    for name in FEATURE_COLUMNS[3:]:
        columns[name] = f32(feats[name])
    columns["text_quality_score"] = pl.Series(score, dtype=pl.Float32)
    columns["fit_for_training"] = pl.Series(fit, dtype=pl.Boolean)
    columns["unfit_reason"] = pl.Series(reason.tolist() if len(reason) else [], dtype=pl.String)
    return pl.DataFrame({k: v.alias(k) for k, v in columns.items()})
