"""Aspect mentions in app reviews: sentences, a mined aspect lexicon, and explicit term matches.

Pipeline (pure polars, no Dagster)::

    sentences = split_sentences(clean_reviews)                       # one row per sentence, with offsets
    lexicon   = mine_lexicon(sentences["sentence"], AspectSettings())  # seeds + mined terms -> category
    mentions  = extract_mentions(sentences, lexicon)                 # one row per aspect-term match

or all at once: ``mentions, lexicon = aspect_mentions(clean_reviews, settings)``.

**Taxonomy.** ``AspectSettings.taxonomy`` maps each aspect category (15 app-review categories by
default: stability/bugs ... content) to seed terms. Users override it like any other setting.

**Mining (unsupervised, from the corpus' own text, never from labels).** Sentences are tokenised
(words keep inner hyphens/apostrophes; every punctuation mark is its own token, so n-grams never
cross it) and lower-cased. Without a POS tagger (no spaCy model is installable) word classes come
from heuristics:

* *opinion words*: VADER lexicon words with ``|valence| >= opinion_min_valence`` plus
  ``extra_opinion_words`` ("slow", "expensive" ...). Single-word seeds are never opinion words, so
  VADER's "support", "crash", "error" can still be aspects.
* *content words*: none of an English function word (``STOPWORDS``), an opinion word, a frequent
  verb form (``VERBS``), an "-ed"/"-ly" word whose stem is a common English word (``wordfreq``), an
  "-able/-ible/-ous/-ful/-less" adjective, a plain modifier ("new", "latest", "whole" ...), a
  number, a one-letter token or a non-Latin word.
* *head words*: content words that are neither ``generic_terms`` ("app", "phone", "time" ...) nor
  names (Title-case mid-sentence in more than ``max_name_share`` of their uses: "Google").

A candidate is a single head word, or a 2..``max_ngram`` word phrase of content words that ends
with a head word and starts with a head word or a name ("Face ID login"; "of" may link three words:
"ease of use"). It must occur within ``opinion_window`` tokens of an opinion word at least
``min_count`` times (``count``), follow a determiner/possessive/preposition (up to two modifiers
between) in at least ``min_noun_context`` of its uses - nouns do, verbs do not - and not sit inside
one longer candidate in ``max_nested_share`` or more of its uses ("mode" in "dark mode").

The ``max_candidates`` most frequent candidates are embedded with the pretrained base model
(``genai_lab.ml.embeddings.embed``; cached per process) and each goes to the category whose
seed-term centroid (normalised mean of its seeds' embeddings) is most similar, if that cosine is at
least ``min_similarity`` and beats the runner-up - the next category and, with ``reject_generic``,
the most similar generic term ("google" is nearer to "company" than to any category) - by
``min_margin``. Compositional rule: a phrase that contains a seed ("battery impact", "csv export")
or ends with a shorter kept term ("home screen" <- "screen") takes that term's category when its
similarity to that category is at least ``min_seed_phrase_similarity``. The rest are dropped.
Seeds are always in the lexicon (``source="seed"``, similarity 1.0); at most ``max_lexicon_size``
mined terms are kept, most frequent first.

**Extraction (vectorised).** One Aho-Corasick pass (``str.find_many``/``str.extract_many``,
overlapping) over all sentences finds every lexicon term, ASCII-case-insensitively. The text is
first mapped one character to one ASCII byte (non-ASCII word characters -> ``\\x02``, other
non-ASCII characters -> ``\\x01``), so the byte offsets polars returns are character offsets into
the original text, and a non-ASCII letter next to a match still counts as a word character. Matches
must be whole words (no word character on either side of a term edge that is itself a word
character: "ads" does not match "adsorb"); a match of a term with non-ASCII letters is checked
against the original text (lower-cased). Overlapping matches are resolved longest first, then
leftmost ("dark mode" wins over "mode"), exactly like a greedy pass, but as a few self-joins.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import polars as pl
from pydantic import Field, model_validator

from genai_lab.ml.embeddings import DEFAULT_BASE_MODEL
from genai_lab.config import StrictConfig
from genai_lab.datafiles import read_json, read_list

__all__ = [
    "DEFAULT_TAXONOMY",
    "SYNTH_ASPECT_CATEGORY",
    "AspectSettings",
    "split_sentences",
    "tokenize",
    "mine_candidates",
    "mine_lexicon",
    "seed_lexicon",
    "extract_mentions",
    "aspect_mentions",
    "lexicon_examples",
    "term_scores",
    "LEXICON_SCHEMA",
    "MENTION_SCHEMA",
]

# --------------------------------------------------------------------------------------------------
# Taxonomy and the word lists of the POS-free heuristics: package data (text/data/aspects/, each file
# says what it holds), lower case; multi-word terms are matched as phrases
# --------------------------------------------------------------------------------------------------

#: aspect category -> seed terms
DEFAULT_TAXONOMY: dict[str, list[str]] = read_json(__package__, "aspects/taxonomy.json")
#: the synthetic generator's aspect names (`genai_lab.synth.ASPECTS`) -> categories of DEFAULT_TAXONOMY
SYNTH_ASPECT_CATEGORY: dict[str, str] = read_json(__package__, "aspects/synth_aspect_categories.json")

STOPWORDS: frozenset[str] = frozenset(read_list(__package__, "aspects/stopwords.txt"))
#: determiners, possessives and prepositions that typically precede a noun phrase
_NOUN_CONTEXT = frozenset(read_list(__package__, "aspects/noun_context.txt"))


def _inflections(base: str) -> list[str]:
    forms = [base, base + "s", base + "es"]
    if base.endswith("e"):
        forms += [base + "d", base[:-1] + "ing"]
    elif base.endswith("y") and base[-2:-1] not in "aeiou":
        forms += [base[:-1] + "ied", base[:-1] + "ies", base + "ing"]
    else:
        forms += [base + "ed", base + "ing"]
        if len(base) >= 3 and base[-1] not in "aeiouwxy" and base[-2] in "aeiou" and base[-3] not in "aeiou":
            forms += [base + base[-1] + "ed", base + base[-1] + "ing"]
    return forms


VERBS: frozenset[str] = frozenset(
    {f for b in read_list(__package__, "aspects/verbs.txt") for f in _inflections(b)}
    | set(read_list(__package__, "aspects/irregular_verbs.txt"))
)
#: frequent adjectives, quantifiers and adverbs that modify but do not name an aspect (no opinion)
PLAIN_MODIFIERS: frozenset[str] = frozenset(read_list(__package__, "aspects/plain_modifiers.txt")) - {
    "dark", "light", "black"  # "dark mode", "light theme", "black screen" are aspect phrases
}
#: domain opinion words that VADER lacks (speed, price, reliability adjectives)
EXTRA_OPINION_WORDS: tuple[str, ...] = read_list(__package__, "aspects/extra_opinion_words.txt")
#: nouns too generic to be an aspect on their own (they may modify: "app store", "phone number")
GENERIC_TERMS: tuple[str, ...] = read_list(__package__, "aspects/generic_terms.txt")

# --------------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------------


class AspectSettings(StrictConfig):
    """Aspect taxonomy and the thresholds of lexicon mining. Defaults tuned on the synthetic truth
    (`genai_lab.synth`) and on unlabelled real App Store reviews, never on gold labels."""

    taxonomy: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_TAXONOMY.items()},
        description="Aspect category -> seed terms (case-insensitive; a term may belong to one category only). "
        "Seeds are always in the lexicon, and their embedding centroid defines where mined terms go.",
    )
    mine: bool = Field(True, description="Mine terms from the corpus; False = the seed terms only.")
    min_count: int = Field(3, description="A candidate must occur at least this often within `opinion_window` tokens of an opinion word.")
    max_ngram: int = Field(3, description="Longest candidate phrase, in words (1..5).")
    opinion_window: int = Field(4, description="Tokens between a candidate and an opinion word in the same sentence (punctuation counts as a token).")
    opinion_min_valence: float = Field(1.0, description="VADER words with |valence| at least this are opinion words.")
    extra_opinion_words: list[str] = Field(
        default_factory=lambda: list(EXTRA_OPINION_WORDS),
        description="Opinion words VADER lacks (speed, price and reliability adjectives).",
    )
    extra_stopwords: list[str] = Field(default_factory=list, description="More words that never belong to a candidate.")
    generic_terms: list[str] = Field(
        default_factory=lambda: list(GENERIC_TERMS),
        description="Nouns too generic to be an aspect alone or to end a phrase ('app', 'phone', 'time').",
    )
    min_noun_context: float = Field(
        0.1,
        description="Share of a candidate's occurrences right after a determiner, possessive or preposition "
        "(up to two modifiers between: 'the new dark mode') needed to count as a noun phrase.",
    )
    max_nested_share: float = Field(
        0.6,
        description="A candidate is dropped when at least this share of its occurrences lie inside one longer "
        "candidate ('mode' almost only in 'dark mode').",
    )
    reject_generic: bool = Field(
        True,
        description="Also drop a candidate that is at least as similar to one of `generic_terms` as to its best "
        "category centroid (product names, places, people: 'google', 'school', 'company').",
    )
    max_name_share: float = Field(
        0.5,
        description="Words written Title-case (mid-sentence) more often than this are names ('Google', "
        "'Netflix'): they may modify but not head a candidate.",
    )
    min_term_chars: int = Field(3, description="Shortest mined term, in characters (seeds are exempt: 'ui', 'ad').")
    max_candidates: int = Field(3000, description="At most this many candidates (most frequent first) are embedded: the embedding budget.")
    min_similarity: float = Field(0.55, description="Cosine between a candidate and its best category's seed centroid needed to keep it.")
    min_margin: float = Field(
        0.0,
        description="... and by how much it must beat the runner-up: the second-best category and, with "
        "`reject_generic`, the most similar generic term. 0.0 = must merely be ahead.",
    )
    min_seed_phrase_similarity: float = Field(
        0.25,
        description="A phrase that contains a seed term ('battery impact', 'csv export') or ends with a shorter "
        "kept term ('home screen') goes to that term's category when its similarity to that category's "
        "centroid is at least this (instead of `min_similarity` to the best one).",
    )
    max_lexicon_size: int = Field(2000, description="At most this many mined terms are kept (most frequent first); seeds come on top.")
    base_model: str = Field(DEFAULT_BASE_MODEL, description="Sentence-embedding model: the bundled package name, a local folder or a hub id.")
    embed_batch_size: int = Field(256, description="Texts per embedding batch.")

    @model_validator(mode="after")
    def _validate(self) -> AspectSettings:
        if not self.taxonomy:
            raise ValueError("taxonomy must name at least one category")
        owner: dict[str, str] = {}
        for category, seeds in self.taxonomy.items():
            if not seeds:
                raise ValueError(f"taxonomy category {category!r} has no seed terms")
            for seed in seeds:
                key = _norm_term(seed)
                if not key:
                    raise ValueError(f"empty seed term in category {category!r}")
                if key in owner and owner[key] != category:
                    raise ValueError(f"seed term {seed!r} is in two categories: {owner[key]!r} and {category!r}")
                owner[key] = category
        if not 1 <= self.max_ngram <= 5:
            raise ValueError(f"max_ngram must be in 1..5, got {self.max_ngram}")
        if self.min_count < 1 or self.opinion_window < 1 or self.max_candidates < 0 or self.max_lexicon_size < 0:
            raise ValueError("min_count and opinion_window must be >= 1; max_candidates and max_lexicon_size >= 0")
        if not -1.0 <= self.min_similarity <= 1.0:
            raise ValueError(f"min_similarity must be in [-1, 1], got {self.min_similarity}")
        return self


def _norm_term(term: str) -> str:
    return " ".join(term.lower().split())


CANDIDATE_SCHEMA = {
    "term": pl.String, "n": pl.Int32, "count": pl.Int64, "total": pl.Int64, "noun_context": pl.Float64, "nested_share": pl.Float64,
}
LEXICON_SCHEMA = {"term": pl.String, "category": pl.String, "count": pl.Int64, "similarity": pl.Float64, "source": pl.String}
MENTION_SCHEMA = {
    "review_id": pl.String,
    "sentence_index": pl.UInt32,
    "sentence": pl.String,
    "term": pl.String,
    "char_start": pl.Int64,
    "char_end": pl.Int64,
    "review_char_start": pl.Int64,
    "review_char_end": pl.Int64,
    "category": pl.String,
    "source": pl.String,
}

# --------------------------------------------------------------------------------------------------
# Sentences
# --------------------------------------------------------------------------------------------------

_END = r"[.!?…]"
_CLOSE = r"[\"'”’)\]]"
#: one sentence = units up to a terminator run (+ closing quotes/brackets + whitespace), a line break,
#: or the end. A terminator followed directly by a word character ("3.5", "v2.1", "great...and") does
#: not end a sentence. Every character of a text is in exactly one match, so offsets are cumulative.
SENTENCE_PATTERN = rf"(?:[^.!?…\n]|{_END}+[^.!?…\s\"'”’)\]])*(?:{_END}+{_CLOSE}*\s*|\n\s*|$)"


def split_sentences(frame: pl.DataFrame, text_col: str = "content", id_col: str = "review_id") -> pl.DataFrame:
    """One row per non-blank sentence: review_id, sentence_index (0.. per review), sentence (stripped),
    sentence_start (character offset of the sentence in the review text). Null texts give no rows."""
    segments = (
        frame.select(pl.col(id_col).cast(pl.String).alias("review_id"), pl.col(text_col).fill_null("").alias("_text"))
        .with_row_index("_row")
        .select("_row", "review_id", pl.col("_text").str.extract_all(SENTENCE_PATTERN).alias("_seg"))
        .explode("_seg")
        .drop_nulls("_seg")
        .with_columns(pl.col("_seg").str.len_chars().cast(pl.Int64).alias("_len"))
    )
    segments = segments.with_columns((pl.col("_len").cum_sum().over("_row") - pl.col("_len")).alias("_start"))
    out = (
        segments.with_columns(pl.col("_seg").str.strip_chars().alias("sentence"))
        .filter(pl.col("sentence").str.len_chars() > 0)
        .with_columns(
            (pl.col("_start") + pl.col("_len") - pl.col("_seg").str.strip_chars_start().str.len_chars()).alias("sentence_start")
        )
        .with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).over("_row").alias("sentence_index"))
    )
    return out.select("review_id", "sentence_index", "sentence", "sentence_start")


# --------------------------------------------------------------------------------------------------
# Mining
# --------------------------------------------------------------------------------------------------

#: a word (letters/digits with inner hyphens or apostrophes) or one punctuation character
TOKEN_PATTERN = r"[\p{L}\p{N}]+(?:['’\-][\p{L}\p{N}]+)*|[^\s\p{L}\p{N}]"


def tokenize(sentences: pl.Series) -> pl.DataFrame:
    """Tokens of `sentences`: sid (row), pos (token index in the sentence), token (lower case),
    title (written Title-case, like a name: "Google", not "UI" or "iOS")."""
    frame = pl.DataFrame({"_s": sentences.fill_null("").str.replace_all("’", "'")})
    return (
        frame.with_row_index("sid")
        .select("sid", pl.col("_s").str.extract_all(TOKEN_PATTERN).alias("_raw"))
        .explode("_raw")
        .drop_nulls("_raw")
        .select(
            "sid",
            pl.int_range(pl.len(), dtype=pl.Int32).over("sid").alias("pos"),
            pl.col("_raw").str.to_lowercase().alias("token"),
            pl.col("_raw").str.contains(r"^\p{Lu}\p{Ll}").alias("title"),
        )
    )


def _proper_nouns(tokens: pl.DataFrame, max_share: float) -> set[str]:
    """Words written Title-case in more than `max_share` of their (at least 3) occurrences after
    another word of the sentence: names ("Google", "Netflix"), which are not aspects by themselves."""
    after_word = (pl.col("sid").shift(1) == pl.col("sid")) & pl.col("token").shift(1).str.contains(r"^[\p{L}\p{N}]")
    names = (
        tokens.filter(after_word.fill_null(False))
        .group_by("token")
        .agg(pl.col("title").mean().alias("share"), pl.len().alias("n"))
        .filter((pl.col("n") >= 3) & (pl.col("share") > max_share))
    )
    return set(names["token"].to_list())


@functools.lru_cache(maxsize=4)
def _vader_words(min_valence: float) -> frozenset[str]:
    from importlib.resources import files

    words = set()
    text = files("vaderSentiment").joinpath("vader_lexicon.txt").read_text(encoding="utf-8", errors="replace")
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and re.fullmatch(r"[a-z][a-z'\-]*", parts[0]):
            try:
                if abs(float(parts[1])) >= min_valence:
                    words.add(parts[0])
            except ValueError:
                continue
    return frozenset(words)


@functools.lru_cache(maxsize=200_000)
def _zipf(word: str) -> float:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")


_ADJECTIVE_SUFFIXES = ("able", "ible", "ous", "ful", "less")
_LATIN_WORD = re.compile(r"[a-z\u00e0-\u00f6\u00f8-\u00ff][a-z0-9\u00e0-\u00f6\u00f8-\u00ff'\-]*")


def _verbish(word: str) -> bool:
    """Past forms and adverbs by morphology: '-ed'/'-ly' words whose stem is a common English word."""
    if len(word) > 4 and word.endswith("ed") and word not in {"speed", "feed", "seed", "need", "embed"}:
        stems = {word[:-2], word[:-1], word[:-3] + "y"}
        if len(word) > 5 and word[-3] == word[-4]:
            stems.add(word[:-3])
        return any(_zipf(s) >= 3.0 for s in stems if len(s) >= 2)
    if len(word) > 4 and word.endswith("ly"):
        return any(_zipf(s) >= 3.0 for s in (word[:-2], word[:-3] + "y", word[:-2] + "e", word[:-1] + "e") if len(s) >= 3)
    return False


def _word_classes(vocabulary: pl.Series, settings: AspectSettings, seed_words: set[str], names: set[str] = frozenset()) -> pl.DataFrame:
    """Per distinct token: opinion, content (may be inside a candidate), head (may end one or be one),
    lead (may start a phrase: a head word or a name), link ('of', allowed inside three-word phrases),
    modifier (may sit between a determiner and a noun: content, opinion or plain modifier words)."""
    opinion_words = (_vader_words(settings.opinion_min_valence) | {w.lower() for w in settings.extra_opinion_words}) - seed_words
    stop = STOPWORDS | {w.lower() for w in settings.extra_stopwords}
    generic = {w.lower() for w in settings.generic_terms}
    rows = []
    for token in vocabulary.to_list():
        opinion = token in opinion_words
        adjective = len(token) > 5 and token.endswith(_ADJECTIVE_SUFFIXES) and token not in seed_words
        wordlike = bool(_LATIN_WORD.fullmatch(token)) and len(token) >= 2 and "'" not in token
        content = wordlike and not opinion and token not in stop and (
            token in seed_words or (token not in VERBS and token not in PLAIN_MODIFIERS and not adjective and not _verbish(token))
        )
        head = content and token not in generic and token not in names
        modifier = head or opinion or adjective or (token in PLAIN_MODIFIERS)
        lead = head or (content and token in names)
        rows.append((token, opinion, content, head, lead, token == "of", modifier))
    schema = {
        "token": pl.String, "opinion": pl.Boolean, "content": pl.Boolean, "head": pl.Boolean, "lead": pl.Boolean,
        "link": pl.Boolean, "modifier": pl.Boolean,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def mine_candidates(sentences: pl.Series, settings: AspectSettings) -> pl.DataFrame:
    """Every well-formed candidate phrase (see the module doc) with its statistics, most used near
    opinion words first: term (lower case), n (words), count (uses within `opinion_window` tokens of
    an opinion word), total (all uses), noun_context (share of uses after a determiner, possessive or
    preposition, up to two modifiers between), nested_share (largest share of its uses inside one
    longer candidate). The thresholds of `settings` are applied by `mine_lexicon`, not here."""
    seed_words = {_norm_term(s) for seeds in settings.taxonomy.values() for s in seeds if " " not in _norm_term(s)}
    tokens = tokenize(sentences)
    if tokens.height == 0:
        return pl.DataFrame(schema=CANDIDATE_SCHEMA)
    names = _proper_nouns(tokens, settings.max_name_share) - seed_words
    classes = _word_classes(tokens["token"].unique(), settings, seed_words, names)
    tokens = _with_context(tokens.join(classes, on="token", how="left", maintain_order="left"))
    grams = [_ngram_counts(tokens, n, settings.opinion_window) for n in range(1, settings.max_ngram + 1)]
    out = pl.concat(pl.collect_all(grams))
    out = out.join(_nested_uses(out, settings.max_ngram), on="term", how="left").with_columns(
        (pl.col("_outer").fill_null(0) / pl.col("total")).alias("nested_share")
    )
    return out.select(list(CANDIDATE_SCHEMA)).cast(CANDIDATE_SCHEMA).sort(["count", "term"], descending=[True, False])


def _with_context(tokens: pl.DataFrame) -> pl.DataFrame:
    """Tokens with the positions of the nearest opinion word at or before (``prev_op``) and at or
    after (``next_op``) them in their sentence, and ``after_det``: a determiner, possessive or
    preposition right before, or with up to two modifiers between."""
    op_pos = pl.when(pl.col("opinion")).then(pl.col("pos"))
    op_sid = pl.when(pl.col("opinion")).then(pl.col("sid"))
    tokens = tokens.with_columns(
        prev_op=pl.when(op_sid.forward_fill() == pl.col("sid")).then(op_pos.forward_fill()),
        next_op=pl.when(op_sid.backward_fill() == pl.col("sid")).then(op_pos.backward_fill()),
    )
    det = pl.col("token").is_in(sorted(_NOUN_CONTEXT))
    after_det = pl.lit(False)
    chain = pl.lit(True)
    for k in (1, 2, 3):
        same_sentence = pl.col("sid").shift(k) == pl.col("sid")
        after_det = after_det | (chain & det.shift(k) & same_sentence)
        chain = chain & pl.col("modifier").shift(k) & same_sentence
    return tokens.with_columns(after_det.fill_null(False).alias("after_det"))


def _ngram_counts(tokens: pl.DataFrame, n: int, window: int) -> pl.LazyFrame:
    """The well-formed n-word candidates starting at each token, counted: count (near an opinion
    word), total, noun_context, n."""
    last = n - 1
    same = pl.lit(True)
    words = []
    # a head word (content, not generic, not a name) at the end, a head word or a name at the start
    # ("Face ID login"), content words between ("of" may link three words: "ease of use")
    ok = pl.col("head") if n == 1 else pl.col("lead") & pl.col("head").shift(-last)
    for k in range(n):
        words.append(pl.col("token").shift(-k))
        if k:
            same = same & (pl.col("sid").shift(-k) == pl.col("sid"))
        if 0 < k < last:
            ok = ok & (pl.col("content").shift(-k) | (pl.col("link").shift(-k) if n == 3 else pl.lit(False)))
    near = ((pl.col("pos") - pl.col("prev_op")) <= window) | ((pl.col("next_op").shift(-last) - pl.col("pos") - last) <= window)
    return (
        tokens.lazy()
        .select(
            pl.concat_str(words, separator=" ").alias("term"),
            (ok & same).fill_null(False).alias("_ok"),
            near.fill_null(False).alias("_near"),
            pl.col("after_det"),
        )
        .filter(pl.col("_ok"))
        .group_by("term")
        .agg(
            pl.col("_near").sum().cast(pl.Int64).alias("count"),
            pl.len().cast(pl.Int64).alias("total"),
            pl.col("after_det").mean().alias("noun_context"),
        )
        .with_columns(pl.lit(n, dtype=pl.Int32).alias("n"))
    )


def _nested_uses(candidates: pl.DataFrame, max_ngram: int) -> pl.DataFrame:
    """Per term that sits inside a longer candidate: ``_outer``, the uses of the most used one."""
    longer = candidates.filter(pl.col("n") > 1).select("term", "total", pl.col("term").str.split(" ").alias("_w"))
    subs = []
    for size in range(1, max_ngram):
        for offset in range(max_ngram - size + 1):
            subs.append(
                longer.filter((pl.col("_w").list.len() >= offset + size) & (pl.col("_w").list.len() > size))
                .select(pl.col("_w").list.slice(offset, size).list.join(" ").alias("term"), pl.col("total").alias("_outer"))
            )
    if not subs:
        return pl.DataFrame(schema={"term": pl.String, "_outer": pl.Int64})
    return pl.concat(subs).group_by("term").agg(pl.col("_outer").max())


_EMBED_CACHE: dict[tuple[str, str], np.ndarray] = {}


def _embed_cached(terms: list[str], settings: AspectSettings) -> np.ndarray:
    """Embeddings of `terms`, computed once per (model, term) per process, in batches."""
    from genai_lab.ml.embeddings import embed

    missing = [t for t in dict.fromkeys(terms) if (settings.base_model, t) not in _EMBED_CACHE]
    if missing:
        vectors = embed(missing, model_name=settings.base_model, batch_size=settings.embed_batch_size, max_length=32)
        for term, vector in zip(missing, vectors, strict=True):
            _EMBED_CACHE[(settings.base_model, term)] = vector
    if not terms:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([_EMBED_CACHE[(settings.base_model, t)] for t in terms])


def seed_lexicon(settings: AspectSettings) -> pl.DataFrame:
    """The taxonomy's seed terms as a lexicon (count 0, similarity 1.0, source 'seed')."""
    rows: dict[str, str] = {}
    for category, seeds in settings.taxonomy.items():
        for seed in seeds:
            rows.setdefault(_norm_term(seed), category)
    return pl.DataFrame(
        {"term": list(rows), "category": list(rows.values()), "count": [0] * len(rows), "similarity": [1.0] * len(rows), "source": ["seed"] * len(rows)},
        schema=LEXICON_SCHEMA,
    )


