"""The prep stages over the warehouse, one dump at a time, a batch of records at a time.

A dump of millions of reviews does not fit in memory as frames (1.9 GB more per million rows when the
stages held it whole). Each stage here reads its input from DuckDB in batches of `batch_rows` records and
appends its output in the same transaction (`warehouse.PartitionRewrite`), so peak memory follows the batch,
not the dump. What needs the whole dump runs in DuckDB on compact columns: the duplicate rule
(`text.rules.DUPLICATES_SQL` over 64-bit text hashes), repeated source ids, and the per-dump counts. The
frame functions in `genai_lab.prep` do the work on each batch, so a batch gives what the whole frame gave.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from genai_lab.ingest import NotStreamable, read_dump_file, review_id, stream_dump, warn_about
from genai_lab.prep import assess_quality, clean_and_reject, normalise_reviews, quality_counts
from genai_lab.text.language import LanguageSettings
from genai_lab.text.rules import DUPLICATES_SQL, RuleSettings, duplicate_keys
from genai_lab.text.text_quality import TextQualitySettings
from genai_lab.text.text_quality import text_quality as score_text_quality
from genai_lab.warehouse import PartitionRewrite

#: records per batch: ~0.5 GB of frames at the widest stage (review_quality), whatever the dump's size
DEFAULT_BATCH_ROWS = 200_000

Progress = Callable[[str], None]


def _say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)


@dataclass
class Ingested:
    rows: int
    encoding: str
    file_hash: str
    parse_errors: int
    streamed: bool


def ingest_dump(rewrite: PartitionRewrite, path: Path, dump_id: str, pseudonym_key: bytes, batch_rows: int,
                progress: Progress | None = None) -> Ingested:
    """Every record of `path` into `raw_reviews` (the partition's rows replaced). A well-formed CSV, JSON Lines or
    Parquet file is streamed; anything else, or a file whose streaming fails, is read whole by `read_dump_file`
    (which rejects single bad records and names what makes a file unreadable), its memory growing with the file."""
    streamed = True
    try:
        for batch in stream_dump(path, dump_id, pseudonym_key, batch_rows):
            rewrite.append("raw_reviews", batch)
            _say(progress, f"{path.name}: {rewrite.rows['raw_reviews']:,} records read")
        encoding = "parquet" if path.suffix.lower() == ".parquet" else "utf-8"
    except NotStreamable as reason:
        streamed = False
        rewrite.discard("raw_reviews")
        _say(progress, f"{path.name}: read whole ({reason})")
        reading = read_dump_file(path, dump_id, pseudonym_key)
        encoding = reading.encoding
        for start in range(0, reading.frame.height, batch_rows):
            rewrite.append("raw_reviews", reading.frame.slice(start, batch_rows))
        del reading
    raw = rewrite.staged("raw_reviews")
    if streamed:
        # ids missing or repeated within the dump: the same rule as a whole-file read, on the few rows it touches
        ambiguous = rewrite.sql(
            f"select record_number, source_id from {raw} where dump_id = ? and (source_id is null or source_id in "
            f"(select source_id from {raw} where dump_id = ? group by source_id having count(*) > 1))", [dump_id, dump_id])
        if ambiguous.height:
            fixed = ambiguous.with_columns(review_id(pl.lit(True), dump_id)).select("record_number", "review_id")
            rewrite.connection.register("fixed_ids", fixed.to_arrow())
            rewrite.connection.execute(f"update {raw} as staged set review_id = fixed_ids.review_id from fixed_ids "
                                       "where staged.dump_id = ? and staged.record_number = fixed_ids.record_number", [dump_id])
            rewrite.connection.unregister("fixed_ids")
    rows, parse_errors, file_hash, first_error = rewrite.connection.execute(
        f"select count(*), count(parse_error), any_value(file_hash), min(parse_error) from {raw} where dump_id = ?", [dump_id]).fetchone()
    if streamed:
        warn_about(path, encoding, rows, parse_errors, first_error)
    return Ingested(rows, encoding, file_hash, parse_errors, streamed)


def type_reviews(rewrite: PartitionRewrite, batch_rows: int, progress: Progress | None = None) -> int:
    """`reviews` from `raw_reviews`; returns how many had their encoding repaired."""
    repaired = 0
    for batch in rewrite.record_batches("raw_reviews", batch_rows):
        typed = normalise_reviews(batch)
        repaired += int(typed["encoding_repaired"].sum())
        rewrite.append("reviews", typed)
        _say(progress, f"{rewrite.partition_key}: {rewrite.rows['reviews']:,} reviews typed")
    return repaired


@dataclass
class Assessed:
    #: per-dump sums behind the dimension scores (`prep.quality_counts`)
    counts: pl.DataFrame
    languages: pl.DataFrame = field(default_factory=pl.DataFrame)


def assess_reviews(rewrite: PartitionRewrite, rules: RuleSettings, language: LanguageSettings, batch_rows: int,
                   progress: Progress | None = None) -> Assessed:
    """`review_quality` from `reviews`: the duplicate rule over the whole dump's text hashes first (in DuckDB, out of
    core), then every other check a batch at a time."""
    connection = rewrite.connection
    for number, batch in enumerate(rewrite.record_batches("reviews", batch_rows, "dump_id, app_id, record_number, date, content")):
        connection.register("key_batch", duplicate_keys(batch).to_arrow())
        connection.execute("insert into duplicate_keys select * from key_batch" if number
                           else "create or replace temp table duplicate_keys as select * from key_batch")
        connection.unregister("key_batch")
    # a partition has at least one review: ingest refuses a dump without records
    duplicates = rewrite.sql(DUPLICATES_SQL.format(keys="duplicate_keys"))
    connection.execute("drop table duplicate_keys")
    _say(progress, f"{rewrite.partition_key}: {duplicates.height:,} duplicates found")
    counts, languages = [], []
    for batch in rewrite.record_batches("reviews", batch_rows):
        quality = assess_quality(batch, rules, language, duplicates=duplicates)
        counts.append(quality_counts(batch, quality))
        languages.append(quality.group_by("language").len())
        rewrite.append("review_quality", quality)
        _say(progress, f"{rewrite.partition_key}: {rewrite.rows['review_quality']:,} reviews checked")
    summed = pl.concat(counts).group_by("dump_id", maintain_order=True).sum() if counts else pl.DataFrame()
    languages_summed = pl.concat(languages).group_by("language").agg(pl.col("len").sum()) if languages else pl.DataFrame()
    return Assessed(summed, languages_summed)


def split_clean_and_rejected(rewrite: PartitionRewrite, rules: RuleSettings, batch_rows: int, progress: Progress | None = None) -> None:
    """`clean_reviews` and `rejected_reviews` from `reviews` and `review_quality`, batch by batch."""
    for reviews, quality in zip(rewrite.record_batches("reviews", batch_rows), rewrite.record_batches("review_quality", batch_rows),
                                strict=True):
        clean, rejected = clean_and_reject(reviews, quality, rules)
        rewrite.append("clean_reviews", clean)
        rewrite.append("rejected_reviews", rejected)
        _say(progress, f"{rewrite.partition_key}: {rewrite.rows['clean_reviews']:,} kept, {rewrite.rows['rejected_reviews']:,} rejected")


def score_clean_reviews(rewrite: PartitionRewrite, settings: TextQualitySettings, batch_rows: int, progress: Progress | None = None) -> None:
    """`text_quality` from `clean_reviews`, batch by batch."""
    for batch in rewrite.record_batches("clean_reviews", batch_rows, "review_id, dump_id, content, record_number"):
        scored = score_text_quality(batch.select("review_id", "dump_id", "content"), settings)
        rewrite.append("text_quality", scored.with_columns(batch["dump_id"]) if "dump_id" not in scored.columns else scored)
        _say(progress, f"{rewrite.partition_key}: {rewrite.rows['text_quality']:,} reviews scored")

