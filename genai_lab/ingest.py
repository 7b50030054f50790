"""Reading review dumps as they arrive: CSV, JSON Lines, JSON and Parquet, with differing column names.

Every record of a file becomes one row of the raw schema. A record that cannot be parsed (a broken
CSV quote, a byte that is not text, a line that is not JSON) still becomes a row, carrying its
`parse_error` (line and reason), so it reaches the rejects instead of vanishing and the rest of the
file is read. A file that is not UTF-8 but decodes cleanly as Excel's legacy cp1252 is read as such
(`DumpReading.encoding` says so). A file that cannot be read at all (empty, no header, unknown
format, no content or rating column) raises `DumpError` naming the file, the line and what was expected.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from genai_lab.hashing import map_distinct
from genai_lab.synth import TRUTH_SUFFIX  # the truth file beside a synthetic dump is not a dump

LOG = logging.getLogger(__name__)  # a managed logger (genai_lab/dagster.yaml): shown in the run's log

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
    """The bytes polars parses: UTF-8 without BOM. Invalid UTF-8 is left for polars to reject and `_decode` to sort out."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):]
    for bom, encoding in _WIDE_BOMS:
        if data.startswith(bom):
            return data.decode(encoding).encode("utf-8")
    return data


def _bom_encoding(data: bytes) -> str:
    return next((encoding for bom, encoding in _WIDE_BOMS if data.startswith(bom)), "utf-8")


LEGACY_ENCODING = "cp1252"  # what Excel writes for "CSV" on Western Windows; latin-1 text decodes the same above 0x9f
_INVALID_BYTE = re.compile("[\udc80-\udcff]")  # a byte that was not UTF-8, kept by 'surrogateescape'


def _decode(path: Path, data: bytes) -> tuple[str, str]:
    """(text, encoding). UTF-8 (BOM or not) and UTF-16/32 with a BOM as they are. A file that is not UTF-8 but
    decodes as cp1252, and whose non-ASCII bytes are mostly not UTF-8 sequences, is cp1252 (an Excel export).
    Otherwise it is UTF-8 with some invalid bytes: those stay in the text as lone surrogates (U+DC80-U+DCFF),
    and the records holding them are rejected by the record readers."""
    bom = data.startswith(codecs.BOM_UTF8)
    if not bom:
        for mark, encoding in _WIDE_BOMS:
            if data.startswith(mark):
                try:
                    return data.decode(encoding), encoding
                except UnicodeDecodeError as error:
                    raise DumpError(path, f"not valid {encoding} text ({error.reason} at byte {error.start})",
                                    expected=f"the {encoding} its byte-order mark announces") from None
    body = data[len(codecs.BOM_UTF8):] if bom else data
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    text = body.decode("utf-8", "surrogateescape")
    invalid = len(_INVALID_BYTE.findall(text))
    valid_non_ascii = len(text) - len(text.encode("ascii", "ignore")) - invalid
    if not bom and valid_non_ascii < invalid:
        try:
            return body.decode(LEGACY_ENCODING), LEGACY_ENCODING
        except UnicodeDecodeError:
            pass
    return text, "utf-8"


def _invalid_byte(text: str) -> str | None:
    """'byte 0x.. is not valid UTF-8' for the first byte of `text` that was not text, else None."""
    found = _INVALID_BYTE.search(text)
    return None if found is None else f"byte 0x{ord(found.group()) - 0xDC00:02x} is not valid UTF-8 (and the file is not cp1252 text)"


def _strings(frame: pl.DataFrame) -> pl.DataFrame:
    """All columns as strings: raw keeps what the file said; typing is the next stage's job."""
    nested = [name for name, dtype in frame.schema.items() if dtype.is_nested()]
    return frame.with_columns(
        *[pl.col(name).cast(pl.String) for name in frame.columns if name not in nested],
        *[pl.col(name).struct.json_encode() if isinstance(frame.schema[name], pl.Struct) else pl.col(name).cast(pl.List(pl.String)).list.join(", ") for name in nested],
    )


