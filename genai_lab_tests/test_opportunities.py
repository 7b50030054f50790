"""Market insight on evidence: intervals against known values, minimum support, excess over normal, bounded helpful
votes, quotes that say the need, theme names without brands, small UI Markdown, the stability benchmark."""

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from genai_lab.insight.market import (
    APP_LEVEL,
    CATEGORY_LEVEL,
    OpportunitySettings,
    app_words,
    aspect_opportunities,
    beta_interval,
    eb_beta_prior,
    market_opportunities,
    poisson_rate_ratio,
    ranking_stability,
    request_phrase,
    score_themes,
    theme_requests,
    wilson_interval,
)

REPO = Path(__file__).resolve().parents[1]


def _mention(i: int, category: str, app: str, need: str, sentiment: str, helpful: int = 0, text: str | None = None,
             month: int | None = None) -> dict:
    return {"dump_id": "d", "review_id": f"{need}-{app}-{i}", "app": app, "category": category, "need": need, "aspect_term": None,
            "month": dt.date(2025, month or 1 + i % 12, 1), "sentiment": sentiment,
            "text": text or f"The {need} here is {'bad' if sentiment == 'negative' else 'fine'} number {i} of many", "confidence": 0.9,
            "helpful": helpful}


def _mentions(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema_overrides={"aspect_term": pl.String})


def _evidence_market() -> pl.DataFrame:
    rows = []
    # ads in Health: 2 mentions, both negative, each with thousands of helpful votes (the rank-2 need)
    rows += [_mention(i, "Health", "A", "ads", "negative", helpful=5000) for i in range(2)]
    # sync in Health: 200 mentions over three apps, 60% negative (a lower raw share), no votes
    rows += [_mention(i, "Health", "ABC"[i % 3], "sync", "negative" if i % 5 < 3 else "positive") for i in range(200)]
    # normal: design across the corpus, 20% negative
    rows += [_mention(i, category, app, "design", "negative" if i % 5 == 0 else "positive")
             for category, apps in (("Health", "ABC"), ("Notes", "XYZ")) for i, app in enumerate(apps * 100)]
    return _mentions(rows)


@pytest.mark.parametrize("min_support", [20, 1])
def test_two_viral_mentions_rank_below_two_hundred_mentions(min_support):
    settings = OpportunitySettings(min_support=min_support, min_apps=1)
    table = market_opportunities(aspect_opportunities(_evidence_market(), settings), aspect_opportunities(pl.DataFrame(), settings))
    rows = {r["need"]: r for r in table.filter((pl.col("level") == CATEGORY_LEVEL) & (pl.col("category") == "Health")).iter_rows(named=True)}
    ads, sync = rows["ads"], rows["sync"]
    assert ads["negative_share"] == 1.0 > sync["negative_share"]  # the raw share would put ads first
    assert sync["rank"] == 1
    if min_support == 20:
        assert ads["thin"] and ads["rank"] is None  # below the minimum support: not ranked at all
    else:
        assert (ads["rank"] is None or ads["rank"] > sync["rank"]) and ads["score"] < sync["score"]
    # helpful votes are a bounded weight: 5,000 votes weigh no more than the cap
    assert ads["helpful_votes_mean"] == 5000 and ads["helpful_weight"] == pytest.approx(1 + 0.25 * np.log1p(10))


def test_an_aspect_negative_everywhere_is_the_baseline_not_the_finding():
    # bugs are 95% negative in both categories; sync is 50% negative in Notes against 10% in Travel
    rows = [_mention(i, c, a, "stability/bugs", "negative" if i % 20 else "positive") for c, apps in (("Notes", "AB"), ("Travel", "CD"))
            for i, a in enumerate(apps * 100)]
    rows += [_mention(i, "Notes", a, "sync", "negative" if i % 2 else "positive") for i, a in enumerate("AB" * 50)]
    rows += [_mention(i, "Travel", a, "sync", "negative" if i % 10 == 0 else "positive") for i, a in enumerate("CD" * 50)]
    settings = OpportunitySettings()
    table = market_opportunities(aspect_opportunities(_mentions(rows), settings), aspect_opportunities(pl.DataFrame(), settings))
    ranking = table.filter(pl.col("rank").is_not_null()).sort("rank")
    assert ranking.row(0, named=True)["need"] == "sync" and ranking.row(0, named=True)["category"] == "Notes"
    bugs = ranking.filter(pl.col("need") == "stability/bugs")
    assert (bugs["excess"] == 0).all() and (bugs["lift_low"] < 1).all() and (bugs["lift_high"] > 1).all()
    top = ranking.row(0, named=True)
    assert top["baseline_negative_share"] == pytest.approx(0.1) and top["lift_low"] > 1
    for column in ("negative_share", "lift", "growth"):
        assert (ranking[f"{column}_low"] <= ranking[column]).all() and (ranking[column] <= ranking[f"{column}_high"]).all()


