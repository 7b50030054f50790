"""Every environment variable GenAI Lab reads, read here and nowhere else.

| variable | meaning | default |
|---|---|---|
| `GENAI_LAB_HOME` | the home folder: warehouse, model store, dumps, gold, reports, Dagster instance | `./data` |
| `GENAI_LAB_DUMPS` | the folder review dumps arrive in | `<home>/dumps` |
| `GENAI_LAB_PRECISION` | number format of every model pass: `auto`, `bf16` or `fp32` | `auto` |
| `DAGSTER_HOME` | the Dagster instance folder | `<home>/dagster` |
"""

from __future__ import annotations

import os

HOME_ENV = "GENAI_LAB_HOME"
DUMPS_ENV = "GENAI_LAB_DUMPS"
PRECISION_ENV = "GENAI_LAB_PRECISION"
DAGSTER_HOME_ENV = "DAGSTER_HOME"


def home() -> str | None:
    return os.environ.get(HOME_ENV) or None


def dumps() -> str:
    return os.environ.get(DUMPS_ENV, "")


def precision() -> str:
    return os.environ.get(PRECISION_ENV, "auto").strip().lower() or "auto"


def dagster_home() -> str | None:
    return os.environ.get(DAGSTER_HOME_ENV) or None


def set_lab_folders(home_folder: str, dumps_folder: str | None, default_dagster_home: str) -> None:
    """What `genai-lab run|ui` hands to Dagster and its subprocesses: the home, the dumps folder, the instance."""
    if dumps_folder:
        os.environ[DUMPS_ENV] = dumps_folder
    os.environ[HOME_ENV] = home_folder
    os.environ.setdefault(DAGSTER_HOME_ENV, default_dagster_home)