def _csv_records(path: Path, data: bytes) -> tuple[pl.DataFrame, str]:
    try:
        frame = pl.read_csv(_utf8(data), infer_schema=False, raise_if_empty=True)
        if frame.height or data.strip().count(b"\n") == 0:  # no rows after a multi-line header: a quote broke it
            return frame.with_columns(pl.lit(None, pl.String).alias("parse_error")), _bom_encoding(data)
    except pl.exceptions.NoDataError:
        raise DumpError(path, "empty file", expected="a header line and at least one record") from None
    except pl.exceptions.PolarsError:  # a malformed record or bad encoding: re-read record by record to say which
        pass
    text, encoding = _decode(path, data)
    if encoding == LEGACY_ENCODING:
        try:
            frame = pl.read_csv(text.encode("utf-8"), infer_schema=False, raise_if_empty=True)
            return frame.with_columns(pl.lit(None, pl.String).alias("parse_error")), encoding
        except pl.exceptions.PolarsError:
            pass
    return _csv_records_one_by_one(path, text), encoding


class _Lines(Iterator[str]):
    """The physical lines of a text, fed to `csv.reader` one at a time; `position` is the next line's index,
    so a reader can be restarted on the line after a broken record."""

    def __init__(self, text: str):
        self.lines = io.StringIO(text, newline="").readlines()  # split on \n, \r\n or \r, endings kept
        self.position = 0

    def __next__(self) -> str:
        if self.position >= len(self.lines):
            raise StopIteration
        self.position += 1
        return self.lines[self.position - 1]


def _csv_records_one_by_one(path: Path, text: str) -> pl.DataFrame:
    """Record by record. A record with broken quoting (an unbalanced quote swallows the following lines until
    the parser fails) is rejected as its first line, and reading restarts on the next line, so one bad
    quote costs one record; a record with the wrong number of fields or a byte that is not text is rejected too."""
    lines = _Lines(text)
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise DumpError(path, f"broken quoting in the header ({error})", line=1, expected="a header line of column names (RFC 4180 CSV)") from None
    if not header:
        raise DumpError(path, "empty file", line=1, expected="a header line and at least one record")
    if (problem := _invalid_byte(",".join(header))) is not None:
        raise DumpError(path, f"the header line is not text: {problem}", line=1,
                        expected="a header line of column names in UTF-8 (or a whole file in cp1252)")
    check_bytes = _INVALID_BYTE.search(text) is not None
    rows: list[list[str | None]] = []
    errors: list[str | None] = []
    start = lines.position
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            rows.append([None] * len(header))
            errors.append(f"line {start + 1}: broken quoting ({error}), expected every opening quote closed before the next record: "
                          f"{lines.lines[start].rstrip()[:300]!r}")
            lines.position = start + 1
            reader = csv.reader(lines, strict=True)
            start = lines.position
            continue
        problem = _invalid_byte(",".join(record)) if check_bytes and record else None
        if problem is not None:
            rows.append([None] * len(header))
            errors.append(f"line {start + 1}: {problem}")
        elif len(record) == len(header):
            rows.append([value if value != "" else None for value in record])
            errors.append(None)
        elif record:
            rows.append([None] * len(header))
            errors.append(f"line {start + 1}: {len(record)} fields, expected {len(header)} as in the header: {','.join(record)[:300]!r}")
        start = lines.position
    frame = pl.DataFrame(rows, schema=dict.fromkeys(header, pl.String), orient="row")
    return frame.with_columns(pl.Series("parse_error", errors, pl.String))


def _json_object_records(path: Path, items: Iterable[tuple[str, object]], *, check_bytes: bool = False) -> pl.DataFrame:
    """Items are (where, parsed value); a value of `_NOT_JSON` means that place did not parse at all.
    With `check_bytes`, an object holding a byte that was not text (see `_decode`) is rejected."""
    rows: list[dict[str, str | None]] = []
    for where, item in items:
        if isinstance(item, dict):
            values = {key: _scalar_text(value) for key, value in item.items()}
            problem = _invalid_byte(json.dumps(values, ensure_ascii=False)) if check_bytes else None
            rows.append({"parse_error": f"{where}: {problem}"} if problem else values | {"parse_error": None})
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