def test_a_category_need_from_one_app_is_thin():
    rows = [_mention(i, "Notes", "A", "sync", "negative") for i in range(50)]
    rows += [_mention(i, "Notes", a, "design", "negative" if i % 4 == 0 else "positive") for i, a in enumerate("AB" * 30)]
    table = aspect_opportunities(_mentions(rows), OpportunitySettings())
    sync = table.filter((pl.col("level") == CATEGORY_LEVEL) & (pl.col("need") == "sync")).row(0, named=True)
    assert sync["thin"] and sync["apps"] == 1
    app = table.filter((pl.col("level") == APP_LEVEL) & (pl.col("need") == "sync")).row(0, named=True)
    assert not app["thin"] and app["app"] == "A"  # the per-app detail keeps it


def test_intervals_against_known_values():
    # Beta(6, 6): 5 of 10 under a uniform prior; symmetric equal-tailed 95% interval
    mean, low, high = beta_interval(5, 10)
    assert mean == pytest.approx(0.5) and low == pytest.approx(0.2338, abs=1e-4) and high == pytest.approx(1 - 0.2338, abs=1e-4)
    # Beta(1, 1) after 0 of 0: the prior's own 2.5% / 97.5% quantiles
    _, low, high = beta_interval(0, 0)
    assert (low, high) == pytest.approx((0.025, 0.975))
    # exact Poisson (Garwood) interval for 10 events: [4.795, 18.390]; for 0 events: [0, 3.689]
    ratio, low, high = poisson_rate_ratio([10, 0, 20], [10, 1, 10])
    assert low[0] == pytest.approx(0.47954, abs=1e-4) and high[0] == pytest.approx(1.83904, abs=1e-4)
    assert low[1] == 0 and high[1] == pytest.approx(3.68888, abs=1e-4)
    assert ratio[2] == 2 and low[2] > 1  # 20 where 10 were expected: growing, the whole interval above 1
    assert np.isnan(poisson_rate_ratio([3], [0])[0][0])
    # Wilson: 8 of 10 -> [0.490, 0.943]
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)


def test_empirical_bayes_prior_strength_follows_the_spread_between_groups():
    a, b = eb_beta_prior([30, 30, 30], [100, 100, 100], 2, 50)
    assert a / (a + b) == pytest.approx(0.3) and a + b == pytest.approx(50)  # no spread beyond noise: the strongest prior
    a, b = eb_beta_prior([5, 50, 95], [100, 100, 100], 2, 50)
    assert a + b < 5  # shares far apart: a weak prior, the data speak
    a, b = eb_beta_prior([9], [10], 2, 50, fallback_mean=0.2)
    assert (a, b) == pytest.approx((0.4, 1.6))  # one group: the wider pool's mean, weakest prior


def test_quotes_say_the_need_and_are_negative():
    lifesaver = "This app is a lifesaver. I love the controls, although the recommendations are kind of lacking"
    crash = "It crashes every time I open the camera and I lose my notes"
    happy = "No crash in months, the crash reporter is great and stable"
    rows = [_mention(0, "Notes", "A", "stability/bugs", "negative", helpful=100, text=lifesaver),
            _mention(1, "Notes", "A", "stability/bugs", "negative", helpful=1, text=crash),
            _mention(2, "Notes", "A", "stability/bugs", "positive", helpful=500, text=happy)]
    table = aspect_opportunities(_mentions(rows), OpportunitySettings(min_support=1, min_apps=1))
    quotes = table.filter(pl.col("level") == CATEGORY_LEVEL)["quotes"][0].to_list()
    assert quotes == [crash]
    # a mined aspect term counts as the need's word too
    rows = [{**_mention(0, "Notes", "A", "stability/bugs", "negative", text="The splash thing hangs forever before anything else"),
             "aspect_term": "splash thing"}]
    quotes = aspect_opportunities(_mentions(rows), OpportunitySettings(min_support=1, min_apps=1))["quotes"][0].to_list()
    assert quotes == ["The splash thing hangs forever before anything else"]


