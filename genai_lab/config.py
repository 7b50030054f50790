"""The base of every typed settings class."""

from __future__ import annotations

from dagster import Config
from pydantic import ConfigDict


class StrictConfig(Config):
    """Dagster config that also rejects unknown fields when built in Python, so a typo in a setting is an error."""

    model_config = ConfigDict(extra="forbid")
