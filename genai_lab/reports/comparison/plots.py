"""The report's plots, as PNG bytes: macro-F1 per gold set and model, and quality against the price of scoring."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import polars as pl

from genai_lab.reports import render
from genai_lab.reports.comparison.tables import LADDER_PREFIX, SLM, mean_sentiment_f1, model_rank, model_role, slm_aliases
from genai_lab.reports.comparison.wording import TASK_LABEL, percent
from genai_lab.vocabulary import ADAPTER, SENTIMENT_TASKS, TEACHER

_ARM_COLOURS = {ADAPTER: "#1f6feb", SLM: "#d1242f"}
_TEACHER_COLOUR = "#bf8700"
# baselines get hues far from the arms' blue and red and the teacher's gold, so a bar is not mistaken for an arm
_BASELINE_COLOURS = ("#2da44e", "#8250df", "#8c6a4f", "#e16fbc", "#6e7781", "#9a9a1f", "#1b9aaa", "#b083f0", "#56d364", "#c9a98d",
                     "#afb8c1", "#4ac7d9")


def _colours(models: Sequence[str], aliases: dict[str, str] | None = None) -> dict[str, str]:
    """A colour per model; a rung drawn for an alias ({name: rung}) wears the name's colour, as it stands for it."""
    from matplotlib import colormaps

    ladder = colormaps["Reds"]
    rungs = [m for m in models if m.startswith(LADDER_PREFIX)]
    colours, other_index = {}, 0
    for model in models:
        if model in _ARM_COLOURS:
            colours[model] = _ARM_COLOURS[model]
        elif model in rungs:
            colours[model] = ladder(0.35 + 0.4 * rungs.index(model) / max(1, len(rungs) - 1))
        elif model == TEACHER:
            colours[model] = _TEACHER_COLOUR
        else:
            colours[model] = _BASELINE_COLOURS[other_index % len(_BASELINE_COLOURS)]
            other_index += 1
    for name, rung in (aliases or {}).items():
        if rung in colours and name in _ARM_COLOURS:
            colours[rung] = _ARM_COLOURS[name]
    return colours


def price_performance_png(quality: pl.DataFrame, cost: pl.DataFrame, min_coverage: float = 0.5) -> bytes:
    """Mean sentiment macro-F1 against USD per million reviews scored (log x), one labelled point per model with cost rows.

    Error bars average the per-set CI ends (conservative). Models without cost rows that score on the same gold sets (the
    teacher, the best baseline labelling at least `min_coverage` of each) are drawn as horizontal reference lines.
    """
    aliases = slm_aliases(quality, cost)
    priced = cost.filter(pl.col("usd_per_million_reviews").is_not_null() & ~pl.col("model").is_in(list(aliases)))
    models = priced["model"].to_list()
    means = mean_sentiment_f1(quality, models)
    points = [(m, usd) for m, usd in priced.select("model", "usd_per_million_reviews").rows() if m in means]
    if not points:
        return render.empty_png("No model has both cost rows and sentiment macro-F1 to plot.")
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    figure = render.figure(7.5, 4.8)
    axes = figure.add_subplot()
    colours = _colours(models, aliases)
    renamed = {rung: f"{rung} (= {name})" for name, rung in aliases.items()}
    for model, usd in points:
        f1, low, high, _ = means[model]
        error = None if low is None else [[max(0.0, f1 - low)], [max(0.0, high - f1)]]
        axes.errorbar([usd], [f1], yerr=error, fmt="o", markersize=9, capsize=4, color=colours[model], zorder=3)
        axes.annotate(renamed.get(model, model), (usd, f1), xytext=(8, 6), textcoords="offset points", fontsize=9)
    sets = next(iter(means.values()))[3]
    shared_sets = quality.filter(pl.col("task").is_in(SENTIMENT_TASKS) & pl.col("model").is_in([m for m, _ in points])
                                 & pl.col("macro_f1").is_not_null()).select("task", "dataset").unique()
    references = (quality.join(shared_sets, on=["task", "dataset"]).filter((pl.col("role") != "arm") & pl.col("macro_f1").is_not_null())
                  .group_by("model").agg(pl.col("macro_f1").mean(), pl.col("coverage").mean(), pl.col("coverage").min().alias("least"),
                                         pl.len().alias("sets"))
                  .filter(pl.col("sets") == shared_sets.height).sort("macro_f1", descending=True))
    shown = references.filter(pl.col("model") == TEACHER)
    best_baseline = references.filter((pl.col("model") != TEACHER) & (pl.col("least") >= min_coverage)).head(1)
    for model, f1, coverage, _, _ in pl.concat([shown, best_baseline]).rows():
        colour = _TEACHER_COLOUR if model == TEACHER else "#57606a"
        # an abstaining reference scores only the items it chose: say how many
        covered = f" on {percent(coverage)} of items" if coverage is not None and coverage < 1 else ""
        axes.axhline(f1, linestyle="--", linewidth=1, color=colour, zorder=1)
        axes.annotate(f"{model} {f1:.2f}{covered} (no inference cost measured)", (0.01, f1), xycoords=("axes fraction", "data"),
                      xytext=(0, 3), textcoords="offset points", fontsize=8, color=colour)
    axes.set_xscale("log")
    usd = [u for _, u in points]
    axes.set_xlim(min(usd) / 3, max(usd) * 3)
    # dollars at 1-2-5 steps; matplotlib's default labels minor ticks too on a short log range, where they collide
    axes.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"${value:.2g}"))
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.set_xlabel("USD per million reviews scored (log scale)")
    axes.set_ylabel(f"mean macro-F1 over {sets} sentiment gold set{'s' if sets != 1 else ''}")
    axes.set_title("Price-performance: quality against the price of scoring")
    axes.grid(True, which="both", alpha=0.3)
    return render.png(figure)


