"""Human gold labels: every CSV / Parquet file of the gold folder as one long, normalised table.

`load_gold_folder(folder)` reads every ``*.csv`` and ``*.parquet`` file of the folder (sorted by name;
the README, hidden files and anything else are ignored) into :data:`GOLD_SCHEMA`:

``dataset`` (the file stem), ``task``, ``item_id``, ``text``, ``aspect_term``, ``aspect_from``,
``aspect_to``, ``label``, ``synthetic``, ``source_file``.

What a file holds is read from its columns (names compared case-insensitively):

* ``text`` and exactly one of ``polarity`` / ``label`` are required. Numeric id columns such as
  ``label_id`` are never labels.
* With ``aspect_term`` (and optional ``from``/``to`` character offsets) a file is **aspect_polarity**
  gold: one row per (text, aspect term). Rows whose ``aspect_term`` is null are sentences without
  aspects: they are no polarity gold and are dropped here; `load_aspect_extraction_gold` keeps them
  for scoring aspect-term extraction.
* Without ``aspect_term`` but with ``category`` (SemEval-2014 aspect *category* polarity, e.g.
  ``semeval14_restaurant_train_categories``) a file is **aspect_polarity** gold too, with
  ``aspect_term`` = the category name (``food``, ``service``, ...) and null offsets. A category is not
  a span of the text, so such a file is no extraction gold.
* Otherwise the labels decide: sentiment labels make **review_sentiment** gold, review-type labels
  (Maalej et al.: Bug / Feature / Rating / UserExperience, any case) make **review_type** gold. The
  Maalej set is multi-label: one row per (text, label), each kept.

Labels are normalised to :data:`SENTIMENT_LABELS` or :data:`REVIEW_TYPES`. Only clear spellings are
accepted (positive/negative/neutral, pos/neg/neu; bug, feature, rating, user experience and the
canonical names; any case, whitespace / "_" / "-" ignored); numbers like 0/1/2 are ambiguous and rejected.
``conflict`` rows (SemEval) are ignored. Exact duplicate rows (same item, aspect, offsets and label)
are kept once.

``item_id`` is the file's own id of the text where it has one that names exactly one text
(``review_id`` + ``sentence_id``, ``sentence_id``, ``review_id``, ``row_id`` or ``id``, first that
fits), else a hash of the text (the Maalej ``review_id`` is only unique within one label's file, so
that set is keyed by text). Texts are kept exactly as written: the SemEval offsets point into them.

Bad input raises :class:`GoldError` naming the file and what it has versus what was expected.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import polars as pl

from genai_lab.hashing import map_distinct

__all__ = [
    "GOLD_SCHEMA",
    "EXTRACTION_SCHEMA",
    "GOLD_SUFFIXES",
    "ASPECT_POLARITY",
    "REVIEW_SENTIMENT",
    "REVIEW_TYPE",
    "REVIEW_TYPES",
    "SENTIMENT_LABELS",
    "TASKS",
    "GoldError",
    "empty_gold",
    "gold_from_synthetic",
    "load_aspect_extraction_gold",
    "load_gold_file",
    "load_gold_folder",
]

SENTIMENT_LABELS: tuple[str, ...] = ("negative", "neutral", "positive")
REVIEW_TYPES: tuple[str, ...] = ("bug_report", "feature_request", "user_experience", "rating")
REVIEW_SENTIMENT, ASPECT_POLARITY, REVIEW_TYPE = "review_sentiment", "aspect_polarity", "review_type"
TASKS: tuple[str, ...] = (REVIEW_SENTIMENT, ASPECT_POLARITY, REVIEW_TYPE)
GOLD_SUFFIXES: tuple[str, ...] = (".csv", ".parquet")
# notes kept beside gold files (the shared gold has a README.md): skipped without a warning
_NOTE_SUFFIXES: tuple[str, ...] = (".md", ".txt", ".rst")
log = logging.getLogger(__name__)

GOLD_SCHEMA: dict[str, pl.DataType] = {
    "dataset": pl.String(),
    "task": pl.String(),
    "item_id": pl.String(),
    "text": pl.String(),
    "aspect_term": pl.String(),
    "aspect_from": pl.Int64(),
    "aspect_to": pl.Int64(),
    "label": pl.String(),
    "synthetic": pl.Boolean(),
    "source_file": pl.String(),
}
_SPAN = pl.Struct({"term": pl.String, "from": pl.Int64, "to": pl.Int64})
EXTRACTION_SCHEMA: dict[str, pl.DataType] = {
    "dataset": pl.String(),
    "item_id": pl.String(),
    "text": pl.String(),
    "aspect_terms": pl.List(pl.String),
    "aspects": pl.List(_SPAN),
    "source_file": pl.String(),
}

# Label spellings, compared after lowercasing and dropping whitespace, "_" and "-".
_SENTIMENT_SPELLINGS: dict[str, str] = {
    "positive": "positive", "pos": "positive",
    "negative": "negative", "neg": "negative",
    "neutral": "neutral", "neu": "neutral",
}  # fmt: skip
_REVIEW_TYPE_SPELLINGS: dict[str, str] = {
    "bug": "bug_report", "bugreport": "bug_report",
    "feature": "feature_request", "featurerequest": "feature_request",
    "userexperience": "user_experience",
    "rating": "rating",
}  # fmt: skip
_IGNORED_LABELS = frozenset({"conflict"})
# Candidate id columns, first that names exactly one text wins.
_ID_CANDIDATES: tuple[tuple[str, ...], ...] = (("review_id", "sentence_id"), ("sentence_id",), ("review_id",), ("row_id",), ("id",))


class GoldError(ValueError):
    """A gold file that cannot be used as it is; the message names the file and what was expected."""


def empty_gold() -> pl.DataFrame:
    return pl.DataFrame(schema=GOLD_SCHEMA)


# --------------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------------


def _gold_files(folder: Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise GoldError(f"gold folder {folder} does not exist or is not a folder")
    visible = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
    files = sorted(p for p in visible if p.suffix.lower() in GOLD_SUFFIXES)
    skipped = sorted(p.name for p in visible if p.suffix.lower() not in GOLD_SUFFIXES + _NOTE_SUFFIXES)
    if skipped:  # a .tsv or .csv.gz dataset would otherwise be missing from every table without a word
        log.warning(f"gold folder {folder}: not read (only {', '.join(GOLD_SUFFIXES)} files are gold): {', '.join(skipped)}")
    stems: dict[str, Path] = {}
    for p in files:
        if p.stem in stems:
            raise GoldError(f"{stems[p.stem]} and {p} share the dataset name {p.stem!r}; rename one of them")
        stems[p.stem] = p
    return files


def _read_table(path: Path) -> pl.DataFrame:
    if path.is_dir():
        raise GoldError(f"{path}: is a folder; expected one CSV or Parquet gold file (load_gold_folder reads a folder)")
    kind = "Parquet" if path.suffix.lower() == ".parquet" else "CSV"
    try:
        if kind == "Parquet":
            return pl.read_parquet(path)
        # all columns as strings: labels and ids are taken as written, offsets are cast below
        return pl.read_csv(path, infer_schema=False)
    except Exception as exc:  # polars raises several error types for broken files
        raise GoldError(f"{path}: cannot be read as {kind}: {type(exc).__name__}: {exc}") from exc


def _columns(df: pl.DataFrame) -> dict[str, str]:
    """lowercased, stripped name -> the file's own column name."""
    return {c.strip().lower(): c for c in df.columns}


