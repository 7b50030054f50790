"""Writing what people read: report files and the Markdown tables of asset metadata."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import polars as pl

from genai_lab.reports.render import md_table


def write_atomically(path: Path, text: str) -> None:
    """Readers (a browser, the UI) see the old report or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def markdown_table(frame: pl.DataFrame, float_format: str = "{:.3f}") -> str:
    """A frame as a Markdown table for asset metadata."""
    return "\n".join(md_table(frame.columns, frame.iter_rows(), float_format=float_format))
