"""The comparison report from a `model_evaluation` table, as HTML and Markdown, plus a headless-Chromium screenshot.

    python benchmarks/report_screenshot.py [PARQUET] [--out DIR]        # default /tmp/model_evaluation_real.parquet
    python benchmarks/report_screenshot.py --warehouse data/warehouse.duckdb [--out DIR]
    python benchmarks/report_screenshot.py --page data/reports/opportunity_report.html [--out DIR]   # any written report

Reads the table (a parquet file, or `lab.model_evaluation` of a DuckDB warehouse opened read-only, so a running
Dagster keeps its write lock), builds the report with `genai_lab.reports.comparison`, writes
`comparison_report.html` and `comparison_report.md` into --out (default /tmp/comparison_report) and screenshots the
HTML page with Debian's Chromium (`apt-get install -y chromium`) into `comparison_report.png`: the whole page, shot in
a tall window and cropped below the page's end. Prints the build time, the findings and the paths; the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import polars as pl  # noqa: E402

from genai_lab.reports.comparison import ReportSettings, build_comparison_report  # noqa: E402
from genai_lab.paths import WAREHOUSE_SCHEMA  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
DEFAULT_PARQUET = Path("/tmp/model_evaluation_real.parquet")

from recording import record  # noqa: E402  (benchmarks/ is the script folder)

def read_evaluation(parquet: Path | None, warehouse: Path | None) -> pl.DataFrame:
    if warehouse is not None:
        import duckdb

        with duckdb.connect(str(warehouse), read_only=True) as connection:
            return connection.execute(f"select * from {WAREHOUSE_SCHEMA}.model_evaluation").pl()
    return pl.read_parquet(parquet or DEFAULT_PARQUET)


def trim_bottom(image: Path) -> int:
    """Crops the blank window below the page's end (headless Chromium shoots the window, not the page); returns the height kept."""
    from PIL import Image, ImageChops

    with Image.open(image) as shot:
        shot = shot.convert("RGB")
        background = Image.new("RGB", shot.size, shot.getpixel((shot.width - 1, shot.height - 1)))
        box = ImageChops.difference(shot, background).getbbox()
        if box is None:
            return shot.height
        kept = min(shot.height, box[3] + 24)
        shot.crop((0, 0, shot.width, kept)).save(image)
        return kept


def screenshot(page: Path, image: Path, width: int, height: int) -> None:
    command = [str(CHROMIUM), "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars", f"--screenshot={image}",
               f"--window-size={width},{height}", page.resolve().as_uri()]
    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)
    if result.returncode != 0 or not image.exists():
        raise RuntimeError(f"chromium failed ({result.returncode}): {result.stderr[-2000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("parquet", nargs="?", type=Path, help=f"a model_evaluation parquet (default {DEFAULT_PARQUET})")
    parser.add_argument("--warehouse", type=Path, help="read lab.model_evaluation from this DuckDB file instead (read-only)")
    parser.add_argument("--page", type=Path, help="screenshot this already written HTML report (e.g. <home>/reports/opportunity_report.html)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/comparison_report"), help="output folder")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=9000,
                        help="window height; the blank part below the page is cropped, so a tall window gives the whole page")
    arguments = parser.parse_args()
    if arguments.parquet and arguments.warehouse:
        parser.error("give a parquet file or --warehouse, not both")
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: install Debian's Chromium with `apt-get install -y chromium` (as root), then rerun.",
              file=sys.stderr)
        return 2

    if arguments.page is not None:
        arguments.out.mkdir(parents=True, exist_ok=True)
        image = arguments.out / f"{arguments.page.stem}.png"
        image.unlink(missing_ok=True)
        started = time.perf_counter()
        screenshot(arguments.page, image, arguments.width, arguments.height)
        kept = trim_bottom(image)
        print(f"screenshot of {arguments.page}: {arguments.width}x{kept} in {time.perf_counter() - started:.1f} s -> {image}")
        print(json.dumps({"page": str(arguments.page), "screenshot": str(image), "height": kept}))
        return 0
    evaluation = read_evaluation(arguments.parquet, arguments.warehouse)
    started = time.perf_counter()
    report = build_comparison_report(evaluation, ReportSettings())
    build_seconds = time.perf_counter() - started

    arguments.out.mkdir(parents=True, exist_ok=True)
    page, markdown, image = (arguments.out / f"comparison_report.{suffix}" for suffix in ("html", "md", "png"))
    page.write_text(report.html, encoding="utf-8")
    markdown.write_text(report.markdown, encoding="utf-8")
    image.unlink(missing_ok=True)
    started = time.perf_counter()
    screenshot(page, image, arguments.width, arguments.height)
    kept = trim_bottom(image)
    shot_seconds = time.perf_counter() - started

    print(f"{evaluation.height} evaluation rows -> report in {build_seconds:.2f} s (HTML {len(report.html) / 1e3:.0f} kB, "
          f"Markdown {len(report.markdown) / 1e3:.0f} kB); screenshot {arguments.width}x{kept} in {shot_seconds:.1f} s")
    print("\n".join(f"- {line}" for line in report.findings))
    print(f"HTML {page}\nMarkdown {markdown}\nscreenshot {image}")
    if shutil.which("file"):
        subprocess.run(["file", str(image)], check=False)
    record("report_screenshot", {"rows": evaluation.height, "build_s": round(build_seconds, 3), "screenshot_s": round(shot_seconds, 2),
                      "html_bytes": len(report.html), "markdown_bytes": len(report.markdown), "synthetic_gold": report.synthetic_gold,
                      "html": str(page), "markdown": str(markdown), "screenshot": str(image)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
