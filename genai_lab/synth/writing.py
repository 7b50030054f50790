"""`write_dump()`: a generated dump as a file in one of the formats a real export comes in, its truth beside it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from genai_lab.synth.generation import generate
from genai_lab.synth.schema import TRUTH_SUFFIX

_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".parquet": "parquet"}


def truth_path_for(dump_path: Path | str) -> Path:
    """`<dir>/<stem>.truth.parquet` beside a dump."""
    p = Path(dump_path)
    return p.with_name(p.stem + TRUTH_SUFFIX)


def _atomic_write(path: Path, write) -> None:
    """A reader never sees a half-written file: write beside it, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _dump_format(out: Path, fmt: str | None) -> str:
    if fmt is None:
        fmt = _FORMATS.get(out.suffix.lower())
        if fmt is None:
            raise ValueError(f"{out}: cannot tell the dump format from the suffix {out.suffix!r}; "
                             f"expected one of {sorted(_FORMATS)} or pass fmt=")
    fmt = {"ndjson": "jsonl"}.get(fmt.lower(), fmt.lower())
    if fmt not in ("csv", "jsonl", "json", "parquet"):
        raise ValueError(f"unknown dump format {fmt!r}; expected csv, jsonl, json or parquet")
    return fmt


def write_dump(out: Path | str, rows: int = 20_000, seed: int = 0, fmt: str | None = None) -> tuple[Path, Path]:
    """Write a generated dump to `out` and its truth beside it as `<stem>.truth.parquet`.

    The format comes from the suffix (.csv, .jsonl, .json = array of objects, .parquet); `fmt`
    ("csv", "jsonl", "json", "parquet") overrides it. Both files are written atomically.
    """
    out = Path(out)
    fmt = _dump_format(out, fmt)
    dump, truth = generate(rows=rows, seed=seed)
    writers = {
        "csv": lambda p: dump.write_csv(p),
        "jsonl": lambda p: dump.write_ndjson(p),
        "json": lambda p: dump.write_json(p),
        "parquet": lambda p: dump.write_parquet(p),
    }
    tpath = truth_path_for(out)
    _atomic_write(out, writers[fmt])
    _atomic_write(tpath, lambda p: truth.write_parquet(p))
    return out, tpath
