"""Data preparation: dump files -> raw_reviews -> reviews -> review_quality -> clean_reviews / rejected_reviews -> text_quality.

Each stage reads its input from the warehouse and writes its table itself, a batch of records at a time
(`genai_lab.prep_stages`), so a dump of any size is prepared in bounded memory; the later stages read these
tables through the IO manager as usual.
"""

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetOut,
    Failure,
    MaterializeResult,
    MetadataValue,
)

from genai_lab.ingest import RAW_SCHEMA, DumpError
from genai_lab.partitions import PARTITION_METADATA, by_dump
from genai_lab.paths import WAREHOUSE_SCHEMA
from genai_lab.prep import quality_scores
from genai_lab.prep_stages import assess_reviews, ingest_dump, score_clean_reviews, split_clean_and_rejected, type_reviews
from genai_lab.reports.writing import markdown_table
from genai_lab.resources import HomeResource, PrepResource
from genai_lab.text.rules import CHECKS, DIMENSIONS
from genai_lab.warehouse import PartitionRewrite, connect

PREP_DEPS = {"reviews": ["raw_reviews"], "review_quality": ["reviews"], "clean": ["reviews", "review_quality"],
             "text_quality": ["clean_reviews"]}


@contextmanager
def _rewriting(context: AssetExecutionContext, lab: HomeResource, prep: PrepResource, tables: Sequence[str],
               dump_id: str) -> Iterator[PartitionRewrite]:
    """One dump's rows of `tables` replaced in one transaction (see `PartitionRewrite`)."""
    with connect(lab.paths.warehouse, log=context.log) as connection:
        connection.execute(f"set memory_limit = '{prep.duckdb_memory_limit}'")
        with PartitionRewrite(connection, WAREHOUSE_SCHEMA, tables, dump_id) as rewrite:
            yield rewrite


def _query(lab: HomeResource, sql: str, keys: Sequence[str]) -> pl.DataFrame:
    """`sql` over the run's partitions: `{keys}` is their placeholder list, `{t}` the schema prefix."""
    with connect(lab.paths.warehouse, read_only=True) as connection:
        return connection.execute(sql.format(keys=", ".join("?" for _ in keys), t=f'"{WAREHOUSE_SCHEMA}".'), list(keys)).pl()


def _per_dump_counts(lab: HomeResource, table: str, keys: Sequence[str]) -> dict[str, int]:
    frame = _query(lab, f"select dump_id, count(*) as n from {{t}}{table} where dump_id in ({{keys}}) group by 1 order by 1", keys)
    return dict(zip(frame["dump_id"].to_list(), frame["n"].to_list(), strict=True))


@by_dump(
    check_specs=[
        AssetCheckSpec("unique_review_ids", asset="raw_reviews", blocking=True, description="review_id is unique within each dump"),
        AssetCheckSpec("required_columns", asset="raw_reviews", blocking=True, description="every raw column present with its type; every row has an id"),
    ],
    description="Every record of each dump file, mapped onto one schema (all values as the file had them); unparsable records carry their parse_error.",
)
def raw_reviews(context: AssetExecutionContext, lab: HomeResource, prep: PrepResource):
    files = lab.dump_files()
    key = lab.pseudonym_key()
    file_hashes, encodings, streamed = {}, {}, {}
    for dump_id in context.partition_keys:
        if dump_id not in files:
            raise Failure(f"Partition '{dump_id}' has no dump file in {lab.dumps_dir} (files there: {', '.join(p.name for p in files.values()) or 'none'}).")
        try:
            with _rewriting(context, lab, prep, ["raw_reviews"], dump_id) as rewrite:
                ingested = ingest_dump(rewrite, files[dump_id], dump_id, key, prep.batch_rows, context.log.info)
        except DumpError as error:
            raise Failure(description=str(error)) from None
        context.log.info(f"{files[dump_id].name}: {ingested.rows:,} records, {ingested.parse_errors:,} unparsable"
                         + ("" if ingested.streamed else " (read whole: not a streamable file)"))
        file_hashes[dump_id], encodings[dump_id], streamed[dump_id] = ingested.file_hash, ingested.encoding, ingested.streamed
    keys = context.partition_keys
    rows = _per_dump_counts(lab, "raw_reviews", keys)
    parse_errors = int(_query(lab, "select count(parse_error) as n from {t}raw_reviews where dump_id in ({keys})", keys)["n"][0])
    yield MaterializeResult(metadata={
        "file_hashes": json.dumps(file_hashes),
        "encodings": MetadataValue.json(encodings),
        "streamed": MetadataValue.json(streamed),
        "rows_per_dump": MetadataValue.json(rows),
        "row_count": sum(rows.values()),
        "parse_errors": parse_errors,
    })
    duplicated = _query(lab, "select review_id from {t}raw_reviews where dump_id in ({keys}) group by dump_id, review_id "
                             "having count(*) > 1 order by review_id", keys)
    yield AssetCheckResult(check_name="unique_review_ids", passed=duplicated.height == 0,
                           metadata={"duplicated_ids": duplicated.height, "examples": ", ".join(duplicated["review_id"].head(5).to_list())})
    schema = _query(lab, "select * from {t}raw_reviews where dump_id in ({keys}) limit 0", keys).schema
    wrong = {name: str(schema.get(name)) for name, dtype in RAW_SCHEMA.items() if schema.get(name) != dtype}
    missing_ids = int(_query(lab, "select count(*) as n from {t}raw_reviews where dump_id in ({keys}) and review_id is null", keys)["n"][0])
    yield AssetCheckResult(check_name="required_columns", passed=not wrong and missing_ids == 0,
                           metadata={"wrong_or_missing_columns": json.dumps(wrong), "rows_without_id": missing_ids})


