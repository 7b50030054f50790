"""Market opportunities from model-scored reviews: what users of a category complain about and ask for.

Pure functions (no Dagster, no files) from `review_predictions` and `clean_reviews` to

* :func:`mention_frame` — one row per scored aspect mention with its app, app category, month and helpful votes;
* :func:`monthly_trend` — mentions and negative share per (category, need, month);
* :func:`aspect_opportunities` — per category and per app: share of negative/positive mentions by aspect, growth,
  helpful votes, representative (PII-masked) complaints and the opportunity score;
* :func:`feature_request_themes` — reviews the detector calls feature requests, clustered on their embeddings into
  themes named by their most distinctive words, scored the same way;
* :func:`market_opportunities` — both, ranked.

The opportunity score (higher = a bigger unmet need) multiplies four factors, each documented in
:class:`OpportunitySettings`:

    score = volume × unmet × growth × helpful

* volume  = ln(1 + negative mentions)   (for a feature theme: ln(1 + requests))
* unmet   = negative share of the need at the *best-served* competing app of the category (apps with at least
            `min_mentions` mentions of it); a need is unmet only when even the best app leaves its users unhappy.
            For a feature theme: the share of the category's apps whose users ask for it (asked everywhere = nobody has it).
* growth  = the need's negative mentions in the last `recent_months` months of each app's own data, over the number
            expected there had they followed each app's whole review flow (per app: the need's mentions × the share of
            the app's mentions in its window), clipped to [growth_floor, growth_cap]; 1 when nothing is expected.
            Windows are per app because exports of different apps end at different dates.
* helpful = 1 + ln(1 + mean helpful votes of the negative mentions (requests)).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import polars as pl

from genai_lab.settings import StrictConfig
from genai_lab.text.rules import mask_pii

NEGATIVE, POSITIVE = "negative", "positive"
ASPECT, FEATURE_REQUEST = "aspect", "feature_request"
CATEGORY_LEVEL, APP_LEVEL = "category", "app"
# a review id is unique only within its dump (ingest keys reviews the same way)
REVIEW_KEY = ["dump_id", "review_id"]

# Words that say a review asks for something but not *what*: never a theme's name.
REQUEST_WORDS = (
    "please add would could should like love wish want need needs option options feature features app apps really great nice "
    "good make makes able also just get use using update version thing things way much even still one new time add adding "
    "now fix back don't can't won't doesn't didn't isn't i'm it's"
).split()


class OpportunitySettings(StrictConfig):
    """How needs are found, scored and quoted."""

    #: months at the end of the data that count as "recent" for growth
    recent_months: int = 3
    growth_floor: float = 0.5
    growth_cap: float = 2.0
    #: an app's side of a need counts (as a competitor, or as a row of its own) only with this many mentions
    min_mentions: int = 20
    #: representative quotes per need: the most helpful, then most confident, of a readable length
    quotes: int = 2
    quote_min_chars: int = 30
    quote_max_chars: int = 240
    #: feature-request themes: at most this many clusters, each of at least `min_theme_requests` requests
    themes: int = 12
    min_theme_requests: int = 5
    #: a seeded sample of at most this many requests is embedded (the counts are of the sample, and say so)
    max_requests: int = 10_000
    theme_words: int = 3
    embed_max_length: int = 64
    #: the report: rows of the ranking, and categories with a section of their own (by volume)
    top_needs: int = 15
    report_categories: int = 6
    uncategorised: str = "Uncategorised"


OPPORTUNITY_SCHEMA = {
    "kind": pl.String, "level": pl.String, "category": pl.String, "app": pl.String, "need": pl.String,
    "mentions": pl.Int64, "negative": pl.Int64, "positive": pl.Int64, "negative_share": pl.Float64, "positive_share": pl.Float64,
    # competitors: apps of the category with a say in the need (aspects: enough mentions of it; themes: every app of the
    # category); apps_asking (themes only): the apps whose users asked for it
    "growth": pl.Float64, "helpful_votes_mean": pl.Float64, "competitors": pl.Int64, "apps_asking": pl.Int64, "best_served_app": pl.String,
    "best_served_negative_share": pl.Float64, "score": pl.Float64, "rank": pl.Int64, "quotes": pl.List(pl.String),
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
    """Scored aspect mentions with their review's app, category, month and helpful votes."""
    aspects = predictions.filter((pl.col("level") == ASPECT) & pl.col("sentiment").is_not_null()).select(
        *REVIEW_KEY, pl.col("aspect_category").alias("need"), "text", "sentiment", "confidence")
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