def _row_numbers(mask: pl.Series, limit: int = 5) -> str:
    rows = mask.arg_true().head(limit).to_list()
    more = int(mask.sum()) - len(rows)
    return ", ".join(str(r + 1) for r in rows) + (f" and {more} more" if more > 0 else "")


def _label_key(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.String).str.to_lowercase().str.replace_all(r"[\s_\-]", "")


def _text_hash(texts: pl.Series) -> pl.Series:
    return map_distinct(texts, lambda text: hashlib.sha1(text.encode("utf-8")).hexdigest()[:16], pl.String)


def _item_ids(df: pl.DataFrame, cols: dict[str, str]) -> pl.Series:
    """The file's own id of each text where one names exactly one text, else a hash of the text."""
    for names in _ID_CANDIDATES:
        if not all(n in cols for n in names):
            continue
        id_cols = [pl.col(cols[n]).cast(pl.String) for n in names]
        ids = df.select(pl.concat_str(id_cols, separator="/").alias("item_id"), pl.col("text"))
        if ids["item_id"].null_count():
            continue
        texts_per_id = ids.group_by("item_id").agg(pl.col("text").n_unique())["text"]
        if texts_per_id.len() == 0 or texts_per_id.max() == 1:
            return ids["item_id"]
    return _text_hash(df["text"]).alias("item_id")


