"""`generate()`: one function per stage, in the order they draw from the two random streams (numpy's `rng`
for whole columns, Python's `pr` for per-row choices); changing that order changes every later draw."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import polars as pl

from genai_lab.synth.catalog import Catalog, catalog
from genai_lab.synth.checks import key_hash, repeat_flags
from genai_lab.synth.composition import K_EMOJI, K_FOREIGN, K_REVIEW, K_SHORT, K_SPAM, BaseRows, compose_rows, cond_choice
from genai_lab.synth.defects import OVERLAY_POOLS, apply_overlays, invalid_category, invalid_date, invalid_rating, near_variant
from genai_lab.synth.fields import authors, titles, votes
from genai_lab.synth.schema import CATEGORIES, DATE_FORMAT, DEFAULT_NOW, DUMP_SCHEMA, utc_ts
from genai_lab.synth.truth import aspect_lists, defect_lists, truth_frame

RATES = {  # share of all rows
    "exact_copy": 0.015, "near_copy": 0.015,
    "short": 0.022, "emoji": 0.012, "foreign": 0.035, "spam_only": 0.010,
    "spam_append": 0.010, "url": 0.016, "email": 0.015, "phone": 0.015, "html": 0.018, "control": 0.015,
    "whitespace": 0.018, "elong": 0.018, "repeat": 0.018, "mojibake": 0.018, "special": 0.016,
    "invalid_rating": 0.015, "invalid_date": 0.015, "invalid_category": 0.015, "missing_category": 0.01,
}
# the defects recorded where they are injected (the others are computed from the final text)
BUILT_FLAGS = ("url", "email", "phone", "spam", "mojibake", "non_english")
# distributions over the sentiments (negative, neutral, positive) and the types (bug report, feature
# request, user experience, rating), in the vocabulary's order
_SENTIMENT_P = np.array([0.27, 0.13, 0.60])
_TYPE_GIVEN_SENTIMENT = np.array([[.42, .05, .45, .08], [.12, .38, .42, .08], [0., .10, .68, .22]])
_TYPE_GIVEN_SENTIMENT_SINGLE = np.array([[.4, 0., .45, .15], [0., .35, .5, .15], [0., 0., .7, .3]])  # one-clause reviews
_RATING_GIVEN_SENTIMENT = np.array([  # P(rating=1..5 | sentiment)
    [.68, .24, .06, .01, .01],
    [.08, .17, .38, .25, .12],
    [.005, .005, .04, .17, .78],
])
_EARLIEST_VALID = datetime(2017, 1, 1, tzinfo=UTC)
_DAY = 86400


def _count(rate: float, n: int) -> int:
    return round(rate * n)


def _pick_rows(rng: np.random.Generator, n: int, k: int, pool: np.ndarray) -> np.ndarray:
    """A mask of up to k rows drawn from pool without replacement."""
    sel = np.zeros(n, bool)
    sel[rng.choice(pool, size=min(k, len(pool)), replace=False)] = True
    return sel


@dataclass
class _Copies:
    """The injected duplicates: copy i repeats base row orig[i], exactly or as a near variant."""
    orig: np.ndarray
    content: list[str]
    lower: np.ndarray  # near variants that lowercased their original (their aspect terms follow)
    ts: np.ndarray


@dataclass
class _Rows:
    """Base rows followed by the copies, in that order (not yet by date)."""
    src: np.ndarray  # the base row each row derives from
    hashes: np.ndarray
    changed: np.ndarray  # texts that moved on from the checked base: only they can hold repeated words
    content: list[str]
    ts: np.ndarray
    app: np.ndarray
    in_pair: np.ndarray
    sentiment: np.ndarray
    review_type: np.ndarray


def generate(rows: int = 20_000, seed: int = 0, now: datetime | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(dump, truth): a realistic review dump with injected defects, and the truth for every row.

    Deterministic for a given (rows, seed, now). `now` (default 2026-01-01T00:00:00Z) bounds the valid
    dates: valid reviews fall in [2017-01-01, now), injected future dates are >= now + 2 years.
    """
    if rows < 0:
        raise ValueError("rows must be >= 0")
    end_ts = utc_ts(now or DEFAULT_NOW)
    rng = np.random.default_rng(seed)
    pr = random.Random(int(rng.integers(2**62)))
    cat_app = catalog()
    n_exact = _count(RATES["exact_copy"], rows)
    n_near = _count(RATES["near_copy"], rows)
    base = _plan_rows(rng, rows, rows - n_exact - n_near, cat_app)
    app_ids = pl.Series(cat_app.app_id, dtype=pl.String).gather(base.app)
    compose_rows(base, np.arange(len(base.kind)), rng, pr)
    hashes = _make_texts_unique(base, app_ids, rng, pr)
    touched = _inject_overlays(base, app_ids, hashes, rows, rng, pr, cat_app)
    ts = _review_dates(base.app, len(cat_app.app_id), seed, end_ts, rng)
    copies = _duplicate_copies(base, ts, end_ts, n_exact, n_near, rng, pr)
    all_rows = _with_copies(base, app_ids, hashes, touched, ts, copies)
    base.content.clear()  # all_rows holds the texts now
    columns = _other_fields(all_rows, len(base.kind), copies.orig, cat_app, rng)
    invalid = _inject_invalid_values(columns, all_rows.in_pair, rows, end_ts, rng, pr)
    order = np.lexsort((np.arange(len(all_rows.src)), all_rows.ts))  # by date, like an export
    dump = _dump_frame(columns, all_rows, order, cat_app, rng)
    return dump, _truth(dump, base, copies, all_rows, invalid, order)


