"""What training and inference cost: wall and CPU seconds, peak memory, an energy estimate, parameters.

Energy is an estimate, not a measurement (no power meter here): CPU seconds times a per-core power
draw, plus GPU seconds times a GPU power draw, both settings.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import psutil

from genai_lab.config import StrictConfig


class CostSettings(StrictConfig):
    """Power draws behind the energy estimate (inference is timed by `inference_timing`, every model together)."""

    #: average power of one busy CPU core, watts (a laptop core under load: 5-15 W)
    cpu_watts_per_core: float = 10.0
    #: average power of one busy GPU, watts
    gpu_watts: float = 300.0


def process_cpu_seconds() -> float:
    """CPU seconds of this process and of its finished children (data-parallel training runs in child processes)."""
    times = psutil.Process().cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def _tree_rss(process: psutil.Process) -> int:
    """Resident memory of `process` and its live children (the data-parallel training processes)."""
    rss = process.memory_info().rss
    for child in process.children(recursive=True):
        try:
            rss += child.memory_info().rss
        except psutil.Error:  # it ended between the listing and the reading
            pass
    return rss


@dataclass
class CostMeter:
    """Start it before the work, `stop()` after; peak RSS (this process and its children together) is sampled in a
    thread, so a peak reached before start does not count."""

    settings: CostSettings = field(default_factory=CostSettings)
    gpus: int = 0
    interval_s: float = 0.2

    def __post_init__(self) -> None:
        self._process = psutil.Process()
        self._started = time.monotonic()
        self._cpu_started = process_cpu_seconds()
        self._peak = self._process.memory_info().rss
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()
        self.result: dict[str, float] | None = None

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._peak = max(self._peak, _tree_rss(self._process))

    def stop(self, earlier: dict | None = None) -> dict[str, float]:
        """The cost of the work, plus `earlier`'s `train_seconds` and `cpu_seconds`: what a killed run had spent up to
        the checkpoint this one resumed from (the training loops record both in their checkpoints)."""
        if self.result is not None:
            return self.result
        self._stop.set()
        self._sampler.join()
        self._peak = max(self._peak, self._process.memory_info().rss)
        earlier = earlier or {}
        wall = time.monotonic() - self._started + float(earlier.get("train_seconds", 0.0))
        cpu = process_cpu_seconds() - self._cpu_started + float(earlier.get("cpu_seconds", 0.0))
        joules = cpu * self.settings.cpu_watts_per_core + wall * self.gpus * self.settings.gpu_watts
        self.result = {
            "train_seconds": round(wall, 3),
            "cpu_seconds": round(cpu, 3),
            "peak_rss_mb": round(self._peak / 1e6, 1),
            "energy_kwh": joules / 3.6e6,
            **({"gpu_seconds": round(wall * self.gpus, 3)} if self.gpus else {}),
        }
        return self.result


def parameter_counts(model) -> dict[str, int]:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"params_total": int(total), "params_trainable": int(trainable)}
