"""The data-preparation core: raw rows -> typed reviews -> quality flags -> clean and rejected rows.

Plain functions over polars frames; the Dagster assets in `genai_lab.assets.prep` only wire them.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import polars as pl

from genai_lab.text.language import LanguageSettings, detect_language
from genai_lab.text.rules import (
    CHECK_BY_NAME,
    CHECKS,
    DIMENSIONS,
    DROP_PRIORITY,
    RuleSettings,
    add_scan_columns,
    normalise_whitespace,
    strip_placeholders,
)

# Formats seen in exports; naive timestamps are taken as UTC.
_AWARE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%#z", "%Y-%m-%d %H:%M:%S%#z")
_NAIVE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")
COMPLETENESS_FIELDS = ("content", "rating", "date", "app_id", "app_name", "category")
ENCODING_CHECK = CHECK_BY_NAME["mojibake"]  # repaired while typing, so every later stage sees fixed text


def parse_timestamps(raw: pl.Series) -> pl.Series:
    """UTC timestamps from the formats exports use; null where none fits. ISO with 'Z' first, the rest only where it failed."""
    text = raw.str.strip_chars()
    parsed = text.str.to_datetime("%Y-%m-%dT%H:%M:%SZ", strict=False, time_unit="us", time_zone="UTC")
    pending = parsed.is_null() & text.is_not_null()
    if pending.any():
        rest = pl.DataFrame({"text": text.filter(pending).str.replace(r"Z$", "+00:00")}).select(pl.coalesce(
            *[pl.col("text").str.to_datetime(fmt, strict=False, time_unit="us").dt.convert_time_zone("UTC") for fmt in _AWARE_FORMATS],
            *[pl.col("text").str.to_datetime(fmt, strict=False, time_unit="us").dt.replace_time_zone("UTC") for fmt in _NAIVE_FORMATS],
            pl.when(pl.col("text").str.contains(r"^\d{9,10}$"))
            .then(pl.from_epoch(pl.col("text").cast(pl.Int64, strict=False), "s").dt.replace_time_zone("UTC")),
        )).to_series()
        parsed = parsed.scatter(pending.arg_true(), rest)
    return parsed.alias(raw.name)


def parse_rating(raw: pl.Expr) -> pl.Expr:
    value = raw.str.strip_chars().cast(pl.Float64, strict=False)
    return pl.when(value.is_between(1, 5) & (value == value.round())).then(value.cast(pl.Int8))


def normalise_reviews(raw: pl.DataFrame) -> pl.DataFrame:
    """Types, UTC timestamps, Unix newlines and repaired encoding; every raw row stays."""
    typed = raw.with_columns(
        pl.col("rating").alias("rating_raw"),
        parse_rating(pl.col("rating")).alias("rating"),
        pl.col("date").alias("date_raw"),
        parse_timestamps(raw["date"]).alias("date"),
        *[pl.col(name).str.strip_chars().cast(pl.Int64, strict=False).alias(name) for name in ("vote_count", "vote_sum")],
        *[pl.col(name).str.replace_all("\r\n?", "\n").alias(name) for name in ("content", "title")],
        *[pl.col(name).str.strip_chars().replace("", None).alias(name) for name in ("app_id", "app_name", "category")],
    )
    garbled = typed.select(ENCODING_CHECK.detect(RuleSettings()).fill_null(False)).to_series()
    content = typed["content"]
    if garbled.any():
        content = content.scatter(garbled.arg_true(), ENCODING_CHECK.repair(content.filter(garbled), RuleSettings()))
    return typed.with_columns(content.alias("content"), garbled.alias("encoding_repaired"))


def assess_quality(reviews: pl.DataFrame, rules: RuleSettings, language: LanguageSettings,
                   duplicates: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per review: `review_id`, `dump_id`, `record_number`, the language columns and one boolean per check.

    `duplicates`: `text.rules.duplicate_flags` of the whole dump when `reviews` is one batch of it (None: of `reviews`)."""
    # Language detection overlaps the helper columns: both are mostly polars work, which runs outside the GIL.
    with ThreadPoolExecutor(max_workers=1) as pool:
        language_job = pool.submit(detect_language, strip_placeholders(reviews["content"], rules), language)
        scanned = add_scan_columns(reviews, duplicates)
        detected = language_job.result()
    frame = pl.concat([scanned, detected], how="horizontal")
    flags = [
        (pl.col("encoding_repaired") if check is ENCODING_CHECK else check.detect(rules)).fill_null(False).alias(check.name)
        for check in CHECKS
    ]
    return frame.select("review_id", "dump_id", "record_number", *detected.columns, *flags)


