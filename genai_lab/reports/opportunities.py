"""The market-opportunity report: what users of each category hate and ask for, and who serves it best.

Pure functions from the `market_opportunities` table and the monthly trend (:mod:`genai_lab.insight.market`) to
Markdown (for Dagster metadata: small, its plots linked as PNG files written beside it) and one self-contained HTML page
(plots embedded); :func:`write_opportunity_report` writes all three. Both are rendered from
the same list of blocks, so the two files always say the same thing. Every sentence of the findings is built from
the table: change a number and the sentence changes.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from genai_lab.insight.market import (
    APP_LEVEL,
    ASPECT,
    CATEGORY_LEVEL,
    FEATURE_REQUEST,
    OpportunitySettings,
    describe_growth,
    score_formula,
)
from genai_lab.reports.render import CSS, data_uri, empty_png, figure, md_table, md_text, png
from genai_lab.reports.writing import write_atomically

TITLE = "Market opportunities from app reviews"
_KIND_LABEL = {ASPECT: "complaint", FEATURE_REQUEST: "feature request"}
#: the Markdown's plots lie in this folder beside it
PLOT_FOLDER = "opportunity_report_plots"
_KIND_COLOUR = {ASPECT: "#cf222e", FEATURE_REQUEST: "#1f6feb"}


@dataclass
class Block:
    kind: str  # h2, h3, p, ul, table, img, quotes
    text: str = ""
    items: list = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    image: bytes = b""


@dataclass
class OpportunityReport:
    markdown: str
    html: str
    findings: list[str]
    plots: dict[str, bytes]
    #: the Markdown's plots: path relative to the report's folder -> PNG bytes (write them beside the .md)
    files: dict[str, bytes] = field(default_factory=dict)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def _num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _share(r: dict, prefix: str = "negative_share") -> str:
    """"64% [57–71%]": a share (its posterior estimate where there is one) with its 95% interval."""
    value, low, high = r.get(f"{prefix}_estimate", r.get(prefix)), r.get(f"{prefix}_low"), r.get(f"{prefix}_high")
    value = r.get(prefix) if value is None else value
    if value is None:
        return "–"
    return f"{_pct(value)} [{_pct(low)}–{_pct(high)}]" if low is not None and high is not None else _pct(value)


def _lift(r: dict) -> str:
    """"×1.8 [1.6–2.0] of 36%": the negative share over what is normal for the aspect elsewhere."""
    if r.get("lift") is None:
        return "–"
    return f"×{r['lift']:.2f} [{r['lift_low']:.2f}–{r['lift_high']:.2f}] of {_pct(r['baseline_negative_share'])}"


def _growth(r: dict) -> str:
    return describe_growth(r.get("growth"), r.get("growth_low"), r.get("growth_high"))


def _stability(r: dict) -> str:
    return "–" if r.get("stability") is None else _pct(r["stability"])


def _best_served(r: dict) -> str:
    if not r.get("best_served_app"):
        return "–"
    return f"{r['best_served_app']} {_share(r, 'best_served_negative_share')}"


def _apps_asking(theme: dict) -> str:
    """"2 of 5": the apps whose users ask for a theme, of the category's apps."""
    asking = theme["apps_asking"] or 0
    return f"{asking} of {theme['competitors']}" if theme["competitors"] else str(asking)


def _ranking(opportunities: pl.DataFrame) -> pl.DataFrame:
    """The ranked needs: category level, with enough evidence (ranked rows only)."""
    return opportunities.filter((pl.col("level") == CATEGORY_LEVEL) & pl.col("rank").is_not_null()).sort("rank")


def _request_sample(opportunities: pl.DataFrame) -> str:
    """"a seeded sample of 10,000 of the 43,210 requests" where the theme counts are of a sample; "" where of every request."""
    themes = opportunities.filter((pl.col("level") == CATEGORY_LEVEL) & (pl.col("kind") == FEATURE_REQUEST))
    total = themes["sampled_from"].drop_nulls()
    if total.is_empty():
        return ""
    # each sampled request lies in exactly one category-level theme row, so their counts add up to the sample
    return f"a seeded sample of {int(themes['mentions'].sum()):,} of the {int(total[0]):,} requests"