def load_gold_file(path: str | Path) -> pl.DataFrame:
    """One gold file in :data:`GOLD_SCHEMA` (see the module docstring for the rules)."""
    path = Path(path)
    raw = _read_table(path)
    cols = _columns(raw)
    have = ", ".join(repr(c) for c in raw.columns) or "none"
    expected = "expected a 'text' column and a 'polarity' or 'label' column"
    if "text" not in cols:
        raise GoldError(f"{path}: no 'text' column; it has columns [{have}]; {expected}")
    label_names = [n for n in ("polarity", "label") if n in cols]
    if not label_names:
        raise GoldError(f"{path}: no 'polarity' or 'label' column; it has columns [{have}]; {expected}")
    if len(label_names) == 2:
        raise GoldError(f"{path}: has both 'polarity' and 'label' columns; keep one ({expected})")
    aspect_name = "aspect_term" if "aspect_term" in cols else "category" if "category" in cols else None
    for name in ("text", label_names[0], aspect_name):
        if name and raw[cols[name]].dtype.is_nested():
            raise GoldError(f"{path}: column {cols[name]!r} holds {raw[cols[name]].dtype}; expected one text or label per row")

    df = raw.select(
        pl.col(cols["text"]).cast(pl.String).alias("text"),
        pl.col(cols[label_names[0]]).cast(pl.String).alias("raw_label"),
        (pl.col(cols[aspect_name]).cast(pl.String) if aspect_name else pl.lit(None, pl.String)).alias("aspect_term"),
        *[pl.col(c) for c in raw.columns if c.strip().lower() in {n for names in _ID_CANDIDATES for n in names}],
    )
    # offsets only for aspect terms (a category has no span)
    offsets = []
    for name, out in (("from", "aspect_from"), ("to", "aspect_to")):
        if aspect_name == "aspect_term" and name in cols:
            try:
                offsets.append(raw[cols[name]].cast(pl.Int64, strict=True).alias(out))
            except Exception as exc:
                bad = raw[cols[name]].cast(pl.Int64, strict=False).is_null() & raw[cols[name]].is_not_null()
                raise GoldError(
                    f"{path}: column {cols[name]!r} must hold whole-number character offsets; rows {_row_numbers(bad)} do not"
                ) from exc
        else:
            offsets.append(pl.Series(out, [None] * raw.height, dtype=pl.Int64))
    df = df.with_columns(offsets)

    if (missing := df["text"].is_null()).any():
        raise GoldError(f"{path}: rows {_row_numbers(missing)} have no text")
    df = df.with_columns(item_id=_item_ids(df, _columns(df)))

    no_label = df["raw_label"].is_null()
    if aspect_name:
        no_aspect = df["aspect_term"].is_null()
        if (bad := no_aspect & ~no_label).any():
            raise GoldError(
                f"{path}: rows {_row_numbers(bad)} have a {label_names[0]!r} but no {aspect_name!r}; "
                f"in an aspect file a label belongs to an aspect"
            )
        if (bad := ~no_aspect & no_label).any():
            raise GoldError(f"{path}: rows {_row_numbers(bad)} have an {aspect_name!r} but no {label_names[0]!r}")
        df = df.filter(~no_aspect)  # sentences without aspects: extraction gold only
    elif no_label.any():
        raise GoldError(f"{path}: rows {_row_numbers(no_label)} have no {label_names[0]!r}")

    df = df.with_columns(key=_label_key(pl.col("raw_label")))
    ignored = int(df["key"].is_in(list(_IGNORED_LABELS)).sum())
    df = df.filter(~pl.col("key").is_in(list(_IGNORED_LABELS)))
    if df.height == 0:  # else the set would vanish from every table (or, alone in the folder, turn the run synthetic)
        raise GoldError(f"{path}: no usable gold row among its {raw.height:,} rows ({ignored:,} 'conflict'"
                        + (f", {int(no_aspect.sum()):,} without {aspect_name!r}" if aspect_name else "")
                        + f"); {expected}, with at least one labelled row")
    keys = set(df["key"].unique().to_list())
    is_sentiment = keys <= _SENTIMENT_SPELLINGS.keys()
    is_type = keys <= _REVIEW_TYPE_SPELLINGS.keys()
    if aspect_name:
        task, mapping = "aspect_polarity", _SENTIMENT_SPELLINGS
    elif is_type and not is_sentiment:
        task, mapping = "review_type", _REVIEW_TYPE_SPELLINGS
    elif is_sentiment:
        task, mapping = "review_sentiment", _SENTIMENT_SPELLINGS
    elif keys & _SENTIMENT_SPELLINGS.keys() and keys & _REVIEW_TYPE_SPELLINGS.keys() and keys <= (
        _SENTIMENT_SPELLINGS.keys() | _REVIEW_TYPE_SPELLINGS.keys()
    ):
        raise GoldError(f"{path}: mixes sentiment labels and review-type labels in one {label_names[0]!r} column")
    else:
        # report against the closer label set
        n_sent = len(keys & _SENTIMENT_SPELLINGS.keys())
        n_type = len(keys & _REVIEW_TYPE_SPELLINGS.keys())
        mapping = _REVIEW_TYPE_SPELLINGS if n_type > n_sent else _SENTIMENT_SPELLINGS
        task = "review_type" if mapping is _REVIEW_TYPE_SPELLINGS else "review_sentiment"
    unknown = df.filter(~pl.col("key").is_in(list(mapping)))
    if unknown.height:
        counts = unknown.group_by("raw_label").len().sort(["len", "raw_label"], descending=[True, False])
        listed = ", ".join(f"{v!r} ({n}x)" for v, n in counts.head(20).iter_rows())
        more = f" and {counts.height - 20} more" if counts.height > 20 else ""
        wanted = SENTIMENT_LABELS if mapping is _SENTIMENT_SPELLINGS else REVIEW_TYPES
        raise GoldError(
            f"{path}: unknown {task} labels in column {label_names[0]!r}: {listed}{more}; "
            f"expected one of {', '.join(wanted)} (or a clear spelling of them; 'conflict' is ignored)"
        )
    return (
        df.select(
            pl.lit(path.stem).alias("dataset"),
            pl.lit(task).alias("task"),
            "item_id",
            "text",
            "aspect_term",
            "aspect_from",
            "aspect_to",
            pl.col("key").replace_strict(mapping, return_dtype=pl.String).alias("label"),
            pl.lit(False).alias("synthetic"),
            pl.lit(str(path)).alias("source_file"),
        )
        .unique(maintain_order=True)
        .cast(GOLD_SCHEMA)
    )


