"""Market opportunities from model-scored reviews: what users of a category complain about and ask for, on evidence.

Pure functions (no Dagster, no files) from `review_predictions` and `clean_reviews` to

* :func:`mention_frame` — one row per scored aspect mention with its app, app category, month and helpful votes;
* :func:`monthly_trend` — mentions and negative share per (category, need, month);
* :func:`aspect_opportunities` — per category and per app: negative/positive share by aspect with a 95% interval, its
  lift over what is normal for the aspect elsewhere in the corpus, growth with an interval, helpful votes, quotes and
  the opportunity score;
* :func:`theme_requests` / :func:`score_themes` (:func:`feature_request_themes` = both) — reviews the detector calls
  feature requests, clustered on their embeddings into themes named by a representative request phrase, scored alike;
* :func:`market_opportunities` — both, ranked (only needs with enough evidence); :func:`ranking_stability` — how often
  each ranked need stays in the top 10 when the reviews are bootstrapped within each app.

The opportunity score (higher = a bigger unmet need) multiplies four factors, each a conservative estimate:

    score = ln(1 + negative mentions) × excess × growth × helpful

* excess  — aspects: ln of the lower 95% bound of the lift, the need's negative share (Beta posterior, empirical-Bayes
            prior fitted over the aspect's categories, or over the category's apps for an app row) over the negative
            share of the same aspect in the rest of the corpus; 0 when the bound is at or below 1. "Bugs are complained
            about" is the baseline, not the finding. Feature themes: the Wilson lower bound of the share of the
            category's apps whose users ask for it.
* growth  — rate ratio of the need's negative mentions (requests) in the last `recent_months` months of each app's own
            data over the number expected from each app's review flow, with an exact Poisson (Gamma) interval; the bound
            nearer 1 when the interval excludes 1, else 1; clipped to [growth_floor, growth_cap].
* helpful — 1 + helpful_scale × ln(1 + mean helpful votes per negative mention (request), each review's votes capped at
            helpful_cap): at most 1 + 0.25 × ln 11 ≈ 1.6 by default, so no single viral review dominates.
* volume  — ln(1 + negative mentions) (themes: requests).

Only category-level needs with at least `min_support` mentions (requests) from at least `min_apps` apps are ranked;
thinner ones, and every app-level row, stay in the table with ``thin`` set where evidence is below `min_support`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import stats

from genai_lab.config import StrictConfig
from genai_lab.text.rules import mask_pii

NEGATIVE, POSITIVE = "negative", "positive"
ASPECT, FEATURE_REQUEST = "aspect", "feature_request"
CATEGORY_LEVEL, APP_LEVEL = "category", "app"
# a review id is unique only within its dump (ingest keys reviews the same way)
REVIEW_KEY = ["dump_id", "review_id"]
#: the two-sided level of every interval
LEVEL = 0.95

# Words that say a review asks for something but not *what*: never a theme's keyword.
REQUEST_WORDS = ["please", "add", "would", "could", "should", "like", "love", "wish", "want", "need", "needs", "option", "options", "feature", "features", "app", "apps", "really", "great", "nice", "good", "make", "makes", "able", "also", "just", "get", "use", "using", "update", "version", "thing", "things", "way", "much", "even", "still", "one", "new", "time", "add", "adding", "now", "fix", "back", "don't", "can't", "won't", "doesn't", "didn't", "isn't", "i'm", "it's", "hope", "hopefully", "pls", "plz", "thank", "thanks", "awesome"]


class OpportunitySettings(StrictConfig):
    """How needs are found, scored and quoted."""

    #: months at the end of each app's data that count as "recent" for growth
    recent_months: int = 3
    #: growth is clipped to at least this
    growth_floor: float = 0.5
    #: growth is clipped to at most this
    growth_cap: float = 2.0
    #: a category-level need is ranked only with this many mentions (requests) ...
    min_support: int = 20
    #: ... from at least this many apps; an app row (or competitor) with fewer mentions is marked thin
    min_apps: int = 2
    #: empirical-Bayes prior strength (pseudo-mentions) is fitted by moments and kept within these bounds
    prior_strength_min: float = 2.0
    #: upper bound of that prior strength
    prior_strength_max: float = 50.0
    #: helpful votes: per-review cap and weight of ln(1 + mean capped votes) in the score
    helpful_cap: int = 10
    #: weight of ln(1 + mean capped helpful votes) in the score
    helpful_scale: float = 0.25
    #: representative quotes per need: readable, saying the need (its term / key words), most helpful first
    quotes: int = 2
    #: shortest quote, in characters
    quote_min_chars: int = 30
    #: longest quote, in characters
    quote_max_chars: int = 240
    #: feature-request themes: at most this many clusters, each of at least `min_theme_requests` requests
    themes: int = 12
    #: smallest feature-request theme
    min_theme_requests: int = 5
    #: a seeded sample of at most this many requests is embedded (the counts are of the sample, and say so)
    max_requests: int = 10_000
    #: words naming a theme
    theme_words: int = 3
    #: a word is an app's rather than a need's when at least this share of its request occurrences come from one app
    app_word_share: float = 0.8
    #: tokens per request when embedding feature requests
    embed_max_length: int = 64
    #: ranking stability in the table: bootstrap resamples of the reviews within each app (0: not measured)
    stability_resamples: int = 100
    #: the top-N whose stability is measured
    stability_top: int = 10
    #: the report: rows of the ranking, and categories with a section of their own (by volume)
    top_needs: int = 15
    #: categories with a section of their own in the report (by volume)
    report_categories: int = 6
    #: name of the category of apps without one
    uncategorised: str = "Uncategorised"


OPPORTUNITY_SCHEMA = {
    "kind": pl.String, "level": pl.String, "category": pl.String, "app": pl.String, "need": pl.String,
    # themes: their key words (app and brand names left out); the need is named by a representative request phrase
    "keywords": pl.String,
    "mentions": pl.Int64, "negative": pl.Int64, "positive": pl.Int64, "apps": pl.Int64,
    # negative_share is k/n; the estimate is the mean of its Beta posterior (empirical-Bayes prior), low/high its 95% interval
    "negative_share": pl.Float64, "negative_share_estimate": pl.Float64, "negative_share_low": pl.Float64,
    "negative_share_high": pl.Float64, "positive_share": pl.Float64,
    # normal for the aspect: its negative share in the rest of the corpus; lift = the estimate / baseline
    "baseline_negative_share": pl.Float64, "lift": pl.Float64, "lift_low": pl.Float64, "lift_high": pl.Float64,
    # growth: recent over expected mentions, exact Poisson interval
    "recent": pl.Int64, "expected": pl.Float64, "growth": pl.Float64, "growth_low": pl.Float64, "growth_high": pl.Float64,
    "helpful_votes_mean": pl.Float64, "helpful_weight": pl.Float64,
    # competitors: apps of the category with enough mentions of the need (themes: every app of the category);
    # apps_asking (themes only): the apps whose users asked for it, apps_share_low its Wilson lower bound
    "competitors": pl.Int64, "apps_asking": pl.Int64, "apps_share_low": pl.Float64, "best_served_app": pl.String,
    "best_served_negative_share": pl.Float64, "best_served_negative_share_estimate": pl.Float64, "best_served_negative_share_low": pl.Float64,
    "best_served_negative_share_high": pl.Float64,
    "excess": pl.Float64, "score": pl.Float64, "thin": pl.Boolean, "rank": pl.Int64,
    # share of bootstrap resamples (reviews within each app) in which the need stays in the top `stability_top`
    "stability": pl.Float64, "quotes": pl.List(pl.String),
    # themes only, where more than `max_requests` requests came in: how many the counted sample was drawn from
    "sampled_from": pl.Int64,
}


def review_meta(reviews: pl.DataFrame, settings: OpportunitySettings) -> pl.DataFrame:
    category = pl.col("category").cast(pl.String).str.strip_chars()
    return reviews.select(
        *REVIEW_KEY,
        pl.coalesce(pl.col("app_name"), pl.col("app_id"), pl.lit("(unknown app)")).alias("app"),
        pl.when(category.is_null() | (category == "") | category.str.to_lowercase().is_in(["undefined", "null", "none", "n/a"]))
        .then(pl.lit(settings.uncategorised)).otherwise(category).alias("category"),
        pl.col("date").dt.replace_time_zone(None).dt.truncate("1mo").dt.date().alias("month"),
        # helpful votes are `vote_sum` (App Store voteSum, Play thumbsUpCount); `vote_count` is every vote cast, unhelpful too
        pl.col("vote_sum").fill_null(0).clip(0).cast(pl.Int64).alias("helpful"),
    )


def mention_frame(predictions: pl.DataFrame, reviews: pl.DataFrame, settings: OpportunitySettings) -> pl.DataFrame:
    """Scored aspect mentions with their review's app, category, month and helpful votes (and the mention's term)."""
    term = pl.col("aspect_term") if "aspect_term" in predictions.columns else pl.lit(None, pl.String)
    aspects = predictions.filter((pl.col("level") == ASPECT) & pl.col("sentiment").is_not_null()).select(
        *REVIEW_KEY, pl.col("aspect_category").alias("need"), term.cast(pl.String).alias("aspect_term"), "text", "sentiment",
        "confidence")
    return aspects.join(review_meta(reviews, settings), on=REVIEW_KEY, how="left").with_columns(
        pl.col("app").fill_null("(unknown app)"), pl.col("category").fill_null(settings.uncategorised), pl.col("helpful").fill_null(0))


def request_frame(predictions: pl.DataFrame, reviews: pl.DataFrame, settings: OpportunitySettings) -> pl.DataFrame:
    """Reviews the review-type detector calls feature requests, with their review's app, category, month and helpful votes."""
    requests = predictions.filter((pl.col("level") == "review") & pl.col("is_feature_request").fill_null(False)).select(
        *REVIEW_KEY, "text", "confidence")
    return requests.join(review_meta(reviews, settings), on=REVIEW_KEY, how="left").with_columns(
        pl.col("app").fill_null("(unknown app)"), pl.col("category").fill_null(settings.uncategorised), pl.col("helpful").fill_null(0))


