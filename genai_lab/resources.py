"""The resources the assets share: where things live, and the settings of the data-preparation stages."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

from genai_lab.ingest import DumpError, list_dump_files
from genai_lab.settings import HOME_ENV, LabPaths, dump_id_for, resolve_home
from genai_lab.text.language import LanguageSettings
from genai_lab.text.rules import DIMENSIONS, RuleSettings
from genai_lab.text.text_quality import TextQualitySettings

DUMPS_ENV = "GENAI_LAB_DUMPS"


class LabHome(ConfigurableResource):
    """The home folder (warehouse, model store, reports) and the folder the dumps arrive in."""

    home: str = Field(default_factory=lambda: str(resolve_home()), description=f"Home folder (default: env {HOME_ENV}, else ./data).")
    dumps: str = Field(default_factory=lambda: os.environ.get(DUMPS_ENV, ""), description="Dumps folder (default: <home>/dumps).")

    @property
    def paths(self) -> LabPaths:
        return LabPaths.from_home(self.home)

    @property
    def dumps_dir(self) -> Path:
        return Path(self.dumps).expanduser().resolve() if self.dumps else self.paths.dumps

    def dump_files(self) -> dict[str, Path]:
        """Partition key -> dump file; two files that would share a key are an error."""
        files: dict[str, Path] = {}
        for path in list_dump_files(self.dumps_dir):
            key = dump_id_for(path)
            if key in files:
                raise DumpError(path, f"its partition key '{key}' is already taken by {files[key].name}",
                                expected="dump file names that differ in more than punctuation, case or format suffix")
            files[key] = path
        return files

    def pseudonym_key(self) -> bytes:
        """The secret that keys author pseudonyms; made once per home so pseudonyms are stable across runs."""
        key_file = self.paths.pseudonym_key_file
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_hex(32))
            key_file.chmod(0o600)
        return bytes.fromhex(key_file.read_text().strip())


class PrepSettings(ConfigurableResource):
    """Every threshold of the data-preparation stages, in one place."""

    rules: RuleSettings = Field(default_factory=RuleSettings)
    language: LanguageSettings = Field(default_factory=LanguageSettings)
    text_quality: TextQualitySettings = Field(default_factory=TextQualitySettings)
    min_dimension_score: dict[str, float] = Field(
        default_factory=lambda: {"completeness": 0.9, "validity": 0.8, "relevance": 0.5, "uniqueness": 0.9, "privacy": 0.95},
        description=f"Warning threshold per data-quality dimension ({', '.join(DIMENSIONS)}).",
    )
