import os
from pathlib import Path

import pytest

# Tests never reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the repository: real reviews and gold sets, present in development and CI, not in the repository."""
    if not (SHARED_DATA / "appstore_reviews_real.parquet").exists():
        pytest.skip(f"{SHARED_DATA} is not there")
    return SHARED_DATA
