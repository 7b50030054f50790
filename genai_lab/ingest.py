"""Reading review dumps as they arrive: CSV, JSON Lines, JSON and Parquet, with differing column names.

Every record of a file becomes one row of the raw schema. A record that cannot be parsed still
becomes a row, carrying its `parse_error`, so it reaches the rejects instead of vanishing. A file
that cannot be read at all raises `DumpError` naming the file, the line and what was expected.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from genai_lab.hashing import map_distinct
from genai_lab.synth import TRUTH_SUFFIX  # the truth file beside a synthetic dump is not a dump

FORMATS: dict[str, str] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".parquet": "parquet"}

# Canonical column -> the export spellings we accept, compared after lowercasing and dropping
# everything that is not a letter or digit (so `userName`, `user_name` and `User Name` all match).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "source_id": ("id", "reviewid", "review_id"),
    "app_id": ("appid", "bundleid", "trackid", "app"),
    "app_name": ("appname", "apptitle", "game", "appname"),
    "category": ("category", "genre", "primarygenre", "primarygenrename"),
    "author": ("author", "username", "user", "reviewer", "authorname", "nickname"),
    "rating": ("rating", "score", "stars", "star", "userrating"),
    "title": ("title", "reviewtitle", "summary"),
    "content": ("content", "review", "text", "body", "comment", "reviewtext", "reviewbody"),
    "date": ("date", "updated", "at", "time", "reviewdate", "timestamp", "createdat", "datetime"),
    "vote_count": ("votecount", "helpfultotal", "totalvotes", "votes"),
    "vote_sum": ("votesum", "helpfulvotes", "likes", "like", "thumbsupcount", "helpful"),
}
REQUIRED_COLUMNS = ("content", "rating")
RAW_TEXT_COLUMNS = tuple(COLUMN_ALIASES)
RAW_SCHEMA: dict[str, pl.DataType] = {
    "review_id": pl.String(),
    "dump_id": pl.String(),
    **{name: pl.String() for name in RAW_TEXT_COLUMNS},
    "source_file": pl.String(),
    "file_hash": pl.String(),
    "record_number": pl.Int64(),
    "parse_error": pl.String(),
}


class DumpError(ValueError):
    """A dump file that cannot be read; the message names the file, the place and what was expected."""

    def __init__(self, path: Path | str, problem: str, *, line: int | None = None, expected: str | None = None):
        where = f"{path}" + (f", line {line}" if line is not None else "")
        message = f"{where}: {problem}" + (f"; expected {expected}" if expected else "")
        super().__init__(message)
        self.path, self.line = Path(path), line


def dump_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DumpError(path, f"unknown dump format '{path.suffix or '(no suffix)'}'", expected=f"one of {', '.join(FORMATS)}")
    return fmt


def is_dump_file(path: Path) -> bool:
    """Files the dumps folder may hold besides dumps: hidden and temporary files, and the synthetic truth."""
    return path.is_file() and not path.name.startswith((".", "~")) and not path.name.endswith((TRUTH_SUFFIX, ".tmp", ".part"))


def list_dump_files(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).iterdir() if is_dump_file(p)) if Path(folder).is_dir() else []


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


_WIDE_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _utf8(data: bytes) -> bytes:
    """The bytes polars parses: UTF-8 without BOM. Invalid UTF-8 is left for polars to reject and `_text` to locate."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):]
    for bom, encoding in _WIDE_BOMS:
        if data.startswith(bom):
            return data.decode(encoding).encode("utf-8")
    return data


def _text(path: Path, data: bytes) -> str:
    """Decoded text, or a DumpError naming the line of the first byte that is not UTF-8."""
    data = _utf8(data)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise DumpError(path, f"byte 0x{data[error.start]:02x} at offset {error.start} is not valid UTF-8", line=line,
                        expected="UTF-8 text (re-export the file as UTF-8; these bytes look like cp1252/latin-1)") from None