def monthly_trend(mentions: pl.DataFrame) -> pl.DataFrame:
    """Mentions, negative mentions and negative share per (category, need, month); rows without a date are left out."""
    return (mentions.filter(pl.col("month").is_not_null())
            .group_by("category", "need", "month")
            .agg(pl.len().alias("mentions"), (pl.col("sentiment") == NEGATIVE).sum().cast(pl.Int64).alias("negative"))
            .with_columns((pl.col("negative") / pl.col("mentions")).alias("negative_share"))
            .sort("category", "need", "month"))


# ------------------------------------------------------------------------------------------------------------ intervals


def eb_beta_prior(k: np.ndarray, n: np.ndarray, strength_min: float = 2.0, strength_max: float = 50.0,
                  fallback_mean: float = 0.5) -> tuple[float, float]:
    """Empirical-Bayes Beta(α, β) prior for shares k/n of several groups, by the method of moments.

    The prior mean is the pooled share; its strength α + β = m(1 − m)/τ² − 1, where τ² is the between-group variance
    of the shares (their n-weighted variance less the binomial noise), kept within [strength_min, strength_max]
    (groups that differ no more than noise get strength_max). A single group says nothing about the spread between
    groups, nor about their mean: it gets `fallback_mean` (the caller's wider pool) at strength_min.
    """
    k, n = np.asarray(k, float), np.asarray(n, float)
    keep = n > 0
    k, n = k[keep], n[keep]
    if len(n) < 2:
        m = float(np.clip(fallback_mean, 1e-3, 1 - 1e-3))
        return m * strength_min, (1 - m) * strength_min
    m = float(np.clip(k.sum() / n.sum(), 1e-3, 1 - 1e-3))
    observed = float(np.average((k / n - m) ** 2, weights=n))
    noise = float(np.average(m * (1 - m) / n, weights=n))
    between = observed - noise
    strength = strength_max if between <= 0 else m * (1 - m) / between - 1
    strength = float(np.clip(strength, strength_min, strength_max))
    return m * strength, (1 - m) * strength