def _growth(rows: pl.DataFrame, all_rows: pl.DataFrame, keys: list[str], settings: OpportunitySettings) -> pl.DataFrame:
    """growth per `keys` group of `rows` (the need's counted mentions): its recent mentions over the number expected.

    "Recent" is the last `recent_months` months of each *app's* own data: exports of different apps end at different
    dates, and a window at the end of the category would hold only the app scraped last, so a need would "grow"
    wherever that app's users complain about it. Expected is, per app, the need's mentions times the share of all the
    app's mentions that are recent (indirect standardisation), summed over the group's apps: a need as steady as
    its apps' review flow has growth 1 whatever the apps' export dates and sizes.
    """
    window = ["category", "app"]
    starts = all_rows.filter(pl.col("month").is_not_null()).group_by(window).agg(
        pl.col("month").max().dt.offset_by(f"-{max(settings.recent_months - 1, 0)}mo").alias("recent_start"))
    recent = (pl.col("month") >= pl.col("recent_start")).fill_null(False)
    baseline = all_rows.join(starts, on=window, how="inner").group_by(window).agg(recent.mean().alias("baseline"))
    need = rows.join(starts, on=window, how="left").join(baseline, on=window, how="left")
    return need.group_by(keys).agg(recent.sum().alias("observed"), pl.col("baseline").fill_null(0).sum().alias("expected")).select(
        *keys,
        pl.when(pl.col("expected") > 0).then(pl.col("observed") / pl.col("expected")).otherwise(1.0)
        .clip(settings.growth_floor, settings.growth_cap).alias("growth"))


def _helpful_factor(mean_votes: pl.Expr) -> pl.Expr:
    return 1 + mean_votes.fill_null(0).log1p()


def _quotes(rows: pl.DataFrame, keys: list[str], settings: OpportunitySettings, order: list[str], descending: list[bool]) -> pl.DataFrame:
    """The first `settings.quotes` readable texts of each group in `order`, PII-masked, as a list per group."""
    picked = (rows.filter(pl.col("text").str.len_chars().is_between(settings.quote_min_chars, settings.quote_max_chars))
              .sort(order, descending=descending)
              # a sentence with two mentions of one need is one quote, not two
              .unique(subset=[*keys, "text"], keep="first", maintain_order=True)
              .group_by(keys, maintain_order=True).head(settings.quotes))
    picked = picked.with_columns(mask_pii(picked["text"]).alias("text"))
    return picked.group_by(keys, maintain_order=True).agg(pl.col("text").alias("quotes"))


def aspect_opportunities(mentions: pl.DataFrame, settings: OpportunitySettings) -> pl.DataFrame:
    """Category-level and app-level rows of every aspect need (see the module docstring for the score)."""
    if mentions.is_empty():
        return pl.DataFrame(schema=OPPORTUNITY_SCHEMA)
    negative = pl.col("sentiment") == NEGATIVE

    def counts(keys: list[str]) -> pl.DataFrame:
        return mentions.group_by(keys).agg(
            pl.len().cast(pl.Int64).alias("mentions"), negative.sum().cast(pl.Int64).alias("negative"),
            (pl.col("sentiment") == POSITIVE).sum().cast(pl.Int64).alias("positive"),
            pl.col("helpful").filter(negative).mean().alias("helpful_votes_mean"),
        ).with_columns((pl.col("negative") / pl.col("mentions")).alias("negative_share"),
                       (pl.col("positive") / pl.col("mentions")).alias("positive_share"))

    negatives = mentions.filter(negative)
    by_app = counts(["category", "need", "app"])
    competing = by_app.filter(pl.col("mentions") >= settings.min_mentions)
    best = (competing.sort("negative_share", "app").group_by("category", "need", maintain_order=True)
            .agg(pl.col("app").first().alias("best_served_app"), pl.col("negative_share").first().alias("best_served_negative_share"),
                 pl.len().cast(pl.Int64).alias("competitors")))
    by_category = (counts(["category", "need"]).join(best, on=["category", "need"], how="left")
                   .join(_growth(negatives, mentions, ["category", "need"], settings), on=["category", "need"], how="left")
                   .with_columns(pl.col("competitors").fill_null(0), pl.col("growth").fill_null(1.0)))
    # with no app above min_mentions, the category's own share stands in for the best-served one
    unmet = pl.coalesce(pl.col("best_served_negative_share"), pl.col("negative_share"))
    by_category = by_category.with_columns(
        (pl.col("negative").log1p() * unmet * pl.col("growth") * _helpful_factor(pl.col("helpful_votes_mean"))).alias("score"),
        pl.lit(CATEGORY_LEVEL).alias("level"), pl.lit(None, pl.String).alias("app"))
    by_app = (competing.join(_growth(negatives, mentions, ["category", "need", "app"], settings),
                             on=["category", "need", "app"], how="left")
              .with_columns(pl.col("growth").fill_null(1.0))
              .with_columns((pl.col("negative").log1p() * pl.col("negative_share") * pl.col("growth")
                             * _helpful_factor(pl.col("helpful_votes_mean"))).alias("score"),
                            pl.lit(APP_LEVEL).alias("level")))
    order, descending = ["helpful", "confidence", *REVIEW_KEY], [True, True, False, False]
    quotes_by_category = _quotes(negatives, ["category", "need"], settings, order, descending)
    quotes_by_app = _quotes(negatives, ["category", "need", "app"], settings, order, descending)
    rows = pl.concat([
        by_category.join(quotes_by_category, on=["category", "need"], how="left"),
        by_app.join(quotes_by_app, on=["category", "need", "app"], how="left"),
    ], how="diagonal_relaxed")
    return _finish(rows.with_columns(pl.lit(ASPECT).alias("kind")))


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


