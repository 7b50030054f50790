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
from genai_lab.vocabulary import (
    ASPECT_POLARITY,
    REVIEW_SENTIMENT,
    REVIEW_TYPE,
    REVIEW_TYPES,
    SENTIMENT_LABELS,
    TASK_CLASSES,
    TASKS,
)

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
#: the spellings of each task's labels
_SPELLINGS: dict[str, dict[str, str]] = {
    REVIEW_SENTIMENT: _SENTIMENT_SPELLINGS, ASPECT_POLARITY: _SENTIMENT_SPELLINGS, REVIEW_TYPE: _REVIEW_TYPE_SPELLINGS,
}
_IGNORED_LABELS = frozenset({"conflict"})
# Candidate id columns, first that names exactly one text wins.
_ID_CANDIDATES: tuple[tuple[str, ...], ...] = (("review_id", "sentence_id"), ("sentence_id",), ("review_id",), ("row_id",), ("id",))
_ID_NAMES = frozenset(name for names in _ID_CANDIDATES for name in names)
_EXPECTED = "expected a 'text' column and a 'polarity' or 'label' column"


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


def _has(raw: pl.DataFrame) -> str:
    return ", ".join(repr(c) for c in raw.columns) or "none"


def _id_columns(raw: pl.DataFrame) -> list[pl.Expr]:
    """The file's candidate id columns, as written (`_item_ids` picks among them)."""
    return [pl.col(c) for c in raw.columns if c.strip().lower() in _ID_NAMES]


def _with_item_ids(path: Path, df: pl.DataFrame) -> pl.DataFrame:
    if (missing := df["text"].is_null()).any():
        raise GoldError(f"{path}: rows {_row_numbers(missing)} have no text")
    return df.with_columns(item_id=_item_ids(df, _columns(df)))


def load_gold_file(path: str | Path) -> pl.DataFrame:
    """One gold file in :data:`GOLD_SCHEMA` (see the module docstring for the rules)."""
    path = Path(path)
    raw = _read_table(path)
    label_name, aspect_name = _label_and_aspect_columns(path, raw)
    df = _with_item_ids(path, _gold_columns(path, raw, label_name, aspect_name))
    df, without_aspect = _labelled_rows(path, df, label_name, aspect_name)
    df = df.with_columns(key=_label_key(pl.col("raw_label")))
    ignored = int(df["key"].is_in(list(_IGNORED_LABELS)).sum())
    df = df.filter(~pl.col("key").is_in(list(_IGNORED_LABELS)))
    if df.height == 0:  # else the set would vanish from every table (or, alone in the folder, turn the run synthetic)
        raise GoldError(f"{path}: no usable gold row among its {raw.height:,} rows ({ignored:,} 'conflict'"
                        + (f", {without_aspect:,} without {aspect_name!r}" if aspect_name else "")
                        + f"); {_EXPECTED}, with at least one labelled row")
    task = _task(path, set(df["key"].unique().to_list()), label_name, aspect_name)
    mapping = _SPELLINGS[task]
    _check_known_labels(path, df, task, label_name)
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


def _label_and_aspect_columns(path: Path, raw: pl.DataFrame) -> tuple[str, str | None]:
    """The (lowercased) name of the label column and of the aspect column (None: not an aspect file)."""
    cols = _columns(raw)
    if "text" not in cols:
        raise GoldError(f"{path}: no 'text' column; it has columns [{_has(raw)}]; {_EXPECTED}")
    label_names = [n for n in ("polarity", "label") if n in cols]
    if not label_names:
        raise GoldError(f"{path}: no 'polarity' or 'label' column; it has columns [{_has(raw)}]; {_EXPECTED}")
    if len(label_names) == 2:
        raise GoldError(f"{path}: has both 'polarity' and 'label' columns; keep one ({_EXPECTED})")
    aspect_name = "aspect_term" if "aspect_term" in cols else "category" if "category" in cols else None
    for name in ("text", label_names[0], aspect_name):
        if name and raw[cols[name]].dtype.is_nested():
            raise GoldError(f"{path}: column {cols[name]!r} holds {raw[cols[name]].dtype}; expected one text or label per row")
    return label_names[0], aspect_name


