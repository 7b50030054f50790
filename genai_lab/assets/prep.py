"""Data preparation: dump files -> raw_reviews -> reviews -> review_quality -> clean_reviews / rejected_reviews -> text_quality."""

import json

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetOut,
    Failure,
    MetadataValue,
    Output,
)

from genai_lab.ingest import RAW_SCHEMA, DumpError, read_dump_file
from genai_lab.partitions import PARTITION_METADATA, by_dump
from genai_lab.prep import assess_quality, clean_and_reject, normalise_reviews, quality_scores
from genai_lab.reports.writing import markdown_table
from genai_lab.resources import HomeResource, PrepResource
from genai_lab.text.rules import CHECKS, DIMENSIONS
from genai_lab.text.text_quality import text_quality as score_text_quality


def _per_dump_counts(frame: pl.DataFrame) -> dict[str, int]:
    return dict(frame.group_by("dump_id").len().sort("dump_id").iter_rows())


@by_dump(
    check_specs=[
        AssetCheckSpec("unique_review_ids", asset="raw_reviews", blocking=True, description="review_id is unique within each dump"),
        AssetCheckSpec("required_columns", asset="raw_reviews", blocking=True, description="every raw column present with its type; every row has an id"),
    ],
    description="Every record of each dump file, mapped onto one schema (all values as the file had them); unparsable records carry their parse_error.",
)
def raw_reviews(context: AssetExecutionContext, lab: HomeResource):
    files = lab.dump_files()
    key = lab.pseudonym_key()
    frames, file_hashes, encodings = [], {}, {}
    for dump_id in context.partition_keys:
        if dump_id not in files:
            raise Failure(f"Partition '{dump_id}' has no dump file in {lab.dumps_dir} (files there: {', '.join(p.name for p in files.values()) or 'none'}).")
        try:
            reading = read_dump_file(files[dump_id], dump_id, key)
        except DumpError as error:
            raise Failure(description=str(error)) from None
        frame, encodings[dump_id] = reading.frame, reading.encoding
        parse_errors = frame["parse_error"].is_not_null().sum()
        context.log.info(f"{files[dump_id].name}: {frame.height:,} records, {parse_errors:,} unparsable")
        frames.append(frame)
        file_hashes[dump_id] = frame["file_hash"][0]
    raw = pl.concat(frames)
    yield Output(raw, metadata={
        "file_hashes": json.dumps(file_hashes),
        "encodings": MetadataValue.json(encodings),
        "rows_per_dump": MetadataValue.json(_per_dump_counts(raw)),
        "parse_errors": int(raw["parse_error"].is_not_null().sum()),
    })
    duplicated = raw.filter(pl.struct("dump_id", "review_id").is_duplicated())
    yield AssetCheckResult(check_name="unique_review_ids", passed=duplicated.height == 0,
                           metadata={"duplicated_ids": duplicated.height, "examples": ", ".join(duplicated["review_id"].head(5).to_list())})
    wrong = {name: str(raw.schema.get(name)) for name, dtype in RAW_SCHEMA.items() if raw.schema.get(name) != dtype}
    missing_ids = int(raw.select(pl.col("review_id").is_null() | pl.col("dump_id").is_null()).to_series().sum())
    yield AssetCheckResult(check_name="required_columns", passed=not wrong and missing_ids == 0,
                           metadata={"wrong_or_missing_columns": json.dumps(wrong), "rows_without_id": missing_ids})


@by_dump(
    check_specs=[AssetCheckSpec("one_row_per_record", asset="reviews", blocking=True, description="as many reviews as raw records, per dump")],
    description="Typed reviews: integer ratings (null when invalid), UTC timestamps, Unix newlines, mojibake repaired.",
)
def reviews(context: AssetExecutionContext, raw_reviews: pl.DataFrame):
    typed = normalise_reviews(raw_reviews)
    context.log.info(f"{typed.height:,} reviews typed; {int(typed['encoding_repaired'].sum()):,} had their encoding repaired")
    yield Output(typed, metadata={"encoding_repaired": int(typed["encoding_repaired"].sum())})
    raw_counts, typed_counts = _per_dump_counts(raw_reviews), _per_dump_counts(typed)
    yield AssetCheckResult(check_name="one_row_per_record", passed=raw_counts == typed_counts,
                           metadata={"raw": MetadataValue.json(raw_counts), "reviews": MetadataValue.json(typed_counts)})


