"""The truth frame: per row the defects present, the language, sentiment, aspect mentions and review type."""

from __future__ import annotations

import numpy as np
import polars as pl

from genai_lab.defects import DEFECTS
from genai_lab.synth.checks import duplicate_flags, mechanical_flags
from genai_lab.synth.schema import ASPECT_STRUCT, ASPECTS, TRUTH_SCHEMA
from genai_lab.vocabulary import REVIEW_TYPES, SENTIMENT_LABELS

_MENTIONS_SCHEMA = {"row": pl.Int64, "order": pl.Int64, "aspect": pl.Int16, "pol": pl.Int8, "term": pl.String}


def defect_lists(content: pl.Series, repeat_rows: np.ndarray, hashes: np.ndarray, recorded: dict[str, np.ndarray]) -> pl.Series:
    """Per row (in file order) the names of its defects, in DEFECTS' order: the mechanical ones computed
    from `content`, the others as `recorded` where injected. `repeat_rows`: the only rows that can
    hold repeated words; `hashes`: each row's `key_hash`."""
    mech = mechanical_flags(content, repeat_rows=repeat_rows)
    dup = duplicate_flags(hashes, mech["has_word"].to_numpy(), content)
    mask = np.zeros(len(content), np.int64)
    for bit, d in enumerate(DEFECTS):
        if d in mech.columns:
            present = mech[d].to_numpy()
        elif d in dup.columns:
            present = dup[d].to_numpy()
        else:
            present = recorded[d]
        mask |= np.asarray(present, bool).astype(np.int64) << bit
    # one list per distinct combination, gathered: far cheaper than a list per row
    uniq, inv = np.unique(mask, return_inverse=True)
    lists = pl.Series([[d for bit, d in enumerate(DEFECTS) if m >> bit & 1] for m in uniq.tolist()], dtype=pl.List(pl.String))
    return lists.gather(inv.reshape(-1))


def aspect_lists(parts: list[pl.DataFrame], orig: np.ndarray, copy_rows: np.ndarray, copy_lower: np.ndarray,
                 final_pos: np.ndarray) -> pl.Series:
    """Per row (in file order) its aspect mentions in text order. `parts` hold the base rows' mentions;
    copy i (row copy_rows[i]) repeats those of base row orig[i], lowercased where the copy is."""
    empty = pl.DataFrame(schema=_MENTIONS_SCHEMA)
    base = pl.concat([empty] + [p.select(empty.columns).cast(empty.schema) for p in parts])
    copy_map = pl.DataFrame({"row": orig.astype(np.int64), "new_row": copy_rows, "low": copy_lower})
    copies = base.join(copy_map, on="row", how="inner").select(
        pl.col("new_row").alias("row"), "order", "aspect", "pol",
        pl.when(pl.col("low")).then(pl.col("term").str.to_lowercase()).otherwise(pl.col("term")).alias("term"))
    mentions = pl.concat([base, copies])
    mentions = pl.DataFrame({
        "fpos": final_pos[mentions["row"].to_numpy()],
        "order": mentions["order"],
        "aspect": pl.Series(ASPECTS, dtype=pl.String).gather(mentions["aspect"].cast(pl.Int64).to_numpy()),
        "term": mentions["term"],
        "polarity": pl.Series(SENTIMENT_LABELS, dtype=pl.String).gather(mentions["pol"].cast(pl.Int64).to_numpy()),
    })
    agg = mentions.sort("fpos", "order").group_by("fpos", maintain_order=True).agg(
        pl.struct("aspect", "term", "polarity").alias("aspects"))
    per_row = pl.DataFrame({"fpos": np.arange(len(final_pos), dtype=np.int64)}).join(agg, on="fpos", how="left").sort("fpos")
    return per_row.select(pl.col("aspects").cast(pl.List(ASPECT_STRUCT))
                          .fill_null(pl.lit([], dtype=pl.List(ASPECT_STRUCT))))["aspects"]


def truth_frame(review_ids: pl.Series, defects: pl.Series, language: list[str | None], sentiment: np.ndarray,
                aspects: pl.Series, review_type: np.ndarray) -> pl.DataFrame:
    """Row-aligned with the dump; `sentiment` and `review_type` are indices into the vocabulary's labels."""
    return pl.DataFrame({
        "review_id": review_ids,
        "defects": defects.cast(pl.List(pl.String)),
        "language": pl.Series(language, dtype=pl.String),
        "sentiment": pl.Series(SENTIMENT_LABELS, dtype=pl.String).gather(sentiment),
        "aspects": aspects,
        "review_type": pl.Series(REVIEW_TYPES, dtype=pl.String).gather(review_type),
    }, schema=TRUTH_SCHEMA)
