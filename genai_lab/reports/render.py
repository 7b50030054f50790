"""What every report shares: PNG plots on a bare Agg figure, Markdown tables, data URIs and the page style."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterable, Sequence


def png(canvas) -> bytes:
    buffer = io.BytesIO()
    # no Software/date chunk: the same tables give the same bytes
    canvas.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()


def figure(width: float, height: float):
    # a bare Figure on the Agg canvas: no pyplot, so no global backend switch and no figure registry in the Dagster process
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    canvas = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(canvas)
    return canvas


def empty_png(message: str) -> bytes:
    canvas = figure(6, 1.2)
    axes = canvas.add_subplot()
    axes.axis("off")
    axes.text(0.5, 0.5, message, ha="center", va="center", fontsize=11, color="#57606a")
    return png(canvas)


def md_cell(text: object) -> str:
    return str(text).replace("|", "\\|")


# a review's own backslash too, or its "\<" would come out as "<" with the backslash eaten
_MD_ESCAPES = str.maketrans({"\\": "\\\\", "<": "\\<", ">": "\\>", "|": "\\|"})


def md_text(text: object) -> str:
    """Text from reviews, shown as written: unescaped, `<EMAIL>` or raw HTML would read as tags and vanish, a `>` nest a
    quote, a `|` split a table cell and a line starting with `#` become a heading."""
    return re.sub(r"(?m)^([ \t]*)#", r"\1\\#", str(text).translate(_MD_ESCAPES))


def md_table(header: Sequence[str], rows: Iterable[Sequence[object]], bold: Sequence[bool] | None = None,
             float_format: str | None = None) -> list[str]:
    """A Markdown table, a line per entry; `|` in a cell is escaped, a float cell is written with `float_format` where given
    (else `str`), and the first cell of row i is bold where `bold[i]`."""
    def cell(value: object) -> str:
        return md_cell(float_format.format(value) if float_format is not None and isinstance(value, float) else value)

    lines = ["| " + " | ".join(map(md_cell, header)) + " |", "|" + "---|" * len(header)]
    for i, values in enumerate(rows):
        cells = [cell(v) for v in values]
        if bold and bold[i]:
            cells[0] = f"**{cells[0]}**"
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


CSS = """
body { font-family: "DejaVu Sans", system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328; background: #fff;
       max-width: 1200px; margin: 24px auto; padding: 0 20px; line-height: 1.5; font-size: 15px; }
h1 { font-size: 1.6em; border-bottom: 2px solid #d0d7de; padding-bottom: .3em; }
h2 { font-size: 1.3em; margin-top: 1.8em; border-bottom: 1px solid #d0d7de; padding-bottom: .2em; }
h3 { font-size: 1.02em; margin: 1.4em 0 .4em; }
.meta { color: #57606a; }
.banner { background: #ffebe9; border: 2px solid #cf222e; color: #82071e; padding: 12px 16px; border-radius: 6px; font-weight: 600; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; margin: 4px 0 12px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 9px; border-bottom: 1px solid #d8dee4; text-align: right; white-space: nowrap; }
th { white-space: normal; vertical-align: bottom; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f6f8fa; border-bottom: 2px solid #d0d7de; }
tbody tr:nth-child(even) { background: #fafbfc; }
tr.arm { background: #ddf4ff !important; font-weight: 600; }
tr.teacher { background: #fff8c5 !important; }
tr.unranked td { color: #8c959f; }
td.role { color: #57606a; text-align: left; }
th.role { text-align: left; }
.ci { color: #57606a; font-weight: normal; }
figure { margin: 12px 0; }
figure img { max-width: 100%; border: 1px solid #d8dee4; border-radius: 4px; }
figcaption { color: #57606a; font-size: 13px; }
li { margin: 4px 0; }
li .tag { font-weight: 700; }
.strength .tag { color: #1a7f37; }
.limitation .tag { color: #9a6700; }
"""
