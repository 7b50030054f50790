"""The market-opportunity report: what users of each category hate and ask for, and who serves it best.

Pure functions from the `market_opportunities` table and the monthly trend (:mod:`genai_lab.insight.market`) to
Markdown (for Dagster metadata, plots as base64 images) and one self-contained HTML page. Both are rendered from
the same list of blocks, so the two files always say the same thing. Every sentence of the findings is built from
the table: change a number and the sentence changes.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

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

TITLE = "Market opportunities from app reviews"
_KIND_LABEL = {ASPECT: "complaint", FEATURE_REQUEST: "feature request"}
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


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def _num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _apps_asking(theme: dict) -> str:
    """"2 of 5": the apps whose users ask for a theme, of the category's apps."""
    asking = theme["apps_asking"] or 0
    return f"{asking} of {theme['competitors']}" if theme["competitors"] else str(asking)


def _ranking(opportunities: pl.DataFrame) -> pl.DataFrame:
    return opportunities.filter(pl.col("level") == CATEGORY_LEVEL).sort("rank")


def _request_sample(opportunities: pl.DataFrame) -> str:
    """"a seeded sample of 10,000 of the 43,210 requests" where the theme counts are of a sample; "" where of every request."""
    themes = _ranking(opportunities).filter(pl.col("kind") == FEATURE_REQUEST)
    total = themes["sampled_from"].drop_nulls()
    if total.is_empty():
        return ""
    # each sampled request lies in exactly one category-level theme row, so their counts add up to the sample
    return f"a seeded sample of {int(themes['mentions'].sum()):,} of the {int(total[0]):,} requests"


def key_findings(opportunities: pl.DataFrame, settings: OpportunitySettings | None = None) -> list[str]:
    """Sentences from the table: the top unmet need, the top request, the widest gap between competitors, the fastest riser."""
    settings = settings or OpportunitySettings()
    ranking = _ranking(opportunities)
    aspects = ranking.filter(pl.col("kind") == ASPECT)
    themes = ranking.filter(pl.col("kind") == FEATURE_REQUEST)
    findings = []
    if not aspects.is_empty():
        top = aspects.row(0, named=True)
        served = (f"{_pct(top['best_served_negative_share'])} negative even at the best-served app, {top['best_served_app']}"
                  if top["best_served_app"] else f"{_pct(top['negative_share'])} of its mentions negative (no competitor has "
                                                     "enough mentions to compare)")
        findings.append(f"The biggest unmet need is **{top['need']}** in {top['category']} (rank {top['rank']}, score "
                        f"{top['score']:.2f}): {top['negative']:,} negative of {top['mentions']:,} mentions, {served}; "
                        f"{describe_growth(top['growth'], settings)}.")
    if not themes.is_empty():
        top = themes.row(0, named=True)
        sample = _request_sample(opportunities)
        findings.append(f"The most pressing feature request is **{top['need']}** in {top['category']}: {top['mentions']:,} requests "
                        f"{f'(in {sample}) ' if sample else ''}from users of {_apps_asking(top)} app(s) of the category, "
                        f"{describe_growth(top['growth'], settings)}.")
    apps = opportunities.filter((pl.col("level") == APP_LEVEL) & (pl.col("kind") == ASPECT))
    if not apps.is_empty():
        spread = (apps.group_by("category", "need").agg(
            pl.col("negative_share").max().alias("worst"), pl.col("negative_share").min().alias("best"),
            pl.col("app").sort_by("negative_share").last().alias("worst_app"), pl.col("app").sort_by("negative_share").first().alias("best_app"),
            pl.len().alias("apps")).filter(pl.col("apps") >= 2).with_columns((pl.col("worst") - pl.col("best")).alias("gap"))
            .sort(["gap", "category", "need"], descending=[True, False, False]))
        if not spread.is_empty():
            gap = spread.row(0, named=True)
            findings.append(f"The widest gap between competitors is **{gap['need']}** in {gap['category']}: {gap['worst_app']} at "
                            f"{_pct(gap['worst'])} negative against {gap['best_app']} at {_pct(gap['best'])} — a weakness rivals can attack.")
    risers = aspects.filter(pl.col("growth") > 1.1).sort(["growth", "negative"], descending=True)
    if not risers.is_empty():
        riser = risers.row(0, named=True)
        findings.append(f"Complaints about **{riser['need']}** in {riser['category']} grow fastest: {describe_growth(riser['growth'], settings)} "
                        f"in the last {settings.recent_months} months of each app's data against what each app's own review flow "
                        "predicts.")
    if not findings:
        findings.append("No aspect mentions or feature requests were scored, so there is nothing to rank yet.")
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
    sampled = ([f"Feature-request counts are of {sample} (at most max_requests = {settings.max_requests:,} are clustered into "
                "themes): a theme's count, and its volume in the score, is the sample's, not every request's."] if sample else [])
    return [
        score_formula(),
        f"unmet: the negative share of the need at the best-served app of the category among apps with at least "
        f"{settings.min_mentions} mentions of it (the category's own share when none qualifies); for a feature-request theme, the "
        "share of the category's apps whose users ask for it.",
        f"growth: the need's negative mentions (requests) in the last {settings.recent_months} months of each app's own data "
        "(exports of different apps end at different dates) divided by the number expected there had they followed each app's "
        f"whole review flow, clipped to [{settings.growth_floor}, {settings.growth_cap}].",
        "helpful: the App Store's helpful votes of the complaints (requests), so needs that many readers agree with weigh more.",
        "Sentiment is the serving model's prediction per aspect mention; feature requests are the review-type detector's; quotes are "
        f"the most helpful readable ones ({settings.quote_min_chars}–{settings.quote_max_chars} characters), with e-mail addresses, "
        "URLs, phone numbers and @handles masked.",
    ] + sampled