def _stable(r: dict, settings: OpportunitySettings) -> str:
    return (f"; in the top {settings.stability_top} in {_pct(r['stability'])} of resamples" if r.get("stability") is not None else "")


def key_findings(opportunities: pl.DataFrame, settings: OpportunitySettings | None = None) -> list[str]:
    """Sentences from the table, each number with its 95% interval and n: the top unmet need, the top request, the
    widest gap between competitors that the intervals confirm, the fastest riser whose interval lies above 1."""
    settings = settings or OpportunitySettings()
    ranking = _ranking(opportunities)
    aspects = ranking.filter(pl.col("kind") == ASPECT)
    themes = ranking.filter(pl.col("kind") == FEATURE_REQUEST)
    findings = []
    if not aspects.is_empty():
        top = aspects.row(0, named=True)
        served = (f"even the best-served app, {top['best_served_app']}, has {_share(top, 'best_served_negative_share')} negative"
                  if top["best_served_app"] else f"no app has {settings.min_support} mentions of it to compare")
        findings.append(f"The biggest unmet need users complain about is **{top['need']}** in {top['category']} (rank {top['rank']}, "
                        f"score {top['score']:.2f}): "
                        f"{top['negative']:,} negative of {top['mentions']:,} mentions from {top['apps']} apps, {_share(top)} negative, "
                        f"{_lift(top)} for {top['need']} in the rest of the corpus; {served}; {_growth(top)}{_stable(top, settings)}.")
    if not themes.is_empty():
        top = themes.row(0, named=True)
        sample = _request_sample(opportunities)
        findings.append(f"The most pressing feature request is **{top['need']}** ({top['keywords']}) in {top['category']}: "
                        f"{top['mentions']:,} requests {f'(in {sample}) ' if sample else ''}from users of {_apps_asking(top)} app(s) "
                        f"of the category, {_growth(top)}{_stable(top, settings)}.")
    apps = opportunities.filter((pl.col("level") == APP_LEVEL) & (pl.col("kind") == ASPECT) & ~pl.col("thin").fill_null(False))
    if not apps.is_empty():
        # a gap counts only as far as the intervals confirm it: the worse app's lower bound over the better one's upper bound
        spread = (apps.group_by("category", "need").agg(
            pl.col("negative_share_low").max().alias("worst_low"), pl.col("negative_share_high").min().alias("best_high"),
            pl.col("app").sort_by("negative_share_low").last().alias("worst_app"),
            pl.col("app").sort_by("negative_share_high").first().alias("best_app"),
            pl.len().alias("competing")).filter(pl.col("competing") >= 2)
            .with_columns((pl.col("worst_low") - pl.col("best_high")).alias("gap")).filter(pl.col("gap") > 0)
            .sort(["gap", "category", "need"], descending=[True, False, False]))
        if not spread.is_empty():
            gap = spread.row(0, named=True)
            row = {r["app"]: r for r in apps.filter((pl.col("category") == gap["category"]) & (pl.col("need") == gap["need"]))
                   .iter_rows(named=True)}
            worst, best = row[gap["worst_app"]], row[gap["best_app"]]
            findings.append(f"The widest confirmed gap between competitors is **{gap['need']}** in {gap['category']}: "
                            f"{gap['worst_app']} at {_share(worst)} negative (n = {worst['mentions']:,}) against {gap['best_app']} at "
                            f"{_share(best)} (n = {best['mentions']:,}) — a weakness rivals can attack.")
    risers = aspects.filter(pl.col("growth_low") > 1).sort(["growth_low", "negative"], descending=True)
    if not risers.is_empty():
        riser = risers.row(0, named=True)
        findings.append(f"Complaints about **{riser['need']}** in {riser['category']} grow fastest: {riser['recent']:,} negative mentions in "
                        f"the last {settings.recent_months} months of each app's data against {riser['expected']:.0f} expected from each "
                        f"app's own review flow, {_growth(riser)}.")
    if not findings:
        findings.append(f"No need has enough evidence to rank yet (at least {settings.min_support} mentions or requests from "
                        f"{settings.min_apps} apps).")
    return findings


