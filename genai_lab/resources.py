"""Every Dagster resource of the code location, defined together: where things live (`HomeResource`,
the model store, the warehouse IO manager) and one settings bundle per stage (`<Stage>Resource`),
each bundle the typed settings of the library code that stage runs.

Resource keys (what the Dagster launchpad's run config names): `lab`, `models`, `io_manager`,
`prep`, `labeling`, `adapter`, `slm`, `reporting`, `insight`.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

from genai_lab import environment
from genai_lab.environment import HOME_ENV
from genai_lab.ingest import DumpError, list_dump_files
from genai_lab.insight.market import OpportunitySettings
from genai_lab.labels.functions import LabelSettings
from genai_lab.labels.rating_mil import RatingMilSettings
from genai_lab.labels.review_types import ReviewTypeSettings
from genai_lab.ml.cost import CostSettings
from genai_lab.ml.lora import LoraSettings
from genai_lab.ml.scoring import TimingSettings
from genai_lab.ml.self_training import SelfTrainingSettings
from genai_lab.ml.serving import ServingSettings
from genai_lab.ml.slm import SlmSettings
from genai_lab.ml.store import ModelStore
from genai_lab.paths import LabPaths, dump_id_for, resolve_home
from genai_lab.prep_stages import DEFAULT_BATCH_ROWS
from genai_lab.reports.comparison import ReportSettings
from genai_lab.text.aspects import AspectSettings
from genai_lab.text.language import LanguageSettings
from genai_lab.text.rules import DIMENSIONS, RuleSettings
from genai_lab.text.text_quality import TextQualitySettings
from genai_lab.warehouse import WarehouseIOManager



class HomeResource(ConfigurableResource):
    """The home folder (warehouse, model store, reports) and the folder the dumps arrive in."""

    home: str = Field(default_factory=lambda: str(resolve_home()), description=f"Home folder (default: env {HOME_ENV}, else ./data).")
    dumps: str = Field(default_factory=environment.dumps, description=f"Dumps folder (default: env {environment.DUMPS_ENV}, else <home>/dumps).")

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


class PrepResource(ConfigurableResource):
    """Every threshold of the data-preparation stages, in one place."""

    rules: RuleSettings = Field(default_factory=RuleSettings)
    language: LanguageSettings = Field(default_factory=LanguageSettings)
    text_quality: TextQualitySettings = Field(default_factory=TextQualitySettings)
    min_dimension_score: dict[str, float] = Field(
        default_factory=lambda: {"completeness": 0.9, "validity": 0.8, "relevance": 0.5, "uniqueness": 0.9, "privacy": 0.95},
        description=f"Warning threshold per data-quality dimension ({', '.join(DIMENSIONS)}).",
    )
    batch_rows: int = Field(default=DEFAULT_BATCH_ROWS, ge=1000, description=(
        "Records each prep stage holds in memory at once: a dump is read, checked and cleaned this many records at a time, "
        "so memory does not grow with the dump (genai_lab/prep_stages.py)."))
    duckdb_memory_limit: str = Field(default="512MB", description=(
        "DuckDB's memory limit for the prep stages' connections; the whole-dump work (duplicates, counts) spills to disk "
        "beyond it."))


class LabelingResource(ConfigurableResource):
    """Settings of aspect mining and pseudo-labelling, in one place."""

    aspects: AspectSettings = Field(default_factory=AspectSettings)
    labels: LabelSettings = Field(default_factory=LabelSettings)
    review_types: ReviewTypeSettings = Field(default_factory=ReviewTypeSettings)
    rating_mil: RatingMilSettings = Field(default_factory=RatingMilSettings)


class AdapterResource(ConfigurableResource):
    """Everything the adapter arm is trained, measured and retrained with."""

    lora: LoraSettings = Field(default_factory=LoraSettings)
    training: SelfTrainingSettings = Field(default_factory=SelfTrainingSettings)
    cost: CostSettings = Field(default_factory=CostSettings)
    #: the retrain sensor requests training once this many reviews were pseudo-labelled since the last one
    retrain_min_new_reviews: int = 5000


class SlmSelfTrainingSettings(SelfTrainingSettings):
    """The adapter arm's recipe with the SLM's budget: fine-tuning 3M parameters costs a fifth of a LoRA step on
    23M (3,000 rows in 20 s against 84 s), so the same minutes buy four times the rows.

    A subclass, not `SelfTrainingSettings(...)` in a default_factory: Dagster builds a nested Config
    from its class defaults when it runs a job, so a factory's arguments would be silently dropped.
    """

    #: round budget ceiling; the SLM's own budget (a fine-tuning step costs a fifth of a LoRA step)
    max_train_rows: int = 12000
    #: round budget floor (see `max_train_rows`)
    min_train_rows: int = 3000
    #: round budget: this share of the confident candidates (see `max_train_rows`)
    train_rows_share: float = 0.08


class SlmResource(ConfigurableResource):
    """Everything the from-scratch arm is built, trained and measured with."""

    slm: SlmSettings = Field(default_factory=SlmSettings)
    training: SlmSelfTrainingSettings = Field(default_factory=SlmSelfTrainingSettings)
    cost: CostSettings = Field(default_factory=CostSettings)


class ReportingResource(ConfigurableResource):
    """Prices and statistics of the reports, and how the models' inference is timed for them."""

    comparison: ReportSettings = Field(default_factory=ReportSettings)
    timing: TimingSettings = Field(default_factory=TimingSettings)


class InsightResource(ConfigurableResource):
    """Which model scores the corpus, and how market needs are found and scored."""

    serving: ServingSettings = Field(default_factory=ServingSettings)
    opportunities: OpportunitySettings = Field(default_factory=OpportunitySettings)


def lab_resources(home: str | None = None, dumps: str | None = None) -> dict[str, ConfigurableResource]:
    """Every resource under its key; home and dumps default to the environment (as `genai-lab ui` sets it)."""
    lab = HomeResource(**{k: v for k, v in {"home": home, "dumps": dumps}.items() if v})
    return {
        "io_manager": WarehouseIOManager(database=str(lab.paths.warehouse)),
        "lab": lab,
        "models": ModelStore(root=str(lab.paths.models)),
        "prep": PrepResource(),
        "labeling": LabelingResource(),
        "adapter": AdapterResource(),
        "slm": SlmResource(),
        "reporting": ReportingResource(),
        "insight": InsightResource(),
    }