def load_gold_folder(folder: str | Path) -> pl.DataFrame:
    """Every CSV / Parquet file of ``folder`` as one table in :data:`GOLD_SCHEMA`.

    An empty folder gives an empty table: the caller then uses :func:`gold_from_synthetic`.
    A folder that does not exist is an error (a typo must not silently fall back to synthetic gold).
    """
    frames = [load_gold_file(p) for p in _gold_files(Path(folder))]
    return pl.concat(frames, how="vertical") if frames else empty_gold()


def load_aspect_extraction_gold(path: str | Path) -> pl.DataFrame:
    """Per sentence of an aspect-term file, the list of its gold aspect terms (sentences with none included).

    Rows of :data:`EXTRACTION_SCHEMA`: ``aspect_terms`` (list of terms in file order, an empty list for a
    sentence without aspects) and ``aspects`` (the same as ``{term, from, to}``, offsets null where the
    file has none). Every annotated term counts, whatever its polarity (``conflict`` included). Needs an
    ``aspect_term`` column; a category file is no extraction gold.
    """
    path = Path(path)
    raw = _read_table(path)
    cols = _columns(raw)
    have = ", ".join(repr(c) for c in raw.columns) or "none"
    if "text" not in cols or "aspect_term" not in cols:
        raise GoldError(f"{path}: aspect extraction gold needs 'text' and 'aspect_term' columns; it has [{have}]")
    df = raw.select(
        pl.col(cols["text"]).cast(pl.String).alias("text"),
        pl.col(cols["aspect_term"]).cast(pl.String).alias("term"),
        *[
            (pl.col(cols[n]).cast(pl.Int64, strict=False) if n in cols else pl.lit(None, pl.Int64)).alias(n)
            for n in ("from", "to")
        ],
        *[pl.col(c) for c in raw.columns if c.strip().lower() in {n for names in _ID_CANDIDATES for n in names}],
    )
    if (missing := df["text"].is_null()).any():
        raise GoldError(f"{path}: rows {_row_numbers(missing)} have no text")
    df = df.with_columns(item_id=_item_ids(df, _columns(df))).unique(
        ["item_id", "text", "term", "from", "to"], maintain_order=True
    )
    span = pl.struct(pl.col("term"), pl.col("from"), pl.col("to"))
    return (
        df.group_by("item_id", maintain_order=True)
        .agg(
            pl.col("text").first(),
            pl.col("term").drop_nulls().alias("aspect_terms"),
            span.filter(pl.col("term").is_not_null()).alias("aspects"),
        )
        .select(
            pl.lit(path.stem).alias("dataset"),
            "item_id",
            "text",
            "aspect_terms",
            "aspects",
            pl.lit(str(path)).alias("source_file"),
        )
        .cast(EXTRACTION_SCHEMA)
    )