# ----------------------------------------------------------------------------------------------------------------- plots


def top_needs_png(opportunities: pl.DataFrame, top: int) -> bytes:
    ranking = _ranking(opportunities).head(top)
    if ranking.is_empty():
        return empty_png("no needs to rank")
    canvas = figure(8, 0.38 * ranking.height + 1.2)
    axes = canvas.add_subplot()
    labels = [f"{r['need']} — {r['category']}" for r in ranking.iter_rows(named=True)][::-1]
    colours = [_KIND_COLOUR[k] for k in ranking["kind"]][::-1]
    axes.barh(labels, ranking["score"].to_list()[::-1], color=colours)
    axes.set_xlabel("opportunity score")
    for kind, colour in _KIND_COLOUR.items():
        axes.bar(0, 0, color=colour, label=_KIND_LABEL[kind])
    axes.legend(loc="lower right", frameon=False)
    axes.tick_params(axis="y", labelsize=8)
    return png(canvas)


def trend_png(trend: pl.DataFrame, category: str, needs: Sequence[str], months: int = 24) -> bytes:
    rows = trend.filter((pl.col("category") == category) & pl.col("need").is_in(list(needs)))
    if rows.is_empty():
        return empty_png(f"no dated mentions in {category}")
    last = rows["month"].max()
    rows = rows.filter(pl.col("month") > pl.lit(last).dt.offset_by(f"-{months}mo"))
    canvas = figure(8, 3)
    axes = canvas.add_subplot()
    for need in needs:
        series = rows.filter(pl.col("need") == need).sort("month")
        if not series.is_empty():
            axes.plot(series["month"].to_list(), series["negative"].to_list(), marker="o", markersize=3, label=need)
    axes.set_ylabel("negative mentions per month")
    axes.legend(fontsize=8, frameon=False)
    axes.tick_params(axis="x", labelsize=8, rotation=30)
    return png(canvas)


def competitors_png(opportunities: pl.DataFrame, category: str, needs: Sequence[str]) -> bytes:
    rows = opportunities.filter((pl.col("level") == APP_LEVEL) & (pl.col("kind") == ASPECT) & (pl.col("category") == category)
                                & pl.col("need").is_in(list(needs)))
    apps = sorted(set(rows["app"]))
    if len(apps) < 2:
        return b""
    grid = np.full((len(apps), len(needs)), np.nan)
    for r in rows.iter_rows(named=True):
        grid[apps.index(r["app"]), list(needs).index(r["need"])] = r["negative_share"]
    canvas = figure(1.1 * len(needs) + 3, 0.4 * len(apps) + 1.6)
    axes = canvas.add_subplot()
    image = axes.imshow(np.ma.masked_invalid(grid), cmap="RdYlGn_r", vmin=0, vmax=1, aspect="auto")
    axes.set_xticks(range(len(needs)), list(needs), rotation=30, ha="right", fontsize=8)
    axes.set_yticks(range(len(apps)), apps, fontsize=8)
    for (i, j), value in np.ndenumerate(grid):
        if not np.isnan(value):
            axes.text(j, i, f"{100 * value:.0f}", ha="center", va="center", fontsize=7)
    canvas.colorbar(image, ax=axes, label="negative share of mentions")
    return png(canvas)


# ---------------------------------------------------------------------------------------------------------------- blocks


