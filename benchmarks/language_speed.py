"""Throughput of the language-identification cascade (genai_lab.text.language).

    python benchmarks/language_speed.py [--rows N] [--threads 1] [--repeat 2]

Reads the `content` column of ../shared/data/appstore_reviews_real.parquet (beside the
repository) or, when that is missing, a seeded synthetic multilingual sample. Loads the models
once (not timed: a process pays that once), then times the whole cascade, prints per-stage
counts and seconds, the language distribution, and a final JSON line.

`--threads 1` (default) pins polars and lingua (rayon) to one thread, so the number is the
one-core throughput; the environment variables must be set before polars is imported.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "appstore_reviews_real.parquet"

from recording import record  # noqa: E402  (benchmarks/ is the script folder)

def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--rows", type=int, default=0, help="use the first N rows (0 = all)")
    p.add_argument(
        "--threads", type=int, default=1, help="polars / lingua threads (0 = library default)"
    )
    p.add_argument("--repeat", type=int, default=2, help="timed runs; the best is reported")
    p.add_argument("--data", type=Path, default=DATA, help="parquet file with a `content` column")
    return p.parse_args()


def _synthetic(n: int, seed: int = 0) -> list[str | None]:
    """A seeded multilingual stand-in for real reviews (about two thirds English)."""
    rng = random.Random(seed)
    en = [
        "Great app", "Love it", "Works fine now", "Not worth the money", "Crashes constantly",
        "I have been using this app for years and it keeps getting better with every update.",
        "The latest update broke notifications and now I miss messages from my team.",
        "Easy to use and it does exactly what I need, but the ads are a bit too much.",
        "Why do I have to log in again every time I open the app? Please fix this.",
        "Good", "Awesome app, thank you!", "Terrible customer service, they never answered.",
    ]
    other = [
        "Muy buena app",
        "La aplicación se cierra sola cada vez que intento pagar con la tarjeta.",
        "Sehr gut",
        "Seit dem letzten Update stürzt die App ständig ab, bitte beheben.",
        "Très bien", "Application très pratique mais il manque le mode sombre.",
        "Muito bom", "O aplicativo é ótimo, mas às vezes demora para carregar.",
        "Molto bella", "Heel goed", "Oyun çok güzel ama reklamlar fazla.",
        "좋아요", "업데이트 이후로 앱이 자꾸 꺼져요 수정해주세요", "とても使いやすいです", "很好用",
        "Отличное приложение", "Ang ganda ng app na ito", "Aplikasinya bagus sekali",
    ]
    junk = [None, "", "👍👍", "https://example.com", "10/10", "Ok"]
    out: list[str | None] = []
    for _ in range(n):
        r = rng.random()
        pool = en if r < 0.64 else other if r < 0.97 else junk
        out.append(rng.choice(pool))
    return out


def main() -> int:
    args = _args()
    if args.threads > 0:  # before polars / lingua start their thread pools
        os.environ["POLARS_MAX_THREADS"] = str(args.threads)
        os.environ["RAYON_NUM_THREADS"] = str(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(REPO))

    import polars as pl

    from genai_lab.text.language import METHODS, LanguageSettings, detect_language, warm_up

    if args.data.is_file():
        texts = pl.read_parquet(args.data, columns=["content"])["content"]
        source = str(args.data.name)
    else:
        texts = pl.Series("content", _synthetic(args.rows or 50_000), pl.String)
        source = "synthetic"
    if args.rows:
        texts = texts.head(args.rows)
    n = len(texts)
    settings = LanguageSettings()

    t0 = time.perf_counter()
    warm_up(settings)
    load_s = time.perf_counter() - t0

    best: tuple[float, dict[str, float], pl.DataFrame] | None = None
    for _ in range(max(1, args.repeat)):
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        out = detect_language(texts, settings, timings=timings)
        dt = time.perf_counter() - t0
        if best is None or dt < best[0]:
            best = (dt, timings, out)
    assert best is not None
    dt, timings, out = best

    counts = out["language_method"].value_counts()
    per_method = {m: 0 for m in METHODS}
    per_method.update(dict(zip(counts["language_method"].to_list(), counts["count"].to_list())))
    langs = out["language"].value_counts(sort=True)
    top = [
        {"language": lang, "count": c, "share": round(c / n, 4)}
        for lang, c in zip(langs["language"].head(10).to_list(), langs["count"].head(10).to_list())
    ]
    per_stage_lang = (
        out.group_by("language_method", "language").len().sort("len", descending=True)
        .group_by("language_method", maintain_order=True).head(5)
    )

    print(f"source: {source}  rows: {n:,}  threads: {args.threads or 'default'}")
    print(f"model load (once per process): {load_s:.2f} s")
    print(f"cascade: {dt:.2f} s  ->  {n / dt:,.0f} texts/s")
    print("\nstage        decided    share")
    for m in METHODS:
        print(f"{m:10s} {per_method[m]:>9,} {per_method[m] / n:8.1%}")
    print("\nstage        seconds")
    for k, v in timings.items():
        print(f"{k:10s} {v:9.3f}")
    print("\nlanguages (top 10)")
    for row in top:
        print(f"  {row['language']:4s} {row['count']:>8,} {row['share']:7.1%}")
    print("\ntop languages per stage")
    for method, lang, c in per_stage_lang.iter_rows():
        print(f"  {method:10s} {lang:4s} {c:>8,}")
    record("language_speed", {
        "benchmark": "language_speed",
        "source": source,
        "rows": n,
        "threads": args.threads,
        "seconds": round(dt, 3),
        "texts_per_s": round(n / dt),
        "model_load_s": round(load_s, 2),
        "stage_counts": per_method,
        "stage_seconds": {k: round(v, 3) for k, v in timings.items()},
        "share_en": round(float((out["language"] == "en").mean()), 4),
        "top_languages": top,
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
