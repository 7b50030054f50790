"""Word lists, lexicons and taxonomies shipped as package data (a ``data/`` folder beside the module).

Every package with a ``data/`` folder reads it through here. A ``.txt`` list holds one item per
line; lines starting with ``#`` document the list and blank lines are skipped, so an item can
neither be empty nor start with ``#``. Structured data is ``.json``.
Callers read each file once, at import, into a module-level constant.
"""

from __future__ import annotations

import json
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

__all__ = ["data_file", "read_json", "read_list"]


def data_file(package: str, name: str) -> Traversable:
    """``<package>/data/<name>``; ``name`` may hold "/" for a subfolder."""
    path = files(package) / "data"
    for part in name.split("/"):
        path = path / part
    return path


def read_list(package: str, name: str) -> tuple[str, ...]:
    """The items of a ``.txt`` list, in file order, each stripped of surrounding whitespace."""
    lines = (line.strip() for line in data_file(package, name).read_text(encoding="utf-8").splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


def read_json(package: str, name: str) -> Any:
    return json.loads(data_file(package, name).read_text(encoding="utf-8"))
