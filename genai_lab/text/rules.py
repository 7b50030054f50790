"""Review quality checks: each one defined once, with its detection, its repair and whether it drops the row.

Detection is a polars expression over the `reviews` frame plus a few helper columns (see
`add_scan_columns`). Repairs run only on the rows a check flagged; the ones with no vectorised form
(unescaping numeric HTML entities, shortening elongations and repetitions) are Python functions
over just those rows. Every threshold lives in `RuleSettings`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import polars as pl
from pydantic import Field

from genai_lab.config import StrictConfig
from genai_lab.datafiles import read_list
from genai_lab.defects import DEFECTS

APP_STORE_CATEGORIES: tuple[str, ...] = read_list(__package__, "rules/app_store_categories.txt")

DIMENSIONS = ("completeness", "validity", "relevance", "uniqueness", "privacy")


class RuleSettings(StrictConfig):
    """Thresholds of the review quality checks (Dagster config: a typo in a field name is an error)."""

    min_words: int = Field(3, description="Reviews with fewer words (runs of letters/digits) are too short.")
    elongation_run: int = Field(3, description="A letter repeated this many times in a row is an elongation ('sooo').")
    repeated_word_run: int = Field(3, description="A word this many times in a row is a repetition ('very very very').")
    max_phrase_words: int = Field(4, description="Phrases of 2..this many words immediately repeated are repetitions.")
    max_special_char_share: float = Field(0.25, description="Share of symbol characters (of non-space characters) above which a text is symbol-spam.")
    earliest_date: str = Field("2008-07-10", description="Reviews dated before this (the App Store's opening) are invalid.")
    future_tolerance_hours: int = Field(24, description="Reviews dated more than this after the run are invalid.")
    target_language: str = Field("en", description="Reviews in other languages are dropped.")
    valid_categories: list[str] = Field(list(APP_STORE_CATEGORIES), description="Accepted App Store categories.")
    placeholders: list[str] = Field(["（该条评论已经被删除）"], description="Literal crawler placeholders removed from the text (e.g. 'this review was deleted').")


# --- patterns (Rust regex syntax for polars; Python `re` where a repair needs back-references) ---
# An ASCII word boundary: Unicode-aware \b makes polars' regex engine ~25x slower on non-ASCII text.
B = r"(?-u:\b)"

EMAIL = r"(?i)[a-z0-9._%+\-]+@[a-z0-9.\-]+\.[a-z]{2,}"
URL = rf"(?i)(?:{B}https?://|{B}www\.)[^\s<>\"]+|{B}(?:[a-z0-9\-]+\.)+(?:com|net|org|io|ly|gg|me|co|app|info|biz|xyz|tv)(?:/[^\s<>\"]*)?{B}"
PHONE = (
    r"(?:\+\d{1,3}[\s.\-]?(?:\(\d{1,4}\)[\s.\-]?)?\d{2,4}(?:[\s.\-]?\d{2,4}){1,3}"  # +1 415-555-0134, +49 30 1234 5678
    r"|\+\d{1,3}(?:[\s.\-]\d{1,4}){4,6}"  # +33 6 52 54 06 76
    r"|\(\d{2,4}\)[\s.\-]?\d{3,4}[\s.\-]?\d{3,4}"  # (415) 555 0134
    rf"|{B}\d{{3}}[\s.\-]\d{{3}}[\s.\-]\d{{4}}{B}"  # 415-555-0134, 415 555 0134
    rf"|{B}\d{{10}}{B}"  # 4155550134: ten digits are a number to call, not a version, price or year
    rf"|{B}0\d[\s.\-]\d{{2}}[\s.\-]\d{{2}}[\s.\-]\d{{2}}[\s.\-]\d{{2}}{B}"  # 06 01 05 50 14
    rf"|{B}0\d{{2,4}}[\s/\-]?\d{{5,8}}{B})"  # 030 12345678
)
# @johnsmith: \B (nothing word-like right before the @) keeps an e-mail's local part out, a leading letter "@5pm" and "@2x"
HANDLE = r"(?-u:\B)@[A-Za-z_][A-Za-z0-9_]{1,29}"
HTML_ENTITY = r"&(?:[a-zA-Z]{2,8}|#\d{2,6}|#[xX][0-9a-fA-F]{2,5});"
CONTROL_CHARS = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F]"
EXCESS_WHITESPACE = r"[ \u00A0]{2,}|\t|^\s|\s$|\n{3,}"
# Spam is promotional intent, not a mention: "50 free gems a day" or "spam in my inbox" are opinions.
# Either a phrase that only self-promotion uses, or a lure together with a call to action.
SPAM_PROMOTION = (
    rf"(?i){B}(?:use my (?:promo |referral |invite )?code|use promo code|my (?:referral|invite) (?:code|link)|click (?:my|this) link"
    r"|follow me (?:on|@|for)|check out my (?:channel|page|profile|app|store)|subscribe to my|visit my (?:channel|page|site|profile)"
    r"|message me on|dm me|whats ?app me|link in (?:my )?bio|(?:gems?|coins?|robux|diamonds) (?:generator|hack)|hack (?:tool|generator)"
    r"|buy (?:cheap )?(?:followers|likes)|cheap (?:followers|likes|gift ?cards?)|no survey needed)"
)
SPAM_LURE = (
    rf"(?i){B}(?:(?:free|unlimited) (?:\d+ )?(?:coins?|gems?|robux|v-?bucks|diamonds|followers|likes|gift ?cards?|spins|iphone)"
    r"|\d+ free (?:coins?|gems?|robux|diamonds|spins)|earn \$\d+|made \$\d+|make money|get rich|giveaway|win a free|one simple trick"
    r"|crypto signals|claim your free|100% (?:free|working|legit))"
)
SPAM_CALL = rf"(?i)https?://|www\.|@\w{{3,}}|{B}(?:visit|go to|sign up|claim it|click here|message me|dm me|follow me|subscribe)"
# UTF-8 read as cp1252: a lead byte shown as Â..ß (2-byte), à..ï (3-byte) or ð..ô (4-byte, emoji)
# followed by its continuation bytes shown as cp1252 characters
_CONTINUATION = "\u0080-\u00bf€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"
MOJIBAKE = rf"[\u00c2-\u00df][{_CONTINUATION}]|[\u00e0-\u00ef][{_CONTINUATION}]{{2}}|[\u00f0-\u00f4][{_CONTINUATION}]{{3}}|ï»¿"
# Emoji and their joiners/selectors are not "symbols" for the special-character share
SYMBOL = r"[^\p{L}\p{N}\s.,;:!?'\"()\-\p{Emoji_Presentation}\p{Emoji_Modifier}\u200d\ufe0f\u2019\u2018\u201c\u201d]"
PICTOGRAPH = r"[\p{Extended_Pictographic}\p{So}]"

PII_TOKENS = {"email": "<EMAIL>", "url": "<URL>", "phone": "<PHONE>", "handle": "<HANDLE>"}
PII_PATTERNS = {"email": EMAIL, "url": URL, "phone": PHONE, "handle": HANDLE}  # order matters: emails hold domains


def _elongation_pattern(run: int) -> str:
    # Rust regex has no back-references: one alternative per letter.
    return "(?i)(?:" + "|".join(f"{letter}{{{run},}}" for letter in "abcdefghijklmnopqrstuvwxyz") + ")"


# --- helper columns every detection can use ---

# A text with none of these holds no e-mail, URL, phone number or handle, so PII removal can skip it.
_PII_HINT = r"@|https?://|www\.|\.(?:com|net|org|io|ly|gg|me|co|app|info|biz|xyz|tv)|\d{2}"


def _fold(texts: pl.Series) -> pl.Series:
    """Lowercase words separated by single spaces: punctuation, symbols and emoji dropped."""
    return texts.str.to_lowercase().str.replace_all(r"[^\p{L}\p{N}]+", " ").str.strip_chars()


def _without_pii(content: pl.Series) -> tuple[pl.Series, pl.Series]:
    """(`content` with e-mails, URLs, phone numbers and handles blanked, and that folded): what the word-level checks
    and near-duplicate matching read."""
    scan, folded = content, _fold(content)
    hinted = content.str.contains(_PII_HINT)
    if hinted.any():
        stripped = content.filter(hinted)
        for pattern in PII_PATTERNS.values():
            stripped = stripped.str.replace_all(pattern, " ")
        # scatter writes in place: copies keep the caller's series untouched
        scan = scan.clone().scatter(hinted.arg_true(), stripped)
        folded = folded.scatter(hinted.arg_true(), _fold(stripped))
    return scan, folded


def add_scan_columns(frame: pl.DataFrame, duplicates: pl.DataFrame | None = None) -> pl.DataFrame:
    """Helper columns the detections share, computed once:
    `_scan` content with PII removed (so 'www' is no elongation), `_words` its lowercased word
    tokens (lowercase, separated by single spaces) and `_word_count`, `_exact_duplicate` and `_near_duplicate`
    (see `DUPLICATES_SQL`). `duplicates`: `duplicate_flags` by (dump_id, record_number) when `frame` is one batch of
    a dump and they were found over the whole dump; None finds them within `frame`."""
    scan, folded_scan = _without_pii(frame["content"].fill_null(""))
    if duplicates is None:
        duplicates = duplicate_flags(duplicate_keys(frame, folded_scan))
    flags = frame.select("dump_id", "record_number").join(duplicates, on=["dump_id", "record_number"], how="left",
                                                           maintain_order="left")
    return frame.with_columns(
        scan.alias("_scan"),
        folded_scan.alias("_words"),
        pl.when(folded_scan == "").then(0).otherwise(folded_scan.str.count_matches(" ", literal=True) + 1).alias("_word_count"),
        flags["exact_duplicate"].fill_null(False).alias("_exact_duplicate"),
        flags["near_duplicate"].fill_null(False).alias("_near_duplicate"),
    )


def duplicate_keys(frame: pl.DataFrame, folded: pl.Series | None = None) -> pl.DataFrame:
    """What duplicate detection needs of each review, compact enough to hold for a whole dump of millions: the
    64-bit hashes of its text and of its near-duplicate key (the text with PII removed, folded to lowercase letters
    and digits: copies differing only in case, punctuation, emoji or a phone number or address match), its app, date
    and record number. (A hash collision within one app would need ~4 billion reviews.) `folded`: the text with PII
    removed and folded, where the caller has it (`_without_pii`)."""
    folded = _without_pii(frame["content"].fill_null(""))[1] if folded is None else folded
    near = folded.str.replace_all(" ", "", literal=True)
    return frame.select(
        "dump_id", "app_id", "record_number", "date",
        pl.col("content").hash().alias("content_key"),
        near.hash().alias("near_key"),
        (near == "").alias("near_empty"),
    )


#: the duplicate rule over `duplicate_keys` rows (`{keys}`: a table or a registered frame): a review is an exact duplicate
#: when a newer review of the same dump and app has the same text, a near duplicate when a newer one has the same folded
#: text (and it is no exact duplicate). Newer: the later date, undated reviews the oldest, then the later record. In
#: DuckDB, so a whole dump's keys are ranked out of core (a dump of 10M reviews is one query on a table on disk).
DUPLICATES_SQL = """
select dump_id, record_number, exact_duplicate, near_copy and not near_empty and not exact_duplicate as near_duplicate
from (select dump_id, record_number, near_empty,
             row_number() over (partition by dump_id, app_id, content_key order by date desc nulls last, record_number desc) > 1
                 as exact_duplicate,
             row_number() over (partition by dump_id, app_id, near_key order by date desc nulls last, record_number desc) > 1
                 as near_copy
      from {keys})