def flag_names(flags: pl.DataFrame, names: Sequence[str]) -> pl.DataFrame:
    """Per row: `names`, the list of flag columns that are true (in the given order), and `first`, the first of them.

    The flags are packed into a bitmask and only the few distinct masks are spelled out, then joined
    back: ~20x faster than a list built from one when/then per flag."""
    masks = flags.select(pl.sum_horizontal([pl.col(name).cast(pl.UInt64) * (1 << bit) for bit, name in enumerate(names)]).alias("mask"))
    spelled = pl.DataFrame(
        [(mask, [name for bit, name in enumerate(names) if mask >> bit & 1]) for mask in masks["mask"].unique().to_list()],
        schema={"mask": pl.UInt64, "names": pl.List(pl.String)}, orient="row",
    ).with_columns(pl.col("names").list.first().alias("first"))
    return masks.join(spelled, on="mask", how="left", maintain_order="left").drop("mask")


def clean_and_reject(reviews: pl.DataFrame, quality: pl.DataFrame, rules: RuleSettings) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows flagged by a dropping check go to `rejected` with every rule that dropped them; the rest are repaired."""
    quality = reviews.select("dump_id", "review_id").join(quality, on=["dump_id", "review_id"], how="left", maintain_order="left")
    unassessed = quality[DROP_PRIORITY[0]].is_null().sum()
    if unassessed or quality.height != reviews.height:
        raise ValueError(f"{unassessed} reviews have no review_quality row; re-materialize review_quality for these dumps")
    verdict = flag_names(quality, DROP_PRIORITY).rename({"first": "reject_rule", "names": "reject_rules"})
    dropped = verdict["reject_rule"].is_not_null()

    rejected = reviews.filter(dropped).with_columns(verdict.filter(dropped))
    rejected = rejected.with_columns(
        pl.col("reject_rule").replace_strict({c.name: c.description for c in CHECKS}, return_dtype=pl.String).alias("reject_reason")
    )

    kept = reviews.filter(~dropped)
    kept_quality = quality.filter(~dropped)
    content = kept["content"].fill_null("")
    repaired_any = pl.Series([False] * kept.height)
    for check in CHECKS:
        if check.repair is None or check is ENCODING_CHECK or check.name == "excess_whitespace":
            continue
        flagged = kept_quality[check.name]
        if flagged.any():
            content = content.scatter(flagged.arg_true(), check.repair(content.filter(flagged), rules))
            repaired_any = repaired_any | flagged
    # Any repair can leave doubled spaces behind, so whitespace is tidied on every repaired row.
    tidy = repaired_any | kept_quality["excess_whitespace"]
    if tidy.any():
        content = content.scatter(tidy.arg_true(), normalise_whitespace(content.filter(tidy)))
    repairs = flag_names(kept_quality, [c.name for c in CHECKS if c.repair is not None])["names"].alias("repairs")
    clean = kept.with_columns(
        content.alias("content"),  # the original stays in raw_reviews and reviews, by review_id
        repairs,
        kept_quality["language"],
    )
    return clean, rejected


def quality_counts(reviews: pl.DataFrame, quality: pl.DataFrame) -> pl.DataFrame:
    """Per dump: rows, filled required fields, rows with a defect of each dimension, and flagged rows per check; the
    counts of a dump's batches add up (`quality_scores` turns them into scores)."""
    frame = quality.with_columns(*[reviews[name].is_not_null().alias(f"_has_{name}") for name in COMPLETENESS_FIELDS])
    by_dimension = {
        dimension: pl.any_horizontal([pl.col(c.name) for c in CHECKS if c.dimension == dimension])
        for dimension in DIMENSIONS if dimension != "completeness"
    }
    return frame.group_by("dump_id", maintain_order=True).agg(
        pl.len().cast(pl.Int64).alias("rows"),
        *[pl.col(f"_has_{name}").sum().cast(pl.Int64).alias(f"has_{name}") for name in COMPLETENESS_FIELDS],
        *[expr.sum().cast(pl.Int64).alias(f"defect_{dimension}") for dimension, expr in by_dimension.items()],
        *[pl.col(c.name).sum().cast(pl.Int64).alias(f"flagged_{c.name}") for c in CHECKS],
    )


def quality_scores(counts: pl.DataFrame) -> pl.DataFrame:
    """Per dump, from `quality_counts`: one 0-1 score per dimension (completeness: filled required fields; the others:
    rows free of that dimension's defects) and the share of rows each check flags."""
    rows = pl.col("rows")
    return counts.select(
        "dump_id", "rows",
        pl.mean_horizontal([pl.col(f"has_{name}") / rows for name in COMPLETENESS_FIELDS]).alias("completeness"),
        *[(1 - pl.col(f"defect_{dimension}") / rows).alias(dimension) for dimension in DIMENSIONS if dimension != "completeness"],
        *[(pl.col(f"flagged_{c.name}") / rows).alias(f"share_{c.name}") for c in CHECKS],
    )
