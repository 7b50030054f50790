"""The answers the study exists for, as files a product team reads: `<home>/reports/`.

model_evaluation ─ comparison_report (which model to run, what each costs)
market_opportunities, review_predictions, clean_reviews ─ opportunity_report (what users hate and ask for)

Each writes Markdown and a self-contained HTML file, and shows the Markdown in the UI. Both refresh
on their own when their inputs change (eager automation conditions, evaluated by the automation
sensor of `dagster dev`).
"""

import datetime as dt

import polars as pl
from dagster import AssetExecutionContext, AutomationCondition, MaterializeResult, MetadataValue, asset

from genai_lab.insight.inputs import market_inputs
from genai_lab.partitions import eager_over_materialized_partitions
from genai_lab.reports.writing import write_atomically
from genai_lab.resources import HomeResource, InsightResource, ReportingResource


@asset(automation_condition=AutomationCondition.eager(),
       description="Which model to run and what each costs: quality with bootstrap 95% intervals per gold set, a cost table with "
                   "money figures, a price-performance plot, findings generated from the numbers. <home>/reports/comparison_report.*")
def comparison_report(context: AssetExecutionContext, model_evaluation: pl.DataFrame, lab: HomeResource,
                      reporting: ReportingResource) -> MaterializeResult:
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


@asset(automation_condition=eager_over_materialized_partitions(),
       description="What users of each category hate and ask for: top unmet needs, per-category aspect shares, competing apps side "
                   "by side, monthly trends, quoted complaints, feature-request themes. <home>/reports/opportunity_report.*")
def opportunity_report(context: AssetExecutionContext, market_opportunities: pl.DataFrame, review_predictions: pl.DataFrame,
                       clean_reviews: pl.DataFrame, insight: InsightResource, lab: HomeResource) -> MaterializeResult:
    from genai_lab.insight.market import monthly_trend
    from genai_lab.reports.opportunities import build_opportunity_report, write_opportunity_report

    settings = insight.opportunities
    mentions, requests, reviews = market_inputs(review_predictions, clean_reviews, settings)
    models = review_predictions.select("model", "model_version").unique().sort("model", "model_version").rows()
    dates = reviews["date"].drop_nulls()
    span = f" from {dates.min():%Y-%m} to {dates.max():%Y-%m}" if dates.len() else ""
    summary = (f"{reviews.height:,} clean reviews of {reviews['app_id'].n_unique()} apps{span}; {mentions.height:,} aspect mentions and "
               f"{requests.height:,} feature requests, scored by {', '.join(f'{m} {v}' for m, v in models) or 'no model'}.")
    report = build_opportunity_report(market_opportunities, monthly_trend(mentions), settings, summary=summary,
                                      generated_at=dt.datetime.now(dt.UTC))
    # the Markdown (also the UI's metadata) links its plots as PNG files beside it; the HTML embeds them
    paths = write_opportunity_report(report, lab.paths.reports)
    context.log.info(f"Opportunity report in {lab.paths.reports}: {len(report.findings)} findings, Markdown "
                     f"{len(report.markdown.encode()):,} bytes, HTML {len(report.html.encode()):,} bytes, {len(report.files)} plots")
    return MaterializeResult(metadata={
        "report": MetadataValue.md(report.markdown),
        "html": MetadataValue.path(str(paths["html"])),
        "markdown": MetadataValue.path(str(paths["markdown"])),
        "plots": MetadataValue.path(str(paths["plots"])),
        "markdown_bytes": len(report.markdown.encode()),
        "html_bytes": len(report.html.encode()),
        "findings": len(report.findings),
    })
