"""Where a benchmark's numbers go: its last stdout line (one JSON object) and `benchmarks/results/<name>.json`,
with the machine and the commit they were measured on, so a number in the docs can be traced to a file."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    """The CPU and whether it computes bf16 natively: the machines of this project differ in exactly that."""
    model, flags = platform.processor() or "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "avx512_bf16": "avx512_bf16" in flags, "amx": "amx_tile" in flags,
            "avx2": "avx2" in flags}


def commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def record(name: str, result: dict, *, json_default=None) -> Path:
    """Prints `result` as the last line and writes it with its provenance to `benchmarks/results/<name>.json`."""
    print(json.dumps(result, default=json_default))
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    provenance = {"benchmark": name, "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "commit": commit(),
                  "machine": machine()}
    path.write_text(json.dumps({**provenance, "result": result}, indent=1, default=json_default) + "\n")
    return path