def beta_interval(k, n, alpha: float | np.ndarray = 1.0, beta: float | np.ndarray = 1.0, level: float = LEVEL):
    """(posterior mean, low, high) of a share k/n under a Beta(alpha, beta) prior: equal-tailed `level` interval."""
    k, n = np.asarray(k, float), np.asarray(n, float)
    a, b = alpha + k, beta + n - k
    tail = (1 - level) / 2
    return a / (a + b), stats.beta.ppf(tail, a, b), stats.beta.ppf(1 - tail, a, b)


def wilson_interval(k, n, level: float = LEVEL):
    """Wilson score interval of k successes in n trials (0, 0 for n = 0)."""
    k, n = np.asarray(k, float), np.asarray(n, float)
    z = stats.norm.ppf(1 - (1 - level) / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n > 0, k / np.maximum(n, 1), 0.0)
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return np.where(n > 0, centre - half, 0.0), np.where(n > 0, centre + half, 0.0)


def poisson_rate_ratio(observed, expected, level: float = LEVEL):
    """Observed / expected counts with the exact (Garwood) Poisson interval: (ratio, low, high); nan where expected is 0."""
    o, e = np.asarray(observed, float), np.asarray(expected, float)
    tail = (1 - level) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(o > 0, stats.gamma.ppf(tail, np.maximum(o, 1e-12)), 0.0) / e
        high = stats.gamma.ppf(1 - tail, o + 1) / e
        ratio = o / e
    bad = ~(e > 0)
    return (np.where(bad, np.nan, ratio), np.where(bad, np.nan, low), np.where(bad, np.nan, high))


def _growth(rows: pl.DataFrame, all_rows: pl.DataFrame, keys: list[str], settings: OpportunitySettings) -> pl.DataFrame:
    """Growth per `keys` group of `rows` (the need's counted mentions): its recent mentions over the number expected.

    "Recent" is the last `recent_months` months of each *app's* own data: exports of different apps end at different
    dates, and a window at the end of the category would hold only the app scraped last. Expected is, per app, the
    need's mentions times the share of all the app's mentions that are recent (indirect standardisation), summed over
    the group's apps. The ratio gets an exact Poisson interval; `growth_factor` is what enters the score.
    """
    window = ["category", "app"]
    starts = all_rows.filter(pl.col("month").is_not_null()).group_by(window).agg(
        pl.col("month").max().dt.offset_by(f"-{max(settings.recent_months - 1, 0)}mo").alias("recent_start"))
    recent = (pl.col("month") >= pl.col("recent_start")).fill_null(False)
    baseline = all_rows.join(starts, on=window, how="inner").group_by(window).agg(recent.mean().alias("baseline"))
    need = rows.join(starts, on=window, how="left").join(baseline, on=window, how="left")
    out = need.group_by(keys).agg(recent.sum().cast(pl.Int64).alias("recent"), pl.col("baseline").fill_null(0).sum().alias("expected"))
    ratio, low, high = poisson_rate_ratio(out["recent"].to_numpy(), out["expected"].to_numpy())
    factor = np.where(low > 1, low, np.where(high < 1, high, 1.0))
    factor = np.clip(np.nan_to_num(factor, nan=1.0), settings.growth_floor, settings.growth_cap)
    return out.with_columns(pl.Series("growth", ratio).fill_nan(None), pl.Series("growth_low", low).fill_nan(None),
                            pl.Series("growth_high", high).fill_nan(None), pl.Series("growth_factor", factor))


def _helpful(settings: OpportunitySettings, rows: pl.Expr | None = None) -> list[pl.Expr]:
    """Aggregations: raw mean helpful votes and the bounded weight 1 + scale × ln(1 + mean of per-review capped votes)."""
    votes = pl.col("helpful") if rows is None else pl.col("helpful").filter(rows)
    return [votes.mean().alias("helpful_votes_mean"),
            (1 + settings.helpful_scale * votes.clip(0, settings.helpful_cap).mean().fill_null(0).log1p()).alias("helpful_weight")]


def _saying(rows: pl.DataFrame) -> pl.DataFrame:
    """The rows whose text holds one of their `terms` (a list column) as whole words, case-insensitively."""

    def spaced(text: pl.Expr) -> pl.Expr:  # " word word ": a literal search for " term " is a whole-word search
        return pl.lit(" ") + text.str.to_lowercase().str.replace_all(r"[^\p{L}\p{N}]+", " ") + pl.lit(" ")

    indexed = rows.with_row_index("_row")
    words = (indexed.select("_row", spaced(pl.col("text")).alias("_text"), "terms").explode("terms")
             .filter(pl.col("terms").str.strip_chars().str.len_chars() > 0)
             .filter(pl.col("_text").str.contains(spaced(pl.col("terms")).str.replace_all(" +", " "), literal=True)))
    return indexed.filter(pl.col("_row").is_in(words["_row"].unique().implode())).drop("_row")