def _score_explained(settings: OpportunitySettings, sample: str) -> list[str]:
    sampled = ([(f"Feature-request counts are of {sample} (at most max_requests = {settings.max_requests:,} are clustered into "
                 "themes): a theme's count, and its volume in the score, is the sample's, not every request's.")] if sample else [])
    top_helpful = 1 + settings.helpful_scale * np.log1p(settings.helpful_cap)
    return [
        score_formula() + "; every factor is a conservative (lower-bound) estimate, so a need ranks on the evidence behind it.",
        (f"Ranked: needs of a category with at least {settings.min_support} mentions (requests) from at least {settings.min_apps} apps. "
         "Thinner needs stay in the table `market_opportunities` (marked `thin`) and in the per-app detail."),
        ("excess, complaints: ln of the lower 95% bound of the lift — the need's negative share (Beta posterior with an "
         "empirical-Bayes prior fitted over the aspect's categories) over the same aspect's negative share in the rest of the "
         "corpus; 0 when the bound is at or below 1. An aspect that is negative everywhere (bugs) is the baseline, not the finding."),
        "excess, feature-request themes: the Wilson lower bound of the share of the category's apps whose users ask for it.",
        (f"growth: the need's negative mentions (requests) in the last {settings.recent_months} months of each app's own data over the "
         "number expected from each app's whole review flow, with an exact Poisson interval. \"growing\" only where the whole interval "
         f"lies above 1; the score uses the bound nearer 1 (1 where the interval holds 1), within [{settings.growth_floor}, "
         f"{settings.growth_cap}]."),
        (f"helpful: 1 + {settings.helpful_scale} × ln(1 + mean helpful votes of the complaints, each review's votes capped at "
         f"{settings.helpful_cap}) — at most {top_helpful:.2f}, so one viral review cannot carry a need."),
        ("stability: the share of bootstrap resamples (reviews drawn with replacement within each app) in which the need stays in "
         f"the top {settings.stability_top}."),
        ("Intervals are 95%. Sentiment is the serving model's prediction per aspect mention; feature requests are the review-type "
         "detector's; quotes say the need (its aspect term or synonym, or a theme key word), complaints are predicted negative, "
         f"{settings.quote_min_chars}–{settings.quote_max_chars} characters, e-mail addresses, URLs, phone numbers and @handles masked."),
    ] + sampled


def _ranking_rows(rows: pl.DataFrame) -> list[list[str]]:
    return [[str(r["rank"]), r["category"], _KIND_LABEL[r["kind"]], r["need"], f"{r['mentions']:,} ({r['apps']} apps)",
             _share(r) if r["kind"] == ASPECT else "–",
             _lift(r) if r["kind"] == ASPECT else f"{_apps_asking(r)} apps asking",
             _best_served(r), _growth(r), _num(r["score"]), _stability(r)] for r in rows.iter_rows(named=True)]


_RANKING_HEADER = ["rank", "category", "kind", "need", "n (mentions / requests)", "negative [95%]", "against normal [95%]",
                   "best-served app, negative [95%]", "growth [95%]", "score", "in top 10"]


