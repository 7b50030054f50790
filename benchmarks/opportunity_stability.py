"""How stable is the market-opportunity ranking? Bootstrap the reviews within each app and rank again.

    python benchmarks/opportunity_stability.py --home H [--resamples 100] [--seed 0] [--no-themes]

Reads `review_predictions` and `clean_reviews` from the home's warehouse (`H/warehouse.duckdb`, after a run, never
during one), builds the ranking as the `market_opportunities` asset does (`genai_lab.insight.market.build_market`, the
default `OpportunitySettings`; feature requests are embedded and clustered once, and keep their themes in every
resample), then draws `--resamples` bootstrap resamples — every app's reviews drawn with replacement, each review with
all its aspect mentions and its request — and ranks each again.

Prints, per need of the full data's top 10, the share of resamples in which it stays in the top 10; as its last line
one JSON object with `top10_overlap_median` (the median over resamples of the share of the full data's top 10 found
in the resample's top 10), `resamples` and the per-need shares. The JSON is also written, with the machine and the
commit, to `benchmarks/results/opportunity_stability.json` (`benchmarks/recording.py`); `--out PATH` writes it there
instead (as it is printed), `--out ''` nowhere.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import duckdb
import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from recording import record

from genai_lab.insight.market import REVIEW_COLUMNS, OpportunitySettings, build_market, ranking_stability

NAME = "opportunity_stability"


def load(home: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    warehouse = home / "warehouse.duckdb"
    if not warehouse.exists():
        raise SystemExit(f"{warehouse} does not exist: materialize the graph into {home} first")
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        predictions = connection.sql("select * from lab.review_predictions").pl()
        reviews = connection.sql(f"select {', '.join(REVIEW_COLUMNS)} from lab.clean_reviews").pl()
    return predictions, reviews


def embedder(settings: OpportunitySettings, themes: bool):
    if not themes:
        return lambda texts: np.zeros((len(texts), 1), dtype=np.float32) + 1.0
    from genai_lab.labels.functions import LabelSettings
    from genai_lab.ml.embeddings import embed

    model = LabelSettings().base_model
    return lambda texts: embed(texts, model_name=model, max_length=settings.embed_max_length)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="a lab home with materialized review_predictions")
    parser.add_argument("--resamples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-themes", action="store_true", help="leave feature-request themes out (no embedding)")
    parser.add_argument("--out", default=None, help="write the JSON here instead of benchmarks/results/ ('': nowhere)")
    args = parser.parse_args()
    settings = OpportunitySettings()
    predictions, reviews = load(args.home)
    from genai_lab.text.text_quality import STOPWORDS

    started = time.perf_counter()
    requests = predictions if not args.no_themes else predictions.with_columns(pl.lit(False).alias("is_feature_request"))
    market = build_market(requests, reviews, embedder(settings, not args.no_themes), set(STOPWORDS), settings, stability_resamples=0)
    built = time.perf_counter() - started
    started = time.perf_counter()
    shares, overlaps = ranking_stability(market.mentions, market.themed, settings, all_reviews=market.reviews,
                                         resamples=args.resamples, seed=args.seed)
    seconds = time.perf_counter() - started
    top = (market.table.filter(pl.col("rank").is_not_null() & (pl.col("rank") <= settings.stability_top))
           .join(shares, on=["kind", "category", "need"], how="left").with_columns(pl.col("top_share").fill_null(0.0)).sort("rank"))
    print(f"{market.mentions.height:,} aspect mentions, {market.requests.height:,} feature requests, "
          f"{int(market.table['rank'].is_not_null().sum())} ranked needs; {args.resamples} resamples in {seconds:.0f} s "
          f"(ranking built in {built:.0f} s)")
    print(f"{'rank':>4}  {'in top 10':>9}  {'n':>7}  kind / category / need")
    for r in top.iter_rows(named=True):
        print(f"{r['rank']:>4}  {r['top_share']:>9.0%}  {r['mentions']:>7,}  {r['kind']} / {r['category']} / {r['need']}")
    result = {
        "home": str(args.home), "resamples": args.resamples, "seed": args.seed, "themes": not args.no_themes,
        "top10_overlap_median": float(np.median(overlaps)) if overlaps else None,
        "top10_overlap_mean": float(np.mean(overlaps)) if overlaps else None,
        "top10_overlap_p10": float(np.quantile(overlaps, 0.1)) if overlaps else None,
        "ranked_needs": int(market.table["rank"].is_not_null().sum()), "seconds": round(seconds, 1),
        "top10": [{"rank": r["rank"], "kind": r["kind"], "category": r["category"], "need": r["need"], "mentions": r["mentions"],
                   "in_top10": r["top_share"]} for r in top.iter_rows(named=True)],
    }
    if args.out is None:
        record(NAME, result)
        return
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