def _plan_rows(rng: np.random.Generator, rows: int, nb: int, cat_app: Catalog) -> BaseRows:
    """Each base row's app, kind of text, sentiment and type; popular apps get many more reviews."""
    n_apps = len(cat_app.app_id)
    weights = np.exp(rng.normal(0.0, 1.3, n_apps))
    app = rng.choice(n_apps, size=nb, p=weights / weights.sum())
    kind = np.zeros(nb, np.int64)
    perm = rng.permutation(nb)
    pos = 0
    for k, key in ((K_SHORT, "short"), (K_EMOJI, "emoji"), (K_FOREIGN, "foreign"), (K_SPAM, "spam_only")):
        c = min(_count(RATES[key], rows), nb - pos)
        kind[perm[pos:pos + c]] = k
        pos += c
    special = _pick_rows(rng, nb, _count(RATES["special"], rows), np.flatnonzero(kind == K_REVIEW))
    sentiment = rng.choice(3, size=nb, p=_SENTIMENT_P)
    review_type = cond_choice(rng, sentiment, _TYPE_GIVEN_SENTIMENT)
    review_type[special] = cond_choice(rng, sentiment[special], _TYPE_GIVEN_SENTIMENT_SINGLE)
    return BaseRows(app=app, cat=cat_app.cat[app], kind=kind, special=special, long=np.zeros(nb, bool),
                    sentiment=sentiment, review_type=review_type, content=[""] * nb,
                    language=np.full(nb, "en", dtype=object), flags={f: np.zeros(nb, bool) for f in BUILT_FLAGS},
                    aspects=[])


def _make_texts_unique(base: BaseRows, app_ids: pl.Series, rng: np.random.Generator, pr: random.Random) -> np.ndarray:
    """Every base text unique per app (after duplicate normalisation) and free of accidental word
    repetition, so that duplicates and repeated words occur only where injected: offenders are
    rewritten, longer each time, until none is left. Returns each row's `key_hash`."""
    texts = pl.Series(base.content, dtype=pl.String)
    hashes = key_hash(app_ids, texts)
    first = np.zeros(len(hashes), bool)
    first[np.unique(hashes, return_index=True)[1]] = True
    redo = np.flatnonzero(~first | repeat_flags(texts))
    attempts = np.zeros(len(hashes), np.int64)
    for _ in range(200):
        if not len(redo):
            return hashes
        attempts[redo] += 1
        give_up = redo[(attempts[redo] > 3) & (base.kind[redo] != K_REVIEW)]
        base.kind[give_up] = K_REVIEW  # short/foreign/emoji variety exhausted for this app: write a review instead
        base.review_type[give_up] = cond_choice(rng, base.sentiment[give_up], _TYPE_GIVEN_SENTIMENT)
        base.long[redo[attempts[redo] >= 2]] = True
        base.special[redo[attempts[redo] > 4]] = False
        base.drop_aspects(redo)
        compose_rows(base, redo, rng, pr)
        redo = _still_clashing(base, app_ids, hashes, redo)
    raise RuntimeError("could not make review texts unique")  # pragma: no cover - practically unreachable


def _still_clashing(base: BaseRows, app_ids: pl.Series, hashes: np.ndarray, redo: np.ndarray) -> np.ndarray:
    """The rewritten rows that still repeat another row's key, or their own words; updates their hashes."""
    sub = pl.Series([base.content[i] for i in redo.tolist()], dtype=pl.String)
    new = key_hash(app_ids.gather(redo), sub)
    kept = np.ones(len(hashes), bool)
    kept[redo] = False
    fixed = np.sort(hashes[kept])
    at = np.minimum(np.searchsorted(fixed, new), max(len(fixed) - 1, 0))
    clash = (fixed[at] == new) if len(fixed) else np.zeros(len(redo), bool)
    first = np.zeros(len(redo), bool)
    first[np.unique(new, return_index=True)[1]] = True
    hashes[redo] = new
    return redo[clash | ~first | repeat_flags(sub)]


