"""The study's comparison report: the fine-tuned adapter against the small LM trained from scratch.

Pure functions from the long `model_evaluation` table (:data:`genai_lab.evaluation.EVALUATION_SCHEMA`, optionally
``gold_synthetic`` and ``model_version``) to a Markdown report (for Dagster Markdown metadata) and a self-contained
HTML file; no Dagster, no file system, no network. Along its seams:

* `tables` — :func:`quality_table` (accuracy and macro-F1 with bootstrap CIs) and :func:`cost_table` (priced by
  :class:`ReportSettings`), and the questions the rest asks of them;
* `findings` — :func:`key_findings`, :func:`strengths_and_limitations`: sentences generated from the two tables;
* `plots` — :func:`price_performance_png`, :func:`macro_f1_bars_png`: PNG bytes;
* `rendering` — :func:`render_markdown`, :func:`render_html`, and :func:`build_comparison_report` doing all of it;
* `wording` — how numbers read in sentences and cells.

Roles: ``finetuned_adapter`` and ``slm_classifier`` (with its size ladder ``slm_classifier@<size>``) are the arms,
``label_model`` is the teacher whose pseudo-labels both arms learn from, ``review_type_model`` is a model of its
own task, everything else is a baseline.
"""

from genai_lab.evaluation import bootstrap_interval, paired_bootstrap
from genai_lab.reports.comparison.findings import key_findings, strengths_and_limitations
from genai_lab.reports.comparison.plots import macro_f1_bars_png, price_performance_png
from genai_lab.reports.comparison.rendering import ComparisonReport, build_comparison_report, render_html, render_markdown
from genai_lab.reports.comparison.tables import (
    COST_COLUMNS,
    QUALITY_SCHEMA,
    SLM,
    ReportSettings,
    cost_table,
    model_role,
    quality_table,
    synthetic_gold_sets,
)
from genai_lab.vocabulary import ADAPTER, TEACHER

__all__ = [
    "ADAPTER",
    "COST_COLUMNS",
    "QUALITY_SCHEMA",
    "SLM",
    "TEACHER",
    "ComparisonReport",
    "ReportSettings",
    "bootstrap_interval",
    "build_comparison_report",
    "cost_table",
    "key_findings",
    "macro_f1_bars_png",
    "model_role",
    "paired_bootstrap",
    "price_performance_png",
    "quality_table",
    "render_html",
    "render_markdown",
    "strengths_and_limitations",
    "synthetic_gold_sets",
]