def macro_f1_bars_png(quality: pl.DataFrame, aliases: dict[str, str] | None = None, min_coverage: float = 0.5) -> bytes:
    """Macro-F1 per gold set (groups) and model (bars, arms first) with CI error bars where the CIs are known.

    `aliases` ({name: same model's other name}, see key findings) are drawn once, under both names. Scores of models
    labelling less than `min_coverage` of a set are left out: a bar over a handful of items only draws the eye.
    """
    aliases = aliases or {}
    scored = quality.filter(pl.col("macro_f1").is_not_null() & ~pl.col("model").is_in(list(aliases))
                            & (pl.col("coverage").is_null() | (pl.col("coverage") >= min_coverage)))
    if scored.is_empty():
        return render.empty_png("No macro-F1 to plot.")
    groups = scored.select("task", "dataset").unique(maintain_order=True).rows()
    models = sorted(scored["model"].unique().to_list(), key=model_rank)
    colours = _colours(models, aliases)
    values = {(t, d, m): (f1, lo, hi)
              for t, d, m, f1, lo, hi in scored.select("task", "dataset", "model", "macro_f1", "f1_low", "f1_high").rows()}
    width = 0.84 / len(models)
    figure = render.figure(max(8.0, 1.0 + len(groups) * (0.9 + 0.14 * len(models))), 5.0)
    axes = figure.add_subplot()
    for i, model in enumerate(models):
        xs, heights, errors = [], [], [[], []]
        for g, (task, dataset) in enumerate(groups):
            if (task, dataset, model) not in values:
                continue
            f1, low, high = values[(task, dataset, model)]
            xs.append(g - 0.42 + width * (i + 0.5))
            heights.append(f1)
            errors[0].append(0.0 if low is None else max(0.0, f1 - low))
            errors[1].append(0.0 if high is None else max(0.0, high - f1))
        arm = model_role(model) == "arm"
        label = next((f"{model} (= {name})" for name, rung in aliases.items() if rung == model), model)
        axes.bar(xs, heights, width=width, color=colours[model], label=label, edgecolor="black" if arm else "none",
                 linewidth=0.8 if arm else 0, yerr=errors if any(errors[0] + errors[1]) else None,
                 error_kw={"elinewidth": 0.8, "capsize": 1.5, "ecolor": "#24292f"})
    axes.set_xticks(range(len(groups)))
    axes.set_xticklabels([textwrap.fill(dataset.replace("_", " "), 22) + f"\n({TASK_LABEL.get(task, task)})" for task, dataset in groups],
                         fontsize=8)
    axes.set_ylabel("macro-F1 (scored items)")
    axes.set_ylim(0, 1)
    axes.set_title("Macro-F1 per gold set and model")
    axes.grid(True, axis="y", alpha=0.3)
    figure.legend(loc="outside right upper", fontsize=8, frameon=False)
    return render.png(figure)