def _quotes(rows: pl.DataFrame, keys: list[str], settings: OpportunitySettings, order: list[str], descending: list[bool]) -> pl.DataFrame:
    """The first `settings.quotes` readable texts of each group in `order` that say the need (`terms`), PII-masked."""
    readable = rows.filter(pl.col("text").str.len_chars().is_between(settings.quote_min_chars, settings.quote_max_chars))
    picked = ((_saying(readable) if "terms" in rows.columns else readable)
              .sort(order, descending=descending)
              # a sentence with two mentions of one need is one quote, not two
              .unique(subset=[*keys, "text"], keep="first", maintain_order=True)
              .group_by(keys, maintain_order=True).head(settings.quotes))
    picked = picked.with_columns(mask_pii(picked["text"]).alias("text"))
    return picked.group_by(keys, maintain_order=True).agg(pl.col("text").alias("quotes"))


def _with_terms(mentions: pl.DataFrame) -> pl.DataFrame:
    """Mentions with `terms`, the words that say their need: the mention's own (mined) aspect term, the need's name and
    the taxonomy's seed terms for it."""
    from genai_lab.text.aspects import DEFAULT_TAXONOMY

    seeds = pl.DataFrame({"need": list(DEFAULT_TAXONOMY), "seed": list(DEFAULT_TAXONOMY.values())},
                         schema={"need": pl.String, "seed": pl.List(pl.String)})
    named = pl.col("need").str.to_lowercase().str.split("/").list.eval(pl.element().str.strip_chars())
    if "aspect_term" not in mentions.columns:
        mentions = mentions.with_columns(pl.lit(None, pl.String).alias("aspect_term"))
    return (mentions.join(seeds, on="need", how="left")
            .with_columns(pl.concat_list(pl.col("aspect_term").str.to_lowercase(), named, pl.col("seed").fill_null([]))
                          .list.drop_nulls().list.filter(pl.element().str.len_chars() > 1).alias("terms"))
            .drop("seed"))


def _beta_columns(frame: pl.DataFrame, group: list[str], settings: OpportunitySettings, fallback_mean: float,
                  prefix: str = "negative_share") -> pl.DataFrame:
    """Posterior interval of negative/mentions per row, the prior fitted over the rows sharing `group` (`fallback_mean`
    where a group has one row)."""
    if frame.is_empty():
        return frame.with_columns(*(pl.lit(None, pl.Float64).alias(f"{prefix}{s}") for s in ("_estimate", "_low", "_high")))
    estimate, low, high = np.zeros(frame.height), np.zeros(frame.height), np.zeros(frame.height)
    indexed = frame.with_row_index("_i")
    for _, part in indexed.group_by(group):
        a, b = eb_beta_prior(part["negative"].to_numpy(), part["mentions"].to_numpy(), settings.prior_strength_min,
                             settings.prior_strength_max, fallback_mean)
        mean, lo, hi = beta_interval(part["negative"].to_numpy(), part["mentions"].to_numpy(), a, b)
        idx = part["_i"].to_numpy()
        estimate[idx], low[idx], high[idx] = mean, lo, hi
    return frame.with_columns(pl.Series(f"{prefix}_estimate", estimate), pl.Series(f"{prefix}_low", low), pl.Series(f"{prefix}_high", high))


def aspect_opportunities(mentions: pl.DataFrame, settings: OpportunitySettings, quotes: bool = True) -> pl.DataFrame:
    """Category-level and app-level rows of every aspect need (see the module docstring for the score)."""
    if mentions.is_empty():
        return pl.DataFrame(schema=OPPORTUNITY_SCHEMA)
    negative = pl.col("sentiment") == NEGATIVE

    def counts(keys: list[str]) -> pl.DataFrame:
        return mentions.group_by(keys).agg(
            pl.len().cast(pl.Int64).alias("mentions"), negative.sum().cast(pl.Int64).alias("negative"),
            (pl.col("sentiment") == POSITIVE).sum().cast(pl.Int64).alias("positive"),
            pl.col("app").n_unique().cast(pl.Int64).alias("apps"), *_helpful(settings, negative),
        ).with_columns((pl.col("negative") / pl.col("mentions")).alias("negative_share"),
                       (pl.col("positive") / pl.col("mentions")).alias("positive_share"))

    # normal for an aspect: its negative share in the rest of the corpus (all mentions where the rest is thin)
    totals = mentions.group_by("need").agg(pl.len().alias("_n_all"), negative.sum().alias("_k_all"))
    overall = float((mentions["sentiment"] == NEGATIVE).mean())

    def excess(frame: pl.DataFrame) -> pl.DataFrame:
        rest_n = pl.col("_n_all") - pl.col("mentions")
        rest = pl.when(rest_n >= settings.min_support).then((pl.col("_k_all") - pl.col("negative")) / rest_n).otherwise(overall)
        frame = frame.join(totals, on="need", how="left").with_columns(rest.clip(1e-3, 1.0).alias("baseline_negative_share"))
        base = pl.col("baseline_negative_share")
        return frame.with_columns((pl.col("negative_share_estimate") / base).alias("lift"), (pl.col("negative_share_low") / base).alias("lift_low"),
                                  (pl.col("negative_share_high") / base).alias("lift_high")).with_columns(
            pl.max_horizontal(pl.col("lift_low").log(), pl.lit(0.0)).alias("excess")).drop("_n_all", "_k_all")

    negatives = mentions.filter(negative)
    by_app = _beta_columns(counts(["category", "need", "app"]), ["category", "need"], settings, overall)
    by_app = by_app.with_columns((pl.col("mentions") < settings.min_support).alias("thin"))
    competing = by_app.filter(~pl.col("thin"))
    best = (competing.sort("negative_share_high", "app").group_by("category", "need", maintain_order=True)
            .agg(pl.col("app").first().alias("best_served_app"), pl.col("negative_share").first().alias("best_served_negative_share"),
                 pl.col("negative_share_estimate").first().alias("best_served_negative_share_estimate"),
                 pl.col("negative_share_low").first().alias("best_served_negative_share_low"),
                 pl.col("negative_share_high").first().alias("best_served_negative_share_high"),
                 pl.len().cast(pl.Int64).alias("competitors")))
    by_category = (_beta_columns(counts(["category", "need"]), ["need"], settings, overall)
                   .join(best, on=["category", "need"], how="left")
                   .join(_growth(negatives, mentions, ["category", "need"], settings), on=["category", "need"], how="left")
                   .with_columns(pl.col("competitors").fill_null(0), pl.col("growth_factor").fill_null(1.0),
                                 pl.col("recent").fill_null(0))
                   .with_columns(((pl.col("mentions") < settings.min_support) | (pl.col("apps") < settings.min_apps)).alias("thin")))
    by_category = excess(by_category)
    score = pl.col("negative").log1p() * pl.col("excess") * pl.col("growth_factor") * pl.col("helpful_weight")
    by_category = by_category.with_columns(score.alias("score"), pl.lit(CATEGORY_LEVEL).alias("level"), pl.lit(None, pl.String).alias("app"))
    by_app = excess(by_app.join(_growth(negatives, mentions, ["category", "need", "app"], settings), on=["category", "need", "app"],
                                how="left").with_columns(pl.col("growth_factor").fill_null(1.0), pl.col("recent").fill_null(0)))
    by_app = by_app.with_columns(score.alias("score"), pl.lit(APP_LEVEL).alias("level"))
    rows = pl.concat([by_category, by_app], how="diagonal_relaxed")
    if quotes:
        rows = _with_quotes(rows, _with_terms(negatives), settings, ["helpful", "confidence"])
    return _finish(rows.with_columns(pl.lit(ASPECT).alias("kind")))


