import json
import os
import signal
import subprocess
import sys
import time
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


@pytest.fixture(scope="session")
def tiny_base_model(tmp_path_factory) -> Path:
    """A randomly initialised 2-layer BERT (hidden size 32) with the default model's tokenizer: fast, and learns nothing by accident."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from genai_lab.ml.embeddings import resolve_base_model

    folder = tmp_path_factory.mktemp("tiny_bert")
    tokenizer = AutoTokenizer.from_pretrained(resolve_base_model(), local_files_only=True)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def kill_at_checkpoint(script: str, args: list[str], state_file: Path, min_step: int, log: Path) -> int:
    """Runs `script` in a child Python, SIGKILLs it once `state_file` records step >= `min_step`; returns that step."""
    child = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.DEVNULL, stderr=log.open("w"))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and child.poll() is None:
        if state_file.exists() and json.loads(state_file.read_text())["step"] >= min_step:
            break
        time.sleep(0.05)
    assert child.poll() is None, f"training ended before it could be killed: {log.read_text()[-2000:]}"
    child.send_signal(signal.SIGKILL)
    child.wait()
    return json.loads(state_file.read_text())["step"]
