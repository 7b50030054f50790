"""The code location: `dagster dev -m genai_lab.definitions` or `genai-lab ui`.

One asset module per Dagster group: a module's assets get its name as their group here, once.
"""

from __future__ import annotations

from dagster import Definitions, load_assets_from_modules

from genai_lab.assets import adapter, evaluation, insight, labels, prep, reports, slm
from genai_lab.jobs import JOBS
from genai_lab.resources import lab_resources
from genai_lab.sensors import SENSORS

#: in lineage order
ASSET_GROUPS = (prep, labels, adapter, slm, evaluation, insight, reports)


def group_name(module) -> str:
    return module.__name__.rsplit(".", 1)[-1]


def make_definitions(home: str | None = None, dumps: str | None = None) -> Definitions:
    """Home and dumps default to the environment (GENAI_LAB_HOME, GENAI_LAB_DUMPS), as `genai-lab ui` sets it."""
    assets = [asset for module in ASSET_GROUPS for asset in load_assets_from_modules([module], group_name=group_name(module))]
    return Definitions(assets=assets, jobs=JOBS, sensors=SENSORS, resources=lab_resources(home, dumps))


defs = make_definitions()