def mine_lexicon(sentences: pl.Series, settings: AspectSettings) -> pl.DataFrame:
    """Seeds plus terms mined from `sentences` (see the module doc). Columns: term (lower case),
    category, count (uses within `opinion_window` of an opinion word; 0 for a seed never used so),
    similarity (cosine to the category's seed centroid; 1.0 for seeds), source ("seed" | "mined")."""
    seeds = seed_lexicon(settings)
    if not settings.mine:
        return seeds
    candidates = mine_candidates(sentences, settings)
    seeds = seeds.join(candidates.select("term", pl.col("count").alias("_c")), on="term", how="left", maintain_order="left").select(
        "term", "category", pl.col("_c").fill_null(0).alias("count"), "similarity", "source"
    )
    mined = (
        candidates.filter(
            (pl.col("count") >= settings.min_count)
            & (pl.col("noun_context") >= settings.min_noun_context)
            & (pl.col("nested_share") < settings.max_nested_share)
            & (pl.col("term").str.len_chars() >= settings.min_term_chars)
            & ~pl.col("term").is_in(seeds["term"].implode())
        )
        .head(settings.max_candidates)
    )
    if mined.height == 0:
        return seeds
    categories = list(settings.taxonomy)
    seed_terms = seeds["term"].to_list()
    seed_vectors = _embed_cached(seed_terms, settings)
    seed_category = np.array([categories.index(c) for c in seeds["category"].to_list()])
    centroids = np.stack([seed_vectors[seed_category == i].mean(axis=0) for i in range(len(categories))])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True).clip(1e-9)
    vectors = _embed_cached(mined["term"].to_list(), settings)
    sims = vectors @ centroids.T
    order = np.argsort(-sims, axis=1)
    best = sims[np.arange(len(sims)), order[:, 0]]
    second = sims[np.arange(len(sims)), order[:, 1]] if len(categories) > 1 else np.full(len(sims), -1.0)
    generic = [_norm_term(t) for t in settings.generic_terms]
    if settings.reject_generic and generic:
        # a "none of the categories" class: the nearest generic noun beats the best category
        second = np.maximum(second, (vectors @ _embed_cached(generic, settings).T).max(axis=1))
    category = order[:, 0].copy()
    keep = (best >= settings.min_similarity) & (best - second >= settings.min_margin)
    # compositional rule: a phrase that contains a seed ("battery impact", "csv export"; the rightmost
    # one: English compounds are head-final) or ends with a kept shorter term ("home screen" <- "screen")
    # takes that term's category when not too far from its centroid. Shorter phrases are decided first.
    seed_of = dict(zip(seed_terms, seed_category.tolist(), strict=True))
    seed_set = set(seed_terms)
    longest_seed = max((len(t.split()) for t in seed_terms), default=1)
    terms = mined["term"].to_list()
    for i in sorted(range(len(terms)), key=lambda j: len(terms[j].split())):
        term = terms[i]
        words = term.split()
        inner = None  # the rightmost seed inside, else a kept shorter term that ends the phrase
        for pool in (seed_set, None):
            for end in range(len(words), 0, -1):
                for size in range(min(longest_seed, end), 0, -1):
                    sub = " ".join(words[end - size:end])
                    # seeds anywhere; a kept mined term only as the head (the end of the phrase)
                    if sub != term and sub in seed_of and (sub in seed_set if pool is not None else end == len(words)):
                        inner = seed_of[sub]
                        break
                if inner is not None:
                    break
            if inner is not None:
                break
        if inner is not None and sims[i, inner] >= settings.min_seed_phrase_similarity:
            category[i], best[i], keep[i] = inner, sims[i, inner], True
        if keep[i]:
            seed_of[term] = int(category[i])
            longest_seed = max(longest_seed, len(words))
    mined = mined.with_columns(
        pl.Series("category", [categories[i] for i in category], dtype=pl.String),
        pl.Series("similarity", best.astype(np.float64)),
        pl.Series("_keep", keep),
    ).filter(pl.col("_keep"))
    mined = mined.head(settings.max_lexicon_size).select("term", "category", "count", "similarity", pl.lit("mined").alias("source"))
    return pl.concat([seeds, mined]).cast(LEXICON_SCHEMA)