def _strings(frame: pl.DataFrame) -> pl.DataFrame:
    """All columns as strings: raw keeps what the file said; typing is the next stage's job."""
    nested = [name for name, dtype in frame.schema.items() if dtype.is_nested()]
    return frame.with_columns(
        *[pl.col(name).cast(pl.String) for name in frame.columns if name not in nested],
        *[pl.col(name).struct.json_encode() if isinstance(frame.schema[name], pl.Struct) else pl.col(name).cast(pl.List(pl.String)).list.join(", ") for name in nested],
    )


def _csv_records(path: Path, data: bytes) -> pl.DataFrame:
    try:
        frame = pl.read_csv(_utf8(data), infer_schema=False, raise_if_empty=True)
        return frame.with_columns(pl.lit(None, pl.String).alias("parse_error"))
    except pl.exceptions.NoDataError:
        raise DumpError(path, "empty file", expected="a header line and at least one record") from None
    except pl.exceptions.PolarsError:  # a malformed record or bad encoding: re-read record by record to say which
        return _csv_records_one_by_one(path, _text(path, data))


def _csv_records_one_by_one(path: Path, text: str) -> pl.DataFrame:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header = next(reader, None)
    if not header:
        raise DumpError(path, "empty file", line=1, expected="a header line and at least one record")
    rows: list[list[str | None]] = []
    errors: list[str | None] = []
    start_line = reader.line_num + 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            raise DumpError(path, f"broken quoting in the record starting at line {start_line} ({error})", line=start_line,
                            expected="every opening quote closed before the next record (RFC 4180 CSV)") from None
        if len(record) == len(header):
            rows.append([value if value != "" else None for value in record])
            errors.append(None)
        elif record:
            rows.append([None] * len(header))
            errors.append(f"line {start_line}: {len(record)} fields, expected {len(header)} as in the header: {','.join(record)[:300]!r}")
        start_line = reader.line_num + 1
    frame = pl.DataFrame(rows, schema=dict.fromkeys(header, pl.String), orient="row")
    return frame.with_columns(pl.Series("parse_error", errors, pl.String))


def _json_object_records(path: Path, items: Iterable[tuple[str, object]]) -> pl.DataFrame:
    """Items are (where, parsed value); a value of `_NOT_JSON` means that place did not parse at all."""
    rows: list[dict[str, str | None]] = []
    for where, item in items:
        if isinstance(item, dict):
            rows.append({key: _scalar_text(value) for key, value in item.items()} | {"parse_error": None})
        elif isinstance(item, _NotJson):
            rows.append({"parse_error": f"{where}: {item.reason}, expected a JSON object"})
        else:
            rows.append({"parse_error": f"{where}: a JSON {type(item).__name__}, expected an object"})
    if not rows:
        raise DumpError(path, "no records", expected="at least one review object")
    columns = list(dict.fromkeys(key for row in rows for key in row))
    return pl.DataFrame(rows, schema=dict.fromkeys(columns, pl.String))


class _NotJson:
    def __init__(self, reason: str):
        self.reason = reason


def _scalar_text(value: object) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)


def _jsonl_records(path: Path, data: bytes) -> pl.DataFrame:
    try:
        frame = pl.read_ndjson(_utf8(data), infer_schema_length=None)
        return _strings(frame).with_columns(pl.lit(None, pl.String).alias("parse_error"))
    except pl.exceptions.PolarsError:  # a line is not valid JSON: parse line by line to name it
        text = _text(path, data)

    def parsed_lines():
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    yield f"line {number}", json.loads(line)
                except json.JSONDecodeError as error:
                    yield f"line {number}", _NotJson(f"invalid JSON ({error.msg} at column {error.colno})")

    return _json_object_records(path, parsed_lines())


def _json_records(path: Path, data: bytes) -> pl.DataFrame:
    text = _text(path, data)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise DumpError(path, f"invalid JSON ({error.msg} at column {error.colno})", line=error.lineno,
                        expected="a JSON array of review objects") from None
    if isinstance(document, dict):
        lists = [value for value in document.values() if isinstance(value, list)]
        if len(lists) != 1:
            raise DumpError(path, f"a JSON object with keys {sorted(document)[:10]}", expected="a JSON array of review objects, or an object holding exactly one such array")
        document = lists[0]
    if not isinstance(document, list):
        raise DumpError(path, f"a JSON {type(document).__name__}", expected="a JSON array of review objects")
    return _json_object_records(path, ((f"element {index}", item) for index, item in enumerate(document)))


