"""What the tables say, in sentences: key findings, strengths and limitations.

Only what the tables hold is reported; a sentence whose figures are missing is left out rather than guessed.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from genai_lab.reports.comparison.tables import (
    LADDER_PREFIX,
    SLM,
    Score,
    cost_by_model,
    mean_sentiment_f1,
    model_role,
    primary_slm,
    scores_by_set,
    slm_aliases,
)
from genai_lab.reports.comparison.wording import (
    TASK_LABEL,
    arm_name,
    ci_level,
    ci_text,
    cis_overlap,
    dollars,
    duration,
    factor,
    gap,
    join_words,
    percent,
    plain,
    scored_on,
    short_count,
    significance_text,
)
from genai_lab.vocabulary import ADAPTER, REVIEW_TYPE, SENTIMENT_TASKS, TEACHER


def _about(task: str, score: Score) -> str:
    return TASK_LABEL.get(task, task) + (f", n={score.n}" if score.n is not None else "")


def _quality_findings(quality: pl.DataFrame, slm: str | None, level: str, min_coverage: float) -> list[str]:
    findings = []
    for (task, dataset), scores in scores_by_set(quality).items():
        if task not in SENTIMENT_TASKS:
            continue
        adapter, small, teacher = scores.get(ADAPTER), scores.get(slm) if slm else None, scores.get(TEACHER)
        lead = adapter or small
        if lead is None:
            continue
        sentence = (f"On {dataset} ({_about(task, lead)}) {arm_name(lead.model)} reaches macro-F1 "
                    f"{lead.value:.2f}{ci_text(lead, level)}")
        if teacher is not None:
            sentence += f", {gap(lead.value, teacher.value)} the label model it learned from ({scored_on(teacher)})"
        if adapter is not None and small is not None:
            sentence += f"; {arm_name(small.model)} reaches {small.value:.2f}{ci_text(small, level)}"
            if adapter.value > 0:
                sentence += f", {small.value / adapter.value:.2f} of the adapter's"
            if significance := significance_text(adapter, small, level):
                sentence += f" — {significance}"
        findings.append(sentence + ".")

    ranked_sets = scores_by_set(quality, min_coverage)
    leaders = [f"{dataset} {scores_[0].model} ({scored_on(scores_[0])})"
               for (task, dataset), scores_ in ((key, list(s.values())) for key, s in ranked_sets.items())
               if task in SENTIMENT_TASKS and len(scores_) > 1]
    if leaders:
        findings.append(f"Best macro-F1 per sentiment gold set (models labelling at least {percent(min_coverage)} of it): "
                        f"{'; '.join(leaders)}.")

    for (task, dataset), scores in ranked_sets.items():
        if task in SENTIMENT_TASKS:
            continue
        ranked = list(scores.values())
        best = ranked[0]
        sentence = (f"On {dataset} ({_about(task, best)}) {best.model} leads with macro-F1 "
                    f"{scored_on(best)}{ci_text(best, level)}")
        if len(ranked) > 1:
            runner = ranked[1]
            sentence += f", {gap(best.value, runner.value)} {runner.model} ({scored_on(runner)})"
            if significance := significance_text(best, runner, level):
                sentence += f"; {significance}"
        findings.append(sentence + ".")
    return findings


def _cost_findings(quality: pl.DataFrame, cost: pl.DataFrame, slm: str | None) -> list[str]:
    rows = cost_by_model(cost)
    adapter, small = rows.get(ADAPTER), rows.get(slm) if slm else None
    priced = [(m, r) for m, r in ((ADAPTER, adapter), (slm, small)) if r is not None and r["usd_per_million_reviews"] is not None]
    if len(priced) == 2:
        findings = _both_arms_priced(quality, adapter, small, slm)
    else:
        findings = [f"Scoring a million reviews costs {dollars(row['usd_per_million_reviews'])} with {arm_name(model)} "
                    f"({plain(row['reviews_per_s'])} reviews/s batched); training took {duration(row['train_seconds'])} "
                    f"and {dollars(row['train_usd'])}." for model, row in priced]
    return findings + _ladder_findings(quality, cost, rows)


def _both_arms_priced(quality: pl.DataFrame, adapter: dict, small: dict, slm: str) -> list[str]:
    """The arms side by side: price, speed, size, training and price-performance."""
    (cheap, cheap_row), (dear, dear_row) = sorted(((ADAPTER, adapter), (slm, small)), key=lambda item: item[1]["usd_per_million_reviews"])
    findings = [(
        f"Scoring a million reviews costs {dollars(cheap_row['usd_per_million_reviews'])} with {arm_name(cheap)} against "
        f"{dollars(dear_row['usd_per_million_reviews'])} with {arm_name(dear)}: {arm_name(cheap)} is "
        f"{factor(dear_row['usd_per_million_reviews'], cheap_row['usd_per_million_reviews'])} cheaper.")]
    if adapter["reviews_per_s"] and small["reviews_per_s"]:
        fast, slow = (small, adapter) if small["reviews_per_s"] >= adapter["reviews_per_s"] else (adapter, small)
        fast_name, slow_name = (arm_name(slm), "the adapter") if fast is small else ("the adapter", arm_name(slm))
        sentence = (f"{fast_name[0].upper()}{fast_name[1:]} scores {plain(fast['reviews_per_s'])} reviews/s batched, "
                    f"{factor(fast['reviews_per_s'], slow['reviews_per_s'])} {slow_name}'s {plain(slow['reviews_per_s'])}")
        if adapter["latency_p50_ms"] is not None and small["latency_p50_ms"] is not None:
            sentence += (f"; single-review median latency {plain(small['latency_p50_ms'], 2)} ms ({arm_name(slm)}) vs "
                         f"{plain(adapter['latency_p50_ms'], 2)} ms (the adapter)")
        findings.append(sentence + ".")
    if adapter["params_total"] and small["params_total"]:
        bigger, smaller = sorted([adapter, small], key=lambda row: row["params_total"], reverse=True)
        findings.append(f"Parameters: {_parameters(adapter, 'the adapter')}; {_parameters(small, arm_name(slm))} — "
                        f"{factor(bigger['params_total'], smaller['params_total'])} fewer in "
                        f"{arm_name(smaller['model'])}.")
    if adapter["train_seconds"] is not None and small["train_seconds"] is not None:
        findings.append(f"Training took {duration(adapter['train_seconds'])} ({plain(adapter['cpu_hours'], 2)} CPU-hours, "
                        f"{dollars(adapter['train_usd'])}) for the adapter and {duration(small['train_seconds'])} "
                        f"({plain(small['cpu_hours'], 2)} CPU-hours, {dollars(small['train_usd'])}) for {arm_name(slm)}.")
    means = mean_sentiment_f1(quality, [ADAPTER, slm])
    if ADAPTER in means and slm in means and means[ADAPTER][0] > 0 and adapter["usd_per_million_reviews"]:
        findings.append(
            f"Price-performance: {arm_name(slm)} delivers {means[slm][0] / means[ADAPTER][0]:.2f} of the adapter's mean "
            f"sentiment macro-F1 ({means[slm][0]:.2f} vs {means[ADAPTER][0]:.2f} over {means[ADAPTER][3]} gold sets) at "
            f"{small['usd_per_million_reviews'] / adapter['usd_per_million_reviews']:.2f} of its price per million reviews.")
    return findings


def _parameters(row: dict, name: str) -> str:
    total, trainable = row["params_total"], row["params_trainable"]
    if trainable is None:
        return f"{name} {short_count(total)}"
    if trainable >= total:
        return f"{name} {short_count(total)}, all trained"
    return f"{name} {short_count(total)}, of which {short_count(trainable)} ({trainable / total:.1%}) trained"


def _ladder_findings(quality: pl.DataFrame, cost: pl.DataFrame, rows: dict[str, dict]) -> list[str]:
    rungs = [m for m in cost["model"].to_list() if m.startswith(LADDER_PREFIX)]
    rungs = sorted(rungs, key=lambda m: (rows[m]["params_total"] is None, rows[m]["params_total"] or 0, m))
    if len(rungs) < 2:
        return []
    means = mean_sentiment_f1(quality, rungs)
    steps = [f"{m.removeprefix(LADDER_PREFIX)} ({short_count(rows[m]['params_total'])} parameters) "
             f"{means[m][0]:.2f} at {plain(rows[m]['reviews_per_s'])} reviews/s" for m in rungs if m in means]
    return [f"SLM size ladder, mean sentiment macro-F1: {'; '.join(steps)}."] if len(steps) > 1 else []


def key_findings(quality: pl.DataFrame, cost: pl.DataFrame, confidence: float = 0.95, min_coverage: float = 0.5) -> list[str]:
    """Sentences generated from the two tables: each arm's macro-F1 against its teacher and the other arm per gold set,
    whether the CIs separate them, the best model per set (among those labelling at least `min_coverage` of it), cost
    and speed ratios, and the size ladder. Only what the tables hold is reported; `confidence` only names the CI level."""
    slm = primary_slm(quality, cost)
    findings = _quality_findings(quality, slm, ci_level(confidence), min_coverage) + _cost_findings(quality, cost, slm)
    aliases = slm_aliases(quality, cost)
    if aliases:
        findings.append(" ".join(f"{name} is {rung} (identical figures: the ladder's chosen size, evaluated under both names)."
                                 for name, rung in aliases.items()))
    return findings or ["The evaluation holds no adapter, SLM or scored model to report on."]


def _significant_on(sets: Sequence[tuple[tuple[str, str], dict[str, Score]]], arm: str, rival: str) -> str:
    """", significantly on X" / " (the CIs overlap on each)" where the CIs are known; nothing where they are not."""
    overlaps = {key[1]: cis_overlap(s[arm], s[rival]) for key, s in sets}
    significant = [dataset for dataset, overlap in overlaps.items() if overlap is False]
    if significant:
        return f", significantly on {join_words(significant)}"
    return "" if None in overlaps.values() else " (the CIs overlap on each)"


def strengths_and_limitations(quality: pl.DataFrame, cost: pl.DataFrame, confidence: float = 0.95,
                              min_coverage: float = 0.5) -> list[str]:
    """"Strength: …" and "Limitation: …" sentences generated from the tables: where each arm beats or trails its teacher
    and the baselines (those labelling at least `min_coverage` of a set), what it wins on cost, how wide the intervals
    are, and which figures are missing."""
    slm = primary_slm(quality, cost)
    scores, ranked = scores_by_set(quality), scores_by_set(quality, min_coverage)
    strengths: list[str] = []
    limitations: list[str] = []
    for arm in (m for m in (ADAPTER, slm) if m is not None):
        arm_strengths, arm_limitations = _arm_against_the_others(arm, scores, ranked, min_coverage)
        strengths += arm_strengths
        limitations += arm_limitations
    rows = cost_by_model(cost)
    if ADAPTER in rows and slm in rows:
        strengths += _cost_wins(rows, slm)
    limitations += _missing_figures(quality, cost, rows, slm)
    limitations += _interval_limitations(quality, ci_level(confidence))
    limitations += _gold_limitations(quality, min_coverage)
    return strengths + limitations


def _arm_against_the_others(arm: str, scores: dict[tuple[str, str], dict[str, Score]], ranked: dict[tuple[str, str], dict[str, Score]],
                            min_coverage: float) -> tuple[list[str], list[str]]:
    """(strengths, limitations) of one arm against its teacher and the ranked baselines, over the gold sets it is scored on."""
    name = arm_name(arm)
    sets = [(key, s) for key, s in scores.items() if arm in s]
    if not sets:
        return [], []
    strengths, limitations = [], []
    above = [(key, s) for key, s in sets if TEACHER in s and s[arm].value > s[TEACHER].value]
    below = [(key, s) for key, s in sets if TEACHER in s and s[arm].value < s[TEACHER].value]
    compared = sum(1 for _, s in sets if TEACHER in s)
    if above:
        strengths.append(f"Strength: {name} beats the label model it learned from on {len(above)} of {compared} gold sets"
                         f"{_significant_on(above, arm, TEACHER)}.")
    if below:
        limitations.append(f"Limitation: {name} stays below the label model it learned from on {len(below)} of {compared} gold sets"
                           f"{_significant_on(below, arm, TEACHER)}.")
    best = [key[1] for key, _ in sets if next(iter(ranked.get(key, {})), None) == arm and len(ranked[key]) > 1]
    if best:
        strengths.append(f"Strength: {name} has the best macro-F1 of the models labelling at least {percent(min_coverage)} "
                         f"of {join_words(best)}.")
    losses = []
    for key, s in sets:
        rivals = [r for r in ranked.get(key, {}).values() if model_role(r.model) == "baseline" and r.value > s[arm].value]
        if rivals:
            top = rivals[0]
            mark = {False: "; significant", True: "; within the CIs", None: ""}[cis_overlap(top, s[arm])]
            ahead = f", {len(rivals)} baselines ahead" if len(rivals) > 1 else ""
            losses.append(f"on {key[1]} {top.model} leads it by {top.value - s[arm].value:.2f} "
                          f"({scored_on(top)} vs {s[arm].value:.2f}{mark}{ahead})")
    if losses:
        limitations.append(f"Limitation: {name} trails a baseline on {len(losses)} of {len(sets)} gold sets — {'; '.join(losses)}.")
    return strengths, limitations


#: (cost column, what it measures, how a value reads, whether more is better): the figures the arms are compared on
_COST_CONTESTS = (("reviews_per_s", "throughput", lambda v: f"{plain(v)} reviews/s", True),
                  ("usd_per_million_reviews", "price per million reviews", dollars, False),
                  ("latency_p95_ms", "p95 latency", lambda v: f"{plain(v, 2)} ms", False),
                  ("train_seconds", "training time", duration, False),
                  ("train_usd", "training cost", dollars, False),
                  ("peak_rss_mb", "peak training memory", lambda v: f"{plain(v)} MB", False),
                  ("disk_mb", "size on disk", lambda v: f"{plain(v, 2)} MB", False),
                  ("params_total", "parameter count", short_count, False))


def _cost_wins(rows: dict[str, dict], slm: str) -> list[str]:
    wins: dict[str, list[str]] = {ADAPTER: [], slm: []}
    for column, what, show, more_is_better in _COST_CONTESTS:
        a, b = rows[ADAPTER][column], rows[slm][column]
        if a is not None and b is not None and a != b:
            winner, loser = (ADAPTER, slm) if (a > b) == more_is_better else (slm, ADAPTER)
            wins[winner].append(f"{what} ({show(rows[winner][column])} vs {show(rows[loser][column])})")
    return [f"Strength: {arm_name(arm)} wins on {join_words(wins[arm])}." for arm in (ADAPTER, slm) if wins[arm]]


def _missing_figures(quality: pl.DataFrame, cost: pl.DataFrame, rows: dict[str, dict], slm: str | None) -> list[str]:
    limitations = []
    for arm, label in ((ADAPTER, "adapter"), (slm or SLM, "SLM")):
        if not quality.filter(pl.col("model") == arm).height and arm not in rows:
            other = "the SLM" if label == "adapter" else "the adapter"
            limitations.append(f"Limitation: the evaluation holds no {label} results ({arm}); only {other} and the baselines are compared.")
    if cost.is_empty():
        limitations.append("Limitation: the evaluation holds no cost rows, so nothing is priced.")
    return limitations


def _interval_limitations(quality: pl.DataFrame, level: str) -> list[str]:
    """How wide the arms' intervals get, and which scores carry none (and why)."""
    limitations = []
    arm_rows = quality.filter((pl.col("role") == "arm") & pl.col("f1_low").is_not_null())
    if not arm_rows.is_empty():
        widest = (arm_rows.with_columns(((pl.col("f1_high") - pl.col("f1_low")) / 2).alias("half"))
                  .sort("half", descending=True).row(0, named=True))
        limitations.append(f"Limitation: the arms' widest {level} CI is ±{widest['half']:.2f} macro-F1 ({widest['model']} on "
                           f"{widest['dataset']}, n={widest['n']}): differences below that size cannot be told from noise there.")
    no_ci = quality.filter(pl.col("macro_f1").is_not_null() & pl.col("f1_low").is_null())
    # review types are multi-label, scored per type from true/false positive counts: no confusion matrix to resample by design
    per_type = no_ci.filter(pl.col("task") == REVIEW_TYPE)
    stale = no_ci.filter(pl.col("task") != REVIEW_TYPE)
    if not stale.is_empty():
        limitations.append(f"Limitation: {stale.height} of {quality.filter(pl.col('macro_f1').is_not_null()).height} scored rows have "
                           "no confusion counts (written before model_evaluation recorded them), so they carry no CI; "
                           "re-materialize model_evaluation for intervals.")
    if not per_type.is_empty():
        limitations.append(f"Limitation: review types ({join_words(per_type['dataset'].unique(maintain_order=True).to_list())}) are scored "
                           "per type, one yes/no decision per text and type as their gold's authors did, so they carry no CI: "
                           "the confusion-count bootstrap needs one label per text.")
    return limitations


def _gold_limitations(quality: pl.DataFrame, min_coverage: float) -> list[str]:
    """Models left out of the rankings for labelling too little, and gold that is the generator's truth."""
    limitations = []
    abstainers = (quality.filter(pl.col("coverage") < min_coverage).sort("coverage")
                  .unique("model", keep="first", maintain_order=True))
    if not abstainers.is_empty():
        examples = [f"{m} labels {percent(c)} of {d}" for m, c, d in abstainers.select("model", "coverage", "dataset").head(4).rows()]
        limitations.append(f"Limitation: {abstainers.height} models label less than {percent(min_coverage)} of some gold set "
                           f"({'; '.join(examples)}); scored only on the items they label, they are left out of the rankings there.")
    synthetic = quality.filter(pl.col("gold_synthetic"))["dataset"].unique(maintain_order=True).to_list()
    if synthetic:
        limitations.append(f"Limitation: the gold of {join_words(synthetic)} is synthetic (the generator's truth): scores there measure "
                           "agreement with the generator, not with human judgement.")
    return limitations
