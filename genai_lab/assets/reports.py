"""The answers the study exists for, as files a product team reads: `<home>/reports/`.

model_evaluation ─ comparison_report (Markdown + self-contained HTML, and Markdown metadata in the UI)

`comparison_report` refreshes on its own whenever `model_evaluation` changes (eager automation
condition, evaluated by the automation sensor of `dagster dev`).
"""

import datetime as dt
import os
import uuid
from pathlib import Path

import polars as pl
from dagster import AssetExecutionContext, AutomationCondition, ConfigurableResource, MaterializeResult, MetadataValue, asset
from pydantic import Field

from genai_lab.ml.scoring import TimingSettings
from genai_lab.reports.comparison import ReportSettings
from genai_lab.resources import LabHome


class Reporting(ConfigurableResource):
    """Prices and statistics of the reports, and how the models' inference is timed for them."""

    comparison: ReportSettings = Field(default_factory=ReportSettings)
    timing: TimingSettings = Field(default_factory=TimingSettings)


def write_atomically(path: Path, text: str) -> None:
    """Readers (a browser, the UI) see the old report or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


@asset(group_name="reports", automation_condition=AutomationCondition.eager(),
       description="Which model to run and what each costs: quality with bootstrap 95% intervals per gold set, a cost table with "
                   "money figures, a price-performance plot, findings generated from the numbers. <home>/reports/comparison_report.*")
def comparison_report(context: AssetExecutionContext, model_evaluation: pl.DataFrame, lab: LabHome,
                      reporting: Reporting) -> MaterializeResult:
    from genai_lab.reports.comparison import build_comparison_report

    report = build_comparison_report(model_evaluation, reporting.comparison, generated_at=dt.datetime.now(dt.UTC))
    folder = lab.paths.reports
    write_atomically(folder / "comparison_report.md", report.markdown)
    write_atomically(folder / "comparison_report.html", report.html)
    context.log.info(f"Comparison report in {folder}: {len(report.findings)} findings")
    return MaterializeResult(metadata={
        "report": MetadataValue.md(report.markdown),
        "html": MetadataValue.path(str(folder / "comparison_report.html")),
        "markdown": MetadataValue.path(str(folder / "comparison_report.md")),
        "findings": len(report.findings),
    })


assets = [comparison_report]