def _inject_overlays(base: BaseRows, app_ids: pl.Series, hashes: np.ndarray, rows: int, rng: np.random.Generator,
                     pr: random.Random, cat_app: Catalog) -> np.ndarray:
    """Text defects on English reviews; returns the mask of rewritten rows and updates their hashes."""
    nb = len(base.kind)
    review_rows = np.flatnonzero(base.kind == K_REVIEW)
    pools = {"review": review_rows, "plain": review_rows[~base.special[review_rows]]}
    overlays = {name: _pick_rows(rng, nb, _count(RATES[name], rows), pools[pool]) for name, pool in OVERLAY_POOLS.items()}
    touched = apply_overlays(base, overlays, pr, cat_app.short)
    idx = np.flatnonzero(touched)
    if len(idx):
        hashes[idx] = key_hash(app_ids.gather(idx), pl.Series([base.content[i] for i in idx.tolist()], dtype=pl.String))
    if len(np.unique(hashes)) != nb:  # pragma: no cover - overlays only add distinct material
        raise RuntimeError("overlays created a duplicate")
    return touched


def _review_dates(app: np.ndarray, n_apps: int, seed: int, end_ts: int, rng: np.random.Generator) -> np.ndarray:
    """Apps launch at different times, and their reviews grow over the years."""
    start_ts = min(utc_ts(_EARLIEST_VALID), end_ts - 3 * 365 * _DAY)
    span = end_ts - start_ts
    launch = np.random.default_rng(seed + 7).uniform(0.0, 0.6, n_apps)
    g = 3.0  # density ~ 1 + g x over the app's lifetime
    x = (-1 + np.sqrt(1 + g * (2 + g) * rng.random(len(app)))) / g
    lo = launch[app]
    return start_ts + ((lo + (1 - lo) * x) * (span - 1)).astype(np.int64)


def _duplicate_copies(base: BaseRows, ts: np.ndarray, end_ts: int, n_exact: int, n_near: int, rng: np.random.Generator,
                      pr: random.Random) -> _Copies:
    """Copies of earlier reviews of the same app, always newer than their original; the first n_exact are exact."""
    eligible = np.flatnonzero((base.kind != K_EMOJI) & (base.kind != K_SHORT) & ~base.special & (ts < end_ts - 2 * _DAY))
    n_exact = min(n_exact, len(eligible))
    n_near = min(n_near, len(eligible) - n_exact)
    orig = rng.choice(eligible, size=n_exact + n_near, replace=False)
    content: list[str] = []
    lower = np.zeros(len(orig), bool)
    for i, r in enumerate(orig.tolist()):
        if i < n_exact:
            content.append(base.content[r])
        else:
            text, lower[i] = near_variant(pr, base.content[r], allow_lower=not base.flags["mojibake"][r])
            content.append(text)
    copy_ts = np.minimum(ts[orig] + rng.integers(3600, 120 * _DAY, len(orig)), end_ts - 1)
    return _Copies(orig, content, lower, copy_ts)


def _with_copies(base: BaseRows, app_ids: pl.Series, hashes: np.ndarray, touched: np.ndarray, ts: np.ndarray,
                 copies: _Copies) -> _Rows:
    nb = len(base.kind)
    n = nb + len(copies.orig)
    src = np.concatenate([np.arange(nb), copies.orig]).astype(np.int64)
    changed = np.concatenate([touched, touched[copies.orig]])  # near copies keep their original's words
    in_pair = np.zeros(n, bool)
    in_pair[copies.orig] = True
    in_pair[nb:] = True
    return _Rows(
        src=src,
        hashes=np.concatenate([hashes, key_hash(app_ids.gather(copies.orig), pl.Series(copies.content, dtype=pl.String))]),
        changed=changed, content=base.content + copies.content, ts=np.concatenate([ts, copies.ts]), app=base.app[src],
        in_pair=in_pair, sentiment=base.sentiment[src], review_type=base.review_type[src])


