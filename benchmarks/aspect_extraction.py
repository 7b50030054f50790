"""Aspect-term extraction quality and speed (genai_lab.text.aspects).

    python benchmarks/aspect_extraction.py [--synthetic-rows 20000] [--timing-rows 100000] [--skip-timing]

Protocol (honest): for every evaluated corpus the lexicon is mined unsupervised from that corpus'
own TEXT (never its labels) plus the app seed terms of the default taxonomy; the thresholds in
`AspectSettings` were set on the synthetic truth and on unlabelled real App Store reviews, never on
gold. Scores (see `term_scores`): exact = same normalised term in the same unit; overlap = shares a
content word with a gold term of the same unit (lenient: Dąbrowski's feature phrases are not always
verbatim).

* synthetic truth: `genai_lab.synth.generate(N, seed=11)`, English rows; unit = review; also the
  category accuracy of exact matches (synthetic aspect -> taxonomy category).
* SemEval-2014 laptop train (../shared/data/gold/semeval14_laptop_train.parquet): unit = sentence;
  sentences without aspect terms count for precision. Also span-exact (offsets equal).
* Dąbrowski et al. 2023 part 1 (app_feature_sentiment_dabrowski2023_part1.parquet): unit = sentence.
* timing: the English real reviews (../shared/data/appstore_reviews_real.parquet, language from
  `genai_lab.text.language`, not timed), cycled up to --timing-rows; model load not timed, the
  embedding cache cleared first. Missing files are skipped. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"

import polars as pl  # noqa: E402

from genai_lab.text import aspects  # noqa: E402
from genai_lab.text.aspects import (  # noqa: E402
    SYNTH_ASPECT_CATEGORY,
    AspectSettings,
    aspect_mentions,
    extract_mentions,
    lexicon_examples,
    mine_lexicon,
    split_sentences,
    term_scores,
)

from recording import record  # noqa: E402  (benchmarks/ is the script folder)

def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--synthetic-rows", type=int, default=20000, help="rows generated for the synthetic truth")
    p.add_argument("--timing-rows", type=int, default=100000, help="reviews for the timing run")
    p.add_argument("--skip-timing", action="store_true")
    p.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    return p.parse_args()


def _print_scores(name: str, scores: dict) -> None:
    print(
        f"{name:<22} pred {scores['predicted']:>6} gold {scores['gold']:>6} | exact P {scores['exact_precision']:.3f} "
        f"R {scores['exact_recall']:.3f} F1 {scores['exact_f1']:.3f} | overlap P {scores['overlap_precision']:.3f} "
        f"R {scores['overlap_recall']:.3f} F1 {scores['overlap_f1']:.3f}"
    )


def _lexicon_summary(lexicon: pl.DataFrame) -> dict:
    return {
        "size": lexicon.height,
        "seed": int((lexicon["source"] == "seed").sum()),
        "mined": int((lexicon["source"] == "mined").sum()),
    }


def synthetic(rows: int, settings: AspectSettings) -> dict:
    from genai_lab.synth import generate

    dump, truth = generate(rows, seed=11)
    truth = truth.filter(pl.col("language") == "en")
    frame = dump.join(truth.select(pl.col("review_id").alias("id")), on="id").select(pl.col("id").alias("review_id"), "content")
    start = time.perf_counter()
    mentions, lexicon = aspect_mentions(frame, settings)
    seconds = time.perf_counter() - start
    gold = truth.select("review_id", "aspects").explode("aspects").unnest("aspects").drop_nulls("term")
    scores = term_scores(mentions.select(pl.col("review_id").alias("unit"), "term"), gold.select(pl.col("review_id").alias("unit"), "term"))
    # category accuracy on exact matches (first prediction of each (review, term))
    norm = pl.col("term").str.to_lowercase()
    pred = mentions.select("review_id", norm.alias("t"), "category").unique(["review_id", "t"])
    gold_cat = gold.select("review_id", norm.alias("t"), pl.col("aspect").replace_strict(SYNTH_ASPECT_CATEGORY).alias("gold_category")).unique(["review_id", "t"])
    matched = pred.join(gold_cat, on=["review_id", "t"])
    scores["category_accuracy"] = round(float((matched["category"] == matched["gold_category"]).mean() or 0.0), 4)
    seed_only = term_scores(
        extract_mentions(split_sentences(frame), aspects.seed_lexicon(settings)).select(pl.col("review_id").alias("unit"), "term"),
        gold.select(pl.col("review_id").alias("unit"), "term"),
    )
    scores["seed_only_exact_recall"] = seed_only["exact_recall"]
    scores["seed_only_overlap_recall"] = seed_only["overlap_recall"]
    scores["reviews"] = frame.height
    scores["seconds"] = round(seconds, 2)
    scores["lexicon"] = _lexicon_summary(lexicon)
    _print_scores("synthetic truth", scores)
    print(f"  {frame.height} English reviews, {seconds:.1f}s; category accuracy of exact matches {scores['category_accuracy']:.3f}; "
          f"seed lexicon alone: exact R {seed_only['exact_recall']:.3f}, overlap R {seed_only['overlap_recall']:.3f}")
    print(f"  lexicon {scores['lexicon']}; mined examples {lexicon_examples(lexicon, 4)}")
    return scores


def semeval(path: Path, settings: AspectSettings) -> dict | None:
    if not path.exists():
        print(f"skip SemEval: {path} missing")
        return None
    gold = pl.read_parquet(path)
    frame = gold.select(pl.col("sentence_id").alias("review_id"), pl.col("text").alias("content")).unique("review_id", maintain_order=True)
    mentions, lexicon = aspect_mentions(frame, settings)
    scores = term_scores(
        mentions.select(pl.col("review_id").alias("unit"), "term"),
        gold.select(pl.col("sentence_id").alias("unit"), pl.col("aspect_term").alias("term")),
    )
    spans_gold = gold.drop_nulls("aspect_term").select(pl.col("sentence_id").alias("review_id"), pl.col("from").alias("s"), pl.col("to").alias("e")).unique()
    spans_pred = mentions.select("review_id", pl.col("review_char_start").alias("s"), pl.col("review_char_end").alias("e")).unique()
    tp = spans_pred.join(spans_gold, on=["review_id", "s", "e"]).height
    p = tp / spans_pred.height if spans_pred.height else 0.0
    r = tp / spans_gold.height if spans_gold.height else 0.0
    scores["span_exact_f1"] = round(2 * p * r / (p + r), 4) if p + r else 0.0
    scores["sentences"] = frame.height
    scores["lexicon"] = _lexicon_summary(lexicon)
    _print_scores("SemEval-14 laptop", scores)
    print(f"  {frame.height} sentences; span-exact F1 {scores['span_exact_f1']:.3f}; lexicon {scores['lexicon']}")
    print(f"  mined examples {lexicon_examples(lexicon, 4)}")
    return scores


def dabrowski(path: Path, settings: AspectSettings) -> dict | None:
    if not path.exists():
        print(f"skip Dąbrowski: {path} missing")
        return None
    gold = pl.read_parquet(path).with_columns(pl.concat_str("review_id", pl.lit("/"), "sentence_id").alias("unit"))
    frame = gold.select(pl.col("unit").alias("review_id"), pl.col("text").alias("content")).unique("review_id", maintain_order=True)
    mentions, lexicon = aspect_mentions(frame, settings)
    scores = term_scores(mentions.select(pl.col("review_id").alias("unit"), "term"), gold.select("unit", pl.col("aspect_term").alias("term")))
    scores["sentences"] = frame.height
    scores["lexicon"] = _lexicon_summary(lexicon)
    _print_scores("Dąbrowski 2023 part 1", scores)
    print(f"  {frame.height} sentences; lexicon {scores['lexicon']}; mined examples {lexicon_examples(lexicon, 4)}")
    return scores


def _english_real(path: Path) -> pl.DataFrame | None:
    if not path.exists():
        print(f"skip real reviews: {path} missing")
        return None
    from genai_lab.text.language import detect_language

    real = pl.read_parquet(path, columns=["id", "content"])
    language = detect_language(real["content"])["language"]
    return real.filter(language == "en").select(pl.col("id").alias("review_id"), "content")


def timing(real: pl.DataFrame, rows: int, settings: AspectSettings) -> dict:
    from genai_lab.ml.embeddings import embed

    embed(["warm up"], model_name=settings.base_model)  # model load: once per process, not timed
    aspects._EMBED_CACHE.clear()
    repeats = -(-rows // real.height)
    frame = pl.concat([real] * repeats).head(rows).with_row_index("_i").select(pl.format("{}-{}", "review_id", "_i").alias("review_id"), "content")
    out: dict[str, float | int] = {"reviews": frame.height, "distinct_texts": int(min(real.height, rows))}
    t0 = time.perf_counter()
    sentences = split_sentences(frame)
    t1 = time.perf_counter()
    candidates = aspects.mine_candidates(sentences["sentence"], settings)
    t2 = time.perf_counter()
    lexicon = mine_lexicon(sentences["sentence"], settings)  # candidates again + embedding
    t3 = time.perf_counter()
    mentions = extract_mentions(sentences, lexicon)
    t4 = time.perf_counter()
    out.update(
        sentences=sentences.height, candidates=candidates.height, mentions=mentions.height,
        split_s=round(t1 - t0, 2), candidates_s=round(t2 - t1, 2), lexicon_s=round(t3 - t2, 2), extract_s=round(t4 - t3, 2),
    )
    out["embedding_s"] = round(out["lexicon_s"] - out["candidates_s"], 2)
    out["total_s"] = round(out["split_s"] + out["lexicon_s"] + out["extract_s"], 2)  # candidates run inside mine_lexicon
    out["reviews_per_s"] = round(frame.height / out["total_s"], 1)
    out["extract_reviews_per_s"] = round(frame.height / max(out["split_s"] + out["extract_s"], 1e-9), 1)
    out["lexicon"] = _lexicon_summary(lexicon)
    out["examples"] = lexicon_examples(lexicon, 6)
    print(
        f"timing {frame.height} reviews ({out['distinct_texts']} distinct English real texts), {sentences.height} sentences: "
        f"split {out['split_s']}s, mining {out['lexicon_s']}s (candidates {out['candidates_s']}s, embedding+mapping {out['embedding_s']}s), "
        f"extraction {out['extract_s']}s -> total {out['total_s']}s ({out['reviews_per_s']} reviews/s; with a given lexicon "
        f"{out['extract_reviews_per_s']} reviews/s); {mentions.height} mentions"
    )
    print(f"  real-review lexicon {out['lexicon']}")
    for category, terms in out["examples"].items():
        print(f"  {category:<24} {', '.join(terms)}")
    return out


def main() -> None:
    args = _args()
    settings = AspectSettings()
    gold_dir = args.data / "gold"
    results: dict[str, object] = {"benchmark": "aspect_extraction", "settings": settings.model_dump(exclude={"taxonomy", "extra_opinion_words", "generic_terms"})}
    results["synthetic"] = synthetic(args.synthetic_rows, settings)
    results["semeval14_laptop"] = semeval(gold_dir / "semeval14_laptop_train.parquet", settings)
    results["dabrowski2023"] = dabrowski(gold_dir / "app_feature_sentiment_dabrowski2023_part1.parquet", settings)
    if not args.skip_timing:
        real = _english_real(args.data / "appstore_reviews_real.parquet")
        results["timing"] = timing(real, args.timing_rows, settings) if real is not None and real.height else None
    record("aspect_extraction", results, json_default=str)


if __name__ == "__main__":
    main()