def _requests(texts_by_app: dict[str, list[str]], category: str = "Finance") -> pl.DataFrame:
    rows = [{"dump_id": "d", "review_id": f"{app}-{i}", "text": t, "confidence": 0.9, "app": app, "category": category,
             "month": dt.date(2025, 1 + i % 12, 1), "helpful": 0} for app, texts in texts_by_app.items() for i, t in enumerate(texts)]
    return pl.DataFrame(rows)


def _topic_vectors(texts: list[str]) -> np.ndarray:
    vocabulary = ["dark", "export", "pay", "gcash"]
    vectors = np.array([[t.lower().count(w) for w in vocabulary] for t in texts], dtype=np.float32) + 1e-3
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_themes_are_named_by_a_request_phrase_without_app_names():
    requests = _requests({
        "GCash": [f"GCash please add a dark mode for the home screen, my eyes hurt ({i})" for i in range(8)]
                 + [f"Please let us export statements to pdf from gcash ({i})" for i in range(8)],
        "Maya Wallet": [f"I wish there was a dark mode for the home screen at night ({i})" for i in range(8)]
                       + [f"Would be nice to export statements to pdf every month ({i})" for i in range(8)],
        "Wise": [f"Would love a dark mode for the home screen please ({i})" for i in range(8)],
    })
    settings = OpportunitySettings(themes=2, min_theme_requests=5, min_support=5)
    themed = theme_requests(requests, _topic_vectors, {"the", "for", "my", "at", "to", "from", "there", "was", "eyes", "hurt"}, settings)
    keywords = set(" · ".join(themed["keywords"].unique().to_list()).split(" · "))
    assert "gcash" not in keywords and "maya" not in keywords and "wallet" not in keywords and "wise" not in keywords
    names = set(themed["need"].to_list())
    assert "dark mode for the home screen" in names, names
    assert any("export statements to pdf" in n for n in names), names
    table = score_themes(themed, settings)
    dark = table.filter((pl.col("level") == CATEGORY_LEVEL) & (pl.col("need") == "dark mode for the home screen")).row(0, named=True)
    assert dark["apps_asking"] == 3 and dark["mentions"] == 24 and "dark" in dark["keywords"]
    # every quote holds one of the theme's key words
    assert dark["quotes"] and all(any(w in q.lower() for w in dark["keywords"].split(" · ")) for q in dark["quotes"])


def test_app_words_are_the_apps_names_and_words_only_one_app_uses():
    requests = _requests({"Acme Notes": ["zorblax sync please"] * 5 + ["dark mode please"], "B": ["dark mode"] * 3, "C": ["dark"] * 3})
    words = app_words(requests, ["Acme Notes", "B", "C"])
    assert {"acme", "notes", "zorblax"} <= words and "dark" not in words


@pytest.mark.parametrize(("text", "phrase"), [
    ("Please add a dark mode for the home screen.", "dark mode for the home screen"),
    ("It would be nice if you could add offline maps, thanks", "offline maps"),
    ("I wish there was a widget", "widget"),
    ("Great app. Crashes a lot.", None),
])
def test_request_phrase(text, phrase):
    assert request_phrase(text) == phrase


def test_stability_of_a_clear_ranking_is_high():
    settings = OpportunitySettings(min_apps=1)
    shares, overlaps = ranking_stability(_evidence_market(), pl.DataFrame(schema={"dump_id": pl.String, "review_id": pl.String,
                                                                                  "app": pl.String}), settings, resamples=8)
    assert len(overlaps) == 8 and np.median(overlaps) == 1.0
    assert shares.filter(pl.col("need") == "sync")["top_share"].item() == 1.0


def _report_table():
    from genai_lab.insight.market import with_stability

    settings = OpportunitySettings(min_apps=1)
    mentions = _evidence_market()
    table = market_opportunities(aspect_opportunities(mentions, settings), aspect_opportunities(pl.DataFrame(), settings))
    shares, _ = ranking_stability(mentions, mentions.clear().select("dump_id", "review_id", "app"), settings, resamples=4)
    return with_stability(table, shares), mentions, settings