where exact_duplicate or (near_copy and not near_empty)
"""


def duplicate_flags(keys: pl.DataFrame) -> pl.DataFrame:
    """(dump_id, record_number, exact_duplicate, near_duplicate) of the duplicates among `duplicate_keys` rows
    (`DUPLICATES_SQL`); rows not listed are no duplicates."""
    import duckdb

    with duckdb.connect() as connection:
        connection.register("duplicate_keys", keys.to_arrow())
        return connection.execute(DUPLICATES_SQL.format(keys="duplicate_keys")).pl()


def repeated_words_mask(folded: pl.Series, settings: RuleSettings, chunk_rows: int = 100_000) -> pl.Series:
    """For folded texts (words separated by single spaces): does a word run `repeated_word_run` times,
    or a 2..`max_phrase_words` word phrase repeat at once?

    Works on the exploded, hashed words with the row index carried along (a `list.eval` over word
    lists is ~20x slower), a chunk of rows at a time so the exploded words stay small."""
    hits = [offset + _repeated_rows(folded.slice(offset, chunk_rows), settings) for offset in range(0, len(folded), chunk_rows)]
    mask = pl.Series(folded.name, [False] * len(folded), pl.Boolean)
    return mask.scatter(pl.concat(hits), True) if hits else mask


def _repeated_rows(folded: pl.Series, settings: RuleSettings) -> pl.Series:
    flat = (
        pl.DataFrame({"row": pl.int_range(0, len(folded), eager=True, dtype=pl.UInt32), "word": folded.str.split(" ")})
        .explode("word")
        .with_columns(pl.col("word").hash())
    )
    word, row = pl.col("word"), pl.col("row")

    def equal(a: int, b: int) -> pl.Expr:
        return (word.shift(a) == word.shift(b)) & (row.shift(a) == row.shift(b))

    run = pl.all_horizontal([equal(0, k) for k in range(1, settings.repeated_word_run)])
    phrases = [pl.all_horizontal([equal(k, k + n) for k in range(n)]) for n in range(2, settings.max_phrase_words + 1)]
    return flat.filter(pl.any_horizontal(run, *phrases).fill_null(False))["row"].unique().cast(pl.Int64)


# --- repairs (applied to the flagged rows only) ---

def _shorten_elongations(texts: pl.Series, settings: RuleSettings) -> pl.Series:
    pattern = re.compile(r"([^\W\d_])\1{%d,}" % (settings.elongation_run - 1))
    return texts.map_elements(lambda text: pattern.sub(r"\1\1", text), return_dtype=pl.String)


def _collapse_repetitions(texts: pl.Series, settings: RuleSettings) -> pl.Series:
    phrase = re.compile(r"\b(\w+(?:\W+\w+){0,%d})(?:\W+\1\b)+" % (settings.max_phrase_words - 1), re.IGNORECASE)
    return texts.map_elements(lambda text: phrase.sub(r"\1", text), return_dtype=pl.String)


def _unescape_html(texts: pl.Series, settings: RuleSettings) -> pl.Series:
    return texts.map_elements(html.unescape, return_dtype=pl.String)


def mask_pii(texts: pl.Series) -> pl.Series:
    """E-mail addresses, URLs, phone numbers and @handles replaced by their tokens (<EMAIL>, <URL>, <PHONE>, <HANDLE>)."""
    for kind in PII_PATTERNS:
        texts = texts.str.replace_all(PII_PATTERNS[kind], PII_TOKENS[kind])
    return texts


def _mask(kind: str) -> Callable[[pl.Series, RuleSettings], pl.Series]:
    return lambda texts, settings: texts.str.replace_all(PII_PATTERNS[kind], PII_TOKENS[kind])


def normalise_whitespace(texts: pl.Series, settings: RuleSettings | None = None) -> pl.Series:
    return (
        texts.str.replace_all(r"[ \t\u00A0]+", " ")
        .str.replace_all(r" *\n *", "\n")
        .str.replace_all(r"\n{3,}", "\n\n")
        .str.strip_chars()
    )


def _collapse_symbol_runs(texts: pl.Series, settings: RuleSettings) -> pl.Series:
    return texts.str.replace_all(rf"({SYMBOL})(?:{SYMBOL})+", "$1")


def _undo_cp1252(text: str) -> str:
    import ftfy  # only texts that are not a plain cp1252 round trip pay for it

    try:
        return text.encode("cp1252").decode("utf-8")  # the usual case, and 7x faster than ftfy
    except (UnicodeEncodeError, UnicodeDecodeError):
        return ftfy.fix_encoding(text)


def _fix_mojibake(texts: pl.Series, settings: RuleSettings) -> pl.Series:
    return texts.map_elements(_undo_cp1252, return_dtype=pl.String)


@dataclass(frozen=True)
class Check:
    name: str
    dimension: str
    detect: Callable[[RuleSettings], pl.Expr]
    drops: bool = False
    repair: Callable[[pl.Series, RuleSettings], pl.Series] | None = None
    description: str = ""


def _placeholder_pattern(settings: RuleSettings) -> str:
    return "|".join(re.escape(text) for text in settings.placeholders) or "$^"


def strip_placeholders(texts: pl.Series, settings: RuleSettings) -> pl.Series:
    return texts.str.replace_all(_placeholder_pattern(settings), " ")


def _symbol_share() -> pl.Expr:
    """Symbols (not letters, digits, punctuation or emoji) as a share of the non-space characters."""
    symbols = pl.col("_scan").str.count_matches(SYMBOL).cast(pl.Float64)
    return symbols / pl.max_horizontal(pl.col("_scan").str.replace_all(r"\s", "").str.len_chars(), pl.lit(1))


def _now() -> datetime:
    return datetime.now(UTC)


def _epoch_us(moment: datetime) -> int:
    """Compared as epoch microseconds: DuckDB hands timestamps back as 'Etc/UTC', which polars will not compare with 'UTC'."""
    return int(moment.timestamp() * 1_000_000)


CHECKS: tuple[Check, ...] = (
    Check("parse_error", "validity", lambda s: pl.col("parse_error").is_not_null(), drops=True,
          description="the record could not be parsed"),
    Check("invalid_rating", "validity", lambda s: pl.col("rating").is_null(), drops=True,
          description="rating missing, not a number, or outside 1..5"),
    Check("invalid_date", "validity", lambda s: pl.col("date_raw").is_not_null() & (
        pl.col("date").is_null()
        | (pl.col("date").dt.epoch("us") < _epoch_us(datetime.fromisoformat(s.earliest_date).replace(tzinfo=UTC)))
        | (pl.col("date").dt.epoch("us") > _epoch_us(_now() + timedelta(hours=s.future_tolerance_hours)))), drops=True,
          description="date unparseable, before the App Store opened, or in the future"),
    Check("invalid_category", "validity", lambda s: pl.col("category").is_not_null() & ~pl.col("category").is_in(s.valid_categories),
          description="category is not an App Store category"),
    Check("crawler_placeholder", "validity", lambda s: pl.col("content").str.contains(_placeholder_pattern(s)),
          repair=strip_placeholders, description="a crawler's placeholder text"),
    Check("mojibake", "validity", lambda s: pl.col("content").str.contains(MOJIBAKE), repair=_fix_mojibake,
          description="UTF-8 text decoded as cp1252/latin-1"),
    Check("control_chars", "validity", lambda s: pl.col("content").str.contains(CONTROL_CHARS),
          repair=lambda texts, s: texts.str.replace_all(CONTROL_CHARS, ""), description="control characters in the text"),
    Check("html_entity", "validity", lambda s: pl.col("content").str.contains(HTML_ENTITY), repair=_unescape_html,
          description="HTML entities such as &amp;"),
    Check("email", "privacy", lambda s: pl.col("content").str.contains(EMAIL), repair=_mask("email"),
          description="an e-mail address (masked as <EMAIL>)"),
    Check("url", "privacy", lambda s: pl.col("content").str.replace_all(EMAIL, " ").str.contains(URL), repair=_mask("url"),
          description="a URL (masked as <URL>)"),
    Check("phone", "privacy", lambda s: pl.col("content").str.replace_all(EMAIL, " ").str.replace_all(URL, " ").str.contains(PHONE),
          repair=_mask("phone"), description="a phone number (masked as <PHONE>)"),
    Check("elongated_word", "validity", lambda s: pl.col("_scan").str.contains(_elongation_pattern(s.elongation_run)),
          repair=_shorten_elongations, description="a letter repeated 3+ times ('sooo')"),
    Check("repeated_words", "validity", lambda s: pl.col("_words").map_batches(lambda folded: repeated_words_mask(folded, s), return_dtype=pl.Boolean),
          repair=_collapse_repetitions,
          description="a word 3+ times in a row, or a short phrase immediately repeated"),
    Check("excessive_special_chars", "validity", lambda s: (pl.col("_word_count") > 0) & (_symbol_share() > s.max_special_char_share),
          repair=_collapse_symbol_runs, description="symbols make up too much of a text that has words"),
    Check("excess_whitespace", "validity", lambda s: pl.col("content").str.contains(EXCESS_WHITESPACE), repair=normalise_whitespace,
          description="repeated spaces, tabs, leading/trailing whitespace or 3+ newlines"),
    Check("emoji_only", "relevance", lambda s: ~pl.col("content").fill_null("").str.contains(r"[\p{L}\p{N}]")
          & pl.col("content").fill_null("").str.contains(PICTOGRAPH), drops=True, description="no words, only emoji or symbols"),
    Check("too_short", "relevance", lambda s: pl.col("_word_count") < s.min_words, drops=True,
          description="fewer words than the minimum"),
    Check("spam", "relevance", lambda s: pl.col("content").str.contains(SPAM_PROMOTION)
          | (pl.col("content").str.contains(SPAM_LURE) & pl.col("content").str.contains(SPAM_CALL)), drops=True,
          description="promotional text"),
    Check("non_english", "relevance", lambda s: ~pl.col("language").is_in([s.target_language, "und"]), drops=True,
          description="not in the target language"),
    Check("exact_duplicate", "uniqueness", lambda s: pl.col("_exact_duplicate"), drops=True,
          description="an older copy of a review of the same app with identical text"),
    Check("near_duplicate", "uniqueness", lambda s: pl.col("_near_duplicate"),
          drops=True, description="an older copy differing only in case, punctuation, whitespace, emoji or personal data (e-mail, URL, phone)"),
)
CHECK_BY_NAME = {check.name: check for check in CHECKS}
# The order in which a dropped row's reason is reported: the most fundamental first.
DROP_PRIORITY = ("parse_error", "invalid_rating", "invalid_date", "non_english", "spam", "emoji_only", "too_short",
                 "exact_duplicate", "near_duplicate")

assert set(DEFECTS) <= set(CHECK_BY_NAME), "every generated defect needs a check"
assert set(DROP_PRIORITY) == {c.name for c in CHECKS if c.drops}