# --------------------------------------------------------------------------------------------------
# Extraction
# --------------------------------------------------------------------------------------------------

_WORD_BYTE = r"[0-9A-Za-z_\x02]"


def _asciify(expr: pl.Expr) -> pl.Expr:
    """One ASCII byte per character: non-ASCII word characters -> \\x02, other non-ASCII -> \\x01."""
    return expr.str.replace_all(r"[\w&&[^\x00-\x7F]]", "\x02").str.replace_all(r"[^\x00-\x7F]", "\x01")


def _is_word(expr: pl.Expr) -> pl.Expr:
    return expr.str.contains(_WORD_BYTE).fill_null(False)


def _resolve_overlaps(spans: pl.DataFrame) -> pl.DataFrame:
    """Keep a greedy longest-first (then leftmost) set of non-overlapping spans per `_sid`."""
    spans = spans.with_columns((pl.col("char_end") - pl.col("char_start")).alias("_len")).sort(
        ["_sid", "_len", "char_start"], descending=[False, True, False]
    ).with_row_index("_rank")
    kept = []
    while spans.height:
        pairs = spans.select("_sid", "_rank", "char_start", "char_end").join(
            spans.select("_sid", pl.col("_rank").alias("_o_rank"), pl.col("char_start").alias("_o_start"), pl.col("char_end").alias("_o_end")),
            on="_sid",
        ).filter((pl.col("_o_rank") < pl.col("_rank")) & (pl.col("_o_start") < pl.col("char_end")) & (pl.col("char_start") < pl.col("_o_end")))
        free = spans.join(pairs.select("_rank").unique(), on="_rank", how="anti")
        kept.append(free)
        blocked = spans.join(free.select("_sid", pl.col("char_start").alias("_f_start"), pl.col("char_end").alias("_f_end")), on="_sid").filter(
            (pl.col("_f_start") < pl.col("char_end")) & (pl.col("char_start") < pl.col("_f_end"))
        )
        spans = spans.join(blocked.select("_rank").unique(), on="_rank", how="anti")
    return pl.concat(kept).drop("_len", "_rank")