# --------------------------------------------------------------------------------------------------
# synthetic gold
# --------------------------------------------------------------------------------------------------


def gold_from_synthetic(dump: pl.DataFrame, truth: pl.DataFrame, dataset: str = "synthetic") -> pl.DataFrame:
    """Gold from the generator's truth (``genai_lab.synth.generate``), for when the gold folder is empty.

    ``dump`` and ``truth`` are row-aligned (``truth.review_id == dump.id``). Only English texts
    (``language == "en"``) with a non-blank ``content`` count. Rows: review_sentiment (label =
    ``sentiment``), one aspect_polarity row per truth aspect (``aspect_term`` = its ``term``; offsets of
    its occurrence in the text: the k-th listed aspect with the same term is its k-th occurrence, truth
    aspects being in text order; null where not found) and review_type. ``synthetic`` is True,
    ``source_file`` null.
    """
    if dump.height != truth.height or not (dump["id"] == truth["review_id"]).all():
        raise GoldError("synthetic gold: dump and truth are not row-aligned (truth.review_id must equal dump.id)")
    base = (
        pl.concat([truth, dump.select(pl.col("content").cast(pl.String).alias("text"))], how="horizontal")
        .filter((pl.col("language") == "en") & pl.col("text").is_not_null() & (pl.col("text").str.strip_chars() != ""))
        .with_columns(pl.col("review_id").cast(pl.String).alias("item_id"))
    )

    def frame(task: str, df: pl.DataFrame) -> pl.DataFrame:
        return df.select(
            pl.lit(dataset).alias("dataset"),
            pl.lit(task).alias("task"),
            "item_id",
            "text",
            *[
                (pl.col(c) if c in df.columns else pl.lit(None, GOLD_SCHEMA[c])).alias(c)
                for c in ("aspect_term", "aspect_from", "aspect_to")
            ],
            pl.col("label"),
            pl.lit(True).alias("synthetic"),
            pl.lit(None, pl.String).alias("source_file"),
        ).cast(GOLD_SCHEMA)

    sentiment = base.filter(pl.col("sentiment").is_not_null()).with_columns(label=pl.col("sentiment"))
    review_type = base.filter(pl.col("review_type").is_not_null()).with_columns(label=pl.col("review_type"))
    aspects = (
        base.select("item_id", "text", "aspects")
        .explode("aspects")
        .unnest("aspects")
        .filter(pl.col("term").is_not_null() & pl.col("polarity").is_not_null())
        .with_columns(k=pl.int_range(pl.len()).over("item_id", "term"))
        .with_columns(pieces=pl.col("text").str.split(pl.col("term")))
        .with_columns(
            aspect_from=pl.when(pl.col("pieces").list.len() > pl.col("k") + 1).then(
                pl.col("pieces").list.head(pl.col("k") + 1).list.eval(pl.element().str.len_chars()).list.sum()
                + pl.col("k") * pl.col("term").str.len_chars()
            )
        )
        .select(
            "item_id",
            "text",
            pl.col("term").alias("aspect_term"),
            pl.col("aspect_from").cast(pl.Int64),
            (pl.col("aspect_from") + pl.col("term").str.len_chars()).cast(pl.Int64).alias("aspect_to"),
            pl.col("polarity").alias("label"),
        )
    )
    out = pl.concat(
        [frame("review_sentiment", sentiment), frame("aspect_polarity", aspects), frame("review_type", review_type)]
    )
    for task, allowed in (("review_sentiment", SENTIMENT_LABELS), ("aspect_polarity", SENTIMENT_LABELS), ("review_type", REVIEW_TYPES)):
        bad = out.filter((pl.col("task") == task) & ~pl.col("label").is_in(list(allowed)))["label"].unique().to_list()
        if bad:
            raise GoldError(f"synthetic gold: unknown {task} labels {sorted(bad)}; expected one of {', '.join(allowed)}")
    return out