def _with_quotes(rows: pl.DataFrame, texts: pl.DataFrame, settings: OpportunitySettings, order: list[str]) -> pl.DataFrame:
    """Category rows quoted from all their texts, app rows from their app's, each in `order` (descending), then by review."""
    order, descending = [*order, *REVIEW_KEY], [True] * len(order) + [False] * len(REVIEW_KEY)
    return pl.concat([
        rows.filter(pl.col("level") == level).join(_quotes(texts, keys, settings, order, descending), on=keys, how="left")
        for level, keys in ((CATEGORY_LEVEL, ["category", "need"]), (APP_LEVEL, ["category", "need", "app"]))
    ], how="diagonal_relaxed")


def spherical_kmeans(vectors: np.ndarray, k: int, seed: int = 0, iterations: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Cluster L2-normalised rows by cosine similarity (k-means++ start); returns (labels, unit centroids)."""
    rng = np.random.default_rng(seed)
    n = len(vectors)
    k = max(1, min(k, n))
    centres = [vectors[rng.integers(n)]]
    for _ in range(1, k):
        distance = np.clip(1 - np.max(vectors @ np.array(centres).T, axis=1), 0, None)
        total = distance.sum()
        centres.append(vectors[rng.choice(n, p=distance / total)] if total > 0 else vectors[rng.integers(n)])
    centroids = np.array(centres)
    labels = np.zeros(n, dtype=np.int64)
    for _ in range(iterations):
        new_labels = np.argmax(vectors @ centroids.T, axis=1)
        if _ and np.array_equal(new_labels, labels):
            break
        labels = new_labels
        for j in range(k):
            members = vectors[labels == j]
            if len(members):
                centre = members.sum(axis=0)
                centroids[j] = centre / max(np.linalg.norm(centre), 1e-12)
    return labels, centroids


_WORD = r"[a-z][a-z']{2,}"


def _words(texts: pl.Expr) -> pl.Expr:
    return texts.str.to_lowercase().str.replace_all("[\u2018\u2019]", "'").str.extract_all(_WORD)


def app_words(requests: pl.DataFrame, app_names: list[str], share: float = 0.8, min_count: int = 3) -> set[str]:
    """Words that name an app rather than a need: the words of the apps' own names, and words whose occurrences in
    the requests come (at least `share` of them, `min_count` or more) from one app's users while several apps ask."""
    names = {w for name in app_names for w in re.findall(r"[a-z][a-z0-9']+", str(name).lower()) if len(w) > 2}
    if requests.is_empty() or requests["app"].n_unique() < 3:
        return names
    # a word counts once per request that holds it
    words = (requests.with_row_index("_request").select("_request", "app", _words(pl.col("text")).alias("word")).explode("word")
             .drop_nulls("word").unique())
    per_app = words.group_by("word", "app").len("n").group_by("word").agg(pl.col("n").sum().alias("total"), pl.col("n").max().alias("top"))
    concentrated = per_app.filter((pl.col("total") >= min_count) & (pl.col("top") >= share * pl.col("total")))["word"]
    return names | set(concentrated.to_list())


def theme_keywords(texts: list[str], labels: np.ndarray, words: int, stopwords: set[str]) -> dict[int, list[str]]:
    """Each cluster's most distinctive words (class-based TF-IDF over the clusters)."""
    tokens = pl.DataFrame({"cluster": labels, "text": texts}).select("cluster", _words(pl.col("text")).alias("word")).explode(
        "word").filter(pl.col("word").is_not_null() & ~pl.col("word").is_in(list(stopwords)))
    if tokens.is_empty():
        return {int(c): [] for c in np.unique(labels)}
    per_cluster = tokens.group_by("cluster", "word").len("tf")
    totals = per_cluster.group_by("word").agg(pl.col("tf").sum().alias("total"))
    mean_words = per_cluster.group_by("cluster").agg(pl.col("tf").sum())["tf"].mean()
    scored = per_cluster.join(totals, on="word").with_columns((pl.col("tf") * (1 + mean_words / pl.col("total")).log()).alias("weight"))
    top = scored.sort(["cluster", "weight", "word"], descending=[False, True, False]).group_by("cluster", maintain_order=True).head(words)
    named = dict(top.group_by("cluster").agg(pl.col("word")).iter_rows())
    return {int(c): list(named.get(int(c), [])) for c in np.unique(labels)}


#: what follows these in a request clause is the thing asked for ("please add >dark mode for the home screen<")
_ASK = re.compile(
    r"\b(?:please (?:just |also )?(?:add|make|bring back|include|give us|let us|allow|put|create|fix)|(?:i|we) wish (?:there (?:was|were|is)"
    r"|(?:it|you|they) (?:had|would|could|has)|i could|we could|for)?|would (?:be )?(?:so |really |very )?(?:nice|great|cool|awesome"
    r"|helpful|useful|better) (?:if (?:you|they|it|there|we|i) (?:could |would |can )?(?:add(?:ed)?|had|have|has|was|were|made|make|let|allowed)?"
    r"|to (?:have|see|be able to))|(?:would|i'd|id) (?:really )?(?:love|like) (?:to (?:see|have|be able to)|it if|if|an?|more|the)"
    r"|should (?:add|have|include|make|let|allow|bring back)|(?:needs?|want) (?:an?|more|to add|the option to|the ability to)"
    r"|bring back|(?:an?|the) option to|ability to|(?:can|could) you (?:please )?(?:add|make|include|bring back))\s+([^.!?,;:\n()]{3,80})",
    re.IGNORECASE)
_TRAILING = frozenset({"a", "an", "the", "and", "or", "but", "so", "to", "for", "of", "in", "on", "with", "that", "this", "it", "is",
                       "be", "if", "my", "your", "i", "you"})


def request_phrase(text: str, max_words: int = 7) -> str | None:
    """The thing a request asks for, as a short phrase ("dark mode for the home screen"), or None."""
    match = _ASK.search(text.replace("\u2019", "'"))
    if not match:
        return None
    words = match.group(1).strip().split()[:max_words]
    while words and words[-1].lower() in _TRAILING:
        words.pop()
    if len(words) > 1 and words[0].lower() in {"a", "an", "the", "some"}:
        words.pop(0)
    return " ".join(words).lower() if len(words) >= 2 or (words and len(words[0]) > 3) else None


def _theme_title(texts: list[str], closeness: np.ndarray, keywords: list[str]) -> str | None:
    """A short representative request phrase: of the phrases of the members closest to the centre, the one holding the
    most key words (then the shortest, then the closest); None where no phrase holds one (the key words name the theme)."""
    best, best_key = None, (0, 0)
    for i in np.argsort(-closeness)[:40]:
        phrase = request_phrase(texts[i])
        if phrase is None:
            continue
        hits = sum(1 for w in keywords if re.search(rf"\b{re.escape(w)}\b", phrase))
        key = (hits, -len(phrase.split()))
        if hits and key > best_key:
            best, best_key = phrase, key
    return best


def theme_requests(requests: pl.DataFrame, embed: Callable[[list[str]], np.ndarray], stopwords: set[str], settings: OpportunitySettings,
                   app_names: list[str] | None = None) -> pl.DataFrame:
    """Requests (a seeded sample of at most `max_requests`) clustered into themes: columns `need` (a representative
    request phrase, or the key words), `keywords`, `terms` (the key words, for quotes), `closeness` to the theme centre."""
    if requests.height < settings.min_theme_requests:
        return requests.clear().with_columns(pl.lit(None, pl.String).alias("need"), pl.lit(None, pl.String).alias("keywords"),
                                             pl.lit(None, pl.List(pl.String)).alias("terms"), pl.lit(None, pl.Float64).alias("closeness"))
    sampled = requests.sample(settings.max_requests, seed=0) if requests.height > settings.max_requests else requests
    texts = sampled["text"].fill_null("").to_list()
    vectors = embed(texts)
    k = min(settings.themes, max(1, sampled.height // settings.min_theme_requests))
    labels, centroids = spherical_kmeans(vectors, k)
    closeness = np.einsum("ij,ij->i", vectors, centroids[labels])
    excluded = stopwords | set(REQUEST_WORDS) | app_words(sampled, list(app_names or sampled["app"].unique().to_list()),
                                                          settings.app_word_share)
    keywords = theme_keywords(texts, labels, settings.theme_words, excluded)
    names: dict[int, str] = {}
    seen: dict[str, int] = {}
    for cluster in sorted(keywords):
        members = np.flatnonzero(labels == cluster)
        title = _theme_title([texts[i] for i in members], closeness[members], keywords[cluster])
        name = title or " · ".join(keywords[cluster]) or f"theme {cluster + 1}"
        # several clusters can share a name; the cluster number keeps them apart
        seen[name] = seen.get(name, 0) + 1
        names[cluster] = name if seen[name] == 1 else f"{name} ({seen[name]})"
    return sampled.with_columns(
        pl.Series("need", [names[int(c)] for c in labels], dtype=pl.String),
        pl.Series("keywords", [" · ".join(keywords[int(c)]) for c in labels], dtype=pl.String),
        pl.Series("terms", [keywords[int(c)] for c in labels], dtype=pl.List(pl.String)),
        pl.Series("closeness", closeness, dtype=pl.Float64),
        pl.lit(requests.height if sampled.height < requests.height else None, pl.Int64).alias("sampled_from"))


def score_themes(themed: pl.DataFrame, settings: OpportunitySettings, all_reviews: pl.DataFrame | None = None,
                 quotes: bool = True) -> pl.DataFrame:
    """Category-level and app-level rows of the themes of :func:`theme_requests`, scored like aspect needs.

    `all_reviews` (review meta of every review: category, app, month) gives each category's app count and the recent-window
    baseline; without it the requests themselves do.
    """
    if themed.is_empty():
        return pl.DataFrame(schema=OPPORTUNITY_SCHEMA)
    context = all_reviews if all_reviews is not None else themed
    apps_in_category = context.group_by("category").agg(pl.col("app").n_unique().cast(pl.Int64).alias("competitors"))

    def counts(keys: list[str]) -> pl.DataFrame:
        return themed.group_by(keys).agg(pl.len().cast(pl.Int64).alias("mentions"), *_helpful(settings),
                                         pl.col("app").n_unique().cast(pl.Int64).alias("apps_asking"),
                                         pl.col("keywords").first(), pl.col("sampled_from").first())

    by_category = (counts(["category", "need"]).join(apps_in_category, on="category", how="left")
                   .with_columns(pl.col("competitors").fill_null(pl.col("apps_asking")))
                   .join(_growth(themed, context, ["category", "need"], settings), on=["category", "need"], how="left")
                   .with_columns(pl.col("growth_factor").fill_null(1.0), pl.col("recent").fill_null(0), pl.col("apps_asking").alias("apps")))
    spread_low, _ = wilson_interval(by_category["apps_asking"].to_numpy(), by_category["competitors"].to_numpy())
    by_category = by_category.with_columns(pl.Series("apps_share_low", spread_low)).with_columns(
        pl.col("apps_share_low").alias("excess"),
        ((pl.col("mentions") < settings.min_support) | (pl.col("apps_asking") < settings.min_apps)).alias("thin"),
        (pl.col("mentions").log1p() * pl.col("apps_share_low") * pl.col("growth_factor") * pl.col("helpful_weight")).alias("score"),
        pl.lit(CATEGORY_LEVEL).alias("level"), pl.lit(None, pl.String).alias("app"))
    by_app = (counts(["category", "need", "app"])
              .join(_growth(themed, context, ["category", "need", "app"], settings), on=["category", "need", "app"], how="left")
              .with_columns(pl.col("growth_factor").fill_null(1.0), pl.col("recent").fill_null(0), pl.lit(1, pl.Int64).alias("apps"))
              .with_columns((pl.col("mentions").log1p() * pl.col("growth_factor") * pl.col("helpful_weight")).alias("score"),
                            (pl.col("mentions") < settings.min_support).alias("thin"), pl.lit(APP_LEVEL).alias("level")))
    rows = pl.concat([by_category, by_app], how="diagonal_relaxed")
    if quotes:
        rows = _with_quotes(rows, themed, settings, ["closeness", "helpful"])
    return _finish(rows.with_columns(pl.lit(FEATURE_REQUEST).alias("kind")))


def feature_request_themes(requests: pl.DataFrame, embed: Callable[[list[str]], np.ndarray], stopwords: set[str],
                           settings: OpportunitySettings, all_reviews: pl.DataFrame | None = None) -> pl.DataFrame:
    """Feature requests clustered into themes (:func:`theme_requests`) and scored (:func:`score_themes`)."""
    names = (all_reviews if all_reviews is not None else requests)["app"].unique().to_list() if requests.height else []
    return score_themes(theme_requests(requests, embed, stopwords, settings, names), settings, all_reviews)


def _finish(rows: pl.DataFrame) -> pl.DataFrame:
    for column, dtype in OPPORTUNITY_SCHEMA.items():
        if column not in rows.columns:
            rows = rows.with_columns(pl.lit(None, dtype).alias(column))
    return rows.select([pl.col(c).cast(t) for c, t in OPPORTUNITY_SCHEMA.items()])


def market_opportunities(aspects: pl.DataFrame, themes: pl.DataFrame) -> pl.DataFrame:
    """Both kinds of need in one table. Category-level rows with enough evidence (not ``thin``) and a signal above
    normal (score > 0) are ranked by score (1 = the biggest unmet need); the others stay unranked."""
    rows = pl.concat([aspects, themes]).sort(["level", "thin", "score", "category", "need"], descending=[False, False, True, False, False],
                                             nulls_last=True)
    rankable = (pl.col("level") == CATEGORY_LEVEL) & ~pl.col("thin").fill_null(False) & (pl.col("score") > 0)
    ranked = pl.when(rankable).then(pl.col("score").rank("ordinal", descending=True).over(rankable)).cast(pl.Int64)
    return rows.with_columns(ranked.alias("rank")).select(list(OPPORTUNITY_SCHEMA))


# ------------------------------------------------------------------------------------------------------------ stability

NEED_KEY = ["kind", "category", "need"]


def _bootstrap_weights(apps: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """How often each review is drawn when every app's reviews are resampled with replacement (apps: app code per review,
    sorted)."""
    n = len(apps)
    if not n:
        return np.zeros(0, dtype=np.int64)
    starts = np.searchsorted(apps, apps, side="left")
    sizes = np.searchsorted(apps, apps, side="right") - starts
    draws = starts + (rng.random(n) * sizes).astype(np.int64)
    return np.bincount(draws, minlength=n)


def ranking_stability(mentions: pl.DataFrame, themed: pl.DataFrame, settings: OpportunitySettings, *, all_reviews: pl.DataFrame | None = None,
                      resamples: int = 100, seed: int = 0, top: int | None = None) -> tuple[pl.DataFrame, list[float]]:
    """Bootstrap the reviews within each app, recompute the ranking (themes keep their clusters), and measure its stability.

    Returns (per ranked need of the full data: `top_share`, the share of resamples in which it is in the top `top`;
    the overlap of each resample's top `top` with the full data's, one value per resample).
    """
    top = top or settings.stability_top

    def ranking(m: pl.DataFrame, t: pl.DataFrame) -> pl.DataFrame:
        table = market_opportunities(aspect_opportunities(m, settings, quotes=False), score_themes(t, settings, all_reviews, quotes=False))
        return table.filter(pl.col("rank").is_not_null() & (pl.col("rank") <= top)).select(NEED_KEY)

    full = ranking(mentions, themed)
    keys = pl.concat([mentions.select(*REVIEW_KEY, "app"), themed.select(*REVIEW_KEY, "app")]).unique(REVIEW_KEY).sort("app", *REVIEW_KEY)
    codes = keys["app"].rank("dense").to_numpy().astype(np.int64)
    keys = keys.with_row_index("_review")
    m_idx = mentions.join(keys.select(*REVIEW_KEY, "_review"), on=REVIEW_KEY, how="left", maintain_order="left")["_review"].to_numpy()
    t_idx = themed.join(keys.select(*REVIEW_KEY, "_review"), on=REVIEW_KEY, how="left", maintain_order="left")["_review"].to_numpy()
    rng = np.random.default_rng(seed)
    counts: dict[tuple, int] = {}
    overlaps: list[float] = []
    full_keys = set(full.iter_rows())
    for _ in range(resamples):
        weights = _bootstrap_weights(codes, rng)
        m = mentions[np.repeat(np.arange(mentions.height), weights[m_idx])] if mentions.height else mentions
        t = themed[np.repeat(np.arange(themed.height), weights[t_idx])] if themed.height else themed
        drawn = set(ranking(m, t).iter_rows())
        for key in drawn:
            counts[key] = counts.get(key, 0) + 1
        overlaps.append(len(drawn & full_keys) / max(len(full_keys), 1))
    shares = pl.DataFrame([(*k, v / max(resamples, 1)) for k, v in counts.items()],
                          schema={"kind": pl.String, "category": pl.String, "need": pl.String, "top_share": pl.Float64}, orient="row")
    return shares, overlaps


def with_stability(table: pl.DataFrame, shares: pl.DataFrame) -> pl.DataFrame:
    """The table with `stability` (share of resamples in the top 10) on its ranked rows; 0 where never drawn there."""
    return table.drop("stability").join(shares.rename({"top_share": "stability"}), on=NEED_KEY, how="left").with_columns(
        pl.when(pl.col("rank").is_not_null()).then(pl.col("stability").fill_null(0.0))).select(list(OPPORTUNITY_SCHEMA))


# --------------------------------------------------------------------------------------------------------------- words


def score_formula() -> str:
    return "score = ln(1 + negative mentions) × excess × growth × helpful"


def _interval(low: float | None, high: float | None, fmt: Callable[[float], str]) -> str:
    if low is None or high is None or (isinstance(low, float) and math.isnan(low)):
        return ""
    return f" [{fmt(low)}–{fmt(high)}]"


def describe_growth(growth: float | None, low: float | None = None, high: float | None = None) -> str:
    """Growth in words with its interval: "growing ×1.8 [1.3–2.4]" only where the whole interval lies above 1."""
    if growth is None or (isinstance(growth, float) and math.isnan(growth)):
        return "steady (no dated mentions)"
    interval = _interval(low, high, lambda v: f"{v:.2f}")
    if low is not None and low > 1:
        return f"growing ×{growth:.2f}{interval}"
    if high is not None and high < 1:
        return f"shrinking ×{growth:.2f}{interval}"
    return f"no clear trend ×{growth:.2f}{interval}"


# ------------------------------------------------------------------------------------------------------------- the whole


@dataclass
class Market:
    """Everything the table, the report and the stability benchmark are computed from."""

    table: pl.DataFrame
    mentions: pl.DataFrame
    requests: pl.DataFrame
    themed: pl.DataFrame
    reviews: pl.DataFrame  # review meta of every clean review
    overlaps: list[float]


REVIEW_COLUMNS = ["dump_id", "review_id", "app_id", "app_name", "category", "date", "vote_sum"]


def build_market(predictions: pl.DataFrame, clean_reviews: pl.DataFrame, embed: Callable[[list[str]], np.ndarray], stopwords: set[str],
                 settings: OpportunitySettings, stability_resamples: int | None = None, seed: int = 0) -> Market:
    """`market_opportunities` from `review_predictions` and `clean_reviews`: aspect needs, request themes, the ranking and
    (`stability_resamples`, default the setting's; 0 skips it) each ranked need's stability under bootstrap resampling."""
    reviews = clean_reviews.select(REVIEW_COLUMNS)
    meta = review_meta(reviews, settings)
    mentions, requests = mention_frame(predictions, reviews, settings), request_frame(predictions, reviews, settings)
    themed = theme_requests(requests, embed, stopwords, settings, meta["app"].unique().to_list())
    table = market_opportunities(aspect_opportunities(mentions, settings), score_themes(themed, settings, meta))
    resamples = settings.stability_resamples if stability_resamples is None else stability_resamples
    overlaps: list[float] = []
    if resamples:
        shares, overlaps = ranking_stability(mentions, themed, settings, all_reviews=meta, resamples=resamples, seed=seed)
        table = with_stability(table, shares)
    return Market(table, mentions, requests, themed, meta, overlaps)