def extract_mentions(sentences: pl.DataFrame, lexicon: pl.DataFrame) -> pl.DataFrame:
    """Every whole-word, case-insensitive match of a lexicon term in `sentences` (review_id,
    sentence_index, sentence[, sentence_start]); overlapping matches resolved longest first.

    Columns: review_id, sentence_index, sentence, term (as written), char_start/char_end (in the
    sentence), review_char_start/review_char_end (in the review text: sentence_start + ...),
    category, source (of the lexicon entry)."""
    lex = (
        lexicon.select(pl.col("term").str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars().alias("_term"), "category", "source")
        .filter(pl.col("_term").str.len_chars() > 0)
        .unique("_term", keep="first", maintain_order=True)
        .with_columns(_asciify(pl.col("_term")).alias("_key"))
        .filter(pl.col("_key").str.contains(r"[0-9A-Za-z]"))
    )
    if "sentence_start" not in sentences.columns:
        sentences = sentences.with_columns(pl.lit(0, dtype=pl.Int64).alias("sentence_start"))
    if lex.height == 0 or sentences.height == 0:
        return pl.DataFrame(schema=MENTION_SCHEMA)
    patterns = lex["_key"].unique(maintain_order=True).to_list()
    base = sentences.select(
        pl.col("review_id").cast(pl.String), pl.col("sentence_index").cast(pl.UInt32), "sentence", pl.col("sentence_start").cast(pl.Int64)
    ).with_row_index("_sid")
    hits = (
        base.select("_sid", _asciify(pl.col("sentence").fill_null("")).alias("_a"))
        .with_columns(
            pl.col("_a").str.find_many(patterns, ascii_case_insensitive=True, overlapping=True).alias("_starts"),
            pl.col("_a").str.extract_many(patterns, ascii_case_insensitive=True, overlapping=True).alias("_found"),
        )
        .filter(pl.col("_starts").list.len() > 0)
        .explode(["_starts", "_found"])
        .select(
            "_sid",
            "_a",
            pl.col("_starts").cast(pl.Int64).alias("char_start"),
            (pl.col("_starts").cast(pl.Int64) + pl.col("_found").str.len_bytes().cast(pl.Int64)).alias("char_end"),
            pl.col("_found").str.to_lowercase().alias("_key"),
        )
    )
    a = pl.col("_a")
    left_ok = (pl.col("char_start") == 0) | ~_is_word(a.str.slice(pl.col("char_start") - 1, 1)) | ~_is_word(a.str.slice(pl.col("char_start"), 1))
    right_ok = ~_is_word(a.str.slice(pl.col("char_end"), 1)) | ~_is_word(a.str.slice(pl.col("char_end") - 1, 1))
    hits = hits.filter(left_ok & right_ok).drop("_a").unique(["_sid", "char_start", "char_end", "_key"])
    hits = hits.join(lex.select("_key", "_term", "category", "source"), on="_key").join(base, on="_sid")
    written = pl.col("sentence").str.slice(pl.col("char_start"), pl.col("char_end") - pl.col("char_start"))
    hits = hits.with_columns(written.alias("term")).filter(
        ~pl.col("_key").str.contains(r"[\x01\x02]") | (pl.col("term").str.to_lowercase().str.replace_all(r"\s+", " ") == pl.col("_term"))
    )
    if hits.height == 0:
        return pl.DataFrame(schema=MENTION_SCHEMA)
    hits = _resolve_overlaps(hits.unique(["_sid", "char_start", "char_end"], keep="first"))
    return (
        hits.sort(["_sid", "char_start"])
        .with_columns(
            (pl.col("sentence_start") + pl.col("char_start")).alias("review_char_start"),
            (pl.col("sentence_start") + pl.col("char_end")).alias("review_char_end"),
        )
        .select(list(MENTION_SCHEMA))
        .cast(MENTION_SCHEMA)
    )