def _category_blocks(opportunities: pl.DataFrame, trend: pl.DataFrame, category: str, settings: OpportunitySettings) -> list[Block]:
    rows = opportunities.filter((pl.col("level") == CATEGORY_LEVEL) & (pl.col("category") == category))
    aspects = rows.filter(pl.col("kind") == ASPECT).sort(["thin", "score"], descending=[False, True])
    themes = rows.filter(pl.col("kind") == FEATURE_REQUEST).sort(["thin", "score"], descending=[False, True])
    mentions = int(aspects["mentions"].sum())
    sample = _request_sample(opportunities)
    blocks = [Block("h2", f"{category}"),
              Block("p", f"{mentions:,} aspect mentions, {int(themes['mentions'].sum()):,} feature requests"
                         f"{f' (in {sample})' if sample else ''}. Needs marked *thin* have fewer than {settings.min_support} "
                         f"mentions or fewer than {settings.min_apps} apps and are not ranked.")]
    if not aspects.is_empty():
        blocks.append(Block("h3", "Sentiment by aspect"))
        blocks.append(Block("table", header=["aspect", "n", "negative [95%]", "against normal [95%]", "positive", "growth [95%]",
                                             "score", "rank"],
                            items=[[r["need"] + (" (thin)" if r["thin"] else ""), f"{r['mentions']:,}", _share(r), _lift(r),
                                    _pct(r["positive_share"]), _growth(r), _num(r["score"]), str(r["rank"] or "–")]
                                   for r in aspects.iter_rows(named=True)]))
        needs = aspects.filter(~pl.col("thin"))["need"].head(8).to_list() or aspects["need"].head(8).to_list()
        apps = opportunities.filter((pl.col("level") == APP_LEVEL) & (pl.col("kind") == ASPECT) & (pl.col("category") == category)
                                    & pl.col("need").is_in(needs))
        heatmap = competitors_png(opportunities, category, needs)
        if heatmap:
            blocks.append(Block("h3", "Competing apps side by side"))
            blocks.append(Block("img", f"negative share of mentions per app and aspect in {category}", image=heatmap))
            cell = apps.with_columns(pl.format("{}{} (n={})", (pl.col("negative_share") * 100).round(0).cast(pl.Int64), pl.lit("%"),
                                               pl.col("mentions")).alias("cell"))
            pivot = cell.pivot(on="need", index="app", values="cell").sort("app")
            columns = [n for n in needs if n in pivot.columns]
            blocks.append(Block("table", header=["app (negative share, n)", *columns],
                                items=[[r["app"], *(r[n] or "–" for n in columns)] for r in pivot.iter_rows(named=True)]))
        blocks.append(Block("h3", "Trend of the top complaints"))
        blocks.append(Block("img", f"negative mentions per month of the top aspects in {category}", image=trend_png(trend, category, needs[:4])))
        blocks.append(Block("h3", "Top complaints"))
        for r in aspects.filter(~pl.col("thin")).head(3).iter_rows(named=True):
            blocks.append(Block("quotes", f"{r['need']} — {r['negative']:,} negative of {r['mentions']:,} mentions, {_share(r)}",
                                items=list(r["quotes"] or [])))
    if not themes.is_empty():
        blocks.append(Block("h3", "Feature requests by theme"))
        blocks.append(Block("table", header=["theme", "key words", "requests", "apps asking (of the category's)", "growth [95%]", "score",
                                             "rank"],
                            items=[[r["need"] + (" (thin)" if r["thin"] else ""), r["keywords"] or "–", f"{r['mentions']:,}",
                                    _apps_asking(r), _growth(r), _num(r["score"]), str(r["rank"] or "–")]
                                   for r in themes.head(settings.top_needs).iter_rows(named=True)]))
        for r in themes.filter(~pl.col("thin")).head(3).iter_rows(named=True):
            blocks.append(Block("quotes", f"{r['need']} — {r['mentions']:,} requests ({r['keywords']})", items=list(r["quotes"] or [])))
    return blocks


def report_blocks(opportunities: pl.DataFrame, trend: pl.DataFrame, settings: OpportunitySettings, findings: list[str],
                  summary: str, plots: dict[str, bytes]) -> list[Block]:
    blocks = [Block("p", summary), Block("h2", "Key findings"), Block("ul", items=findings),
              Block("h2", "Top unmet needs"), Block("img", "opportunity score of the top needs", image=plots["top_needs"]),
              Block("table", header=_RANKING_HEADER, items=_ranking_rows(_ranking(opportunities).head(settings.top_needs))),
              Block("h3", "How the opportunity score works"), Block("ul", items=_score_explained(settings, _request_sample(opportunities)))]
    volume = (opportunities.filter((pl.col("level") == CATEGORY_LEVEL) & (pl.col("kind") == ASPECT)).group_by("category")
              .agg(pl.col("mentions").sum()).sort(["mentions", "category"], descending=[True, False]))
    for category in volume["category"].head(settings.report_categories):
        blocks += _category_blocks(opportunities, trend, category, settings)
    return blocks


def plot_files(blocks: Sequence[Block], folder: str = PLOT_FOLDER) -> dict[str, bytes]:
    """The report's plots as files: relative path (under `folder`, beside the report) -> PNG bytes, in block order."""
    return {f"{folder}/{i:02d}-{_slug(b.text)}.png": b.image for i, b in enumerate(b for b in blocks if b.kind == "img")}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60]


