"""Market opportunities: the score ranks a planted unmet need first; themes, quotes and trends behave."""

import datetime as dt

import numpy as np
import polars as pl
import pytest

from genai_lab.insight.market import (
    APP_LEVEL,
    CATEGORY_LEVEL,
    OpportunitySettings,
    aspect_opportunities,
    feature_request_themes,
    market_opportunities,
    mention_frame,
    monthly_trend,
    request_frame,
    review_meta,
    spherical_kmeans,
)


def _planted_market(seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Three note apps. `sync` is negative at every app and growing (unmet); `ads` is worse but only at one app
    (the others serve it well); `design` is mostly praised."""
    rng = np.random.default_rng(seed)
    reviews, predictions = [], []
    negative_share = {"sync": {"Alpha": 0.7, "Beta": 0.65, "Gamma": 0.75},
                      "ads": {"Alpha": 0.95, "Beta": 0.05, "Gamma": 0.1},
                      "design": {"Alpha": 0.1, "Beta": 0.15, "Gamma": 0.1}}
    n = 0
    for need, per_app in negative_share.items():
        for app, share in per_app.items():
            for i in range(60):
                n += 1
                review_id = f"r{n}"
                # sync complaints crowd into the last three months; everything else is spread over a year
                month = 10 + i % 3 if need == "sync" and i % 2 == 0 else 1 + i % 12
                reviews.append({"dump_id": "d1", "review_id": review_id, "app_id": app.lower(), "app_name": app, "category": "Notes",
                                "date": dt.datetime(2025, month, 15, tzinfo=dt.UTC), "vote_sum": int(rng.integers(0, 3))})
                sentiment = "negative" if rng.random() < share else "positive"
                predictions.append({"dump_id": "d1", "review_id": review_id, "level": "aspect", "aspect_category": need,
                                    "sentiment": sentiment,
                                    "confidence": 0.9, "text": f"The {need} of {app} is {'awful' if sentiment == 'negative' else 'fine'}, "
                                                              f"mail me at someone{n}@example.com", "is_feature_request": None})
    return pl.DataFrame(predictions), pl.DataFrame(reviews)


def test_planted_unmet_need_ranks_first():
    predictions, reviews = _planted_market()
    settings = OpportunitySettings(min_support=20)
    table = market_opportunities(aspect_opportunities(mention_frame(predictions, reviews, settings), settings),
                                 aspect_opportunities(pl.DataFrame(), settings))
    ranking = table.filter(pl.col("level") == CATEGORY_LEVEL).sort("rank", nulls_last=True)
    assert ranking["need"].to_list()[0] == "sync"
    # ads (worse, but only at one app) and design (praised) are no worse than the corpus's normal: no unmet need, no rank
    assert ranking["rank"].to_list() == [1, None, None] and (ranking["score"].to_list()[1:] == [0.0, 0.0])
    ads = ranking.row(by_predicate=pl.col("need") == "ads", named=True)
    assert ads["best_served_app"] == "Beta" and ads["competitors"] == 3
    sync = ranking.row(by_predicate=pl.col("need") == "sync", named=True)
    assert sync["growth"] > 1.1
    # one row per app beside the category row, for the side-by-side table
    assert table.filter((pl.col("level") == APP_LEVEL) & (pl.col("need") == "sync"))["app"].sort().to_list() == ["Alpha", "Beta", "Gamma"]


def test_quotes_are_negative_readable_and_pii_masked():
    predictions, reviews = _planted_market()
    settings = OpportunitySettings(min_support=20, quotes=2)
    table = aspect_opportunities(mention_frame(predictions, reviews, settings), settings)
    quotes = table.filter(pl.col("level") == CATEGORY_LEVEL)["quotes"].explode().drop_nulls().to_list()
    assert quotes and all("awful" in q and "<EMAIL>" in q and "@example.com" not in q for q in quotes)
    assert table.filter(pl.col("level") == CATEGORY_LEVEL)["quotes"].list.len().max() == 2


def test_an_app_below_min_support_is_no_competitor():
    predictions, reviews = _planted_market()
    table = aspect_opportunities(mention_frame(predictions, reviews, OpportunitySettings(min_support=61)), OpportunitySettings(min_support=61))
    rows = table.filter(pl.col("level") == CATEGORY_LEVEL)
    assert rows["competitors"].to_list() == [0, 0, 0] and rows["best_served_app"].null_count() == 3
    # the apps stay in the per-app detail, marked as thin evidence
    apps = table.filter(pl.col("level") == APP_LEVEL)
    assert apps.height == 9 and apps["thin"].all()


def test_monthly_trend_counts_negative_share_per_month():
    predictions, reviews = _planted_market()
    trend = monthly_trend(mention_frame(predictions, reviews, OpportunitySettings()))
    assert trend["mentions"].sum() == predictions.height
    row = trend.filter(pl.col("need") == "sync").sort("month").row(-1, named=True)
    assert row["negative_share"] == pytest.approx(row["negative"] / row["mentions"])


def _bag_of_words(texts: list[str]) -> np.ndarray:
    vocabulary = ["dark", "mode", "widget", "export", "pdf", "calendar"]
    vectors = np.array([[t.lower().count(w) for w in vocabulary] for t in texts], dtype=np.float32) + 1e-3
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_feature_requests_cluster_into_named_themes():
    texts = [f"Please add a dark mode, my eyes hurt at night ({i})" for i in range(12)] + \
            [f"I wish I could export notes to pdf for school ({i})" for i in range(12)]
    predictions = pl.DataFrame({"dump_id": "d1", "review_id": [f"q{i}" for i in range(24)], "level": "review", "text": texts,
                                "confidence": 0.9,
                                "is_feature_request": True, "sentiment": "neutral", "aspect_category": None})
    reviews = pl.DataFrame({"dump_id": "d1", "review_id": [f"q{i}" for i in range(24)], "app_id": ["a", "b"] * 12,
                            "app_name": ["A", "B"] * 12,
                            "category": None, "date": [dt.datetime(2025, 1 + i % 12, 1, tzinfo=dt.UTC) for i in range(24)],
                            "vote_sum": [1] * 24})
    settings = OpportunitySettings(themes=2, min_theme_requests=5)
    themes = feature_request_themes(request_frame(predictions, reviews, settings), _bag_of_words, {"the", "for", "my", "at"}, settings)
    rows = themes.filter(pl.col("level") == CATEGORY_LEVEL).sort("need")
    assert rows["mentions"].to_list() == [12, 12]
    assert any("dark" in need for need in rows["need"]) and any("export" in need or "pdf" in need for need in rows["need"])
    assert set(rows["category"]) == {"Uncategorised"}  # a null category is named, not dropped


def test_a_theme_counts_the_apps_asking_apart_from_the_apps_of_the_category():
    # Notes has three apps; only A's and B's users ask for dark mode
    texts = [f"Please add a dark mode, my eyes hurt at night ({i})" for i in range(12)]
    predictions = pl.DataFrame({"dump_id": "d1", "review_id": [f"q{i}" for i in range(12)], "level": "review", "text": texts,
                                "confidence": 0.9,
                                "is_feature_request": True})
    reviews = pl.DataFrame({"dump_id": "d1", "review_id": [f"q{i}" for i in range(13)], "app_id": ["a", "b"] * 6 + ["c"],
                            "app_name": ["A", "B"] * 6 + ["C"], "category": "Notes",
                            "date": [dt.datetime(2025, 1 + i % 12, 1, tzinfo=dt.UTC) for i in range(13)], "vote_sum": [1] * 13})
    settings = OpportunitySettings(themes=1, min_theme_requests=5, min_support=10)
    themes = feature_request_themes(request_frame(predictions, reviews, settings), _bag_of_words, set(), settings,
                                    all_reviews=review_meta(reviews, settings))
    row = themes.filter(pl.col("level") == CATEGORY_LEVEL).row(0, named=True)
    assert (row["apps_asking"], row["competitors"]) == (2, 3)
    from genai_lab.reports.opportunities import build_opportunity_report

    aspect_predictions, aspect_reviews = _planted_market()  # Notes too, so the category gets its section and theme table
    mentions = mention_frame(aspect_predictions, aspect_reviews, settings)
    table = market_opportunities(aspect_opportunities(mentions, settings), themes)
    report = build_opportunity_report(table, monthly_trend(mentions), settings)
    assert "12 requests from users of 2 of 3 app(s)" in report.findings[1]
    assert "| 12 | 2 of 3 |" in report.markdown


def test_reviews_of_two_dumps_sharing_ids_keep_their_own_app():
    # review ids are unique only within a dump: "r1" of the Alpha export is not "r1" of the Beta export
    predictions = pl.DataFrame({"dump_id": ["alpha", "beta"], "review_id": "r1", "level": "aspect", "aspect_category": "sync",
                                "sentiment": ["negative", "positive"], "confidence": 0.9, "text": ["sync broke", "sync works"]})
    reviews = pl.DataFrame({"dump_id": ["alpha", "beta"], "review_id": "r1", "app_id": ["alpha", "beta"], "app_name": ["Alpha", "Beta"],
                            "category": ["Notes", "Finance"], "date": [dt.datetime(2025, 1, 1, tzinfo=dt.UTC)] * 2, "vote_sum": [3, 0]})
    mentions = mention_frame(predictions, reviews, OpportunitySettings())
    assert mentions.height == 2
    assert mentions.sort("dump_id").select("app", "category", "sentiment", "helpful").rows() == [
        ("Alpha", "Notes", "negative", 3), ("Beta", "Finance", "positive", 0)]
    requests = request_frame(predictions.with_columns(level=pl.lit("review"), is_feature_request=True), reviews, OpportunitySettings())
    assert requests.sort("dump_id")["app"].to_list() == ["Alpha", "Beta"]


def test_theme_counts_of_a_sample_say_so():
    texts = [f"Please add a dark mode, my eyes hurt at night ({i})" for i in range(12)] + \
            [f"I wish I could export notes to pdf for school ({i})" for i in range(12)]
    predictions = pl.DataFrame({"dump_id": "d1", "review_id": [f"q{i}" for i in range(24)], "level": "review", "text": texts,
                                "confidence": 0.9, "is_feature_request": True})
    reviews = pl.DataFrame({"dump_id": "d1", "review_id": [f"q{i}" for i in range(24)], "app_id": ["a", "b"] * 12,
                            "app_name": ["A", "B"] * 12, "category": "Notes",
                            "date": [dt.datetime(2025, 1 + i % 12, 1, tzinfo=dt.UTC) for i in range(24)], "vote_sum": [1] * 24})
    from genai_lab.reports.opportunities import build_opportunity_report

    aspect_predictions, aspect_reviews = _planted_market()
    mentions = mention_frame(aspect_predictions, aspect_reviews, OpportunitySettings())
    reports = {}
    for max_requests in (20, 24):
        settings = OpportunitySettings(themes=2, min_theme_requests=5, max_requests=max_requests, min_support=8)
        themes = feature_request_themes(request_frame(predictions, reviews, settings), _bag_of_words, set(), settings)
        table = market_opportunities(aspect_opportunities(mentions, settings), themes)
        reports[max_requests] = build_opportunity_report(table, monthly_trend(mentions), settings)
        category_rows = themes.filter(pl.col("level") == CATEGORY_LEVEL)
        assert category_rows["mentions"].sum() == max_requests
        assert themes["sampled_from"].to_list() == ([24] * themes.height if max_requests == 20 else [None] * themes.height)
    sampled, whole = reports[20], reports[24]
    assert "(in a seeded sample of 20 of the 24 requests)" in sampled.findings[1]
    assert "Feature-request counts are of a seeded sample of 20 of the 24 requests" in sampled.markdown
    assert "20 feature requests (in a seeded sample of 20 of the 24 requests)." in sampled.markdown
    assert "sample" not in " ".join(whole.findings) and "seeded sample" not in whole.markdown


def test_spherical_kmeans_separates_two_directions():
    vectors = np.array([[1, 0], [0.99, 0.1], [0, 1], [0.1, 0.99]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels, _ = spherical_kmeans(vectors, 2)
    assert labels[0] == labels[1] and labels[2] == labels[3] and labels[0] != labels[2]


def _report(settings: OpportunitySettings | None = None):
    from genai_lab.reports.opportunities import build_opportunity_report

    settings = settings or OpportunitySettings(min_support=20)
    predictions, reviews = _planted_market()
    mentions = mention_frame(predictions, reviews, settings)
    table = market_opportunities(aspect_opportunities(mentions, settings), aspect_opportunities(pl.DataFrame(), settings))
    return table, build_opportunity_report(table, monthly_trend(mentions), settings, summary="test")


def test_report_names_the_planted_need_and_embeds_its_plots():
    _, report = _report()
    assert "**sync** in Notes" in report.findings[0]
    assert "Beta" in report.markdown and "## Notes" in report.markdown and "<h2>Notes</h2>" in report.html
    assert report.html.count("data:image/png;base64,") >= 3  # ranking, competitors heatmap, trend
    assert "src=\"http" not in report.html  # self-contained
    # growth is against each app's own review flow, not the category's volume
    riser = next(f for f in report.findings if "grow fastest" in f)
    assert "**sync** in Notes" in riser and "last 3 months of each app's data" in riser and "category's overall volume" not in riser


def test_findings_follow_the_numbers():
    from genai_lab.reports.opportunities import key_findings

    table, _ = _report()
    before = key_findings(table)[0]
    changed = table.with_columns(pl.when((pl.col("need") == "sync") & (pl.col("level") == CATEGORY_LEVEL))
                                 .then(pl.col("negative") + 1000).otherwise(pl.col("negative")).alias("negative"))
    after = key_findings(changed)[0]
    assert before != after and f"{table.filter((pl.col('need') == 'sync') & (pl.col('level') == CATEGORY_LEVEL))['negative'][0] + 1000:,}" in after


def test_quotes_reach_markdown_as_written():
    from genai_lab.reports.opportunities import Block, render_markdown
    from genai_lab.reports.render import md_text

    assert md_text("mail <EMAIL> or <b>me</b>") == "mail \\<EMAIL\\> or \\<b\\>me\\</b\\>"
    assert md_text("# 1 app | ever\n  #2 > all") == "\\# 1 app \\| ever\n  \\#2 \\> all"
    assert md_text("C:\\notes\\<x") == "C:\\\\notes\\\\\\<x"
    markdown = render_markdown([Block("quotes", "sync", items=["# Sync lost <URL> | again", "line one\n# line two"])])
    assert "> \\# Sync lost \\<URL\\> \\| again\n" in markdown
    assert "> line one\n> \\# line two\n" in markdown  # every line of a quote stays in its blockquote


def test_one_sentence_with_two_mentions_of_a_need_is_quoted_once():
    settings = OpportunitySettings(min_support=1, quotes=2)
    sentence = "Sync keeps failing and the sync status lies to me every day"
    predictions = pl.DataFrame({"dump_id": "d1", "review_id": ["a", "a", "b"], "level": "aspect", "aspect_category": "sync",
                                "sentiment": "negative",
                                "confidence": 0.9, "text": [sentence, sentence, "Sync lost all of my notes from yesterday, again"],
                                "is_feature_request": None})
    reviews = pl.DataFrame({"dump_id": "d1", "review_id": ["a", "b"], "app_id": "x", "app_name": "X", "category": "Notes",
                            "date": [dt.datetime(2025, 1, 1, tzinfo=dt.UTC)] * 2, "vote_sum": [5, 0]})
    table = aspect_opportunities(mention_frame(predictions, reviews, settings), settings)
    quotes = table.filter(pl.col("level") == CATEGORY_LEVEL)["quotes"][0].to_list()
    assert quotes == [sentence, "Sync lost all of my notes from yesterday, again"]


def test_helpful_votes_are_the_helpful_votes_not_every_vote_cast():
    # App Store voteSum / Play thumbsUpCount land in vote_sum; vote_count counts unhelpful votes too
    reviews = pl.DataFrame({"dump_id": "d1", "review_id": ["a", "b", "c"], "app_id": "x", "app_name": "X", "category": "Notes",
                            "date": [dt.datetime(2025, 1, 1, tzinfo=dt.UTC)] * 3,
                            "vote_count": [10, 5, None], "vote_sum": [2, None, 7]})
    assert review_meta(reviews, OpportunitySettings())["helpful"].to_list() == [2, 0, 7]


def test_an_app_scraped_later_does_not_make_its_complaints_grow():
    # Alpha's export runs to December, Beta's stops in June; both complain about sync at a steady rate, Alpha more.
    # A window at the end of the category would hold only Alpha's mentions and call sync growing.
    rows = []
    for app, last_month, share in (("Alpha", 12, 0.8), ("Beta", 6, 0.2)):
        for month in range(1, last_month + 1):
            for i in range(20):
                rows.append({"dump_id": "d1", "review_id": f"{app}{month}-{i}", "app": app, "category": "Notes", "need": "sync",
                             "month": dt.date(2025, month, 1), "sentiment": "negative" if i < share * 20 else "positive",
                             "text": "sync", "confidence": 0.9, "helpful": 0})
    table = aspect_opportunities(pl.DataFrame(rows), OpportunitySettings(min_support=1))
    growth = dict(zip(table["app"].fill_null("category").to_list(), table["growth"].to_list()))
    assert growth == pytest.approx({"category": 1.0, "Alpha": 1.0, "Beta": 1.0})


def test_growth_is_said_only_where_its_interval_excludes_one():
    from genai_lab.insight.market import describe_growth

    table, report = _report()
    riser = next(f for f in report.findings if "grow fastest" in f)
    sync = table.filter((pl.col("need") == "sync") & (pl.col("level") == CATEGORY_LEVEL)).row(0, named=True)
    assert sync["growth_low"] > 1 and f"growing ×{sync['growth']:.2f} [{sync['growth_low']:.2f}–{sync['growth_high']:.2f}]" in riser
    assert describe_growth(2.0, 1.2, 3.1) == "growing ×2.00 [1.20–3.10]"
    assert describe_growth(2.0, 0.8, 4.0) == "no clear trend ×2.00 [0.80–4.00]"  # a big ratio on little evidence is no trend
    assert describe_growth(0.5, 0.3, 0.8) == "shrinking ×0.50 [0.30–0.80]"
    assert describe_growth(None) == "steady (no dated mentions)"