def aspect_mentions(
    frame: pl.DataFrame, settings: AspectSettings, lexicon: pl.DataFrame | None = None, *, text_col: str = "content", id_col: str = "review_id"
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(mentions, lexicon used): sentences of `frame`, a lexicon mined from them unless one is given,
    and every aspect-term mention (see `extract_mentions`)."""
    sentences = split_sentences(frame, text_col=text_col, id_col=id_col)
    if lexicon is None:
        lexicon = mine_lexicon(sentences["sentence"], settings)
    return extract_mentions(sentences, lexicon), lexicon


def lexicon_examples(lexicon: pl.DataFrame, per_category: int = 5) -> dict[str, list[str]]:
    """The most frequent mined (non-seed) terms of each category, for reports."""
    mined = lexicon.filter(pl.col("source") == "mined").sort(["category", "count"], descending=[False, True])
    return {c: g["term"].head(per_category).to_list() for (c,), g in mined.group_by("category", maintain_order=True)}


# --------------------------------------------------------------------------------------------------
# Scoring against labelled terms
# --------------------------------------------------------------------------------------------------

_SCORE_WORD = r"[\p{L}\p{N}]+"


def _term_words(frame: pl.DataFrame) -> pl.DataFrame:
    """Content words of each term (lower case, a final plural 's' dropped): unit, _row, word."""
    return (
        frame.select("unit", "_row", pl.col("term").str.to_lowercase().str.extract_all(_SCORE_WORD).alias("word"))
        .explode("word")
        .drop_nulls("word")
        .filter(~pl.col("word").is_in(sorted(STOPWORDS)))
        .with_columns(pl.when(pl.col("word").str.len_chars() > 3).then(pl.col("word").str.strip_suffix("s")).otherwise(pl.col("word")).alias("word"))
        .unique()
    )


def term_scores(predicted: pl.DataFrame, gold: pl.DataFrame) -> dict[str, float | int]:
    """Aspect-term extraction scores. Both frames: ``unit`` (the scored text: sentence or review id)
    and ``term``; gold rows with a null term are ignored (their units still count for precision,
    since every prediction there is a false positive).

    * exact: per unit, the multiset of normalised terms (lower case, single spaces) of the two sides;
      tp = sum of the per-term minimum counts.
    * overlap (lenient): a predicted term is correct when it shares a content word (lower case, final
      plural "s" dropped, English stopwords ignored) with a gold term of the same unit; a gold term is
      found when a prediction of its unit shares one with it. Precision and recall are counted on each
      side separately.
    """
    norm = pl.col("term").str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()
    pred = predicted.select(pl.col("unit").cast(pl.String), norm.alias("term")).drop_nulls().with_row_index("_row")
    gold = gold.select(pl.col("unit").cast(pl.String), norm.alias("term")).drop_nulls().filter(pl.col("term") != "").with_row_index("_row")
    n_pred, n_gold = pred.height, gold.height
    pc = pred.group_by("unit", "term").agg(pl.len().alias("p"))
    gc = gold.group_by("unit", "term").agg(pl.len().alias("g"))
    tp = int(pc.join(gc, on=["unit", "term"]).select(pl.min_horizontal("p", "g").sum()).item() or 0)
    pairs = _term_words(pred).join(_term_words(gold), on=["unit", "word"], suffix="_g")
    pred_hit = pairs["_row"].n_unique() if pairs.height else 0
    gold_hit = pairs["_row_g"].n_unique() if pairs.height else 0

    def prf(p_ok: int, g_ok: int) -> tuple[float, float, float]:
        precision = p_ok / n_pred if n_pred else 0.0
        recall = g_ok / n_gold if n_gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return round(precision, 4), round(recall, 4), round(f1, 4)

    ep, er, ef = prf(tp, tp)
    op, orr, of = prf(pred_hit, gold_hit)
    return {
        "predicted": n_pred, "gold": n_gold, "exact_tp": tp,
        "exact_precision": ep, "exact_recall": er, "exact_f1": ef,
        "overlap_precision": op, "overlap_recall": orr, "overlap_f1": of,
    }