def _jsonl_records(path: Path, data: bytes) -> tuple[pl.DataFrame, str]:
    try:
        frame = pl.read_ndjson(_utf8(data), infer_schema_length=None)
        return _strings(frame).with_columns(pl.lit(None, pl.String).alias("parse_error")), _bom_encoding(data)
    except pl.exceptions.PolarsError:  # a line is not valid JSON or not text: parse line by line to name it
        text, encoding = _decode(path, data)
    if encoding == LEGACY_ENCODING:
        try:
            frame = pl.read_ndjson(text.encode("utf-8"), infer_schema_length=None)
            return _strings(frame).with_columns(pl.lit(None, pl.String).alias("parse_error")), encoding
        except pl.exceptions.PolarsError:
            pass

    def parsed_lines():
        for number, line in enumerate(text.split("\n"), start=1):  # JSON Lines ends records on \n only
            if line.strip():
                try:
                    yield f"line {number}", json.loads(line)
                except json.JSONDecodeError as error:
                    yield f"line {number}", _NotJson(f"invalid JSON ({error.msg} at column {error.colno})")

    return _json_object_records(path, parsed_lines(), check_bytes=_INVALID_BYTE.search(text) is not None), encoding


def _json_records(path: Path, data: bytes) -> tuple[pl.DataFrame, str]:
    text, encoding = _decode(path, data)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:  # one document: no record boundary to recover at
        raise DumpError(path, f"invalid JSON ({error.msg} at column {error.colno})", line=error.lineno,
                        expected="a JSON array of review objects") from None
    if isinstance(document, dict):
        lists = [value for value in document.values() if isinstance(value, list)]
        if len(lists) != 1:
            raise DumpError(path, f"a JSON object with keys {sorted(document)[:10]}", expected="a JSON array of review objects, or an object holding exactly one such array")
        document = lists[0]
    if not isinstance(document, list):
        raise DumpError(path, f"a JSON {type(document).__name__}", expected="a JSON array of review objects")
    items = ((f"element {index}", item) for index, item in enumerate(document))
    return _json_object_records(path, items, check_bytes=_INVALID_BYTE.search(text) is not None), encoding


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


def _require_a_parsable_record(path: Path, records: pl.DataFrame) -> None:
    """One bad record costs that record; a file in which no record parses is not a dump of reviews at all
    (a wrong format or a quote broken before the first record): it fails, naming the first problem."""
    errors = records["parse_error"]
    if errors.null_count():
        return
    first = errors[0]
    found = re.match(r"(?:line|element) (\d+): ", first)
    line = int(found.group(1)) if found and first.startswith("line") else None
    reason = first[found.end():] if found and line is not None else first
    raise DumpError(path, f"{reason} (no record of the file could be parsed: {records.height:,} tried)", line=line,
                    expected="at least one parsable record")


@dataclass(frozen=True)
class DumpReading:
    """One dump file read: its rows in the raw schema, and the text encoding it was read in
    ('utf-8', 'utf-16', 'utf-32', 'parquet', or 'cp1252' for a legacy export decoded as such)."""

    frame: pl.DataFrame
    encoding: str

    @property
    def legacy_encoding(self) -> bool:
        return self.encoding == LEGACY_ENCODING

    @property
    def parse_errors(self) -> int:
        return int(self.frame["parse_error"].is_not_null().sum())


def read_dump(path: str | Path, dump_id: str, pseudonym_key: bytes) -> pl.DataFrame:
    """One row per record of the file, in the raw schema (`RAW_SCHEMA`)."""
    return read_dump_file(path, dump_id, pseudonym_key).frame


def read_dump_file(path: str | Path, dump_id: str, pseudonym_key: bytes) -> DumpReading:
    """`read_dump`, with the encoding the file was read in (for the asset's metadata)."""
    path = Path(path)
    fmt = dump_format(path)
    if not path.is_file():
        raise DumpError(path, "no such file", expected="a readable dump file")
    data = path.read_bytes()
    if not data.strip():
        raise DumpError(path, "empty file", expected="a header line and at least one record" if fmt == "csv" else "review records")
    file_hash = hashlib.sha256(data).hexdigest()
    if fmt == "parquet":
        records, encoding = _parquet_records(path), "parquet"
    else:
        records, encoding = {"csv": _csv_records, "jsonl": _jsonl_records, "json": _json_records}[fmt](path, data)
    del data
    if records.height == 0:
        raise DumpError(path, "no records", line=2, expected="at least one review after the header")
    _require_a_parsable_record(path, records)
    records = map_columns(records, path)
    records = records.with_columns(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("record_number"),
        pl.lit(dump_id).alias("dump_id"),
        pl.lit(path.name).alias("source_file"),
        pl.lit(file_hash).alias("file_hash"),
        pseudonymise(records["author"], pseudonym_key).alias("author"),
    )
    records = records.with_columns(review_id(pl.col("source_id").is_null() | pl.col("source_id").is_duplicated(), dump_id))
    reading = DumpReading(records.select(list(RAW_SCHEMA)).cast(RAW_SCHEMA), encoding)
    warn_about(path, reading.encoding, reading.frame.height, reading.parse_errors,
               reading.frame["parse_error"].drop_nulls()[0] if reading.parse_errors else None)
    return reading