def _ranking_rows(rows: pl.DataFrame) -> list[list[str]]:
    return [[str(r["rank"]), r["category"], _KIND_LABEL[r["kind"]], r["need"], f"{r['mentions']:,}",
             _pct(r["negative_share"]) if r["kind"] == ASPECT else "–",
             f"{r['best_served_app']} ({_pct(r['best_served_negative_share'])})" if r["best_served_app"] else "–",
             _num(r["growth"]), _num(r["helpful_votes_mean"]), _num(r["score"])] for r in rows.iter_rows(named=True)]


_RANKING_HEADER = ["rank", "category", "kind", "need", "mentions", "negative", "best-served app", "growth", "helpful votes", "score"]


def _category_blocks(opportunities: pl.DataFrame, trend: pl.DataFrame, category: str, settings: OpportunitySettings) -> list[Block]:
    rows = _ranking(opportunities).filter(pl.col("category") == category)
    aspects = rows.filter(pl.col("kind") == ASPECT).sort("score", descending=True)
    themes = rows.filter(pl.col("kind") == FEATURE_REQUEST).sort("score", descending=True)
    mentions = int(aspects["mentions"].sum())
    sample = _request_sample(opportunities)
    blocks = [Block("h2", f"{category}"),
              Block("p", f"{mentions:,} aspect mentions, {int(themes['mentions'].sum()):,} feature requests"
                         f"{f' (in {sample})' if sample else ''}.")]
    if not aspects.is_empty():
        blocks.append(Block("h3", "Sentiment by aspect"))
        blocks.append(Block("table", header=["aspect", "mentions", "share of mentions", "negative", "positive", "growth", "score"],
                            items=[[r["need"], f"{r['mentions']:,}", _pct(r["mentions"] / max(mentions, 1)), _pct(r["negative_share"]),
                                    _pct(r["positive_share"]), describe_growth(r["growth"], settings), _num(r["score"])]
                                   for r in aspects.iter_rows(named=True)]))
        needs = aspects["need"].head(8).to_list()
        heatmap = competitors_png(opportunities, category, needs)
        if heatmap:
            blocks.append(Block("h3", "Competing apps side by side"))
            blocks.append(Block("img", f"negative share of mentions per app and aspect in {category}", image=heatmap))
            apps = opportunities.filter((pl.col("level") == APP_LEVEL) & (pl.col("kind") == ASPECT) & (pl.col("category") == category)
                                        & pl.col("need").is_in(needs))
            pivot = apps.pivot(on="need", index="app", values="negative_share").sort("app")
            columns = [n for n in needs if n in pivot.columns]
            blocks.append(Block("table", header=["app (negative share)", *columns],
                                items=[[r["app"], *(_pct(r[n]) for n in columns)] for r in pivot.iter_rows(named=True)]))
        blocks.append(Block("h3", "Trend of the top complaints"))
        blocks.append(Block("img", f"negative mentions per month of the top aspects in {category}", image=trend_png(trend, category, needs[:4])))
        blocks.append(Block("h3", "Top complaints"))
        for r in aspects.head(3).iter_rows(named=True):
            blocks.append(Block("quotes", f"{r['need']} — {_pct(r['negative_share'])} negative of {r['mentions']:,} mentions",
                                items=list(r["quotes"] or [])))
    if not themes.is_empty():
        blocks.append(Block("h3", "Feature requests by theme"))
        blocks.append(Block("table", header=["theme", "requests", "apps asking (of the category's)", "growth", "score"],
                            items=[[r["need"], f"{r['mentions']:,}", _apps_asking(r), describe_growth(r["growth"], settings),
                                    _num(r["score"])] for r in themes.head(settings.top_needs).iter_rows(named=True)]))
        for r in themes.head(3).iter_rows(named=True):
            blocks.append(Block("quotes", f"{r['need']} — {r['mentions']:,} requests", items=list(r["quotes"] or [])))
    return blocks


def report_blocks(opportunities: pl.DataFrame, trend: pl.DataFrame, settings: OpportunitySettings, findings: list[str],
                  summary: str, plots: dict[str, bytes]) -> list[Block]:
    blocks = [Block("p", summary), Block("h2", "Key findings"), Block("ul", items=findings),
              Block("h2", "Top unmet needs"), Block("img", "opportunity score of the top needs", image=plots["top_needs"]),
              Block("table", header=_RANKING_HEADER, items=_ranking_rows(_ranking(opportunities).head(settings.top_needs))),
              Block("h3", "How the opportunity score works"), Block("ul", items=_score_explained(settings, _request_sample(opportunities)))]
    volume = (_ranking(opportunities).filter(pl.col("kind") == ASPECT).group_by("category").agg(pl.col("mentions").sum())
              .sort(["mentions", "category"], descending=[True, False]))
    for category in volume["category"].head(settings.report_categories):
        blocks += _category_blocks(opportunities, trend, category, settings)
    return blocks


def render_markdown(blocks: Sequence[Block], title: str = TITLE) -> str:
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
            lines += [f"![{block.text}]({data_uri(block.image)})", ""]
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
    return OpportunityReport(markdown=render_markdown(blocks), html=render_html(blocks), findings=findings, plots=plots)
