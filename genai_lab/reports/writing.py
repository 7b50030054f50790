"""Writing what people read: report files and the Markdown tables of asset metadata."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import polars as pl


def write_atomically(path: Path, text: str) -> None:
    """Readers (a browser, the UI) see the old report or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def markdown_table(frame: pl.DataFrame, float_format: str = "{:.3f}") -> str:
    def cell(value) -> str:
        return float_format.format(value) if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * frame.width]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.iter_rows()]
    return "\n".join(lines)