def theme_names(texts: list[str], labels: np.ndarray, words: int, stopwords: set[str]) -> dict[int, str]:
    """Each cluster named by its most distinctive words (class-based TF-IDF over the clusters)."""
    tokens = pl.DataFrame({"cluster": labels, "text": texts}).select(
        "cluster", pl.col("text").str.to_lowercase().str.replace_all("[\u2018\u2019]", "'").str.extract_all(r"[a-z][a-z']{2,}")
        .alias("word")).explode("word").filter(
        pl.col("word").is_not_null() & ~pl.col("word").is_in(list(stopwords)))
    if tokens.is_empty():
        return {int(c): f"theme {int(c) + 1}" for c in np.unique(labels)}
    per_cluster = tokens.group_by("cluster", "word").len("tf")
    totals = per_cluster.group_by("word").agg(pl.col("tf").sum().alias("total"))
    mean_words = per_cluster.group_by("cluster").agg(pl.col("tf").sum())["tf"].mean()
    scored = per_cluster.join(totals, on="word").with_columns(
        (pl.col("tf") * (1 + mean_words / pl.col("total")).log()).alias("weight"))
    top = scored.sort(["cluster", "weight", "word"], descending=[False, True, False]).group_by("cluster", maintain_order=True).head(words)
    names = top.group_by("cluster").agg(pl.col("word").str.join(" · ").alias("name"))
    named = dict(names.iter_rows())
    return {int(c): named.get(int(c), f"theme {int(c) + 1}") for c in np.unique(labels)}


