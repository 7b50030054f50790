"""Assembling the report: Markdown (for Dagster metadata) and one self-contained HTML page, from the tables,
the sentences and the plots; :func:`build_comparison_report` does all of it."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import polars as pl

from genai_lab.reports.comparison.findings import key_findings, strengths_and_limitations
from genai_lab.reports.comparison.plots import macro_f1_bars_png, price_performance_png
from genai_lab.reports.comparison.tables import ReportSettings, cost_table, quality_table, slm_aliases, synthetic_gold_sets
from genai_lab.reports.comparison.wording import TASK_LABEL, ci_level, dollars, duration, join_words, percent, plain, short_count
from genai_lab.reports.render import CSS, data_uri, md_cell, md_table

TITLE = "Fine-tuned adapter vs small LM from scratch: app-review sentiment"


def _with_ci(value: float | None, low: float | None, high: float | None, wrap: Callable[[str], str] = lambda ci: ci) -> str:
    """A score to three decimals with its interval after it (`wrap` dresses the interval) where the interval is known."""
    if value is None:
        return "–"
    return f"{value:.3f}" + (" " + wrap(f"({low:.3f}–{high:.3f})") if low is not None and high is not None else "")


def _coverage(row: dict) -> str:
    return "–" if row["coverage"] is None else percent(row["coverage"])


def _quality_cells(row: dict) -> list[str]:
    return [row["model"], row["role"], _coverage(row), _with_ci(row["accuracy"], row["acc_low"], row["acc_high"]),
            _with_ci(row["macro_f1"], row["f1_low"], row["f1_high"]), "–" if row["n"] is None else str(row["n"])]


def _quality_header(level: str) -> list[str]:
    return ["model", "role", "coverage", f"accuracy ({level} CI)", f"macro-F1 ({level} CI)", "n scored"]


_COST_HEADER = ["model", "training wall", "CPU-hours", "energy kWh", "training $", "params (trainable)", "disk MB", "reviews/s",
                "latency p50 / p95 ms", "peak RSS MB (training)", "$ per 1M reviews"]


def _cost_cells(row: dict) -> list[str]:
    params = short_count(row["params_total"]) + (f" ({short_count(row['params_trainable'])})" if row["params_trainable"] is not None else "")
    latency = f"{plain(row['latency_p50_ms'], 2)} / {plain(row['latency_p95_ms'], 2)}"
    return [row["model"], duration(row["train_seconds"]), plain(row["cpu_hours"], 2), plain(row["energy_kwh"], 2),
            dollars(row["train_usd"]), params, plain(row["disk_mb"], 3), plain(row["reviews_per_s"]), latency,
            plain(row["peak_rss_mb"], 4), dollars(row["usd_per_million_reviews"])]


def _how_measured(settings: ReportSettings) -> list[str]:
    level = ci_level(settings.confidence)
    return [
        ("Quality: accuracy and macro-F1 on the items a model labels (coverage = the share it labels; baselines may abstain). "
         "Macro-F1 is the unweighted mean of per-class F1 over the gold classes present in the set. Models labelling less than "
         f"{percent(settings.min_coverage_to_rank)} of a set are listed but not ranked there."),
        (f"{level} CIs: percentile bootstrap, {settings.bootstrap_samples} resamples of the scored items (a multinomial over the "
         f"confusion cells), seed {settings.seed}. Non-overlapping CIs mark a difference as significant (a conservative check); "
         "overlapping CIs leave it unresolved, not shown to be zero. '–' where the evaluation carries no confusion counts."),
        (f"Training cost: wall time, CPU-seconds over all cores and peak RSS measured around training; energy is an estimate "
         f"(CPU-seconds × {plain(settings.cpu_watts_per_core)} W per busy core, plus GPU time × GPU power), not metered. Training $ = "
         f"CPU-hours × {dollars(settings.cpu_core_hour_usd)} per core-hour + GPU-hours × {dollars(settings.gpu_hour_usd)} (where recorded) "
         f"+ kWh × {dollars(settings.electricity_usd_per_kwh)}."),
        (f"Inference: reviews/s from batched scoring of gold review texts, latency from single-review calls. $ per 1M reviews = "
         f"10⁶ / (reviews/s) seconds on {settings.cores} cores at {dollars(settings.cpu_core_hour_usd)} per core-hour, plus that time's "
         f"energy at {plain(settings.cpu_watts_per_core)} W per core and {dollars(settings.electricity_usd_per_kwh)}/kWh."),
        ("Price-performance: mean macro-F1 over the sentiment gold sets all plotted models share; error bars average the per-set "
         "CI ends, wider than the mean's own interval."),
    ]


def _banner_text(synthetic_gold: Sequence[str]) -> str:
    return (f"Gold is SYNTHETIC for {join_words(list(synthetic_gold))}: labels are the generator's truth, not human judgement. "
            "Read the scores as agreement with the generator.")


def _quality_sections(quality: pl.DataFrame) -> list[tuple[str, str, bool, list[dict]]]:
    sections = []
    for (task, dataset), part in quality.group_by("task", "dataset", maintain_order=True):
        rows = part.to_dicts()
        sections.append((task, dataset, bool(part["gold_synthetic"].any()), rows))
    return sections


def _section_title(task: str, dataset: str, synthetic: bool, rows: list[dict]) -> str:
    n_gold = max((r["n_gold"] for r in rows if r["n_gold"] is not None), default=None)
    size = f", {n_gold} gold items" if n_gold is not None else ""
    return f"{dataset} — {TASK_LABEL.get(task, task)}{size}{' (synthetic gold)' if synthetic else ''}"


def render_markdown(quality: pl.DataFrame, cost: pl.DataFrame, findings: Sequence[str], notes: Sequence[str], *,
                    settings: ReportSettings, plots: dict[str, bytes], synthetic_gold: Sequence[str] = (),
                    generated_at: datetime | None = None) -> str:
    """The report as Markdown with the plots embedded as base64 PNG data URIs (Dagster shows them in Markdown metadata).

    `plots`: ``price_performance`` and ``macro_f1`` PNG bytes (either may be absent); `synthetic_gold`: gold sets flagged
    synthetic, which raise the banner.
    """
    level = ci_level(settings.confidence)
    stamp = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M %Z").strip()
    lines = [f"# {TITLE}", "", f"_Generated {stamp}._", ""]
    if synthetic_gold:
        lines += [f"> **⚠ {_banner_text(synthetic_gold)}**", ""]
    lines += ["## Key findings", "", *(f"- {md_cell(f)}" for f in findings), ""]
    lines += ["## Quality per gold dataset and task", "",
              (f"Arms in bold; models in italics label less than {percent(settings.min_coverage_to_rank)} of the set and are "
               "not ranked."), ""]
    if "macro_f1" in plots:
        lines += [f"![macro-F1 per gold set and model]({data_uri(plots['macro_f1'])})", ""]
    for task, dataset, synthetic, rows in _quality_sections(quality):
        lines += [f"### {md_cell(_section_title(task, dataset, synthetic, rows))}", ""]
        cells = [_quality_cells(r) for r in rows]
        for row, row_cells in zip(rows, cells, strict=True):
            if _unranked(row, settings):
                row_cells[0] = f"_{row_cells[0]}_"
        lines += md_table(_quality_header(level), cells, [r["role"] == "arm" for r in rows]) + [""]
    if quality.is_empty():
        lines += ["_No quality rows._", ""]
    lines += ["## Cost", ""]
    lines += (md_table(_COST_HEADER, [_cost_cells(r) for r in cost.iter_rows(named=True)]) if not cost.is_empty() else ["_No cost rows._"])
    lines += ["", "## Price-performance", ""]
    if "price_performance" in plots:
        lines += [f"![macro-F1 against USD per million reviews]({data_uri(plots['price_performance'])})", ""]
    lines += ["## Strengths and limitations", "", *(f"- {md_cell(n)}" for n in notes), ""]
    lines += ["## How measured", "", *(f"- {md_cell(n)}" for n in _how_measured(settings)), ""]
    return "\n".join(lines)


def _unranked(row: dict, settings: ReportSettings) -> bool:
    return row["coverage"] is None or row["coverage"] < settings.min_coverage_to_rank


def _html_quality_row(row: dict, settings: ReportSettings) -> str:
    esc = html.escape

    def grey(ci: str) -> str:
        return f'<span class="ci">{ci}</span>'

    cells = [f"<td>{esc(row['model'])}</td>", f'<td class="role">{esc(row["role"])}</td>', f"<td>{_coverage(row)}</td>",
             f"<td>{_with_ci(row['accuracy'], row['acc_low'], row['acc_high'], grey)}</td>",
             f"<td>{_with_ci(row['macro_f1'], row['f1_low'], row['f1_high'], grey)}</td>",
             f"<td>{'–' if row['n'] is None else row['n']}</td>"]
    classes = row["role"] + (" unranked" if _unranked(row, settings) else "")
    return f'<tr class="{esc(classes)}">' + "".join(cells) + "</tr>"


def _html_table(header: Sequence[str], body: Sequence[str]) -> str:
    head = "".join(f'<th class="{html.escape(h)}">{html.escape(h)}</th>' if h == "role" else f"<th>{html.escape(h)}</th>" for h in header)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def _html_note(text: str) -> str:
    for tag, css in (("Strength:", "strength"), ("Limitation:", "limitation")):
        if text.startswith(tag):
            return f'<li class="{css}"><span class="tag">{tag}</span>{html.escape(text[len(tag):])}</li>'
    return f"<li>{html.escape(text)}</li>"


def render_html(quality: pl.DataFrame, cost: pl.DataFrame, findings: Sequence[str], notes: Sequence[str], *,
                settings: ReportSettings, plots: dict[str, bytes], synthetic_gold: Sequence[str] = (),
                generated_at: datetime | None = None) -> str:
    """The report as one self-contained HTML page: inline CSS, plots as base64 data URIs, no external reference."""
    esc = html.escape
    level = ci_level(settings.confidence)
    stamp = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M %Z").strip()
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">', f"<title>{esc(TITLE)}</title>",
             f"<style>{CSS}</style></head><body>", f"<h1>{esc(TITLE)}</h1>", f'<p class="meta">Generated {esc(stamp)}.</p>']
    if synthetic_gold:
        parts.append(f'<div class="banner" role="alert">⚠ {esc(_banner_text(synthetic_gold))}</div>')
    parts += ["<h2>Key findings</h2>", "<ul>", *(f"<li>{esc(f)}</li>" for f in findings), "</ul>"]
    parts.append("<h2>Quality per gold dataset and task</h2>")
    if "macro_f1" in plots:
        parts.append(f'<figure><img src="{data_uri(plots["macro_f1"])}" alt="macro-F1 per gold set and model">'
                     f"<figcaption>Macro-F1 per gold set; error bars are {level} bootstrap CIs (where confusion counts exist); "
                     f"outlined bars are the arms; models labelling less than {percent(settings.min_coverage_to_rank)} of a set "
                     "are left out (greyed in the tables).</figcaption></figure>")
    for task, dataset, synthetic, rows in _quality_sections(quality):
        parts.append(f"<h3>{esc(_section_title(task, dataset, synthetic, rows))}</h3>")
        parts.append(_html_table(_quality_header(level), [_html_quality_row(r, settings) for r in rows]))
    if quality.is_empty():
        parts.append("<p><em>No quality rows.</em></p>")
    parts.append("<h2>Cost</h2>")
    if cost.is_empty():
        parts.append("<p><em>No cost rows.</em></p>")
    else:
        body = [f'<tr class="{esc(r["role"])}">' + "".join(f"<td>{esc(c)}</td>" for c in _cost_cells(r)) + "</tr>"
                for r in cost.iter_rows(named=True)]
        parts.append(_html_table(_COST_HEADER, body))
    parts.append("<h2>Price-performance</h2>")
    if "price_performance" in plots:
        parts.append(f'<figure><img src="{data_uri(plots["price_performance"])}" alt="macro-F1 against USD per million reviews">'
                     "<figcaption>Mean sentiment macro-F1 against the price of scoring a million reviews (log scale)."
                     "</figcaption></figure>")
    parts += ["<h2>Strengths and limitations</h2>", "<ul>", *(_html_note(n) for n in notes), "</ul>"]
    parts += ["<h2>How measured</h2>", "<ul>", *(f"<li>{esc(n)}</li>" for n in _how_measured(settings)), "</ul>", "</body></html>"]
    return "\n".join(parts)


@dataclass
class ComparisonReport:
    markdown: str
    html: str
    quality: pl.DataFrame
    cost: pl.DataFrame
    findings: list[str]
    strengths_and_limitations: list[str] = field(default_factory=list)
    #: gold sets flagged synthetic (the banner shows when non-empty)
    synthetic_gold: list[str] = field(default_factory=list)
    #: PNG bytes by name: price_performance, macro_f1
    plots: dict[str, bytes] = field(default_factory=dict)


def build_comparison_report(evaluation: pl.DataFrame, settings: ReportSettings | None = None,
                            generated_at: datetime | None = None) -> ComparisonReport:
    """Tables, findings, plots, Markdown and HTML from a `model_evaluation` frame."""
    settings = settings or ReportSettings()
    quality = quality_table(evaluation, settings)
    cost = cost_table(evaluation, settings)
    findings = key_findings(quality, cost, settings.confidence, settings.min_coverage_to_rank)
    notes = strengths_and_limitations(quality, cost, settings.confidence, settings.min_coverage_to_rank)
    synthetic = synthetic_gold_sets(evaluation)
    plots = {"macro_f1": macro_f1_bars_png(quality, slm_aliases(quality, cost), settings.min_coverage_to_rank),
             "price_performance": price_performance_png(quality, cost, settings.min_coverage_to_rank)}
    generated_at = generated_at or datetime.now(UTC)
    common = {"settings": settings, "plots": plots, "synthetic_gold": synthetic, "generated_at": generated_at}
    return ComparisonReport(
        markdown=render_markdown(quality, cost, findings, notes, **common),
        html=render_html(quality, cost, findings, notes, **common),
        quality=quality, cost=cost, findings=findings, strengths_and_limitations=notes, synthetic_gold=synthetic, plots=plots,
    )