def _parquet_records(path: Path) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(path)
    except Exception as error:  # noqa: BLE001 - any reader failure means the same thing to the user
        raise DumpError(path, f"not a readable Parquet file ({type(error).__name__}: {str(error).splitlines()[0][:200]})",
                        expected="an Apache Parquet file") from None
    if frame.height == 0:
        raise DumpError(path, "no records", expected="at least one review row")
    return _strings(frame).with_columns(pl.lit(None, pl.String).alias("parse_error"))


def _normalised(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def map_columns(frame: pl.DataFrame, path: Path) -> pl.DataFrame:
    """Renames export columns onto the canonical names; missing optional columns become null."""
    by_normalised: dict[str, str] = {}
    for name in frame.columns:
        by_normalised.setdefault(_normalised(name), name)
    chosen: dict[str, str] = {}
    for canonical, aliases in COLUMN_ALIASES.items():
        for alias in (canonical.replace("_", ""), *aliases):
            source = by_normalised.get(alias)
            if source is not None and source not in chosen.values() and source != "parse_error":
                chosen[canonical] = source
                break
    missing = [name for name in REQUIRED_COLUMNS if name not in chosen]
    if missing:
        accepted = "; ".join(f"{name}: {', '.join(COLUMN_ALIASES[name])}" for name in missing)
        raise DumpError(path, f"no column for {', '.join(missing)} (the file has: {', '.join(c for c in frame.columns if c != 'parse_error')})",
                        line=1, expected=f"a column named like {accepted}")
    return frame.select(
        *[(pl.col(chosen[name]) if name in chosen else pl.lit(None, pl.String)).alias(name) for name in RAW_TEXT_COLUMNS],
        "parse_error",
    )


def pseudonymise(values: pl.Series, key: bytes) -> pl.Series:
    """Keyed BLAKE2b (a MAC: unguessable without the key) of each distinct value, so an author keeps one pseudonym within a home."""
    mac_key = hashlib.sha256(key).digest()  # BLAKE2b takes keys of at most 64 bytes
    return map_distinct(values, lambda value: "u_" + hashlib.blake2b(value.encode(), key=mac_key, digest_size=8).hexdigest(), pl.String())


def read_dump(path: str | Path, dump_id: str, pseudonym_key: bytes) -> pl.DataFrame:
    """One row per record of the file, in the raw schema (`RAW_SCHEMA`)."""
    path = Path(path)
    fmt = dump_format(path)
    if not path.is_file():
        raise DumpError(path, "no such file", expected="a readable dump file")
    data = path.read_bytes()
    if not data.strip():
        raise DumpError(path, "empty file", expected="a header line and at least one record" if fmt == "csv" else "review records")
    file_hash = hashlib.sha256(data).hexdigest()
    if fmt == "parquet":
        records = _parquet_records(path)
    else:
        records = {"csv": _csv_records, "jsonl": _jsonl_records, "json": _json_records}[fmt](path, data)
    if records.height == 0:
        raise DumpError(path, "no records", line=2, expected="at least one review after the header")
    records = map_columns(records, path)
    records = records.with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("record_number"),
        pl.lit(dump_id).alias("dump_id"),
        pl.lit(path.name).alias("source_file"),
        pl.lit(file_hash).alias("file_hash"),
        pseudonymise(records["author"], pseudonym_key).alias("author"),
    )
    # A source id that is missing or not unique within the dump cannot identify a review: such rows
    # get the record number appended, and `source_id` keeps what the file said.
    ambiguous = pl.col("source_id").is_null() | pl.col("source_id").is_duplicated()
    records = records.with_columns(
        pl.when(ambiguous)
        .then(pl.format("{}~r{}", pl.col("source_id").fill_null(pl.lit(dump_id)), pl.col("record_number")))
        .otherwise(pl.col("source_id"))
        .alias("review_id")
    )
    return records.select(list(RAW_SCHEMA)).cast(RAW_SCHEMA)