def review_id(ambiguous: pl.Expr, dump_id: str) -> pl.Expr:
    """A source id that is missing or not unique within the dump (`ambiguous`) cannot identify a review: such rows get
    the record number appended, and `source_id` keeps what the file said."""
    return (pl.when(ambiguous).then(pl.format("{}~r{}", pl.col("source_id").fill_null(pl.lit(dump_id)), pl.col("record_number")))
            .otherwise(pl.col("source_id")).alias("review_id"))


def warn_about(path: Path, encoding: str, rows: int, parse_errors: int, first_error: str | None) -> None:
    if encoding == LEGACY_ENCODING:
        LOG.warning(f"{path.name}: not UTF-8; read as {LEGACY_ENCODING} (a legacy export): all {rows:,} rows decoded from it")
    if parse_errors:
        LOG.warning(f"{path.name}: {parse_errors:,} record(s) could not be parsed and go to rejected_reviews (first: {first_error[:200]})")


class NotStreamable(Exception):
    """A dump the batch reader leaves to `read_dump_file` (which reads it whole and says precisely what is wrong)."""


def stream_dump(path: str | Path, dump_id: str, pseudonym_key: bytes, batch_rows: int) -> Iterator[pl.DataFrame]:
    """The records of a large, well-formed dump in batches of about `batch_rows`, in the raw schema, without holding the
    file in memory: Parquet by row batches, CSV and JSON Lines through polars' streaming scan. `review_id` is the
    source id as the file says it; the caller resolves missing and repeated ones over the whole dump (`review_id`).

    Raises `NotStreamable`, possibly after some batches, for what only the whole-file reader handles: a JSON
    document, a byte-order mark other than UTF-8's, a record polars cannot parse (broken quoting, bytes that are
    not UTF-8, a legacy encoding), or no records. The caller then discards the batches and calls `read_dump_file`.
    """
    path = Path(path)
    fmt = dump_format(path)
    if fmt == "json" or not path.is_file():
        raise NotStreamable(fmt)
    with open(path, "rb") as handle:
        head = handle.read(4)
    if any(head.startswith(bom) for bom, _ in _WIDE_BOMS):
        raise NotStreamable("a UTF-16/32 byte-order mark")
    file_hash = file_sha256(path)
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            source = (_strings(pl.from_arrow(batch)) for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows))
        elif fmt == "csv":
            source = pl.scan_csv(path, infer_schema=False, raise_if_empty=True).collect_batches(chunk_size=batch_rows)
        else:
            source = (_strings(batch) for batch in pl.scan_ndjson(path, infer_schema_length=None).collect_batches(chunk_size=batch_rows))
        done = 0
        for batch in source:
            if batch.height == 0:
                continue
            records = map_columns(batch.with_columns(pl.lit(None, pl.String).alias("parse_error")), path)
            records = records.with_columns(
                pl.int_range(done + 1, done + records.height + 1, dtype=pl.Int64).alias("record_number"),
                pl.lit(dump_id).alias("dump_id"), pl.lit(path.name).alias("source_file"), pl.lit(file_hash).alias("file_hash"),
                pseudonymise(records["author"], pseudonym_key).alias("author"),
            )
            done += records.height
            yield records.with_columns(pl.col("source_id").alias("review_id")).select(list(RAW_SCHEMA)).cast(RAW_SCHEMA)
    except (pl.exceptions.PolarsError, OSError, ValueError) as error:
        if isinstance(error, DumpError):
            raise
        raise NotStreamable(f"{type(error).__name__}: {str(error).splitlines()[0][:200]}") from None
    if done == 0:
        raise NotStreamable("no records")