def _other_fields(all_rows: _Rows, nb: int, orig: np.ndarray, cat_app: Catalog, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The dump's columns beside the text, in row order; a copy shares its original's rating and title."""
    n = len(all_rows.src)
    rating = cond_choice(rng, all_rows.sentiment, _RATING_GIVEN_SENTIMENT) + 1
    rating[nb:] = rating[orig]
    names = authors(rng, n)
    for i in range(nb, n):  # a copy's author is someone else
        k = 0
        while names[i] == names[all_rows.src[i]]:
            names[i] = f"{names[i]}{k}"
            k += 1
    title = titles(rng, all_rows.sentiment, all_rows.review_type, cat_app, all_rows.app)
    title[nb:] = title[orig]
    vote_count, vote_sum = votes(rng, all_rows.sentiment, pl.Series(all_rows.content, dtype=pl.String).str.len_chars().to_numpy())
    vote_count[nb:] = 0
    vote_sum[nb:] = 0
    dates = pl.from_epoch(pl.Series(all_rows.ts), time_unit="s").dt.strftime(DATE_FORMAT)
    return {
        "category": np.array(CATEGORIES, dtype=object)[cat_app.cat[all_rows.app]],
        "author": np.array(names, dtype=object),
        "rating": np.array([str(v) for v in range(6)], dtype=object)[rating],
        "title": title,
        "date": dates.to_numpy().astype(object),
        "vote_count": vote_count,
        "vote_sum": vote_sum,
    }


def _inject_invalid_values(columns: dict[str, np.ndarray], in_pair: np.ndarray, rows: int, end_ts: int,
                           rng: np.random.Generator, pr: random.Random) -> dict[str, np.ndarray]:
    """Invalid ratings, dates and categories, and missing categories; never on a duplicate pair's date,
    which orders the pair. Returns the masks of the invalid values."""
    n = len(in_pair)
    invalid = {name: np.zeros(n, bool) for name in ("invalid_rating", "invalid_date", "invalid_category")}
    invalid["invalid_rating"][rng.permutation(n)[:_count(RATES["invalid_rating"], rows)]] = True
    invalid["invalid_date"][rng.permutation(np.flatnonzero(~in_pair))[:_count(RATES["invalid_date"], rows)]] = True
    order_rows = rng.permutation(n)
    k1, k2 = _count(RATES["invalid_category"], rows), _count(RATES["missing_category"], rows)
    invalid["invalid_category"][order_rows[:k1]] = True
    columns["category"][order_rows[k1:k1 + k2]] = None
    for i in np.flatnonzero(invalid["invalid_rating"]).tolist():
        columns["rating"][i] = invalid_rating(pr)
    for i in np.flatnonzero(invalid["invalid_category"]).tolist():
        columns["category"][i] = invalid_category(pr)
    for i in np.flatnonzero(invalid["invalid_date"]).tolist():
        columns["date"][i] = invalid_date(pr, end_ts)
    return invalid


def _dump_frame(columns: dict[str, np.ndarray], all_rows: _Rows, order: np.ndarray, cat_app: Catalog,
                rng: np.random.Generator) -> pl.DataFrame:
    n = len(order)
    ids = 1_000_000_000 + np.cumsum(rng.integers(1, 997, n))
    app = all_rows.app[order]
    content = pl.Series("content", all_rows.content, dtype=pl.String).gather(order)
    all_rows.content = []  # the Series holds the texts now
    return pl.DataFrame({
        "id": pl.Series(ids).cast(pl.String),
        "app_id": pl.Series(cat_app.app_id, dtype=pl.String).gather(app),
        "app_name": pl.Series(cat_app.app_name, dtype=pl.String).gather(app),
        "category": pl.Series(columns["category"][order].tolist(), dtype=pl.String),
        "platform": pl.Series(["ios"], dtype=pl.String).gather(np.zeros(n, np.int64)),
        "author": pl.Series(columns["author"][order].tolist(), dtype=pl.String),
        "rating": pl.Series(columns["rating"][order].tolist(), dtype=pl.String),
        "title": pl.Series(columns["title"][order].tolist(), dtype=pl.String),
        "content": content,
        "date": pl.Series(columns["date"][order].tolist(), dtype=pl.String),
        "vote_count": pl.Series(columns["vote_count"][order], dtype=pl.Int64),
        "vote_sum": pl.Series(columns["vote_sum"][order], dtype=pl.Int64),
    }, schema=DUMP_SCHEMA)


def _truth(dump: pl.DataFrame, base: BaseRows, copies: _Copies, all_rows: _Rows, invalid: dict[str, np.ndarray],
           order: np.ndarray) -> pl.DataFrame:
    n = len(order)
    final_pos = np.empty(n, np.int64)
    final_pos[order] = np.arange(n)
    recorded = {**{name: flags[all_rows.src][order] for name, flags in base.flags.items()},
                **{name: mask[order] for name, mask in invalid.items()}}
    defects = defect_lists(dump["content"], final_pos[np.flatnonzero(all_rows.changed)], all_rows.hashes[order], recorded)
    nb = len(base.kind)
    aspects = aspect_lists(base.aspects, copies.orig, np.arange(nb, n, dtype=np.int64), copies.lower, final_pos)
    src = all_rows.src[order]
    return truth_frame(dump["id"], defects, base.language[src].tolist(), all_rows.sentiment[order], aspects,
                       all_rows.review_type[order])