@by_dump(
    check_specs=[
        AssetCheckSpec(f"{dimension}_score", asset="review_quality", description=f"{dimension} score of each dump at least its threshold")
        for dimension in DIMENSIONS
    ],
    description="One row per review: detected language and one boolean per quality check (found anywhere in the text).",
)
def review_quality(context: AssetExecutionContext, reviews: pl.DataFrame, prep: PrepResource):
    context.log.info(f"Checking {reviews.height:,} reviews: {len(CHECKS)} checks and language identification")
    quality = assess_quality(reviews, prep.rules, prep.language)
    scores = quality_scores(reviews, quality)
    languages = quality.group_by("language").len().sort("len", descending=True).with_columns(
        (pl.col("len") / quality.height).alias("share"))
    yield Output(quality, metadata={
        "dimension_scores": MetadataValue.md(markdown_table(scores.select("dump_id", "rows", *DIMENSIONS))),
        "flag_shares": MetadataValue.md(markdown_table(scores.select("dump_id", *[f"share_{c.name}" for c in CHECKS])
                                                       .unpivot(index="dump_id", variable_name="check", value_name="share")
                                                       .pivot(on="dump_id", index="check", values="share"))),
        "languages": MetadataValue.md(markdown_table(languages.head(15))),
        **{f"score_{dimension}": float(scores[dimension].min()) for dimension in DIMENSIONS},
    })
    for dimension in DIMENSIONS:
        threshold = prep.min_dimension_score.get(dimension, 0.0)
        below = scores.filter(pl.col(dimension) < threshold)
        yield AssetCheckResult(
            check_name=f"{dimension}_score", passed=below.height == 0, severity=AssetCheckSeverity.WARN,
            metadata={"threshold": threshold, "lowest": float(scores[dimension].min()), "dumps_below": ", ".join(below["dump_id"].to_list())},
        )


@by_dump(
    multi=True,
    outs={
        "clean_reviews": AssetOut(metadata=PARTITION_METADATA, description="Reviews kept, with their text repaired (PII masked, whitespace, HTML, control characters, elongations, repetitions)."),
        "rejected_reviews": AssetOut(metadata=PARTITION_METADATA, description="Every dropped review with the rule that dropped it (and all rules that would have)."),
    },
    check_specs=[AssetCheckSpec("raw_equals_clean_plus_rejected", asset="clean_reviews", blocking=True,
                                description="per dump, every raw record is either clean or rejected, exactly once")],
)
def clean_reviews_and_rejects(context: AssetExecutionContext, reviews: pl.DataFrame, review_quality: pl.DataFrame, prep: PrepResource):
    clean, rejected = clean_and_reject(reviews, review_quality, prep.rules)
    by_rule = rejected.group_by("reject_rule").len().sort("len", descending=True)
    context.log.info(f"{clean.height:,} reviews kept, {rejected.height:,} rejected")
    yield Output(clean, output_name="clean_reviews", metadata={"rows_per_dump": MetadataValue.json(_per_dump_counts(clean))})
    yield Output(rejected, output_name="rejected_reviews", metadata={
        "rejected_by_rule": MetadataValue.md(markdown_table(by_rule)),
        "rows_per_dump": MetadataValue.json(_per_dump_counts(rejected)),
    })
    reviews_counts = _per_dump_counts(reviews)
    accounted = _per_dump_counts(pl.concat([clean.select("dump_id", "review_id"), rejected.select("dump_id", "review_id")]))
    overlap = clean.join(rejected, on=["dump_id", "review_id"], how="semi").height
    yield AssetCheckResult(
        check_name="raw_equals_clean_plus_rejected", asset_key="clean_reviews",
        passed=reviews_counts == accounted and overlap == 0,
        metadata={"raw": MetadataValue.json(reviews_counts), "clean_plus_rejected": MetadataValue.json(accounted), "in_both": overlap},
    )


@by_dump(
    description="Per-review text-quality features, a 0-1 score and whether the review is fit for training (see genai_lab/text/text_quality.py for the weights).",
)
def text_quality(context: AssetExecutionContext, clean_reviews: pl.DataFrame, prep: PrepResource):
    scored = score_text_quality(clean_reviews.select("review_id", "dump_id", "content"), prep.text_quality)
    scored = scored.with_columns(clean_reviews["dump_id"]) if "dump_id" not in scored.columns else scored
    unfit = scored.filter(~pl.col("fit_for_training"))
    context.log.info(f"{scored.height:,} reviews scored; {unfit.height:,} unfit for training")
    quantiles = {f"p{int(q * 100)}": float(scored["text_quality_score"].quantile(q) or 0.0) for q in (0.1, 0.5, 0.9)}
    return Output(scored, metadata={
        "mean_score": float(scored["text_quality_score"].mean() or 0.0),
        "unfit_for_training": unfit.height,
        "score_quantiles": MetadataValue.json(quantiles),
        "unfit_reasons": MetadataValue.md(markdown_table(unfit.group_by("unfit_reason").len().sort("len", descending=True))),
    })