def _gold_columns(path: Path, raw: pl.DataFrame, label_name: str, aspect_name: str | None) -> pl.DataFrame:
    """text, raw_label, aspect_term, the id columns, aspect_from, aspect_to (offsets only for aspect
    terms: a category is no span of the text)."""
    cols = _columns(raw)
    df = raw.select(
        pl.col(cols["text"]).cast(pl.String).alias("text"),
        pl.col(cols[label_name]).cast(pl.String).alias("raw_label"),
        (pl.col(cols[aspect_name]).cast(pl.String) if aspect_name else pl.lit(None, pl.String)).alias("aspect_term"),
        *_id_columns(raw),
    )
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
    return df.with_columns(offsets)


def _labelled_rows(path: Path, df: pl.DataFrame, label_name: str, aspect_name: str | None) -> tuple[pl.DataFrame, int]:
    """The rows that carry a label, and how many aspect-file rows were dropped for having no aspect.

    In an aspect file a label belongs to an aspect and an aspect needs a label; its rows without
    either are sentences without aspects (extraction gold only). Elsewhere every row needs a label.
    """
    no_label = df["raw_label"].is_null()
    if not aspect_name:
        if no_label.any():
            raise GoldError(f"{path}: rows {_row_numbers(no_label)} have no {label_name!r}")
        return df, 0
    no_aspect = df["aspect_term"].is_null()
    if (bad := no_aspect & ~no_label).any():
        raise GoldError(
            f"{path}: rows {_row_numbers(bad)} have a {label_name!r} but no {aspect_name!r}; "
            f"in an aspect file a label belongs to an aspect"
        )
    if (bad := ~no_aspect & no_label).any():
        raise GoldError(f"{path}: rows {_row_numbers(bad)} have an {aspect_name!r} but no {label_name!r}")
    return df.filter(~no_aspect), int(no_aspect.sum())


def _task(path: Path, keys: set[str], label_name: str, aspect_name: str | None) -> str:
    """The file's task: aspect polarity for an aspect file, else the label set its labels belong to
    (when they fit neither, the closer one, so that the error lists its labels)."""
    sentiment, review_type = _SENTIMENT_SPELLINGS.keys(), _REVIEW_TYPE_SPELLINGS.keys()
    if aspect_name:
        return ASPECT_POLARITY
    if keys <= review_type and not keys <= sentiment:
        return REVIEW_TYPE
    if keys <= sentiment:
        return REVIEW_SENTIMENT
    if keys & sentiment and keys & review_type and keys <= (sentiment | review_type):
        raise GoldError(f"{path}: mixes sentiment labels and review-type labels in one {label_name!r} column")
    return REVIEW_TYPE if len(keys & review_type) > len(keys & sentiment) else REVIEW_SENTIMENT


def _check_known_labels(path: Path, df: pl.DataFrame, task: str, label_name: str) -> None:
    unknown = df.filter(~pl.col("key").is_in(list(_SPELLINGS[task])))
    if unknown.height:
        counts = unknown.group_by("raw_label").len().sort(["len", "raw_label"], descending=[True, False])
        listed = ", ".join(f"{v!r} ({n}x)" for v, n in counts.head(20).iter_rows())
        more = f" and {counts.height - 20} more" if counts.height > 20 else ""
        raise GoldError(
            f"{path}: unknown {task} labels in column {label_name!r}: {listed}{more}; "
            f"expected one of {', '.join(TASK_CLASSES[task])} (or a clear spelling of them; 'conflict' is ignored)"
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
    if "text" not in cols or "aspect_term" not in cols:
        raise GoldError(f"{path}: aspect extraction gold needs 'text' and 'aspect_term' columns; it has [{_has(raw)}]")
    df = raw.select(
        pl.col(cols["text"]).cast(pl.String).alias("text"),
        pl.col(cols["aspect_term"]).cast(pl.String).alias("term"),
        *[
            (pl.col(cols[n]).cast(pl.Int64, strict=False) if n in cols else pl.lit(None, pl.Int64)).alias(n)
            for n in ("from", "to")
        ],
        *_id_columns(raw),
    )
    df = _with_item_ids(path, df).unique(["item_id", "text", "term", "from", "to"], maintain_order=True)
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
    out = pl.concat([frame(REVIEW_SENTIMENT, sentiment), frame(ASPECT_POLARITY, aspects), frame(REVIEW_TYPE, review_type)])
    for task, allowed in TASK_CLASSES.items():
        bad = out.filter((pl.col("task") == task) & ~pl.col("label").is_in(list(allowed)))["label"].unique().to_list()
        if bad:
            raise GoldError(f"synthetic gold: unknown {task} labels {sorted(bad)}; expected one of {', '.join(allowed)}")
    return out
