"""Where things live: every path derives from one home folder.

Home: `--home` on the command line, else env `GENAI_LAB_HOME`, else `./data`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from genai_lab import environment

DEFAULT_HOME = Path("data")
# The DuckDB schema must not share the database file's stem (`lab.duckdb` + schema `lab` fails).
WAREHOUSE_SCHEMA = "lab"
WAREHOUSE_FILE = "warehouse.duckdb"


def resolve_home(home: str | Path | None = None) -> Path:
    chosen = home if home is not None else environment.home() or DEFAULT_HOME
    return Path(chosen).expanduser().resolve()


@dataclass(frozen=True)
class LabPaths:
    home: Path

    @classmethod
    def from_home(cls, home: str | Path | None = None) -> LabPaths:
        return cls(resolve_home(home))

    @property
    def warehouse(self) -> Path:
        return self.home / WAREHOUSE_FILE

    @property
    def models(self) -> Path:
        return self.home / "models"

    @property
    def dumps(self) -> Path:
        return self.home / "dumps"

    @property
    def gold(self) -> Path:
        return self.home / "gold"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    @property
    def dagster_home(self) -> Path:
        return Path(environment.dagster_home()) if environment.dagster_home() else self.home / "dagster"

    @property
    def pseudonym_key_file(self) -> Path:
        return self.home / ".pseudonym_key"

    def ensure(self) -> LabPaths:
        for folder in (self.home, self.models, self.dumps, self.gold, self.reports, self.dagster_home):
            folder.mkdir(parents=True, exist_ok=True)
        return self


_UNSAFE = re.compile(r"[^a-z0-9_]+")


def dump_id_for(path: str | Path) -> str:
    """A partition key safe to use as an SQL literal and a Dagster partition key: [a-z0-9_], starting with a letter."""
    key = _UNSAFE.sub("_", Path(path).stem.lower()).strip("_") or "dump"
    return key if key[0].isalpha() else f"d_{key}"