def feature_request_themes(requests: pl.DataFrame, embed: Callable[[list[str]], np.ndarray], stopwords: set[str],
                           settings: OpportunitySettings, all_reviews: pl.DataFrame | None = None) -> pl.DataFrame:
    """Feature requests clustered into themes; category-level and app-level rows scored like aspect needs.

    `all_reviews` (review meta of every review: category, app, month) gives each category's app count and the recent-window
    baseline; without it the requests themselves do.
    """
    if requests.height < settings.min_theme_requests:
        return pl.DataFrame(schema=OPPORTUNITY_SCHEMA)
    sampled = requests.sample(settings.max_requests, seed=0) if requests.height > settings.max_requests else requests
    texts = sampled["text"].fill_null("").to_list()
    vectors = embed(texts)
    k = min(settings.themes, max(1, sampled.height // settings.min_theme_requests))
    labels, centroids = spherical_kmeans(vectors, k)
    names = theme_names(texts, labels, settings.theme_words, stopwords | set(REQUEST_WORDS))
    # several clusters can share a name; the cluster number keeps them apart
    seen: dict[str, int] = {}
    for cluster in sorted(names):
        seen[names[cluster]] = seen.get(names[cluster], 0) + 1
        if seen[names[cluster]] > 1:
            names[cluster] = f"{names[cluster]} ({seen[names[cluster]]})"
    closeness = np.einsum("ij,ij->i", vectors, centroids[labels])
    themed = sampled.with_columns(pl.Series("need", [names[int(c)] for c in labels]), pl.Series("closeness", closeness))
    context = all_reviews if all_reviews is not None else themed
    apps_in_category = context.group_by("category").agg(pl.col("app").n_unique().alias("apps_in_category"))

    def counts(keys: list[str]) -> pl.DataFrame:
        return themed.group_by(keys).agg(pl.len().cast(pl.Int64).alias("mentions"), pl.col("helpful").mean().alias("helpful_votes_mean"),
                                         pl.col("app").n_unique().alias("apps_asking"))

    by_category = (counts(["category", "need"]).join(apps_in_category, on="category", how="left")
                   .join(_growth(themed, context, ["category", "need"], settings), on=["category", "need"], how="left")
                   .with_columns(pl.col("growth").fill_null(1.0),
                                 (pl.col("apps_asking") / pl.col("apps_in_category").fill_null(pl.col("apps_asking"))).alias("spread"))
                   .with_columns((pl.col("mentions").log1p() * pl.col("spread") * pl.col("growth")
                                  * _helpful_factor(pl.col("helpful_votes_mean"))).alias("score"),
                                 pl.col("apps_in_category").cast(pl.Int64).alias("competitors"),
                                 pl.lit(CATEGORY_LEVEL).alias("level"), pl.lit(None, pl.String).alias("app")))
    by_app = (counts(["category", "need", "app"]).filter(pl.col("mentions") >= settings.min_theme_requests)
              .join(_growth(themed, context, ["category", "need", "app"], settings), on=["category", "need", "app"], how="left")
              .with_columns(pl.col("growth").fill_null(1.0))
              .with_columns((pl.col("mentions").log1p() * pl.col("growth") * _helpful_factor(pl.col("helpful_votes_mean"))).alias("score"),
                            pl.lit(APP_LEVEL).alias("level")))
    order, descending = ["closeness", "helpful", *REVIEW_KEY], [True, True, False, False]
    rows = pl.concat([
        by_category.join(_quotes(themed, ["category", "need"], settings, order, descending), on=["category", "need"], how="left"),
        by_app.join(_quotes(themed, ["category", "need", "app"], settings, order, descending), on=["category", "need", "app"], how="left"),
    ], how="diagonal_relaxed").drop("apps_in_category", "spread", strict=False)
    sampled_from = requests.height if sampled.height < requests.height else None
    return _finish(rows.with_columns(pl.lit(FEATURE_REQUEST).alias("kind"), pl.lit(sampled_from, pl.Int64).alias("sampled_from")))


def _finish(rows: pl.DataFrame) -> pl.DataFrame:
    for column, dtype in OPPORTUNITY_SCHEMA.items():
        if column not in rows.columns:
            rows = rows.with_columns(pl.lit(None, dtype).alias(column))
    return rows.select([pl.col(c).cast(t) for c, t in OPPORTUNITY_SCHEMA.items()])


def market_opportunities(aspects: pl.DataFrame, themes: pl.DataFrame) -> pl.DataFrame:
    """Both kinds of need in one table; category-level rows ranked by score (1 = the biggest unmet need), app rows unranked."""
    rows = pl.concat([aspects, themes]).sort(["level", "score", "category", "need"], descending=[False, True, False, False], nulls_last=True)
    ranked = pl.when(pl.col("level") == CATEGORY_LEVEL).then(
        pl.col("score").rank("ordinal", descending=True).over("level")).cast(pl.Int64)
    return rows.with_columns(ranked.alias("rank")).select(list(OPPORTUNITY_SCHEMA))


def score_formula() -> str:
    return "score = ln(1 + negative mentions) × unmet × growth × (1 + ln(1 + mean helpful votes))"


def describe_growth(growth: float | None, settings: OpportunitySettings | None = None) -> str:
    """Growth in words; a value clipped at `growth_cap` / `growth_floor` says so, since the need may grow (shrink) far more."""
    settings = settings or OpportunitySettings()
    if growth is None or math.isnan(growth):
        return "steady"
    if growth > 1.1:
        return f"growing ×{growth:.2f}" + (" or more (the cap)" if growth >= settings.growth_cap else "")
    if growth < 0.9:
        return f"shrinking ×{growth:.2f}" + (" or less (the floor)" if growth <= settings.growth_floor else "")
    return "steady"