def render_markdown(blocks: Sequence[Block], title: str = TITLE, folder: str = PLOT_FOLDER) -> str:
    """Markdown for the Dagster UI: small, its plots linked as PNG files written beside it (:func:`plot_files`)."""
    files = iter(plot_files(blocks, folder))
    lines = [f"# {title}", ""]
    for block in blocks:
        if block.kind in ("h2", "h3"):
            lines += [f"{'#' * int(block.kind[1])} {block.text}", ""]
        elif block.kind == "p":
            lines += [block.text, ""]
        elif block.kind == "ul":
            lines += [f"- {item}" for item in block.items] + [""]
        elif block.kind == "table":
            lines += md_table(block.header, block.items) + [""]
        elif block.kind == "img":
            lines += [f"![{block.text}]({next(files)})", ""]
        elif block.kind == "quotes":
            lines += [f"**{block.text}**", ""]
            for quote in block.items:  # a blank line between quotes keeps them separate blockquotes
                lines += ["> " + md_text(quote).replace("\n", "\n> "), ""]
    return "\n".join(lines)


def _inline(text: str) -> str:
    """Escaped HTML with the findings' **bold** kept."""
    parts = html.escape(text).split("**")
    return "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))


def _numeric(cell: str) -> bool:
    try:
        float(cell.replace(",", "").rstrip("%"))
        return True
    except ValueError:
        return cell == "–"


def render_html(blocks: Sequence[Block], title: str = TITLE) -> str:
    esc = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">', f"<title>{esc(title)}</title>",
             f"<style>{CSS}\ntd.text {{ text-align: left; }}\nblockquote {{ border-left: 3px solid #d0d7de; margin: 6px 0; padding: 2px 12px; color: #424a53; }}</style>",
             f"</head><body><h1>{esc(title)}</h1>"]
    for block in blocks:
        if block.kind in ("h2", "h3"):
            parts.append(f"<{block.kind}>{esc(block.text)}</{block.kind}>")
        elif block.kind == "p":
            parts.append(f'<p class="meta">{_inline(block.text)}</p>')
        elif block.kind == "ul":
            parts.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in block.items) + "</ul>")
        elif block.kind == "table":
            head = "".join(f"<th>{esc(h)}</th>" for h in block.header)
            body = "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" if _numeric(str(c)) else f'<td class="text">{esc(str(c))}</td>'
                                            for c in row) + "</tr>" for row in block.items)
            parts.append(f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>')
        elif block.kind == "img":
            parts.append(f'<figure><img src="{data_uri(block.image)}" alt="{esc(block.text)}"><figcaption>{esc(block.text)}'
                         "</figcaption></figure>")
        elif block.kind == "quotes":
            parts.append(f"<p><strong>{esc(block.text)}</strong></p>" + "".join(f"<blockquote>{esc(q)}</blockquote>" for q in block.items))
    parts.append("</body></html>")
    return "\n".join(parts)


def build_opportunity_report(opportunities: pl.DataFrame, trend: pl.DataFrame, settings: OpportunitySettings | None = None, *,
                             summary: str = "", generated_at: datetime | None = None) -> OpportunityReport:
    settings = settings or OpportunitySettings()
    stamp = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M %Z").strip()
    findings = key_findings(opportunities, settings)
    plots = {"top_needs": top_needs_png(opportunities, settings.top_needs)}
    blocks = report_blocks(opportunities, trend, settings, findings, f"Generated {stamp}. {summary}".strip(), plots)
    return OpportunityReport(markdown=render_markdown(blocks), html=render_html(blocks), findings=findings, plots=plots,
                             files=plot_files(blocks))


def write_opportunity_report(report: OpportunityReport, folder: Path, stem: str = "opportunity_report") -> dict[str, Path]:
    """`<stem>.md`, its PNG plots in `<folder>/<PLOT_FOLDER>/` and the self-contained `<stem>.html`, each written
    atomically (a temporary file renamed into place); stale plots of an earlier report are removed. Returns the paths."""
    folder = Path(folder)
    plots = folder / PLOT_FOLDER
    plots.mkdir(parents=True, exist_ok=True)
    for old in plots.glob("*.png"):
        if f"{PLOT_FOLDER}/{old.name}" not in report.files:
            old.unlink()

    for name, data in report.files.items():
        temporary = (folder / name).with_name(f".{Path(name).name}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, folder / name)
    paths = {"markdown": folder / f"{stem}.md", "html": folder / f"{stem}.html", "plots": plots}
    write_atomically(paths["markdown"], report.markdown)
    write_atomically(paths["html"], report.html)
    return paths