@by_dump(
    deps=PREP_DEPS["reviews"],
    check_specs=[AssetCheckSpec("one_row_per_record", asset="reviews", blocking=True, description="as many reviews as raw records, per dump")],
    description="Typed reviews: integer ratings (null when invalid), UTC timestamps, Unix newlines, mojibake repaired.",
)
def reviews(context: AssetExecutionContext, lab: HomeResource, prep: PrepResource):
    repaired = 0
    for dump_id in context.partition_keys:
        with _rewriting(context, lab, prep, ["reviews"], dump_id) as rewrite:
            repaired += type_reviews(rewrite, prep.batch_rows, context.log.info)
    keys = context.partition_keys
    raw_counts, typed_counts = _per_dump_counts(lab, "raw_reviews", keys), _per_dump_counts(lab, "reviews", keys)
    context.log.info(f"{sum(typed_counts.values()):,} reviews typed; {repaired:,} had their encoding repaired")
    yield MaterializeResult(metadata={"encoding_repaired": repaired, "row_count": sum(typed_counts.values())})
    yield AssetCheckResult(check_name="one_row_per_record", passed=raw_counts == typed_counts,
                           metadata={"raw": MetadataValue.json(raw_counts), "reviews": MetadataValue.json(typed_counts)})


@by_dump(
    deps=PREP_DEPS["review_quality"],
    check_specs=[
        AssetCheckSpec(f"{dimension}_score", asset="review_quality", description=f"{dimension} score of each dump at least its threshold")
        for dimension in DIMENSIONS
    ],
    description="One row per review: detected language and one boolean per quality check (found anywhere in the text).",
)
def review_quality(context: AssetExecutionContext, lab: HomeResource, prep: PrepResource):
    context.log.info(f"Checking the reviews of {len(context.partition_keys)} dump(s): {len(CHECKS)} checks and language identification")
    counts, languages = [], []
    for dump_id in context.partition_keys:
        with _rewriting(context, lab, prep, ["review_quality"], dump_id) as rewrite:
            assessed = assess_reviews(rewrite, prep.rules, prep.language, prep.batch_rows, context.log.info)
        counts.append(assessed.counts)
        languages.append(assessed.languages)
    scores = quality_scores(pl.concat(counts))
    rows = int(scores["rows"].sum())
    languages = pl.concat(languages).group_by("language").agg(pl.col("len").sum()).sort("len", descending=True).with_columns(
        (pl.col("len") / max(rows, 1)).alias("share"))
    yield MaterializeResult(metadata={
        "row_count": rows,
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
    deps=PREP_DEPS["clean"],
    outs={
        "clean_reviews": AssetOut(metadata=PARTITION_METADATA, description="Reviews kept, with their text repaired (PII masked, whitespace, HTML, control characters, elongations, repetitions)."),
        "rejected_reviews": AssetOut(metadata=PARTITION_METADATA, description="Every dropped review with the rule that dropped it (and all rules that would have)."),
    },
    check_specs=[AssetCheckSpec("raw_equals_clean_plus_rejected", asset="clean_reviews", blocking=True,
                                description="per dump, every raw record is either clean or rejected, exactly once")],
)
def clean_reviews_and_rejects(context: AssetExecutionContext, lab: HomeResource, prep: PrepResource):
    for dump_id in context.partition_keys:
        with _rewriting(context, lab, prep, ["clean_reviews", "rejected_reviews"], dump_id) as rewrite:
            split_clean_and_rejected(rewrite, prep.rules, prep.batch_rows, context.log.info)
    keys = context.partition_keys
    clean, rejected = _per_dump_counts(lab, "clean_reviews", keys), _per_dump_counts(lab, "rejected_reviews", keys)
    by_rule = _query(lab, "select reject_rule, count(*) as len from {t}rejected_reviews where dump_id in ({keys}) group by 1 "
                          "order by 2 desc, 1", keys)
    context.log.info(f"{sum(clean.values()):,} reviews kept, {sum(rejected.values()):,} rejected")
    yield MaterializeResult(asset_key="clean_reviews", metadata={"rows_per_dump": MetadataValue.json(clean),
                                                                "row_count": sum(clean.values())})
    yield MaterializeResult(asset_key="rejected_reviews", metadata={
        "rejected_by_rule": MetadataValue.md(markdown_table(by_rule)),
        "rows_per_dump": MetadataValue.json(rejected),
        "row_count": sum(rejected.values()),
    })
    reviews_counts = _per_dump_counts(lab, "reviews", keys)
    accounted = {dump_id: clean.get(dump_id, 0) + rejected.get(dump_id, 0) for dump_id in reviews_counts}
    overlap = int(_query(lab, "select count(*) as n from {t}clean_reviews c join {t}rejected_reviews r using (dump_id, review_id) "
                              "where c.dump_id in ({keys})", keys)["n"][0])
    yield AssetCheckResult(
        check_name="raw_equals_clean_plus_rejected", asset_key="clean_reviews",
        passed=reviews_counts == accounted and overlap == 0,
        metadata={"raw": MetadataValue.json(reviews_counts), "clean_plus_rejected": MetadataValue.json(accounted), "in_both": overlap},
    )


@by_dump(
    deps=PREP_DEPS["text_quality"],
    description="Per-review text-quality features, a 0-1 score and whether the review is fit for training (see genai_lab/text/text_quality.py for the weights).",
)
def text_quality(context: AssetExecutionContext, lab: HomeResource, prep: PrepResource):
    for dump_id in context.partition_keys:
        with _rewriting(context, lab, prep, ["text_quality"], dump_id) as rewrite:
            score_clean_reviews(rewrite, prep.text_quality, prep.batch_rows, context.log.info)
    keys = context.partition_keys
    summary = _query(lab, "select count(*) as n, avg(text_quality_score) as mean, count(*) filter (where not fit_for_training) as unfit, "
                          "quantile_cont(text_quality_score, 0.1) as p10, quantile_cont(text_quality_score, 0.5) as p50, "
                          "quantile_cont(text_quality_score, 0.9) as p90 from {t}text_quality where dump_id in ({keys})", keys).row(0, named=True)
    reasons = _query(lab, "select unfit_reason, count(*) as len from {t}text_quality where dump_id in ({keys}) and not fit_for_training "
                          "group by 1 order by 2 desc, 1", keys)
    context.log.info(f"{summary['n']:,} reviews scored; {summary['unfit']:,} unfit for training")
    return MaterializeResult(metadata={
        "row_count": summary["n"],
        "mean_score": float(summary["mean"] or 0.0),
        "unfit_for_training": summary["unfit"],
        "score_quantiles": MetadataValue.json({name: float(summary[name] or 0.0) for name in ("p10", "p50", "p90")}),
        "unfit_reasons": MetadataValue.md(markdown_table(reasons)),
    })
