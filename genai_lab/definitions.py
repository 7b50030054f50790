"""The Dagster code location: `dagster dev -m genai_lab.definitions` or `genai-lab ui`."""

from __future__ import annotations

from dagster import Definitions

from genai_lab.assets import evaluation, finetune, insight, labels, prep, reports, slm
from genai_lab.assets.finetune import AdapterTraining
from genai_lab.assets.insight import Insight
from genai_lab.assets.labels import LabelingSettings
from genai_lab.assets.reports import Reporting
from genai_lab.assets.slm import SlmTraining
from genai_lab.jobs import classifier_retraining_job, all_assets_job, review_dump_job
from genai_lab.ml.store import ModelStore
from genai_lab.resources import LabHome, PrepSettings
from genai_lab.sensors import automation_sensor, retrain_sensor, review_dump_sensor
from genai_lab.warehouse import DuckDBFrames


def make_definitions(home: str | None = None, dumps: str | None = None) -> Definitions:
    """Home and dumps default to the environment (GENAI_LAB_HOME, GENAI_LAB_DUMPS), as `genai-lab ui` sets it."""
    lab = LabHome(**{k: v for k, v in {"home": home, "dumps": dumps}.items() if v})
    return Definitions(
        assets=[*prep.assets, *labels.assets, *finetune.assets, *slm.assets, *evaluation.assets, *reports.assets,
                *insight.assets],
        jobs=[review_dump_job, all_assets_job, classifier_retraining_job],
        sensors=[review_dump_sensor, retrain_sensor, automation_sensor],
        resources={
            "io_manager": DuckDBFrames(database=str(lab.paths.warehouse)),
            "lab": lab,
            "prep": PrepSettings(),
            "labeling": LabelingSettings(),
            "adapter": AdapterTraining(),
            "slm": SlmTraining(),
            "reporting": Reporting(),
            "insight": Insight(),
            "models": ModelStore(root=str(lab.paths.models)),
        },
    )


defs = make_definitions()
