"""The dump's fields beside the text: authors, titles and votes."""

from __future__ import annotations

import numpy as np
import polars as pl

from genai_lab.synth.catalog import Catalog
from genai_lab.synth.resources import by_review_type, by_sentiment, load_json
from genai_lab.synth.schema import BUG, FR, NEG, NEU, POS

_AUTHORS: dict[str, list[str]] = load_json("authors.json")
_LETTERS = [chr(c) for c in range(65, 91)]
_TITLES = load_json("titles.json")
_TITLES_BY_SENTIMENT = by_sentiment(_TITLES["by_sentiment"])
_TITLES_BY_TYPE = by_review_type(_TITLES["by_review_type"])


def _pick_strings(rng: np.random.Generator, n: int, words: list[str]) -> pl.Series:
    return pl.Series(words, dtype=pl.String).gather(rng.integers(0, len(words), n))


def authors(rng: np.random.Generator, n: int) -> list[str]:
    """Varied user names: 'Jessica482', 'TiredNurse12', 'Mark T.', 'maple_echo77', 'Cozy otter', ..."""
    which = rng.choice(7, size=n, p=[.25, .2, .15, .15, .1, .1, .05])
    out = pl.Series("author", [None] * n, dtype=pl.String)
    for pattern in range(7):
        rows = np.flatnonzero(which == pattern)
        if len(rows):
            out.scatter(rows, pl.select(pl.concat_str(_author_parts(rng, pattern, len(rows)))).to_series())
    return out.to_list()


def _author_parts(rng: np.random.Generator, pattern: int, k: int) -> list:
    """The pieces of k names of one pattern, drawn left to right."""
    first, adj, noun, word = (_AUTHORS[key] for key in ("first_names", "adjectives", "nouns", "words"))

    def num(lo: int, hi: int) -> pl.Series:
        return pl.Series(rng.integers(lo, hi, k)).cast(pl.String)

    def maybe(p: float, s) -> pl.Series:
        return pl.select(pl.when(pl.Series(rng.random(k) < p)).then(s).otherwise(pl.lit(""))).to_series()

    def pick(words: list[str]) -> pl.Series:
        return _pick_strings(rng, k, words)

    if pattern == 0:
        return [pick(first), num(1, 2000)]
    if pattern == 1:
        return [pick(adj), pick(noun), maybe(0.5, num(1, 100))]
    if pattern == 2:
        return [pick(first), pl.lit(" "), pick(_LETTERS), pl.lit("."), maybe(0.3, pl.lit(" ") + num(1, 100))]
    if pattern == 3:
        return [pick(word), pl.lit("_"), pick(word), maybe(0.6, num(1, 1000))]
    if pattern == 4:
        return [pick(adj), pl.lit(" "), pick([w.lower() for w in noun]), maybe(0.5, pl.lit(" ") + num(1, 100))]
    if pattern == 5:
        return [pick(word), pick(word), num(10, 100)]
    return [pick(first), pick(_LETTERS), num(10, 99)]


def titles(rng: np.random.Generator, S: np.ndarray, T: np.ndarray, cat_app: Catalog, app: np.ndarray) -> np.ndarray:
    """Short titles, 32% empty; by sentiment, by type for bug reports / requests, sometimes '<App> review'."""
    n = len(S)
    # groups 0-2 are the sentiments, so that S indexes them; 3 and 4 the bug-report and request titles
    groups = [_TITLES_BY_SENTIMENT[NEG], _TITLES_BY_SENTIMENT[NEU], _TITLES_BY_SENTIMENT[POS],
              _TITLES_BY_TYPE[BUG], _TITLES_BY_TYPE[FR]]
    flat = [t for g in groups for t in g]
    size = np.array([len(g) for g in groups])
    off = np.concatenate([[0], np.cumsum(size)[:-1]])
    v = rng.random(n)
    g = np.where((T == BUG) & (v < 0.5), 3, np.where((T == FR) & (v < 0.5), 4, S))
    pick = pl.Series(flat, dtype=pl.String).gather(off[g] + (rng.random(n) * size[g]).astype(np.int64))
    own = pl.Series(cat_app.short, dtype=pl.String).gather(app) + " review"
    out = pl.select(pl.when(pl.Series(v > 0.93)).then(own).otherwise(pick)).to_series().to_numpy().astype(object)
    out[rng.random(n) < 0.32] = None
    return out


def votes(rng: np.random.Generator, S: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(vote_count, vote_sum): negative and long reviews get votes more often."""
    n = len(S)
    p_any = 0.18 + 0.1 * (S == NEG) + 0.08 * (length > 200)
    has = rng.random(n) < p_any
    vc = np.where(has, np.minimum(np.floor(rng.pareto(1.2, n) * 2).astype(np.int64) + 1, 5000), 0)
    q = rng.beta(4, 2, n)
    vs = rng.binomial(vc, q)
    return vc.astype(np.int64), vs.astype(np.int64)