def test_report_shows_evidence_and_keeps_the_ui_markdown_small(tmp_path):
    from genai_lab.insight.market import monthly_trend
    from genai_lab.reports.opportunities import PLOT_FOLDER, build_opportunity_report, write_opportunity_report

    table, mentions, settings = _report_table()
    report = build_opportunity_report(table, monthly_trend(mentions), settings, summary="test")
    top = report.findings[0]
    assert "**sync** in Health" in top and "[" in top and "of 200 mentions" in top and "in 100% of resamples" in top
    assert "data:image" not in report.markdown and len(report.markdown) < 20_000
    assert f"]({PLOT_FOLDER}/" in report.markdown
    assert report.html.count("data:image/png;base64,") == len(report.files) >= 2
    # every row of the top-needs table shows n, an interval and the stability
    section = report.markdown.split("## Top unmet needs")[1].split("###")[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| rank")]
    assert rows and all("[" in r and "%" in r for r in rows)
    paths = write_opportunity_report(report, tmp_path)
    assert paths["markdown"].read_text() == report.markdown and paths["html"].read_text() == report.html
    for name in report.files:
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_stability_benchmark_prints_json_on_a_small_home(tmp_path):
    import duckdb

    mentions = _evidence_market()
    predictions = mentions.select("dump_id", "review_id", pl.lit("aspect").alias("level"), pl.col("need").alias("aspect_category"),
                                  "aspect_term", "text", "sentiment", "confidence", pl.lit(None, pl.Boolean).alias("is_feature_request"))
    reviews = mentions.select("dump_id", "review_id", pl.col("app").alias("app_id"), pl.col("app").alias("app_name"), "category",
                              pl.col("month").cast(pl.Datetime("us", "UTC")).alias("date"), pl.col("helpful").alias("vote_sum"))
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as connection:
        connection.sql("create schema lab")
        connection.register("p", predictions.to_arrow())
        connection.register("r", reviews.to_arrow())
        connection.sql("create table lab.review_predictions as select * from p")
        connection.sql("create table lab.clean_reviews as select * from r")
    out = tmp_path / "stability.json"
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "opportunity_stability.py"), "--home", str(tmp_path),
                           "--resamples", "5", "--no-themes", "--out", str(out)], check=False, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["resamples"] == 5 and 0 <= result["top10_overlap_median"] <= 1
    assert json.loads(out.read_text())["top10_overlap_median"] == result["top10_overlap_median"]
    assert "in top 10" in done.stdout


def test_the_assets_write_the_table_with_stability_and_the_report_with_its_plot_files(tmp_path):
    from dagster import build_asset_context

    from genai_lab.assets.insight import market_opportunities as table_asset
    from genai_lab.assets.reports import opportunity_report
    from genai_lab.resources import HomeResource, InsightResource, LabelingResource

    mentions = _evidence_market()
    predictions = mentions.select("dump_id", "review_id", pl.lit("aspect").alias("level"), pl.col("need").alias("aspect_category"),
                                  "aspect_term", "text", "sentiment", "confidence", pl.lit(None, pl.Boolean).alias("is_feature_request"),
                                  pl.lit("slm_classifier").alias("model"), pl.lit("v1").alias("model_version"))
    reviews = mentions.select("dump_id", "review_id", pl.col("app").alias("app_id"), pl.col("app").alias("app_name"), "category",
                              pl.col("month").cast(pl.Datetime("us", "UTC")).alias("date"), pl.col("helpful").alias("vote_sum"))
    insight = InsightResource(opportunities=OpportunitySettings(stability_resamples=5))
    out = table_asset(build_asset_context(), review_predictions=predictions, clean_reviews=reviews, insight=insight,
                      labeling=LabelingResource())
    table = out.value
    assert {"negative_share_low", "negative_share_high", "lift_low", "lift_high", "growth_low", "growth_high", "stability"} <= set(table.columns)
    assert table.filter(pl.col("rank").is_not_null())["stability"].is_not_null().all()
    result = opportunity_report(build_asset_context(), market_opportunities=table, review_predictions=predictions, clean_reviews=reviews,
                                insight=insight, lab=HomeResource(home=str(tmp_path)))
    folder = tmp_path / "reports"
    markdown = (folder / "opportunity_report.md").read_text()
    assert result.metadata["markdown_bytes"] == len(markdown.encode()) and "data:image" not in markdown
    linked = [line.split("](")[1].rstrip(")") for line in markdown.splitlines() if line.startswith("![")]
    assert linked and all((folder / path).exists() for path in linked)


def test_a_theme_is_named_by_a_phrase_only_where_the_phrase_holds_a_key_word():
    from genai_lab.insight.market import _theme_title

    texts = ["I wish I could check my mail without my phone", "Please add playlists for music on the ipad"]
    assert _theme_title(texts, np.array([0.9, 0.5]), ["music", "ipad"]) == "playlists for music on the ipad"
    assert _theme_title(texts[:1], np.array([0.9]), ["music", "ipad"]) is None  # the key words name it instead
